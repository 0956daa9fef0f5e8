package dev.refkit;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** {@link CallSites} alone: which frames are the library's, and what a site names. */
final class CallSitesTest {

    @Test
    void isLibrary_libraryClasses_true() {
        assertTrue(CallSites.isLibrary(MultiOpen.class));
        assertTrue(CallSites.isLibrary(MultiOpenEngine.class));
        assertTrue(CallSites.isLibrary(dev.refkit.internal.Wait.class));
    }

    @Test
    void isLibrary_callerInSamePackageButElsewhere_false() {
        assertFalse(CallSites.isLibrary(CallSitesTest.class));
        assertFalse(CallSites.isLibrary(String.class));
    }

    @Test
    void opened_namesTheCallerAndThread() {
        CallSites c = new CallSites();
        c.opened();
        StringBuilder sb = new StringBuilder();
        c.appendTo(sb);
        assertTrue(sb.toString().startsWith(", opens=[open at dev.refkit.CallSitesTest."
                + "opened_namesTheCallerAndThread"), sb.toString());
        assertTrue(sb.toString().contains("[" + Thread.currentThread().getName() + "]"));
    }

    @Test
    void closed_lastClose_recordedForMessages() {
        CallSites c = new CallSites();
        CallSites.Site s = c.opened();
        c.closed(s, true);
        assertTrue(c.liveSuffix().isEmpty());
        assertTrue(c.lastCloseSuffix().startsWith(" (last close at dev.refkit.CallSitesTest."),
                c.lastCloseSuffix());
    }
}
