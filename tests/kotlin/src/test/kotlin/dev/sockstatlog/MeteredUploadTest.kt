package dev.sockstatlog

import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit
import kotlin.test.assertEquals
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue
import org.junit.jupiter.api.Test

/** `uploadOnMetered = false` from Kotlin: deferred flushes, the upload that starts by itself, `forceFlush`. */
class MeteredUploadTest {
    /** Answers 200 and queues each request's body text, so tests wait on order, not time. */
    private class Recording : UploadTransport {
        val bodies = LinkedBlockingQueue<String>()

        override fun send(request: UploadRequest): UploadResponse {
            bodies.add(String(request.body))
            return UploadResponse(200, emptyList(), byteArrayOf())
        }

        /** The next body; the bound only turns a hang into a failure. */
        fun next(): String = assertNotNull(bodies.poll(60, TimeUnit.SECONDS), "no upload came")
    }

    @Test
    fun `a flush on cellular is deferred and starts by itself on wifi`() {
        val transport = Recording()
        val config = testConfig().apply { uploadOnMetered = false }
        SockstatLogger.withTransport(config, transport).use { logger ->
            logger.setInterface("rmnet_data0", InterfaceKind.UNKNOWN)
            logger.writeText("waits for wifi")
            val report = logger.flush(10_000L)
            assertEquals("metered", report.deferred)
            assertEquals(0L, report.attempts)
            assertTrue(transport.bodies.isEmpty(), "nothing sent on cellular")

            logger.setInterface("wlan0", InterfaceKind.WIFI)
            assertTrue(transport.next().contains("waits for wifi"))
            logger.shutdown(5_000L)
        }
    }

    @Test
    fun `a metered network defers and forceFlush sends anyway`() {
        val transport = Recording()
        val config = testConfig().apply { uploadOnMetered = false }
        SockstatLogger.withTransport(config, transport).use { logger ->
            logger.setInterface("wlan0", InterfaceKind.WIFI)
            logger.setNetworkMetered(true)
            logger.writeText("sent now")
            assertEquals("metered", logger.flush(10_000L).deferred)
            val forced = logger.forceFlush(10_000L)
            assertNull(forced.deferred)
            assertTrue(forced.drained && forced.entries == 1L, "$forced")
            assertTrue(transport.next().contains("sent now"))
            logger.shutdown(5_000L)
        }
    }

    @Test
    fun `the default config uploads on any network`() {
        assertTrue(testConfig().uploadOnMetered)
        val transport = Recording()
        SockstatLogger.withTransport(testConfig(), transport).use { logger ->
            logger.setInterface("rmnet0", InterfaceKind.CELLULAR)
            logger.writeText("anywhere")
            val report = logger.flush(10_000L)
            assertNull(report.deferred)
            assertTrue(report.drained && report.entries == 1L, "$report")
            logger.shutdown(5_000L)
        }
    }
}
