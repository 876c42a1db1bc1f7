package dev.sockstatlog.android

import dev.sockstatlog.FlushReport
import dev.sockstatlog.InternalException
import dev.sockstatlog.SockstatException
import dev.sockstatlog.SockstatLogger
import dev.sockstatlog.sockstatLogId
import java.util.concurrent.CompletableFuture
import java.util.concurrent.TimeUnit
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertIs
import kotlin.test.assertTrue
import org.junit.jupiter.api.Assumptions.assumeFalse
import org.junit.jupiter.api.Test

/**
 * The session's lifecycle against the real host library: what a VpnService
 * does from onCreate to onDestroy, minus the device (no ConnectivityManager).
 */
class SockstatVpnSessionTest {
    private fun session(baseUrl: String? = null) =
        SockstatVpnSession(SockstatLogger.withTransport(testConfig(baseUrl), HttpUrlConnectionTransport()), null)

    @Test
    fun `counters pushed through the fast path reach the log`() {
        val s = session()
        s.start()
        assertTrue(s.logger.isEnabled())
        assertTrue(s.add(20, 1500, 0))
        assertTrue(s.add(20, 40, 900))
        s.logger.disable()
        assertEquals(1540L to 900L, totals(s.logger.export())[20])
        s.close()
    }

    @Test
    fun `after close pushes are dropped, flush reports Closed and close is idempotent`() {
        val s = session()
        s.start()
        s.close()
        assertFalse(s.add(20, 1, 1))
        val got = CompletableFuture<Result<FlushReport>>()
        s.flush { got.complete(it) }
        assertIs<SockstatException.Closed>(got.get(5, TimeUnit.SECONDS).exceptionOrNull())
        s.close()
    }

    @Test
    fun `flush uploads through the HttpURLConnection transport off the caller's thread`() {
        Collector().use { c ->
            val s = session(c.baseUrl)
            s.start()
            s.add(20, 100, 200)
            s.logger.disable()
            val got = CompletableFuture<Pair<Result<FlushReport>, String>>()
            s.flush(10_000) { got.complete(it to Thread.currentThread().name) }
            val (result, thread) = got.get(20, TimeUnit.SECONDS)
            s.close()
            // The core's uploader is still an outline on this branch (todo!, seen as a panic).
            assumeFalse(result.exceptionOrNull() is InternalException, "uploader not in this build: ${result.exceptionOrNull()}")
            assertEquals("sockstatlog-flush", thread)
            val report = result.getOrThrow()
            assertTrue(report.drained, "report: $report")
            val path = "/c/sockstats.log.tailscale.io/${sockstatLogId(BACKEND_ID).privateId}"
            assertTrue(c.received.isNotEmpty(), "nothing uploaded")
            for (r in c.received) {
                assertEquals("POST" to path, r.method to r.path)
                assertTrue(String(r.body).contains("\"20\":[100,200]") || r.headers["content-encoding"] == "zstd")
            }
        }
    }
}
