package rmq.conformance.compat;

import org.apache.rocketmq.client.QueryResult;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.protocol.ResponseCode;
import org.apache.rocketmq.common.protocol.heartbeat.MessageModel;
import org.apache.rocketmq.common.subscription.SubscriptionGroupConfig;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;

/**
 * The few calls whose signature or package differs between the RocketMQ 4.9 and 5.x client lines. This is
 * the 4.9 version (src/client4/java, compiled when rocketmq.version is 4.9.x); src/client5/java has the same
 * class for 5.x. Everything else the tests use compiles against both lines (moved types are only reached
 * through {@code var}).
 */
public final class ClientLine {
    /** 4 or 5: the line of rocketmq-client / rocketmq-tools the tests were compiled against. */
    public static final int LINE = 4;

    public static final int CONSUMER_NOT_ONLINE = ResponseCode.CONSUMER_NOT_ONLINE;

    private ClientLine() {
    }

    /** MQAdminImpl.createTopic(key, newTopic, queueNum): 4.9 has the 3-argument form. */
    public static void createTopic(DefaultMQAdminExt admin, String key, String topic, int queueNum) throws Exception {
        admin.createTopic(key, topic, queueNum);
    }

    /** VIEW_MESSAGE_BY_ID for an offset msg id (4.9: viewMessage(offsetMsgId), no topic on the wire). */
    public static MessageExt viewMessageByOffsetId(DefaultMQAdminExt admin, String topic, String offsetMsgId)
        throws Exception {
        return admin.viewMessage(offsetMsgId);
    }

    /** QUERY_MESSAGE by unique key on every broker of the topic's route. */
    public static QueryResult queryMessageByUniqKey(DefaultMQAdminExt admin, String topic, String uniqKey, int maxNum,
        long begin, long end) throws Exception {
        return admin.queryMessageByUniqKey(topic, uniqKey, maxNum, begin, end);
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
