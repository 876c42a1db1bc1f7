package dev.sockstatlog

/**
 * The JNI fast path for hot counter pushes: tens of nanoseconds a call instead
 * of the microseconds a UniFFI/JNA call costs. Native side: `src/jni.rs`.
 *
 * `handle` is [SockstatLogger.fastCountersHandle] (`.toLong()`); it stays
 * valid for the life of the process. After the logger's `shutdown` the calls
 * are ignored and return `false`. A zero handle, a label outside 0..255, a
 * negative byte count or arrays of different lengths throw
 * [IllegalArgumentException].
 */
object FastCounters {
    init {
        // JNA's dlopen does not register JNI symbols: load the library through
        // the JVM as well (the same file, so the same counters).
        System.loadLibrary("sockstatlog")
    }

    /** Adds bytes to a label; true if applied. */
    @JvmStatic external fun add(handle: Long, label: Int, tx: Long, rx: Long): Boolean

    /** Reports cumulative totals for a label (a decrease is a reset); true if applied. */
    @JvmStatic external fun setTotals(handle: Long, label: Int, txTotal: Long, rxTotal: Long): Boolean

    /** Adds `tx[i]`, `rx[i]` to `labels[i]` for every i; all-or-nothing; true if applied. */
    @JvmStatic external fun addMany(handle: Long, labels: IntArray, tx: LongArray, rx: LongArray): Boolean
}
