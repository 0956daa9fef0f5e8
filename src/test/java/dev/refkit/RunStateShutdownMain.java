package dev.refkit;

import java.time.Duration;

/**
 * A daemon loop run in a child JVM by {@link RunStateShutdownTest}: prints {@code ready},
 * sleeps until cancelled, then prints {@code loop ended cleanly}. With the argument
 * {@code removed} it removes its shutdown hook before looping.
 */
final class RunStateShutdownMain {
    private RunStateShutdownMain() {}

    public static void main(String[] args) {
        RunState run = new RunState("daemon");
        Registration hook = run.cancelOnShutdown(Duration.ofSeconds(20));
        if (args.length > 0 && args[0].equals("removed")) {
            hook.close();
            hook.close();
        }
        run.onStop(r -> System.out.println("stopped, cancelled=" + r.isCancelled()));
        run.run(() -> {
            System.out.println("ready");
            System.out.flush();
            while (!run.isCancelled()) {
                run.sleep(Duration.ofHours(1));
            }
            System.out.println("loop ended cleanly");
        });
    }
}
