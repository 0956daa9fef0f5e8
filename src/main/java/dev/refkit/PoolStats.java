package dev.refkit;

import java.time.Duration;
import java.util.Objects;

/**
 * An immutable snapshot of a {@link Pool}'s counters, taken by {@link Pool#stats()}.
 *
 * <p>The counts are read one after another without stopping the pool, so under load they
 * are each exact at some moment during the call but not necessarily at the same moment.
 *
 * <p><b>Thread safety.</b> Immutable, so safe to share.
 */
public final class PoolStats {
    private final int size;
    private final int idle;
    private final int waiting;
    private final long created;
    private final long destroyed;
    private final long borrows;
    private final long timeouts;
    private final long failedCreations;
    private final Duration longestWait;

    PoolStats(int size, int idle, int waiting, long created, long destroyed, long borrows,
            long timeouts, long failedCreations, Duration longestWait) {
        this.size = size;
        this.idle = idle;
        this.waiting = waiting;
        this.created = created;
        this.destroyed = destroyed;
        this.borrows = borrows;
        this.timeouts = timeouts;
        this.failedCreations = failedCreations;
        this.longestWait = Objects.requireNonNull(longestWait, "longestWait");
    }

    /**
     * {@return the objects alive (idle or lent); an object counts no more once the pool has
     * begun to destroy it, even while its destroyer still runs}
     */
    public int size() {
        return size;
    }

    /** {@return the objects alive and not lent} */
    public int idle() {
        return idle;
    }

    /** {@return the objects lent (or, for a moment, being returned or checked)} */
    public int lent() {
        return size - idle;
    }

    /** {@return the borrowers waiting for an object, threads and futures alike} */
    public int waiting() {
        return waiting;
    }

    /** {@return the objects the factory has made since the pool was built} */
    public long created() {
        return created;
    }

    /** {@return the objects destroyed since the pool was built} */
    public long destroyed() {
        return destroyed;
    }

    /** {@return the leases lent since the pool was built} */
    public long borrows() {
        return borrows;
    }

    /** {@return the timed borrows that gave up with a {@code TimeoutException}} */
    public long timeouts() {
        return timeouts;
    }

    /** {@return the calls to the factory that threw or returned null} */
    public long failedCreations() {
        return failedCreations;
    }

    /** {@return the longest time a borrower waited before it was served} */
    public Duration longestWait() {
        return longestWait;
    }

    @Override
    public String toString() {
        return "PoolStats{size=" + size + ", idle=" + idle + ", lent=" + lent()
                + ", waiting=" + waiting + ", created=" + created + ", destroyed=" + destroyed
                + ", borrows=" + borrows + ", timeouts=" + timeouts
                + ", failedCreations=" + failedCreations + ", longestWait=" + longestWait + "}";
    }
}
