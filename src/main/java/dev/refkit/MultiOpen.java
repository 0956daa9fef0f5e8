package dev.refkit;

import static dev.refkit.MultiOpenWord.CLOSED;
import static dev.refkit.MultiOpenWord.FINALIZING;
import static dev.refkit.MultiOpenWord.OPEN;
import static dev.refkit.MultiOpenWord.SHUTTING_DOWN;
import static dev.refkit.MultiOpenWord.phaseOf;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;

/**
 * A base class for a resource that starts up on its first {@link #open()} and shuts down on
 * its last {@link #close()}, however many threads share it.
 *
 * <pre>{@code
 * final class Db extends MultiOpen {
 *     private Connection conn;
 *     protected void startup() throws SQLException { conn = DriverManager.getConnection(URL); }
 *     protected void shutdown() throws SQLException { conn.close(); }
 *     ResultSet query(String sql) throws SQLException { ensureOpen(); return ...; }
 * }
 *
 * try (Handle h = db.open()) {   // the first open runs startup()
 *     db.query("select 1");
 * }                              // the last close runs shutdown()
 * }</pre>
 *
 * <p><b>Lifecycle.</b> A <em>cycle</em> goes {@link State#STARTING STARTING} (the first open
 * runs {@link #startup()}), {@link State#OPEN OPEN}, {@link State#SHUTTING_DOWN
 * SHUTTING_DOWN} (the last close runs {@link #shutdown()}), then {@link State#CLOSED CLOSED},
 * or {@link State#FINALIZING FINALIZING} until {@link #finalizeNow()} if
 * {@link #finalizeLater()} says so. A later open starts a new cycle. {@code startup()} and
 * {@code shutdown()} each run exactly once per cycle and never at the same time.
 *
 * <p><b>Openers that wait share one startup.</b> An open that arrives while
 * {@code startup()} runs is counted into that cycle the moment it arrives: when startup
 * returns, every such opener holds an open of the new cycle, so the cycle cannot end (and
 * {@code shutdown()} cannot run) until each of them has closed too, even if the thread that
 * ran startup closes at once. An open that arrives while {@code shutdown()} runs waits for
 * it, and all the openers that arrived meanwhile share the next cycle's one startup: one of
 * them runs it, the others are counted into it. If that startup fails, none of them is
 * counted and each throws the failure. So however many threads open and close at once,
 * {@code startup()} runs once per overlapping batch of opens, not once per opener.
 *
 * <p><b>Thread safety.</b> Every public method is safe to call from any thread. An
 * {@code open()} or {@code close()} that does not move the count to or from zero takes no
 * lock: an open is one atomic add on one {@code long} field, a close one CAS on it (a close
 * that loses its CAS to another thread calls {@link Thread#yield()} before it tries again,
 * so that threads hammering one object take turns with its cache line). The
 * {@link Handle} of an open allocates nothing when it does not leave the method that opened
 * it (see {@link Handle}). The first open and the
 * last close take this object's lifecycle lock (a {@link ReentrantLock}, never
 * {@code synchronized}, so virtual threads do not pin) and run the hook <em>while holding
 * it</em>: an open that arrives meanwhile waits for the hook to finish (on the startup
 * attempt it joined, not on the lock, except for the one opener that will run the next
 * startup). The lock is this object's own; no other object's work waits on it.
 * {@link #name()}, {@link #state()}, {@link #openCount()} and {@link #toString()} never
 * block.
 *
 * <p><b>Interrupts.</b> {@link #openInterruptibly()} and {@link #join()} follow the library's
 * interrupt rule: they check the interrupt flag on entry and throw
 * {@link InterruptedException} if it is set, and an interrupted wait throws with the flag
 * cleared and nothing changed; {@link #open()} waits through interrupts and returns with the
 * flag still set (see the {@linkplain dev.refkit package documentation}).
 *
 * <p><b>Memory consistency effects.</b> {@code startup()} happens-before every
 * {@code open()} of its cycle returns, including those of the openers that waited for it.
 * Actions in a thread before it calls {@code close()} (or closes a {@link Handle})
 * happen-before {@code shutdown()} of that cycle runs, and
 * {@code shutdown()} happens-before {@code join()} returns for that cycle.
 *
 * <p><b>Hooks calling back.</b> Calling {@code open()} or {@code close()} on the same
 * object from inside its own {@code startup()} or {@code shutdown()} (the thread that holds
 * the lifecycle lock) never deadlocks: it throws {@link IllegalStateException}, for example
 * {@code "db: open() called from inside startup()"}; so do {@link #join()} from inside a
 * hook (it would wait for itself) and {@link #closeIfOpen()} inside {@code startup()}.
 * {@link #ensureOpen()} passes on that thread while a hook runs, so the subclass's own
 * methods guarded by it work from the hooks.
 *
 * <p><b>Call-site tracing.</b> Off by default. Turn it on for one object with
 * {@link #MultiOpen(String, boolean)}, or for every object created afterwards with the
 * system property {@code -Ddev.refkit.traceCallSites=true}. It records where each live open
 * came from and where the last final close came from, and names them in error messages and
 * {@code toString()}. It costs a stack walk per open and close, so it is for debugging.
 */
