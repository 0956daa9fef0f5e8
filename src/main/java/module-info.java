/**
 * Refkit: reference-counted resource management.
 *
 * <p>One public package, {@link dev.refkit}: {@code MultiOpen}, {@code Shared},
 * {@code RunState} and {@code Pool}. Everything else is internal.
 */
module dev.refkit {
    requires transitive com.google.common;
    requires org.slf4j;
    requires static transitive org.jspecify;

    exports dev.refkit;
}
