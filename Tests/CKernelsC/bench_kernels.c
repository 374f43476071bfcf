// Benchmark of the matmul kernels on the BLIP-2 shapes, with the machine's anchors measured in
// the same run: read bandwidth (a sum over a buffer far larger than the caches) and, when
// libopenblas can be loaded, OpenBLAS sgemm on the same shapes. Prints a Markdown table.
//
//   bench_kernels [--quick] [--threads N] [--decode | --vit]
//
// Decode and beam steps (n <= 8) are timed over as many copies of the weights as it takes to exceed 256 MiB,
// cycled, so that every weight byte comes from memory as in a real decode step, not from L3.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "CKernels.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

// Weights with valid bytes: random quants, scales about 0.01, halves in a normal range.
static void fill_weights(ck_type t, uint8_t *w, size_t rows, size_t k) {
    size_t rb = ck_row_size(t, k), n = rb * rows;
    for (size_t i = 0; i + 8 <= n; i += 8) {
        uint64_t r = next();
        memcpy(w + i, &r, 8);
    }
    if (t == CK_TYPE_F16) {
        ck_half *h = (ck_half *)w;
        for (size_t i = 0; i < n / 2; i++) h[i] = (ck_half)(0x2000 | (h[i] & 0x83FF));
    } else if (t == CK_TYPE_Q4_0X8) {
        for (size_t b = 0; b + 144 <= n; b += 144)
            for (int r = 0; r < 8; r++) {
                ck_half d = 0x2000 | (ck_half)(next() & 0x3FF);
                memcpy(w + b + 2 * r, &d, 2);
            }
    } else {
        size_t bsz = t == CK_TYPE_Q4_0 ? 18 : 34;
        for (size_t b = 0; b + bsz <= n; b += bsz) {
            ck_half d = 0x2000 | (ck_half)(next() & 0x3FF);
            memcpy(w + b, &d, 2);
        }
    }
}

// ---- stream-sum read bandwidth ------------------------------------------------------------

typedef struct {
    const float *buf;
    size_t n;
    double sums[64];
} stream_job;

#if defined(__x86_64__)
#include <immintrin.h>
__attribute__((target("avx2"))) static double sum_range(const float *p, size_t n) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i + 32 <= n; i += 32) {
        a0 = _mm256_add_ps(a0, _mm256_load_ps(p + i));
        a1 = _mm256_add_ps(a1, _mm256_load_ps(p + i + 8));
        a2 = _mm256_add_ps(a2, _mm256_load_ps(p + i + 16));
        a3 = _mm256_add_ps(a3, _mm256_load_ps(p + i + 24));
    }
    float t[8];
    _mm256_storeu_ps(t, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    return t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
}
#else
static double sum_range(const float *p, size_t n) {
    float a[16] = {0};
    for (size_t i = 0; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++) a[j] += p[i + j];
    double s = 0;
    for (int j = 0; j < 16; j++) s += a[j];
    return s;
}
#endif

static void stream_task(void *ctx, int ith, int nth) {
    stream_job *j = ctx;
    size_t per = (j->n / nth) & ~(size_t)63;
    size_t lo = per * ith, hi = ith == nth - 1 ? j->n : lo + per;
    j->sums[ith] = sum_range(j->buf + lo, hi - lo);
}

static double stream_bandwidth(ck_pool *pool, const float *buf, size_t n, int reps) {
    double t[16];
    stream_job j = {buf, n, {0}};
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        ck_pool_run(pool, stream_task, &j);
        t[r] = now() - t0;
    }
    return n * 4.0 / median(t, reps) / 1e9;
}

// ---- int8 peak: the instruction the n > 1 kernels are built on, one thread ----------------
//
// Independent accumulators (more than any latency needs) over registers that stay in place:
// the ceiling of int8 products per second that no kernel of the variant can pass. Counted as
// 2 operations per product, like the matmuls' GFLOP/s. Measured for the x86 variants only.
#if defined(__x86_64__)
#include <immintrin.h>
#define PEAK_ITERS 20000000

