package dev.sockstatlog.android

import android.os.Process
import dev.sockstatlog.SockstatLogger
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertTrue
import org.json.JSONObject
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.RobolectricTestRunner
import org.robolectric.annotation.Config

/** The OS byte totals from the glue to the log's `os` entry, through an injectable source. */
@RunWith(RobolectricTestRunner::class)
@Config(sdk = [Sdks.MIN_TESTED, Sdks.COMPILE])
class OsTrafficTotalsTest {
    /** A source answering what the test sets, for the one UID it expects. */
    private class Fixed(val uid: Int, var tx: Long, var rx: Long) : OsTrafficTotals.Source {
        override fun txBytes(uid: Int): Long = if (uid == this.uid) tx else -1

        override fun rxBytes(uid: Int): Long = if (uid == this.uid) rx else -1
    }

    private fun osEntries(logger: SockstatLogger): List<Pair<Long, Long>> =
        logger.export().map(::JSONObject).filter { it.has("os") }.map {
            val os = it.getJSONObject("os")
            os.getLong("tx") to os.getLong("rx")
        }

    @Test
    fun `the app's per-UID totals reach the log as os entries`() {
        val logger = SockstatLogger(testConfig())
        val source = Fixed(Process.myUid(), tx = 10_000, rx = 50_000)
        val totals = OsTrafficTotals(logger, source = source)
        assertTrue(totals.report())
        source.tx = 12_000
        assertTrue(totals.report())
        assertEquals(listOf(12_000L to 50_000L), osEntries(logger), "the latest, once per write")
        logger.shutdown(5_000L)
        assertFalse(totals.report(), "a shut-down logger records nothing")
    }

    @Test
    fun `unsupported counters record nothing`() {
        val logger = SockstatLogger(testConfig())
        // Robolectric's shadow of TrafficStats answers UNSUPPORTED (-1), as some devices do.
        assertFalse(OsTrafficTotals(logger).report())
        assertFalse(OsTrafficTotals(logger, source = Fixed(Process.myUid() + 1, 1, 1)).report())
        assertEquals(emptyList(), osEntries(logger))
        logger.shutdown(5_000L)
    }
}
