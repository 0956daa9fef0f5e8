package dev.refkit;

import dev.refkit.internal.DaemonThreads;
import java.lang.ref.Cleaner;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The threads every pool shares, all daemons and all started lazily: one scheduler
 * for background upkeep ({@code minIdle}, expiry sweeps), a cached executor that makes
 * objects for {@code borrowAsync} waiters, and one {@link Cleaner} for leak detection; and
 * the log every pool writes to.
 *
 * <p><b>Thread safety.</b> Stateless apart from the lazily started executors (class-holder
 * idiom); every method may be called from any thread.
 */
final class PoolRuntime {
    private PoolRuntime() {}

    /** The log of every pool and its parts, named {@code dev.refkit.Pool}. */
    static final Logger LOG = LoggerFactory.getLogger("dev.refkit.Pool");

    /** Holder: the scheduler starts on first use. */
    private static final class Scheduler {
        static final ScheduledThreadPoolExecutor INSTANCE = DaemonThreads.scheduler("refkit-pool-upkeep-");
    }

    /** Holder: the creator threads start on first use and die after a minute idle. */
    private static final class Creators {
        static final ExecutorService INSTANCE = new ThreadPoolExecutor(0, Integer.MAX_VALUE,
                60, TimeUnit.SECONDS, new SynchronousQueue<>(), DaemonThreads.factory("refkit-pool-create-"));
    }

    /** Holder: the cleaner thread starts on first use. */
    private static final class Leaks {
        static final Cleaner INSTANCE = Cleaner.create(DaemonThreads.factory("refkit-pool-leaks-"));
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

    /** Completions nested on one thread before the next one moves to a creator thread. */
    private static final int MAX_NESTED = 32;
    /** This thread's depth of nested completions. */
    private static final ThreadLocal<int[]> NESTED = ThreadLocal.withInitial(() -> new int[1]);

    /**
     * Runs {@code completion} (which completes a future) now, on this thread, unless this
     * thread is already {@link #MAX_NESTED} completions deep (a dependent that frees an
     * object completes the next future from inside the previous completion); then on a
     * creator thread, on a fresh stack. So the stack stays bounded however many futures
     * wait, and a completion is never held back: the dependent that freed an object may go
     * on to block while the object is already delivered. A queue drained by the outermost
     * call instead would hold every completion until the running dependent returned, and
     * deadlock a dependent that waits for one.
     */
    static void completeNested(Runnable completion) {
        int[] depth = NESTED.get();
        if (depth[0] >= MAX_NESTED) {
            creators().execute(completion);
            return;
        }
        depth[0]++;
        try {
            completion.run();
        } finally {
            depth[0]--;
        }
    }
}
