package dev.refkit;

import dev.refkit.internal.Wait;
import dev.refkit.internal.WaitList;
import dev.refkit.internal.VirtualThreads;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;
import org.jspecify.annotations.Nullable;

/**
 * Who may hold an object of a pool: the permits (one per object alive or being made, bounded
 * by {@code maxSize}), the FIFO line of borrowers waiting (parked threads and
 * {@code borrowAsync} futures alike), the closed state, and the control word that sums
 * these up for the fast paths: the waiter count, {@link #CLOSED} and {@link #SHRINK}; zero
 * in the common case, written only here, under the lock.
 *
 * <p>The pool's engine extends it as a synchronizer extends AQS: the line knows only the two
 * hooks it calls outside the lock, its methods are final, and the fast paths read the
 * control word as their own field. The tests drive it through a recording subclass.
 *
 * <p>A waiting thread waits in the library's one park loop ({@link Wait}) by the interrupt
 * rule of {@code dev.refkit.internal}: interrupted, it leaves the line as if it had never
 * joined, and anything granted to it meanwhile is given back. {@link #join()} waits through
 * a {@link WaitList} until the pool is closed and no permit is held.
 *
 * <p><b>Thread safety.</b> Every method may be called from any thread. The queue, every
 * waiter's transition and every write of the control word happen under one
 * {@link ReentrantLock}, so a grant, a timeout, an interrupt, a cancellation and a close
 * decide atomically which one wins. Under the lock this class only claims idle slots (by
 * CAS, through {@link PoolSlots}) and reserves permits; it never runs user code or
 * completes a future there: granted threads are unparked, and granted futures handed to
 * {@link #complete}, after the lock is released. Threads park with
 * {@link LockSupport}, so virtual threads never pin.
 *
 * <p><b>Memory consistency effects.</b> A grant writes the waiter's slot and stamp, then its
 * volatile state, under the lock; the waiter reads the state first, so it sees the slot,
 * which was moved to LENT by a CAS that follows its returner's release of it. Releasing the
 * last permit after close happens-before {@link #join()} returns.
 */
abstract class PoolLine<T> {
    /** Bit of {@link #ctl()}: closed. */
    static final int CLOSED = 1 << 30;
    /** Bit of {@link #ctl()}: more objects alive than {@code maxSize}. */
    static final int SHRINK = 1 << 29;
    /** Bits of {@link #ctl()}: the number of waiters. */
    static final int WAITERS = SHRINK - 1;

    /** Spins of the first platform-thread waiter in line before it parks. */
    private static final int SPINS = 1 << 9;
    /** Yields (never spins: that holds a carrier) of the first virtual waiter before it parks. */
    private static final int VIRTUAL_YIELDS = 16;

    /** The pool's name, fairness and slots, given at construction; read by the subclass too. */
    final String name;
    final boolean fair;
    final PoolSlots<T> slots;
    /** What waiting threads park on, shown by thread dumps. */
    private final Object blocker;

    /** The waiter count, {@link #CLOSED} and {@link #SHRINK}; written under {@link #lock}. */
    private volatile int ctl;
    /** Permits held: objects alive plus objects being made. */
    private volatile int size;
    /** The bound on {@link #size}; 0 for none. */
    private volatile int maxSize;
    private volatile int retiring; // permits of surplus objects being destroyed; under lock

    /** Guards the queue, waiter transitions, {@link #ctl} writes; tests hold it to force races. */
    final ReentrantLock lock = new ReentrantLock();
    /** Waiting borrowers, oldest first; guarded by {@link #lock}. */
    private final ArrayDeque<PoolWaiter<T>> queue = new ArrayDeque<>();
    /** Threads in {@link #join()}. */
    private final WaitList joiners = new WaitList();
    private final BooleanSupplier terminated = this::isTerminated;

    /**
     * An open line with no permit held.
     *
     * @param name the pool's name, for messages
     * @param maxSize the bound on permits, 0 for none
     * @param fair whether a returned object goes to the oldest waiter before anyone else
     * @param slots the pool's slots, from which waiters are granted idle ones
     * @param blocker what waiting threads park on
     */
    PoolLine(String name, int maxSize, boolean fair, PoolSlots<T> slots, Object blocker) {
        this.name = name;
        this.maxSize = maxSize;
        this.fair = fair;
        this.slots = slots;
        this.blocker = blocker;
    }

