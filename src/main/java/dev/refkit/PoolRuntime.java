package dev.refkit;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.ref.Cleaner;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/**
 * The threads every {@link Pool} shares, all daemons and all started lazily: one scheduler
 * for background upkeep ({@code minIdle}, expiry sweeps), a cached executor that makes
 * objects for {@code borrowAsync} waiters, and one {@link Cleaner} for leak detection; and
 * the probe that tells a virtual thread from a platform one on Java 21+.
 *
 * <p><b>Thread safety.</b> Stateless apart from the lazily started executors (class-holder
 * idiom) and the probe, found once at class initialization; every method may be called from
 * any thread.
 */
final class PoolRuntime {
    private PoolRuntime() {}

    private static ThreadFactory daemons(String prefix) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, prefix + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }

    /** Holder: the scheduler starts on first use. */
    private static final class Scheduler {
        static final ScheduledThreadPoolExecutor INSTANCE = make();

        private static ScheduledThreadPoolExecutor make() {
            ScheduledThreadPoolExecutor e =
                    new ScheduledThreadPoolExecutor(1, daemons("refkit-pool-upkeep-"));
            e.setRemoveOnCancelPolicy(true);
            return e;
        }
    }

    /** Holder: the creator threads start on first use and die after a minute idle. */
    private static final class Creators {
        static final ExecutorService INSTANCE = new ThreadPoolExecutor(0, Integer.MAX_VALUE,
                60, TimeUnit.SECONDS, new SynchronousQueue<>(), daemons("refkit-pool-create-"));
    }

    /** Holder: the cleaner thread starts on first use. */
    private static final class Leaks {
        static final Cleaner INSTANCE = Cleaner.create(daemons("refkit-pool-leaks-"));
    }

    static ExecutorService creators() {
        return Creators.INSTANCE;
    }

    static Cleaner cleaner() {
        return Leaks.INSTANCE;
    }

    /** Runs {@code task} now and then every {@code periodNanos} on the upkeep scheduler. */
    static ScheduledFuture<?> schedule(Runnable task, long periodNanos) {
        return Scheduler.INSTANCE.scheduleWithFixedDelay(task, 0, periodNanos,
                TimeUnit.NANOSECONDS);
    }

    /**
     * Whether {@code t} is a virtual thread (Java 21+). A virtual waiter never spins: it
     * would hold one of the few carrier threads that the object's holder may need. It
     * yields a few times instead before it parks.
     */
    static boolean isVirtual(Thread t) {
        MethodHandle mh = IS_VIRTUAL;
        if (mh == null) {
            return false;
        }
        try {
            return (boolean) mh.invokeExact(t);
        } catch (Throwable e) {
            throw new AssertionError(e);
        }
    }

    private static final @Nullable MethodHandle IS_VIRTUAL = findIsVirtual();

    private static @Nullable MethodHandle findIsVirtual() {
        try {
            return MethodHandles.publicLookup().findVirtual(Thread.class, "isVirtual",
                    MethodType.methodType(boolean.class));
        } catch (ReflectiveOperationException e) {
            return null; // Java 17 to 20: no virtual threads
        }
    }
}
