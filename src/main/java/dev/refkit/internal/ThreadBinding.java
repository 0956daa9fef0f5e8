package dev.refkit.internal;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.Objects;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * A value bound to the current thread for the length of one call, and read by code that
 * call runs: a {@code ScopedValue} where the JDK has it final (25 and later, found at run
 * time: the library is compiled for 17), else a {@code ThreadLocal} that the call sets and
 * then puts back as it found it.
 *
 * <p>Why not a {@code ThreadLocal} everywhere: on a new virtual thread per task, its first
 * {@code set} makes the thread's whole map (an array of 16 entries and a weak reference),
 * which cost a task group about a quarter of what it allocates per task. A scoped binding
 * allocates one small carrier and writes one field of the thread.
 *
 * <p>Bindings nest: a call inside a call sees the inner value, and the outer one again
 * once the inner call returns or throws. A thread a call starts does not see it.
 *
 * <p><b>Thread safety.</b> Every method may be called from any thread; each sees only its
 * own thread's binding.
 *
 * @param <T> the type of the value
 */
public abstract class ThreadBinding<T> {
    private static final @Nullable MethodHandle NEW_INSTANCE;
    private static final @Nullable MethodHandle WHERE;
    private static final @Nullable MethodHandle RUN;
    private static final @Nullable MethodHandle IS_BOUND;
    private static final @Nullable MethodHandle GET;

    static {
        MethodHandle newInstance = null;
        MethodHandle where = null;
        MethodHandle run = null;
        MethodHandle isBound = null;
        MethodHandle get = null;
        if (Runtime.version().feature() >= 25) {
            try {
                Class<?> sv = Class.forName("java.lang.ScopedValue");
                Class<?> carrier = Class.forName("java.lang.ScopedValue$Carrier");
                MethodHandles.Lookup l = MethodHandles.publicLookup();
                newInstance = l.findStatic(sv, "newInstance", MethodType.methodType(sv))
                        .asType(MethodType.methodType(Object.class));
                where = l.findStatic(sv, "where", MethodType.methodType(carrier, sv, Object.class))
                        .asType(MethodType.methodType(Object.class, Object.class, Object.class));
                run = l.findVirtual(carrier, "run", MethodType.methodType(void.class, Runnable.class))
                        .asType(MethodType.methodType(void.class, Object.class, Runnable.class));
                isBound = l.findVirtual(sv, "isBound", MethodType.methodType(boolean.class))
                        .asType(MethodType.methodType(boolean.class, Object.class));
                get = l.findVirtual(sv, "get", MethodType.methodType(Object.class))
                        .asType(MethodType.methodType(Object.class, Object.class));
            } catch (ReflectiveOperationException | RuntimeException e) {
                newInstance = null; // not found as expected: fall back to a ThreadLocal
            }
        }
        boolean found = newInstance != null;
        NEW_INSTANCE = found ? newInstance : null;
        WHERE = found ? where : null;
        RUN = found ? run : null;
        IS_BOUND = found ? isBound : null;
        GET = found ? get : null;
    }

    ThreadBinding() {}

    /**
     * A new binding: scoped where the JDK has {@code ScopedValue} (25 and later), else
     * thread-local.
     *
     * @param <T> the type of the value
     * @return the binding, bound on no thread
     */
    public static <T> ThreadBinding<T> create() {
        MethodHandle newInstance = NEW_INSTANCE;
        if (newInstance == null) {
            return threadLocal();
        }
        try {
            return new Scoped<>(newInstance.invokeExact());
        } catch (Throwable e) {
            throw new AssertionError("ScopedValue.newInstance() threw", e);
        }
    }

    /**
     * A new thread-local binding, whatever the JDK: for tests.
     *
     * @param <T> the type of the value
     * @return the binding, bound on no thread
     */
    public static <T> ThreadBinding<T> threadLocal() {
        return new Local<>();
    }

    /**
     * Whether this binding is a {@code ScopedValue}.
     *
     * @return true where the JDK has it and {@link #create()} made this binding
     */
    public abstract boolean isScoped();

