package dev.refkit;

import java.lang.ref.WeakReference;
import java.time.Duration;
import java.util.Arrays;
import org.jspecify.annotations.Nullable;
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

    /**
     * Cancels every child still referred to, in this thread; call it without any lock. An
     * {@link Error} from a child's cancel (its listeners' or its own children's) does not stop
     * the other children being cancelled: the first is returned, later ones suppressed on it.
     *
     * @return the first Error a child's cancel threw, or null
     */
    static @Nullable Error cancelAll(ChildRef[] children) {
        Error first = null;
        for (ChildRef ref : children) {
            RunState child = ref.get();
            if (child != null) {
                try {
                    child.cancel();
                } catch (Error e) {
                    first = Checks.firstFailure(first, e);
                }
            }
        }
        return first;
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

    /**
     * The hook's body; an interrupt ends the wait and sets the interrupt flag again. An
     * {@link Error} from the cancel (a cancel listener's or a child's) does not skip the wait:
     * it is rethrown once the wait is over, so the hook thread's uncaught-exception handler
     * reports it (the JVM's default prints it to {@code System.err}).
     */
    static void cancelAndWait(RunState run, long nanos) {
        Error error = null;
        try {
            run.cancel();
        } catch (Error e) {
            error = e;
        }
        try {
            if (!run.awaitUntil(RunState.UNTIL_NOT_RUNNING, 0L, true, nanos,
                    "cancelOnShutdown()")) {
                log.warn("{}: still {} {} after the shutdown cancel", run.name(), run.state(),
                        Duration.ofNanos(nanos));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (error != null) {
            throw error;
        }
    }

    /** A weakly held child, so a child nobody refers to any more is dropped. */
    static final class ChildRef extends WeakReference<RunState> {
        ChildRef(RunState child) {
            super(child);
        }
    }
}
