package dev.sockstatlog.example

import android.content.Intent
import android.net.VpnService
import android.os.ParcelFileDescriptor
import android.util.Log
import dev.sockstatlog.android.SockstatVpnSession
import java.io.FileInputStream
import java.io.IOException
import kotlin.concurrent.thread

/**
 * The shape of a VPN app using sockstatlog: not shipped in the AAR, compiled
 * against the Android API by `android/verify` so this example stays true.
 *
 * A real tunnel encrypts and forwards the packets it reads; this one only
 * counts them.
 */
class ExampleVpnService : VpnService() {
    private lateinit var stats: SockstatVpnSession
    private var tun: ParcelFileDescriptor? = null

    override fun onCreate() {
        super.onCreate()
        stats = SockstatVpnSession.create(this, BACKEND_PUBLIC_ID) {
            maxLogBytes = 1L shl 20 // 1 MiB on disk is plenty between uploads
        }
        stats.logger.registerLabel(TUNNEL_LABEL, "ExampleTunnel")
        stats.start()
    }

    override fun onStartCommand(intent: Intent?, flags: Int, startId: Int): Int {
        if (intent?.action == ACTION_FLUSH) {
            stats.flush { result -> Log.i(TAG, "sockstatlog flush: $result") }
            return START_STICKY
        }
        if (tun == null) {
            tun = Builder()
                .addAddress("10.0.0.2", 32)
                .addRoute("0.0.0.0", 0)
                // The app's own traffic (and so the log upload) goes around the tunnel.
                .addDisallowedApplication(packageName)
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
                    stats.add(TUNNEL_LABEL, n.toLong(), 0)
                }
            } catch (e: IOException) {
                // The tun was closed: the service is stopping.
            }
        }
    }

    override fun onDestroy() {
        tun?.close()
        stats.close() // shutdown, bounded by SockstatVpnSession.SHUTDOWN_TIMEOUT_MS
        super.onDestroy()
    }

    private companion object {
        const val TAG = "ExampleVpn"
        const val ACTION_FLUSH = "dev.sockstatlog.example.FLUSH"
        const val TUNNEL_LABEL = 20
        const val MTU = 1500
        const val BACKEND_PUBLIC_ID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    }
}