    /** Outside the lock: completes the future of {@code w}, granted; may throw (it fails). */
    abstract void complete(PoolWaiter<T> w);

    /** Outside the lock: takes back {@code s}, LENT under {@code stamp} to a quitter. */
    abstract void giveBackUnused(PoolSlot<T> s, long stamp);

    // ---------------------------------------------------------------------------------
    // The control word

    /** {@return the control word: zero unless waiters, close or a shrink need attention} */
    final int ctl() {
        return ctl;
    }

    /** {@return whether {@link #markClosed()} has run} */
    final boolean isClosed() {
        return (ctl & CLOSED) != 0;
    }

    /** {@return whether the pool is closed and no permit is held: every object destroyed} */
    final boolean isTerminated() {
        return (ctl & CLOSED) != 0 && size == 0;
    }

    /** {@return the waiters in line now} */
    final int waiting() {
        return ctl & WAITERS;
    }

    /** {@return what a borrow throws, or a waiting future fails with, once closed} */
    final ClosedException closed() {
        return new ClosedException(name + ": pool closed");
    }

    /** Under the lock: one more waiter. */
    private void waiterJoined() {
        ctl = ctl + 1;
    }

    /** Under the lock: one waiter fewer. */
    private void waiterLeft() {
        ctl = ctl - 1;
    }

    // ---------------------------------------------------------------------------------
    // Permits

    /** {@return the permits held} */
    final int size() {
        return size;
    }

    /** {@return the bound on permits, 0 for none} */
    final int maxSize() {
        return maxSize;
    }

    /**
     * Reserves a permit to make one object: true if there was room.
     *
     * <p>Dekker with {@link #setBound} and {@link #markClosed()}: each writes its word
     * ({@code maxSize}, {@code ctl}) and then reads {@code size}; this CASes {@code size} and
     * then reads both words again. So either that writer sees the permit (and shrinks, or
     * waits for it before the pool terminates) or this sees the new word and hands the
     * permit back: a permit is never kept against an old bound, nor reserved after close
     * counted the pool empty.
     *
     * @throws ClosedException if the pool is closed
     */
    final boolean reservePermit() {
        for (;;) {
            int n = size;
            int max = maxSize;
            if (max != 0 && n >= max) {
                return false;
            }
            if (SIZE.compareAndSet(this, n, n + 1)) {
                int c = ctl;
                int maxNow = maxSize;
                if ((c & CLOSED) != 0) {
                    unreserve();
                    throw closed();
                }
                if (maxNow != 0 && n >= maxNow) {
                    unreserve(); // the bound came down meanwhile
                    return false;
                }
                return true;
            }
        }
    }

    /**
     * Hands back a permit {@link #reservePermit} just took and may not keep; under the lock
     * (from {@link #drainLocked}) it does not drain again: that caller drains, and a racing
     * releaser blocks on the lock and drains after it.
     */
    private void unreserve() {
        releasePermit(!lock.isHeldByCurrentThread());
    }

    /**
     * Frees a permit: its object is destroyed, or was never made. Serves waiters, clears
     * {@link #SHRINK} once the pool fits, and wakes {@link #join()} once closed and empty.
     */
    final void releasePermit() {
        releasePermit(true);
    }

