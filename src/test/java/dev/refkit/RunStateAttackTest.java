package dev.refkit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.google.common.base.Ticker;
import dev.refkit.RunState.State;
import java.io.IOException;
import java.lang.ref.WeakReference;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Hostile tests of RunState's documented contract, written from the Javadoc and docs only. */
@Timeout(30)
final class RunStateAttackTest {

    private static final Duration FOREVER = Duration.ofSeconds(Long.MAX_VALUE);
    private static final long STRESS_NANOS = TimeUnit.SECONDS.toNanos(3);

    /** An Error a listener throws. */
    static final class Boom extends Error {
        private static final long serialVersionUID = 1L;

        Boom(String m) {
            super(m);
        }
    }

    // ---------------------------------------------------------------- cancel before start

    @Test
    void cancelInIdle_startBeginsStopping_listenersOnce() {
        RunState rs = new RunState("a");
        AtomicInteger cancels = new AtomicInteger();
        List<State> seenAtStart = new CopyOnWriteArrayList<>();
        rs.onCancel(r -> cancels.incrementAndGet());
        rs.onStart(r -> seenAtStart.add(r.state()));
        rs.cancel();
        assertEquals(State.IDLE, rs.state());
        assertTrue(rs.isCancelled());
        rs.cancel(); // no-op
        assertEquals(1, cancels.get());
        rs.start();
        assertEquals(State.STOPPING, rs.state());
        assertTrue(rs.isCancelled());
        assertEquals(1, cancels.get(), "cancel listeners ran again at start");
        assertEquals(List.of(State.STOPPING), seenAtStart);
        rs.cancel(); // no-op in STOPPING
        assertEquals(1, cancels.get());
        rs.stop();
        assertEquals(State.STOPPED, rs.state());
        assertTrue(rs.isCancelled(), "a stopped run keeps the flag");
    }

    @Test
    void runBegunCancelled_sleepAndAwaitReturnAtOnce() throws Exception {
        RunState rs = new RunState("a");
        rs.cancel();
        AtomicReference<String> seen = new AtomicReference<>();
        rs.run(() -> {
            boolean slept = rs.sleep(FOREVER);
            boolean awaited = rs.awaitCancellation(FOREVER);
            seen.set(rs.isCancelled() + " " + slept + " " + awaited + " " + rs.state());
            assertThrows(java.util.concurrent.CancellationException.class, rs::throwIfCancelled);
        });
        assertEquals("true false true STOPPING", seen.get());
        assertEquals(State.STOPPED, rs.state());
    }

    @Test
    void cancelInStoppedAfterCleanRun_kept() {
        RunState rs = new RunState("a");
        rs.start();
        rs.stop();
        assertFalse(rs.isCancelled());
        rs.cancel();
        assertEquals(State.STOPPED, rs.state());
        assertTrue(rs.isCancelled());
        rs.start();
        assertEquals(State.STOPPING, rs.state());
    }

    @Test
    void cancelDuringRun_clearedByNextStart() {
        RunState rs = new RunState("a");
        rs.start();
        rs.cancel();
        rs.stop();
        assertTrue(rs.isCancelled(), "keeps returning true in STOPPED until the next start");
        rs.start();
        assertEquals(State.RUNNING, rs.state());
        assertFalse(rs.isCancelled());
    }

    @Test
    void cancelInStoppedAfterCancelledRun_isNewCancel_listenersAndChildrenAgain() {
        RunState rs = new RunState("a");
        RunState child = rs.child("c");
        AtomicInteger cancels = new AtomicInteger();
        AtomicInteger childCancels = new AtomicInteger();
        rs.onCancel(r -> cancels.incrementAndGet());
        child.onCancel(r -> childCancels.incrementAndGet());
        child.start();
        rs.start();
        rs.cancel();
        assertEquals(1, cancels.get());
        assertEquals(1, childCancels.get());
        assertEquals(State.STOPPING, child.state());
        child.stop();
        rs.stop();
        rs.cancel(); // new cancel for the next run
        assertEquals(2, cancels.get(), "a cancel in STOPPED after a cancelled run is new");
        assertEquals(2, childCancels.get(), "and cancels the children again");
        rs.cancel(); // now a no-op
        assertEquals(2, cancels.get());
        rs.start();
        assertEquals(State.STOPPING, rs.state());
        assertEquals(2, cancels.get());
    }

    /** The cancel made in IDLE was used up by the run it began cancelled; it is not kept again. */
    @Test
    void runBegunCancelled_thenStopped_nextStartIsClean() {
        RunState rs = new RunState("a");
        rs.cancel();
        rs.start();
        rs.stop();
        rs.start();
        assertEquals(State.RUNNING, rs.state(), "start(): STOPPING only if a cancel was made since the last run ended");
        assertFalse(rs.isCancelled());
    }

    /** A cancel in STOPPED after a run that began cancelled (the run was cancelled) is new. */
    @Test
    void cancelAfterRunBegunCancelled_isNewCancel() {
        RunState rs = new RunState("a");
        AtomicInteger cancels = new AtomicInteger();
        rs.onCancel(r -> cancels.incrementAndGet());
        rs.cancel();
        rs.start();
        rs.stop();
        rs.cancel();
        assertEquals(2, cancels.get(), "the second cancel is for the next run");
        rs.start();
        assertEquals(State.STOPPING, rs.state());
    }

    @Test
    void childOfCancelledParent_beginsCancelled() {
        RunState parent = new RunState("p");
        parent.cancel();
        RunState late = parent.child("late");
        assertTrue(late.isCancelled());
        late.start();
        assertEquals(State.STOPPING, late.state());
        assertTrue(late.isCancelled());
        late.stop();
        late.start();
        boolean cancelled = late.isCancelled();
        State st = late.state();
        assertEquals("true STOPPING", cancelled + " " + st,
                "parent (IDLE) still cancelled: child's second start must begin cancelled");
    }

