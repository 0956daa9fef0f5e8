package dev.refkit;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** {@link Deliveries} alone: per instance and per thread. */
final class DeliveriesTest {

    @Test
    void delivered_onlyToThisThreadAndThisInstance() throws Exception {
        Deliveries d = new Deliveries();
        RuntimeException a = new RuntimeException("a");
        RuntimeException equalButOther = new RuntimeException("a");
        assertFalse(d.deliveredHere(a));
        d.delivered(a);
        d.delivered(a);
        assertTrue(d.deliveredHere(a));
        assertFalse(d.deliveredHere(equalButOther));
        boolean[] elsewhere = new boolean[1];
        Thread t = TestThreads.start(() -> elsewhere[0] = d.deliveredHere(a));
        t.join();
        assertFalse(elsewhere[0]);
    }
}
