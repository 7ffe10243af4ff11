package rmq.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.apache.rocketmq.acl.common.AclClientRPCHook;
import org.apache.rocketmq.acl.common.SessionCredentials;
import org.apache.rocketmq.client.consumer.DefaultMQPullConsumer;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.PullResult;
import org.apache.rocketmq.client.consumer.PullStatus;
import org.apache.rocketmq.client.consumer.rebalance.AllocateMessageQueueAveragely;
import org.apache.rocketmq.client.exception.MQBrokerException;
import org.apache.rocketmq.client.exception.MQClientException;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.TopicConfig;
import org.apache.rocketmq.common.constant.PermName;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;
import org.apache.rocketmq.remoting.RPCHook;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;
import org.junit.jupiter.api.Test;
import rmq.conformance.harness.BrokerConfig;
import rmq.conformance.harness.ConfFile;
import rmq.conformance.harness.Servers;

/**
 * ACL 1.0 (issue #12): {@code aclEnable=true}, the rules in {@code <rocketmqHome>/conf/plain_acl.yml} plus
 * {@code conf/acl/extra.yml}, clients signing with {@code AclClientRPCHook} (rocketmq-acl, the same class in
 * 4.9.8 and 5.3.1). The decisions are those of {@code PlainAccessValidator.parse} /
 * {@code PlainPermissionManager.validate} / {@code checkPerm} (4.9.7) and {@code PlainAccessResource.parse} /
 * {@code PlainPermissionManager.validate} / {@code PlainPermissionChecker.check} (5.3.1). The Java servers answer
 * a refusal with SYSTEM_ERROR (1) and the remark {@code org.apache.rocketmq.acl.common.AclException: <text>, <frame>}
 * (the hook's exception through {@code NettyRemotingAbstract.processRequestCommand}); rmq answers NO_PERMISSION
 * (16) with the same text. Every refusal is observed as a response (an exception carrying the code), never as
 * silence; the hot-reload tests poll until the new rule answers.
 */
@BrokerConfig({"aclEnable=true"})
@ConfFile(path = "plain_acl.yml", content = AclTest.PLAIN_ACL)
@ConfFile(path = "acl/extra.yml", content = AclTest.EXTRA_ACL)
class AclTest extends ConformanceBase {

    static final String ADMIN_AK = "aclAdmin";
    static final String ADMIN_SK = "aclAdminSecret1";
    static final String USER_AK = "aclUser";
    static final String USER_SK = "aclUserSecret1";
    static final String PUB_AK = "aclPubOnly";
    static final String PUB_SK = "aclPubOnlySecret";
    static final String SUB_AK = "aclSubOnly";
    static final String SUB_SK = "aclSubOnlySecret";
    static final String NARROW_AK = "aclNarrow";
    static final String NARROW_SK = "aclNarrowSecret";
    static final String RELOAD_AK = "aclReload";
    static final String RELOAD_SK = "aclReloadSecret";
    static final String WHITE_AK = "aclWhite";
    static final String WHITE_SK = "aclWhiteSecret";

    /** Marks the lines the hot-reload tests rewrite (a YAML comment, ignored by every parser). */
    static final String RELOAD_PERM_LINE = "defaultTopicPerm: DENY # reload";
    static final String GLOBAL_WHITE_LINE = "  - 10.10.103.* # global";

    static final String PLAIN_ACL = """
        globalWhiteRemoteAddresses:
          - 10.10.103.* # global
          - 192.168.0.*
        accounts:
          - accessKey: aclAdmin
            secretKey: aclAdminSecret1
            whiteRemoteAddress:
            admin: true
          - accessKey: aclUser
            secretKey: aclUserSecret1
            whiteRemoteAddress:
            admin: false
            defaultTopicPerm: PUB|SUB
            defaultGroupPerm: SUB
            topicPerms:
              - AclDeniedTopic=DENY
            groupPerms:
              - acl_denied_group=DENY
          - accessKey: aclPubOnly
            secretKey: aclPubOnlySecret
            admin: false
            defaultTopicPerm: PUB
            defaultGroupPerm: SUB
          - accessKey: aclSubOnly
            secretKey: aclSubOnlySecret
            admin: false
            defaultTopicPerm: SUB
            defaultGroupPerm: SUB
          - accessKey: aclNarrow
            secretKey: aclNarrowSecret
            admin: false
            defaultTopicPerm: DENY
            defaultGroupPerm: SUB
            topicPerms:
              - AclNarrowTopic=PUB
          - accessKey: aclReload
            secretKey: aclReloadSecret
            admin: false
            defaultTopicPerm: DENY # reload
            defaultGroupPerm: SUB
        """;

