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
    fun `a forged handle returns false and crashes nothing`() {
        SockstatLogger(testConfig()).use { logger ->
            val h = logger.fastCountersHandle().toLong()
            logger.enable()
            val random = java.util.Random(42)
            val forged = listOf(0L, -1L, 1L, 8L, h + 1, h - 1, h + 2, h xor (1L shl 40), Long.MIN_VALUE, Long.MAX_VALUE) +
                List(10_000) { random.nextLong() }.filter { it != h }
            for (f in forged) {
                assertFalse(FastCounters.add(f, 1, 1, 1), "add($f)")
                assertFalse(FastCounters.setTotals(f, 1, 1, 1), "setTotals($f)")
                assertFalse(FastCounters.addMany(f, intArrayOf(1), longArrayOf(1), longArrayOf(1)), "addMany($f)")
                // Not a live handle: false before the arguments are looked at.
                assertFalse(FastCounters.add(f, 300, -1, -1), "add($f) with bad arguments")
            }
            assertTrue(FastCounters.add(h, 2, 5, 6), "the real handle still works")
            logger.disable()
            val got = totals(events(logger.export()))
            assertEquals(null, got[1], "no forged push landed")
            assertEquals(5L to 6L, got[2])
            logger.shutdown(5_000L)
        }
    }

    @Test
    fun `a handle is never reused by the next logger`() {
        val first = SockstatLogger(testConfig())
        val old = first.fastCountersHandle().toLong()
        first.shutdown(5_000L)
        first.close()
        SockstatLogger(testConfig()).use { second ->
            val h = second.fastCountersHandle().toLong()
            assertTrue(h != old, "a new logger gets a new handle, even in a reused slot")
            second.enable()
            assertFalse(FastCounters.add(old, 3, 1, 1), "the old handle does not reach the new logger")
            assertTrue(FastCounters.add(h, 4, 1, 1))
            second.disable()
            val got = totals(events(second.export()))
            assertEquals(null, got[3])
            assertEquals(1L to 1L, got[4])
            second.shutdown(5_000L)
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
