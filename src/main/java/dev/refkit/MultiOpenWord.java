package dev.refkit;

/**
 * The layout of a counting engine's one state field, a {@code long}: bits 0-31 the open
 * count, bits 32-34 the phase, bits 35-63 the number of the latest startup attempt. Constants
 * and tiny static helpers only: the field lives in {@link MultiOpenEngine}, which alone
 * writes it.
 *
 * <p><b>Transient counts.</b> An open adds 1 with one getAndAdd and looks at what it added
 * to. If the phase was not OPEN, that 1 is
 * "transient": the opener takes it back with a CAS unless the phase has become OPEN
 * meanwhile, in which case it counts as a real open. So in the phases other than OPEN the
 * count field may hold transients on top of the real count (1 in STARTING, 0 otherwise),
 * and every phase change made under the lock is a getAndAdd of the phase difference
 * ({@link #phaseDelta}), which keeps them. In OPEN the count is exact (apart from the
 * overflow guard, {@link #MAX_COUNT}), so the last close is a CAS from (OPEN, 1).
 *
 * <p><b>Thread safety.</b> Stateless: every method is a pure function of its arguments.
 * The constants are compile-time constants, which javac folds into the engine's fast paths, and the methods are small enough for the JIT to inline.
 */
final class MultiOpenWord {
    private MultiOpenWord() {}

    // The phases, in the order of their names below (the public enum has the same order).
    static final int NEW = 0;
    static final int STARTING = 1;
    static final int OPEN = 2;
    static final int SHUTTING_DOWN = 3;
    static final int FINALIZING = 4;
    static final int CLOSED = 5;

    private static final String[] NAMES = {
        "NEW", "STARTING", "OPEN", "SHUTTING_DOWN", "FINALIZING", "CLOSED"
    };

    static final int PHASE_SHIFT = 32;
    static final long PHASE_MASK = 7L << PHASE_SHIFT;
    static final long EPOCH_ONE = 1L << 35;
    static final long EPOCH_MASK = -EPOCH_ONE;
    static final long OPEN_BITS = (long) OPEN << PHASE_SHIFT;
    /** Opens beyond this throw; the room above it absorbs transient overshoot. */
    static final int MAX_COUNT = 1 << 30;

    /** The phase in {@code s}, one of the int constants above. */
    static int phaseOf(long s) {
        return (int) (s >>> PHASE_SHIFT) & 7;
    }

    /** The name of {@code phase}, one of the int constants above. */
    static String phaseName(int phase) {
        return NAMES[phase];
    }

    /** The real count in {@code s}: transients are left out. */
    static int countOf(long s) {
        int phase = phaseOf(s);
        return phase == OPEN ? (int) s : phase == STARTING ? 1 : 0;
    }

    static long pack(long epochBits, int phase, int count) {
        return epochBits | ((long) phase << PHASE_SHIFT) | (count & 0xFFFF_FFFFL);
    }

    /** What to add to the state to move it from phase {@code from} to {@code to}. */
    static long phaseDelta(int from, int to) {
        return (long) (to - from) << PHASE_SHIFT;
    }
}
