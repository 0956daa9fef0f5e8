package dev.refkit.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The library's background threads: daemons, named with a count, schedulers that drop cancels. */
@Timeout(30)
final class DaemonThreadsTest {

    @Test
    void factory_newThreads_daemonsNamedWithCountFromOne() {
        ThreadFactory f = DaemonThreads.factory("x-");
        Thread a = f.newThread(() -> { });
        Thread b = f.newThread(() -> { });
        assertTrue(a.isDaemon() && b.isDaemon());
        assertEquals("x-1", a.getName());
        assertEquals("x-2", b.getName());
    }

    @Test
    void scheduler_task_runsOnDaemonNamedPrefix1() throws Exception {
        ScheduledThreadPoolExecutor e = DaemonThreads.scheduler("s-");
        try {
            AtomicReference<Thread> ran = new AtomicReference<>();
            CountDownLatch done = new CountDownLatch(1);
            e.execute(() -> {
                ran.set(Thread.currentThread());
                done.countDown();
            });
            done.await();
            assertEquals("s-1", ran.get().getName());
            assertTrue(ran.get().isDaemon());
        } finally {
            e.shutdownNow();
        }
    }

    @Test
    void scheduler_cancelledTask_leavesQueueAtOnce() {
        ScheduledThreadPoolExecutor e = DaemonThreads.scheduler("c-");
        try {
            ScheduledFuture<?> f = e.schedule(() -> { }, 1, TimeUnit.HOURS);
            assertEquals(1, e.getQueue().size());
            f.cancel(false);
            assertEquals(0, e.getQueue().size());
        } finally {
            e.shutdownNow();
        }
    }
}
