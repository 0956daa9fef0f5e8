package dev.refkit;

import java.lang.ref.Cleaner;
import org.jspecify.annotations.Nullable;

/**
 * The lease a {@link Pool} lends: a pointer to the slot and the exact state word (stamp) it
 * was lent under. It is closed once the slot's state no longer equals the stamp, so a double
 * or concurrent close gives the object back once (one CAS decides) and a stale lease can
 * never touch the next borrower's object.
 */
final class PoolLease<T> implements Lease<T> {
    final Pool<T> pool;
    final PoolSlot<T> slot;
    final long stamp;
    /** Registered with the leak detector; set before the lease is handed out. */
    Cleaner.@Nullable Cleanable cleanable;

    PoolLease(Pool<T> pool, PoolSlot<T> slot, long stamp) {
        this.pool = pool;
        this.slot = slot;
        this.stamp = stamp;
    }

    @Override
    public T get() {
        if (slot.state() != stamp) {
            throw new IllegalStateException(pool.name() + ": lease already closed");
        }
        return slot.object;
    }

    @Override
    public void close() {
        pool.giveBack(this, true);
    }

    @Override
    public boolean isClosed() {
        return slot.state() != stamp;
    }

    @Override
    public void invalidate() {
        pool.release(this, true, false);
    }

    @Override
    public String toString() {
        return pool.name() + (isClosed() ? ": closed lease" : ": lease of " + slot.object);
    }
}
