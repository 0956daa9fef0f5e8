package dev.refkit;

import static dev.refkit.MultiOpenWord.CLOSED;
import static dev.refkit.MultiOpenWord.EPOCH_MASK;
import static dev.refkit.MultiOpenWord.EPOCH_ONE;
import static dev.refkit.MultiOpenWord.FINALIZING;
import static dev.refkit.MultiOpenWord.MAX_COUNT;
import static dev.refkit.MultiOpenWord.NEW;
import static dev.refkit.MultiOpenWord.OPEN;
import static dev.refkit.MultiOpenWord.OPEN_BITS;
import static dev.refkit.MultiOpenWord.PHASE_MASK;
import static dev.refkit.MultiOpenWord.SHUTTING_DOWN;
import static dev.refkit.MultiOpenWord.STARTING;
import static dev.refkit.MultiOpenWord.countOf;
import static dev.refkit.MultiOpenWord.pack;
import static dev.refkit.MultiOpenWord.phaseDelta;
import static dev.refkit.MultiOpenWord.phaseName;
import static dev.refkit.MultiOpenWord.phaseOf;

import dev.refkit.internal.Interrupts;
import dev.refkit.internal.WaitList;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Objects;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;

/**
 * A count of opens with a startup on the first and a shutdown on the last, the engine under
 * every class that starts up on its first open and shuts down on its last close. It owns the
 * state word ({@link MultiOpenWord} lays it out) and writes it alone, through the named
 * transitions below; the owner gives it the {@link Hooks} to run and the {@link Words} its
 * messages use, and knows nothing of the fields here.
 *
 * <p><b>Lifecycle.</b> A cycle goes STARTING (the first open runs {@link Hooks#startup()}),
 * OPEN, SHUTTING_DOWN (the last close runs {@link Hooks#shutdown()}), then CLOSED, or
 * FINALIZING until {@link #finalizeNow()} if {@link Hooks#finalizeLater()} says so. Openers
 * that arrive while a startup runs join its {@link MultiOpenAttempt} and are counted into its
 * cycle when it succeeds; openers that arrive while a shutdown runs share the next startup.
 *
 * <p><b>Thread safety.</b> Every method may be called from any thread. An open or close that
 * does not move the count to or from 0 is one atomic operation on the state word and takes
 * no lock. Every phase change is one getAndAdd or CAS of the word made while holding the
 * lifecycle lock (a {@link ReentrantLock}), and the hooks run in the calling thread while it
 * holds the lock. Threads that wait (members of a running attempt, joiners) park in the one
 * park loop of {@code dev.refkit.internal} through a {@link WaitList}, never on the lock,
 * except the one opener that will run the next startup.
 *
 * <p><b>Memory consistency effects.</b> The attempt is published before the state says
 * STARTING. The startup happens-before the getAndAdd that makes the phase OPEN (which every
 * later open reads) and the finish of its attempt (which its members read). A close's CAS
 * happens-before the last close's, made under the lock right before it runs the shutdown;
 * the shutdown happens-before the join gate opens, so before {@link #join()} returns.
 */
final class MultiOpenEngine {

    /** What the engine runs: the owner's hooks, each under the lifecycle lock. */
    interface Hooks {
        /** Runs once per cycle, by the first open. */
        void startup() throws Exception;

        /** Runs once per cycle, by the last close. */
        void shutdown() throws Exception;

        /** Asked after a successful shutdown: whether to stay FINALIZING. */
        boolean finalizeLater();
    }

    /** The words of the messages, as the owner's users write the operations. */
    static final class Words {
        final String open;
        final String openInterruptibly;
        final String close;
        final String startup;
        final String shutdown;

        /**
         * @param open the open operation, such as {@code "open()"}
         * @param openInterruptibly its interruptible form
         * @param close the close operation, such as {@code "close()"}
         * @param startup the startup hook, such as {@code "startup()"}
         * @param shutdown the shutdown hook
         */
        Words(String open, String openInterruptibly, String close, String startup,
                String shutdown) {
            this.open = open;
            this.openInterruptibly = openInterruptibly;
            this.close = close;
            this.startup = startup;
            this.shutdown = shutdown;
        }
    }

