package dev.refkit.bench;

import com.google.common.util.concurrent.AbstractExecutionThreadService;
import dev.refkit.BackgroundService;
import dev.refkit.Handle;
import dev.refkit.TaskGroup;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;

/**
 * One whole cycle of a background service with one task blocked until the stop (issue 11),
 * one operation per cycle, on one thread:
 * <ul>
 *   <li>{@code virtual_refkit}: {@code open()} then {@code close()} of one
 *       {@link BackgroundService} whose {@code start} spawns one task asleep in
 *       {@code tasks.runState().sleep(Duration.ofHours(1))}: the first open opens a fresh
 *       group and spawns the task (a new virtual thread: a service always uses virtual
 *       threads on JDK 21+), the last close cancels the group, wakes the task and waits for
 *       it. {@code open()} returns once the task is spawned, not once it runs.</li>
 *   <li>{@code virtual_refkitStarted}: the same, but {@code start} spawns the task with
 *       {@code TaskGroup.start} and returns once the task runs, as Guava's
 *       {@code awaitRunning()} returns once its thread has run {@code startUp()}.</li>
 *   <li>{@code virtual_guava}: a new {@link AbstractExecutionThreadService} (a Guava service
 *       runs once) whose {@code run()} waits on a latch that {@code triggerShutdown()} opens,
 *       its {@code executor()} overridden to start a virtual thread;
 *       {@code startAsync().awaitRunning()}, then {@code stopAsync().awaitTerminated()}.</li>
 *   <li>{@code platform_guava}: the same with Guava's default {@code executor()} (a new
 *       platform thread per start).</li>
 *   <li>{@code platform_refkitStarted}: {@code virtual_refkitStarted}'s service made with
 *       {@code BackgroundService(name, threadFactory)} over daemon platform threads (what a
 *       service uses by default on JDK 17).</li>
 * </ul>
 * Target: Refkit at most half Guava's time, on platform and on virtual threads.
 * <pre>
 * JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64 mvn -q -Pbench clean package -DskipTests
 * /usr/lib/jvm/temurin-25-jdk-amd64/bin/java --enable-preview -jar target/benchmarks.jar ServiceCycleBench -f 3 -wi 3 -w 2s -i 5 -r 2s -prof gc
 * </pre>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@State(Scope.Benchmark)
public class ServiceCycleBench {

    private static final Duration LONG = Duration.ofHours(1);
    private static final ThreadFactory PLATFORM =
            Thread.ofPlatform().daemon().name("bench-service-task-", 1).factory();
    private static final Executor VIRTUAL = command -> Thread.ofVirtual().start(command);

    /** One task asleep on the group's run state until the stop wakes it. */
    static final class Sleeper extends BackgroundService {
        Sleeper() {
            super("bench-service");
        }

        @Override
        protected void start(TaskGroup tasks) {
            tasks.spawn("sleeper", () -> {
                tasks.runState().sleep(LONG);
            });
        }
    }

    /** The same, returning from {@code start} once the task runs. */
    static final class StartedSleeper extends BackgroundService {
        StartedSleeper() {
            super("bench-service");
        }

        StartedSleeper(ThreadFactory threads) {
            super("bench-service", threads);
        }

        @Override
        protected void start(TaskGroup tasks) throws InterruptedException {
            tasks.start(started -> {
                started.started(null);
                tasks.runState().sleep(LONG);
            });
        }
    }

    /** Guava's thread service: {@code run()} waits until {@code triggerShutdown()}. */
    static final class GuavaSleeper extends AbstractExecutionThreadService {
        private final CountDownLatch stop = new CountDownLatch(1);
        private final Executor executor;

        GuavaSleeper(Executor executor) {
            this.executor = executor;
        }

        @Override
        protected void run() throws InterruptedException {
            stop.await();
        }

        @Override
        protected void triggerShutdown() {
            stop.countDown();
        }

        @Override
        protected Executor executor() {
            return executor != null ? executor : super.executor();
        }
    }

    private final Sleeper sleeper = new Sleeper();
    private final StartedSleeper startedSleeper = new StartedSleeper();
    private final StartedSleeper platformSleeper = new StartedSleeper(PLATFORM);

    /** BackgroundService: the first open starts the cycle, the last close stops it. */
    @Benchmark
    public int virtual_refkit() {
        Handle h = sleeper.open();
        h.close();
        return sleeper.openCount();
    }

    /** BackgroundService whose start waits until the task runs. */
    @Benchmark
    public int virtual_refkitStarted() {
        Handle h = startedSleeper.open();
        h.close();
        return startedSleeper.openCount();
    }

    /** Guava's AbstractExecutionThreadService on a virtual thread. */
    @Benchmark
    public Object virtual_guava() {
        GuavaSleeper s = new GuavaSleeper(VIRTUAL);
        s.startAsync().awaitRunning();
        s.stopAsync().awaitTerminated();
        return s.state();
    }

    /** Guava's AbstractExecutionThreadService on its default new platform thread. */
    @Benchmark
    public Object platform_guava() {
        GuavaSleeper s = new GuavaSleeper(null);
        s.startAsync().awaitRunning();
        s.stopAsync().awaitTerminated();
        return s.state();
    }

    /** BackgroundService on platform threads (its thread-factory constructor), start waiting. */
    @Benchmark
    public int platform_refkitStarted() {
        Handle h = platformSleeper.open();
        h.close();
        return platformSleeper.openCount();
    }
}
