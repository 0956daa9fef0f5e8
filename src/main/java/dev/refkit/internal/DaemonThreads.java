package dev.refkit.internal;

import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The library's own background threads: daemons named {@code PREFIX1}, {@code PREFIX2}, ...,
 * so that they never keep the JVM alive and a thread dump says whose they are.
 *
 * <p><b>Thread safety.</b> The factories and schedulers made here may be used from any
 * thread.
 */
public final class DaemonThreads {
    private DaemonThreads() {}

    /**
     * A factory of daemon platform threads named {@code prefix} and a count from 1.
     *
     * @param prefix the start of every name, such as {@code "refkit-pool-create-"}
     * @return the factory
     */
    public static ThreadFactory factory(String prefix) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, prefix + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }

    /**
     * A scheduler on one daemon thread named {@code prefix1}, which drops cancelled tasks at
     * once (so cancelled timeouts never pile up in its queue).
     *
     * @param prefix the start of the thread's name
     * @return the scheduler; its thread starts with the first task
     */
    public static ScheduledThreadPoolExecutor scheduler(String prefix) {
        ScheduledThreadPoolExecutor e = new ScheduledThreadPoolExecutor(1, factory(prefix));
        e.setRemoveOnCancelPolicy(true);
        return e;
    }
}
