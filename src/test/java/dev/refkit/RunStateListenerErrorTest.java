package dev.refkit;

import static dev.refkit.TestThreads.forkParked;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.refkit.RunState.State;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A listener that throws: an {@link Error} reaches the thread that made the transition once
 * the other listeners ran and the transition finished; a RuntimeException is logged.
 */
@Timeout(30)
final class RunStateListenerErrorTest {

    private static final Duration FOREVER = Duration.ofSeconds(Long.MAX_VALUE);

    private final ExecutorService pool = Executors.newCachedThreadPool();
    private final List<String> calls = Collections.synchronizedList(new ArrayList<>());

    @AfterEach
    void shutdownPool() throws InterruptedException {
        pool.shutdownNow();
        assertTrue(pool.awaitTermination(10, TimeUnit.SECONDS));
    }

    private static <V> V get(Future<V> f) throws Exception {
        return f.get(20, TimeUnit.SECONDS);
    }

    /** Adds a listener for {@code event} ("start", "cancel" or "stop") to {@code r}. */
    private static void on(RunState r, String event, Consumer<RunState> listener) {
        switch (event) {
            case "start": r.onStart(listener); break;
            case "cancel": r.onCancel(listener); break;
            case "stop": r.onStop(listener); break;
            default: throw new AssertionError(event);
        }
    }

    /** Makes the transition {@code event} on {@code r}, which is in the state before it. */
    private static void fire(RunState r, String event) {
        switch (event) {
            case "start": r.start(); break;
            case "cancel": r.cancel(); break;
            case "stop": r.stop(); break;
            default: throw new AssertionError(event);
        }
    }

    /** The state before {@code event} and the state after it. */
    private static State[] states(String event) {
        switch (event) {
            case "start": return new State[] {State.IDLE, State.RUNNING};
            case "cancel": return new State[] {State.RUNNING, State.STOPPING};
            case "stop": return new State[] {State.RUNNING, State.STOPPED};
            default: throw new AssertionError(event);
        }
    }

    /**
     * An AssertionError from a start, cancel or stop listener: the later listeners still run,
     * the state is the new one, and the caller gets that AssertionError.
     */
    @ParameterizedTest
    @ValueSource(strings = {"start", "cancel", "stop"})
    void listener_throwsAssertionError_laterListenersRunTransitionCompletesCallerGetsIt(String event) {
        RunState r = RunStateTest.inState(states(event)[0]);
        AssertionError boom = new AssertionError("boom");
        on(r, event, x -> calls.add("first"));
        on(r, event, x -> {
            throw boom;
        });
        on(r, event, x -> calls.add("third:" + x.state()));
        assertSame(boom, assertThrows(AssertionError.class, () -> fire(r, event)));
        assertEquals(List.of("first", "third:" + states(event)[1]), calls);
        assertEquals(states(event)[1], r.state());
    }

    /** Two listeners throw Errors: the first is thrown, the second is suppressed on it. */
    @ParameterizedTest
    @ValueSource(strings = {"start", "cancel", "stop"})
    void listener_twoThrowErrors_firstThrownSecondSuppressed(String event) {
        RunState r = RunStateTest.inState(states(event)[0]);
        AssertionError first = new AssertionError("first");
        StackOverflowError second = new StackOverflowError("second");
        on(r, event, x -> {
            throw first;
        });
        on(r, event, x -> {
            throw second;
        });
        on(r, event, x -> calls.add("third"));
        assertSame(first, assertThrows(AssertionError.class, () -> fire(r, event)));
        assertArrayEquals(new Throwable[] {second}, first.getSuppressed());
        assertEquals(List.of("third"), calls, "a VirtualMachineError does not stop the others either");
        assertEquals(states(event)[1], r.state());
    }

