// The official RocketMQ 5.x Go SDK (github.com/apache/rocketmq-clients/golang/v5) against the
// broker's own gRPC port (apache.rocketmq.v2.MessagingService, no proxy, plaintext h2c).
//
// Cases (each prints "PASS <case>" or "FAIL <case>: <why>"; exit status 1 if any failed):
//
//	send                a Producer sends N NORMAL messages, tags TagA/TagB alternating, a key and
//	                    a user property each; every send has a receipt with a message id
//	simple-receive-ack  a SimpleConsumer of a new group ("*") receives each of them once, with its
//	                    tag, keys, property and body, and acks it; nothing comes back, also once
//	                    the invisible duration of the receives has passed
//	simple-tag-filter   a SimpleConsumer of another new group subscribed to "TagA": exactly the
//	                    TagA messages
//	change-invisible    one message received (invisible 20 s), ChangeInvisibleDuration to 1 s
//	                    without an ack: received again (delivery attempt 2), acked, nothing more
//	fifo                a FIFO topic (message.type=FIFO) and a group with consumeMessageOrderly:
//	                    3 message groups x 5 messages, a SimpleConsumer gets each group in order
//	transaction         a TRANSACTION topic: one half message committed, one rolled back; a
//	                    consumer gets only the committed one
//	delay               a DELAY topic: a message with a delivery timestamp now+2s arrives no
//	                    earlier than that
//	push                a PushConsumer of a new group gets every message of a fresh topic once
//	                    (run before transaction and delay: its stop takes 23 s, see casePush)
//
// Topics are created through the broker's remoting admin (admin.go) with their message.type
// attribute; topic and group names carry a per-run suffix.
//
// Usage: go5-client -endpoint 127.0.0.1:8081 -broker 127.0.0.1:10911 -ns 127.0.0.1:9876
//
//	[-n 20] [-timeout 60s] [-only case,case]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	rmq "github.com/apache/rocketmq-clients/golang/v5"
	"github.com/apache/rocketmq-clients/golang/v5/credentials"
	v2 "github.com/apache/rocketmq-clients/golang/v5/protocol/v2"
)

var (
	endpoint = flag.String("endpoint", "", "the broker's gRPC endpoint host:port")
	broker   = flag.String("broker", "", "the broker's remoting address (topic and group admin)")
	nsAddr   = flag.String("ns", "", "name server address (waiting for routes)")
	n        = flag.Int("n", 20, "messages sent in the send case")
	timeout  = flag.Duration("timeout", 60*time.Second, "how long a consumer may take")
	only     = flag.String("only", "", "comma separated cases")

	suffix         = strconv.FormatInt(time.Now().UnixMilli(), 36)
	passed, failed int
	// Clients whose GracefulStop takes long stop in the background while later cases run.
	stopping sync.WaitGroup
)

const (
	awaitDuration = 5 * time.Second  // SimpleConsumer long polling (the server clamps to >= 5 s)
	minInvisible  = 10 * time.Second // the server's minimum invisible duration for a receive
)

func report(name string, err error) {
	if err != nil {
		failed++
		fmt.Printf("FAIL %s: %v\n", name, err)
	} else {
		passed++
		fmt.Printf("PASS %s\n", name)
	}
}

func wanted(name string) bool {
	if *only == "" {
		return true
	}
	for _, c := range strings.Split(*only, ",") {
		if c == name {
			return true
		}
	}
	return false
}

func config(group string) *rmq.Config {
	return &rmq.Config{Endpoint: *endpoint, ConsumerGroup: group, Credentials: &credentials.SessionCredentials{}}
}

