package dev.sockstatlog

import kotlin.concurrent.thread
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertTrue
import org.junit.jupiter.api.Test

/** The JNI fast path beside the UniFFI path: the totals must agree. */
class FastCountersTest {
    @Test
    fun `JNI pushes and UniFFI pushes land in the same counters`() {
        SockstatLogger(testConfig()).use { logger ->
            val h = logger.fastCountersHandle()
            logger.enable()
            repeat(1_000) {
                assertTrue(FastCounters.add(h, 7, 3, 4))
                logger.add(8, 3L, 4L)
            }
            assertTrue(FastCounters.addMany(h, intArrayOf(7, 8, 9), longArrayOf(1, 1, 1), longArrayOf(0, 0, 5)))
            FastCounters.setTotals(h, 10, 500, 600)
            logger.disable()
            val got = totals(events(logger.export()))
            assertEquals(3_001L to 4_000L, got[7])
            assertEquals(got[7], got[8])
            assertEquals(1L to 5L, got[9])
            assertEquals(500L to 600L, got[10])
            logger.shutdown(5_000L)
        }
    }

    @Test
    fun `a large addMany crosses the native chunk size`() {
        SockstatLogger(testConfig()).use { logger ->
            val h = logger.fastCountersHandle()
            logger.enable()
            val n = 1_000
            assertTrue(FastCounters.addMany(h, IntArray(n) { it % 256 }, LongArray(n) { 1 }, LongArray(n) { 2 }))
            logger.disable()
            val got = totals(events(logger.export()))
            assertEquals(n.toLong(), got.values.sumOf { it.first })
            assertEquals(2L * n, got.values.sumOf { it.second })
            logger.shutdown(5_000L)
        }
    }

    @Test
    fun `many threads on the JNI path lose nothing`() {
        SockstatLogger(testConfig()).use { logger ->
            val h = logger.fastCountersHandle()
            logger.enable()
            (0 until 8).map { thread { repeat(100_000) { FastCounters.add(h, 12, 1, 1) } } }.forEach { it.join() }
            logger.disable()
            assertEquals(800_000L to 800_000L, totals(events(logger.export()))[12])
            logger.shutdown(5_000L)
        }
    }

    @Test
    fun `bad arguments throw IllegalArgumentException and change nothing`() {
        SockstatLogger(testConfig()).use { logger ->
            val h = logger.fastCountersHandle()
            logger.enable()
            assertFailsWith<IllegalArgumentException> { FastCounters.add(0, 1, 1, 1) }
            assertFailsWith<IllegalArgumentException> { FastCounters.add(h, 256, 1, 1) }
            assertFailsWith<IllegalArgumentException> { FastCounters.add(h, -1, 1, 1) }
            assertFailsWith<IllegalArgumentException> { FastCounters.add(h, 1, -1, 1) }
            assertFailsWith<IllegalArgumentException> {
                FastCounters.addMany(h, intArrayOf(1, 2), longArrayOf(1), longArrayOf(1, 1))
            }
            assertFailsWith<IllegalArgumentException> {
                FastCounters.addMany(h, intArrayOf(1, 300), longArrayOf(1, 1), longArrayOf(1, 1))
            }
            logger.disable()
            assertEquals(null, totals(events(logger.export()))[1])
            logger.shutdown(5_000L)
        }
    }

    @Test
    fun `a handle of a shut-down logger is harmless`() {
        val logger = SockstatLogger(testConfig())
        val h = logger.fastCountersHandle()
        logger.shutdown(5_000L)
        logger.close()
        System.gc()
        assertFalse(FastCounters.add(h, 1, 1, 1))
        assertFalse(FastCounters.setTotals(h, 1, 1, 1))
        assertFalse(FastCounters.addMany(h, intArrayOf(1), longArrayOf(1), longArrayOf(1)))
    }
}
