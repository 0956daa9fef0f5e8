package dev.refkit.internal;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.concurrent.ThreadFactory;
import org.jspecify.annotations.Nullable;

/**
 * Virtual threads, found at run time: the library is compiled for Java 17, where they do
 * not exist, and uses them where the JDK has them (21 and later).
 */
public final class VirtualThreads {
    private VirtualThreads() {}

    private static final @Nullable MethodHandle IS_VIRTUAL = find();
    private static final @Nullable ThreadFactory FACTORY = findFactory();

    /** {@code Thread.ofVirtual().factory()}, called by reflection; null before Java 21. */
    private static @Nullable ThreadFactory findFactory() {
        try {
            Object builder = Thread.class.getMethod("ofVirtual").invoke(null);
            Class<?> ofVirtual = Class.forName("java.lang.Thread$Builder$OfVirtual");
            return (ThreadFactory) ofVirtual.getMethod("factory").invoke(builder);
        } catch (ReflectiveOperationException | RuntimeException e) {
            return null; // before Java 21: no virtual threads
        }
    }

    /**
     * A factory of unnamed, unstarted virtual threads ({@code Thread.ofVirtual().factory()}),
     * where the JDK has them.
     *
     * @return the factory, or null before Java 21
     */
    public static @Nullable ThreadFactory factory() {
        return FACTORY;
    }

    private static @Nullable MethodHandle find() {
        try {
            return MethodHandles.publicLookup().findVirtual(Thread.class, "isVirtual",
                    MethodType.methodType(boolean.class));
        } catch (ReflectiveOperationException e) {
            return null; // before Java 21: no thread is virtual
        }
    }

    /**
     * Whether {@code t} is a virtual thread; always false before Java 21.
     *
     * @param t the thread
     * @return {@code t.isVirtual()} where the JDK has it, else false
     */
    public static boolean isVirtual(Thread t) {
        MethodHandle mh = IS_VIRTUAL;
        if (mh == null) {
            return false;
        }
        try {
            return (boolean) mh.invokeExact(t);
        } catch (Throwable e) {
            throw new AssertionError("Thread.isVirtual() threw", e);
        }
    }

    /**
     * Whether this JDK has virtual threads.
     *
     * @return true on Java 21 and later
     */
    public static boolean available() {
        return IS_VIRTUAL != null;
    }
}
