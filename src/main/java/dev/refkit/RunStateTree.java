package dev.refkit;

import java.lang.ref.WeakReference;
import java.time.Duration;
import java.util.Arrays;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How a cancel reaches a {@link RunState} from outside its own callers: from its parent,
 * through the parent's weakly held children ({@link RunState#child(String)}), and from the
 * JVM's shutdown, through the hook {@link RunState#cancelOnShutdown(Duration)} registers.
 * Static helpers only: the children array stays a field of the RunState, so a RunState
 * costs no more than before, and this class holds no state of its own.
 *
 * <p><b>Thread safety.</b> Every method may be called from any thread. The children array
 * is copy-on-write: {@link #adding} builds a new array from the old one and the RunState
 * writes it under its lock, so two registrations never lose one; {@link #cancelAll} reads
 * one array and takes no lock. The shutdown hook calls the RunState's own {@code cancel()}
 * and waits like {@code awaitStopped}, with no lock held while it waits.
 *
 * <p><b>Memory consistency effects.</b> A child added under the parent's lock is in the
 * array any later cancel of the parent reads (the array field is volatile); a cancel the
 * child missed because it came first is caught by {@code child()}, which cancels the new
 * child when the parent is already cancelled.
 */
final class RunStateTree {

    /** Same logger as RunState, so the shutdown warning keeps its name. */
    private static final Logger log = LoggerFactory.getLogger(RunState.class);

    /** The children of a RunState that never made one. */
    static final ChildRef[] NO_CHILDREN = {};

    private RunStateTree() {}

    /**
     * Returns {@code old} with {@code child} added and the children nobody refers to any
     * more left out; {@code old} is not changed. Call it under the parent's lock and write
     * the result to the parent's children field.
     */
    static ChildRef[] adding(ChildRef[] old, RunState child) {
        int live = 0;
        ChildRef[] next = new ChildRef[old.length + 1];
        for (ChildRef ref : old) {
            if (ref.get() != null) {
                next[live++] = ref;
            }
        }
        next[live++] = new ChildRef(child);
        return live == next.length ? next : Arrays.copyOf(next, live);
    }

    /** Cancels every child still referred to, in this thread; call it without any lock. */
    static void cancelAll(ChildRef[] children) {
        for (ChildRef ref : children) {
            RunState child = ref.get();
            if (child != null) {
                child.cancel();
            }
        }
    }

    /**
     * Registers the JVM shutdown hook of {@link RunState#cancelOnShutdown(Duration)}: it
     * cancels {@code run} and waits up to {@code nanos} until it is no longer running.
     *
     * @throws IllegalStateException if the JVM is already shutting down
     */
    static RunState.Registration cancelOnShutdown(RunState run, long nanos) {
        Thread hook = new Thread(() -> cancelAndWait(run, nanos), "refkit-shutdown-" + run.name());
        Runtime.getRuntime().addShutdownHook(hook);
        return () -> {
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // the hook is running or about to: nothing left to remove
            }
        };
    }

    /** The hook's body; an interrupt ends the wait and sets the interrupt flag again. */
    private static void cancelAndWait(RunState run, long nanos) {
        run.cancel();
        try {
            if (!run.awaitUntil(RunState.UNTIL_NOT_RUNNING, true, nanos, "cancelOnShutdown()")) {
                log.warn("{}: still {} {} after the shutdown cancel", run.name(), run.state(),
                        Duration.ofNanos(nanos));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** A weakly held child, so a child nobody refers to any more is dropped. */
    static final class ChildRef extends WeakReference<RunState> {
        ChildRef(RunState child) {
            super(child);
        }
    }
}
