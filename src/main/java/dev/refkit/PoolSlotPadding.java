package dev.refkit;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The layout of a {@link PoolSlot}'s state word: padded on both sides so that two slots used
 * by two threads never share a cache line (padding by inheritance: HotSpot lays out a
 * superclass's fields before its subclass's). The raw accessors here are called only by
 * {@link PoolSlot}'s named transitions, which are the one place the word is written.
 */
final class PoolSlotPadding {
    private PoolSlotPadding() {}

    /** Padding before the state word. */
    abstract static class Before {
        long p00, p01, p02, p03, p04, p05, p06, p07;
    }

    /** The state word: generation in the high bits, kind in the low two. */
    abstract static class State extends Before {
        private volatile long state;

        State(long initial) {
            STATE.setRelease(this, initial);
        }

        /** Volatile read of the state word. */
        final long state() {
            return state;
        }

        /** Volatile write of the state word, for {@link PoolSlot}'s transitions alone. */
        final void setStateVolatile(long s) {
            state = s;
        }

        /** Compare-and-set with volatile semantics, for {@link PoolSlot}'s transitions. */
        final boolean casState(long expect, long update) {
            return STATE.compareAndSet(this, expect, update);
        }

        // VarHandle mechanics
        private static final VarHandle STATE;

        static {
            try {
                STATE = MethodHandles.lookup().findVarHandle(State.class, "state", long.class);
            } catch (ReflectiveOperationException e) {
                throw new ExceptionInInitializerError(e);
            }
        }
    }

    /** Padding after the state word. */
    abstract static class After extends State {
        long p10, p11, p12, p13, p14, p15, p16, p17;

        After(long initial) {
            super(initial);
        }
    }
}
