package dev.refkit;

import org.jspecify.annotations.Nullable;

/**
 * One object of a pool and its state word, with the named transitions that are the only
 * writes of that word.
 *
 * <p>The state is a {@code long}: the low two bits are the kind ({@link #IDLE}, {@link #LENT},
 * {@link #BUSY}, {@link #DEAD}) and the rest a generation that grows by one each time a
 * lease ends. A lease remembers the exact state word it was lent under (its stamp), so a
 * stale lease can never close, read or invalidate a later borrower's object: its stamp no
 * longer matches. The generation also counts borrows, so no per-borrow counter is needed.
 *
 * <pre>
 *   IDLE --idleToLent--> LENT --lentToIdle--> IDLE (next generation)
 *   IDLE --idleToBusy--> BUSY --busyToIdle--> IDLE
 *   LENT --lentToBusy--> BUSY (next generation)
 *   BUSY, LENT or IDLE (owner) --markDead--> DEAD (terminal)
 * </pre>
 *
 * <p><b>Thread safety.</b> Whoever moves the state out of {@code IDLE} by CAS owns the slot
 * ({@code LENT} for a borrower, {@code BUSY} for the pool's own work) until it moves the
 * state on; only the owner calls {@link #busyToIdle()} and {@link #markDead()}, and only the
 * owner writes the plain fields.
 *
 * <p><b>Memory consistency effects.</b> Every transition is a volatile write or CAS, so
 * the owner's writes before it happen-before the next owner's CAS that takes the slot.
 */
final class PoolSlot<T> extends PoolSlotPadding.After {
    /** Kind: free to be lent. */
    static final long IDLE = 0;
    /** Kind: lent to a borrower; the state word is the lease's stamp. */
    static final long LENT = 1;
    /** Kind: owned by the pool for a moment (returning, checking, destroying). */
    static final long BUSY = 2;
    /** Kind: destroyed; terminal. */
    static final long DEAD = 3;
    /** Mask of the kind bits. */
    static final long KIND = 3;
    /** One generation. */
    static final long GEN = 4;
    /** What {@link #idleToLent()} returns when the slot was not idle: no state word is -1. */
    static final long NONE = -1;

    final T object;
    /** Ticker time the object was made, for {@code maxLifetime}. */
    final long createdAt;
    /** Ticker time the object last became idle; written by the owner only. */
    long lastReturned;
    /** Where the current lease was made, with leak detection on; written by the owner. */
    @Nullable Throwable borrowSite;

    /** A slot for a new object, {@code LENT} to its maker or {@code IDLE}. */
    PoolSlot(T object, long now, boolean lent) {
        super(lent ? LENT : IDLE);
        this.object = object;
        this.createdAt = now;
        this.lastReturned = now;
    }

    /**
     * {@code IDLE -> LENT}: one read and one CAS.
     *
     * @return the stamp the slot is now lent under, or {@link #NONE} if it was not idle or
     *     another thread took it first
     */
    long idleToLent() {
        long st = state();
        return kind(st) == IDLE && casState(st, st | LENT) ? st | LENT : NONE;
    }

    /** {@code IDLE -> BUSY}: takes an idle slot for the pool's own work; false if not idle. */
    boolean idleToBusy() {
        return idleToBusy(state());
    }

    /**
     * {@code IDLE -> BUSY} from {@code seen}, a state the caller read earlier (before reading
     * the slot's times): false if {@code seen} was not idle or the state moved on since.
     */
    boolean idleToBusy(long seen) {
        return kind(seen) == IDLE && casState(seen, seen | BUSY);
    }

    /** {@code LENT -> IDLE} of the next generation, if still lent under {@code stamp}. */
    boolean lentToIdle(long stamp) {
        return casState(stamp, stamp - LENT + GEN);
    }

    /** {@code LENT -> BUSY} of the next generation, if still lent under {@code stamp}. */
    boolean lentToBusy(long stamp) {
        return casState(stamp, stamp - LENT + GEN + BUSY);
    }

    /** {@code BUSY -> IDLE}, by the owner: publishes the object to the next borrower. */
    void busyToIdle() {
        long st = state();
        if (kind(st) != BUSY) {
            throw new AssertionError(this);
        }
        setStateVolatile(st - BUSY);
    }

    /**
     * Any kind {@code -> DEAD}, by the owner, keeping the generation.
     *
     * @return the borrows this slot completed, for the pool's count
     */
    long markDead() {
        long st = state();
        setStateVolatile((st & ~KIND) | DEAD);
        return st >>> 2;
    }

    /** Whether the slot is still lent under {@code stamp}: the lease is open. */
    boolean isLentUnder(long stamp) {
        return state() == stamp;
    }

    static long kind(long state) {
        return state & KIND;
    }

    /** Completed plus current borrows recorded in a state word. */
    static long borrows(long state) {
        return (state >>> 2) + (kind(state) == LENT ? 1 : 0);
    }

    @Override
    public String toString() {
        long s = state();
        return "slot[" + "ILBD".charAt((int) kind(s)) + (s >>> 2) + "]";
    }
}
