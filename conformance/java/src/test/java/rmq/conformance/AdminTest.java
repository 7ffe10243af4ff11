package rmq.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Set;
import org.apache.rocketmq.common.TopicConfig;
import org.apache.rocketmq.common.constant.PermName;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;
import org.junit.jupiter.api.Test;
import rmq.conformance.compat.ClientLine;
import rmq.conformance.harness.Servers;

/** DefaultMQAdminExt against namesrv + broker: topic creation, routes, cluster info, topic list. */
class AdminTest extends ConformanceBase {

    private static final int RW = PermName.PERM_READ | PermName.PERM_WRITE;

    private void assertSixQueueRoute(DefaultMQAdminExt admin, String topic) throws Exception {
        // var: TopicRouteData & co. moved from common.protocol (4.9) to remoting.protocol (5.x)
        var route = eventually(10_000, () -> {
            var r = admin.examineTopicRouteInfo(topic);
            assertNotNull(r, "route of " + topic);
            assertEquals(1, r.getQueueDatas().size(), "one QueueData: " + r);
            assertEquals(6, r.getQueueDatas().get(0).getWriteQueueNums(), "write queues: " + r);
            return r;
        });
        var qd = route.getQueueDatas().get(0);
        assertEquals(servers().brokerName(), qd.getBrokerName());
        assertEquals(Servers.BROKER_NAME, qd.getBrokerName());
        assertEquals(6, qd.getReadQueueNums());
        assertEquals(6, qd.getWriteQueueNums());
        assertEquals(RW, qd.getPerm());

        assertEquals(1, route.getBrokerDatas().size(), "one BrokerData: " + route);
        var bd = route.getBrokerDatas().get(0);
        assertEquals(Servers.CLUSTER, bd.getCluster());
        assertEquals(Servers.BROKER_NAME, bd.getBrokerName());
        assertEquals(servers().brokerAddr(), bd.getBrokerAddrs().get(0L), "master address: " + bd);
    }

    @Test
    void createAndUpdateTopicConfigThenRoute() throws Exception {
        String topic = "AdminCreatedTopic";
        DefaultMQAdminExt admin = startAdmin();
        TopicConfig tc = new TopicConfig(topic, 6, 6, RW);
        admin.createAndUpdateTopicConfig(servers().brokerAddr(), tc);
        assertSixQueueRoute(admin, topic);
    }

    @Test
    void createTopicViaDefaultTopicRoute() throws Exception {
        // MQAdminImpl.createTopic: route of the key topic (TBW102), then UPDATE_AND_CREATE_TOPIC to each master.
        String topic = "AdminCreatedTopic2";
        DefaultMQAdminExt admin = startAdmin();
        ClientLine.createTopic(admin, "TBW102", topic, 6);
        assertSixQueueRoute(admin, topic);
    }

    @Test
    void examineBrokerClusterInfo() throws Exception {
        DefaultMQAdminExt admin = startAdmin();
        var ci = admin.examineBrokerClusterInfo();
        assertNotNull(ci);
        Set<String> brokers = ci.getClusterAddrTable().get(Servers.CLUSTER);
        assertNotNull(brokers, "cluster " + Servers.CLUSTER + " in " + ci.getClusterAddrTable());
        assertEquals(Set.of(Servers.BROKER_NAME), brokers);
        var bd = ci.getBrokerAddrTable().get(Servers.BROKER_NAME);
        assertNotNull(bd, "broker-a in brokerAddrTable " + ci.getBrokerAddrTable());
        assertEquals(Servers.CLUSTER, bd.getCluster());
        assertEquals(Servers.BROKER_NAME, bd.getBrokerName());
        assertEquals(servers().brokerAddr(), bd.getBrokerAddrs().get(0L));
        assertEquals(1, bd.getBrokerAddrs().size(), "only the master: " + bd.getBrokerAddrs());
    }

    @Test
    void fetchAllTopicListContainsCreatedTopic() throws Exception {
        String topic = "AdminListedTopic";
        DefaultMQAdminExt admin = startAdmin();
        admin.createAndUpdateTopicConfig(servers().brokerAddr(), new TopicConfig(topic, 6, 6, RW));
        var list = eventually(10_000, () -> {
            var l = admin.fetchAllTopicList();
            assertTrue(l.getTopicList().contains(topic), topic + " in " + l.getTopicList());
            return l;
        });
        // autoCreateTopicEnable=true: the broker registers the default topic TBW102 and its cluster/broker-name topics.
        assertTrue(list.getTopicList().contains("TBW102"), "TBW102 in " + list.getTopicList());
        assertTrue(list.getTopicList().contains(Servers.CLUSTER), "cluster topic in " + list.getTopicList());
        assertTrue(list.getTopicList().contains(Servers.BROKER_NAME), "broker-name topic in " + list.getTopicList());
    }
}
