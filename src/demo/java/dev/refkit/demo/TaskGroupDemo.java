package dev.refkit.demo;

import dev.refkit.LifecycleException;
import dev.refkit.Task;
import dev.refkit.TaskGroup;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * The TaskGroup demo: tasks spawned and joined, a failure that cancels its siblings and is
 * thrown by {@code close()}, and {@code start()} waiting until a task is ready. Takes well
 * under a second.
 */
final class TaskGroupDemo {
    private TaskGroupDemo() {}

    /**
     * Runs the demo.
     *
     * @throws Exception if the demo fails
     */
    static void run() throws Exception {
        results();
        failureCancelsSiblings();
        startWaitsUntilReady();
    }

    /** Three tasks; their results, and a group that waited for all of them. */
    private static void results() throws InterruptedException {
        System.out.println("  -- spawn and join");
        List<Task<String>> squares = new ArrayList<>();
        try (TaskGroup group = TaskGroup.open("squares")) {
            for (int i = 1; i <= 3; i++) {
                int n = i;
                squares.add(group.spawn(() -> n + " * " + n + " = " + n * n + " on " + Thread.currentThread()));
            }
            for (Task<String> t : squares) {
                System.out.println("  " + t.name() + ": " + t.join());
            }
            System.out.println("  " + group);
        }
        System.out.println("  closed: every task has ended");
    }

    /** A failing task cancels a sleeping sibling; close() throws the failure. */
    private static void failureCancelsSiblings() {
        System.out.println("  -- a failure cancels its siblings and is thrown by close()");
        TaskGroup group = TaskGroup.open("crawler");
        long t0 = System.nanoTime();
        try (group) {
            group.spawn("poller", () -> {
                System.out.println("  poller: asleep for up to an hour");
                boolean slept = group.runState().sleep(Duration.ofHours(1));
                System.out.println("  poller: woken after " + millisSince(t0) + " ms, slept the hour: " + slept);
            });
            group.spawn("fetch-2", () -> {
                Thread.sleep(100); // some work, then it fails
                System.out.println("  fetch-2: failing with IOException: timeout");
                throw new IOException("timeout");
            });
        } catch (LifecycleException e) {
            System.out.println("  close() threw " + e + ", cause " + e.getCause());
        }
        System.out.println("  cancel reason: " + group.runState().cancelReason().orElse("(none)"));
        System.out.println("  " + group);
    }

    /** start() returns the value the task signals; the task goes on in the group. */
    private static void startWaitsUntilReady() throws InterruptedException {
        System.out.println("  -- start(): wait until a task is ready");
        try (TaskGroup group = TaskGroup.open("server")) {
            BlockingQueue<String> inbox = group.start(started -> {
                BlockingQueue<String> queue = new LinkedBlockingQueue<>();
                System.out.println("  server: ready");
                started.started(queue);
                for (String m = queue.take(); !m.equals("stop"); m = queue.take()) {
                    System.out.println("  server: got " + m);
                }
                System.out.println("  server: stopping");
            });
            System.out.println("  start() returned the server's inbox");
            inbox.put("hello");
            inbox.put("stop");
        }
        System.out.println("  close() waited for the server");
    }

    private static long millisSince(long t0) {
        return (System.nanoTime() - t0) / 1_000_000;
    }
}
