package dev.refkit;

import static dev.refkit.TestThreads.await;
import static dev.refkit.TestThreads.awaitParked;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.util.concurrent.Uninterruptibles;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Ports of frequenz's {@code BackgroundService} tests (construction and names, toString,
 * stop before start, start then stop, start then await, stop twice, a crash reported by
 * awaitTasks, by stop and by close, cancellation not counted as failure) to
 * {@link BackgroundService}, with the service's own rules.
 */
@Timeout(60)
final class BackgroundServiceTest {

    /** A service whose start runs {@code body} with its group; records each group. */
    private static final class Svc extends BackgroundService {
        final List<TaskGroup> groups = new CopyOnWriteArrayList<>();
        volatile Starter body;

        interface Starter {
            void start(TaskGroup g) throws Exception;
        }

        Svc(String name, Starter body) {
            super(name);
            this.body = body;
        }

        @Override
        protected void start(TaskGroup tasks) throws Exception {
            groups.add(tasks);
            body.start(tasks);
        }
    }

    /** A service made with a thread factory runs its tasks on that factory's threads. */
    @Test
    void threadFactory_tasksRunOnItsThreads_eachCycle() throws Exception {
        AtomicInteger made = new AtomicInteger();
        java.util.concurrent.ThreadFactory factory = r -> {
            Thread t = new Thread(r, "svc-thread-" + made.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
        java.util.Queue<String> ranOn = new java.util.concurrent.ConcurrentLinkedQueue<>();
        BackgroundService s = new BackgroundService("svc", factory) {
            @Override
            protected void start(TaskGroup tasks) {
                tasks.spawn(() -> {
                    ranOn.add(Thread.currentThread().getName());
                });
            }
        };
        for (int cycle = 1; cycle <= 2; cycle++) {
            s.open();
            s.awaitTasks();
            s.close();
            assertEquals(cycle, ranOn.size());
        }
        assertTrue(ranOn.stream().allMatch(n -> n.startsWith("svc-thread-")), ranOn.toString());
        assertEquals(2, made.get(), "one thread per cycle's group");
        assertThrows(NullPointerException.class, () -> new BackgroundService("x", null) {
            @Override
            protected void start(TaskGroup tasks) {}
        });
    }

    /** Spins until no task of {@code tasks} is still waiting to begin (a cancel skips those). */
    private static void awaitBegun(java.util.function.Supplier<List<Task<?>>> tasks) {
        while (tasks.get().stream().anyMatch(t -> t.status() == Task.Status.SCHEDULED)) {
            Thread.onSpinWait();
        }
    }

    /** A task that runs until cancelled. */
    private static void sleeper(TaskGroup g) {
        g.spawn("sleeper", () -> {
            g.runState().awaitCancellation(Duration.ofDays(1));
        });
    }

    // ---------------------------------------------------------------- frequenz ports

    @Test
    void construct_name_isGiven() {
        Svc s = new Svc("my-svc", BackgroundServiceTest::sleeper);
        assertEquals("my-svc", s.name());
        assertFalse(s.isRunning());
        assertEquals(List.of(), s.tasks());
        assertEquals(List.of(), s.failures());
        assertEquals(MultiOpen.State.NEW, s.state());
        assertThrows(NullPointerException.class, () -> new Svc(null, g -> { }));
    }

    @Test
    @SuppressWarnings("try")
    void toString_beforeDuringAfter_exactForm() throws Exception {
        Svc s = new Svc("svc", g -> {
            sleeper(g);
            sleeper(g);
        });
        assertEquals("BackgroundService[svc]{NEW, running=0, failed=0, restarts=0}",
                s.toString());
        try (Handle h = s.open()) {
            assertEquals("BackgroundService[svc]{OPEN, running=2, failed=0, restarts=0}",
                    s.toString());
        }
        assertEquals("BackgroundService[svc]{CLOSED, running=0, failed=0, restarts=0}",
                s.toString());
    }

    @Test
    void toString_loopFactory_countsFailuresAndRestarts() throws Exception {
        AtomicInteger turns = new AtomicInteger();
        BackgroundService s = BackgroundService.loop("consumer", rs -> {
            if (turns.incrementAndGet() <= 3) {
                throw new IllegalStateException("turn " + turns.get());
            }
            rs.awaitCancellation(Duration.ofDays(1));
        }, RestartPolicy.after(Duration.ZERO).maxRestarts(3));
        s.open();
        while (turns.get() < 4) {
            Thread.onSpinWait();
        }
        assertEquals("BackgroundService[consumer]{OPEN, running=1, failed=0, restarts=3}",
                s.toString());
        s.close();
    }

    @Test
    void stop_beforeStart_doesNothing() {
        Svc s = new Svc("svc", BackgroundServiceTest::sleeper);
        s.stop();
        s.cancel();
        assertEquals(MultiOpen.State.NEW, s.state());
    }

    @Test
    void startThenStop_tasksEnded_serviceStaysOpen() throws Exception {
        Svc s = new Svc("svc", BackgroundServiceTest::sleeper);
        s.open();
        assertTrue(s.isRunning());
        assertEquals(1, s.tasks().size());
        s.stop();
        assertFalse(s.isRunning());
        assertEquals(List.of(), s.tasks());
        assertTrue(s.isOpen());
        s.close();
        assertTrue(s.isClosed());
    }

    @Test
    void startThenAwait_tasksEndByThemselves_awaitReturns() throws Exception {
        CountDownLatch go = new CountDownLatch(1);
        Svc s = new Svc("svc", g -> g.spawn(() -> {
            go.await();
        }));
        s.open();
        assertFalse(s.awaitTasks(Duration.ZERO));
        go.countDown();
        s.awaitTasks();
        assertTrue(s.awaitTasks(Duration.ZERO));
        assertFalse(s.isRunning());
        s.close();
    }

    @Test
    void stop_twice_secondDoesNothing() throws Exception {
        CountDownLatch running = new CountDownLatch(1);
        Svc s = new Svc("svc", g -> g.spawn(() -> {
            running.countDown();
            try {
                g.runState().awaitCancellation(Duration.ofDays(1));
            } catch (InterruptedException cancelled) {
                // the cancel's interrupt: go on and fail
            }
            throw new IllegalStateException("after cancel: a failure");
        }));
        s.open();
        await(running);
        assertThrows(IllegalStateException.class, s::stop);
        s.stop();
        s.close();
        s.stop(); // after the last close
    }

    /** A crash is reported by awaitTasks with exactly the original unchecked exception. */
    @Test
    void awaitTasks_crash_throwsOriginalOnceThenNothing() throws Exception {
        IllegalStateException boom = new IllegalStateException("boom");
        Svc s = new Svc("svc", g -> g.spawn(() -> {
            throw boom;
        }));
        s.open();
        assertSame(boom, assertThrows(IllegalStateException.class, s::awaitTasks));
        s.awaitTasks();
        s.stop();
        s.close(); // reported already: nothing
        assertEquals(List.of(boom), s.failures());
    }

    @Test
    void stop_crash_throwsOriginal() throws Exception {
        IllegalStateException boom = new IllegalStateException("boom");
        CountDownLatch failed = new CountDownLatch(1);
        Svc s = new Svc("svc", g -> {
            Task<?> t = g.spawn(() -> {
                throw boom;
            });
            t.addListener(failed::countDown, Runnable::run);
            sleeper(g);
        });
        s.open();
        await(failed);
        assertTrue(s.isRunning()); // supervising: the sleeper goes on
        assertSame(boom, assertThrows(IllegalStateException.class, s::stop));
        s.close();
    }

    /** A checked crash is reported by the last close, wrapped once, the original the cause. */
    @Test
    void close_checkedCrash_lifecycleExceptionWithOriginalCause() throws Exception {
        IOException io = new IOException("io");
        CountDownLatch failed = new CountDownLatch(1);
        Svc s = new Svc("svc", g -> g.spawn("reader", () -> {
            throw io;
        }).addListener(failed::countDown, Runnable::run));
        s.open();
        await(failed); // else the close's cancel may come before the task begins
        LifecycleException e = assertThrows(LifecycleException.class, s::close);
        assertSame(io, e.getCause());
        assertEquals("svc: task reader failed", e.getMessage());
        assertEquals(List.of(io), s.failures());
        assertEquals(List.of(), s.tasks());
    }

    @Test
    void cancel_cancellationNotFailure_closeThrowsNothing() throws Exception {
        Svc s = new Svc("svc", g -> {
            sleeper(g);
            g.spawn(() -> {
                g.runState().awaitCancellation(Duration.ofDays(1));
                throw new CancellationException("me too");
            });
            g.spawn(() -> {
                Thread.sleep(Long.MAX_VALUE); // interrupted by the cancel
            });
        });
        s.open();
        awaitBegun(s::tasks);
        s.cancel();
        assertTrue(s.isOpen());
        s.awaitTasks();
        assertEquals(List.of(), s.failures());
        s.close();
    }

    /** A protected task's failure is logged only: not in failures(), never thrown. */
    @Test
    void failures_protectedTask_notListedNotThrown() throws Exception {
        CountDownLatch failed = new CountDownLatch(1);
        Svc s = new Svc("svc", g -> g.spawnProtected(() -> {
            throw new IllegalStateException("logged only");
        }).addListener(failed::countDown, Runnable::run));
        s.open();
        await(failed);
        s.awaitTasks();
        assertEquals(List.of(), s.failures());
        assertTrue(s.toString().contains("failed=0"), s.toString());
        s.close();
    }

    // ---------------------------------------------------------------- the service's rules

    /** Rule 1: when the last close returns, a task slow to end after its cancel has ended. */
    @Test
    void close_slowTask_returnsOnlyAfterItEnded() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        AtomicReference<String> ended = new AtomicReference<>("no");
        Svc s = new Svc("svc", g -> g.spawn(() -> {
            try {
                g.runState().awaitCancellation(Duration.ofDays(1));
            } finally {
                Uninterruptibles.awaitUninterruptibly(release); // slow to end
                ended.set("yes");
            }
        }));
        s.open();
        awaitBegun(s::tasks);
        TestThreads.Call closer = TestThreads.startCall(() -> {
            s.close();
            if (!ended.get().equals("yes")) {
                throw new AssertionError("close() returned before the task ended");
            }
            return null;
        });
        awaitParked(closer.thread);
        release.countDown();
        assertEquals(null, closer.join());
        assertEquals("yes", ended.get());
    }

    /** Rule 1 for stop(): it waits through an interrupt, and sets the flag again. */
    @Test
    void stop_interrupted_stillWaitsForTasks() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        AtomicReference<String> ended = new AtomicReference<>("no");
        Svc s = new Svc("svc", g -> g.spawn(() -> {
            try {
                g.runState().awaitCancellation(Duration.ofDays(1));
            } finally {
                Uninterruptibles.awaitUninterruptibly(release);
                ended.set("yes");
            }
        }));
        s.open();
        awaitBegun(s::tasks);
        AtomicReference<String> seen = new AtomicReference<>();
        TestThreads.Call stopper = TestThreads.startCall(() -> {
            s.stop();
            seen.set(ended.get() + "/" + Thread.currentThread().isInterrupted());
            return null;
        });
        awaitParked(stopper.thread);
        stopper.thread.interrupt();
        awaitParked(stopper.thread); // back to waiting
        release.countDown();
        assertEquals(null, stopper.join());
        assertEquals("yes/true", seen.get());
        s.close();
    }

