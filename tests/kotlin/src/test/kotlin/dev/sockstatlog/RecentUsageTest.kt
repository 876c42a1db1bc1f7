package dev.sockstatlog

import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNull
import kotlin.test.assertTrue
import org.junit.jupiter.api.Test

/** `recentUsage(windowMs)` from Kotlin: the in-memory record a usage screen reads. */
class RecentUsageTest {
    @Test
    fun `recent usage lists the labels that moved by bytes with their cellular part`() {
        SockstatLogger(testConfig()).use { logger ->
            logger.registerLabel(200, "VideoUpload")
            logger.setInterface("wlan0", InterfaceKind.WIFI)
            logger.enable()
            logger.add(200, 1_000L, 10L)
            logger.add(201, 5L, 5L)
            logger.setInterface("rmnet_data0", InterfaceKind.UNKNOWN) // cellular from here
            logger.add(200, 0L, 500L)
            logger.disable() // closes the open window; the record survives it

            val usage = logger.recentUsage(60_000L)
            assertEquals(listOf(200, 201), usage.map { it.label })
            val video = usage[0]
            assertEquals("VideoUpload", video.name)
            assertEquals(1_000L to 510L, video.tx to video.rx)
            assertEquals(0L to 500L, video.cellularTx to video.cellularRx)
            assertNull(usage[1].name, "an unnamed label has no name")
            assertEquals(usage, logger.recentUsage(3_600_000L), "the hour holds the same bytes")
            logger.shutdown(5_000L)
        }
    }

    @Test
    fun `a window outside a second to an hour is an invalid argument`() {
        SockstatLogger(testConfig()).use { logger ->
            for (bad in listOf(-1L, 0L, 999L, 3_600_001L)) {
                val e = assertFailsWith<SockstatException.InvalidArgument> { logger.recentUsage(bad) }
                assertTrue(e.reason.contains("window"), e.reason)
            }
            assertEquals(emptyList(), logger.recentUsage(1_000L))
            logger.shutdown(5_000L)
        }
    }
}
