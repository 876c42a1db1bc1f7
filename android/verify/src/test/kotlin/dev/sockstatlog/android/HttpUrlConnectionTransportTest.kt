package dev.sockstatlog.android

import dev.sockstatlog.HttpHeader
import dev.sockstatlog.SockstatException
import dev.sockstatlog.UploadRequest
import java.net.HttpURLConnection
import java.net.InetAddress
import java.net.ServerSocket
import java.net.Socket
import java.net.URL
import java.util.Collections
import java.util.concurrent.CompletableFuture
import java.util.concurrent.ExecutionException
import java.util.concurrent.TimeUnit
import java.util.concurrent.TimeoutException
import kotlin.test.assertContains
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue
import kotlin.test.fail
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.RobolectricTestRunner
import org.robolectric.annotation.Config

/** The transport against a loopback HTTP server (the JDK's HttpURLConnection stands in for Android's). */
@RunWith(RobolectricTestRunner::class)
@Config(sdk = [Sdks.MIN_TESTED, Sdks.COMPILE])
class HttpUrlConnectionTransportTest {
    private fun request(url: String, body: ByteArray = "[{\"t\":1}]".toByteArray()) = UploadRequest(
        url,
        listOf(HttpHeader("Content-Encoding", "zstd"), HttpHeader("Orig-Content-Length", "42")),
        body,
    )

    @Test
    fun `it POSTs the body and headers as given and returns the answer`() {
        Collector(headers = mapOf("X-Seen" to "yes"), body = "ok".toByteArray()).use { c ->
            val body = ByteArray(3000) { it.toByte() }
            val resp = HttpUrlConnectionTransport().send(request("${c.baseUrl}/c/coll/abc", body))
            assertEquals(200, resp.status)
            assertContentEquals("ok".toByteArray(), resp.body)
            // Header names are case-insensitive (the JDK server writes "X-seen").
            assertEquals("yes", resp.headers.single { it.name.equals("X-Seen", ignoreCase = true) }.value)
            val got = c.received.single()
            assertEquals("POST", got.method)
            assertEquals("/c/coll/abc", got.path)
            assertEquals("zstd", got.headers["content-encoding"])
            assertEquals("42", got.headers["orig-content-length"])
            assertEquals("3000", got.headers["content-length"])
            assertContentEquals(body, got.body)
        }
    }

    @Test
    fun `an error status is an answer with its headers and the first KiB of the body`() {
        val long = ByteArray(5000) { 'x'.code.toByte() }
        Collector(status = 503, headers = mapOf("Retry-After" to "7"), body = long).use { c ->
            val resp = HttpUrlConnectionTransport().send(request(c.baseUrl + "/c/x/y"))
            assertEquals(503, resp.status)
            assertEquals("7", resp.headers.single { it.name.equals("Retry-After", ignoreCase = true) }.value)
            assertEquals(HttpUrlConnectionTransport.MAX_BODY_BYTES, resp.body.size)
        }
    }

    @Test
    fun `a connection failure is an Upload error the logger retries`() {
        val port = ServerSocket(0).use { it.localPort } // closed again: nothing listens
        val e = assertFailsWith<SockstatException.Upload> {
            HttpUrlConnectionTransport(connectTimeoutMs = 2_000).send(request("http://127.0.0.1:$port/c/x/y"))
        }
        assertContains(e.reason, "ConnectException")
    }

    @Test
    fun `the open hook decides how each connection is made`() {
        Collector().use { c ->
            val opened = mutableListOf<URL>()
            val transport = HttpUrlConnectionTransport { url ->
                opened += url
                url.openConnection() as HttpURLConnection // on a device: underlying.openConnection(url)
            }
            transport.send(request(c.baseUrl + "/c/x/y"))
            assertEquals(listOf(URL(c.baseUrl + "/c/x/y")), opened)
        }
    }

    @Test
    fun `a redirect is returned, not followed`() {
        Collector(status = 307, headers = mapOf("Location" to "http://127.0.0.1:1/elsewhere")).use { c ->
            val resp = HttpUrlConnectionTransport().send(request(c.baseUrl + "/c/x/y"))
            assertEquals(307, resp.status)
            assertEquals(1, c.received.size)
        }
    }

