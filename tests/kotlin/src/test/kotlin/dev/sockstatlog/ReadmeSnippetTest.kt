package dev.sockstatlog

import java.io.File
import java.nio.file.Files
import kotlin.test.assertTrue
import org.junit.jupiter.api.Test

// The README's Kotlin snippet, verbatim between the markers, so that it keeps compiling.
// README-SNIPPET-BEGIN
fun runSockstats(filesDir: File, backendPublicId: String, pushes: Int) {
    val config = defaultLoggerConfig(File(filesDir, "sockstats").path, backendPublicId)
    SockstatLogger(config).use { logger ->
        logger.registerLabel(20, "TunnelUDP")
        logger.setInterface("wlan0", InterfaceKind.WIFI)
        logger.enable()
        logger.add(20, 1200, 800)                   // UniFFI: a few µs, fine at 10 Hz
        val handle = logger.fastCountersHandle()
        repeat(pushes) { FastCounters.add(handle, 20, 1200, 800) } // JNI: tens of ns
        try {
            logger.add(300, 1, 1)
        } catch (e: SockstatException.InvalidArgument) {
            println("rejected: ${e.reason}")
        }
        logger.shutdown(timeoutMs = 2_000)           // writes what is pending
    }
}
// README-SNIPPET-END

class ReadmeSnippetTest {
    @Test
    fun `the README snippet runs`() {
        val dir = Files.createTempDirectory("sockstatlog-readme").toFile()
        runSockstats(dir, BACKEND_ID, pushes = 10)
        assertTrue(File(dir, "sockstats").isDirectory)
    }
}
