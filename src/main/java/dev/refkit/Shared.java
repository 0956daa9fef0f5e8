package dev.refkit;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * One value shared by reference count: made by the first {@link #acquire()}, closed by the
 * last release, made anew by the next acquire after that.
 *
 * <pre>{@code
 * Shared<HttpClient> http = Shared.of("http", HttpClient::newHttpClient);
 * try (Lease<HttpClient> lease = http.acquire()) {
 *     lease.get().send(request, BodyHandlers.ofString());
 * }
 * }</pre>
 *
 * <p>It is a {@link MultiOpen} whose {@code startup()} calls the opener and whose
 * {@code shutdown()} calls the closer, and every rule of {@code MultiOpen} holds: the opener
 * and the closer run exactly once per cycle, never at the same time, under this object's
 * lifecycle lock; an acquire or release that does not move the count to or from 0 is one atomic
 * operation and takes no lock. An acquire that arrives while the opener (or the closer) runs
 * waits for it and is counted into the cycle of the value it then gets, so a batch of
 * overlapping acquires makes the value once, however soon the first of them releases.
 *
 * <p><b>Thread safety.</b> Safe for use by any number of threads; a {@link Lease} may be
 * handed to another thread that closes it. {@link #state()}, {@link #openCount()} and
 * {@link #toString()} never block.
 *
 * <p><b>Memory consistency effects.</b> The opener happens-before every {@code acquire()}
 * of its cycle returns; actions before a lease is closed happen-before the closer runs.
 *
 * <p><b>Opener and closer calling back.</b> {@code acquire()} from inside the opener or the
 * closer throws {@link IllegalStateException} instead of deadlocking.
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

    private final Engine<T> engine;

    private Shared(String name, Callable<? extends T> opener, Closer<? super T> closer,
            boolean traceCallSites) {
        this.engine = new Engine<>(name, opener, closer, traceCallSites);
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
     * and keeping the interrupt flag set.
     *
     * @return a lease; {@link Lease#close()} releases it exactly once
     * @throws RuntimeException if the opener threw, in this thread or in the one this call
     *     waited for (an unchecked exception as itself, a checked one wrapped in a
     *     {@link LifecycleException} {@code "NAME: the opener failed"}); the acquire is not
     *     counted (see {@link MultiOpen#open()} for what each waiter gets)
     * @throws NullPointerException if the opener returned null
     * @throws IllegalStateException if called from inside the opener or the closer
     */
    public Lease<T> acquire() {
        engine.acquire();
        return new SharedLease<>(engine, engine.value(), engine.recordOpen());
    }

    /**
     * Acquires the value like {@link #acquire()}, but gives up if the thread is interrupted
     * before or while it waits, and then the acquire is not counted.
     *
     * @return a lease; {@link Lease#close()} releases it exactly once
     * @throws InterruptedException {@code "NAME: interrupted in acquireInterruptibly()"} if
     *     the thread is interrupted on entry or while waiting (the flag is cleared)
     * @throws RuntimeException if the opener threw (see {@link #acquire()})
     * @throws IllegalStateException if called from inside the opener or the closer
     */
    public Lease<T> acquireInterruptibly() throws InterruptedException {
        engine.acquireInterruptibly();
        return new SharedLease<>(engine, engine.value(), engine.recordOpen());
    }

    /**
     * Returns the phase of the value's lifecycle. Never blocks.
     *
     * @return the state
     */
    public MultiOpen.State state() {
        return engine.state();
    }

    /**
     * Returns whether a value is live: made, with at least one lease. Never blocks.
     *
     * @return true if {@link #state()} is {@code OPEN}
     */
    public boolean isOpen() {
        return engine.isOpen();
    }

    /**
     * Returns the number of leases not yet closed. Never blocks.
     *
     * @return the count
     */
    public int openCount() {
        return engine.openCount();
    }

    /**
     * Returns whether a value has been made at least once and none is live now: the last
     * lease was released (the closer may still be running). False before the first
     * successful acquire. Never blocks.
     *
     * @return true if {@link #state()} is {@code SHUTTING_DOWN}, {@code FINALIZING} or
     *     {@code CLOSED}
     */
    public boolean isClosed() {
        return engine.isClosed();
    }

    /**
     * Waits until the current value has been closed by its last release (the closer has
     * returned); returns at once if there is none. See {@link MultiOpen#join()}.
     *
     * <p><b>Memory consistency effects.</b> The closer happens-before this returns.
     *
     * @throws InterruptedException {@code "NAME: interrupted in join()"} if the thread is
     *     interrupted on entry or while waiting (the flag is cleared)
     * @throws IllegalStateException if called from inside the opener or the closer
     */
    public void join() throws InterruptedException {
        engine.join();
    }

    /**
     * Waits like {@link #join()}, at most for {@code timeout}.
     *
     * @param timeout how long to wait at most
     * @return true if no value is live (any more), false if the time ran out
     * @throws InterruptedException {@code "NAME: interrupted in join()"} if the thread is
     *     interrupted on entry or while waiting (the flag is cleared)
     * @throws NullPointerException if {@code timeout} is null
     * @throws IllegalArgumentException if {@code timeout} is negative
     * @throws IllegalStateException if called from inside the opener or the closer
     */
    public boolean join(Duration timeout) throws InterruptedException {
        return engine.join(timeout);
    }

    /** Returns {@code Shared[NAME]{STATE, count=N}}. Never blocks. */
    @Override
    public String toString() {
        return engine.toString();
    }

    /** The counting engine: a MultiOpen whose hooks are the opener and the closer. */
    private static final class Engine<T> extends MultiOpen {
        private final Callable<? extends T> opener;
        private final Closer<? super T> closer;
        // Written by the opener's thread under the lifecycle lock before the state says
        // OPEN, read by acquirers after their acquire: ordered by the state's volatile.
        private @Nullable T value;

        Engine(String name, Callable<? extends T> opener, Closer<? super T> closer,
                boolean traceCallSites) {
            super(name, traceCallSites, true);
            this.opener = opener;
            this.closer = closer;
        }

        @Override
        protected void startup() throws Exception {
            value = Objects.requireNonNull(opener.call(),
                    () -> nameForMessages() + ": the opener returned null");
        }

        @Override
        protected void shutdown() throws Exception {
            T v = Objects.requireNonNull(value);
            value = null;
            closer.close(v);
        }

        T value() {
            return Objects.requireNonNull(value);
        }
    }

    /**
     * One acquire's lease: releases it exactly once, even if several threads race (the
     * close-once flag is {@link MultiOpenHandle}'s).
     */
    private static final class SharedLease<T> extends MultiOpenHandle implements Lease<T> {
        private final T value;

        SharedLease(Engine<T> engine, T value, CallSites.@Nullable Site site) {
            super(engine, site);
            this.value = value;
        }

        @Override
        public T get() {
            if (isClosed()) {
                throw new IllegalStateException(
                        owner.nameForMessages() + ": lease already closed");
            }
            return value;
        }

        /** For a Shared the same as {@link #close()}: see {@link Lease#invalidate()}. */
        @Override
        public void invalidate() {
            close();
        }

        @Override
        public String toString() {
            return "Lease[" + owner.nameForMessages() + (isClosed() ? "]{closed}" : "]{open}");
        }
    }
}
