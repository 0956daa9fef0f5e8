package dev.refkit;

import com.google.common.base.Ticker;
import dev.refkit.RunStateEvents.Event;
import dev.refkit.RunStateEvents.Listener;
import dev.refkit.internal.Failures;
import dev.refkit.internal.ListenerList;
import java.time.Clock;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The run state of a task or daemon loop: started, cancelled, paused and stopped, with run
 * times and listeners.
 *
 * <p>A loop polls {@link #isCancelled()} (a single volatile read) and sleeps with
 * {@link #sleep(Duration)}, which {@link #cancel()} wakes at once; the rest of the program
 * cancels it and waits for the stop with {@link #join(Duration)}.
 *
 * <p><b>Lifecycle.</b> {@link State#IDLE} --start--&gt; {@link State#RUNNING}
 * --cancel--&gt; {@link State#STOPPING} --stop--&gt; {@link State#STOPPED} --start--&gt;
 * {@code RUNNING} again. {@code pause()} and {@code resume()} move between {@code RUNNING}
 * and {@link State#PAUSED}; {@code stop()} is allowed from {@code RUNNING}, {@code PAUSED}
 * and {@code STOPPING}. {@code cancel()} is allowed in every state: it sets the cancelled
 * flag. Any other event throws {@link IllegalStateException}, e.g.
 * {@code "indexer: stop() while IDLE"}.
 *
 * <p><b>Cancel before start.</b> A cancel made while no run is going ({@code IDLE}, or
 * {@code STOPPED} before the next start) is kept for the next run: that {@code start()}
 * begins cancelled, in {@code STOPPING}, so its body sees {@code isCancelled()} at once and
 * its {@code sleep} and {@code awaitCancellation} return at once. So a thread may start a
 * worker and cancel it straight away, whichever of the two threads gets there first.
 * {@code start()} clears a cancel that belonged to an earlier run (made while
 * {@code RUNNING}, {@code PAUSED} or {@code STOPPING}); until then {@code isCancelled()}
 * keeps returning true in {@code STOPPED}. A cancel made while no run is going belongs to
 * the next run: the start after that run begins uncancelled again. A {@linkplain #child
 * child} whose parent is cancelled begins every run cancelled, in {@code STOPPING}, until
 * the parent starts again; the child's cancel listeners ran once, when the parent's cancel
 * reached it, and do not run again.
 *
 * <p><b>Thread safety.</b> Every method may be called from any thread. The queries
 * ({@link #state()}, {@link #isCancelled()}, the other {@code is...()} methods, the timing
 * methods and {@link #toString()}) never block and take no lock. Transitions change the
 * state under a private lock held only for a few field writes, and queue their listener
 * calls under it; the calls run after it is released, on the thread that made the
 * transition. Calls to one listener never overlap and come in the order of the
 * transitions: when two threads make transitions at once and the first is still running a
 * listener, that thread also runs the second transition's call of it, after its own, and
 * the second thread does not wait for it. A stop counts as done for {@code join} only once
 * its stop listener calls have run, on whichever thread, and stops count as done in run
 * order.
 *
 * <p><b>Memory consistency effects.</b> Actions in a thread before it calls
 * {@link #cancel()} happen-before another thread sees {@code isCancelled()} return true,
 * {@code sleep} return false or {@code awaitCancellation} return true because of it.
 * Actions before {@link #stop()} happen-before {@code join} returns because of it. A
 * transition happens-before the listener calls it queues. Transitions are ordered by the
 * lock: a {@code cancel()} made while no run is going happens-before the next
 * {@code start()}, which begins cancelled, so actions before that cancel happen-before the
 * run's body begins.
 *
 * <p><b>Listeners</b> ({@link #onStart}, {@link #onCancel}, {@link #onStop}) run in
 * registration order, exactly once per transition, after the state changed and outside any
 * lock. A listener added during a transition is not called for it; one removed during a
 * transition is called at most once. A listener that throws a {@link RuntimeException} is
 * logged (slf4j, warn) and swallowed. One that throws an {@link Error} ({@link VirtualMachineError}s
 * included) does not stop the others: the remaining listeners run, the transition finishes
 * (state changed, waiters woken), then the thread that ran the calls (the one that made the
 * transition, see <b>Thread safety</b>) gets the first Error, with any later ones
 * {@linkplain Throwable#addSuppressed suppressed} on it.
 *
 * <p><b>Interrupts and timeouts.</b> {@code sleep}, {@code awaitCancellation},
 * {@code join} and the pause waits follow the rule of the
 * <a href="package-summary.html#interrupts">package documentation</a>.
 *
 * <p><b>Example.</b>
 * <pre>{@code
 * RunState run = new RunState("indexer");
 * run.cancelOnShutdown();                  // Ctrl-C or SIGTERM cancels it
 * run.run(() -> {
 *     while (!run.isCancelled()) {
 *         indexOneBatch();
 *         run.sleep(Duration.ofSeconds(5)); // wakes at once when cancelled
 *     }
 * });
 * }</pre>
 */
public final class RunState extends RunStateCore {
    /*
     * Implementation overview. RunStateCore, the superclass, owns the state word, the run
     * counters and the timing, their named transitions, the lock-free queries (isCancelled
     * among them) and the waits. This class decides which transition each event makes,
     * makes it under the core's lock, queues the listener calls there (RunStateEvents),
     * then wakes the waiters, cancels the children (RunStateTree) and runs the calls. It
     * also runs bodies and builds instances. None of the helpers knows this class.
     */

    /** The states of a {@link RunState}; see the class documentation for the transitions. */
    public enum State {
        /** Never started: the initial state. */
        IDLE,
        /** Started and not yet cancelled, paused or stopped. */
        RUNNING,
        /** Started and paused: {@code throwIfCancelled()} and {@code sleep} block. */
        PAUSED,
        /** Cancelled while running: the task should finish and call {@code stop()}. */
        STOPPING,
        /** Stopped: may be started again. */
        STOPPED
    }

    /**
     * A task body that may throw a checked exception, for {@link #run(ThrowingRunnable)}.
     */
    @FunctionalInterface
    public interface ThrowingRunnable {
        /**
         * Runs the body.
         *
         * @throws Exception if the body fails
         */
        void run() throws Exception;
    }

    private static final Logger log = LoggerFactory.getLogger(RunState.class);
    private static final AtomicInteger NAMES = new AtomicInteger();
    private static final State[] STATES = State.values();
    private static final Duration SHUTDOWN_WAIT = Duration.ofSeconds(10);

    /** The RunState this one is a child of; a start while it is cancelled begins cancelled. */
    private final @Nullable RunState parent;
    /** Weakly held, replaced whole under lock. */
    private volatile RunStateTree<RunState> children = RunStateTree.empty();
    /** The start, cancel and stop listeners; guarded by lock. */
    private final RunStateEvents<RunState> events = new RunStateEvents<>(this, name, log);

    /** Creates an idle RunState with a generated name, the system ticker and UTC clock. */
    public RunState() {
        this("runstate-" + NAMES.incrementAndGet());
    }

    /**
     * Creates an idle RunState with the system ticker and the UTC clock.
     *
     * @param name the name used in messages, logs and {@link #toString()}
     * @throws NullPointerException if {@code name} is null
     */
    public RunState(String name) {
        this(Objects.requireNonNull(name, "name"), Ticker.systemTicker(), Clock.systemUTC(), null,
                null);
    }

    private RunState(String name, Ticker ticker, Clock clock, @Nullable BooleanSupplier cancelPoll,
            @Nullable RunState parent) {
        super(name, ticker, clock, cancelPoll);
        this.parent = parent;
    }

    /**
     * Returns a builder for a RunState with a custom ticker, clock or cancel poll.
     *
     * @param name the name used in messages, logs and {@link #toString()}
     * @return a new builder
     * @throws NullPointerException if {@code name} is null
     */
    public static Builder builder(String name) {
        return new Builder(Objects.requireNonNull(name, "name"));
    }

    // ---------------------------------------------------------------- transitions

    /**
     * Starts a run: from {@code IDLE} or {@code STOPPED} to {@code RUNNING}, or to
     * {@code STOPPING} if a cancel was made since the last run ended (see "Cancel before
     * start" in the class documentation). Clears a cancel that belonged to the earlier run,
     * records the start time, then runs the start listeners in this thread; a start that
     * begins cancelled runs no cancel listeners and cancels no children again (that was done
     * when {@code cancel()} was called).
     *
     * @throws IllegalStateException if the state is {@code RUNNING}, {@code PAUSED} or
     *     {@code STOPPING}, e.g. {@code "indexer: start() while RUNNING"}
     * @throws Error the first Error a start listener threw, once the run has started and
     *     every start listener has run
     */
    public void start() {
        startRun(false);
    }

    /**
     * Starts and returns the new run's number. If not IDLE or STOPPED: throws unless
     * {@code forBody}, else returns 0 and changes nothing. If a start listener throws an
     * Error and {@code forBody}, cancels and stops the new run (its body will not run)
     * before rethrowing it.
     */
    private long startRun(boolean forBody) {
        long run;
        ListenerList<Listener<RunState>> calls;
        lock.lock();
        try {
            int ph = phase();
            if (ph != IDLE && ph != STOPPED) {
                if (!forBody) {
                    throw illegal("start()");
                }
                return 0L;
            }
            RunState p = parent;
            run = beginRun(p != null && p.cancelFlagSet(), p == null ? null : p.cancelReasonOrNull());
            calls = events.queue(Event.START);
        } finally {
            lock.unlock();
        }
        // A start ends no wait: a start that begins cancelled found the flag already set.
        Error error = RunStateEvents.dispatch(calls, null);
        if (error != null) {
            if (forBody) {
                cancelAndStop(run, error);
            }
            throw error;
        }
        return run;
    }

    /**
     * Cancels without a reason: as {@link #cancel(String)}, but {@link #cancelReason()} stays
     * empty.
     *
     * @throws Error as {@link #cancel(String)} does
     */
    public void cancel() {
        cancelWith(null);
    }

    /**
     * Cancels: sets the cancelled flag in every state, and moves {@code RUNNING} or
     * {@code PAUSED} to {@code STOPPING}; in {@code IDLE} or {@code STOPPED} the cancel is
     * kept for the next run, whose {@code start()} begins cancelled. Records {@code reason}
     * for {@link #cancelReason()}. Wakes every thread waiting in {@code sleep},
     * {@code awaitCancellation}, {@code throwIfCancelled} or a pause, cancels the children
     * (with this reason), then runs the cancel listeners in this thread. Does nothing, the
     * reason included, if already cancelled: in {@code STOPPING}, or in {@code IDLE} or
     * {@code STOPPED} after a cancel made there. (A cancel in {@code STOPPED} after a run
     * that was cancelled is a new cancel, for the next run: it runs the listeners again and
     * its reason replaces the earlier one.) Never throws because of the state.
     *
     * @param reason why, exactly as {@link #cancelReason()} will return it
     * @throws NullPointerException if {@code reason} is null
     * @throws Error the first Error a child's cancel or a cancel listener threw, once the
     *     state has changed, the waiters are woken, every child is cancelled and every
     *     cancel listener has run
     */
    public void cancel(String reason) {
        cancelWith(Objects.requireNonNull(reason, "reason"));
    }

    @Override
    void cancelFromPoll() {
        RunState p = parent;
        cancelWith(p == null ? null : p.cancelReasonOrNull());
    }

    private void cancelWith(@Nullable String reason) {
        ListenerList<Listener<RunState>> calls;
        lock.lock();
        try {
            if (!markCancelled(reason)) {
                return;
            }
            calls = events.queue(Event.CANCEL);
        } finally {
            lock.unlock();
        }
        wakeWaiters();
        Error error = children.forEachLive(c -> c.cancelWith(reason));
        error = RunStateEvents.dispatch(calls, error);
        if (error != null) {
            throw error;
        }
    }

    /**
     * Pauses: from {@code RUNNING} to {@code PAUSED}, after which {@code throwIfCancelled()}
     * and {@code sleep} block until {@link #resume()} or {@link #cancel()}. Does nothing
     * while {@code PAUSED}.
     *
     * @throws IllegalStateException if the state is {@code IDLE}, {@code STOPPING} or
     *     {@code STOPPED}
     */
    public void pause() {
        lock.lock();
        try {
            int ph = phase();
            if (ph == RUNNING) {
                runningToPaused();
            } else if (ph != PAUSED) {
                throw illegal("pause()");
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Resumes: from {@code PAUSED} to {@code RUNNING}, waking the threads the pause blocks.
     * Does nothing while {@code RUNNING}.
     *
     * @throws IllegalStateException if the state is {@code IDLE}, {@code STOPPING} or
     *     {@code STOPPED}
     */
    public void resume() {
        lock.lock();
        try {
            int ph = phase();
            if (ph == RUNNING) {
                return;
            }
            if (ph != PAUSED) {
                throw illegal("resume()");
            }
            pausedToRunning();
        } finally {
            lock.unlock();
        }
        wakeWaiters();
    }

    /**
     * Stops: from {@code RUNNING}, {@code PAUSED} or {@code STOPPING} to {@code STOPPED}.
     * Records the stop time, adds the run to the total time, releases the pause waits and
     * runs the stop listeners in this thread, except a listener that another thread is
     * still running (for an earlier stop): that call is left to that thread, which runs it
     * after its own, gets its Error if it throws one, and this method does not wait for it
     * (see <b>Thread safety</b> in the class documentation). Once every stop listener call
     * of this run has run, on whichever thread, and every earlier run's stop is done too,
     * {@code join} (and a shutdown hook waiting for the stop) is woken. The cancelled flag
     * is kept.
     *
     * @throws IllegalStateException if the state is {@code IDLE} or {@code STOPPED}, e.g.
     *     {@code "indexer: stop() while IDLE"}
     * @throws Error the first Error a stop listener call run in this thread threw, once the
     *     state is {@code STOPPED} and those calls have all run; a call left to another
     *     thread throws there instead
     */
    public void stop() {
        if (!stopRun(0L)) {
            throw illegal("stop()");
        }
    }

    /** Stops run {@code run} (any run if 0); returns false, changing nothing, if not running. */
    private boolean stopRun(long run) {
        long stopped;
        ListenerList<Listener<RunState>> calls;
        boolean callsRunNow;
        lock.lock();
        try {
            int ph = phase();
            if (ph == IDLE || ph == STOPPED || (run != 0L && run != currentRun())) {
                return false;
            }
            stopped = endRun();
            long thisRun = stopped;
            calls = events.calls(Event.STOP);
            callsRunNow = calls == null || calls.isEmpty()
                    || events.queue(Event.STOP, () -> stopCallsRan(thisRun));
        } finally {
            lock.unlock();
        }
        wakeWaiters(); // the pause waits end now, join once the stop listeners have run
        // Runs this stop's calls, except those left to a thread already running that
        // listener: that thread runs them and then tells stopCallsRan.
        Error error = RunStateEvents.dispatch(calls, null);
        if (callsRunNow) {
            stopCallsRan(stopped);
        }
        if (error != null) {
            throw error;
        }
        return true;
    }

    // ---------------------------------------------------------------- queries

    /**
     * Returns the current state. Never blocks.
     *
     * @return the state
     */
    public State state() {
        return STATES[phase()];
    }

    // ---------------------------------------------------------------- running a body

    /**
     * Runs {@code body} as one run: starts, runs the body, and always stops that run (unless
     * another thread stopped it meanwhile). If the body throws, cancels before stopping and
     * rethrows. If a run is already under way, just runs the body: no start, cancel or stop.
     * If a cancel was made while no run was going, the run begins cancelled: the body still
     * runs, sees {@code isCancelled()} at once, and the run is then stopped.
     *
     * <p>An {@link Error} from a listener: if a start listener throws one, the body does not
     * run; the run is cancelled and stopped and the Error rethrown. If the body failed, an
     * Error from a cancel or stop listener is {@linkplain Throwable#addSuppressed suppressed}
     * on the body's exception; if it succeeded, a stop listener's Error is thrown once the
     * run has stopped.
     *
     * @param body the task
     * @throws NullPointerException if {@code body} is null
     * @throws LifecycleException if the body threw a checked exception (the cause); an
     *     {@code InterruptedException} also sets the thread's interrupt flag again
     * @throws RuntimeException if the body threw one, as itself
     * @throws Error if the body threw one, as itself, or a listener did (see above)
     */
    public void run(ThrowingRunnable body) {
        Objects.requireNonNull(body, "body");
        call(() -> {
            body.run();
            return null;
        }, "run()");
    }

    /**
     * Like {@link #run(ThrowingRunnable)}, returning the body's result.
     *
     * @param body the task
     * @param <V> the result type
     * @return what the body returned
     * @throws NullPointerException if {@code body} is null
     * @throws LifecycleException if the body threw a checked exception (the cause); an
     *     {@code InterruptedException} also sets the thread's interrupt flag again
     * @throws RuntimeException if the body threw one, as itself
     * @throws Error if the body threw one, as itself, or a listener did (see
     *     {@link #run(ThrowingRunnable)})
     */
    public <V extends @Nullable Object> V call(Callable<V> body) {
        return call(Objects.requireNonNull(body, "body"), "call()");
    }

    private <V extends @Nullable Object> V call(Callable<V> body, String method) {
        long run = startRun(true);
        if (run == 0L) {
            try {
                return body.call();
            } catch (Exception e) {
                throw Checks.unchecked(e, name + ": " + method + " body failed");
            }
        }
        V result;
        try {
            result = body.call();
        } catch (Error e) {
            cancelAndStop(run, e);
            throw e;
        } catch (Throwable t) {
            RuntimeException failure = Checks.unchecked(t, name + ": " + method + " body failed");
            cancelAndStop(run, failure);
            throw failure;
        }
        stopRun(run);
        return result;
    }

    /**
     * Ends run {@code run} after {@code failure}: cancels, then stops it, adding an Error a
     * listener throws meanwhile as suppressed on {@code failure}.
     */
    private void cancelAndStop(long run, Throwable failure) {
        try {
            cancel();
        } catch (Error e) {
            Failures.firstFailure(failure, e);
        }
        try {
            stopRun(run);
        } catch (Error e) {
            Failures.firstFailure(failure, e);
        }
    }

    // ---------------------------------------------------------------- listeners

    /**
     * Adds a listener run after each {@link #start()}, on the starting thread. A start that
     * begins cancelled (see "Cancel before start" in the class documentation) runs it too,
     * with the state already {@code STOPPING}.
     *
     * @param listener called with this RunState; see <b>Listeners</b> in the class
     *     documentation for order and failures
     * @return a registration whose {@code close()} removes the listener
     * @throws NullPointerException if {@code listener} is null
     */
    public Registration onStart(Consumer<RunState> listener) {
        return addListener(Event.START, listener);
    }

    /**
     * Adds a listener run after each {@link #cancel()} that changed something, on the
     * cancelling thread: once per cancel, never again when a start begins cancelled because
     * of it.
     *
     * @param listener called with this RunState; see <b>Listeners</b> in the class
     *     documentation for order and failures
     * @return a registration whose {@code close()} removes the listener
     * @throws NullPointerException if {@code listener} is null
     */
    public Registration onCancel(Consumer<RunState> listener) {
        return addListener(Event.CANCEL, listener);
    }

    /**
     * Adds a listener run after each {@link #stop()}, on the stopping thread. An Error it
     * throws reaches the caller of {@code stop()} (or of {@code run}/{@code call}) after
     * the pause waits have been released.
     *
     * @param listener called with this RunState; see <b>Listeners</b> in the class
     *     documentation for order and failures
     * @return a registration whose {@code close()} removes the listener
     * @throws NullPointerException if {@code listener} is null
     */
    public Registration onStop(Consumer<RunState> listener) {
        return addListener(Event.STOP, listener);
    }

    private Registration addListener(Event event, Consumer<RunState> listener) {
        Objects.requireNonNull(listener, "listener");
        lock.lock();
        try {
            return events.add(event, listener);
        } finally {
            lock.unlock();
        }
    }

    // ---------------------------------------------------------------- shutdown, children

    /**
     * Registers a JVM shutdown hook that cancels this RunState and waits up to 10 seconds
     * for its run to stop, so a daemon loop ends cleanly on Ctrl-C or SIGTERM. Same as
     * {@code cancelOnShutdown(Duration.ofSeconds(10))}.
     *
     * @return a registration whose {@code close()} removes the hook
     * @throws IllegalStateException if the JVM is already shutting down
     */
    public Registration cancelOnShutdown() {
        return cancelOnShutdown(SHUTDOWN_WAIT);
    }

    /**
     * Registers a JVM shutdown hook that {@linkplain #cancel() cancels} this RunState and
     * then waits up to {@code maxWait} until it is no longer running (the loop's
     * {@code stop()} has returned, stop listeners included), logging a warning if it is
     * still running then. The JVM exits when
     * every hook has returned, so the wait gives the loop time to finish its work. An
     * interrupt of the hook's thread ends the wait. An {@link Error} from the cancel (a cancel listener's or a child's) does not skip the
     * wait: the hook rethrows it once the wait is over, so the hook thread's
     * uncaught-exception handler reports it (the JVM's default prints it to
     * {@code System.err}).
     *
     * @param maxWait how long the hook waits for the stop at most
     * @return a registration whose {@code close()} removes the hook (doing nothing if the
     *     JVM is already shutting down)
     * @throws NullPointerException if {@code maxWait} is null
     * @throws IllegalArgumentException if {@code maxWait} is negative
     * @throws IllegalStateException if the JVM is already shutting down
     */
    public Registration cancelOnShutdown(Duration maxWait) {
        long nanos = Checks.waitNanos(maxWait, "maxWait");
        return RunStateTree.onShutdown("refkit-shutdown-" + name, () -> cancelAndAwaitStop(nanos));
    }

    /**
     * Returns a new child RunState that is cancelled whenever this one is: this one's
     * cancels, now and later, reach the child (its {@code isCancelled()} also asks this
     * one), while the child's own cancel does not reach this one. The child shares this
     * one's ticker and clock and starts {@code IDLE}.
     *
     * <p>This RunState holds its children weakly: a child nobody refers to any more is
     * dropped, so short-lived children never pile up. Keep a reference to a child for as
     * long as its listeners must run.
     *
     * @param name the child's name
     * @return the child
     * @throws NullPointerException if {@code name} is null
     */
    public RunState child(String name) {
        RunState child = new RunState(Objects.requireNonNull(name, "name"), ticker, clock,
                this::isCancelled, this);
        lock.lock();
        try {
            children = children.with(child);
        } finally {
            lock.unlock();
        }
        if (cancelFlagSet()) {
            child.cancelWith(cancelReasonOrNull());
        }
        return child;
    }

    /**
     * Returns {@code RunState[name]{STATE, cancelled=flag, runTime=duration}}, e.g.
     * {@code RunState[indexer]{RUNNING, cancelled=false, runTime=PT0.2S}}. Never blocks and
     * never asks the cancel poll.
     */
    @Override
    public String toString() {
        int s = stateWord();
        return "RunState[" + name + "]{" + STATES[phaseOf(s)] + ", cancelled=" + cancelledIn(s)
                + ", runTime=" + runTime() + "}";
    }

    // ---------------------------------------------------------------- internals

    private IllegalStateException illegal(String event) {
        return new IllegalStateException(name + ": " + event + " while " + state());
    }

    /** Builds a {@link RunState} with a custom ticker, clock or cancel poll. */
    public static final class Builder {
        private final String name;
        private Ticker ticker = Ticker.systemTicker();
        private Clock clock = Clock.systemUTC();
        private @Nullable BooleanSupplier cancelPoll;

        private Builder(String name) {
            this.name = name;
        }

        /**
         * Sets the ticker that measures {@link #runTime()} and {@link #totalTime()};
         * default {@link Ticker#systemTicker()}. It is read under the state lock, so it
         * must be quick and must not call back into the RunState.
         *
         * @param ticker the ticker
         * @return this builder
         * @throws NullPointerException if {@code ticker} is null
         */
        public Builder ticker(Ticker ticker) {
            this.ticker = Objects.requireNonNull(ticker, "ticker");
            return this;
        }

        /**
         * Sets the clock that stamps {@link #startTime()} and {@link #stopTime()}; default
         * {@link Clock#systemUTC()}. It is read under the state lock, so it must be quick
         * and must not call back into the RunState.
         *
         * @param clock the clock
         * @return this builder
         * @throws NullPointerException if {@code clock} is null
         */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /**
         * Sets a cancel poll: {@link #isCancelled()} asks it whenever the cancelled flag is
         * not set, and the first true cancels the RunState. The poll cannot wake a thread
         * already waiting in {@code sleep} or {@code awaitCancellation}; they ask it when
         * they begin. Called without any lock held; it should be quick.
         *
         * @param cancelPoll says whether to cancel
         * @return this builder
         * @throws NullPointerException if {@code cancelPoll} is null
         */
        public Builder cancelPoll(BooleanSupplier cancelPoll) {
            this.cancelPoll = Objects.requireNonNull(cancelPoll, "cancelPoll");
            return this;
        }

        /**
         * Builds an idle RunState.
         *
         * @return the new RunState
         */
        public RunState build() {
            return new RunState(name, ticker, clock, cancelPoll, null);
        }
    }
}
