package dev.refkit;

import java.util.ArrayList;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;

/**
 * The threads waiting on one {@link RunState}: the list of parked waiters and the park loop
 * behind {@code sleep}, {@code awaitCancellation}, {@code awaitStopped}, the pause wait of
 * {@code throwIfCancelled} and the shutdown hook's wait. What a wait waits for is the
 * RunState's business ({@link RunState#reached(int, long)}, lock-free volatile reads); this class
 * parks a thread until it holds, woken by the transition that may make it hold, with no
 * polling steps. The RunState's fast paths never come here.
 *
 * <p><b>Thread safety.</b> Every method may be called from any thread. The waiter list is
 * guarded by the RunState's lock, the same lock under which every transition changes the
 * state and {@linkplain #take() takes} the waiters; a waiting thread never holds it while
 * parked, and the taken waiters are {@linkplain #unparkAll unparked} after it is released.
 * Threads park with {@link LockSupport} on the RunState as blocker, so virtual threads never
 * pin.
 *
 * <p><b>Memory consistency effects.</b> A wait returns true only after reading, in the
 * waiting thread, the volatile fields the transition wrote, so actions before the transition
 * happen-before the wait returns true because of it.
 */
final class RunStateWaiters {

    /** What {@link #take()} returns when nobody waits; also the "nobody to wake" value. */
    static final Waiter[] NONE = {};

    private final RunState owner;
    /** The owner's lock: guards transitions, {@link #waiters} and child registration. */
    private final ReentrantLock lock;
    /** Threads parked in a wait; a transition that may end a wait takes them all. Guarded by lock. */
    private final ArrayList<Waiter> waiters = new ArrayList<>();

    RunStateWaiters(RunState owner, ReentrantLock lock) {
        this.owner = owner;
        this.lock = lock;
    }

    /**
     * Parks until {@code owner.reached(until, arg)}, woken by the transition that may reach it
     * (no polling steps); an interruptible wait throws if the thread is interrupted on entry,
     * before it looks at the condition. If {@code timed}, gives up after {@code nanos} (the
     * remaining time is recomputed after every wake-up) and returns false. If
     * {@code interruptibleIn} is not null, an interrupt throws {@code InterruptedException} with the message
     * {@code "NAME: interrupted in METHOD"}, {@code interruptibleIn} being the public method
     * that waits, e.g. {@code "indexer: interrupted in sleep()"}; if it is null, the wait
     * is not interruptible: an interrupt is kept and the interrupt flag set again on return.
     *
     * <p>No lost wake-up: a waiter enqueues itself and checks the condition under the lock,
     * and every transition changes the state and takes the waiters under the same lock,
     * unparking them after releasing it. A woken waiter checks the condition without the
     * lock, so the wake-up path is one unpark and a few volatile reads.
     *
     * @param interruptibleIn the waiting method, {@code "sleep()"}, or null if not interruptible
     * @throws InterruptedException if {@code interruptibleIn} is not null and the thread is
     *     interrupted before or while it waits; the interrupt flag is then clear and the
     *     thread holds no place in the list, as if the wait never began
     */
    boolean awaitUntil(int until, long arg, boolean timed, long nanos,
            @Nullable String interruptibleIn) throws InterruptedException {
        if (interruptibleIn != null && Thread.interrupted()) {
            throw interrupted(interruptibleIn);
        }
        if (owner.reached(until, arg)) {
            return true;
        }
        long deadline = timed ? System.nanoTime() + nanos : 0L;
        Waiter w = new Waiter();
        boolean interrupted = false;
        try {
            for (;;) {
                lock.lock();
                try {
                    if (owner.reached(until, arg)) {
                        return true;
                    }
                    if (timed && (nanos = deadline - System.nanoTime()) <= 0L) {
                        return false;
                    }
                    if (!w.queued) {
                        w.queued = true;
                        waiters.add(w);
                    }
                } finally {
                    lock.unlock();
                }
                if (timed) {
                    LockSupport.parkNanos(owner, nanos);
                } else {
                    LockSupport.park(owner);
                }
                if (Thread.interrupted()) {
                    if (interruptibleIn != null) {
                        throw interrupted(interruptibleIn);
                    }
                    interrupted = true;
                }
                if (owner.reached(until, arg)) {
                    return true;
                }
            }
        } finally {
            if (w.queued) {
                lock.lock();
                try {
                    if (w.queued) {
                        w.queued = false;
                        waiters.remove(w);
                    }
                } finally {
                    lock.unlock();
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * Throws if the thread is interrupted on entry to {@code method}, clearing the flag: an
     * interruptible wait throws on entry whether or not its condition already holds.
     */
    void throwIfInterrupted(String method) throws InterruptedException {
        if (Thread.interrupted()) {
            throw interrupted(method);
        }
    }

    private InterruptedException interrupted(String method) {
        return new InterruptedException(owner.name() + ": interrupted in " + method);
    }

    /** Takes every parked waiter, for {@link #unparkAll} after the lock is released. Under lock. */
    Waiter[] take() {
        if (waiters.isEmpty()) {
            return NONE;
        }
        Waiter[] ws = waiters.toArray(NONE);
        waiters.clear();
        for (Waiter w : ws) {
            w.queued = false;
        }
        return ws;
    }

    /** Unparks the waiters {@link #take()} returned; call it without the lock. */
    static void unparkAll(Waiter[] ws) {
        for (Waiter w : ws) {
            LockSupport.unpark(w.thread);
        }
    }

    /** A thread parked in {@link #awaitUntil}. */
    static final class Waiter {
        final Thread thread = Thread.currentThread();
        /** In the waiters list; written under lock. */
        volatile boolean queued;
    }
}
