package dev.sockstatlog.android

import android.net.ConnectivityManager
import android.net.LinkProperties
import android.net.Network
import android.net.NetworkCapabilities
import android.net.NetworkRequest
import android.os.Build
import android.os.Handler
import android.os.HandlerThread
import dev.sockstatlog.InterfaceKind
import dev.sockstatlog.SockstatException
import dev.sockstatlog.SockstatLoggerInterface

/**
 * Follows the best physical (non-VPN) network with internet access and
 * reports it to the logger with `setInterface(name, kind)`, so bytes are
 * attributed to cellular or not, under the interface that carries them
 * (`wlan0`, `rmnet_data0`), never the tunnel's own `tun0`.
 *
 * The system default network callback would report the VPN itself when the
 * app routes its own traffic through its tunnel, so the monitor listens with
 * a [NetworkRequest] for `NET_CAPABILITY_INTERNET`, which keeps
 * `NET_CAPABILITY_NOT_VPN` by default:
 * - API 31+: `registerBestMatchingNetworkCallback`: the one network the
 *   system would pick for that request, without keeping it up;
 * - API 26-30: `requestNetwork` with the same request, the documented way to
 *   follow the best matching network before API 31 (it is satisfied by the
 *   current physical default, so it brings nothing extra up).
 * A network that still reports `TRANSPORT_VPN` is ignored either way.
 *
 * A network is reported once both its capabilities and its link properties
 * have arrived (Android delivers both right after `onAvailable` on API 26+),
 * so no empty name is reported before each change; losing the network
 * reports `("", NONE)`. Callbacks run on a private handler thread.
 *
 * @param sink receives each change of (interface name, kind).
 */
class SockstatNetworkMonitor(private val sink: InterfaceSink) {
    /** Where the monitor reports; a Kotlin lambda or a Java lambda `(name, kind) -> ...`. */
    fun interface InterfaceSink {
        /** The physical interface is now [name] (empty when there is none) of [kind]. */
        fun onInterface(name: String, kind: InterfaceKind)
    }

    /**
     * Reports to [logger]. Calls after the logger's `shutdown` are ignored
     * (the monitor may outlive it by one callback).
     */
    constructor(logger: SockstatLoggerInterface) : this(InterfaceSink { name, kind ->
        try {
            logger.setInterface(name, kind)
        } catch (e: SockstatException.Closed) {
            // Shut down: nothing left to attribute.
        }
    }) {
        meteredSink = MeteredNetworks.sinkFor(logger)
    }

    /** Receives whether the tracked network is metered ([MeteredNetworks]); null: nobody listens. */
    @Volatile
    var meteredSink: MeteredNetworks.Sink? = null
    private var reportedMetered: Boolean? = null

    private var tracked: Network? = null
    private var caps: NetworkCapabilities? = null
    private var name: String? = null
    private var reported: Pair<String, InterfaceKind>? = null
    private var thread: HandlerThread? = null

    /**
     * The physical network last reported, `null` before the first report and
     * after it was lost: what [UnderlyingNetworks] binds uploads to.
     */
    @Volatile
    var network: Network? = null
        private set

    /** The callback to register; public so tests can drive it without a device. */
    val callback: ConnectivityManager.NetworkCallback = object : ConnectivityManager.NetworkCallback() {
        override fun onAvailable(network: Network) = update(network) { }

        override fun onCapabilitiesChanged(network: Network, networkCapabilities: NetworkCapabilities) =
            update(network) { caps = networkCapabilities }

        override fun onLinkPropertiesChanged(network: Network, linkProperties: LinkProperties) =
            update(network) { name = linkProperties.interfaceName ?: "" }

        override fun onLost(network: Network) = lost(network)
    }

    /** Starts following the best physical network (see the class comment for the API split). */
    @Synchronized
    fun start(connectivity: ConnectivityManager) {
        if (thread != null) return
        val t = HandlerThread(THREAD_NAME).apply { start() }
        thread = t
        val handler = Handler(t.looper)
        val request = NetworkRequest.Builder()
            .addCapability(NetworkCapabilities.NET_CAPABILITY_INTERNET)
            .addCapability(NetworkCapabilities.NET_CAPABILITY_NOT_VPN) // the default; said out loud
            .build()
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.S) {
            connectivity.registerBestMatchingNetworkCallback(request, callback, handler)
        } else {
            connectivity.requestNetwork(request, callback, handler)
        }
    }

    /** Stops following it; harmless if not started. */
    @Synchronized
    fun stop(connectivity: ConnectivityManager) {
        try {
            connectivity.unregisterNetworkCallback(callback)
        } catch (e: IllegalArgumentException) {
            // Never registered, or already unregistered.
        }
        thread?.quitSafely()
        thread = null
    }

    /** A new network forgets the old one's state before applying [change]. */
    @Synchronized
    private fun update(network: Network, change: () -> Unit) {
        if (network != tracked) {
            tracked = network
            caps = null
            name = null
        }
        change()
        val c = caps ?: return
        val n = name ?: return
        if (c.hasTransport(NetworkCapabilities.TRANSPORT_VPN)) return // never the tunnel itself
        this.network = network
        reportMetered(MeteredNetworks.isMetered(c)) // first: a waiting upload starts on the new interface
        report(n, InterfaceKinds.of(c))
    }

    private fun reportMetered(metered: Boolean) {
        if (metered == reportedMetered) return
        reportedMetered = metered
        meteredSink?.onMetered(metered)
    }

    /** Losing the tracked network (not a stale one) means no interface. */
    @Synchronized
    private fun lost(network: Network) {
        if (network != tracked) return
        tracked = null
        caps = null
        name = null
        this.network = null
        report("", InterfaceKind.NONE)
    }

    private fun report(name: String, kind: InterfaceKind) {
        val now = name to kind
        if (now == reported) return
        reported = now
        sink.onInterface(name, kind)
    }

    private companion object {
        /** The handler thread the callbacks run on. */
        const val THREAD_NAME = "sockstatlog-network"
    }
}