__attribute__((target("avx2"))) static double peak_avx2(void) {
    // vpmaddubsw + vpaddw (32 products into int16 pairs, as the Q4_0 kernel sums a block) on
    // twelve independent accumulators, in assembly so that no compiler spills them. A chain's
    // pair takes 4 cycles on Zen 3, which issues two vpmaddubsw a cycle, so six chains (this
    // benchmark until 2026-12-02) measured latency, not throughput: 267 GOP/s where twelve give
    // about 330 on the same core (ten gave the same: twelve leave a margin).
    __m256i s = _mm256_set1_epi8(5), u0 = _mm256_set1_epi8(1), u1 = _mm256_set1_epi8(2);
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0,
            a9 = a0, a10 = a0, a11 = a0;
#define PEAK_PAIR(u, a, t) "vpmaddubsw %[s], %[" #u "], %%ymm" #t "\n\tvpaddw %%ymm" #t ", %[" #a "], %[" #a "]\n\t"
    double t0 = now();
    for (int it = 0; it < PEAK_ITERS / 12; it++) {
        __asm__ volatile(PEAK_PAIR(u0, a0, 15) PEAK_PAIR(u1, a1, 15) PEAK_PAIR(u0, a2, 15) PEAK_PAIR(u1, a3, 15)
                         PEAK_PAIR(u0, a4, 15) PEAK_PAIR(u1, a5, 15) PEAK_PAIR(u0, a6, 15) PEAK_PAIR(u1, a7, 15)
                         PEAK_PAIR(u0, a8, 15) PEAK_PAIR(u1, a9, 15) PEAK_PAIR(u0, a10, 15) PEAK_PAIR(u1, a11, 15)
                         : [a0] "+x"(a0), [a1] "+x"(a1), [a2] "+x"(a2), [a3] "+x"(a3), [a4] "+x"(a4),
                           [a5] "+x"(a5), [a6] "+x"(a6), [a7] "+x"(a7), [a8] "+x"(a8), [a9] "+x"(a9),
                           [a10] "+x"(a10), [a11] "+x"(a11)
                         : [s] "x"(s), [u0] "x"(u0), [u1] "x"(u1)
                         : "xmm15");
    }
#undef PEAK_PAIR
    double sec = now() - t0;
    __m256i sum = _mm256_add_epi16(_mm256_add_epi16(_mm256_add_epi16(a0, a1), _mm256_add_epi16(a2, a3)),
                                   _mm256_add_epi16(_mm256_add_epi16(a4, a5), _mm256_add_epi16(a6, a7)));
    sum = _mm256_add_epi16(sum, _mm256_add_epi16(_mm256_add_epi16(a8, a9), _mm256_add_epi16(a10, a11)));
    volatile int sink = _mm256_extract_epi32(sum, 0);
    (void)sink;
    return 2.0 * 32 * (PEAK_ITERS / 12 * 12) / sec / 1e9;
}

__attribute__((target("avx512f,avx512bw,avx512vnni"))) static double peak_avx512_vnni(void) {
    __m512i a[16], u = _mm512_set1_epi8(3), s = _mm512_set1_epi8(5);
    for (int i = 0; i < 16; i++) a[i] = _mm512_setzero_si512();
    double t0 = now();
    for (int it = 0; it < PEAK_ITERS / 16; it++) {
        // One vpdpbusd on 512 bits: 64 products into 16 int32 lanes.
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++) a[i] = _mm512_dpbusd_epi32(a[i], u, s);
        __asm__ volatile("" : "+v"(u), "+v"(s));
    }
    double sec = now() - t0;
    __m512i sum = a[0];
    for (int i = 1; i < 16; i++) sum = _mm512_add_epi32(sum, a[i]);
    volatile int sink = _mm_cvtsi128_si32(_mm512_castsi512_si128(sum));
    (void)sink;
    return 2.0 * 64 * PEAK_ITERS / sec / 1e9;
}
#endif

// The best of five short runs: a shared host only ever makes a run slower.
static double int8_peak(void) {
    double best = 0;
#if defined(__x86_64__)
    for (int run = 0; run < 5; run++) {
        double p = 0;
        if (ck_active_variant() == CK_VARIANT_AVX512_VNNI) p = peak_avx512_vnni();
        if (ck_active_variant() == CK_VARIANT_AVX2) p = peak_avx2();
        if (p > best) best = p;
    }
#endif
    return best;
}

