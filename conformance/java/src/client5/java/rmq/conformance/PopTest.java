package rmq.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import org.apache.rocketmq.client.consumer.AckCallback;
import org.apache.rocketmq.client.consumer.AckResult;
import org.apache.rocketmq.client.consumer.AckStatus;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.PopCallback;
import org.apache.rocketmq.client.consumer.PopResult;
import org.apache.rocketmq.client.consumer.PopStatus;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.impl.MQClientAPIImpl;
import org.apache.rocketmq.client.impl.consumer.PopProcessQueue;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.common.message.MessageConst;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;
import org.apache.rocketmq.common.message.MessageRequestMode;
import org.apache.rocketmq.remoting.protocol.header.AckMessageRequestHeader;
import org.apache.rocketmq.remoting.protocol.header.ChangeInvisibleTimeRequestHeader;
import org.apache.rocketmq.remoting.protocol.header.ExtraInfoUtil;
import org.apache.rocketmq.remoting.protocol.header.PopMessageRequestHeader;
import org.apache.rocketmq.remoting.protocol.subscription.SubscriptionGroupConfig;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;
import org.junit.jupiter.api.Test;

/**
 * POP consumption (issue #13) with the 5.3.1 remoting client: the push consumer in POP mode
 * ({@code setClientRebalance(false)} + SET_MESSAGE_REQUEST_MODE POP, then QUERY_ASSIGNMENT, POP_MESSAGE,
 * ACK_MESSAGE, CHANGE_MESSAGE_INVISIBLETIME), and the client's low-level {@code MQClientAPIImpl} pop / ack /
 * changeInvisibleTime for what the push consumer never does (explicit invisible times, orderly pop).
 *
 * <p>Only what the protocol promises is asserted: a popped message that is not acked comes back (through the pop
 * retry topic {@code %RETRY%<group>_<topic>}, with reconsumeTimes + 1, shown under the original topic) no earlier
 * than its invisible time; an acked one does not; an orderly pop holds its queue until the batch is acked or its
 * invisible time is over. How late a redelivery is (the Java broker's revive service adds a few seconds) is only
 * bounded by generous waits. Absence is only ever checked against a later positive signal (a message that had to
 * come back through the same path came back).
 */
class PopTest extends ConformanceBase {

    /** The first pop delay level of the push consumer (DefaultMQPushConsumerImpl.popDelayLevel[0]), seconds. */
    static final long FIRST_POP_DELAY_MS = 10_000;

    record Delivery(String body, long at, MessageExt msg, String who) {
    }

    /** Every delivery a listener or a pop loop saw, in arrival order. */
    static final class Deliveries {
        final List<Delivery> all = new CopyOnWriteArrayList<>();

        void add(String who, MessageExt m) {
            all.add(new Delivery(body(m), System.currentTimeMillis(), m, who));
        }

        List<Delivery> of(String body) {
            return all.stream().filter(d -> d.body.equals(body)).collect(Collectors.toList());
        }

        int count(String body) {
            return of(body).size();
        }

        Set<String> bodies() {
            return all.stream().map(Delivery::body).collect(Collectors.toCollection(TreeSet::new));
        }

        Map<String, Integer> countsByWho() {
            Map<String, Integer> m = new TreeMap<>();
            all.forEach(d -> m.merge(d.who, 1, Integer::sum));
            return m;
        }

        Map<String, Integer> duplicates() {
            Map<String, Integer> d = new TreeMap<>();
            all.forEach(x -> d.merge(x.body, 1, Integer::sum));
            d.values().removeIf(c -> c == 1);
            return d;
        }
    }

    static String body(MessageExt m) {
        return new String(m.getBody(), StandardCharsets.UTF_8);
    }

    static String popRetryTopic(String group, String topic) {
        return "%RETRY%" + group + "_" + topic;
    }

    // ---------------------------------------------------------------- push consumer in POP mode

