package dev.refkit;

import com.google.common.base.Ticker;
import dev.refkit.internal.Interrupts;
import dev.refkit.internal.WaitList;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeSet;
import java.util.concurrent.CancellationException;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The state of a run and the waits on it: the state word, the run counters and the timing
 * snapshot, each written only here, through the named transitions below, under the lock
 * this class holds; the queries that read them without a lock; and the waits, each a
 * condition over them parked in a {@link WaitList}. It knows nothing of the class that
 * extends it (the way {@code AbstractQueuedSynchronizer} knows nothing of the synchronizer
 * built on it): the subclass decides which transition an event makes, calls it under
 * {@link #lock}, adds its own work (listeners, children) and then calls
 * {@link #wakeWaiters()}. The public methods here are documented as the subclass's own.
 *
 * <p><b>Thread safety.</b> The transitions must be called with {@link #lock} held; the
 * queries and waits from any thread, without it. Every field is written under the lock and
 * is volatile, so the queries never block.
 *
 * <p><b>Memory consistency effects.</b> A transition's writes happen-before a query or a
 * wait that reads them: a wait returns because its condition read the transition's volatile
 * write of the state word or a counter.
 */
abstract class RunStateCore {

    // The state word: the phase in the low 3 bits (the ordinals of the subclass's State
    // enum), then the cancelled flag, then a constant bit saying a cancel poll must be asked,
    // so isCancelled() is one read, then a bit saying the cancel was made while no run was
    // going (IDLE or STOPPED), so the next start begins cancelled; it is set only with
    // CANCELLED and only in IDLE or STOPPED.
    static final int IDLE = 0;
    static final int RUNNING = 1;
    static final int PAUSED = 2;
    static final int STOPPING = 3;
    static final int STOPPED = 4;
    private static final int PHASE_MASK = 0b111;
    private static final int CANCELLED = 1 << 3;
    private static final int POLL = 1 << 4;
    private static final int NO_RUN_CANCEL = 1 << 5;

    /** The log of the shutdown hook, named as the subclass. */
    private static final Logger LOG = LoggerFactory.getLogger("dev.refkit.RunState");

    final String name;
    final Ticker ticker;
    final Clock clock;
    private final @Nullable BooleanSupplier cancelPoll;
    /** Guards every transition, here and in the subclass; never held while parked or in user code. */
    final ReentrantLock lock = new ReentrantLock();
    /** Threads parked in a wait; a transition that may end a wait wakes them all. */
    private final WaitList waiters = new WaitList();

    /** Phase | CANCELLED | POLL | NO_RUN_CANCEL. Written under lock, read without it. */
    private volatile int state;
    /** Timing of the current or last run; written under lock before the state. */
    private volatile RunTimes times = RunTimes.INITIAL;
    /**
     * The reason of the cancel that set the cancelled flag, null if it gave none; written
     * under lock before the state word, cleared when a start clears the flag.
     */
    private volatile @Nullable String cancelReason;
    /** Counts starts: the number of the run going now or of the last one. Written under lock. */
    private volatile long runs;
    /**
     * The last run whose stop, and every earlier run's, is done: its stop listener calls
     * have all run, on whichever thread ran them. Written under lock.
     */
    private volatile long stopsDone;
    /**
     * Runs after {@code stopsDone + 1} whose stop listener calls have run while an earlier
     * run's still run; made on the first such run. Guarded by lock.
     */
    private @Nullable TreeSet<Long> stopsDoneAhead;

    RunStateCore(String name, Ticker ticker, Clock clock, @Nullable BooleanSupplier cancelPoll) {
        this.name = name;
        this.ticker = ticker;
        this.clock = clock;
        this.cancelPoll = cancelPoll;
        this.state = IDLE | (cancelPoll == null ? 0 : POLL);
    }

    /**
     * Cancels, as the subclass defines it.
     */
    public abstract void cancel();

    /** Cancels because the cancel poll said true; {@link #isCancelled()} calls it. */
    abstract void cancelFromPoll();

    // ---------------------------------------------------------------- transitions, under lock

    /** The phase: {@link #IDLE} to {@link #STOPPED}. Any thread; under lock for a decision. */
    final int phase() {
        return state & PHASE_MASK;
    }

    /** One read of the state word, for {@link #phaseOf} and {@link #cancelledIn}. */
    final int stateWord() {
        return state;
    }

    static int phaseOf(int word) {
        return word & PHASE_MASK;
    }

    static boolean cancelledIn(int word) {
        return (word & CANCELLED) != 0;
    }

    /** The number of the run going now, or of the last one; 0 before the first start. */
    final long currentRun() {
        return runs;
    }

    /**
     * From IDLE or STOPPED to RUNNING, or to STOPPING and cancelled if a cancel was made
     * while no run was going or {@code parentCancelled}; records the start time. Clears a
     * cancel that belonged to the earlier run, and its reason; a run that begins cancelled
     * keeps the reason of the cancel made while no run was going, or else takes
     * {@code parentReason}. Ends no wait.
     *
     * @return the new run's number
     */
    final long beginRun(boolean parentCancelled, @Nullable String parentReason) {
        int s = state;
        int ph = s & PHASE_MASK;
        checkTransition(s, ph == IDLE || ph == STOPPED);
        times = times.started(ticker.read(), clock.instant());
        long run = ++runs;
        boolean ownCancel = (s & NO_RUN_CANCEL) != 0;
        boolean beginCancelled = ownCancel || parentCancelled;
        if (!ownCancel) {
            cancelReason = parentCancelled ? parentReason : null;
        }
        state = (beginCancelled ? STOPPING | CANCELLED : RUNNING) | (s & POLL);
        return run;
    }

    /**
     * Sets the cancelled flag and records {@code reason} (null for none) as the cancel's
     * reason: RUNNING or PAUSED go to STOPPING; in IDLE or STOPPED the cancel is kept for
     * the next run, replacing the reason of the earlier run's cancel.
     *
     * @return false, changing nothing (the reason included), if already cancelled: in
     *     STOPPING, or in IDLE or STOPPED after a cancel made there
     */
    final boolean markCancelled(@Nullable String reason) {
        int s = state;
        checkTransition(s, true);
        int ph = s & PHASE_MASK;
        if (ph == IDLE || ph == STOPPED) {
            if ((s & NO_RUN_CANCEL) != 0) {
                return false;
            }
            cancelReason = reason;
            state = s | CANCELLED | NO_RUN_CANCEL;
        } else if ((s & CANCELLED) != 0) {
            return false; // STOPPING
        } else {
            cancelReason = reason;
            state = STOPPING | CANCELLED | (s & POLL);
        }
        return true;
    }

    /** The reason of the cancel that set the flag, or null; read without the lock. */
    final @Nullable String cancelReasonOrNull() {
        return cancelReason;
    }

    /** From RUNNING to PAUSED. Ends no wait. */
    final void runningToPaused() {
        int s = state;
        checkTransition(s, (s & PHASE_MASK) == RUNNING);
        state = PAUSED | (s & ~PHASE_MASK);
    }

    /** From PAUSED to RUNNING; ends the pause waits. */
    final void pausedToRunning() {
        int s = state;
        checkTransition(s, (s & PHASE_MASK) == PAUSED);
        state = RUNNING | (s & ~PHASE_MASK);
    }

    /**
     * From RUNNING, PAUSED or STOPPING to STOPPED, keeping the cancelled flag; records the
     * stop time and adds the run to the total. Ends the pause waits; the joins end at
     * {@link #stopListenersReturned}.
     *
     * @return the number of the run stopped
     */
    final long endRun() {
        int s = state;
        int ph = s & PHASE_MASK;
        checkTransition(s, ph == RUNNING || ph == PAUSED || ph == STOPPING);
        times = times.stopped(ticker.read(), clock.instant());
        state = STOPPED | (s & ~PHASE_MASK);
        return runs;
    }

    /**
     * Run {@code run}'s stop listener calls have all run, on whichever thread ran them: ends
     * the joins that wait for it, once every earlier run's have run too ({@code stopsDone}
     * advances in run order; a run done ahead of an earlier one waits for it).
     */
    final void stopListenersReturned(long run) {
        checkTransition(state, true);
        long done = stopsDone;
        if (run != done + 1L) {
            if (run > done) {
                TreeSet<Long> ahead = stopsDoneAhead;
                if (ahead == null) {
                    ahead = new TreeSet<>();
                    stopsDoneAhead = ahead;
                }
                ahead.add(run);
            }
            return;
        }
        done = run;
        TreeSet<Long> ahead = stopsDoneAhead;
        if (ahead != null) {
            while (ahead.remove(done + 1L)) {
                done++;
            }
        }
        stopsDone = done;
    }

    /**
     * Run {@code run}'s stop listener calls have all run: takes the lock, counts its stop as
     * done ({@link #stopListenersReturned}), releases it and wakes the joins. Called with no
     * lock held, on the thread that ran the last call.
     */
    final void stopCallsRan(long run) {
        lock.lock();
        try {
            stopListenersReturned(run);
        } finally {
            lock.unlock();
        }
        wakeWaiters();
    }

    /**
     * Wakes every waiting thread to test its condition again. Call it after the lock is
     * released, once a transition that may end a wait has been made.
     */
    final void wakeWaiters() {
        waiters.wakeAll();
    }

    /** Whether the cancelled flag is set, without asking the cancel poll. */
    final boolean cancelFlagSet() {
        return (state & CANCELLED) != 0;
    }

    /** A transition is made under the lock, from a phase it may leave ({@code legal}). */
    private void checkTransition(int s, boolean legal) {
        if (!legal || !lock.isHeldByCurrentThread()) {
            throw new AssertionError(name + ": transition from word " + s);
        }
    }

    // ---------------------------------------------------------------- queries

    /**
     * Returns whether this run state is cancelled: a single volatile read. If a cancel poll
     * was configured and the flag is not set, asks the poll too; when the poll says true,
     * this thread {@linkplain #cancel() cancels} (running the cancel listeners), so the
     * run state stays cancelled until the next {@code start()}.
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
        cancelFromPoll();
        return true;
    }

    /**
     * Returns the reason given to the {@code cancel(String)} that cancelled this run state:
     * exactly that string; empty before any cancel, after a {@code cancel()} without a
     * reason, and once a start has cleared the cancel. The first cancel decides it: a later
     * cancel while the flag is set changes nothing. It follows the cancelled flag: a run that
     * begins cancelled because of a cancel made while no run was going keeps that cancel's
     * reason, a child whose run begins cancelled because of its parent takes the parent's,
     * and the start that clears an earlier run's cancel clears its reason too. Never blocks.
     *
     * @return the reason, if the cancel that set the flag gave one
     */
    public Optional<String> cancelReason() {
        return (state & CANCELLED) != 0 ? Optional.ofNullable(cancelReason) : Optional.empty();
    }

    /**
     * Returns whether a run is under way: the state is {@code RUNNING}, {@code PAUSED} or
     * {@code STOPPING}. Never blocks.
     *
     * @return true while started and not yet stopped
     */
    public boolean isRunning() {
        int st = state & PHASE_MASK;
        return st == RUNNING || st == PAUSED || st == STOPPING;
    }

    /**
     * Returns whether the state is {@code STOPPING}. Never blocks.
     *
     * @return true if cancelled while running and not yet stopped
     */
    public boolean isStopping() {
        return (state & PHASE_MASK) == STOPPING;
    }

    /**
     * Returns whether the state is {@code PAUSED}. Never blocks.
     *
     * @return true if paused
     */
    public boolean isPaused() {
        return (state & PHASE_MASK) == PAUSED;
    }

    /**
     * Returns whether the state is {@code STOPPED}. Never blocks.
     *
     * @return true if stopped
     */
    public boolean isStopped() {
        return (state & PHASE_MASK) == STOPPED;
    }

    /**
     * Returns whether the state is {@code IDLE} (never started). Never blocks.
     *
     * @return true if never started
     */
    public boolean isIdle() {
        return (state & PHASE_MASK) == IDLE;
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
     * Returns a view of {@code items} that ends early once this run state is cancelled:
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
     * {@code stop()} (or the end of {@code run}/{@code call}) ends the wait. Returns at once
     * if the state is {@code STOPPED} and no stop listener is still running; waits in
     * {@code IDLE} for the first run's stop. A stop followed at once by the next
     * {@code start()} still ends the wait: the wait is for that run's stop, not for a moment
     * in which the state reads {@code STOPPED}. A stop listener must therefore not join its
     * own run state. Interrupts: see "Interrupts and timeouts" in the
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
            int st = state & PHASE_MASK;
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
    final void awaitNotPaused() {
        if (!notPaused()) {
            waiters.awaitUninterruptibly(this::notPaused, this);
        }
    }

    // The conditions of the waits: volatile reads only, as WaitList requires.

    /** Not PAUSED, or PAUSED and cancelled: what a pause wait waits for. */
    private boolean notPaused() {
        return (state & (PHASE_MASK | CANCELLED)) != PAUSED;
    }

    /** STOPPED or IDLE, and every stop's listeners have returned: the shutdown hook's wait. */
    private boolean noRunGoing() {
        int st = state & PHASE_MASK;
        return (st == STOPPED || st == IDLE) && stopsDone == runs;
    }

    /**
     * Waits up to {@code nanos}, interruptibly, until no run is going: STOPPED or IDLE, and
     * every stop's listeners have returned. The shutdown hook's wait.
     *
     * @return false if the time passed first
     */
    final boolean awaitNoRunGoing(long nanos) throws InterruptedException {
        return waiters.awaitNanos(this::noRunGoing, nanos, this, name, "cancelOnShutdown()");
    }

    /**
     * The shutdown hook's body: cancels, then waits up to {@code nanos} until no run is
     * going, logging a warning if one still is. An interrupt ends the wait and sets the
     * flag again. An Error from the cancel is rethrown once the wait is over.
     */
    final void cancelAndAwaitStop(long nanos) {
        Error error = null;
        try {
            cancel();
        } catch (Error e) {
            error = e;
        }
        try {
            if (!awaitNoRunGoing(nanos)) {
                LOG.warn("{} still running {} after the shutdown cancel", this,
                        Duration.ofNanos(nanos));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (error != null) {
            throw error;
        }
    }
}
