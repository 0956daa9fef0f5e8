package dev.refkit;

import static dev.refkit.TestThreads.await;
import static dev.refkit.TestThreads.awaitParked;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.util.concurrent.MoreExecutors;
import dev.refkit.Task.Status;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The scenarios of trio's nursery tests ({@code test_run.py}) and giambio's task manager
 * tests, ported to {@link TaskGroup}: results, failures, cancellation, delays, nesting,
 * deadlines, {@code start}, protected tasks, supervision, spawning while closing, an
 * interrupted closer and spawning after close.
 */
@Timeout(60)
final class TaskGroupScenarioTest {

    /** Blocks until the calling thread is interrupted (a group's cancel interrupts tasks). */
    static void blockUntilInterrupted() throws InterruptedException {
        new CountDownLatch(1).await();
        throw new AssertionError("unreachable");
    }

    /** A latch that opens when {@code task} is done (failure recorded before it completes). */
    static CountDownLatch doneLatch(Task<?> task) {
        CountDownLatch l = new CountDownLatch(1);
        task.addListener(l::countDown, MoreExecutors.directExecutor());
        return l;
    }

    // ------------------------------------------------------------------ results

    /** Every task's result is kept and readable after close (giambio test_simple). */
    @Test
    void close_tasksReturnValues_resultsKept() throws Exception {
        Task<Integer> a;
        Task<String> b;
        Task<Void> c;
        AtomicBoolean cRan = new AtomicBoolean();
        try (TaskGroup g = TaskGroup.open("crawler")) {
            a = g.spawn(() -> 6 * 7);
            b = g.spawn(() -> "home");
            c = g.spawn(() -> cRan.set(true));
            assertEquals(42, a.join());
        }
        assertEquals(42, a.resultNow());
        assertEquals("home", b.resultNow());
        assertEquals("home", b.get());
        assertNull(c.join());
        assertTrue(cRan.get());
        for (Task<?> t : List.of(a, b, c)) {
            assertEquals(Status.SUCCEEDED, t.status(), t.name());
            assertTrue(t.isDone());
            assertFalse(t.isCancelled());
        }
    }

    /** open() without a name is named "tasks" (spec) and works like a named group. */
    @Test
    void open_noName_namedTasks() throws Exception {
        TaskGroup g = TaskGroup.open();
        assertEquals("tasks", g.name());
        Task<Integer> t = g.spawn(() -> 1);
        g.close();
        assertEquals(1, t.resultNow());
        assertEquals("tasks-1", t.name());
    }

    // ------------------------------------------------------------------ failures

    /** The first failure cancels the siblings and is thrown by close (trio test_nursery_cancel...). */
    @Test
    void close_firstFailure_cancelsSiblingsAndIsThrown() throws Exception {
        IllegalStateException boom = new IllegalStateException("boom");
        CountDownLatch siblingWaiting = new CountDownLatch(1);
        AtomicBoolean siblingInterrupted = new AtomicBoolean();
        TaskGroup g = TaskGroup.open("crawler");
        Task<Void> sibling = g.spawn(() -> {
            siblingWaiting.countDown();
            try {
                blockUntilInterrupted();
            } catch (InterruptedException e) {
                siblingInterrupted.set(true);
                throw e;
            }
        });
        Task<Void> failing = g.spawn(() -> {
            await(siblingWaiting);
            throw boom;
        });
        IllegalStateException thrown = assertThrows(IllegalStateException.class, g::close);
        assertSame(boom, thrown);
        assertTrue(siblingInterrupted.get(), "sibling was not interrupted");
        assertEquals(Status.CANCELLED, sibling.status());
        assertTrue(sibling.isCancelled());
        assertThrows(CancellationException.class, sibling::join);
        assertEquals(Status.FAILED, failing.status());
        assertSame(boom, failing.exceptionNow());
        assertTrue(g.runState().isCancelled());
        assertEquals(0, thrown.getSuppressed().length, "a cancelled sibling is no failure");
    }

