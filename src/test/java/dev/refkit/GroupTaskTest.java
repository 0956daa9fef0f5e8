package dev.refkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@link GroupTask} alone: its run word, the interrupt handshake and its outcomes. */
@Timeout(30)
final class GroupTaskTest {

    /** An owner that runs the body in place and counts the unstarted ends. */
    private static final class Owner implements GroupTask.Owner {
        final AtomicInteger unstarted = new AtomicInteger();

        @Override
        public int waitSpins() {
            return 64; // the joins in these tests spin a little first, then park
        }

        @Override
        public void run(GroupTask<?> t) {
            if (t.begin() != GroupTask.BEGIN) {
                return;
            }
            Object v = null;
            Throwable failure = null;
            try {
                v = t.body.call();
            } catch (Throwable e) {
                failure = e;
            }
            t.bodyEnded();
            if (failure == null) {
                t.succeed(v);
            } else {
                t.fail(failure, failure instanceof RuntimeException ? failure
                        : new LifecycleException("g: task t failed", failure));
            }
        }

        @Override
        public void endedUnstarted(GroupTask<?> t) {
            unstarted.incrementAndGet();
        }
    }

    private final Owner owner = new Owner();
    private final Deliveries deliveries = new Deliveries();

    private <V> GroupTask<V> task(java.util.concurrent.Callable<V> body) {
        return new GroupTask<>("t", 1, "g", body, false, owner, deliveries);
    }

    @Test
    void run_success_succeeded() throws Exception {
        GroupTask<Integer> t = task(() -> 7);
        assertEquals(Task.Status.SCHEDULED, t.status());
        t.run();
        assertEquals(Task.Status.SUCCEEDED, t.status());
        assertEquals(7, t.join());
        assertEquals(7, t.resultNow());
        assertThrows(IllegalStateException.class, t::exceptionNow);
        assertEquals("Task[t]{SUCCEEDED}", t.toString());
    }

    @Test
    void run_checkedFailure_joinThrowsWrapperGetThrowsRaw() throws Exception {
        IOException io = new IOException("x");
        GroupTask<Void> t = task(() -> {
            throw io;
        });
        t.run();
        assertEquals(Task.Status.FAILED, t.status());
        LifecycleException w = assertThrows(LifecycleException.class, t::join);
        assertSame(io, w.getCause());
        assertSame(w, assertThrows(LifecycleException.class, t::join));
        assertSame(io, assertThrows(ExecutionException.class, t::get).getCause());
        assertSame(io, t.exceptionNow());
        assertThrows(IllegalStateException.class, t::resultNow);
        assertTrue(deliveries.deliveredHere(w));
    }

    @Test
    void cancel_beforeBegin_endsOnceAndNeverRuns() {
        AtomicInteger ran = new AtomicInteger();
        GroupTask<Void> t = task(() -> {
            ran.incrementAndGet();
            return null;
        });
        assertTrue(t.cancel(true));
        assertFalse(t.cancel(true));
        t.run();
        assertEquals(0, ran.get());
        assertEquals(1, owner.unstarted.get());
        assertEquals(GroupTask.GONE, t.begin());
        assertEquals("g: task t cancelled",
                assertThrows(CancellationException.class, t::join).getMessage());
    }

    @Test
    void cancelByGroup_new_cancelledWithMessage() {
        GroupTask<Void> t = task(() -> null);
        t.cancelByGroup("g: cancelled: why");
        assertEquals(Task.Status.CANCELLED, t.status());
        assertEquals("g: cancelled: why",
                assertThrows(CancellationException.class, t::join).getMessage());
        assertEquals(1, owner.unstarted.get());
    }

    /** A group cancel of a running body interrupts it, and the interrupt never outlives it. */
    @Test
    void cancelByGroup_running_interruptsOnceAndFlagClearedAfter() throws Exception {
        CountDownLatch running = new CountDownLatch(1);
        GroupTask<Boolean> t = task(() -> {
            running.countDown();
            try {
                Thread.sleep(TestThreads.WAIT_S * 1000);
                return false;
            } catch (InterruptedException e) {
                return true;
            }
        });
        java.util.concurrent.atomic.AtomicBoolean flagAfter =
                new java.util.concurrent.atomic.AtomicBoolean(true);
        Thread th = TestThreads.start(() -> {
            t.run();
            flagAfter.set(Thread.currentThread().isInterrupted());
        });
        TestThreads.await(running);
        assertEquals(Task.Status.RUNNING, t.status());
        assertTrue(t.isRunning());
        t.cancelByGroup("g: cancelled");
        th.join();
        assertTrue(t.join()); // interrupted, and it returned normally: succeeded
        assertFalse(flagAfter.get());
        assertEquals(0, owner.unstarted.get());
    }

    @Test
    void bodyEnded_thenCancel_noInterrupt() throws Exception {
        GroupTask<Integer> t = task(() -> 1);
        assertEquals(GroupTask.BEGIN, t.begin());
        t.bodyEnded();
        t.cancelByGroup("g: cancelled"); // ended: nothing to interrupt
        assertFalse(Thread.currentThread().isInterrupted());
        t.succeed(1);
        assertEquals(1, t.join());
    }

    @Test
    void cancelFalse_running_notInterrupted_doneAtOnce() throws Exception {
        CountDownLatch running = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        GroupTask<Boolean> t = task(() -> {
            running.countDown();
            release.await();
            return Thread.currentThread().isInterrupted();
        });
        Thread th = TestThreads.start(t);
        TestThreads.await(running);
        assertTrue(t.cancel(false));
        assertTrue(t.isDone());
        assertTrue(t.isRunning());
        assertEquals(Task.Status.CANCELLED, t.status());
        release.countDown();
        th.join();
        assertFalse(t.isRunning());
    }

    @Test
    void join_timeout_throwsTimeout() {
        GroupTask<Integer> t = task(() -> 1);
        TimeoutException e = assertThrows(TimeoutException.class,
                () -> t.join(Duration.ofMillis(5)));
        assertEquals("t: not done after PT0.005S", e.getMessage());
    }

    @Test
    void join_interruptedOnEntry_throws() {
        GroupTask<Integer> t = task(() -> 1);
        t.run();
        Thread.currentThread().interrupt();
        InterruptedException e = assertThrows(InterruptedException.class, t::join);
        assertEquals("t: interrupted in join()", e.getMessage());
        assertFalse(Thread.currentThread().isInterrupted());
    }

    @Test
    void skip_afterBegin_cancelledAndEnded() {
        GroupTask<Integer> t = task(() -> 1);
        assertEquals(GroupTask.BEGIN, t.begin());
        t.skip("g: cancelled");
        assertEquals(Task.Status.CANCELLED, t.status());
        assertFalse(t.isRunning());
        assertEquals(0, owner.unstarted.get());
    }
}
