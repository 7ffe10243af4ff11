package rmq.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.apache.rocketmq.acl.common.AclClientRPCHook;
import org.apache.rocketmq.acl.common.SessionCredentials;
import org.apache.rocketmq.client.consumer.DefaultLitePullConsumer;
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
import org.apache.rocketmq.remoting.protocol.body.AclInfo;
import org.apache.rocketmq.remoting.protocol.body.AclInfo.PolicyEntryInfo;
import org.apache.rocketmq.remoting.protocol.body.AclInfo.PolicyInfo;
import org.apache.rocketmq.remoting.protocol.body.UserInfo;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;
import org.junit.jupiter.api.Test;
import rmq.conformance.harness.BrokerConfig;
import rmq.conformance.harness.Servers;

/**
 * ACL 2.0 (issue #12, RocketMQ 5.3 users and policies) on the 5.3.1 client: {@code authenticationEnabled} and
 * {@code authorizationEnabled} with the init super user {@code rocketmq}; the super user manages users and ACLs
 * through {@code DefaultMQAdminExt} (AUTH_* codes 3001-3010), normal users are authenticated by the
 * {@code AclClientRPCHook} signature (Java {@code DefaultAuthenticationHandler}) and authorized per request
 * ({@code DefaultAuthorizationContextBuilder}, {@code UserAuthorizationHandler}, {@code AclAuthorizationHandler}).
 * Both the 5.3.1 broker ({@code AuthenticationPipeline} / {@code AuthorizationPipeline}) and rmq answer a refusal
 * with NO_PERMISSION (16) and the exception's message as remark; every refusal is observed as that answer.
 *
 * <p>The name server stays open (5.1.4 has no ACL 2.0; rmq's neither): the broker registers with it signed by
 * {@code innerClientAuthenticationCredentials}, which it ignores. The provider class names are what the 5.3.1
 * broker needs (without a metadata provider every request is refused "The authenticationMetadataProvider is not
 * configured"); rmq accepts and ignores them.
 */
@BrokerConfig({
    "authenticationEnabled=true",
    "authorizationEnabled=true",
    "authenticationProvider=org.apache.rocketmq.auth.authentication.provider.DefaultAuthenticationProvider",
    "authenticationMetadataProvider=org.apache.rocketmq.auth.authentication.provider.LocalAuthenticationMetadataProvider",
    "authorizationProvider=org.apache.rocketmq.auth.authorization.provider.DefaultAuthorizationProvider",
    "authorizationMetadataProvider=org.apache.rocketmq.auth.authorization.provider.LocalAuthorizationMetadataProvider",
    "initAuthenticationUser={\"username\":\"rocketmq\",\"password\":\"12345678\"}",
    "innerClientAuthenticationCredentials={\"accessKey\":\"rocketmq\",\"secretKey\":\"12345678\"}",
})
class AclV2Test extends ConformanceBase {

    static final String SUPER_USER = "rocketmq";
    static final String SUPER_PASSWORD = "12345678";

    /** Every password this class hands out; no remark may contain one. */
    private static final Set<String> SECRETS = new TreeSet<>(List.of(SUPER_PASSWORD));

    // ------------------------------------------------------------------ clients

    private static RPCHook signed(String user, String password) {
        return new AclClientRPCHook(new SessionCredentials(user, password));
    }

    private static RPCHook superUser() {
        return signed(SUPER_USER, SUPER_PASSWORD);
    }

    private DefaultMQAdminExt admin(RPCHook hook) throws Exception {
        DefaultMQAdminExt admin = new DefaultMQAdminExt(hook, 10_000);
        admin.setNamesrvAddr(servers().namesrvAddr());
        admin.setInstanceName(uniqueInstance());
        admin.start();
        afterTest(admin::shutdown);
        return admin;
    }

