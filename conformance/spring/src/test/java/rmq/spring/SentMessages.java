package rmq.spring;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.rocketmq.client.hook.SendMessageContext;
import org.apache.rocketmq.client.hook.SendMessageHook;
import org.apache.rocketmq.common.message.MessageClientIDSetter;

/**
 * A SendMessageHook on the template's producer: the properties of every message exactly as the client put
 * it on the wire (after the starter's Spring-header mapping and the client's own UNIQ_KEY, TAGS, KEYS, WAIT,
 * TRAN_MSG, PGROUP, DELAY), by UNIQ_KEY; what a consumer gets must be these plus what the broker adds.
 */
public final class SentMessages implements SendMessageHook {
    private final Map<String, Map<String, String>> byMsgId = new ConcurrentHashMap<>();

    @Override
    public String hookName() {
        return "rmq-spring-sent-messages";
    }

    @Override
    public void sendMessageBefore(SendMessageContext context) {
        String id = MessageClientIDSetter.getUniqID(context.getMessage());
        if (id != null) {
            byMsgId.put(id, new TreeMap<>(context.getMessage().getProperties()));
        }
    }

    @Override
    public void sendMessageAfter(SendMessageContext context) {
    }

    /** The properties sent with the message whose UNIQ_KEY is {@code msgId}; fails if it was not sent. */
    public Map<String, String> properties(String msgId) {
        Map<String, String> p = byMsgId.get(msgId);
        if (p == null) {
            throw new AssertionError("no message with UNIQ_KEY " + msgId + " went through the producer");
        }
        return new TreeMap<>(p);
    }
}