// ---- OpenBLAS, loaded at run time ----------------------------------------------------------

typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *,
                         int, float, float *, int);
typedef void (*set_threads_fn)(int);
static sgemm_fn blas_sgemm;
static set_threads_fn blas_set_threads;

static void load_openblas(void) {
    const char *names[] = {"libopenblas.so.0", "libopenblas.so", "libopenblas.dylib"};
    for (size_t i = 0; i < 3 && !blas_sgemm; i++) {
        void *h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (!h) continue;
        blas_sgemm = (sgemm_fn)dlsym(h, "cblas_sgemm");
        blas_set_threads = (set_threads_fn)dlsym(h, "openblas_set_num_threads");
    }
}

// ---- matmul timing ---------------------------------------------------------------------------

typedef struct {
    int m, k, n;
} shape;

static const char *type_name(ck_type t) {
    return t == CK_TYPE_Q4_0 ? "Q4_0" : t == CK_TYPE_Q4_0X8 ? "Q4_0x8" : t == CK_TYPE_Q8_0 ? "Q8_0" : t == CK_TYPE_F16 ? "F16" : "F32";
}

// Median seconds per matmul; for n = 1 cycling through copies of W (cold weights).
static double time_matmul(ck_pool *pool, ck_type t, shape s, int reps, int sgemm) {
    size_t rb = ck_row_size(t, (size_t)s.k), wbytes = rb * (size_t)s.m;
    int copies = 1;
    if (s.n <= 8) { // decode and beam steps: weights streamed from memory, as in the model
        copies = (int)((256u << 20) / wbytes) + 1;
        if (copies > 64) copies = 64;
    }
    uint8_t **w = malloc(sizeof(uint8_t *) * (size_t)copies);
    for (int c = 0; c < copies; c++) {
        w[c] = aligned_alloc(64, (wbytes + 63) / 64 * 64);
        fill_weights(t, w[c], (size_t)s.m, (size_t)s.k);
    }
    float *x = aligned_alloc(64, sizeof(float) * (size_t)s.n * s.k);
    for (size_t i = 0; i < (size_t)s.n * s.k; i++) x[i] = (float)((int)(next() % 2001) - 1000) * 1e-3f;
    float *y = aligned_alloc(64, sizeof(float) * (size_t)s.n * s.m);
    double times[32];
    for (int r = -1; r < reps; r++) { // one warm-up pass
        double t0 = now();
        for (int c = 0; c < copies; c++) {
            if (sgemm)
                blas_sgemm(101, 111, 112, s.n, s.m, s.k, 1.0f, x, s.k, (const float *)w[c], s.k, 0.0f, y, s.m);
            else
                ck_matmul(pool, t, w[c], x, NULL, y, s.n, s.m, s.k);
        }
        if (r >= 0) times[r] = (now() - t0) / copies;
    }
    for (int c = 0; c < copies; c++) free(w[c]);
    free(w);
    free(x);
    free(y);
    return median(times, reps);
}