    /** A started producer signing with {@code hook} (null: unsigned), one attempt per send. */
    private DefaultMQProducer producer(String group, RPCHook hook) throws Exception {
        DefaultMQProducer producer = new DefaultMQProducer(group, hook);
        producer.setNamesrvAddr(servers().namesrvAddr());
        producer.setInstanceName(uniqueInstance());
        producer.setSendMsgTimeout(10_000);
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

    /** Creates the topics (1 queue each) as the super user (UPDATE_AND_CREATE_TOPIC needs Topic Create). */
    private void topics(String... topics) throws Exception {
        DefaultMQAdminExt admin = admin(superUser());
        for (String topic : topics) {
            createTopic(admin, topic, 1);
        }
    }

    /** A normal user with {@code entries} as its custom policy (AUTH_CREATE_USER, then AUTH_CREATE_ACL). */
    private void normalUser(String username, String password, PolicyEntryInfo... entries) throws Exception {
        DefaultMQAdminExt admin = admin(superUser());
        admin.createUser(servers().brokerAddr(), UserInfo.of(username, password, "Normal"));
        SECRETS.add(password);
        if (entries.length > 0) {
            admin.createAcl(servers().brokerAddr(), acl(username, entries));
        }
    }

    private static PolicyEntryInfo allow(String resource, String... actions) {
        return PolicyEntryInfo.of(resource, List.of(actions), null, "Allow");
    }

    private static PolicyEntryInfo deny(String resource, String... actions) {
        return PolicyEntryInfo.of(resource, List.of(actions), null, "Deny");
    }

    /** {@code User:<username>} with one Custom policy holding {@code entries} in this order. */
    private static AclInfo acl(String username, PolicyEntryInfo... entries) {
        PolicyInfo policy = new PolicyInfo();
        policy.setPolicyType("Custom");
        policy.setEntries(new ArrayList<>(List.of(entries)));
        AclInfo acl = new AclInfo();
        acl.setSubject("User:" + username);
        acl.setPolicies(new ArrayList<>(List.of(policy)));
        return acl;
    }

    private static Message msg(String topic, String body) {
        return new Message(topic, "TagAclV2", body.getBytes(StandardCharsets.UTF_8));
    }

    private static void assertSent(SendResult r) {
        assertEquals(SendStatus.SEND_OK, r.getSendStatus(), r.toString());
    }

    // ------------------------------------------------------------------ refusals

    /**
     * Asserts that {@code t} (or a cause) carries NO_PERMISSION (16), that the remarks contain every one of
     * {@code remarkParts}, and that no remark names a password.
     */
    private static void assertRefused(Throwable t, String... remarkParts) {
        boolean noPermission = false;
        List<Integer> codes = new ArrayList<>();
        StringBuilder remarks = new StringBuilder();
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            int code = -1;
            String remark = null;
            if (c instanceof MQBrokerException e) {
                code = e.getResponseCode();
                remark = e.getErrorMessage();
            } else if (c instanceof MQClientException e) {
                code = e.getResponseCode();
                remark = e.getErrorMessage();
            }
            codes.add(code);
            noPermission |= code == 16;
            if (remark != null) {
                remarks.append(remark).append(" | ");
            }
        }
        String all = remarks.toString();
        if (!noPermission) {
            fail("expected NO_PERMISSION (16) with remark containing " + List.of(remarkParts) + ", got codes " + codes
                + ": " + t, t);
        }
        for (String part : remarkParts) {
            assertTrue(all.contains(part), "remark should contain '" + part + "': " + all);
        }
        for (String secret : SECRETS) {
            assertFalse(all.contains(secret), "a remark names a password: " + all);
        }
    }

    private static void assertSendRefused(DefaultMQProducer producer, Message m, String... remarkParts) {
        Exception e = assertThrows(Exception.class, () -> producer.send(m), "send to " + m.getTopic() + " must be refused");
        assertRefused(e, remarkParts);
    }

    /** Java's AclAuthorizationHandler.throwException text, up to the detail. */
    private static String noPermission(String username, String resourceKey) {
        return "User:" + username + " has no permission to access " + resourceKey + " from ";
    }

    // ------------------------------------------------------------------ user and ACL management

