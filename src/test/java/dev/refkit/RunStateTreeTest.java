package dev.refkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.refkit.RunStateTree.ChildRef;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The children helpers of {@link RunStateTree}; a cleared {@link ChildRef} stands for a child
 * the garbage collector took, so the weak holding is tested without waiting for a GC.
 */
final class RunStateTreeTest {

    private static List<RunState> referents(ChildRef[] refs) {
        List<RunState> out = new ArrayList<>();
        for (ChildRef ref : refs) {
            out.add(ref.get());
        }
        return out;
    }

    @Test
    void adding_clearedChild_isLeftOutAndTheOthersKeepTheirOrder() {
        RunState a = new RunState("a");
        RunState b = new RunState("b");
        RunState c = new RunState("c");
        ChildRef[] ab = RunStateTree.adding(RunStateTree.adding(RunStateTree.NO_CHILDREN, a), b);
        assertEquals(List.of(a, b), referents(ab));
        ab[0].clear();
        ChildRef[] bc = RunStateTree.adding(ab, c);
        assertEquals(List.of(b, c), referents(bc));
        assertEquals(2, ab.length, "the old array is not changed");
        assertNull(ab[0].get());
        assertSame(b, ab[1].get());
    }

    @Test
    void cancelAll_clearedChild_isSkippedAndTheOthersAreCancelled() {
        RunState a = new RunState("a");
        RunState b = new RunState("b");
        ChildRef[] ab = RunStateTree.adding(RunStateTree.adding(RunStateTree.NO_CHILDREN, a), b);
        ab[0].clear();
        RunStateTree.cancelAll(ab);
        assertFalse(a.isCancelled());
        assertTrue(b.isCancelled());
    }
}