    /** Failures after the first are suppressed on it in the order they happened (supervised). */
    @Test
    void close_threeFailuresInSequence_laterSuppressedInOrder() throws Exception {
        RuntimeException e1 = new RuntimeException("e1");
        RuntimeException e2 = new RuntimeException("e2");
        RuntimeException e3 = new RuntimeException("e3");
        TaskGroup g = TaskGroup.builder("crawler").cancelOnFailure(false).build();
        CountDownLatch go = new CountDownLatch(1);
        Task<Void> a = g.spawn(() -> {
            await(go);
            throw e1;
        });
        CountDownLatch aDone = doneLatch(a);
        Task<Void> b = g.spawn(() -> {
            await(aDone);
            throw e2;
        });
        CountDownLatch bDone = doneLatch(b);
        g.spawn(() -> {
            await(bDone);
            throw e3;
        });
        go.countDown();
        RuntimeException thrown = assertThrows(RuntimeException.class, g::close);
        assertSame(e1, thrown);
        assertArrayEquals(new Throwable[] {e2, e3}, thrown.getSuppressed());
    }

    /** Failures thrown after the cancel that are no cancellation are kept, suppressed (trio keeps them). */
    @Test
    void close_siblingsFailWhileCancelled_theirFailuresSuppressed() throws Exception {
        IllegalStateException first = new IllegalStateException("first");
        IllegalArgumentException second = new IllegalArgumentException("second");
        IllegalArgumentException third = new IllegalArgumentException("third");
        CountDownLatch waiting = new CountDownLatch(2);
        TaskGroup g = TaskGroup.open("crawler");
        for (RuntimeException later : List.of(second, third)) {
            g.spawn(() -> {
                waiting.countDown();
                try {
                    blockUntilInterrupted();
                } catch (InterruptedException e) {
                    throw later;
                }
            });
        }
        g.spawn(() -> {
            await(waiting);
            throw first;
        });
        IllegalStateException thrown = assertThrows(IllegalStateException.class, g::close);
        assertSame(first, thrown);
        Set<Throwable> suppressed = new HashSet<>(List.of(thrown.getSuppressed()));
        assertEquals(Set.of(second, third), suppressed);
        assertEquals(2, thrown.getSuppressed().length);
    }

    /** A checked failure reaches close wrapped once in LifecycleException with its cause. */
    @Test
    void close_checkedFailure_wrappedInLifecycleExceptionWithCause() throws Exception {
        IOException timeout = new IOException("timeout");
        TaskGroup g = TaskGroup.open("crawler");
        Task<String> fetch = g.spawn("fetch-3", () -> {
            throw timeout;
        });
        LifecycleException thrown = assertThrows(LifecycleException.class, g::close);
        assertEquals("crawler: task fetch-3 failed", thrown.getMessage());
        assertSame(timeout, thrown.getCause());
        LifecycleException fromJoin = assertThrows(LifecycleException.class, fetch::join);
        assertSame(thrown, fromJoin, "one wrapper per failed task");
        assertSame(timeout, fetch.exceptionNow(), "exceptionNow is the body's own exception");
        ExecutionException ee = assertThrows(ExecutionException.class, fetch::get);
        assertSame(timeout, ee.getCause(), "get()'s cause is the body's own exception");
        assertEquals(Status.FAILED, fetch.status());
    }

    // ------------------------------------------------------------------ delayed spawn

    /** A delayed task is SCHEDULED until its delay ends, then runs; close waits for it (giambio schedule). */
    @Test
    void spawnAfter_delay_runsAfterItAndCloseWaits() throws Exception {
        Duration delay = Duration.ofMillis(300);
        AtomicInteger runs = new AtomicInteger();
        AtomicReference<Long> ranAt = new AtomicReference<>();
        TaskGroup g = TaskGroup.open("crawler");
        long before = System.nanoTime();
        Task<String> t = g.spawnAfter(delay, () -> {
            ranAt.set(System.nanoTime());
            runs.incrementAndGet();
            return "sitemap";
        });
        long spawnedIn = System.nanoTime() - before;
        if (spawnedIn < delay.toNanos() / 2 && !t.isDone()) {
            assertEquals(Status.SCHEDULED, t.status());
            assertEquals(List.of(t), g.tasks(), "a scheduled task is part of the group");
        }
        g.close();
        assertEquals(1, runs.get());
        assertTrue(ranAt.get() - before >= delay.toNanos(),
                "ran after " + (ranAt.get() - before) + " ns, before the delay");
        assertEquals("sitemap", t.resultNow());
        assertEquals(Status.SUCCEEDED, t.status());
    }

