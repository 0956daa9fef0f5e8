package dev.refkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** {@link MultiOpenEngine} alone, with hooks and words of the test's own. */
final class MultiOpenEngineTest {

    private static final MultiOpenEngine.Words WORDS = new MultiOpenEngine.Words(
            "take()", "takeInterruptibly()", "give()", "the maker", "the breaker");

    /** Hooks that log their calls; {@code inside} runs inside the startup, if set. */
    static final class Log implements MultiOpenEngine.Hooks {
        final List<String> calls = new ArrayList<>();
        final AtomicReference<Runnable> inside = new AtomicReference<>();

        @Override
        public void startup() {
            calls.add("startup");
            Runnable r = inside.get();
            if (r != null) {
                r.run();
            }
        }

        @Override
        public void shutdown() {
            calls.add("shutdown");
        }

        @Override
        public boolean finalizeLater() {
            return false;
        }
    }

    @Test
    void open_firstAndLastClose_runHooksOnce() {
        Log log = new Log();
        MultiOpenEngine e = new MultiOpenEngine("e", WORDS, log, null);
        assertNull(e.open());
        e.open();
        assertEquals(2, e.countIn(e.snapshot()));
        e.close(null);
        e.close(null);
        assertEquals(List.of("startup", "shutdown"), log.calls);
        assertEquals("CLOSED", MultiOpenWord.phaseName(MultiOpenWord.phaseOf(e.snapshot())));
    }

    @Test
    void close_misuse_messagesUseTheGivenWords() {
        MultiOpenEngine e = new MultiOpenEngine("e", WORDS, new Log(), null);
        assertEquals("e: give() before any take()",
                assertThrows(IllegalStateException.class, () -> e.close(null)).getMessage());
        e.open();
        e.close(null);
        assertEquals("e: give() without a matching take()",
                assertThrows(IllegalStateException.class, () -> e.close(null)).getMessage());
    }

    @Test
    void open_insideStartup_messageNamesTheHook() {
        Log log = new Log();
        MultiOpenEngine e = new MultiOpenEngine("e", WORDS, log, null);
        AtomicReference<String> msg = new AtomicReference<>();
        log.inside.set(() -> msg.set(assertThrows(IllegalStateException.class, e::open)
                .getMessage()));
        e.open();
        assertEquals("e: take() called from inside the maker", msg.get());
    }

    @Test
    void openIfOpen_onlyWhileOpen() {
        Log log = new Log();
        MultiOpenEngine e = new MultiOpenEngine("e", WORDS, log, null);
        assertFalse(e.openIfOpen());
        e.open();
        assertTrue(e.openIfOpen());
        assertEquals(2, e.countIn(e.snapshot()));
        e.close(null);
        e.close(null);
        assertFalse(e.openIfOpen());
        assertEquals(List.of("startup", "shutdown"), log.calls, "never runs a startup");
    }

    @Test
    void join_pendingOnlyBetweenFirstOpenAndLastClose() throws Exception {
        MultiOpenEngine e = new MultiOpenEngine("e", WORDS, new Log(), null);
        assertFalse(e.isPending());
        e.open();
        assertTrue(e.isPending());
        assertFalse(e.join(0L));
        e.close(null);
        assertFalse(e.isPending());
        assertTrue(e.join(0L));
    }

    @Test
    void openInterruptibly_interruptedOnEntry_messageUsesTheGivenWord() {
        MultiOpenEngine e = new MultiOpenEngine("e", WORDS, new Log(), null);
        Thread.currentThread().interrupt();
        assertEquals("e: interrupted in takeInterruptibly()",
                assertThrows(InterruptedException.class, e::openInterruptibly).getMessage());
        assertEquals(0, e.countIn(e.snapshot()));
    }
}
