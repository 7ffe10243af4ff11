// rocketmq-client-go/v2 against a name server + broker.
//
// Cases (each prints "PASS <case>" or "FAIL <case>: <why>"; exit status 1 if any failed):
//
//	send          SendSync of N messages with tags TagA/TagB and keys
//	send-async    SendAsync of N/4 messages
//	send-oneway   SendOneWay of N/4 messages
//	send-batch    SendSync of B messages at once (SEND_BATCH_MESSAGE)
//	push-first    push consumer, clustering, new group, ConsumeFromFirstOffset: every message
//	              sent above arrives, with its tags and keys
//	push-default  the same with the default ConsumeFromLastOffset (a young topic: the broker
//	              answers offset 0 for a new group)
//	push-tag      new group subscribed to "TagA": exactly the TagA messages
//	push-timestamp  new group, ConsumeFromTimestamp (the client's default: 30 minutes back,
//	              SEARCH_OFFSET_BY_TIMESTAMP): every message
//	orderly       messages with 4 sharding keys sent through a hash queue selector, an orderly
//	              push consumer (LOCK_BATCH_MQ) gets them all, in send order per key
//	delay         a message with delay level 1 (1 s) arrives, not before 1 s
//	retry         a consumer that answers ConsumeRetryLater once gets the message again
//	              (CONSUMER_SEND_MSG_BACK, %RETRY% topic)
//	broadcast     a broadcasting push consumer (offsets kept locally) gets every message of a topic
//	transaction   a transaction producer: a half message committed by the local transaction
//	              (END_TRANSACTION) arrives, one rolled back does not
//
// Usage: go-client -ns 127.0.0.1:9876 [-n 40] [-timeout 90s]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"
)

