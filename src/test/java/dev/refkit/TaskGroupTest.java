package dev.refkit;

import static dev.refkit.TestThreads.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The basic behaviour of every method of {@link TaskGroup} and {@link Task}. */
@Timeout(60)
final class TaskGroupTest {
    private static final Duration LONG = Duration.ofSeconds(TestThreads.WAIT_S);

    /** Waits until {@code t} is done, whatever its outcome, without reporting it. */
    private static void awaitDone(Task<?> t) throws InterruptedException {
        try {
            t.get();
        } catch (ExecutionException | CancellationException e) {
            // done
        }
    }

    @Test
    void spawn_results_keptAndJoined() throws Exception {
        try (TaskGroup g = TaskGroup.open("crawler")) {
            Task<Integer> a = g.spawn(() -> 1 + 1);
            Task<Void> b = g.spawn(() -> { });
            assertEquals(2, a.join());
            assertNull(b.join());
            assertEquals(2, a.get());
            assertEquals(2, a.resultNow());
            assertEquals(Task.Status.SUCCEEDED, a.status());
            assertEquals("crawler-1", a.name());
            assertEquals("crawler-2", b.name());
            assertEquals("fetch", g.spawn("fetch", () -> 3).name());
            assertEquals("crawler-4", g.spawn(() -> 4).name());
        }
    }

    @Test
    void open_noName_namedTasks() {
        try (TaskGroup g = TaskGroup.open()) {
            assertEquals("tasks", g.name());
        }
    }

    @Test
    void close_waitsForEveryTask() throws Exception {
        AtomicBoolean done = new AtomicBoolean();
        CountDownLatch go = new CountDownLatch(1);
        TaskGroup g = TaskGroup.open("g");
        g.spawn(() -> {
            go.await();
            done.set(true);
        });
        Thread opener = TestThreads.start(go::countDown);
        g.close();
        assertTrue(done.get());
        opener.join();
        assertTrue(g.tasks().isEmpty());
        assertEquals("TaskGroup[g]{CLOSED, running=0, failed=0}", g.toString());
    }

    @Test
    void close_uncheckedFailure_thrownAsItselfAndCancelsSiblings() throws Exception {
        IllegalStateException boom = new IllegalStateException("boom");
        CountDownLatch sleeping = new CountDownLatch(1);
        AtomicReference<Throwable> siblingEnd = new AtomicReference<>();
        TaskGroup g = TaskGroup.open("crawler");
        Task<Void> sibling = g.spawn(() -> {
            sleeping.countDown();
            try {
                Thread.sleep(LONG.toMillis() * 10);
            } catch (InterruptedException e) {
                siblingEnd.set(e);
                throw e;
            }
        });
        await(sleeping);
        Task<Void> fail = g.spawn("fetch-3", () -> {
            throw boom;
        });
        RuntimeException thrown = assertThrows(RuntimeException.class, g::close);
        assertSame(boom, thrown);
        assertInstanceOf(InterruptedException.class, siblingEnd.get());
        assertEquals(Task.Status.CANCELLED, sibling.status());
        assertEquals(Task.Status.FAILED, fail.status());
        assertSame(boom, fail.exceptionNow());
        CancellationException ce = assertThrows(CancellationException.class, sibling::join);
        assertEquals("crawler: cancelled: task fetch-3 failed (java.lang.IllegalStateException:"
                + " boom)", ce.getMessage());
        assertEquals(Optional.of("task fetch-3 failed (java.lang.IllegalStateException: boom)"),
                g.runState().cancelReason());
        assertTrue(g.runState().isStopped());
    }

    @Test
    void join_checkedFailure_wrappedOnceWithCause() throws Exception {
        IOException io = new IOException("timeout");
        TaskGroup g = TaskGroup.open("crawler");
        Task<Void> t = g.spawn("fetch-3", () -> {
            throw io;
        });
        LifecycleException fromTask = assertThrows(LifecycleException.class, t::join);
        assertEquals("crawler: task fetch-3 failed", fromTask.getMessage());
        assertSame(io, fromTask.getCause());
        assertSame(fromTask, assertThrows(LifecycleException.class, t::join));
        ExecutionException ee = assertThrows(ExecutionException.class, t::get);
        assertSame(io, ee.getCause());
        assertSame(io, t.exceptionNow());
        // Already thrown to this thread by t.join(): the group returns normally.
        g.join();
        g.close();
        // Another thread gets it from the group.
        Throwable other = TestThreads.startCall(() -> {
            g.join();
            return null;
        }).join();
        assertSame(fromTask, other);
    }