func newProducer(topics []string, opts ...rmq.ProducerOption) (rmq.Producer, error) {
	p, err := rmq.NewProducer(config(""), append([]rmq.ProducerOption{rmq.WithTopics(topics...)}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("NewProducer: %v", err)
	}
	if err := p.Start(); err != nil {
		return nil, fmt.Errorf("producer Start: %v", err)
	}
	return p, nil
}

func newSimpleConsumer(group, topic string, filter *rmq.FilterExpression) (rmq.SimpleConsumer, error) {
	c, err := rmq.NewSimpleConsumer(config(group),
		rmq.WithSimpleAwaitDuration(awaitDuration),
		rmq.WithSimpleSubscriptionExpressions(map[string]*rmq.FilterExpression{topic: filter}))
	if err != nil {
		return nil, fmt.Errorf("NewSimpleConsumer: %v", err)
	}
	if err := c.Start(); err != nil {
		return nil, fmt.Errorf("simple consumer Start: %v", err)
	}
	return c, nil
}

// receive is one Receive call; MESSAGE_NOT_FOUND (an empty long poll) is no error.
func receive(c rmq.SimpleConsumer, invisible time.Duration) ([]*rmq.MessageView, error) {
	mvs, err := c.Receive(context.Background(), 32, invisible)
	if st, ok := rmq.AsErrRpcStatus(err); ok && st.GetCode() == int32(v2.Code_MESSAGE_NOT_FOUND) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("Receive: %v", err)
	}
	return mvs, nil
}

// nothingMore receives until `until` and fails on any message.
func nothingMore(c rmq.SimpleConsumer, until time.Time) error {
	for first := true; first || time.Now().Before(until); first = false {
		mvs, err := receive(c, minInvisible)
		if err != nil {
			return err
		}
		if len(mvs) > 0 {
			var got []string
			for _, mv := range mvs {
				got = append(got, fmt.Sprintf("%s (attempt %d)", mv.GetBody(), mv.GetDeliveryAttempt()))
			}
			return fmt.Errorf("unexpected messages after the acks: %v", got)
		}
	}
	return nil
}

func tagOf(mv *rmq.MessageView) string {
	if t := mv.GetTag(); t != nil {
		return *t
	}
	return "<nil>"
}

type sentMsg struct {
	tag, key, prop, id string
}

func main() {
	flag.Parse()
	if *endpoint == "" || *broker == "" || *nsAddr == "" {
		fmt.Println("FAIL go5: -endpoint, -broker and -ns are required (the broker's gRPC port line missing?)")
		os.Exit(1)
	}
	// The SDK's defaults: TLS (EnableSsl, trusting any certificate); rmq's gRPC port takes TLS
	// and plaintext alike. Its log goes to $HOME/logs/rocketmq/rocketmq_client_go.log (the script
	// gives each family its own HOME).
	fmt.Printf("endpoint %s, broker %s, name server %s, suffix %s\n", *endpoint, *broker, *nsAddr, suffix)

	normal := "go5_normal_" + suffix
	sent := map[string]sentMsg{}
	if wanted("send") || wanted("simple-receive-ack") || wanted("simple-tag-filter") || wanted("change-invisible") {
		if err := createTopic(*broker, *nsAddr, normal, "NORMAL", 8); err != nil {
			report("send", err)
		} else {
			report("send", caseSend(normal, sent))
		}
	}
	if wanted("simple-receive-ack") {
		report("simple-receive-ack", caseSimpleReceiveAck(normal, sent))
	}
	if wanted("simple-tag-filter") {
		report("simple-tag-filter", caseTagFilter(normal, sent))
	}
	if wanted("change-invisible") {
		report("change-invisible", caseChangeInvisible(normal))
	}
	if wanted("fifo") {
		report("fifo", caseFifo())
	}
	if wanted("push") {
		report("push", casePush())
	}
	if wanted("transaction") {
		report("transaction", caseTransaction())
	}
	if wanted("delay") {
		report("delay", caseDelay())
	}
	stopping.Wait()
	fmt.Printf("%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		os.Exit(1)
	}
}

func caseSend(topic string, sent map[string]sentMsg) error {
	p, err := newProducer([]string{topic})
	if err != nil {
		return err
	}
	defer p.GracefulStop()
	for i := 0; i < *n; i++ {
		body := fmt.Sprintf("go5-%s-%d", suffix, i)
		tag := "TagA"
		if i%2 == 1 {
			tag = "TagB"
		}
		m := &rmq.Message{Topic: topic, Body: []byte(body)}
		m.SetTag(tag)
		m.SetKeys("key-" + strconv.Itoa(i))
		m.AddProperty("idx", strconv.Itoa(i))
		receipts, err := p.Send(context.Background(), m)
		if err != nil {
			return fmt.Errorf("Send %d: %v", i, err)
		}
		if len(receipts) != 1 || receipts[0].MessageID == "" {
			return fmt.Errorf("Send %d: receipts %+v, want one with a message id", i, receipts)
		}
		sent[body] = sentMsg{tag, "key-" + strconv.Itoa(i), strconv.Itoa(i), receipts[0].MessageID}
	}
	return nil
}

