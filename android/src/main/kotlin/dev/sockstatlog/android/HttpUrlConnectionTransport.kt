package dev.sockstatlog.android

import dev.sockstatlog.HttpHeader
import dev.sockstatlog.SockstatException
import dev.sockstatlog.UploadRequest
import dev.sockstatlog.UploadResponse
import dev.sockstatlog.UploadTransport
import java.io.InputStream
import java.net.HttpURLConnection
import java.net.URL
import java.util.concurrent.Callable
import java.util.concurrent.ExecutionException
import java.util.concurrent.RejectedExecutionException
import java.util.concurrent.SynchronousQueue
import java.util.concurrent.ThreadPoolExecutor
import java.util.concurrent.TimeUnit
import java.util.concurrent.TimeoutException
import java.util.concurrent.atomic.AtomicInteger

/**
 * Sends the logger's uploads with the platform's `HttpURLConnection`, so they
 * use the system's TLS, proxy and certificate settings. [open] decides which
 * network a connection leaves on (the tunnel must not carry its own log
 * uploads): [SockstatVpnSession.create] passes [UnderlyingNetworks.openConnection],
 * which binds each connection to the physical network; the default here,
 * `URL.openConnection`, is the process default network, which is the tunnel
 * unless the app excluded itself (`Builder.addDisallowedApplication`).
 *
 * Called on the logger's uploader thread, never the main thread; blocking is
 * expected, but never for longer than [attemptTimeoutMs]. `HttpURLConnection`
 * has no write timeout and resolves names outside `connectTimeout`, so on a
 * network that silently drops packets one attempt could otherwise hold the
 * single uploader thread for many minutes of TCP retransmissions. Each
 * attempt therefore runs on a worker thread; the uploader waits at most
 * [attemptTimeoutMs], then a watchdog disconnects the connection (which ends
 * a blocked connect, write or read) and the attempt fails. A worker stuck
 * where a disconnect cannot reach (a name lookup) finishes on its own; while
 * [MAX_ATTEMPT_THREADS] are stuck, further attempts fail at once instead of
 * piling up threads.
 *
 * Every failure to get an answer (any exception, the timeout) becomes
 * [SockstatException.Upload], which the logger retries with backoff; any HTTP
 * status is an answer. Redirects are not followed (a 3xx is returned, and the
 * logger counts it as a failed attempt).
 *
 * @param connectTimeoutMs connect timeout. Default 15 s: a phone changing networks
 *   stalls connects for seconds, and the logger retries anyway.
 * @param readTimeoutMs timeout of each read. Default 30 s: the body is at most
 *   256 KiB, so anything slower is a dead connection.
 * @param attemptTimeoutMs the whole attempt's limit: name lookup, connect,
 *   writing the body, reading the answer. Default 45 s, the logger's default
 *   `attemptTimeoutMs` ([SockstatVpnSession.create] passes the config's).
 * @param open opens a connection to the URL (the hook for network binding).
 */
