package dev.refkit;

import static dev.refkit.PoolLine.CLOSED;
import static dev.refkit.PoolLine.SHRINK;
import static dev.refkit.PoolLine.WAITERS;
import static dev.refkit.PoolSlot.NONE;

import dev.refkit.internal.Failures;
import dev.refkit.internal.Interrupts;
import java.lang.ref.Cleaner;
import java.time.Duration;
import java.util.ArrayList;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * The lending engine behind a pool's public face: borrowing (this thread's hint, any idle
 * object, a new one, or a wait in line), returning, making and destroying, closing and
 * upkeep. It owns the per-thread hints; the slot states are {@link PoolSlot}'s, the idle
 * count {@link PoolSlots}', the permits, line and control word those of {@link PoolLine},
 * which this class extends (it only calls the line's final methods and implements its two
 * hooks), the user code and its counters {@link PoolHooks}'.
 *
 * <p>Fast paths: a borrow tests the control word (zero unless waiters, close or a shrink
 * need attention) and CASes this thread's hint from IDLE to LENT (through {@link PoolSlots}
 * only in an unbounded pool, which counts idle objects); a plain return CASes it
 * to IDLE of the next generation and tests the control word again.
 *
 * <p><b>Thread safety.</b> Every method may be called from any thread; user code never runs
 * under a lock. The hints are racy by design: a stale hint costs one failed CAS.
 *
 * <p><b>Memory consistency effects.</b> A return (the CAS to IDLE) happens-before the next
 * borrower's CAS that takes the object; making one happens-before its first borrower gets it.
 */
final class PoolCore<T> extends PoolLine<T> {
    /** Hint stripes lie this many references apart, so that no two share a cache line. */
    private static final int STRIPE_SPACING = 16;

    /**
     * How a lease ends: {@code RETURN} by {@code close()} (reset, made idle), {@code UNUSED}
     * never used (a grant given up, a future completed elsewhere: made idle),
     * {@code INVALIDATE} by {@code invalidate()} (destroyed).
     */
    enum End { RETURN, UNUSED, INVALIDATE }

    /**
     * What a waiter granted an object it must check holds after the check: {@code LEND} it
     * passed; {@code MAKE} it failed and was destroyed, its permit is the waiter's;
     * {@code RETRY} it failed while the pool shrank or closed, nothing held.
     */
    private enum Checked { LEND, MAKE, RETRY }

    private final PoolHooks<T> hooks;
    /** Whether {@link #slots} counts idle objects (unbounded pools): see {@link #tryHot}. */
    private final boolean counted;
    private final int minIdle;
    private final boolean leakDetection;
    /** No check at all before lending an idle object. */
    private final boolean lendPlain;
    /** A return is one CAS to IDLE. */
    private final boolean returnPlain;
    /** Per-thread hints: the slot each stripe of threads returned last. Racy by design. */
    private final @Nullable PoolSlot<T>[] hot;
    private final Consumer<PoolSlot<T>> destroyAction = this::destroy;
    private volatile @Nullable ScheduledFuture<?> upkeep;

    /**
     * An open, empty engine ({@code maxSize} 0 for no bound; {@code blocker}: what waiting
     * threads park on); call {@link #startUpkeep()} once it is constructed.
     */
    @SuppressWarnings("unchecked")
    PoolCore(String name, PoolHooks<T> hooks, int maxSize, int maxIdle, int minIdle,
            boolean fair, boolean leakDetection, Object blocker) {
        super(name, maxSize, fair, new PoolSlots<>(maxSize == 0, maxIdle), blocker);
        boolean unbounded = maxSize == 0;
        this.hooks = hooks;
        this.counted = unbounded;
        this.minIdle = minIdle;
        this.leakDetection = leakDetection;
        this.lendPlain = !hooks.checksBeforeLending();
        this.returnPlain = !hooks.worksOnReturn() && !unbounded && !leakDetection;
        this.hot = (PoolSlot<T>[]) new PoolSlot<?>[PoolSlots.STRIPES * STRIPE_SPACING];
    }

    // ---------------------------------------------------------------------------------
    // Borrowing

    /**
     * A borrow that may wait: checks the interrupt flag on entry, then {@link #lend}s.
     * {@code nanos}: the longest wait, 0 for none, negative for no limit.
     */
    Lease<T> borrow(long nanos, @Nullable Duration timeout, String method)
            throws InterruptedException, TimeoutException {
        Interrupts.throwIfInterrupted(name, method);
        Lease<T> l = lend(nanos, timeout, method);
        if (l == null) {
            hooks.countTimeout();
            throw timeout(timeout);
        }
        return l;
    }