    /**
     * A second rule file in conf/acl/ (read since 4.9.3). Its account's whiteRemoteAddress covers the test client:
     * {@code validate} returns before the signature and the permission checks, so even DENY does not stop it.
     */
    static final String EXTRA_ACL = """
        accounts:
          - accessKey: aclWhite
            secretKey: aclWhiteSecret
            whiteRemoteAddress: 127.0.0.1
            admin: false
            defaultTopicPerm: DENY
            defaultGroupPerm: DENY
        """;

    /** How long a rewritten rule file may take to answer (Java polls the files every 5 s, rmq about every 1 s). */
    private static final long RELOAD_DEADLINE_MS = 30_000;

    // ------------------------------------------------------------------ which rules the servers follow

    /**
     * 4 when the broker decides as 4.9.7 does, 5 for 5.3.1. rmq implements the 5.3.1 decisions (4.9.7's plus its
     * fixes), so only target {@code java} is 4. {@code -Drmq.acl.line=} overrides it (tools/fake-rmq).
     */
    private static int aclLine() {
        String forced = System.getProperty("rmq.acl.line", "").trim();
        if (!forced.isEmpty()) {
            return Integer.parseInt(forced);
        }
        return Servers.target().equals("java") ? 4 : 5;
    }

    /**
     * The refusal text for a resource that has its own entry in topicPerms / groupPerms without the needed
     * permission: 4.9.7 {@code PlainPermissionManager.checkPerm} prints "No default permission for" for both
     * branches; 5.3.1 {@code PlainPermissionChecker.check} says "No permission for" for the explicit entry.
     */
    private static String explicitDenial(String resource) {
        return (aclLine() == 4 ? "No default permission for " : "No permission for ") + resource;
    }

    // ------------------------------------------------------------------ clients

    private static RPCHook signed(String accessKey, String secretKey) {
        return new AclClientRPCHook(new SessionCredentials(accessKey, secretKey));
    }

    /** A started producer signing with {@code hook} (null: unsigned). */
    private DefaultMQProducer producer(String group, RPCHook hook) throws Exception {
        DefaultMQProducer producer = new DefaultMQProducer(group, hook);
        producer.setNamesrvAddr(servers().namesrvAddr());
        producer.setInstanceName(uniqueInstance());
        producer.setSendMsgTimeout(10_000);
        // one attempt per send: a refusal is final, and retries only repeat it
        producer.setRetryTimesWhenSendFailed(0);
        producer.start();
        afterTest(producer::shutdown);
        return producer;
    }

    @SuppressWarnings("deprecation")
    private DefaultMQPullConsumer pullConsumer(String group, RPCHook hook) throws Exception {
        DefaultMQPullConsumer consumer = new DefaultMQPullConsumer(group, hook);
        consumer.setNamesrvAddr(servers().namesrvAddr());
        consumer.setInstanceName(uniqueInstance());
        consumer.start();
        afterTest(consumer::shutdown);
        return consumer;
    }

    private DefaultMQPushConsumer pushConsumer(String group, RPCHook hook) {
        DefaultMQPushConsumer consumer = new DefaultMQPushConsumer(group, hook, new AllocateMessageQueueAveragely());
        consumer.setNamesrvAddr(servers().namesrvAddr());
        consumer.setInstanceName(uniqueInstance());
        consumer.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        afterTest(consumer::shutdown);
        return consumer;
    }

    private DefaultMQAdminExt admin(RPCHook hook) throws Exception {
        DefaultMQAdminExt admin = new DefaultMQAdminExt(hook, 10_000);
        admin.setNamesrvAddr(servers().namesrvAddr());
        admin.setInstanceName(uniqueInstance());
        admin.start();
        afterTest(admin::shutdown);
        return admin;
    }

