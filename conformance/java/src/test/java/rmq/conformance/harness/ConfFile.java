package rmq.conformance.harness;

import java.lang.annotation.ElementType;
import java.lang.annotation.Inherited;
import java.lang.annotation.Repeatable;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * A file written into {@code <rocketmqHome>/conf/} before the servers of the annotated test class start, on
 * every target (the Java oracles get the RocketMQ home as {@code ROCKETMQ_HOME} and {@code -Drocketmq.home.dir},
 * rmq as {@code ROCKETMQ_HOME}). Used for ACL 1.0: {@code @ConfFile(path = "plain_acl.yml", content = ...)} and
 * extra rule files under {@code acl/}. {@link Servers#writeConfFile} rewrites one during a test.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
@Inherited
@Repeatable(ConfFile.List.class)
public @interface ConfFile {
    /** Relative to {@code <rocketmqHome>/conf}, e.g. {@code plain_acl.yml} or {@code acl/extra.yml}. */
    String path();

    String content();

    @Retention(RetentionPolicy.RUNTIME)
    @Target(ElementType.TYPE)
    @Inherited
    @interface List {
        ConfFile[] value();
    }
}
