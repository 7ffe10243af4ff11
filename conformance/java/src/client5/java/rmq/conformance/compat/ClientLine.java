package rmq.conformance.compat;

import java.util.Map;
import org.apache.rocketmq.client.QueryResult;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.remoting.protocol.ResponseCode;
import org.apache.rocketmq.remoting.protocol.heartbeat.MessageModel;
import org.apache.rocketmq.remoting.protocol.subscription.SubscriptionGroupConfig;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;

/**
 * The few calls whose signature or package differs between the RocketMQ 4.9 and 5.x client lines. This is
 * the 5.x version (src/client5/java, compiled by the client5 profile); src/client4/java has the same class
 * for 4.9. In 5.x the protocol classes moved from org.apache.rocketmq.common.protocol to
 * org.apache.rocketmq.remoting.protocol.
 */
public final class ClientLine {
    /** 4 or 5: the line of rocketmq-client / rocketmq-tools the tests were compiled against. */
    public static final int LINE = 5;

    public static final int CONSUMER_NOT_ONLINE = ResponseCode.CONSUMER_NOT_ONLINE;

    private ClientLine() {
    }

    /** 5.x dropped createTopic(key, newTopic, queueNum); the attributes form with no attributes is the same. */
    public static void createTopic(DefaultMQAdminExt admin, String key, String topic, int queueNum) throws Exception {
        admin.createTopic(key, topic, queueNum, Map.of());
    }

    /**
     * VIEW_MESSAGE_BY_ID for an offset msg id. 5.x has no viewMessage(offsetMsgId); DefaultMQAdminExt.viewMessage(
     * topic, id) swallows a failure and retries the id as a unique key, so go to MQAdminImpl.viewMessage(topic,
     * offsetMsgId) directly (VIEW_MESSAGE_BY_ID with the topic field, errors surface).
     */
    public static MessageExt viewMessageByOffsetId(DefaultMQAdminExt admin, String topic, String offsetMsgId)
        throws Exception {
        return admin.getDefaultMQAdminExtImpl().getMqClientInstance().getMQAdminImpl().viewMessage(topic, offsetMsgId);
    }

    /** QUERY_MESSAGE by unique key on every broker of the topic's route (5.x added a leading clusterName; null = no filter). */
    public static QueryResult queryMessageByUniqKey(DefaultMQAdminExt admin, String topic, String uniqKey, int maxNum,
        long begin, long end) throws Exception {
        return admin.queryMessageByUniqKey(null, topic, uniqKey, maxNum, begin, end);
    }

    public static void setBroadcasting(DefaultMQPushConsumer consumer) {
        consumer.setMessageModel(MessageModel.BROADCASTING);
    }

    /** UPDATE_AND_CREATE_SUBSCRIPTIONGROUP with the defaults (SubscriptionGroupConfig moved package in 5.x). */
    public static void createGroup(DefaultMQAdminExt admin, String brokerAddr, String group) throws Exception {
        SubscriptionGroupConfig config = new SubscriptionGroupConfig();
        config.setGroupName(group);
        admin.createAndUpdateSubscriptionGroupConfig(brokerAddr, config);
    }
}