    /** A borrow that never waits; null if nothing is free now. */
    @Nullable Lease<T> tryBorrow() {
        try {
            return lend(0L, null, "tryBorrow()");
        } catch (InterruptedException | TimeoutException e) {
            throw new AssertionError(e); // lend(0) never waits
        }
    }

    /** Completes {@code f} now if it can, else puts it in line (see {@code borrowAsync}). */
    void borrowInto(CompletableFuture<Lease<T>> f) {
        Lease<T> l;
        try {
            l = tryBorrow();
        } catch (RuntimeException | Error e) {
            f.completeExceptionally(e);
            return;
        }
        if (l == null) {
            enqueue(f);
        } else if (!f.complete(l)) {
            ((Loan<T>) l).end(End.UNUSED);
        }
    }

    /**
     * The one borrow every public borrow runs: one CAS on this thread's hint, else any idle
     * object or a new one if there is room, else (unless {@code nanos} is 0) a wait in line.
     * The lease is made at one allocation site, so escape analysis can remove it; on the
     * hint path its stamp comes from the read before the CAS, so the return's CAS waits on
     * no load.
     *
     * @return the lease, or null if {@code nanos} is 0 and nothing was free
     */
    private @Nullable Lease<T> lend(long nanos, @Nullable Duration timeout, String method)
            throws InterruptedException, TimeoutException {
        int i = PoolSlots.stripe() * STRIPE_SPACING;
        PoolSlot<T> s = hot[i];
        long stamp = s == null ? NONE : tryHot(s);
        if (stamp != NONE) {
            i = -1; // came from the hint: nothing to update on return
        } else {
            s = nanos == 0L ? acquireNow() : acquireOrWait(nanos, timeout, method);
            if (s == null) {
                return null;
            }
            stamp = s.state();
        }
        return loan(s, stamp, i);
    }

    /** Wraps a slot LENT to the caller under {@code stamp} in a lease, watched for leaks. */
    private Loan<T> loan(PoolSlot<T> s, long stamp, int hint) {
        Loan<T> l = new Loan<>(this, s, stamp, hint);
        if (leakDetection) {
            l.cleanable = PoolLeak.watch(l, name, s, stamp, destroyAction);
        }
        return l;
    }

    /**
     * One CAS on {@code s}, this thread's hint: the lease's stamp (LENT to the caller, checked)
     * or {@link PoolSlot#NONE}. Throws {@link ClosedException} if the pool is closed.
     */
    private long tryHot(PoolSlot<T> s) {
        int c = ctl();
        if (c != 0) {
            if ((c & CLOSED) != 0) {
                throw closed();
            }
            if (fair && (c & WAITERS) != 0) {
                return NONE;
            }
        }
        boolean plain = lendPlain; // read before the CAS, which orders every later load
        long stamp = counted ? slots.lend(s) : s.idleToLent();
        if (stamp == NONE || plain) {
            return stamp;
        }
        return checked(s) ? stamp : NONE;
    }

    /** Any idle object, else a new one if there is room; null if neither, never waits. */
    private @Nullable PoolSlot<T> acquireNow() {
        for (;;) {
            int c = ctl();
            if ((c & CLOSED) != 0) {
                throw closed();
            }
            if (fair && (c & WAITERS) != 0) {
                return null;
            }
            PoolSlot<T> s = slots.lendAny(PoolSlots.stripe());
            if (s == null) {
                break;
            }
            if (checked(s)) {
                return s;
            }
        }
        if (!reservePermit()) {
            return null;
        }
        return create(true);
    }

    /** Returns a slot LENT to the caller and checked, waiting in line as long as it takes. */
    private PoolSlot<T> acquireOrWait(long nanos, @Nullable Duration timeout, String method)
            throws InterruptedException, TimeoutException {
        long deadline = nanos > 0L ? System.nanoTime() + nanos : 0L;
        long left = nanos;
        for (;;) {
            PoolSlot<T> s = acquireNow();
            if (s != null) {
                return s;
            }
            if (nanos > 0L && left <= 0L) {
                hooks.countTimeout();
                throw timeout(timeout);
            }
            PoolWaiter<T> w;
            try {
                w = await(nanos > 0L ? left : -1L, timeout, method);
            } catch (TimeoutException e) {
                hooks.countTimeout();
                throw e;
            }
            if (w != null) {
                hooks.recordWait(w.since);
                if ((s = take(w)) != null) {
                    return s;
                }
            }
            left = deadline - System.nanoTime();
        }
    }

