package dev.refkit.bench;

import dev.refkit.RunState;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Cancel-to-wake latency: a helper thread sleeps in {@code RunState.sleep(1 hour)}, the
 * benchmark thread calls {@code cancel()} and spins until the sleeper has returned; each
 * sample is one round (setting up the round, putting the sleeper to sleep and letting it
 * settle for 100 us, is not timed).
 * Beside it, the same measure for {@code Thread.sleep(1 hour)} woken by
 * {@code interrupt()}. Reports the median and the 99th percentile (SampleTime). Target: p99
 * under 1 ms on an idle machine.
 * <pre>
 * JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64 mvn -q -Pbench package
 * java -jar target/benchmarks.jar WakeLatencyBench -f 1 -wi 3 -w 1s -i 5 -r 2s
 * </pre>
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class WakeLatencyBench {

    private static final Duration HOUR = Duration.ofHours(1);
    private static final long SETTLE_NANOS = 100_000L;

    /** A helper thread that sleeps once per round and reports when it wakes. */
    public abstract static class Sleeper {
        private Thread thread;
        volatile long round;
        volatile long woke;
        volatile boolean done;

        /** Sleeps once, until woken by the benchmark thread's wake(). */
        abstract void sleepOnce() throws InterruptedException;

        /** Wakes the sleeper. */
        abstract void wake();

        /** Prepares the next round before the sleeper sleeps. */
        abstract void prepare();

        /** Starts the helper thread. */
        @Setup(Level.Trial)
        public void startThread() {
            thread = new Thread(() -> {
                long seen = 0;
                while (!done) {
                    long r = round;
                    if (r == seen) {
                        Thread.onSpinWait();
                        continue;
                    }
                    seen = r;
                    try {
                        sleepOnce();
                    } catch (InterruptedException expected) {
                        // the interrupt is the wake-up in ThreadSleep
                    }
                    woke = r;
                }
            }, "sleeper");
            thread.setDaemon(true);
            thread.start();
        }

        /** Starts a round and returns once the helper is parked in its sleep. */
        @Setup(Level.Invocation)
        public void newRound() {
            prepare();
            round = round + 1;
            while (thread.getState() != Thread.State.TIMED_WAITING) {
                Thread.onSpinWait();
            }
            // The state changes just before the thread blocks in the OS: give it 100 us to
            // get there, so every sample wakes a thread that is really asleep.
            long until = System.nanoTime() + SETTLE_NANOS;
            while (System.nanoTime() < until) {
                Thread.onSpinWait();
            }
        }

        /** Stops the helper thread. */
        @TearDown(Level.Trial)
        public void stopThread() throws InterruptedException {
            done = true;
            thread.interrupt();
            thread.join();
        }

        Thread thread() {
            return thread;
        }

        /** Wakes the sleeper and spins until it has returned from its sleep. */
        long wakeAndWait() {
            long r = round;
            wake();
            while (woke != r) {
                Thread.onSpinWait();
            }
            return r;
        }
    }

    /** Sleeps in RunState.sleep(1 hour); woken by cancel(). */
    @State(Scope.Benchmark)
    public static class RunStateSleep extends Sleeper {
        volatile RunState run;

        @Override
        void prepare() {
            RunState r = new RunState("bench");
            r.start();
            run = r;
        }

        @Override
        void sleepOnce() throws InterruptedException {
            if (run.sleep(HOUR)) {
                throw new AssertionError("slept an hour");
            }
        }

        @Override
        void wake() {
            run.cancel();
        }
    }

    /** Sleeps in Thread.sleep(1 hour); woken by interrupt(). */
    @State(Scope.Benchmark)
    public static class ThreadSleep extends Sleeper {
        @Override
        void prepare() {}

        @Override
        void sleepOnce() throws InterruptedException {
            Thread.sleep(HOUR.toMillis());
        }

        @Override
        void wake() {
            thread().interrupt();
        }
    }

    /** cancel() to the return of RunState.sleep in the other thread. */
    @Benchmark
    public long runStateCancelToWake(RunStateSleep s) {
        return s.wakeAndWait();
    }

    /** interrupt() to the return of Thread.sleep in the other thread: the floor. */
    @Benchmark
    public long threadInterruptToWake(ThreadSleep s) {
        return s.wakeAndWait();
    }
}