// checkMessage compares a received message with what was sent.
func checkMessage(mv *rmq.MessageView, sent map[string]sentMsg) error {
	body := string(mv.GetBody())
	s, ok := sent[body]
	if !ok {
		return fmt.Errorf("received a message not sent: body %q", body)
	}
	if tagOf(mv) != s.tag {
		return fmt.Errorf("%s: tag %q, want %q", body, tagOf(mv), s.tag)
	}
	if keys := mv.GetKeys(); len(keys) != 1 || keys[0] != s.key {
		return fmt.Errorf("%s: keys %q, want [%s]", body, keys, s.key)
	}
	if p := mv.GetProperties()["idx"]; p != s.prop {
		return fmt.Errorf("%s: property idx=%q, want %q (properties %v)", body, p, s.prop, mv.GetProperties())
	}
	if mv.GetMessageId() != s.id {
		return fmt.Errorf("%s: message id %s, the send receipt said %s", body, mv.GetMessageId(), s.id)
	}
	if mv.GetDeliveryAttempt() != 1 {
		return fmt.Errorf("%s: delivery attempt %d, want 1", body, mv.GetDeliveryAttempt())
	}
	return nil
}

// receiveAll receives (and acks) until want messages arrived or the timeout passed; a message
// received twice is an error. Returns the bodies and when the last receive with messages ended.
func receiveAll(c rmq.SimpleConsumer, want int, sent map[string]sentMsg) (map[string]bool, time.Time, error) {
	got := map[string]bool{}
	last := time.Now()
	for deadline := time.Now().Add(*timeout); len(got) < want && time.Now().Before(deadline); {
		mvs, err := receive(c, minInvisible)
		if err != nil {
			return got, last, err
		}
		if len(mvs) > 0 {
			last = time.Now()
		}
		for _, mv := range mvs {
			body := string(mv.GetBody())
			if got[body] {
				return got, last, fmt.Errorf("%s received twice (attempt %d)", body, mv.GetDeliveryAttempt())
			}
			if err := checkMessage(mv, sent); err != nil {
				return got, last, err
			}
			got[body] = true
			if err := c.Ack(context.Background(), mv); err != nil {
				return got, last, fmt.Errorf("Ack %s: %v", body, err)
			}
		}
	}
	if len(got) < want {
		return got, last, fmt.Errorf("%d of %d messages after %v", len(got), want, *timeout)
	}
	return got, last, nil
}

func caseSimpleReceiveAck(topic string, sent map[string]sentMsg) error {
	if len(sent) == 0 {
		return errors.New("nothing was sent")
	}
	c, err := newSimpleConsumer("go5_simple_"+suffix, topic, rmq.SUB_ALL)
	if err != nil {
		return err
	}
	defer c.GracefulStop()
	_, last, err := receiveAll(c, len(sent), sent)
	if err != nil {
		return err
	}
	// The SDK's Ack drops a non-OK status: only a redelivery after the invisible time (10 s)
	// would show a lost ack, so keep receiving past it.
	return nothingMore(c, last.Add(minInvisible+2*time.Second))
}

func caseTagFilter(topic string, sent map[string]sentMsg) error {
	tagA := map[string]sentMsg{}
	for b, s := range sent {
		if s.tag == "TagA" {
			tagA[b] = s
		}
	}
	if len(tagA) == 0 {
		return errors.New("nothing was sent")
	}
	c, err := newSimpleConsumer("go5_tag_"+suffix, topic, rmq.NewFilterExpression("TagA"))
	if err != nil {
		return err
	}
	defer c.GracefulStop()
	if _, _, err := receiveAll(c, len(tagA), tagA); err != nil {
		return err
	}
	return nothingMore(c, time.Now())
}

