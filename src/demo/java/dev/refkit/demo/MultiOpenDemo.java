package dev.refkit.demo;

import dev.refkit.Handle;
import dev.refkit.Lease;
import dev.refkit.MultiOpen;
import dev.refkit.Shared;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * MultiOpen and Shared: several worker threads share one resource that starts up on the
 * first open and shuts down on the last close, twice over; then the same with a Shared
 * value.
 */
final class MultiOpenDemo {
    private MultiOpenDemo() {}

    /** A pretend database client: "connects" on startup, "disconnects" on shutdown. */
    static final class DbClient extends MultiOpen {
        private final AtomicInteger queries = new AtomicInteger();

        DbClient() {
            super("db");
        }

        @Override
        protected void startup() {
            queries.set(0);
            System.out.println("  [db] startup: connecting (by " + Thread.currentThread().getName() + ")");
        }

        @Override
        protected void shutdown() {
            System.out.println("  [db] shutdown: disconnecting after " + queries.get()
                    + " queries (by " + Thread.currentThread().getName() + ")");
        }

        int query() {
            ensureOpen();
            return queries.incrementAndGet();
        }
    }

    /**
     * Runs the demo.
     *
     * @throws Exception if a worker fails
     */
    @SuppressWarnings("try") // the handles only mark the opens
    static void run() throws Exception {
        System.out.println("-- MultiOpen: 4 workers share one DbClient");
        DbClient db = new DbClient();
        for (int round = 1; round <= 2; round++) {
            System.out.println(" round " + round + ", state " + db);
            CountDownLatch allOpen = new CountDownLatch(4);
            List<Thread> workers = new ArrayList<>();
            for (int w = 0; w < 4; w++) {
                Thread t = new Thread(() -> {
                    try (Handle h = db.open()) {
                        allOpen.countDown();
                        allOpen.await(2, TimeUnit.SECONDS); // all four hold it at once
                        for (int i = 0; i < 1000; i++) {
                            db.query();
                        }
                        System.out.println("  " + Thread.currentThread().getName()
                                + " done, " + db);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }, "worker-" + round + "." + w);
                workers.add(t);
                t.start();
            }
            for (Thread t : workers) {
                t.join();
            }
            db.join(); // the last close has shut it down
            System.out.println(" after round " + round + ": " + db);
        }

        System.out.println("-- Shared<T>: one value made on the first acquire, closed on the last");
        AtomicInteger made = new AtomicInteger();
        Shared<Queue<String>> log = Shared.of("log", () -> {
            System.out.println("  [log] opener: making buffer #" + made.incrementAndGet());
            return new ConcurrentLinkedQueue<String>();
        }, q -> System.out.println("  [log] closer: buffer held " + q));
        try (Lease<Queue<String>> a = log.acquire()) {
            try (Lease<Queue<String>> b = log.acquire()) {
                b.get().add("hello");
                System.out.println("  two leases: " + log);
            }
            a.get().add("world");
        }
        System.out.println("  released: " + log);
        log.acquire().close();
        System.out.println("  a new acquire made a new value and closed it again: " + log);
    }
}