    /** Turns a grant into a lendable slot; null if the granted object failed its checks. */
    private @Nullable PoolSlot<T> take(PoolWaiter<T> w) {
        PoolSlot<T> s = w.slot;
        if (s == null) {
            return create(true);
        }
        switch (checkedForWaiter(s)) {
            case LEND:
                return s;
            case MAKE:
                return create(true); // with its permit, keeping its turn
            default:
                return null;
        }
    }

    /** Checks an object the caller owns before lending it; destroys it if it fails. */
    private boolean checked(PoolSlot<T> s) {
        if (lendPlain || lendable(s)) {
            return true;
        }
        destroy(s);
        return false;
    }

    /** {@link PoolHooks#lendable}, destroying {@code s} before an Error goes on. */
    private boolean lendable(PoolSlot<T> s) {
        try {
            return hooks.lendable(s);
        } catch (Error e) {
            destroy(s);
            throw e;
        }
    }

    /**
     * For a waiter granted {@code s} (LENT to it): whether {@code s} passes its checks.
     * Otherwise destroys it and keeps its permit for the waiter, which then makes an object
     * in its place and so keeps its turn (freeing the permit would serve the head of the
     * queue, behind which the waiter would join again); unless the pool shrank or closed
     * meanwhile, when the permit is freed.
     *
     * @throws Error if the validator or destroyer threw one; nothing is then held
     */
    private Checked checkedForWaiter(PoolSlot<T> s) {
        if (lendPlain || lendable(s)) {
            return Checked.LEND;
        }
        try {
            destroyKeepingPermit(s);
        } catch (Error e) {
            releasePermit();
            throw e;
        }
        if (isClosed() || !fits()) {
            releasePermit();
            return Checked.RETRY;
        }
        return Checked.MAKE;
    }

    // ---------------------------------------------------------------------------------
    // Grants the line hands over

    /** Completes a granted future; runs outside the line's lock. */
    @Override
    void complete(PoolWaiter<T> w) {
        CompletableFuture<Lease<T>> f = w.future;
        if (f == null) {
            throw new AssertionError(w);
        }
        hooks.recordWait(w.since);
        PoolSlot<T> s = w.slot;
        if (s == null) {
            PoolRuntime.creators().execute(() -> createFor(f));
            return;
        }
        switch (checkedForWaiter(s)) {
            case RETRY:
                borrowInto(f);
                return;
            case MAKE:
                PoolRuntime.creators().execute(() -> createFor(f));
                return;
            default:
                Loan<T> l = loan(s, s.state(), -1);
                if (!f.complete(l)) {
                    l.end(End.UNUSED); // cancelled meanwhile: the next waiter gets it
                }
        }
    }

    @Override
    void giveBackUnused(PoolSlot<T> s, long stamp) {
        giveBack(s, stamp, -1, null, End.UNUSED);
    }

    /** Runs on a creator thread: makes the object for a future granted a permit. */
    private void createFor(CompletableFuture<Lease<T>> f) {
        if (f.isDone()) {
            releasePermit();
            return;
        }
        Loan<T> l;
        try {
            PoolSlot<T> made = create(true);
            l = loan(made, made.state(), -1);
        } catch (RuntimeException | Error e) {
            f.completeExceptionally(e);
            return;
        }
        if (!f.complete(l)) {
            l.end(End.UNUSED);
        }
    }

    // ---------------------------------------------------------------------------------
    // Making and destroying

    /**
     * Makes an object with a permit the caller holds; the new slot is LENT to the caller or
     * IDLE. On failure the permit is freed and the factory's exception thrown.
     *
     * @throws ClosedException if the pool closed while the factory ran (object destroyed)
     */
    private PoolSlot<T> create(boolean lent) {
        T obj;
        try {
            obj = hooks.make();
        } catch (RuntimeException | Error e) {
            releasePermit();
            throw e;
        }
        PoolSlot<T> s = new PoolSlot<>(obj, hooks.birthTime(), lent);
        if (!addUnlessClosed(s)) {
            destroy(s); // never published: the caller owns it
            throw closed();
        }
        return s;
    }

    /** Destroys an object whose slot the caller owns; frees slot and permit even if it throws. */
    private void destroy(PoolSlot<T> s) {
        try {
            destroyKeepingPermit(s);
        } finally {
            releasePermit();
        }
    }

    /** As {@link #destroy}, for an object whose surplus permit the caller claimed. */
    private void destroySurplus(PoolSlot<T> s) {
        try {
            destroyKeepingPermit(s);
        } finally {
            releaseRetiredPermit();
        }
    }

