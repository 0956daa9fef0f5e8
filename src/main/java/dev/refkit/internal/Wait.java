package dev.refkit.internal;

import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;

/**
 * One thread's wait for a condition: the library's one park loop. A subclass says what the
 * wait waits for ({@link #isDone()}) and, where a wait holds something (a place in a queue,
 * an object granted to it), how to give it up; the loop parks, wakes, spins, times out and
 * handles interrupts by <a href="package-summary.html#interrupts">the interrupt rule</a>.
 *
 * <p>A thread that makes the condition true wakes the waiter with
 * {@link LockSupport#unpark}{@code (waiter)}, directly or through a {@link WaitList}. No
 * wake-up is lost as long as the condition is made true before the unpark: the loop tests
 * {@link #isDone()} after {@link #beforePark()} and after every wake-up, and a permit given
 * before the park makes the park return at once.
 *
 * <p><b>Thread safety.</b> A {@code Wait} is used by the one thread that created it; its
 * hooks run on that thread. {@link #isDone()} is called without locks.
 *
 * <p><b>Memory consistency effects.</b> A wait that returns true has read, in
 * {@link #isDone()}, the volatile write that made the condition true; actions before that
 * write happen-before the wait returns.
 */
public abstract class Wait {
    private final Thread thread = Thread.currentThread();

    /** For a wait by the current thread. */
    protected Wait() {}

    /** The thread that waits: the one to {@linkplain LockSupport#unpark unpark}. */
    public final Thread thread() {
        return thread;
    }

    /**
     * Whether the wait is over. Called without locks, before and after each park; it must
     * read what it tests with volatile (or stronger) reads.
     *
     * @return true to end the wait
     */
    protected abstract boolean isDone();

    /**
     * Called before each park, after {@link #isDone()} returned false; {@link #isDone()} is
     * tested again before the thread parks. A broadcast list registers the waiter here.
     */
    protected void beforePark() {}

    /**
     * How many times to spin (platform thread) or yield (virtual thread) before the first
     * park, testing {@link #isDone()} after each step; 0 by default.
     *
     * @return the number of spin steps, 0 for none
     */
    protected int spins() {
        return 0;
    }

    /**
     * Called once when an interruptible wait is interrupted after it began, before the
     * {@code InterruptedException} is thrown: give up whatever the wait holds or was granted,
     * so the state is as if the wait had never begun.
     */
    protected void onInterrupt() {}

    /**
     * Called when the time of a timed wait is up and {@link #isDone()} is false.
     *
     * @return true if the wait is withdrawn (the wait then returns false), false if it was
     *     done meanwhile and must not time out (the loop then tests {@link #isDone()} again,
     *     which must soon be true)
     */
    protected boolean onTimeout() {
        return true;
    }

    /** Called once when the wait ends, however it ends (in a finally block). */
    protected void onExit() {}

    /**
     * Waits until {@link #isDone()}, interruptibly.
     *
     * @param blocker the object the thread parks on, shown by thread dumps
     * @param owner the name of the object waited on, for the message
     * @param method the public method that waits, for the message, such as {@code "join()"}
     * @throws InterruptedException if the thread is interrupted on entry or while it waits,
     *     with the message {@code "OWNER: interrupted in METHOD"} and the flag cleared
     */
    public final void await(Object blocker, String owner, String method)
            throws InterruptedException {
        run(blocker, -1L, owner, method);
    }

    /**
     * Waits until {@link #isDone()} or until {@code nanos} have passed, interruptibly.
     *
     * @param nanos the longest wait, 0 or more; {@code Long.MAX_VALUE} is practically forever
     * @param blocker the object the thread parks on, shown by thread dumps
     * @param owner the name of the object waited on, for the message
     * @param method the public method that waits, for the message
     * @return true if done, false if the time passed first
     * @throws InterruptedException as {@link #await(Object, String, String)} does
     */
    public final boolean awaitNanos(long nanos, Object blocker, String owner, String method)
            throws InterruptedException {
        return run(blocker, Math.max(0L, nanos), owner, method);
    }

    /**
     * Waits until {@link #isDone()}, through any interrupt; if the thread was interrupted
     * on entry or while it waited, its interrupt flag is set on return.
     *
     * @param blocker the object the thread parks on
     */
    public final void awaitUninterruptibly(Object blocker) {
        try {
            run(blocker, -1L, null, null);
        } catch (InterruptedException e) {
            throw new AssertionError("an uninterruptible wait threw", e);
        }
    }

    /**
     * Waits until {@link #isDone()} or until {@code nanos} have passed, through any
     * interrupt, setting the flag again on return if it was interrupted.
     *
     * @param nanos the longest wait, 0 or more
     * @param blocker the object the thread parks on
     * @return true if done, false if the time passed first
     */
    public final boolean awaitUninterruptiblyNanos(long nanos, Object blocker) {
        try {
            return run(blocker, Math.max(0L, nanos), null, null);
        } catch (InterruptedException e) {
            throw new AssertionError("an uninterruptible wait threw", e);
        }
    }

    /** The loop; {@code nanos < 0} means untimed, a null {@code method} uninterruptible. */
    private boolean run(Object blocker, long nanos, @Nullable String owner,
            @Nullable String method) throws InterruptedException {
        if (Thread.currentThread() != thread) {
            throw new IllegalStateException("a Wait is used by the thread that made it");
        }
        boolean interruptible = method != null;
        if (interruptible && Thread.interrupted()) {
            throw Interrupts.interrupted(String.valueOf(owner), method);
        }
        boolean timed = nanos >= 0L;
        long deadline = timed ? saturatedDeadline(nanos) : 0L;
        boolean interrupted = false;
        try {
            int spins = spins();
            boolean virtual = spins > 0 && VirtualThreads.isVirtual(thread);
            for (;;) {
                if (isDone()) {
                    return true;
                }
                long left = timed ? deadline - System.nanoTime() : 1L;
                if (spins > 0 && left > 0L && !thread.isInterrupted()) {
                    spins--;
                    if (virtual) {
                        Thread.yield();
                    } else {
                        Thread.onSpinWait();
                    }
                    continue;
                }
                if (Thread.interrupted()) {
                    if (interruptible) {
                        onInterrupt();
                        throw Interrupts.interrupted(String.valueOf(owner), method);
                    }
                    interrupted = true;
                }
                if (left <= 0L) {
                    if (onTimeout()) {
                        return false;
                    }
                    Thread.onSpinWait();
                    continue;
                }
                beforePark();
                if (isDone()) {
                    return true;
                }
                if (timed) {
                    LockSupport.parkNanos(blocker, left);
                } else {
                    LockSupport.park(blocker);
                }
            }
        } finally {
            onExit();
            if (interrupted) {
                thread.interrupt();
            }
        }
    }

    private static long saturatedDeadline(long nanos) {
        long now = System.nanoTime();
        long d = now + nanos;
        return d - now < 0L ? now + Long.MAX_VALUE : d;
    }
}
