package rmq.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import apache.rocketmq.v2.ClientType;
import apache.rocketmq.v2.Code;
import apache.rocketmq.v2.FilterType;
import apache.rocketmq.v2.HeartbeatRequest;
import apache.rocketmq.v2.HeartbeatResponse;
import apache.rocketmq.v2.MessagingServiceGrpc;
import apache.rocketmq.v2.Settings;
import apache.rocketmq.v2.Subscription;
import apache.rocketmq.v2.SubscriptionEntry;
import apache.rocketmq.v2.TelemetryCommand;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.apache.rocketmq.acl.common.AclClientRPCHook;
import org.apache.rocketmq.acl.common.SessionCredentials;
import org.apache.rocketmq.client.apis.ClientConfiguration;
import org.apache.rocketmq.client.apis.ClientException;
import org.apache.rocketmq.client.apis.ClientConfigurationBuilder;
import org.apache.rocketmq.client.apis.ClientServiceProvider;
import org.apache.rocketmq.client.apis.StaticSessionCredentialsProvider;
import org.apache.rocketmq.client.apis.consumer.FilterExpression;
import org.apache.rocketmq.client.apis.consumer.SimpleConsumer;
import org.apache.rocketmq.client.apis.message.Message;
import org.apache.rocketmq.client.apis.message.MessageView;
import org.apache.rocketmq.client.apis.producer.Producer;
import org.apache.rocketmq.client.apis.producer.SendReceipt;
import org.apache.rocketmq.client.java.exception.UnauthorizedException;
import org.apache.rocketmq.client.java.misc.ClientId;
import org.apache.rocketmq.client.java.rpc.Signature;
import org.apache.rocketmq.common.TopicConfig;
import org.apache.rocketmq.common.constant.PermName;
import org.apache.rocketmq.remoting.RPCHook;
import org.apache.rocketmq.remoting.protocol.admin.TopicOffset;
import org.apache.rocketmq.remoting.protocol.body.AclInfo;
import org.apache.rocketmq.remoting.protocol.body.AclInfo.PolicyEntryInfo;
import org.apache.rocketmq.remoting.protocol.body.AclInfo.PolicyInfo;
import org.apache.rocketmq.remoting.protocol.body.UserInfo;
import org.apache.rocketmq.shaded.io.grpc.ClientInterceptor;
import org.apache.rocketmq.shaded.io.grpc.ManagedChannel;
import org.apache.rocketmq.shaded.io.grpc.ManagedChannelBuilder;
import org.apache.rocketmq.shaded.io.grpc.Metadata;
import org.apache.rocketmq.shaded.io.grpc.Status;
import org.apache.rocketmq.shaded.io.grpc.StatusRuntimeException;
import org.apache.rocketmq.shaded.io.grpc.stub.MetadataUtils;
import org.apache.rocketmq.shaded.io.grpc.stub.StreamObserver;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import rmq.conformance.harness.BrokerConfig;
import rmq.conformance.harness.Servers;
import rmq.conformance.harness.Standalone;

/**
 * The official RocketMQ 5.x gRPC Java SDK ({@code rocketmq-client-java} 5.0.7) with credentials
 * ({@code ClientConfiguration.newBuilder().setCredentialProvider(new StaticSessionCredentialsProvider(ak, sk))})
 * against the broker's gRPC port with access control on (issues #12 and #14, docs/broker/acl.md section "gRPC"). The
 * SDK signs every call with {@code x-mq-date-time} and {@code authorization: MQv2-HMAC-SHA1 Credential=<ak>,
 * SignedHeaders=x-mq-date-time, Signature=<HmacSHA1 hex>} ({@code rpc/Signature.java}); unsigned when no provider is
 * set.
 *
 * <ul>
 *   <li>ACL 2.0 (the class's broker: {@code authenticationEnabled}, {@code authorizationEnabled}, an init super user
 *       that creates the users and ACLs and the topics through the signed remoting admin, as AclV2Test): a refusal is
 *       {@code UNAUTHORIZED} (40100) in the response status, as the Proxy's authentication / authorization
 *       pipelines answer it; the SDK's {@code StatusChecker} throws {@link UnauthorizedException} with the status
 *       message, {@code [request-id=…, response-code=40100] <Java's text>}. A producer whose start (QueryRoute of
 *       its topics) is refused fails {@code build()} with an {@link IllegalStateException} (Guava's
 *       {@code awaitRunning}) whose causes hold that exception.</li>
 *   <li>ACL 1.0 ({@code aclEnable=true}, {@code plain_acl.yml}; its own server pair, started by the test): a refusal
 *       fails the call with gRPC {@code PERMISSION_DENIED} (Java's {@code AuthenticationInterceptor}), which the SDK
 *       hands on as the (shaded) {@link StatusRuntimeException}.</li>
 * </ul>
 *
 * <p>Only targets with a gRPC endpoint ({@code rmq}); see GrpcProducerTest. No refusal text may contain a secret.
 */
