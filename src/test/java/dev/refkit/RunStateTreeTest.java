package dev.refkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.ref.WeakReference;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * {@link RunStateTree} alone, over plain strings; a cleared reference stands for a child the
 * garbage collector took, so the weak holding is tested without waiting for a GC.
 */
final class RunStateTreeTest {

    private static List<String> referents(RunStateTree<String> tree) {
        List<String> out = new ArrayList<>();
        for (WeakReference<String> ref : tree.refs) {
            out.add(ref.get());
        }
        return out;
    }

    @Test
    void with_clearedChild_isLeftOutAndTheOthersKeepTheirOrder() {
        String a = new String("a");
        String b = new String("b");
        String c = new String("c");
        RunStateTree<String> ab = RunStateTree.<String>empty().with(a).with(b);
        assertEquals(List.of(a, b), referents(ab));
        ab.refs[0].clear();
        RunStateTree<String> bc = ab.with(c);
        assertEquals(List.of(b, c), referents(bc));
        assertEquals(2, ab.refs.length, "the old list is not changed");
        assertNull(ab.refs[0].get());
        assertSame(b, ab.refs[1].get());
    }

    @Test
    void empty_always_hasNoChildren() {
        assertEquals(0, RunStateTree.empty().refs.length);
        assertNull(RunStateTree.<String>empty().forEachLive(s -> {
            throw new AssertionError("called for " + s);
        }));
    }

    @Test
    void forEachLive_clearedChild_isSkippedAndTheOthersAreVisitedInOrder() {
        RunStateTree<String> abc = RunStateTree.<String>empty().with("a").with("b").with("c");
        abc.refs[1].clear();
        List<String> seen = new ArrayList<>();
        assertNull(abc.forEachLive(seen::add));
        assertEquals(List.of("a", "c"), seen);
    }

    /** An Error from one child does not stop the others; the first is returned, later suppressed. */
    @Test
    void forEachLive_childrenThrowErrors_allVisitedFirstReturnedOthersSuppressed() {
        RunStateTree<String> abc = RunStateTree.<String>empty().with("a").with("b").with("c");
        List<String> seen = new ArrayList<>();
        Error first = abc.forEachLive(s -> {
            seen.add(s);
            if (!s.equals("b")) {
                throw new AssertionError(s);
            }
        });
        assertEquals(List.of("a", "b", "c"), seen);
        assertEquals("a", first.getMessage());
        assertEquals(1, first.getSuppressed().length);
        assertEquals("c", first.getSuppressed()[0].getMessage());
    }

    @Test
    void with_null_throwsNamingIt() {
        assertEquals("child", assertThrows(NullPointerException.class,
                () -> RunStateTree.<String>empty().with(null)).getMessage());
    }

    /** The hook's registration removes it on the first close; later closes do nothing. */
    @Test
    void onShutdown_closedTwice_removesTheHookOnceAndNeverRunsIt() {
        AtomicBoolean ran = new AtomicBoolean();
        Registration hook = RunStateTree.onShutdown("test-hook", () -> ran.set(true));
        hook.close();
        hook.close();
        assertEquals(false, ran.get());
    }
}
