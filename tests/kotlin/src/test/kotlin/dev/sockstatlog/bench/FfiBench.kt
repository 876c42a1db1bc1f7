package dev.sockstatlog.bench

import dev.sockstatlog.BACKEND_ID
import dev.sockstatlog.CounterSample
import dev.sockstatlog.FastCounters
import dev.sockstatlog.SockstatLogger
import dev.sockstatlog.defaultLoggerConfig
import java.nio.file.Files

/**
 * One JVM, four ways to push a counter, ns per push: UniFFI/JNA `add`,
 * UniFFI `pushBatch` (per sample), JNI `FastCounters.add` and JNI
 * `FastCounters.addMany` (per sample). Each case runs warm-up rounds until
 * the JIT settles, then [ROUNDS] timed rounds; the median round is reported.
 * Run with `mvn -f tests/kotlin/pom.xml -Pbench -DskipTests verify`
 * (against the release library: `-Dsockstatlog.libdir=target/release`).
 */
private const val WARMUP_ROUNDS = 5
private const val ROUNDS = 7
private const val BATCH = 64

private fun bench(name: String, pushesPerRound: Long, round: () -> Unit): Double {
    repeat(WARMUP_ROUNDS) { round() }
    val perPush = (1..ROUNDS).map {
        val t0 = System.nanoTime()
        round()
        (System.nanoTime() - t0).toDouble() / pushesPerRound
    }.sorted()
    val median = perPush[ROUNDS / 2]
    println("%-36s %10.1f ns/push   (min %.1f, max %.1f, %d pushes/round)".format(name, median, perPush.first(), perPush.last(), pushesPerRound))
    return median
}

fun main() {
    val dir = Files.createTempDirectory("sockstatlog-bench")
    val logger = SockstatLogger(defaultLoggerConfig(dir.toString(), BACKEND_ID))
    logger.enable()
    val handle = logger.fastCountersHandle()
    val samples = List(BATCH) { CounterSample((20 + it % 8), 1200L, 800L, false) }
    val labels = IntArray(BATCH) { 20 + it % 8 }
    val tx = LongArray(BATCH) { 1200 }
    val rx = LongArray(BATCH) { 800 }

    println("JVM ${System.getProperty("java.vm.name")} ${System.getProperty("java.version")}, ${Runtime.getRuntime().availableProcessors()} cpus")
    val uniffiN = 50_000L
    val uniffi = bench("UniFFI/JNA add", uniffiN) { for (i in 0 until uniffiN) logger.add(20, 1200L, 800L) }
    val batchCalls = 5_000L
    val batch = bench("UniFFI pushBatch($BATCH), per sample", batchCalls * BATCH) { for (i in 0 until batchCalls) logger.pushBatch(samples) }
    val jniN = 20_000_000L
    val jni = bench("JNI FastCounters.add", jniN) { for (i in 0 until jniN) FastCounters.add(handle, 20, 1200, 800) }
    val manyCalls = 500_000L
    val many = bench("JNI addMany($BATCH), per sample", manyCalls * BATCH) { for (i in 0 until manyCalls) FastCounters.addMany(handle, labels, tx, rx) }
    println("UniFFI add / JNI add = %.0fx; UniFFI add / pushBatch per sample = %.0fx; JNI add / addMany per sample = %.1fx"
        .format(uniffi / jni, uniffi / batch, jni / many))
    logger.shutdown(5_000L)
    logger.close()
}
