package rmq.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static rmq.conformance.ConsumeSupport.awaitCaughtUp;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeOrderlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerOrderly;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.MessageQueueSelector;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;
import org.junit.jupiter.api.Test;

/**
 * Ordered messages (issue #5): sends with a MessageQueueSelector by order id, three MessageListenerOrderly
 * consumers of one group (LOCK_BATCH_MQ / UNLOCK_BATCH_MQ), one of them shut down half way.
 */
class OrderTest extends ConformanceBase {
    static final String[] STEPS = {"create", "pay", "complete"};

    record Step(int order, int step, int consumer, int queueId, long queueOffset) {
    }

    @Test
    void hundredOrdersThreeStepsThreeOrderlyConsumersOneLeaves() throws Exception {
        String topic = "OrderTopic";
        String group = "order_consumer_group";
        int orders = 100;
        DefaultMQAdminExt admin = startAdmin();
        createTopic(admin, topic, 8);

        ConcurrentLinkedQueue<Step> log = new ConcurrentLinkedQueue<>();
        AtomicInteger delivered = new AtomicInteger();
        List<DefaultMQPushConsumer> consumers = new ArrayList<>();
        for (int c = 0; c < 3; c++) {
            int consumerNo = c;
            DefaultMQPushConsumer consumer = newPushConsumer(group);
            consumer.subscribe(topic, "*");
            consumer.registerMessageListener((MessageListenerOrderly) (msgs, ctx) -> {
                for (MessageExt m : msgs) {
                    String[] parts = new String(m.getBody(), StandardCharsets.UTF_8).split(":");
                    log.add(new Step(Integer.parseInt(parts[0]), Integer.parseInt(parts[1]), consumerNo,
                        m.getQueueId(), m.getQueueOffset()));
                    delivered.incrementAndGet();
                }
                try {
                    Thread.sleep(5); // slow enough that "half way" exists
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return ConsumeOrderlyStatus.SUCCESS;
            });
            consumer.start();
            consumers.add(consumer);
        }
        // all three have a share of the 8 queues (each needs the broker's lock for its share)
        ConsumeSupport.assertTrueWithin(60_000, "the three consumers split the 8 queues", () -> {
            Set<Integer> all = new HashSet<>();
            int total = 0;
            for (DefaultMQPushConsumer c : consumers) {
                Set<Integer> own = ownedQueueIds(c, topic);
                if (own.isEmpty()) {
                    return false;
                }
                total += own.size();
                all.addAll(own);
            }
            return all.size() == 8 && total == 8;
        });

        DefaultMQProducer producer = startProducer("order_producer");
        MessageQueueSelector byOrderId = (mqs, msg, arg) -> mqs.get((Integer) arg % mqs.size());
        Map<Integer, Integer> queueOfOrder = new TreeMap<>();
        for (int step = 0; step < STEPS.length; step++) {
            for (int order = 0; order < orders; order++) {
                Message m = new Message(topic, STEPS[step], "order-" + order,
                    (order + ":" + step).getBytes(StandardCharsets.UTF_8));
                SendResult r = producer.send(m, byOrderId, order);
                assertEquals(SendStatus.SEND_OK, r.getSendStatus(), r.toString());
                Integer prev = queueOfOrder.put(order, r.getMessageQueue().getQueueId());
                assertTrue(prev == null || prev == r.getMessageQueue().getQueueId(), "order " + order + " moved");
                if (step == 1 && order == orders / 2) {
                    // half way through the sends, and some deliveries done: the first consumer leaves
                    ConsumeSupport.assertTrueWithin(30_000, "some deliveries before the leave",
                        () -> delivered.get() >= 50);
                    consumers.get(0).shutdown();
                }
            }
        }

        ConsumeSupport.assertTrueWithin(60_000, "every step of every order delivered",
            () -> distinctSteps(log) >= orders * STEPS.length);
        awaitCaughtUp(admin, group, topic, orders * STEPS.length);

        // per order: the first delivery of each step comes in step order (a re-delivery after the leave
        // replays from the committed offset, i.e. repeats a prefix, which keeps the order of first arrivals)
        Map<Integer, List<Integer>> perOrder = new TreeMap<>();
        for (Step s : log) {
            perOrder.computeIfAbsent(s.order(), k -> new ArrayList<>()).add(s.step());
        }
        assertEquals(orders, perOrder.size());
        int redelivered = 0;
        for (Map.Entry<Integer, List<Integer>> e : perOrder.entrySet()) {
            List<Integer> seq = e.getValue();
            int next = 0;
            for (int s : seq) {
                if (s == next) {
                    next++;
                } else {
                    assertTrue(s < next, "order " + e.getKey() + " got step " + STEPS[s] + " before "
                        + STEPS[next] + ": " + seq);
                    redelivered++;
                }
            }
            assertEquals(STEPS.length, next, "order " + e.getKey() + " steps: " + seq);
        }
        // nothing after the leave went to the consumer that left
        System.out.println("[OrderTest] deliveries=" + log.size() + " re-deliveries=" + redelivered
            + " per consumer=" + perConsumer(log));
        assertTrue(perConsumer(log).size() >= 2, "deliveries per consumer: " + perConsumer(log));
    }

    private static int distinctSteps(ConcurrentLinkedQueue<Step> log) {
        Set<String> s = new TreeSet<>();
        for (Step st : log) {
            s.add(st.order() + ":" + st.step());
        }
        return s.size();
    }

    private static Map<Integer, Integer> perConsumer(ConcurrentLinkedQueue<Step> log) {
        Map<Integer, Integer> m = new ConcurrentHashMap<>();
        for (Step s : log) {
            m.merge(s.consumer(), 1, Integer::sum);
        }
        return new TreeMap<>(m);
    }
}