    /** The kinds of close: {@code close()}, {@code closeFinal()}, {@code closeIfOpen()}. */
    private enum Release {
        CLOSE, FINAL, IF_OPEN, UNTRACED
    }

    private final String name;
    private final Words words;
    private final Hooks hooks;
    private final @Nullable CallSites sites;
    private final ReentrantLock lock = new ReentrantLock();
    /** Members of a running attempt and joiners; woken after each change they wait for. */
    private final WaitList waiters = new WaitList();

    /** Count, phase and epoch, packed as {@link MultiOpenWord} describes. */
    private volatile long state;
    /**
     * The attempt an opener that finds the phase not OPEN joins: the one running in
     * STARTING, else a fresh one for the next cycle. Replaced only by its starter.
     */
    private volatile MultiOpenAttempt attempt = new MultiOpenAttempt();
    /**
     * Odd while a cycle is pending (join waits for it), even otherwise; only ever
     * incremented, so a joiner waits until it differs from what it saw. Written under lock.
     */
    private volatile long joinGate;
    /** finalizeNow() was called from inside the shutdown; guarded by lock. */
    private boolean finalizeRequested;

    MultiOpenEngine(String name, Words words, Hooks hooks, @Nullable CallSites sites) {
        this.name = Objects.requireNonNull(name, "name");
        this.words = Objects.requireNonNull(words, "words");
        this.hooks = Objects.requireNonNull(hooks, "hooks");
        this.sites = sites;
    }

    String name() {
        return name;
    }

    // ---------------------------------------------------------------- opening

    /**
     * Counts one open, running the startup if it is the first of a cycle; waits through
     * interrupts. Returns the open's recorded call site, null unless tracing is on.
     */
    CallSites.@Nullable Site open() {
        long prev = (long) STATE.getAndAdd(this, 1L);
        if ((prev & PHASE_MASK) != OPEN_BITS || (int) prev >= MAX_COUNT) {
            try {
                openMissed(prev, false);
            } catch (InterruptedException e) {
                throw new AssertionError("an uninterruptible open threw", e);
            }
        }
        CallSites t = sites;
        return t == null ? null : t.opened();
    }

    /** Counts one open like {@link #open()}, giving up on interrupt (the flag is cleared). */
    CallSites.@Nullable Site openInterruptibly() throws InterruptedException {
        Interrupts.throwIfInterrupted(name, words.openInterruptibly);
        long prev = (long) STATE.getAndAdd(this, 1L);
        if ((prev & PHASE_MASK) != OPEN_BITS || (int) prev >= MAX_COUNT) {
            openMissed(prev, true);
        }
        CallSites t = sites;
        return t == null ? null : t.opened();
    }

    /**
     * Counts one open only if the phase is OPEN: never runs a startup, never blocks.
     * Returns true if counted; the caller closes it with {@link #close}.
     */
    boolean openIfOpen() {
        for (long s = state; ; ) {
            if ((s & PHASE_MASK) != OPEN_BITS || (int) s >= MAX_COUNT) {
                return false;
            }
            long w = (long) STATE.compareAndExchange(this, s, s + 1);
            if (w == s) {
                return true;
            }
            s = w;
        }
    }

    /**
     * The getAndAdd of an open found {@code prev}, not a live OPEN state: take the 1 back
     * (unless the state has become OPEN, making it a real open), then open the slow way.
     */
    private void openMissed(long prev, boolean interruptibly) throws InterruptedException {
        if ((prev & PHASE_MASK) == OPEN_BITS) { // count overflow: the 1 cannot be a real open
            STATE.getAndAdd(this, -1L);
            throw new IllegalStateException(name + ": too many opens");
        }
        for (long s = state; ; ) {
            if ((s & PHASE_MASK) == OPEN_BITS) {
                return; // opened meanwhile: our 1 is one of its opens, after the startup
            }
            long w = (long) STATE.compareAndExchange(this, s, s - 1);
            if (w == s) {
                break;
            }
            s = w;
        }
        openSlow(interruptibly);
    }