public abstract class MultiOpen {

    /** The phase of a {@link MultiOpen}, as {@link #state()} reports it. */
    public enum State {
        /** Never opened (or every startup so far has failed). */
        NEW,
        /** The first open of a cycle is running {@code startup()}. */
        STARTING,
        /** Started up, with at least one open. */
        OPEN,
        /** The last close is running {@code shutdown()}. */
        SHUTTING_DOWN,
        /** Shut down, waiting for {@code finalizeNow()} (only if {@code finalizeLater()}). */
        FINALIZING,
        /** Shut down and finalized; the next open starts a new cycle. */
        CLOSED;

        private static final State[] BY_PHASE = values();

        /** The state of a phase of {@link MultiOpenWord} (numbered in this order). */
        static State ofPhase(int phase) {
            return BY_PHASE[phase];
        }
    }

    private static final MultiOpenEngine.Words WORDS = new MultiOpenEngine.Words(
            "open()", "openInterruptibly()", "close()", "startup()", "shutdown()");

    // The count, the phases and the waits are the engine's; this class is the public face.
    private final MultiOpenEngine engine;

    /** Creates an object named after its class's simple name. */
    protected MultiOpen() {
        this(null, CallSites.globallyOn() ? new CallSites() : null);
    }

    /**
     * Creates an object with the given name, used in every message and in
     * {@code toString()}.
     *
     * @param name the name
     * @throws NullPointerException if {@code name} is null
     */
    protected MultiOpen(String name) {
        this(Objects.requireNonNull(name, "name"), CallSites.globallyOn() ? new CallSites() : null);
    }

    /**
     * Creates an object with the given name and call-site tracing on or off, whatever the
     * system property says.
     *
     * @param name the name
     * @param traceCallSites whether to record where opens and the last close came from
     * @throws NullPointerException if {@code name} is null
     */
    protected MultiOpen(String name, boolean traceCallSites) {
        this(Objects.requireNonNull(name, "name"), traceCallSites ? new CallSites() : null);
    }

    // HookCalls only keeps the reference: the engine calls the hooks on the first open,
    // which comes after construction.
    @SuppressWarnings("this-escape")
    private MultiOpen(@Nullable String name, @Nullable CallSites sites) {
        this.engine = new MultiOpenEngine(name != null ? name : getClass().getSimpleName(),
                WORDS, new HookCalls(this), sites);
    }

    /** The engine's way into this object's protected hooks. */
    private static final class HookCalls implements MultiOpenEngine.Hooks {
        private final MultiOpen owner;

        HookCalls(MultiOpen owner) {
            this.owner = owner;
        }

        @Override
        public void startup() throws Exception {
            owner.startup();
        }

        @Override
        public void shutdown() throws Exception {
            owner.shutdown();
        }

        @Override
        public boolean finalizeLater() {
            return owner.finalizeLater();
        }
    }

