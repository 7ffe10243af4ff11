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

    /**
     * Lines appended only when the servers follow the 5.x line ({@link Servers#serverLine()} == 5), for keys
     * a 5.x broker needs to behave as the test expects where its defaults differ from 4.9 (each use says which
     * Java source behaviour it compensates). Ignored by 4.9.7 and rmq.
     */
    String[] serverLine5() default {};
}
