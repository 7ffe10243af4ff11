package rmq.spring;

import rmq.conformance.harness.Servers;

/**
 * Which RocketMQ server line the expectations follow where 4.x and 5.x brokers answer differently.
 *
 * <p>{@code -Drmq.server.line=4|5} wins; otherwise the 4.9.7 oracle ({@code rmq.target=java}) is 4, the
 * 5.x oracle ({@code java5}) is 5, and so is {@code rmq}: the starter pulls rocketmq-client 5.3.x, and rmq is
 * to answer it as a 5.x broker does where the two lines differ in what this suite checks (the transactionId of
 * a send result). (conformance/java's {@code Servers.serverLine()} counts rmq as 4: that suite runs the 4.9.8
 * client by default.)
 */
public final class ServerLine {
    private ServerLine() {
    }

    public static int major() {
        String p = System.getProperty("rmq.server.line", "").trim();
        if (!p.isEmpty()) {
            return Integer.parseInt(p);
        }
        return Servers.target().equals("java") ? 4 : 5;
    }

    /**
     * A 5.x broker answers every successful SEND_MESSAGE(_V2) with {@code transactionId} = the message's
     * UNIQ_KEY in the response header (SendMessageProcessor.handlePutMessageResult); 4.9.x leaves it out, so
     * the client's SendResult / TransactionSendResult has {@code transactionId == null}.
     */
    public static boolean fillsTransactionId() {
        return major() >= 5;
    }
}
