package dev.sockstatlog.android

import android.net.ConnectivityManager
import android.net.LinkProperties
import android.net.Network
import android.net.NetworkCapabilities
import android.net.NetworkRequest
import android.os.Build
import android.os.Handler
import android.os.HandlerThread
import android.util.Log
import dev.sockstatlog.InterfaceKind
import dev.sockstatlog.SockstatException
import dev.sockstatlog.SockstatLoggerInterface
import java.util.concurrent.atomic.AtomicLong

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
 * Nothing here can take the app (and its VPN) down from that thread: a
 * callback that arrives after [stop] (one ConnectivityManager was already
 * dispatching) is ignored, and anything the sink throws is caught, logged and
 * counted in [failures].
 *
 * Permissions (declared in the library's manifest, so merged into the app's):
 * `ACCESS_NETWORK_STATE` for `registerBestMatchingNetworkCallback`, and
 * `CHANGE_NETWORK_STATE` for `requestNetwork` on API 26-30; without it
 * [start] throws `SecurityException` there. `PermissionsTest` checks every
 * platform call the glue makes against the manifest.
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
            // Shut down: nothing left to attribute. (A logger already
            // destroyed throws IllegalStateException instead: counted below.)
        }
    }) {
        meteredSink = MeteredNetworks.sinkFor(logger)
    }

    /** Receives whether the tracked network is metered ([MeteredNetworks]); null: nobody listens. */
    @Volatile
    var meteredSink: MeteredNetworks.Sink? = null
    private var reportedMetered: Boolean? = null

    private val failureCount = AtomicLong(0)
    private var stopped = false
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

    /** True between [start] and [stop]: [UnderlyingNetworks] then never falls back to the process default. */
    @Volatile
    var running: Boolean = false
        private set

    /** What the sink threw so far (each logged, tag `sockstatlog`); the callback thread survived each. */
    val failures: Long get() = failureCount.get()

    /** The callback to register; public so tests can drive it without a device. */
    val callback: ConnectivityManager.NetworkCallback = object : ConnectivityManager.NetworkCallback() {
        override fun onAvailable(network: Network) = update(network) { }

        override fun onCapabilitiesChanged(network: Network, networkCapabilities: NetworkCapabilities) =
            update(network) { caps = networkCapabilities }

        override fun onLinkPropertiesChanged(network: Network, linkProperties: LinkProperties) =
            update(network) { name = linkProperties.interfaceName ?: "" }

        override fun onLost(network: Network) = lost(network)
    }

    /**
     * Starts following the best physical network (see the class comment for
     * the API split).
     *
     * @throws SecurityException without `CHANGE_NETWORK_STATE` on API 26-30
     *   (the library's manifest declares it); the monitor is then not running.
     */
    @Synchronized
    fun start(connectivity: ConnectivityManager) {
        if (thread != null) return
        val t = HandlerThread(THREAD_NAME).apply { start() }
        thread = t
        stopped = false
        val handler = Handler(t.looper)
        val request = NetworkRequest.Builder()
            .addCapability(NetworkCapabilities.NET_CAPABILITY_INTERNET)
            .addCapability(NetworkCapabilities.NET_CAPABILITY_NOT_VPN) // the default; said out loud
            .build()
        try {
            if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.S) {
                connectivity.registerBestMatchingNetworkCallback(request, callback, handler)
            } else {
                connectivity.requestNetwork(request, callback, handler) // CHANGE_NETWORK_STATE
            }
        } catch (e: RuntimeException) { // SecurityException, or too many requests
            t.quitSafely()
            thread = null
            stopped = true
            throw e
        }
        running = true
    }

    /**
     * Stops following it; harmless if not started. A callback still in flight
     * when this returns is ignored (the flag is read under the same lock).
     */
    @Synchronized
    fun stop(connectivity: ConnectivityManager) {
        stopped = true
        running = false
        try {
            connectivity.unregisterNetworkCallback(callback)
        } catch (e: IllegalArgumentException) {
            // Never registered, or already unregistered.
        }
        thread?.quitSafely()
        thread = null
        tracked = null
        caps = null
        name = null
        network = null
        reported = null
    }

    /** A new network forgets the old one's state before applying [change]. */
    @Synchronized
    private fun update(network: Network, change: () -> Unit) {
        if (stopped) return
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
        if (stopped || network != tracked) return
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
        try {
            sink.onInterface(name, kind)
        } catch (e: VirtualMachineError) {
            throw e // out of memory: nothing sensible is left to do here
        } catch (e: Throwable) {
            // E.g. IllegalStateException from a logger already destroyed: on
            // the handler thread it would be uncaught and kill the process.
            failureCount.incrementAndGet()
            Log.w(SockstatVpnSession.TAG, "sockstatlog: reporting the network failed; ignored", e)
        }
    }

    private companion object {
        /** The handler thread the callbacks run on. */
        const val THREAD_NAME = "sockstatlog-network"
    }
}
