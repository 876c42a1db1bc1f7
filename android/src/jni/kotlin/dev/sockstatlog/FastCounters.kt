package dev.sockstatlog

/**
 * The JNI fast path for hot counter pushes: tens of nanoseconds a call instead
 * of the microseconds a UniFFI/JNA call costs. Native side: `src/jni.rs`.
 *
 * `handle` is [SockstatLogger.fastCountersHandle] (`.toLong()`): an opaque
 * number, checked on every call. A number that is not a live handle (never
 * issued, or of a logger that was shut down or freed) makes every call return
 * `false`, whatever the other arguments; no value can crash the process. With
 * a live handle, a label outside 0..255, a negative byte count or arrays of
 * different lengths throw [IllegalArgumentException].
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

    /**
     * Adds `tx[i]`, `rx[i]` to `labels[i]` for every i; true if applied. All or
     * nothing: the arrays are copied once, the copy checked in full, then
     * applied, so a bad element anywhere (or another thread rewriting the
     * arrays during the call) never leaves part of the batch applied.
     */
    @JvmStatic external fun addMany(handle: Long, labels: IntArray, tx: LongArray, rx: LongArray): Boolean
}