    /** Rule 2: a failure after an earlier report is thrown by the next call, and once. */
    @Test
    void failures_laterFailure_thrownByNextCallOnlyOnce() throws Exception {
        IllegalStateException first = new IllegalStateException("first");
        IllegalArgumentException second = new IllegalArgumentException("second");
        Svc s = new Svc("svc", g -> g.spawn(() -> {
            throw first;
        }));
        s.open();
        assertSame(first, assertThrows(IllegalStateException.class, s::awaitTasks));
        TaskGroup g = s.groups.get(0);
        g.spawn(() -> {
            throw second;
        });
        assertSame(second, assertThrows(IllegalArgumentException.class, s::awaitTasks));
        s.stop();
        s.close();
        assertEquals(List.of(first, second), s.failures()); // reporting does not clear it
    }

    /** Rule 2: two unreported failures: the first thrown, the second suppressed on it. */
    @Test
    void close_twoFailures_firstThrownSecondSuppressed() throws Exception {
        IllegalStateException a = new IllegalStateException("a");
        IOException b = new IOException("b");
        Svc s = new Svc("svc", g -> {
            try {
                g.spawn(() -> {
                    throw a;
                }).join(); // a fails first
            } catch (IllegalStateException expected) {
                // start goes on
            }
            g.spawn(() -> {
                throw b;
            });
        });
        s.open();
        awaitBegun(s::tasks);
        IllegalStateException e = assertThrows(IllegalStateException.class, s::close);
        assertSame(a, e);
        assertEquals(1, e.getSuppressed().length);
        assertSame(b, e.getSuppressed()[0].getCause());
        assertEquals(List.of(a, b), s.failures());
    }

