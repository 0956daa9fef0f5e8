package dev.refkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;

/** {@link RunState#cancelOnShutdown()} in a child JVM that receives SIGTERM. */
@Timeout(60)
@EnabledOnOs({OS.LINUX, OS.MAC})
final class RunStateShutdownTest {

    /** Starts the child JVM, waits for "ready", sends SIGTERM and returns its output lines. */
    private static List<String> runChild(String mode, int[] exitCode) throws IOException, InterruptedException {
        String java = System.getProperty("java.home") + File.separator + "bin" + File.separator + "java";
        ProcessBuilder pb = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", RunStateShutdownMain.class.getName(), mode);
        pb.redirectError(ProcessBuilder.Redirect.INHERIT);
        Process p = pb.start();
        List<String> lines = new ArrayList<>();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            String line = out.readLine();
            assertEquals("ready", line);
            lines.add(line);
            // SIGTERM on Linux and macOS. Process.destroy() sends the same signal but also
            // closes our end of the child's stdout, so use the handle to keep reading.
            assertTrue(p.toHandle().destroy());
            while ((line = out.readLine()) != null) {
                lines.add(line);
            }
        } finally {
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
        }
        exitCode[0] = p.exitValue();
        return lines;
    }

    /** SIGTERM runs the hook, which cancels the loop and waits for its stop before exiting. */
    @Test
    void cancelOnShutdown_sigterm_loopEndsCleanlyBeforeExit() throws Exception {
        int[] exit = new int[1];
        List<String> lines = runChild("hook", exit);
        assertEquals(List.of("ready", "loop ended cleanly", "stopped, cancelled=true"), lines);
        assertEquals(143, exit[0], "128 + SIGTERM");
    }

    /** With the hook removed, SIGTERM ends the JVM with the loop still asleep. */
    @Test
    void cancelOnShutdown_hookRemoved_sigtermDoesNotReachTheLoop() throws Exception {
        int[] exit = new int[1];
        List<String> lines = runChild("removed", exit);
        assertEquals(List.of("ready"), lines);
        assertEquals(143, exit[0], "128 + SIGTERM");
    }

    @Test
    void cancelOnShutdown_closedTwice_removesHookOnce() {
        RunState r = new RunState("t");
        Registration hook = r.cancelOnShutdown();
        hook.close();
        hook.close();
        assertFalse(r.isCancelled());
        assertTrue(r.isIdle());
    }
}