    /**
     * Claims the permit of an object the caller owns, to destroy it, while more are held than
     * the bound allows; held (no object made in its place) until {@link #releaseRetiredPermit()}
     * after the destroyer, but not counted by {@link #fits()}. False: the pool fits, keep it.
     */
    final boolean claimSurplusPermit() {
        lock.lock();
        try {
            int max = maxSize;
            if (max == 0 || size - retiring <= max) {
                return false;
            }
            retiring = retiring + 1;
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** Frees a permit {@link #claimSurplusPermit()} claimed, once its object is destroyed. */
    final void releaseRetiredPermit() {
        int n;
        lock.lock();
        try {
            retiring = retiring - 1; // first: fits() may see the pool fuller, never emptier
            n = (int) SIZE.getAndAdd(this, -1) - 1;
        } finally {
            lock.unlock();
        }
        afterRelease(n, true);
    }

    private void releasePermit(boolean drain) {
        afterRelease((int) SIZE.getAndAdd(this, -1) - 1, drain);
    }

    /** After a permit was released, leaving {@code n}: clear SHRINK, drain, wake joiners. */
    private void afterRelease(int n, boolean drain) {
        int c = ctl;
        if (c == 0) {
            return;
        }
        if ((c & SHRINK) != 0 && n <= maxSize) {
            clearShrink();
        }
        if (drain && (c & WAITERS) != 0) {
            drain();
        }
        // Read size again after CLOSED: the n == 0 seen above may predate close(), and a
        // permit reserved since, by a borrower that saw the pool open, is still held.
        if ((c & CLOSED) != 0 && n == 0 && size == 0) {
            joiners.wakeAll();
        }
    }

    /**
     * Sets the bound; marks {@link #SHRINK} if more permits are held than it allows. The
     * caller then destroys idle objects while {@link #fits()} is false, and calls
     * {@link #drain()}.
     *
     * @throws ClosedException if the pool is closed
     */
    final void setBound(int newMaxSize) {
        lock.lock();
        try {
            if ((ctl & CLOSED) != 0) {
                throw closed();
            }
            maxSize = newMaxSize;
            if (size > newMaxSize) {
                ctl = ctl | SHRINK;
            }
        } finally {
            lock.unlock();
        }
    }

    /** {@return whether the permits held are within the bound} */
    final boolean fits() {
        int max = maxSize;
        return max == 0 || size - retiring <= max;
    }

    /** Clears {@link #SHRINK} once the pool fits its bound again. */
    final void clearShrink() {
        lock.lock();
        try {
            if (size <= maxSize) {
                ctl = ctl & ~SHRINK;
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Adds {@code s}, a slot just made, unless closed (false); under the lock, so that
     * {@link #markClosed()} comes after the slot is there (close finds it) or before.
     */
    final boolean addUnlessClosed(PoolSlot<T> s) {
        lock.lock();
        try {
            if ((ctl & CLOSED) != 0) {
                return false;
            }
            slots.add(s);
            return true;
        } finally {
            lock.unlock();
        }
    }

    // ---------------------------------------------------------------------------------
    // Waiting threads

    /**
     * Joins the line as the current thread and waits until it is granted, signalled,
     * closed, timed out or interrupted.
     *
     * @param nanos the longest wait, or -1 for no limit
     * @param timeout the timeout as the caller gave it, for the message
     * @param method the public method that waits, for the interrupt message
     * @return the waiter, GRANTED a slot ({@code slot}, LENT under {@code stamp}) or a permit
     *     ({@code slot} null); null if it was only woken to try again (unfair pools)
     * @throws InterruptedException if the thread is interrupted on entry or while it waits;
     *     it then holds no place in line, and anything granted meanwhile is given back
     * @throws TimeoutException if {@code nanos} pass first
     * @throws ClosedException if the pool is closed, or closes while the thread waits
     */
    final @Nullable PoolWaiter<T> await(long nanos, @Nullable Duration timeout, String method)
            throws InterruptedException, TimeoutException {
        PoolWaiter<T> w = PoolWaiter.forThread();
        deliver(enqueue(w), w);
        Parked p = new Parked(w);
        try {
            if (nanos < 0) {
                p.await(blocker, name, method);
            } else if (!p.awaitNanos(nanos, blocker, name, method)) {
                throw timeout(timeout);
            }
        } catch (InterruptedException e) {
            p.giveUp(); // also when the loop's entry check threw, before onInterrupt could run
            throw e;
        }
        PoolWaiter.State st = w.state();
        switch (st) {
            case CLOSED:
                throw closed();
            case SIGNALLED:
                return null;
            case GRANTED:
                return w;
            default:
                throw new AssertionError(st);
        }
    }

    /** What a timed borrow throws when {@code timeout} passes: names the size and waiters. */
    final TimeoutException timeout(@Nullable Duration timeout) {
        return new TimeoutException(name + ": no object free within " + timeout + " (size "
                + size + " of " + maxSize + ", " + (ctl & WAITERS) + " waiting)");
    }

    /** One thread's wait in line, run by the library's park loop. */
    private final class Parked extends Wait {
        private final PoolWaiter<T> w;
        private boolean gaveUp;

        Parked(PoolWaiter<T> w) {
            this.w = w;
        }

        @Override
        protected boolean isDone() {
            return w.state() != PoolWaiter.State.WAITING;
        }

        @Override
        protected int spins() {
            if (!w.head) {
                return 0;
            }
            return VirtualThreads.isVirtual(thread()) ? VIRTUAL_YIELDS : SPINS;
        }

        @Override
        protected void onInterrupt() {
            giveUp();
        }

        @Override
        protected boolean onTimeout() {
            return abandon(w); // false: granted or closed meanwhile, so take it
        }

        /** Leaves the line, giving back a grant that came first; once. */
        void giveUp() {
            if (!gaveUp) {
                gaveUp = true;
                if (!abandon(w)) {
                    refuse(w);
                }
            }
        }
    }

    /**
     * Gives back whatever was granted to a waiter that no longer wants it, and passes on the
     * wake-up of a waiter signalled (unfair pools) as it gave up: the returner that signalled
     * it woke nobody else, so the object it left idle would otherwise wait for the next
     * return while the next waiter sleeps.
     */
    private void refuse(PoolWaiter<T> w) {
        PoolWaiter.State st = w.state();
        if (st == PoolWaiter.State.SIGNALLED) {
            drain();
            return;
        }
        if (st != PoolWaiter.State.GRANTED) {
            return;
        }
        PoolSlot<T> s = w.slot;
        if (s == null) {
            releasePermit();
        } else {
            giveBackUnused(s, w.stamp);
        }
    }

    // ---------------------------------------------------------------------------------
    // Waiting futures

    /**
     * Puts {@code f} in line; it is completed, through {@link #complete}, when its
     * turn comes, or exceptionally if the pool is or becomes closed. Completing {@code f}
     * any other way (cancel, {@code orTimeout}) gives up its place.
     */
    final void enqueue(CompletableFuture<Lease<T>> f) {
        PoolWaiter<T> w;
        ArrayList<PoolWaiter<T>> granted;
        try {
            w = PoolWaiter.forFuture(f);
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

    // ---------------------------------------------------------------------------------
    // The queue

    /** Adds {@code w} at the tail, then serves the queue; returns the waiters granted. */
    private @Nullable ArrayList<PoolWaiter<T>> enqueue(PoolWaiter<T> w) {
        lock.lock();
        try {
            if ((ctl & CLOSED) != 0) {
                throw closed();
            }
            boolean first = queue.isEmpty();
            w.head = first;
            queue.addLast(w);
            waiterJoined();
            // Dekker with returners: a slot made idle before they saw waiters is found by
            // the scan of the waiter that made the queue non-empty; any later one is handed
            // to the head by its returner. So in a fair pool only that first waiter scans.
            return first || !fair ? drainLocked() : null;
        } finally {
            lock.unlock();
        }
    }

    /** Takes out a waiter that gives up; false if it was granted, signalled or closed first. */
    private boolean abandon(PoolWaiter<T> w) {
        lock.lock();
        try {
            if (w.state() != PoolWaiter.State.WAITING) {
                return false;
            }
            queue.remove(w);
            w.cancel();
            waiterLeft();
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** Serves waiters oldest first with idle objects and free permits. */
    final void drain() {
        ArrayList<PoolWaiter<T>> granted;
        lock.lock();
        try {
            granted = drainLocked();
        } finally {
            lock.unlock();
        }
        deliver(granted, null);
    }

    private @Nullable ArrayList<PoolWaiter<T>> drainLocked() {
        ArrayList<PoolWaiter<T>> granted = null;
        PoolWaiter<T> w;
        while ((w = queue.peekFirst()) != null) {
            PoolSlot<T> s = slots.lendAny(PoolSlots.stripe());
            if (s != null) {
                w.grantSlot(s, s.state());
            } else if (reservePermit()) {
                w.grantPermit();
            } else {
                break;
            }
            queue.pollFirst();
            waiterLeft();
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
    final void handOver(PoolSlot<T> s) {
        PoolWaiter<T> w;
        boolean granted = false;
        lock.lock();
        try {
            w = queue.peekFirst();
            if (w == null) {
                return;
            }
            if (!fair && w.thread != null) {
                // Unfair: leave the slot idle for whoever comes first (maybe the returner
                // itself, borrowing again without parking) and wake the oldest thread to
                // try; it joins the queue again if it loses. Each return wakes a different
                // waiter, so no waiter sleeps while an object stays idle.
                queue.pollFirst();
                w.signal();
                waiterLeft();
            } else {
                long stamp = slots.lend(s);
                if (stamp == PoolSlot.NONE) {
                    return;
                }
                queue.pollFirst();
                w.grantSlot(s, stamp);
                waiterLeft();
                granted = true;
            }
        } finally {
            lock.unlock();
        }
        Thread t = w.thread;
        if (t != null) {
            LockSupport.unpark(t);
        } else if (granted) {
            PoolRuntime.completeNested(() -> completeSafely(w));
        }
    }

    // ---------------------------------------------------------------------------------
    // Closing

    /**
     * Closes the line: sets {@link #CLOSED} (clearing the waiter count) and takes every
     * waiter out of line, marked CLOSED; the caller wakes them with {@link #wakeClosed}.
     *
     * @return the waiters taken out, or null if the line was closed already
     */
    final @Nullable ArrayList<PoolWaiter<T>> markClosed() {
        lock.lock();
        try {
            if ((ctl & CLOSED) != 0) {
                return null;
            }
            ArrayList<PoolWaiter<T>> woken = new ArrayList<>(queue.size());
            for (PoolWaiter<T> w : queue) {
                w.markClosed();
                woken.add(w);
            }
            queue.clear();
            ctl = CLOSED;
            return woken;
        } finally {
            lock.unlock();
        }
    }

    /** Wakes the threads and fails the futures that {@link #markClosed()} took out of line. */
    final void wakeClosed(ArrayList<PoolWaiter<T>> woken) {
        for (PoolWaiter<T> w : woken) {
            Thread t = w.thread;
            CompletableFuture<Lease<T>> fut = w.future;
            if (t != null) {
                LockSupport.unpark(t);
            } else if (fut != null) {
                fut.completeExceptionally(closed());
            }
        }
    }

    /** After close has destroyed the idle objects: wakes {@link #join()} if none is left. */
    final void terminateIfEmpty() {
        if (size == 0) {
            joiners.wakeAll();
        }
    }

    /**
     * Waits until the pool is closed and every permit released.
     *
     * @throws InterruptedException {@code "NAME: interrupted in join()"}, by the interrupt rule
     */
    final void join() throws InterruptedException {
        joiners.await(terminated, blocker, name, "join()");
    }

    /**
     * Waits at most {@code nanos} until the pool is closed and every permit released.
     *
     * @return true if it was, false if the time passed first
     * @throws InterruptedException {@code "NAME: interrupted in join()"}, by the interrupt rule
     */
    final boolean join(long nanos) throws InterruptedException {
        return joiners.awaitNanos(terminated, nanos, blocker, name, "join()");
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
                PoolRuntime.completeNested(() -> completeSafely(w));
            }
        }
    }

    private void completeSafely(PoolWaiter<T> w) {
        try {
            complete(w);
        } catch (RuntimeException | Error e) { // a validator threw an Error
            CompletableFuture<Lease<T>> f = w.future;
            if (f != null) {
                f.completeExceptionally(e);
            }
        }
    }

    @Override
    public String toString() {
        int c = ctl;
        return "PoolLine[" + name + "]{" + ((c & CLOSED) != 0 ? "CLOSED" : "OPEN")
                + ", size=" + size + ", maxSize=" + maxSize + ", waiting=" + (c & WAITERS)
                + ((c & SHRINK) != 0 ? ", shrinking" : "") + "}";
    }

    // VarHandle mechanics
    private static final VarHandle SIZE;

    static {
        try {
            SIZE = MethodHandles.lookup().findVarHandle(PoolLine.class, "size", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }
}