    /** A new cycle starts with an empty failure list. */
    @Test
    void failures_newCycle_empty() throws Exception {
        IllegalStateException boom = new IllegalStateException("boom");
        Svc s = new Svc("svc", g -> g.spawn(() -> {
            throw boom;
        }));
        s.open();
        awaitBegun(s::tasks);
        assertThrows(IllegalStateException.class, s::close);
        assertEquals(List.of(boom), s.failures());
        s.body = BackgroundServiceTest::sleeper;
        s.open();
        assertEquals(List.of(), s.failures());
        s.close();
    }

    /** Rule 3: an open during the last close's stop waits, then a fresh group starts. */
    @Test
    void open_duringLastCloseStop_waitsThenFreshGroup() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger oldLeftAtSecondStart = new AtomicInteger(-1);
        Svc s = new Svc("svc", null);
        s.body = g -> {
            if (s.groups.size() == 2) {
                oldLeftAtSecondStart.set(s.groups.get(0).tasks().size());
                sleeper(g);
                return;
            }
            g.spawn(() -> {
                try {
                    g.runState().awaitCancellation(Duration.ofDays(1));
                } finally {
                    Uninterruptibles.awaitUninterruptibly(release);
                }
            });
        };
        s.open();
        awaitBegun(s::tasks);
        TestThreads.Call closer = TestThreads.startCall(() -> {
            s.close();
            return null;
        });
        awaitParked(closer.thread);
        assertEquals(MultiOpen.State.SHUTTING_DOWN, s.state());
        TestThreads.Call opener = TestThreads.startCall(() -> {
            s.open();
            return null;
        });
        awaitParked(opener.thread);
        assertEquals(1, s.groups.size()); // the opener waits
        release.countDown();
        assertEquals(null, closer.join());
        assertEquals(null, opener.join());
        assertEquals(2, s.groups.size());
        assertNotSame(s.groups.get(0), s.groups.get(1));
        assertEquals(0, oldLeftAtSecondStart.get());
        assertTrue(s.isRunning());
        s.close();
    }

    /** Rule 4: a throwing start: its tasks cancelled and joined, the open throws, no half-start. */
    @Test
    void open_startThrows_tasksJoinedOpenThrowsNothingLeft() throws Exception {
        IllegalStateException bad = new IllegalStateException("bad config");
        IOException taskFailure = new IOException("task");
        AtomicReference<String> sleeperEnded = new AtomicReference<>("no");
        Svc s = new Svc("svc", g -> {
            g.spawn(() -> {
                try {
                    g.runState().awaitCancellation(Duration.ofDays(1));
                } finally {
                    sleeperEnded.set("yes");
                }
            });
            try {
                g.spawn(() -> {
                    throw taskFailure;
                }).join();
            } catch (LifecycleException expected) {
                // the task failed; start goes on and fails itself
            }
            awaitBegun(g::tasks);
            throw bad;
        });
        assertSame(bad, assertThrows(IllegalStateException.class, s::open));
        assertEquals("yes", sleeperEnded.get());
        assertEquals(1, bad.getSuppressed().length); // the task's failure is not lost
        assertSame(taskFailure, bad.getSuppressed()[0].getCause());
        assertEquals(MultiOpen.State.NEW, s.state());
        assertFalse(s.isRunning());
        assertEquals(List.of(), s.tasks());
        assertEquals(List.of(), s.failures());
        assertEquals(0, s.groups.get(0).tasks().size());
        s.body = BackgroundServiceTest::sleeper;
        s.open(); // a fresh start
        assertEquals(2, s.groups.size());
        assertTrue(s.isRunning());
        s.close();
    }

    /** Rule 4: a throwing task leaves the service open with its other tasks running. */
    @Test
    void task_throws_serviceStaysOpenOthersRun() throws Exception {
        CountDownLatch failed = new CountDownLatch(1);
        Svc s = new Svc("svc", g -> {
            sleeper(g);
            g.spawn(() -> {
                throw new IllegalStateException("boom");
            }).addListener(failed::countDown, Runnable::run);
        });
        s.open();
        await(failed);
        while (s.tasks().size() != 1) { // the failed task leaves the set just after it fails
            Thread.onSpinWait();
        }
        assertTrue(s.isOpen());
        assertEquals("sleeper", s.tasks().get(0).name());
        assertEquals(1, s.failures().size());
        assertThrows(IllegalStateException.class, s::close);
        assertFalse(s.isRunning());
    }

    @Test
    void stopOrAwait_fromOwnTask_illegalStateNamingService() throws Exception {
        AtomicReference<Throwable> fromStop = new AtomicReference<>();
        AtomicReference<Throwable> fromAwait = new AtomicReference<>();
        CountDownLatch done = new CountDownLatch(1);
        Svc s = new Svc("svc", null);
        s.body = g -> g.spawn(() -> {
            try {
                s.stop();
            } catch (Throwable e) {
                fromStop.set(e);
            }
            try {
                s.awaitTasks();
            } catch (Throwable e) {
                fromAwait.set(e);
            }
            done.countDown();
        });
        s.open();
        await(done);
        assertEquals("svc: stop() from one of its own tasks", fromStop.get().getMessage());
        assertTrue(fromStop.get() instanceof IllegalStateException);
        assertEquals("svc: awaitTasks() from one of its own tasks", fromAwait.get().getMessage());
        s.close();
    }

    /** The last close from one of its own tasks cannot wait for itself: it cancels, throws. */
    @Test
    void lastClose_fromOwnTask_cancelsAndThrowsNamingService() throws Exception {
        AtomicReference<Throwable> fromClose = new AtomicReference<>();
        CountDownLatch done = new CountDownLatch(1);
        AtomicReference<TaskGroup> group = new AtomicReference<>();
        Svc s = new Svc("svc", null);
        s.body = g -> {
            group.set(g);
            g.spawn(() -> {
                try {
                    s.close();
                } catch (Throwable e) {
                    fromClose.set(e);
                }
                done.countDown();
            });
        };
        s.open();
        await(done);
        assertTrue(fromClose.get() instanceof IllegalStateException, String.valueOf(fromClose));
        assertTrue(fromClose.get().getMessage().startsWith("svc: last close() from one of its"),
                fromClose.get().getMessage());
        assertTrue(group.get().runState().isCancelled());
        assertEquals(MultiOpen.State.CLOSED, s.state());
        group.get().close(); // what the service could not do from inside
    }

    /** The service's group is nobody's child: cancelling the opener's group leaves it be. */
    @Test
    void open_fromTaskOfAnotherGroup_groupDetached() throws Exception {
        Svc s = new Svc("svc", BackgroundServiceTest::sleeper);
        try (TaskGroup outer = TaskGroup.open("outer")) {
            outer.spawn(() -> {
                s.open();
            }).join();
            outer.cancel();
        }
        assertTrue(s.isRunning());
        assertFalse(s.groups.get(0).runState().isCancelled());
        s.close();
    }

    @Test
    void awaitTasks_interrupted_throwsNamingServiceAndChangesNothing() throws Exception {
        Svc s = new Svc("svc", BackgroundServiceTest::sleeper);
        s.open();
        InterruptedException e = TestThreads.assertInterruptedWhileParked(() -> {
            s.awaitTasks();
            return null;
        });
        assertEquals("svc: interrupted in awaitTasks()", e.getMessage());
        assertTrue(s.isRunning());
        Thread.currentThread().interrupt();
        assertThrows(InterruptedException.class, s::awaitTasks);
        assertFalse(Thread.interrupted());
        s.close();
    }
}