    /** Creates {@code topic} (1 queue each) with the admin account, so that every send below has a route. */
    private void topics(String... topics) throws Exception {
        DefaultMQAdminExt admin = admin(signed(ADMIN_AK, ADMIN_SK));
        for (String topic : topics) {
            createTopic(admin, topic, 1);
        }
    }

    private static Message msg(String topic, String body) {
        return new Message(topic, "TagAcl", body.getBytes(StandardCharsets.UTF_8));
    }

    private static void assertSent(SendResult r) {
        assertEquals(SendStatus.SEND_OK, r.getSendStatus(), r.toString());
    }

    // ------------------------------------------------------------------ refusals

    /**
     * Asserts that {@code t} (or one of its causes) carries the response code of an ACL refusal, 1 (Java) or
     * 16 (rmq), and a remark that contains every one of {@code remarkParts}; and that no remark in the chain
     * gives a secret away.
     */
    private static void assertRefused(Throwable t, String... remarkParts) {
        Integer code = null;
        StringBuilder remarks = new StringBuilder();
        for (Throwable c = t; c != null; c = c.getCause()) {
            int cCode = -1;
            String remark = null;
            if (c instanceof MQBrokerException e) {
                cCode = e.getResponseCode();
                remark = e.getErrorMessage();
            } else if (c instanceof MQClientException e) {
                cCode = e.getResponseCode();
                remark = e.getErrorMessage();
            }
            if (code == null && (cCode == 1 || cCode == 16)) {
                code = cCode;
            }
            if (remark != null) {
                remarks.append(remark).append(" | ");
            }
            if (c.getCause() == c) {
                break;
            }
        }
        String all = remarks.toString();
        if (code == null) {
            fail("expected an ACL refusal (response code 1 or 16) with remark containing " + List.of(remarkParts)
                + ", got " + t, t);
        }
        for (String part : remarkParts) {
            assertTrue(all.contains(part), "remark should contain '" + part + "' (code " + code + "): " + all);
        }
        for (String secret : List.of(ADMIN_SK, USER_SK, PUB_SK, SUB_SK, NARROW_SK, RELOAD_SK, WHITE_SK)) {
            assertFalse(all.contains(secret), "a remark names a secret: " + all);
        }
    }

    private static void assertSendRefused(DefaultMQProducer producer, Message m, String... remarkParts) {
        Exception e = assertThrows(Exception.class, () -> producer.send(m), "send to " + m.getTopic() + " must be refused");
        assertRefused(e, remarkParts);
    }

    // ------------------------------------------------------------------ the right account

    /** Producer, push consumer, pull consumer and admin all work with an account that has the permissions. */
    @Test
    void rightAccountSendsConsumesPullsAndAdministers() throws Exception {
        String topic = "AclUserTopic";
        DefaultMQAdminExt admin = admin(signed(ADMIN_AK, ADMIN_SK));
        // UPDATE_AND_CREATE_TOPIC (17) is an admin code: the admin account may
        admin.createAndUpdateTopicConfig(servers().brokerAddr(),
            new TopicConfig(topic, 2, 2, PermName.PERM_READ | PermName.PERM_WRITE));
        eventually(15_000, () -> {
            var route = admin.examineTopicRouteInfo(topic);
            assertEquals(2, route.getQueueDatas().get(0).getReadQueueNums());
            return null;
        });

        DefaultMQProducer producer = producer("acl_user_producer", signed(USER_AK, USER_SK));
        Set<String> sent = new TreeSet<>();
        for (int i = 0; i < 20; i++) {
            String body = "acl " + i;
            assertSent(producer.send(msg(topic, body)));
            sent.add(body);
        }

        // GET_TOPIC_STATS_INFO (and, from the 5.x tools, GET_TOPIC_CONFIG) with the admin account
        eventually(15_000, () -> {
            var stats = admin.examineTopicStats(topic);
            long total = 0;
            for (var e : stats.getOffsetTable().entrySet()) {
                total += e.getValue().getMaxOffset() - e.getValue().getMinOffset();
            }
            assertEquals(20L, total, "messages in " + topic + ": " + stats.getOffsetTable());
            return null;
        });

        // push consumer: HEART_BEAT (SUB on %RETRY%group and on the topic), GET_CONSUMER_LIST_BY_GROUP, PULL_MESSAGE,
        // UPDATE_CONSUMER_OFFSET
        Received received = new Received();
        DefaultMQPushConsumer push = pushConsumer("acl_user_group", signed(USER_AK, USER_SK));
        push.subscribe(topic, "*");
        push.registerMessageListener(received.listener());
        push.start();
        eventually(60_000, () -> {
            assertEquals(sent, received.distinctBodies());
            return null;
        });

        // pull consumer: PULL_MESSAGE needs SUB on the topic and on %RETRY%<consumerGroup>
        DefaultMQPullConsumer pull = pullConsumer("acl_user_pull_group", signed(USER_AK, USER_SK));
        int pulled = 0;
        for (MessageQueue mq : pull.fetchSubscribeMessageQueues(topic)) {
            PullResult r = pull.pull(mq, "*", 0, 32);
            if (r.getPullStatus() == PullStatus.FOUND) {
                pulled += r.getMsgFoundList().size();
            }
        }
        assertEquals(20, pulled);
    }