@Standalone
@BrokerConfig({
    "authenticationEnabled=true",
    "authorizationEnabled=true",
    "authenticationProvider=org.apache.rocketmq.auth.authentication.provider.DefaultAuthenticationProvider",
    "authenticationMetadataProvider=org.apache.rocketmq.auth.authentication.provider.LocalAuthenticationMetadataProvider",
    "authorizationProvider=org.apache.rocketmq.auth.authorization.provider.DefaultAuthorizationProvider",
    "authorizationMetadataProvider=org.apache.rocketmq.auth.authorization.provider.LocalAuthorizationMetadataProvider",
    "initAuthenticationUser={\"username\":\"grpcRoot\",\"password\":\"grpcRootPw1\"}",
    "innerClientAuthenticationCredentials={\"accessKey\":\"grpcRoot\",\"secretKey\":\"grpcRootPw1\"}",
})
class GrpcAclTest extends ConformanceBase {
    static final ClientServiceProvider PROVIDER = ClientServiceProvider.loadService();

    static final String SUPER_USER = "grpcRoot";
    static final String SUPER_PASSWORD = "grpcRootPw1";

    /** Every secret this class hands out; no refusal text may contain one. */
    private static final Set<String> SECRETS = Collections.synchronizedSet(new TreeSet<>(List.of(SUPER_PASSWORD)));

    /** Per test (not @BeforeAll), so that surefire reports each test as skipped rather than none run. */
    @BeforeEach
    void needsGrpc() throws Exception {
        assumeTrue(servers().grpcEndpoint() != null, "target " + servers().targetName()
            + " serves no gRPC (the Java oracles need the 5.x Proxy, which is not on Maven Central)");
    }

    // ------------------------------------------------------------------ gRPC clients

    /** Plaintext h2c to {@code endpoint}, signed as {@code accessKey} / {@code secret} ({@code null}: unsigned). */
    private static ClientConfiguration grpcConfig(String endpoint, String accessKey, String secret) {
        ClientConfigurationBuilder b = ClientConfiguration.newBuilder()
            .setEndpoints(endpoint)
            .enableSsl(false)
            .setRequestTimeout(Duration.ofSeconds(5));
        if (accessKey != null) {
            b.setCredentialProvider(new StaticSessionCredentialsProvider(accessKey, secret));
        }
        return b.build();
    }

    /** A started gRPC producer (one attempt per send: a refusal is final); the caller closes it. */
    private static Producer grpcProducer(ClientConfiguration config, String... topics) throws ClientException {
        return PROVIDER.newProducerBuilder()
            .setClientConfiguration(config)
            .setTopics(topics)
            .setMaxAttempts(1)
            .build();
    }

    private static SimpleConsumer simpleConsumer(ClientConfiguration config, String group, String topic)
        throws Exception {
        return PROVIDER.newSimpleConsumerBuilder()
            .setClientConfiguration(config)
            .setConsumerGroup(group)
            .setSubscriptionExpressions(Collections.singletonMap(topic, FilterExpression.SUB_ALL))
            .setAwaitDuration(Duration.ofSeconds(2))
            .build();
    }

    private static Message message(String topic, String body) {
        return PROVIDER.newMessageBuilder()
            .setTopic(topic)
            .setTag("GrpcAcl")
            .setBody(body.getBytes(StandardCharsets.UTF_8))
            .build();
    }

    private static String body(MessageView m) {
        return StandardCharsets.UTF_8.decode(m.getBody().duplicate()).toString();
    }