    /** State right after start(), before anyone asks isCancelled(). */
    @Test
    void childOfCancelledIdleParent_secondStart_stateIsStoppingAtOnce() {
        RunState parent = new RunState("p");
        RunState child = parent.child("c");
        AtomicInteger childCancels = new AtomicInteger();
        List<State> seenAtStart = new CopyOnWriteArrayList<>();
        child.onCancel(r -> childCancels.incrementAndGet());
        child.onStart(r -> seenAtStart.add(r.state()));
        parent.cancel();
        assertEquals(1, childCancels.get());
        child.start();
        child.stop();
        child.start();
        State right = child.state();
        boolean running = child.isRunning() && !child.isStopping();
        boolean cancelled = child.isCancelled();
        State after = child.state();
        assertEquals(List.of(State.STOPPING, State.STOPPING, State.STOPPING, State.STOPPING),
                List.of(seenAtStart.get(0), seenAtStart.get(1), right, after),
                "start listener / state() after start(): running-not-stopping=" + running
                        + " cancelled=" + cancelled + " childCancelListeners=" + childCancels.get());
    }

    @Test
    void childOfParentCancelledInStopped_secondStart_stateIsStopping() {
        RunState parent = new RunState("p");
        RunState child = parent.child("c");
        parent.start();
        parent.stop();
        parent.cancel(); // kept for the parent's next run; reaches the child
        child.start();
        assertEquals(State.STOPPING, child.state());
        child.stop();
        child.start();
        assertEquals(State.STOPPING, child.state(), "parent still cancelled");
    }

    @Test
    void childOfCancelledIdleParent_secondStart_cancelListenersNotRunAgain() {
        RunState parent = new RunState("p");
        RunState child = parent.child("c");
        AtomicInteger childCancels = new AtomicInteger();
        child.onCancel(r -> childCancels.incrementAndGet());
        parent.cancel();
        child.start();
        child.stop();
        child.start();
        assertTrue(child.isCancelled());
        assertEquals(1, childCancels.get(), "one parent cancel, one child cancel listener run");
    }

    @Test
    void childOfCancelledIdleParent_secondStart_startListenerSeesStopping() {
        RunState parent = new RunState("p");
        RunState child = parent.child("c");
        parent.cancel();
        child.start();
        child.stop();
        AtomicReference<State> seen = new AtomicReference<>();
        child.onStart(r -> seen.set(r.state()));
        child.start();
        assertEquals(State.STOPPING, seen.get());
    }

    @Test
    void childOfCancelledIdleParent_secondRun_sleepReturnsAtOnce() throws Exception {
        RunState parent = new RunState("p");
        RunState child = parent.child("c");
        parent.cancel();
        child.start();
        child.stop();
        child.start();
        assertTrue(parent.isCancelled());
        long t0 = System.nanoTime();
        boolean slept = child.sleep(Duration.ofMillis(500));
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        assertEquals("false", slept + "", "child of a cancelled parent slept " + ms + " ms");
    }

    @Test
    void childRestartedWhileParentStopping_beginsCancelled() throws Exception {
        RunState parent = new RunState("p");
        RunState child = parent.child("c");
        parent.start();
        child.start();
        parent.cancel();
        assertEquals(State.STOPPING, child.state());
        child.stop();
        child.start();
        assertTrue(child.isCancelled(), "a child of a cancelled parent reports cancelled after its start");
        assertEquals(State.STOPPING, child.state(), "... which begins cancelled");
        assertFalse(child.sleep(FOREVER));
    }

    @Test
    void childCreatedOfParentCancelledDuringRun_reportsCancelledAndParentRestartClears() {
        RunState parent = new RunState("p");
        parent.start();
        parent.cancel();
        RunState child = parent.child("c");
        assertTrue(child.isCancelled());
        parent.stop();
        parent.start(); // clears the parent's cancel of the earlier run
        assertFalse(parent.isCancelled());
        assertEquals(State.RUNNING, parent.state());
    }

    /** Worker thread run(loop) vs main cancel(), many rounds on one reused RunState. */
    @Test
    @Timeout(60)
    void stress_runVsCancel_reused() throws Exception {
        RunState rs = new RunState("s");
        AtomicInteger starts = new AtomicInteger();
        AtomicInteger cancels = new AtomicInteger();
        AtomicInteger stops = new AtomicInteger();
        rs.onStart(r -> starts.incrementAndGet());
        rs.onCancel(r -> cancels.incrementAndGet());
        rs.onStop(r -> stops.incrementAndGet());
        CyclicBarrier go = new CyclicBarrier(2);
        AtomicBoolean quit = new AtomicBoolean();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        AtomicInteger bodyRounds = new AtomicInteger();
        CountDownLatch[] done = new CountDownLatch[1];
        Thread w = TestThreads.start(() -> {
            try {
                while (true) {
                    go.await();
                    if (quit.get()) {
                        return;
                    }
                    rs.run(() -> {
                        bodyRounds.incrementAndGet();
                        while (!rs.isCancelled()) {
                            rs.sleep(FOREVER);
                        }
                    });
                    go.await();
                }
            } catch (Throwable e) {
                failure.set(e);
            }
        });
        long end = System.nanoTime() + STRESS_NANOS;
        int rounds = 0;
        while (System.nanoTime() < end && rounds < 20000) {
            go.await(20, TimeUnit.SECONDS);
            rs.cancel();
            try {
                go.await(20, TimeUnit.SECONDS);
            } catch (java.util.concurrent.TimeoutException e) {
                fail("round " + rounds + ": worker never saw the cancel; " + rs);
            }
            rounds++;
            assertNull(failure.get());
            assertEquals(State.STOPPED, rs.state(), "round " + rounds);
            assertTrue(rs.join(Duration.ZERO));
        }
        quit.set(true);
        go.await(20, TimeUnit.SECONDS);
        w.join(20_000);
        assertNull(failure.get());
        assertEquals(rounds, bodyRounds.get());
        assertEquals(rounds, starts.get(), "start listeners once per round");
        assertEquals(rounds, stops.get(), "stop listeners once per round");
        assertEquals(rounds, cancels.get(), "cancel listeners once per round (every cancel changed something)");
        assertTrue(done.length == 1);
    }

