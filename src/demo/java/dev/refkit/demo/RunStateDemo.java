package dev.refkit.demo;

import dev.refkit.Registration;
import dev.refkit.RunState;
import java.time.Duration;

/**
 * The RunState demo: a daemon loop that works in batches, sleeps between them, and stops
 * cleanly when cancelled: by Ctrl-C (through {@code cancelOnShutdown()}) or, so that the
 * demo ends by itself, by a timer thread after about 2 seconds.
 */
final class RunStateDemo {
    private RunStateDemo() {}

    /**
     * Runs the demo; takes about 2 seconds.
     *
     * @throws Exception if the demo fails
     */
    static void run() throws Exception {
        RunState indexer = new RunState("indexer");
        indexer.onStart(r -> System.out.println("  started " + r));
        indexer.onCancel(r -> System.out.println("  cancelled " + r));
        indexer.onStop(r -> System.out.println("  stopped " + r + ", total " + r.totalTime()));

        Thread timer = new Thread(() -> {
            try {
                if (!indexer.awaitCancellation(Duration.ofSeconds(2))) {
                    System.out.println("  timer: 2 s are up, cancelling");
                    indexer.cancel();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "demo-timer");
        timer.setDaemon(true);

        Registration hook = indexer.cancelOnShutdown();
        try {
            timer.start();
            indexer.run(() -> {
                int batch = 0;
                while (!indexer.isCancelled()) {
                    batch++;
                    System.out.println("  indexing batch " + batch);
                    indexer.sleep(Duration.ofMillis(400)); // returns at once on cancel
                }
                System.out.println("  loop ended cleanly after " + batch + " batches");
            });
        } finally {
            hook.close(); // the demo is over: Ctrl-C no longer concerns this loop
        }
        timer.join();
        System.out.println("  final: " + indexer);
    }
}
