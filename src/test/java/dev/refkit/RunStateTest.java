package dev.refkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.base.Ticker;
import dev.refkit.RunState.State;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

/** Single-threaded behaviour of {@link RunState}: transitions, queries, timing, listeners. */
final class RunStateTest {

    /** A ticker the test moves by hand. */
    static final class FakeTicker extends Ticker {
        final AtomicLong nanos = new AtomicLong(1_000L);

        @Override
        public long read() {
            return nanos.get();
        }

        void advance(Duration d) {
            nanos.addAndGet(d.toNanos());
        }
    }

    /** A clock the test moves by hand. */
    static final class FakeClock extends Clock {
        final AtomicReference<Instant> now = new AtomicReference<>(Instant.parse("2026-01-01T00:00:00Z"));

        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
            throw new UnsupportedOperationException();
        }

        @Override
        public Instant instant() {
            return now.get();
        }

        void advance(Duration d) {
            now.updateAndGet(i -> i.plus(d));
        }
    }

    /** Returns a RunState named "t" brought to {@code state} by legal transitions. */
    static RunState inState(State state) {
        RunState r = new RunState("t");
        switch (state) {
            case IDLE:
                break;
            case RUNNING:
                r.start();
                break;
            case PAUSED:
                r.start();
                r.pause();
                break;
            case STOPPING:
                r.start();
                r.cancel();
                break;
            case STOPPED:
                r.start();
                r.stop();
                break;
            default:
                throw new AssertionError(state);
        }
        assertEquals(state, r.state());
        return r;
    }

    private static void fire(RunState r, String event) {
        switch (event) {
            case "start": r.start(); break;
            case "cancel": r.cancel(); break;
            case "pause": r.pause(); break;
            case "resume": r.resume(); break;
            case "stop": r.stop(); break;
            default: throw new AssertionError(event);
        }
    }

    @ParameterizedTest(name = "{0} --{1}--> {2}")
    @CsvSource({
        "IDLE,     start,  RUNNING,  false",
        "IDLE,     cancel, IDLE,     true",
        "IDLE,     pause,  THROWS,   false",
        "IDLE,     resume, THROWS,   false",
        "IDLE,     stop,   THROWS,   false",
        "RUNNING,  start,  THROWS,   false",
        "RUNNING,  cancel, STOPPING, true",
        "RUNNING,  pause,  PAUSED,   false",
        "RUNNING,  resume, RUNNING,  false",
        "RUNNING,  stop,   STOPPED,  false",
        "PAUSED,   start,  THROWS,   false",
        "PAUSED,   cancel, STOPPING, true",
        "PAUSED,   pause,  PAUSED,   false",
        "PAUSED,   resume, RUNNING,  false",
        "PAUSED,   stop,   STOPPED,  false",
        "STOPPING, start,  THROWS,   true",
        "STOPPING, cancel, STOPPING, true",
        "STOPPING, pause,  THROWS,   true",
        "STOPPING, resume, THROWS,   true",
        "STOPPING, stop,   STOPPED,  true",
        "STOPPED,  start,  RUNNING,  false",
        "STOPPED,  cancel, STOPPED,  true",
        "STOPPED,  pause,  THROWS,   false",
        "STOPPED,  resume, THROWS,   false",
        "STOPPED,  stop,   THROWS,   false",
    })
    void transition_everyCell_followsTable(State from, String event, String to, boolean cancelled) {
        RunState r = inState(from);
        if (to.equals("THROWS")) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> fire(r, event));
            assertEquals("t: " + event + "() while " + from, e.getMessage());
            assertEquals(from, r.state());
        } else {
            fire(r, event);
            assertEquals(State.valueOf(to), r.state());
        }
        assertEquals(cancelled, r.isCancelled());
    }

    @ParameterizedTest
    @EnumSource(State.class)
    void queries_everyState_answerFromState(State s) {
        RunState r = inState(s);
        assertEquals(s, r.state());
        assertEquals("t", r.name());
        assertEquals(s == State.IDLE, r.isIdle());
        assertEquals(s == State.RUNNING || s == State.PAUSED || s == State.STOPPING, r.isRunning());
        assertEquals(s == State.PAUSED, r.isPaused());
        assertEquals(s == State.STOPPING, r.isStopping());
        assertEquals(s == State.STOPPED, r.isStopped());
        assertEquals(s == State.STOPPING, r.isCancelled());
        assertEquals("RunState[t]{" + s + ", cancelled=" + (s == State.STOPPING) + ", runTime=",
                r.toString().substring(0, r.toString().indexOf("runTime=") + 8));
    }

    @ParameterizedTest
    @EnumSource(value = State.class, names = {"IDLE", "STOPPED"})
    void queries_cancelledWhileNotRunning_keepStateAndReportCancelled(State s) {
        RunState r = inState(s);
        r.cancel();
        assertEquals(s, r.state());
        assertTrue(r.isCancelled());
        assertFalse(r.isRunning());
        assertFalse(r.isStopping());
        assertFalse(r.isPaused());
        assertEquals(s == State.IDLE, r.isIdle());
        assertEquals(s == State.STOPPED, r.isStopped());
        assertEquals("RunState[t]{" + s + ", cancelled=true, runTime=PT0S}", r.toString().replaceAll("runTime=.*}", "runTime=PT0S}"));
    }

    /** Returns a RunState named "t" whose run was cancelled and then stopped. */
    static RunState stoppedAfterCancelledRun() {
        RunState r = inState(State.STOPPING);
        r.stop();
        assertTrue(r.isCancelled());
        return r;
    }

    /** Which RunState {@code kind} names: a state, or STOPPED after a cancelled run. */
    private static RunState notRunning(String kind) {
        return kind.equals("STOPPED_AFTER_CANCELLED_RUN") ? stoppedAfterCancelledRun() : inState(State.valueOf(kind));
    }

    /** A cancel made while no run is going is kept: the next start begins cancelled, in STOPPING. */
    @ParameterizedTest
    @CsvSource({"IDLE", "STOPPED", "STOPPED_AFTER_CANCELLED_RUN"})
    void start_afterCancelWhileNoRun_beginsCancelledInStopping(String kind) {
        RunState r = notRunning(kind);
        r.cancel();
        assertTrue(r.isCancelled());
        r.start();
        assertEquals(State.STOPPING, r.state());
        assertTrue(r.isCancelled());
        assertTrue(r.isRunning());
        r.stop();
        r.start();
        assertEquals(State.RUNNING, r.state(), "that cancel belonged to the run it began");
        assertFalse(r.isCancelled());
    }

    /** start() clears a cancel that belonged to the earlier run (made while RUNNING or PAUSED). */
    @ParameterizedTest
    @EnumSource(value = State.class, names = {"RUNNING", "PAUSED"})
    void start_afterCancelOfEarlierRun_clearsTheFlag(State s) {
        RunState r = inState(s);
        r.cancel();
        r.stop();
        assertTrue(r.isCancelled());
        r.start();
        assertEquals(State.RUNNING, r.state());
        assertFalse(r.isCancelled());
    }

    /**
     * A start that begins cancelled runs the start listeners (which see STOPPING) but not the
     * cancel listeners again, and does not cancel the children again.
     */
    @Test
    void start_beginsCancelled_runsStartListenersOnlyAndCancelListenersStayAtOne() {
        RunState r = new RunState("t");
        RunState child = r.child("c");
        List<String> calls = new ArrayList<>();
        r.onStart(x -> calls.add("start:" + x.state() + "," + x.isCancelled()));
        r.onCancel(x -> calls.add("cancel:" + x.state()));
        child.onCancel(x -> calls.add("child cancel"));
        r.cancel();
        r.start();
        assertEquals(List.of("child cancel", "cancel:IDLE", "start:STOPPING,true"), calls);
    }

    /** run(body) after a cancel in IDLE still runs the body, which sees the cancel at once, then stops. */
    @Test
    @Timeout(10) // a lost cancel would leave the sleep asleep forever
    void run_afterCancelWhileIdle_bodyRunsCancelledAndTheRunStops() {
        RunState r = new RunState("t");
        List<String> calls = new ArrayList<>();
        r.onStop(x -> calls.add("stop"));
        r.cancel();
        r.run(() -> {
            calls.add("body:" + r.state() + "," + r.isCancelled());
            calls.add("sleep:" + r.sleep(Duration.ofSeconds(Long.MAX_VALUE)));
            calls.add("await:" + r.awaitCancellation(Duration.ofSeconds(Long.MAX_VALUE)));
            assertThrows(CancellationException.class, r::throwIfCancelled);
        });
        assertEquals(List.of("body:STOPPING,true", "sleep:false", "await:true", "stop"), calls);
        assertEquals(State.STOPPED, r.state());
        assertFalse(r.call(r::isCancelled), "the next call() begins a clean run");
    }

    @Test
    void defaultConstructor_generatesName() {
        assertTrue(new RunState().name().startsWith("runstate-"));
    }

    @Test
    void arguments_nullOrNegative_throwNamingThem() {
        RunState r = new RunState("t");
        assertEquals("name", assertThrows(NullPointerException.class, () -> new RunState(null)).getMessage());
        assertEquals("listener", assertThrows(NullPointerException.class, () -> r.onStart(null)).getMessage());
        assertEquals("listener", assertThrows(NullPointerException.class, () -> r.onCancel(null)).getMessage());
        assertEquals("listener", assertThrows(NullPointerException.class, () -> r.onStop(null)).getMessage());
        assertEquals("duration", assertThrows(NullPointerException.class, () -> r.sleep(null)).getMessage());
        assertEquals("timeout", assertThrows(NullPointerException.class, () -> r.awaitCancellation(null)).getMessage());
        assertEquals("timeout", assertThrows(NullPointerException.class, () -> r.join(null)).getMessage());
        assertEquals("maxWait", assertThrows(NullPointerException.class, () -> r.cancelOnShutdown(null)).getMessage());
        assertEquals("body", assertThrows(NullPointerException.class, () -> r.run(null)).getMessage());
        assertEquals("body", assertThrows(NullPointerException.class, () -> r.call(null)).getMessage());
        assertEquals("items", assertThrows(NullPointerException.class, () -> r.iterate(null)).getMessage());
        assertEquals("name", assertThrows(NullPointerException.class, () -> r.child(null)).getMessage());
        assertEquals("ticker", assertThrows(NullPointerException.class, () -> RunState.builder("b").ticker(null)).getMessage());
        assertEquals("clock", assertThrows(NullPointerException.class, () -> RunState.builder("b").clock(null)).getMessage());
        assertEquals("cancelPoll", assertThrows(NullPointerException.class, () -> RunState.builder("b").cancelPoll(null)).getMessage());
        Duration minus = Duration.ofNanos(-1);
        assertThrows(IllegalArgumentException.class, () -> r.sleep(minus));
        assertThrows(IllegalArgumentException.class, () -> r.awaitCancellation(minus));
        assertThrows(IllegalArgumentException.class, () -> r.join(minus));
        assertThrows(IllegalArgumentException.class, () -> r.cancelOnShutdown(minus));
        assertEquals(State.IDLE, r.state());
    }

    // ---------------------------------------------------------------- timing

    @Test
    void timing_fakeTickerAndClock_measureRunsAndTotals() {
        FakeTicker ticker = new FakeTicker();
        FakeClock clock = new FakeClock();
        RunState r = RunState.builder("t").ticker(ticker).clock(clock).build();
        assertEquals(Duration.ZERO, r.runTime());
        assertEquals(Duration.ZERO, r.totalTime());
        assertEquals(Optional.empty(), r.startTime());
        assertEquals(Optional.empty(), r.stopTime());

        Instant t0 = clock.instant();
        r.start();
        assertEquals(Optional.of(t0), r.startTime());
        assertEquals(Optional.empty(), r.stopTime());
        ticker.advance(Duration.ofMillis(200));
        assertEquals(Duration.ofMillis(200), r.runTime());
        assertEquals("RunState[t]{RUNNING, cancelled=false, runTime=PT0.2S}", r.toString());
        r.pause();
        ticker.advance(Duration.ofMillis(100));
        assertEquals(Duration.ofMillis(300), r.runTime());
        r.cancel();
        ticker.advance(Duration.ofMillis(100));
        assertEquals(Duration.ofMillis(400), r.runTime(), "live while STOPPING");
        assertEquals(Duration.ofMillis(400), r.totalTime());
        clock.advance(Duration.ofSeconds(5));
        r.stop();
        assertEquals(Optional.of(t0.plusSeconds(5)), r.stopTime());
        ticker.advance(Duration.ofSeconds(1));
        assertEquals(Duration.ofMillis(400), r.runTime(), "frozen once stopped");
        assertEquals(Duration.ofMillis(400), r.totalTime());

        clock.advance(Duration.ofSeconds(1));
        r.start();
        assertEquals(Optional.of(t0.plusSeconds(6)), r.startTime());
        assertEquals(Optional.empty(), r.stopTime());
        assertEquals(Duration.ZERO, r.runTime());
        ticker.advance(Duration.ofMillis(50));
        assertEquals(Duration.ofMillis(50), r.runTime());
        assertEquals(Duration.ofMillis(450), r.totalTime());
        r.stop();
        ticker.advance(Duration.ofMillis(50));
        assertEquals(Duration.ofMillis(50), r.runTime());
        assertEquals(Duration.ofMillis(450), r.totalTime());
    }

    @Test
    void child_sharesTickerAndClock() {
        FakeTicker ticker = new FakeTicker();
        RunState parent = RunState.builder("p").ticker(ticker).build();
        RunState child = parent.child("c");
        child.start();
        ticker.advance(Duration.ofSeconds(3));
        assertEquals(Duration.ofSeconds(3), child.runTime());
    }

    // ---------------------------------------------------------------- listeners

    @Test
    void listeners_eachTransition_runInRegistrationOrderOncePerChange() {
        RunState r = new RunState("t");
        List<String> calls = new ArrayList<>();
        r.onStop(x -> calls.add("stop1"));
        r.onStart(x -> calls.add("start1"));
        r.onCancel(x -> calls.add("cancel1"));
        r.onStart(x -> calls.add("start2:" + x.state()));
        r.onCancel(x -> calls.add("cancel2:" + x.state()));
        r.onStop(x -> calls.add("stop2:" + x.state()));
        r.start();
        r.pause();
        r.resume();
        r.cancel();
        r.cancel();
        r.stop();
        r.cancel(); // a new cancel, kept for the next run
        r.cancel();
        assertEquals(List.of("start1", "start2:RUNNING", "cancel1", "cancel2:STOPPING", "stop1",
                "stop2:STOPPED", "cancel1", "cancel2:STOPPED"), calls);
    }

    @Test
    void listeners_cancelFromIdle_runsCancelListenersOnce() {
        RunState r = new RunState("t");
        AtomicInteger cancels = new AtomicInteger();
        r.onCancel(x -> cancels.incrementAndGet());
        r.cancel();
        r.cancel();
        assertEquals(1, cancels.get());
        r.start();
        r.stop();
        r.cancel();
        assertEquals(2, cancels.get());
    }

    @Test
    void listener_throws_othersRunAndStateChangesAndItIsLogged() {
        RunState r = new RunState("indexer");
        List<String> calls = new ArrayList<>();
        r.onStart(x -> calls.add("a"));
        r.onStart(x -> {
            throw new IllegalStateException("boom");
        });
        r.onStart(x -> calls.add("c"));
        PrintStream err = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            r.start();
        } finally {
            System.setErr(err);
        }
        assertEquals(List.of("a", "c"), calls);
        assertEquals(State.RUNNING, r.state());
        String log = captured.toString(StandardCharsets.UTF_8);
        assertTrue(log.contains("indexer: start listener") && log.contains("boom"), log);
    }

    @Test
    void listener_closed_isNotCalledAgainAndCloseIsIdempotent() {
        RunState r = new RunState("t");
        AtomicInteger starts = new AtomicInteger();
        Registration reg = r.onStart(x -> starts.incrementAndGet());
        r.start();
        reg.close();
        reg.close();
        r.stop();
        r.start();
        assertEquals(1, starts.get());
    }

    @Test
    void listener_addedDuringTransition_isCalledFromTheNextOneOnly() {
        RunState r = new RunState("t");
        List<String> calls = new ArrayList<>();
        r.onStart(x -> {
            calls.add("first");
            if (calls.size() == 1) {
                x.onStart(y -> calls.add("added"));
            }
        });
        r.start();
        assertEquals(List.of("first"), calls);
        r.stop();
        r.start();
        assertEquals(List.of("first", "first", "added"), calls);
    }

    @Test
    void listener_removedDuringTransitionByAnEarlierOne_isNotCalled() {
        RunState r = new RunState("t");
        List<String> calls = new ArrayList<>();
        AtomicReference<Registration> second = new AtomicReference<>();
        r.onStart(x -> {
            calls.add("first");
            second.get().close();
        });
        second.set(r.onStart(x -> calls.add("second")));
        r.onStart(x -> calls.add("third"));
        r.start();
        assertEquals(List.of("first", "third"), calls);
    }

    // ---------------------------------------------------------------- run and call

    @Test
    void run_success_startsAndStops() {
        RunState r = new RunState("t");
        List<String> calls = new ArrayList<>();
        r.onStart(x -> calls.add("start"));
        r.onCancel(x -> calls.add("cancel"));
        r.onStop(x -> calls.add("stop"));
        r.run(() -> calls.add("body:" + r.state()));
        assertEquals(List.of("start", "body:RUNNING", "stop"), calls);
        assertEquals(State.STOPPED, r.state());
        assertFalse(r.isCancelled());
    }

    @Test
    void run_bodyThrowsUnchecked_cancelsStopsAndRethrowsIt() {
        RunState r = new RunState("t");
        List<String> calls = new ArrayList<>();
        r.onCancel(x -> calls.add("cancel"));
        r.onStop(x -> calls.add("stop"));
        IllegalArgumentException boom = new IllegalArgumentException("boom");
        assertSame(boom, assertThrows(IllegalArgumentException.class, () -> r.run(() -> {
            throw boom;
        })));
        assertEquals(List.of("cancel", "stop"), calls);
        assertEquals(State.STOPPED, r.state());
        assertTrue(r.isCancelled());
    }

    @Test
    void run_bodyThrowsChecked_wrapsItInLifecycleException() {
        RunState r = new RunState("t");
        IOException io = new IOException("disk");
        LifecycleException e = assertThrows(LifecycleException.class, () -> r.run(() -> {
            throw io;
        }));
        assertSame(io, e.getCause());
        assertEquals("t: run() body failed", e.getMessage());
        assertEquals(State.STOPPED, r.state());
        assertTrue(r.isCancelled());
    }

    @Test
    void run_bodyThrowsInterrupted_restoresInterruptFlag() {
        RunState r = new RunState("t");
        assertThrows(LifecycleException.class, () -> r.run(() -> {
            throw new InterruptedException();
        }));
        assertTrue(Thread.interrupted());
    }

    @Test
    void run_bodyThrowsError_rethrowsItAsItself() {
        RunState r = new RunState("t");
        assertThrows(AssertionError.class, () -> r.run(() -> {
            throw new AssertionError("x");
        }));
        assertEquals(State.STOPPED, r.state());
    }

    @ParameterizedTest
    @EnumSource(value = State.class, names = {"RUNNING", "PAUSED", "STOPPING"})
    void run_alreadyRunning_justRunsTheBody(State s) {
        RunState r = inState(s);
        AtomicInteger listenerCalls = new AtomicInteger();
        r.onStart(x -> listenerCalls.incrementAndGet());
        r.onStop(x -> listenerCalls.incrementAndGet());
        AtomicBoolean ran = new AtomicBoolean();
        r.run(() -> ran.set(true));
        assertTrue(ran.get());
        assertEquals(s, r.state());
        assertEquals(0, listenerCalls.get());
        assertThrows(IllegalStateException.class, () -> r.run(() -> {
            throw new IllegalStateException("x");
        }));
        assertEquals(s, r.state());
    }

    @Test
    void call_success_returnsValueAndStops() {
        RunState r = new RunState("t");
        assertEquals("v", r.call(() -> "v"));
        assertEquals(State.STOPPED, r.state());
        assertNull(r.call(() -> null));
    }

    @Test
    void call_bodyThrowsChecked_cancelsStopsAndWraps() {
        RunState r = new RunState("t");
        LifecycleException e = assertThrows(LifecycleException.class, () -> r.call(() -> {
            throw new IOException("x");
        }));
        assertEquals("t: call() body failed", e.getMessage());
        assertTrue(r.isCancelled());
        assertTrue(r.isStopped());
    }

    @Test
    void call_alreadyRunning_returnsValueWithoutStopping() {
        RunState r = inState(State.RUNNING);
        assertEquals(42, r.call(() -> 42));
        assertEquals(State.RUNNING, r.state());
    }

    @Test
    void run_bodyStopsAndRestartsItself_doesNotStopTheNewRun() {
        RunState r = new RunState("t");
        r.run(() -> {
            r.stop();
            r.start();
        });
        assertEquals(State.RUNNING, r.state());
    }

    // ---------------------------------------------------------------- throwIfCancelled, iterate

    @Test
    void throwIfCancelled_cancelled_throwsNamingIt() {
        RunState r = inState(State.RUNNING);
        r.throwIfCancelled();
        r.cancel();
        assertEquals("t: cancelled",
                assertThrows(CancellationException.class, r::throwIfCancelled).getMessage());
    }

    @Test
    void iterate_cancelledMidway_stops() {
        RunState r = inState(State.RUNNING);
        List<Integer> seen = new ArrayList<>();
        for (int i : r.iterate(List.of(1, 2, 3, 4, 5))) {
            seen.add(i);
            if (i == 2) {
                r.cancel();
            }
        }
        assertEquals(List.of(1, 2), seen);
        assertFalse(r.iterate(List.of(1)).iterator().hasNext());
    }

    // ---------------------------------------------------------------- cancel poll, children

    @Test
    void cancelPoll_saysTrue_cancelsOnceAndStaysCancelled() {
        AtomicBoolean poll = new AtomicBoolean();
        RunState r = RunState.builder("t").cancelPoll(poll::get).build();
        AtomicInteger cancels = new AtomicInteger();
        r.onCancel(x -> cancels.incrementAndGet());
        r.start();
        assertFalse(r.isCancelled());
        poll.set(true);
        assertTrue(r.isCancelled());
        assertEquals(State.STOPPING, r.state());
        poll.set(false);
        assertTrue(r.isCancelled());
        assertEquals(1, cancels.get());
        r.stop();
        r.start();
        assertFalse(r.isCancelled(), "a new run asks the poll again");
    }

    @Test
    void cancelPoll_beforeSleep_sleepReturnsFalse() throws InterruptedException {
        RunState r = RunState.builder("t").cancelPoll(() -> true).build();
        assertFalse(r.sleep(Duration.ofHours(1)));
        assertTrue(r.awaitCancellation(Duration.ofHours(1)));
    }

    @Test
    void child_parentCancelled_cancelsChildButNotTheOtherWay() {
        RunState parent = inState(State.RUNNING);
        RunState child = parent.child("c");
        RunState sibling = parent.child("s");
        child.start();
        sibling.start();
        sibling.cancel();
        assertFalse(parent.isCancelled());
        assertFalse(child.isCancelled());
        parent.cancel();
        assertTrue(child.isCancelled());
        assertEquals(State.STOPPING, child.state());
        child.stop();
        parent.stop();
        parent.start();
        child.start();
        assertFalse(child.isCancelled());
        parent.cancel();
        assertTrue(child.isCancelled(), "later cancels reach the child too");
    }

    @Test
    void child_ofCancelledParent_isCancelledEvenAfterItsOwnStart() {
        RunState parent = new RunState("p");
        parent.cancel();
        RunState child = parent.child("c");
        assertTrue(child.isCancelled());
        child.start();
        assertTrue(child.isCancelled());
        assertEquals(State.STOPPING, child.state());
    }

    @Test
    void grandchild_rootCancelled_isCancelled() {
        RunState root = new RunState("root");
        RunState grandchild = root.child("c").child("g");
        root.cancel();
        assertEquals("RunState[g]{IDLE, cancelled=true, runTime=PT0S}", grandchild.toString());
    }

    @Test
    void runStateAware_defaults_delegate() {
        RunState r = inState(State.RUNNING);
        RunStateAware aware = () -> r;
        assertTrue(aware.isRunning());
        assertFalse(aware.isCancelled());
        aware.cancel();
        assertTrue(aware.isCancelled());
        assertTrue(aware.isStopping());
        assertFalse(aware.isStopped());
        r.stop();
        assertTrue(aware.isStopped());
    }
}