    /**
     * Opens the slow way, the transient 1 taken back: counts the open once the phase is
     * OPEN, or joins the current attempt, as its starter or as a member.
     */
    private void openSlow(boolean interruptibly) throws InterruptedException {
        for (;;) {
            long s = state;
            int phase = phaseOf(s);
            if (phase == OPEN) {
                if ((int) s >= MAX_COUNT) {
                    throw new IllegalStateException(name + ": too many opens");
                }
                if (STATE.compareAndSet(this, s, s + 1)) {
                    return;
                }
                continue;
            }
            if ((phase == STARTING || phase == SHUTTING_DOWN) && lock.isHeldByCurrentThread()) {
                throw new IllegalStateException(calledInside(words.open, phase == STARTING));
            }
            MultiOpenAttempt a = attempt;
            switch (a.join()) {
                case STARTER:
                    if (startCycle(a, interruptibly)) {
                        return;
                    }
                    break; // found OPEN under the lock: look again
                case MEMBER:
                    if (awaitAsMember(a, interruptibly)) {
                        return;
                    }
                    break; // its starter gave up: look again
                case TOO_LATE:
                    awaitFinished(a, interruptibly); // it is about to publish its outcome
                    break;
                default:
                    throw new AssertionError("role " + a);
            }
        }
    }

    /**
     * Waits, as a member, for the attempt {@code a}. Returns true if it succeeded (this open
     * is counted), false if its starter gave up without running it; throws what it threw.
     */
    private boolean awaitAsMember(MultiOpenAttempt a, boolean interruptibly)
            throws InterruptedException {
        if (interruptibly) {
            try {
                waiters.await(a::isFinished, this, name, words.openInterruptibly);
            } catch (InterruptedException e) {
                if (a.leave()) {
                    throw e; // not counted: as if the wait never began
                }
                // Sealed meanwhile: the outcome is decided and comes at once. If it counted
                // this open, the open succeeds and the interrupt stays pending on the thread.
                waiters.awaitUninterruptibly(a::isFinished, this);
                if (a.outcome() == MultiOpenAttempt.Outcome.ABANDONED) {
                    throw e; // not counted: give up, flag cleared
                }
                Thread.currentThread().interrupt();
            }
        } else {
            waiters.awaitUninterruptibly(a::isFinished, this);
        }
        MultiOpenAttempt.Outcome how = a.outcome();
        switch (how) {
            case SUCCEEDED:
                return true;
            case ABANDONED:
                return false;
            case FAILED:
                throw Checks.uncheckedForWaiter(Objects.requireNonNull(a.failure()),
                        hookFailed(true));
            default:
                throw new AssertionError("attempt outcome " + how);
        }
    }

    /** Waits for a sealed attempt to publish its outcome (a moment at most). */
    private void awaitFinished(MultiOpenAttempt a, boolean interruptibly)
            throws InterruptedException {
        if (interruptibly) {
            waiters.await(a::isFinished, this, name, words.openInterruptibly);
        } else {
            waiters.awaitUninterruptibly(a::isFinished, this);
        }
    }

