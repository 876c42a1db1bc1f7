// The C-ABI cost Swift pays: calls the exported UniFFI scaffolding functions
// of libsockstatlog.so directly, the way the generated Swift does, and prints
// nanoseconds per call. Build and run with benches/ffi/run-c-bench.sh.
//
// Swift calls `clone` (uniffiCloneHandle) before every method call, so the
// figure that matters is "clone + add"; "add" alone is the method's floor.
#define _Nonnull
#define _Nullable
#include "SockstatLogFFI.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static RustCallStatus st;

static void check(const char *what) {
    if (st.code != 0) {
        fprintf(stderr, "%s failed: code %d: %.*s\n", what, st.code, (int)st.errorBuf.len,
                st.errorBuf.data ? (const char *)st.errorBuf.data : "");
        exit(1);
    }
}

static RustBuffer str_buf(const char *s) {
    ForeignBytes fb = {(int32_t)strlen(s), (const uint8_t *)s};
    RustBuffer b = ffi_sockstatlog_rustbuffer_from_bytes(fb, &st);
    check("rustbuffer_from_bytes");
    return b;
}

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void put_u32(uint8_t *p, uint32_t v) { for (int i = 3; i >= 0; i--) { p[i] = v & 0xff; v >>= 8; } }
static void put_u64(uint8_t *p, uint64_t v) { for (int i = 7; i >= 0; i--) { p[i] = v & 0xff; v >>= 8; } }

#define BATCH 64
#define SAMPLE_BYTES (4 + 8 + 8 + 1)

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/tmp/sockstatlog-c-bench";
    long n = argc > 2 ? atol(argv[2]) : 2000000;
    const char *id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    RustBuffer config = uniffi_sockstatlog_fn_func_default_logger_config(str_buf(dir), str_buf(id), &st);
    check("default_logger_config");
    uint64_t logger = uniffi_sockstatlog_fn_constructor_sockstatlogger_new(config, &st);
    check("SockstatLogger.new");
    uniffi_sockstatlog_fn_method_sockstatlogger_enable(uniffi_sockstatlog_fn_clone_sockstatlogger(logger, &st), &st);
    check("enable");

    // Serialized Vec<CounterSample>: i32 count, then (u32 label, u64 tx, u64 rx, i8 is_total), big-endian.
    static uint8_t batch[4 + BATCH * SAMPLE_BYTES];
    put_u32(batch, BATCH);
    for (int i = 0; i < BATCH; i++) {
        uint8_t *p = batch + 4 + i * SAMPLE_BYTES;
        put_u32(p, 20 + i % 8); put_u64(p + 4, 1200); put_u64(p + 12, 800); p[20] = 0;
    }
    ForeignBytes batch_bytes = {(int32_t)sizeof batch, batch};

    for (int round = 0; round < 2; round++) { // round 0 is the warm-up
        double t0 = now_ns();
        for (long i = 0; i < n; i++) {
            uniffi_sockstatlog_fn_method_sockstatlogger_add(uniffi_sockstatlog_fn_clone_sockstatlogger(logger, &st), 20, 1200, 800, &st);
        }
        double t1 = now_ns();
        check("add");
        // The method alone: keep one clone alive per call by cloning outside the timer is not
        // possible (the method consumes it), so measure clone alone and subtract.
        for (long i = 0; i < n; i++) {
            uint64_t h = uniffi_sockstatlog_fn_clone_sockstatlogger(logger, &st);
            uniffi_sockstatlog_fn_free_sockstatlogger(h, &st);
        }
        double t2 = now_ns();
        long batches = n / BATCH;
        for (long i = 0; i < batches; i++) {
            RustBuffer b = ffi_sockstatlog_rustbuffer_from_bytes(batch_bytes, &st);
            uniffi_sockstatlog_fn_method_sockstatlogger_push_batch(uniffi_sockstatlog_fn_clone_sockstatlogger(logger, &st), b, &st);
        }
        double t3 = now_ns();
        check("push_batch");
        if (round == 1) {
            printf("C ABI (as Swift calls it), %ld calls:\n", n);
            printf("  clone + add                 %8.1f ns/call\n", (t1 - t0) / n);
            printf("  clone + free (handle only)  %8.1f ns/call\n", (t2 - t1) / n);
            printf("  pushBatch of %d, per sample  %8.1f ns/sample (%.0f ns/call)\n", BATCH,
                   (t3 - t2) / (batches * (double)BATCH), (t3 - t2) / batches);
        }
    }
    uniffi_sockstatlog_fn_method_sockstatlogger_shutdown(uniffi_sockstatlog_fn_clone_sockstatlogger(logger, &st), 2000, &st);
    check("shutdown");
    uniffi_sockstatlog_fn_free_sockstatlogger(logger, &st);
    return 0;
}