    // ------------------------------------------------------------------ authentication

    @Test
    void wrongSecretIsRefused() throws Exception {
        topics("AclAuthTopic");
        DefaultMQProducer producer = producer("acl_wrong_secret_producer", signed(USER_AK, "notTheSecret"));
        assertSendRefused(producer, msg("AclAuthTopic", "wrong secret"), "Check signature failed for accessKey=" + USER_AK);

        DefaultMQPullConsumer pull = pullConsumer("acl_wrong_secret_pull", signed(USER_AK, "notTheSecret"));
        MessageQueue mq = new MessageQueue("AclAuthTopic", servers().brokerName(), 0);
        Exception e = assertThrows(Exception.class, () -> pull.pull(mq, "*", 0, 32));
        assertRefused(e, "Check signature failed for accessKey=" + USER_AK);
    }

    @Test
    void unknownAccessKeyIsRefused() throws Exception {
        topics("AclAuthTopic");
        DefaultMQProducer producer = producer("acl_unknown_producer", signed("aclNobody", "aclNobodySecret"));
        assertSendRefused(producer, msg("AclAuthTopic", "unknown key"), "No acl config for aclNobody");
    }

    @Test
    void unsignedIsRefused() throws Exception {
        topics("AclAuthTopic");
        DefaultMQProducer producer = producer("acl_unsigned_producer", null);
        assertSendRefused(producer, msg("AclAuthTopic", "unsigned"), "No accessKey is configured");

        DefaultMQPullConsumer pull = pullConsumer("acl_unsigned_pull", null);
        MessageQueue mq = new MessageQueue("AclAuthTopic", servers().brokerName(), 0);
        Exception e = assertThrows(Exception.class, () -> pull.pull(mq, "*", 0, 32));
        assertRefused(e, "No accessKey is configured");

        DefaultMQAdminExt admin = admin(null);
        Exception a = assertThrows(Exception.class, () -> admin.createAndUpdateTopicConfig(servers().brokerAddr(),
            new TopicConfig("AclUnsignedTopic", 1, 1, PermName.PERM_READ | PermName.PERM_WRITE)));
        assertRefused(a, "No accessKey is configured");
    }

    /** An account whose whiteRemoteAddress matches the client passes with a wrong secret, and even with DENY. */
    @Test
    void whiteRemoteAddressAccountPassesWithWrongSecret() throws Exception {
        topics("AclWhiteTopic");
        DefaultMQProducer producer = producer("acl_white_producer", signed(WHITE_AK, "notTheSecret"));
        assertSent(producer.send(msg("AclWhiteTopic", "white")));

        DefaultMQPullConsumer pull = pullConsumer("acl_white_pull", signed(WHITE_AK, "notTheSecret"));
        PullResult r = pull.pull(new MessageQueue("AclWhiteTopic", servers().brokerName(), 0), "*", 0, 32);
        assertEquals(PullStatus.FOUND, r.getPullStatus());
    }

