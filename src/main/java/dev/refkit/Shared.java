package dev.refkit;

import static dev.refkit.MultiOpenWord.CLOSED;
import static dev.refkit.MultiOpenWord.EPOCH_MASK;
import static dev.refkit.MultiOpenWord.FINALIZING;
import static dev.refkit.MultiOpenWord.OPEN;
import static dev.refkit.MultiOpenWord.SHUTTING_DOWN;
import static dev.refkit.MultiOpenWord.phaseOf;

import dev.refkit.internal.Failures;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * One value shared by reference count: made by the first {@link #acquire()}, closed when the
 * last lease is closed, made anew by the next acquire after that; {@link #refresh()} replaces
 * it while leases are out.
 *
 * <pre>{@code
 * Shared<HttpClient> http = Shared.of("http", HttpClient::newHttpClient);
 * try (Lease<HttpClient> lease = http.acquire()) {
 *     lease.get().send(request, BodyHandlers.ofString());
 * }
 * }</pre>
 *
 * <p>The counting follows {@link MultiOpen}'s rules, with the opener as the startup and the
 * closer as the shutdown: the opener and the closer of one value each run exactly once,
 * never at the same time, under that value's lifecycle lock; an acquire or a lease's close
 * that does not move the count to or from 0 is one atomic operation and takes no lock. An
 * acquire that arrives while the opener (or the closer) runs waits for it and is counted
 * into the cycle of the value it then gets, so a batch of overlapping acquires makes the
 * value once, however soon the first of them closes its lease.
 *
 * <p><b>Refresh.</b> {@link #refresh()} (and {@link Lease#invalidate()} on a lease whose
 * value is still the current one) makes a fresh value for every later acquire, while the
 * leases already out keep the value they hold; each value is closed by the closer exactly
 * once, when its last lease is closed (at once if no lease holds it when it is replaced),
 * never while a lease holds it; a replaced value keeps no other value open. The current
 * value counts as held while older values still have leases: when the last lease of all is
 * closed, the current value is closed too, and the next acquire makes a fresh one.
 *
 * <p><b>Thread safety.</b> Safe for use by any number of threads; a {@link Lease} may be
 * handed to another thread that closes it. {@link #name()}, {@link #state()},
 * {@link #openCount()} and {@link #toString()} never block.
 *
 * <p><b>Memory consistency effects.</b> The opener happens-before every {@code acquire()}
 * that gets its value returns; actions before a lease is closed happen-before the closer of
 * its value runs.
 *
 * <p><b>Interrupts.</b> {@link #acquireInterruptibly()} and {@link #join()} follow the
 * interrupt rule of the package documentation: the flag is checked on entry, and an
 * interrupted wait throws with the flag cleared and nothing changed; {@link #acquire()} waits
 * through interrupts and keeps the flag set.
 *
 * <p><b>Opener and closer calling back.</b> {@code acquire()} from inside the opener or the
 * closer of the value it would get throws {@link IllegalStateException} instead of
 * deadlocking; so do {@code refresh()} from inside the opener (the one a refresh runs too)
 * or the closer of the current value, and {@link #join()} from inside any opener or closer
 * of this shared value. {@code refresh()} from inside the closer of a replaced value is
 * allowed.
 *
 * <p><b>Call-site tracing.</b> With {@code -Ddev.refkit.traceCallSites=true}, each lease
 * records where it was acquired and {@link #toString()} lists the live ones, as for
 * {@link MultiOpen}.
 *
 * @param <T> the type of the value
 */
public final class Shared<T> {

    /** A closer that may throw a checked exception (AutoCloseable.close does). */
    private interface Closer<T> {
        void close(T value) throws Exception;
    }

    private static final MultiOpenEngine.Words WORDS = new MultiOpenEngine.Words(
            "acquire()", "acquireInterruptibly()", "close()", "the opener", "the closer");

    private final String name;
    private final Callable<? extends T> opener;
    private final Closer<? super T> closer;
    private final @Nullable CallSites sites;
    /**
     * Held by refresh() while it makes the fresh value: one refresh at a time. The opener of
     * a refresh is the only user code that runs while it is held.
     */
    private final ReentrantLock refreshLock = new ReentrantLock();
    /**
     * Guards {@link #current}, {@link #retired} and each generation's {@code retired} and
     * {@code live}; held only for a few field reads and writes, never while user code runs.
     */
    private final ReentrantLock genLock = new ReentrantLock();
    /** The generation later acquires go to; written under genLock. */
    private volatile Gen<T> current;
    /**
     * The generations replaced by a refresh whose value is still live, oldest first;
     * copy-on-write under genLock. While it is not empty, {@link #current} carries one
     * untraced open of this class's own (the hold), so the current value stays open.
     */
    private volatile Gen<T>[] retired = noGens();

    private Shared(String name, Callable<? extends T> opener, Closer<? super T> closer,
            boolean traceCallSites) {
        this.name = name;
        this.opener = opener;
        this.closer = closer;
        this.sites = traceCallSites ? new CallSites() : null;
        this.current = new Gen<>(this);
    }

    @SuppressWarnings("unchecked")
    private static <T> Gen<T>[] noGens() {
        return (Gen<T>[]) new Gen<?>[0];
    }

    /**
     * Creates a shared value that is closed with its own {@link AutoCloseable#close()} on
     * the last release. Nothing is opened yet.
     *
     * @param name the name used in messages and {@code toString()}
     * @param opener makes the value on the first acquire of a cycle; must not return null
     * @param <T> the type of the value
     * @return the shared value
     * @throws NullPointerException if an argument is null
     */
    public static <T extends AutoCloseable> Shared<T> of(String name,
            Callable<? extends T> opener) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(opener, "opener");
        return new Shared<>(name, opener, AutoCloseable::close, CallSites.globallyOn());
    }

    /**
     * Creates a shared value that is given to {@code closer} on the last release. Nothing
     * is opened yet.
     *
     * @param name the name used in messages and {@code toString()}
     * @param opener makes the value on the first acquire of a cycle; must not return null
     * @param closer disposes of the value on the last release
     * @param <T> the type of the value
     * @return the shared value
     * @throws NullPointerException if an argument is null
     */
    public static <T> Shared<T> of(String name, Callable<? extends T> opener,
            Consumer<? super T> closer) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(opener, "opener");
        Objects.requireNonNull(closer, "closer");
        return new Shared<>(name, opener, closer::accept, CallSites.globallyOn());
    }

    /**
     * Acquires the value: the first acquire of a cycle calls the opener in this thread;
     * the others wait for it like {@link MultiOpen#open()}, without giving up on interrupt
     * and keeping the interrupt flag set (an uninterruptible wait by the interrupt rule of
     * the package documentation).
     *
     * @return a lease on the current value; {@link Lease#close()} gives it back exactly once
     * @throws RuntimeException if the opener threw, in this thread or in the one this call
     *     waited for (an unchecked exception as itself, a checked one wrapped in a
     *     {@link LifecycleException} {@code "NAME: the opener failed"}); the acquire is not
     *     counted (see {@link MultiOpen#open()} for what each waiter gets)
     * @throws NullPointerException if the opener returned null
     * @throws IllegalStateException if called from inside the opener or the closer
     */
    public Lease<T> acquire() {
        Gen<T> g = current;
        CallSites.Site site;
        try {
            site = g.engine.open();
        } catch (Retired r) {
            try {
                return acquireAgain(false);
            } catch (InterruptedException e) {
                throw new AssertionError("an uninterruptible acquire threw", e);
            }
        }
        return new SharedLease<>(g, g.value(), site);
    }

    /**
     * Acquires the value like {@link #acquire()}, but gives up if the thread is interrupted
     * before or while it waits, and then the acquire is not counted.
     *
     * <p><b>Interrupts.</b> By the interrupt rule of the package documentation: the flag is
     * checked on entry, even when no wait would be needed.
     *
     * @return a lease on the current value; {@link Lease#close()} gives it back exactly once
     * @throws InterruptedException {@code "NAME: interrupted in acquireInterruptibly()"} if
     *     the thread is interrupted on entry or while waiting (the flag is cleared)
     * @throws RuntimeException if the opener threw (see {@link #acquire()})
     * @throws IllegalStateException if called from inside the opener or the closer
     */
    public Lease<T> acquireInterruptibly() throws InterruptedException {
        Gen<T> g = current;
        CallSites.Site site;
        try {
            site = g.engine.openInterruptibly();
        } catch (Retired r) {
            return acquireAgain(true);
        }
        return new SharedLease<>(g, g.value(), site);
    }

    /**
     * The generation an acquire went to was replaced by a refresh and closed before the
     * acquire could count: the current one is newer, so go there.
     */
    private Lease<T> acquireAgain(boolean interruptibly) throws InterruptedException {
        for (;;) {
            Gen<T> g = current;
            try {
                CallSites.Site site =
                        interruptibly ? g.engine.openInterruptibly() : g.engine.open();
                return new SharedLease<>(g, g.value(), site);
            } catch (Retired r) {
                // replaced again meanwhile: look at current once more
            }
        }
    }

    /**
     * Makes a fresh value for every later {@link #acquire()}, if any lease is out: calls the
     * opener in this thread and makes its value the current one. Leases already out keep
     * the value they hold; that value is closed by the closer when its last lease is
     * closed, or by this call if no lease holds it any more (then this call runs that
     * closer). If no lease is out (on the current value or an older one), does nothing: the
     * next acquire makes a fresh value anyway. If the opener throws, this throws and the
     * current value stays.
     *
     * <p><b>Thread safety.</b> Refreshes run one at a time (a lock of their own, held while
     * the opener runs); acquires and lease closes never wait for a refresh. An acquire that
     * overlaps a refresh gets the old value or the fresh one.
     *
     * <p><b>Memory consistency effects.</b> The opener's making of the fresh value
     * happens-before every acquire that gets it returns; refresh() returning happens-before
     * an acquire that starts afterwards, which gets the fresh value or a newer one.
     *
     * @throws RuntimeException if the opener threw (an unchecked exception as itself, a
     *     checked one wrapped in a {@link LifecycleException} {@code "NAME: the opener
     *     failed"}); the current value stays
     * @throws NullPointerException if the opener returned null; the current value stays
     * @throws IllegalStateException {@code "NAME: refresh() called from inside the opener"}
     *     (or {@code "... inside the closer"}) if called from inside the opener of the
     *     current value or of a refresh, or from inside the closer of the current value
     * @throws RuntimeException what a replaced value's closer threw, if this call ran it
     *     (the fresh value is current all the same)
     */
    public void refresh() {
        refreshIf(null, 0L);
    }

    /**
     * Refreshes, unless {@code only} is given and is no longer the current generation in the
     * cycle {@code epoch} (the epoch bits of its state word while the lease was held).
     */
    private void refreshIf(@Nullable Gen<T> only, long epoch) {
        if (refreshLock.isHeldByCurrentThread()) {
            throw new IllegalStateException(calledInside("refresh()", true));
        }
        Gen<T> old;
        Gen<T> fresh;
        boolean oldHeld;
        boolean freshHeld;
        refreshLock.lock();
        try {
            old = current;
            if (only != null && (old != only
                    || (old.engine.snapshot() & EPOCH_MASK) != epoch)) {
                return; // refreshed or closed meanwhile: its value is no longer the current one
            }
            checkNotInHook(old, "refresh()");
            if (leaseCount() == 0) {
                return; // no lease out: the next acquire makes a fresh value anyway
            }
            fresh = new Gen<>(this);
            CallSites.Site first = fresh.engine.open(); // runs the opener; may throw
            if (!fresh.engine.openIfOpen()) { // the hold, untraced; fresh is OPEN: we hold it
                throw new AssertionError("a fresh generation not open");
            }
            fresh.engine.close(first); // 2 to 1: runs no closer
            genLock.lock();
            try {
                oldHeld = retired.length > 0;
                old.retired = true;
                if (old.live) {
                    retired = appended(retired, old);
                }
                current = fresh;
                freshHeld = retired.length > 0;
            } finally {
                genLock.unlock();
            }
        } finally {
            refreshLock.unlock();
        }
        // Outside both locks: either release may run a closer.
        Throwable failure = null;
        if (oldHeld) {
            failure = releaseHold(old, null);
        }
        if (!freshHeld) {
            failure = releaseHold(fresh, failure); // every lease closed while the opener ran
        }
        rethrow(failure);
    }

    /** Releases the hold on {@code g}; returns the first of {@code failure} and its failure. */
    private static @Nullable Throwable releaseHold(Gen<?> g, @Nullable Throwable failure) {
        try {
            g.engine.closeUntraced();
            return failure;
        } catch (RuntimeException | Error t) {
            return Failures.firstFailure(failure, t);
        }
    }

    private static void rethrow(@Nullable Throwable failure) {
        if (failure instanceof Error) {
            throw (Error) failure;
        }
        if (failure != null) {
            throw (RuntimeException) failure;
        }
    }

    /** Throws if this thread runs the opener or the closer of {@code g}. */
    private void checkNotInHook(Gen<T> g, String op) {
        if (g.engine.inHook()) {
            throw new IllegalStateException(
                    calledInside(op, phaseOf(g.engine.snapshot()) != SHUTTING_DOWN));
        }
    }

    private String calledInside(String op, boolean opener) {
        return name + ": " + op + " called from inside " + (opener ? "the opener" : "the closer");
    }

    /** The generations {@code gs} with {@code g} added at the end. */
    private static <T> Gen<T>[] appended(Gen<T>[] gs, Gen<T> g) {
        Gen<T>[] n = java.util.Arrays.copyOf(gs, gs.length + 1);
        n[gs.length] = g;
        return n;
    }

    /** The generations {@code gs} without {@code g}; {@code gs} itself if it is not there. */
    private static <T> Gen<T>[] removed(Gen<T>[] gs, Gen<T> g) {
        for (int i = 0; i < gs.length; i++) {
            if (gs[i] == g) {
                Gen<T>[] n = java.util.Arrays.copyOf(gs, gs.length - 1);
                System.arraycopy(gs, i + 1, n, i, gs.length - 1 - i);
                return n;
            }
        }
        return gs;
    }

    /**
     * {@code g}'s value begins (its startup): throws {@link Retired} if a refresh replaced
     * {@code g}, else marks it live, so a refresh that replaces it keeps it as retired.
     */
    private void valueBegins(Gen<T> g) {
        genLock.lock();
        try {
            if (g.retired) {
                throw Retired.INSTANCE;
            }
            g.live = true;
        } finally {
            genLock.unlock();
        }
    }

    /**
     * {@code g}'s value ended (after its closer, or its opener failed). Returns the
     * generation whose hold the caller must release, when {@code g} was the last retired
     * one still live; else null.
     */
    private @Nullable Gen<T> valueEnded(Gen<T> g) {
        genLock.lock();
        try {
            g.live = false;
            Gen<T>[] r = retired;
            if (r.length == 0) {
                return null;
            }
            Gen<T>[] n = removed(r, g);
            retired = n;
            return n.length == 0 && n != r ? current : null;
        } finally {
            genLock.unlock();
        }
    }

    /**
     * The leases not yet closed, on the current value and on replaced ones, not counting
     * the hold; a snapshot, exact when nothing races it.
     */
    private int leaseCount() {
        Gen<T>[] r = retired;
        int n = countIfOpen(current) - (r.length > 0 ? 1 : 0);
        for (Gen<T> g : r) {
            n += countIfOpen(g);
        }
        return Math.max(n, 0);
    }

    private static int countIfOpen(Gen<?> g) {
        long st = g.engine.snapshot();
        return phaseOf(st) == OPEN ? g.engine.countIn(st) : 0;
    }

    /**
     * Returns the name used in messages and {@code toString()}. Never blocks.
     *
     * @return the name
     */
    public String name() {
        return name;
    }

    /**
     * Returns the phase of the current value's lifecycle. Never blocks.
     *
     * @return the state
     */
    public MultiOpen.State state() {
        return MultiOpen.State.ofPhase(phaseOf(current.engine.snapshot()));
    }

    /**
     * Returns whether a value is live: made, with at least one lease out (on it or, after a
     * refresh, on an older value). Never blocks.
     *
     * @return true if {@link #state()} is {@code OPEN}
     */
    public boolean isOpen() {
        return phaseOf(current.engine.snapshot()) == OPEN;
    }

    /**
     * Returns the number of leases not yet closed, on the current value and on older ones
     * (leases only: a refresh's own bookkeeping is not counted). Never blocks; a snapshot.
     *
     * @return the count
     */
    public int openCount() {
        return leaseCount();
    }

    /**
     * Returns whether a value has been made at least once and none is live now: the last
     * lease was closed (the closer may still be running). False before the first
     * successful acquire. Never blocks.
     *
     * @return true if {@link #state()} is {@code SHUTTING_DOWN}, {@code FINALIZING} or
     *     {@code CLOSED}
     */
    public boolean isClosed() {
        int phase = phaseOf(current.engine.snapshot());
        return phase == SHUTTING_DOWN || phase == FINALIZING || phase == CLOSED;
    }

    /**
     * Waits until no value is live: the last lease has been closed and the closer has
     * returned for every value made; returns at once if none is live. Waits for the end and
     * never brings it about. See {@link MultiOpen#join()}.
     *
     * <p><b>Interrupts.</b> By the interrupt rule of the package documentation: throws if
     * the thread is interrupted on entry or while it waits, with the flag cleared.
     *
     * <p><b>Memory consistency effects.</b> The closer happens-before this returns.
     *
     * @throws InterruptedException {@code "NAME: interrupted in join()"} if the thread is
     *     interrupted on entry or while waiting (the flag is cleared)
     * @throws IllegalStateException if called from inside the opener or the closer
     */
    public void join() throws InterruptedException {
        for (;;) {
            Gen<T> g = current;
            checkNotInAnyHook();
            g.engine.join();
            if (current == g) {
                return;
            }
        }
    }

    /**
     * Waits like {@link #join()}, at most for {@code timeout}; the time left is recomputed
     * on every wake-up.
     *
     * @param timeout how long to wait at most; zero just looks
     * @return true if no value is live (any more), false if the time ran out
     * @throws InterruptedException {@code "NAME: interrupted in join()"} if the thread is
     *     interrupted on entry or while waiting (the flag is cleared)
     * @throws NullPointerException if {@code timeout} is null
     * @throws IllegalArgumentException if {@code timeout} is negative
     * @throws IllegalStateException if called from inside the opener or the closer
     */
    public boolean join(Duration timeout) throws InterruptedException {
        long nanos = Checks.waitNanos(timeout, "timeout");
        long deadline = System.nanoTime() + nanos;
        for (;;) {
            Gen<T> g = current;
            checkNotInAnyHook();
            if (!g.engine.join(nanos)) {
                return false;
            }
            if (current == g) {
                return true;
            }
            nanos = Math.max(0L, deadline - System.nanoTime());
        }
    }

    /**
     * Throws if this thread runs an opener or a closer of this shared value: join() would
     * wait for itself. The opener of a refresh runs under refreshLock, a replaced value's
     * closer under its generation's lifecycle lock; the current generation's engine checks
     * its own hooks.
     */
    private void checkNotInAnyHook() {
        if (refreshLock.isHeldByCurrentThread()) {
            throw new IllegalStateException(calledInside("join()", true));
        }
        for (Gen<T> g : retired) {
            checkNotInHook(g, "join()");
        }
    }

    /**
     * Returns {@code Shared[NAME]{STATE, count=N}}, with the traced call sites appended when
     * tracing is on. Never blocks.
     */
    @Override
    public String toString() {
        Gen<T> g = current;
        StringBuilder sb = new StringBuilder(64).append("Shared[").append(name).append("]{")
                .append(MultiOpen.State.ofPhase(phaseOf(g.engine.snapshot())))
                .append(", count=").append(openCount());
        g.engine.appendSites(sb);
        return sb.append('}').toString();
    }

    /** What a replaced generation's startup throws: the acquire goes to the current one. */
    private static final class Retired extends RuntimeException {
        private static final long serialVersionUID = 1L;
        static final Retired INSTANCE = new Retired();

        private Retired() {
            super("replaced by a refresh", null, false, false);
        }
    }

    /**
     * One value's counting: an engine whose startup calls the opener and whose shutdown
     * calls the closer. The current generation lives through many cycles, one value each;
     * one replaced by a refresh lives only until its last lease is closed. A replaced one
     * holds nothing on the others, so closing it never runs more than the current value's
     * closer besides its own.
     */
    private static final class Gen<T> implements MultiOpenEngine.Hooks {
        private final Shared<T> owner;
        final MultiOpenEngine engine;
        /** A refresh replaced this generation; guarded by the owner's genLock. */
        boolean retired;
        /** From a startup to the end of its value (closer run or opener failed); genLock. */
        boolean live;
        // Written by the opener's thread under the lifecycle lock before the state says
        // OPEN, read by acquirers after their acquire: ordered by the state's volatile.
        private @Nullable T value;

        Gen(Shared<T> owner) {
            this.owner = owner;
            this.engine = new MultiOpenEngine(owner.name, WORDS, this, owner.sites);
        }

        @Override
        public void startup() throws Exception {
            owner.valueBegins(this);
            try {
                value = Objects.requireNonNull(owner.opener.call(),
                        () -> owner.name + ": the opener returned null");
            } catch (Throwable t) {
                Gen<T> held = owner.valueEnded(this);
                if (held != null) {
                    Throwable f = releaseHold(held, null);
                    if (f != null) {
                        t.addSuppressed(f);
                    }
                }
                throw t;
            }
        }

        @Override
        public void shutdown() throws Exception {
            T v = Objects.requireNonNull(value);
            value = null;
            Throwable failure = null;
            try {
                owner.closer.close(v);
            } catch (Throwable t) {
                failure = t;
            }
            Gen<T> held = owner.valueEnded(this);
            if (held != null) {
                // The last replaced value closed: the current one is held no more. Its
                // closer may run here, one level deep: it releases no further hold.
                failure = releaseHold(held, failure);
            }
            if (failure instanceof Error) {
                throw (Error) failure;
            }
            if (failure != null) {
                throw (Exception) failure;
            }
        }

        @Override
        public boolean finalizeLater() {
            return false;
        }

        T value() {
            return Objects.requireNonNull(value);
        }
    }

    /**
     * One acquire's lease: gives its value back exactly once, even if several threads race,
     * through its {@link CloseOnce} flag, and allocates nothing in try-with-resources.
     * {@link #get()} reads the flag without the monitor: it sees its own thread's close and
     * every close that happens-before it, which is all that a correct program can ask of it.
     */
    private static final class SharedLease<T> extends CloseOnce implements Lease<T> {
        private final Gen<T> gen;
        private final T value;
        private final CallSites.@Nullable Site site;
        SharedLease(Gen<T> gen, T value, CallSites.@Nullable Site site) {
            this.gen = gen;
            this.value = value;
            this.site = site;
        }

        @Override
        public T get() {
            if (closedPlain()) {
                throw new IllegalStateException(gen.owner.name + ": lease already closed");
            }
            return value;
        }

        @Override
        public void close() {
            if (markClosed()) {
                gen.engine.close(site);
            }
        }

        /**
         * Closes, then refreshes if this lease's value is still the current one and another
         * lease is out. The cycle is read while this lease still holds it, so a value made
         * after the close (a new cycle of the same generation) is not refreshed.
         */
        @Override
        public void invalidate() {
            if (markClosed()) {
                long epoch = gen.engine.snapshot() & EPOCH_MASK;
                gen.engine.close(site);
                gen.owner.refreshIf(gen, epoch);
            }
        }

        @Override
        public String toString() {
            return "Lease[" + gen.owner.name + (isClosed() ? "]{closed}" : "]{open}");
        }
    }
}
