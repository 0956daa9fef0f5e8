package dev.refkit;

import java.lang.ref.Cleaner;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * The leak detector of a pool ({@code leakDetection(true)}): each lease is registered with
 * the shared {@link PoolRuntime#cleaner() Cleaner}, and this is the action that runs if the
 * lease becomes unreachable without being closed. It refers to the slot and the lease's
 * stamp, never to the lease (which would then never become unreachable).
 *
 * <p><b>Thread safety.</b> Immutable. {@link #run()} runs on the cleaner's daemon thread, or
 * on the closing thread via {@link #stopWatch}; the slot's CAS from the stamp
 * ({@link PoolSlot#lentToBusy}) decides whether the leak action or the lease's own close
 * wins, so the object is given back or destroyed exactly once. No lock is taken here.
 *
 * <p><b>Memory consistency effects.</b> The borrow site is written to the slot by its owner
 * before the lease is handed out; it is read later without a lock, as a best-effort
 * diagnostic.
 */
final class PoolLeak<T> implements Runnable {
    private final String name;
    private final PoolSlot<T> slot;
    private final long stamp;
    private final Throwable site;
    private final Consumer<PoolSlot<T>> destroy;

    private PoolLeak(String name, PoolSlot<T> slot, long stamp, Throwable site,
            Consumer<PoolSlot<T>> destroy) {
        this.name = name;
        this.slot = slot;
        this.stamp = stamp;
        this.site = site;
        this.destroy = destroy;
    }

    /**
     * Watches {@code lease}, on slot {@code s} lent under {@code stamp} and not yet handed
     * out: records where it was borrowed and registers the leak action with the cleaner.
     *
     * @param name the pool's name, for the log
     * @param destroy destroys a slot the caller owns (BUSY) and frees its permit
     * @return the registration, for {@link #stopWatch}
     */
    static <T> Cleaner.Cleanable watch(Object lease, String name, PoolSlot<T> s, long stamp,
            Consumer<PoolSlot<T>> destroy) {
        Throwable site = new Throwable(name + ": borrowed here and never closed");
        s.borrowSite = site;
        return PoolRuntime.cleaner().register(lease,
                new PoolLeak<>(name, s, stamp, site, destroy));
    }

    /** Stops a watch whose slot the caller has just moved on from its stamp. */
    static void stopWatch(Cleaner.@Nullable Cleanable c) {
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
        if (slot.lentToBusy(stamp)) {
            PoolRuntime.LOG.warn(
                    "{}: a lease was dropped without close(); its object is destroyed", name, site);
            try {
                destroy.accept(slot);
            } catch (Error e) {
                PoolRuntime.LOG.error("{}: destroying the object of a dropped lease threw an Error",
                        name, e);
                throw e;
            }
        }
    }
}
