package rmq.spring;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.stream.Collectors;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.spring.core.RocketMQListener;
import org.apache.rocketmq.spring.core.RocketMQPushConsumerLifecycleListener;

/**
 * Base of the tests' {@code @RocketMQMessageListener} beans taking the raw {@link MessageExt} (so that tags,
 * keys, properties, queue and offsets can be checked): records every delivery with its arrival time.
 *
 * <p>{@link #prepareStart} (the starter's hook before {@code consumer.start()}): CONSUME_FROM_FIRST_OFFSET and
 * a 1 s name server poll, because the listener containers start with the context, before the first send
 * auto-creates the topic; the client's default 30 s route poll would make every test wait for it.
 */
public abstract class RecordingListener implements RocketMQListener<MessageExt>, RocketMQPushConsumerLifecycleListener {
    /** One delivery: the message and when the listener got it. */
    public record Delivery(MessageExt msg, long atMillis) {
        public String body() {
            return new String(msg.getBody(), StandardCharsets.UTF_8);
        }
    }

    private final ConcurrentLinkedQueue<Delivery> deliveries = new ConcurrentLinkedQueue<>();

    @Override
    public void prepareStart(DefaultMQPushConsumer consumer) {
        consumer.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        consumer.setPollNameServerInterval(1_000);
    }

    @Override
    public void onMessage(MessageExt message) {
        deliveries.add(new Delivery(message, System.currentTimeMillis()));
    }

    public List<Delivery> all() {
        return new ArrayList<>(deliveries);
    }

    public List<Delivery> withBody(String body) {
        return deliveries.stream().filter(d -> d.body().equals(body)).collect(Collectors.toList());
    }

    public List<Delivery> withMsgId(String msgId) {
        return deliveries.stream().filter(d -> msgId.equals(d.msg().getMsgId())).collect(Collectors.toList());
    }

    /** body -> number of deliveries (sorted), for failure messages. */
    public Map<String, Integer> counts() {
        Map<String, Integer> m = new TreeMap<>();
        deliveries.forEach(d -> m.merge(d.body(), 1, Integer::sum));
        return m;
    }
}
