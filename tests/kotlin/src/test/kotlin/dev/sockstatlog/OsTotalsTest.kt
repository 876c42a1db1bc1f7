package dev.sockstatlog

import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import org.junit.jupiter.api.Test

/** `recordOsTotals` from Kotlin: the OS byte totals reach the log as an `os` entry. */
class OsTotalsTest {
    @Test
    fun `recorded os totals are written as an os entry`() {
        SockstatLogger(testConfig()).use { logger ->
            logger.recordOsTotals(1_000L, 2_000L)
            logger.recordOsTotals(1_500L, 2_500L) // the latest wins
            val os = logger.export().filter { it.contains("\"os\":") }
            assertEquals(1, os.size, "$os")
            assertEquals(true, os[0].endsWith(",\"os\":{\"tx\":1500,\"rx\":2500}}"), os[0])
            assertFailsWith<SockstatException.InvalidArgument> { logger.recordOsTotals(-1L, 0L) }
            logger.shutdown(5_000L)
        }
    }
}
