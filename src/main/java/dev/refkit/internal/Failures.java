package dev.refkit.internal;

import org.jspecify.annotations.Nullable;

/** Keeping several failures of one operation as one. */
public final class Failures {
    private Failures() {}

    /**
     * Keeps the first of several failures and suppresses the rest on it: for code that runs
     * several user callbacks in one operation (listeners of a transition, destroyers of a
     * close) and reports them all. Adds nothing if {@code next} is {@code first} itself.
     *
     * @param first the failure kept so far, or null
     * @param next the new failure
     * @param <E> the failure type
     * @return {@code first}, with {@code next} suppressed on it, or {@code next} if
     *     {@code first} is null
     */
    public static <E extends Throwable> E firstFailure(@Nullable E first, E next) {
        if (first == null) {
            return next;
        }
        if (first != next) {
            first.addSuppressed(next);
        }
        return first;
    }
}
