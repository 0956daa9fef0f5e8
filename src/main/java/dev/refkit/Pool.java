package dev.refkit;

import com.google.common.base.Ticker;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;

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
 * <p><b>Lifecycle.</b> {@link State#OPEN} from {@link Builder#build()}; {@link #close()}
 * destroys idle objects at once and lent ones as they come back, and wakes every waiter with
 * a {@link ClosedException}; the pool is {@link State#CLOSING} until every object is
 * destroyed, then {@link State#CLOSED}, which {@link #join()} waits for.
 *
 * <p><b>Interrupts.</b> The blocking methods ({@code borrow}, {@code join}) follow the
 * library's one interrupt rule: they check the interrupt flag on entry, before they try, and
 * throw {@link InterruptedException} if it is set, even when an object is free; interrupted
 * while they wait, they throw with the flag cleared, holding no place in line and no
 * object. {@link #tryBorrow()} and {@link #borrowAsync()} never wait and never check.
 *
 * <p><b>Memory consistency effects.</b> Actions in a thread before it closes a lease
 * happen-before the next borrower of that object gets it, and happen-before the object is
 * destroyed. Making an object happens-before its first borrower gets it.
 *
 * @param <T> the type of the pooled objects
 */
public final class Pool<T> implements AutoCloseable {
    /**
     * Where a pool is in its life; {@link #state()} reads it without blocking.
     */
    public enum State {
        /** Lending: built and not yet closed. */
        OPEN,
        /**
         * {@link #close()} was called, and objects are still lent, being made or being
         * destroyed; each is destroyed as it comes back.
         */
        CLOSING,
        /** Closed, and every object destroyed. */
        CLOSED
    }

    private final String name;
    private final boolean unbounded;
    /** The engine: slots, permits, waiting line, user code; package-private for tests. */
    final PoolCore<T> core;

    private Pool(Builder<T> b) {
        this.name = b.name != null ? b.name : "pool";
        this.unbounded = b.maxSize == 0;
        PoolHooks<T> hooks = new PoolHooks<>(name, b.factory, b.validate,
                b.validateAfterIdle == null ? -1 : Checks.saturatedNanos(b.validateAfterIdle),
                b.onReturn, b.destroy,
                b.maxIdleTime == null ? -1 : Checks.saturatedNanos(b.maxIdleTime),
                b.maxLifetime == null ? -1 : Checks.saturatedNanos(b.maxLifetime), b.ticker);
        this.core = new PoolCore<>(name, hooks, b.maxSize, b.maxIdle, b.minIdle, b.fair,
                b.leakDetection, this);
        core.startUpkeep();
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
     * <p>Interrupts: by the library's interrupt rule, the flag is checked on entry, before
     * any object is tried, so an interrupted thread gets no object even when one is free.
     *
     * @return a lease on the object; close it to give the object back
     * @throws InterruptedException {@code "NAME: interrupted in borrow()"} if the thread is
     *     interrupted on entry or while it waits; it then holds no place in line and no
     *     object, and its interrupt flag is clear
     * @throws ClosedException if the pool is closed, or closes while the thread waits
     * @throws RuntimeException if the factory threw (an unchecked exception as itself, a
     *     checked one wrapped in a {@link LifecycleException}) or returned null (a
     *     {@link NullPointerException}); the slot is free for the next borrower
     * @throws Error if the factory or validator threw one; the slot is freed first
     */
    public Lease<T> borrow() throws InterruptedException {
        try {
            return core.borrow(-1L, null, "borrow()");
        } catch (TimeoutException e) {
            throw new AssertionError(e); // no timeout given
        }
    }

    /**
     * Borrows an object, waiting at most {@code timeout}. The time left is recomputed after
     * every wake-up, spurious or not.
     *
     * <p>Interrupts: checked on entry, as for {@link #borrow()}.
     *
     * @param timeout the longest wait; zero means do not wait
     * @return a lease on the object; close it to give the object back
     * @throws TimeoutException if no object was free within {@code timeout}; the message names
     *     the pool, its size and how many borrowers wait
     * @throws InterruptedException {@code "NAME: interrupted in borrow(Duration)"} if the
     *     thread is interrupted on entry or while it waits; it then holds no place in line
     *     and no object
     * @throws ClosedException if the pool is closed, or closes while the thread waits
     * @throws RuntimeException if the factory threw or returned null, as for {@link #borrow()}
     * @throws Error if the factory or validator threw one, as for {@link #borrow()}
     * @throws IllegalArgumentException if {@code timeout} is negative
     */
    public Lease<T> borrow(Duration timeout) throws InterruptedException, TimeoutException {
        long nanos = Checks.waitNanos(timeout, "timeout");
        return core.borrow(nanos, timeout, "borrow(Duration)");
    }

    /**
     * Borrows an object if one is idle or can be made now; never waits, and never looks at
     * the interrupt flag. With {@code fair(true)} it returns null while other borrowers wait.
     *
     * @return a lease, or null if every object is lent and the pool is full
     * @throws ClosedException if the pool is closed
     * @throws RuntimeException if the factory threw or returned null, as for {@link #borrow()}
     * @throws Error if the factory or validator threw one, as for {@link #borrow()}
     */
    public @Nullable Lease<T> tryBorrow() {
        return core.tryBorrow();
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
        core.borrowInto(f);
        return f;
    }

    // ---------------------------------------------------------------------------------
    // Size, upkeep, stats

    /**
     * Changes the most objects alive at once. Growing gives the new room to waiting borrowers
     * before it returns (a {@code borrowAsync} future may complete later, on the pool's
     * daemon thread). Shrinking destroys idle objects until the pool fits, and lent ones as
     * they come back; it never takes an object from a borrower.
     *
     * @param newMaxSize the new bound, at least 1
     * @throws IllegalArgumentException if {@code newMaxSize < 1}
     * @throws IllegalStateException if the pool was built unbounded ({@code maxSize(0)})
     * @throws ClosedException if the pool is closed
     * @throws Error if a destroyer threw one: the shrink still destroys idle objects until
     *     the pool fits the new bound and waiters are served, then throws the first Error,
     *     later ones suppressed on it
     */
    public void setMaxSize(int newMaxSize) {
        if (newMaxSize < 1) {
            throw new IllegalArgumentException(name + ": maxSize must be at least 1: "
                    + newMaxSize);
        }
        if (unbounded) {
            throw new IllegalStateException(name + ": an unbounded pool cannot be resized");
        }
        core.setMaxSize(newMaxSize);
    }

    /** {@return the most objects alive at once, or 0 for an unbounded pool} */
    public int maxSize() {
        return core.maxSize();
    }

    /** One round of background upkeep now (expiry sweep, {@code minIdle}); for tests. */
    void maintain() {
        core.maintain();
    }

    /**
     * Returns a snapshot of the pool's counters. Never blocks.
     *
     * @return a new immutable snapshot
     */
    public PoolStats stats() {
        return core.stats();
    }

    // ---------------------------------------------------------------------------------
    // Closing

    /**
     * Closes the pool: idle objects are destroyed now (in this thread), lent objects when
     * they come back, and every waiter wakes with a {@link ClosedException}. Later borrows
     * throw {@code ClosedException}. A second call does nothing. Never waits for lent
     * objects; see {@link #join()}.
     *
     * @throws Error if a destroyer threw one; every other idle object is still destroyed
     *     and the pool is closed all the same (further errors are added as suppressed)
     */
    @Override
    public void close() {
        core.close();
    }

    /** {@return true once {@link #close()} has been called} */
    public boolean isClosed() {
        return core.isClosed();
    }

    /**
     * Returns where the pool is in its life. Never blocks.
     *
     * @return {@link State#OPEN} before {@link #close()}; {@link State#CLOSING} after it
     *     while objects are lent, being made or being destroyed; {@link State#CLOSED} once
     *     every object is destroyed
     */
    public State state() {
        if (!core.isClosed()) {
            return State.OPEN;
        }
        return core.isTerminated() ? State.CLOSED : State.CLOSING;
    }

    /**
     * Waits until the pool is {@link State#CLOSED}: closed, every lent object back and
     * destroyed, including the objects of factory calls begun before {@code close()} (each
     * is destroyed as its call returns). Called before {@code close()}, it waits for that
     * too; it never closes the pool itself.
     *
     * <p>Interrupts: by the library's interrupt rule, the flag is checked on entry.
     *
     * <p><b>Memory consistency effects.</b> Destroying each object happens-before
     * {@code join()} returns.
     *
     * @throws InterruptedException {@code "NAME: interrupted in join()"} if the thread is
     *     interrupted on entry or while it waits; its interrupt flag is then clear
     */
    public void join() throws InterruptedException {
        core.join();
    }

    /**
     * Waits at most {@code timeout} until the pool is {@link State#CLOSED}, as
     * {@link #join()} does. If the time runs out after {@code close()}, logs a warning
     * naming where each unreturned lease was borrowed (with leak detection on; otherwise
     * only how many there are).
     *
     * <p>Interrupts: checked on entry, as for {@link #join()}; the time left is recomputed
     * after every wake-up.
     *
     * @param timeout the longest wait; zero means do not wait
     * @return true if the pool is closed and every object destroyed, false if the time ran
     *     out first
     * @throws InterruptedException {@code "NAME: interrupted in join()"} if the thread is
     *     interrupted on entry or while it waits
     * @throws IllegalArgumentException if {@code timeout} is negative
     */
    public boolean join(Duration timeout) throws InterruptedException {
        long nanos = Checks.waitNanos(timeout, "timeout");
        return core.join(nanos, timeout);
    }

    /**
     * Describes the pool in the form {@code Pool[NAME]{STATE, idle=.., lent=.., waiting=..}}.
     * Never blocks.
     *
     * @return a description for logs and debugging, e.g.
     *     {@code "Pool[db]{OPEN, idle=1, lent=1, waiting=0}"}
     */
    @Override
    public String toString() {
        State st = state();
        PoolStats s = stats();
        return "Pool[" + name + "]{" + st + ", idle=" + s.idle() + ", lent=" + s.lent()
                + ", waiting=" + s.waiting() + "}";
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
            return new Pool<>(this);
        }
    }
}