    /**
     * The value bound on the current thread by the innermost {@link #runWith} it is in.
     *
     * @return the value, or null if none is bound
     */
    public abstract @Nullable T get();

    /**
     * Runs {@code op} on the current thread with {@code value} bound; the binding the
     * thread had before is back when {@code op} returns or throws.
     *
     * @param value the value, not null
     * @param op what to run
     * @throws NullPointerException if an argument is null
     * @throws RuntimeException what {@code op} throws
     * @throws Error what {@code op} throws
     */
    public abstract void runWith(T value, Runnable op);

    /**
     * Runs {@code op} on the current thread with no value bound ({@link #get()} in it returns
     * null); the binding the thread had before is back when {@code op} returns or throws.
     *
     * @param <R> the type of the result
     * @param op what to run
     * @return what {@code op} returned
     * @throws NullPointerException if {@code op} is null
     * @throws RuntimeException what {@code op} throws
     * @throws Error what {@code op} throws
     */
    public abstract <R> R callUnbound(Supplier<R> op);

    private static final class Local<T> extends ThreadBinding<T> {
        private final ThreadLocal<@Nullable T> local = new ThreadLocal<>();

        @Override
        public boolean isScoped() {
            return false;
        }

        @Override
        public @Nullable T get() {
            return local.get();
        }

        @Override
        public void runWith(T value, Runnable op) {
            Objects.requireNonNull(value, "value");
            Objects.requireNonNull(op, "op");
            T previous = local.get();
            local.set(value);
            try {
                op.run();
            } finally {
                restore(previous);
            }
        }

        @Override
        public <R> R callUnbound(Supplier<R> op) {
            Objects.requireNonNull(op, "op");
            T previous = local.get();
            if (previous == null) {
                return op.get();
            }
            local.remove();
            try {
                return op.get();
            } finally {
                restore(previous);
            }
        }

        private void restore(@Nullable T previous) {
            if (previous == null) {
                local.remove();
            } else {
                local.set(previous);
            }
        }
    }

    private static final class Scoped<T> extends ThreadBinding<T> {
        /** Bound by {@link #callUnbound}: read as no value. */
        private static final Object UNBOUND = new Object();
        private final Object key;

        Scoped(Object key) {
            this.key = key;
        }

        @Override
        public boolean isScoped() {
            return true;
        }

        @Override
        @SuppressWarnings("unchecked")
        public @Nullable T get() {
            try {
                MethodHandle isBound = Objects.requireNonNull(IS_BOUND);
                MethodHandle get = Objects.requireNonNull(GET);
                if (!(boolean) isBound.invokeExact(key)) {
                    return null;
                }
                Object v = (Object) get.invokeExact(key);
                return v == UNBOUND ? null : (T) v;
            } catch (RuntimeException | Error e) {
                throw e;
            } catch (Throwable e) {
                throw new AssertionError("ScopedValue.get() threw", e);
            }
        }

        @Override
        public void runWith(T value, Runnable op) {
            bind(Objects.requireNonNull(value, "value"), Objects.requireNonNull(op, "op"));
        }

        @Override
        @SuppressWarnings("unchecked") // result[0] holds what op returned, an R
        public <R> R callUnbound(Supplier<R> op) {
            Objects.requireNonNull(op, "op");
            if (get() == null) {
                return op.get();
            }
            Object[] result = new Object[1];
            bind(UNBOUND, () -> result[0] = op.get());
            return (R) result[0];
        }

        private void bind(Object value, Runnable op) {
            Object carrier;
            try {
                carrier = (Object) Objects.requireNonNull(WHERE).invokeExact(key, value);
            } catch (RuntimeException | Error e) {
                throw e;
            } catch (Throwable e) {
                throw new AssertionError("ScopedValue.where() threw", e);
            }
            try {
                Objects.requireNonNull(RUN).invokeExact(carrier, op);
            } catch (RuntimeException | Error e) {
                throw e;
            } catch (Throwable e) {
                throw new AssertionError("Runnable.run() threw a checked exception", e);
            }
        }
    }
}