func caseChangeInvisible(topic string) error {
	p, err := newProducer([]string{topic})
	if err != nil {
		return err
	}
	defer p.GracefulStop()
	c, err := newSimpleConsumer("go5_change_"+suffix, topic, rmq.NewFilterExpression("TagC"))
	if err != nil {
		return err
	}
	defer c.GracefulStop()
	body := "change-" + suffix
	m := &rmq.Message{Topic: topic, Body: []byte(body)}
	m.SetTag("TagC")
	if _, err := p.Send(context.Background(), m); err != nil {
		return fmt.Errorf("Send: %v", err)
	}
	// First delivery, invisible for 20 s.
	var first *rmq.MessageView
	for deadline := time.Now().Add(*timeout); first == nil && time.Now().Before(deadline); {
		mvs, err := receive(c, 20*time.Second)
		if err != nil {
			return err
		}
		for _, mv := range mvs {
			if string(mv.GetBody()) != body {
				return fmt.Errorf("unexpected message %q", mv.GetBody())
			}
			first = mv
		}
	}
	if first == nil {
		return fmt.Errorf("the message did not arrive within %v", *timeout)
	}
	if first.GetDeliveryAttempt() != 1 {
		return fmt.Errorf("first delivery attempt %d, want 1", first.GetDeliveryAttempt())
	}
	oldHandle := first.GetReceiptHandle()
	changed := time.Now()
	if err := c.ChangeInvisibleDuration(first, time.Second); err != nil {
		return fmt.Errorf("ChangeInvisibleDuration(1s): %v", err)
	}
	if first.GetReceiptHandle() == "" || first.GetReceiptHandle() == oldHandle {
		return fmt.Errorf("ChangeInvisibleDuration gave receipt handle %q (was %q)", first.GetReceiptHandle(), oldHandle)
	}
	// Back after about 1 s, well before the 20 s of the receive.
	var again *rmq.MessageView
	for again == nil && time.Since(changed) < 15*time.Second {
		mvs, err := receive(c, minInvisible)
		if err != nil {
			return err
		}
		for _, mv := range mvs {
			if string(mv.GetBody()) != body {
				return fmt.Errorf("unexpected message %q", mv.GetBody())
			}
			again = mv
		}
	}
	if again == nil {
		return errors.New("not received again within 15 s of ChangeInvisibleDuration(1s)")
	}
	if again.GetDeliveryAttempt() != 2 {
		return fmt.Errorf("second delivery attempt %d, want 2", again.GetDeliveryAttempt())
	}
	if again.GetMessageId() != first.GetMessageId() {
		return fmt.Errorf("message id %s again, was %s", again.GetMessageId(), first.GetMessageId())
	}
	if err := c.Ack(context.Background(), again); err != nil {
		return fmt.Errorf("Ack: %v", err)
	}
	return nothingMore(c, time.Now().Add(minInvisible+2*time.Second))
}

func caseFifo() error {
	topic, group := "go5_fifo_"+suffix, "go5_fifo_group_"+suffix
	if err := createTopic(*broker, *nsAddr, topic, "FIFO", 8); err != nil {
		return err
	}
	if err := createGroup(*broker, group, true); err != nil {
		return err
	}
	p, err := newProducer([]string{topic})
	if err != nil {
		return err
	}
	defer p.GracefulStop()
	const groups, perGroup = 3, 5
	for i := 0; i < perGroup; i++ {
		for g := 0; g < groups; g++ {
			m := &rmq.Message{Topic: topic, Body: []byte(fmt.Sprintf("g%d:%d", g, i))}
			m.SetMessageGroup(fmt.Sprintf("mg%d-%s", g, suffix))
			if _, err := p.Send(context.Background(), m); err != nil {
				return fmt.Errorf("Send g%d:%d: %v", g, i, err)
			}
		}
	}
	c, err := newSimpleConsumer(group, topic, rmq.SUB_ALL)
	if err != nil {
		return err
	}
	defer c.GracefulStop()
	order := map[string][]int{}
	total := 0
	for deadline := time.Now().Add(*timeout); total < groups*perGroup && time.Now().Before(deadline); {
		mvs, err := receive(c, minInvisible)
		if err != nil {
			return err
		}
		for _, mv := range mvs {
			var g, i int
			if _, err := fmt.Sscanf(string(mv.GetBody()), "g%d:%d", &g, &i); err != nil {
				return fmt.Errorf("unexpected message %q", mv.GetBody())
			}
			key := fmt.Sprintf("g%d", g)
			if mg := mv.GetMessageGroup(); mg == nil || *mg != fmt.Sprintf("mg%d-%s", g, suffix) {
				return fmt.Errorf("%s: message group %v", mv.GetBody(), mg)
			}
			if len(order[key]) != i {
				return fmt.Errorf("%s received after %s %v (attempt %d)", mv.GetBody(), key, order[key], mv.GetDeliveryAttempt())
			}
			order[key] = append(order[key], i)
			total++
			if err := c.Ack(context.Background(), mv); err != nil {
				return fmt.Errorf("Ack %s: %v", mv.GetBody(), err)
			}
		}
	}
	if total < groups*perGroup {
		return fmt.Errorf("%d of %d messages after %v: %v", total, groups*perGroup, *timeout, order)
	}
	return nothingMore(c, time.Now())
}

