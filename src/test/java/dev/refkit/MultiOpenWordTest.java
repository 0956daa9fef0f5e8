package dev.refkit;

import static dev.refkit.MultiOpenWord.CLOSED;
import static dev.refkit.MultiOpenWord.EPOCH_MASK;
import static dev.refkit.MultiOpenWord.EPOCH_ONE;
import static dev.refkit.MultiOpenWord.FINALIZING;
import static dev.refkit.MultiOpenWord.NEW;
import static dev.refkit.MultiOpenWord.OPEN;
import static dev.refkit.MultiOpenWord.OPEN_BITS;
import static dev.refkit.MultiOpenWord.PHASE_MASK;
import static dev.refkit.MultiOpenWord.SHUTTING_DOWN;
import static dev.refkit.MultiOpenWord.STARTING;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The state word's layout: phases match the public enum, fields do not bleed into each other. */
final class MultiOpenWordTest {

    @Test
    void phases_matchStateOrdinals() {
        MultiOpen.State[] states = MultiOpen.State.values();
        int[] phases = {NEW, STARTING, OPEN, SHUTTING_DOWN, FINALIZING, CLOSED};
        assertEquals(states.length, phases.length);
        for (int i = 0; i < phases.length; i++) {
            long s = MultiOpenWord.pack(0, phases[i], 0);
            assertEquals(states[i].name(), MultiOpenWord.phaseName(MultiOpenWord.phaseOf(s)));
            assertEquals(states[i], MultiOpen.State.ofPhase(phases[i]));
            assertEquals(i, phases[i]);
        }
    }

    @Test
    void pack_epochPhaseCount_readBackApart() {
        long epoch = 12_345 * EPOCH_ONE;
        long s = MultiOpenWord.pack(epoch, OPEN, 7);
        assertEquals(OPEN, MultiOpenWord.phaseOf(s));
        assertEquals(OPEN_BITS, s & PHASE_MASK);
        assertEquals(7, MultiOpenWord.countOf(s));
        assertEquals(7, (int) s);
        assertEquals(epoch, s & EPOCH_MASK);
    }

    @Test
    void phaseDelta_added_movesPhaseKeepingEpochAndTransients() {
        long epoch = 3 * EPOCH_ONE;
        long s = MultiOpenWord.pack(epoch, STARTING, 2); // 1 real open and 1 transient
        assertEquals(1, MultiOpenWord.countOf(s));
        long t = s + MultiOpenWord.phaseDelta(STARTING, OPEN);
        assertEquals(OPEN, MultiOpenWord.phaseOf(t));
        assertEquals(2, MultiOpenWord.countOf(t));
        assertEquals(epoch, t & EPOCH_MASK);
        long back = t + MultiOpenWord.phaseDelta(OPEN, NEW);
        assertEquals(NEW, MultiOpenWord.phaseOf(back));
        assertEquals(0, MultiOpenWord.countOf(back));
        assertEquals(epoch, back & EPOCH_MASK);
    }

    @Test
    void countOf_transientsOutsideOpen_leftOut() {
        assertEquals(0, MultiOpenWord.countOf(MultiOpenWord.pack(0, CLOSED, 3)));
        assertEquals(0, MultiOpenWord.countOf(MultiOpenWord.pack(0, SHUTTING_DOWN, 1)));
        assertEquals(1, MultiOpenWord.countOf(MultiOpenWord.pack(0, STARTING, 4)));
    }
}