    @Test
    fun `any exception from opening or sending is an Upload error, never a raw throw through JNA`() {
        val e = assertFailsWith<SockstatException.Upload> {
            HttpUrlConnectionTransport(open = { throw SecurityException("network not permitted") })
                .send(request("http://127.0.0.1:1/c/x/y"))
        }
        assertContains(e.reason, "SecurityException")
    }

    /** A loopback server that accepts connections and never reads from them nor answers. */
    private class BlackHole : AutoCloseable {
        private val server = ServerSocket(0, 50, InetAddress.getLoopbackAddress())
        private val accepted: MutableList<Socket> = Collections.synchronizedList(mutableListOf())
        private val acceptor = Thread({
            try {
                while (true) accepted += server.accept()
            } catch (e: java.io.IOException) {
                // closed
            }
        }, "black-hole").apply { isDaemon = true; start() }

        val url = "http://127.0.0.1:${server.localPort}/c/x/y"

        override fun close() {
            server.close()
            acceptor.join()
            accepted.forEach { it.close() }
        }
    }

    /**
     * Sends on another thread and returns what [HttpUrlConnectionTransport.send] threw; the
     * outer wait only turns a hang into a failure (the attempt timeout is what ends it).
     */
    private fun sendFailure(transport: HttpUrlConnectionTransport, req: UploadRequest): SockstatException.Upload {
        val done = CompletableFuture.supplyAsync { transport.send(req) }
        return try {
            fail("an answer from a server that never answers: ${done.get(OUTER_WAIT_S, TimeUnit.SECONDS)}")
        } catch (e: TimeoutException) {
            fail("send did not return within $OUTER_WAIT_S s: the attempt timeout did not bound it")
        } catch (e: ExecutionException) {
            e.cause as? SockstatException.Upload ?: throw AssertionError("not an Upload error", e.cause)
        }
    }

    @Test
    fun `an attempt whose answer never comes ends at the attempt timeout, whatever the read timeout`() {
        BlackHole().use { hole ->
            val transport = HttpUrlConnectionTransport(readTimeoutMs = NEVER_MS, attemptTimeoutMs = 300)
            val e = sendFailure(transport, request(hole.url))
            assertContains(e.reason, "attempt timeout")
        }
    }

    @Test
    fun `an attempt whose body is never read ends at the attempt timeout (no write timeout needed)`() {
        BlackHole().use { hole ->
            // Far more than the socket buffers hold: the write blocks until the watchdog disconnects.
            val body = ByteArray(64 shl 20)
            val transport = HttpUrlConnectionTransport(readTimeoutMs = NEVER_MS, attemptTimeoutMs = 300)
            val e = sendFailure(transport, request(hole.url, body))
            assertContains(e.reason, "attempt timeout")
        }
    }

    @Test
    fun `an attempt stuck before connecting (a name lookup) ends at the attempt timeout too`() {
        val lookup = java.util.concurrent.CountDownLatch(1)
        try {
            val transport = HttpUrlConnectionTransport(attemptTimeoutMs = 300, open = { url ->
                lookup.await() // stands in for getaddrinfo, which no disconnect can interrupt
                url.openConnection() as HttpURLConnection
            })
            assertContains(sendFailure(transport, request("http://127.0.0.1:1/c/x/y")).reason, "attempt timeout")
            // Only so many abandoned attempts may pile up; then attempts fail at once.
            repeat(HttpUrlConnectionTransport.MAX_ATTEMPT_THREADS - 1) { sendFailure(transport, request("http://127.0.0.1:1/c/x/y")) }
            assertContains(sendFailure(transport, request("http://127.0.0.1:1/c/x/y")).reason, "still stuck")
        } finally {
            lookup.countDown()
        }
    }

    private companion object {
        /** A read timeout that never fires during a test, ms (0 would mean infinite to the JDK too). */
        const val NEVER_MS = 3_600_000

        /** How long a test waits for send to return before failing, s: a bound on a failure only. */
        const val OUTER_WAIT_S = 60L
    }
}
