package dev.refkit.internal;

import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * The listeners of one object, and the calls queued for them: the library's one listener
 * list. The owner {@linkplain #enqueue enqueues} a call for every listener while it holds
 * the lock under which its state changes, so calls are queued in the order of the
 * transitions, and {@linkplain #dispatch dispatches} them after releasing that lock.
 *
 * <p>Promises: calls to one listener never overlap and come in the order they were queued;
 * a listener sees only calls queued while it was registered and not yet removed; no lock of
 * the owner's or of this list is held while a listener runs. A thread that dispatches while
 * another thread is still running calls of the same listener leaves its calls to that
 * thread, which runs them before it returns; so a listener may cause a transition of its own
 * object without recursing.
 *
 * <p>A call queued with {@link #enqueue(Consumer, Runnable)} also tells the owner when
 * every listener has run it (or skipped it, being removed), on whichever thread ran the
 * last of them; so an owner whose dispatch left a call to another thread learns when that
 * thread has run it.
 *
 * <p>A listener that throws a {@link RuntimeException} is reported to the
 * {@code onException} handler given at construction (the owner logs it) and the other calls
 * still run. A listener that throws an {@link Error} does not stop the others either: the
 * first Error is returned by {@link #dispatch()}, later ones suppressed on it, for the owner
 * to rethrow once its transition is complete.
 *
 * <p><b>Thread safety.</b> Every method may be called from any thread. Registration is
 * copy-on-write: an immutable array replaced by CAS. Each listener's queue is guarded by a
 * lock of its own, never held while user code runs.
 *
 * <p><b>Memory consistency effects.</b> Enqueuing a call happens-before the listener runs it.
 *
 * @param <L> the listener type
 */
public final class ListenerList<L> {
    private final BiConsumer<L, Throwable> onException;
    @SuppressWarnings("rawtypes")
    private static final Entry[] NONE = {};
    /** Registered listeners, in registration order; replaced whole under {@link #addLock}. */
    @SuppressWarnings("unchecked")
    private volatile Entry<L>[] entries = NONE;
    private final ReentrantLock addLock = new ReentrantLock();

    /**
     * An empty list.
     *
     * @param onException told of each exception (not Error) a listener throws
     */
    public ListenerList(BiConsumer<L, Throwable> onException) {
        this.onException = Objects.requireNonNull(onException, "onException");
    }

    /**
     * Registers {@code listener}; it gets every call queued from now until it is removed.
     *
     * @param listener the listener
     * @return its entry, whose {@link Entry#remove()} unregisters it
     */
    public Entry<L> add(L listener) {
        Entry<L> e = new Entry<>(this, Objects.requireNonNull(listener, "listener"));
        addLock.lock();
        try {
            Entry<L>[] old = entries;
            Entry<L>[] next = Arrays.copyOf(old, old.length + 1);
            next[old.length] = e;
            entries = next;
        } finally {
            addLock.unlock();
        }
        return e;
    }

    private void remove(Entry<L> e) {
        addLock.lock();
        try {
            Entry<L>[] old = entries;
            int i = Arrays.asList(old).indexOf(e);
            if (i >= 0) {
                Entry<L>[] next = Arrays.copyOf(old, old.length - 1);
                System.arraycopy(old, i + 1, next, i, old.length - i - 1);
                entries = next;
            }
        } finally {
            addLock.unlock();
        }
    }

    /**
     * Queues {@code call} for every listener registered now. Call it under the owner's
     * transition lock, so calls are queued in the order of the transitions; then call
     * {@link #dispatch()} once that lock is released.
     *
     * @param call what to do with each listener
     */
    public void enqueue(Consumer<? super L> call) {
        for (Entry<L> e : entries) {
            e.offer(call);
        }
    }

    /**
     * Like {@link #enqueue(Consumer)}, and {@code whenRun} runs once every listener
     * registered now has run {@code call} (or skipped it, being removed meanwhile): on the
     * thread that ran or skipped the last one, after that listener returned or threw, with
     * no lock of this list held. It runs at most once, and not at all if this method returns
     * true.
     *
     * @param call what to do with each listener
     * @param whenRun told once every listener has run or skipped {@code call}; it must not
     *     throw
     * @return true if no listener took the call (none registered, or each removed), so
     *     {@code whenRun} will not run: the caller treats the call as run; false if
     *     {@code whenRun} will run
     */
    public boolean enqueue(Consumer<? super L> call, Runnable whenRun) {
        Entry<L>[] es = entries;
        if (es.length == 0) {
            return true;
        }
        Tracked<L> tracked = new Tracked<>(call, whenRun, es.length + 1);
        for (Entry<L> e : es) {
            if (!e.offer(tracked)) {
                tracked.oneDone();
            }
        }
        return tracked.enqueued();
    }

    /**
     * Whether any listener is registered now.
     *
     * @return false if {@link #enqueue} would queue nothing
     */
    public boolean isEmpty() {
        return entries.length == 0;
    }

    /**
     * Runs the queued calls on the current thread, listener by listener, skipping a
     * listener whose calls another thread is running now (that thread runs them). Call it
     * with no lock held.
     *
     * @return the first {@link Error} a listener threw, with later ones suppressed on it,
     *     or null if none did
     */
    public @Nullable Error dispatch() {
        Error first = null;
        for (Entry<L> e : entries) {
            first = e.drain(first);
        }
        return first;
    }

    /**
     * A call queued by {@link #enqueue(Consumer, Runnable)}: counts the listeners that
     * still have to run or skip it, plus one held by the enqueuing thread until it has
     * offered the call to all of them.
     */
    private static final class Tracked<L> implements Consumer<L> {
        private final Consumer<? super L> call;
        private final Runnable whenRun;
        private final AtomicInteger left;

        Tracked(Consumer<? super L> call, Runnable whenRun, int left) {
            this.call = call;
            this.whenRun = whenRun;
            this.left = new AtomicInteger(left);
        }

        @Override
        public void accept(L listener) {
            call.accept(listener);
        }

        /** One listener has run or skipped the call; the last one tells the owner. */
        void oneDone() {
            if (left.decrementAndGet() == 0) {
                whenRun.run();
            }
        }

        /** The enqueuing thread has offered the call to every listener; true if all are done. */
        boolean enqueued() {
            return left.decrementAndGet() == 0;
        }
    }

    /**
     * One registered listener and its queue of calls.
     *
     * @param <L> the listener type
     */
    public static final class Entry<L> {
        private final ListenerList<L> list;
        private final L listener;
        private final ReentrantLock lock = new ReentrantLock();
        /** Calls not yet run; guarded by lock. */
        private final ArrayDeque<Consumer<? super L>> pending = new ArrayDeque<>();
        /** A thread is running this listener's calls; guarded by lock. */
        private boolean running;
        private volatile boolean removed;

        Entry(ListenerList<L> list, L listener) {
            this.list = list;
            this.listener = listener;
        }

        /**
         * The listener.
         *
         * @return the listener given to {@link ListenerList#add}
         */
        public L listener() {
            return listener;
        }

        /**
         * Unregisters the listener; calls queued and not yet run are dropped (skipped: a
         * call queued with {@link ListenerList#enqueue(Consumer, Runnable)} counts as run by
         * this listener). Idempotent.
         */
        public void remove() {
            if (!removed) {
                removed = true;
                list.remove(this);
                drain(null); // skips the calls left, unless a thread running them does
            }
        }

        /**
         * Whether {@link #remove()} was called.
         *
         * @return true once removed
         */
        public boolean isRemoved() {
            return removed;
        }

        /**
         * Queues {@code call}; false if removed. Tested under the lock, so a call is either
         * refused here or queued before {@link #remove()}'s drain takes the lock, which then
         * skips it (or leaves it to the thread running this listener, which skips it).
         */
        boolean offer(Consumer<? super L> call) {
            if (removed) {
                return false;
            }
            lock.lock();
            try {
                if (removed) {
                    return false;
                }
                pending.add(call);
                return true;
            } finally {
                lock.unlock();
            }
        }

        @Nullable Error drain(@Nullable Error first) {
            boolean mine = false;
            for (;;) {
                Consumer<? super L> call;
                lock.lock();
                try {
                    if (!mine) {
                        if (running) {
                            return first; // the thread running this listener takes the calls
                        }
                        running = true;
                        mine = true;
                    }
                    call = pending.poll();
                    if (call == null) {
                        running = false;
                        return first;
                    }
                } finally {
                    lock.unlock();
                }
                if (!removed) {
                    try {
                        call.accept(listener);
                    } catch (Error t) {
                        first = Failures.firstFailure(first, t);
                    } catch (Throwable t) {
                        list.onException.accept(listener, t);
                    }
                }
                if (call instanceof Tracked<?> tracked) {
                    tracked.oneDone();
                }
            }
        }
    }
}
