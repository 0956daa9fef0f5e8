package dev.refkit;

import org.jspecify.annotations.Nullable;

/**
 * One object of a {@link Pool} and its state word.
 *
 * <p>The state is a {@code long}: the low two bits are the kind ({@link #IDLE}, {@link #LENT},
 * {@link #BUSY}, {@link #DEAD}) and the rest a generation that grows by one each time a
 * lease ends. A lease remembers the exact state word it was lent under (its stamp), so a
 * stale lease can never close, read or invalidate a later borrower's object: its stamp no
 * longer matches. The generation also counts borrows, so no per-borrow counter is needed.
 *
 * <p>Ownership: whoever moves the state out of {@code IDLE} by CAS owns the slot
 * ({@code LENT} for a borrower, {@code BUSY} for the pool's own work) until it moves the
 * state on; only the owner writes the plain fields.
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

    final T object;
    /** Ticker time the object was made, for {@code maxLifetime}. */
    final long createdAt;
    /** Ticker time the object last became idle; written by the owner only. */
    long lastReturned;
    /** Where the current lease was made, with leak detection on; written by the owner. */
    @Nullable Throwable borrowSite;

    PoolSlot(T object, long now, long initial) {
        super(initial);
        this.object = object;
        this.createdAt = now;
        this.lastReturned = now;
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