func caseTransaction() error {
	topic := "go5_tx_" + suffix
	if err := createTopic(*broker, *nsAddr, topic, "TRANSACTION", 8); err != nil {
		return err
	}
	commitBody, rollbackBody := "tx-commit-"+suffix, "tx-rollback-"+suffix
	var checkMu sync.Mutex
	var checked []string
	p, err := newProducer([]string{topic}, rmq.WithTransactionChecker(&rmq.TransactionChecker{
		Check: func(mv *rmq.MessageView) rmq.TransactionResolution {
			checkMu.Lock()
			checked = append(checked, string(mv.GetBody()))
			checkMu.Unlock()
			if string(mv.GetBody()) == commitBody {
				return rmq.COMMIT
			}
			return rmq.ROLLBACK
		},
	}))
	if err != nil {
		return err
	}
	defer p.GracefulStop()
	for _, body := range []string{commitBody, rollbackBody} {
		tx := p.BeginTransaction()
		m := &rmq.Message{Topic: topic, Body: []byte(body)}
		m.SetTag("TagTx")
		receipts, err := p.SendWithTransaction(context.Background(), m, tx)
		if err != nil {
			return fmt.Errorf("SendWithTransaction %s: %v", body, err)
		}
		if len(receipts) != 1 || receipts[0].TransactionId == "" {
			return fmt.Errorf("SendWithTransaction %s: receipts %+v, want one with a transaction id", body, receipts)
		}
		if body == commitBody {
			err = tx.Commit()
		} else {
			err = tx.RollBack()
		}
		if err != nil {
			return fmt.Errorf("end transaction of %s: %v", body, err)
		}
	}
	c, err := newSimpleConsumer("go5_tx_group_"+suffix, topic, rmq.SUB_ALL)
	if err != nil {
		return err
	}
	defer c.GracefulStop()
	got := false
	for deadline := time.Now().Add(*timeout); !got && time.Now().Before(deadline); {
		mvs, err := receive(c, minInvisible)
		if err != nil {
			return err
		}
		for _, mv := range mvs {
			if string(mv.GetBody()) != commitBody {
				return fmt.Errorf("received %q, only %q was committed", mv.GetBody(), commitBody)
			}
			got = true
			if err := c.Ack(context.Background(), mv); err != nil {
				return fmt.Errorf("Ack: %v", err)
			}
		}
	}
	if !got {
		return fmt.Errorf("the committed message did not arrive within %v", *timeout)
	}
	if err := nothingMore(c, time.Now()); err != nil {
		return err
	}
	checkMu.Lock()
	defer checkMu.Unlock()
	if len(checked) > 0 {
		fmt.Printf("   (transaction: the broker checked back %v though both were ended)\n", checked)
	}
	return nil
}