var (
	nsAddr  = flag.String("ns", "127.0.0.1:9876", "name server address")
	n       = flag.Int("n", 40, "messages sent with SendSync")
	batchN  = flag.Int("batch", 10, "messages in the batch")
	timeout = flag.Duration("timeout", 90*time.Second, "how long a consumer may take")
	only    = flag.String("only", "", "comma separated cases")

	passed, failed int
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

type sent struct{ tag, keys string }

func newMsg(topic, body, tag, keys string) *primitive.Message {
	m := primitive.NewMessage(topic, []byte(body))
	m.WithTag(tag)
	m.WithKeys([]string{keys})
	return m
}

type received struct {
	tag, keys string
	queue     int
	at        time.Time
}

// consume starts a push consumer and waits until every body of expected arrived (or timeout).
// The handler may ask for a retry through retryOnce (body -> true: answer ConsumeRetryLater once).
func consume(group, topic, expr string, from consumer.ConsumeFromWhere, orderly bool,
	expected map[string]bool, retryOnce map[string]bool) (map[string]received, []string, error) {
	return consumeModel(consumer.Clustering, group, topic, expr, from, orderly, expected, retryOnce)
}

func consumeModel(model consumer.MessageModel, group, topic, expr string, from consumer.ConsumeFromWhere, orderly bool,
	expected map[string]bool, retryOnce map[string]bool) (map[string]received, []string, error) {
	var mu sync.Mutex
	got := map[string]received{}
	var order []string
	done := make(chan struct{})
	closed := false
	opts := []consumer.Option{
		consumer.WithNameServer([]string{*nsAddr}),
		consumer.WithGroupName(group),
		consumer.WithConsumerModel(model),
		consumer.WithConsumeFromWhere(from),
		consumer.WithConsumerOrder(orderly),
	}
	handler := func(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs {
			body := string(m.Body)
			if retryOnce[body] {
				delete(retryOnce, body)
				return consumer.ConsumeRetryLater, nil
			}
			if _, ok := got[body]; !ok {
				got[body] = received{m.GetTags(), m.GetKeys(), m.Queue.QueueId, time.Now()}
			}
			order = append(order, body)
		}
		if !closed {
			all := true
			for b := range expected {
				if _, ok := got[b]; !ok {
					all = false
					break
				}
			}
			if all {
				closed = true
				close(done)
			}
		}
		return consumer.ConsumeSuccess, nil
	}
	// A topic the producer has just created may not be in the name server's routes yet (Apache
	// RocketMQ registers it a moment later): Start fails with "route info not found"; try again.
	var c rocketmq.PushConsumer
	var err error
	for start := time.Now(); ; {
		c, err = rocketmq.NewPushConsumer(opts...)
		if err != nil {
			return nil, nil, err
		}
		err = c.Subscribe(topic, consumer.MessageSelector{Type: consumer.TAG, Expression: expr}, handler)
		if err != nil {
			return nil, nil, err
		}
		err = c.Start()
		if err == nil {
			break
		}
		_ = c.Shutdown()
		if !strings.Contains(err.Error(), "route info not found") || time.Since(start) > 15*time.Second {
			return nil, nil, err
		}
		time.Sleep(500 * time.Millisecond)
	}
	select {
	case <-done:
		time.Sleep(500 * time.Millisecond) // anything unexpected still in flight
	case <-time.After(*timeout):
	}
	_ = c.Shutdown()
	mu.Lock()
	defer mu.Unlock()
	cp := map[string]received{}
	for k, v := range got {
		cp[k] = v
	}
	return cp, append([]string(nil), order...), nil
}

func check(got map[string]received, expected map[string]sent) error {
	if len(expected) == 0 {
		return fmt.Errorf("nothing to expect: the sends failed")
	}
	var missing []string
	for b := range expected {
		if _, ok := got[b]; !ok {
			missing = append(missing, b)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		if len(missing) > 3 {
			missing = missing[:3]
		}
		return fmt.Errorf("%d of %d messages missing, e.g. %v (received %d)",
			len(expected)-(len(got)-countExtra(got, expected)), len(expected), missing, len(got))
	}
	for b, r := range got {
		s, ok := expected[b]
		if !ok {
			return fmt.Errorf("unexpected message %q", b)
		}
		if r.tag != s.tag || r.keys != s.keys {
			return fmt.Errorf("%s arrived with tag=%q keys=%q, sent tag=%q keys=%q", b, r.tag, r.keys, s.tag, s.keys)
		}
	}
	return nil
}

func countExtra(got map[string]received, expected map[string]sent) int {
	x := 0
	for b := range got {
		if _, ok := expected[b]; !ok {
			x++
		}
	}
	return x
}

func keysOf(m map[string]sent) map[string]bool {
	r := map[string]bool{}
	for k := range m {
		r[k] = true
	}
	return r
}

func main() {
	flag.Parse()
	rlog.SetLogLevel("error")
	run := fmt.Sprintf("%x", time.Now().UnixNano()&0xffffffff)
	topic := "GoTopic_" + run
	ctx := context.Background()

	p, err := rocketmq.NewProducer(
		producer.WithNameServer([]string{*nsAddr}),
		producer.WithGroupName("GoProducer_"+run),
		producer.WithRetry(2),
		producer.WithQueueSelector(producer.NewHashQueueSelector()),
	)
	if err == nil {
		err = p.Start()
	}
	if err != nil {
		report("producer-start", err)
		finish()
	}

	all := map[string]sent{}
	// send
	{
		var errs []string
		for i := 0; i < *n; i++ {
			body := fmt.Sprintf("go-%s-%d", run, i)
			s := sent{tag: []string{"TagA", "TagB"}[i%2], keys: fmt.Sprintf("key-%d", i)}
			res, err := p.SendSync(ctx, newMsg(topic, body, s.tag, s.keys))
			if err != nil {
				errs = append(errs, err.Error())
				continue
			}
			if res.Status != primitive.SendOK {
				errs = append(errs, fmt.Sprintf("status %d", res.Status))
				continue
			}
			all[body] = s
		}
		report("send", errsToErr(errs))
	}
	if wanted("send-async") {
		var wg sync.WaitGroup
		var mu sync.Mutex
		var errs []string
		for i := 0; i < *n/4; i++ {
			body := fmt.Sprintf("go-%s-async-%d", run, i)
			s := sent{tag: "TagB", keys: fmt.Sprintf("akey-%d", i)}
			wg.Add(1)
			err := p.SendAsync(ctx, func(ctx context.Context, res *primitive.SendResult, err error) {
				defer wg.Done()
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err.Error())
				} else if res.Status != primitive.SendOK {
					errs = append(errs, fmt.Sprintf("status %d", res.Status))
				} else {
					all[body] = s
				}
			}, newMsg(topic, body, s.tag, s.keys))
			if err != nil {
				wg.Done()
				mu.Lock()
				errs = append(errs, err.Error())
				mu.Unlock()
			}
		}
		wg.Wait()
		report("send-async", errsToErr(errs))
	}
	if wanted("send-oneway") {
		var errs []string
		for i := 0; i < *n/4; i++ {
			body := fmt.Sprintf("go-%s-oneway-%d", run, i)
			s := sent{tag: "TagA", keys: fmt.Sprintf("okey-%d", i)}
			if err := p.SendOneWay(ctx, newMsg(topic, body, s.tag, s.keys)); err != nil {
				errs = append(errs, err.Error())
				continue
			}
			all[body] = s
		}
		report("send-oneway", errsToErr(errs))
	}
	if wanted("send-batch") {
		var msgs []*primitive.Message
		batch := map[string]sent{}
		for i := 0; i < *batchN; i++ {
			body := fmt.Sprintf("go-%s-batch-%d", run, i)
			s := sent{tag: "TagB", keys: fmt.Sprintf("bkey-%d", i)}
			msgs = append(msgs, newMsg(topic, body, s.tag, s.keys))
			batch[body] = s
		}
		res, err := p.SendSync(ctx, msgs...)
		if err == nil && res.Status != primitive.SendOK {
			err = fmt.Errorf("status %d", res.Status)
		}
		if err == nil {
			for k, v := range batch {
				all[k] = v
			}
		}
		report("send-batch", err)
	}

	if wanted("push-first") {
		got, _, err := consume("GoFirst_"+run, topic, "*", consumer.ConsumeFromFirstOffset, false, keysOf(all), nil)
		if err == nil {
			err = check(got, all)
		}
		report("push-first", err)
	}
	if wanted("push-default") {
		got, _, err := consume("GoDefault_"+run, topic, "*", consumer.ConsumeFromLastOffset, false, keysOf(all), nil)
		if err == nil {
			err = check(got, all)
		}
		report("push-default", err)
	}
	if wanted("push-tag") {
		tagA := map[string]sent{}
		for b, s := range all {
			if s.tag == "TagA" {
				tagA[b] = s
			}
		}
		got, _, err := consume("GoTag_"+run, topic, "TagA", consumer.ConsumeFromFirstOffset, false, keysOf(tagA), nil)
		if err == nil {
			err = check(got, tagA)
		}
		report("push-tag", err)
	}
	if wanted("push-timestamp") {
		got, _, err := consume("GoTimestamp_"+run, topic, "*", consumer.ConsumeFromTimestamp, false, keysOf(all), nil)
		if err == nil {
			err = check(got, all)
		}
		report("push-timestamp", err)
	}
	if wanted("orderly") {
		report("orderly", orderly(ctx, p, run))
	}
	if wanted("delay") {
		report("delay", delay(ctx, p, run))
	}
	if wanted("retry") {
		report("retry", retry(ctx, p, run))
	}
	if wanted("broadcast") {
		report("broadcast", broadcast(ctx, p, run))
	}
	if wanted("transaction") {
		report("transaction", transaction(ctx, run))
	}
	_ = p.Shutdown()
	finish()
}