    /**
     * A push consumer's own requests with a wrong account: GET_CONSUMER_LIST_BY_GROUP (what its rebalance sends; it
     * needs SUB on %RETRY%<group>) from the started consumer's client is refused for a wrong secret and for a
     * denied group, while the right account's consumer finds itself in its group.
     */
    @Test
    void pushConsumerWithWrongAccountIsRefused() throws Exception {
        String topic = "AclPushTopic";
        topics(topic);
        DefaultMQPushConsumer right = pushConsumer("acl_push_group", signed(USER_AK, USER_SK));
        right.subscribe(topic, "*");
        right.registerMessageListener(new Received().listener());
        right.start();
        var rightApi = right.getDefaultMQPushConsumerImpl().getmQClientFactory().getMQClientAPIImpl();
        eventually(30_000, () -> {
            assertEquals(1, rightApi.getConsumerIdListByGroup(servers().brokerAddr(), "acl_push_group", 10_000).size());
            return null;
        });

        DefaultMQPushConsumer wrong = pushConsumer("acl_push_group", signed(USER_AK, "notTheSecret"));
        wrong.subscribe(topic, "*");
        wrong.registerMessageListener(new Received().listener());
        wrong.start();
        var wrongApi = wrong.getDefaultMQPushConsumerImpl().getmQClientFactory().getMQClientAPIImpl();
        Exception e = assertThrows(Exception.class,
            () -> wrongApi.getConsumerIdListByGroup(servers().brokerAddr(), "acl_push_group", 10_000));
        assertRefused(e, "Check signature failed for accessKey=" + USER_AK);

        DefaultMQPushConsumer denied = pushConsumer("acl_denied_group", signed(USER_AK, USER_SK));
        denied.subscribe(topic, "*");
        denied.registerMessageListener(new Received().listener());
        denied.start();
        var deniedApi = denied.getDefaultMQPushConsumerImpl().getmQClientFactory().getMQClientAPIImpl();
        Exception g = assertThrows(Exception.class,
            () -> deniedApi.getConsumerIdListByGroup(servers().brokerAddr(), "acl_denied_group", 10_000));
        assertRefused(g, explicitDenial("group:acl_denied_group"));
    }

    // ------------------------------------------------------------------ authorization

    @Test
    void pubOnlyAccountCannotPull() throws Exception {
        String topic = "AclPubOnlyTopic";
        topics(topic);
        DefaultMQProducer producer = producer("acl_pub_producer", signed(PUB_AK, PUB_SK));
        assertSent(producer.send(msg(topic, "pub only")));

        DefaultMQPullConsumer pull = pullConsumer("acl_pub_pull", signed(PUB_AK, PUB_SK));
        MessageQueue mq = new MessageQueue(topic, servers().brokerName(), 0);
        Exception e = assertThrows(Exception.class, () -> pull.pull(mq, "*", 0, 32));
        assertRefused(e, "No default permission for topic:" + topic);
    }

    @Test
    void subOnlyAccountCannotSend() throws Exception {
        String topic = "AclSubOnlyTopic";
        topics(topic);
        DefaultMQProducer producer = producer("acl_sub_producer", signed(SUB_AK, SUB_SK));
        assertSendRefused(producer, msg(topic, "sub only"), "No default permission for topic:" + topic);

        // ... and can pull (nothing there yet: NO_NEW_MSG, an answer, not a refusal)
        DefaultMQPullConsumer pull = pullConsumer("acl_sub_pull", signed(SUB_AK, SUB_SK));
        PullResult r = pull.pull(new MessageQueue(topic, servers().brokerName(), 0), "*", 0, 32);
        assertEquals(PullStatus.NO_NEW_MSG, r.getPullStatus());
    }

