package dev.refkit;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Future;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/** Thread helpers shared by the multi-threaded tests: start, wait until parked, join. */
final class TestThreads {
    private TestThreads() {}

    /** How long any single wait in a test may take before the test fails. */
    static final long WAIT_S = 20;

    /** Starts {@code r} on a new daemon thread. */
    static Thread start(Runnable r) {
        Thread t = new Thread(r);
        t.setDaemon(true);
        t.start();
        return t;
    }

    /** A thread running a call, and what the call threw (null while none). */
    static final class Call {
        final Thread thread;
        final AtomicReference<Throwable> thrown;

        Call(Thread thread, AtomicReference<Throwable> thrown) {
            this.thread = thread;
            this.thrown = thrown;
        }

        /** Waits for the call to end and returns what it threw, or null. */
        Throwable join() throws InterruptedException {
            thread.join(WAIT_S * 1000);
            assertFalse(thread.isAlive(), thread + " still running");
            return thrown.get();
        }
    }

    /** Starts {@code c} on a new daemon thread, recording what it throws. */
    static Call startCall(Callable<?> c) {
        AtomicReference<Throwable> thrown = new AtomicReference<>();
        Thread t = start(() -> {
            try {
                c.call();
            } catch (Throwable e) {
                thrown.set(e);
            }
        });
        return new Call(t, thrown);
    }

    /** Starts a daemon thread running {@code task} and returns a future of its result. */
    static <V> CompletableFuture<V> fork(Callable<V> task) {
        CompletableFuture<V> f = new CompletableFuture<>();
        start(() -> {
            try {
                f.complete(task.call());
            } catch (Throwable e) {
                f.completeExceptionally(e);
            }
        });
        return f;
    }

    /**
     * Runs {@code task} on a new daemon thread and returns once that thread is parked or the
     * task is done, so the caller knows the task is waiting. The future behaves as an
     * executor's would: {@code get()} wraps whatever the task threw in an
     * {@link java.util.concurrent.ExecutionException}.
     */
    static <V> Future<V> forkParked(Callable<V> task) throws InterruptedException {
        CountDownLatch started = new CountDownLatch(1);
        FutureTask<V> f = new FutureTask<>(() -> {
            started.countDown();
            return task.call();
        });
        Thread t = start(f);
        await(started); // parked from here on means parked in the task, not before it
        while (t.getState() != Thread.State.WAITING && t.getState() != Thread.State.TIMED_WAITING
                && !f.isDone()) {
            Thread.onSpinWait();
        }
        return f;
    }

    /** Spins (no sleep) until {@code t} is parked, so we know it is waiting. */
    static void awaitParked(Thread t) {
        while (t.getState() != Thread.State.WAITING && t.getState() != Thread.State.TIMED_WAITING) {
            assertTrue(t.isAlive(), "thread ended instead of waiting");
            Thread.onSpinWait();
        }
    }

    /**
     * Runs {@code waiting} on a new thread, interrupts that thread once it is parked, and
     * asserts that the call threw {@link InterruptedException}, which it returns.
     */
    static InterruptedException assertInterruptedWhileParked(Callable<?> waiting)
            throws InterruptedException {
        Call c = startCall(waiting);
        awaitParked(c.thread);
        c.thread.interrupt();
        Throwable got = c.join();
        assertTrue(got instanceof InterruptedException, String.valueOf(got));
        return (InterruptedException) got;
    }

    /** Awaits {@code l}, failing the test after {@link #WAIT_S} seconds. */
    static void await(CountDownLatch l) throws InterruptedException {
        assertTrue(l.await(WAIT_S, TimeUnit.SECONDS), "timed out");
    }

    /** Joins every thread, failing the test if one is still running after the wait. */
    static void joinAll(List<Thread> threads) throws InterruptedException {
        for (Thread t : threads) {
            t.join(WAIT_S * 1000);
            assertFalse(t.isAlive(), t + " still running");
        }
    }
}
