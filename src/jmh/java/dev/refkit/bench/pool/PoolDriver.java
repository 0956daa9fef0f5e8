package dev.refkit.bench.pool;

import com.zaxxer.hikari.util.ConcurrentBag;
import com.zaxxer.hikari.util.ConcurrentBag.IConcurrentBagEntry;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.commons.pool2.BasePooledObjectFactory;
import org.apache.commons.pool2.PooledObject;
import org.apache.commons.pool2.impl.DefaultPooledObject;
import org.apache.commons.pool2.impl.GenericObjectPool;
import org.apache.commons.pool2.impl.GenericObjectPoolConfig;
import org.openjdk.jmh.infra.Blackhole;
import stormpot.Allocator;
import stormpot.Expiration;
import stormpot.Pool;
import stormpot.PoolTap;
import stormpot.Pooled;
import stormpot.Slot;
import stormpot.Timeout;

/**
 * One object pool behind a common face, so that every benchmark and harness in this package
 * runs the same loop against Refkit and its peers.
 *
 * <p>Each subclass writes the borrow+return cycle the way a user of that library would
 * (try-with-resources where the library lends an {@code AutoCloseable}, else
 * try/finally), inside its own method, so the JIT sees the library's code exactly as in an
 * application; a JMH fork only ever loads one subclass, so the calls are monomorphic.
 *
 * <p><b>Thread safety.</b> Every method but {@link #close()} may be called from many threads
 * at once, as the pool it drives allows.
 */
abstract class PoolDriver implements AutoCloseable {

    /** The implementations, by the names the benchmarks' {@code impl} parameter takes. */
    static final List<String> NAMES =
            List.of("refkit", "stormpot", "commons-pool2", "hikari-bag", "abq");

    /** How long a blocking borrow of a peer that needs a timeout waits before failing. */
    static final Duration LONG_WAIT = Duration.ofSeconds(30);

    /** The object pooled: small and cheap, so the pools' own costs are what is measured. */
    static final class Thing {
        final int id;

        Thing(int id) {
            this.id = id;
        }
    }

    /**
     * Makes a started driver over a pool of {@code size} objects, all made already.
     *
     * @param impl one of {@link #NAMES}, {@code "refkit-unfair"} for Refkit with
     *     {@code fair(false)}, {@code "stormpot-vtap"} for Stormpot's virtual-thread-safe tap,
     *     {@code "none"} for no pool at all (every borrow gets the same object at once: the
     *     harnesses' baseline), or {@code "atomic"} for the floor of two atomic operations
     *     (one shared {@code AtomicInteger} incremented on borrow and decremented on return)
     * @param size the pool's size
     * @return the driver
     * @throws Exception if the pool cannot be built or filled
     * @throws IllegalArgumentException if {@code impl} is unknown
     */
    static PoolDriver of(String impl, int size) throws Exception {
        return switch (impl) {
            case "refkit" -> RefkitDriver.create(size, true);
            case "refkit-unfair" -> RefkitDriver.create(size, false);
            case "stormpot" -> new StormpotDriver(size, false);
            case "stormpot-vtap" -> new StormpotDriver(size, true);
            case "commons-pool2" -> new CommonsPool2Driver(size);
            case "hikari-bag" -> new HikariBagDriver(size);
            case "abq" -> new QueueDriver(size);
            case "none" -> new NoPoolDriver();
            case "atomic" -> new AtomicFloorDriver();
            default -> throw new IllegalArgumentException("unknown pool implementation: " + impl);
        };
    }

    /**
     * Borrows an object, hands it to {@code bh} and returns it, with the library's idiom.
     *
     * @param bh where the object goes while held
     * @throws Exception if the pool fails
     */
    abstract void borrowReturn(Blackhole bh) throws Exception;

    /**
     * Runs {@link #borrowReturn(Blackhole)}'s cycle {@code n} times, with the loop in the
     * subclass so that each implementation's loop is compiled on its own (for harnesses that
     * run several implementations in one JVM).
     *
     * @param bh where the objects go while held
     * @param n how many cycles
     * @throws Exception if the pool fails
     */
    abstract void borrowReturnLoop(Blackhole bh, int n) throws Exception;

