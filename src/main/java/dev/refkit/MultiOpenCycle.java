package dev.refkit;

import static dev.refkit.MultiOpenWord.*;

import com.google.common.util.concurrent.Uninterruptibles;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import org.jspecify.annotations.Nullable;

/**
 * The locked side of a {@link MultiOpen}: every phase change, made under its lifecycle lock,
 * and the hooks run there. The first open of a cycle runs {@code startup()} (openers that
 * find it running wait on its {@link Attempt}); the last close runs {@code shutdown()} and
 * ends the cycle or leaves it FINALIZING; {@code finalizeNow()} ends it later; a close the
 * lock-free path cannot make is judged here (misuse, or {@code closeIfOpen()} with nothing
 * open). {@code MultiOpen} keeps the lock-free side, its fast paths and queries, which come
 * here only when an open finds the phase not OPEN or a close would take the count to 0.
 * Static methods on the object they are given; its fields stay in {@code MultiOpen}.
 *
 * <p><b>Thread safety.</b> Every method may be called from any thread. Each phase change is
 * one getAndAdd or CAS of the state word made while holding the object's lifecycle lock (a
 * {@link java.util.concurrent.locks.ReentrantLock}, never {@code synchronized}), so the
 * lock-free side sees the phase before it or after it, never a torn one. The hooks run in
 * the calling thread while it holds the lock. An opener that finds a startup running waits
 * on that attempt's latch instead of the lock, so that it throws what that attempt threw;
 * one that takes the lock after a startup finds the phase OPEN, lets the lock go and counts
 * its open with a CAS. The attempt, the join gate and {@code finalizeRequested} are written
 * only under the lock; the first two are volatile, read without it.
 *
 * <p><b>Memory consistency effects.</b> The attempt is published before the state says
 * STARTING. {@code startup()} happens-before the getAndAdd that makes the phase OPEN (which
 * every later open reads) and the countDown of its attempt's latch (which the openers
 * waiting on it await). A close's CAS of the state happens-before the last close's, made
 * under the lock right before it runs {@code shutdown()}; {@code shutdown()} happens-before
 * the join gate's countDown, so before {@code join()} returns.
 */
final class MultiOpenCycle {
    private MultiOpenCycle() {}

    /** The checked InterruptedException carried out of the one slow path shared by both. */
    static final class InterruptedWhileOpening extends RuntimeException {
        private static final long serialVersionUID = 1L;

        InterruptedWhileOpening(InterruptedException cause) {
            super(cause);
        }

        InterruptedException unwrap() {
            return (InterruptedException) Objects.requireNonNull(getCause());
        }
    }

    /** One startup attempt: openers that find it running wait on it instead of the lock. */
    static final class Attempt {
        final long epoch;
        final CountDownLatch done = new CountDownLatch(1);
        @Nullable Throwable failure; // written before done.countDown(), read after await

        Attempt(long epoch) {
            this.epoch = epoch;
        }
    }

    // ---------------------------------------------------------------- opening

    /**
     * Opens {@code m} the slow way, its transient 1 already taken back: counts the open
     * once the phase is OPEN, waits for a startup another thread runs, or runs one.
     *
     * @throws InterruptedWhileOpening if {@code interruptibly} and the thread is interrupted
     *     while it waits
     */
    static void openSlow(MultiOpen m, boolean interruptibly) {
        for (;;) {
            long s = m.state;
            int phase = phaseOf(s);
            if (phase == OPEN) {
                if ((int) s >= MAX_COUNT) {
                    throw new IllegalStateException(m.nameForMessages() + ": too many opens");
                }
                if (m.casState(s, s + 1)) {
                    return;
                }
            } else if (phase == STARTING && !m.lock.isHeldByCurrentThread()) {
                awaitAttempt(m, s, interruptibly);
            } else if (startCycle(m, s, interruptibly)) {
                return;
            }
        }
    }

    /** Waits for the startup attempt seen in {@code s}; throws what it threw. */
    private static void awaitAttempt(MultiOpen m, long s, boolean interruptibly) {
        Attempt a = m.attempt;
        if (a == null || a.epoch != (s & EPOCH_MASK)) {
            return; // that attempt is over; look again
        }
        if (interruptibly) {
            try {
                a.done.await();
            } catch (InterruptedException e) {
                throw new InterruptedWhileOpening(e);
            }
        } else {
            Uninterruptibles.awaitUninterruptibly(a.done);
        }
        Throwable failure = a.failure;
        if (failure != null) {
            throw Checks.unchecked(failure, m.hookFailed(true));
        }
    }

    /**
     * Takes the lifecycle lock and, if nobody opened meanwhile, runs the first open of a
     * cycle. Returns true if this call counted the open, false to look again.
     */
    private static boolean startCycle(MultiOpen m, long seen, boolean interruptibly) {
        if (interruptibly) {
            try {
                m.lock.lockInterruptibly();
            } catch (InterruptedException e) {
                throw new InterruptedWhileOpening(e);
            }
        } else {
            m.lock.lock();
        }
        try {
            long s = m.state;
            int phase = phaseOf(s);
            switch (phase) {
                case OPEN:
                    return false; // someone else started it; use the fast path
                case STARTING:
                    throw new IllegalStateException(m.calledInside(m.openOp(), true));
                case SHUTTING_DOWN:
                    throw new IllegalStateException(m.calledInside(m.openOp(), false));
                case NEW:
                case FINALIZING:
                case CLOSED:
                    runStartup(m, s, phase);
                    return true;
                default:
                    throw new AssertionError("state " + Long.toHexString(s) + " seen " + seen);
            }
        } finally {
            m.lock.unlock();
        }
    }

