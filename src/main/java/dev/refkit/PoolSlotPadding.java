package dev.refkit;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The state word of a {@link PoolSlot}, padded on both sides so that two slots used by two
 * threads never share a cache line (JCTools' and Stormpot's padding-by-inheritance idiom:
 * HotSpot lays out a superclass's fields before its subclass's).
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

        /** Volatile write of the state word; only the slot's current owner calls this. */
        final void setState(long s) {
            state = s;
        }

        /** Compare-and-set of the state word with volatile semantics. */
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
