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
    fun `a bad element anywhere in addMany applies nothing`() {
        SockstatLogger(testConfig()).use { logger ->
            val h = logger.fastCountersHandle()
            logger.enable()
            for (n in listOf(1, 3, 256, 257, 1_000)) {
                for (at in setOf(0, n / 2, n - 1)) {
                    for (bad in listOf("label", "tx", "rx")) {
                        val labels = IntArray(n) { 20 }
                        val tx = LongArray(n) { 1 }
                        val rx = LongArray(n) { 1 }
                        when (bad) {
                            "label" -> labels[at] = 256
                            "tx" -> tx[at] = -1
                            else -> rx[at] = Long.MIN_VALUE
                        }
                        val e = assertFailsWith<IllegalArgumentException>("$bad at $at of $n") {
                            FastCounters.addMany(h, labels, tx, rx)
                        }
                        assertTrue(e.message!!.contains(bad), e.message)
                    }
                }
            }
            assertTrue(FastCounters.add(h, 21, 1, 1), "the logger still takes pushes")
            logger.disable()
            val got = totals(events(logger.export()))
            assertEquals(null, got[20], "no element of a refused batch landed")
            assertEquals(1L to 1L, got[21])
            logger.shutdown(5_000L)
        }
    }

    @Test
    fun `addMany against a thread rewriting its arrays applies each call whole or not at all`() {
        SockstatLogger(testConfig()).use { logger ->
            val h = logger.fastCountersHandle()
            logger.enable()
            val n = 1_000 // above the native stack chunk, so the large path is covered too
            val labels = IntArray(n) { 30 }
            val tx = LongArray(n) { 1 }
            val rx = LongArray(n) { 0 }
            val done = java.util.concurrent.atomic.AtomicBoolean(false)
            // Flips the last element between valid and invalid, and moves the
            // first between two labels, as fast as it can.
            val writer = thread {
                var i = 0
                while (!done.get()) {
                    labels[n - 1] = if (i % 2 == 0) 300 else 30
                    labels[0] = if (i % 3 == 0) 31 else 30
                    i++
                }
            }
            var applied = 0L
            var refused = 0L
            repeat(2_000) {
                try {
                    assertTrue(FastCounters.addMany(h, labels, tx, rx))
                    applied++
                } catch (e: IllegalArgumentException) {
                    refused++
                }
            }
            done.set(true)
            writer.join()
            logger.disable()
            val got = totals(events(logger.export()))
            // Whatever the interleaving: every applied call added exactly n
            // bytes (to labels 30 and 31), every refused call none.
            val sent = (got[30]?.first ?: 0L) + (got[31]?.first ?: 0L)
            assertEquals(applied * n, sent, "applied $applied, refused $refused")
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