    /** Same, with a pauser thread mixing in pause/resume and an join racer. */
    @Test
    @Timeout(60)
    void stress_runVsCancel_withPauseAndJoin() throws Exception {
        RunState rs = new RunState("s");
        AtomicReference<Throwable> failure = new AtomicReference<>();
        AtomicBoolean quit = new AtomicBoolean();
        Thread pauser = TestThreads.start(() -> {
            while (!quit.get()) {
                try {
                    rs.pause();
                    rs.resume();
                } catch (IllegalStateException e) {
                    String m = e.getMessage();
                    if (!m.matches("s: (pause|resume)\\(\\) while (IDLE|STOPPING|STOPPED)")) {
                        failure.compareAndSet(null, e);
                    }
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
            }
        });
        long end = System.nanoTime() + STRESS_NANOS;
        int rounds = 0;
        while (System.nanoTime() < end && rounds < 5000) {
            CountDownLatch started = new CountDownLatch(1);
            TestThreads.Call worker = TestThreads.startCall(() -> {
                rs.run(() -> {
                    started.countDown();
                    while (!rs.isCancelled()) {
                        rs.sleep(FOREVER);
                        rs.throwIfCancelled();
                    }
                });
                return null;
            });
            TestThreads.Call waiter = TestThreads.startCall(() -> {
                TestThreads.await(started);
                assertTrue(rs.join(Duration.ofSeconds(20)), "join");
                return null;
            });
            rs.cancel();
            Throwable t = worker.join();
            if (t != null && !(t instanceof java.util.concurrent.CancellationException)) {
                throw new AssertionError("round " + rounds, t);
            }
            // the body may have run and thrown CancellationException from throwIfCancelled
            started.countDown();
            assertNull(waiter.join(), "round " + rounds);
            assertEquals(State.STOPPED, rs.state());
            rounds++;
        }
        quit.set(true);
        pauser.join(20_000);
        assertNull(failure.get());
    }

    @Test
    void cancelPoll_inIdle_keptForNextStart() {
        AtomicBoolean poll = new AtomicBoolean(true);
        AtomicInteger polls = new AtomicInteger();
        RunState rs = RunState.builder("p").cancelPoll(() -> {
            polls.incrementAndGet();
            return poll.get();
        }).build();
        AtomicInteger cancels = new AtomicInteger();
        rs.onCancel(r -> cancels.incrementAndGet());
        assertTrue(rs.isCancelled());
        assertEquals(1, cancels.get());
        poll.set(false);
        rs.start();
        assertEquals(State.STOPPING, rs.state(), "a poll cancel in IDLE is a cancel made while no run is going");
        assertTrue(rs.isCancelled());
        assertEquals(1, cancels.get());
        rs.stop();
        rs.start();
        assertEquals(State.RUNNING, rs.state());
        assertFalse(rs.isCancelled());
        assertTrue(rs.toString().contains("cancelled=false"));
        int before = polls.get();
        rs.toString();
        assertEquals(before, polls.get(), "toString never asks the poll");
    }

    @Test
    void cancelPoll_sleepAsksAtBegin() throws Exception {
        AtomicBoolean poll = new AtomicBoolean();
        RunState rs = RunState.builder("p").cancelPoll(poll::get).build();
        rs.start();
        poll.set(true);
        assertFalse(rs.sleep(FOREVER));
        assertEquals(State.STOPPING, rs.state());
    }

    @Test
    void cancelPoll_errorFromCancelListener_thrownByIsCancelled() {
        RunState rs = RunState.builder("p").cancelPoll(() -> true).build();
        rs.onCancel(r -> {
            throw new Boom("poll");
        });
        rs.start();
        Boom b = assertThrows(Boom.class, rs::isCancelled);
        assertEquals("poll", b.getMessage());
        assertEquals(State.STOPPING, rs.state());
        assertTrue(rs.isCancelled(), "cancelled for the rest of the run; no second Error");
    }

    // ---------------------------------------------------------------- listener Errors

    @Test
    void cancelListenerErrors_firstThrownOthersSuppressed_waitersWoken() throws Exception {
        RunState rs = new RunState("e");
        List<String> order = new CopyOnWriteArrayList<>();
        Boom first = new Boom("1");
        Boom second = new Boom("2");
        rs.onCancel(r -> {
            order.add("1");
            throw first;
        });
        rs.onCancel(r -> {
            order.add("rt");
            throw new IllegalStateException("logged");
        });
        rs.onCancel(r -> {
            order.add("2");
            throw second;
        });
        rs.onCancel(r -> order.add("3"));
        rs.start();
        TestThreads.Call sleeper = TestThreads.startCall(() -> rs.sleep(FOREVER));
        TestThreads.awaitParked(sleeper.thread);
        Boom got = assertThrows(Boom.class, rs::cancel);
        assertSame(first, got);
        assertArrayEquals(new Throwable[] {second}, got.getSuppressed());
        assertEquals(List.of("1", "rt", "2", "3"), order);
        assertEquals(State.STOPPING, rs.state());
        assertNull(sleeper.join());
        rs.cancel(); // no-op now, no Error
        rs.stop();
        assertTrue(rs.join(Duration.ZERO));
    }

    @Test
    void childCancelError_reachesParentAfterAllChildrenAndParentListeners() {
        RunState parent = new RunState("p");
        RunState c1 = parent.child("c1");
        RunState c2 = parent.child("c2");
        Boom b1 = new Boom("c1");
        Boom b2 = new Boom("c2");
        c1.onCancel(r -> {
            throw b1;
        });
        c2.onCancel(r -> {
            throw b2;
        });
        AtomicBoolean parentListener = new AtomicBoolean();
        parent.onCancel(r -> parentListener.set(true));
        parent.start();
        Boom got = assertThrows(Boom.class, parent::cancel);
        assertTrue(got == b1 || got == b2);
        assertEquals(1, got.getSuppressed().length, "the other child's Error is suppressed");
        assertTrue(c1.isCancelled());
        assertTrue(c2.isCancelled());
        assertTrue(parentListener.get(), "parent's own listeners ran before the Error");
        assertEquals(State.STOPPING, parent.state());
    }

    @Test
    void childCancelError_inIdleParent() {
        RunState parent = new RunState("p");
        RunState c = parent.child("c");
        c.onCancel(r -> {
            throw new Boom("c");
        });
        assertThrows(Boom.class, parent::cancel);
        assertEquals(State.IDLE, parent.state());
        assertTrue(parent.isCancelled());
        parent.start(); // begins cancelled, children not cancelled again: no Error
        assertEquals(State.STOPPING, parent.state());
        c.start(); // no second cancel listener run
        assertEquals(State.STOPPING, c.state());
    }

    @Test
    void startListenerError_fromStart_runStarted() {
        RunState rs = new RunState("e");
        AtomicBoolean second = new AtomicBoolean();
        rs.onStart(r -> {
            throw new Boom("s");
        });
        rs.onStart(r -> second.set(true));
        assertThrows(Boom.class, rs::start);
        assertTrue(second.get());
        assertEquals(State.RUNNING, rs.state());
        rs.stop();
    }

    @Test
    void startListenerError_inRun_bodyNotRun_cancelledStopped() throws Exception {
        RunState rs = new RunState("e");
        AtomicInteger cancels = new AtomicInteger();
        AtomicInteger stops = new AtomicInteger();
        rs.onStart(r -> {
            throw new Boom("s");
        });
        rs.onCancel(r -> cancels.incrementAndGet());
        rs.onStop(r -> stops.incrementAndGet());
        AtomicBoolean ran = new AtomicBoolean();
        Boom b = assertThrows(Boom.class, () -> rs.run(() -> ran.set(true)));
        assertEquals("s", b.getMessage());
        assertFalse(ran.get());
        assertEquals(State.STOPPED, rs.state());
        assertEquals(1, cancels.get());
        assertEquals(1, stops.get());
        assertTrue(rs.join(Duration.ZERO));
        // the cancel belonged to that run: the next start is clean (run() made the cancel in RUNNING)
        AtomicReference<State> st = new AtomicReference<>();
        Registration r = rs.onStart(x -> st.set(x.state()));
        assertThrows(Boom.class, rs::start);
        assertEquals(State.RUNNING, st.get());
        r.close();
    }

    @Test
    void startListenerError_inCall_whenBegunCancelled() {
        RunState rs = new RunState("e");
        rs.cancel();
        rs.onStart(r -> {
            throw new Boom("s");
        });
        AtomicBoolean ran = new AtomicBoolean();
        assertThrows(Boom.class, () -> rs.call(() -> ran.getAndSet(true)));
        assertFalse(ran.get());
        assertEquals(State.STOPPED, rs.state());
    }

    @Test
    void failingBody_cancelAndStopListenerErrorsSuppressed() {
        RunState rs = new RunState("e");
        Boom c = new Boom("cancel");
        Boom s = new Boom("stop");
        rs.onCancel(r -> {
            throw c;
        });
        rs.onStop(r -> {
            throw s;
        });
        IllegalArgumentException body = new IllegalArgumentException("body");
        IllegalArgumentException got = assertThrows(IllegalArgumentException.class, () -> rs.run(() -> {
            throw body;
        }));
        assertSame(body, got);
        assertEquals(List.of(c, s), List.of(got.getSuppressed()));
        assertEquals(State.STOPPED, rs.state());
    }

    @Test
    void failingCheckedBody_wrapped_suppressed() {
        RunState rs = new RunState("e");
        Boom s = new Boom("stop");
        rs.onStop(r -> {
            throw s;
        });
        IOException io = new IOException("io");
        LifecycleException got = assertThrows(LifecycleException.class, () -> rs.run(() -> {
            throw io;
        }));
        assertSame(io, got.getCause());
        Throwable[] sup = got.getSuppressed().length > 0 ? got.getSuppressed() : io.getSuppressed();
        assertEquals(List.of(s), List.of(sup), "stop listener's Error suppressed on the body's exception");
        assertEquals(State.STOPPED, rs.state());
    }

    @Test
    void interruptedBody_wrappedAndFlagSet() {
        RunState rs = new RunState("e");
        LifecycleException got = assertThrows(LifecycleException.class, () -> rs.run(() -> {
            throw new InterruptedException("x");
        }));
        assertInstanceOf(InterruptedException.class, got.getCause());
        assertTrue(Thread.interrupted(), "interrupt flag set again");
        assertEquals(State.STOPPED, rs.state());
    }

    @Test
    void succeedingBody_stopListenerErrorAfterStop() throws Exception {
        RunState rs = new RunState("e");
        rs.onStop(r -> {
            throw new Boom("stop");
        });
        assertThrows(Boom.class, () -> rs.call(() -> 42));
        assertEquals(State.STOPPED, rs.state());
        assertTrue(rs.join(Duration.ZERO));
    }

    @Test
    void errorListenerAndBlockingListener_cancelWakesWaitersFirst() throws Exception {
        RunState rs = new RunState("e");
        CountDownLatch inBlocker = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        rs.onCancel(r -> {
            throw new Boom("c");
        });
        rs.onCancel(r -> {
            inBlocker.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        rs.start();
        TestThreads.Call waiter = TestThreads.startCall(() -> rs.awaitCancellation(FOREVER));
        TestThreads.awaitParked(waiter.thread);
        TestThreads.Call canceller = TestThreads.startCall(() -> {
            rs.cancel();
            return null;
        });
        TestThreads.await(inBlocker);
        assertNull(waiter.join(), "awaitCancellation woken while a cancel listener still blocks");
        assertEquals(State.STOPPING, rs.state());
        release.countDown();
        assertInstanceOf(Boom.class, canceller.join());
    }

    @Test
    void errorListenerAndBlockingStopListener_joinWaitsForListeners() throws Exception {
        RunState rs = new RunState("e");
        CountDownLatch inBlocker = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        rs.onStop(r -> {
            throw new Boom("s");
        });
        rs.onStop(r -> {
            inBlocker.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        rs.start();
        TestThreads.Call stopper = TestThreads.startCall(() -> {
            rs.stop();
            return null;
        });
        TestThreads.await(inBlocker);
        assertEquals(State.STOPPED, rs.state());
        assertFalse(rs.join(Duration.ofMillis(100)), "a stop listener is still running");
        TestThreads.Call waiter = TestThreads.startCall(() -> rs.join(FOREVER));
        TestThreads.awaitParked(waiter.thread);
        release.countDown();
        assertInstanceOf(Boom.class, stopper.join());
        assertNull(waiter.join());
        assertTrue(rs.join(Duration.ZERO));
    }

    @Test
    void listenerAddedDuringFiring_notCalled_removedCalledAtMostOnce() {
        RunState rs = new RunState("e");
        AtomicInteger added = new AtomicInteger();
        AtomicInteger removed = new AtomicInteger();
        AtomicReference<Registration> victim = new AtomicReference<>();
        rs.onCancel(r -> {
            victim.get().close();
            victim.get().close();
            rs.onCancel(x -> {
                added.incrementAndGet();
                throw new Boom("added");
            });
        });
        victim.set(rs.onCancel(r -> removed.incrementAndGet()));
        rs.start();
        rs.cancel(); // must not throw: the Error-throwing listener was added during the transition
        assertTrue(removed.get() <= 1);
        assertEquals(0, added.get());
        rs.stop();
        // new cancel for the next run; the added listener now runs
        assertThrows(Boom.class, rs::cancel);
        assertEquals(1, added.get());
        assertTrue(removed.get() <= 1);
    }

    @Test
    void stopListenerError_thenRestartConsistent() {
        RunState rs = new RunState("e");
        AtomicInteger stops = new AtomicInteger();
        Registration r = rs.onStop(x -> {
            stops.incrementAndGet();
            throw new Boom("s");
        });
        rs.start();
        rs.cancel();
        assertThrows(Boom.class, rs::stop);
        assertEquals(State.STOPPED, rs.state());
        rs.start();
        assertEquals(State.RUNNING, rs.state());
        assertFalse(rs.isCancelled());
        r.close();
        rs.stop();
        assertEquals(1, stops.get());
    }

    @Test
    void cancelListenerErrorInIdle_stateStillCancelled() {
        RunState rs = new RunState("e");
        AtomicInteger n = new AtomicInteger();
        rs.onCancel(r -> {
            n.incrementAndGet();
            throw new Boom("c");
        });
        assertThrows(Boom.class, rs::cancel);
        assertTrue(rs.isCancelled());
        rs.cancel(); // no-op
        rs.start(); // no cancel listener again
        assertEquals(1, n.get());
        assertEquals(State.STOPPING, rs.state());
    }

    // ---------------------------------------------------------------- interrupts

    @Test
    void interruptOnEntry_allWaits() {
        RunState rs = new RunState("i");
        rs.start();
        Thread.currentThread().interrupt();
        InterruptedException e = assertThrows(InterruptedException.class, () -> rs.sleep(FOREVER));
        assertEquals("i: interrupted in sleep()", e.getMessage());
        assertFalse(Thread.interrupted());
        Thread.currentThread().interrupt();
        e = assertThrows(InterruptedException.class, () -> rs.awaitCancellation(FOREVER));
        assertEquals("i: interrupted in awaitCancellation()", e.getMessage());
        assertFalse(Thread.interrupted());
        Thread.currentThread().interrupt();
        e = assertThrows(InterruptedException.class, () -> rs.join(FOREVER));
        assertEquals("i: interrupted in join()", e.getMessage());
        assertFalse(Thread.interrupted());
        assertEquals(State.RUNNING, rs.state());
        assertFalse(rs.isCancelled());
    }

    /** sleep's Javadoc: throws "if the thread is interrupted before or while sleeping". */
    @Test
    void interruptOnEntry_sleepZero() {
        RunState rs = new RunState("i");
        rs.start();
        Thread.currentThread().interrupt();
        try {
            InterruptedException e = assertThrows(InterruptedException.class, () -> rs.sleep(Duration.ZERO));
            assertEquals("i: interrupted in sleep()", e.getMessage());
        } finally {
            Thread.interrupted();
        }
    }

    @Test
    void interruptOnEntry_awaitZero() {
        RunState rs = new RunState("i");
        rs.start();
        Thread.currentThread().interrupt();
        try {
            InterruptedException e = assertThrows(InterruptedException.class,
                    () -> rs.awaitCancellation(Duration.ZERO));
            assertEquals("i: interrupted in awaitCancellation()", e.getMessage());
        } finally {
            Thread.interrupted();
        }
    }

    @Test
    void interruptWhileParked_messagesAndFlag() throws Exception {
        RunState rs = new RunState("i");
        rs.start();
        AtomicBoolean flagAfter = new AtomicBoolean(true);
        InterruptedException e = TestThreads.assertInterruptedWhileParked(() -> {
            try {
                return rs.sleep(FOREVER);
            } finally {
                flagAfter.set(Thread.currentThread().isInterrupted());
            }
        });
        assertEquals("i: interrupted in sleep()", e.getMessage());
        assertFalse(flagAfter.get());
        e = TestThreads.assertInterruptedWhileParked(() -> rs.awaitCancellation(FOREVER));
        assertEquals("i: interrupted in awaitCancellation()", e.getMessage());
        e = TestThreads.assertInterruptedWhileParked(() -> rs.join(FOREVER));
        assertEquals("i: interrupted in join()", e.getMessage());
        assertEquals(State.RUNNING, rs.state());
        assertFalse(rs.isCancelled());
    }

    /** Sleep held by a pause after its time is up, then interrupted: sleep declares IE. */
    @Test
    void interruptWhilePausedInSleep() throws Exception {
        RunState rs = new RunState("i");
        rs.start();
        rs.pause();
        InterruptedException e = TestThreads.assertInterruptedWhileParked(() -> rs.sleep(Duration.ofNanos(1)));
        assertEquals("i: interrupted in sleep()", e.getMessage());
        assertEquals(State.PAUSED, rs.state());
    }

    @Test
    void throwIfCancelledPause_notInterruptible() throws Exception {
        RunState rs = new RunState("i");
        rs.start();
        rs.pause();
        AtomicBoolean flag = new AtomicBoolean();
        TestThreads.Call c = TestThreads.startCall(() -> {
            rs.throwIfCancelled();
            flag.set(Thread.currentThread().isInterrupted());
            return null;
        });
        TestThreads.awaitParked(c.thread);
        c.thread.interrupt();
        // it must keep waiting: park again
        while (c.thread.isInterrupted() && c.thread.isAlive()
                && c.thread.getState() != Thread.State.WAITING) {
            Thread.onSpinWait();
        }
        TestThreads.awaitParked(c.thread);
        assertTrue(c.thread.isAlive());
        assertEquals(State.PAUSED, rs.state());
        rs.resume();
        assertNull(c.join());
        assertTrue(flag.get(), "interrupt flag set again");
    }

    /** An interrupted waiter leaves no trace: its Thread is not kept reachable by the RunState. */
    @Test
    void interruptedWaiter_leavesNoTrace() throws Exception {
        RunState rs = new RunState("i");
        rs.start();
        List<WeakReference<Thread>> refs = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            Thread[] holder = new Thread[1];
            int k = i % 3;
            TestThreads.assertInterruptedWhileParked(() -> {
                holder[0] = Thread.currentThread();
                switch (k) {
                    case 0:
                        return rs.sleep(FOREVER);
                    case 1:
                        return rs.awaitCancellation(FOREVER);
                    default:
                        return rs.join(FOREVER);
                }
            });
            refs.add(new WeakReference<>(holder[0]));
            holder[0] = null;
        }
        for (int i = 0; i < 50 && refs.stream().anyMatch(r -> r.get() != null); i++) {
            System.gc();
            Thread.sleep(20);
        }
        long alive = refs.stream().filter(r -> r.get() != null).count();
        assertEquals(0, alive, "interrupted waiters still reachable from " + rs);
        rs.cancel();
        rs.stop();
    }

    @Test
    @Timeout(60)
    void stress_interruptRacingCancel() throws Exception {
        RunState rs = new RunState("i");
        long end = System.nanoTime() + STRESS_NANOS;
        int rounds = 0;
        int ies = 0;
        while (System.nanoTime() < end && rounds < 3000) {
            rs.start();
            AtomicReference<Boolean> flagAfterIe = new AtomicReference<>();
            AtomicReference<String> msg = new AtomicReference<>();
            TestThreads.Call c = TestThreads.startCall(() -> {
                try {
                    return rs.sleep(FOREVER);
                } catch (InterruptedException e) {
                    msg.set(e.getMessage());
                    flagAfterIe.set(Thread.currentThread().isInterrupted());
                    throw e;
                }
            });
            TestThreads.awaitParked(c.thread);
            CyclicBarrier b = new CyclicBarrier(2);
            Thread interrupter = TestThreads.start(() -> {
                try {
                    b.await();
                } catch (Exception e) {
                    return;
                }
                c.thread.interrupt();
            });
            b.await();
            rs.cancel();
            Throwable t = c.join();
            interrupter.join();
            if (t != null) {
                ies++;
                assertInstanceOf(InterruptedException.class, t);
                assertEquals("i: interrupted in sleep()", msg.get());
                assertEquals(Boolean.FALSE, flagAfterIe.get());
            }
            assertEquals(State.STOPPING, rs.state());
            assertTrue(rs.isCancelled());
            rs.stop();
            rounds++;
        }
        assertTrue(rounds > 0);
        assertTrue(ies >= 0);
    }

    // ---------------------------------------------------------------- transitions and old promises

    @Test
    void illegalTransitions_messagesAndNoChange() {
        RunState rs = new RunState("t");
        AtomicInteger events = new AtomicInteger();
        rs.onStart(r -> events.incrementAndGet());
        rs.onStop(r -> events.incrementAndGet());
        rs.onCancel(r -> events.incrementAndGet());
        expectIse("t: pause() while IDLE", rs::pause);
        expectIse("t: resume() while IDLE", rs::resume);
        expectIse("t: stop() while IDLE", rs::stop);
        rs.start();
        expectIse("t: start() while RUNNING", rs::start);
        rs.resume(); // no-op
        rs.pause();
        rs.pause(); // no-op
        expectIse("t: start() while PAUSED", rs::start);
        rs.cancel();
        assertEquals(State.STOPPING, rs.state());
        expectIse("t: start() while STOPPING", rs::start);
        expectIse("t: pause() while STOPPING", rs::pause);
        expectIse("t: resume() while STOPPING", rs::resume);
        rs.stop();
        expectIse("t: stop() while STOPPED", rs::stop);
        expectIse("t: pause() while STOPPED", rs::pause);
        expectIse("t: resume() while STOPPED", rs::resume);
        assertEquals(3, events.get());
        RunState idleCancelled = new RunState("u");
        idleCancelled.cancel();
        expectIse("u: stop() while IDLE", idleCancelled::stop);
        expectIse("u: pause() while IDLE", idleCancelled::pause);
        assertEquals(State.IDLE, idleCancelled.state());
    }

    private static void expectIse(String msg, Runnable r) {
        IllegalStateException e = assertThrows(IllegalStateException.class, r::run);
        assertEquals(msg, e.getMessage());
    }

    @Test
    void pausedStopAndPauseWaitWokenByStop() throws Exception {
        RunState rs = new RunState("t");
        rs.start();
        rs.pause();
        TestThreads.Call c = TestThreads.startCall(() -> {
            rs.throwIfCancelled();
            return rs.state();
        });
        TestThreads.awaitParked(c.thread);
        rs.stop();
        assertNull(c.join(), "pause wait in throwIfCancelled ends when stopped");
        assertEquals(State.STOPPED, rs.state());
        assertFalse(rs.isCancelled());
    }

    @Test
    void sleepWakesAtOnceOnCancel_andArgs() throws Exception {
        RunState rs = new RunState("t");
        assertThrows(NullPointerException.class, () -> rs.sleep(null));
        assertThrows(IllegalArgumentException.class, () -> rs.sleep(Duration.ofNanos(-1)));
        assertThrows(IllegalArgumentException.class, () -> rs.join(Duration.ofNanos(-1)));
        assertThrows(IllegalArgumentException.class, () -> rs.awaitCancellation(Duration.ofNanos(-1)));
        assertTrue(rs.sleep(Duration.ZERO));
        assertTrue(rs.sleep(Duration.ofMillis(1)));
        assertFalse(rs.awaitCancellation(Duration.ofMillis(1)));
        rs.start();
        TestThreads.Call c = TestThreads.startCall(() -> rs.sleep(FOREVER));
        TestThreads.awaitParked(c.thread);
        long t0 = System.nanoTime();
        rs.cancel();
        assertNull(c.join());
        assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(5));
    }

    @Test
    void sleepTimeoutIsNotShort() throws Exception {
        RunState rs = new RunState("t");
        rs.start();
        long t0 = System.nanoTime();
        assertTrue(rs.sleep(Duration.ofMillis(50)));
        assertTrue(System.nanoTime() - t0 >= TimeUnit.MILLISECONDS.toNanos(50));
        t0 = System.nanoTime();
        assertFalse(rs.join(Duration.ofMillis(30)));
        assertTrue(System.nanoTime() - t0 >= TimeUnit.MILLISECONDS.toNanos(30));
    }

    @Test
    void iterate_stopsOnCancel_andHeldByPause() throws Exception {
        RunState rs = new RunState("t");
        rs.start();
        List<Integer> got = new ArrayList<>();
        for (Integer i : rs.iterate(List.of(1, 2, 3, 4))) {
            got.add(i);
            if (i == 2) {
                rs.cancel();
            }
        }
        assertEquals(List.of(1, 2), got);
        rs.stop();
        // begun cancelled: yields nothing
        rs.cancel();
        rs.start();
        assertFalse(rs.iterate(List.of(1)).iterator().hasNext());
        rs.stop();
        rs.start();
        Iterator<Integer> it = rs.iterate(List.of(1, 2)).iterator();
        assertTrue(it.hasNext());
        rs.pause();
        TestThreads.Call c = TestThreads.startCall(it::hasNext);
        TestThreads.awaitParked(c.thread);
        rs.resume();
        assertNull(c.join());
        assertThrows(NullPointerException.class, () -> rs.iterate(null));
    }

    @Test
    void timing_fakeTicker() {
        AtomicLong nanos = new AtomicLong();
        Ticker ticker = new Ticker() {
            @Override
            public long read() {
                return nanos.get();
            }
        };
        RunState rs = RunState.builder("t").ticker(ticker).build();
        assertEquals(Duration.ZERO, rs.runTime());
        assertEquals(Duration.ZERO, rs.totalTime());
        assertTrue(rs.startTime().isEmpty());
        assertTrue(rs.stopTime().isEmpty());
        rs.start();
        nanos.addAndGet(1_000);
        assertEquals(Duration.ofNanos(1_000), rs.runTime());
        assertEquals(Duration.ofNanos(1_000), rs.totalTime());
        assertTrue(rs.stopTime().isEmpty());
        rs.pause();
        nanos.addAndGet(1_000);
        assertEquals(Duration.ofNanos(2_000), rs.runTime(), "paused time included");
        rs.cancel();
        nanos.addAndGet(1_000);
        assertEquals(Duration.ofNanos(3_000), rs.runTime(), "live while STOPPING");
        rs.stop();
        nanos.addAndGet(1_000);
        assertEquals(Duration.ofNanos(3_000), rs.runTime());
        assertTrue(rs.stopTime().isPresent());
        rs.cancel();
        rs.start(); // begins cancelled
        assertTrue(rs.stopTime().isEmpty(), "empty while running");
        nanos.addAndGet(500);
        assertEquals(Duration.ofNanos(500), rs.runTime());
        assertEquals(Duration.ofNanos(3_500), rs.totalTime());
        rs.stop();
        assertEquals("RunState[t]{STOPPED, cancelled=true, runTime=PT0.0000005S}", rs.toString());
    }

    @Test
    void nestedRun_justRunsBody() {
        RunState rs = new RunState("n");
        AtomicInteger starts = new AtomicInteger();
        AtomicInteger stops = new AtomicInteger();
        rs.onStart(r -> starts.incrementAndGet());
        rs.onStop(r -> stops.incrementAndGet());
        rs.run(() -> {
            rs.run(() -> assertEquals(State.RUNNING, rs.state()));
            RuntimeException e = assertThrows(RuntimeException.class, () -> rs.run(() -> {
                throw new IllegalStateException("inner");
            }));
            assertEquals("inner", e.getMessage());
            assertEquals(State.RUNNING, rs.state(), "nested failure: no cancel");
        });
        assertEquals(1, starts.get());
        assertEquals(1, stops.get());
    }

    /** run() must stop only the run it started, not a new run another thread began. */
    @Test
    void run_doesNotStopAnotherThreadsNewRun() throws Exception {
        RunState rs = new RunState("n");
        rs.run(() -> {
            TestThreads.Call other = TestThreads.startCall(() -> {
                rs.stop();
                rs.start();
                return null;
            });
            assertNull(other.join());
        });
        assertEquals(State.RUNNING, rs.state(), "the other thread's run is not stopped");
        rs.stop();
    }

    @Test
    void registrationClose_idempotentAndEffective() {
        RunState rs = new RunState("r");
        AtomicInteger n = new AtomicInteger();
        Registration r = rs.onStart(x -> n.incrementAndGet());
        r.close();
        r.close();
        rs.start();
        assertEquals(0, n.get());
        assertThrows(NullPointerException.class, () -> rs.onStop(null));
    }

    @Test
    void join_idle_waitsForTheNextRunAndTimesOut() throws Exception {
        RunState rs = new RunState("r");
        // IDLE is not STOPPED: join must time out
        assertFalse(rs.join(Duration.ofMillis(10)), "IDLE is not STOPPED");
    }

    /** join parked in RUNNING must see a stop even if another start follows at once. */
    @Test
    @Timeout(60)
    void join_resultWithImmediateRestart() throws Exception {
        RunState rs = new RunState("w");
        rs.start();
        int missed = 0;
        int rounds = 0;
        for (; rounds < 40; rounds++) {
            AtomicBoolean result = new AtomicBoolean();
            TestThreads.Call waiter = TestThreads.startCall(() -> {
                result.set(rs.join(Duration.ofMillis(200)));
                return null;
            });
            TestThreads.awaitParked(waiter.thread);
            rs.stop();
            rs.start();
            assertNull(waiter.join());
            if (!result.get()) {
                missed++;
            }
        }
        rs.stop();
        assertEquals(0, missed, "join missed a stop in " + missed + " of " + rounds + " rounds");
    }

    @Test
    void pauseWaitInterruptedThenCancelled_throwsWithFlagSet() throws Exception {
        RunState rs = new RunState("p");
        rs.start();
        rs.pause();
        AtomicBoolean flag = new AtomicBoolean();
        TestThreads.Call c = TestThreads.startCall(() -> {
            try {
                rs.throwIfCancelled();
            } finally {
                flag.set(Thread.currentThread().isInterrupted());
            }
            return null;
        });
        TestThreads.awaitParked(c.thread);
        c.thread.interrupt();
        TestThreads.awaitParked(c.thread);
        rs.cancel();
        Throwable t = c.join();
        assertInstanceOf(java.util.concurrent.CancellationException.class, t);
        assertEquals("p: cancelled", t.getMessage());
        assertTrue(flag.get(), "interrupt flag kept");
    }

    /** A cancel listener that stops the run itself: run() must not then fail on its own stop. */
    @Test
    void cancelListenerStops_runWithFailingBody() {
        RunState rs = new RunState("l");
        rs.onCancel(r -> {
            if (r.isRunning()) {
                r.stop();
            }
        });
        IllegalArgumentException body = new IllegalArgumentException("body");
        Throwable got = assertThrows(Throwable.class, () -> rs.run(() -> {
            throw body;
        }));
        assertSame(body, got);
        assertEquals(0, got.getSuppressed().length);
        assertEquals(State.STOPPED, rs.state());
    }

    @Test
    void bodyStopsItself_runDoesNotThrow() {
        RunState rs = new RunState("l");
        rs.run(rs::stop);
        assertEquals(State.STOPPED, rs.state());
        rs.run(() -> {
            rs.stop();
            rs.start(); // this thread's new run: not run()'s to stop
        });
        assertEquals(State.RUNNING, rs.state());
        rs.stop();
    }

    /** Stress: cancel listener throws an Error every time; each cancel that changed something throws once. */
    @Test
    @Timeout(60)
    void stress_cancelErrorsCountedAcrossReusedRuns_withChild() throws Exception {
        RunState rs = new RunState("s");
        AtomicInteger cancels = new AtomicInteger();
        rs.onCancel(r -> {
            cancels.incrementAndGet();
            throw new Boom("c");
        });
        long end = System.nanoTime() + STRESS_NANOS;
        int rounds = 0;
        int booms = 0;
        while (System.nanoTime() < end && rounds < 3000) {
            CountDownLatch childSaw = new CountDownLatch(1);
            TestThreads.Call worker = TestThreads.startCall(() -> {
                rs.run(() -> {
                    RunState child = rs.child("c");
                    child.run(() -> {
                        while (!child.isCancelled()) {
                            child.sleep(FOREVER);
                        }
                        childSaw.countDown();
                    });
                });
                return null;
            });
            try {
                rs.cancel();
            } catch (Boom b) {
                booms++;
            }
            assertNull(worker.join(), "round " + rounds);
            TestThreads.await(childSaw);
            rounds++;
        }
        assertEquals(rounds, booms, "each round's cancel throws the listener's Error once");
        assertEquals(rounds, cancels.get());
    }
}
