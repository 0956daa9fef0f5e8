package dev.refkit;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@code TaskGroupCore.detached}: a group built in a task of another is nobody's child. */
@Timeout(30)
final class TaskGroupDetachedTest {

    @Test
    void detached_inTaskOfOuter_notChildAndCurrentRestored() throws Exception {
        AtomicReference<TaskGroup> inner = new AtomicReference<>();
        AtomicReference<TaskGroup> attached = new AtomicReference<>();
        AtomicReference<Object> currentAfter = new AtomicReference<>();
        TaskGroup outer = TaskGroup.open("outer");
        outer.spawn(() -> {
            inner.set(TaskGroupCore.detached(() -> TaskGroup.open("inner")));
            attached.set(TaskGroup.open("attached"));
            currentAfter.set(TaskGroup.current().orElse(null));
        }).join();
        assertSame(outer, currentAfter.get());
        outer.cancel();
        outer.close();
        assertFalse(inner.get().runState().isCancelled());
        assertTrue(attached.get().runState().isCancelled()); // the rule detached opts out of
        inner.get().close();
        attached.get().close();
    }

    @Test
    void detached_onPlainThread_justBuilds() {
        TaskGroup g = TaskGroupCore.detached(() -> TaskGroup.open("g"));
        assertFalse(g.runState().isCancelled());
        g.close();
    }
}