func orderly(ctx context.Context, p rocketmq.Producer, run string) error {
	topic := "GoOrderly_" + run
	perKey := map[string][]string{}
	expected := map[string]sent{}
	for i := 0; i < *n; i++ {
		key := fmt.Sprintf("k%d", i%4)
		body := fmt.Sprintf("go-%s-%s-%d", run, key, i)
		m := newMsg(topic, body, "TagO", fmt.Sprintf("okey-%d", i))
		m.WithShardingKey(key)
		res, err := p.SendSync(ctx, m)
		if err != nil {
			return fmt.Errorf("send: %w", err)
		}
		if res.Status != primitive.SendOK {
			return fmt.Errorf("send: status %d", res.Status)
		}
		perKey[key] = append(perKey[key], body)
		expected[body] = sent{"TagO", fmt.Sprintf("okey-%d", i)}
	}
	got, order, err := consume("GoOrderly_"+run, topic, "*", consumer.ConsumeFromFirstOffset, true, keysOf(expected), nil)
	if err != nil {
		return err
	}
	if err := check(got, expected); err != nil {
		return err
	}
	seen := map[string][]string{}
	dup := map[string]bool{}
	for _, b := range order {
		if dup[b] {
			continue
		}
		dup[b] = true
		key := strings.Split(b, "-")[2]
		seen[key] = append(seen[key], b)
	}
	for k, v := range perKey {
		if strings.Join(seen[k], ",") != strings.Join(v, ",") {
			return fmt.Errorf("order for key %s: got %v, sent %v", k, seen[k], v)
		}
	}
	return nil
}