    /**
     * Borrows an object, burns {@code tokens} of CPU while holding it
     * ({@link Blackhole#consumeCPU(long)}), then if {@code yield} calls {@link Thread#yield()}
     * (a virtual thread then gives up its carrier while it holds the object, as it would in a
     * blocking call), and returns it.
     *
     * @param tokens the work done while holding
     * @param yield whether to yield while holding
     * @throws Exception if the pool fails
     */
    abstract void borrowHoldReturn(long tokens, boolean yield) throws Exception;

    /**
     * Borrows an object, waiting as long as it takes (or {@link #LONG_WAIT} for peers that need
     * a bound). For harnesses that time the borrow apart from the return.
     *
     * @return what {@link #giveBack(Object)} needs to return it
     * @throws Exception if the pool fails or the wait times out
     */
    abstract Object borrow() throws Exception;

    /**
     * Returns what {@link #borrow()} lent.
     *
     * @param handle the value {@link #borrow()} returned
     */
    abstract void giveBack(Object handle);

    /** Closes the pool. */
    @Override
    public abstract void close();

    static IllegalStateException timedOut(String impl) {
        return new IllegalStateException(impl + ": no object within " + LONG_WAIT);
    }

    // ---------------------------------------------------------------------------------------

    /** Stormpot 4.1: the default pool, {@code Expiration.never()}. */
    static final class StormpotDriver extends PoolDriver {
        private final Pool<Pooled<Thing>> pool;
        private final PoolTap<Pooled<Thing>> tap;
        private final Timeout timeout = new Timeout(LONG_WAIT);

        StormpotDriver(int size, boolean virtualThreadTap) throws InterruptedException {
            AtomicInteger ids = new AtomicInteger();
            Allocator<Pooled<Thing>> allocator = new Allocator<>() {
                @Override
                public Pooled<Thing> allocate(Slot slot) {
                    return new Pooled<>(slot, new Thing(ids.incrementAndGet()));
                }

                @Override
                public void deallocate(Pooled<Thing> poolable) {
                    // nothing to free
                }
            };
            pool = Pool.from(allocator).setSize(size).setExpiration(Expiration.never()).build();
            tap = virtualThreadTap ? pool.getVirtualThreadSafeTap() : pool;
            // Wait until the background allocator has made every object.
            List<Pooled<Thing>> all = new ArrayList<>(size);
            for (int i = 0; i < size; i++) {
                Pooled<Thing> p = pool.claim(timeout);
                if (p == null) {
                    throw timedOut("stormpot");
                }
                all.add(p);
            }
            for (Pooled<Thing> p : all) {
                p.release();
            }
        }

        @Override
        void borrowReturn(Blackhole bh) throws InterruptedException {
            try (Pooled<Thing> p = tap.claim(timeout)) {
                bh.consume(p.getObject());
            }
        }

        @Override
        void borrowReturnLoop(Blackhole bh, int n) throws InterruptedException {
            for (int i = 0; i < n; i++) {
                try (Pooled<Thing> p = tap.claim(timeout)) {
                    bh.consume(p.getObject());
                }
            }
        }

        @Override
        void borrowHoldReturn(long tokens, boolean yield) throws InterruptedException {
            try (Pooled<Thing> p = tap.claim(timeout)) {
                if (p == null) {
                    throw timedOut("stormpot");
                }
                Blackhole.consumeCPU(tokens);
                if (yield) {
                    Thread.yield();
                }
            }
        }

        @Override
        Object borrow() throws InterruptedException {
            Pooled<Thing> p = tap.claim(timeout);
            if (p == null) {
                throw timedOut("stormpot");
            }
            return p;
        }

        @Override
        void giveBack(Object handle) {
            ((Pooled<?>) handle).release();
        }