    /**
     * Destroys an object whose slot the caller owns and frees the slot, but keeps its permit
     * for the caller, who must make an object with it or release it. Throws only an
     * {@link Error} from the destroyer (the permit is then still the caller's).
     */
    private void destroyKeepingPermit(PoolSlot<T> s) {
        long borrows = s.markDead();
        slots.remove(s);
        for (int i = 0; i < hot.length; i += STRIPE_SPACING) {
            if (hot[i] == s) {
                hot[i] = null;
            }
        }
        hooks.destroy(s.object, borrows);
    }

    // ---------------------------------------------------------------------------------
    // Returning

    /**
     * Ends the lease on {@code s} lent under {@code stamp}, {@code how} it says; does nothing
     * if the lease is no longer current. A plain return ({@link End#RETURN} or
     * {@link End#UNUSED} when nothing runs on return) is one CAS to IDLE and one volatile
     * read, kept small so that it inlines into the caller's try-with-resources.
     *
     * @param hint the hint stripe to point at {@code s}, or -1
     * @param watch the lease's leak-detector registration, or null
     */
    void giveBack(PoolSlot<T> s, long stamp, int hint, Cleaner.@Nullable Cleanable watch,
            End how) {
        if (returnPlain && how != End.INVALIDATE) {
            if (s.lentToIdle(stamp)) {
                if (hint >= 0 && hot[hint] != s) {
                    hot[hint] = s;
                }
                if (ctl() != 0) {
                    afterIdle(s);
                }
            }
            return;
        }
        if (!s.lentToBusy(stamp)) {
            return;
        }
        PoolLeak.stopWatch(watch);
        if (how == End.INVALIDATE) {
            destroy(s);
            return;
        }
        boolean kept;
        try {
            kept = hooks.returned(s, how == End.RETURN);
        } catch (Error e) {
            destroy(s);
            throw e;
        }
        if (!kept || !slots.reserveIdle()) {
            destroy(s);
            return;
        }
        s.busyToIdle();
        if (hint >= 0 && hot[hint] != s) {
            hot[hint] = s;
        }
        if (ctl() != 0) {
            afterIdle(s);
        }
    }

    /** A slot just became idle while the control word was non-zero: close, shrink or waiters. */
    private void afterIdle(PoolSlot<T> s) {
        for (;;) {
            int c = ctl();
            if ((c & (CLOSED | SHRINK)) == SHRINK && fits()) {
                clearShrink(); // a racing destroy fitted the pool before SHRINK was set
            } else if ((c & CLOSED) != 0) {
                if (slots.take(s)) {
                    destroy(s);
                }
                return;
            } else if ((c & SHRINK) != 0) {
                if (!slots.take(s)) {
                    return;
                } else if (claimSurplusPermit()) {
                    destroySurplus(s);
                    return;
                }
                s.busyToIdle(); // a racing destroy fitted the pool: idle again, look again
                continue;
            }
            if ((c & WAITERS) != 0) {
                handOver(s);
            }
            return;
        }
    }

    // ---------------------------------------------------------------------------------
    // Size, upkeep, stats, closing

    /** Sets the bound, destroys idle objects until the pool fits, then serves waiters. */
    void setMaxSize(int newMaxSize) {
        setBound(newMaxSize);
        Error failure;
        try {
            failure = destroyIdle(true);
        } finally {
            drain();
        }
        if (failure != null) {
            throw failure;
        }
    }

    /**
     * Destroys idle objects: all, or ({@code surplusOnly}) each one {@link #claimSurplusPermit}
     * allows. A destroyer's Error does not stop it (slot freed first): the first is returned.
     */
    private @Nullable Error destroyIdle(boolean surplusOnly) {
        Error failure = null;
        for (PoolSlot<T> s : slots.all()) {
            if (surplusOnly && fits()) {
                break;
            }
            try {
                if (!slots.take(s)) {
                    continue;
                } else if (!surplusOnly) {
                    destroy(s);
                } else if (claimSurplusPermit()) {
                    destroySurplus(s);
                } else {
                    s.busyToIdle(); // the pool fits after all
                    afterIdle(s);
                    break;
                }
            } catch (Error e) {
                failure = Failures.firstFailure(failure, e);
            }
        }
        return failure;
    }

    /** {@return the idle count kept for an unbounded pool's {@code maxIdle}; for tests} */
    int idleCount() {
        return slots.idleCount();
    }

