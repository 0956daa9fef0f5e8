package dev.refkit.demo;

import dev.refkit.ClosedException;
import dev.refkit.Lease;
import dev.refkit.Pool;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

/** Shows {@code Pool}: borrowing, waiting, async borrows, invalidation, stats and close. */
final class PoolDemo {
    private PoolDemo() {}

    /** A costly object: a "connection" with an id. */
    static final class Conn implements AutoCloseable {
        private static final AtomicInteger IDS = new AtomicInteger();
        final int id = IDS.incrementAndGet();

        String query(String q) {
            return "conn" + id + " ran " + q;
        }

        @Override
        public void close() {
            System.out.println("  closed conn" + id);
        }
    }

    /**
     * Runs the demo.
     *
     * @throws Exception if the demo fails
     */
    static void run() throws Exception {
        Pool<Conn> pool = Pool.builder(Conn::new).name("db").maxSize(2).build();

        try (Lease<Conn> lease = pool.borrow()) {
            System.out.println("  " + lease.get().query("select 1"));
        }
        try (Lease<Conn> again = pool.borrow()) {
            System.out.println("  reused: " + again.get().query("select 2"));
        }

        Lease<Conn> a = pool.borrow();
        Lease<Conn> b = pool.borrow();
        try {
            pool.borrow(Duration.ofMillis(50));
        } catch (TimeoutException e) {
            System.out.println("  " + e.getMessage());
        }

        CompletableFuture<Lease<Conn>> later = pool.borrowAsync();
        CountDownLatch served = new CountDownLatch(1);
        later.thenAccept(l -> {
            try (l) {
                System.out.println("  async borrower got: " + l.get().query("select 3"));
            }
            served.countDown();
        });
        System.out.println("  async borrow waiting: " + !later.isDone()
                + ", stats " + pool.stats());
        b.invalidate(); // broken: destroyed, its slot goes to the async waiter
        served.await();

        a.close();
        List<Lease<Conn>> two = new ArrayList<>();
        two.add(pool.borrow());
        two.add(pool.borrow());
        System.out.println("  " + pool.stats());
        two.forEach(Lease::close);

        pool.close();
        try {
            pool.borrow();
        } catch (ClosedException e) {
            System.out.println("  " + e.getMessage());
        }
        System.out.println("  closed cleanly: " + pool.join(Duration.ofSeconds(1))
                + ", final " + pool.stats());
    }
}