    // ---------------------------------------------------------------- hooks

    /**
     * Starts the resource up. Called exactly once per cycle, by the open that takes the
     * count from 0 to 1, in that thread, while it holds the lifecycle lock; every other
     * opener waits until it returns. Does nothing by default.
     *
     * @throws Exception if the resource cannot start; the opener and every opener waiting on
     *     this attempt throw it (see {@link #open()}), none of them is counted, and the next
     *     open tries again
     */
    protected void startup() throws Exception {}

    /**
     * Shuts the resource down. Called exactly once per cycle, by the close that takes the
     * count from 1 to 0, in that thread, while it holds the lifecycle lock; an open that
     * arrives meanwhile waits for it, then starts the next cycle. Does nothing by default.
     *
     * @throws Exception if shutting down fails; the cycle ends closed and finalized all the
     *     same and the closing call throws it
     */
    protected void shutdown() throws Exception {}

    /**
     * Returns whether the last close should leave the cycle {@link State#FINALIZING} until the
     * subclass calls {@link #finalizeNow()} (for example once a queue has drained), so that
     * {@link #join()} waits for that. Called once per cycle, right after a successful
     * {@code shutdown()}, under the lifecycle lock. Returns {@code false} by default. If it
     * throws, that counts as a failed shutdown: the cycle ends closed and finalized and the
     * closing call throws it.
     *
     * @return true to finalize later with {@code finalizeNow()}
     */
    protected boolean finalizeLater() {
        return false;
    }

    // ---------------------------------------------------------------- opening

    /**
     * Opens this object: increments the count, and on the first open of a cycle runs
     * {@link #startup()} in this thread. Returns once startup has finished, whoever ran it;
     * an open that waited for another thread's startup is counted into that startup's cycle
     * (see the class Javadoc), so it returns holding an open of a cycle that is OPEN.
     *
     * <p><b>Blocking and interrupts.</b> Blocks while another thread runs {@code startup()}
     * or {@code shutdown()}, like {@link java.util.concurrent.locks.Lock#lock()}: an
     * uninterruptible wait by the interrupt rule of the package documentation, so an
     * interrupt does not end the wait and the thread's interrupt flag is still set when this
     * returns.
     *
     * @return a handle whose {@link Handle#close()} closes this open exactly once
     * @throws RuntimeException if {@code startup()} threw, in this thread or in the thread
     *     whose startup this call waited for; the open is not counted. An unchecked exception
     *     or {@link Error} is rethrown as that same object in every opener of the attempt; a
     *     checked one is wrapped in a {@link LifecycleException} ({@code "NAME: startup()
     *     failed"}), a new one for each opener, each with that exception as its cause. Only
     *     the thread that ran startup gets its interrupt flag set again if startup threw
     *     {@link InterruptedException}; the waiters' flags are left alone.
     * @throws IllegalStateException if called from inside this object's own
     *     {@code startup()} or {@code shutdown()}, or if the count would overflow
     */
    public final Handle open() {
        return new MultiOpenHandle(engine, engine.open());
    }

    /**
     * Opens this object like {@link #open()}, but gives up if the thread is interrupted
     * before or while it waits, and then the open is not counted and nothing is changed
     * (an opener that gives up while it was to run the next startup hands that task to the
     * openers waiting with it). If the interrupt comes just as the startup it waited for
     * ends, so that the open is already counted, this returns the handle with the
     * interrupt flag set.
     *
     * <p><b>Interrupts.</b> By the interrupt rule of the package documentation: the flag is
     * checked on entry, even when no wait would be needed.
     *
     * @return a handle whose {@link Handle#close()} closes this open exactly once
     * @throws InterruptedException {@code "NAME: interrupted in openInterruptibly()"} if the
     *     thread is interrupted on entry or while waiting for another thread's
     *     {@code startup()} or {@code shutdown()} (the flag is cleared)
     * @throws RuntimeException if {@code startup()} threw (see {@link #open()})
     * @throws IllegalStateException if called from inside this object's own hooks, or if
     *     the count would overflow
     */
    public final Handle openInterruptibly() throws InterruptedException {
        return new MultiOpenHandle(engine, engine.openInterruptibly());
    }