    /** A RuntimeException from a start, cancel or stop listener is logged and swallowed. */
    @ParameterizedTest
    @ValueSource(strings = {"start", "cancel", "stop"})
    void listener_throwsRuntimeException_isLoggedAndSwallowed(String event) {
        RunState r = new RunState("indexer");
        State[] states = states(event);
        if (states[0] == State.RUNNING) {
            r.start();
        }
        on(r, event, x -> {
            throw new IllegalStateException("boom");
        });
        on(r, event, x -> calls.add("second"));
        PrintStream err = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            fire(r, event);
        } finally {
            System.setErr(err);
        }
        assertEquals(List.of("second"), calls);
        assertEquals(states[1], r.state());
        String log = captured.toString(StandardCharsets.UTF_8);
        assertTrue(log.contains("indexer: " + event + " listener") && log.contains("boom"), log);
    }

    /** A cancel listener's Error comes after the waiters in sleep and awaitCancellation woke. */
    @Test
    void cancel_listenerThrowsError_waitersAreWokenFirst() throws Exception {
        RunState r = RunStateTest.inState(State.RUNNING);
        Future<Boolean> sleeper = forkParked(() -> r.sleep(FOREVER));
        Future<Boolean> awaiter = forkParked(() -> r.awaitCancellation(FOREVER));
        r.onCancel(x -> {
            throw new AssertionError("boom");
        });
        assertThrows(AssertionError.class, r::cancel);
        assertFalse(get(sleeper));
        assertTrue(get(awaiter));
    }

    /** A stop listener's Error comes after join is woken and returns true. */
    @Test
    void stop_listenerThrowsError_joinIsWokenAndReturnsTrue() throws Exception {
        RunState r = RunStateTest.inState(State.RUNNING);
        Future<Boolean> awaiter = forkParked(() -> r.join(FOREVER));
        r.onStop(x -> {
            throw new AssertionError("boom");
        });
        assertThrows(AssertionError.class, r::stop);
        assertTrue(get(awaiter));
        assertTrue(r.join(Duration.ZERO));
    }

    /**
     * A child's cancel listener throws an Error: the other children are still cancelled, the
     * parent's own cancel listeners still run, and the parent's caller gets the Error.
     */
    @Test
    void cancel_childListenerThrowsError_otherChildrenAndListenersRunCallerGetsIt() {
        RunState parent = new RunState("p");
        RunState bad = parent.child("bad");
        RunState good = parent.child("good");
        AssertionError boom = new AssertionError("boom");
        bad.onCancel(x -> {
            throw boom;
        });
        good.onCancel(x -> calls.add("good"));
        parent.onCancel(x -> calls.add("parent"));
        assertSame(boom, assertThrows(AssertionError.class, parent::cancel));
        assertEquals(List.of("good", "parent"), calls);
        assertTrue(bad.isCancelled());
        assertTrue(good.isCancelled());
    }

    /** A start listener's Error in run(): the body does not run, the run is cancelled and stopped. */
    @Test
    void run_startListenerThrowsError_bodySkippedRunCancelledAndStopped() {
        RunState r = new RunState("t");
        AssertionError boom = new AssertionError("boom");
        r.onStart(x -> {
            throw boom;
        });
        r.onStop(x -> calls.add("stop"));
        assertSame(boom, assertThrows(AssertionError.class, () -> r.run(() -> calls.add("body"))));
        assertEquals(List.of("stop"), calls);
        assertEquals(State.STOPPED, r.state());
        assertTrue(r.isCancelled());
    }

    /** The body succeeds and a stop listener throws an Error: the caller gets it, the run stopped. */
    @Test
    void call_stopListenerThrowsError_callerGetsItAfterTheStop() {
        RunState r = new RunState("t");
        AssertionError boom = new AssertionError("boom");
        r.onStop(x -> {
            throw boom;
        });
        assertSame(boom, assertThrows(AssertionError.class, () -> r.call(() -> "v")));
        assertEquals(State.STOPPED, r.state());
        assertFalse(r.isCancelled());
    }

    /** The body fails and cancel and stop listeners throw Errors: both are suppressed on the body's. */
    @Test
    void run_bodyFailsAndListenersThrowErrors_errorsSuppressedOnTheBodysException() {
        RunState r = new RunState("t");
        AssertionError onCancel = new AssertionError("cancel");
        AssertionError onStop = new AssertionError("stop");
        r.onCancel(x -> {
            throw onCancel;
        });
        r.onStop(x -> {
            throw onStop;
        });
        IllegalArgumentException body = new IllegalArgumentException("body");
        assertSame(body, assertThrows(IllegalArgumentException.class, () -> r.run(() -> {
            throw body;
        })));
        assertArrayEquals(new Throwable[] {onCancel, onStop}, body.getSuppressed());
        assertEquals(State.STOPPED, r.state());
    }

    /**
     * The shutdown hook's cancel meets a listener's Error: the hook still waits for the loop to
     * stop, then rethrows the Error.
     */
    @Test
    void cancelAndWait_cancelListenerThrowsError_waitsForTheStopThenRethrows() throws Exception {
        RunState r = new RunState("t");
        CountDownLatch release = new CountDownLatch(1);
        CountDownLatch running = new CountDownLatch(1);
        Future<?> loop = pool.submit(() -> {
            r.run(() -> {
                running.countDown();
                r.awaitCancellation(FOREVER);
                release.await();
            });
            return null;
        });
        running.await();
        AssertionError boom = new AssertionError("boom");
        r.onCancel(x -> {
            throw boom;
        });
        Future<?> hook = forkParked(() -> {
            r.cancelAndAwaitStop(TimeUnit.HOURS.toNanos(1));
            return null;
        });
        assertFalse(hook.isDone(), "the hook waits for the stop");
        release.countDown();
        ExecutionException e = assertThrows(ExecutionException.class, () -> get(hook));
        assertSame(boom, e.getCause());
        assertTrue(r.isStopped());
        get(loop);
    }
}