func delay(ctx context.Context, p rocketmq.Producer, run string) error {
	topic := "GoDelay_" + run
	body := "go-" + run + "-delayed"
	m := newMsg(topic, body, "TagD", "dkey")
	m.WithDelayTimeLevel(1)
	t0 := time.Now()
	res, err := p.SendSync(ctx, m)
	if err != nil {
		return err
	}
	if res.Status != primitive.SendOK {
		return fmt.Errorf("status %d", res.Status)
	}
	got, _, err := consume("GoDelay_"+run, topic, "*", consumer.ConsumeFromFirstOffset, false, map[string]bool{body: true}, nil)
	if err != nil {
		return err
	}
	if err := check(got, map[string]sent{body: {"TagD", "dkey"}}); err != nil {
		return err
	}
	if d := got[body].at.Sub(t0); d < 900*time.Millisecond {
		return fmt.Errorf("arrived after %v, before its 1 s delay", d)
	}
	return nil
}

func retry(ctx context.Context, p rocketmq.Producer, run string) error {
	topic := "GoRetry_" + run
	body := "go-" + run + "-retried"
	res, err := p.SendSync(ctx, newMsg(topic, body, "TagR", "rkey"))
	if err != nil {
		return err
	}
	if res.Status != primitive.SendOK {
		return fmt.Errorf("status %d", res.Status)
	}
	retryOnce := map[string]bool{body: true}
	got, _, err := consume("GoRetry_"+run, topic, "*", consumer.ConsumeFromFirstOffset, false, map[string]bool{body: true}, retryOnce)
	if err != nil {
		return err
	}
	if len(retryOnce) != 0 {
		return fmt.Errorf("the message never arrived")
	}
	return check(got, map[string]sent{body: {"TagR", "rkey"}})
}

func broadcast(ctx context.Context, p rocketmq.Producer, run string) error {
	topic := "GoBroadcast_" + run
	expected := map[string]sent{}
	for i := 0; i < 8; i++ {
		body := fmt.Sprintf("go-%s-bc-%d", run, i)
		res, err := p.SendSync(ctx, newMsg(topic, body, "TagC", fmt.Sprintf("ckey-%d", i)))
		if err != nil {
			return err
		}
		if res.Status != primitive.SendOK {
			return fmt.Errorf("status %d", res.Status)
		}
		expected[body] = sent{"TagC", fmt.Sprintf("ckey-%d", i)}
	}
	got, _, err := consumeModel(consumer.BroadCasting, "GoBroadcast_"+run, topic, "*", consumer.ConsumeFromFirstOffset, false, keysOf(expected), nil)
	if err != nil {
		return err
	}
	return check(got, expected)
}

type txListener struct{}

func (txListener) ExecuteLocalTransaction(m *primitive.Message) primitive.LocalTransactionState {
	if strings.HasSuffix(string(m.Body), "-rollback") {
		return primitive.RollbackMessageState
	}
	return primitive.CommitMessageState
}

func (txListener) CheckLocalTransaction(m *primitive.MessageExt) primitive.LocalTransactionState {
	return txListener{}.ExecuteLocalTransaction(&m.Message)
}

func transaction(ctx context.Context, run string) error {
	topic := "GoTx_" + run
	tp, err := rocketmq.NewTransactionProducer(txListener{},
		producer.WithNameServer([]string{*nsAddr}),
		producer.WithGroupName("GoTxProducer_"+run),
		producer.WithRetry(2))
	if err != nil {
		return err
	}
	if err := tp.Start(); err != nil {
		return err
	}
	defer func() { _ = tp.Shutdown() }()
	commit, rollback := "go-"+run+"-tx-commit", "go-"+run+"-tx-rollback"
	for _, body := range []string{rollback, commit} {
		res, err := tp.SendMessageInTransaction(ctx, newMsg(topic, body, "TagT", "tkey"))
		if err != nil {
			return fmt.Errorf("%s: %w", body, err)
		}
		if res.Status != primitive.SendOK {
			return fmt.Errorf("%s: status %d", body, res.Status)
		}
	}
	got, _, err := consume("GoTx_"+run, topic, "*", consumer.ConsumeFromFirstOffset, false, map[string]bool{commit: true}, nil)
	if err != nil {
		return err
	}
	// check() also refuses the rolled back message, had it arrived
	return check(got, map[string]sent{commit: {"TagT", "tkey"}})
}

func errsToErr(errs []string) error {
	if len(errs) == 0 {
		return nil
	}
	if len(errs) > 3 {
		errs = errs[:3]
	}
	return fmt.Errorf("%s", strings.Join(errs, "; "))
}

func finish() {
	fmt.Printf("go: %d passed, %d failed\n", passed, failed)
	if failed > 0 {
		os.Exit(1)
	}
	os.Exit(0)
}
