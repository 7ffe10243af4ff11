package rmq.conformance;

import io.netty.channel.ChannelHandlerContext;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.apache.rocketmq.remoting.CommandCustomHeader;
import org.apache.rocketmq.remoting.netty.NettyClientConfig;
import org.apache.rocketmq.remoting.netty.NettyRemotingClient;
import org.apache.rocketmq.remoting.netty.NettyRemotingServer;
import org.apache.rocketmq.remoting.netty.NettyRequestProcessor;
import org.apache.rocketmq.remoting.netty.NettyServerConfig;
import org.apache.rocketmq.remoting.protocol.RemotingCommand;
import org.apache.rocketmq.remoting.protocol.RequestCode;
import org.apache.rocketmq.remoting.protocol.header.namesrv.BrokerHeartbeatRequestHeader;

/**
 * A broker of controller mode played with raw remoting (rocketmq-remoting 5.3.1): its own client (so its own
 * channel to the controller: the controller ties liveness to the channel its heartbeats arrive on), and a small
 * {@link NettyRemotingServer} on 127.0.0.1 whose address is the broker's {@code brokerAddress}, recording every
 * NOTIFY_BROKER_ROLE_CHANGED (1008) the controller sends to it.
 */
final class FakeBroker implements AutoCloseable {
    /** One request the fake broker's server received. */
    record Received(long atMillis, RemotingCommand command) {
    }

    final String label;
    final String controllerAddr;
    private final NettyRemotingServer server;
    private final ExecutorService serverExecutor = Executors.newSingleThreadExecutor();
    private final List<Received> received = new CopyOnWriteArrayList<>();
    private final ScheduledExecutorService heartbeats = Executors.newSingleThreadScheduledExecutor();
    private NettyRemotingClient client;
    private ScheduledFuture<?> heartbeatTask;
    private volatile String lastHeartbeatError;
    final String addr;

    FakeBroker(String label, String controllerAddr) {
        this.label = label;
        this.controllerAddr = controllerAddr;
        NettyServerConfig sc = new NettyServerConfig();
        sc.setBindAddress("127.0.0.1");
        sc.setListenPort(0);
        server = new NettyRemotingServer(sc);
        NettyRequestProcessor recorder = new NettyRequestProcessor() {
            @Override
            public RemotingCommand processRequest(ChannelHandlerContext ctx, RemotingCommand request) {
                received.add(new Received(System.currentTimeMillis(), request));
                if (request.isOnewayRPC()) {
                    return null;
                }
                return RemotingCommand.createResponseCommand(0, null);
            }

            @Override
            public boolean rejectRequest() {
                return false;
            }
        };
        server.registerDefaultProcessor(recorder, serverExecutor);
        server.start();
        addr = "127.0.0.1:" + server.localListenPort();
        client = newClient();
    }

    private static NettyRemotingClient newClient() {
        NettyRemotingClient c = new NettyRemotingClient(new NettyClientConfig());
        c.start();
        return c;
    }

    /** A request to the controller over this broker's own channel; the response (never null). */
    RemotingCommand call(int code, CommandCustomHeader header, byte[] body) throws Exception {
        RemotingCommand request = RemotingCommand.createRequestCommand(code, header);
        if (body != null) {
            request.setBody(body);
        }
        RemotingCommand response = client.invokeSync(controllerAddr, request, 10_000);
        if (response == null) {
            throw new AssertionError(label + ": no response to request code " + code);
        }
        return response;
    }

    /** A oneway request to the controller over this broker's channel. */
    void oneway(int code, CommandCustomHeader header) throws Exception {
        client.invokeOneway(controllerAddr, RemotingCommand.createRequestCommand(code, header), 3_000);
    }

    static BrokerHeartbeatRequestHeader heartbeat(String cluster, String brokerName, String brokerAddr, Long brokerId,
                                                  long timeoutMillis, int epoch, long maxOffset) {
        BrokerHeartbeatRequestHeader h = new BrokerHeartbeatRequestHeader();
        h.setClusterName(cluster);
        h.setBrokerName(brokerName);
        h.setBrokerAddr(brokerAddr);
        h.setBrokerId(brokerId);
        h.setHeartbeatTimeoutMills(timeoutMillis);
        h.setEpoch(epoch);
        h.setMaxOffset(maxOffset);
        h.setConfirmOffset(maxOffset);
        return h;
    }

    /** BROKER_HEARTBEAT (904, oneway, as a broker sends it) every {@code periodMillis} until {@link #stopHeartbeats}. */
    synchronized void startHeartbeats(String cluster, String brokerName, long brokerId, long timeoutMillis, int epoch,
                                      long maxOffset, long periodMillis) {
        stopHeartbeats();
        BrokerHeartbeatRequestHeader h = heartbeat(cluster, brokerName, addr, brokerId, timeoutMillis, epoch, maxOffset);
        heartbeatTask = heartbeats.scheduleAtFixedRate(() -> {
            try {
                oneway(RequestCode.BROKER_HEARTBEAT, h);
                lastHeartbeatError = null;
            } catch (Exception e) {
                lastHeartbeatError = e.toString();
            }
        }, 0, periodMillis, TimeUnit.MILLISECONDS);
    }

    synchronized void stopHeartbeats() {
        if (heartbeatTask != null) {
            heartbeatTask.cancel(false);
            heartbeatTask = null;
        }
    }

    String lastHeartbeatError() {
        return lastHeartbeatError;
    }

    /**
     * Closes this broker's connection to the controller (the client and its channel); a later {@link #call} opens
     * a new one.
     */
    synchronized void closeChannel() {
        stopHeartbeats();
        client.shutdown();
        client = newClient();
    }

    /** Every NOTIFY_BROKER_ROLE_CHANGED received so far. */
    List<Received> notifies() {
        List<Received> out = new ArrayList<>();
        for (Received r : received) {
            if (r.command().getCode() == RequestCode.NOTIFY_BROKER_ROLE_CHANGED) {
                out.add(r);
            }
        }
        return out;
    }

    /** Every request received so far (codes and ext fields), for messages. */
    String describeReceived() {
        StringBuilder sb = new StringBuilder(label + " (" + addr + ") received " + received.size() + " request(s):");
        for (Received r : received) {
            Map<String, String> ext = r.command().getExtFields();
            sb.append("\n  code=").append(r.command().getCode()).append(" oneway=").append(r.command().isOnewayRPC())
                .append(" ext=").append(ext).append(" body=")
                .append(r.command().getBody() == null ? "null" : new String(r.command().getBody()));
        }
        return sb.toString();
    }

    @Override
    public void close() {
        stopHeartbeats();
        heartbeats.shutdownNow();
        try {
            client.shutdown();
        } catch (RuntimeException ignored) {
            // best effort
        }
        server.shutdown();
        serverExecutor.shutdownNow();
    }
}
