package dev.sockstatlog.android

import android.net.ConnectivityManager
import android.net.LinkProperties
import android.net.Network
import android.net.NetworkCapabilities
import dev.sockstatlog.InterfaceKind
import dev.sockstatlog.SockstatException
import dev.sockstatlog.SockstatLoggerInterface

/**
 * Follows the system's default network and reports it to the logger with
 * `setInterface(name, kind)`, so bytes are attributed to cellular or not.
 *
 * Uses `ConnectivityManager.registerDefaultNetworkCallback` (API 24). On API 26+
 * Android delivers the capabilities and link properties right after
 * `onAvailable`, so the first report follows registration at once.
 *
 * Inside a VPN app whose own traffic goes through its tunnel, the default
 * network is the VPN: the interface name is then the tun device, and the kind
 * comes from the underlay transports Android merges into the VPN's
 * capabilities (see [InterfaceKinds.of]). Excluding the app from its own VPN
 * (`addDisallowedApplication`) makes it see the physical network instead.
 *
 * @param sink receives each change of (interface name, kind); called on
 *   ConnectivityManager's callback thread.
 */
class SockstatNetworkMonitor(private val sink: (name: String, kind: InterfaceKind) -> Unit) {
    /**
     * Reports to [logger]. Calls after the logger's `shutdown` are ignored
     * (the monitor may outlive it by one callback).
     */
    constructor(logger: SockstatLoggerInterface) : this({ name, kind ->
        try {
            logger.setInterface(name, kind)
        } catch (e: SockstatException.Closed) {
            // Shut down: nothing left to attribute.
        }
    })

    private var network: Network? = null
    private var caps: NetworkCapabilities? = null
    private var name = ""
    private var reported: Pair<String, InterfaceKind>? = null

    /** The callback to register; public so tests can drive it without a device. */
    val callback: ConnectivityManager.NetworkCallback = object : ConnectivityManager.NetworkCallback() {
        override fun onAvailable(network: Network) = update(network) { }

        override fun onCapabilitiesChanged(network: Network, networkCapabilities: NetworkCapabilities) =
            update(network) { caps = networkCapabilities }

        override fun onLinkPropertiesChanged(network: Network, linkProperties: LinkProperties) =
            update(network) { name = linkProperties.interfaceName ?: "" }

        override fun onLost(network: Network) = lost(network)
    }

    /** Starts following the default network. */
    fun start(connectivity: ConnectivityManager) = connectivity.registerDefaultNetworkCallback(callback)

    /** Stops following it; harmless if not started. */
    fun stop(connectivity: ConnectivityManager) {
        try {
            connectivity.unregisterNetworkCallback(callback)
        } catch (e: IllegalArgumentException) {
            // Never registered, or already unregistered.
        }
    }

    /** A new default network forgets the old one's state before applying [change]. */
    @Synchronized
    private fun update(network: Network, change: () -> Unit) {
        if (network != this.network) {
            this.network = network
            caps = null
            name = ""
        }
        change()
        // Report only once the transports are known; the name may follow.
        caps?.let { report(name, InterfaceKinds.of(it)) }
    }

    /** Losing the default network (not a stale one) means no interface. */
    @Synchronized
    private fun lost(network: Network) {
        if (network != this.network) return
        this.network = null
        caps = null
        name = ""
        report("", InterfaceKind.NONE)
    }

    private fun report(name: String, kind: InterfaceKind) {
        val now = name to kind
        if (now == reported) return
        reported = now
        sink(name, kind)
    }
}
