package dev.refkit;

import dev.refkit.internal.Failures;
import java.lang.ref.WeakReference;
import java.util.Arrays;
import java.util.Objects;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * The two ways a cancel reaches a run from outside its own callers: an immutable list of
 * weakly held children, which a parent's cancel goes through, and a JVM shutdown hook.
 * Knows nothing of the class that uses it: the children are any {@code T}, the hook any
 * {@link Runnable}.
 *
 * <p><b>Thread safety.</b> A {@code RunStateTree} is immutable: {@link #with} returns a new
 * list, so an owner that keeps the list in a volatile field, replaced under its lock, never
 * loses an addition, and {@link #forEachLive} reads one list without any lock. A child
 * nobody else refers to any more is dropped from the next list {@link #with} builds.
 *
 * <p><b>Memory consistency effects.</b> Those of the owner's volatile field: a child added
 * before the field is written is seen by every {@link #forEachLive} on a list read after.
 *
 * @param <T> the type of the children
 */
final class RunStateTree<T> {

    private static final RunStateTree<Object> EMPTY = new RunStateTree<>(newRefs(0));

    /** The children, oldest first; package-private so that a test may clear one. */
    final WeakReference<T>[] refs;

    private RunStateTree(WeakReference<T>[] refs) {
        this.refs = refs;
    }

    /**
     * The list of no children.
     *
     * @param <T> the type of the children
     * @return the empty list
     */
    @SuppressWarnings("unchecked")
    static <T> RunStateTree<T> empty() {
        return (RunStateTree<T>) EMPTY;
    }

    /**
     * Returns a list with the children of this one still referred to, then {@code child};
     * this list is not changed.
     */
    RunStateTree<T> with(T child) {
        WeakReference<T>[] next = newRefs(refs.length + 1);
        int live = 0;
        for (WeakReference<T> ref : refs) {
            if (ref.get() != null) {
                next[live++] = ref;
            }
        }
        next[live++] = new WeakReference<>(Objects.requireNonNull(child, "child"));
        return new RunStateTree<>(live == next.length ? next : Arrays.copyOf(next, live));
    }

    /**
     * Applies {@code action} to every child still referred to, oldest first, in this thread;
     * call it without any lock. An {@link Error} from one child does not stop the others:
     * the first is returned, later ones suppressed on it. A {@link RuntimeException} is
     * thrown at once, as itself.
     *
     * @return the first Error {@code action} threw, or null
     */
    @Nullable Error forEachLive(Consumer<? super T> action) {
        Error first = null;
        for (WeakReference<T> ref : refs) {
            T child = ref.get();
            if (child != null) {
                try {
                    action.accept(child);
                } catch (Error e) {
                    first = Failures.firstFailure(first, e);
                }
            }
        }
        return first;
    }

    @SuppressWarnings("unchecked")
    private static <T> WeakReference<T>[] newRefs(int length) {
        return (WeakReference<T>[]) new WeakReference<?>[length];
    }

    /**
     * Registers a JVM shutdown hook that runs {@code body} on a new thread named
     * {@code threadName}.
     *
     * @return a registration whose {@code close()} removes the hook; idempotent, and doing
     *     nothing once the JVM is shutting down
     * @throws IllegalStateException if the JVM is already shutting down
     */
    static Registration onShutdown(String threadName, Runnable body) {
        Thread hook = new Thread(body, threadName);
        Runtime.getRuntime().addShutdownHook(hook);
        return () -> {
            try {
                Runtime.getRuntime().removeShutdownHook(hook); // false once removed
            } catch (IllegalStateException shuttingDown) {
                // the hook is running or about to: nothing left to remove
            }
        };
    }
}
