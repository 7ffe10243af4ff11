package rmq.spring;

import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/** Polling with deadlines (never a bare sleep that hopes). */
public final class Await {
    private Await() {
    }

    /** Polls {@code cond} every 50 ms until true; fails with {@code what} and {@code state} after {@code millis}. */
    public static void until(long millis, String what, BooleanSupplier cond, Supplier<?> state)
        throws InterruptedException {
        long deadline = System.currentTimeMillis() + millis;
        while (!cond.getAsBoolean()) {
            if (System.currentTimeMillis() > deadline) {
                throw new AssertionError("not within " + millis + " ms: " + what + "; state: " + state.get());
            }
            Thread.sleep(50);
        }
    }

    public static void until(long millis, String what, BooleanSupplier cond) throws InterruptedException {
        until(millis, what, cond, () -> "-");
    }
}
