package rmq.conformance;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.common.message.MessageExt;

/** What a consumer was given: every delivery (body, tags, queue id, queue offset), thread safe. */
final class Received {
    record Delivery(String body, String tags, int queueId, long queueOffset) {
    }

    private final ConcurrentLinkedQueue<Delivery> deliveries = new ConcurrentLinkedQueue<>();
    private final Map<String, AtomicInteger> countsByBody = new ConcurrentHashMap<>();

    void add(MessageExt m) {
        String body = new String(m.getBody(), StandardCharsets.UTF_8);
        deliveries.add(new Delivery(body, m.getTags(), m.getQueueId(), m.getQueueOffset()));
        countsByBody.computeIfAbsent(body, k -> new AtomicInteger()).incrementAndGet();
    }

    /** A MessageListenerConcurrently that records every message and returns CONSUME_SUCCESS. */
    MessageListenerConcurrently listener() {
        return (msgs, ctx) -> {
            msgs.forEach(this::add);
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        };
    }

    int total() {
        return deliveries.size();
    }

    Set<String> distinctBodies() {
        return new TreeSet<>(countsByBody.keySet());
    }

    /** Bodies delivered more than once, with their counts. */
    Map<String, Integer> duplicates() {
        Map<String, Integer> d = new TreeMap<>();
        countsByBody.forEach((b, c) -> {
            if (c.get() > 1) {
                d.put(b, c.get());
            }
        });
        return d;
    }

    Set<Integer> queueIds() {
        Set<Integer> ids = new TreeSet<>();
        deliveries.forEach(d -> ids.add(d.queueId()));
        return ids;
    }

    List<Delivery> all() {
        return new ArrayList<>(deliveries);
    }

    void clear() {
        deliveries.clear();
        countsByBody.clear();
    }
}