    /** Runs startup() for a new cycle; the caller holds the lock and the count is 0. */
    private static void runStartup(MultiOpen m, long s, int previousPhase) {
        Attempt a = new Attempt((s + EPOCH_ONE) & EPOCH_MASK); // epoch bits change only here
        m.attempt = a;
        CountDownLatch gate = m.finalized;
        boolean newGate = gate == null;
        if (newGate) {
            m.finalized = new CountDownLatch(1);
        }
        m.addToState(EPOCH_ONE + phaseDelta(previousPhase, STARTING) + 1);
        try {
            m.startup();
        } catch (Throwable t) {
            if (newGate) {
                CountDownLatch g = Objects.requireNonNull(m.finalized);
                m.finalized = null;
                g.countDown();
            }
            m.addToState(phaseDelta(STARTING, previousPhase) - 1);
            a.failure = t;
            a.done.countDown();
            throw Checks.unchecked(t, m.hookFailed(true));
        }
        m.addToState(phaseDelta(STARTING, OPEN));
        a.done.countDown();
    }

    // ---------------------------------------------------------------- closing

    /**
     * Closes one open of {@code m} under the lock: the last close of a cycle (then runs
     * {@code shutdown()}), a close that lost its way to the fast path, or a misuse, which
     * throws; {@code closeIfOpen()} with nothing open returns false.
     */
    static boolean releaseSlow(MultiOpen m, int mode, CallSites.@Nullable Site site) {
        m.lock.lock();
        try {
            for (;;) {
                long s = m.state;
                int phase = phaseOf(s);
                switch (phase) {
                    case OPEN:
                        if ((int) s > 1) {
                            if (m.casState(s, s - 1)) {
                                return m.released(mode, site, (int) s - 1);
                            }
                        } else if (m.casState(s, pack(s & EPOCH_MASK, SHUTTING_DOWN, 0))) {
                            m.released(mode, site, 0);
                            runShutdown(m);
                            return true;
                        }
                        break;
                    case STARTING:
                        throw new IllegalStateException(m.calledInside(m.closeOp(mode), true));
                    case SHUTTING_DOWN:
                        if (mode == MultiOpen.CLOSE_IF_OPEN) {
                            return false;
                        }
                        throw new IllegalStateException(m.calledInside(m.closeOp(mode), false));
                    case NEW:
                        if (mode == MultiOpen.CLOSE_IF_OPEN) {
                            return false;
                        }
                        throw new IllegalStateException(m.nameForMessages() + ": "
                                + m.closeOp(mode) + " before any " + m.openOp());
                    case FINALIZING:
                    case CLOSED:
                        if (mode == MultiOpen.CLOSE_IF_OPEN) {
                            return false;
                        }
                        CallSites t = m.sites;
                        throw new IllegalStateException(m.nameForMessages() + ": "
                                + m.closeOp(mode) + " without a matching " + m.openOp()
                                + (t == null ? "" : t.lastCloseSuffix()));
                    default:
                        throw new AssertionError("state " + Long.toHexString(s));
                }
            }
        } finally {
            m.lock.unlock();
        }
    }

    /** Runs shutdown() and ends the cycle; the caller holds the lock, state SHUTTING_DOWN. */
    private static void runShutdown(MultiOpen m) {
        Throwable failure = null;
        boolean later = false;
        try {
            m.shutdown();
            later = m.finalizeLater() && !m.finalizeRequested;
        } catch (Throwable t) {
            failure = t;
        }
        m.finalizeRequested = false;
        if (later) {
            m.addToState(phaseDelta(SHUTTING_DOWN, FINALIZING));
        } else {
            m.addToState(phaseDelta(SHUTTING_DOWN, CLOSED));
            releaseJoiners(m);
        }
        if (failure != null) {
            throw Checks.unchecked(failure, m.hookFailed(false));
        }
    }

    /** Opens the join gate of the cycle that just ended, if any; the caller holds the lock. */
    private static void releaseJoiners(MultiOpen m) {
        CountDownLatch g = m.finalized;
        if (g != null) {
            m.finalized = null;
            g.countDown();
        }
    }

    /** The body of {@link MultiOpen#finalizeNow()}: see there. */
    static void finalizeNow(MultiOpen m) {
        m.lock.lock();
        try {
            long s = m.state;
            int phase = phaseOf(s);
            if (phase == FINALIZING) {
                m.addToState(phaseDelta(FINALIZING, CLOSED));
                releaseJoiners(m);
                return;
            }
            if (phase == SHUTTING_DOWN && !m.finalizeRequested) {
                m.finalizeRequested = true; // we are inside shutdown(): finalize when it returns
                return;
            }
            String why = phase == CLOSED || phase == SHUTTING_DOWN
                    ? "this cycle is already finalized"
                    : phase == NEW ? "never opened" : "it is open";
            throw new IllegalStateException(m.nameForMessages() + ": finalizeNow() but " + why
                    + " (" + stateOf(s) + ", count=" + countOf(s) + ")");
        } finally {
            m.lock.unlock();
        }
    }
}