class HttpUrlConnectionTransport @JvmOverloads constructor(
    private val connectTimeoutMs: Int = DEFAULT_CONNECT_TIMEOUT_MS,
    private val readTimeoutMs: Int = DEFAULT_READ_TIMEOUT_MS,
    private val attemptTimeoutMs: Long = DEFAULT_ATTEMPT_TIMEOUT_MS,
    private val open: (URL) -> HttpURLConnection = { it.openConnection() as HttpURLConnection },
) : UploadTransport {
    init {
        require(attemptTimeoutMs > 0) { "attemptTimeoutMs must be positive, got $attemptTimeoutMs" }
    }

    /** Runs the attempts: no thread while idle, at most [MAX_ATTEMPT_THREADS], never queued. */
    private val workers = ThreadPoolExecutor(
        0, MAX_ATTEMPT_THREADS, IDLE_THREAD_SECONDS, TimeUnit.SECONDS, SynchronousQueue(),
    ) { r -> Thread(r, "sockstatlog-upload-${threadIds.incrementAndGet()}").apply { isDaemon = true } }

    /** POSTs [request] and returns the status, headers and the first KiB of the body. */
    override fun send(request: UploadRequest): UploadResponse {
        val attempt = Attempt(request)
        val result = try {
            workers.submit(Callable { attempt.run() })
        } catch (e: RejectedExecutionException) {
            throw SockstatException.Upload("$MAX_ATTEMPT_THREADS earlier attempts are still stuck; not starting another")
        }
        try {
            return result.get(attemptTimeoutMs, TimeUnit.MILLISECONDS)
        } catch (e: TimeoutException) {
            attempt.abandon()
            throw SockstatException.Upload("no answer within the attempt timeout ($attemptTimeoutMs ms); disconnected")
        } catch (e: InterruptedException) {
            attempt.abandon()
            Thread.currentThread().interrupt()
            throw SockstatException.Upload("interrupted while waiting for the answer")
        } catch (e: ExecutionException) {
            val cause = e.cause ?: e
            throw cause as? SockstatException.Upload ?: failure("POST", cause)
        }
    }

    /** One attempt: runs on a worker; [abandon] (the watchdog) may disconnect it from another thread. */
    private inner class Attempt(private val request: UploadRequest) {
        private var conn: HttpURLConnection? = null
        private var abandoned = false

        fun run(): UploadResponse {
            val c = try {
                open(URL(request.url))
            } catch (e: SockstatException.Upload) {
                throw e // already says why (e.g. UnderlyingNetworks: no physical network)
            } catch (e: Exception) { // IOException, and e.g. SecurityException from a bound network
                throw failure("connect", e)
            }
            if (!adopt(c)) throw SockstatException.Upload("abandoned before connecting")
            try {
                return exchange(c, request)
            } catch (e: Exception) {
                // Any exception, not only IOException: anything else thrown back
                // through JNA would reach the logger as a garbled status, not an error.
                throw failure("POST", e)
            } finally {
                c.disconnect()
            }
        }

        @Synchronized
        private fun adopt(c: HttpURLConnection): Boolean {
            if (abandoned) c.disconnect() else conn = c
            return !abandoned
        }

        /**
         * Disconnects on a short-lived thread of its own: the uploader must
         * return now, and a connection's `disconnect` may wait for a lock
         * its blocked writer holds.
         */
        fun abandon() {
            val c = synchronized(this) {
                abandoned = true
                conn
            } ?: return
            Thread({ c.disconnect() }, "sockstatlog-upload-abort").apply { isDaemon = true }.start()
        }
    }

    private fun exchange(conn: HttpURLConnection, request: UploadRequest): UploadResponse {
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
    }

    private fun failure(what: String, e: Throwable) =
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

    /** Defaults and bounds; see the constructor. */
    companion object {
        /** Connect timeout, ms (15 s). */
        const val DEFAULT_CONNECT_TIMEOUT_MS = 15_000

        /** Per-read timeout, ms (30 s). */
        const val DEFAULT_READ_TIMEOUT_MS = 30_000

        /** Whole-attempt timeout, ms: 45 s, the logger's default `attemptTimeoutMs` (upstream's). */
        const val DEFAULT_ATTEMPT_TIMEOUT_MS = 45_000L

        /** Response bytes kept: the logger uses the body only in error messages. */
        const val MAX_BODY_BYTES = 1024

        /**
         * Attempt threads at most: the logger has one call outstanding, so
         * the others are attempts abandoned by the watchdog that have not
         * ended yet (a name lookup outlives a disconnect). Four such in a row
         * means the network is hopeless; failing fast beats more threads.
         */
        const val MAX_ATTEMPT_THREADS = 4

        /** Seconds an idle attempt thread lives: uploads come in bursts, minutes apart. */
        private const val IDLE_THREAD_SECONDS = 30L

        private val threadIds = AtomicInteger()
    }
}
