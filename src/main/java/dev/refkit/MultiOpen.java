package dev.refkit;

import static dev.refkit.MultiOpenWord.*;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
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
 * lock: an open is one atomic add on one {@code long} field (like Netty's {@code retain()}),
 * a close one CAS on it (a close that loses its CAS to another thread calls
 * {@link Thread#yield()} before it tries again, as Netty's {@code release()} does, so that
 * threads hammering one object take turns with its cache line). The first open and the
 * last close take this object's lifecycle lock (a {@link ReentrantLock}, never
 * {@code synchronized}, so virtual threads do not pin) and run the hook <em>while holding
 * it</em>: an open that arrives meanwhile waits for the hook to finish (on the startup
 * attempt it joined, not on the lock, except for the one opener that will run the next
 * startup). The lock is this object's own; no other object's work waits on it.
 * {@link #state()}, {@link #openCount()} and {@link #toString()} never block.
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
        CLOSED
    }

    // Implementation: this class keeps the public API, the fields and the lock-free side
    // (an open's getAndAdd, a close's CAS, the queries). MultiOpenWord lays out the state
    // word; MultiOpenCycle makes every phase change under the lock and runs the hooks;
    // MultiOpenHandle is the handle open() returns.

    // The modes of release(...): close() (and a handle's close), closeFinal(), closeIfOpen().
    static final int CLOSE = 0;
    static final int CLOSE_FINAL = 1;
    static final int CLOSE_IF_OPEN = 2;

    // Package-private fields and helpers are for MultiOpenCycle, the locked side, alone.
    private final String name;
    private final boolean shared;
    final @Nullable CallSites sites;
    final ReentrantLock lock = new ReentrantLock();

    /** Count, phase and epoch, packed as {@link MultiOpenWord} describes. */
    volatile long state;
    /**
     * The startup attempt an opener that finds the phase not OPEN joins: the one running in
     * STARTING, else a fresh one for the next cycle. Replaced only by that attempt's starter.
     */
    volatile MultiOpenCycle.Attempt attempt = new MultiOpenCycle.Attempt();
    /** Released when the current cycle is finalized; null when there is none pending. */
    volatile @Nullable CountDownLatch finalized;
    /** finalizeNow() was called from inside shutdown(); guarded by lock. */
    boolean finalizeRequested;

    /** Creates an object named after its class's simple name. */
    protected MultiOpen() {
        this(null, CallSites.globallyOn(), false);
    }

    /**
     * Creates an object with the given name, used in every message and in
     * {@code toString()}.
     *
     * @param name the name
     * @throws NullPointerException if {@code name} is null
     */
    protected MultiOpen(String name) {
        this(Objects.requireNonNull(name, "name"), CallSites.globallyOn(), false);
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
        this(Objects.requireNonNull(name, "name"), traceCallSites, false);
    }

    /** For {@link Shared}: its engine names itself after the value's hooks. */
    MultiOpen(@Nullable String name, boolean traceCallSites, boolean shared) {
        this.name = name != null ? name : getClass().getSimpleName();
        this.shared = shared;
        this.sites = traceCallSites ? new CallSites() : null;
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
     * or {@code shutdown()}, like {@link java.util.concurrent.locks.Lock#lock()}: an interrupt
     * does not end the wait, and the thread's interrupt flag is still set when this returns.
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
        acquire();
        CallSites t = sites;
        return new MultiOpenHandle(this, t == null ? null : t.opened());
    }

    /**
     * Opens this object like {@link #open()}, but gives up if the thread is interrupted
     * before or while it waits, and then the open is not counted and nothing is changed
     * (an opener that gives up while it was to run the next startup hands that task to the
     * openers waiting with it). If the interrupt comes just as the startup it waited for
     * ends, so that the open is already counted, this returns the handle with the
     * interrupt flag set.
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
        acquireInterruptibly();
        CallSites t = sites;
        return new MultiOpenHandle(this, t == null ? null : t.opened());
    }

    /** Counts one open without making a handle (for {@link Shared}). */
    final void acquire() {
        long prev = (long) STATE.getAndAdd(this, 1L);
        if ((prev & PHASE_MASK) != OPEN_BITS || (int) prev >= MAX_COUNT) {
            openMissed(prev, false);
        }
    }

    /** Counts one open without making a handle, interruptibly (for {@link Shared}). */
    final void acquireInterruptibly() throws InterruptedException {
        if (Thread.interrupted()) {
            throw new InterruptedException(name + ": interrupted in " + interruptibleOpenOp());
        }
        long prev = (long) STATE.getAndAdd(this, 1L);
        if ((prev & PHASE_MASK) != OPEN_BITS || (int) prev >= MAX_COUNT) {
            try {
                openMissed(prev, true);
            } catch (MultiOpenCycle.InterruptedWhileOpening e) {
                throw e.unwrap();
            }
        }
    }

    /**
     * The getAndAdd of an open found {@code prev}, not a live OPEN state: take the 1 back
     * (unless the state has become OPEN, making it a real open), then open the slow way.
     */
    private void openMissed(long prev, boolean interruptibly) {
        if ((prev & PHASE_MASK) == OPEN_BITS) { // count overflow: the 1 cannot be a real open
            STATE.getAndAdd(this, -1L);
            throw new IllegalStateException(name + ": too many opens");
        }
        for (long s = state; ; ) {
            if ((s & PHASE_MASK) == OPEN_BITS) {
                return; // opened meanwhile: our 1 is one of its opens, after startup()
            }
            long w = (long) STATE.compareAndExchange(this, s, s - 1);
            if (w == s) {
                break;
            }
            s = w;
        }
        MultiOpenCycle.openSlow(this, interruptibly);
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
        release(CLOSE, null);
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
        release(CLOSE_FINAL, null);
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
        return release(CLOSE_IF_OPEN, null);
    }

    /** Closes one open; {@code site} is that open's recorded site, if known. */
    final boolean release(int mode, CallSites.@Nullable Site site) {
        long s = state;
        if ((s & PHASE_MASK) == OPEN_BITS && (int) s > 1) {
            if (STATE.compareAndSet(this, s, s - 1)) {
                return released(mode, site, (int) s - 1);
            }
            return releaseContended(mode, site);
        }
        return releaseSlow(mode, site);
    }

    /**
     * The CAS of a close lost to another thread's open or close: yield before each retry
     * (as Netty's {@code release()} does), so that two cores hammering one object take
     * turns with the cache line instead of trading it on every try.
     */
    private boolean releaseContended(int mode, CallSites.@Nullable Site site) {
        for (;;) {
            Thread.yield();
            long s = state;
            if ((s & PHASE_MASK) != OPEN_BITS || (int) s <= 1) {
                return releaseSlow(mode, site);
            }
            if (STATE.compareAndSet(this, s, s - 1)) {
                return released(mode, site, (int) s - 1);
            }
        }
    }

    final boolean released(int mode, CallSites.@Nullable Site site, int remaining) {
        CallSites t = sites;
        if (t != null) {
            t.closed(site, remaining == 0);
        }
        if (mode == CLOSE_FINAL && remaining > 0) {
            throw new IllegalStateException(name + ": closeFinal() but " + remaining
                    + (remaining == 1 ? " open remains" : " opens remain")
                    + (t == null ? "" : t.liveSuffix()));
        }
        return true;
    }

    /** The close the lock-free path cannot make: {@link MultiOpenCycle} makes it under the lock. */
    private boolean releaseSlow(int mode, CallSites.@Nullable Site site) {
        return MultiOpenCycle.releaseSlow(this, mode, site);
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
        MultiOpenCycle.finalizeNow(this);
    }

    // ---------------------------------------------------------------- queries

    /**
     * Returns the current phase. Never blocks.
     *
     * @return the state
     */
    public final State state() {
        return stateOf(state);
    }

    /**
     * Returns whether this object is open: started up with a count above 0. Never blocks.
     *
     * @return true if {@link #state()} is {@link State#OPEN}
     */
    public final boolean isOpen() {
        return phaseOf(state) == OPEN;
    }

    /**
     * Returns whether this object has been opened at least once and its count is now 0
     * (false before the first successful open). Never blocks.
     *
     * @return true if the state is {@code SHUTTING_DOWN}, {@code FINALIZING} or
     *     {@code CLOSED}
     */
    public final boolean isClosed() {
        int phase = phaseOf(state);
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
        return countNow(state);
    }

    /** The count in {@code s}, with the members of a running startup added. */
    private int countNow(long s) {
        return phaseOf(s) == STARTING ? 1 + attempt.members() : countOf(s);
    }

    /**
     * Waits until the current cycle is finalized: its last close has run {@code shutdown()}
     * and, if {@link #finalizeLater()} said so, {@link #finalizeNow()} has been called.
     * Returns at once if no cycle is pending: never opened, or closed and finalized. While
     * the very first startup runs, a cycle is pending: this waits until that startup fails
     * or the cycle it begins ends. A
     * startup that fails ends the wait only if no earlier cycle was still waiting to be
     * finalized: a failed startup from {@code FINALIZING} goes back to {@code FINALIZING},
     * and this keeps waiting for {@code finalizeNow()}.
     *
     * <p><b>Blocking and interrupts.</b> Blocks until then. Throws
     * {@link InterruptedException} if the thread is interrupted on entry or while it waits,
     * with the flag cleared and nothing changed.
     *
     * @throws InterruptedException {@code "NAME: interrupted in join()"} if the thread is
     *     interrupted on entry or while waiting (the flag is cleared)
     * @throws IllegalStateException if called from inside this object's own hooks, which
     *     would wait for themselves
     */
    public final void join() throws InterruptedException {
        CountDownLatch g = finalized;
        if (g != null) {
            checkNotInHook("join()");
            try {
                g.await();
            } catch (InterruptedException e) {
                throw interruptedInJoin(e);
            }
        } else if (Thread.interrupted()) {
            throw interruptedInJoin(null);
        }
    }

    /**
     * Waits like {@link #join()}, at most for {@code timeout}.
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
        long nanos = Checks.waitNanos(timeout, "timeout");
        CountDownLatch g = finalized;
        if (g != null) {
            checkNotInHook("join()");
            try {
                return g.await(nanos, TimeUnit.NANOSECONDS);
            } catch (InterruptedException e) {
                throw interruptedInJoin(e);
            }
        }
        if (Thread.interrupted()) {
            throw interruptedInJoin(null);
        }
        return true;
    }

    private InterruptedException interruptedInJoin(@Nullable InterruptedException cause) {
        InterruptedException e = new InterruptedException(name + ": interrupted in join()");
        if (cause != null) {
            e.initCause(cause);
        }
        return e;
    }

    private void checkNotInHook(String op) {
        if (lock.isHeldByCurrentThread()) {
            int phase = phaseOf(state);
            if (phase == STARTING || phase == SHUTTING_DOWN) {
                throw new IllegalStateException(calledInside(op, phase == STARTING));
            }
        }
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
        long s = state;
        int phase = phaseOf(s);
        if (phase == OPEN) {
            return;
        }
        if ((phase == STARTING || phase == SHUTTING_DOWN) && lock.isHeldByCurrentThread()) {
            return;
        }
        if (phase == NEW || phase == STARTING) {
            throw new ClosedException(name + ": not yet opened");
        }
        throw new ClosedException(name + ": already closed");
    }

    /** Returns the name used in messages (package-private, so subclasses keep the word). */
    final String nameForMessages() {
        return name;
    }

    /**
     * Returns {@code MultiOpen[NAME]{STATE, count=N}}, with the traced call sites appended
     * when tracing is on. Never blocks.
     */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder(64);
        sb.append(shared ? "Shared[" : "MultiOpen[").append(name).append("]{");
        appendState(sb);
        return sb.append('}').toString();
    }

    /** Appends "STATE, count=N" and any traced sites. */
    final void appendState(StringBuilder sb) {
        long s = state;
        sb.append(stateOf(s)).append(", count=").append(countNow(s));
        CallSites t = sites;
        if (t != null) {
            t.appendTo(sb);
        }
    }

    final CallSites.@Nullable Site recordOpen() {
        CallSites t = sites;
        return t == null ? null : t.opened();
    }

    // ---------------------------------------------------------------- helpers

    // The words of the misuse messages: a Shared's engine names its own operations.
    final String openOp() {
        return shared ? "acquire()" : "open()";
    }

    final String interruptibleOpenOp() {
        return shared ? "acquireInterruptibly()" : "openInterruptibly()";
    }

    final String closeOp(int mode) {
        if (shared) {
            return "release";
        }
        return mode == CLOSE ? "close()" : mode == CLOSE_FINAL ? "closeFinal()" : "closeIfOpen()";
    }

    final String hook(boolean startup) {
        if (shared) {
            return startup ? "the opener" : "the closer";
        }
        return startup ? "startup()" : "shutdown()";
    }

    final String hookFailed(boolean startup) {
        return name + ": " + hook(startup) + " failed";
    }

    /** The message of {@code op} called from inside the startup or the shutdown hook. */
    final String calledInside(String op, boolean startup) {
        return name + ": " + op + " called from inside " + hook(startup);
    }

    /** Changes the phase (under the lock) keeping any transient counts: one getAndAdd. */
    final void addToState(long delta) {
        STATE.getAndAdd(this, delta);
    }

    final boolean casState(long expect, long update) {
        return STATE.compareAndSet(this, expect, update);
    }

    // VarHandle mechanics
    private static final VarHandle STATE;

    static {
        try {
            STATE = MethodHandles.lookup().findVarHandle(MultiOpen.class, "state", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }
}