    /**
     * As the starter of the fresh attempt {@code a}: takes the lifecycle lock (waiting for a
     * shutdown that runs) and, unless the phase is OPEN by then, runs the startup for a new
     * cycle with every member of {@code a}. Returns true if this call counted the open,
     * false to look again. If it gives up (an interrupt while waiting for the lock, or OPEN
     * found) it abandons {@code a}, whose members then look again.
     */
    private boolean startCycle(MultiOpenAttempt a, boolean interruptibly)
            throws InterruptedException {
        if (interruptibly) {
            try {
                lock.lockInterruptibly();
            } catch (InterruptedException e) {
                abandon(a);
                InterruptedException ie = Interrupts.interrupted(name, words.openInterruptibly);
                ie.initCause(e);
                throw ie;
            }
        } else {
            lock.lock();
        }
        try {
            long s = state;
            int phase = phaseOf(s);
            switch (phase) {
                case OPEN:
                    abandon(a); // opened meanwhile (a stale look at the phase); count there
                    return false;
                case NEW:
                case FINALIZING:
                case CLOSED:
                    runStartup(a, phase);
                    return true;
                default: // STARTING and SHUTTING_DOWN run only under the lock, which we hold
                    throw new AssertionError("state " + Long.toHexString(s) + " under the lock");
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * The starter of the fresh attempt {@code a} gives up: a new attempt takes its place and
     * its members look again. Only {@code a}'s starter replaces the attempt while {@code a}
     * is current, so this needs no lock.
     */
    private void abandon(MultiOpenAttempt a) {
        a.seal();
        attempt = new MultiOpenAttempt();
        a.finish(MultiOpenAttempt.Outcome.ABANDONED, null);
        waiters.wakeAll();
    }

    /**
     * Runs the startup for a new cycle as the starter of {@code a}; the caller holds the
     * lock and the phase is NEW, CLOSED or FINALIZING with a real count of 0. On success the
     * members of {@code a} are counted into the cycle; on failure none is.
     */
    private void runStartup(MultiOpenAttempt a, int previousPhase) {
        boolean newGate = openJoinGateIfNone();
        beginStartup(previousPhase);
        try {
            hooks.startup();
        } catch (Throwable t) {
            if (newGate) {
                releaseJoiners();
            }
            a.seal();
            startupFailed(previousPhase);
            attempt = new MultiOpenAttempt();
            a.finish(MultiOpenAttempt.Outcome.FAILED, t);
            waiters.wakeAll();
            throw Checks.unchecked(t, hookFailed(true));
        }
        startupSucceeded(a.seal());
        attempt = new MultiOpenAttempt();
        a.finish(MultiOpenAttempt.Outcome.SUCCEEDED, null);
        waiters.wakeAll();
    }

    // ---------------------------------------------------------------- closing

    /** Closes one open; {@code site} is that open's recorded site, if known. */
    void close(CallSites.@Nullable Site site) {
        release(Release.CLOSE, site);
    }

    /** Closes one open like {@link #close}, recording no call site: an owner's own hold. */
    void closeUntraced() {
        release(Release.UNTRACED, null);
    }

    /** Closes one open, then throws if that was not the last. */
    void closeFinal() {
        release(Release.FINAL, null);
    }

    /** Closes one open if the count is above 0; returns whether it did. */
    boolean closeIfOpen() {
        return release(Release.IF_OPEN, null);
    }

    private boolean release(Release mode, CallSites.@Nullable Site site) {
        long s = state;
        if ((s & PHASE_MASK) == OPEN_BITS && (int) s > 1) {
            if (STATE.compareAndSet(this, s, s - 1)) {
                return released(mode, site, (int) s - 1);
            }
            return releaseContended(mode, site);
        }
        return releaseSlow(mode, site);
    }

    /**
     * The CAS of a close lost to another thread's open or close: yield before each retry, so
     * that two cores hammering one object take turns with the cache line instead of trading
     * it on every try.
     */
    private boolean releaseContended(Release mode, CallSites.@Nullable Site site) {
        for (;;) {
            Thread.yield();
            long s = state;
            if ((s & PHASE_MASK) != OPEN_BITS || (int) s <= 1) {
                return releaseSlow(mode, site);
            }
            if (STATE.compareAndSet(this, s, s - 1)) {
                return released(mode, site, (int) s - 1);
            }
        }
    }

    private boolean released(Release mode, CallSites.@Nullable Site site, int remaining) {
        CallSites t = sites;
        if (t != null && mode != Release.UNTRACED) {
            t.closed(site, remaining == 0);
        }
        if (mode == Release.FINAL && remaining > 0) {
            throw new IllegalStateException(name + ": closeFinal() but " + remaining
                    + (remaining == 1 ? " open remains" : " opens remain")
                    + (t == null ? "" : t.liveSuffix()));
        }
        return true;
    }

    /**
     * Closes one open under the lock: the last close of a cycle (then runs the shutdown), a
     * close that lost its way to the fast path, or a misuse, which throws;
     * {@code closeIfOpen()} with nothing open returns false.
     */
    private boolean releaseSlow(Release mode, CallSites.@Nullable Site site) {
        lock.lock();
        try {
            for (;;) {
                long s = state;
                int phase = phaseOf(s);
                switch (phase) {
                    case OPEN:
                        if ((int) s > 1) {
                            if (STATE.compareAndSet(this, s, s - 1)) {
                                return released(mode, site, (int) s - 1);
                            }
                        } else if (openToShuttingDown(s)) {
                            released(mode, site, 0);
                            runShutdown();
                            return true;
                        }
                        break;
                    case STARTING:
                        throw new IllegalStateException(calledInside(verb(mode), true));
                    case SHUTTING_DOWN:
                        if (mode == Release.IF_OPEN) {
                            return false;
                        }
                        throw new IllegalStateException(calledInside(verb(mode), false));
                    case NEW:
                        if (mode == Release.IF_OPEN) {
                            return false;
                        }
                        throw new IllegalStateException(
                                name + ": " + verb(mode) + " before any " + words.open);
                    case FINALIZING:
                    case CLOSED:
                        if (mode == Release.IF_OPEN) {
                            return false;
                        }
                        CallSites t = sites;
                        throw new IllegalStateException(name + ": " + verb(mode)
                                + " without a matching " + words.open
                                + (t == null ? "" : t.lastCloseSuffix()));
                    default:
                        throw new AssertionError("state " + Long.toHexString(s));
                }
            }
        } finally {
            lock.unlock();
        }
    }

    private String verb(Release mode) {
        return mode == Release.FINAL ? "closeFinal()"
                : mode == Release.IF_OPEN ? "closeIfOpen()" : words.close;
    }

    /** Runs the shutdown and ends the cycle; the caller holds the lock, SHUTTING_DOWN. */
    private void runShutdown() {
        Throwable failure = null;
        boolean later = false;
        try {
            hooks.shutdown();
            later = hooks.finalizeLater() && !finalizeRequested;
        } catch (Throwable t) {
            failure = t;
        }
        finalizeRequested = false;
        if (later) {
            shuttingDownTo(FINALIZING);
        } else {
            shuttingDownTo(CLOSED);
            releaseJoiners();
        }
        if (failure != null) {
            throw Checks.unchecked(failure, hookFailed(false));
        }
    }

    /** Ends a cycle left FINALIZING; see {@code MultiOpen.finalizeNow()}. */
    void finalizeNow() {
        lock.lock();
        try {
            long s = state;
            int phase = phaseOf(s);
            if (phase == FINALIZING) {
                finalizingToClosed();
                releaseJoiners();
                return;
            }
            if (phase == SHUTTING_DOWN && !finalizeRequested) {
                finalizeRequested = true; // we are inside the shutdown: finalize when it returns
                return;
            }
            String why = phase == CLOSED || phase == SHUTTING_DOWN
                    ? "this cycle is already finalized"
                    : phase == NEW ? "never opened" : "it is open";
            throw new IllegalStateException(name + ": finalizeNow() but " + why
                    + " (" + phaseName(phase) + ", count=" + countOf(s) + ")");
        } finally {
            lock.unlock();
        }
    }

    // ---------------------------------------------------------------- transitions
    // Every write of state and joinGate is one of these; all but the lock-free count changes
    // (an open's getAndAdd and CAS, a close's CAS) are made while holding the lock.

    private void beginStartup(int from) {
        STATE.getAndAdd(this, EPOCH_ONE + phaseDelta(from, STARTING) + 1);
    }

    private void startupFailed(int backTo) {
        STATE.getAndAdd(this, phaseDelta(STARTING, backTo) - 1);
    }

    /** STARTING to OPEN, counting the attempt's members into the cycle. */
    private void startupSucceeded(int members) {
        STATE.getAndAdd(this, phaseDelta(STARTING, OPEN) + members);
    }

    /** The last close: (OPEN, 1) to (SHUTTING_DOWN, 0), if the word is still {@code s}. */
    private boolean openToShuttingDown(long s) {
        return STATE.compareAndSet(this, s, pack(s & EPOCH_MASK, SHUTTING_DOWN, 0));
    }

    private void shuttingDownTo(int phase) {
        STATE.getAndAdd(this, phaseDelta(SHUTTING_DOWN, phase));
    }

    private void finalizingToClosed() {
        STATE.getAndAdd(this, phaseDelta(FINALIZING, CLOSED));
    }

    /** Marks a cycle pending for joiners unless one already is; returns true if it was not. */
    private boolean openJoinGateIfNone() {
        long g = joinGate;
        if ((g & 1L) != 0L) {
            return false;
        }
        joinGate = g + 1L;
        return true;
    }

    /** Ends the pending cycle for joiners, if any, and wakes them. */
    private void releaseJoiners() {
        long g = joinGate;
        if ((g & 1L) != 0L) {
            joinGate = g + 1L;
            waiters.wakeAll();
        }
    }

    // ---------------------------------------------------------------- joining

    /** Waits until no cycle is pending; see {@code MultiOpen.join()}. */
    void join() throws InterruptedException {
        long g = joinGate;
        if ((g & 1L) == 0L) {
            Interrupts.throwIfInterrupted(name, "join()");
            return;
        }
        checkNotInHook("join()");
        waiters.await(() -> joinGate != g, this, name, "join()");
    }

    /** Waits like {@link #join()} at most {@code nanos}; returns false if the time ran out. */
    boolean join(long nanos) throws InterruptedException {
        long g = joinGate;
        if ((g & 1L) == 0L) {
            Interrupts.throwIfInterrupted(name, "join()");
            return true;
        }
        checkNotInHook("join()");
        return waiters.awaitNanos(() -> joinGate != g, nanos, this, name, "join()");
    }

    /** Whether a cycle is pending: {@link #join()} would wait. */
    boolean isPending() {
        return (joinGate & 1L) != 0L;
    }

    // ---------------------------------------------------------------- queries

    /** The state word now: read it once, then ask {@link MultiOpenWord} and {@link #countIn}. */
    long snapshot() {
        return state;
    }

    /** The count in the word {@code s}, with the members of a running startup added. */
    int countIn(long s) {
        return phaseOf(s) == STARTING ? 1 + attempt.members() : countOf(s);
    }

    /** Whether the calling thread is running this engine's startup or shutdown. */
    boolean inHook() {
        if (!lock.isHeldByCurrentThread()) {
            return false;
        }
        int phase = phaseOf(state);
        return phase == STARTING || phase == SHUTTING_DOWN;
    }

    private void checkNotInHook(String op) {
        if (lock.isHeldByCurrentThread()) {
            int phase = phaseOf(state);
            if (phase == STARTING || phase == SHUTTING_DOWN) {
                throw new IllegalStateException(calledInside(op, phase == STARTING));
            }
        }
    }

    /** Throws unless OPEN (or a hook of this engine runs in this thread); see ensureOpen. */
    void ensureOpen() {
        int phase = phaseOf(state);
        if (phase == OPEN) {
            return;
        }
        if ((phase == STARTING || phase == SHUTTING_DOWN) && lock.isHeldByCurrentThread()) {
            return;
        }
        if (phase == NEW || phase == STARTING) {
            throw new ClosedException(name + ": not yet opened");
        }
        throw new ClosedException(name + ": already closed");
    }

    /** Appends the traced call sites, if tracing is on, to a {@code toString()} body. */
    void appendSites(StringBuilder sb) {
        CallSites t = sites;
        if (t != null) {
            t.appendTo(sb);
        }
    }

    private String hookFailed(boolean startup) {
        return name + ": " + (startup ? words.startup : words.shutdown) + " failed";
    }

    private String calledInside(String op, boolean startup) {
        return name + ": " + op + " called from inside "
                + (startup ? words.startup : words.shutdown);
    }

    // VarHandle mechanics
    private static final VarHandle STATE;

    static {
        try {
            STATE = MethodHandles.lookup()
                    .findVarHandle(MultiOpenEngine.class, "state", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }
}
