package dev.sockstatlog.example

import android.app.Activity
import android.graphics.Color
import android.os.Bundle
import android.os.Handler
import android.os.Looper
import android.view.View
import android.view.ViewGroup
import android.widget.ArrayAdapter
import android.widget.ListView
import android.widget.TextView
import dev.sockstatlog.LabelUsage
import dev.sockstatlog.SockstatException
import dev.sockstatlog.SockstatLoggerInterface

/**
 * An in-app "network usage" debug screen: what each labelled subsystem moved
 * in the last minute, largest first, cellular rows highlighted. The rows come
 * from `recentUsage(windowMs)`, answered from the logger's memory (no disk, no
 * log parsing), so the screen refreshes every second at no cost.
 *
 * Not shipped in the AAR; compiled against the Android API and run under
 * Robolectric by `android/verify` (UsageDebugActivityTest). The activity
 * finds the logger through [loggerProvider]; an app whose logger lives in
 * its VPN service points it at that service's session.
 */
class UsageDebugActivity : Activity() {
    private lateinit var adapter: ArrayAdapter<UsageRow>
    private val main = Handler(Looper.getMainLooper())
    private val refresh = object : Runnable {
        override fun run() {
            show(UsageRow.of(loggerProvider()))
            main.postDelayed(this, REFRESH_MS)
        }
    }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        title = "Network usage, last minute"
        adapter = object : ArrayAdapter<UsageRow>(this, android.R.layout.simple_list_item_1) {
            override fun getView(position: Int, convertView: View?, parent: ViewGroup): View {
                val view = super.getView(position, convertView, parent) as TextView
                val row = getItem(position)!!
                view.text = row.text
                view.setTextColor(if (row.highlighted) CELLULAR_COLOR else Color.BLACK)
                return view
            }
        }
        setContentView(ListView(this).also { it.adapter = adapter })
    }

    override fun onResume() {
        super.onResume()
        main.post(refresh)
    }

    override fun onPause() {
        main.removeCallbacks(refresh)
        super.onPause()
    }

    /** The rows on screen now. */
    fun rows(): List<UsageRow> = (0 until adapter.count).map { adapter.getItem(it)!! }

    private fun show(rows: List<UsageRow>) {
        adapter.clear()
        adapter.addAll(rows)
    }

    companion object {
        /** How often the visible screen re-reads the record, ms. */
        const val REFRESH_MS = 1_000L
        /** The window the screen shows, ms. */
        const val WINDOW_MS = 60_000L
        /** The colour of a row some of whose bytes used the data plan. */
        val CELLULAR_COLOR: Int = Color.rgb(0xE6, 0x51, 0x00)

        /** Where the screen reads from; null shows an empty list. */
        @JvmStatic
        var loggerProvider: () -> SockstatLoggerInterface? = { null }
    }
}

/** One line of the usage screen. */
data class UsageRow(val label: Int, val title: String, val totalBytes: Long, val cellularBytes: Long) {
    /** Some of the bytes went over cellular: drawn in [UsageDebugActivity.CELLULAR_COLOR]. */
    val highlighted: Boolean get() = cellularBytes > 0

    /** "VideoUpload  1.5 KB (500 B cellular)". */
    val text: String
        get() = "$title  ${format(totalBytes)}" + if (highlighted) " (${format(cellularBytes)} cellular)" else ""

    companion object {
        /** The rows for the last [windowMs], largest first (the core's order); a closed logger shows none. */
        fun of(logger: SockstatLoggerInterface?, windowMs: Long = UsageDebugActivity.WINDOW_MS): List<UsageRow> {
            val usage = try {
                logger?.recentUsage(windowMs).orEmpty()
            } catch (e: SockstatException) {
                emptyList()
            }
            return usage.map(::from)
        }

        fun from(u: LabelUsage) = UsageRow(u.label, u.name ?: "Label(${u.label})", u.tx + u.rx, u.cellularTx + u.cellularRx)

        /** Decimal units, one decimal place: "512 B", "1.5 KB", "12.0 MB". */
        fun format(bytes: Long): String {
            if (bytes < 1_000) return "$bytes B"
            var value = bytes / 1_000.0
            var unit = 0
            val units = listOf("KB", "MB", "GB", "TB")
            while (value >= 1_000 && unit < units.size - 1) {
                value /= 1_000
                unit++
            }
            return String.format(java.util.Locale.ROOT, "%.1f %s", value, units[unit])
        }
    }
}
