package dev.refkit;

import static dev.refkit.TestThreads.forkParked;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.refkit.RunState.State;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Blocking behaviour of {@link RunState}: sleep, awaits, pause, interrupts, wake-ups. */
@Timeout(30)
final class RunStateWaitTest {

    private static final Duration HOUR = Duration.ofHours(1);
    private static final Duration FOREVER = Duration.ofSeconds(Long.MAX_VALUE);

    private final ExecutorService pool = Executors.newCachedThreadPool();

    @AfterEach
    void shutdownPool() throws InterruptedException {
        pool.shutdownNow();
        assertTrue(pool.awaitTermination(10, TimeUnit.SECONDS));
    }

    private static <V> V get(Future<V> f) throws Exception {
        return f.get(20, TimeUnit.SECONDS);
    }

    /** A cancel by another thread wakes a thread in sleep(1 hour), which returns false. */
    @Test
    void sleep_cancelledByAnotherThread_wakesAndReturnsFalse() throws Exception {
        RunState r = RunStateTest.inState(State.RUNNING);
        Future<Boolean> slept = forkParked(() -> r.sleep(HOUR));
        long t0 = System.nanoTime();
        r.cancel();
        assertFalse(get(slept));
        assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(5));
    }

    /** Over many rounds, a cancel racing a sleep(1 hour) never leaves the sleeper asleep. */
    @Test
    void sleep_cancelRacingEntryManyRounds_neverMissesTheWakeUp() throws Exception {
        java.util.concurrent.CyclicBarrier barrier = new java.util.concurrent.CyclicBarrier(2);
        for (int round = 0; round < 2_000; round++) {
            RunState r = RunStateTest.inState(State.RUNNING);
            Future<Boolean> f = pool.submit(() -> {
                barrier.await();
                return r.sleep(HOUR);
            });
            barrier.await();
            r.cancel();
            assertFalse(get(f), "round " + round);
        }
    }

    /** Every one of several sleepers is woken by one cancel. */
    @Test
    void sleep_manySleepers_allWokenByOneCancel() throws Exception {
        RunState r = new RunState("t");
        List<Future<Boolean>> sleepers = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            sleepers.add(forkParked(() -> r.sleep(FOREVER)));
        }
        r.cancel();
        for (Future<Boolean> f : sleepers) {
            assertFalse(get(f));
        }
    }

    @Test
    void sleep_alreadyCancelled_returnsFalseAtOnce() throws InterruptedException {
        RunState r = new RunState("t");
        r.cancel();
        assertFalse(r.sleep(FOREVER));
        assertFalse(r.sleep(Duration.ZERO));
    }

    @Test
    void sleep_notCancelled_sleepsTheWholeTimeAndReturnsTrue() throws InterruptedException {
        RunState r = RunStateTest.inState(State.RUNNING);
        long t0 = System.nanoTime();
        assertTrue(r.sleep(Duration.ofMillis(30)));
        assertTrue(System.nanoTime() - t0 >= TimeUnit.MILLISECONDS.toNanos(30));
        assertTrue(r.sleep(Duration.ZERO));
    }

    /** An interrupted sleep throws InterruptedException naming the RunState and leaves the state alone. */
    @Test
    void sleep_interrupted_throwsNamingItAndChangesNoState() throws Exception {
        RunState r = RunStateTest.inState(State.RUNNING);
        AtomicReference<Thread> sleeper = new AtomicReference<>();
        Future<Boolean> f = forkParked(() -> {
            sleeper.set(Thread.currentThread());
            return r.sleep(HOUR);
        });
        sleeper.get().interrupt();
        ExecutionException e = assertThrows(ExecutionException.class, () -> get(f));
        assertTrue(e.getCause() instanceof InterruptedException, e.toString());
        assertEquals("t: interrupted in sleep()", e.getCause().getMessage());
        assertEquals(State.RUNNING, r.state());
        assertFalse(r.isCancelled());
        Thread.currentThread().interrupt();
        assertEquals("t: interrupted in sleep()",
                assertThrows(InterruptedException.class, () -> r.sleep(HOUR)).getMessage());
        assertFalse(Thread.interrupted());
    }

    /** A sleep held by a pause past its time is interruptible too, with the same message. */
    @Test
    void sleep_interruptedWhileHeldByPause_throwsNamingIt() throws Exception {
        RunState r = RunStateTest.inState(State.PAUSED);
        AtomicReference<Thread> sleeper = new AtomicReference<>();
        Future<Boolean> f = forkParked(() -> {
            sleeper.set(Thread.currentThread());
            return r.sleep(Duration.ofNanos(1));
        });
        sleeper.get().interrupt();
        ExecutionException e = assertThrows(ExecutionException.class, () -> get(f));
        assertEquals("t: interrupted in sleep()", e.getCause().getMessage());
        assertEquals(State.PAUSED, r.state());
    }

    /** A parked awaitCancellation or join that is interrupted throws naming the RunState. */
    @Test
    void awaits_interruptedWhileParked_throwNamingThem() throws Exception {
        RunState r = RunStateTest.inState(State.RUNNING);
        AtomicReference<Thread> cancelWaiter = new AtomicReference<>();
        Future<Boolean> cancelled = forkParked(() -> {
            cancelWaiter.set(Thread.currentThread());
            return r.awaitCancellation(HOUR);
        });
        AtomicReference<Thread> stopWaiter = new AtomicReference<>();
        Future<Boolean> stopped = forkParked(() -> {
            stopWaiter.set(Thread.currentThread());
            return r.join(FOREVER);
        });
        cancelWaiter.get().interrupt();
        stopWaiter.get().interrupt();
        assertEquals("t: interrupted in awaitCancellation()",
                assertThrows(ExecutionException.class, () -> get(cancelled)).getCause().getMessage());
        assertEquals("t: interrupted in join()",
                assertThrows(ExecutionException.class, () -> get(stopped)).getCause().getMessage());
        assertEquals(State.RUNNING, r.state());
        assertFalse(r.isCancelled());
    }

    /** A pause holds a sleeper past its time until resume, then it returns true. */
    @Test
    void sleep_pausedWhenTimeIsUp_blocksUntilResumed() throws Exception {
        RunState r = RunStateTest.inState(State.PAUSED);
        Future<Boolean> f = forkParked(() -> r.sleep(Duration.ZERO));
        assertFalse(f.isDone());
        r.resume();
        assertTrue(get(f));
    }

    /** A cancel releases a sleeper held by a pause, which returns false. */
    @Test
    void sleep_pausedThenCancelled_returnsFalse() throws Exception {
        RunState r = RunStateTest.inState(State.PAUSED);
        Future<Boolean> f = forkParked(() -> r.sleep(Duration.ofMillis(1)));
        r.cancel();
        assertFalse(get(f));
    }

    /** A pause blocks throwIfCancelled until resume; it then returns normally. */
    @Test
    void throwIfCancelled_paused_blocksUntilResumed() throws Exception {
        RunState r = RunStateTest.inState(State.PAUSED);
        Future<String> f = forkParked(() -> {
            r.throwIfCancelled();
            return "passed";
        });
        assertFalse(f.isDone());
        r.resume();
        assertEquals("passed", get(f));
    }

    /** A cancel during a pause makes the blocked throwIfCancelled throw. */
    @Test
    void throwIfCancelled_pausedThenCancelled_throws() throws Exception {
        RunState r = RunStateTest.inState(State.PAUSED);
        Future<String> f = forkParked(() -> {
            r.throwIfCancelled();
            return "passed";
        });
        r.cancel();
        ExecutionException e = assertThrows(ExecutionException.class, () -> get(f));
        assertTrue(e.getCause() instanceof CancellationException, e.toString());
    }

    /** A stop during a pause releases throwIfCancelled without waiting for the stop listeners. */
    @Test
    void throwIfCancelled_pausedThenStopped_returnsBeforeStopListenersEnd() throws Exception {
        RunState r = RunStateTest.inState(State.PAUSED);
        CountDownLatch passed = new CountDownLatch(1);
        r.onStop(x -> {
            try {
                passed.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        Future<String> f = forkParked(() -> {
            r.throwIfCancelled();
            passed.countDown();
            return "passed";
        });
        r.stop();
        assertEquals("passed", get(f));
    }

    /** An interrupt does not release a pause, and is kept for the thread to see. */
    @Test
    void throwIfCancelled_interruptedWhilePaused_keepsWaitingAndKeepsFlag() throws Exception {
        RunState r = RunStateTest.inState(State.PAUSED);
        AtomicReference<Thread> waiter = new AtomicReference<>();
        Future<Boolean> f = forkParked(() -> {
            waiter.set(Thread.currentThread());
            r.throwIfCancelled();
            return Thread.currentThread().isInterrupted();
        });
        waiter.get().interrupt();
        while (waiter.get().getState() != Thread.State.WAITING) {
            Thread.onSpinWait();
        }
        assertFalse(f.isDone());
        r.resume();
        assertTrue(get(f));
    }

    /** A pause holds an iteration until resume. */
    @Test
    void iterate_paused_blocksUntilResumed() throws Exception {
        RunState r = RunStateTest.inState(State.PAUSED);
        Future<Integer> f = forkParked(() -> {
            int n = 0;
            for (int i : r.iterate(List.of(1, 2, 3))) {
                n += i;
            }
            return n;
        });
        r.resume();
        assertEquals(6, get(f));
    }

    /** awaitCancellation is woken by a cancel, even with a practically infinite timeout. */
    @Test
    void awaitCancellation_cancelled_wakesAndReturnsTrue() throws Exception {
        RunState r = new RunState("t");
        Future<Boolean> f = forkParked(() -> r.awaitCancellation(FOREVER));
        r.cancel();
        assertTrue(get(f));
        assertTrue(r.awaitCancellation(Duration.ZERO));
    }

    @Test
    void awaitCancellation_timeout_returnsFalseAfterTheWholeTimeout() throws InterruptedException {
        RunState r = RunStateTest.inState(State.RUNNING);
        long t0 = System.nanoTime();
        assertFalse(r.awaitCancellation(Duration.ofMillis(30)));
        assertTrue(System.nanoTime() - t0 >= TimeUnit.MILLISECONDS.toNanos(30));
        assertFalse(r.awaitCancellation(Duration.ZERO));
    }

    /** Wake-ups that do not meet the condition (resume signals) do not shorten a timeout. */
    @Test
    void awaitCancellation_manyUnrelatedWakeups_stillWaitsTheWholeTimeout() throws Exception {
        RunState r = RunStateTest.inState(State.RUNNING);
        long timeout = TimeUnit.MILLISECONDS.toNanos(100);
        Future<Long> f = forkParked(() -> {
            long t0 = System.nanoTime();
            assertFalse(r.awaitCancellation(Duration.ofNanos(timeout)));
            return System.nanoTime() - t0;
        });
        while (!f.isDone()) {
            r.pause();
            r.resume(); // signals every waiter
        }
        assertTrue(get(f) >= timeout, "returned early");
    }

    /** join is woken by stop (not by cancel) and returns true. */
    @Test
    void join_stopped_wakesAndReturnsTrue() throws Exception {
        RunState r = RunStateTest.inState(State.RUNNING);
        Future<Boolean> f = forkParked(() -> r.join(FOREVER));
        r.cancel();
        assertThrows(IllegalStateException.class, r::pause);
        assertFalse(f.isDone());
        r.stop();
        assertTrue(get(f));
        assertTrue(r.join(Duration.ZERO));
    }

    /** join returns only after the stop listeners have returned. */
    @Test
    void join_stopListenerRunning_waitsForIt() throws Exception {
        RunState r = RunStateTest.inState(State.RUNNING);
        CountDownLatch inListener = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        r.onStop(x -> {
            inListener.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        Future<?> stopper = pool.submit(r::stop);
        inListener.await();
        assertEquals(State.STOPPED, r.state());
        assertFalse(r.join(Duration.ofMillis(10)));
        Future<Boolean> waiter = forkParked(() -> r.join(FOREVER));
        assertFalse(waiter.isDone());
        release.countDown();
        assertTrue(get(waiter));
        get(stopper);
    }

    @Test
    void join_timeout_returnsFalseAfterTheWholeTimeout() throws InterruptedException {
        RunState r = RunStateTest.inState(State.RUNNING);
        long t0 = System.nanoTime();
        assertFalse(r.join(Duration.ofMillis(30)));
        assertTrue(System.nanoTime() - t0 >= TimeUnit.MILLISECONDS.toNanos(30));
    }

    /** Interrupted awaits throw InterruptedException and leave the state alone. */
    @Test
    void awaits_interrupted_throwAndChangeNoState() {
        RunState r = RunStateTest.inState(State.RUNNING);
        Thread.currentThread().interrupt();
        assertEquals("t: interrupted in awaitCancellation()",
                assertThrows(InterruptedException.class, () -> r.awaitCancellation(HOUR)).getMessage());
        Thread.currentThread().interrupt();
        assertEquals("t: interrupted in join()",
                assertThrows(InterruptedException.class, () -> r.join(HOUR)).getMessage());
        assertFalse(Thread.interrupted());
        assertEquals(State.RUNNING, r.state());
        assertFalse(r.isCancelled());
    }

    /** A thread parked in sleep or in a pause names its RunState as the park blocker. */
    @Test
    void sleepAndPause_parked_parkOnTheRunStateAsBlocker() throws Exception {
        RunState r = RunStateTest.inState(State.RUNNING);
        Queue<Thread> parked = new ConcurrentLinkedQueue<>();
        Future<Boolean> slept = forkParked(() -> parked.add(Thread.currentThread()) && r.sleep(HOUR));
        assertSame(r, LockSupport.getBlocker(parked.remove()));
        r.pause();
        Future<String> paused = forkParked(() -> {
            parked.add(Thread.currentThread());
            r.throwIfCancelled();
            return "resumed";
        });
        assertSame(r, LockSupport.getBlocker(parked.remove()));
        r.resume();
        assertEquals("resumed", get(paused));
        r.cancel();
        assertFalse(get(slept));
    }

    /** A parent's cancel wakes a child's sleeper. */
    @Test
    void child_sleeping_wokenByParentCancel() throws Exception {
        RunState parent = new RunState("p");
        RunState child = parent.child("c");
        child.start();
        Future<Boolean> f = forkParked(() -> child.sleep(HOUR));
        parent.cancel();
        assertFalse(get(f));
        assertEquals(State.STOPPING, child.state());
    }

    /**
     * Start a worker, cancel it early: over many rounds, a cancel racing the worker's run()
     * from IDLE is never lost, whichever comes first; the loop always ends and the run stops.
     */
    @Test
    void run_workerCancelledAsItStartsManyRounds_neverMissesTheCancel() throws Exception {
        java.util.concurrent.CyclicBarrier barrier = new java.util.concurrent.CyclicBarrier(2);
        for (int round = 0; round < 1_000; round++) {
            RunState r = new RunState("worker");
            Future<?> f = pool.submit(() -> {
                barrier.await();
                r.run(() -> {
                    while (!r.isCancelled()) {
                        r.sleep(FOREVER);
                    }
                });
                return null;
            });
            barrier.await();
            r.cancel();
            get(f);
            assertEquals(State.STOPPED, r.state(), "round " + round);
            assertTrue(r.isCancelled(), "round " + round);
        }
    }

    /** The daemon-loop pattern: a cancel from another thread ends run() and join sees it. */
    @Test
    void run_daemonLoopCancelledFromOutside_endsAndStops() throws Exception {
        RunState r = new RunState("loop");
        CountDownLatch looping = new CountDownLatch(1);
        Future<Integer> f = pool.submit(() -> {
            int[] rounds = {0};
            r.run(() -> {
                while (!r.isCancelled()) {
                    rounds[0]++;
                    looping.countDown();
                    r.sleep(Duration.ofMillis(1));
                }
            });
            return rounds[0];
        });
        looping.await();
        r.cancel();
        assertTrue(r.join(Duration.ofSeconds(20)));
        assertTrue(get(f) >= 1);
        assertTrue(r.isCancelled());
    }

    /** A join made before any start waits for the stop of the first run, not for a moment of STOPPED. */
    @Test
    void join_beforeAnyStart_waitsForTheNextRunsStop() throws Exception {
        RunState r = new RunState("t");
        Future<Boolean> timed = forkParked(() -> r.join(FOREVER));
        Future<Boolean> untimed = forkParked(() -> {
            r.join();
            return true;
        });
        r.start();
        assertFalse(timed.isDone(), "a start ends no join");
        assertFalse(untimed.isDone(), "a start ends no join");
        r.stop();
        assertTrue(get(timed));
        assertTrue(get(untimed));
        assertEquals(State.STOPPED, r.state());
    }

    /** After a finished stop, join returns at once, untimed and with a zero timeout. */
    @Test
    void join_afterStop_returnsAtOnce() throws Exception {
        RunState r = new RunState("t");
        r.start();
        r.stop();
        r.join();
        assertTrue(r.join(Duration.ZERO));
        assertEquals(State.STOPPED, r.state());
    }

    /** join never ends a run itself: a timed join on a running RunState times out and leaves it running. */
    @Test
    void join_running_timesOutAndStopsNothing() throws Exception {
        RunState r = new RunState("t");
        r.start();
        assertFalse(r.join(Duration.ofMillis(20)));
        assertEquals(State.RUNNING, r.state());
        assertFalse(r.isCancelled());
        r.stop();
    }

    /** Both joins throw when interrupted on entry, even if already stopped, and clear the flag. */
    @Test
    void join_interruptedOnEntry_throwsNamingJoinAndClearsTheFlag() {
        RunState r = new RunState("t");
        r.start();
        r.stop();
        Thread.currentThread().interrupt();
        assertEquals("t: interrupted in join()",
                assertThrows(InterruptedException.class, r::join).getMessage());
        assertFalse(Thread.currentThread().isInterrupted());
        Thread.currentThread().interrupt();
        assertEquals("t: interrupted in join()",
                assertThrows(InterruptedException.class, () -> r.join(Duration.ZERO)).getMessage());
        assertFalse(Thread.currentThread().isInterrupted());
    }

    /** An untimed join parked while running throws when interrupted and the run goes on. */
    @Test
    void join_interruptedWhileParked_throwsAndChangesNothing() throws Exception {
        RunState r = new RunState("t");
        r.start();
        InterruptedException e = TestThreads.assertInterruptedWhileParked(() -> {
            r.join();
            return null;
        });
        assertEquals("t: interrupted in join()", e.getMessage());
        assertEquals(State.RUNNING, r.state());
        r.stop();
        assertTrue(r.join(Duration.ZERO));
    }
}
