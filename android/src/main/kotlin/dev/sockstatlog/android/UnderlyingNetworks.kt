package dev.sockstatlog.android

import android.net.ConnectivityManager
import android.net.Network
import android.net.NetworkCapabilities
import java.net.HttpURLConnection
import java.net.URL

/**
 * Chooses the network a log upload leaves on, so that the VPN never carries
 * its own log uploads and the app has nothing to configure. In order:
 *
 * 1. the physical network the session's [SockstatNetworkMonitor] follows
 *    (best matching internet network that is not a VPN): the connection is
 *    opened with [Network.openConnection], bound to that network whatever
 *    the process's default is;
 * 2. before the monitor's first report (or with no monitor): the system's
 *    active network, if it is not a VPN;
 * 3. otherwise the process default (`URL.openConnection`), which goes around
 *    the tunnel only if the app excluded itself from it
 *    (`Builder.addDisallowedApplication(packageName)`).
 *
 * `VpnService.protect(socket)` is the remaining way for a host transport that
 * creates its own sockets (e.g. OkHttp with a protecting `SocketFactory`).
 *
 * @param connectivity the system service, `null` in plain-JVM use (only 3 applies).
 * @param monitor the session's monitor, or `null`.
 */
class UnderlyingNetworks @JvmOverloads constructor(
    private val connectivity: ConnectivityManager?,
    @Volatile var monitor: SockstatNetworkMonitor? = null,
) {
    /** The network an upload would be bound to now (1, then 2), or `null` for the process default (3). */
    fun current(): Network? = monitor?.network ?: connectivity?.let(::activeIfPhysical)

    /** Opens [url] on [current], or on the process default when there is none. */
    fun openConnection(url: URL): HttpURLConnection =
        (current()?.openConnection(url) ?: url.openConnection()) as HttpURLConnection

    private fun activeIfPhysical(cm: ConnectivityManager): Network? {
        val n = cm.activeNetwork ?: return null
        val caps = cm.getNetworkCapabilities(n) ?: return null
        return n.takeIf { !caps.hasTransport(NetworkCapabilities.TRANSPORT_VPN) }
    }
}
