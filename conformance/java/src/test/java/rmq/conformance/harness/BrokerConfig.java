package rmq.conformance.harness;

import java.lang.annotation.ElementType;
import java.lang.annotation.Inherited;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Extra {@code broker.conf} lines ({@code "key=value"}) for the broker that {@link ServersExtension} starts
 * for the annotated test class, appended after the harness's own keys (a repeated key wins on both targets:
 * both read broker.conf as a properties file).
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
@Inherited
public @interface BrokerConfig {
    String[] value();
}
