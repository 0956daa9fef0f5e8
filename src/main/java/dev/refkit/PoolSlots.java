package dev.refkit;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
import org.jspecify.annotations.Nullable;

/**
 * A pool's live slots and, for an unbounded pool, the count of idle ones: the transitions
 * that take a slot out of {@code IDLE} or put one back go through here, so the count moves
 * with every one of them.
 *
 * <p>The array is copy-on-write: {@link #add} and {@link #remove} replace it by CAS, and
 * readers scan a snapshot without locks. The idle count ({@link #idleCount()}) is kept only
 * when built with {@code counted} (an unbounded pool, whose {@code maxIdle} it enforces); a
 * bounded pool pays nothing for it.
 *
 * <p><b>Thread safety.</b> Every method may be called from any thread. A slot taken by
 * {@link #lend}, {@link #lendAny} or {@link #take} is owned by the caller, as
 * {@link PoolSlot} describes.
 *
 * <p><b>Memory consistency effects.</b> A slot added happens-before any scan of an array
 * that holds it (the array is published by a volatile CAS).
 */
final class PoolSlots<T> {
    private final boolean counted;
    private final int maxIdle;
    /** Every live slot; replaced by CAS, never changed in place. */
    private volatile PoolSlot<T>[] all;
    /** Idle slots, when {@link #counted}; written only by the transitions below. */
    private volatile int idleCount;

    /**
     * An empty set of slots.
     *
     * @param counted whether to count idle slots (an unbounded pool)
     * @param maxIdle the most idle slots {@link #reserveIdle()} admits when counted
     */
    @SuppressWarnings("unchecked")
    PoolSlots(boolean counted, int maxIdle) {
        this.counted = counted;
        this.maxIdle = maxIdle;
        this.all = (PoolSlot<T>[]) new PoolSlot<?>[0];
    }

    /** Stripes of threads: {@link #stripe()} is below this. */
    static final int STRIPES = 16;

    /** {@return the current thread's stripe, 0 to {@link #STRIPES} - 1, from its id} */
    static int stripe() {
        @SuppressWarnings("deprecation") // threadId() is Java 19+
        long id = Thread.currentThread().getId();
        return (int) id & (STRIPES - 1);
    }

    /** {@return a snapshot of the live slots} */
    PoolSlot<T>[] all() {
        return all;
    }

    /** Adds a slot just made (IDLE, or LENT to its maker). */
    void add(PoolSlot<T> s) {
        for (;;) {
            PoolSlot<T>[] arr = all;
            PoolSlot<T>[] grown = Arrays.copyOf(arr, arr.length + 1);
            grown[arr.length] = s;
            if (ALL.compareAndSet(this, arr, grown)) {
                break;
            }
        }
        if (counted && PoolSlot.kind(s.state()) == PoolSlot.IDLE) {
            IDLE_COUNT.getAndAdd(this, 1);
        }
    }

    /** Removes a slot (its owner has marked it DEAD); does nothing if it is not here. */
    void remove(PoolSlot<T> s) {
        for (;;) {
            PoolSlot<T>[] arr = all;
            int i = indexOf(arr, s);
            if (i < 0) {
                return;
            }
            PoolSlot<T>[] shrunk = Arrays.copyOf(arr, arr.length - 1);
            System.arraycopy(arr, i + 1, shrunk, i, arr.length - i - 1);
            if (ALL.compareAndSet(this, arr, shrunk)) {
                return;
            }
        }
    }

    private static int indexOf(PoolSlot<?>[] arr, PoolSlot<?> s) {
        for (int i = 0; i < arr.length; i++) {
            if (arr[i] == s) {
                return i;
            }
        }
        return -1;
    }

    /**
     * {@code IDLE -> LENT} of {@code s}, counted.
     *
     * @return the stamp, or {@link PoolSlot#NONE} if {@code s} was not idle
     */
    long lend(PoolSlot<T> s) {
        boolean c = counted; // read before the CAS, which orders every later load
        long stamp = s.idleToLent();
        if (c && stamp != PoolSlot.NONE) {
            IDLE_COUNT.getAndAdd(this, -1);
        }
        return stamp;
    }

    /**
     * Lends some idle slot, scanning from index {@code start} (modulo the size) so that
     * threads of different stripes start at different slots.
     *
     * @return a slot now LENT to the caller, or null if none was idle
     */
    @Nullable PoolSlot<T> lendAny(int start) {
        PoolSlot<T>[] arr = all;
        int n = arr.length;
        int i = start < n ? start : 0;
        for (int k = 0; k < n; k++, i++) {
            if (i == n) {
                i = 0;
            }
            PoolSlot<T> s = arr[i];
            if (lend(s) != PoolSlot.NONE) {
                return s;
            }
        }
        return null;
    }

    /** {@code IDLE -> BUSY} of {@code s}, counted: the caller owns it on true. */
    boolean take(PoolSlot<T> s) {
        return take(s, s.state());
    }

    /** {@code IDLE -> BUSY} of {@code s} from a state the caller read, counted. */
    boolean take(PoolSlot<T> s, long seen) {
        if (s.idleToBusy(seen)) {
            if (counted) {
                IDLE_COUNT.getAndAdd(this, -1);
            }
            return true;
        }
        return false;
    }

    /**
     * Reserves a place among the idle slots for a slot its owner is about to make idle:
     * always true when not counted; when counted, false (and nothing reserved) once
     * {@code maxIdle} slots are idle.
     */
    boolean reserveIdle() {
        if (!counted) {
            return true;
        }
        if ((int) IDLE_COUNT.getAndAdd(this, 1) >= maxIdle) {
            IDLE_COUNT.getAndAdd(this, -1);
            return false;
        }
        return true;
    }

    /** {@return the idle slots now, counted by scanning} */
    int countIdle() {
        int n = 0;
        for (PoolSlot<T> s : all) {
            if (PoolSlot.kind(s.state()) == PoolSlot.IDLE) {
                n++;
            }
        }
        return n;
    }

    /**
     * Logs at WARN, for each slot lent now, where it was borrowed (with leak detection on).
     *
     * @param name the pool's name
     * @param by the call that gave up waiting, for the message
     * @return how many slots are lent
     */
    int logLent(String name, String by) {
        int lent = 0;
        for (PoolSlot<T> s : all) {
            if (PoolSlot.kind(s.state()) == PoolSlot.LENT) {
                lent++;
                Throwable site = s.borrowSite;
                if (site != null) {
                    PoolRuntime.LOG.warn("{}: an object not returned by {}", name, by, site);
                }
            }
        }
        return lent;
    }

    /** {@return the idle count kept for {@code maxIdle}; 0 when not counted} */
    int idleCount() {
        return idleCount;
    }

    // VarHandle mechanics
    private static final VarHandle ALL;
    private static final VarHandle IDLE_COUNT;

    static {
        try {
            MethodHandles.Lookup l = MethodHandles.lookup();
            ALL = l.findVarHandle(PoolSlots.class, "all", PoolSlot[].class);
            IDLE_COUNT = l.findVarHandle(PoolSlots.class, "idleCount", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }
}
