package dev.refkit.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class ThreadBindingTest {

    static Stream<ThreadBinding<String>> bindings() {
        return Stream.of(ThreadBinding.create(), ThreadBinding.threadLocal());
    }

    @Test
    void create_isScopedExactlyWhereTheJdkHasScopedValue() {
        assertEquals(Runtime.version().feature() >= 25, ThreadBinding.create().isScoped());
        assertEquals(false, ThreadBinding.threadLocal().isScoped());
    }

    @ParameterizedTest
    @MethodSource("bindings")
    void get_unbound_isNull(ThreadBinding<String> b) {
        assertNull(b.get());
    }

    @ParameterizedTest
    @MethodSource("bindings")
    void runWith_boundInside_goneAfter(ThreadBinding<String> b) {
        AtomicReference<String> seen = new AtomicReference<>();
        b.runWith("outer", () -> seen.set(b.get()));
        assertEquals("outer", seen.get());
        assertNull(b.get());
    }

    @ParameterizedTest
    @MethodSource("bindings")
    void runWith_nested_innerThenOuterAgain(ThreadBinding<String> b) {
        AtomicReference<String> inner = new AtomicReference<>();
        AtomicReference<String> after = new AtomicReference<>();
        b.runWith("outer", () -> {
            b.runWith("inner", () -> inner.set(b.get()));
            after.set(b.get());
        });
        assertEquals("inner", inner.get());
        assertEquals("outer", after.get());
    }

    @ParameterizedTest
    @MethodSource("bindings")
    void runWith_opThrows_rethrownAndOuterRestored(ThreadBinding<String> b) {
        AtomicReference<String> after = new AtomicReference<>();
        IllegalStateException boom = new IllegalStateException("boom");
        b.runWith("outer", () -> {
            assertSame(boom, assertThrows(IllegalStateException.class,
                    () -> b.runWith("inner", () -> {
                        throw boom;
                    })));
            after.set(b.get());
        });
        assertEquals("outer", after.get());
        AssertionError error = new AssertionError("error");
        assertSame(error, assertThrows(AssertionError.class, () -> b.runWith("x", () -> {
            throw error;
        })));
        assertNull(b.get());
    }

    @ParameterizedTest
    @MethodSource("bindings")
    void runWith_threadStartedInside_doesNotSeeIt(ThreadBinding<String> b) throws Exception {
        AtomicReference<String> seen = new AtomicReference<>("unset");
        b.runWith("mine", () -> {
            Thread t = new Thread(() -> seen.set(b.get()));
            t.start();
            try {
                t.join();
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        });
        assertNull(seen.get());
    }

    @ParameterizedTest
    @MethodSource("bindings")
    void runWith_null_throwsNpe(ThreadBinding<String> b) {
        assertThrows(NullPointerException.class, () -> b.runWith(null, () -> {}));
        assertThrows(NullPointerException.class, () -> b.runWith("v", null));
    }

    @ParameterizedTest
    @MethodSource("bindings")
    void callUnbound_insideRunWith_seesNone_thenOuterAgain_evenIfItThrows(ThreadBinding<String> b) {
        AtomicReference<String> inside = new AtomicReference<>("unset");
        AtomicReference<String> after = new AtomicReference<>();
        b.runWith("outer", () -> {
            assertEquals("result", b.callUnbound(() -> {
                inside.set(b.get());
                b.runWith("nested", () -> assertEquals("nested", b.get()));
                return "result";
            }));
            assertThrows(IllegalStateException.class, () -> b.callUnbound(() -> {
                throw new IllegalStateException("boom");
            }));
            after.set(b.get());
        });
        assertNull(inside.get());
        assertEquals("outer", after.get());
        assertNull(b.callUnbound(() -> b.get()));
    }
}
