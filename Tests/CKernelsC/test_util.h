// Small harness shared by the kernel tests: a seeded generator, pass/fail counting, and the
// loop over every kernel variant this CPU supports (each compared with the reference).
#ifndef TEST_UTIL_H
#define TEST_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "CKernels.h"

static int t_passed, t_failed;

// One named check: counts once, prints the first few failures of a run.
static void check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#include <stdarg.h>
static void check(int ok, const char *fmt, ...) {
    if (ok) {
        t_passed++;
        return;
    }
    t_failed++;
    if (t_failed <= 30) {
        va_list ap;
        va_start(ap, fmt);
        printf("FAIL: ");
        vprintf(fmt, ap);
        printf("\n");
        va_end(ap);
    }
}

static int finish(void) {
    printf("%d passed, %d failed\n", t_passed, t_failed);
    return t_failed ? 1 : 0;
}

// xorshift64*: reproducible across platforms (no libc rand()).
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rng_u32(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545F4914F6CDD1Dull) >> 32);
}
static float rng_uniform(float lo, float hi) { return lo + (hi - lo) * (float)(rng_u32() >> 8) / 16777216.0f; }
// Roughly normal (sum of uniforms), the shape of real activations.
static float rng_normal(float sigma) {
    float s = 0.0f;
    for (int i = 0; i < 4; i++) s += rng_uniform(-1.0f, 1.0f);
    return s * 0.866f * sigma;
}

static void fill_normal(float *x, size_t n, float sigma) {
    for (size_t i = 0; i < n; i++) x[i] = rng_normal(sigma);
}

// Unit roundoff of fp32 and the classic bound gamma_n = n u / (1 - n u) on the error of any
// order of summing n products (Higham, Accuracy and Stability of Numerical Algorithms, 3.1).
#define U32 (1.0 / 16777216.0)
static double gamma_n(double n) { return n * U32 / (1.0 - n * U32); }

// Runs the body once per variant this CPU supports, with v active: FOR_EACH_VARIANT from the
// reference on, FOR_EACH_SIMD_VARIANT the others.
#define FOR_EACH_VARIANT_FROM(v, first)                                                         \
    for (ck_variant v = (first); v < CK_VARIANT_COUNT; v = (ck_variant)(v + 1))                 \
        if (ck_set_variant(v) != 0) {} else
#define FOR_EACH_VARIANT(v) FOR_EACH_VARIANT_FROM(v, CK_VARIANT_REF)
#define FOR_EACH_SIMD_VARIANT(v) FOR_EACH_VARIANT_FROM(v, (ck_variant)(CK_VARIANT_REF + 1))

static void print_variants(void) {
    printf("variants: best %s, active %s, tested:", ck_variant_name(ck_cpu_best_variant()),
           ck_variant_name(ck_active_variant()));
    for (int v = 0; v < CK_VARIANT_COUNT; v++)
        if (ck_cpu_supports((ck_variant)v)) printf(" %s", ck_variant_name((ck_variant)v));
    printf("; not run (another architecture, or instructions this CPU lacks):");
    for (int v = 0; v < CK_VARIANT_COUNT; v++)
        if (!ck_cpu_supports((ck_variant)v)) printf(" %s", ck_variant_name((ck_variant)v));
    printf("\n");
}

static inline double max_abs(const float *x, size_t n) {
    double m = 0.0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)x[i]));
    return m;
}

#endif