    // ---------------------------------------------------------------- closing

    /**
     * Closes one open: decrements the count, and on the last close of a cycle runs
     * {@link #shutdown()} in this thread, then finalizes the cycle unless
     * {@link #finalizeLater()} returns true.
     *
     * <p><b>Blocking.</b> Does not block unless this is the last open (it then runs
     * {@code shutdown()}) or another thread is running a hook. A close that loses its CAS
     * to another thread's open or close yields the processor before it retries. Not
     * interruptible, and leaves the interrupt flag alone. A {@code close()} made while
     * another thread runs {@code startup()} waits for it and then closes one open of the
     * new cycle, whichever opener's that was: close the {@link Handle} that
     * {@link #open()} returned to close exactly your own.
     *
     * @throws IllegalStateException {@code "NAME: close() before any open()"} if this object
     *     was never opened; {@code "NAME: close() without a matching open()"} if the count is
     *     already 0 (with tracing on, naming where the last close came from); or if called
     *     from inside this object's own {@code startup()} or {@code shutdown()}
     * @throws RuntimeException if {@code shutdown()} threw (an unchecked exception as
     *     itself, a checked one wrapped in a {@link LifecycleException}); the cycle is closed
     *     and finalized all the same
     */
    public final void close() {
        engine.close(null);
    }

    /**
     * Closes like {@link #close()}, then throws if that was not the last open (the count
     * stays decremented).
     *
     * @throws IllegalStateException {@code "NAME: closeFinal() but 2 opens remain"} (or
     *     {@code "but 1 open remains"}) if other opens remain (with tracing on, naming where
     *     they came from); or for the misuses {@link #close()} names, with
     *     {@code closeFinal()} in the message: {@code "NAME: closeFinal() before any open()"},
     *     {@code "NAME: closeFinal() without a matching open()"}
     * @throws RuntimeException if {@code shutdown()} threw (see {@link #close()})
     */
    public final void closeFinal() {
        engine.closeFinal();
    }

    /**
     * Closes like {@link #close()} if the count is above 0; otherwise does nothing.
     *
     * @return true if this call closed an open, false if the count was 0 (also inside this
     *     object's own {@code shutdown()})
     * @throws IllegalStateException if called from inside this object's own
     *     {@code startup()}
     * @throws RuntimeException if {@code shutdown()} threw (see {@link #close()})
     */
    public final boolean closeIfOpen() {
        return engine.closeIfOpen();
    }

    /**
     * Finalizes a cycle left {@link State#FINALIZING} by a {@link #finalizeLater()} that
     * returned true: releases the threads in {@link #join()}. May be called from any thread;
     * called from inside {@code shutdown()}, it finalizes the cycle as soon as
     * {@code shutdown()} returns, whatever {@code finalizeLater()} says. Blocks while
     * another thread runs a hook.
     *
     * <p>If the object was opened again before this call, the pending finalization belongs
     * to the new cycle: joiners wait for that cycle's end, and this call throws
     * {@link IllegalStateException} (the object is open); call it again once the new cycle's
     * last close has left it {@code FINALIZING}.
     *
     * @throws IllegalStateException if the state is not {@code FINALIZING} (nor a
     *     {@code shutdown()} running in this thread): a second call for the same cycle, a
     *     call while open, or one before any open; the message names the state
     */
    protected final void finalizeNow() {
        engine.finalizeNow();
    }

    // ---------------------------------------------------------------- queries

    /**
     * Returns the name used in every message and in {@code toString()}. Never blocks.
     *
     * @return the name given to the constructor, else the class's simple name
     */
    public final String name() {
        return engine.name();
    }

    /**
     * Returns the current phase. Never blocks.
     *
     * @return the state
     */
    public final State state() {
        return State.ofPhase(phaseOf(engine.snapshot()));
    }

    /**
     * Returns whether this object is open: started up with a count above 0. Never blocks.
     *
     * @return true if {@link #state()} is {@link State#OPEN}
     */
    public final boolean isOpen() {
        return phaseOf(engine.snapshot()) == OPEN;
    }