    /** Receives until {@code bodies} have all arrived (each once), for at most {@code millis}. */
    private static Map<String, MessageView> receiveAll(SimpleConsumer consumer, Set<String> bodies, long millis)
        throws Exception {
        Map<String, MessageView> got = new TreeMap<>();
        long deadline = System.currentTimeMillis() + millis;
        while (got.size() < bodies.size() && System.currentTimeMillis() < deadline) {
            for (MessageView m : consumer.receive(16, Duration.ofSeconds(30))) {
                assertTrue(bodies.contains(body(m)), "unexpected message " + body(m));
                assertTrue(got.put(body(m), m) == null, "received twice: " + body(m));
            }
        }
        assertEquals(bodies, got.keySet(), "received within " + millis + " ms");
        return got;
    }

    // ------------------------------------------------------------------ remoting admin

    private static RPCHook signed(String accessKey, String secretKey) {
        return new AclClientRPCHook(new SessionCredentials(accessKey, secretKey));
    }

    private DefaultMQAdminExt admin(String namesrvAddr, RPCHook hook) throws Exception {
        DefaultMQAdminExt admin = new DefaultMQAdminExt(hook, 10_000);
        admin.setNamesrvAddr(namesrvAddr);
        admin.setInstanceName(uniqueInstance());
        admin.start();
        afterTest(admin::shutdown);
        return admin;
    }

    /** The ACL 2.0 super user's admin client on the class's servers. */
    private DefaultMQAdminExt superAdmin() throws Exception {
        return admin(servers().namesrvAddr(), signed(SUPER_USER, SUPER_PASSWORD));
    }

    /** A NORMAL topic of one queue on {@code brokerAddr}, then waits for its route on the name server. */
    private static void normalTopic(DefaultMQAdminExt admin, String brokerAddr, String topic) throws Exception {
        TopicConfig tc = new TopicConfig(topic, 1, 1, PermName.PERM_READ | PermName.PERM_WRITE);
        tc.setAttributes(Map.of("+message.type", "NORMAL"));
        admin.createAndUpdateTopicConfig(brokerAddr, tc);
        eventually(15_000, () -> {
            var r = admin.examineTopicRouteInfo(topic);
            if (r == null || r.getQueueDatas().isEmpty()) {
                throw new AssertionError("route of " + topic + " not yet visible: " + r);
            }
            return null;
        });
    }

    /** An ACL 2.0 normal user with one Custom policy holding {@code entries} (AUTH_CREATE_USER, AUTH_CREATE_ACL). */
    private static void normalUser(DefaultMQAdminExt admin, String username, String password,
                                   PolicyEntryInfo... entries) throws Exception {
        SECRETS.add(password);
        admin.createUser(servers().brokerAddr(), UserInfo.of(username, password, "Normal"));
        PolicyInfo policy = new PolicyInfo();
        policy.setPolicyType("Custom");
        policy.setEntries(new ArrayList<>(List.of(entries)));
        AclInfo acl = new AclInfo();
        acl.setSubject("User:" + username);
        acl.setPolicies(new ArrayList<>(List.of(policy)));
        admin.createAcl(servers().brokerAddr(), acl);
    }

    private static PolicyEntryInfo allow(String resource, String... actions) {
        return PolicyEntryInfo.of(resource, List.of(actions), null, "Allow");
    }

    private static long storedIn(DefaultMQAdminExt admin, String topic) throws Exception {
        long sum = 0;
        for (TopicOffset o : admin.examineTopicStats(topic).getOffsetTable().values()) {
            sum += o.getMaxOffset();
        }
        return sum;
    }

    /** The topic's max offsets add up to {@code expected} (waited for: the consume queue follows the commit log). */
    private static void assertStored(DefaultMQAdminExt admin, String topic, long expected) throws Exception {
        eventually(10_000, () -> {
            assertEquals(expected, storedIn(admin, topic), "messages stored in " + topic);
            return null;
        });
    }

    // ------------------------------------------------------------------ refusals

