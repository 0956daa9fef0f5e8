package dev.refkit;

import static dev.refkit.Pool.CLOSED;
import static dev.refkit.PoolSlot.KIND;
import static dev.refkit.PoolSlot.LENT;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;

/**
 * A {@link Pool}'s waiting line: the FIFO queue of {@link PoolWaiter}s (parked threads and
 * {@code borrowAsync} futures alike), how a waiter joins it, gives up its place, is served
 * an idle object or a permit to make one, and is woken or completed. The pool's fast paths
 * never come here: they test the pool's {@code ctl} word, and only a non-zero waiter count
 * in it sends a return to {@link #handOver}.
 *
 * <p><b>Thread safety.</b> Every method may be called from any thread. The queue, every
 * change of a waiter's state and every write of the pool's {@code ctl} (whose low bits count
 * the waiters) happen under the pool's {@code lock}, the one lock that also guards the
 * pool's slot array and upkeep handle; so a grant, a timeout, an interrupt, a cancellation
 * and a close decide atomically which one wins. Under the lock this class only moves slots
 * by CAS and reserves permits; it never runs user code (factory, validator, reset,
 * destroyer) or completes a future there: granted waiters are woken, and granted futures
 * completed, by {@link #deliver} after the lock is released, at once and on the releasing
 * thread up to a bounded nesting depth (see {@link #completeNow}). A waiting thread reads
 * its own state without the lock, and parks with {@link LockSupport} on the pool as
 * blocker, so virtual threads never pin.
 *
 * <p><b>Memory consistency effects.</b> A grant writes the waiter's slot and stamp, then
 * its volatile state, under the lock; the waiter reads the state first, so it sees the slot.
 * The slot itself was moved to LENT by a CAS that follows the returner's release of it, so
 * returning an object happens-before the waiter it is granted to gets it.
 */
final class PoolLine<T> {
    /** Spins of the first platform-thread waiter in line before it parks. */
    private static final int SPINS = 1 << 9;
    /**
     * Yields of the first virtual-thread waiter in line before it parks. A virtual waiter
     * never spins (it would hold a carrier that the object's holder may need), but parking
     * at once means that each hand-off unparks it, which submits it to the scheduler anew.
     * With many virtual threads on two carriers, runs then often settle into a mode where
     * each hand-off costs over twice as much (about half of the benchmark's forks, against
     * 4 in 24 with these yields). Yielding keeps the waiter runnable, and lets every other
     * runnable virtual thread (the holder among them) run first.
     */
    private static final int VIRTUAL_YIELDS = 16;

    private final Pool<T> pool;
    /** Waiting borrowers, oldest first; guarded by the pool's lock. */
    private final ArrayDeque<PoolWaiter<T>> queue = new ArrayDeque<>();
    private final AtomicLong longestWait = new AtomicLong();

    PoolLine(Pool<T> pool) {
        this.pool = pool;
    }

    /** The longest wait of a granted waiter so far, in nanoseconds. */
    long longestWait() {
        return longestWait.get();
    }

    // ---------------------------------------------------------------------------------
    // Waiting threads