    /**
     * The super user creates a user and its ACL, reads both back (AUTH_GET_USER, AUTH_LIST_USER, AUTH_GET_ACL,
     * AUTH_LIST_ACL), updates the ACL (an entry for an existing resource is replaced, a new one appended), deletes
     * one entry and then the whole ACL, and deletes the user.
     */
    @Test
    void superUserManagesUsersAndAcls() throws Exception {
        String user = "aclv2Manager";
        String password = "aclv2ManagerPw";
        String addr = servers().brokerAddr();
        DefaultMQAdminExt admin = admin(superUser());
        admin.createUser(addr, UserInfo.of(user, password, "Normal"));
        SECRETS.add(password);

        UserInfo got = admin.getUser(addr, user);
        assertNotNull(got, "getUser " + user);
        assertEquals(user, got.getUsername());
        assertEquals(password, got.getPassword(), "AUTH_GET_USER returns the password (Java UserConverter)");
        assertEquals("Normal", got.getUserType());
        assertEquals("enable", got.getUserStatus());

        Map<String, String> typeByName = admin.listUser(addr, null).stream()
            .collect(Collectors.toMap(UserInfo::getUsername, UserInfo::getUserType));
        assertEquals("Super", typeByName.get(SUPER_USER), "the init user is a super user: " + typeByName);
        assertEquals("Normal", typeByName.get(user), typeByName.toString());
        List<String> filtered = admin.listUser(addr, "aclv2Mana").stream().map(UserInfo::getUsername).toList();
        assertEquals(List.of(user), filtered, "listUser filter is a substring of the name");

        admin.createAcl(addr, acl(user, allow("Topic:AclV2ManagedTopic", "Pub"), allow("Group:AclV2ManagedGroup", "Sub")));
        AclInfo acl = admin.getAcl(addr, "User:" + user);
        assertNotNull(acl, "getAcl User:" + user);
        assertEquals("User:" + user, acl.getSubject());
        assertEquals(Map.of("Topic:AclV2ManagedTopic", "Allow [Pub]", "Group:AclV2ManagedGroup", "Allow [Sub]"),
            entries(acl, "Custom"));

        List<AclInfo> listed = admin.listAcl(addr, "User:" + user, null);
        assertEquals(1, listed.size(), "listAcl by subject: " + listed.size());
        assertEquals(entries(acl, "Custom"), entries(listed.get(0), "Custom"));

        // updateAcl merges by resource: the topic entry gets Pub and Sub, a new topic entry is appended
        admin.updateAcl(addr, acl(user, allow("Topic:AclV2ManagedTopic", "Pub", "Sub"), deny("Topic:AclV2OtherTopic", "Pub")));
        assertEquals(Map.of("Topic:AclV2ManagedTopic", "Allow [Pub, Sub]", "Group:AclV2ManagedGroup", "Allow [Sub]",
            "Topic:AclV2OtherTopic", "Deny [Pub]"), entries(admin.getAcl(addr, "User:" + user), "Custom"));

        // deleteAcl with a resource removes that entry (of the Custom policy)
        admin.deleteAcl(addr, "User:" + user, "Topic:AclV2OtherTopic");
        assertEquals(Map.of("Topic:AclV2ManagedTopic", "Allow [Pub, Sub]", "Group:AclV2ManagedGroup", "Allow [Sub]"),
            entries(admin.getAcl(addr, "User:" + user), "Custom"));

        // ... and without one the whole ACL
        admin.deleteAcl(addr, "User:" + user, null);
        assertNull(admin.getAcl(addr, "User:" + user), "getAcl after deleteAcl answers SUCCESS without a body");
        // an empty result is SUCCESS without a body, which the client decodes as null
        assertNull(admin.listAcl(addr, "User:" + user, null), "listAcl with nothing to list");

        admin.deleteUser(addr, user);
        assertNull(admin.getUser(addr, user), "getUser after deleteUser answers SUCCESS without a body");
        assertFalse(admin.listUser(addr, null).stream().anyMatch(u -> u.getUsername().equals(user)));
    }