func caseDelay() error {
	topic := "go5_delay_" + suffix
	if err := createTopic(*broker, *nsAddr, topic, "DELAY", 8); err != nil {
		return err
	}
	p, err := newProducer([]string{topic})
	if err != nil {
		return err
	}
	defer p.GracefulStop()
	c, err := newSimpleConsumer("go5_delay_group_"+suffix, topic, rmq.SUB_ALL)
	if err != nil {
		return err
	}
	defer c.GracefulStop()
	body := "delay-" + suffix
	deliverAt := time.Now().Add(2 * time.Second)
	m := &rmq.Message{Topic: topic, Body: []byte(body)}
	m.SetDelayTimestamp(deliverAt)
	if _, err := p.Send(context.Background(), m); err != nil {
		return fmt.Errorf("Send: %v", err)
	}
	for deadline := time.Now().Add(*timeout); time.Now().Before(deadline); {
		mvs, err := receive(c, minInvisible)
		if err != nil {
			return err
		}
		now := time.Now()
		for _, mv := range mvs {
			if string(mv.GetBody()) != body {
				return fmt.Errorf("unexpected message %q", mv.GetBody())
			}
			if err := c.Ack(context.Background(), mv); err != nil {
				return fmt.Errorf("Ack: %v", err)
			}
			if now.Before(deliverAt) {
				return fmt.Errorf("received %v before its delivery timestamp", deliverAt.Sub(now))
			}
			if dt := mv.GetDeliveryTimestamp(); dt == nil || dt.UnixMilli() != deliverAt.UnixMilli() {
				return fmt.Errorf("delivery timestamp %v, sent %v", dt, deliverAt)
			}
			fmt.Printf("   (delay: received %v after the delivery timestamp)\n", now.Sub(deliverAt).Round(time.Millisecond))
			return nothingMore(c, time.Now())
		}
	}
	return fmt.Errorf("the delayed message did not arrive within %v", *timeout)
}

func casePush() error {
	topic, group := "go5_push_"+suffix, "go5_push_group_"+suffix
	if err := createTopic(*broker, *nsAddr, topic, "NORMAL", 8); err != nil {
		return err
	}
	p, err := newProducer([]string{topic})
	if err != nil {
		return err
	}
	defer p.GracefulStop()
	want := map[string]bool{}
	for i := 0; i < *n; i++ {
		body := fmt.Sprintf("push-%s-%d", suffix, i)
		m := &rmq.Message{Topic: topic, Body: []byte(body)}
		m.SetTag("TagP")
		if _, err := p.Send(context.Background(), m); err != nil {
			return fmt.Errorf("Send %d: %v", i, err)
		}
		want[body] = true
	}
	var mu sync.Mutex
	count := map[string]int{}
	var unexpected []string
	done := make(chan struct{})
	closed := false
	pc, err := rmq.NewPushConsumer(config(group),
		rmq.WithPushSubscriptionExpressions(map[string]*rmq.FilterExpression{topic: rmq.SUB_ALL}),
		rmq.WithPushAwaitDuration(awaitDuration),
		rmq.WithPushMessageListener(&rmq.FuncMessageListener{Consume: func(mv *rmq.MessageView) rmq.ConsumerResult {
			mu.Lock()
			defer mu.Unlock()
			body := string(mv.GetBody())
			if !want[body] {
				unexpected = append(unexpected, body)
			}
			count[body]++
			if !closed && len(count) >= len(want) {
				closed = true
				close(done)
			}
			return rmq.SUCCESS
		}}))
	if err != nil {
		return fmt.Errorf("NewPushConsumer: %v", err)
	}
	if err := pc.Start(); err != nil {
		return fmt.Errorf("push consumer Start: %v", err)
	}
	// v5.1.4's GracefulStop waits for the inflight receives, but a receive answered
	// MESSAGE_NOT_FOUND (an empty long poll) never leaves its count (process_queue.go skips
	// doAfter), so it waits out requestTimeout + longPollingTimeout (3 s + 20 s) every time.
	defer func() {
		stopping.Add(1)
		go func() { defer stopping.Done(); pc.GracefulStop() }()
	}()
	select {
	case <-done:
	case <-time.After(*timeout):
	}
	time.Sleep(3 * time.Second) // a duplicate would show up here
	mu.Lock()
	defer mu.Unlock()
	var missing, twice []string
	for b := range want {
		switch c := count[b]; {
		case c == 0:
			missing = append(missing, b)
		case c > 1:
			twice = append(twice, fmt.Sprintf("%s x%d", b, c))
		}
	}
	sort.Strings(missing)
	sort.Strings(twice)
	switch {
	case len(unexpected) > 0:
		return fmt.Errorf("messages not sent: %v", unexpected)
	case len(missing) > 0:
		return fmt.Errorf("%d of %d messages missing after %v: %v", len(missing), len(want), *timeout, missing)
	case len(twice) > 0:
		return fmt.Errorf("received more than once: %v", twice)
	}
	return nil
}