    private void setPopMode(DefaultMQAdminExt admin, String topic, String group) throws Exception {
        // popShareQueueNum 0: every client of the group is assigned every queue, as queueId -1 (allocate4Pop)
        admin.setMessageRequestMode(servers().brokerAddr(), topic, group, MessageRequestMode.POP, 0, 10_000);
    }

    /**
     * A started push consumer with a concurrent listener in POP mode (clientRebalance false); every delivery is
     * recorded in {@code got} as {@code who}; the listener answers RECONSUME_LATER (delay level 0, i.e. the
     * message's reconsumeTimes, 0 the first time → popDelayLevel[0] = 10 s) when {@code nack} says so.
     */
    private DefaultMQPushConsumer startPopConsumer(String group, String topic, long invisibleMs, String who,
        Deliveries got, Predicate<MessageExt> nack) throws Exception {
        DefaultMQPushConsumer consumer = newPushConsumer(group);
        consumer.setClientRebalance(false);
        consumer.setPopInvisibleTime(invisibleMs);
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
            boolean later = false;
            for (MessageExt m : msgs) {
                got.add(who, m);
                later |= nack.test(m);
            }
            return later ? ConsumeConcurrentlyStatus.RECONSUME_LATER : ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        });
        consumer.start();
        return consumer;
    }

    /** Queue ids of {@code topic} in the consumer's POP process queue table (QUERY_ASSIGNMENT with mode POP). */
    static Set<Integer> popQueueIds(DefaultMQPushConsumer consumer, String topic) {
        Set<Integer> ids = new TreeSet<>();
        for (Map.Entry<MessageQueue, PopProcessQueue> e
            : consumer.getDefaultMQPushConsumerImpl().getRebalanceImpl().getPopProcessQueueTable().entrySet()) {
            if (e.getKey().getTopic().equals(topic) && !e.getValue().isDropped()) {
                ids.add(e.getKey().getQueueId());
            }
        }
        return ids;
    }

    /**
     * Two push consumers of one group (two client ids) share a 1-queue topic in POP mode: both are assigned the
     * queue (as queueId -1), both consume some of 40 messages, each exactly once, and after a marker message was nacked
     * (back after 10 s through the retry topic) none of the 40 (acked, invisible time 5 s) has come back.
     */
    @Test
    void twoPushConsumersShareOneQueue() throws Exception {
        String topic = "PopShareTopic";
        String group = "pop_share_group";
        DefaultMQAdminExt admin = startAdmin();
        createTopic(admin, topic, 1);
        setPopMode(admin, topic, group);

        Deliveries got = new Deliveries();
        Set<String> nacked = ConcurrentHashMap.newKeySet();
        Predicate<MessageExt> nackMarkerOnce = m -> body(m).equals("marker") && nacked.add("marker");
        DefaultMQPushConsumer c1 = startPopConsumer(group, topic, 5_000, "c1", got, nackMarkerOnce);
        DefaultMQPushConsumer c2 = startPopConsumer(group, topic, 5_000, "c2", got, nackMarkerOnce);
        ConsumeSupport.assertTrueWithin(30_000, "both consumers are assigned the topic's queue as POP queue -1",
            () -> popQueueIds(c1, topic).equals(Set.of(-1)) && popQueueIds(c2, topic).equals(Set.of(-1)));

        DefaultMQProducer producer = startProducer("pop_share_producer");
        // Rounds of 40 one-by-one sends until both consumers have had some (each long-polling
        // consumer is woken by some of them; on a loaded machine one may miss a whole round).
        List<String> bodies = new ArrayList<>();
        for (int round = 0; round < 5; round++) {
            List<String> batch = ConsumeSupport.bodies("share-" + round + "-", 40);
            bodies.addAll(batch);
            ConsumeSupport.sendAll(producer, topic, "TagP", batch);
            ConsumeSupport.assertTrueWithin(60_000, "all sent so far consumed", () -> got.bodies().containsAll(bodies));
            Map<String, Integer> soFar = got.countsByWho();
            if (soFar.getOrDefault("c1", 0) > 0 && soFar.getOrDefault("c2", 0) > 0) {
                break;
            }
        }

        ConsumeSupport.sendAll(producer, topic, "TagP", List.of("marker"));
        ConsumeSupport.assertTrueWithin(90_000, "the nacked marker came back", () -> got.count("marker") >= 2);

        Map<String, Integer> byWho = got.countsByWho();
        System.out.println("PopTest share: deliveries by consumer " + byWho + ", duplicates " + got.duplicates());
        // each long-polling consumer is woken by some of the one-by-one sends (oracle: 33/9, 37/5 of 42)
        assertTrue(byWho.getOrDefault("c1", 0) > 0 && byWho.getOrDefault("c2", 0) > 0,
            "both consumers of the shared queue consumed: " + byWho);
        for (String b : bodies) {
            assertEquals(1, got.count(b), b + " consumed exactly once, deliveries " + got.of(b));
        }
        List<Delivery> marker = got.of("marker");
        assertEquals(2, marker.size(), marker.toString());
        assertEquals(0, marker.get(0).msg.getReconsumeTimes());
        assertEquals(1, marker.get(1).msg.getReconsumeTimes(), marker.get(1).msg.toString());
        assertTrue(marker.get(1).at - marker.get(0).at >= FIRST_POP_DELAY_MS,
            "marker back after " + (marker.get(1).at - marker.get(0).at) + " ms");
    }

    /**
     * RECONSUME_LATER in POP mode: the push consumer changes the invisible time to popDelayLevel[0] = 10 s, and the
     * message comes back no earlier than that (and well before the 60 s invisible time of the pop), reconsumeTimes
     * 1, under the original topic with the same msgId, tags and body; its POP_CK names the pop retry topic.
     */
    @Test
    void nackedMessageComesBackAfterTheDelayLevel() throws Exception {
        String topic = "PopNackTopic";
        String group = "pop_nack_group";
        DefaultMQAdminExt admin = startAdmin();
        createTopic(admin, topic, 1);
        setPopMode(admin, topic, group);

        Deliveries got = new Deliveries();
        DefaultMQPushConsumer consumer = startPopConsumer(group, topic, 60_000, "c", got,
            m -> got.count(body(m)) == 1);
        ConsumeSupport.assertTrueWithin(30_000, "the consumer is assigned the queue in POP mode",
            () -> popQueueIds(consumer, topic).equals(Set.of(-1)));

        DefaultMQProducer producer = startProducer("pop_nack_producer");
        List<String> bodies = ConsumeSupport.bodies("nack-", 3);
        ConsumeSupport.sendAll(producer, topic, "TagN", bodies);
        ConsumeSupport.assertTrueWithin(90_000, "every nacked message came back",
            () -> bodies.stream().allMatch(b -> got.count(b) >= 2));

        for (String b : bodies) {
            List<Delivery> d = got.of(b);
            assertEquals(2, d.size(), b + ": " + d);
            MessageExt first = d.get(0).msg;
            MessageExt again = d.get(1).msg;
            long after = d.get(1).at - d.get(0).at;
            System.out.println("PopTest nack: " + b + " back after " + after + " ms, reconsumeTimes "
                + again.getReconsumeTimes() + ", POP_CK " + again.getProperty(MessageConst.PROPERTY_POP_CK)
                + ", first POP_CK " + first.getProperty(MessageConst.PROPERTY_POP_CK));
            assertTrue(after >= FIRST_POP_DELAY_MS, b + " came back after " + after + " ms");
            assertTrue(after < 60_000, b + " came back after " + after + " ms (the pop's own invisible time)");
            assertEquals(0, first.getReconsumeTimes());
            assertEquals(1, again.getReconsumeTimes(), again.toString());
            assertEquals(topic, again.getTopic());
            assertEquals("TagN", again.getTags());
            assertEquals(first.getMsgId(), again.getMsgId(), "UNIQ_KEY survives the retry topic");
            assertEquals(topic, realTopic(group, first), "first delivery is acked on the topic");
            assertEquals(popRetryTopic(group, topic), realTopic(group, again),
                "redelivery is acked on the pop retry topic");
        }
    }

    // ---------------------------------------------------------------- the client's low-level pop API

    static String realTopic(String group, MessageExt m) {
        String ck = m.getProperty(MessageConst.PROPERTY_POP_CK);
        assertNotNull(ck, "POP_CK of " + m);
        return ExtraInfoUtil.getRealTopic(ExtraInfoUtil.split(ck), m.getTopic(), group);
    }

    private static MQClientAPIImpl api(DefaultMQProducer producer) {
        return producer.getDefaultMQProducerImpl().getMqClientFactory().getMQClientAPIImpl();
    }

    private void createGroup(DefaultMQAdminExt admin, String group) throws Exception {
        SubscriptionGroupConfig config = new SubscriptionGroupConfig();
        config.setGroupName(group);
        admin.createAndUpdateSubscriptionGroupConfig(servers().brokerAddr(), config);
    }

    /** POP_MESSAGE (initMode 0 = from the first offset, subscription "*"), waiting for the answer. */
    static PopResult pop(MQClientAPIImpl api, String topic, String group, int queueId, int maxNums,
        long invisibleMs, long pollMs, boolean order) throws Exception {
        PopMessageRequestHeader h = new PopMessageRequestHeader();
        h.setConsumerGroup(group);
        h.setTopic(topic);
        h.setQueueId(queueId);
        h.setMaxMsgNums(maxNums);
        h.setInvisibleTime(invisibleMs);
        h.setPollTime(pollMs);
        h.setBornTime(System.currentTimeMillis());
        h.setInitMode(0);
        h.setExpType("TAG");
        h.setExp("*");
        h.setOrder(order);
        h.setBrokerName(servers().brokerName());
        CompletableFuture<PopResult> f = new CompletableFuture<>();
        api.popMessageAsync(servers().brokerName(), servers().brokerAddr(), h, pollMs + 10_000, new PopCallback() {
            @Override
            public void onSuccess(PopResult popResult) {
                f.complete(popResult);
            }

            @Override
            public void onException(Throwable e) {
                f.completeExceptionally(e);
            }
        });
        return f.get(pollMs + 15_000, TimeUnit.MILLISECONDS);
    }

    /**
     * Pops (1 s long polls) until a FOUND answer, or null after {@code millis} of POLLING_NOT_FOUND answers; every
     * message found goes into {@code got}.
     */
    static PopResult popUntilFound(MQClientAPIImpl api, String topic, String group, int queueId, int maxNums,
        long invisibleMs, boolean order, Deliveries got, long millis) throws Exception {
        long deadline = System.currentTimeMillis() + millis;
        do {
            PopResult r = pop(api, topic, group, queueId, maxNums, invisibleMs, 1_000, order);
            if (r.getPopStatus() == PopStatus.FOUND) {
                assertTrue(r.getMsgFoundList() != null && !r.getMsgFoundList().isEmpty(), r.toString());
                r.getMsgFoundList().forEach(m -> got.add("pop", m));
                return r;
            }
            assertEquals(PopStatus.POLLING_NOT_FOUND, r.getPopStatus(), r.toString());
        } while (System.currentTimeMillis() < deadline);
        return null;
    }

    /** {@link #popUntilFound}, failing when nothing was found. */
    static PopResult popFound(MQClientAPIImpl api, String topic, String group, int queueId, int maxNums,
        long invisibleMs, boolean order, Deliveries got, long millis) throws Exception {
        PopResult r = popUntilFound(api, topic, group, queueId, maxNums, invisibleMs, order, got, millis);
        if (r == null) {
            fail("nothing popped from " + topic + " within " + millis + " ms");
        }
        return r;
    }

    private static AckResult await(CompletableFuture<AckResult> f) throws Exception {
        return f.get(10_000, TimeUnit.MILLISECONDS);
    }

    private static AckCallback callback(CompletableFuture<AckResult> f) {
        return new AckCallback() {
            @Override
            public void onSuccess(AckResult ackResult) {
                f.complete(ackResult);
            }

            @Override
            public void onException(Throwable e) {
                f.completeExceptionally(e);
            }
        };
    }

    /** ACK_MESSAGE for the handle {@code extraInfo}, built as DefaultMQPushConsumerImpl.ackAsync does. */
    static AckResult ack(MQClientAPIImpl api, String group, String topic, String extraInfo) throws Exception {
        String[] x = ExtraInfoUtil.split(extraInfo);
        AckMessageRequestHeader h = new AckMessageRequestHeader();
        h.setConsumerGroup(group);
        h.setTopic(ExtraInfoUtil.getRealTopic(x, topic, group));
        h.setQueueId(ExtraInfoUtil.getQueueId(x));
        h.setOffset(ExtraInfoUtil.getQueueOffset(x));
        h.setExtraInfo(extraInfo);
        h.setBrokerName(ExtraInfoUtil.getBrokerName(x));
        CompletableFuture<AckResult> f = new CompletableFuture<>();
        api.ackMessageAsync(servers().brokerAddr(), 10_000, callback(f), h);
        return await(f);
    }

    static void assertAcked(MQClientAPIImpl api, String group, MessageExt m) throws Exception {
        AckResult r = ack(api, group, m.getTopic(), m.getProperty(MessageConst.PROPERTY_POP_CK));
        assertEquals(AckStatus.OK, r.getStatus(), "ack of " + body(m) + ": " + r);
    }

    /** CHANGE_MESSAGE_INVISIBLETIME, built as DefaultMQPushConsumerImpl.changePopInvisibleTimeAsync does. */
    static AckResult changeInvisibleTime(MQClientAPIImpl api, String group, MessageExt m, long invisibleMs)
        throws Exception {
        String extraInfo = m.getProperty(MessageConst.PROPERTY_POP_CK);
        String[] x = ExtraInfoUtil.split(extraInfo);
        ChangeInvisibleTimeRequestHeader h = new ChangeInvisibleTimeRequestHeader();
        h.setConsumerGroup(group);
        h.setTopic(ExtraInfoUtil.getRealTopic(x, m.getTopic(), group));
        h.setQueueId(ExtraInfoUtil.getQueueId(x));
        h.setOffset(ExtraInfoUtil.getQueueOffset(x));
        h.setExtraInfo(extraInfo);
        h.setInvisibleTime(invisibleMs);
        h.setBrokerName(ExtraInfoUtil.getBrokerName(x));
        CompletableFuture<AckResult> f = new CompletableFuture<>();
        api.changeInvisibleTimeAsync(servers().brokerName(), servers().brokerAddr(), h, 10_000, callback(f));
        return await(f);
    }

    private static void awaitMaxOffset(DefaultMQAdminExt admin, String topic, int queueId, long max)
        throws Exception {
        MessageQueue mq = new MessageQueue(topic, servers().brokerName(), queueId);
        ConsumeSupport.assertTrueWithin(15_000, "max offset of " + mq + " is " + max, () -> {
            try {
                return admin.maxOffset(mq) == max;
            } catch (Exception e) {
                return false;
            }
        });
    }

    /**
     * Two messages popped with a 60 s invisible time, both changed to 2 s (CHANGE_MESSAGE_INVISIBLETIME answers
     * a new handle), one then acked with that new handle: the other comes back no earlier than 2 s after the
     * change and long before the 60 s are over (reconsumeTimes 1, original topic, same msgId); the acked one never
     * comes back (it would have come back at the same time, through the same path, on the same revive queue).
     */
    @Test
    void changeInvisibleTimeBringsAMessageBackEarly() throws Exception {
        String topic = "PopChangeTopic";
        String group = "pop_change_group";
        DefaultMQAdminExt admin = startAdmin();
        createTopic(admin, topic, 1);
        createGroup(admin, group);
        DefaultMQProducer producer = startProducer("pop_change_producer");
        MQClientAPIImpl api = api(producer);
        ConsumeSupport.sendAll(producer, topic, "TagC", List.of("change-acked", "change-back"));
        awaitMaxOffset(admin, topic, 0, 2);

        Deliveries got = new Deliveries();
        long popped = System.currentTimeMillis();
        PopResult first = popFound(api, topic, group, -1, 32, 60_000, false, got, 30_000);
        assertEquals(2, first.getMsgFoundList().size(), first.toString());
        assertEquals(60_000, first.getInvisibleTime());
        MessageExt acked = first.getMsgFoundList().get(0);
        MessageExt back = first.getMsgFoundList().get(1);
        assertEquals("change-acked", body(acked));
        assertEquals("change-back", body(back));

        long changed = System.currentTimeMillis();
        AckResult c1 = changeInvisibleTime(api, group, acked, 2_000);
        AckResult c2 = changeInvisibleTime(api, group, back, 2_000);
        System.out.println("PopTest change: old handle " + acked.getProperty(MessageConst.PROPERTY_POP_CK)
            + ", new handle " + c1.getExtraInfo());
        assertEquals(AckStatus.OK, c1.getStatus(), c1.toString());
        assertEquals(AckStatus.OK, c2.getStatus(), c2.toString());
        String[] handle = ExtraInfoUtil.split(c1.getExtraInfo());
        assertEquals(2_000L, ExtraInfoUtil.getInvisibleTime(handle), "invisibleTime answered: " + c1.getExtraInfo());
        assertEquals(acked.getQueueOffset(), ExtraInfoUtil.getQueueOffset(handle));
        AckResult a = ack(api, group, topic, c1.getExtraInfo());
        assertEquals(AckStatus.OK, a.getStatus(), "ack with the handle CHANGE_MESSAGE_INVISIBLETIME answered: " + a);

        ConsumeSupport.assertTrueWithin(45_000, "change-back popped again", () -> {
            popQuietly(api, topic, group, 60_000, got);
            return got.count("change-back") >= 2;
        });
        Delivery again = got.of("change-back").get(1);
        long after = again.at - changed;
        System.out.println("PopTest change: change-back back " + after + " ms after the change, POP_CK "
            + again.msg.getProperty(MessageConst.PROPERTY_POP_CK));
        assertTrue(after >= 2_000, "back " + after + " ms after the change to 2 s");
        assertTrue(again.at < popped + 60_000, "back " + (again.at - popped) + " ms after the 60 s pop");
        assertEquals(1, again.msg.getReconsumeTimes(), again.msg.toString());
        assertEquals(topic, again.msg.getTopic());
        assertEquals(back.getMsgId(), again.msg.getMsgId());
        assertEquals(popRetryTopic(group, topic), realTopic(group, again.msg));
        assertAcked(api, group, again.msg);
        assertEquals(1, got.count("change-acked"), "acked with the new handle, never back: " + got.all);
    }

    /**
     * Pops with a 5 s invisible time, no ack: both messages come back (not before the 5 s) with reconsumeTimes 1
     * from the pop retry topic (shown under the original topic). One is acked there, the other not: the other
     * comes back once more (reconsumeTimes 2), the acked one does not; once that is acked too, the group's pop
     * finds nothing.
     */
    @Test
    void unackedMessageComesBackAfterTheInvisibleTime() throws Exception {
        String topic = "PopUnackedTopic";
        String group = "pop_unacked_group";
        long invisible = 5_000;
        DefaultMQAdminExt admin = startAdmin();
        createTopic(admin, topic, 1);
        createGroup(admin, group);
        DefaultMQProducer producer = startProducer("pop_unacked_producer");
        MQClientAPIImpl api = api(producer);
        ConsumeSupport.sendAll(producer, topic, "TagU", List.of("unacked-then-acked", "never-acked"));
        awaitMaxOffset(admin, topic, 0, 2);

        Deliveries got = new Deliveries();
        long popped = System.currentTimeMillis();
        PopResult first = popFound(api, topic, group, -1, 32, invisible, false, got, 30_000);
        assertEquals(2, first.getMsgFoundList().size(), first.toString());
        for (MessageExt m : first.getMsgFoundList()) {
            assertEquals(0, m.getReconsumeTimes());
            assertEquals(topic, realTopic(group, m));
        }

        ConsumeSupport.assertTrueWithin(45_000, "both popped again", () -> {
            popQuietly(api, topic, group, invisible, got);
            return got.count("unacked-then-acked") >= 2 && got.count("never-acked") >= 2;
        });
        Map<String, MessageExt> second = new TreeMap<>();
        for (String b : List.of("unacked-then-acked", "never-acked")) {
            Delivery d = got.of(b).get(1);
            System.out.println("PopTest unacked: " + b + " back " + (d.at - popped) + " ms after the pop, POP_CK "
                + d.msg.getProperty(MessageConst.PROPERTY_POP_CK));
            assertTrue(d.at - popped >= invisible, b + " back after " + (d.at - popped) + " ms");
            assertEquals(1, d.msg.getReconsumeTimes(), d.msg.toString());
            assertEquals(topic, d.msg.getTopic());
            assertEquals(popRetryTopic(group, topic), realTopic(group, d.msg));
            assertEquals(got.of(b).get(0).msg.getMsgId(), d.msg.getMsgId());
            second.put(b, d.msg);
        }
        assertAcked(api, group, second.get("unacked-then-acked"));
        long acked = System.currentTimeMillis();

        ConsumeSupport.assertTrueWithin(45_000, "never-acked popped a third time", () -> {
            popQuietly(api, topic, group, invisible, got);
            return got.count("never-acked") >= 3;
        });
        Delivery third = got.of("never-acked").get(2);
        System.out.println("PopTest unacked: never-acked back a second time " + (third.at - acked)
            + " ms after the ack of the other; deliveries " + got.all.stream().map(d -> d.body).toList());
        assertEquals(2, third.msg.getReconsumeTimes(), third.msg.toString());
        assertEquals(popRetryTopic(group, topic), realTopic(group, third.msg));
        assertEquals(2, got.count("unacked-then-acked"), "acked on the retry topic, never back: " + got.all);
        assertAcked(api, group, third.msg);

        PopResult none = pop(api, topic, group, -1, 32, invisible, 1_000, false);
        assertEquals(PopStatus.POLLING_NOT_FOUND, none.getPopStatus(), none.toString());
    }

    /** One round of {@link #popUntilFound} (queueId -1, up to 2 s) for a polling condition. */
    private static void popQuietly(MQClientAPIImpl api, String topic, String group, long invisible, Deliveries got) {
        try {
            popUntilFound(api, topic, group, -1, 32, invisible, false, got, 2_000);
        } catch (Exception e) {
            throw new RuntimeException(e);
        }
    }

    /**
     * Orderly pop (order=true, the proxy's FIFO path) of a 1-queue topic holding 10 messages, 4 at a time with a
     * 5 s invisible time: while a batch is unacked, another orderly pop of the queue finds nothing; after the acks
     * the next batch follows on; a batch left unacked is popped again after its invisible time with the same
     * offsets, in order, reconsumeTimes 1. The first deliveries are exactly 0..9 in order.
     */
    @Test
    void orderlyPopHoldsTheQueueAndKeepsOrder() throws Exception {
        String topic = "PopOrderTopic";
        String group = "pop_order_group";
        long invisible = 5_000;
        DefaultMQAdminExt admin = startAdmin();
        createTopic(admin, topic, 1);
        createGroup(admin, group);
        DefaultMQProducer producer = startProducer("pop_order_producer");
        MQClientAPIImpl api = api(producer);
        List<String> bodies = ConsumeSupport.bodies("ord-", 10);
        ConsumeSupport.sendAll(producer, topic, "TagO", bodies);
        awaitMaxOffset(admin, topic, 0, 10);

        Deliveries got = new Deliveries();
        List<Long> firstOffsets = new ArrayList<>();
        // batch 1: 0..3, the queue is held until acked
        List<MessageExt> b1 = popFound(api, topic, group, 0, 4, invisible, true, got, 30_000).getMsgFoundList();
        assertEquals(List.of(0L, 1L, 2L, 3L), offsets(b1), "first orderly batch");
        b1.forEach(m -> assertEquals(0, m.getReconsumeTimes()));
        b1.forEach(m -> firstOffsets.add(m.getQueueOffset()));
        String ck = b1.get(0).getProperty(MessageConst.PROPERTY_POP_CK);
        System.out.println("PopTest order: POP_CK " + ck);
        PopResult held = pop(api, topic, group, 0, 4, invisible, 1_000, true);
        assertEquals(PopStatus.POLLING_NOT_FOUND, held.getPopStatus(), "queue held by the unacked batch: " + held);
        for (MessageExt m : b1) {
            assertAcked(api, group, m);
        }

        // batch 2: 4..7, left unacked: popped again after the invisible time, same offsets, in order
        long popped = System.currentTimeMillis();
        List<MessageExt> b2 = pop(api, topic, group, 0, 4, invisible, 1_000, true).getMsgFoundList();
        assertNotNull(b2, "the batch after an acked one follows at once");
        assertEquals(List.of(4L, 5L, 6L, 7L), offsets(b2), "second orderly batch");
        b2.forEach(m -> got.add("pop", m));
        b2.forEach(m -> firstOffsets.add(m.getQueueOffset()));
        PopResult heldAgain = pop(api, topic, group, 0, 4, invisible, 1_000, true);
        assertEquals(PopStatus.POLLING_NOT_FOUND, heldAgain.getPopStatus(), heldAgain.toString());
        List<MessageExt> again = popFound(api, topic, group, 0, 4, invisible, true, got, 30_000)
            .getMsgFoundList();
        long after = System.currentTimeMillis() - popped;
        System.out.println("PopTest order: unacked batch popped again after " + after + " ms, reconsumeTimes "
            + again.stream().map(MessageExt::getReconsumeTimes).toList());
        assertTrue(after >= invisible, "popped again after " + after + " ms");
        assertEquals(offsets(b2), offsets(again), "the same batch again");
        assertEquals(bodies.subList(4, 8), again.stream().map(PopTest::body).toList());
        again.forEach(m -> assertEquals(1, m.getReconsumeTimes(), m.toString()));
        for (MessageExt m : again) {
            assertAcked(api, group, m);
        }

        // batch 3: the rest
        List<MessageExt> b3 = popFound(api, topic, group, 0, 4, invisible, true, got, 10_000).getMsgFoundList();
        assertEquals(List.of(8L, 9L), offsets(b3), "last orderly batch");
        b3.forEach(m -> firstOffsets.add(m.getQueueOffset()));
        for (MessageExt m : b3) {
            assertAcked(api, group, m);
        }
        PopResult end = pop(api, topic, group, 0, 4, invisible, 1_000, true);
        assertEquals(PopStatus.POLLING_NOT_FOUND, end.getPopStatus(), end.toString());

        assertEquals(List.of(0L, 1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L), firstOffsets);
        List<String> seen = got.all.stream().map(d -> d.body).toList();
        List<String> expected = new ArrayList<>(bodies.subList(0, 8));
        expected.addAll(bodies.subList(4, 10));
        assertEquals(expected, seen, "every delivery, in order");
    }

    static List<Long> offsets(List<MessageExt> msgs) {
        return msgs.stream().map(MessageExt::getQueueOffset).toList();
    }
}
