package dev.sockstatlog.example

import android.content.Intent
import android.net.VpnService
import android.os.ParcelFileDescriptor
import android.util.Log
import dev.sockstatlog.LoggerEvent
import dev.sockstatlog.LoggerListener
import dev.sockstatlog.SockstatException
import dev.sockstatlog.android.SockstatVpnSession
import java.io.FileInputStream
import java.io.IOException
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
 */
class ExampleVpnService : VpnService() {
    /** Null when sockstat logging could not start; every use is `stats?.`. */
    var stats: SockstatVpnSession? = null
        private set
    private var tun: ParcelFileDescriptor? = null

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
            stats?.flush()?.whenComplete { report, error -> Log.i(TAG, "sockstatlog flush: ${report ?: error}") }
            return START_STICKY
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

        /** The intent action that asks for an upload now. */
        const val ACTION_FLUSH = "dev.sockstatlog.example.FLUSH"
        const val TUNNEL_LABEL = 20
        const val MTU = 1500
        const val BACKEND_PUBLIC_ID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    }
}
