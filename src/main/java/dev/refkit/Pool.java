package dev.refkit;

import static dev.refkit.PoolSlot.BUSY;
import static dev.refkit.PoolSlot.DEAD;
import static dev.refkit.PoolSlot.GEN;
import static dev.refkit.PoolSlot.IDLE;
import static dev.refkit.PoolSlot.KIND;
import static dev.refkit.PoolSlot.LENT;

import com.google.common.base.Ticker;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A bounded, fair object pool that lends objects through try-with-resources.
 *
 * <pre>{@code
 * Pool<Parser> parsers = Pool.builder(Parser::new).maxSize(8).build();
 * try (Lease<Parser> lease = parsers.borrow()) {
 *     lease.get().parse(text);
 * }
 * }</pre>
 *
 * <p>A borrow first tries, with one CAS, the object this thread returned last, then any idle
 * object, then makes a new one if fewer than {@code maxSize} are alive, and otherwise waits
 * in a FIFO queue shared by threads and {@link #borrowAsync()} futures. With
 * {@code fair(true)} (the default) a borrower never overtakes a waiter, and an object that
 * comes back while borrowers wait goes to the oldest of them.
 *
 * <p><b>Thread safety.</b> Every method may be called from any thread. Nothing blocks on
 * a monitor: waits park with {@link LockSupport}, so virtual threads never pin. User code
 * (factory, validator, reset, destroyer) is never run under a lock; it runs in the calling
 * thread, except that background upkeep ({@code minIdle}, expiry sweeps), objects made
 * for {@code borrowAsync} waiters, and completions of {@code borrowAsync} futures nested
 * more than 32 deep on one thread run on shared daemon threads.
 *
 * <p><b>Errors.</b> An unchecked exception from a validator, reset or destroyer is logged
 * and the object destroyed (or, from a destroyer, its slot freed all the same), as each
 * builder option says. An {@link Error} from any of them, or from the factory, is never
 * swallowed: it is thrown to the caller of the operation that ran the hook (a borrow, a
 * lease's {@code close()} or {@code invalidate()}, {@code setMaxSize}, {@code close()}), or
 * fails the {@code borrowAsync} future it was run for, once the pool is consistent again
 * (the object's slot and permit freed, no waiter lost). Where no caller exists it is logged
 * at ERROR and rethrown on that thread: on the upkeep thread this ends the pool's
 * background upkeep, on the leak detector's {@link java.lang.ref.Cleaner} thread it is
 * ignored by the cleaner after the log line.
 *
 * <p><b>Lifecycle.</b> Open from {@link Builder#build()}; {@link #close()} destroys idle
 * objects at once and lent ones as they come back, and wakes every waiter with a
 * {@link ClosedException}.
 *
 * <p><b>Memory consistency effects.</b> Actions in a thread before it closes a lease
 * happen-before the next borrower of that object gets it, and happen-before the object is
 * destroyed. Making an object happens-before its first borrower gets it.
 *
 * @param <T> the type of the pooled objects
 */
public final class Pool<T> implements AutoCloseable {
    /*
     * Implementation overview. This class keeps the control word (ctl), the slots, the
     * permits, making and destroying, and every fast path (borrow, tryBorrow, the hint,
     * the plain return). The waiting line lives in PoolLine, background upkeep in
     * PoolUpkeep, the leak detector in PoolLeak, the shared threads in PoolRuntime.
     */

    /** The logger of the pool and of its helper classes. */
    static final Logger log = LoggerFactory.getLogger(Pool.class);

    /** Bit of {@link #ctl}: closed. */
    static final int CLOSED = 1 << 30;
    /** Bit of {@link #ctl}: more objects alive than {@code maxSize} (after a shrink). */
    private static final int SHRINK = 1 << 29;
    /** Bits of {@link #ctl}: the number of waiters. */
    private static final int WAITERS = SHRINK - 1;
    /** Hint stripes, each 16 references apart so that no two share a cache line. */
    private static final int STRIPES = 16;
    private static final int STRIPE_SPACING = 16;

    // Configuration.
    private final String name;
    private final Callable<? extends T> factory;
    private final @Nullable Predicate<? super T> validate;
    private final long validateAfterIdleNanos;
    private final @Nullable Consumer<? super T> onReturn;
    private final Consumer<? super T> destroyer;
    final long maxIdleNanos;
    final long maxLifetimeNanos;
    final int minIdle;
    private final int maxIdle;
    final boolean unbounded;
    final boolean fair;
    private final boolean leakDetection;
    final Ticker ticker;
    /** No check at all before lending an idle object. */
    private final boolean lendPlain;
    /** The hint path lends without any check or idle count. */
    private final boolean hotPlain;
    /** A return is one CAS to IDLE. */
    private final boolean returnPlain;
    private final boolean needsReturnTime;

    /**
     * Waiter count, {@link #CLOSED} and {@link #SHRINK}; zero in the common case so the fast
     * paths test one volatile int. Written only under {@link #lock}.
     */
    volatile int ctl;
    /** Objects alive plus permits reserved for objects being made. */
    private volatile int size;
    private volatile int maxSize;
    /** Idle objects, counted only for an unbounded pool (to enforce maxIdle). */
    private volatile int idleCount;
    /** Every live slot; copy-on-write under {@link #lock}. */
    volatile PoolSlot<T>[] slots;
    /** Per-thread hints: the slot each stripe of threads returned last. Racy by design. */
    private final @Nullable PoolSlot<T>[] hot;

    /**
     * Guards every write of {@link #ctl}, the copy-on-write of {@link #slots}, {@link #upkeep}
     * and the waiting line's queue; never held while user code runs.
     */
    final ReentrantLock lock = new ReentrantLock();
    /** The waiting line; the fast paths never touch it. */
    private final PoolLine<T> line;
    private final CountDownLatch terminated = new CountDownLatch(1);
    private @Nullable ScheduledFuture<?> upkeep;

    private final AtomicLong created = new AtomicLong();
    private final AtomicLong destroyed = new AtomicLong();
    private final AtomicLong retiredBorrows = new AtomicLong();
    final AtomicLong timeouts = new AtomicLong();
    private final AtomicLong failedCreations = new AtomicLong();

    @SuppressWarnings("unchecked")
    private Pool(Builder<T> b) {
        this.name = b.name != null ? b.name : "pool";
        this.factory = b.factory;
        this.validate = b.validate;
        this.validateAfterIdleNanos =
                b.validateAfterIdle == null ? -1 : Checks.saturatedNanos(b.validateAfterIdle);
        this.onReturn = b.onReturn;
        this.destroyer = b.destroy != null ? b.destroy : Pool::closeIfCloseable;
        this.maxIdleNanos = b.maxIdleTime == null ? -1 : Checks.saturatedNanos(b.maxIdleTime);
        this.maxLifetimeNanos =
                b.maxLifetime == null ? -1 : Checks.saturatedNanos(b.maxLifetime);
        this.minIdle = b.minIdle;
        this.maxIdle = b.maxIdle;
        this.maxSize = b.maxSize;
        this.unbounded = b.maxSize == 0;
        this.fair = b.fair;
        this.leakDetection = b.leakDetection;
        this.ticker = b.ticker;
        this.needsReturnTime = maxIdleNanos >= 0 || validateAfterIdleNanos >= 0;
        this.lendPlain = validate == null && maxIdleNanos < 0 && maxLifetimeNanos < 0
                && !leakDetection;
        this.hotPlain = lendPlain && !unbounded;
        this.returnPlain = onReturn == null && !unbounded && !leakDetection && !needsReturnTime;
        this.slots = (PoolSlot<T>[]) new PoolSlot<?>[0];
        this.hot = (PoolSlot<T>[]) new PoolSlot<?>[STRIPES * STRIPE_SPACING];
        this.line = new PoolLine<>(this);
    }

    /**
     * Starts building a pool of objects made by {@code factory}.
     *
     * @param factory makes a new object; called on the borrowing thread (or a background
     *     thread for {@code minIdle} and {@code borrowAsync}); must not return null
     * @param <T> the type of the pooled objects
     * @return a new builder with the defaults described on each option
     * @throws NullPointerException if {@code factory} is null
     */
    public static <T> Builder<T> builder(Callable<? extends T> factory) {
        return new Builder<>(factory);
    }

    /**
     * Returns the pool's name, which begins every message and log line of the pool.
     *
     * @return the name given to {@link Builder#name(String)}, or {@code "pool"}
     */
    public String name() {
        return name;
    }

    // ---------------------------------------------------------------------------------
    // Borrowing

    /**
     * Borrows an object, waiting as long as it takes.
     *
     * <p>Does not check the interrupt flag when an object is free at once.
     *
     * @return a lease on the object; close it to give the object back
     * @throws InterruptedException if the thread is interrupted while it waits; it then holds
     *     no place in line and no object
     * @throws ClosedException if the pool is closed, or closes while the thread waits
     * @throws RuntimeException if the factory threw (an unchecked exception as itself, a
     *     checked one wrapped in a {@link LifecycleException}) or returned null (a
     *     {@link NullPointerException}); the slot is free for the next borrower
     * @throws Error if the factory or validator threw one; the slot is freed first
     */
    public Lease<T> borrow() throws InterruptedException {
        int i = stripe();
        PoolSlot<T> s = hot[i];
        long stamp = s == null ? NONE : tryHot(s);
        if (stamp != NONE) {
            i = -1; // came from the hint: nothing to update on return
        } else {
            try {
                s = borrowSlow(false, 0L, null);
            } catch (TimeoutException e) {
                throw new AssertionError(e);
            }
            stamp = s.state();
        }
        // One allocation site, so escape analysis can remove the lease; on the hint path the
        // stamp comes from the read before the CAS, so the return's CAS waits on no load.
        return lease(Objects.requireNonNull(s), stamp, i);
    }

    /**
     * Borrows an object, waiting at most {@code timeout}. The time left is recomputed after
     * every wake-up, spurious or not.
     *
     * @param timeout the longest wait; zero means do not wait
     * @return a lease on the object; close it to give the object back
     * @throws TimeoutException if no object was free within {@code timeout}; the message names
     *     the pool, its size and how many borrowers wait
     * @throws InterruptedException {@code "NAME: interrupted in borrow(Duration)"} if the
     *     thread is interrupted while it waits; it then holds no place in line and no object
     * @throws ClosedException if the pool is closed, or closes while the thread waits
     * @throws RuntimeException if the factory threw or returned null, as for {@link #borrow()}
     * @throws Error if the factory or validator threw one, as for {@link #borrow()}
     * @throws IllegalArgumentException if {@code timeout} is negative
     */
    public Lease<T> borrow(Duration timeout) throws InterruptedException, TimeoutException {
        long nanos = Checks.waitNanos(timeout, "timeout");
        int i = stripe();
        PoolSlot<T> s = hot[i];
        long stamp = s == null ? NONE : tryHot(s);
        if (stamp != NONE) {
            i = -1;
        } else {
            s = borrowSlow(true, nanos, timeout);
            stamp = s.state();
        }
        return lease(Objects.requireNonNull(s), stamp, i);
    }

    /**
     * Borrows an object if one is idle or can be made now; never waits. With
     * {@code fair(true)} it returns null while other borrowers wait.
     *
     * @return a lease, or null if every object is lent and the pool is full
     * @throws ClosedException if the pool is closed
     * @throws RuntimeException if the factory threw or returned null, as for {@link #borrow()}
     * @throws Error if the factory or validator threw one, as for {@link #borrow()}
     */
    public @Nullable Lease<T> tryBorrow() {
        int i = stripe();
        PoolSlot<T> s = hot[i];
        long stamp = s == null ? NONE : tryHot(s);
        if (stamp != NONE) {
            i = -1;
        } else {
            s = acquireNow();
            if (s == null) {
                return null;
            }
            stamp = s.state();
        }
        return lease(Objects.requireNonNull(s), stamp, i);
    }

    /**
     * Borrows an object without holding a thread while it waits. If an object is idle, or
     * can be made, the future is complete on return (the factory then runs on the calling
     * thread); otherwise the future joins the same FIFO queue as waiting threads and is
     * completed, on the thread that frees an object, when its turn comes.
     *
     * <p>Cancelling the future (or completing it any other way, e.g. {@code orTimeout})
     * gives up its place in line; an object granted at the same moment goes to the next
     * waiter. Dependent actions run on the completing thread, never under a pool lock, and
     * a grant is delivered at once: a dependent that closes its lease and then blocks (on
     * another future of this pool, or in {@code borrow()}) does not hold back the object it
     * freed. When dependents close their lease at once, each completes the next waiting
     * future from within its own completion; past 32 such nested completions on one
     * thread, the next is completed on a shared daemon thread, so the stack stays bounded.
     *
     * @return a future lease; completed exceptionally with {@link ClosedException} if the
     *     pool is or becomes closed, or with the factory's exception
     */
    public CompletableFuture<Lease<T>> borrowAsync() {
        CompletableFuture<Lease<T>> f = new CompletableFuture<>();
        borrowInto(f);
        return f;
    }

    /** Completes {@code f} now if it can, else puts it in line; see {@link #borrowAsync()}. */
    void borrowInto(CompletableFuture<Lease<T>> f) {
        try {
            int i = stripe();
            PoolSlot<T> s = hot[i];
            long stamp = s == null ? NONE : tryHot(s);
            if (stamp != NONE) {
                i = -1;
            } else if ((s = acquireNow()) != null) {
                stamp = s.state();
            }
            if (s != null) {
                PoolLease<T> l = lease(s, stamp, i);
                if (!f.complete(l)) {
                    giveBack(l);
                }
                return;
            }
        } catch (RuntimeException | Error e) {
            f.completeExceptionally(e);
            return;
        }
        line.join(f);
    }

    /** What {@link #tryHot} returns when the hint did not work out: no state word is -1. */
    private static final long NONE = -1;

    /**
     * One CAS on {@code s}, this thread's hint: the fast path. Returns the lease's stamp (the
     * slot is now LENT to the caller and checked), or {@link #NONE} if it did not work out.
     */
    private long tryHot(PoolSlot<T> s) {
        int c = ctl;
        if (c != 0) {
            if ((c & CLOSED) != 0) {
                throw closed();
            }
            if (fair && (c & WAITERS) != 0) {
                return NONE;
            }
        }
        boolean plain = hotPlain; // read before the CAS, which orders every later load
        long st = s.state();
        if (st == (st & ~KIND) && s.casState(st, st | LENT)) {
            if (plain) {
                return st | LENT;
            }
            if (unbounded) {
                claimedIdle();
            }
            return lendPlain || checked(s) != null ? st | LENT : NONE;
        }
        return NONE;
    }

    private static int stripe() {
        @SuppressWarnings("deprecation") // threadId() is Java 19+
        long id = Thread.currentThread().getId();
        return ((int) id & (STRIPES - 1)) * STRIPE_SPACING;
    }

    /** Any idle object, else a new one if there is room; null if neither, never waits. */
    private @Nullable PoolSlot<T> acquireNow() {
        for (;;) {
            int c = ctl;
            if ((c & CLOSED) != 0) {
                throw closed();
            }
            if (fair && (c & WAITERS) != 0) {
                return null;
            }
            PoolSlot<T> s = claimIdle(LENT);
            if (s == null) {
                break;
            }
            if (checked(s) != null) {
                return s;
            }
        }
        if (!reservePermit()) {
            return null;
        }
        return create(true);
    }

    /** Waits (unless it need not) and returns a slot LENT to the caller and checked. */
    private PoolSlot<T> borrowSlow(boolean timed, long nanos, @Nullable Duration timeout)
            throws InterruptedException, TimeoutException {
        long deadline = timed ? System.nanoTime() + nanos : 0L;
        for (;;) {
            PoolSlot<T> s = acquireNow();
            if (s != null) {
                return s;
            }
            if (timed && nanos <= 0) {
                timeouts.incrementAndGet();
                throw timeout(timeout);
            }
            if (Thread.interrupted()) {
                throw interrupted(timed);
            }
            s = line.await(timed, deadline, timeout);
            if (s != null) {
                return s;
            }
            if (timed) {
                nanos = deadline - System.nanoTime();
            }
        }
    }

    /** CASes some idle slot to {@code kind} (LENT or BUSY); null if none is idle. */
    @Nullable PoolSlot<T> claimIdle(long kind) {
        PoolSlot<T>[] arr = slots;
        int n = arr.length;
        if (n == 0) {
            return null;
        }
        int i = stripe() / STRIPE_SPACING;
        if (i >= n) {
            i = 0;
        }
        for (int k = 0; k < n; k++, i++) {
            if (i == n) {
                i = 0;
            }
            PoolSlot<T> s = arr[i];
            long st = s.state();
            if (st == (st & ~KIND) && s.casState(st, st | kind)) {
                if (unbounded) {
                    claimedIdle();
                }
                return s;
            }
        }
        return null;
    }

    void claimedIdle() {
        IDLE_COUNT.getAndAdd(this, -1);
    }

    /**
     * Checks an object about to be lent (expiry, validation): returns {@code s}, or destroys
     * it and returns null if it fails. The caller owns {@code s}.
     */
    @Nullable PoolSlot<T> checked(PoolSlot<T> s) {
        if (lendPlain || lendable(s)) {
            return s;
        }
        destroy(s);
        return null;
    }

    private boolean lendable(PoolSlot<T> s) {
        if (maxIdleNanos < 0 && maxLifetimeNanos < 0 && validate == null) {
            return true;
        }
        long now = ticker.read();
        if (maxLifetimeNanos >= 0 && now - s.createdAt >= maxLifetimeNanos) {
            return false;
        }
        long idle = now - s.lastReturned;
        if (maxIdleNanos >= 0 && idle >= maxIdleNanos) {
            return false;
        }
        Predicate<? super T> v = validate;
        // -1 means every time: never compared, since a ticker (like System.nanoTime) may
        // read negative while lastReturned stays 0 when no time-based option is set
        if (v != null && (validateAfterIdleNanos < 0 || idle >= validateAfterIdleNanos)) {
            try {
                return v.test(s.object);
            } catch (RuntimeException e) {
                log.warn("{}: validate threw; the object is destroyed", name, e);
                return false;
            } catch (Error e) {
                destroy(s);
                throw e;
            }
        }
        return true;
    }

    /**
     * Wraps a slot the caller owns (LENT, so its state word is the stamp) in a lease: the
     * only place a borrow allocates.
     */
    PoolLease<T> lease(PoolSlot<T> s, long stamp, int hint) {
        PoolLease<T> l = new PoolLease<>(this, s, stamp, hint);
        if (leakDetection) {
            PoolLeak.watch(this, l, s);
        }
        return l;
    }

    // ---------------------------------------------------------------------------------
    // Making and destroying

    /**
     * Reserves a permit to make one object: true if there was room. Not on the hint path.
     *
     * <p>Dekker with {@link #setMaxSize} and {@link #close()}: each writes its word
     * ({@code maxSize}, {@code ctl}) and then reads {@code size}; this CASes {@code size} and
     * then reads both words again. So either that writer sees the permit (and shrinks, or
     * waits for it before the pool terminates) or this sees the new word and hands the permit
     * back: a permit is never kept against an old bound, nor reserved after close counted the
     * pool empty.
     *
     * @throws ClosedException if the pool is closed
     */
    boolean reservePermit() {
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
     * Hands back a permit {@link #reservePermit} just took and may not keep. Called under the
     * lock (from the waiting line's drain), it does not drain the line again, which would
     * complete futures under the lock: the caller is draining already, and a releaser that
     * raced it blocks on the lock and drains after it.
     */
    private void unreserve() {
        releasePermit(!lock.isHeldByCurrentThread());
    }

    void releasePermit() {
        releasePermit(true);
    }

    private void releasePermit(boolean drain) {
        int n = (int) SIZE.getAndAdd(this, -1) - 1;
        int c = ctl;
        if (c == 0) {
            return;
        }
        if ((c & SHRINK) != 0 && n <= maxSize) {
            clearShrink();
        }
        if (drain && (c & WAITERS) != 0) {
            line.drain();
        }
        // Read size again after CLOSED: the n == 0 seen above may predate close(), and a
        // permit reserved since, by a borrower that saw the pool open, is still held.
        if ((c & CLOSED) != 0 && n == 0 && size == 0) {
            terminated.countDown();
        }
    }

    /** Clears {@link #SHRINK} once the pool fits its bound again. */
    private void clearShrink() {
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
     * Makes an object with a permit the caller holds; the new slot is LENT to the caller or
     * IDLE. On failure the permit is freed and the factory's exception thrown.
     */
    PoolSlot<T> create(boolean lent) {
        T obj;
        try {
            obj = factory.call();
            if (obj == null) {
                throw new NullPointerException(name + ": factory returned null");
            }
        } catch (Throwable t) {
            failedCreations.incrementAndGet();
            releasePermit();
            throw Checks.unchecked(t, name + ": factory failed");
        }
        PoolSlot<T> s = new PoolSlot<>(obj, needsTime() ? ticker.read() : 0L, lent ? LENT : IDLE);
        created.incrementAndGet();
        boolean added = false;
        lock.lock();
        try {
            if ((ctl & CLOSED) == 0) {
                PoolSlot<T>[] arr = slots;
                PoolSlot<T>[] grown = Arrays.copyOf(arr, arr.length + 1);
                grown[arr.length] = s;
                slots = grown;
                added = true;
                if (!lent && unbounded) {
                    IDLE_COUNT.getAndAdd(this, 1);
                }
            }
        } finally {
            lock.unlock();
        }
        if (!added) {
            s.setState(BUSY);
            destroy(s);
            throw closed();
        }
        return s;
    }

    private boolean needsTime() {
        return maxLifetimeNanos >= 0 || needsReturnTime;
    }

    /**
     * Destroys an object whose slot the caller owns, and frees the slot and its permit.
     * Throws only an {@link Error} from the destroyer, after the slot and permit are freed.
     */
    void destroy(PoolSlot<T> s) {
        try {
            destroyKeepingPermit(s);
        } finally {
            releasePermit();
        }
    }

    /**
     * Destroys an object whose slot the caller owns and frees the slot, but keeps its permit
     * for the caller, who must make an object with it or release it. Throws only an
     * {@link Error} from the destroyer (the permit is then still the caller's).
     */
    private void destroyKeepingPermit(PoolSlot<T> s) {
        long st = s.state();
        s.setState((st & ~KIND) | DEAD);
        removeSlot(s);
        try {
            destroyer.accept(s.object);
        } catch (RuntimeException e) {
            log.warn("{}: destroy threw; the slot is freed all the same", name, e);
        } finally {
            retiredBorrows.addAndGet(st >>> 2);
            destroyed.incrementAndGet();
        }
    }

    /**
     * For a waiter granted {@code s} (LENT to it): returns true if {@code s} passes its
     * checks. Otherwise destroys it and keeps its permit for the waiter, which then makes an
     * object in its place and so keeps its turn (freeing the permit would serve the head of
     * the queue, behind which the waiter would join again); returns false then, unless the
     * pool shrank or closed meanwhile, when the permit is freed and null returned.
     *
     * @return TRUE if {@code s} may be lent, FALSE if the caller now holds a permit instead,
     *     null if it holds nothing and should try again
     * @throws Error if the validator or destroyer threw one; nothing is then held
     */
    @Nullable Boolean checkedForWaiter(PoolSlot<T> s) {
        if (lendPlain || lendable(s)) {
            return Boolean.TRUE;
        }
        try {
            destroyKeepingPermit(s);
        } catch (Error e) {
            releasePermit();
            throw e;
        }
        int max = maxSize;
        if ((ctl & CLOSED) != 0 || (max != 0 && size > max)) {
            releasePermit();
            return null;
        }
        return Boolean.FALSE;
    }

    /**
     * Takes {@code s} by CAS from {@code st}, a state the caller read, if that state is idle,
     * and destroys it; does nothing if it was not idle or another thread took it first.
     */
    void destroyIfIdle(PoolSlot<T> s, long st) {
        if (st == (st & ~KIND) && s.casState(st, st | BUSY)) {
            if (unbounded) {
                claimedIdle();
            }
            destroy(s);
        }
    }

    private void removeSlot(PoolSlot<T> s) {
        lock.lock();
        try {
            PoolSlot<T>[] arr = slots;
            for (int i = 0; i < arr.length; i++) {
                if (arr[i] == s) {
                    PoolSlot<T>[] shrunk = Arrays.copyOf(arr, arr.length - 1);
                    System.arraycopy(arr, i + 1, shrunk, i, arr.length - i - 1);
                    slots = shrunk;
                    break;
                }
            }
        } finally {
            lock.unlock();
        }
        for (int i = 0; i < hot.length; i += STRIPE_SPACING) {
            if (hot[i] == s) {
                hot[i] = null;
            }
        }
    }

    private static void closeIfCloseable(Object o) {
        if (o instanceof AutoCloseable) {
            try {
                ((AutoCloseable) o).close();
            } catch (Exception e) {
                throw Checks.unchecked(e, "close() of a pooled object failed");
            }
        }
    }

    // ---------------------------------------------------------------------------------
    // Returning

    /**
     * {@link Lease#close()}: the fast path (one CAS to IDLE of the next generation, then one
     * volatile read) kept small so that it inlines into the caller's try-with-resources.
     */
    void giveBack(PoolLease<T> l, boolean reset) {
        if (returnPlain) {
            PoolSlot<T> s = l.slot;
            long st = l.stamp;
            if (s.casState(st, st - LENT + GEN)) {
                int i = l.hint;
                if (i >= 0 && hot[i] != s) {
                    hot[i] = s;
                }
                if (ctl != 0) {
                    afterIdle(s);
                }
            }
            return;
        }
        release(l, false, reset);
    }

    /**
     * Ends a lease: gives the object back (or destroys it when {@code invalidate}); does
     * nothing if the lease is no longer current. {@code reset} runs {@code onReturn}.
     */
    void release(PoolLease<T> l, boolean invalidate, boolean reset) {
        PoolSlot<T> s = l.slot;
        long st = l.stamp;
        long busy = st - LENT + GEN + BUSY;
        if (!s.casState(st, busy)) {
            return;
        }
        PoolLeak.stopWatch(l);
        if (invalidate) {
            destroy(s);
            return;
        }
        Consumer<? super T> r = onReturn;
        if (reset && r != null) {
            try {
                r.accept(s.object);
            } catch (RuntimeException e) {
                log.warn("{}: onReturn threw; the object is destroyed", name, e);
                destroy(s);
                return;
            } catch (Error e) {
                destroy(s);
                throw e;
            }
        }
        if (needsReturnTime) {
            s.lastReturned = ticker.read();
        }
        if (unbounded && (int) IDLE_COUNT.getAndAdd(this, 1) >= maxIdle) {
            IDLE_COUNT.getAndAdd(this, -1);
            destroy(s);
            return;
        }
        s.setState(busy - BUSY);
        int i = l.hint;
        if (i >= 0 && hot[i] != s) {
            hot[i] = s;
        }
        if (ctl != 0) {
            afterIdle(s);
        }
    }

    /** Gives back an object that was never used (a refused grant): no reset. */
    void giveBack(PoolLease<T> l) {
        giveBack(l, false);
    }


    /** A slot just became idle while ctl was non-zero: close, shrink or waiters. */
    void afterIdle(PoolSlot<T> s) {
        int c = ctl;
        if ((c & (CLOSED | SHRINK)) == SHRINK && size <= maxSize) {
            clearShrink(); // a racing destroy fitted the pool before SHRINK was set
        } else if ((c & (CLOSED | SHRINK)) != 0) {
            long st = s.state();
            if (st == (st & ~KIND) && s.casState(st, st | BUSY)) {
                if (unbounded) {
                    claimedIdle();
                }
                destroy(s);
            }
            return;
        }
        if ((c & WAITERS) != 0) {
            line.handOver(s);
        }
    }

    // ---------------------------------------------------------------------------------
    // Size, upkeep, stats

    /**
     * Changes the most objects alive at once. Growing serves waiters at once. Shrinking
     * destroys idle objects until the pool fits, and lent ones as they come back; it never
     * takes an object from a borrower.
     *
     * @param newMaxSize the new bound, at least 1
     * @throws IllegalArgumentException if {@code newMaxSize < 1}
     * @throws IllegalStateException if the pool was built unbounded ({@code maxSize(0)})
     * @throws ClosedException if the pool is closed
     * @throws Error if a destroyer threw one; the new bound holds all the same and waiters
     *     are served
     */
    public void setMaxSize(int newMaxSize) {
        if (newMaxSize < 1) {
            throw new IllegalArgumentException(name + ": maxSize must be at least 1: "
                    + newMaxSize);
        }
        if (unbounded) {
            throw new IllegalStateException(name + ": an unbounded pool cannot be resized");
        }
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
        try {
            for (PoolSlot<T> s : slots) {
                if (size <= maxSize) {
                    break;
                }
                long st = s.state();
                if (st == (st & ~KIND) && s.casState(st, st | BUSY)) {
                    destroy(s);
                }
            }
        } finally {
            line.drain();
        }
    }

    /** {@return the most objects alive at once, or 0 for an unbounded pool} */
    public int maxSize() {
        return maxSize;
    }

    /** Records the upkeep task {@link PoolUpkeep#start} scheduled; cancels it if closed. */
    void upkeepStarted(ScheduledFuture<?> f) {
        lock.lock();
        try {
            upkeep = f;
            if ((ctl & CLOSED) != 0) {
                f.cancel(false);
            }
        } finally {
            lock.unlock();
        }
    }

    /** One round of background upkeep now; see {@link PoolUpkeep#runOnce}. Never throws. */
    void maintain() {
        PoolUpkeep.runOnce(this);
    }

    /**
     * Returns a snapshot of the pool's counters. Never blocks.
     *
     * @return a new immutable snapshot
     */
    public PoolStats stats() {
        int alive = 0;
        int idle = 0;
        long borrows = retiredBorrows.get();
        for (PoolSlot<T> s : slots) {
            long st = s.state();
            long k = PoolSlot.kind(st);
            if (k == DEAD) {
                continue; // counted in retiredBorrows by destroy()
            }
            alive++;
            if (k == IDLE) {
                idle++;
            }
            borrows += PoolSlot.borrows(st);
        }
        return new PoolStats(alive, idle, ctl & WAITERS, created.get(), destroyed.get(),
                borrows, timeouts.get(), failedCreations.get(),
                Duration.ofNanos(line.longestWait()));
    }

    // ---------------------------------------------------------------------------------
    // Closing

    /**
     * Closes the pool: idle objects are destroyed now (in this thread), lent objects when
     * they come back, and every waiter wakes with a {@link ClosedException}. Later borrows
     * throw {@code ClosedException}. A second call does nothing. Never waits for lent
     * objects; see {@link #awaitClosed(Duration)}.
     *
     * @throws Error if a destroyer threw one; every other idle object is still destroyed
     *     and the pool is closed all the same (further errors are added as suppressed)
     */
    @Override
    public void close() {
        ArrayList<PoolWaiter<T>> woken = new ArrayList<>();
        ScheduledFuture<?> f;
        lock.lock();
        try {
            if ((ctl & CLOSED) != 0) {
                return;
            }
            line.closeLocked(woken);
            ctl = CLOSED;
            f = upkeep;
        } finally {
            lock.unlock();
        }
        if (f != null) {
            f.cancel(false);
        }
        line.wakeClosed(woken);
        Error failure = null;
        for (PoolSlot<T> s : slots) {
            try {
                destroyIfIdle(s, s.state());
            } catch (Error e) {
                failure = Checks.firstFailure(failure, e);
            }
        }
        if (size == 0) {
            terminated.countDown();
        }
        if (failure != null) {
            throw failure;
        }
    }

    /** {@return true once {@link #close()} has been called} */
    public boolean isClosed() {
        return (ctl & CLOSED) != 0;
    }

    /**
     * Waits until, after {@link #close()}, every lent object has come back and been
     * destroyed, including the objects of factory calls begun before {@code close()}
     * (each is destroyed as its call returns). If time runs out, logs a warning naming where
     * each unreturned lease was borrowed (with leak detection on; otherwise only how many
     * there are).
     *
     * @param timeout the longest wait
     * @return true if every object was destroyed in time
     * @throws InterruptedException {@code "NAME: interrupted in awaitClosed()"} if the thread
     *     is interrupted while it waits
     * @throws IllegalStateException if {@code close()} has not been called
     * @throws IllegalArgumentException if {@code timeout} is negative
     */
    public boolean awaitClosed(Duration timeout) throws InterruptedException {
        long nanos = Checks.waitNanos(timeout, "timeout");
        if (!isClosed()) {
            throw new IllegalStateException(name + ": awaitClosed() before close()");
        }
        try {
            if (terminated.await(nanos, TimeUnit.NANOSECONDS)) {
                return true;
            }
        } catch (InterruptedException e) {
            throw new InterruptedException(name + ": interrupted in awaitClosed()");
        }
        int lent = 0;
        for (PoolSlot<T> s : slots) {
            if (PoolSlot.kind(s.state()) == LENT) {
                lent++;
                Throwable site = s.borrowSite;
                if (site != null) {
                    log.warn("{}: an object not returned by awaitClosed({})", name, timeout, site);
                }
            }
        }
        log.warn("{}: {} object(s) still lent after awaitClosed({}){}", name, lent, timeout,
                leakDetection ? "" : "; enable leakDetection to log where they were borrowed");
        return false;
    }

    /** What a borrow throws, or a waiting future fails with, once the pool is closed. */
    ClosedException closed() {
        return new ClosedException(name + ": pool closed");
    }

    /** What a borrow that is interrupted throws: names the pool and the method. */
    InterruptedException interrupted(boolean timed) {
        return new InterruptedException(name + ": interrupted in "
                + (timed ? "borrow(Duration)" : "borrow()"));
    }

    /** What a timed borrow throws when {@code timeout} passes: names the size and waiters. */
    TimeoutException timeout(@Nullable Duration timeout) {
        return new TimeoutException(name + ": no object free within " + timeout + " (size "
                + size + " of " + maxSize + ", " + (ctl & WAITERS) + " waiting)");
    }

    /**
     * Returns the pool's name, {@code (closed)} once closed, and a {@link #stats()} snapshot.
     * Never blocks.
     *
     * @return a description for logs and debugging, e.g.
     *     {@code "db PoolStats{size=2, idle=1, ...}"}
     */
    @Override
    public String toString() {
        return name + (isClosed() ? " (closed) " : " ") + stats();
    }

    /**
     * Builds a {@link Pool}. Every option has a default; {@link #build()} checks that they
     * fit together.
     *
     * <p><b>Thread safety.</b> Not thread-safe: build a pool in one thread.
     *
     * @param <T> the type of the pooled objects
     */
    public static final class Builder<T> {
        final Callable<? extends T> factory;
        int maxSize = 4;
        int maxIdle = 4;
        int minIdle;
        @Nullable Predicate<? super T> validate;
        @Nullable Duration validateAfterIdle;
        @Nullable Consumer<? super T> onReturn;
        @Nullable Consumer<? super T> destroy;
        @Nullable Duration maxIdleTime;
        @Nullable Duration maxLifetime;
        boolean fair = true;
        boolean leakDetection;
        @Nullable String name;
        Ticker ticker = Ticker.systemTicker();

        Builder(Callable<? extends T> factory) {
            this.factory = Objects.requireNonNull(factory, "factory");
        }

        /**
         * The most objects alive at once, lent or idle. Default 4. 0 means no bound; then
         * {@link #maxIdle(int)} bounds how many are kept for reuse.
         *
         * @param maxSize the bound, or 0 for none
         * @return this builder
         * @throws IllegalArgumentException if {@code maxSize < 0}
         */
        public Builder<T> maxSize(int maxSize) {
            this.maxSize = Checks.nonNegative(maxSize, "maxSize");
            return this;
        }

        /**
         * For an unbounded pool ({@code maxSize(0)}), the most idle objects kept for reuse;
         * an object returned beyond that is destroyed. Default 4. Ignored when bounded.
         *
         * @param maxIdle the most idle objects kept
         * @return this builder
         * @throws IllegalArgumentException if {@code maxIdle < 0}
         */
        public Builder<T> maxIdle(int maxIdle) {
            this.maxIdle = Checks.nonNegative(maxIdle, "maxIdle");
            return this;
        }

        /**
         * Objects kept ready: made in the background (on a shared daemon thread) whenever
         * fewer are idle and there is room. Default 0.
         *
         * @param minIdle the idle objects to keep ready
         * @return this builder
         * @throws IllegalArgumentException if {@code minIdle < 0}
         */
        public Builder<T> minIdle(int minIdle) {
            this.minIdle = Checks.nonNegative(minIdle, "minIdle");
            return this;
        }

        /**
         * Checked before an idle object is lent again; an object that fails (or whose check
         * throws, which is logged) is destroyed and another is tried. Not applied to objects
         * just made. Runs on the borrowing thread (or the thread completing an async borrow).
         *
         * @param validate returns false for a broken object
         * @return this builder
         * @throws NullPointerException if {@code validate} is null
         */
        public Builder<T> validate(Predicate<? super T> validate) {
            this.validate = Objects.requireNonNull(validate, "validate");
            return this;
        }

        /**
         * Applies {@link #validate(Predicate)} only to objects idle at least this long.
         * Default: every time. Needs {@code validate}.
         *
         * @param idle the idle time from which objects are checked
         * @return this builder
         * @throws IllegalArgumentException if {@code idle} is negative
         */
        public Builder<T> validateAfterIdle(Duration idle) {
            this.validateAfterIdle = Checks.nonNegative(idle, "validateAfterIdle");
            return this;
        }

        /**
         * Resets an object as it comes back, on the returning thread; if it throws, the
         * object is destroyed (and an exception logged, not thrown from {@code close()}; an
         * {@link Error} is thrown from {@code close()} once the object is destroyed).
         *
         * @param onReturn the reset
         * @return this builder
         * @throws NullPointerException if {@code onReturn} is null
         */
        public Builder<T> onReturn(Consumer<? super T> onReturn) {
            this.onReturn = Objects.requireNonNull(onReturn, "onReturn");
            return this;
        }

        /**
         * How an object is disposed of. Default: {@code close()} if it is
         * {@link AutoCloseable}, else nothing. If it throws, the exception is logged and
         * the slot is freed all the same.
         *
         * @param destroy the disposal
         * @return this builder
         * @throws NullPointerException if {@code destroy} is null
         */
        public Builder<T> destroy(Consumer<? super T> destroy) {
            this.destroy = Objects.requireNonNull(destroy, "destroy");
            return this;
        }

        /**
         * Objects idle this long are destroyed instead of lent, and swept in the background.
         *
         * @param maxIdleTime the longest idle time, positive
         * @return this builder
         * @throws IllegalArgumentException if {@code maxIdleTime} is not positive
         */
        public Builder<T> maxIdleTime(Duration maxIdleTime) {
            this.maxIdleTime = Checks.positive(maxIdleTime, "maxIdleTime");
            return this;
        }

        /**
         * Objects older than this are destroyed instead of lent, and swept in the
         * background; a lent object is never taken back.
         *
         * @param maxLifetime the longest life, positive
         * @return this builder
         * @throws IllegalArgumentException if {@code maxLifetime} is not positive
         */
        public Builder<T> maxLifetime(Duration maxLifetime) {
            this.maxLifetime = Checks.positive(maxLifetime, "maxLifetime");
            return this;
        }

        /**
         * With true (the default), waiting borrowers are served in arrival order, and a
         * returned object goes to the oldest waiter before anyone else may take it. With
         * false, a borrower that arrives when an object is idle may take it first, and a
         * returned object is left for whoever comes first while the oldest waiting thread
         * is woken to try for it (async waiters are still handed objects): more throughput
         * when many threads, virtual ones above all, fight over few objects; no guarantee
         * against starvation.
         *
         * @param fair whether borrowers are served in arrival order
         * @return this builder
         */
        public Builder<T> fair(boolean fair) {
            this.fair = fair;
            return this;
        }

        /**
         * With true, a lease that becomes unreachable without being closed is noticed (via
         * {@link java.lang.ref.Cleaner}): its object is destroyed, its slot freed and a
         * warning logged with the stack trace of the borrow; the destroyer then runs on
         * the cleaner's daemon thread. Costs a stack trace and a cleaner registration per
         * borrow, so it is meant for tests and staging. Default false.
         *
         * @param leakDetection whether to watch for dropped leases
         * @return this builder
         */
        public Builder<T> leakDetection(boolean leakDetection) {
            this.leakDetection = leakDetection;
            return this;
        }

        /**
         * The name used in messages and logs. Default {@code "pool"}.
         *
         * @param name the pool's name
         * @return this builder
         * @throws NullPointerException if {@code name} is null
         */
        public Builder<T> name(String name) {
            this.name = Objects.requireNonNull(name, "name");
            return this;
        }

        /**
         * The clock for idle times and lifetimes (not for borrow timeouts, which use real
         * time). Default {@link Ticker#systemTicker()}; tests pass a fake one.
         *
         * @param ticker the clock
         * @return this builder
         * @throws NullPointerException if {@code ticker} is null
         */
        public Builder<T> ticker(Ticker ticker) {
            this.ticker = Objects.requireNonNull(ticker, "ticker");
            return this;
        }

        /**
         * Builds the pool; starts background upkeep if {@code minIdle}, {@code maxIdleTime}
         * or {@code maxLifetime} asks for it.
         *
         * @return a new open pool
         * @throws IllegalArgumentException if {@code minIdle > maxSize} (or, unbounded,
         *     {@code minIdle > maxIdle}), naming the pool and both values
         * @throws IllegalStateException if {@code validateAfterIdle} is set without
         *     {@code validate}
         */
        public Pool<T> build() {
            String n = name != null ? name : "pool";
            if (maxSize > 0 && minIdle > maxSize) {
                throw new IllegalArgumentException(n + ": minIdle (" + minIdle
                        + ") must not exceed maxSize (" + maxSize + ")");
            }
            if (maxSize == 0 && minIdle > maxIdle) {
                throw new IllegalArgumentException(n + ": minIdle (" + minIdle
                        + ") must not exceed maxIdle (" + maxIdle + ") of an unbounded pool");
            }
            if (validateAfterIdle != null && validate == null) {
                throw new IllegalStateException(n + ": validateAfterIdle needs validate");
            }
            Pool<T> pool = new Pool<>(this);
            PoolUpkeep.start(pool);
            return pool;
        }
    }

    // VarHandle mechanics
    private static final VarHandle SIZE;
    private static final VarHandle IDLE_COUNT;

    static {
        try {
            MethodHandles.Lookup l = MethodHandles.lookup();
            SIZE = l.findVarHandle(Pool.class, "size", int.class);
            IDLE_COUNT = l.findVarHandle(Pool.class, "idleCount", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }
}
