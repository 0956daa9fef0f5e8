package dev.refkit;

import dev.refkit.internal.MemberList;
import dev.refkit.internal.WaitList;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * The state of a group of members that come and go: one word with the number of members
 * not yet ended and the flags {@code CANCELLED}, {@code CLOSING}, {@code CLOSED} and
 * {@code ENDED}; the list of those members (a {@link MemberList}); the cancel's reason and
 * the first failure with the later ones suppressed on it; and the waits for "no member
 * left". Each is written only here, through the named transitions below. It knows nothing of
 * what a member is or of the class that uses it.
 *
 * <p><b>The word.</b> {@link #register} adds a member unless {@code CLOSED} (one CAS, so a
 * registration racing {@link #tryClose()} either counts, and the close waits for it, or is
 * refused); {@link #deregister} removes one and wakes the waiters when none is left.
 * {@code CLOSING} is set by the first closer, {@code CLOSED} by the CAS that finds no
 * member left, {@code ENDED} once the closer has finished.
 *
 * <p><b>Thread safety.</b> Every method may be called from any thread. The cancel and the
 * failures are decided under a small lock, never held while anything else runs; the
 * queries read volatiles only.
 *
 * <p><b>Memory consistency effects.</b> A member's {@link #deregister} happens-before a
 * wait that it ends returns. Writes before {@link #markCancelled} happen-before a thread
 * sees {@link #isCancelled()} return true.
 *
 * @param <T> the member type
 */
final class TaskGroupState<T> {
    private static final long COUNT = 0xFFFF_FFFFL;
    private static final long CANCELLED = 1L << 32;
    private static final long CLOSING = 1L << 33;
    private static final long CLOSED = 1L << 34;
    private static final long ENDED = 1L << 35;

    /** {@link #tryClose()}: this call closed. */
    static final int CLOSED_NOW = 0;
    /** {@link #tryClose()}: another call closed first. */
    static final int CLOSED_BEFORE = 1;
    /** {@link #tryClose()}: members are left; wait again. */
    static final int NOT_EMPTY = 2;

    private final String name;
    /** Count | flags; changed by CAS. */
    private volatile long word;
    private final MemberList<T> members = new MemberList<>();
    /** The closers and joiners. */
    private final WaitList waiters;
    private final ReentrantLock lock = new ReentrantLock();
    /** The first cancel's reason, or null; written under lock before CANCELLED is set. */
    private volatile @Nullable String reason;
    /** The deadline failure the first cancel brought, or null; as {@link #reason}. */
    private volatile @Nullable Throwable deadline;
    /** The first failure; later ones are suppressed on it. Written under lock. */
    private volatile @Nullable Throwable failure;
    /** Every failure recorded, as the original and as thrown, in order. Under lock. */
    private final List<Throwable> originals = new ArrayList<>();
    private final List<Throwable> thrown = new ArrayList<>();
    private final AtomicInteger failed = new AtomicInteger();
    private final AtomicInteger numbers = new AtomicInteger();

    TaskGroupState(String name) {
        this(name, 0);
    }

    /**
     * A state whose waits first spin {@code waitSpins} steps (see
     * {@link WaitList#WaitList(int)}).
     */
    TaskGroupState(String name, int waitSpins) {
        this.name = name;
        this.waiters = new WaitList(waitSpins);
    }

    // ---------------------------------------------------------------- members

    /** The next member number, from 1. */
    int nextNumber() {
        return numbers.incrementAndGet();
    }

    /**
     * Adds {@code member} (a node of {@link MemberList#member}) unless CLOSED.
     *
     * @return false, changing nothing, if CLOSED
     */
    boolean register(MemberList.Member<T> member) {
        for (;;) {
            long w = word;
            if ((w & CLOSED) != 0L) {
                return false;
            }
            if ((w & COUNT) == COUNT) {
                throw new IllegalStateException(name + ": too many tasks");
            }
            if (WORD.compareAndSet(this, w, w + 1L)) {
                break;
            }
        }
        members.add(member);
        return true;
    }

    /**
     * Takes a registered {@code member} out of {@link #members()} and
     * {@link #forEachMember} now, before its {@link #deregister} (which counts it out);
     * idempotent.
     */
    void leave(MemberList.Member<T> member) {
        members.remove(member);
    }

    /**
     * Removes a registered {@code member}, once; wakes the waiters when it was the last (and
     * sweeps the list of members, then nearly empty).
     */
    void deregister(MemberList.Member<T> member) {
        members.remove(member);
        long w = (long) WORD.getAndAdd(this, -1L) - 1L;
        if ((w & COUNT) == 0L) {
            members.sweep();
            waiters.wakeAll();
        }
    }

    /** The members registered and not yet left or deregistered, a snapshot, oldest first. */
    List<T> members() {
        return members.snapshot();
    }

    /**
     * Calls {@code action} with each member registered before this call began and not yet
     * left or deregistered (one registered or deregistered meanwhile may or may not be seen).
     */
    void forEachMember(Consumer<? super T> action) {
        members.forEach(action);
    }

    /** The number of members not yet deregistered. */
    int count() {
        return (int) (word & COUNT);
    }

    // ---------------------------------------------------------------- cancel, failures

    /**
     * Sets CANCELLED with {@code reason} (null for none) and {@code deadlineFailure} (null
     * for none), unless already cancelled or CLOSED.
     *
     * @return true if this call cancelled
     */
    boolean markCancelled(@Nullable String reason, @Nullable Throwable deadlineFailure) {
        lock.lock();
        try {
            long w = word;
            if ((w & (CANCELLED | CLOSED)) != 0L) {
                return false;
            }
            this.reason = reason;
            this.deadline = deadlineFailure;
            for (;;) {
                w = word;
                if ((w & CLOSED) != 0L) {
                    this.reason = null;
                    this.deadline = null;
                    return false;
                }
                if (WORD.compareAndSet(this, w, w | CANCELLED)) {
                    return true;
                }
            }
        } finally {
            lock.unlock();
        }
    }

    boolean isCancelled() {
        return (word & CANCELLED) != 0L;
    }

    /** The first cancel's reason, or null (none, or not cancelled). */
    @Nullable String reason() {
        return reason;
    }

    /** {@code "NAME: cancelled"} or {@code "NAME: cancelled: REASON"}. */
    String cancelMessage() {
        String r = reason;
        return r == null ? name + ": cancelled" : name + ": cancelled: " + r;
    }

    /**
     * Records a failure: the first is kept, each later one (unless it is that same instance)
     * suppressed on it, in the order of these calls.
     *
     * @return true if {@code t} is the first
     */
    boolean recordFailure(Throwable t) {
        return recordFailure(t, t);
    }

    /**
     * Records the failure {@code t}, which was made of {@code original} (itself, or its
     * wrapper), as {@link #recordFailure(Throwable)} does, and keeps both in the lists that
     * {@link #originals()} and {@link #thrown()} return.
     */
    boolean recordFailure(Throwable t, Throwable original) {
        lock.lock();
        try {
            originals.add(original);
            thrown.add(t);
            Throwable first = failure;
            if (first == null) {
                failure = t;
                return true;
            }
            if (first != t) {
                first.addSuppressed(t);
            }
            return false;
        } finally {
            lock.unlock();
        }
    }

    /** The failures recorded so far, as the originals, in the order recorded: a snapshot. */
    List<Throwable> originals() {
        lock.lock();
        try {
            return List.copyOf(originals);
        } finally {
            lock.unlock();
        }
    }

    /** The failures recorded so far, as thrown (wrapped if checked), in the same order. */
    List<Throwable> thrown() {
        lock.lock();
        try {
            return List.copyOf(thrown);
        } finally {
            lock.unlock();
        }
    }

    /** Counts a failed member, recorded or not (protected ones too). */
    void countFailed() {
        failed.incrementAndGet();
    }

    int failedCount() {
        return failed.get();
    }

    /** The first failure, or null. */
    @Nullable Throwable failure() {
        return failure;
    }

    /** What a join reports: the first failure, else the deadline failure, else null. */
    @Nullable Throwable outcome() {
        Throwable f = failure;
        return f != null ? f : deadline;
    }

    // ---------------------------------------------------------------- closing

    /**
     * Sets CLOSING, the first closer's mark.
     *
     * @return false, changing nothing, if ENDED (a close has finished)
     */
    boolean beginClosing() {
        for (;;) {
            long w = word;
            if ((w & ENDED) != 0L) {
                return false;
            }
            if ((w & CLOSING) != 0L || WORD.compareAndSet(this, w, w | CLOSING)) {
                return true;
            }
        }
    }

    /** Whether no member is left or another closer has closed: a closer's wait is over. */
    boolean closable() {
        long w = word;
        return (w & COUNT) == 0L || (w & CLOSED) != 0L;
    }

    /**
     * Sets CLOSED if no member is left.
     *
     * @return {@link #CLOSED_NOW}, {@link #CLOSED_BEFORE} or {@link #NOT_EMPTY}
     */
    int tryClose() {
        for (;;) {
            long w = word;
            if ((w & CLOSED) != 0L) {
                return CLOSED_BEFORE;
            }
            if ((w & COUNT) != 0L) {
                return NOT_EMPTY;
            }
            if (WORD.compareAndSet(this, w, w | CLOSED)) {
                return CLOSED_NOW;
            }
        }
    }

    /** The closer has finished: sets ENDED and wakes the other closers. */
    void markEnded() {
        for (;;) {
            long w = word;
            if (WORD.compareAndSet(this, w, w | ENDED)) {
                break;
            }
        }
        waiters.wakeAll();
    }

    boolean isEnded() {
        return (word & ENDED) != 0L;
    }

    /** {@code OPEN}, {@code CLOSING} or {@code CLOSED}. */
    String stateName() {
        long w = word;
        return (w & CLOSED) != 0L ? "CLOSED" : (w & CLOSING) != 0L ? "CLOSING" : "OPEN";
    }

    /**
     * Waits, interruptibly, until no member is left.
     *
     * @throws InterruptedException by the interrupt rule, {@code "NAME: interrupted in METHOD"}
     */
    void awaitEmpty(Object blocker, String method) throws InterruptedException {
        if ((word & COUNT) != 0L) {
            waiters.await(() -> (word & COUNT) == 0L, blocker, name, method);
        }
    }

    /**
     * Waits, interruptibly, until no member is left or {@code nanos} have passed.
     *
     * @return false if the time passed first
     * @throws InterruptedException by the interrupt rule
     */
    boolean awaitEmptyNanos(long nanos, Object blocker, String method)
            throws InterruptedException {
        return (word & COUNT) == 0L
                || waiters.awaitNanos(() -> (word & COUNT) == 0L, nanos, blocker, name, method);
    }

    /** Waits, through interrupts (the flag is set again on return), until no member is left. */
    void awaitEmptyUninterruptibly(Object blocker) {
        if ((word & COUNT) != 0L) {
            waiters.awaitUninterruptibly(() -> (word & COUNT) == 0L, blocker);
        }
    }

    /**
     * Waits, interruptibly, until {@link #closable()}.
     *
     * @throws InterruptedException by the interrupt rule
     */
    void awaitClosable(Object blocker, String method) throws InterruptedException {
        if (!closable()) {
            waiters.await(this::closable, blocker, name, method);
        }
    }

    /** Waits, through interrupts (the flag is set again on return), until ENDED. */
    void awaitEnded(Object blocker) {
        if (!isEnded()) {
            waiters.awaitUninterruptibly(this::isEnded, blocker);
        }
    }

    // VarHandle mechanics
    private static final VarHandle WORD;

    static {
        try {
            WORD = MethodHandles.lookup().findVarHandle(TaskGroupState.class, "word",
                    long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }
}
