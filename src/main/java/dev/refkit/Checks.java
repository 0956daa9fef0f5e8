package dev.refkit;

import java.time.Duration;
import java.util.Objects;

/** Argument checks and exception translation shared by the public classes. */
final class Checks {
    private Checks() {}

    /**
     * Returns {@code d} if it is not null and not negative.
     *
     * @throws NullPointerException if {@code d} is null, naming {@code name}
     * @throws IllegalArgumentException if {@code d} is negative, naming {@code name}
     */
    static Duration nonNegative(Duration d, String name) {
        Objects.requireNonNull(d, name);
        if (d.isNegative()) {
            throw new IllegalArgumentException(name + " must not be negative: " + d);
        }
        return d;
    }

    /**
     * Returns {@code d} if it is not null and longer than zero.
     *
     * @throws NullPointerException if {@code d} is null, naming {@code name}
     * @throws IllegalArgumentException if {@code d} is zero or negative, naming {@code name}
     */
    static Duration positive(Duration d, String name) {
        Objects.requireNonNull(d, name);
        if (d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException(name + " must be positive: " + d);
        }
        return d;
    }

    /**
     * Checks a wait's duration argument and converts it to nanoseconds, saturating (see
     * {@link #saturatedNanos(Duration)}).
     *
     * @throws NullPointerException if {@code d} is null, naming {@code name}
     * @throws IllegalArgumentException if {@code d} is negative, naming {@code name}
     */
    static long waitNanos(Duration d, String name) {
        return saturatedNanos(nonNegative(d, name));
    }

    /**
     * Returns {@code n} if it is not negative.
     *
     * @throws IllegalArgumentException if {@code n} is negative, naming {@code name}
     */
    static int nonNegative(int n, String name) {
        if (n < 0) {
            throw new IllegalArgumentException(name + " must not be negative: " + n);
        }
        return n;
    }

    /**
     * Converts a duration to nanoseconds, saturating at {@code Long.MAX_VALUE} instead of
     * overflowing (so {@code Duration.ofDays(1_000_000)} means "practically forever").
     */
    static long saturatedNanos(Duration d) {
        try {
            return d.toNanos();
        } catch (ArithmeticException overflow) {
            return d.isNegative() ? Long.MIN_VALUE : Long.MAX_VALUE;
        }
    }

    /**
     * Translates a throwable from user code for rethrowing to the caller: an unchecked
     * exception is returned as itself, an {@link Error} is thrown as itself, and a checked
     * exception is wrapped in a {@link LifecycleException} with {@code message}. If the
     * checked exception is an {@link InterruptedException}, the current thread's interrupt
     * flag is restored, since the wrapper swallows it.
     *
     * <p>Use as {@code throw Checks.unchecked(t, "db: startup() failed");}.
     */
    static RuntimeException unchecked(Throwable t, String message) {
        if (t instanceof RuntimeException) {
            return (RuntimeException) t;
        }
        if (t instanceof Error) {
            throw (Error) t;
        }
        if (t instanceof InterruptedException) {
            Thread.currentThread().interrupt();
        }
        return new LifecycleException(message, t);
    }

    /**
     * Translates a throwable that user code threw in another thread, for rethrowing to a
     * thread that waited for it: as {@link #unchecked}, except that the current thread's
     * interrupt flag is left alone (the interrupt, if any, was the other thread's).
     */
    static RuntimeException uncheckedForWaiter(Throwable t, String message) {
        if (t instanceof RuntimeException) {
            return (RuntimeException) t;
        }
        if (t instanceof Error) {
            throw (Error) t;
        }
        return new LifecycleException(message, t);
    }
}