    /** A delayed task whose group is cancelled before the delay ends never runs and is CANCELLED. */
    @Test
    void spawnAfter_groupCancelledBeforeDelay_neverRunsAndCancelled() throws Exception {
        AtomicBoolean ran = new AtomicBoolean();
        TaskGroup g = TaskGroup.open("crawler");
        Task<Void> t = g.spawnAfter(Duration.ofHours(1), () -> ran.set(true));
        assertEquals(Status.SCHEDULED, t.status());
        g.cancel();
        assertEquals(Status.CANCELLED, t.status(), "cancelled at once");
        assertTrue(t.isCancelled());
        assertTrue(t.isDone());
        assertEquals(List.of(), g.tasks(), "cancelled before it began: it has ended");
        g.close(); // returns long before the hour: the class timeout would fail it otherwise
        assertFalse(ran.get());
        assertThrows(CancellationException.class, t::join);
    }

    // ------------------------------------------------------------------ nesting

    /** Cancelling the outer group cancels a group opened inside one of its tasks (trio nested nurseries). */
    @Test
    void cancel_outerGroup_cancelsInnerGroupOpenedInItsTask() throws Exception {
        CountDownLatch innerWaiting = new CountDownLatch(1);
        AtomicReference<TaskGroup> innerGroup = new AtomicReference<>();
        AtomicReference<Task<Void>> innerTask = new AtomicReference<>();
        TaskGroup outer = TaskGroup.open("outer");
        Task<Void> outerTask = outer.spawn(() -> {
            try (TaskGroup inner = TaskGroup.open("inner")) {
                innerGroup.set(inner);
                innerTask.set(inner.spawn(() -> {
                    innerWaiting.countDown();
                    blockUntilInterrupted();
                }));
            }
        });
        await(innerWaiting);
        outer.cancel("shutdown");
        outer.close();
        assertTrue(innerGroup.get().runState().isCancelled(), "inner group not cancelled");
        assertEquals(Status.CANCELLED, innerTask.get().status());
        assertTrue(outerTask.isDone());
        assertFalse(outerTask.status() == Status.FAILED, "a cancel is no failure: " + outerTask);
    }

    /** A group whose parent RunState is cancelled is cancelled, its tasks interrupted. */
    @Test
    void cancel_parentRunState_cancelsGroup() throws Exception {
        RunState parent = new RunState("server");
        parent.start();
        CountDownLatch waiting = new CountDownLatch(1);
        TaskGroup g = TaskGroup.builder("workers").parent(parent).build();
        Task<Void> t = g.spawn(() -> {
            waiting.countDown();
            blockUntilInterrupted();
        });
        await(waiting);
        parent.cancel("stop");
        g.close();
        assertTrue(g.runState().isCancelled());
        assertEquals(Status.CANCELLED, t.status());
    }

    // ------------------------------------------------------------------ deadlines

    /** failAfter cancels the group when the time is up and close throws DeadlineExceededException. */
    @Test
    void close_failAfterElapsed_throwsDeadlineExceededWithExactMessage() throws Exception {
        TaskGroup g = TaskGroup.builder("crawler").failAfter(Duration.ofMillis(200)).build();
        Task<Void> t = g.spawn(() -> blockUntilInterrupted());
        TaskGroup.DeadlineExceededException e =
                assertThrows(TaskGroup.DeadlineExceededException.class, g::close);
        assertEquals("crawler: deadline PT0.2S exceeded", e.getMessage());
        assertEquals(Duration.ofMillis(200), e.deadline());
        assertTrue(g.runState().isCancelled());
        assertEquals(Status.CANCELLED, t.status());
    }