int main(int argc, char **argv) {
    int quick = 0, max_threads = ck_cpu_count(), parts = 3; // bit 0: decode shapes, bit 1: ViT
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--decode")) parts = 1;
        else if (!strcmp(argv[i], "--vit")) parts = 2;
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) max_threads = atoi(argv[++i]);
    }
    int reps = quick ? 3 : 5;
    load_openblas();
    printf("kernels: %s; threads: 1 and %d; %s\n\n", ck_variant_name(ck_active_variant()), max_threads,
           blas_sgemm ? "OpenBLAS loaded" : "OpenBLAS not found");
    int thread_counts[2] = {1, max_threads};
    int nthr = max_threads > 1 ? 2 : 1;

    size_t sn = (quick ? 256u << 20 : 1u << 30) / 4;
    float *buf = aligned_alloc(64, sn * 4);
    for (size_t i = 0; i < sn; i++) buf[i] = (float)(i & 1023);
    double bw[2];
    for (int ti = 0; ti < nthr; ti++) {
        ck_pool *pool = ck_pool_create(thread_counts[ti]);
        bw[ti] = stream_bandwidth(pool, buf, sn, reps);
        ck_pool_destroy(pool);
    }
    free(buf);
    printf("| anchor | 1 thread | %d threads |\n|---|---|---|\n", max_threads);
    printf("| read bandwidth, stream sum of %zu MiB (GB/s) | %.1f | %.1f |\n", sn * 4 >> 20, bw[0], nthr > 1 ? bw[1] : bw[0]);
    double peak = int8_peak();
    if (peak > 0)
        printf("| int8 peak of the %s instructions, one core (GOP/s) | %.1f | |\n", ck_variant_name(ck_active_variant()), peak);
    printf("\n");

    // OPT-2.7b's decoder shapes, for a greedy step (n = 1) and a 5-beam step (n = 5), then the ViT's.
    const shape decode[] = {{2560, 2560, 1}, {10240, 2560, 1}, {2560, 10240, 1}, {50304, 2560, 1},
                            {2560, 2560, 5}, {10240, 2560, 5}, {2560, 10240, 5}, {50304, 2560, 5}};
    const shape vit[] = {{1408, 1408, 257}, {4224, 1408, 257}, {6144, 1408, 257}, {1408, 6144, 257}};
    const int counts[2] = {8, 4};
    // Q4_0x8 (blip2-quantize --layout q4_0x8) for the decoder's shapes only.
    const ck_type types[] = {CK_TYPE_Q4_0, CK_TYPE_Q4_0X8, CK_TYPE_Q8_0, CK_TYPE_F16};
    printf("| shape m x k | n | weights | threads | ms | GFLOP/s | weight GB/s | vs read BW | vs OpenBLAS |\n");
    printf("|---|---|---|---|---|---|---|---|---|\n");
    for (int part = 0; part < 2; part++) {
        if (!(parts >> part & 1)) continue;
        const shape *shapes = part == 0 ? decode : vit;
        for (int si = 0; si < counts[part]; si++) {
            shape s = shapes[si];
            double flop = 2.0 * s.n * s.m * s.k;
            double blas_gflops[2] = {0, 0};
            if (blas_sgemm && part == 1) {
                for (int ti = 0; ti < nthr; ti++) {
                    if (blas_set_threads) blas_set_threads(thread_counts[ti]);
                    double sec = time_matmul(NULL, CK_TYPE_F32, s, reps, 1);
                    blas_gflops[ti] = flop / sec / 1e9;
                    printf("| %dx%d | %d | F32 (OpenBLAS sgemm) | %d | %.2f | %.1f | %.1f | | |\n", s.m, s.k, s.n,
                           thread_counts[ti], sec * 1e3, blas_gflops[ti], ck_row_size(CK_TYPE_F32, s.k) * (double)s.m / sec / 1e9);
                }
            }
            for (size_t ty = 0; ty < 4; ty++) {
                if (types[ty] == CK_TYPE_Q4_0X8 && part != 0) continue;
                for (int ti = 0; ti < nthr; ti++) {
                    ck_pool *pool = ck_pool_create(thread_counts[ti]);
                    double sec = time_matmul(pool, types[ty], s, reps, 0);
                    ck_pool_destroy(pool);
                    double wgbs = ck_row_size(types[ty], s.k) * (double)s.m / sec / 1e9;
                    char vs_bw[32] = "", vs_blas[32] = "";
                    if (part == 0) snprintf(vs_bw, sizeof vs_bw, "%.0f%%", 100 * wgbs / bw[ti]);
                    if (blas_gflops[ti] > 0) snprintf(vs_blas, sizeof vs_blas, "%.2fx", flop / sec / 1e9 / blas_gflops[ti]);
                    printf("| %dx%d | %d | %s | %d | %.3f | %.1f | %.1f | %s | %s |\n", s.m, s.k, s.n, type_name(types[ty]),
                           thread_counts[ti], sec * 1e3, flop / sec / 1e9, wgbs, vs_bw, vs_blas);
                    fflush(stdout);
                }
            }
        }
    }
    return 0;
}
