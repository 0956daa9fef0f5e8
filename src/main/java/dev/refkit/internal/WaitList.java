package dev.refkit.internal;

import java.util.ArrayList;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;

/**
 * The threads waiting for something about one object, all woken at once by
 * {@link #wakeAll()} after a change that may end their waits; each then tests its own
 * condition and parks again if it does not hold. Built on {@link Wait}, so every wait
 * follows <a href="package-summary.html#interrupts">the interrupt rule</a>.
 *
 * <p>No lost wake-up: a waiter registers (a volatile write) and then tests its condition
 * before it parks; a changer makes its change visible (a volatile write or CAS) and then
 * reads whether anyone is registered. One of the two sees the other. {@link #wakeAll()} with
 * nobody waiting is one volatile read.
 *
 * <p><b>Thread safety.</b> Every method may be called from any thread. The list is guarded
 * by a lock of its own, held only to add, remove or take waiters, never while parking or
 * calling a condition; threads park with {@link LockSupport}, so
 * virtual threads never pin.
 *
 * <p><b>Memory consistency effects.</b> A wait returns true only after its condition read
 * the change that made it true; actions before that change happen-before the wait returns.
 */
public final class WaitList {
    private final ReentrantLock lock = new ReentrantLock();
    /** Registered waiters; guarded by lock. */
    private final ArrayList<Member> members = new ArrayList<>();
    /** {@code members.size()}, readable without the lock. */
    private volatile int size;

    /** Spin steps (a platform waiter) before the first park; a virtual one yields a few. */
    private final int spins;

    /** An empty list whose waiters park at once. */
    public WaitList() {
        this(0);
    }

    /**
     * An empty list whose waiters first spin up to {@code spins} steps (a platform thread;
     * a virtual one yields at most {@value #VIRTUAL_YIELDS} times), testing their condition
     * after each, then park: for waits that a thread on another core usually ends within
     * microseconds, where a park and its wake-up would cost tens of microseconds.
     *
     * @param spins the spin steps, 0 for none
     * @throws IllegalArgumentException if {@code spins} is negative
     */
    public WaitList(int spins) {
        if (spins < 0) {
            throw new IllegalArgumentException("spins must not be negative: " + spins);
        }
        this.spins = spins;
    }

    /** The most yields of a virtual waiter before it parks. */
    static final int VIRTUAL_YIELDS = 16;

    /**
     * Waits, interruptibly, until {@code done} holds.
     *
     * @param done the condition; called without locks, it must use volatile reads
     * @param blocker the object the thread parks on
     * @param owner the name of that object, for the interrupt message
     * @param method the public method that waits, for the interrupt message
     * @throws InterruptedException by the interrupt rule
     */
    public void await(BooleanSupplier done, Object blocker, String owner, String method)
            throws InterruptedException {
        new Member(done).await(blocker, owner, method);
    }

    /**
     * Waits, interruptibly, until {@code done} holds or {@code nanos} have passed.
     *
     * @param done the condition
     * @param nanos the longest wait, 0 or more
     * @param blocker the object the thread parks on
     * @param owner the name of that object
     * @param method the public method that waits
     * @return true if {@code done} held, false if the time passed first
     * @throws InterruptedException by the interrupt rule
     */
    public boolean awaitNanos(BooleanSupplier done, long nanos, Object blocker, String owner,
            String method) throws InterruptedException {
        return new Member(done).awaitNanos(nanos, blocker, owner, method);
    }

    /**
     * Waits until {@code done} holds, through interrupts (the flag is set again on return).
     *
     * @param done the condition
     * @param blocker the object the thread parks on
     */
    public void awaitUninterruptibly(BooleanSupplier done, Object blocker) {
        new Member(done).awaitUninterruptibly(blocker);
    }

    /**
     * Waits until {@code done} holds or {@code nanos} have passed, through interrupts.
     *
     * @param done the condition
     * @param nanos the longest wait, 0 or more
     * @param blocker the object the thread parks on
     * @return true if {@code done} held, false if the time passed first
     */
    public boolean awaitUninterruptiblyNanos(BooleanSupplier done, long nanos, Object blocker) {
        return new Member(done).awaitUninterruptiblyNanos(nanos, blocker);
    }

    /**
     * Wakes every registered waiter, to test its condition again. Call it after the change
     * that may end waits is visible; it never blocks for long (the list's own lock only).
     */
    public void wakeAll() {
        if (size == 0) {
            return;
        }
        Member[] taken;
        lock.lock();
        try {
            taken = members.toArray(new Member[0]);
            members.clear();
            size = 0;
            for (Member m : taken) {
                m.registered = false;
            }
        } finally {
            lock.unlock();
        }
        for (Member m : taken) {
            LockSupport.unpark(m.thread());
        }
    }

    /**
     * The number of threads registered now, parked or about to park.
     *
     * @return a snapshot, 0 or more
     */
    public int waiting() {
        return size;
    }

    private final class Member extends Wait {
        private final BooleanSupplier done;
        /** In {@link #members}; written under the lock. */
        volatile boolean registered;

        Member(BooleanSupplier done) {
            this.done = done;
        }

        @Override
        protected boolean isDone() {
            return done.getAsBoolean();
        }

        @Override
        protected int spins() {
            return spins == 0 || !VirtualThreads.isVirtual(thread()) ? spins
                    : Math.min(spins, VIRTUAL_YIELDS);
        }

        @Override
        protected void beforePark() {
            if (!registered) {
                lock.lock();
                try {
                    registered = true;
                    members.add(this);
                    size = members.size();
                } finally {
                    lock.unlock();
                }
            }
        }

        @Override
        protected void onExit() {
            if (registered) {
                lock.lock();
                try {
                    if (registered) {
                        registered = false;
                        members.remove(this);
                        size = members.size();
                    }
                } finally {
                    lock.unlock();
                }
            }
        }
    }
}
