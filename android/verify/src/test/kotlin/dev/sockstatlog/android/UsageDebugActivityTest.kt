package dev.sockstatlog.android

import android.widget.ListView
import android.widget.TextView
import dev.sockstatlog.InterfaceKind
import dev.sockstatlog.SockstatLogger
import dev.sockstatlog.example.UsageDebugActivity
import dev.sockstatlog.example.UsageRow
import kotlin.test.assertEquals
import org.junit.After
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.Robolectric
import org.robolectric.RobolectricTestRunner
import org.robolectric.Shadows.shadowOf
import org.robolectric.annotation.Config

/** The example usage screen under Robolectric: rows by bytes, cellular highlighted, from `recentUsage`. */
@RunWith(RobolectricTestRunner::class)
@Config(sdk = [Sdks.MIN_TESTED, Sdks.COMPILE])
class UsageDebugActivityTest {
    @After
    fun forgetTheLogger() {
        UsageDebugActivity.loggerProvider = { null }
    }

    @Test
    fun `the usage screen lists labels by bytes and highlights the cellular ones`() {
        val logger = SockstatLogger(testConfig())
        logger.registerLabel(200, "VideoUpload")
        logger.setInterface("wlan0", InterfaceKind.WIFI)
        logger.enable()
        logger.add(201, 5L, 5L)
        logger.add(200, 1_000L, 10L)
        logger.setInterface("rmnet_data0", InterfaceKind.UNKNOWN)
        logger.add(200, 0L, 500L)
        logger.disable()
        UsageDebugActivity.loggerProvider = { logger }

        val controller = Robolectric.buildActivity(UsageDebugActivity::class.java).setup()
        shadowOf(android.os.Looper.getMainLooper()).idle()
        val activity = controller.get()
        assertEquals(
            listOf(UsageRow(200, "VideoUpload", 1_510L, 500L), UsageRow(201, "Label(201)", 10L, 0L)),
            activity.rows(),
        )
        val list = activity.findViewById<android.view.ViewGroup>(android.R.id.content)!!.getChildAt(0) as ListView
        val first = list.adapter.getView(0, null, list) as TextView
        assertEquals("VideoUpload  1.5 KB (500 B cellular)", first.text.toString())
        assertEquals(UsageDebugActivity.CELLULAR_COLOR, first.currentTextColor)
        val second = list.adapter.getView(1, null, list) as TextView
        assertEquals("Label(201)  10 B", second.text.toString())

        logger.shutdown(5_000L)
        shadowOf(android.os.Looper.getMainLooper()).idleFor(java.time.Duration.ofMillis(UsageDebugActivity.REFRESH_MS))
        assertEquals(emptyList(), activity.rows(), "a shut-down logger shows an empty screen")
        controller.pause().destroy()
    }
}
