package dev.refkit;

import java.util.ArrayList;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Which exception instances were already thrown to which threads: so that an owner that
 * would throw an instance again to a thread that already got it (and so make
 * try-with-resources fail with "Self-suppression not permitted") can tell, and return
 * instead. Instances are compared by identity.
 *
 * <p><b>Thread safety.</b> Every method may be called from any thread; a small lock guards
 * the record, never held while anything else runs.
 *
 * <p><b>Memory consistency effects.</b> {@link #delivered} by a thread happens-before its
 * own later {@link #deliveredHere}.
 */
final class Deliveries {
    private final ReentrantLock lock = new ReentrantLock();
    /** Pairs (instance, thread), in parallel lists; guarded by lock. */
    private final ArrayList<Throwable> thrown = new ArrayList<>(2);
    private final ArrayList<Thread> threads = new ArrayList<>(2);

    /** Records that {@code t} is being thrown to the current thread. */
    void delivered(Throwable t) {
        Thread me = Thread.currentThread();
        lock.lock();
        try {
            if (indexOf(t, me) < 0) {
                thrown.add(t);
                threads.add(me);
            }
        } finally {
            lock.unlock();
        }
    }

    /** Whether {@code t} was already thrown to the current thread. */
    boolean deliveredHere(Throwable t) {
        Thread me = Thread.currentThread();
        lock.lock();
        try {
            return indexOf(t, me) >= 0;
        } finally {
            lock.unlock();
        }
    }

    private int indexOf(Throwable t, Thread me) {
        for (int i = 0; i < thrown.size(); i++) {
            if (thrown.get(i) == t && threads.get(i) == me) {
                return i;
            }
        }
        return -1;
    }
}