    /** Schedules background upkeep if {@code minIdle} or an expiry asks for it. */
    void startUpkeep() {
        long period = PoolUpkeep.periodNanos(hooks.maxIdleNanos(), hooks.maxLifetimeNanos(),
                minIdle);
        if (period < 0) {
            return;
        }
        ScheduledFuture<?> f = PoolUpkeep.start(this, PoolCore::maintain, period);
        upkeep = f;
        if (isClosed()) { // Dekker with close(): it sets CLOSED, then reads upkeep
            f.cancel(false);
        }
    }

    /**
     * One round of upkeep: sweeps expired idle objects (each slot's state is read before its
     * times, so a return after the read makes the CAS fail), then tops up {@code minIdle}.
     * An exception is logged at WARN; the next round tries again.
     *
     * @throws Error if the factory or destroyer threw one, logged at ERROR, once every slot
     *     and permit the round held is freed: on the upkeep thread this ends the task
     */
    void maintain() {
        try {
            if (hooks.maxIdleNanos() >= 0 || hooks.maxLifetimeNanos() >= 0) {
                long now = hooks.now();
                for (PoolSlot<T> s : slots.all()) {
                    long st = s.state();
                    if (hooks.expired(s, now) && slots.take(s, st)) {
                        destroy(s);
                    }
                }
            }
            while (!isClosed() && slots.countIdle() < minIdle && reservePermit()) {
                PoolSlot<T> s = create(false);
                if (ctl() != 0) {
                    afterIdle(s);
                }
            }
        } catch (ClosedException e) {
            // closed meanwhile: nothing to keep up
        } catch (RuntimeException e) {
            PoolRuntime.LOG.warn("{}: background upkeep failed", name, e);
        } catch (Error e) {
            PoolRuntime.LOG.error("{}: background upkeep failed with an Error; upkeep stops",
                    name, e);
            throw e;
        }
    }

    /** A snapshot of the counters; never blocks. */
    PoolStats stats() {
        return hooks.stats(slots.all(), waiting());
    }

    /**
     * Closes: wakes every waiter with a {@link ClosedException}, destroys idle objects now.
     *
     * @throws Error if a destroyer threw one, after every other idle object is destroyed
     */
    void close() {
        ArrayList<PoolWaiter<T>> woken = markClosed();
        if (woken == null) {
            return;
        }
        ScheduledFuture<?> f = upkeep;
        if (f != null) {
            f.cancel(false);
        }
        wakeClosed(woken);
        Error failure = destroyIdle(false);
        terminateIfEmpty();
        if (failure != null) {
            throw failure;
        }
    }

    /**
     * Waits at most {@code nanos} for the end; if the time runs out after close, logs a
     * warning naming where each unreturned lease was borrowed (with leak detection on;
     * otherwise only how many there are).
     */
    boolean join(long nanos, Duration timeout) throws InterruptedException {
        if (join(nanos)) {
            return true;
        }
        if (isClosed()) {
            int lent = slots.logLent(name, "join(" + timeout + ")");
            PoolRuntime.LOG.warn("{}: {} object(s) still lent after join({}){}", name, lent,
                    timeout, leakDetection ? ""
                            : "; enable leakDetection to log where they were borrowed");
        }
        return false;
    }

    /**
     * The lease a pool lends: the slot and the exact state word (stamp) it was lent under. It
     * is closed once the slot's state no longer equals the stamp, so a double or concurrent
     * close gives the object back once (one CAS decides) and a stale lease can never touch
     * the next borrower's object.
     */
    static final class Loan<T> implements Lease<T> {
        private final PoolCore<T> core;
        final PoolSlot<T> slot;
        final long stamp;
        /** The hint stripe to point at this slot on return, or -1 (came from that hint). */
        final int hint;
        /** Registered with the leak detector; set before the lease is handed out. */
        Cleaner.@Nullable Cleanable cleanable;

        Loan(PoolCore<T> core, PoolSlot<T> slot, long stamp, int hint) {
            this.core = core;
            this.slot = slot;
            this.stamp = stamp;
            this.hint = hint;
        }

        @Override
        public T get() {
            if (!slot.isLentUnder(stamp)) {
                throw new IllegalStateException(core.name + ": lease already closed");
            }
            return slot.object;
        }

        @Override
        public void close() {
            end(End.RETURN);
        }

        @Override
        public boolean isClosed() {
            return !slot.isLentUnder(stamp);
        }

        @Override
        public void invalidate() {
            end(End.INVALIDATE);
        }

        void end(End how) {
            core.giveBack(slot, stamp, hint, cleanable, how);
        }

        @Override
        public String toString() {
            return core.name + (isClosed() ? ": closed lease" : ": lease of " + slot.object);
        }
    }
}