    private static <T extends Throwable> T causeOf(Throwable t, Class<T> type) {
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (type.isInstance(c)) {
                return type.cast(c);
            }
        }
        return null;
    }

    private static void assertNoSecret(String text) {
        synchronized (SECRETS) {
            for (String secret : SECRETS) {
                assertFalse(text != null && text.contains(secret), "a refusal names a secret: " + text);
            }
        }
    }

    /** ACL 2.0: an {@link UnauthorizedException} (40100) among the causes, its message holding {@code parts}. */
    private static UnauthorizedException assertUnauthorized(Throwable t, String... parts) {
        UnauthorizedException u = causeOf(t, UnauthorizedException.class);
        if (u == null) {
            fail("expected an UnauthorizedException (UNAUTHORIZED 40100) among the causes of " + t, t);
        }
        assertTrue(u.getMessage().contains("response-code=40100"), "UNAUTHORIZED: " + u.getMessage());
        for (String part : parts) {
            assertTrue(u.getMessage().contains(part), "the status message should contain '" + part + "': "
                + u.getMessage());
        }
        assertNoSecret(u.getMessage());
        return u;
    }

    /** Producer {@code build()} refused at its QueryRoute: Guava's IllegalStateException around the refusal. */
    private static Throwable assertStartRefused(ClientConfiguration config, String topic) {
        Throwable e = assertThrows(Throwable.class, () -> {
            try (Producer p = grpcProducer(config, topic)) {
                fail("the producer of " + topic + " started: " + p);
            }
        });
        assertTrue(e instanceof IllegalStateException, "thrown by build() (awaitRunning): " + e);
        return e;
    }

    /**
     * ACL 1.0: a gRPC PERMISSION_DENIED among the causes. Java's AuthenticationInterceptor sends no description; if
     * there is one, it must not name a secret and should say why ({@code reasonParts}).
     */
    private static void assertPermissionDenied(Throwable t, String... reasonParts) {
        StatusRuntimeException s = causeOf(t, StatusRuntimeException.class);
        if (s == null) {
            fail("expected a gRPC StatusRuntimeException (PERMISSION_DENIED) among the causes of " + t, t);
        }
        assertEquals(Status.Code.PERMISSION_DENIED, s.getStatus().getCode(), s.toString());
        String description = s.getStatus().getDescription();
        assertNoSecret(description);
        if (description != null) {
            for (String part : reasonParts) {
                assertTrue(description.contains(part), "the description should contain '" + part + "': "
                    + description);
            }
        }
    }

    // ------------------------------------------------------------------ ACL 2.0

    /**
     * A user allowed Pub + Sub on the topic and Sub on the group: its gRPC producer starts (QueryRoute, Telemetry
     * Settings) and sends, its SimpleConsumer (QueryRoute, Settings, Heartbeat, ReceiveMessage) receives every message
     * and acks it (AckMessage).
     */
    @Test
    void acl2UserWithPubAndSubSendsReceivesAndAcks() throws Exception {
        String topic = "GrpcAcl2Topic";
        String group = "grpc_acl2_group";
        String user = "grpcAcl2User";
        String password = "grpcAcl2UserPw";
        DefaultMQAdminExt admin = superAdmin();
        normalTopic(admin, servers().brokerAddr(), topic);
        normalUser(admin, user, password,
            allow("Topic:" + topic, "Pub", "Sub"),
            allow("Group:" + group, "Sub"));

        ClientConfiguration config = grpcConfig(servers().grpcEndpoint(), user, password);
        Set<String> bodies = new TreeSet<>();
        try (SimpleConsumer consumer = simpleConsumer(config, group, topic)) {
            try (Producer producer = grpcProducer(config, topic)) {
                for (int i = 0; i < 3; i++) {
                    String b = "acl2-" + i;
                    SendReceipt receipt = producer.send(message(topic, b));
                    assertNotNull(receipt.getMessageId(), b);
                    bodies.add(b);
                }
            }
            Map<String, MessageView> got = receiveAll(consumer, bodies, 20_000);
            for (MessageView m : got.values()) {
                assertEquals(topic, m.getTopic());
                consumer.ack(m);
            }
        }
        assertStored(admin, topic, 3);
    }

    /**
     * Refused authentication: the user's name with a wrong password ({@code check signature failed.}), an unknown
     * user ({@code User:X is not found.}), no credentials at all ({@code username cannot be null.}; the SDK then sends
     * no authorization header). Each fails the producer's start when it names the topic (QueryRoute), and its send
     * when it does not; nothing is stored. The right password then sends.
     */
    @Test
    void acl2WrongPasswordUnknownUserAndUnsignedAreRefused() throws Exception {
        String topic = "GrpcAcl2AuthTopic";
        String user = "grpcAcl2Pub";
        String password = "grpcAcl2PubPw";
        DefaultMQAdminExt admin = superAdmin();
        normalTopic(admin, servers().brokerAddr(), topic);
        normalUser(admin, user, password, allow("Topic:" + topic, "Pub"));
        String endpoint = servers().grpcEndpoint();

        ClientConfiguration wrongPassword = grpcConfig(endpoint, user, "notThePassword1");
        ClientConfiguration unknownUser = grpcConfig(endpoint, "grpcAcl2Nobody", password);
        ClientConfiguration unsigned = grpcConfig(endpoint, null, null);
        List<Map.Entry<ClientConfiguration, String>> cases = List.of(
            Map.entry(wrongPassword, "check signature failed."),
            Map.entry(unknownUser, "User:grpcAcl2Nobody is not found."),
            Map.entry(unsigned, "username cannot be null."));
        for (Map.Entry<ClientConfiguration, String> c : cases) {
            assertUnauthorized(assertStartRefused(c.getKey(), topic), c.getValue());
            try (Producer producer = grpcProducer(c.getKey())) {
                Exception e = assertThrows(Exception.class, () -> producer.send(message(topic, "refused")),
                    "send refused: " + c.getValue());
                assertUnauthorized(e, c.getValue());
            }
        }
        assertEquals(0, storedIn(admin, topic), "nothing stored by the refused producers");

        try (Producer producer = grpcProducer(grpcConfig(endpoint, user, password), topic)) {
            assertNotNull(producer.send(message(topic, "acl2-auth-ok")).getMessageId());
        }
        assertStored(admin, topic, 1);
    }

    /**
     * Refused authorization on the group: a user with Sub on the topic but no entry for the group.
     *
     * <ul>
     *   <li>Its SimpleConsumer does not start. QueryRoute passes (Pub or Sub on the topic), but the Telemetry
     *       Settings of a consumer need Sub on the group and its topics (the Proxy's
     *       {@code DefaultAuthorizationContextBuilder}): the broker answers one command carrying
     *       {@code UNAUTHORIZED} and ends the stream, as the Proxy's {@code ResponseWriter.write} does. The 5.0.7 SDK
     *       logs that command as unrecognized, does not renew the stream while starting, and its settings future
     *       times out (3 s + the request timeout, {@code ClientSessionImpl}): {@code build()} fails with an
     *       {@link IllegalStateException} caused by a {@link CancellationException}, with no status of its own.</li>
     *   <li>So the refusal itself is checked with the SDK's own gRPC stack (its generated {@code MessagingServiceGrpc}
     *       stub, its shaded grpc-java, its {@code Signature.sign} headers): that Telemetry Settings answer and end,
     *       and a consumer's Heartbeat for the group, {@code User:U has no permission to access Group:G from <ip>,
     *       no matched policies.}; the permitted user's Settings are answered with settings, and its Heartbeat passes
     *       authorization (then, from a client id without Settings, UNRECOGNIZED_CLIENT_TYPE as the Proxy's
     *       {@code ClientActivity.heartbeat} answers).</li>
     *   <li>The message waiting in the topic is not taken: the permitted user's consumer of the group receives it.</li>
     * </ul>
     */
    @Test
    void acl2UserWithoutSubOnTheGroupCannotConsume() throws Exception {
        String topic = "GrpcAcl2GroupTopic";
        String group = "grpc_acl2_group_only";
        String reader = "grpcAcl2Reader";
        String readerPassword = "grpcAcl2ReaderPw";
        String noGroup = "grpcAcl2NoGroup";
        String noGroupPassword = "grpcAcl2NoGroupPw";
        DefaultMQAdminExt admin = superAdmin();
        normalTopic(admin, servers().brokerAddr(), topic);
        normalUser(admin, reader, readerPassword,
            allow("Topic:" + topic, "Pub", "Sub"),
            allow("Group:" + group, "Sub"));
        normalUser(admin, noGroup, noGroupPassword, allow("Topic:" + topic, "Sub"));
        String endpoint = servers().grpcEndpoint();
        ClientConfiguration readerConfig = grpcConfig(endpoint, reader, readerPassword);
        ClientConfiguration noGroupConfig = grpcConfig(endpoint, noGroup, noGroupPassword);
        String refusal = "User:" + noGroup + " has no permission to access Group:" + group + " from 127.0.0.1, "
            + "no matched policies.";

        try (Producer producer = grpcProducer(readerConfig, topic)) {
            assertNotNull(producer.send(message(topic, "acl2-group-0")).getMessageId());
        }

        // the SDK: start fails once its settings time out (request timeout 1 s: 3 s + 1 s)
        ClientConfiguration noGroupQuick = ClientConfiguration.newBuilder()
            .setEndpoints(endpoint)
            .enableSsl(false)
            .setRequestTimeout(Duration.ofSeconds(1))
            .setCredentialProvider(new StaticSessionCredentialsProvider(noGroup, noGroupPassword))
            .build();
        long t0 = System.currentTimeMillis();
        Throwable e = assertThrows(Throwable.class, () -> {
            try (SimpleConsumer c = simpleConsumer(noGroupQuick, group, topic)) {
                fail("the SimpleConsumer of " + noGroup + " for " + group + " started: " + c);
            }
        });
        long took = System.currentTimeMillis() - t0;
        assertTrue(e instanceof IllegalStateException, "thrown by build() (awaitRunning): " + e);
        assertNotNull(causeOf(e, CancellationException.class),
            "the settings future timed out (no Settings answer), causes of " + e);
        assertTrue(took < 15_000, "refused start took " + took + " ms");

        // the refusal on the wire, through the SDK's own stub and signature
        TelemetryCommand answer = telemetrySettings(endpoint, noGroupConfig, group, topic, true);
        assertEquals(Code.UNAUTHORIZED, answer.getStatus().getCode(), answer.toString());
        assertEquals(refusal, answer.getStatus().getMessage());
        assertFalse(answer.hasSettings(), "a refusal carries no settings: " + answer);
        HeartbeatResponse heartbeat = heartbeat(endpoint, noGroupConfig, group);
        assertEquals(Code.UNAUTHORIZED, heartbeat.getStatus().getCode(), heartbeat.toString());
        assertEquals(refusal, heartbeat.getStatus().getMessage());
        assertNoSecret(heartbeat.getStatus().getMessage());

        TelemetryCommand settings = telemetrySettings(endpoint, readerConfig, group, topic, false);
        assertTrue(settings.hasSettings(), "the permitted user's Settings are answered with settings: " + settings);
        // authorized; then, as this client id has sent no Settings, what the Proxy's ClientActivity.heartbeat answers
        HeartbeatResponse readerHeartbeat = heartbeat(endpoint, readerConfig, group);
        assertEquals(Code.UNRECOGNIZED_CLIENT_TYPE, readerHeartbeat.getStatus().getCode(), readerHeartbeat.toString());

        try (SimpleConsumer consumer = simpleConsumer(readerConfig, group, topic)) {
            for (MessageView m : receiveAll(consumer, Set.of("acl2-group-0"), 20_000).values()) {
                consumer.ack(m);
            }
        }
    }

    /**
     * Refused authorization on the topic: a user allowed Pub on one topic and only Sub on another. Its producer
     * (started with the first topic) sends there; a send to the second passes QueryRoute (Sub is enough) and is
     * refused by SendMessage, {@code User:U has no permission to access Topic:T2 from <ip>, no matched policies.}
     * (the SDK syncs no new Settings for a route on a broker it already talks to). Nothing is stored in the second.
     */
    @Test
    void acl2SendToATopicWithoutPubIsRefused() throws Exception {
        String pubTopic = "GrpcAcl2PubTopic";
        String subTopic = "GrpcAcl2SubOnlyTopic";
        String user = "grpcAcl2Mixed";
        String password = "grpcAcl2MixedPw";
        DefaultMQAdminExt admin = superAdmin();
        normalTopic(admin, servers().brokerAddr(), pubTopic);
        normalTopic(admin, servers().brokerAddr(), subTopic);
        normalUser(admin, user, password, allow("Topic:" + pubTopic, "Pub"), allow("Topic:" + subTopic, "Sub"));

        try (Producer producer = grpcProducer(grpcConfig(servers().grpcEndpoint(), user, password), pubTopic)) {
            assertNotNull(producer.send(message(pubTopic, "acl2-pub-ok")).getMessageId());
            Exception e = assertThrows(Exception.class, () -> producer.send(message(subTopic, "refused")),
                "send to " + subTopic + " without Pub");
            assertUnauthorized(e, "User:" + user + " has no permission to access Topic:" + subTopic
                + " from 127.0.0.1, no matched policies.");
        }
        assertStored(admin, pubTopic, 1);
        assertEquals(0, storedIn(admin, subTopic), "nothing stored in " + subTopic);
    }

    // ------------------------------------------------------------------ the SDK's own gRPC stack

    /** A call through the SDK's generated stub on a plaintext channel, with the SDK's signed headers for config. */
    private static <T> T withChannel(String endpoint, ClientConfiguration config,
                                     java.util.function.Function<ManagedChannel, T> call) throws Exception {
        ManagedChannel channel = ManagedChannelBuilder.forTarget(endpoint).usePlaintext().build();
        try {
            return call.apply(channel);
        } finally {
            channel.shutdownNow();
            channel.awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    private static ClientInterceptor signedHeaders(ClientConfiguration config) {
        try {
            Metadata headers = Signature.sign(config, new ClientId());
            return MetadataUtils.newAttachHeadersInterceptor(headers);
        } catch (Exception e) {
            throw new IllegalStateException("Signature.sign", e);
        }
    }

    private static apache.rocketmq.v2.Resource resource(String name) {
        return apache.rocketmq.v2.Resource.newBuilder().setName(name).build();
    }

    /** A SIMPLE_CONSUMER's Heartbeat for {@code group}. */
    private static HeartbeatResponse heartbeat(String endpoint, ClientConfiguration config, String group)
        throws Exception {
        return withChannel(endpoint, config, channel -> MessagingServiceGrpc.newBlockingStub(channel)
            .withInterceptors(signedHeaders(config))
            .withDeadlineAfter(5, TimeUnit.SECONDS)
            .heartbeat(HeartbeatRequest.newBuilder()
                .setGroup(resource(group))
                .setClientType(ClientType.SIMPLE_CONSUMER)
                .build()));
    }

    /**
     * Opens a Telemetry stream, writes a SIMPLE_CONSUMER's Settings for {@code group} / {@code topic} and returns the
     * first command the server answers. With {@code expectEnd}, also waits for the server to end the stream after it
     * (and fails if a second command comes); otherwise the client ends it.
     */
    private static TelemetryCommand telemetrySettings(String endpoint, ClientConfiguration config, String group,
                                                      String topic, boolean expectEnd) throws Exception {
        return withChannel(endpoint, config, channel -> {
            List<TelemetryCommand> got = new CopyOnWriteArrayList<>();
            CompletableFuture<TelemetryCommand> first = new CompletableFuture<>();
            CompletableFuture<Void> ended = new CompletableFuture<>();
            StreamObserver<TelemetryCommand> requests = MessagingServiceGrpc.newStub(channel)
                .withInterceptors(signedHeaders(config))
                .telemetry(new StreamObserver<>() {
                    @Override
                    public void onNext(TelemetryCommand command) {
                        got.add(command);
                        first.complete(command);
                    }

                    @Override
                    public void onError(Throwable t) {
                        first.completeExceptionally(t);
                        ended.completeExceptionally(t);
                    }

                    @Override
                    public void onCompleted() {
                        first.completeExceptionally(new AssertionError("the stream ended without a command"));
                        ended.complete(null);
                    }
                });
            requests.onNext(TelemetryCommand.newBuilder()
                .setSettings(Settings.newBuilder()
                    .setClientType(ClientType.SIMPLE_CONSUMER)
                    .setRequestTimeout(org.apache.rocketmq.shaded.com.google.protobuf.Duration.newBuilder().setSeconds(5))
                    .setSubscription(Subscription.newBuilder()
                        .setGroup(resource(group))
                        .addSubscriptions(SubscriptionEntry.newBuilder()
                            .setTopic(resource(topic))
                            .setExpression(apache.rocketmq.v2.FilterExpression.newBuilder()
                                .setType(FilterType.TAG)
                                .setExpression("*")))
                        .setLongPollingTimeout(org.apache.rocketmq.shaded.com.google.protobuf.Duration.newBuilder().setSeconds(2))))
                .build());
            try {
                TelemetryCommand answer = first.get(10, TimeUnit.SECONDS);
                if (expectEnd) {
                    ended.get(10, TimeUnit.SECONDS);
                    assertEquals(1, got.size(), "one command, then the end of the stream: " + got);
                } else {
                    requests.onCompleted();
                }
                return answer;
            } catch (Exception e) {
                throw new AssertionError("Telemetry Settings of " + group + ": " + e + ", commands " + got, e);
            }
        });
    }

    // ------------------------------------------------------------------ ACL 1.0

    static final String ACL1_ADMIN_AK = "grpcAcl1Admin";
    static final String ACL1_ADMIN_SK = "grpcAcl1AdminSecret";
    static final String ACL1_PUB_AK = "grpcAcl1Pub";
    static final String ACL1_PUB_SK = "grpcAcl1PubSecret";

    static final String ACL1_TOPIC = "GrpcAcl1Topic";
    static final String ACL1_OTHER_TOPIC = "GrpcAcl1OtherTopic";

    /** An admin account (creates the topics) and one allowed PUB on {@link #ACL1_TOPIC} only. */
    static final String PLAIN_ACL = """
        accounts:
          - accessKey: grpcAcl1Admin
            secretKey: grpcAcl1AdminSecret
            admin: true
          - accessKey: grpcAcl1Pub
            secretKey: grpcAcl1PubSecret
            admin: false
            defaultTopicPerm: DENY
            defaultGroupPerm: SUB
            topicPerms:
              - GrpcAcl1Topic=PUB
        """;

    /**
     * ACL 1.0 on its own server pair ({@code aclEnable=true}, {@code conf/plain_acl.yml}): the account with PUB on the
     * topic starts a gRPC producer and sends (stored, counted by the admin account); a wrong secret fails the start
     * and the send with PERMISSION_DENIED, an unknown account and an unsigned client are refused as well, and the
     * right account sending to a topic outside its {@code topicPerms} is refused. Nothing refused is stored.
     */
    @Test
    void acl1AccountWithPubSendsAndWrongSecretIsRefused() throws Exception {
        SECRETS.add(ACL1_ADMIN_SK);
        SECRETS.add(ACL1_PUB_SK);
        try (Servers acl1 = Servers.start("GrpcAclTest-acl1", Map.of("aclEnable", "true"),
            Map.of("plain_acl.yml", PLAIN_ACL))) {
            try {
                acl1Checks(acl1);
            } catch (Throwable t) {
                System.err.println("[rmq-conformance] ACL 1.0 servers of GrpcAclTest: " + acl1.describe());
                throw t;
            }
        }
    }

    private void acl1Checks(Servers acl1) throws Exception {
        DefaultMQAdminExt admin = admin(acl1.namesrvAddr(), signed(ACL1_ADMIN_AK, ACL1_ADMIN_SK));
        normalTopic(admin, acl1.brokerAddr(), ACL1_TOPIC);
        normalTopic(admin, acl1.brokerAddr(), ACL1_OTHER_TOPIC);
        String endpoint = acl1.grpcEndpoint();
        assertNotNull(endpoint, "the ACL 1.0 broker's gRPC port");

        try (Producer producer = grpcProducer(grpcConfig(endpoint, ACL1_PUB_AK, ACL1_PUB_SK), ACL1_TOPIC)) {
            assertNotNull(producer.send(message(ACL1_TOPIC, "acl1-ok")).getMessageId());
            // the account may not publish elsewhere: the send's QueryRoute of the other topic is refused
            Exception e = assertThrows(Exception.class, () -> producer.send(message(ACL1_OTHER_TOPIC, "refused")),
                "send to " + ACL1_OTHER_TOPIC + " outside the account's topicPerms");
            assertPermissionDenied(e, ACL1_OTHER_TOPIC);
        }

        ClientConfiguration wrongSecret = grpcConfig(endpoint, ACL1_PUB_AK, "notTheSecret1");
        assertPermissionDenied(assertStartRefused(wrongSecret, ACL1_TOPIC),
            "Check signature failed for accessKey=" + ACL1_PUB_AK);
        try (Producer producer = grpcProducer(wrongSecret)) {
            Exception e = assertThrows(Exception.class, () -> producer.send(message(ACL1_TOPIC, "refused")),
                "send with a wrong secret");
            assertPermissionDenied(e, "Check signature failed for accessKey=" + ACL1_PUB_AK);
        }
        assertPermissionDenied(assertStartRefused(grpcConfig(endpoint, "grpcAcl1Nobody", ACL1_PUB_SK), ACL1_TOPIC),
            "No acl config for grpcAcl1Nobody");
        assertPermissionDenied(assertStartRefused(grpcConfig(endpoint, null, null), ACL1_TOPIC),
            "No accessKey is configured");

        assertStored(admin, ACL1_TOPIC, 1);
        assertEquals(0, storedIn(admin, ACL1_OTHER_TOPIC), "nothing stored in " + ACL1_OTHER_TOPIC);
    }
}
