package dev.refkit;

import static dev.refkit.MultiOpenWord.*;

import com.google.common.util.concurrent.Uninterruptibles;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
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

    /**
     * One startup attempt and the openers counted into it. An opener that finds the object
     * not OPEN joins the current attempt: the first to join a fresh attempt becomes its
     * starter (it takes the lifecycle lock and runs {@code startup()}); every later one is a
     * member and waits on {@link #done}. The starter seals the attempt when startup ends,
     * which fixes the members: on success they are all added to the count in the same
     * getAndAdd that makes the phase OPEN, so the cycle cannot end until each of them has
     * closed too; on failure none of them is counted and each throws the failure.
     *
     * <p>The {@code joined} word packs a sealed bit, a starter-claimed bit and the number of
     * members; joining, leaving (an interrupted member) and sealing are CASes on it, so a
     * member is counted exactly when it joined before the seal.
     */
    static final class Attempt {
        static final int STARTER = 0;
        static final int MEMBER = 1;
        static final int TOO_LATE = 2;

        static final int PENDING = 0;
        static final int SUCCEEDED = 1;
        static final int FAILED = 2;
        static final int ABANDONED = 3;

        private static final int SEALED = 1 << 31;
        private static final int CLAIMED = 1 << 30;
        private static final int MEMBERS = CLAIMED - 1;

        private volatile int joined;
        final CountDownLatch done = new CountDownLatch(1);
        // Written by the starter before done.countDown(), read by members after done.await().
        int outcome = PENDING;
        @Nullable Throwable failure;

        /** Joins this attempt: returns STARTER, MEMBER, or TOO_LATE if it is sealed. */
        int join() {
            for (;;) {
                int j = joined;
                if ((j & SEALED) != 0) {
                    return TOO_LATE;
                }
                if ((j & CLAIMED) == 0) {
                    if (JOINED.compareAndSet(this, j, j | CLAIMED)) {
                        return STARTER;
                    }
                } else if (JOINED.compareAndSet(this, j, j + 1)) {
                    return MEMBER;
                }
            }
        }

        /** A member gives up: returns true if it left before the seal (it is not counted). */
        boolean leave() {
            for (;;) {
                int j = joined;
                if ((j & SEALED) != 0) {
                    return false;
                }
                if (JOINED.compareAndSet(this, j, j - 1)) {
                    return true;
                }
            }
        }

        /** The members joined so far (for queries; a snapshot). */
        int members() {
            return joined & MEMBERS;
        }

        /** Seals this attempt (the starter, once) and returns the number of members. */
        int seal() {
            return (int) JOINED.getAndBitwiseOr(this, SEALED) & MEMBERS;
        }

        /** Ends this attempt (the starter, once, after {@link #seal()}). */
        void finish(int how, @Nullable Throwable t) {
            outcome = how;
            failure = t;
            done.countDown();
        }

        // VarHandle mechanics
        private static final VarHandle JOINED;

        static {
            try {
                JOINED = MethodHandles.lookup().findVarHandle(Attempt.class, "joined", int.class);
            } catch (ReflectiveOperationException e) {
                throw new ExceptionInInitializerError(e);
            }
        }
    }

    // ---------------------------------------------------------------- opening

    /**
     * Opens {@code m} the slow way, its transient 1 already taken back: counts the open
     * once the phase is OPEN, or joins the current startup attempt, as its starter or as a
     * member counted into the cycle it starts.
     *
     * @throws InterruptedWhileOpening if {@code interruptibly} and the thread is interrupted
     *     while it waits; the open is then not counted
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
                continue;
            }
            if ((phase == STARTING || phase == SHUTTING_DOWN) && m.lock.isHeldByCurrentThread()) {
                throw new IllegalStateException(m.calledInside(m.openOp(), phase == STARTING));
            }
            Attempt a = m.attempt;
            switch (a.join()) {
                case Attempt.STARTER:
                    if (startCycle(m, a, interruptibly)) {
                        return;
                    }
                    break; // found OPEN under the lock: look again
                case Attempt.MEMBER:
                    if (awaitAsMember(m, a, interruptibly)) {
                        return;
                    }
                    break; // its starter gave up: look again
                case Attempt.TOO_LATE:
                    awaitSealed(m, a, interruptibly); // it is about to publish its outcome
                    break;
                default:
                    throw new AssertionError("join() returned an unknown role");
            }
        }
    }

    /**
     * Waits, as a member, for the attempt {@code a}. Returns true if it succeeded (this open
     * is counted), false if its starter gave up without running it; throws what it threw.
     */
    private static boolean awaitAsMember(MultiOpen m, Attempt a, boolean interruptibly) {
        if (interruptibly) {
            try {
                a.done.await();
            } catch (InterruptedException e) {
                if (a.leave()) {
                    throw new InterruptedWhileOpening(interrupted(m, e));
                }
                // Sealed meanwhile: the outcome is decided and comes at once. If it counted
                // this open, the open succeeds and the interrupt stays pending on the thread.
                Uninterruptibles.awaitUninterruptibly(a.done);
                if (a.outcome == Attempt.ABANDONED) {
                    Thread.interrupted(); // not counted: give up, flag cleared
                    throw new InterruptedWhileOpening(interrupted(m, e));
                }
                Thread.currentThread().interrupt();
            }
        } else {
            Uninterruptibles.awaitUninterruptibly(a.done);
        }
        switch (a.outcome) {
            case Attempt.SUCCEEDED:
                return true;
            case Attempt.ABANDONED:
                return false;
            case Attempt.FAILED:
                throw Checks.uncheckedForWaiter(Objects.requireNonNull(a.failure),
                        m.hookFailed(true));
            default:
                throw new AssertionError("attempt outcome " + a.outcome);
        }
    }

    /** Waits for a sealed attempt to publish its outcome (a moment at most). */
    private static void awaitSealed(MultiOpen m, Attempt a, boolean interruptibly) {
        if (interruptibly) {
            try {
                a.done.await();
            } catch (InterruptedException e) {
                throw new InterruptedWhileOpening(interrupted(m, e));
            }
        } else {
            Uninterruptibles.awaitUninterruptibly(a.done);
        }
    }

    private static InterruptedException interrupted(MultiOpen m, InterruptedException cause) {
        InterruptedException e = new InterruptedException(
                m.nameForMessages() + ": interrupted in " + m.interruptibleOpenOp());
        e.initCause(cause);
        return e;
    }

    /**
     * As the starter of the fresh attempt {@code a}: takes the lifecycle lock (waiting for a
     * shutdown that runs) and, unless the object is OPEN by then, runs startup for a new
     * cycle with every member of {@code a}. Returns true if this call counted the open,
     * false to look again. If it gives up (an interrupt while waiting for the lock, or OPEN
     * found) it abandons {@code a}, whose members then look again.
     */
    private static boolean startCycle(MultiOpen m, Attempt a, boolean interruptibly) {
        if (interruptibly) {
            try {
                m.lock.lockInterruptibly();
            } catch (InterruptedException e) {
                abandon(m, a);
                throw new InterruptedWhileOpening(interrupted(m, e));
            }
        } else {
            m.lock.lock();
        }
        try {
            long s = m.state;
            int phase = phaseOf(s);
            switch (phase) {
                case OPEN:
                    abandon(m, a); // opened meanwhile (a stale look at the phase); count there
                    return false;
                case NEW:
                case FINALIZING:
                case CLOSED:
                    runStartup(m, a, s, phase);
                    return true;
                default: // STARTING and SHUTTING_DOWN run only under the lock, which we hold
                    throw new AssertionError("state " + Long.toHexString(s) + " under the lock");
            }
        } finally {
            m.lock.unlock();
        }
    }

    /**
     * The starter of the fresh attempt {@code a} gives up: a new attempt takes its place and
     * its members look again. Only {@code a}'s starter writes {@code m.attempt} while
     * {@code a} is current, so this needs no lock.
     */
    private static void abandon(MultiOpen m, Attempt a) {
        a.seal();
        m.attempt = new Attempt();
        a.finish(Attempt.ABANDONED, null);
    }

    /**
     * Runs startup() for a new cycle as the starter of {@code a}; the caller holds the lock
     * and the phase is NEW, CLOSED or FINALIZING with a real count of 0. On success the
     * members of {@code a} are counted into the cycle; on failure none is.
     */
    private static void runStartup(MultiOpen m, Attempt a, long s, int previousPhase) {
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
            a.seal();
            m.addToState(phaseDelta(STARTING, previousPhase) - 1);
            m.attempt = new Attempt();
            a.finish(Attempt.FAILED, t);
            throw Checks.unchecked(t, m.hookFailed(true));
        }
        int members = a.seal();
        m.addToState(phaseDelta(STARTING, OPEN) + members);
        m.attempt = new Attempt();
        a.finish(Attempt.SUCCEEDED, null);
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