    /**
     * Joins the line as the current thread and parks until it is granted, signalled,
     * closed, timed out or interrupted. Returns a slot LENT to the caller and checked, or
     * null if the caller should try again (the granted object failed its checks, or an
     * unfair pool woke it without an object).
     *
     * @throws InterruptedException if the thread is interrupted while it waits; it then
     *     holds no place in line, and anything granted meanwhile is given back
     * @throws TimeoutException if {@code timed} and {@code deadline} (System.nanoTime) passes
     * @throws ClosedException if the pool is closed, or closes while the thread waits
     */
    @Nullable PoolSlot<T> await(boolean timed, long deadline, @Nullable Duration timeout)
            throws InterruptedException, TimeoutException {
        PoolWaiter<T> w = new PoolWaiter<>(Thread.currentThread(), null);
        deliver(enqueue(w), w);
        boolean virtual = PoolRuntime.isVirtual(Thread.currentThread());
        int spins = w.head ? (virtual ? VIRTUAL_YIELDS : SPINS) : 0;
        for (;;) {
            int st = w.state;
            if (st != PoolWaiter.WAITING) {
                return take(w);
            }
            if (spins > 0 && !Thread.currentThread().isInterrupted()
                    && (!timed || deadline - System.nanoTime() > 0)) {
                spins--;
                if (virtual) {
                    Thread.yield();
                } else {
                    Thread.onSpinWait();
                }
                continue;
            }
            if (Thread.interrupted()) {
                if (!abandon(w)) {
                    refuse(w);
                }
                throw pool.interrupted(timed);
            }
            if (timed) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    if (abandon(w)) {
                        pool.timeouts.incrementAndGet();
                        throw pool.timeout(timeout);
                    }
                    continue; // granted or closed meanwhile: take it
                }
                LockSupport.parkNanos(pool, left);
            } else {
                LockSupport.park(pool);
            }
        }
    }

    /**
     * Turns a granted (or closed) waiter into a lease; null if the object failed its checks
     * or the waiter was only woken to try again.
     */
    private @Nullable PoolSlot<T> take(PoolWaiter<T> w) {
        int st = w.state;
        if (st == PoolWaiter.CLOSED) {
            throw pool.closed();
        }
        if (st == PoolWaiter.SIGNALLED) {
            return null; // woken to try again (unfair pools)
        }
        if (st != PoolWaiter.GRANTED) {
            throw new AssertionError(st);
        }
        recordWait(w);
        PoolSlot<T> s = w.slot;
        if (s == null) {
            return pool.create(true);
        }
        Boolean ok = pool.checkedForWaiter(s);
        if (ok == null) {
            return null; // failed its checks while the pool shrank or closed: try again
        }
        return ok ? s : pool.create(true); // failed: make one with its permit, in turn
    }

    /**
     * Gives back whatever was granted to a waiter that no longer wants it, and passes on the
     * wake-up of a waiter signalled (unfair pools) as it gave up: the returner that signalled
     * it woke nobody else, so the object it left idle would otherwise wait for the next
     * return while the next waiter sleeps.
     */
    private void refuse(PoolWaiter<T> w) {
        int st = w.state;
        if (st == PoolWaiter.SIGNALLED) {
            drain();
            return;
        }
        if (st != PoolWaiter.GRANTED) {
            return;
        }
        PoolSlot<T> s = w.slot;
        if (s == null) {
            pool.releasePermit();
        } else {
            pool.giveBack(new PoolLease<>(pool, s, w.stamp, -1));
        }
    }

    private void recordWait(PoolWaiter<T> w) {
        long waited = System.nanoTime() - w.since;
        long prev;
        while (waited > (prev = longestWait.get())) {
            if (longestWait.compareAndSet(prev, waited)) {
                break;
            }
        }
    }

    // ---------------------------------------------------------------------------------
    // Waiting futures

    /**
     * Puts {@code f} in line; it is completed, on the thread that frees an object, when its
     * turn comes, or exceptionally if the pool is or becomes closed. Completing {@code f}
     * any other way (cancel, {@code orTimeout}) gives up its place.
     */
    void join(CompletableFuture<Lease<T>> f) {
        PoolWaiter<T> w;
        ArrayList<PoolWaiter<T>> granted;
        try {
            w = new PoolWaiter<>(null, f);
            granted = enqueue(w);
        } catch (RuntimeException | Error e) {
            f.completeExceptionally(e);
            return;
        }
        f.whenComplete((l, ex) -> {
            if (ex != null) {
                abandon(w);
            }
        });
        deliver(granted, null);
    }

    private void completeAsyncSafely(PoolWaiter<T> w) {
        try {
            completeAsync(w);
        } catch (RuntimeException | Error e) { // a validator threw an Error
            CompletableFuture<Lease<T>> f = w.future;
            if (f != null) {
                f.completeExceptionally(e);
            }
        }
    }

    private void completeAsync(PoolWaiter<T> w) {
        CompletableFuture<Lease<T>> f = w.future;
        if (f == null) {
            throw new AssertionError(w);
        }
        recordWait(w);
        PoolSlot<T> s = w.slot;
        if (s == null) {
            PoolRuntime.creators().execute(() -> createFor(f));
            return;
        }
        Boolean ok = pool.checkedForWaiter(s);
        if (ok == null) {
            pool.borrowInto(f); // failed its checks while the pool shrank or closed
            return;
        }
        if (!ok) { // failed its checks: make one with its permit, keeping f's turn
            PoolRuntime.creators().execute(() -> createFor(f));
            return;
        }
        PoolLease<T> l = pool.lease(s, s.state(), -1);
        if (!f.complete(l)) {
            pool.giveBack(l); // cancelled meanwhile: the next waiter gets it
        }
    }

    /** Runs on a creator thread: makes the object for a future granted a permit. */
    private void createFor(CompletableFuture<Lease<T>> f) {
        if (f.isDone()) {
            pool.releasePermit();
            return;
        }
        PoolLease<T> l;
        try {
            PoolSlot<T> made = pool.create(true);
            l = pool.lease(made, made.state(), -1);
        } catch (RuntimeException | Error e) {
            f.completeExceptionally(e);
            return;
        }
        if (!f.complete(l)) {
            pool.giveBack(l);
        }
    }

    // ---------------------------------------------------------------------------------
    // The queue

    /** Adds {@code w} at the tail, then serves the queue; returns the waiters granted. */
    private @Nullable ArrayList<PoolWaiter<T>> enqueue(PoolWaiter<T> w) {
        pool.lock.lock();
        try {
            int c = pool.ctl;
            if ((c & CLOSED) != 0) {
                throw pool.closed();
            }
            boolean first = queue.isEmpty();
            w.head = first;
            queue.addLast(w);
            pool.ctl = c + 1;
            // Dekker with returners: a slot made idle before they saw waiters is found by
            // the scan of the waiter that made the queue non-empty; any later one is handed
            // to the head by its returner. So in a fair pool only that first waiter scans.
            return first || !pool.fair ? drainLocked() : null;
        } finally {
            pool.lock.unlock();
        }
    }

    /** Removes a waiter that gives up; false if it was granted or closed first. */
    private boolean abandon(PoolWaiter<T> w) {
        pool.lock.lock();
        try {
            if (w.state != PoolWaiter.WAITING) {
                return false;
            }
            queue.remove(w);
            w.state = PoolWaiter.CANCELLED;
            pool.ctl = pool.ctl - 1;
            return true;
        } finally {
            pool.lock.unlock();
        }
    }

    /** Serves waiters oldest first with idle objects and free permits. */
    void drain() {
        ArrayList<PoolWaiter<T>> granted;
        pool.lock.lock();
        try {
            granted = drainLocked();
        } finally {
            pool.lock.unlock();
        }
        deliver(granted, null);
    }

    private @Nullable ArrayList<PoolWaiter<T>> drainLocked() {
        ArrayList<PoolWaiter<T>> granted = null;
        PoolWaiter<T> w;
        while ((w = queue.peekFirst()) != null) {
            PoolSlot<T> s = pool.claimIdle(LENT);
            if (s != null) {
                w.slot = s;
                w.stamp = s.state();
            } else if (pool.reservePermit()) {
                w.slot = null;
            } else {
                break;
            }
            queue.pollFirst();
            w.state = PoolWaiter.GRANTED;
            pool.ctl = pool.ctl - 1;
            if (granted == null) {
                granted = new ArrayList<>(2);
            }
            granted.add(w);
        }
        return granted;
    }

    /**
     * Gives the slot {@code s}, just made idle, to the oldest waiter: one CAS, no scan. This
     * is all a returner owes the queue: a slot that became idle before a waiter arrived is
     * found by that waiter's own scan in {@link #enqueue}, and one that a barger took here
     * is handed over when the barger returns it.
     */
    void handOver(PoolSlot<T> s) {
        PoolWaiter<T> w;
        boolean granted = false;
        pool.lock.lock();
        try {
            w = queue.peekFirst();
            if (w == null) {
                return;
            }
            if (!pool.fair && w.thread != null) {
                // Unfair: leave the slot idle for whoever comes first (maybe the returner
                // itself, borrowing again without parking) and wake the oldest thread to
                // try; it joins the queue again if it loses. Each return wakes a different
                // waiter, so no waiter sleeps while an object stays idle.
                queue.pollFirst();
                w.state = PoolWaiter.SIGNALLED;
                pool.ctl = pool.ctl - 1;
            } else {
                long st = s.state();
                if (st != (st & ~KIND) || !s.casState(st, st | LENT)) {
                    return;
                }
                if (pool.unbounded) {
                    pool.claimedIdle();
                }
                w.slot = s;
                w.stamp = st | LENT;
                queue.pollFirst();
                w.state = PoolWaiter.GRANTED;
                pool.ctl = pool.ctl - 1;
                granted = true;
            }
        } finally {
            pool.lock.unlock();
        }
        Thread t = w.thread;
        if (t != null) {
            LockSupport.unpark(t);
        } else if (granted) {
            completeNow(w);
        }
    }

    /**
     * Marks every waiter CLOSED, adds it to {@code woken} and empties the queue. The caller
     * holds the pool's lock and sets the pool's {@code ctl} to CLOSED, which also clears the
     * waiter count; it then calls {@link #wakeClosed} after unlocking.
     */
    void closeLocked(ArrayList<PoolWaiter<T>> woken) {
        for (PoolWaiter<T> w : queue) {
            w.state = PoolWaiter.CLOSED;
            woken.add(w);
        }
        queue.clear();
    }

    /** Wakes the threads and fails the futures that {@link #closeLocked} took out of line. */
    void wakeClosed(ArrayList<PoolWaiter<T>> woken) {
        for (PoolWaiter<T> w : woken) {
            Thread t = w.thread;
            CompletableFuture<Lease<T>> fut = w.future;
            if (t != null) {
                LockSupport.unpark(t);
            } else if (fut != null) {
                fut.completeExceptionally(pool.closed());
            }
        }
    }

    // ---------------------------------------------------------------------------------
    // Delivery

    /** Wakes granted threads and completes granted futures, outside the lock. */
    private void deliver(@Nullable ArrayList<PoolWaiter<T>> granted,
            @Nullable PoolWaiter<T> self) {
        if (granted == null) {
            return;
        }
        for (PoolWaiter<T> w : granted) {
            if (w == self) {
                continue;
            }
            Thread t = w.thread;
            if (t != null) {
                LockSupport.unpark(t);
            } else {
                completeNow(w);
            }
        }
    }

    /**
     * Completes the granted future of {@code w} now, on this thread, unless this thread is
     * already {@link #MAX_NESTED} completions deep (each dependent that closes its lease
     * completes the next future from inside the previous completion); then it is completed
     * on a shared daemon thread, on a fresh stack. So the stack stays bounded however many
     * futures wait, and a grant is never held back: the dependent that closed a lease may go
     * on to block (on the next future, on {@code borrow()}) while the object it freed is
     * already delivered. A queue drained by the outermost call instead would hold every grant
     * until the running dependent returned, and deadlock a dependent that waits for one.
     */
    private void completeNow(PoolWaiter<T> w) {
        int[] depth = NESTED.get();
        if (depth[0] >= MAX_NESTED) {
            PoolRuntime.creators().execute(() -> completeAsyncSafely(w));
            return;
        }
        depth[0]++;
        try {
            completeAsyncSafely(w);
        } finally {
            depth[0]--;
        }
    }

    /** Completions nested on one thread before the next one moves to a daemon thread. */
    private static final int MAX_NESTED = 32;
    /** This thread's depth of nested completions. */
    private static final ThreadLocal<int[]> NESTED = ThreadLocal.withInitial(() -> new int[1]);
}