    /** resource -> "Decision [actions]" of the policy of that type. */
    private static Map<String, String> entries(AclInfo acl, String policyType) {
        assertNotNull(acl);
        Map<String, String> out = new TreeMap<>();
        for (PolicyInfo p : acl.getPolicies()) {
            if (policyType.equals(p.getPolicyType())) {
                for (PolicyEntryInfo e : p.getEntries()) {
                    out.put(e.getResource(), e.getDecision() + " " + e.getActions());
                }
            }
        }
        return new TreeMap<>(out);
    }

    /**
     * AUTH_UPDATE_USER: rmq applies the new password and status. The 5.3.1 broker answers SUCCESS and changes
     * nothing: {@code AdminBrokerProcessor.updateUser} hands the stored user ({@code old}), not the request's, to
     * {@code AuthenticationMetadataManager.updateUser}. The test follows the target (5.x oracle: unchanged).
     */
    @Test
    void updateUserChangesPasswordAndStatus() throws Exception {
        String user = "aclv2Updated";
        String oldPassword = "aclv2UpdatedPw1";
        String newPassword = "aclv2UpdatedPw2";
        String topic = "AclV2UpdatedTopic";
        topics(topic);
        normalUser(user, oldPassword, allow("Topic:" + topic, "Pub"));
        SECRETS.add(newPassword);
        String addr = servers().brokerAddr();
        DefaultMQAdminExt admin = admin(superUser());

        admin.updateUser(addr, UserInfo.of(user, newPassword, null));
        UserInfo got = admin.getUser(addr, user);
        boolean javaIgnoresUpdate = Servers.serverLine() == 5;
        assertEquals(javaIgnoresUpdate ? oldPassword : newPassword, got.getPassword());
        String current = got.getPassword();
        String stale = javaIgnoresUpdate ? newPassword : oldPassword;
        assertSent(producer("aclv2_updated_producer", signed(user, current)).send(msg(topic, "current password")));
        assertSendRefused(producer("aclv2_updated_stale", signed(user, stale)), msg(topic, "stale password"),
            "check signature failed.");

        admin.updateUser(addr, UserInfo.of(user, null, null, "disable"));
        got = admin.getUser(addr, user);
        assertEquals(javaIgnoresUpdate ? "enable" : "disable", got.getUserStatus());
        DefaultMQProducer after = producer("aclv2_updated_after", signed(user, current));
        if (javaIgnoresUpdate) {
            assertSent(after.send(msg(topic, "still enabled")));
        } else {
            assertSendRefused(after, msg(topic, "disabled"), "User:" + user + " is disabled.");
        }
    }

    // ------------------------------------------------------------------ authentication

    /**
     * Wrong password, unknown user, no signature: DefaultAuthenticationHandler refuses each before anything else
     * (send and pull).
     */
    @Test
    void authenticationFailuresAreRefused() throws Exception {
        String user = "aclv2Auth";
        String topic = "AclV2AuthTopic";
        topics(topic);
        normalUser(user, "aclv2AuthPw", allow("Topic:" + topic, "Pub", "Sub"), allow("Group:aclv2_auth_group", "Sub"));

        assertSendRefused(producer("aclv2_wrong_pw", signed(user, "notThePassword")), msg(topic, "wrong password"),
            "check signature failed.");
        assertSendRefused(producer("aclv2_unknown", signed("aclv2Nobody", "aclv2NobodyPw")), msg(topic, "unknown"),
            "User:aclv2Nobody is not found.");
        assertSendRefused(producer("aclv2_unsigned", null), msg(topic, "unsigned"), "username cannot be null.");

        MessageQueue mq = new MessageQueue(topic, servers().brokerName(), 0);
        DefaultMQPullConsumer wrong = pullConsumer("aclv2_auth_group", signed(user, "notThePassword"));
        assertRefused(assertThrows(Exception.class, () -> wrong.pull(mq, "*", 0, 32)), "check signature failed.");
        DefaultMQPullConsumer unsigned = pullConsumer("aclv2_auth_group", null);
        assertRefused(assertThrows(Exception.class, () -> unsigned.pull(mq, "*", 0, 32)), "username cannot be null.");
        // DefaultMQAdminExt with a wrong password, and unsigned: even the super user's name does not help
        DefaultMQAdminExt wrongAdmin = admin(signed(SUPER_USER, "notThePassword"));
        assertRefused(assertThrows(Exception.class, () -> wrongAdmin.getUser(servers().brokerAddr(), user)),
            "check signature failed.");
        DefaultMQAdminExt unsignedAdmin = admin(null);
        assertRefused(assertThrows(Exception.class, () -> unsignedAdmin.listUser(servers().brokerAddr(), null)),
            "username cannot be null.");
        // the right password on the same queue: an answer, not a refusal
        DefaultMQPullConsumer right = pullConsumer("aclv2_auth_group", signed(user, "aclv2AuthPw"));
        assertEquals(PullStatus.NO_NEW_MSG, right.pull(mq, "*", 0, 32).getPullStatus());
    }

