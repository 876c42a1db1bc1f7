package dev.sockstatlog.android

import dev.sockstatlog.HttpHeader
import dev.sockstatlog.SockstatException
import dev.sockstatlog.UploadRequest
import java.net.HttpURLConnection
import java.net.ServerSocket
import java.net.URL
import kotlin.test.assertContains
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue
import org.junit.jupiter.api.Test

/** The transport against a loopback HTTP server (the JDK's HttpURLConnection stands in for Android's). */
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
}
