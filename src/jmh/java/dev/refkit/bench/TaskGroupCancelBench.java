package dev.refkit.bench;

import dev.refkit.RunState;
import dev.refkit.TaskGroup;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * The time from {@code cancel()} to {@code close()} returning, with {@code tasks} (10 000)
 * tasks of a {@link TaskGroup} (virtual threads on JDK 21+) asleep in
 * {@code RunState.sleep(1 hour)}; beside it, the floor: interrupting 10 000 plain virtual
 * threads asleep in {@code Thread.sleep(1 hour)} and joining each. Each sample is one round;
 * making the threads and waiting until every one is parked is not timed. Target (issue 10):
 * the group at most 1.5 times the plain threads. Reports the mean, median and p99
 * (SampleTime); a round takes a few milliseconds, so give it long iterations:
 * <pre>
 * JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64 mvn -q -Pbench package
 * /usr/lib/jvm/temurin-25-jdk-amd64/bin/java --enable-preview -jar target/benchmarks.jar TaskGroupCancelBench -f 2 -wi 5 -w 2s -i 5 -r 4s
 * </pre>
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class TaskGroupCancelBench {

    private static final Duration HOUR = Duration.ofHours(1);

    /** Spins until every thread in {@code threads} is parked (waiting or timed waiting). */
    static void awaitParked(Thread[] threads) {
        for (Thread t : threads) {
            Thread.State s;
            while ((s = t.getState()) != Thread.State.TIMED_WAITING && s != Thread.State.WAITING) {
                Thread.onSpinWait();
            }
        }
    }

    /** An open group whose tasks are all asleep in RunState.sleep(1 hour). */
    @State(Scope.Thread)
    public static class SleepingGroup {
        /** How many tasks sleep. */
        @Param("10000")
        public int tasks;

        TaskGroup group;

        /** Opens the group and puts every task to sleep. */
        @Setup(Level.Invocation)
        public void sleep() throws InterruptedException {
            TaskGroup g = TaskGroup.open("bench");
            RunState run = g.runState();
            Thread[] threads = new Thread[tasks];
            CountDownLatch begun = new CountDownLatch(tasks);
            for (int i = 0; i < tasks; i++) {
                int k = i;
                g.spawn(() -> {
                    threads[k] = Thread.currentThread();
                    begun.countDown();
                    if (run.sleep(HOUR)) {
                        throw new AssertionError("slept an hour");
                    }
                });
            }
            begun.await();
            awaitParked(threads);
            group = g;
        }

        /** Closes the group if a round did not (it always does). */
        @TearDown(Level.Invocation)
        public void close() {
            group.close();
        }
    }

    /** Plain virtual threads, all asleep in Thread.sleep(1 hour). */
    @State(Scope.Thread)
    public static class SleepingThreads {
        /** How many threads sleep. */
        @Param("10000")
        public int tasks;

        Thread[] threads;

        /** Starts the threads and waits until each sleeps. */
        @Setup(Level.Invocation)
        public void sleep() {
            Thread[] ts = new Thread[tasks];
            for (int i = 0; i < tasks; i++) {
                ts[i] = Thread.ofVirtual().start(() -> {
                    try {
                        Thread.sleep(HOUR.toMillis());
                        throw new AssertionError("slept an hour");
                    } catch (InterruptedException expected) {
                        // the wake-up
                    }
                });
            }
            awaitParked(ts);
            threads = ts;
        }
    }

    /** cancel(), then close(): returns once every task has ended. */
    @Benchmark
    public TaskGroup taskGroup_cancelToClose(SleepingGroup s) {
        s.group.cancel();
        s.group.close();
        return s.group;
    }

    /** interrupt() each thread, then join() each: the floor. */
    @Benchmark
    public Thread[] virtualThreads_interruptAndJoin(SleepingThreads s) throws InterruptedException {
        for (Thread t : s.threads) {
            t.interrupt();
        }
        for (Thread t : s.threads) {
            t.join();
        }
        return s.threads;
    }
}
