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
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.channels.ClosedByInterruptException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Queue;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Hostile tests of {@link TaskGroup} and {@link Task}: the edge cases of the #10 spec. */
@Timeout(120)
final class TaskGroupAttackTest {

    /** Blocks until the calling thread is interrupted (a group's cancel interrupts its tasks). */
    static void blockUntilInterrupted() throws InterruptedException {
        new CountDownLatch(1).await();
        throw new AssertionError("unreachable");
    }

    /** A latch that opens when {@code task} is done (its failure is recorded before that). */
    static CountDownLatch doneLatch(Task<?> task) {
        CountDownLatch l = new CountDownLatch(1);
        task.addListener(l::countDown, MoreExecutors.directExecutor());
        return l;
    }

    /** Spawns a task that records its thread and blocks until interrupted; returns once it waits. */
    static Task<Void> spawnBlocked(TaskGroup g, String name) throws InterruptedException {
        AtomicReference<Thread> thread = new AtomicReference<>();
        CountDownLatch in = new CountDownLatch(1);
        Task<Void> t = g.spawn(name, () -> {
            thread.set(Thread.currentThread());
            in.countDown();
            blockUntilInterrupted();
        });
        await(in);
        awaitParked(thread.get());
        return t;
    }

    // ------------------------------------------------------------------ no self-suppression

    /** try-with-resources around a.join() that threw the task's failure keeps it, unsuppressed by itself. */
    @Test
    void tryWithResources_joinThrewTaskFailure_noSelfSuppression() {
        IllegalStateException boom = new IllegalStateException("boom");
        Throwable caught = assertThrows(IllegalStateException.class, () -> {
            try (TaskGroup g = TaskGroup.open("crawler")) {
                Task<Void> a = g.spawn(() -> {
                    throw boom;
                });
                a.join();
            }
        });
        assertSame(boom, caught);
        assertArrayEquals(new Throwable[0], caught.getSuppressed());
    }

    /** The same for a checked failure: the one LifecycleException instance, no self-suppression. */
    @Test
    void tryWithResources_joinThrewCheckedFailure_noSelfSuppression() {
        IOException io = new IOException("timeout");
        LifecycleException caught = assertThrows(LifecycleException.class, () -> {
            try (TaskGroup g = TaskGroup.open("crawler")) {
                Task<Void> a = g.spawn("fetch-3", () -> {
                    throw io;
                });
                a.join();
            }
        });
        assertSame(io, caught.getCause());
        assertArrayEquals(new Throwable[0], caught.getSuppressed());
    }

    /** After a.join() delivered the failure, a later failure is still attached to it by close. */
    @Test
    void tryWithResources_joinThrewThenSiblingFails_laterFailureSuppressedOnFirst() {
        IllegalStateException boom = new IllegalStateException("boom");
        IllegalArgumentException later = new IllegalArgumentException("later");
        Throwable caught = assertThrows(IllegalStateException.class, () -> {
            try (TaskGroup g = TaskGroup.builder("crawler").cancelOnFailure(false).build()) {
                CountDownLatch joined = new CountDownLatch(1);
                Task<Void> a = g.spawn(() -> {
                    throw boom;
                });
                g.spawn(() -> {
                    await(joined);
                    throw later;
                });
                try {
                    a.join();
                } finally {
                    joined.countDown();
                }
            }
        });
        assertSame(boom, caught);
        assertArrayEquals(new Throwable[] {later}, caught.getSuppressed());
    }

    /** The group's own join delivered the failure: close then returns normally. */
    @Test
    void close_afterGroupJoinThrewFailure_returnsNormally() throws Exception {
        IllegalStateException boom = new IllegalStateException("boom");
        TaskGroup g = TaskGroup.open("crawler");
        g.spawn(() -> {
            throw boom;
        });
        assertSame(boom, assertThrows(IllegalStateException.class, g::join));
        g.close();
    }

    /** Another thread's close still throws a failure that a task's join threw to this thread. */
    @Test
    void close_failureDeliveredToOtherThreadOnly_stillThrown() throws Exception {
        IllegalStateException boom = new IllegalStateException("boom");
        TaskGroup g = TaskGroup.open("crawler");
        Task<Void> a = g.spawn(() -> {
            throw boom;
        });
        Throwable other = TestThreads.startCall(a::join).join();
        assertSame(boom, other);
        assertSame(boom, assertThrows(IllegalStateException.class, g::close),
                "delivered to another thread, not to the closer: close must throw it");
    }

    // ------------------------------------------------------------------ misuse from inside

    /** join() and close() from a task of the group throw IllegalStateException instead of waiting for themselves. */
    @Test
    void joinAndClose_fromOwnTask_throwIllegalState() throws Exception {
        TaskGroup g = TaskGroup.open("crawler");
        Task<Throwable> joinInside = g.spawn(() -> {
            try {
                g.join();
                return null;
            } catch (Throwable e) {
                return e;
            }
        });
        Task<Throwable> closeInside = g.spawn(() -> {
            try {
                g.close();
                return null;
            } catch (Throwable e) {
                return e;
            }
        });
        g.close();
        assertTrue(joinInside.resultNow() instanceof IllegalStateException, String.valueOf(joinInside.resultNow()));
        assertTrue(closeInside.resultNow() instanceof IllegalStateException, String.valueOf(closeInside.resultNow()));
        assertFalse(joinInside.resultNow() instanceof ClosedException, "not a closed-group error");
        assertTrue(joinInside.resultNow().getMessage().startsWith("crawler: "), joinInside.resultNow().getMessage());
        assertTrue(closeInside.resultNow().getMessage().startsWith("crawler: "), closeInside.resultNow().getMessage());
    }

    /** A task of an outer group may join and close an inner group it opened. */
    @Test
    void join_innerGroupFromOuterTask_allowed() throws Exception {
        TaskGroup outer = TaskGroup.open("outer");
        Task<Integer> t = outer.spawn(() -> {
            TaskGroup inner = TaskGroup.open("inner");
            Task<Integer> x = inner.spawn(() -> 5);
            inner.join();
            inner.close();
            return x.resultNow();
        });
        outer.close();
        assertEquals(5, t.resultNow());
    }

    // ------------------------------------------------------------------ close twice, concurrent closers

    /** A second close after the first threw returns at once and throws nothing. */
    @Test
    void close_twiceAfterFailure_secondReturnsQuietly() throws Exception {
        IllegalStateException boom = new IllegalStateException("boom");
        TaskGroup g = TaskGroup.open("crawler");
        g.spawn(() -> {
            throw boom;
        });
        assertSame(boom, assertThrows(IllegalStateException.class, g::close));
        g.close();
        TestThreads.Call other = TestThreads.startCall(() -> {
            g.close();
            return null;
        });
        assertNull(other.join(), "a close after close, even on another thread, throws nothing");
    }

    /** A second close after a failAfter deadline was thrown returns quietly too. */
    @Test
    void close_twiceAfterDeadline_secondReturnsQuietly() {
        TaskGroup g = TaskGroup.builder("crawler").failAfter(Duration.ZERO).build();
        TaskGroup.DeadlineExceededException e =
                assertThrows(TaskGroup.DeadlineExceededException.class, g::close);
        assertEquals("crawler: deadline PT0S exceeded", e.getMessage());
        g.close();
    }