    /** A user created disabled (UserInfo userStatus "disable") is refused with the right password. */
    @Test
    void disabledUserIsRefused() throws Exception {
        String user = "aclv2Disabled";
        String password = "aclv2DisabledPw";
        String topic = "AclV2DisabledTopic";
        topics(topic);
        DefaultMQAdminExt admin = admin(superUser());
        admin.createUser(servers().brokerAddr(), UserInfo.of(user, password, "Normal", "disable"));
        SECRETS.add(password);
        admin.createAcl(servers().brokerAddr(), acl(user, allow("Topic:" + topic, "Pub")));
        assertEquals("disable", admin.getUser(servers().brokerAddr(), user).getUserStatus());

        assertSendRefused(producer("aclv2_disabled_producer", signed(user, password)), msg(topic, "disabled"),
            "User:" + user + " is disabled.");
    }

    // ------------------------------------------------------------------ authorization

    /** {@code Topic:T Pub Allow}: sends to T, refused on another topic ("no matched policies."). */
    @Test
    void publisherSendsOnlyToItsTopic() throws Exception {
        String user = "aclv2Pub";
        topics("AclV2PubTopic", "AclV2NotPubTopic");
        normalUser(user, "aclv2PubPw", allow("Topic:AclV2PubTopic", "Pub"));
        DefaultMQProducer producer = producer("aclv2_pub_producer", signed(user, "aclv2PubPw"));
        for (int i = 0; i < 5; i++) {
            assertSent(producer.send(msg("AclV2PubTopic", "pub " + i)));
        }
        assertSendRefused(producer, msg("AclV2NotPubTopic", "elsewhere"),
            noPermission(user, "Topic:AclV2NotPubTopic"), "no matched policies.");

        // Pub does not give Sub: pulling the topic it may send to is refused
        DefaultMQPullConsumer pull = pullConsumer("aclv2_pub_group", signed(user, "aclv2PubPw"));
        MessageQueue mq = new MessageQueue("AclV2PubTopic", servers().brokerName(), 0);
        assertRefused(assertThrows(Exception.class, () -> pull.pull(mq, "*", 0, 32)),
            noPermission(user, "Topic:AclV2PubTopic"), "no matched policies.");
    }

