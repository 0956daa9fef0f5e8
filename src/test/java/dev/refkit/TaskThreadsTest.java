package dev.refkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.refkit.internal.VirtualThreads;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@link TaskThreads} alone: the threads and the delays. */
@Timeout(30)
final class TaskThreadsTest {

    @Test
    void platform_daemonsNamedAndReused() throws Exception {
        TaskThreads th = TaskThreads.platform("w");
        AtomicReference<Thread> first = new AtomicReference<>();
        CountDownLatch one = new CountDownLatch(1);
        th.execute(() -> {
            first.set(Thread.currentThread());
            one.countDown();
        });
        TestThreads.await(one);
        assertEquals("w-task-1", first.get().getName());
        assertTrue(first.get().isDaemon());
        // An idle thread takes the next job.
        while (first.get().getState() != Thread.State.TIMED_WAITING) {
            Thread.onSpinWait();
        }
        AtomicReference<Thread> second = new AtomicReference<>();
        CountDownLatch two = new CountDownLatch(1);
        th.execute(() -> {
            second.set(Thread.currentThread());
            two.countDown();
        });
        TestThreads.await(two);
        assertEquals(first.get(), second.get());
        th.shutdown();
        assertThrows(RejectedExecutionException.class, () -> th.execute(() -> { }));
    }

    @Test
    void create_default_virtualWhereAvailable() throws Exception {
        TaskThreads th = TaskThreads.create("v", null);
        assertEquals(VirtualThreads.available(), th.isVirtual());
        AtomicBoolean virtual = new AtomicBoolean();
        CountDownLatch done = new CountDownLatch(1);
        th.execute(() -> {
            virtual.set(VirtualThreads.isVirtual(Thread.currentThread()));
            done.countDown();
        });
        TestThreads.await(done);
        assertEquals(VirtualThreads.available(), virtual.get());
        th.shutdown();
    }

    @Test
    void executeAfter_runsAfterDelay() throws Exception {
        for (TaskThreads th : new TaskThreads[] {TaskThreads.platform("d"),
                TaskThreads.create("d", null)}) {
            CountDownLatch ran = new CountDownLatch(1);
            long t0 = System.nanoTime();
            th.executeAfter(TimeUnit.MILLISECONDS.toNanos(30), ran::countDown, e -> { });
            TestThreads.await(ran);
            assertTrue(System.nanoTime() - t0 >= TimeUnit.MILLISECONDS.toNanos(30));
            th.shutdown();
        }
    }

    @Test
    void executeAfter_cancelled_neverRuns() throws Exception {
        for (TaskThreads th : new TaskThreads[] {TaskThreads.platform("c"),
                TaskThreads.create("c", null)}) {
            AtomicBoolean ran = new AtomicBoolean();
            TaskThreads.Delayed d = th.executeAfter(TimeUnit.MILLISECONDS.toNanos(500),
                    () -> ran.set(true), e -> { });
            d.cancel();
            CountDownLatch later = new CountDownLatch(1);
            th.executeAfter(TimeUnit.MILLISECONDS.toNanos(1000), later::countDown, e -> { });
            TestThreads.await(later);
            assertFalse(ran.get());
            th.shutdown();
        }
    }
}
