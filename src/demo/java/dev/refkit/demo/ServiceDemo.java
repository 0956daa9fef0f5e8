package dev.refkit.demo;

import dev.refkit.BackgroundService;
import dev.refkit.Handle;
import dev.refkit.RestartPolicy;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The BackgroundService demo: a heartbeat ({@code every}) and a queue consumer
 * ({@code loop}) whose body fails once and is restarted by its {@code RestartPolicy}, both
 * shared by two owners and stopped by the last close. Takes well under a second.
 */
final class ServiceDemo {
    private ServiceDemo() {}

    /**
     * Runs the demo.
     *
     * @throws Exception if the demo fails
     */
    static void run() throws Exception {
        CountDownLatch threeBeats = new CountDownLatch(3);
        BackgroundService heartbeat = BackgroundService.every("heartbeat", Duration.ofMillis(20),
                threeBeats::countDown); // yours: send a ping; runs every 20 ms until stopped

        BlockingQueue<String> queue = new LinkedBlockingQueue<>();
        CountDownLatch consumed = new CountDownLatch(1);
        BackgroundService consumer = BackgroundService.loop("consumer", rs -> {
            String m = queue.take(); // interrupted by the stop: the task ends CANCELLED
            if (m.equals("poison")) {
                System.out.println("  consumer: got poison, failing (the restart is logged through SLF4J)");
                throw new IllegalStateException("poison message");
            }
            System.out.println("  consumer: got " + m);
            if (m.equals("last")) {
                consumed.countDown();
            }
        }, RestartPolicy.after(Duration.ofMillis(50)).maxRestarts(3));

        Handle heartbeatA = heartbeat.open();   // the first open starts the heartbeat's task
        Handle consumerA = consumer.open();
        System.out.println("  owner A opened both: " + heartbeat + ", " + consumer);
        Handle heartbeatB = heartbeat.open();   // the second owner: nothing starts again
        Handle consumerB = consumer.open();
        System.out.println("  owner B opened both: heartbeat openCount=" + heartbeat.openCount()
                + ", consumer openCount=" + consumer.openCount());

        await(threeBeats, "three beats");
        System.out.println("  heartbeat: beat three times, one every 20 ms");
        queue.put("first");
        queue.put("poison");
        queue.put("last");  // taken by the restarted loop, 50 ms after the failure
        await(consumed, "the last message");
        System.out.println("  after the restart: " + consumer);
        System.out.println("  failures(): " + consumer.failures() + " (a restarted failure is not one)");

        heartbeatA.close();
        consumerA.close();
        System.out.println("  owner A closed: still running: heartbeat " + heartbeat.isRunning()
                + ", consumer " + consumer.isRunning());
        heartbeatB.close();     // the last close: cancels the heartbeat's sleep, waits for it
        consumerB.close();    // and the consumer's take()
        System.out.println("  owner B closed (the last close): running: heartbeat "
                + heartbeat.isRunning() + ", consumer " + consumer.isRunning());
        System.out.println("  " + heartbeat);
        System.out.println("  " + consumer);
    }

    private static void await(CountDownLatch latch, String what) throws InterruptedException {
        if (!latch.await(10, TimeUnit.SECONDS)) {
            throw new IllegalStateException("service demo: no " + what + " after 10 s");
        }
    }
}
