package dev.refkit;

import com.google.common.base.Ticker;
import dev.refkit.internal.Failures;
import dev.refkit.internal.Interrupts;
import dev.refkit.internal.ListenerList;
import dev.refkit.internal.WaitList;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;
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
 * listener, that thread also runs the second transition's call of it, after its own.
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
 * <p><b>Listener failures.</b> A listener that throws a {@link RuntimeException} is logged
 * (slf4j, warn) and swallowed. One that throws an {@link Error} ({@link VirtualMachineError}s
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
public final class RunState {
    /*
     * Implementation overview. This class owns the state word (state) and every fast path
     * that reads it (isCancelled, throwIfCancelled, the queries), and the transitions, which
     * write it under the lock and then wake the waits they may end. Each wait is a
     * condition over volatile fields, parked in a WaitList; listener calls go through a
     * ListenerList; the children and the shutdown hook live in a RunStateTree; the run times
     * in RunTimes. None of those knows this class.
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

    // The state word: the State ordinal in the low 3 bits, then the cancelled flag, then a
    // constant bit saying a cancel poll must be asked, so isCancelled() is one read, then a
    // bit saying the cancel was made while no run was going (IDLE or STOPPED), so the next
    // start begins cancelled; it is set only with CANCELLED and only in IDLE or STOPPED.
    private static final int STATE_MASK = 0b111;
    private static final int IDLE = 0;
    private static final int RUNNING = 1;
    private static final int PAUSED = 2;
    private static final int STOPPING = 3;
    private static final int STOPPED = 4;
    private static final int CANCELLED = 1 << 3;
    private static final int POLL = 1 << 4;
    private static final int NO_RUN_CANCEL = 1 << 5;

    private final String name;
    private final Ticker ticker;
    private final Clock clock;
    private final @Nullable BooleanSupplier cancelPoll;
    /** The RunState this one is a child of; a start while it is cancelled begins cancelled. */
    private final @Nullable RunState parent;
    /** Guards transitions and child registration; never held while parked or in user code. */
    private final ReentrantLock lock = new ReentrantLock();
    /** Threads parked in a wait; a transition that may end a wait wakes them all. */
    private final WaitList waiters = new WaitList();
    /** The listeners of each transition, made on the first add. Written under lock. */
    private @Nullable ListenerList<Listener> startListeners;
    private @Nullable ListenerList<Listener> cancelListeners;
    private @Nullable ListenerList<Listener> stopListeners;

    /** State ordinal | CANCELLED | POLL. Written under lock, read without it. */
    private volatile int state;
    /** Timing of the current or last run; written under lock before the state. */
    private volatile RunTimes times = RunTimes.INITIAL;
    /** Weakly held, replaced whole under lock. */
    private volatile RunStateTree<RunState> children = RunStateTree.empty();
    /** Counts starts, so run() stops only the run it started. Written under lock. */
    private volatile long runs;
    /** The last run whose stop listeners have all returned. Written under lock. */
    private volatile long stopsDone;

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
        this.name = name;
        this.parent = parent;
        this.ticker = ticker;
        this.clock = clock;
        this.cancelPoll = cancelPoll;
        this.state = IDLE | (cancelPoll == null ? 0 : POLL);
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
        ListenerList<Listener> calls;
        lock.lock();
        try {
            int s = state;
            int st = s & STATE_MASK;
            if (st != IDLE && st != STOPPED) {
                if (!forBody) {
                    throw illegal("start()", s);
                }
                return 0L;
            }
            times = times.started(ticker.read(), clock.instant());
            run = ++runs;
            RunState p = parent;
            boolean parentCancelled = p != null && (p.state & CANCELLED) != 0;
            boolean beginCancelled = (s & NO_RUN_CANCEL) != 0 || parentCancelled;
            int begin = beginCancelled ? STOPPING | CANCELLED : RUNNING;
            state = begin | (s & POLL);
            calls = queueCalls(Event.START);
        } finally {
            lock.unlock();
        }
        // A start ends no wait: a start that begins cancelled found the flag already set.
        Error error = dispatch(calls);
        if (error != null) {
            if (forBody) {
                cancelAndStop(run, error);
            }
            throw error;
        }
        return run;
    }

    /**
     * Cancels: sets the cancelled flag in every state, and moves {@code RUNNING} or
     * {@code PAUSED} to {@code STOPPING}; in {@code IDLE} or {@code STOPPED} the cancel is
     * kept for the next run, whose {@code start()} begins cancelled. Wakes every thread
     * waiting in {@code sleep}, {@code awaitCancellation}, {@code throwIfCancelled} or a
     * pause, cancels the children, then runs the cancel listeners in this thread. Does
     * nothing if already cancelled: in {@code STOPPING}, or in {@code IDLE} or
     * {@code STOPPED} after a cancel made there. (A cancel in {@code STOPPED} after a run
     * that was cancelled is a new cancel, for the next run: it runs the listeners again.)
     * Never throws because of the state.
     *
     * @throws Error the first Error a child's cancel or a cancel listener threw, once the
     *     state has changed, the waiters are woken, every child is cancelled and every
     *     cancel listener has run
     */
    public void cancel() {
        ListenerList<Listener> calls;
        lock.lock();
        try {
            int s = state;
            int st = s & STATE_MASK;
            if (st == IDLE || st == STOPPED) {
                if ((s & NO_RUN_CANCEL) != 0) {
                    return;
                }
                state = s | CANCELLED | NO_RUN_CANCEL; // kept for the next start
            } else if ((s & CANCELLED) != 0) {
                return; // STOPPING
            } else {
                state = STOPPING | CANCELLED | (s & POLL);
            }
            calls = queueCalls(Event.CANCEL);
        } finally {
            lock.unlock();
        }
        waiters.wakeAll();
        Error error = children.forEachLive(RunState::cancel);
        error = firstError(error, dispatch(calls));
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
            int s = state;
            int st = s & STATE_MASK;
            if (st == RUNNING) {
                state = PAUSED | (s & ~STATE_MASK);
            } else if (st != PAUSED) {
                throw illegal("pause()", s);
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
            int s = state;
            int st = s & STATE_MASK;
            if (st == RUNNING) {
                return;
            }
            if (st != PAUSED) {
                throw illegal("resume()", s);
            }
            state = RUNNING | (s & ~STATE_MASK);
        } finally {
            lock.unlock();
        }
        waiters.wakeAll();
    }

    /**
     * Stops: from {@code RUNNING}, {@code PAUSED} or {@code STOPPING} to {@code STOPPED}.
     * Records the stop time, adds the run to the total time, releases the pause waits, runs
     * the stop listeners in this thread, then wakes {@code join} (and a shutdown hook
     * waiting for the stop). The cancelled flag is kept.
     *
     * @throws IllegalStateException if the state is {@code IDLE} or {@code STOPPED}, e.g.
     *     {@code "indexer: stop() while IDLE"}
     * @throws Error the first Error a stop listener threw, once the state is
     *     {@code STOPPED}, every stop listener has run and {@code join} is woken
     */
    public void stop() {
        if (!stopRun(0L)) {
            throw illegal("stop()", state);
        }
    }

    /** Stops run {@code run} (any run if 0); returns false, changing nothing, if not running. */
    private boolean stopRun(long run) {
        long stopped;
        ListenerList<Listener> calls;
        lock.lock();
        try {
            int s = state;
            int st = s & STATE_MASK;
            if (st == IDLE || st == STOPPED || (run != 0L && run != runs)) {
                return false;
            }
            times = times.stopped(ticker.read(), clock.instant());
            state = STOPPED | (s & ~STATE_MASK);
            stopped = runs;
            calls = queueCalls(Event.STOP);
        } finally {
            lock.unlock();
        }
        waiters.wakeAll(); // the pause waits end now, join once the stop listeners have run
        Error error = dispatch(calls);
        lock.lock();
        try {
            stopsDone = Math.max(stopsDone, stopped);
        } finally {
            lock.unlock();
        }
        waiters.wakeAll();
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
        return STATES[state & STATE_MASK];
    }

    /**
     * Returns whether this RunState is cancelled: a single volatile read. If a cancel poll
     * was configured and the flag is not set, asks the poll too; when the poll says true,
     * this thread {@linkplain #cancel() cancels} (running the cancel listeners), so the
     * RunState stays cancelled until the next {@code start()}.
     *
     * @return true if cancelled since the last start, or while no run is going
     * @throws RuntimeException if the cancel poll throws, as itself
     * @throws Error if the poll said true and that cancel threw one (see {@link #cancel()})
     */
    public boolean isCancelled() {
        int s = state;
        if ((s & (CANCELLED | POLL)) == 0) {
            return false; // the polling loop's path: one read, one test
        }
        return (s & CANCELLED) != 0 || pollCancelled();
    }

    private boolean pollCancelled() {
        BooleanSupplier poll = cancelPoll;
        if (poll == null) {
            throw new AssertionError("POLL bit without a poll: " + state);
        }
        if (!poll.getAsBoolean()) {
            return false;
        }
        cancel();
        return true;
    }

    /**
     * Returns whether a run is under way: the state is {@code RUNNING}, {@code PAUSED} or
     * {@code STOPPING}. Never blocks.
     *
     * @return true while started and not yet stopped
     */
    public boolean isRunning() {
        int st = state & STATE_MASK;
        return st == RUNNING || st == PAUSED || st == STOPPING;
    }

    /**
     * Returns whether the state is {@code STOPPING}. Never blocks.
     *
     * @return true if cancelled while running and not yet stopped
     */
    public boolean isStopping() {
        return (state & STATE_MASK) == STOPPING;
    }

    /**
     * Returns whether the state is {@code PAUSED}. Never blocks.
     *
     * @return true if paused
     */
    public boolean isPaused() {
        return (state & STATE_MASK) == PAUSED;
    }

    /**
     * Returns whether the state is {@code STOPPED}. Never blocks.
     *
     * @return true if stopped
     */
    public boolean isStopped() {
        return (state & STATE_MASK) == STOPPED;
    }

    /**
     * Returns whether the state is {@code IDLE} (never started). Never blocks.
     *
     * @return true if never started
     */
    public boolean isIdle() {
        return (state & STATE_MASK) == IDLE;
    }

    /**
     * Returns the name given at construction.
     *
     * @return the name
     */
    public String name() {
        return name;
    }

    // ---------------------------------------------------------------- timing

    /**
     * Returns when the current or last run started, from the clock. Never blocks.
     *
     * @return the start time, or empty before the first start
     */
    public Optional<Instant> startTime() {
        return Optional.ofNullable(times.startTime);
    }

    /**
     * Returns when the last run stopped, from the clock. Never blocks.
     *
     * @return the stop time, or empty before the first stop and while running
     */
    public Optional<Instant> stopTime() {
        return Optional.ofNullable(times.stopTime);
    }

    /**
     * Returns the length of the current run so far (while {@code RUNNING}, {@code PAUSED}
     * or {@code STOPPING}, paused time included) or of the last run once stopped, from the
     * ticker. Never blocks.
     *
     * @return the run time; zero before the first start
     */
    public Duration runTime() {
        RunTimes t = times;
        return Duration.ofNanos(t.running ? t.runNanos(ticker.read()) : t.lastRunNanos);
    }

    /**
     * Returns the length of all runs together, the current one included. Never blocks.
     *
     * @return the total run time; zero before the first start
     */
    public Duration totalTime() {
        RunTimes t = times;
        long current = t.running ? t.runNanos(ticker.read()) : 0L;
        return Duration.ofNanos(RunTimes.saturatedAdd(t.pastRunsNanos, current));
    }

    // ---------------------------------------------------------------- waiting

    /**
     * Throws if cancelled; while paused (and not cancelled), first blocks until resumed,
     * cancelled or stopped. The pause wait is not interruptible: it keeps waiting through
     * an interrupt and returns with the interrupt flag set (see "Interrupts and timeouts" in
     * the <a href="package-summary.html#interrupts">package documentation</a>).
     *
     * @throws CancellationException if cancelled, with the message {@code "indexer: cancelled"}
     */
    public void throwIfCancelled() {
        awaitNotPaused();
        if (isCancelled()) {
            throw new CancellationException(name + ": cancelled");
        }
    }

    /**
     * Sleeps up to {@code duration}, waking at once when cancelled (no polling steps). If
     * paused when the time is up, keeps sleeping until resumed, cancelled or stopped.
     * Interrupts: see "Interrupts and timeouts" in the
     * <a href="package-summary.html#interrupts">package documentation</a>; an interrupted
     * sleep throws even if already cancelled, and changes no state.
     *
     * @param duration how long to sleep; huge values mean practically forever
     * @return false at once if cancelled before or during the sleep; true if it slept the
     *     whole time
     * @throws InterruptedException if the thread is interrupted on entry or while sleeping,
     *     with the message {@code "indexer: interrupted in sleep()"} and the interrupt flag
     *     clear
     * @throws NullPointerException if {@code duration} is null
     * @throws IllegalArgumentException if {@code duration} is negative
     */
    public boolean sleep(Duration duration) throws InterruptedException {
        long nanos = Checks.waitNanos(duration, "duration");
        Interrupts.throwIfInterrupted(name, "sleep()");
        if (isCancelled()) {
            return false;
        }
        if (nanos > 0L && waiters.awaitNanos(this::cancelFlagSet, nanos, this, name, "sleep()")) {
            return false;
        }
        waiters.await(this::notPaused, this, name, "sleep()");
        return !cancelFlagSet();
    }

    /**
     * Waits until cancelled or until the timeout elapses. Interrupts and timeouts: see the
     * <a href="package-summary.html#interrupts">package documentation</a>; an interrupted
     * wait throws even if already cancelled, and changes no state.
     *
     * @param timeout how long to wait at most; huge values mean practically forever
     * @return true if cancelled (at once if already cancelled), false if the time elapsed
     * @throws InterruptedException if the thread is interrupted on entry or while waiting,
     *     with the message {@code "indexer: interrupted in awaitCancellation()"} and the
     *     interrupt flag clear
     * @throws NullPointerException if {@code timeout} is null
     * @throws IllegalArgumentException if {@code timeout} is negative
     */
    public boolean awaitCancellation(Duration timeout) throws InterruptedException {
        long nanos = Checks.waitNanos(timeout, "timeout");
        Interrupts.throwIfInterrupted(name, "awaitCancellation()");
        return isCancelled()
                || waiters.awaitNanos(this::cancelFlagSet, nanos, this, name, "awaitCancellation()");
    }

    /**
     * Waits until the run going now (or, if none is going, the next run) has stopped and its
     * stop listeners have returned. Never stops anything itself: another thread's
     * {@link #stop()} (or the end of {@code run}/{@code call}) ends the wait. Returns at once
     * if the state is {@code STOPPED} and no stop listener is still running; waits in
     * {@code IDLE} for the first run's stop. A stop followed at once by the next
     * {@code start()} still ends the wait: the wait is for that run's stop, not for a moment
     * in which the state reads {@code STOPPED}. A stop listener must therefore not join its
     * own RunState. Interrupts: see "Interrupts and timeouts" in the
     * <a href="package-summary.html#interrupts">package documentation</a>.
     *
     * @throws InterruptedException if the thread is interrupted on entry (even if already
     *     stopped) or while waiting, with the message {@code "indexer: interrupted in join()"}
     *     and the interrupt flag clear; the state is unchanged
     */
    public void join() throws InterruptedException {
        Interrupts.throwIfInterrupted(name, "join()");
        long target = runToJoin();
        if (target != 0L) {
            waiters.await(() -> stopsDone >= target, this, name, "join()");
        }
    }

    /**
     * Like {@link #join()}, for at most {@code timeout}.
     *
     * @param timeout how long to wait at most; huge values mean practically forever
     * @return true if stopped (at once if already stopped), false if the time elapsed
     * @throws InterruptedException if the thread is interrupted on entry (even if already
     *     stopped) or while waiting, with the message {@code "indexer: interrupted in join()"}
     *     and the interrupt flag clear; the state is unchanged
     * @throws NullPointerException if {@code timeout} is null
     * @throws IllegalArgumentException if {@code timeout} is negative
     */
    public boolean join(Duration timeout) throws InterruptedException {
        long nanos = Checks.waitNanos(timeout, "timeout");
        Interrupts.throwIfInterrupted(name, "join()");
        long target = runToJoin();
        return target == 0L
                || waiters.awaitNanos(() -> stopsDone >= target, nanos, this, name, "join()");
    }

    /**
     * The run whose finished stop ends a join: the one going now (or whose stop listeners
     * still run), or the next one if none has started since the last stop finished; 0 if
     * the state is {@code STOPPED} and that stop is finished (run numbers start at 1).
     */
    private long runToJoin() {
        lock.lock();
        try {
            int st = state & STATE_MASK;
            boolean noRunGoing = (st == IDLE || st == STOPPED) && stopsDone == runs;
            if (noRunGoing && st == STOPPED) {
                return 0L;
            }
            return noRunGoing ? runs + 1 : runs;
        } finally {
            lock.unlock();
        }
    }

    /** Waits, not interruptibly, while PAUSED and not cancelled. */
    private void awaitNotPaused() {
        if (!notPaused()) {
            waiters.awaitUninterruptibly(this::notPaused, this);
        }
    }

    // The conditions of the waits: volatile reads only, as WaitList requires.

    private boolean cancelFlagSet() {
        return (state & CANCELLED) != 0;
    }

    /** Not PAUSED, or PAUSED and cancelled: what a pause wait waits for. */
    private boolean notPaused() {
        return (state & (STATE_MASK | CANCELLED)) != PAUSED;
    }

    /** STOPPED or IDLE, and every stop's listeners have returned: the shutdown hook's wait. */
    private boolean noRunGoing() {
        int st = state & STATE_MASK;
        return (st == STOPPED || st == IDLE) && stopsDone == runs;
    }

    // ---------------------------------------------------------------- running a body

    /**
     * Returns a view of {@code items} that ends early once this RunState is cancelled:
     * each {@code hasNext()} first waits out a pause (as {@link #throwIfCancelled()}
     * does), then returns false if cancelled.
     *
     * @param items the items to go through
     * @param <T> the item type
     * @return an iterable over {@code items} until cancelled
     * @throws NullPointerException if {@code items} is null
     */
    public <T> Iterable<T> iterate(Iterable<T> items) {
        Objects.requireNonNull(items, "items");
        return () -> new Iterator<T>() {
            private final Iterator<T> it = items.iterator();

            @Override
            public boolean hasNext() {
                awaitNotPaused();
                return !isCancelled() && it.hasNext();
            }

            @Override
            public T next() {
                if (!hasNext()) {
                    throw new NoSuchElementException(name + ": no more items or cancelled");
                }
                return it.next();
            }
        };
    }

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
     * <p>A listener that throws a {@link RuntimeException} is logged (slf4j, warn) and the
     * others still run. One that throws an {@link Error} does not stop the others or the
     * transition either; the first Error is then rethrown to the thread that made the
     * transition, from the method it called, with later ones suppressed on it.
     *
     * @param listener called with this RunState
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
     * <p>A listener that throws a {@link RuntimeException} is logged (slf4j, warn) and the
     * others still run. One that throws an {@link Error} does not stop the others or the
     * transition either; the first Error is then rethrown to the thread that made the
     * transition, from the method it called, with later ones suppressed on it.
     *
     * @param listener called with this RunState
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
     * <p>A listener that throws a {@link RuntimeException} is logged (slf4j, warn) and the
     * others still run. One that throws an {@link Error} does not stop the others or the
     * transition either; the first Error is then rethrown to the thread that made the
     * transition, from the method it called, with later ones suppressed on it.
     *
     * <p>For all three kinds: listeners run in registration order, exactly once per
     * transition, after the state changed and outside any lock; calls to one listener never
     * overlap and come in the order of the transitions (see <b>Thread safety</b> in the
     * class documentation). A listener added during a transition is not called for it; one
     * removed during a transition is called at most once.
     *
     * @param listener called with this RunState
     * @return a registration whose {@code close()} removes the listener
     * @throws NullPointerException if {@code listener} is null
     */
    public Registration onStop(Consumer<RunState> listener) {
        return addListener(Event.STOP, listener);
    }

    private Registration addListener(Event event, Consumer<RunState> listener) {
        Listener l = new Listener(this, event, Objects.requireNonNull(listener, "listener"));
        ListenerList.Entry<Listener> entry;
        lock.lock();
        try {
            ListenerList<Listener> list = listenersOf(event);
            if (list == null) {
                list = new ListenerList<>(RunState::listenerThrew);
                switch (event) {
                    case START -> startListeners = list;
                    case CANCEL -> cancelListeners = list;
                    case STOP -> stopListeners = list;
                }
            }
            entry = list.add(l);
        } finally {
            lock.unlock();
        }
        return entry::remove;
    }

    private @Nullable ListenerList<Listener> listenersOf(Event event) {
        return switch (event) {
            case START -> startListeners;
            case CANCEL -> cancelListeners;
            case STOP -> stopListeners;
        };
    }

    /**
     * Queues a call of every listener of {@code event}, in registration order. Under lock,
     * right after the state changed; returns the list to {@linkplain #dispatch} after the
     * lock is released, or null if {@code event} never had a listener.
     */
    private @Nullable ListenerList<Listener> queueCalls(Event event) {
        ListenerList<Listener> list = listenersOf(event);
        if (list != null) {
            list.enqueue(Listener::call);
        }
        return list;
    }

    /** Runs the queued calls; returns the first Error a listener threw, or null. No lock held. */
    private static @Nullable Error dispatch(@Nullable ListenerList<Listener> calls) {
        return calls == null ? null : calls.dispatch();
    }

    private static void listenerThrew(Listener l, Throwable t) {
        log.warn("{}: {} listener {} threw", l.owner.name, l.event.label, l.action, t);
    }

    private static @Nullable Error firstError(@Nullable Error first, @Nullable Error next) {
        return next == null ? first : Failures.firstFailure(first, next);
    }

    /** The transitions that have listeners. */
    private enum Event {
        START("start"),
        CANCEL("cancel"),
        STOP("stop");

        final String label;

        Event(String label) {
            this.label = label;
        }
    }

    /** One registered listener: its transition, and the RunState it is called with. */
    private static final class Listener {
        final RunState owner;
        final Event event;
        final Consumer<RunState> action;

        Listener(RunState owner, Event event, Consumer<RunState> action) {
            this.owner = owner;
            this.event = event;
            this.action = action;
        }

        void call() {
            action.accept(owner);
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
     * The shutdown hook's body: cancels, then waits up to {@code nanos} until no run is
     * going, logging a warning if one still is. An interrupt ends the wait and sets the
     * flag again. An Error from the cancel is rethrown once the wait is over.
     */
    void cancelAndAwaitStop(long nanos) {
        Error error = null;
        try {
            cancel();
        } catch (Error e) {
            error = e;
        }
        try {
            if (!waiters.awaitNanos(this::noRunGoing, nanos, this, name, "cancelOnShutdown()")) {
                log.warn("{}: still {} {} after the shutdown cancel", name, state(),
                        Duration.ofNanos(nanos));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (error != null) {
            throw error;
        }
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
        if ((state & CANCELLED) != 0) {
            child.cancel();
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
        int s = state;
        return "RunState[" + name + "]{" + STATES[s & STATE_MASK] + ", cancelled="
                + ((s & CANCELLED) != 0) + ", runTime=" + runTime() + "}";
    }

    // ---------------------------------------------------------------- internals

    private IllegalStateException illegal(String event, int s) {
        return new IllegalStateException(name + ": " + event + " while " + STATES[s & STATE_MASK]);
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
