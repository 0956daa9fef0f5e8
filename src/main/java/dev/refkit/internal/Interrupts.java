package dev.refkit.internal;

/** The library's interrupt messages, worded once: {@code "NAME: interrupted in METHOD"}. */
public final class Interrupts {
    private Interrupts() {}

    /**
     * The exception an interrupted wait throws.
     *
     * @param owner the name of the object waited on
     * @param method the public method that waited, such as {@code "borrow()"}
     * @return {@code InterruptedException("OWNER: interrupted in METHOD")}
     */
    public static InterruptedException interrupted(String owner, String method) {
        return new InterruptedException(owner + ": interrupted in " + method);
    }

    /**
     * Throws if the current thread is interrupted, clearing the flag: the entry check of an
     * interruptible method that may block.
     *
     * @param owner the name of the object waited on
     * @param method the public method, such as {@code "join()"}
     * @throws InterruptedException if the current thread's interrupt flag was set
     */
    public static void throwIfInterrupted(String owner, String method)
            throws InterruptedException {
        if (Thread.interrupted()) {
            throw interrupted(owner, method);
        }
    }
}
