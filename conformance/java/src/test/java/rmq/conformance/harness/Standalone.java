package rmq.conformance.harness;

import java.lang.annotation.ElementType;
import java.lang.annotation.Inherited;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * On target {@code rmq}, {@link ServersExtension} starts the annotated class's servers as one
 * {@code rmq standalone} process (name server and broker in one process, what a user runs to try rmq)
 * instead of {@code rmq namesrv} + {@code rmq broker}. The broker.conf is the same ({@link BrokerConfig} lines
 * included); {@link Servers#startSecondMaster()} and {@link Servers#startSlave()} still start separate
 * {@code rmq broker} processes registered with the standalone's name server. Ignored on the Java targets.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
@Inherited
public @interface Standalone {
}