    /**
     * SEND_BATCH_MESSAGE (320): 5.3.1 {@code PlainAccessResource.parse} checks PUB on the topic as for
     * SEND_MESSAGE_V2; 4.9.7 {@code PlainAccessValidator.parse} has no case for it (signature only), so a SUB-only
     * account's batch is stored.
     */
    @Test
    void batchSendNeedsPub() throws Exception {
        String topic = "AclBatchTopic";
        topics(topic);
        DefaultMQProducer producer = producer("acl_batch_producer", signed(SUB_AK, SUB_SK));
        List<Message> batch = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            batch.add(msg(topic, "batch " + i));
        }
        if (aclLine() == 4) {
            assertSent(producer.send(batch));
        } else {
            Exception e = assertThrows(Exception.class, () -> producer.send(batch));
            assertRefused(e, "No default permission for topic:" + topic);
        }
    }

    /** topicPerms beat defaultTopicPerm: DENY by default, PUB on the one listed topic. */
    @Test
    void topicPermsBeatDefaultTopicPerm() throws Exception {
        topics("AclNarrowTopic", "AclOtherTopic");
        DefaultMQProducer producer = producer("acl_narrow_producer", signed(NARROW_AK, NARROW_SK));
        assertSent(producer.send(msg("AclNarrowTopic", "listed")));
        assertSendRefused(producer, msg("AclOtherTopic", "not listed"), "No default permission for topic:AclOtherTopic");
    }

    /** A DENY entry in topicPerms wins over defaultTopicPerm PUB|SUB, for sending and for pulling. */
    @Test
    void denyWins() throws Exception {
        topics("AclDeniedTopic");
        DefaultMQProducer producer = producer("acl_deny_producer", signed(USER_AK, USER_SK));
        assertSendRefused(producer, msg("AclDeniedTopic", "denied"), explicitDenial("topic:AclDeniedTopic"));

        DefaultMQPullConsumer pull = pullConsumer("acl_deny_pull", signed(USER_AK, USER_SK));
        MessageQueue mq = new MessageQueue("AclDeniedTopic", servers().brokerName(), 0);
        Exception e = assertThrows(Exception.class, () -> pull.pull(mq, "*", 0, 32));
        assertRefused(e, explicitDenial("topic:AclDeniedTopic"));

        // a denied group: PULL_MESSAGE needs SUB on %RETRY%<consumerGroup>
        topics("AclUserPullTopic");
        DefaultMQPullConsumer deniedGroup = pullConsumer("acl_denied_group", signed(USER_AK, USER_SK));
        MessageQueue ok = new MessageQueue("AclUserPullTopic", servers().brokerName(), 0);
        Exception g = assertThrows(Exception.class, () -> deniedGroup.pull(ok, "*", 0, 32));
        assertRefused(g, explicitDenial("group:acl_denied_group"));
    }

    /** UPDATE_AND_CREATE_TOPIC (17) is in Permission.ADMIN_CODE: a non-admin account is refused. */
    @Test
    void nonAdminCannotCreateTopic() throws Exception {
        DefaultMQAdminExt admin = admin(signed(USER_AK, USER_SK));
        Exception e = assertThrows(Exception.class, () -> admin.createAndUpdateTopicConfig(servers().brokerAddr(),
            new TopicConfig("AclNotCreatedTopic", 1, 1, PermName.PERM_READ | PermName.PERM_WRITE)));
        assertRefused(e, "Need admin permission for request code=17, but accessKey=" + USER_AK + " is not");
    }

    /**
     * CONSUMER_SEND_MSG_BACK needs SUB on %RETRY%<group> (both lines): the push consumer's client sends a consumed
     * message back for a group it may use, and is refused for a denied group.
     */
    @Test
    void consumerSendMessageBackNeedsSubOnTheGroup() throws Exception {
        String topic = "AclSendBackTopic";
        topics(topic);
        DefaultMQProducer producer = producer("acl_sendback_producer", signed(USER_AK, USER_SK));
        assertSent(producer.send(msg(topic, "send back")));
        DefaultMQPullConsumer pull = pullConsumer("acl_sendback_pull", signed(USER_AK, USER_SK));
        PullResult r = pull.pull(new MessageQueue(topic, servers().brokerName(), 0), "*", 0, 32);
        assertEquals(PullStatus.FOUND, r.getPullStatus());
        MessageExt m = r.getMsgFoundList().get(0);

        DefaultMQPushConsumer allowed = pushConsumer("acl_sendback_group", signed(USER_AK, USER_SK));
        allowed.subscribe(topic, "*");
        allowed.registerMessageListener(new Received().listener());
        allowed.start();
        var api = allowed.getDefaultMQPushConsumerImpl().getmQClientFactory().getMQClientAPIImpl();
        api.consumerSendMessageBack(servers().brokerAddr(), servers().brokerName(), m, "acl_sendback_group", 0,
            10_000, 16);
        Exception e = assertThrows(Exception.class, () -> api.consumerSendMessageBack(servers().brokerAddr(),
            servers().brokerName(), m, "acl_denied_group", 0, 10_000, 16));
        assertRefused(e, explicitDenial("group:acl_denied_group"));
    }

    /**
     * A send (SEND_MESSAGE_V2) to a retry topic: 5.3.1 checks SUB on that retry topic itself (%RETRY%acl_denied_group,
     * denied); 4.9.7 checks SUB on the retry topic of the producer group in field {@code a} instead
     * (%RETRY%acl_retry_producer, allowed by defaultGroupPerm SUB), so the ACL lets it through.
     */
    @Test
    void sendToRetryTopicNeedsSubOnThatGroup() throws Exception {
        DefaultMQProducer producer = producer("acl_retry_producer", signed(USER_AK, USER_SK));
        Message m = msg("%RETRY%acl_denied_group", "to a retry topic");
        if (aclLine() == 5) {
            assertSendRefused(producer, m, explicitDenial("group:acl_denied_group"));
        } else {
            try {
                producer.send(m);
            } catch (Exception e) {
                StringBuilder all = new StringBuilder();
                for (Throwable c = e; c != null; c = c.getCause()) {
                    all.append(c).append(" | ");
                }
                assertFalse(all.toString().contains("AclException"), "4.9.7 must not refuse by ACL: " + all);
            }
        }
    }

    // ------------------------------------------------------------------ hot reload

    /** plain_acl.yml with {@code from} replaced by {@code to} (which must be there). */
    private static String rewritten(String from, String to) {
        assertTrue(PLAIN_ACL.contains(from), "marker not in PLAIN_ACL: " + from);
        return PLAIN_ACL.replace(from, to);
    }

    /** Granting PUB by rewriting plain_acl.yml takes effect without a restart; revoking it as well. */
    @Test
    void hotReloadGrantsAndRevokes() throws Exception {
        String topic = "AclReloadTopic";
        topics(topic);
        DefaultMQProducer producer = producer("acl_reload_producer", signed(RELOAD_AK, RELOAD_SK));
        assertSendRefused(producer, msg(topic, "before"), "No default permission for topic:" + topic);
        try {
            servers().writeConfFile("plain_acl.yml", rewritten(RELOAD_PERM_LINE, "defaultTopicPerm: PUB # reload"));
            SendResult granted = eventually(RELOAD_DEADLINE_MS, () -> producer.send(msg(topic, "granted")));
            assertSent(granted);

            servers().writeConfFile("plain_acl.yml", PLAIN_ACL);
            eventually(RELOAD_DEADLINE_MS, () -> {
                Exception e = assertThrows(Exception.class, () -> producer.send(msg(topic, "revoked")));
                assertRefused(e, "No default permission for topic:" + topic);
                return null;
            });
        } finally {
            servers().writeConfFile("plain_acl.yml", PLAIN_ACL);
        }
    }

    /**
     * A globalWhiteRemoteAddresses entry covering 127.0.0.1 lets an unsigned producer send (validate returns before
     * looking for an access key). Added by rewriting plain_acl.yml, then removed the same way (and the refusal is
     * back before the test ends, so the other tests see the original rules).
     */
    @Test
    void globalWhiteRemoteAddressLetsUnsignedSend() throws Exception {
        String topic = "AclGlobalWhiteTopic";
        topics(topic);
        DefaultMQProducer producer = producer("acl_global_white_producer", null);
        assertSendRefused(producer, msg(topic, "before"), "No accessKey is configured");
        try {
            servers().writeConfFile("plain_acl.yml", rewritten(GLOBAL_WHITE_LINE, GLOBAL_WHITE_LINE + "\n  - 127.0.0.1"));
            SendResult r = eventually(RELOAD_DEADLINE_MS, () -> producer.send(msg(topic, "white listed")));
            assertSent(r);
            assertNotNull(r.getMsgId());

            servers().writeConfFile("plain_acl.yml", PLAIN_ACL);
            eventually(RELOAD_DEADLINE_MS, () -> {
                Exception e = assertThrows(Exception.class, () -> producer.send(msg(topic, "after")));
                assertRefused(e, "No accessKey is configured");
                return null;
            });
        } finally {
            servers().writeConfFile("plain_acl.yml", PLAIN_ACL);
        }
    }
}