    @Test
    void close_laterFailures_suppressedInOrder() throws Exception {
        TaskGroup g = TaskGroup.builder("sup").cancelOnFailure(false).build();
        RuntimeException first = new RuntimeException("1");
        RuntimeException second = new RuntimeException("2");
        RuntimeException third = new RuntimeException("3");
        awaitDone(g.spawn(() -> {
            throw first;
        }));
        awaitDone(g.spawn(() -> {
            throw second;
        }));
        awaitDone(g.spawn(() -> {
            throw third;
        }));
        assertFalse(g.runState().isCancelled());
        RuntimeException thrown = assertThrows(RuntimeException.class, g::close);
        assertSame(first, thrown);
        assertEquals(List.of(second, third), List.of(thrown.getSuppressed()));
    }

    @Test
    void tryWithResources_taskJoinThrew_noSelfSuppression() {
        RuntimeException boom = new RuntimeException("boom");
        RuntimeException thrown = assertThrows(RuntimeException.class, () -> {
            try (TaskGroup g = TaskGroup.open("g")) {
                g.spawn(() -> {
                    throw boom;
                }).join();
            }
        });
        assertSame(boom, thrown);
        assertEquals(0, thrown.getSuppressed().length);
    }

    @Test
    void cancel_isNotFailure_andPendingNeverStart() throws Exception {
        TaskGroup g = TaskGroup.open("g");
        CountDownLatch sleeping = new CountDownLatch(1);
        Task<Void> sleeper = g.spawn(() -> {
            sleeping.countDown();
            g.runState().sleep(LONG.multipliedBy(10));
        });
        AtomicBoolean ran = new AtomicBoolean();
        Task<Void> later = g.spawnAfter(LONG.multipliedBy(10), () -> ran.set(true));
        assertEquals(Task.Status.SCHEDULED, later.status());
        await(sleeping);
        g.cancel("enough");
        assertEquals(Task.Status.CANCELLED, later.status());
        Task<Void> after = g.spawn(() -> ran.set(true));
        assertTrue(after.isCancelled());
        assertEquals("g: cancelled: enough",
                assertThrows(CancellationException.class, after::join).getMessage());
        g.cancel("ignored");
        g.close();
        assertFalse(ran.get());
        // The cancel both wakes the sleep (false) and interrupts the task: either way not FAILED.
        assertTrue(sleeper.status() == Task.Status.SUCCEEDED
                || sleeper.status() == Task.Status.CANCELLED, sleeper.toString());
        assertEquals(Optional.of("enough"), g.runState().cancelReason());
    }

    @Test
    void spawn_afterClose_throwsClosed() {
        TaskGroup g = TaskGroup.open("crawler");
        g.close();
        g.close(); // twice: nothing
        ClosedException e = assertThrows(ClosedException.class, () -> g.spawn(() -> 1));
        assertEquals("crawler: task group closed", e.getMessage());
        assertThrows(ClosedException.class, () -> g.start(s -> s.started(1)));
    }

    @Test
    void spawnAfter_runsAfterDelay() throws Exception {
        try (TaskGroup g = TaskGroup.open("g")) {
            long t0 = System.nanoTime();
            Task<Long> t = g.spawnAfter(Duration.ofMillis(50), System::nanoTime);
            assertTrue(t.join() - t0 >= Duration.ofMillis(50).toNanos());
        }
    }

    @Test
    void spawnProtected_failureNotThrownByClose_butByJoin() throws Exception {
        RuntimeException boom = new RuntimeException("protected boom (expected in the log)");
        TaskGroup g = TaskGroup.open("g");
        Task<Void> p = g.spawnProtected("p", () -> {
            throw boom;
        });
        Task<Integer> other = g.spawn(() -> 5);
        assertSame(boom, assertThrows(RuntimeException.class, p::join));
        g.close();
        assertEquals(5, other.join());
        assertFalse(g.runState().isCancelled());
        Throwable onOtherThread = TestThreads.startCall(() -> {
            g.close();
            g.join();
            return null;
        }).join();
        assertNull(onOtherThread);
    }

