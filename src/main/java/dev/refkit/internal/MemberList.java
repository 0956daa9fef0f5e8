package dev.refkit.internal;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * The members of a group, such as the live tasks of a task group: added by many threads,
 * each removed once by whoever ends it, and gone through now and then (a cancel, a
 * snapshot). Cheaper per member than a concurrent set: an add is one small node and one
 * CAS, a remove one release store; no hashing, no table to grow.
 *
 * <p><b>How.</b> A stack of nodes, newest first (a Treiber stack): {@link #add} pushes with
 * a CAS on the head. {@link #remove} only marks the node left. Left nodes are unlinked
 * lazily by a sweep, which one thread at a time runs (others skip it): after about as many
 * adds as the list held at the last sweep (at least {@value #MIN_SWEEP}), and when
 * {@link #sweep()} is called, say when the group became empty. The sweep unlinks a left
 * node by pointing its predecessor past it, or, at the head, by a CAS that a racing push
 * simply retries after. A node is never linked again, so there is no ABA, and an unlinked
 * node keeps pointing forward, so a thread going through the list meanwhile still reaches
 * every node that was in it and is not unlinked.
 *
 * <p><b>Thread safety.</b> Every method may be called from any thread, at the same time.
 *
 * <p><b>Memory consistency effects.</b> Actions before {@code add(item)} happen-before a
 * {@link #forEach} or {@link #snapshot()} that sees {@code item}. A member added before a
 * {@code forEach} or {@code snapshot()} begins (its {@code add} returned) and not removed
 * is seen by it.
 *
 * @param <T> the type of the members
 */
public final class MemberList<T> {
    /** Adds between sweeps when the list was short. */
    static final int MIN_SWEEP = 32;

    /** One member. */
    public static final class Member<T> {
        final T item;
        volatile @Nullable Member<T> next;
        volatile boolean left;
        /** Set by the one add: a node is linked once. */
        boolean added;

        Member(T item) {
            this.item = item;
        }

        /**
         * The member.
         *
         * @return the item added
         */
        public T item() {
            return item;
        }
    }

    private volatile @Nullable Member<T> head;
    /** 1 while a sweep runs. */
    private volatile int sweeping;
    /** Adds since the last sweep: a hint only, so lost updates do not matter. */
    private int addsSinceSweep;
    /** Nodes the last sweep left in the list (a hint, as above). */
    private int lengthAfterSweep;

    /**
     * A node for {@code item}, to {@link #add} once. Made apart from the add so that the
     * caller can keep it (say in the item) before the item is published.
     *
     * @param <T> the type of the member
     * @param item the member, not null
     * @return a new node, in no list
     * @throws NullPointerException if {@code item} is null
     */
    public static <T> Member<T> member(T item) {
        return new Member<>(Objects.requireNonNull(item, "item"));
    }

    /**
     * Adds the member of {@code node}, then sweeps if it is time.
     *
     * @param node a node of {@link #member}, never added before
     * @throws IllegalArgumentException if {@code node} was added before (caught where the
     *     first add happens-before this one)
     */
    public void add(Member<T> node) {
        if (node.added) {
            throw new IllegalArgumentException("member " + node.item + " added twice");
        }
        node.added = true;
        for (;;) {
            Member<T> h = head;
            NEXT.set(node, h); // plain: published by the CAS
            if (HEAD.compareAndSet(this, h, node)) {
                break;
            }
        }
        int adds = addsSinceSweep + 1;
        addsSinceSweep = adds;
        if (adds >= MIN_SWEEP && adds >= lengthAfterSweep) {
            sweep();
        }
    }

    /**
     * Removes the member of {@code node}: from now on no {@link #forEach} or
     * {@link #snapshot()} that begins sees it. Removing twice does nothing more.
     *
     * @param node a node {@link #add} returned
     */
    public void remove(Member<T> node) {
        LEFT.setRelease(node, true);
    }

    /**
     * Calls {@code action} with each member added before this call began and not removed
     * (a member added or removed meanwhile may or may not be seen), newest first.
     *
     * @param action what to do with each; what it throws ends the walk and is thrown
     */
    public void forEach(Consumer<? super T> action) {
        for (Member<T> n = head; n != null; n = n.next) {
            if (!n.left) {
                action.accept(n.item);
            }
        }
    }

    /**
     * The members not removed, oldest first: {@link #forEach}'s members, as a list.
     *
     * @return a new mutable list
     */
    public List<T> snapshot() {
        List<T> items = new ArrayList<>();
        forEach(items::add);
        Collections.reverse(items);
        return items;
    }

    /**
     * Unlinks the removed members' nodes, unless another thread is sweeping now.
     */
    public void sweep() {
        if (!SWEEPING.compareAndSet(this, 0, 1)) {
            return;
        }
        try {
            Member<T> pred = head;
            while (pred != null && pred.left) { // unlink at the head: a racing push retries
                Member<T> next = pred.next;
                if (HEAD.compareAndSet(this, pred, next)) {
                    pred = next;
                } else {
                    pred = head;
                }
            }
            int length = pred == null ? 0 : 1;
            if (pred != null) {
                Member<T> cur = pred.next;
                while (cur != null) {
                    Member<T> next = cur.next;
                    if (cur.left) {
                        pred.next = next; // cur keeps pointing forward, for walks under way
                    } else {
                        pred = cur;
                        length++;
                    }
                    cur = next;
                }
            }
            lengthAfterSweep = length;
            addsSinceSweep = 0;
        } finally {
            sweeping = 0;
        }
    }

    // VarHandle mechanics
    private static final VarHandle HEAD;
    private static final VarHandle SWEEPING;
    private static final VarHandle NEXT;
    private static final VarHandle LEFT;

    static {
        try {
            MethodHandles.Lookup l = MethodHandles.lookup();
            HEAD = l.findVarHandle(MemberList.class, "head", Member.class);
            SWEEPING = l.findVarHandle(MemberList.class, "sweeping", int.class);
            NEXT = l.findVarHandle(Member.class, "next", Member.class);
            LEFT = l.findVarHandle(Member.class, "left", boolean.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }
}
