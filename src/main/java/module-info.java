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
    // Compile time only: Guava's AbstractFuture (the base of a task) carries a j2objc
    // annotation, which javadoc must be able to read; nothing needs it at run time.
    requires static com.google.j2objc.annotations;

    exports dev.refkit;
}