    /** tasks(): the live tasks in spawn order; an ended one leaves it, the rest stay. */
    @Test
    void tasks_spawnOrder_endedLeave() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        try (TaskGroup g = TaskGroup.open("order")) {
            List<Task<?>> spawned = new ArrayList<>();
            for (int i = 0; i < 100; i++) {
                spawned.add(g.spawn(() -> {
                    release.await();
                }));
            }
            Task<Integer> quick = g.spawn(() -> 1);
            assertEquals(1, quick.join());
            awaitTrue(() -> g.tasks().size() == 100); // the quick one leaves after its join
            assertEquals(spawned, g.tasks());
            spawned.get(50).cancel(true);
            awaitTrue(() -> !g.tasks().contains(spawned.get(50)));
            List<Task<?>> rest = new ArrayList<>(spawned);
            rest.remove(50);
            assertEquals(rest, g.tasks());
            release.countDown();
        }
    }

    /** Polls {@code condition} (yielding, no sleep) for up to 10 s. */
    private static void awaitTrue(java.util.function.BooleanSupplier condition) {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() - deadline < 0, "timed out");
            Thread.yield();
        }
    }

    @Test
    void start_returnsStartedValue_taskGoesOn() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        try (TaskGroup g = TaskGroup.open("srv")) {
            int port = g.start(started -> {
                started.started(8080);
                release.await();
            });
            assertEquals(8080, port);
            assertEquals(1, g.tasks().size());
            release.countDown();
        }
    }

    @Test
    void start_failsBeforeSignal_throwsItsFailure() throws Exception {
        IOException io = new IOException("bind");
        TaskGroup g = TaskGroup.open("srv");
        LifecycleException e = assertThrows(LifecycleException.class,
                () -> g.start(started -> {
                    throw io;
                }));
        assertSame(io, e.getCause());
        g.close(); // delivered to this thread already
        assertSame(e, TestThreads.startCall(() -> {
            g.join();
            return null;
        }).join());
    }

    @Test
    void start_endsWithoutSignal_illegalStateNotFailure() {
        TaskGroup g = TaskGroup.open("srv");
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> g.start(started -> { }));
        assertEquals("srv: task srv-1 ended without started()", e.getMessage());
        g.close();
    }

    @Test
    void start_secondSignal_throws() throws Exception {
        AtomicReference<Throwable> second = new AtomicReference<>();
        try (TaskGroup g = TaskGroup.open("srv")) {
            g.start(started -> {
                started.started("a");
                try {
                    started.started("b");
                } catch (IllegalStateException e) {
                    second.set(e);
                }
            });
        }
        assertEquals("srv: task srv-1 called started() twice", second.get().getMessage());
    }

    @Test
    void start_groupCancelled_throwsCancellationNotHang() {
        TaskGroup g = TaskGroup.open("srv");
        CountDownLatch inside = new CountDownLatch(1);
        Thread canceller = TestThreads.start(() -> {
            try {
                await(inside);
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
            g.cancel("stop");
        });
        CancellationException e = assertThrows(CancellationException.class,
                () -> g.start(started -> {
                    inside.countDown();
                    Thread.sleep(LONG.toMillis() * 10);
                }));
        assertTrue(e.getMessage().startsWith("srv: cancelled"), e.getMessage());
        g.close();
        assertFalse(canceller.isInterrupted());
    }

    @Test
    void start_timeout_cancelsTaskAlone() {
        TaskGroup g = TaskGroup.open("srv");
        TimeoutException e = assertThrows(TimeoutException.class,
                () -> g.start(Duration.ofMillis(20), started -> Thread.sleep(LONG.toMillis())));
        assertEquals("srv: task srv-1 did not call started() within PT0.02S", e.getMessage());
        assertFalse(g.runState().isCancelled());
        g.close();
    }

    @Test
    void failAfter_deadline_throwsDeadlineExceeded() {
        TaskGroup g = TaskGroup.builder("crawler").failAfter(Duration.ofMillis(50)).build();
        g.spawn(() -> g.runState().sleep(LONG.multipliedBy(10)));
        TaskGroup.DeadlineExceededException e =
                assertThrows(TaskGroup.DeadlineExceededException.class, g::close);
        assertEquals("crawler: deadline PT0.05S exceeded", e.getMessage());
        assertEquals(Duration.ofMillis(50), e.deadline());
    }

    @Test
    void moveOnAfter_deadline_quiet() {
        TaskGroup g = TaskGroup.builder("crawler").moveOnAfter(Duration.ofMillis(50)).build();
        Task<Void> t = g.spawn(() -> Thread.sleep(LONG.toMillis() * 10));
        g.close();
        assertTrue(t.isCancelled());
        assertEquals(Optional.of("deadline PT0.05S exceeded"), g.runState().cancelReason());
    }

    @Test
    void parent_cancelled_cancelsGroup() throws Exception {
        RunState parent = new RunState("parent");
        parent.start();
        TaskGroup g = TaskGroup.builder("child").parent(parent).build();
        Task<Boolean> t = g.spawn(() -> g.runState().awaitCancellation(LONG.multipliedBy(10)));
        parent.cancel("shutdown");
        g.close();
        assertTrue(g.runState().isCancelled() || g.runState().isStopped());
        assertEquals(Optional.of("shutdown"), g.runState().cancelReason());
        assertTrue(t.status() == Task.Status.SUCCEEDED || t.status() == Task.Status.CANCELLED,
                t.toString());
    }

    @Test
    void nested_outerCancel_cancelsInner_andCurrent() throws Exception {
        AtomicReference<Optional<TaskGroup>> seen = new AtomicReference<>();
        AtomicReference<TaskGroup> innerRef = new AtomicReference<>();
        CountDownLatch innerSleeping = new CountDownLatch(1);
        TaskGroup outer = TaskGroup.open("outer");
        outer.spawn(() -> {
            seen.set(TaskGroup.current());
            try (TaskGroup inner = TaskGroup.open("inner")) {
                innerRef.set(inner);
                inner.spawn(() -> {
                    innerSleeping.countDown();
                    inner.runState().sleep(LONG.multipliedBy(10));
                });
            }
        });
        await(innerSleeping);
        outer.cancel("outer done");
        outer.close();
        assertSame(outer, seen.get().orElseThrow());
        assertTrue(innerRef.get().runState().isCancelled());
        assertEquals(Optional.empty(), TaskGroup.current());
    }

    @Test
    void joinAndClose_fromOwnTask_illegalState() throws Exception {
        TaskGroup g = TaskGroup.open("g");
        Task<String> t = g.spawn(() -> {
            List<String> msgs = new ArrayList<>();
            try {
                g.join();
            } catch (IllegalStateException e) {
                msgs.add(e.getMessage());
            }
            try {
                g.close();
            } catch (IllegalStateException e) {
                msgs.add(e.getMessage());
            }
            return String.join("|", msgs);
        });
        assertEquals("g: join() from a task of this group|g: close() from a task of this group",
                t.join());
        g.close();
    }

    @Test
    void close_interrupted_cancelsStillWaitsKeepsFlag() throws Exception {
        TaskGroup g = TaskGroup.open("g");
        CountDownLatch sleeping = new CountDownLatch(1);
        AtomicBoolean ended = new AtomicBoolean();
        g.spawn(() -> {
            sleeping.countDown();
            try {
                g.runState().sleep(LONG.multipliedBy(10));
            } finally {
                ended.set(true);
            }
        });
        await(sleeping);
        AtomicBoolean flag = new AtomicBoolean();
        TestThreads.Call c = TestThreads.startCall(() -> {
            g.close();
            flag.set(Thread.currentThread().isInterrupted());
            return null;
        });
        TestThreads.awaitParked(c.thread);
        c.thread.interrupt();
        assertNull(c.join());
        assertTrue(flag.get());
        assertTrue(ended.get());
        assertEquals(Optional.of("close() interrupted"), g.runState().cancelReason());
    }

    @Test
    void join_interrupted_throwsAndChangesNothing() throws Exception {
        TaskGroup g = TaskGroup.open("g");
        CountDownLatch release = new CountDownLatch(1);
        g.spawn(() -> release.await());
        InterruptedException e = TestThreads.assertInterruptedWhileParked(() -> {
            g.join();
            return null;
        });
        assertEquals("g: interrupted in join()", e.getMessage());
        assertFalse(g.runState().isCancelled());
        release.countDown();
        g.close();
    }

    @Test
    void task_cancel_completesAtOnce_groupWaitsForBody() throws Exception {
        TaskGroup g = TaskGroup.open("g");
        CountDownLatch running = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Task<Void> t = g.spawn("t", () -> {
            running.countDown();
            release.await(); // not interrupted by cancel(false)
        });
        await(running);
        assertTrue(t.cancel(false));
        assertTrue(t.isDone());
        assertEquals(Task.Status.CANCELLED, t.status());
        assertEquals("g: task t cancelled",
                assertThrows(CancellationException.class, t::join).getMessage());
        assertEquals(1, g.tasks().size());
        assertEquals("TaskGroup[g]{OPEN, running=1, failed=0}", g.toString());
        assertThrows(IllegalStateException.class, t::resultNow);
        assertThrows(IllegalStateException.class, t::exceptionNow);
        release.countDown();
        g.close();
        assertFalse(g.runState().isCancelled());
    }

    @Test
    void task_joinTimeout_throwsTimeout() throws Exception {
        TaskGroup g = TaskGroup.open("g");
        CountDownLatch release = new CountDownLatch(1);
        Task<Void> t = g.spawn(() -> release.await());
        TimeoutException e = assertThrows(TimeoutException.class,
                () -> t.join(Duration.ofMillis(10)));
        assertEquals("g-1: not done after PT0.01S", e.getMessage());
        release.countDown();
        assertNull(t.join(LONG));
        g.close();
    }

    @Test
    void threadFactory_used_andPlatformThreadsNamed() throws Exception {
        AtomicReference<String> threadName = new AtomicReference<>();
        try (TaskGroup g = TaskGroup.builder("w").threadFactory(r -> {
            Thread t = new Thread(r, "mine");
            t.setDaemon(true);
            return t;
        }).build()) {
            g.spawn(() -> threadName.set(Thread.currentThread().getName())).join();
        }
        assertEquals("mine", threadName.get());
    }

    @Test
    void spawnWhileClosing_waitedFor() throws Exception {
        TaskGroup g = TaskGroup.open("g");
        AtomicBoolean childRan = new AtomicBoolean();
        CountDownLatch go = new CountDownLatch(1);
        g.spawn(() -> {
            go.await();
            g.spawn(() -> childRan.set(true));
        });
        TestThreads.Call closer = TestThreads.startCall(() -> {
            g.close();
            return null;
        });
        TestThreads.awaitParked(closer.thread);
        assertTrue(g.toString().startsWith("TaskGroup[g]{CLOSING"), g.toString());
        go.countDown();
        assertNull(closer.join());
        assertTrue(childRan.get());
    }

    /** A failure whose toString() throws is still recorded, cancels and is thrown by close. */
    @Test
    void close_failureWithThrowingToString_stillReportedAndCancels() throws Exception {
        RuntimeException evil = new RuntimeException() {
            private static final long serialVersionUID = 1L;

            @Override
            public String toString() {
                throw new UnsupportedOperationException("toString");
            }
        };
        TaskGroup g = TaskGroup.open("crawler");
        CountDownLatch sleeping = new CountDownLatch(1);
        Task<Void> sibling = g.spawn(() -> {
            sleeping.countDown();
            g.runState().sleep(LONG.multipliedBy(10));
        });
        await(sleeping);
        g.spawn("evil", () -> {
            throw evil;
        });
        assertSame(evil, assertThrows(RuntimeException.class, g::close));
        assertTrue(sibling.isDone());
        assertEquals(Optional.of("task evil failed (" + evil.getClass().getName() + ")"),
                g.runState().cancelReason());
    }

    /** A direct listener runs as part of its task: join() there is refused, not a deadlock. */
    @Test
    void join_fromDirectListenerOnTaskThread_refused() throws Exception {
        TaskGroup g = TaskGroup.open("crawler");
        CountDownLatch go = new CountDownLatch(1);
        AtomicReference<Throwable> fromListener = new AtomicReference<>();
        Task<Void> t = g.spawn(() -> go.await());
        t.addListener(() -> {
            try {
                g.join();
            } catch (Throwable e) {
                fromListener.set(e);
            }
        }, com.google.common.util.concurrent.MoreExecutors.directExecutor());
        go.countDown();
        g.close();
        assertInstanceOf(IllegalStateException.class, fromListener.get());
        assertEquals("crawler: join() from a task of this group",
                fromListener.get().getMessage());
    }

    /** An Error from a task's direct listener reaches close(), not the thread's handler. */
    @Test
    void close_directListenerThrowsError_reported() {
        AssertionError listenerError = new AssertionError("listener");
        TaskGroup g = TaskGroup.open("g");
        CountDownLatch go = new CountDownLatch(1);
        Task<Void> t = g.spawn(() -> go.await());
        t.addListener(() -> {
            throw listenerError;
        }, com.google.common.util.concurrent.MoreExecutors.directExecutor());
        go.countDown();
        assertSame(listenerError, assertThrows(AssertionError.class, g::close));
    }
}
