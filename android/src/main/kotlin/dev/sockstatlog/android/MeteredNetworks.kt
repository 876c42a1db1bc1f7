package dev.sockstatlog.android

import android.net.NetworkCapabilities
import dev.sockstatlog.SockstatException
import dev.sockstatlog.SockstatLoggerInterface

/**
 * Whether the physical network costs the user money, as Android says it:
 * a network without `NET_CAPABILITY_NOT_METERED` is metered (cellular, a
 * phone's hotspot, a Wi-Fi the user marked metered). [SockstatNetworkMonitor]
 * reports it with each network change; the logger, configured with
 * `uploadOnMetered = false`, then holds uploads back until a free network
 * arrives.
 */
object MeteredNetworks {
    /** Receives whether the tracked physical network is metered. */
    fun interface Sink {
        /** The network is now [metered] or not. */
        fun onMetered(metered: Boolean)
    }

    /** Android's answer for these capabilities. */
    @JvmStatic
    fun isMetered(caps: NetworkCapabilities): Boolean =
        !caps.hasCapability(NetworkCapabilities.NET_CAPABILITY_NOT_METERED)

    /** Reports to [logger]; calls after its `shutdown` are ignored. */
    @JvmStatic
    fun sinkFor(logger: SockstatLoggerInterface): Sink = Sink { metered ->
        try {
            logger.setNetworkMetered(metered)
        } catch (e: SockstatException.Closed) {
            // Shut down: nothing left to upload.
        }
    }
}