    /** Two closers at once both wait for the tasks; neither returns while a task runs. */
    @Test
    void close_twoConcurrentClosers_bothWaitForTasks() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        AtomicBoolean taskEnded = new AtomicBoolean();
        TaskGroup g = TaskGroup.open("crawler");
        Task<Void> t = g.spawn(() -> {
            await(release);
            taskEnded.set(true);
        });
        AtomicBoolean sawEnd1 = new AtomicBoolean();
        AtomicBoolean sawEnd2 = new AtomicBoolean();
        TestThreads.Call c1 = TestThreads.startCall(() -> {
            g.close();
            sawEnd1.set(taskEnded.get());
            return null;
        });
        TestThreads.Call c2 = TestThreads.startCall(() -> {
            g.close();
            sawEnd2.set(taskEnded.get());
            return null;
        });
        awaitParked(c1.thread);
        awaitParked(c2.thread);
        assertFalse(t.isDone());
        release.countDown();
        assertNull(c1.join());
        assertNull(c2.join());
        assertTrue(sawEnd1.get(), "closer 1 returned before the task ended");
        assertTrue(sawEnd2.get(), "closer 2 returned before the task ended");
    }

    // ------------------------------------------------------------------ cancel reasons

    /** RunState.cancel(String): the first cancel decides the reason, exactly as given. */
    @Test
    void runStateCancel_reasons_firstDecidesExactString() {
        RunState r = new RunState("indexer");
        r.start();
        assertEquals(Optional.empty(), r.cancelReason());
        r.cancel("disk full");
        r.cancel("later");
        r.cancel();
        assertEquals(Optional.of("disk full"), r.cancelReason());
        RunState q = new RunState("q");
        q.start();
        q.cancel();
        q.cancel("too late");
        assertEquals(Optional.empty(), q.cancelReason(), "a cancel() without reason decides: none");
        assertThrows(NullPointerException.class, () -> q.cancel(null));
    }

    /** TaskGroup.cancel(String): first reason kept in the RunState; the cancelled tasks' join names group and reason. */
    @Test
    void cancel_withReasons_firstDecidesAndJoinNamesGroupAndReason() throws Exception {
        TaskGroup g = TaskGroup.open("crawler");
        assertEquals(Optional.empty(), g.runState().cancelReason());
        Task<Void> t = spawnBlocked(g, "poll");
        g.cancel("user pressed stop");
        g.cancel("second");
        g.cancel();
        assertEquals(Optional.of("user pressed stop"), g.runState().cancelReason());
        g.close();
        CancellationException e = assertThrows(CancellationException.class, t::join);
        assertEquals("crawler: cancelled: user pressed stop", e.getMessage());
        assertThrows(CancellationException.class, t::get); // the spec names join()'s message only
    }

    /** cancel() without a reason keeps cancelReason empty, even if a reason comes later. */
    @Test
    void cancel_withoutReasonFirst_reasonStaysEmpty() throws Exception {
        TaskGroup g = TaskGroup.open("crawler");
        Task<Void> t = spawnBlocked(g, "poll");
        g.cancel();
        g.cancel("ignored");
        assertEquals(Optional.empty(), g.runState().cancelReason());
        g.close();
        CancellationException e = assertThrows(CancellationException.class, t::join);
        assertTrue(e.getMessage().startsWith("crawler"), e.getMessage());
        assertFalse(e.getMessage().contains("ignored"), e.getMessage());
    }

    /** A cancel caused by a failure names the task that failed first, with its exception. */
    @Test
    void cancel_fromFailure_reasonNamesFailingTask() throws Exception {
        TaskGroup g = TaskGroup.open("crawler");
        Task<Void> sibling = spawnBlocked(g, "poll");
        g.spawn("fetch-3", () -> {
            throw new IOException("timeout");
        });
        LifecycleException thrown = assertThrows(LifecycleException.class, g::close);
        assertEquals("crawler: task fetch-3 failed", thrown.getMessage());
        CancellationException e = assertThrows(CancellationException.class, sibling::join);
        assertEquals("crawler: cancelled: task fetch-3 failed (java.io.IOException: timeout)",
                e.getMessage());
        assertEquals(Optional.of("task fetch-3 failed (java.io.IOException: timeout)"),
                g.runState().cancelReason());
    }

    /** cancel(null) is a NullPointerException and cancels nothing. */
    @Test
    void cancel_nullReason_throwsNpeAndCancelsNothing() throws Exception {
        TaskGroup g = TaskGroup.open("crawler");
        assertThrows(NullPointerException.class, () -> g.cancel(null));
        assertFalse(g.runState().isCancelled());
        g.close();
    }

    // ------------------------------------------------------------------ names and toString

    /** Task names GROUP-N count over every spawn, named or not; the named forms keep their name. */
    @Test
    void name_mixedSpawns_countsEverySpawn() throws Exception {
        TaskGroup g = TaskGroup.open("crawler");
        List<String> names = new ArrayList<>();
        names.add(g.spawn(() -> 1).name());
        names.add(g.spawn("home", () -> 2).name());
        names.add(g.spawn(() -> { }).name());
        names.add(g.spawnAfter(Duration.ZERO, () -> 3).name());
        names.add(g.spawnAfter("map", Duration.ZERO, () -> { }).name());
        names.add(g.spawnProtected(() -> 4).name());
        names.add(g.spawnProtected("guard", () -> { }).name());
        names.add(g.spawn("x", () -> { }).name());
        names.add(g.spawn(() -> 5).name());
        g.close();
        assertEquals(List.of("crawler-1", "home", "crawler-3", "crawler-4", "map", "crawler-6",
                "guard", "x", "crawler-9"), names);
    }

    /** toString: OPEN with the running count, then CLOSING while close waits, then CLOSED. */
    @Test
    void toString_lifecycle_matchesFormat() throws Exception {
        TaskGroup g = TaskGroup.open("crawler");
        assertEquals("TaskGroup[crawler]{OPEN, running=0, failed=0}", g.toString());
        List<Task<Void>> blocked = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            blocked.add(spawnBlocked(g, "b" + i));
        }
        g.spawnAfter(Duration.ofHours(1), () -> { }); // scheduled: not running
        assertEquals("TaskGroup[crawler]{OPEN, running=3, failed=0}", g.toString());
        TestThreads.Call closer = TestThreads.startCall(() -> {
            g.close();
            return null;
        });
        awaitParked(closer.thread);
        assertEquals("TaskGroup[crawler]{CLOSING, running=3, failed=0}", g.toString());
        g.cancel();
        assertNull(closer.join());
        assertEquals("TaskGroup[crawler]{CLOSED, running=0, failed=0}", g.toString());
    }

    /** toString counts failed tasks; a failure is recorded before its task completes. */
    @Test
    void toString_afterTaskJoinThrew_countsFailure() throws Exception {
        TaskGroup g = TaskGroup.builder("crawler").cancelOnFailure(false).build();
        Task<Void> f = g.spawn(() -> {
            throw new IllegalStateException("x");
        });
        assertThrows(IllegalStateException.class, f::join);
        assertEquals("TaskGroup[crawler]{OPEN, running=0, failed=1}", g.toString(),
                "the failure was not recorded before the task completed");
        g.close(); // f.join() delivered the failure to this thread: not thrown again
        assertEquals("TaskGroup[crawler]{CLOSED, running=0, failed=1}", g.toString());
    }

    // ------------------------------------------------------------------ Task status and Future contract

    /** status goes SCHEDULED, RUNNING, SUCCEEDED; and FAILED or CANCELLED; never changes once done. */
    @Test
    void status_transitions_followLife() throws Exception {
        TaskGroup g = TaskGroup.open("crawler");
        CountDownLatch inBody = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Task<String> t = g.spawn(() -> {
            inBody.countDown();
            await(release);
            return "ok";
        });
        await(inBody);
        assertEquals(Status.RUNNING, t.status());
        assertFalse(t.isDone());
        Task<Void> scheduled = g.spawnAfter(Duration.ofHours(1), () -> { });
        assertEquals(Status.SCHEDULED, scheduled.status());
        assertFalse(scheduled.isDone());
        release.countDown();
        assertEquals("ok", t.join());
        assertEquals(Status.SUCCEEDED, t.status());
        assertTrue(scheduled.cancel(false));
        assertEquals(Status.CANCELLED, scheduled.status());
        assertFalse(t.cancel(true), "cancel of a done task changes nothing");
        assertEquals(Status.SUCCEEDED, t.status());
        assertFalse(t.isCancelled());
        g.close();
        assertEquals(Status.SUCCEEDED, t.status());
        assertEquals(Status.CANCELLED, scheduled.status());
    }

    /** resultNow and exceptionNow throw IllegalStateException when not applicable, as Future's do. */
    @Test
    void resultNowExceptionNow_eachState_followFutureContract() throws Exception {
        TaskGroup g = TaskGroup.builder("crawler").cancelOnFailure(false).build();
        CountDownLatch release = new CountDownLatch(1);
        Task<String> running = g.spawn(() -> {
            await(release);
            return "r";
        });
        assertThrows(IllegalStateException.class, running::resultNow);
        assertThrows(IllegalStateException.class, running::exceptionNow);
        IllegalStateException bodyEx = new IllegalStateException("body");
        Task<String> failed = g.spawn(() -> {
            throw bodyEx;
        });
        IOException checked = new IOException("io");
        Task<String> failedChecked = g.spawn(() -> {
            throw checked;
        });
        Task<String> ok = g.spawn(() -> "fine");
        Task<Void> cancelled = g.spawnAfter(Duration.ofHours(1), () -> { });
        cancelled.cancel(true);
        release.countDown();
        assertThrows(RuntimeException.class, g::close);
        assertEquals("r", running.resultNow());
        assertThrows(IllegalStateException.class, running::exceptionNow);
        assertEquals("fine", ok.resultNow());
        assertThrows(IllegalStateException.class, ok::exceptionNow);
        assertSame(bodyEx, failed.exceptionNow());
        assertThrows(IllegalStateException.class, failed::resultNow);
        assertSame(checked, failedChecked.exceptionNow(), "exceptionNow is never the wrapper");
        assertThrows(IllegalStateException.class, failedChecked::resultNow);
        assertThrows(IllegalStateException.class, cancelled::resultNow);
        assertThrows(IllegalStateException.class, cancelled::exceptionNow);
        ExecutionException e1 = assertThrows(ExecutionException.class, failed::get);
        assertSame(bodyEx, e1.getCause());
        ExecutionException e2 = assertThrows(ExecutionException.class, failedChecked::get);
        assertSame(checked, e2.getCause(), "get()'s cause is the body's exception, not the LifecycleException");
        ExecutionException e3 = assertThrows(ExecutionException.class,
                () -> failedChecked.get(1, java.util.concurrent.TimeUnit.SECONDS));
        assertSame(checked, e3.getCause());
        LifecycleException j = assertThrows(LifecycleException.class, failedChecked::join);
        assertSame(checked, j.getCause());
        assertSame(j, assertThrows(LifecycleException.class, failedChecked::join), "one wrapper");
        assertSame(j, assertThrows(LifecycleException.class,
                () -> failedChecked.join(Duration.ofSeconds(1))), "one wrapper for join(Duration) too");
        assertThrows(CancellationException.class, cancelled::get);
    }

    /** join(Duration) on a running task: TimeoutException after the time, zero does not wait. */
    @Test
    void joinDuration_notDone_throwsTimeout() throws Exception {
        TaskGroup g = TaskGroup.open("crawler");
        Task<Void> t = spawnBlocked(g, "b");
        assertThrows(TimeoutException.class, () -> t.join(Duration.ZERO));
        assertThrows(TimeoutException.class, () -> t.join(Duration.ofMillis(20)));
        assertThrows(IllegalArgumentException.class, () -> t.join(Duration.ofMillis(-1)));
        assertThrows(NullPointerException.class, () -> t.join(null));
        assertFalse(t.isDone(), "a timed-out join changed the task");
        g.cancel();
        g.close();
    }

    /** cancel(false) marks the task cancelled at once, does not interrupt its body, and the group still waits for it. */
    @Test
    void cancelFalse_runningBody_notInterruptedGroupStillWaits() throws Exception {
        CountDownLatch inBody = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicBoolean interrupted = new AtomicBoolean();
        AtomicBoolean bodyEnded = new AtomicBoolean();
        TaskGroup g = TaskGroup.open("crawler");
        Task<String> t = g.spawn(() -> {
            inBody.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                interrupted.set(true);
            }
            interrupted.compareAndSet(false, Thread.currentThread().isInterrupted());
            bodyEnded.set(true);
            return "late";
        });
        await(inBody);
        assertTrue(t.cancel(false));
        assertTrue(t.isDone());
        assertTrue(t.isCancelled());
        assertEquals(Status.CANCELLED, t.status());
        assertThrows(CancellationException.class, t::join, "join must throw at once");
        assertThrows(CancellationException.class, t::get);
        assertEquals(List.of(t), g.tasks(), "its body still runs: it has not ended");
        assertEquals("TaskGroup[crawler]{OPEN, running=1, failed=0}", g.toString(),
                "a cancelled task whose body runs is still running");
        assertFalse(g.runState().isCancelled(), "cancel(false) cancels this task alone");
        TestThreads.Call closer = TestThreads.startCall(() -> {
            g.close();
            return null;
        });
        awaitParked(closer.thread);
        assertTrue(closer.thread.isAlive(), "close did not wait for the cancelled task's body");
        release.countDown();
        assertNull(closer.join(), "a cancelled task is no failure");
        assertTrue(bodyEnded.get());
        assertFalse(interrupted.get(), "cancel(false) interrupted the body");
        assertEquals(Status.CANCELLED, t.status(), "status changed after done");
    }

    /** cancel(true) interrupts the body of this task alone; it counts as cancelled; siblings go on. */
    @Test
    void cancelTrue_runningBody_interruptedAloneCountsCancelled() throws Exception {
        TaskGroup g = TaskGroup.open("crawler");
        Task<Void> t = spawnBlocked(g, "fetch-3");
        CountDownLatch siblingGo = new CountDownLatch(1);
        Task<String> sibling = g.spawn(() -> {
            await(siblingGo);
            return "on";
        });
        assertTrue(t.cancel(true));
        assertEquals(Status.CANCELLED, t.status());
        CancellationException e = assertThrows(CancellationException.class, t::join);
        assertTrue(e.getMessage() != null && e.getMessage().startsWith("crawler: "), String.valueOf(e.getMessage()));
        assertFalse(g.runState().isCancelled());
        siblingGo.countDown();
        g.close();
        assertEquals("on", sibling.resultNow());
        assertEquals(List.of(), g.tasks());
    }

    /** cancel racing the task's normal end: done exactly once, SUCCEEDED or CANCELLED, consistently. */
    @Test
    void cancel_racingNormalEnd_exactlyOneOutcome() throws Exception {
        TaskGroup g = TaskGroup.open("crawler");
        for (int i = 0; i < 2_000; i++) {
            CyclicBarrier barrier = new CyclicBarrier(2);
            int v = i;
            Task<Integer> t = g.spawn(() -> {
                barrier.await();
                return v;
            });
            barrier.await();
            boolean cancelled = t.cancel(true);
            Status s = t.status();
            if (cancelled) {
                assertEquals(Status.CANCELLED, s, "cancel returned true, status " + s);
                assertThrows(CancellationException.class, t::join);
            } else {
                assertEquals(Status.SUCCEEDED, s, "cancel returned false, status " + s);
                assertEquals(v, t.join());
            }
        }
        g.close();
        assertFalse(Thread.currentThread().isInterrupted());
    }

    /** A cancel racing a task's end never interrupts what its thread runs next (a later task). */
    @Test
    void cancel_racingEnd_neverInterruptsLaterTaskOnSameThread() throws Exception {
        Queue<String> problems = new ConcurrentLinkedQueue<>();
        ThreadFactory few = r -> {
            Thread th = new Thread(r);
            th.setDaemon(true);
            return th;
        };
        TaskGroup g = TaskGroup.builder("crawler").threadFactory(few).build();
        for (int i = 0; i < 2_000; i++) {
            CyclicBarrier barrier = new CyclicBarrier(2);
            Task<Void> t = g.spawn(() -> {
                barrier.await();
            });
            barrier.await();
            t.cancel(true);
            CountDownLatch next = new CountDownLatch(1);
            int n = i;
            g.spawn(() -> {
                if (Thread.currentThread().isInterrupted()) {
                    problems.add("task after " + n + " began interrupted");
                }
                next.countDown();
            });
            await(next);
        }
        g.close();
        assertEquals(List.of(), List.copyOf(problems));
    }

    // ------------------------------------------------------------------ failure vs cancellation

    /** A non-cancellation exception thrown after the cancel is a failure and is thrown by close. */
    @Test
    void close_exceptionAfterCancel_countsAsFailure() throws Exception {
        IllegalStateException cleanup = new IllegalStateException("cleanup failed");
        TaskGroup g = TaskGroup.open("crawler");
        CountDownLatch in = new CountDownLatch(1);
        Task<Void> t = g.spawn(() -> {
            in.countDown();
            try {
                blockUntilInterrupted();
            } catch (InterruptedException e) {
                throw cleanup;
            }
        });
        await(in);
        g.cancel("stop");
        assertSame(cleanup, assertThrows(IllegalStateException.class, g::close));
        assertEquals(Status.FAILED, t.status());
        assertSame(cleanup, t.exceptionNow());
    }

    /** After the group's cancel, ending with a cancellation-type exception counts as cancelled. */
    @ParameterizedTest
    @ValueSource(strings = {"interrupted", "cancellation", "interruptedIO", "closedByInterrupt"})
    void close_cancellationTypeAfterCancel_countsAsCancelled(String kind) throws Exception {
        TaskGroup g = TaskGroup.open("crawler");
        CountDownLatch in = new CountDownLatch(1);
        Task<Void> t = g.spawn(() -> {
            in.countDown();
            try {
                blockUntilInterrupted();
            } catch (InterruptedException e) {
                throw cancellationType(kind);
            }
        });
        await(in);
        g.cancel();
        g.close(); // no failure
        assertEquals(Status.CANCELLED, t.status(), kind);
        assertThrows(CancellationException.class, t::join);
        assertEquals("TaskGroup[crawler]{CLOSED, running=0, failed=0}", g.toString());
    }

    /** One of the four exceptions that count as cancelled after a cancel. */
    static Exception cancellationType(String kind) {
        switch (kind) {
            case "interrupted": return new InterruptedException("x");
            case "cancellation": return new CancellationException("x");
            case "interruptedIO": return new InterruptedIOException("x");
            case "closedByInterrupt": return new ClosedByInterruptException();
            default: throw new AssertionError(kind);
        }
    }

    /** Without any cancel, a cancellation-type exception is an ordinary failure (wrapped if checked). */
    @Test
    void close_interruptedIoWithoutCancel_isFailure() throws Exception {
        InterruptedIOException io = new InterruptedIOException("read timed out");
        TaskGroup g = TaskGroup.open("crawler");
        Task<Void> t = g.spawn("read", () -> {
            throw io;
        });
        LifecycleException e = assertThrows(LifecycleException.class, g::close);
        assertSame(io, e.getCause());
        assertEquals(Status.FAILED, t.status());
    }

    /** The first failure is decided before the cancel: a task woken by that cancel never becomes first. */
    @Test
    void close_failureWakesSiblingThatFails_firstStaysFirst() throws Exception {
        for (int i = 0; i < 200; i++) {
            RuntimeException first = new RuntimeException("first " + i);
            RuntimeException woken = new RuntimeException("woken " + i);
            TaskGroup g = TaskGroup.open("crawler");
            CountDownLatch waiting = new CountDownLatch(1);
            g.spawn(() -> {
                waiting.countDown();
                try {
                    g.runState().awaitCancellation(Duration.ofHours(1));
                } catch (InterruptedException e) {
                    // woken by the cancel's interrupt instead: fails all the same
                }
                throw woken;
            });
            g.spawn(() -> {
                await(waiting);
                throw first;
            });
            RuntimeException thrown = assertThrows(RuntimeException.class, g::close);
            assertSame(first, thrown, "iteration " + i);
            assertArrayEquals(new Throwable[] {woken}, thrown.getSuppressed(), "iteration " + i);
        }
    }

    /** A task throwing an Error: close throws the Error itself and the siblings are cancelled. */
    @Test
    void close_taskThrowsError_errorThrownAsItself() throws Exception {
        AssertionError err = new AssertionError("invariant");
        TaskGroup g = TaskGroup.open("crawler");
        Task<Void> sibling = spawnBlocked(g, "poll");
        Task<Void> t = g.spawn(() -> {
            throw err;
        });
        assertSame(err, assertThrows(AssertionError.class, g::close));
        assertEquals(Status.CANCELLED, sibling.status());
        assertSame(err, t.exceptionNow());
        assertSame(err, assertThrows(ExecutionException.class, t::get).getCause());
    }

    /** A listener of a task that throws an Error neither hangs the group nor loses the task's result. */
    @Test
    void close_taskListenerThrowsError_groupStillCloses() throws Exception {
        TaskGroup g = TaskGroup.open("crawler");
        CountDownLatch release = new CountDownLatch(1);
        Task<Integer> t = g.spawn(() -> {
            await(release);
            return 7;
        });
        t.addListener(() -> {
            throw new AssertionError("listener");
        }, MoreExecutors.directExecutor());
        release.countDown();
        TestThreads.Call closer = TestThreads.startCall(() -> {
            try {
                g.close();
            } catch (AssertionError e) {
                // a spec gap: whether close reports a listener's Error is not said
                assertEquals("listener", e.getMessage());
            }
            return null;
        });
        assertNull(closer.join());
        assertEquals(7, t.resultNow());
        assertEquals(Status.SUCCEEDED, t.status());
        assertEquals(List.of(), g.tasks());
    }

    /** A cancel listener on the group's RunState that throws an Error does not stop the cancel of the tasks. */
    @Test
    void cancel_runStateListenerThrowsError_tasksStillCancelledAndCloseReturns() throws Exception {
        TaskGroup g = TaskGroup.open("crawler");
        Task<Void> t = spawnBlocked(g, "poll");
        g.runState().onCancel(r -> {
            throw new AssertionError("listener");
        });
        try {
            g.cancel("stop");
        } catch (AssertionError e) {
            assertEquals("listener", e.getMessage()); // the RunState rule: the canceller gets it
        }
        TestThreads.Call closer = TestThreads.startCall(() -> {
            g.close();
            return null;
        });
        assertNull(closer.join(), "close hung or threw after a listener's Error");
        assertEquals(Status.CANCELLED, t.status());
    }

    // ------------------------------------------------------------------ current()

    /** current() is empty outside tasks and the group inside its tasks, start and delayed bodies included. */
    @Test
    void current_insideAndOutsideTasks_returnsOwningGroup() throws Exception {
        assertEquals(Optional.empty(), TaskGroup.current());
        TaskGroup g = TaskGroup.open("outer");
        Task<Optional<TaskGroup>> plain = g.spawn(TaskGroup::current);
        Task<Optional<TaskGroup>> delayed = g.spawnAfter(Duration.ofMillis(1), TaskGroup::current);
        Task<Optional<TaskGroup>> prot = g.spawnProtected(TaskGroup::current);
        Optional<TaskGroup> fromStart = g.start(s -> s.started(TaskGroup.current()));
        AtomicReference<TaskGroup> innerRef = new AtomicReference<>();
        Task<List<Optional<TaskGroup>>> nested = g.spawn(() -> {
            try (TaskGroup inner = TaskGroup.open("inner")) {
                innerRef.set(inner);
                Task<Optional<TaskGroup>> in = inner.spawn(TaskGroup::current);
                return List.of(in.join(), TaskGroup.current());
            }
        });
        g.close();
        assertEquals(Optional.of(g), plain.resultNow());
        assertEquals(Optional.of(g), delayed.resultNow());
        assertEquals(Optional.of(g), prot.resultNow());
        assertEquals(Optional.of(g), fromStart);
        assertEquals(List.of(Optional.of(innerRef.get()), Optional.of(g)), nested.resultNow());
        assertEquals(Optional.empty(), TaskGroup.current(), "the closer is no task");
    }

    // ------------------------------------------------------------------ promptness

    /** Tasks blocked in RunState.sleep, Thread.sleep, BlockingQueue.take, Pool.borrow and an inner join all wake on cancel. */
    @Test
    void cancel_tasksBlockedEverywhere_allWakeAndEnd() throws Exception {
        Pool<Object> pool = Pool.builder(Object::new).maxSize(1).name("p").build();
        Lease<Object> held = pool.borrow();
        BlockingQueue<String> queue = new ArrayBlockingQueue<>(1);
        TaskGroup g = TaskGroup.open("crawler");
        int n = 5;
        CountDownLatch in = new CountDownLatch(n);
        Queue<Thread> threads = new ConcurrentLinkedQueue<>();
        AtomicReference<Thread> innerTaskThread = new AtomicReference<>();
        List<Callable<Object>> bodies = List.of(
                () -> g.runState().sleep(Duration.ofHours(1)),
                () -> {
                    Thread.sleep(3_600_000L);
                    return null;
                },
                queue::take,
                pool::borrow,
                () -> {
                    try (TaskGroup inner = TaskGroup.open("inner")) {
                        CountDownLatch innerIn = new CountDownLatch(1);
                        inner.spawn(() -> {
                            innerTaskThread.set(Thread.currentThread());
                            innerIn.countDown();
                            blockUntilInterrupted();
                        });
                        await(innerIn);
                        inner.join();
                    }
                    return null;
                });
        List<Task<Object>> tasks = new ArrayList<>();
        for (Callable<Object> body : bodies) {
            tasks.add(g.spawn(() -> {
                threads.add(Thread.currentThread());
                in.countDown();
                return body.call();
            }));
        }
        await(in);
        for (Thread t : threads) {
            awaitParked(t);
        }
        while (innerTaskThread.get() == null) {
            Thread.onSpinWait();
        }
        awaitParked(innerTaskThread.get());
        long t0 = System.nanoTime();
        g.cancel();
        g.close();
        long tookMs = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(tookMs < 5_000, "cancel to close took " + tookMs + " ms");
        for (Task<Object> t : tasks) {
            assertTrue(t.isDone(), t.name());
            assertFalse(t.status() == Status.FAILED, t.name() + " failed: " + t);
        }
        held.close();
        pool.close();
    }

    // ------------------------------------------------------------------ rule 1

    /** When close returns, no task body, cleanup or direct listener still runs on a thread of the group. */
    @Test
    void close_tasksDoCleanupAfterCancel_noUserCodeRunsAfterClose() throws Exception {
        TaskGroup g = TaskGroup.open("crawler");
        AtomicInteger active = new AtomicInteger();
        int n = 50;
        CountDownLatch in = new CountDownLatch(n);
        for (int i = 0; i < n; i++) {
            g.spawn(() -> {
                active.incrementAndGet();
                try {
                    in.countDown();
                    blockUntilInterrupted();
                } finally {
                    long x = 0;
                    for (int k = 0; k < 200_000; k++) {
                        x += k ^ (x >>> 3);
                    }
                    if (x == 42) {
                        Thread.yield();
                    }
                    active.decrementAndGet();
                }
            });
        }
        await(in);
        g.cancel();
        g.close();
        assertEquals(0, active.get(), "a task's cleanup still ran after close returned");
    }

    /** A listener added with directExecutor runs on the group's thread: close waits for it (rule 1). */
    @Test
    void close_directListenerBlocks_closeWaitsForIt() throws Exception {
        TaskGroup g = TaskGroup.open("crawler");
        CountDownLatch release = new CountDownLatch(1);
        CountDownLatch listenerIn = new CountDownLatch(1);
        CountDownLatch listenerMayEnd = new CountDownLatch(1);
        AtomicBoolean listenerEnded = new AtomicBoolean();
        AtomicBoolean onGroupThread = new AtomicBoolean();
        Thread main = Thread.currentThread();
        Task<Integer> t = g.spawn(() -> {
            await(release);
            return 1;
        });
        t.addListener(() -> {
            onGroupThread.set(Thread.currentThread() != main);
            listenerIn.countDown();
            try {
                listenerMayEnd.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            listenerEnded.set(true);
        }, MoreExecutors.directExecutor());
        AtomicBoolean endedAtClose = new AtomicBoolean();
        TestThreads.Call closer = TestThreads.startCall(() -> {
            g.close();
            endedAtClose.set(listenerEnded.get());
            return null;
        });
        release.countDown();
        await(listenerIn);
        awaitParked(closer.thread);
        listenerMayEnd.countDown();
        assertNull(closer.join());
        if (onGroupThread.get()) {
            assertTrue(endedAtClose.get(), "close returned while a listener ran on the group's thread");
        }
    }

    // ------------------------------------------------------------------ nulls and durations

    /** Every null argument is a NullPointerException. */
    @Test
    void nullArguments_everyMethod_throwNpe() throws Exception {
        TaskGroup g = TaskGroup.open("crawler");
        Callable<Integer> nullCallable = null;
        RunState.ThrowingRunnable nullRunnable = null;
        TaskGroup.StartingTask<Integer> nullStart = null;
        assertThrows(NullPointerException.class, () -> TaskGroup.open(null));
        assertThrows(NullPointerException.class, () -> TaskGroup.builder(null));
        TaskGroup.Builder b = TaskGroup.builder("b");
        assertThrows(NullPointerException.class, () -> b.threadFactory(null));
        assertThrows(NullPointerException.class, () -> b.failAfter(null));
        assertThrows(NullPointerException.class, () -> b.moveOnAfter(null));
        assertThrows(NullPointerException.class, () -> b.parent(null));
        assertThrows(NullPointerException.class, () -> g.spawn(nullCallable));
        assertThrows(NullPointerException.class, () -> g.spawn(nullRunnable));
        assertThrows(NullPointerException.class, () -> g.spawn(null, () -> 1));
        assertThrows(NullPointerException.class, () -> g.spawn("n", nullCallable));
        assertThrows(NullPointerException.class, () -> g.spawn("n", nullRunnable));
        assertThrows(NullPointerException.class, () -> g.spawnAfter(null, () -> 1));
        assertThrows(NullPointerException.class, () -> g.spawnAfter(Duration.ZERO, nullCallable));
        assertThrows(NullPointerException.class, () -> g.spawnAfter(Duration.ZERO, nullRunnable));
        assertThrows(NullPointerException.class, () -> g.spawnAfter(null, Duration.ZERO, () -> 1));
        assertThrows(NullPointerException.class, () -> g.spawnAfter("n", null, () -> { }));
        assertThrows(NullPointerException.class, () -> g.spawnProtected(nullCallable));
        assertThrows(NullPointerException.class, () -> g.spawnProtected(nullRunnable));
        assertThrows(NullPointerException.class, () -> g.spawnProtected(null, () -> 1));
        assertThrows(NullPointerException.class, () -> g.start(nullStart));
        assertThrows(NullPointerException.class, () -> g.start(null, s -> s.started(1)));
        assertThrows(NullPointerException.class, () -> g.start(Duration.ZERO, nullStart));
        assertEquals(List.of(), g.tasks(), "a refused null spawn left a task behind");
        g.close();
        assertEquals("TaskGroup[crawler]{CLOSED, running=0, failed=0}", g.toString());
    }

    /** Negative durations are refused; zero means at once (the package's timeout rule). */
    @Test
    void durations_negativeOrZero_refusedOrAtOnce() throws Exception {
        Duration neg = Duration.ofNanos(-1);
        assertThrows(IllegalArgumentException.class, () -> TaskGroup.builder("b").failAfter(neg));
        assertThrows(IllegalArgumentException.class, () -> TaskGroup.builder("b").moveOnAfter(neg));
        TaskGroup g = TaskGroup.open("crawler");
        assertThrows(IllegalArgumentException.class, () -> g.spawnAfter(neg, () -> 1));
        assertThrows(IllegalArgumentException.class, () -> g.start(neg, s -> s.started(1)));
        Task<Integer> now = g.spawnAfter(Duration.ZERO, () -> 9);
        assertEquals(9, now.join());
        g.close();

        TaskGroup quiet = TaskGroup.builder("quiet").moveOnAfter(Duration.ZERO).build();
        assertTrue(quiet.runState().isCancelled(), "moveOnAfter(ZERO) cancels at once");
        AtomicBoolean ran = new AtomicBoolean();
        Task<Void> t = quiet.spawn(() -> ran.set(true));
        assertEquals(Status.CANCELLED, t.status());
        quiet.close();
        assertFalse(ran.get());
    }

    /** start(Duration) with a huge timeout means practically forever: it returns the signal. */
    @Test
    void start_hugeTimeout_returnsValue() throws Exception {
        TaskGroup g = TaskGroup.open("crawler");
        assertEquals("v", g.start(Duration.ofSeconds(Long.MAX_VALUE), s -> s.started("v")));
        g.close();
    }

    /** A second started() call throws IllegalStateException in the task; start returned the first value. */
    @Test
    void started_twice_secondThrowsIllegalState() throws Exception {
        TaskGroup g = TaskGroup.builder("crawler").cancelOnFailure(false).build();
        AtomicReference<Throwable> second = new AtomicReference<>();
        CountDownLatch done = new CountDownLatch(1);
        String v = g.start(s -> {
            s.started("one");
            try {
                s.started("two");
            } catch (Throwable e) {
                second.set(e);
            }
            done.countDown();
        });
        assertEquals("one", v);
        await(done);
        g.close();
        assertTrue(second.get() instanceof IllegalStateException, String.valueOf(second.get()));
    }

    /** An interrupted start: InterruptedException, flag clear, the task left running. */
    @Test
    void start_interruptedWhileWaiting_throwsAndLeavesTaskRunning() throws Exception {
        TaskGroup g = TaskGroup.open("crawler");
        CountDownLatch inBody = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        TestThreads.Call caller = TestThreads.startCall(() -> g.start(s -> {
            inBody.countDown();
            await(release);
            s.started(1);
        }));
        await(inBody);
        awaitParked(caller.thread);
        caller.thread.interrupt();
        Throwable got = caller.join();
        assertTrue(got instanceof InterruptedException, String.valueOf(got));
        assertEquals(1, g.tasks().size(), "an interrupted start changed the task");
        assertFalse(g.runState().isCancelled());
        release.countDown();
        g.close();
    }

    /** join() interrupted: InterruptedException and nothing else changes (no cancel). */
    @Test
    void join_interrupted_throwsAndChangesNothing() throws Exception {
        TaskGroup g = TaskGroup.open("crawler");
        Task<Void> t = spawnBlocked(g, "b");
        TestThreads.assertInterruptedWhileParked(() -> {
            g.join();
            return null;
        });
        assertFalse(g.runState().isCancelled(), "an interrupted join cancelled the group");
        assertFalse(t.isDone());
        assertTrue(g.toString().startsWith("TaskGroup[crawler]{OPEN"), g.toString());
        Thread.currentThread().interrupt();
        assertThrows(InterruptedException.class, g::join, "flag checked on entry");
        assertFalse(Thread.interrupted());
        g.cancel();
        g.close();
    }

    // ------------------------------------------------------------------ batch 2: more edges

    /** Default threads: virtual where the JDK has them, else daemon platform threads named NAME-task-N. */
    @Test
    void spawn_defaultFactory_virtualOrDaemonNamedThreads() throws Exception {
        TaskGroup g = TaskGroup.open("crawler");
        Task<Thread> t = g.spawn(Thread::currentThread);
        g.close();
        Thread th = t.resultNow();
        boolean virtual = isVirtual(th);
        if (Runtime.version().feature() >= 21) {
            assertTrue(virtual, "JDK " + Runtime.version() + " has virtual threads: " + th);
        } else {
            assertFalse(virtual);
            assertTrue(th.isDaemon(), th + " not daemon");
            assertTrue(th.getName().startsWith("crawler-task-"), th.getName());
        }
    }

    /** Thread.isVirtual() on Java 21+, false before (the tests compile for 17). */
    static boolean isVirtual(Thread t) throws Exception {
        try {
            return (Boolean) Thread.class.getMethod("isVirtual").invoke(t);
        } catch (NoSuchMethodException e) {
            return false;
        }
    }

    /** A custom thread factory makes the threads the tasks run on. */
    @Test
    void spawn_customFactory_tasksRunOnItsThreads() throws Exception {
        Queue<Thread> made = new ConcurrentLinkedQueue<>();
        ThreadFactory f = r -> {
            Thread th = new Thread(r, "mine-" + made.size());
            th.setDaemon(true);
            made.add(th);
            return th;
        };
        TaskGroup g = TaskGroup.builder("crawler").threadFactory(f).build();
        List<Task<Thread>> ts = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            ts.add(g.spawn(Thread::currentThread));
        }
        g.close();
        for (Task<Thread> t : ts) {
            assertTrue(made.contains(t.resultNow()), t.resultNow() + " not from the factory");
        }
    }

    /** Delayed tasks hold no thread each: 200 pending delays over 20 groups add at most one platform thread. */
    @Test
    void spawnAfter_manyPending_atMostOneSchedulerThread() throws Exception {
        int before = Thread.getAllStackTraces().size();
        List<TaskGroup> groups = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            TaskGroup g = TaskGroup.open("d" + i);
            groups.add(g);
            for (int k = 0; k < 10; k++) {
                g.spawnAfter(Duration.ofHours(1), () -> { });
            }
        }
        int after = Thread.getAllStackTraces().size();
        for (TaskGroup g : groups) {
            g.cancel();
            g.close();
        }
        assertTrue(after - before <= 1, "pending delays made " + (after - before) + " threads");
    }

    /** A delayed task cancelled alone before its delay never runs; the group goes on and closes at once. */
    @Test
    void spawnAfter_taskCancelledBeforeDelay_neverRunsGroupUnaffected() throws Exception {
        AtomicBoolean ran = new AtomicBoolean();
        TaskGroup g = TaskGroup.open("crawler");
        Task<Void> t = g.spawnAfter(Duration.ofSeconds(Long.MAX_VALUE), () -> ran.set(true));
        assertTrue(t.cancel(false));
        assertEquals(Status.CANCELLED, t.status());
        assertEquals(List.of(), g.tasks());
        assertFalse(g.runState().isCancelled());
        Task<Integer> other = g.spawn(() -> 3);
        g.close();
        assertEquals(3, other.resultNow());
        assertFalse(ran.get());
    }

    /** Rule 4 repeated: one spawn racing close either runs before close returns or is refused. */
    @Test
    void spawn_racingCloseRepeated_runsAndWaitedOrRefused() throws Exception {
        for (int i = 0; i < 1_000; i++) {
            TaskGroup g = TaskGroup.open("race");
            CyclicBarrier barrier = new CyclicBarrier(2);
            AtomicBoolean ran = new AtomicBoolean();
            TestThreads.Call spawner = TestThreads.startCall(() -> {
                barrier.await();
                try {
                    return g.spawn(() -> {
                        for (int k = 0; k < 10_000; k++) {
                            Thread.onSpinWait(); // a little work, so close has something to wait for
                        }
                        ran.set(true);
                    });
                } catch (ClosedException e) {
                    assertEquals("race: task group closed", e.getMessage());
                    return null;
                }
            });
            barrier.await();
            g.close();
            boolean ranAtClose = ran.get();
            assertNull(spawner.join());
            assertEquals(ran.get(), ranAtClose, "iteration " + i + ": a task ran after close returned");
        }
    }

    /** A failure racing a success: the failure, exactly, is reported. */
    @Test
    void close_failureRacingSuccess_exactlyTheFailureReported() throws Exception {
        for (int i = 0; i < 500; i++) {
            RuntimeException boom = new RuntimeException("boom " + i);
            TaskGroup g = TaskGroup.open("race");
            CyclicBarrier barrier = new CyclicBarrier(2);
            Task<Integer> ok = g.spawn(() -> {
                barrier.await();
                return 1;
            });
            g.spawn(() -> {
                barrier.await();
                throw boom;
            });
            RuntimeException thrown = assertThrows(RuntimeException.class, g::close);
            assertSame(boom, thrown, "iteration " + i);
            assertEquals(0, thrown.getSuppressed().length, "iteration " + i);
            assertTrue(ok.status() == Status.SUCCEEDED || ok.status() == Status.CANCELLED, ok.status().toString());
        }
    }

    /** start on a cancelled group returns at once with a CancellationException naming the reason. */
    @Test
    void start_groupAlreadyCancelled_throwsCancellationAtOnce() throws Exception {
        TaskGroup g = TaskGroup.open("server");
        g.cancel("maintenance");
        AtomicBoolean ran = new AtomicBoolean();
        CancellationException e = assertThrows(CancellationException.class, () -> g.start(s -> {
            ran.set(true);
            s.started(1);
        }));
        assertEquals("server: cancelled: maintenance", e.getMessage());
        g.close();
        assertFalse(ran.get(), "a task started after cancel ran");
    }

    /** start whose task fails after signalling: start returns the value, close throws the failure. */
    @Test
    void start_taskFailsAfterSignal_startReturnsCloseThrows() throws Exception {
        IllegalStateException late = new IllegalStateException("late");
        TaskGroup g = TaskGroup.open("server");
        int v = g.start(s -> {
            s.started(5);
            throw late;
        });
        assertEquals(5, v);
        assertSame(late, assertThrows(IllegalStateException.class, g::close));
    }

    /** The started task is a member: tasks() lists it and its failure after signalling cancels siblings. */
    @Test
    void start_taskFailsAfterSignal_cancelsSiblings() throws Exception {
        IllegalStateException late = new IllegalStateException("late");
        TaskGroup g = TaskGroup.open("server");
        Task<Void> sibling = spawnBlocked(g, "poll");
        CountDownLatch go = new CountDownLatch(1);
        g.start(s -> {
            s.started(null);
            await(go);
            throw late;
        });
        assertEquals(2, g.tasks().size());
        go.countDown();
        assertSame(late, assertThrows(IllegalStateException.class, g::close));
        assertEquals(Status.CANCELLED, sibling.status());
    }

    /** A second group join on the thread that got the failure returns normally; another thread still gets it. */
    @Test
    void join_twice_secondOnSameThreadQuietOtherThreadThrows() throws Exception {
        IllegalStateException boom = new IllegalStateException("boom");
        TaskGroup g = TaskGroup.open("crawler");
        g.spawn(() -> {
            throw boom;
        });
        assertSame(boom, assertThrows(IllegalStateException.class, g::join));
        g.join();
        assertSame(boom, TestThreads.startCall(() -> {
            g.join();
            return null;
        }).join());
        g.close();
    }

    /** join returns with the group still open: more tasks may be spawned and joined again. */
    @Test
    void join_thenSpawnMore_groupStillOpen() throws Exception {
        TaskGroup g = TaskGroup.open("crawler");
        Task<Integer> a = g.spawn(() -> 1);
        g.join();
        assertEquals(1, a.resultNow());
        assertTrue(g.toString().startsWith("TaskGroup[crawler]{OPEN"), g.toString());
        Task<Integer> b = g.spawn(() -> 2);
        g.join();
        assertEquals(2, b.resultNow());
        g.close();
    }

    /** join waits for tasks spawned while it waits, by tasks of the group. */
    @Test
    void join_taskSpawnsWhileJoining_waitsForNewOnes() throws Exception {
        TaskGroup g = TaskGroup.open("crawler");
        AtomicInteger ended = new AtomicInteger();
        g.spawn(() -> {
            for (int i = 0; i < 50; i++) {
                g.spawn(() -> {
                    ended.incrementAndGet();
                });
            }
            ended.incrementAndGet();
        });
        g.join();
        assertEquals(51, ended.get(), "join returned before the spawned-while-joining tasks ended");
        g.close();
    }

    /** close with the interrupt flag already set: cancels the group, waits, returns with the flag set. */
    @Test
    void close_interruptFlagSetOnEntry_cancelsWaitsKeepsFlag() throws Exception {
        TaskGroup g = TaskGroup.open("crawler");
        Task<Void> t = spawnBlocked(g, "poll");
        Thread.currentThread().interrupt();
        try {
            g.close();
            assertTrue(Thread.currentThread().isInterrupted(), "close cleared the flag");
        } finally {
            Thread.interrupted();
        }
        assertTrue(t.isDone());
        assertEquals(Status.CANCELLED, t.status());
    }

    /** An interrupted closer whose task then fails throws that failure, with the flag set. */
    @Test
    void close_interruptedThenTaskFails_throwsFailureWithFlag() throws Exception {
        IllegalStateException cleanup = new IllegalStateException("cleanup");
        TaskGroup g = TaskGroup.open("crawler");
        CountDownLatch in = new CountDownLatch(1);
        g.spawn(() -> {
            in.countDown();
            try {
                blockUntilInterrupted();
            } catch (InterruptedException e) {
                throw cleanup;
            }
        });
        await(in);
        AtomicBoolean flag = new AtomicBoolean();
        TestThreads.Call closer = TestThreads.startCall(() -> {
            try {
                g.close();
            } finally {
                flag.set(Thread.currentThread().isInterrupted());
            }
            return null;
        });
        awaitParked(closer.thread);
        closer.thread.interrupt();
        assertSame(cleanup, closer.join());
        assertTrue(flag.get());
    }

    /** A parent RunState cancelled before build: the group begins cancelled, its spawns CANCELLED. */
    @Test
    void build_parentAlreadyCancelled_groupBeginsCancelled() throws Exception {
        RunState parent = new RunState("server");
        parent.start();
        parent.cancel("going down");
        TaskGroup g = TaskGroup.builder("workers").parent(parent).build();
        assertTrue(g.runState().isCancelled());
        AtomicBoolean ran = new AtomicBoolean();
        Task<Void> t = g.spawn(() -> ran.set(true));
        assertEquals(Status.CANCELLED, t.status());
        g.close();
        assertFalse(ran.get());
    }

    /** The reason travels from a parent RunState and from an outer group to the inner tasks. */
    @Test
    void cancel_reasonFromParentAndOuter_travelsToTaskJoin() throws Exception {
        RunState parent = new RunState("server");
        parent.start();
        TaskGroup g = TaskGroup.builder("workers").parent(parent).build();
        Task<Void> t = spawnBlocked(g, "w");
        parent.cancel("going down");
        g.close();
        CancellationException e = assertThrows(CancellationException.class, t::join);
        assertTrue(e.getMessage().startsWith("workers: ") && e.getMessage().contains("going down"),
                e.getMessage());

        TaskGroup outer = TaskGroup.open("outer");
        CountDownLatch innerIn = new CountDownLatch(1);
        AtomicReference<Task<Void>> innerTask = new AtomicReference<>();
        outer.spawn(() -> {
            try (TaskGroup inner = TaskGroup.open("inner")) {
                innerTask.set(inner.spawn(() -> {
                    innerIn.countDown();
                    blockUntilInterrupted();
                }));
            }
        });
        await(innerIn);
        outer.cancel("bye");
        outer.close();
        CancellationException ie = assertThrows(CancellationException.class, innerTask.get()::join);
        assertTrue(ie.getMessage().startsWith("inner: ") && ie.getMessage().contains("bye"), ie.getMessage());
    }

    /** A task may cancel its own group; it is then interrupted and counts as cancelled. */
    @Test
    void cancel_fromOwnTask_allowedAndNoFailure() throws Exception {
        TaskGroup g = TaskGroup.open("crawler");
        Task<Void> t = g.spawn(() -> {
            g.cancel("self");
            blockUntilInterrupted();
        });
        g.close();
        assertEquals(Status.CANCELLED, t.status());
        assertEquals(Optional.of("self"), g.runState().cancelReason());
    }

    /** Protected checked failure: its join throws the LifecycleException, close throws nothing. */
    @Test
    void spawnProtected_checkedFailure_joinThrowsWrapperCloseQuiet() throws Exception {
        IOException io = new IOException("hb");
        TaskGroup g = TaskGroup.open("conn");
        Task<Void> p = g.spawnProtected("heartbeat", () -> {
            throw io;
        });
        TestThreads.Call closer = TestThreads.startCall(() -> {
            g.close();
            return null;
        });
        assertNull(closer.join(), "close threw a protected failure");
        LifecycleException e = assertThrows(LifecycleException.class, p::join);
        assertSame(io, e.getCause());
        assertEquals("conn: task heartbeat failed", e.getMessage());
        assertSame(io, p.exceptionNow());
        assertFalse(g.runState().isCancelled());
    }

    /** A protected task is still cancelled by the group's cancel. */
    @Test
    void spawnProtected_groupCancelled_isCancelled() throws Exception {
        TaskGroup g = TaskGroup.open("conn");
        CountDownLatch in = new CountDownLatch(1);
        Task<Void> p = g.spawnProtected(() -> {
            in.countDown();
            blockUntilInterrupted();
        });
        await(in);
        g.cancel();
        g.close();
        assertEquals(Status.CANCELLED, p.status());
    }

    /** Tasks compose with Guava's Futures (they are ListenableFutures). */
    @Test
    void task_withGuavaFutures_composes() throws Exception {
        TaskGroup g = TaskGroup.open("crawler");
        Task<Integer> a = g.spawn(() -> 20);
        Task<Integer> b = g.spawn(() -> 22);
        com.google.common.util.concurrent.ListenableFuture<Integer> sum = com.google.common.util.concurrent.Futures
                .transform(com.google.common.util.concurrent.Futures.allAsList(a, b),
                        l -> l.get(0) + l.get(1), MoreExecutors.directExecutor());
        g.close();
        assertEquals(42, sum.get());
    }

    /** Fifty failures in sequence: the first thrown, the 49 others suppressed in order. */
    @Test
    void close_fiftySequentialFailures_allKeptInOrder() throws Exception {
        TaskGroup g = TaskGroup.builder("crawler").cancelOnFailure(false).build();
        List<RuntimeException> es = new ArrayList<>();
        CountDownLatch prev = new CountDownLatch(0);
        for (int i = 0; i < 50; i++) {
            RuntimeException e = new RuntimeException("e" + i);
            es.add(e);
            CountDownLatch wait = prev;
            Task<Void> t = g.spawn(() -> {
                await(wait);
                throw e;
            });
            prev = doneLatch(t);
        }
        RuntimeException thrown = assertThrows(RuntimeException.class, g::close);
        assertSame(es.get(0), thrown);
        assertEquals(es.subList(1, 50), List.of(thrown.getSuppressed()));
    }

    /** A supervising group's Error from a task is thrown as itself and cancels nobody. */
    @Test
    void close_supervisingTaskThrowsError_thrownAsItselfNoCancel() throws Exception {
        StackOverflowError err = new StackOverflowError("deep");
        TaskGroup g = TaskGroup.builder("crawler").cancelOnFailure(false).build();
        Task<Void> f = g.spawn(() -> {
            throw err;
        });
        CountDownLatch fd = doneLatch(f);
        Task<Boolean> sib = g.spawn(() -> {
            await(fd);
            return g.runState().isCancelled();
        });
        TestThreads.Call closer = TestThreads.startCall(() -> {
            g.close();
            return null;
        });
        assertSame(err, closer.join());
        assertEquals(false, sib.resultNow());
    }

    /** get(timeout) on a running task throws TimeoutException and leaves it running. */
    @Test
    void getTimeout_notDone_throwsTimeout() throws Exception {
        TaskGroup g = TaskGroup.open("crawler");
        Task<Void> t = spawnBlocked(g, "b");
        assertThrows(TimeoutException.class, () -> t.get(10, java.util.concurrent.TimeUnit.MILLISECONDS));
        assertFalse(t.isDone());
        g.cancel();
        g.close();
    }

    /** Task.join on the interrupted thread throws InterruptedException at once (checked on entry), flag clear. */
    @Test
    void taskJoin_interruptedOnEntry_throwsEvenIfDone() throws Exception {
        TaskGroup g = TaskGroup.open("crawler");
        Task<Integer> t = g.spawn(() -> 1);
        g.close();
        Thread.currentThread().interrupt();
        assertThrows(InterruptedException.class, t::join);
        assertFalse(Thread.interrupted());
        assertEquals(1, t.join());
    }

    // ------------------------------------------------------------------ batch 3: hostile users

    /** Two tasks throwing the same instance: close throws it, no self-suppression error, nothing hangs. */
    @Test
    void close_twoTasksThrowSameInstance_thrownOnceNoSelfSuppressionError() throws Exception {
        IllegalStateException shared = new IllegalStateException("shared");
        TaskGroup g = TaskGroup.builder("crawler").cancelOnFailure(false).build();
        Task<Void> a = g.spawn(() -> {
            throw shared;
        });
        CountDownLatch aDone = doneLatch(a);
        Task<Void> b = g.spawn(() -> {
            await(aDone);
            throw shared;
        });
        TestThreads.Call closer = TestThreads.startCall(() -> {
            g.close();
            return null;
        });
        assertSame(shared, closer.join());
        assertEquals(Status.FAILED, b.status());
        assertSame(shared, b.exceptionNow());
        for (Throwable t : shared.getSuppressed()) {
            assertFalse(t == shared, "suppressed on itself");
        }
    }

    /** An exception whose getMessage and toString throw is still recorded, thrown and cancels the rest. */
    @Test
    void close_failureWithHostileToString_stillReportedAndCancels() throws Exception {
        RuntimeException hostile = new RuntimeException() {
            private static final long serialVersionUID = 1L;

            @Override
            public String getMessage() {
                throw new UnsupportedOperationException("getMessage");
            }

            @Override
            public String toString() {
                throw new UnsupportedOperationException("toString");
            }
        };
        TaskGroup g = TaskGroup.open("crawler");
        Task<Void> sibling = spawnBlocked(g, "poll");
        g.spawn("evil", () -> {
            throw hostile;
        });
        TestThreads.Call closer = TestThreads.startCall(() -> {
            g.close();
            return null;
        });
        assertSame(hostile, closer.join(), "close hung or lost the failure");
        assertEquals(Status.CANCELLED, sibling.status());
    }

    /** A checked exception whose getMessage returns null still gets its wrapper and reason. */
    @Test
    void close_checkedFailureNullMessage_wrappedAndReasonNamesTask() throws Exception {
        IOException io = new IOException();
        TaskGroup g = TaskGroup.open("crawler");
        Task<Void> sibling = spawnBlocked(g, "poll");
        g.spawn("fetch-3", () -> {
            throw io;
        });
        LifecycleException e = assertThrows(LifecycleException.class, g::close);
        assertSame(io, e.getCause());
        String reason = g.runState().cancelReason().orElseThrow();
        assertTrue(reason.startsWith("task fetch-3 failed"), reason);
        assertTrue(sibling.isCancelled());
    }

    /** Without any cancel, a body throwing CancellationException is a failure, thrown by close. */
    @Test
    void close_cancellationExceptionWithoutCancel_isFailure() throws Exception {
        CancellationException ce = new CancellationException("not really");
        TaskGroup g = TaskGroup.open("crawler");
        Task<Void> t = g.spawn(() -> {
            throw ce;
        });
        TestThreads.Call closer = TestThreads.startCall(() -> {
            g.close();
            return null;
        });
        assertSame(ce, closer.join(), "a CancellationException with no cancel was dropped");
        assertEquals(Status.FAILED, t.status());
    }

    /** A thread started by a task runs no task: current() is empty there, and a group it opens is no child. */
    @Test
    void current_plainThreadStartedByTask_emptyAndNotChild() throws Exception {
        TaskGroup g = TaskGroup.open("outer");
        AtomicReference<Optional<TaskGroup>> seen = new AtomicReference<>();
        AtomicReference<TaskGroup> opened = new AtomicReference<>();
        g.spawn(() -> {
            Thread th = TestThreads.start(() -> {
                seen.set(TaskGroup.current());
                opened.set(TaskGroup.open("orphan"));
            });
            th.join();
        });
        g.close();
        assertEquals(Optional.empty(), seen.get());
        assertFalse(opened.get().runState().isCancelled(), "a group opened on a plain thread became a child");
        opened.get().close();
    }

    /** A group built with a parent inside a task of another group is cancelled by either. */
    @Test
    void build_withParentInsideOuterTask_cancelledByParentOrOuter() throws Exception {
        for (boolean viaParent : new boolean[] {true, false}) {
            RunState parent = new RunState("p");
            parent.start();
            TaskGroup outer = TaskGroup.open("outer");
            CountDownLatch in = new CountDownLatch(1);
            AtomicReference<Task<Void>> innerTask = new AtomicReference<>();
            outer.spawn(() -> {
                try (TaskGroup inner = TaskGroup.builder("inner").parent(parent).build()) {
                    innerTask.set(inner.spawn(() -> {
                        in.countDown();
                        blockUntilInterrupted();
                    }));
                }
            });
            await(in);
            if (viaParent) {
                parent.cancel();
            } else {
                outer.cancel();
            }
            TestThreads.Call closer = TestThreads.startCall(() -> {
                outer.close();
                return null;
            });
            assertNull(closer.join(), "viaParent=" + viaParent);
            assertEquals(Status.CANCELLED, innerTask.get().status(), "viaParent=" + viaParent);
        }
    }

    /** start(Duration) racing the signal: a returned value means the task was not cancelled; a timeout means it was. */
    @Test
    void start_timeoutRacingSignal_consistentOutcome() throws Exception {
        TaskGroup g = TaskGroup.builder("server").cancelOnFailure(false).build();
        Queue<String> problems = new ConcurrentLinkedQueue<>();
        for (int i = 0; i < 300; i++) {
            int spins = (i * 37) % 2_000;
            AtomicBoolean interruptedAfterSignal = new AtomicBoolean();
            AtomicReference<Task<?>> self = new AtomicReference<>();
            Integer v;
            try {
                v = g.start(Duration.ofNanos(50_000), s -> {
                    for (int k = 0; k < spins; k++) {
                        Thread.onSpinWait();
                    }
                    s.started(1);
                    for (int k = 0; k < 2_000; k++) {
                        if (Thread.currentThread().isInterrupted()) {
                            interruptedAfterSignal.set(true);
                            break;
                        }
                        Thread.onSpinWait();
                    }
                });
            } catch (TimeoutException e) {
                v = null;
            }
            g.join();
            if (v != null && interruptedAfterSignal.get()) {
                problems.add("iteration " + i + ": start returned but the task was then interrupted");
            }
        }
        g.close();
        assertEquals(List.of(), List.copyOf(problems));
    }

    /** A delayed or plain spawn racing the group's cancel: it ran (and succeeded) or never ran (CANCELLED). */
    @Test
    void spawn_racingCancel_ranIffSucceeded() throws Exception {
        for (int i = 0; i < 500; i++) {
            TaskGroup g = TaskGroup.open("race");
            AtomicBoolean ran = new AtomicBoolean();
            AtomicBoolean ranDelayed = new AtomicBoolean();
            CyclicBarrier barrier = new CyclicBarrier(2);
            TestThreads.Call canceller = TestThreads.startCall(() -> {
                barrier.await();
                g.cancel();
                return null;
            });
            barrier.await();
            Task<Void> t = g.spawn(() -> ran.set(true));
            Task<Void> d = g.spawnAfter(Duration.ofNanos(1), () -> ranDelayed.set(true));
            assertNull(canceller.join());
            g.close();
            assertEquals(ran.get(), t.status() == Status.SUCCEEDED, "iteration " + i + ": " + t.status());
            assertEquals(!ran.get(), t.status() == Status.CANCELLED, "iteration " + i + ": " + t.status());
            assertEquals(ranDelayed.get(), d.status() == Status.SUCCEEDED, "iteration " + i + ": " + d.status());
            assertEquals(!ranDelayed.get(), d.status() == Status.CANCELLED, "iteration " + i + ": " + d.status());
        }
    }

    /** Interrupting a closer that waits only for a long delayed task cancels it: close returns, the body never runs. */
    @Test
    void close_interruptedWhileOnlyDelayedTaskPending_returnsAndTaskNeverRuns() throws Exception {
        AtomicBoolean ran = new AtomicBoolean();
        TaskGroup g = TaskGroup.open("crawler");
        Task<Void> t = g.spawnAfter(Duration.ofHours(1), () -> ran.set(true));
        TestThreads.Call closer = TestThreads.startCall(() -> {
            g.close();
            return null;
        });
        awaitParked(closer.thread);
        closer.thread.interrupt();
        assertNull(closer.join());
        assertEquals(Status.CANCELLED, t.status());
        assertFalse(ran.get());
    }

    /** The group's RunState is running while open and stopped after close. */
    @Test
    void runState_lifecycle_runningThenStopped() throws Exception {
        TaskGroup g = TaskGroup.open("crawler");
        assertTrue(g.runState().isRunning(), g.runState().toString());
        assertEquals("crawler", g.runState().name());
        g.close();
        assertTrue(g.runState().isStopped(), g.runState().toString());
        TaskGroup c = TaskGroup.open("c");
        c.cancel();
        assertTrue(c.runState().isCancelled());
        c.close();
        assertTrue(c.runState().isStopped(), c.runState().toString());
    }

    /** A task that leaves its interrupt flag set does not make the next task on that thread begin interrupted. */
    @Test
    void spawn_previousTaskLeftFlagSet_nextTaskBeginsClear() throws Exception {
        TaskGroup g = TaskGroup.open("crawler");
        Queue<String> problems = new ConcurrentLinkedQueue<>();
        for (int i = 0; i < 200; i++) {
            Task<Void> t = g.spawn(() -> Thread.currentThread().interrupt());
            t.join();
            g.join();
            int n = i;
            g.spawn(() -> {
                if (Thread.currentThread().isInterrupted()) {
                    problems.add("task after " + n + " began interrupted");
                }
            }).join();
        }
        g.close();
        assertEquals(List.of(), List.copyOf(problems));
    }

    /** A cancel of one group racing its task's end never interrupts a task of another group. */
    @Test
    void cancel_racingEnd_neverInterruptsOtherGroupsTask() throws Exception {
        Queue<String> problems = new ConcurrentLinkedQueue<>();
        TaskGroup other = TaskGroup.open("other");
        for (int i = 0; i < 1_000; i++) {
            TaskGroup g = TaskGroup.open("victim");
            CyclicBarrier barrier = new CyclicBarrier(2);
            g.spawn(() -> {
                barrier.await();
            });
            barrier.await();
            g.cancel();
            int n = i;
            Task<Void> o = other.spawn(() -> {
                for (int k = 0; k < 5_000; k++) {
                    if (Thread.currentThread().isInterrupted()) {
                        problems.add("other's task " + n + " interrupted by victim's cancel");
                        return;
                    }
                    Thread.onSpinWait();
                }
            });
            g.close();
            o.join();
        }
        other.close();
        assertEquals(List.of(), List.copyOf(problems));
    }

    /** Exploratory (spec ambiguous): a task cancelled alone whose body then throws a plain failure. */
    @Test
    void cancelTrue_bodyThenThrowsPlainFailure_failureNotLost() throws Exception {
        IllegalStateException cleanup = new IllegalStateException("cleanup after own cancel");
        TaskGroup g = TaskGroup.open("crawler");
        CountDownLatch in = new CountDownLatch(1);
        Task<Void> t = g.spawn(() -> {
            in.countDown();
            try {
                blockUntilInterrupted();
            } catch (InterruptedException e) {
                throw cleanup;
            }
        });
        await(in);
        assertTrue(t.cancel(true));
        TestThreads.Call closer = TestThreads.startCall(() -> {
            g.close();
            return null;
        });
        Throwable got = closer.join();
        assertEquals(Status.CANCELLED, t.status(), "a cancelled task's status never changes");
        // Rule 2 ("no failure is lost") versus "it counts as cancelled, not failed": the
        // implementer's Javadoc keeps it as a failure; either way close must not hang.
        assertTrue(got == null || got == cleanup, String.valueOf(got));
    }

    // ------------------------------------------------------------------ batch 4: hostile factories and misuse

    /** A thread factory that throws: spawn fails or the task fails, and close never waits for a thread that never came. */
    @Test
    void spawn_factoryThrows_closeDoesNotHang() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        ThreadFactory f = r -> {
            if (calls.incrementAndGet() == 2) {
                throw new IllegalStateException("no threads today");
            }
            Thread th = new Thread(r);
            th.setDaemon(true);
            return th;
        };
        TaskGroup g = TaskGroup.builder("crawler").threadFactory(f).build();
        List<Task<Integer>> spawned = new ArrayList<>();
        Queue<Throwable> refused = new ConcurrentLinkedQueue<>();
        for (int i = 0; i < 4; i++) {
            int v = i;
            try {
                spawned.add(g.spawn(() -> v));
            } catch (RuntimeException e) {
                refused.add(e);
            }
        }
        TestThreads.Call closer = TestThreads.startCall(() -> {
            g.close();
            return null;
        });
        Throwable got = closer.join(); // may report the factory's failure; must not hang
        for (Task<Integer> t : spawned) {
            assertTrue(t.isDone(), t.name() + " not done after close: " + t.status() + " (" + got + ")");
        }
        assertEquals(List.of(), g.tasks());
    }

    /** A thread factory that returns null: the same, no hang. */
    @Test
    void spawn_factoryReturnsNull_closeDoesNotHang() throws Exception {
        TaskGroup g = TaskGroup.builder("crawler").threadFactory(r -> null).build();
        Task<Integer> t = null;
        try {
            t = g.spawn(() -> 1);
        } catch (RuntimeException e) {
            // refusing the spawn is fine
        }
        TestThreads.Call closer = TestThreads.startCall(() -> {
            g.close();
            return null;
        });
        closer.join();
        if (t != null) {
            assertTrue(t.isDone(), String.valueOf(t.status()));
        }
        assertEquals(List.of(), g.tasks());
    }

    /** join(Duration) that threw the failure counts as delivered: no self-suppression in try-with-resources. */
    @Test
    void tryWithResources_joinDurationThrewFailure_noSelfSuppression() {
        IllegalStateException boom = new IllegalStateException("boom");
        Throwable caught = assertThrows(IllegalStateException.class, () -> {
            try (TaskGroup g = TaskGroup.open("crawler")) {
                Task<Void> a = g.spawn(() -> {
                    throw boom;
                });
                a.join(Duration.ofSeconds(TestThreads.WAIT_S));
            }
        });
        assertSame(boom, caught);
        assertEquals(0, caught.getSuppressed().length);
    }

    /** start() that threw the failure counts as delivered in try-with-resources too. */
    @Test
    void tryWithResources_startThrewFailure_noSelfSuppression() {
        IOException io = new IOException("bind");
        LifecycleException caught = assertThrows(LifecycleException.class, () -> {
            try (TaskGroup g = TaskGroup.open("server")) {
                g.start(s -> {
                    throw io;
                });
            }
        });
        assertSame(io, caught.getCause());
        assertEquals(0, caught.getSuppressed().length);
    }

    /** Cancelling the group's RunState directly cancels the group: its tasks are interrupted. */
    @Test
    void runStateCancel_direct_cancelsGroupTasks() throws Exception {
        TaskGroup g = TaskGroup.open("crawler");
        Task<Void> t = spawnBlocked(g, "poll");
        g.runState().cancel("from the token");
        TestThreads.Call closer = TestThreads.startCall(() -> {
            g.close();
            return null;
        });
        assertNull(closer.join());
        assertEquals(Status.CANCELLED, t.status());
        assertEquals(Optional.of("from the token"), g.runState().cancelReason());
    }

    /** A user who stops the group's RunState by hand does not make close throw a RunState error or skip waiting. */
    @Test
    void close_afterUserStoppedRunState_stillWaitsAndDoesNotThrowStateError() throws Exception {
        TaskGroup g = TaskGroup.open("crawler");
        CountDownLatch release = new CountDownLatch(1);
        AtomicBoolean ended = new AtomicBoolean();
        g.spawn(() -> {
            await(release);
            ended.set(true);
        });
        g.runState().stop();
        TestThreads.Call closer = TestThreads.startCall(() -> {
            g.close();
            return ended.get();
        });
        awaitParked(closer.thread);
        release.countDown();
        Throwable got = closer.join();
        assertNull(got, "close threw after a manual RunState.stop()");
        assertTrue(ended.get());
    }

    /** After close, the parent's cancel changes nothing and throws nothing. */
    @Test
    void parentCancel_afterClose_harmless() throws Exception {
        RunState parent = new RunState("server");
        parent.start();
        TaskGroup g = TaskGroup.builder("workers").parent(parent).build();
        Task<Integer> t = g.spawn(() -> 1);
        g.close();
        parent.cancel("late");
        assertEquals(Status.SUCCEEDED, t.status());
        assertEquals("TaskGroup[workers]{CLOSED, running=0, failed=0}", g.toString());
        g.close();
    }

    /** An Error thrown before started(): start throws it as itself. */
    @Test
    void start_errorBeforeSignal_thrownAsItself() throws Exception {
        StackOverflowError err = new StackOverflowError("deep");
        TaskGroup g = TaskGroup.open("server");
        TestThreads.Call caller = TestThreads.startCall(() -> g.start(s -> {
            throw err;
        }));
        assertSame(err, caller.join());
        TestThreads.Call closer = TestThreads.startCall(() -> {
            g.close();
            return null;
        });
        assertSame(err, closer.join(), "not delivered to this thread: close throws it");
    }

    // ------------------------------------------------------------------ batch 5: listeners and start races

    /** close() or join() from a task's direct listener, on the group's thread, is refused; nothing deadlocks. */
    @Test
    void close_fromDirectListenerOnTaskThread_refusedNoDeadlock() throws Exception {
        TaskGroup g = TaskGroup.open("crawler");
        CountDownLatch release = new CountDownLatch(1);
        Thread main = Thread.currentThread();
        AtomicReference<Throwable> fromClose = new AtomicReference<>();
        AtomicReference<Throwable> fromJoin = new AtomicReference<>();
        AtomicBoolean onOtherThread = new AtomicBoolean();
        Task<Integer> t = g.spawn(() -> {
            await(release);
            return 1;
        });
        t.addListener(() -> {
            onOtherThread.set(Thread.currentThread() != main);
            try {
                g.join();
            } catch (Throwable e) {
                fromJoin.set(e);
            }
            try {
                g.close();
            } catch (Throwable e) {
                fromClose.set(e);
            }
        }, MoreExecutors.directExecutor());
        release.countDown();
        TestThreads.Call closer = TestThreads.startCall(() -> {
            g.close();
            return null;
        });
        assertNull(closer.join(), "the group deadlocked or threw");
        if (onOtherThread.get()) {
            assertTrue(fromJoin.get() == null || fromJoin.get() instanceof IllegalStateException,
                    String.valueOf(fromJoin.get()));
            assertTrue(fromClose.get() == null || fromClose.get() instanceof IllegalStateException,
                    String.valueOf(fromClose.get()));
        }
    }

    /** start racing a sibling's failure: start ends (the failure or a CancellationException), close agrees, no hang. */
    @Test
    void start_racingSiblingFailure_neverHangsFailureDeliveredOnce() throws Exception {
        for (int i = 0; i < 300; i++) {
            RuntimeException boom = new RuntimeException("boom " + i);
            TaskGroup g = TaskGroup.open("server");
            CyclicBarrier barrier = new CyclicBarrier(2);
            g.spawn(() -> {
                barrier.await();
                throw boom;
            });
            barrier.await();
            Throwable fromStart = null;
            try {
                g.start(s -> blockUntilInterrupted());
            } catch (RuntimeException e) {
                fromStart = e;
            }
            assertTrue(fromStart == boom || fromStart instanceof CancellationException,
                    "iteration " + i + ": start threw " + fromStart);
            if (fromStart == boom) {
                g.close(); // delivered by start
            } else {
                assertSame(boom, assertThrows(RuntimeException.class, g::close), "iteration " + i);
            }
        }
    }

    /** Many concurrent start() calls on a group that gets cancelled: every one returns, none hangs. */
    @Test
    void start_manyConcurrentThenCancel_allReturn() throws Exception {
        TaskGroup g = TaskGroup.open("server");
        int n = 32;
        CountDownLatch inBodies = new CountDownLatch(n);
        List<TestThreads.Call> calls = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            calls.add(TestThreads.startCall(() -> g.start(s -> {
                inBodies.countDown();
                blockUntilInterrupted();
            })));
        }
        await(inBodies);
        g.cancel("stop");
        for (TestThreads.Call c : calls) {
            Throwable got = c.join();
            assertTrue(got instanceof CancellationException, String.valueOf(got));
            assertEquals("server: cancelled: stop", got.getMessage());
        }
        g.close();
    }

    // ------------------------------------------------------------------ batch 6: Future contract, reasons, one wrapper

    /** Task declares no state(); on Java 19+ Future.state() agrees with status(). */
    @Test
    void futureState_onJava19Plus_agreesWithStatus() throws Exception {
        for (java.lang.reflect.Method m : Task.class.getDeclaredMethods()) {
            assertFalse(m.getName().equals("state") && m.getParameterCount() == 0, "Task declares state()");
        }
        java.lang.reflect.Method state;
        try {
            state = java.util.concurrent.Future.class.getMethod("state");
        } catch (NoSuchMethodException e) {
            return; // Java 17/18: nothing to compare
        }
        TaskGroup g = TaskGroup.builder("crawler").cancelOnFailure(false).build();
        Task<Void> running = spawnBlocked(g, "r");
        Task<Integer> ok = g.spawn(() -> 1);
        Task<Void> failed = g.spawn(() -> {
            throw new IllegalStateException("x");
        });
        Task<Void> cancelled = g.spawnAfter(Duration.ofHours(1), () -> { });
        cancelled.cancel(false);
        ok.join();
        assertThrows(IllegalStateException.class, failed::join);
        assertEquals("RUNNING", state.invoke(running).toString());
        assertEquals("SUCCESS", state.invoke(ok).toString());
        assertEquals("FAILED", state.invoke(failed).toString());
        assertEquals("CANCELLED", state.invoke(cancelled).toString());
        running.cancel(true);
        g.close();
    }

    /** The one LifecycleException of a start() failure is what another thread's group join throws. */
    @Test
    void start_checkedFailure_oneWrapperForStartAndGroupJoin() throws Exception {
        IOException io = new IOException("bind");
        TaskGroup g = TaskGroup.open("server");
        LifecycleException fromStart = assertThrows(LifecycleException.class, () -> g.start(s -> {
            throw io;
        }));
        Throwable fromJoin = TestThreads.startCall(() -> {
            g.join();
            return null;
        }).join();
        assertSame(fromStart, fromJoin, "start and join must throw one wrapper instance");
        g.close();
    }

    /** A parent RunState's reason reaches its children's cancelReason. */
    @Test
    void runStateCancel_reason_travelsToChildren() {
        RunState parent = new RunState("p");
        RunState child = parent.child("c");
        parent.start();
        child.start();
        parent.cancel("why");
        assertTrue(child.isCancelled());
        assertEquals(Optional.of("why"), child.cancelReason());
    }

    /** A reason given before start is kept for the run that begins cancelled. */
    @Test
    void runStateCancel_reasonBeforeStart_keptForNextRun() {
        RunState r = new RunState("r");
        r.cancel("early");
        r.start();
        assertTrue(r.isCancelled());
        assertEquals(Optional.of("early"), r.cancelReason());
    }

    /** failAfter counts from build(): a close called later still throws once the time from build is up. */
    @Test
    void failAfter_countedFromBuild_notFromClose() throws Exception {
        Duration d = Duration.ofMillis(300);
        long t0 = System.nanoTime();
        TaskGroup g = TaskGroup.builder("crawler").failAfter(d).build();
        g.spawn(() -> {
            g.runState().sleep(Duration.ofHours(1));
        });
        assertThrows(TaskGroup.DeadlineExceededException.class, g::close);
        long took = System.nanoTime() - t0;
        assertTrue(took >= d.toNanos(), "deadline fired after " + took + " ns, before " + d);
    }

    // ------------------------------------------------------------------ batch 7: resources after close

    /** 2 000 groups opened and closed one after another leave no growing crowd of platform threads behind. */
    @Test
    void close_manyGroupsInSequence_platformThreadsDoNotPileUp() throws Exception {
        int before = Thread.getAllStackTraces().size();
        for (int i = 0; i < 2_000; i++) {
            TaskGroup g = TaskGroup.open("g" + i);
            g.spawn(() -> 1);
            g.spawn(() -> 2);
            g.close();
        }
        int after = Thread.getAllStackTraces().size();
        assertTrue(after - before < 100, "closed groups left " + (after - before) + " live threads");
    }

    /** A closed group with a long-lived parent and outer group is not kept reachable by them. */
    @Test
    void close_groupWithParentInsideOuterTask_notRetainedAfterClose() throws Exception {
        RunState parent = new RunState("long-lived");
        parent.start();
        TaskGroup outer = TaskGroup.open("outer");
        Task<java.lang.ref.WeakReference<TaskGroup>> t = outer.spawn(() -> {
            TaskGroup inner = TaskGroup.builder("inner").parent(parent).build();
            inner.spawn(() -> 1);
            inner.close();
            return new java.lang.ref.WeakReference<>(inner);
        });
        java.lang.ref.WeakReference<TaskGroup> ref = t.join();
        for (int i = 0; i < 50 && ref.get() != null; i++) {
            System.gc();
            byte[][] garbage = new byte[64][];
            for (int k = 0; k < garbage.length; k++) {
                garbage[k] = new byte[64 * 1024];
            }
        }
        boolean collected = ref.get() == null;
        outer.close();
        parent.stop();
        assertTrue(collected, "a closed group stays reachable from its parent or outer group (listener leak)");
    }

    // ------------------------------------------------------------------ batch 8: entry checks and nesting under cancel

    /** start with the interrupt flag set throws at once (package rule) and starts no task. */
    @Test
    void start_interruptFlagSetOnEntry_throwsAndSpawnsNothing() throws Exception {
        TaskGroup g = TaskGroup.open("server");
        AtomicBoolean ran = new AtomicBoolean();
        Thread.currentThread().interrupt();
        InterruptedException e = assertThrows(InterruptedException.class, () -> g.start(s -> {
            ran.set(true);
            s.started(1);
        }));
        assertFalse(Thread.interrupted(), "flag not cleared");
        assertEquals("server: interrupted in start()", e.getMessage());
        assertEquals(List.of(), g.tasks(), "an interrupted start left a task");
        g.close();
        assertFalse(ran.get(), "the task of an interrupted start ran");
        assertEquals("TaskGroup[server]{CLOSED, running=0, failed=0}", g.toString());
    }

    /** start may be called from a task of the group (it waits for a sibling's signal, not for itself). */
    @Test
    void start_fromTaskOfGroup_returnsValue() throws Exception {
        TaskGroup g = TaskGroup.open("server");
        Task<String> t = g.spawn(() -> g.start(s -> s.started("inner-up")));
        g.close();
        assertEquals("inner-up", t.resultNow());
    }

    /** A group opened in a task of an already-cancelled group begins cancelled; its spawns are CANCELLED. */
    @Test
    void open_insideTaskOfCancelledGroup_beginsCancelled() throws Exception {
        TaskGroup outer = TaskGroup.open("outer");
        CountDownLatch in = new CountDownLatch(1);
        CountDownLatch cancelled = new CountDownLatch(1);
        Task<List<Object>> t = outer.spawn(() -> {
            in.countDown();
            while (cancelled.getCount() > 0) {
                try {
                    cancelled.await();
                } catch (InterruptedException ignored) {
                    // keep going: this task outlives the cancel on purpose, until close waits
                }
            }
            AtomicBoolean ran = new AtomicBoolean();
            try (TaskGroup inner = TaskGroup.open("inner")) {
                Task<Void> x = inner.spawn(() -> ran.set(true));
                return List.of(inner.runState().isCancelled(), x.status(), ran.get());
            }
        });
        await(in);
        outer.cancel("bye");
        cancelled.countDown();
        outer.close();
        List<Object> r = t.resultNow();
        assertEquals(true, r.get(0), "inner group not cancelled");
        assertEquals(Status.CANCELLED, r.get(1));
        assertEquals(false, r.get(2));
    }

    // ------------------------------------------------------------------ batch 9: small contracts

    /** A failAfter deadline that passes while the group is open but idle still makes close throw. */
    @Test
    void close_failAfterPassedWhileIdle_throwsDeadline() throws Exception {
        TaskGroup g = TaskGroup.builder("crawler").failAfter(Duration.ofMillis(100)).build();
        assertEquals(1, g.spawn(() -> 1).join());
        assertTrue(g.runState().awaitCancellation(Duration.ofSeconds(TestThreads.WAIT_S)),
                "the deadline never cancelled the group");
        TaskGroup.DeadlineExceededException e =
                assertThrows(TaskGroup.DeadlineExceededException.class, g::close);
        assertEquals("crawler: deadline PT0.1S exceeded", e.getMessage());
    }

    /** start counts as a spawn in the GROUP-N numbering, and its ended-without-signal message names its task. */
    @Test
    void start_countsInNumbering_messageNamesTask() throws Exception {
        TaskGroup g = TaskGroup.open("crawler");
        assertEquals("crawler-1", g.spawn(() -> 1).name());
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> g.start(s -> { }));
        assertEquals("crawler: task crawler-2 ended without started()", e.getMessage());
        assertEquals("crawler-3", g.spawn(() -> 3).name());
        g.close();
    }

    /** An empty reason is a reason: cancelReason is exactly "". */
    @Test
    void cancel_emptyReason_keptExactly() throws Exception {
        TaskGroup g = TaskGroup.open("crawler");
        g.cancel("");
        g.cancel("later");
        assertEquals(Optional.of(""), g.runState().cancelReason());
        g.close();
    }

    /** One builder may build two independent groups. */
    @Test
    void build_twice_twoIndependentGroups() throws Exception {
        TaskGroup.Builder b = TaskGroup.builder("twin");
        TaskGroup g1 = b.build();
        TaskGroup g2 = b.build();
        g1.cancel();
        assertFalse(g2.runState().isCancelled());
        Task<Integer> t = g2.spawn(() -> 2);
        g1.close();
        g2.close();
        assertEquals(2, t.resultNow());
    }

    /** join with a huge timeout means practically forever: it returns the result. */
    @Test
    void joinDuration_huge_returnsResult() throws Exception {
        TaskGroup g = TaskGroup.open("crawler");
        Task<Integer> t = g.spawn(() -> 4);
        assertEquals(4, t.join(Duration.ofSeconds(Long.MAX_VALUE)));
        g.close();
    }

    // ------------------------------------------------------------------ batch 10: more races and Errors

    /** Rule 4 with a task ending at the same moment as an outside spawn and close. */
    @Test
    void spawn_racingLastTaskEndAndClose_runsAndWaitedOrRefused() throws Exception {
        for (int i = 0; i < 1_000; i++) {
            TaskGroup g = TaskGroup.open("race");
            CyclicBarrier barrier = new CyclicBarrier(3);
            AtomicBoolean ran = new AtomicBoolean();
            g.spawn(() -> {
                barrier.await();
            });
            TestThreads.Call spawner = TestThreads.startCall(() -> {
                barrier.await();
                try {
                    return g.spawn(() -> ran.set(true));
                } catch (ClosedException e) {
                    return null;
                }
            });
            TestThreads.Call closer = TestThreads.startCall(() -> {
                barrier.await();
                g.close();
                return ran.get();
            });
            assertNull(closer.join());
            boolean ranAtClose = ran.get();
            Throwable sp = spawner.join();
            assertNull(sp);
            assertEquals(ran.get(), ranAtClose, "iteration " + i + ": a task ran after close returned");
        }
    }

    /** A thread factory that throws an Error: no hang, every task that was returned ends. */
    @Test
    void spawn_factoryThrowsError_closeDoesNotHang() throws Exception {
        TaskGroup g = TaskGroup.builder("crawler").threadFactory(r -> {
            throw new OutOfMemoryError("unable to create native thread (simulated)");
        }).build();
        Task<Integer> t = null;
        try {
            t = g.spawn(() -> 1);
        } catch (Throwable e) {
            // refusing the spawn is fine
        }
        TestThreads.Call closer = TestThreads.startCall(() -> {
            g.close();
            return null;
        });
        closer.join(); // may throw the Error; must not hang
        if (t != null) {
            assertTrue(t.isDone(), String.valueOf(t.status()));
        }
        assertEquals(List.of(), g.tasks());
    }

    /** A failAfter deadline with a task that ignores the interrupt: close waits for it, then throws the deadline. */
    @Test
    void close_failAfterTaskIgnoresInterrupt_waitsThenThrowsDeadline() throws Exception {
        TaskGroup g = TaskGroup.builder("crawler").failAfter(Duration.ofMillis(50)).build();
        CountDownLatch release = new CountDownLatch(1);
        AtomicBoolean ended = new AtomicBoolean();
        g.spawn(() -> {
            while (release.getCount() > 0) {
                try {
                    release.await();
                } catch (InterruptedException ignored) {
                    // stubborn task
                }
            }
            ended.set(true);
        });
        TestThreads.Call closer = TestThreads.startCall(() -> {
            g.close();
            return null;
        });
        assertTrue(g.runState().awaitCancellation(Duration.ofSeconds(TestThreads.WAIT_S)));
        awaitParked(closer.thread);
        assertTrue(closer.thread.isAlive(), "close returned while the stubborn task ran");
        release.countDown();
        assertTrue(closer.join() instanceof TaskGroup.DeadlineExceededException);
        assertTrue(ended.get());
    }

    /** A protected task's Error is logged, not thrown by close, and cancels nobody; its join throws it. */
    @Test
    void spawnProtected_throwsError_notThrownByClose() throws Exception {
        AssertionError err = new AssertionError("protected invariant");
        TaskGroup g = TaskGroup.open("conn");
        Task<Void> p = g.spawnProtected("hb", () -> {
            throw err;
        });
        CountDownLatch pd = doneLatch(p);
        Task<Boolean> sib = g.spawn(() -> {
            await(pd);
            return g.runState().isCancelled();
        });
        TestThreads.Call closer = TestThreads.startCall(() -> {
            g.close();
            return null;
        });
        assertNull(closer.join(), "close threw a protected task's Error");
        assertEquals(false, sib.resultNow());
        assertSame(err, assertThrows(AssertionError.class, p::join));
    }

    /** A task that cancels itself (cancel(true) from its body) is CANCELLED at once, no failure, the group goes on. */
    @Test
    void cancelTrue_fromOwnBody_cancelledNoFailure() throws Exception {
        TaskGroup g = TaskGroup.open("crawler");
        AtomicReference<Task<String>> self = new AtomicReference<>();
        CountDownLatch published = new CountDownLatch(1);
        AtomicBoolean sawInterrupt = new AtomicBoolean();
        Task<String> t = g.spawn(() -> {
            await(published);
            assertTrue(self.get().cancel(true));
            assertEquals(Status.CANCELLED, self.get().status());
            sawInterrupt.set(Thread.interrupted());
            return "ignored";
        });
        self.set(t);
        published.countDown();
        Task<Integer> sibling = g.spawn(() -> 1);
        g.close();
        assertEquals(Status.CANCELLED, t.status());
        assertTrue(sawInterrupt.get(), "cancel(true) on itself did not interrupt");
        assertThrows(CancellationException.class, t::join);
        assertEquals(1, sibling.resultNow());
        assertFalse(g.runState().isCancelled());
    }
}