    /**
     * {@code Topic:T Sub} + {@code Group:G Sub}: a push consumer of G receives everything the super user sent, a
     * DefaultMQPullConsumer and a DefaultLitePullConsumer of their groups get it too; pulling another topic or
     * with a group the user has no entry for is refused.
     */
    @Test
    void subscriberConsumesAndPulls() throws Exception {
        String user = "aclv2Sub";
        String password = "aclv2SubPw";
        String topic = "AclV2SubTopic";
        topics(topic, "AclV2NotSubTopic");
        normalUser(user, password, allow("Topic:" + topic, "Sub"), allow("Group:aclv2_push_group", "Sub"),
            allow("Group:aclv2_pull_group", "Sub"), allow("Group:aclv2_lite_group", "Sub"));

        DefaultMQProducer producer = producer("aclv2_sub_source", superUser());
        Set<String> sent = new TreeSet<>();
        for (int i = 0; i < 10; i++) {
            String body = "sub " + i;
            assertSent(producer.send(msg(topic, body)));
            sent.add(body);
        }
        // the subscriber may not send
        assertSendRefused(producer("aclv2_sub_producer", signed(user, password)), msg(topic, "no pub"),
            noPermission(user, "Topic:" + topic), "no matched policies.");

        // push: HEART_BEAT (Sub on the group and the topic), GET_CONSUMER_LIST_BY_GROUP, QUERY_CONSUMER_OFFSET,
        // PULL_MESSAGE, UPDATE_CONSUMER_OFFSET
        Received received = new Received();
        DefaultMQPushConsumer push = pushConsumer("aclv2_push_group", signed(user, password));
        push.subscribe(topic, "*");
        push.registerMessageListener(received.listener());
        push.start();
        eventually(60_000, () -> {
            assertEquals(sent, received.distinctBodies());
            return null;
        });

        // pull: PULL_MESSAGE needs Sub on the topic and on the group
        DefaultMQPullConsumer pull = pullConsumer("aclv2_pull_group", signed(user, password));
        MessageQueue mq = new MessageQueue(topic, servers().brokerName(), 0);
        PullResult r = pull.pull(mq, "*", 0, 32);
        assertEquals(PullStatus.FOUND, r.getPullStatus());
        assertEquals(sent, r.getMsgFoundList().stream().map(m -> new String(m.getBody(), StandardCharsets.UTF_8))
            .collect(Collectors.toCollection(TreeSet::new)));
        MessageQueue other = new MessageQueue("AclV2NotSubTopic", servers().brokerName(), 0);
        assertRefused(assertThrows(Exception.class, () -> pull.pull(other, "*", 0, 32)),
            noPermission(user, "Topic:AclV2NotSubTopic"), "no matched policies.");
        DefaultMQPullConsumer strangerGroup = pullConsumer("aclv2_stranger_group", signed(user, password));
        assertRefused(assertThrows(Exception.class, () -> strangerGroup.pull(mq, "*", 0, 32)),
            noPermission(user, "Group:aclv2_stranger_group"), "no matched policies.");

        // a started push consumer of a group without an entry: what its rebalance sends (GET_CONSUMER_LIST_BY_GROUP,
        // Sub on the group) is refused, while the permitted consumer's client finds itself in its group
        var pushApi = push.getDefaultMQPushConsumerImpl().getmQClientFactory().getMQClientAPIImpl();
        assertEquals(1, pushApi.getConsumerIdListByGroup(servers().brokerAddr(), "aclv2_push_group", 10_000).size());
        DefaultMQPushConsumer stranger = pushConsumer("aclv2_stranger_push", signed(user, password));
        stranger.subscribe(topic, "*");
        stranger.registerMessageListener(new Received().listener());
        stranger.start();
        var strangerApi = stranger.getDefaultMQPushConsumerImpl().getmQClientFactory().getMQClientAPIImpl();
        assertRefused(assertThrows(Exception.class,
                () -> strangerApi.getConsumerIdListByGroup(servers().brokerAddr(), "aclv2_stranger_push", 10_000)),
            noPermission(user, "Group:aclv2_stranger_push"), "no matched policies.");

        // lite pull (subscribe): LITE_PULL_MESSAGE, QUERY_CONSUMER_OFFSET, HEART_BEAT
        DefaultLitePullConsumer lite = new DefaultLitePullConsumer("aclv2_lite_group", signed(user, password));
        lite.setNamesrvAddr(servers().namesrvAddr());
        lite.setInstanceName(uniqueInstance());
        lite.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        lite.subscribe(topic, "*");
        lite.start();
        afterTest(lite::shutdown);
        Set<String> polled = new TreeSet<>();
        eventually(60_000, () -> {
            for (MessageExt m : lite.poll(1_000)) {
                polled.add(new String(m.getBody(), StandardCharsets.UTF_8));
            }
            assertEquals(sent, polled);
            return null;
        });
    }

