package main

// The remoting admin requests the gRPC clients cannot make and `rmq admin` cannot either (its
// updateTopic has no attributes, and there is no updateSubGroup): topics with a 5.x
// `message.type` attribute (UPDATE_AND_CREATE_TOPIC with `attributes`), a group that consumes
// orderly (UPDATE_AND_CREATE_SUBSCRIPTIONGROUP), and the name server's route of a topic
// (GET_ROUTEINFO_BY_TOPIC) to wait for. Plain RocketMQ remoting frames over TCP: total length,
// header length (JSON serialization), JSON header, body.

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync/atomic"
	"time"
)

const (
	codeUpdateAndCreateTopic      = 17
	codeGetRouteInfoByTopic       = 105
	codeUpdateAndCreateSubscGroup = 200
)

var opaque int32

type remotingHeader struct {
	Code      int               `json:"code"`
	Language  string            `json:"language"`
	Version   int               `json:"version"`
	Opaque    int32             `json:"opaque"`
	Flag      int               `json:"flag"`
	Remark    string            `json:"remark,omitempty"`
	ExtFields map[string]string `json:"extFields,omitempty"`
	Serialize string            `json:"serializeTypeCurrentRPC"`
}

// remotingCall sends one request and returns the response's code, remark and body.
func remotingCall(addr string, code int, ext map[string]string, body []byte) (int, string, []byte, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, "", nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	h, err := json.Marshal(remotingHeader{Code: code, Language: "GO", Version: 399,
		Opaque: atomic.AddInt32(&opaque, 1), ExtFields: ext, Serialize: "JSON"})
	if err != nil {
		return 0, "", nil, err
	}
	frame := make([]byte, 8, 8+len(h)+len(body))
	binary.BigEndian.PutUint32(frame[0:4], uint32(4+len(h)+len(body)))
	binary.BigEndian.PutUint32(frame[4:8], uint32(len(h))) // serialize type 0 = JSON in the top byte
	frame = append(append(frame, h...), body...)
	if _, err := conn.Write(frame); err != nil {
		return 0, "", nil, err
	}
	var lens [8]byte
	if _, err := io.ReadFull(conn, lens[:]); err != nil {
		return 0, "", nil, err
	}
	total := binary.BigEndian.Uint32(lens[0:4])
	hlen := binary.BigEndian.Uint32(lens[4:8]) & 0xFFFFFF
	if hlen+4 > total {
		return 0, "", nil, fmt.Errorf("bad frame: total %d, header %d", total, hlen)
	}
	rest := make([]byte, total-4)
	if _, err := io.ReadFull(conn, rest); err != nil {
		return 0, "", nil, err
	}
	var rh remotingHeader
	if err := json.Unmarshal(rest[:hlen], &rh); err != nil {
		return 0, "", nil, fmt.Errorf("response header %q: %v", rest[:hlen], err)
	}
	return rh.Code, rh.Remark, rest[hlen:], nil
}

// createTopic creates a topic on the broker with `+message.type=<messageType>` and waits until
// the name server routes it (the gRPC QueryRoute reads the route from there).
func createTopic(broker, ns, topic, messageType string, queues int) error {
	q := strconv.Itoa(queues)
	code, remark, _, err := remotingCall(broker, codeUpdateAndCreateTopic, map[string]string{
		"topic": topic, "defaultTopic": "TBW102", "readQueueNums": q, "writeQueueNums": q,
		"perm": "6", "topicFilterType": "SINGLE_TAG", "topicSysFlag": "0", "order": "false",
		"attributes": "+message.type=" + messageType,
	}, nil)
	if err != nil {
		return fmt.Errorf("UPDATE_AND_CREATE_TOPIC %s: %v", topic, err)
	}
	if code != 0 {
		return fmt.Errorf("UPDATE_AND_CREATE_TOPIC %s (+message.type=%s): code %d %q", topic, messageType, code, remark)
	}
	return waitRoute(ns, topic, 30*time.Second)
}

// createGroup creates a subscription group; orderly sets consumeMessageOrderly (a FIFO group).
func createGroup(broker, group string, orderly bool) error {
	body, _ := json.Marshal(map[string]interface{}{
		"groupName": group, "consumeEnable": true, "consumeFromMinEnable": true,
		"consumeBroadcastEnable": true, "consumeMessageOrderly": orderly, "retryQueueNums": 1,
		"retryMaxTimes": 16, "brokerId": 0, "whichBrokerWhenConsumeSlowly": 1,
		"notifyConsumerIdsChangedEnable": true,
	})
	code, remark, _, err := remotingCall(broker, codeUpdateAndCreateSubscGroup, nil, body)
	if err != nil {
		return fmt.Errorf("UPDATE_AND_CREATE_SUBSCRIPTIONGROUP %s: %v", group, err)
	}
	if code != 0 {
		return fmt.Errorf("UPDATE_AND_CREATE_SUBSCRIPTIONGROUP %s: code %d %q", group, code, remark)
	}
	return nil
}

func waitRoute(ns, topic string, within time.Duration) error {
	var last string
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		code, remark, _, err := remotingCall(ns, codeGetRouteInfoByTopic, map[string]string{"topic": topic}, nil)
		if err == nil && code == 0 {
			return nil
		}
		if err != nil {
			last = err.Error()
		} else {
			last = fmt.Sprintf("code %d %q", code, remark)
		}
	}
	return fmt.Errorf("%s not routed by the name server %s after %v (%s)", topic, ns, within, last)
}