    /**
     * Returns whether this object has been opened at least once and its count is now 0
     * (false before the first successful open). Never blocks.
     *
     * @return true if the state is {@code SHUTTING_DOWN}, {@code FINALIZING} or
     *     {@code CLOSED}
     */
    public final boolean isClosed() {
        int phase = phaseOf(engine.snapshot());
        return phase == SHUTTING_DOWN || phase == FINALIZING || phase == CLOSED;
    }

    /**
     * Returns the current count of opens. While {@code startup()} runs it is 1 for the open
     * running it plus the openers waiting for it, which are counted into its cycle; openers
     * waiting for a running {@code shutdown()} are counted once the next startup begins.
     * Never blocks; while a startup runs, the figure is a snapshot that may be behind by
     * the openers arriving at that moment.
     *
     * @return the count
     */
    public final int openCount() {
        return engine.countIn(engine.snapshot());
    }

    /**
     * Waits until the current cycle is finalized: its last close has run {@code shutdown()}
     * and, if {@link #finalizeLater()} said so, {@link #finalizeNow()} has been called.
     * Returns at once if no cycle is pending: never opened, or closed and finalized. While
     * the very first startup runs, a cycle is pending: this waits until that startup fails
     * or the cycle it begins ends. A startup that fails ends the wait only if no earlier
     * cycle was still waiting to be finalized: a failed startup from {@code FINALIZING} goes
     * back to {@code FINALIZING}, and this keeps waiting for {@code finalizeNow()}. Waits
     * for the end and never brings it about.
     *
     * <p><b>Interrupts.</b> By the interrupt rule of the package documentation: throws
     * {@link InterruptedException} if the thread is interrupted on entry (even if no cycle
     * is pending) or while it waits, with the flag cleared and nothing changed.
     *
     * <p><b>Memory consistency effects.</b> {@code shutdown()} of the cycle waited for
     * happens-before this returns.
     *
     * @throws InterruptedException {@code "NAME: interrupted in join()"} if the thread is
     *     interrupted on entry or while waiting (the flag is cleared)
     * @throws IllegalStateException if called from inside this object's own hooks, which
     *     would wait for themselves
     */
    public final void join() throws InterruptedException {
        engine.join();
    }

    /**
     * Waits like {@link #join()}, at most for {@code timeout}; the time left is recomputed
     * on every wake-up.
     *
     * @param timeout how long to wait at most; zero just looks
     * @return true if no cycle is pending (any more), false if the time ran out
     * @throws InterruptedException {@code "NAME: interrupted in join()"} if the thread is
     *     interrupted on entry or while waiting (the flag is cleared)
     * @throws NullPointerException if {@code timeout} is null
     * @throws IllegalArgumentException if {@code timeout} is negative
     * @throws IllegalStateException if called from inside this object's own hooks
     */
    public final boolean join(Duration timeout) throws InterruptedException {
        return engine.join(Checks.waitNanos(timeout, "timeout"));
    }

    /**
     * Throws unless this object is open: the guard for a subclass's own methods. Passes in
     * the thread running {@code startup()} or {@code shutdown()} while it runs, so guarded
     * methods work from the hooks. Never blocks.
     *
     * @throws ClosedException {@code "NAME: not yet opened"} before the first open
     *     has finished startup; {@code "NAME: already closed"} once the count is 0 again
     */
    protected final void ensureOpen() {
        engine.ensureOpen();
    }

    /**
     * Returns {@code MultiOpen[NAME]{STATE, count=N}}, with the traced call sites appended
     * when tracing is on. Never blocks.
     */
    @Override
    public String toString() {
        long s = engine.snapshot();
        StringBuilder sb = new StringBuilder(64).append("MultiOpen[").append(engine.name())
                .append("]{").append(State.ofPhase(phaseOf(s)))
                .append(", count=").append(engine.countIn(s));
        engine.appendSites(sb);
        return sb.append('}').toString();
    }
}
