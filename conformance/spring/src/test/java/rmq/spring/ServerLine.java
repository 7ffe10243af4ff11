package rmq.spring;

import rmq.conformance.harness.Servers;

/**
 * Which RocketMQ server line the expectations follow where 4.x and 5.x brokers answer differently.
 *
 * <p>{@code -Drmq.server.line=4|5} wins; otherwise the 5.x oracle ({@code rmq.target=java5}) is 5, the 4.9.7
 * oracle ({@code java}) and {@code rmq} (a re-implementation of 4.9) are 4, as in conformance/java. One
 * exception, {@link #fillsTransactionId()}: rmq is held to the 5.x behaviour there.
 */
public final class ServerLine {
    private ServerLine() {
    }

    public static int major() {
        String p = System.getProperty("rmq.server.line", "").trim();
        if (!p.isEmpty()) {
            return Integer.parseInt(p);
        }
        return Servers.target().equals("java5") ? 5 : 4;
    }

    /**
     * A 5.x broker answers every successful SEND_MESSAGE(_V2) with {@code transactionId} = the message's
     * UNIQ_KEY in the response header (SendMessageProcessor.handlePutMessageResult), which the client copies
     * into SendResult / TransactionSendResult; 4.9.x leaves it out ({@code null}). rmq is expected to fill it
     * as 5.x does: the starter runs the 5.x client, and sendMessageInTransaction hands it on (as user property
     * {@code __transactionId__}) to the local transaction.
     */
    public static boolean fillsTransactionId() {
        return major() >= 5 || Servers.target().equals("rmq");
    }

    /**
     * A 5.x broker stores MSG_REGION (its regionId, "DefaultRegion") and TRACE_ON ("true") in the properties of
     * every message it is sent (SendMessageProcessor.processRequest → AbstractSendMessageProcessor.buildMsgContext
     * rewrites the request's properties with them); 4.9.7 only answers them as response ext fields.
     */
    public static boolean storesRegionAndTraceProperties() {
        return major() >= 5;
    }

    /**
     * A 5.x broker stores a half message with property {@code __transactionId__} = its UNIQ_KEY
     * (TransactionalMessageBridge.parseHalfMessageInner), which the committed message inherits; 4.9.7 does not.
     */
    public static boolean storesHalfTransactionIdProperty() {
        return major() >= 5;
    }
}
