package dev.sockstatlog.android

import android.net.TrafficStats
import android.os.Process
import dev.sockstatlog.SockstatException
import dev.sockstatlog.SockstatLoggerInterface

/**
 * Hands the OS's own count of this app's socket bytes to the logger
 * (`recordOsTotals`), which writes it into the log as an `os` entry; the
 * report sets it against the labels' bytes and shows what nobody labelled
 * (IP and tunnel headers, or a subsystem the host forgot to count).
 *
 * The counts are Android's per-UID totals since boot,
 * `TrafficStats.getUidTxBytes`/`getUidRxBytes` for [uid] (this app's), read
 * through an injectable [Source]. Where the OS does not support them it
 * answers -1 (`TrafficStats.UNSUPPORTED`, also what Robolectric's shadow
 * answers): nothing is recorded then. [SockstatVpnSession] reports at each
 * flush and at close; a host may call [report] at any cadence besides.
 */
class OsTrafficTotals @JvmOverloads constructor(
    private val logger: SockstatLoggerInterface,
    private val uid: Int = Process.myUid(),
    private val source: Source = TrafficStatsSource,
) {
    /** Where the per-UID totals come from; tests inject their own. */
    interface Source {
        /** Bytes sent by [uid] since boot, or a negative number when unsupported. */
        fun txBytes(uid: Int): Long

        /** Bytes received by [uid] since boot, or a negative number when unsupported. */
        fun rxBytes(uid: Int): Long
    }

    /** Android's own counters. */
    object TrafficStatsSource : Source {
        override fun txBytes(uid: Int): Long = TrafficStats.getUidTxBytes(uid)

        override fun rxBytes(uid: Int): Long = TrafficStats.getUidRxBytes(uid)
    }

    /**
     * Reads the totals and hands them to the logger. Returns false, recording
     * nothing, when the OS does not support per-UID counters or the logger is
     * shut down.
     */
    fun report(): Boolean {
        val tx = source.txBytes(uid)
        val rx = source.rxBytes(uid)
        if (tx < 0 || rx < 0) return false
        return try {
            logger.recordOsTotals(tx, rx)
            true
        } catch (e: SockstatException.Closed) {
            false
        }
    }
}
