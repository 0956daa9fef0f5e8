package dev.refkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** {@link StartSignal} alone: once, twice, expired. */
final class StartSignalTest {

    @Test
    void signal_once_valueKept() {
        StartSignal<String> s = new StartSignal<>("g");
        s.name("g-1");
        assertFalse(s.isSignalled());
        s.signal("v");
        assertTrue(s.isSignalled());
        assertEquals("v", s.value());
        assertFalse(s.expire());
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> s.signal("w"));
        assertEquals("g: task g-1 called started() twice", e.getMessage());
        assertEquals("v", s.value());
    }

    @Test
    void signal_afterExpire_ignored() {
        StartSignal<String> s = new StartSignal<>("g");
        assertTrue(s.expire());
        s.signal("late");
        assertFalse(s.isSignalled());
    }
}
