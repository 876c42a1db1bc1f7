package dev.sockstatlog.example

import android.content.Context
import android.content.Intent
import android.net.VpnService
import android.os.ParcelFileDescriptor
import android.util.Log
import dev.sockstatlog.FlushReport
import dev.sockstatlog.LoggerEvent
import dev.sockstatlog.LoggerListener
import dev.sockstatlog.SockstatException
import dev.sockstatlog.android.SockstatVpnSession
import java.io.FileInputStream
import java.io.IOException
import java.util.concurrent.CompletableFuture
import kotlin.concurrent.thread

/**
 * The shape of a VPN app using sockstatlog: not shipped in the AAR, compiled
 * against the Android API and run under Robolectric by `android/verify` so
 * this example stays true.
 *
 * Sockstat logging must never take the tunnel down: if the session cannot be
 * created the service runs without it (`stats` stays null), and the session's
 * own `start`/`close` never throw. A real tunnel encrypts and forwards the
 * packets it reads; this one only counts them.
 *
 * Asking for an upload: [requestFlush] (from the app's UI). An
 * [ACTION_FLUSH] that arrives with no tunnel up (the service was started
 * only for it) uploads, then stops the service: no tunnel, no reason to stay
 * alive. With the tunnel up, the system keeps the service bound and the
 * flush only uploads.
 */
class ExampleVpnService : VpnService() {
    /** Null when sockstat logging could not start; every use is `stats?.`. */
    var stats: SockstatVpnSession? = null
        private set
    private var tun: ParcelFileDescriptor? = null

    /** The last [ACTION_FLUSH]'s upload (and stop, with no tunnel), for a UI showing progress and the tests. */
    @Volatile
    var lastFlush: CompletableFuture<FlushReport>? = null
        private set

    override fun onCreate() {
        super.onCreate()
        stats = try {
            SockstatVpnSession.create(this, BACKEND_PUBLIC_ID) {
                it.maxLogBytes = 1L shl 20 // 1 MiB on disk is plenty between uploads
            }.also { s ->
                try {
                    s.logger.registerLabel(TUNNEL_LABEL, "ExampleTunnel")
                    // Background failures (disk, upload), on a library thread.
                    s.logger.setListener(object : LoggerListener {
                        override fun onEvent(event: LoggerEvent) { Log.w(TAG, "sockstatlog: $event") }
                    })
                } catch (e: SockstatException) {
                    Log.w(TAG, "sockstatlog: label not named", e) // bytes are still counted
                }
                s.start()
            }
        } catch (e: SockstatException) {
            Log.w(TAG, "sockstatlog unavailable; the tunnel runs without it", e)
            null
        }
    }

    override fun onStartCommand(intent: Intent?, flags: Int, startId: Int): Int {
        if (intent?.action == ACTION_FLUSH) {
            var flush = stats?.flush()?.whenComplete { report, error ->
                Log.i(TAG, "sockstatlog flush: ${report ?: error}")
            }
            if (tun == null) {
                // Started only for this flush: stop once it is done (stopSelf
                // with this startId is ignored if a later start, the tunnel's, came in).
                flush = flush?.whenComplete { _, _ -> stopSelf(startId) }
                if (flush == null) stopSelf(startId)
            }
            lastFlush = flush
            // A flush is not worth restarting the service for if it is killed.
            return START_NOT_STICKY
        }
        if (tun == null) {
            tun = Builder()
                .addAddress("10.0.0.2", 32)
                .addRoute("0.0.0.0", 0)
                // Log uploads need no exclusion: the session binds them to the physical network.
                .establish()
            tun?.let { fd -> thread(name = "tunnel") { pump(fd) } }
        }
        return START_STICKY
    }

    /** The tunnel loop: every packet read from the tun is bytes sent by the apps. */
    private fun pump(fd: ParcelFileDescriptor) {
        val packet = ByteArray(MTU)
        FileInputStream(fd.fileDescriptor).use { input ->
            try {
                while (true) {
                    val n = input.read(packet)
                    if (n < 0) break
                    // ... encrypt and send to the peer; its replies count as rx ...
                    stats?.add(TUNNEL_LABEL, n.toLong(), 0)
                }
            } catch (e: IOException) {
                // The tun was closed: the service is stopping.
            }
        }
    }

    override fun onDestroy() {
        tun?.close()
        stats?.close() // shutdown, bounded by SockstatVpnSession.SHUTDOWN_TIMEOUT_MS; never throws
        super.onDestroy()
    }

    /** Intent actions and constants. */
    companion object {
        const val TAG = "ExampleVpn"

        /** The intent action that asks for an upload now; send it with [requestFlush]. */
        const val ACTION_FLUSH = "dev.sockstatlog.example.FLUSH"
        const val TUNNEL_LABEL = 20
        const val MTU = 1500
        const val BACKEND_PUBLIC_ID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

        /**
         * Asks the service for an upload. Call it from the app's UI: on
         * Android 8+ `startService` from the background throws
         * `IllegalStateException` (background execution limits) unless the
         * service is already running in the foreground, as a VPN with its
         * tunnel up is. Returns false when the system refused; nothing is
         * lost, the lines wait on disk for the next flush.
         */
        @JvmStatic
        fun requestFlush(context: Context): Boolean = try {
            context.startService(Intent(context, ExampleVpnService::class.java).setAction(ACTION_FLUSH)) != null
        } catch (e: IllegalStateException) {
            Log.i(TAG, "sockstatlog: flush not requested from the background", e)
            false
        }
    }
}
