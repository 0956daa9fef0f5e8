package dev.refkit;

import java.time.Duration;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * When a failed task runs again: after a delay, at most so many times, with a growing
 * delay, and with the count reset by a healthy run (frequenz's actor restarts, Erlang's
 * supervisor intensity). Used by {@link TaskGroup#spawnRestarting} and the
 * {@link BackgroundService} factories.
 *
 * <p>Restart {@code n} (counted from 1 since the task began or since the count was last
 * reset) waits {@code min(delay * factor^(n-1), maxDelay)}; with no {@link #backoff} every
 * restart waits {@code delay}. Once {@code n} would exceed {@link #maxRestarts}, the policy
 * gives up and the last failure is the task's failure.
 *
 * <p><b>Thread safety.</b> Immutable: every method may be called from any thread, and
 * {@code maxRestarts}, {@code backoff} and {@code resetAfter} return a new policy, leaving this one unchanged. Nothing blocks.
 *
 * <p><b>Example.</b>
 * <pre>{@code
 * RestartPolicy p = RestartPolicy.after(Duration.ofMillis(100))
 *         .maxRestarts(10)
 *         .backoff(2.0, Duration.ofSeconds(5))
 *         .resetAfter(Duration.ofMinutes(1));
 * }</pre>
 */
public final class RestartPolicy {
    /** {@link #maxRestarts}: no limit. */
    private static final int UNLIMITED = -1;
    private static final RestartPolicy NEVER = new RestartPolicy(Duration.ZERO, 0, 1.0, null,
            null);

    private final Duration delay;
    /** The limit, or {@link #UNLIMITED}. */
    private final int maxRestarts;
    private final double factor;
    /** The backoff's cap, or null for no backoff. */
    private final @Nullable Duration maxDelay;
    /** The healthy run that resets the count, or null for none. */
    private final @Nullable Duration resetAfter;

    private RestartPolicy(Duration delay, int maxRestarts, double factor,
            @Nullable Duration maxDelay, @Nullable Duration resetAfter) {
        this.delay = delay;
        this.maxRestarts = maxRestarts;
        this.factor = factor;
        this.maxDelay = maxDelay;
        this.resetAfter = resetAfter;
    }

    /**
     * Returns the policy that never restarts: the first failure is the task's failure. It is
     * {@code after(Duration.ZERO).maxRestarts(0)}, so {@code never().maxRestarts(3)}
     * restarts three times without delay.
     *
     * @return the policy
     */
    public static RestartPolicy never() {
        return NEVER;
    }

    /**
     * Returns a policy that restarts after {@code delay}, without limit, without backoff.
     *
     * @param delay how long to wait before each restart; zero restarts at once
     * @return the policy
     * @throws NullPointerException if {@code delay} is null
     * @throws IllegalArgumentException if {@code delay} is negative
     */
    public static RestartPolicy after(Duration delay) {
        return new RestartPolicy(Checks.nonNegative(delay, "delay"), UNLIMITED, 1.0, null,
                null);
    }

    /**
     * Returns this policy with a limit: at most {@code maxRestarts} restarts (since the count
     * was last reset); {@code maxRestarts(0)} never restarts, as {@link #never()}.
     *
     * @param maxRestarts the limit
     * @return the new policy
     * @throws IllegalArgumentException if {@code maxRestarts} is negative, with the message
     *     {@code "maxRestarts must not be negative: -1"}
     */
    public RestartPolicy maxRestarts(int maxRestarts) {
        Checks.nonNegative(maxRestarts, "maxRestarts");
        return new RestartPolicy(delay, maxRestarts, factor, maxDelay, resetAfter);
    }

    /**
     * Returns this policy with an exponential backoff: restart {@code n} waits
     * {@code min(delay * factor^(n-1), maxDelay)}. Replaces an earlier backoff.
     *
     * @param factor how much each delay grows over the one before; 1 keeps it constant
     * @param maxDelay the longest delay
     * @return the new policy
     * @throws IllegalArgumentException if {@code factor} is below 1, NaN or infinite
     *     ({@code "backoff factor must be a finite number >= 1: 0.5"}), or {@code maxDelay}
     *     is negative
     * @throws NullPointerException if {@code maxDelay} is null
     */
    public RestartPolicy backoff(double factor, Duration maxDelay) {
        if (!(factor >= 1.0) || Double.isInfinite(factor)) {
            throw new IllegalArgumentException(
                    "backoff factor must be a finite number >= 1: " + factor);
        }
        return new RestartPolicy(delay, maxRestarts, factor,
                Checks.nonNegative(maxDelay, "maxDelay"), resetAfter);
    }

    /**
     * Returns this policy with a reset: a run that lasts at least {@code healthy}, from its
     * start to its failure, resets the restart count to 0 (so its restart is restart 1,
     * with the first delay, and the limit counts afresh).
     *
     * @param healthy how long a run must last to count as healthy
     * @return the new policy
     * @throws NullPointerException if {@code healthy} is null
     * @throws IllegalArgumentException if {@code healthy} is negative
     */
    public RestartPolicy resetAfter(Duration healthy) {
        return new RestartPolicy(delay, maxRestarts, factor, maxDelay,
                Checks.nonNegative(healthy, "healthy"));
    }

    /**
     * The wait before restart {@code restartNumber} (from 1) in nanoseconds, saturating;
     * -1 if the policy gives up instead.
     */
    long delayNanos(int restartNumber) {
        if (restartNumber < 1) {
            throw new IllegalArgumentException("restartNumber must be at least 1: "
                    + restartNumber);
        }
        if (maxRestarts != UNLIMITED && restartNumber > maxRestarts) {
            return -1L;
        }
        long base = Checks.saturatedNanos(delay);
        Duration cap = maxDelay;
        if (cap == null) {
            return base;
        }
        long capNanos = Checks.saturatedNanos(cap);
        double d = base * Math.pow(factor, restartNumber - 1);
        return d >= capNanos ? capNanos : (long) d;
    }

    /** The healthy run's length in nanoseconds, or -1 if a run never resets the count. */
    long resetAfterNanos() {
        Duration r = resetAfter;
        return r == null ? -1L : Checks.saturatedNanos(r);
    }

    @Override
    public boolean equals(@Nullable Object o) {
        if (!(o instanceof RestartPolicy)) {
            return false;
        }
        RestartPolicy p = (RestartPolicy) o;
        return delay.equals(p.delay) && maxRestarts == p.maxRestarts
                && Double.compare(factor, p.factor) == 0 && Objects.equals(maxDelay, p.maxDelay)
                && Objects.equals(resetAfter, p.resetAfter);
    }

    @Override
    public int hashCode() {
        return Objects.hash(delay, maxRestarts, factor, maxDelay, resetAfter);
    }

    /**
     * Returns {@code RestartPolicy{never}} for a policy that never restarts, else
     * {@code RestartPolicy{after=PT0.1S, maxRestarts=10}}, with {@code unlimited} for no
     * limit and {@code , backoff=2.0, maxDelay=PT5S} and {@code , resetAfter=PT1M} when set.
     */
    @Override
    public String toString() {
        if (maxRestarts == 0) {
            return "RestartPolicy{never}";
        }
        StringBuilder sb = new StringBuilder("RestartPolicy{after=").append(delay)
                .append(", maxRestarts=")
                .append(maxRestarts == UNLIMITED ? "unlimited" : String.valueOf(maxRestarts));
        if (maxDelay != null) {
            sb.append(", backoff=").append(factor).append(", maxDelay=").append(maxDelay);
        }
        if (resetAfter != null) {
            sb.append(", resetAfter=").append(resetAfter);
        }
        return sb.append('}').toString();
    }
}
