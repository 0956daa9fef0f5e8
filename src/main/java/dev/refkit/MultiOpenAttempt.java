package dev.refkit;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import org.jspecify.annotations.Nullable;

/**
 * One startup attempt and the openers counted into it. An opener that finds its object not
 * open joins the current attempt: the first to join a fresh attempt becomes its
 * {@link Role#STARTER STARTER} (it runs the startup); every later one is a
 * {@link Role#MEMBER MEMBER} and waits until {@link #isFinished()}. The starter
 * {@linkplain #seal() seals} the attempt when the startup ends, which fixes the members, and
 * then {@linkplain #finish finishes} it with its {@link Outcome}.
 *
 * <p>The {@code joined} word packs a sealed bit, a starter-claimed bit and the number of
 * members; joining, leaving (an interrupted member) and sealing are CASes on it, so a member
 * is counted exactly when it joined before the seal. Knows nothing of the class that uses
 * it: the waiting is the caller's, which tests {@link #isFinished()}.
 *
 * <p><b>Thread safety.</b> {@link #join()}, {@link #leave()}, {@link #members()},
 * {@link #isFinished()}, {@link #outcome()} and {@link #failure()} may be called from any
 * thread; {@link #seal()} and {@link #finish} only by the starter, once each, in that order.
 *
 * <p><b>Memory consistency effects.</b> Actions of the starter before {@link #finish} happen
 * before {@link #isFinished()} returns true in another thread.
 */
final class MultiOpenAttempt {

    /** What {@link #join()} made of the caller. */
    enum Role {
        /** The first to join: runs the startup. */
        STARTER,
        /** Counted into the attempt: waits for its outcome. */
        MEMBER,
        /** The attempt was sealed: wait for its outcome, then look again. */
        TOO_LATE
    }

    /** How an attempt ended. */
    enum Outcome {
        /** Not ended yet. */
        PENDING,
        /** The startup succeeded: every member is counted into the cycle it began. */
        SUCCEEDED,
        /** The startup threw {@link #failure()}: no member is counted. */
        FAILED,
        /** The starter gave up without running the startup: the members look again. */
        ABANDONED
    }

    private static final int SEALED = 1 << 31;
    private static final int CLAIMED = 1 << 30;
    private static final int MEMBERS = CLAIMED - 1;

    private volatile int joined;
    // Written by the starter before the volatile write of outcome, read after reading it.
    private @Nullable Throwable failure;
    private volatile Outcome outcome = Outcome.PENDING;

    /** Joins this attempt: returns STARTER, MEMBER, or TOO_LATE if it is sealed. */
    Role join() {
        for (;;) {
            int j = joined;
            if ((j & SEALED) != 0) {
                return Role.TOO_LATE;
            }
            if ((j & CLAIMED) == 0) {
                if (JOINED.compareAndSet(this, j, j | CLAIMED)) {
                    return Role.STARTER;
                }
            } else if (JOINED.compareAndSet(this, j, j + 1)) {
                return Role.MEMBER;
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

    /**
     * Ends this attempt (the starter, once, after {@link #seal()}).
     *
     * @param how SUCCEEDED, FAILED or ABANDONED
     * @param t the failure if FAILED, else null
     */
    void finish(Outcome how, @Nullable Throwable t) {
        if (how == Outcome.PENDING || (how == Outcome.FAILED) != (t != null)) {
            throw new IllegalArgumentException("finish(" + how + ", " + t + ")");
        }
        failure = t;
        outcome = how;
    }

    /** Whether {@link #finish} has been called. */
    boolean isFinished() {
        return outcome != Outcome.PENDING;
    }

    /** The outcome: PENDING until {@link #finish}. */
    Outcome outcome() {
        return outcome;
    }

    /** The failure of a FAILED attempt, read after {@link #outcome()}; else null. */
    @Nullable Throwable failure() {
        return failure;
    }

    // VarHandle mechanics
    private static final VarHandle JOINED;

    static {
        try {
            JOINED = MethodHandles.lookup()
                    .findVarHandle(MultiOpenAttempt.class, "joined", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }
}