    /** join (not only close) throws the deadline too, once every task has ended. */
    @Test
    void join_failAfterElapsed_throwsDeadlineExceeded() throws Exception {
        TaskGroup g = TaskGroup.builder("crawler").failAfter(Duration.ofMillis(100)).build();
        AtomicBoolean ended = new AtomicBoolean();
        g.spawn(() -> {
            try {
                g.runState().awaitCancellation(Duration.ofHours(1));
            } finally {
                ended.set(true);
            }
        });
        assertThrows(TaskGroup.DeadlineExceededException.class, g::join);
        assertTrue(ended.get(), "join threw before the task ended");
        g.close(); // the deadline was delivered by join: nothing more
    }

    /** moveOnAfter cancels the group quietly: close returns normally (trio move_on_after). */
    @Test
    void close_moveOnAfterElapsed_returnsNormally() throws Exception {
        TaskGroup g = TaskGroup.builder("crawler").moveOnAfter(Duration.ofMillis(200)).build();
        Task<Void> t = g.spawn(() -> blockUntilInterrupted());
        g.close();
        assertTrue(g.runState().isCancelled(), "the deadline did not cancel the group");
        assertEquals(Status.CANCELLED, t.status());
    }

    /** A group whose tasks end before its failAfter deadline closes normally (trio fail_after not hit). */
    @Test
    void close_failAfterNotReached_returnsNormally() throws Exception {
        TaskGroup g = TaskGroup.builder("crawler").failAfter(Duration.ofHours(1)).build();
        Task<Integer> t = g.spawn(() -> 1);
        g.close();
        assertEquals(1, t.resultNow());
        assertFalse(g.runState().isCancelled());
    }

    /** A task's failure under failAfter is thrown instead of the deadline. */
    @Test
    void close_failAfterAndTaskFailed_throwsTaskFailure() throws Exception {
        IllegalStateException boom = new IllegalStateException("boom");
        TaskGroup g = TaskGroup.builder("crawler").failAfter(Duration.ofMillis(100)).build();
        g.spawn(() -> {
            try {
                blockUntilInterrupted();
            } catch (InterruptedException e) {
                throw boom; // not a cancellation exception: a failure, thrown after the cancel
            }
        });
        RuntimeException thrown = assertThrows(RuntimeException.class, g::close);
        assertSame(boom, thrown);
    }

    // ------------------------------------------------------------------ start

