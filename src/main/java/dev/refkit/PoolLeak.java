package dev.refkit;

import static dev.refkit.PoolSlot.BUSY;
import static dev.refkit.PoolSlot.GEN;
import static dev.refkit.PoolSlot.KIND;

import java.lang.ref.Cleaner;

/**
 * A {@link Pool}'s leak detector ({@code leakDetection(true)}): each lease is registered with
 * the shared {@link PoolRuntime#cleaner() Cleaner}, and this is the action that runs if the
 * lease becomes unreachable without being closed. It refers to the slot and the lease's
 * stamp, never to the lease (which would then never become unreachable).
 *
 * <p><b>Thread safety.</b> Immutable. {@link #run()} runs on the cleaner's daemon thread, or
 * on the closing thread via {@link #stopWatch}; the slot's CAS from the stamp decides whether
 * the leak action or the lease's own close wins, so the object is given back or destroyed
 * exactly once. No lock is taken here; {@link Pool#destroy} takes the pool's lock briefly.
 *
 * <p><b>Memory consistency effects.</b> The borrow site is written to the slot by its owner
 * before the lease is handed out; {@link Pool#awaitClosed} reads it without a lock, as a
 * best-effort diagnostic.
 */
final class PoolLeak<T> implements Runnable {
    private final Pool<T> pool;
    private final PoolSlot<T> slot;
    private final long stamp;
    private final Throwable site;

    private PoolLeak(Pool<T> pool, PoolSlot<T> slot, long stamp, Throwable site) {
        this.pool = pool;
        this.slot = slot;
        this.stamp = stamp;
        this.site = site;
    }

    /**
     * Watches {@code l}, a lease on {@code s} not yet handed out: records where it was
     * borrowed and registers the leak action with the cleaner.
     */
    static <T> void watch(Pool<T> pool, PoolLease<T> l, PoolSlot<T> s) {
        Throwable site = new Throwable(pool.name() + ": borrowed here and never closed");
        s.borrowSite = site;
        l.cleanable = PoolRuntime.cleaner().register(l, new PoolLeak<>(pool, s, l.stamp, site));
    }

    /** Stops watching {@code l}, whose slot the caller has just moved on from its stamp. */
    static void stopWatch(PoolLease<?> l) {
        Cleaner.Cleanable c = l.cleanable;
        if (c != null) {
            c.clean(); // the action sees the slot moved on and does nothing
        }
    }

    /**
     * Destroys the object of a dropped lease and frees its slot, unless the lease was closed.
     *
     * @throws Error if the destroyer threw one, after the slot and its permit are freed; it
     *     is logged at ERROR first, since the cleaner's thread ignores what its actions throw
     */
    @Override
    public void run() {
        if (slot.casState(stamp, (stamp & ~KIND) + GEN + BUSY)) {
            Pool.log.warn("{}: a lease was dropped without close(); its object is destroyed",
                    pool.name(), site);
            try {
                pool.destroy(slot);
            } catch (Error e) {
                Pool.log.error("{}: destroying the object of a dropped lease threw an Error",
                        pool.name(), e);
                throw e;
            }
        }
    }
}
