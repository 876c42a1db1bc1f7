package dev.sockstatlog.android

import dev.sockstatlog.HttpHeader
import dev.sockstatlog.SockstatException
import dev.sockstatlog.UploadRequest
import dev.sockstatlog.UploadResponse
import dev.sockstatlog.UploadTransport
import java.io.IOException
import java.io.InputStream
import java.net.HttpURLConnection
import java.net.URL

/**
 * Sends the logger's uploads with the platform's `HttpURLConnection`, so they
 * use the system's TLS, proxy and certificate settings, and so the app decides
 * which network they leave on (the tunnel must not carry its own log uploads):
 *
 * - the VPN excludes its own app (`Builder.addDisallowedApplication(packageName)`):
 *   the default [open] already goes around the tunnel;
 * - or [open] binds each connection to the physical network:
 *   `HttpUrlConnectionTransport { url -> underlying.openConnection(url) as HttpURLConnection }`
 *   with `underlying` a non-VPN [android.net.Network] (a `NetworkRequest` keeps
 *   `NET_CAPABILITY_NOT_VPN` by default);
 * - `VpnService.protect(socket)` is the third way, for clients that create
 *   their own sockets (e.g. OkHttp with a protecting `SocketFactory`).
 *
 * Called on the logger's uploader thread, never the main thread; blocking is
 * expected. Every failure to get an answer becomes [SockstatException.Upload],
 * which the logger retries with backoff; any HTTP status is an answer.
 *
 * @param connectTimeoutMs connect timeout. Default 15 s: a phone changing networks
 *   stalls connects for seconds, and the logger retries anyway.
 * @param readTimeoutMs timeout of each read. Default 30 s: the body is at most
 *   256 KiB, so anything slower is a dead connection.
 * @param open opens a connection to the URL (the hook for network binding).
 */
class HttpUrlConnectionTransport @JvmOverloads constructor(
    private val connectTimeoutMs: Int = DEFAULT_CONNECT_TIMEOUT_MS,
    private val readTimeoutMs: Int = DEFAULT_READ_TIMEOUT_MS,
    private val open: (URL) -> HttpURLConnection = { it.openConnection() as HttpURLConnection },
) : UploadTransport {

    /** POSTs [request] and returns the status, headers and the first KiB of the body. */
    override fun send(request: UploadRequest): UploadResponse {
        val conn = try {
            open(URL(request.url))
        } catch (e: IOException) {
            throw failure("connect", e)
        }
        try {
            conn.requestMethod = "POST"
            conn.doOutput = true
            conn.useCaches = false
            conn.instanceFollowRedirects = false // a redirect is a failure, not a silent re-POST
            conn.connectTimeout = connectTimeoutMs
            conn.readTimeout = readTimeoutMs
            conn.setFixedLengthStreamingMode(request.body.size)
            for (h in request.headers) conn.setRequestProperty(h.name, h.value)
            conn.outputStream.use { it.write(request.body) }
            val status = conn.responseCode
            val headers = conn.headerFields.flatMap { (name, values) ->
                if (name == null) emptyList() else values.map { HttpHeader(name, it) } // null: the status line
            }
            val body = (if (status >= 400) conn.errorStream else conn.inputStream)?.use(::head) ?: ByteArray(0)
            return UploadResponse(status, headers, body)
        } catch (e: IOException) {
            throw failure("POST", e)
        } finally {
            conn.disconnect()
        }
    }

    private fun failure(what: String, e: IOException) =
        SockstatException.Upload("$what failed: ${e.javaClass.simpleName}: ${e.message}")

    /** The first [MAX_BODY_BYTES] of a response: the logger only quotes it in errors. */
    private fun head(input: InputStream): ByteArray {
        val buf = ByteArray(MAX_BODY_BYTES) // InputStream.readNBytes is API 33 on Android
        var got = 0
        while (got < buf.size) {
            val n = input.read(buf, got, buf.size - got)
            if (n < 0) break
            got += n
        }
        return buf.copyOf(got)
    }

    /** Defaults; see the constructor. */
    companion object {
        /** Connect timeout, ms (15 s). */
        const val DEFAULT_CONNECT_TIMEOUT_MS = 15_000

        /** Per-read timeout, ms (30 s). */
        const val DEFAULT_READ_TIMEOUT_MS = 30_000

        /** Response bytes kept: the logger uses the body only in error messages. */
        const val MAX_BODY_BYTES = 1024
    }
}