    /** start returns the value the task signals, and the task goes on running (trio nursery.start). */
    @Test
    void start_taskSignals_returnsValueAndTaskGoesOn() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        AtomicBoolean finished = new AtomicBoolean();
        TaskGroup g = TaskGroup.open("server");
        int port = g.start(started -> {
            started.started(8080);
            await(release);
            finished.set(true);
        });
        assertEquals(8080, port);
        assertEquals(1, g.tasks().size(), "the started task no longer runs: " + g.tasks());
        assertFalse(finished.get());
        release.countDown();
        g.close();
        assertTrue(finished.get(), "close returned before the started task ended");
    }

    /** start of a task that fails before signalling throws that failure; close does not throw it again. */
    @Test
    void start_taskFailsBeforeSignal_throwsItsFailureAndCloseReturns() throws Exception {
        IllegalStateException boom = new IllegalStateException("boom");
        TaskGroup g = TaskGroup.open("server");
        RuntimeException thrown = assertThrows(RuntimeException.class, () -> g.start(started -> {
            throw boom;
        }));
        assertSame(boom, thrown);
        g.close(); // no self-suppression: the instance was already delivered to this thread
        assertTrue(g.runState().isCancelled(), "the failure is a group failure and cancels it");
    }

    /** start of a task that fails with a checked exception throws the task's LifecycleException. */
    @Test
    void start_taskFailsCheckedBeforeSignal_throwsLifecycleException() throws Exception {
        IOException io = new IOException("bind");
        TaskGroup g = TaskGroup.open("server");
        LifecycleException thrown = assertThrows(LifecycleException.class, () -> g.start(started -> {
            throw io;
        }));
        assertSame(io, thrown.getCause());
        assertEquals("server: task server-1 failed", thrown.getMessage());
        g.close();
    }

    /** start of a task that returns without started() throws IllegalStateException, not a group failure. */
    @Test
    void start_taskReturnsWithoutSignal_throwsIllegalStateNotGroupFailure() throws Exception {
        TaskGroup g = TaskGroup.open("server");
        IllegalStateException thrown = assertThrows(IllegalStateException.class,
                () -> g.start(started -> { }));
        assertEquals("server: task server-1 ended without started()", thrown.getMessage());
        assertFalse(g.runState().isCancelled(), "not a group failure, so no cancel");
        Task<Integer> after = g.spawn(() -> 2);
        g.close(); // nothing to throw
        assertEquals(2, after.resultNow());
    }

    /** start returns at once when a sibling fails before the task signals, never hangs (trio #1431). */
    @Test
    void start_siblingFailsFirst_throwsGroupFailureAtOnce() throws Exception {
        IllegalStateException boom = new IllegalStateException("boom");
        CountDownLatch inBody = new CountDownLatch(1);
        TaskGroup g = TaskGroup.open("server");
        g.spawn(() -> {
            await(inBody);
            throw boom;
        });
        RuntimeException thrown = assertThrows(RuntimeException.class, () -> g.start(started -> {
            inBody.countDown();
            blockUntilInterrupted(); // never signals: the group's cancel must free start()
        }));
        assertSame(boom, thrown);
        g.close(); // delivered by start: not thrown again
    }

    /** start returns at once with a CancellationException naming group and reason on cancel. */
    @Test
    void start_groupCancelledBeforeSignal_throwsCancellationNamingReason() throws Exception {
        CountDownLatch inBody = new CountDownLatch(1);
        TaskGroup g = TaskGroup.open("server");
        TestThreads.start(() -> {
            try {
                inBody.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            g.cancel("shutdown");
        });
        CancellationException thrown = assertThrows(CancellationException.class,
                () -> g.start(started -> {
                    inBody.countDown();
                    blockUntilInterrupted();
                }));
        assertEquals("server: cancelled: shutdown", thrown.getMessage());
        g.close(); // a cancel is not a failure
    }

    /** start(Duration) cancels the task alone and throws TimeoutException when it does not signal in time. */
    @Test
    void start_timeoutBeforeSignal_throwsTimeoutAndCancelsTaskAlone() throws Exception {
        AtomicBoolean interrupted = new AtomicBoolean();
        TaskGroup g = TaskGroup.open("server");
        CountDownLatch siblingGo = new CountDownLatch(1);
        Task<String> sibling = g.spawn(() -> {
            await(siblingGo);
            return "alive";
        });
        assertThrows(TimeoutException.class, () -> g.start(Duration.ofMillis(100), started -> {
            try {
                blockUntilInterrupted();
            } catch (InterruptedException e) {
                interrupted.set(true);
                throw e;
            }
        }));
        assertFalse(g.runState().isCancelled(), "the timeout cancels the task alone");
        siblingGo.countDown();
        g.close(); // the timed-out task counts as cancelled, not failed
        assertTrue(interrupted.get(), "the timeout cancels as cancel(true) does");
        assertEquals("alive", sibling.resultNow());
    }

    /** start(Duration) whose task signals in time returns the value. */
    @Test
    void start_timeoutAndSignalInTime_returnsValue() throws Exception {
        TaskGroup g = TaskGroup.open("server");
        String v = g.start(Duration.ofSeconds(TestThreads.WAIT_S), started -> started.started("up"));
        assertEquals("up", v);
        g.close();
    }

    // ------------------------------------------------------------------ protected

    /** A protected task's failure is logged, cancels nobody and is not thrown by close; its join throws it. */
    @Test
    void spawnProtected_fails_loggedNotCancellingNotThrown() throws Exception {
        IllegalStateException bad = new IllegalStateException("bad-heartbeat");
        PrintStream err = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
        Task<Void> guard;
        Task<Boolean> sibling;
        TaskGroup g = TaskGroup.open("conn");
        try {
            guard = g.spawnProtected("heartbeat", () -> {
                throw bad;
            });
            CountDownLatch guardDone = doneLatch(guard);
            sibling = g.spawn(() -> {
                await(guardDone);
                return g.runState().isCancelled();
            });
            g.close(); // must not throw the protected failure
        } finally {
            System.setErr(err);
        }
        assertEquals(false, sibling.resultNow(), "the protected failure cancelled the group");
        assertEquals(Status.SUCCEEDED, sibling.status());
        assertSame(bad, assertThrows(IllegalStateException.class, guard::join));
        assertEquals(Status.FAILED, guard.status());
        String log = captured.toString(StandardCharsets.UTF_8);
        assertTrue(log.contains("heartbeat") && log.contains("conn") && log.contains("bad-heartbeat"),
                "protected failure not logged with task and group names: " + log);
    }

    // ------------------------------------------------------------------ supervising

    /** A supervising group: a failure cancels nobody and is still thrown by close (supervisorScope). */
    @Test
    void close_supervisingGroupTaskFails_siblingsGoOnAndFailureThrown() throws Exception {
        IllegalStateException boom = new IllegalStateException("boom");
        TaskGroup g = TaskGroup.builder("workers").cancelOnFailure(false).build();
        Task<Void> failing = g.spawn(() -> {
            throw boom;
        });
        CountDownLatch failed = doneLatch(failing);
        Task<String> sibling = g.spawn(() -> {
            await(failed);
            assertFalse(Thread.currentThread().isInterrupted(), "sibling interrupted");
            return g.runState().isCancelled() ? "cancelled" : "went on";
        });
        Task<String> later = g.spawn(() -> {
            await(failed);
            return "spawned fine";
        });
        RuntimeException thrown = assertThrows(RuntimeException.class, g::close);
        assertSame(boom, thrown);
        assertEquals("went on", sibling.resultNow());
        assertEquals("spawned fine", later.resultNow());
    }

    // ------------------------------------------------------------------ closing

    /** A task may spawn a sibling while close() waits; close waits for it too. */
    @Test
    void close_taskSpawnsWhileClosing_closeWaitsForNewTask() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger childRuns = new AtomicInteger();
        CountDownLatch childMayEnd = new CountDownLatch(1);
        AtomicReference<Task<Void>> child = new AtomicReference<>();
        TaskGroup g = TaskGroup.open("crawler");
        g.spawn(() -> {
            await(release);
            child.set(g.spawn(() -> {
                childRuns.incrementAndGet();
                await(childMayEnd);
            }));
        });
        TestThreads.Call closer = TestThreads.startCall(() -> {
            g.close();
            return null;
        });
        awaitParked(closer.thread);
        assertTrue(g.toString().contains("CLOSING"), g.toString());
        release.countDown();
        // the closer must keep waiting for the child, which cannot end yet
        while (child.get() == null || childRuns.get() == 0) {
            assertTrue(closer.thread.isAlive(), "close returned while a task still ran");
            Thread.onSpinWait();
        }
        awaitParked(closer.thread);
        assertTrue(closer.thread.isAlive(), "close returned before the child ended");
        childMayEnd.countDown();
        assertNull(closer.join());
        assertEquals(1, childRuns.get());
        assertEquals(Status.SUCCEEDED, child.get().status());
        assertTrue(g.toString().contains("CLOSED"), g.toString());
    }

    /** Interrupting the closer cancels the group; close still waits, and returns with the flag set. */
    @Test
    void close_closerInterrupted_cancelsGroupWaitsAndKeepsFlag() throws Exception {
        CountDownLatch waiting = new CountDownLatch(1);
        CountDownLatch woken = new CountDownLatch(1);
        CountDownLatch mayEnd = new CountDownLatch(1);
        AtomicBoolean flagAfterClose = new AtomicBoolean();
        TaskGroup g = TaskGroup.open("crawler");
        Task<String> t = g.spawn(() -> {
            waiting.countDown();
            try {
                blockUntilInterrupted();
            } catch (InterruptedException e) {
                woken.countDown();
            }
            await(mayEnd);
            return "ended late";
        });
        await(waiting);
        TestThreads.Call closer = TestThreads.startCall(() -> {
            try {
                g.close();
            } finally {
                flagAfterClose.set(Thread.currentThread().isInterrupted());
            }
            return null;
        });
        awaitParked(closer.thread);
        closer.thread.interrupt();
        await(woken);
        assertTrue(g.runState().isCancelled(), "the interrupt did not cancel the group");
        awaitParked(closer.thread);
        assertTrue(closer.thread.isAlive(), "close stopped waiting on interrupt");
        assertFalse(t.isDone());
        mayEnd.countDown();
        assertNull(closer.join(), "close threw after an interrupt");
        assertTrue(flagAfterClose.get(), "close cleared the interrupt flag");
        assertEquals("ended late", t.resultNow());
    }

    /** Every spawn method and start throw ClosedException after close. */
    @Test
    void spawn_afterClose_throwsClosedException() throws Exception {
        TaskGroup g = TaskGroup.open("crawler");
        g.close();
        String msg = "crawler: task group closed";
        assertEquals(msg, assertThrows(ClosedException.class, () -> g.spawn(() -> 1)).getMessage());
        assertEquals(msg, assertThrows(ClosedException.class, () -> g.spawn(() -> { })).getMessage());
        assertEquals(msg, assertThrows(ClosedException.class, () -> g.spawn("n", () -> 1)).getMessage());
        assertEquals(msg, assertThrows(ClosedException.class,
                () -> g.spawnAfter(Duration.ofMillis(1), () -> 1)).getMessage());
        assertEquals(msg, assertThrows(ClosedException.class,
                () -> g.spawnAfter("n", Duration.ZERO, () -> { })).getMessage());
        assertEquals(msg, assertThrows(ClosedException.class, () -> g.spawnProtected(() -> 1)).getMessage());
        assertEquals(msg, assertThrows(ClosedException.class,
                () -> g.spawnProtected("n", () -> { })).getMessage());
        assertEquals(msg, assertThrows(ClosedException.class,
                () -> g.start(s -> s.started(1))).getMessage());
        assertEquals(msg, assertThrows(ClosedException.class,
                () -> g.start(Duration.ofSeconds(1), s -> s.started(1))).getMessage());
        assertEquals(List.of(), g.tasks());
    }

    /** After cancel and before close, spawn returns a task already CANCELLED that never runs. */
    @Test
    void spawn_afterCancel_returnsCancelledTaskThatNeverRuns() throws Exception {
        AtomicBoolean ran = new AtomicBoolean();
        TaskGroup g = TaskGroup.open("crawler");
        g.cancel("enough");
        Task<Void> t = g.spawn(() -> ran.set(true));
        assertEquals(Status.CANCELLED, t.status());
        assertTrue(t.isCancelled());
        assertTrue(t.isDone());
        Task<Integer> p = g.spawnProtected(() -> {
            ran.set(true);
            return 1;
        });
        assertEquals(Status.CANCELLED, p.status());
        Task<Integer> d = g.spawnAfter(Duration.ZERO, () -> {
            ran.set(true);
            return 1;
        });
        assertEquals(Status.CANCELLED, d.status());
        g.close(); // a cancel is not a failure
        assertFalse(ran.get(), "a task spawned after cancel ran");
        CancellationException ce = assertThrows(CancellationException.class, t::join);
        assertTrue(ce.getMessage().contains("crawler") && ce.getMessage().contains("enough"),
                ce.getMessage());
    }
}