    /**
     * {@code Topic:AclV2Pfx* Pub Deny} then {@code Topic:AclV2PfxOpen Pub Allow}: the literal entry is more specific
     * and lets its topic through; another topic under the prefix is refused by the Deny ("the decision is deny."),
     * a topic outside it by no entry. (The entries are given prefixed first: with one literal and one prefixed
     * match, 5.3.1's comparator returns -1 whatever the order, so its sort puts the later entry first; in this
     * order it agrees with the most-specific rule rmq applies.)
     */
    @Test
    void literalAllowBeatsPrefixedDeny() throws Exception {
        String user = "aclv2Prefix";
        String password = "aclv2PrefixPw";
        topics("AclV2PfxOpen", "AclV2PfxClosed", "AclV2Unprefixed");
        normalUser(user, password, deny("Topic:AclV2Pfx*", "Pub"), allow("Topic:AclV2PfxOpen", "Pub"));
        DefaultMQProducer producer = producer("aclv2_prefix_producer", signed(user, password));
        assertSent(producer.send(msg("AclV2PfxOpen", "literal allow")));
        assertSendRefused(producer, msg("AclV2PfxClosed", "prefixed deny"),
            noPermission(user, "Topic:AclV2PfxClosed"), "the decision is deny.");
        assertSendRefused(producer, msg("AclV2Unprefixed", "no entry"),
            noPermission(user, "Topic:AclV2Unprefixed"), "no matched policies.");
    }

    /**
     * sourceIps (CIDR): an entry applies only to clients inside them. {@code 10.0.0.0/8} does not cover the test
     * client (127.0.0.1), so its Allow matches nothing; {@code 127.0.0.0/8} does.
     */
    @Test
    void sourceIpsLimitAnEntry() throws Exception {
        String user = "aclv2Ips";
        String password = "aclv2IpsPw";
        topics("AclV2LocalTopic", "AclV2RemoteTopic");
        normalUser(user, password,
            PolicyEntryInfo.of("Topic:AclV2LocalTopic", List.of("Pub"), List.of("127.0.0.0/8"), "Allow"),
            PolicyEntryInfo.of("Topic:AclV2RemoteTopic", List.of("Pub"), List.of("10.0.0.0/8"), "Allow"));
        DefaultMQProducer producer = producer("aclv2_ips_producer", signed(user, password));
        assertSent(producer.send(msg("AclV2LocalTopic", "from 127.0.0.1")));
        assertSendRefused(producer, msg("AclV2RemoteTopic", "not from 10/8"),
            noPermission(user, "Topic:AclV2RemoteTopic") + "127.0.0.1", "no matched policies.");
        assertEquals(List.of("127.0.0.0/8"), admin(superUser()).getAcl(servers().brokerAddr(), "User:" + user)
            .getPolicies().get(0).getEntries().get(0).getSourceIps());
    }

    /**
     * A normal user may not manage users or create topics: AUTH_CREATE_USER needs Update on the broker's cluster,
     * UPDATE_AND_CREATE_TOPIC needs Create on the topic. The super user may (UserAuthorizationHandler skips the
     * policies for super users).
     */
    @Test
    void normalUserCannotAdminister() throws Exception {
        String user = "aclv2Plain";
        String password = "aclv2PlainPw";
        normalUser(user, password, allow("Topic:AclV2PlainTopic", "Pub", "Sub"));
        DefaultMQAdminExt admin = admin(signed(user, password));
        Exception e = assertThrows(Exception.class,
            () -> admin.createUser(servers().brokerAddr(), UserInfo.of("aclv2Sneaky", "aclv2SneakyPw", "Normal")));
        assertRefused(e, noPermission(user, "Cluster:" + Servers.CLUSTER), "no matched policies.");
        Exception t = assertThrows(Exception.class, () -> admin.createAndUpdateTopicConfig(servers().brokerAddr(),
            new TopicConfig("AclV2PlainTopic", 1, 1, PermName.PERM_READ | PermName.PERM_WRITE)));
        assertRefused(t, noPermission(user, "Topic:AclV2PlainTopic"), "no matched policies.");

        DefaultMQAdminExt root = admin(superUser());
        assertNull(root.getUser(servers().brokerAddr(), "aclv2Sneaky"), "the refused createUser created nothing");
        root.createAndUpdateTopicConfig(servers().brokerAddr(),
            new TopicConfig("AclV2PlainTopic", 1, 1, PermName.PERM_READ | PermName.PERM_WRITE));
    }
}