        @Override
        public void close() {
            try {
                pool.shutdown().await(timeout);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** commons-pool2 2.13: {@code GenericObjectPool} with its defaults but the sizes. */
    static final class CommonsPool2Driver extends PoolDriver {
        private final GenericObjectPool<Thing> pool;

        CommonsPool2Driver(int size) throws Exception {
            AtomicInteger ids = new AtomicInteger();
            GenericObjectPoolConfig<Thing> config = new GenericObjectPoolConfig<>();
            config.setMaxTotal(size);
            config.setMaxIdle(size);
            config.setJmxEnabled(false);
            pool = new GenericObjectPool<>(new BasePooledObjectFactory<>() {
                @Override
                public Thing create() {
                    return new Thing(ids.incrementAndGet());
                }

                @Override
                public PooledObject<Thing> wrap(Thing thing) {
                    return new DefaultPooledObject<>(thing);
                }
            }, config);
            pool.addObjects(size);
        }

        @Override
        void borrowReturn(Blackhole bh) throws Exception {
            Thing t = pool.borrowObject();
            try {
                bh.consume(t);
            } finally {
                pool.returnObject(t);
            }
        }

        @Override
        void borrowReturnLoop(Blackhole bh, int n) throws Exception {
            for (int i = 0; i < n; i++) {
                Thing t = pool.borrowObject();
                try {
                    bh.consume(t);
                } finally {
                    pool.returnObject(t);
                }
            }
        }

        @Override
        void borrowHoldReturn(long tokens, boolean yield) throws Exception {
            Thing t = pool.borrowObject();
            try {
                Blackhole.consumeCPU(tokens);
                if (yield) {
                    Thread.yield();
                }
            } finally {
                pool.returnObject(t);
            }
        }

        @Override
        Object borrow() throws Exception {
            return pool.borrowObject();
        }

        @Override
        void giveBack(Object handle) {
            pool.returnObject((Thing) handle);
        }

        @Override
        public void close() {
            pool.close();
        }
    }

    /**
     * HikariCP 7.0.2's {@code ConcurrentBag}, the heart of its connection pool, with a state
     * listener that adds entries up to the size (as HikariPool does, but inline).
     */
    static final class HikariBagDriver extends PoolDriver {
        private final ConcurrentBag<Entry> bag;
        private final AtomicInteger made = new AtomicInteger();

        HikariBagDriver(int size) {
            AtomicInteger ids = new AtomicInteger();
            Holder holder = new Holder();
            bag = new ConcurrentBag<>(waiting -> {
                // Called when a borrower finds nothing free: add one if under the size.
                if (made.getAndIncrement() < size) {
                    holder.bag.add(new Entry(new Thing(ids.incrementAndGet())));
                } else {
                    made.decrementAndGet();
                }
            });
            holder.bag = bag;
            for (int i = 0; i < size; i++) {
                made.incrementAndGet();
                bag.add(new Entry(new Thing(ids.incrementAndGet())));
            }
        }

        /** Lets the listener reach the bag built with it. */
        private static final class Holder {
            volatile ConcurrentBag<Entry> bag;
        }

        /** A bag entry: the state HikariCP keeps in its {@code PoolEntry}. */
        static final class Entry implements IConcurrentBagEntry {
            final Thing thing;
            private volatile int state;

            Entry(Thing thing) {
                this.thing = thing;
            }

            @Override
            public boolean compareAndSet(int expect, int update) {
                return STATE.compareAndSet(this, expect, update);
            }

            @Override
            public void setState(int update) {
                state = update;
            }

            @Override
            public int getState() {
                return state;
            }

            // VarHandle mechanics
            private static final VarHandle STATE;

            static {
                try {
                    STATE = MethodHandles.lookup().findVarHandle(Entry.class, "state", int.class);
                } catch (ReflectiveOperationException e) {
                    throw new ExceptionInInitializerError(e);
                }
            }
        }

        private Entry take() throws InterruptedException {
            Entry e = bag.borrow(LONG_WAIT.toNanos(), TimeUnit.NANOSECONDS);
            if (e == null) {
                throw timedOut("hikari-bag");
            }
            return e;
        }

        @Override
        void borrowReturn(Blackhole bh) throws InterruptedException {
            Entry e = take();
            try {
                bh.consume(e.thing);
            } finally {
                bag.requite(e);
            }
        }

        @Override
        void borrowReturnLoop(Blackhole bh, int n) throws InterruptedException {
            for (int i = 0; i < n; i++) {
                Entry e = take();
                try {
                    bh.consume(e.thing);
                } finally {
                    bag.requite(e);
                }
            }
        }

        @Override
        void borrowHoldReturn(long tokens, boolean yield) throws InterruptedException {
            Entry e = take();
            try {
                Blackhole.consumeCPU(tokens);
                if (yield) {
                    Thread.yield();
                }
            } finally {
                bag.requite(e);
            }
        }

        @Override
        Object borrow() throws InterruptedException {
            return take();
        }

        @Override
        void giveBack(Object handle) {
            bag.requite((Entry) handle);
        }

        @Override
        public void close() {
            bag.close();
        }
    }

    /** The floor: a pre-filled {@code ArrayBlockingQueue}, poll (take when empty) and offer. */
    static final class QueueDriver extends PoolDriver {
        private final ArrayBlockingQueue<Thing> queue;

        QueueDriver(int size) {
            queue = new ArrayBlockingQueue<>(size);
            for (int i = 0; i < size; i++) {
                queue.add(new Thing(i + 1));
            }
        }

        private Thing take() throws InterruptedException {
            Thing t = queue.poll();
            return t != null ? t : queue.take();
        }

        @Override
        void borrowReturn(Blackhole bh) throws InterruptedException {
            Thing t = take();
            try {
                bh.consume(t);
            } finally {
                queue.offer(t);
            }
        }

        @Override
        void borrowReturnLoop(Blackhole bh, int n) throws InterruptedException {
            for (int i = 0; i < n; i++) {
                Thing t = take();
                try {
                    bh.consume(t);
                } finally {
                    queue.offer(t);
                }
            }
        }

        @Override
        void borrowHoldReturn(long tokens, boolean yield) throws InterruptedException {
            Thing t = take();
            try {
                Blackhole.consumeCPU(tokens);
                if (yield) {
                    Thread.yield();
                }
            } finally {
                queue.offer(t);
            }
        }

        @Override
        Object borrow() throws InterruptedException {
            return take();
        }

        @Override
        void giveBack(Object handle) {
            queue.offer((Thing) handle);
        }

        @Override
        public void close() {
            queue.clear();
        }
    }

    /** No pool: every borrow gets the same object at once. The baseline of the harnesses. */
    static final class NoPoolDriver extends PoolDriver {
        private final Thing thing = new Thing(1);

        @Override
        void borrowReturn(Blackhole bh) {
            bh.consume(thing);
        }

        @Override
        void borrowReturnLoop(Blackhole bh, int n) {
            for (int i = 0; i < n; i++) {
                bh.consume(thing);
            }
        }

        @Override
        void borrowHoldReturn(long tokens, boolean yield) {
            Blackhole.consumeCPU(tokens);
            if (yield) {
                Thread.yield();
            }
        }

        @Override
        Object borrow() {
            return thing;
        }

        @Override
        void giveBack(Object handle) {
            // nothing to return
        }

        @Override
        public void close() {
            // nothing to close
        }
    }

    /**
     * The floor every pool is measured against: the two atomic operations a borrow and a
     * return cost at least, on one {@code AtomicInteger} shared by all threads (as the
     * open/close pair's floor in {@code OpenCloseBench}), around the same object.
     */
    static final class AtomicFloorDriver extends PoolDriver {
        private final Thing thing = new Thing(1);
        private final AtomicInteger lent = new AtomicInteger();

        @Override
        void borrowReturn(Blackhole bh) {
            lent.incrementAndGet();
            bh.consume(thing);
            lent.decrementAndGet();
        }

        @Override
        void borrowReturnLoop(Blackhole bh, int n) {
            for (int i = 0; i < n; i++) {
                borrowReturn(bh);
            }
        }

        @Override
        void borrowHoldReturn(long tokens, boolean yield) {
            lent.incrementAndGet();
            Blackhole.consumeCPU(tokens);
            if (yield) {
                Thread.yield();
            }
            lent.decrementAndGet();
        }

        @Override
        Object borrow() {
            lent.incrementAndGet();
            return thing;
        }

        @Override
        void giveBack(Object handle) {
            lent.decrementAndGet();
        }

        @Override
        public void close() {
            // nothing to close
        }
    }
}
