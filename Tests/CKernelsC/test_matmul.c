// Matmul kernels and the activation and weight quantizers: every SIMD variant against the
// reference.
//
// Tolerances, per weight type:
//  - Q4_0, Q8_0: 0 (bit-identical). Every variant forms the same exact integer block sums and
//    applies the same sequence of fp32 operations (scale product, then one fused multiply-add
//    per block in block order), so any difference is a bug. Exactness of the integer path is
//    also checked on its own against int64 arithmetic (scales of 1, sums below 2^24).
//  - F16, F32: products summed in a variant-dependent order. Any order of summing k products
//    errs by at most gamma_k * sum|x w| (u = 2^-24), so two orders differ by at most twice
//    that; the bias add is one more rounding on each side: TOL = 2 gamma_{k+2} (sum|x w| + |b|).
#include "test_util.h"

static const double TOL_F16_GAMMA_FACTOR = 2.0; // times gamma_{k+2} (sum|x w| + |bias|)
static const double TOL_F32_GAMMA_FACTOR = 2.0;

typedef struct {
    ck_type t;
    const char *name;
} type_case;

static const type_case types[] = {
    {CK_TYPE_Q4_0, "q4_0"}, {CK_TYPE_Q8_0, "q8_0"}, {CK_TYPE_F16, "f16"}, {CK_TYPE_F32, "f32"}};

// Weights for W[m x k] of type t, quantized from random normals by the gguf quantizers; a few
// rows get an all-zero block, a block of huge or tiny values, and (Q8_0) quants of -128, which a
// file may hold even though the quantizer never writes them.
static void *make_weights(ck_type t, int m, int k, float **wf_out) {
    size_t rb = ck_row_size(t, (size_t)k);
    float *wf = malloc(sizeof(float) * (size_t)m * k);
    fill_normal(wf, (size_t)m * k, 0.05f);
    for (int i = 0; i < m; i++) {
        if (k < 64) break;
        float *row = wf + (size_t)i * k;
        if (i % 3 == 1) memset(row + 32, 0, 32 * sizeof(float));
        if (i % 5 == 2) for (int j = 0; j < 32; j++) row[j] *= 1e4f;
        if (i % 7 == 3) for (int j = 0; j < 32; j++) row[j] *= 1e-6f;
    }
    uint8_t *w = malloc(rb * (size_t)m);
    for (int i = 0; i < m; i++) {
        const float *row = wf + (size_t)i * k;
        void *dst = w + rb * (size_t)i;
        switch (t) {
        case CK_TYPE_Q4_0: ck_quantize_q4_0_gguf(row, dst, (size_t)k); break;
        case CK_TYPE_Q8_0:
            ck_quantize_q8_0_gguf(row, dst, (size_t)k);
            if (i % 4 == 0) ((ck_block_q8_0 *)dst)[0].qs[i % 32] = -128;
            break;
        case CK_TYPE_F16: ck_fp32_to_fp16_row(row, dst, (size_t)k); break;
        case CK_TYPE_F32: memcpy(dst, row, sizeof(float) * (size_t)k); break;
        case CK_TYPE_Q4_0X8: break; // made from Q4_0 rows (test_q4_0x8)
        }
    }
    // The exact float values the kernels multiply, for the tolerance.
    for (int i = 0; i < m; i++) ck_row_to_float(t, w + rb * (size_t)i, wf + (size_t)i * k, (size_t)k);
    *wf_out = wf;
    return w;
}

// Activations: normals with some rows scaled huge (1e6: the Q8_0 scale 1e6/127 still fits fp16)
// or tiny (1e-3: subnormal fp16 scale; 1e-30: the scale flushes to 0), zero blocks, and exact
// ties of x / d (d = 1: x = 2.5 must round away from zero to 3, not to even 2).
static float *make_acts(int n, int k, int for_float) {
    float *x = malloc(sizeof(float) * (size_t)n * k);
    fill_normal(x, (size_t)n * k, 1.0f);
    for (int r = 0; r < n; r++) {
        float *row = x + (size_t)r * k;
        if (r % 4 == 1) for (int j = 0; j < k; j++) row[j] *= for_float ? 1e30f : 1e6f;
        if (r % 4 == 2) for (int j = 0; j < k; j++) row[j] *= r % 8 == 2 ? 1e-3f : 1e-30f;
        if (r % 5 == 3 && k >= 64) memset(row + 32, 0, 32 * sizeof(float));
        if (r % 6 == 5) {
            for (int j = 0; j < k; j++) row[j] = (float)((int)rng_u32() % 255 - 127) + 0.5f * (j & 1);
            for (int j = 0; j < k; j += 32) row[j] = 127.0f;
        }
    }
    return x;
}

static float *make_bias(int m) {
    float *b = malloc(sizeof(float) * (size_t)m);
    fill_normal(b, (size_t)m, 0.5f);
    return b;
}

// ck_quantize_row_q8_0 against ggml's definition written out here, then every variant against
// the reference, bytes compared.
static void test_quantize(void) {
    const int ks[] = {32, 64, 96, 1408, 10240};
    for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++) {
        int k = ks[ki];
        float *x = make_acts(8, k, 0);
        size_t nb = (size_t)k / 32;
        ck_block_q8_0 *ref = malloc(sizeof(ck_block_q8_0) * nb), *got = malloc(sizeof(ck_block_q8_0) * nb);
        for (int r = 0; r < 8; r++) {
            const float *row = x + (size_t)r * k;
            ck_set_variant(CK_VARIANT_REF);
            ck_quantize_row_q8_0(row, ref, (size_t)k);
            int ok = 1;
            for (size_t b = 0; b < nb; b++) {
                float amax = 0.0f;
                for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(row[b * 32 + j]));
                float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
                ok &= ref[b].d == ck_float_to_half_ref(d);
                for (int j = 0; j < 32; j++) ok &= ref[b].qs[j] == (int8_t)roundf(row[b * 32 + j] * id);
            }
            check(ok, "quantize_row_q8_0 ref matches ggml's definition, k=%d row %d", k, r);
            FOR_EACH_SIMD_VARIANT(v) {
                memset(got, 0x55, sizeof(ck_block_q8_0) * nb);
                ck_quantize_row_q8_0(row, got, (size_t)k);
                check(memcmp(ref, got, sizeof(ck_block_q8_0) * nb) == 0,
                      "quantize_row_q8_0 %s == ref, k=%d row %d", ck_variant_name(v), k, r);
            }
        }
        free(ref);
        free(got);
        free(x);
    }
}

// The gguf weight quantizers: every variant gives the reference's bytes and count of non-finite
// inputs (the Swift tests hold the reference to the gguf package) on normal, huge and tiny
// blocks, exact ties of x / d, blocks holding NaN or infinity, a zero block, and a block whose
// largest magnitude comes twice with both signs (the first one sets Q4_0's sign).
static void test_quantize_gguf(void) {
    enum { K = 1024, NB = K / 32 };
    float x[K];
    ck_block_q8_0 r8[NB], g8[NB];
    ck_block_q4_0 r4[NB], g4[NB];
    for (int pass = 0; pass < 6; pass++) {
        fill_normal(x, K, pass == 1 ? 1e4f : pass == 2 ? 1e-6f : 1.0f);
        if (pass == 3) for (int j = 0; j < K; j++) x[j] = (float)((int)(rng_u32() % 33) - 16) * 0.5f;
        if (pass == 4) { x[5] = NAN; x[100] = INFINITY; x[1000] = -INFINITY; }
        if (pass == 5) { memset(x, 0, 64 * sizeof(float)); x[40] = -3.0f; x[41] = 3.0f; }
        size_t bad8 = ck_quantize_q8_0_gguf_ref(x, r8, K), bad4 = ck_quantize_q4_0_gguf_ref(x, r4, K);
        FOR_EACH_SIMD_VARIANT(v) {
            memset(g8, 0x55, sizeof g8);
            memset(g4, 0x55, sizeof g4);
            check(ck_quantize_q8_0_gguf(x, g8, K) == bad8 && memcmp(r8, g8, sizeof r8) == 0,
                  "quantize_q8_0_gguf %s == ref, pass %d", ck_variant_name(v), pass);
            check(ck_quantize_q4_0_gguf(x, g4, K) == bad4 && memcmp(r4, g4, sizeof r4) == 0,
                  "quantize_q4_0_gguf %s == ref, pass %d", ck_variant_name(v), pass);
        }
    }
}

static int run_matmul(ck_pool *pool, ck_type t, const void *w, const float *x, const float *bias,
                      float *y, int n, int m, int k) {
    for (size_t i = 0; i < (size_t)n * m; i++) y[i] = NAN; // every output must be written
    return ck_matmul(pool, t, w, x, bias, y, n, m, k);
}

static void test_matmul_vs_ref(const type_case *tc, int n, int m, int k) {
    float *wf;
    void *w = make_weights(tc->t, m, k, &wf);
    int is_float = tc->t == CK_TYPE_F16 || tc->t == CK_TYPE_F32;
    float *x = make_acts(n, k, is_float);
    float *bias = make_bias(m);
    float *ref = malloc(sizeof(float) * (size_t)n * m), *got = malloc(sizeof(float) * (size_t)n * m);
    for (int with_bias = 0; with_bias < 2; with_bias++) {
        const float *b = with_bias ? bias : NULL;
        ck_set_variant(CK_VARIANT_REF);
        check(run_matmul(NULL, tc->t, w, x, b, ref, n, m, k) == 0, "matmul ref %s runs", tc->name);
        FOR_EACH_SIMD_VARIANT(v) {
            check(run_matmul(NULL, tc->t, w, x, b, got, n, m, k) == 0, "matmul %s runs", ck_variant_name(v));
            if (!is_float) {
                int same = memcmp(ref, got, sizeof(float) * (size_t)n * m) == 0;
                size_t bad = 0;
                for (size_t i = 0; !same && i < (size_t)n * m; i++)
                    if (memcmp(&ref[i], &got[i], 4)) { bad = i; break; }
                check(same, "matmul %s %s bit-identical to ref: n=%d m=%d k=%d bias=%d (first diff at %zu: %.9g vs %.9g)",
                      tc->name, ck_variant_name(v), n, m, k, with_bias, bad, same ? 0.0 : ref[bad], same ? 0.0 : got[bad]);
                continue;
            }
            double factor = tc->t == CK_TYPE_F16 ? TOL_F16_GAMMA_FACTOR : TOL_F32_GAMMA_FACTOR;
            int ok = 1;
            double worst = 0.0;
            for (int r = 0; r < n; r++)
                for (int i = 0; i < m; i++) {
                    double mag = b ? fabs(b[i]) : 0.0;
                    for (int j = 0; j < k; j++) mag += fabs((double)x[(size_t)r * k + j] * wf[(size_t)i * k + j]);
                    double tol = factor * gamma_n(k + 2) * mag;
                    double err = fabs((double)ref[(size_t)r * m + i] - got[(size_t)r * m + i]);
                    if (!(err <= tol)) ok = 0;
                    if (tol > 0) worst = fmax(worst, err / tol);
                }
            check(ok, "matmul %s %s within 2 gamma_k sum|xw| of ref: n=%d m=%d k=%d bias=%d (worst %.3g of tol)",
                  tc->name, ck_variant_name(v), n, m, k, with_bias, worst);
        }
    }
    free(w); free(wf); free(x); free(bias); free(ref); free(got);
}

// With unit scales and integer activations (|x| <= 127 and one 127 per block, so d = 1 and
// q = x) the result is the integer dot product, exactly, while all partial sums stay < 2^24.
static void test_integer_path(ck_type t, int n, int m, int k) {
    size_t rb = ck_row_size(t, (size_t)k);
    uint8_t *w = malloc(rb * (size_t)m);
    int *wi = malloc(sizeof(int) * (size_t)m * k);
    for (int i = 0; i < m; i++)
        for (int b = 0; b < k / 32; b++) {
            uint8_t *blk = w + rb * (size_t)i + (size_t)b * (t == CK_TYPE_Q4_0 ? 18 : 34);
            ck_half one = 0x3C00;
            memcpy(blk, &one, 2);
            for (int j = 0; j < 32; j++) {
                int q = t == CK_TYPE_Q4_0 ? (int)(rng_u32() % 16) : (int)(rng_u32() % 256) - 128;
                if (t == CK_TYPE_Q4_0) {
                    if (j < 16) blk[2 + j] = (uint8_t)q; else blk[2 + j - 16] |= (uint8_t)(q << 4);
                    q -= 8;
                } else {
                    blk[2 + j] = (uint8_t)(int8_t)q;
                }
                wi[(size_t)i * k + b * 32 + j] = q;
            }
        }
    float *x = malloc(sizeof(float) * (size_t)n * k);
    for (int r = 0; r < n; r++)
        for (int j = 0; j < k; j++) x[(size_t)r * k + j] = j % 32 == r % 32 ? 127.0f : (float)((int)(rng_u32() % 15) - 7);
    float *y = malloc(sizeof(float) * (size_t)n * m);
    FOR_EACH_VARIANT(v) {
        run_matmul(NULL, t, w, x, NULL, y, n, m, k);
        int ok = 1;
        for (int r = 0; r < n; r++)
            for (int i = 0; i < m; i++) {
                long long s = 0, mag = 0;
                for (int j = 0; j < k; j++) {
                    long long p = (long long)wi[(size_t)i * k + j] * (long long)x[(size_t)r * k + j];
                    s += p;
                    mag += p < 0 ? -p : p;
                }
                if (mag >= (1 << 24) || y[(size_t)r * m + i] != (float)s) ok = 0;
            }
        check(ok, "integer path %s %s exact: n=%d m=%d k=%d", t == CK_TYPE_Q4_0 ? "q4_0" : "q8_0",
              ck_variant_name(v), n, m, k);
    }
    free(w); free(wi); free(x); free(y);
}

// Same bits for any number of threads (the split is over m; each output's arithmetic is fixed).
static void test_threads(const type_case *tc) {
    const int n_cases[][3] = {{1, 45, 256}, {37, 45, 96}, {33, 45, 96}};
    ck_pool *pools[3] = {ck_pool_create(2), ck_pool_create(3), ck_pool_create(5)};
    for (int c = 0; c < 3; c++) {
        int n = n_cases[c][0], m = n_cases[c][1], k = n_cases[c][2];
        float *wf;
        void *w = make_weights(tc->t, m, k, &wf);
        float *x = make_acts(n, k, 0), *bias = make_bias(m);
        float *y1 = malloc(sizeof(float) * (size_t)n * m), *yp = malloc(sizeof(float) * (size_t)n * m);
        FOR_EACH_VARIANT(v) {
            run_matmul(NULL, tc->t, w, x, bias, y1, n, m, k);
            for (int p = 0; p < 3; p++) {
                run_matmul(pools[p], tc->t, w, x, bias, yp, n, m, k);
                check(memcmp(y1, yp, sizeof(float) * (size_t)n * m) == 0,
                      "matmul %s %s with %d threads == 1 thread (n=%d m=%d)", tc->name,
                      ck_variant_name(v), ck_pool_size(pools[p]), n, m);
            }
        }
        free(w); free(wf); free(x); free(bias); free(y1); free(yp);
    }
    for (int p = 0; p < 3; p++) ck_pool_destroy(pools[p]);
}

// ck_matmul_multi: each output the same bits as its own ck_matmul (a separate call per output), with every type in one call
// (one X quantized for the quantized outputs, used as floats by the others), m = 0 outputs,
// threads, and the bad arguments.
static void test_multi(void) {
    // 33: a last single panel of one row, through the n = 1 kernel (the OPT prefix's q, k, v).
    const int n_cases[] = {1, 3, 20, 33};
    const int ms[CK_MATMUL_MAX_OUTPUTS] = {45, 0, 17, 64};
    const int k = 96;
    ck_pool *pool = ck_pool_create(3);
    for (size_t ni = 0; ni < sizeof n_cases / sizeof n_cases[0]; ni++) {
        int n = n_cases[ni];
        float *x = make_acts(n, k, 0);
        void *w[CK_MATMUL_MAX_OUTPUTS];
        float *wf[CK_MATMUL_MAX_OUTPUTS], *bias[CK_MATMUL_MAX_OUTPUTS], *want[CK_MATMUL_MAX_OUTPUTS], *got[CK_MATMUL_MAX_OUTPUTS];
        ck_matmul_output outs[CK_MATMUL_MAX_OUTPUTS];
        for (int o = 0; o < CK_MATMUL_MAX_OUTPUTS; o++) {
            ck_type t = types[o].t;
            w[o] = make_weights(t, ms[o] ? ms[o] : 1, k, &wf[o]);
            bias[o] = o == 2 ? NULL : make_bias(ms[o] ? ms[o] : 1);
            want[o] = calloc((size_t)n * (ms[o] ? ms[o] : 1), sizeof(float));
            got[o] = calloc((size_t)n * (ms[o] ? ms[o] : 1), sizeof(float));
            outs[o] = (ck_matmul_output){t, w[o], bias[o], got[o], ms[o]};
        }
        FOR_EACH_VARIANT(v) {
            for (int threads = 0; threads < 2; threads++) {
                ck_pool *pl = threads ? pool : NULL;
                for (int o = 0; o < CK_MATMUL_MAX_OUTPUTS; o++)
                    check(ck_matmul(pl, types[o].t, w[o], x, bias[o], want[o], n, ms[o], k) == 0, "matmul runs");
                check(ck_matmul_multi(pl, x, n, k, outs, CK_MATMUL_MAX_OUTPUTS) == 0, "matmul_multi runs");
                for (int o = 0; o < CK_MATMUL_MAX_OUTPUTS; o++)
                    check(memcmp(want[o], got[o], sizeof(float) * (size_t)n * ms[o]) == 0,
                          "matmul_multi output %d (%s, m=%d) %s == its own matmul (n=%d, %d threads)", o, types[o].name,
                          ms[o], ck_variant_name(v), n, ck_pool_size(pl));
            }
        }
        for (int o = 0; o < CK_MATMUL_MAX_OUTPUTS; o++) { free(w[o]); free(wf[o]); free(bias[o]); free(want[o]); free(got[o]); }
        free(x);
    }
    ck_pool_destroy(pool);
    float x[64] = {0}, y[4];
    uint8_t wb[256] = {0};
    ck_matmul_output ok = {CK_TYPE_F32, wb, NULL, y, 1}, bad_k = {CK_TYPE_Q8_0, wb, NULL, y, 1};
    ck_matmul_output many[CK_MATMUL_MAX_OUTPUTS + 1] = {ok, ok, ok, ok, ok};
    check(ck_matmul_multi(NULL, x, 1, 48, (ck_matmul_output[]){ok, bad_k}, 2) == -1, "matmul_multi rejects one bad output");
    check(ck_matmul_multi(NULL, x, 1, 32, many, CK_MATMUL_MAX_OUTPUTS + 1) == -1, "matmul_multi rejects too many outputs");
    check(ck_matmul_multi(NULL, x, 1, 32, many, 0) == -1, "matmul_multi rejects no outputs");
}

static void test_bad_args(void) {
    float x[64] = {0}, y[4];
    uint8_t w[256] = {0};
    check(ck_matmul(NULL, CK_TYPE_Q4_0, w, x, NULL, y, 1, 1, 48) == -1, "matmul rejects q4_0 with k %% 32 != 0");
    check(ck_matmul(NULL, (ck_type)3, w, x, NULL, y, 1, 1, 32) == -1, "matmul rejects an unknown type");
    check(ck_matmul(NULL, CK_TYPE_F32, w, x, NULL, y, 0, 1, 32) == 0, "matmul with n = 0 does nothing");
    check(ck_matmul(NULL, CK_TYPE_Q4_0X8, w, x, NULL, y, 1, 4, 32) == -1, "matmul rejects q4_0x8 with m %% 8 != 0");
    void *rows = w, *groups = w + 128;
    check(ck_interleave_q4_0x8(rows, groups, 4, 32) == -1 && ck_interleave_q4_0x8(rows, groups, 8, 48) == -1 &&
          ck_deinterleave_q4_0x8(groups, rows, 12, 32) == -1, "q4_0x8 interleaving rejects m %% 8 != 0 and k %% 32 != 0");
    check(ck_row_size(CK_TYPE_Q4_0, 64) == 36 && ck_row_size(CK_TYPE_Q8_0, 64) == 68 &&
          ck_row_size(CK_TYPE_F16, 7) == 14, "row sizes follow the block formats");
}

// Q4_0x8: the same weights interleaved give the plain Q4_0 reference's bits, in every variant
// (the reference's own Q4_0x8 kernels included), with and without threads; the layout
// round-trips byte for byte.
static void test_q4_0x8(int n, int m, int k, ck_pool *pool) {
    float *wf;
    void *w = make_weights(CK_TYPE_Q4_0, m, k, &wf);
    size_t bytes = ck_row_size(CK_TYPE_Q4_0, (size_t)k) * (size_t)m;
    void *g = malloc(bytes), *back = malloc(bytes);
    check(ck_interleave_q4_0x8(w, g, m, k) == 0 && ck_deinterleave_q4_0x8(g, back, m, k) == 0 &&
          memcmp(w, back, bytes) == 0, "q4_0x8 interleave round-trips: m=%d k=%d", m, k);
    float *x = make_acts(n, k, 0), *bias = make_bias(m);
    float *ref = malloc(sizeof(float) * (size_t)n * m), *got = malloc(sizeof(float) * (size_t)n * m);
    ck_set_variant(CK_VARIANT_REF);
    check(run_matmul(NULL, CK_TYPE_Q4_0, w, x, bias, ref, n, m, k) == 0, "matmul ref q4_0 runs");
    FOR_EACH_VARIANT(v) {
        for (int threads = 0; threads < 2; threads++) {
            check(run_matmul(threads ? pool : NULL, CK_TYPE_Q4_0X8, g, x, bias, got, n, m, k) == 0, "matmul q4_0x8 runs");
            check(memcmp(ref, got, sizeof(float) * (size_t)n * m) == 0,
                  "matmul q4_0x8 %s (%d threads) bit-identical to ref q4_0: n=%d m=%d k=%d", ck_variant_name(v),
                  threads ? ck_pool_size(pool) : 1, n, m, k);
        }
    }
    // q, k and v of a layer in one call: each the same as its own.
    ck_matmul_output outs[3];
    float *multi[3];
    for (int o = 0; o < 3; o++) {
        multi[o] = malloc(sizeof(float) * (size_t)n * m);
        outs[o] = (ck_matmul_output){CK_TYPE_Q4_0X8, g, o == 1 ? NULL : bias, multi[o], m};
    }
    float *nobias = malloc(sizeof(float) * (size_t)n * m);
    FOR_EACH_VARIANT(v) {
        check(ck_matmul_multi(pool, x, n, k, outs, 3) == 0, "matmul_multi q4_0x8 runs");
        check(ck_matmul(NULL, CK_TYPE_Q4_0X8, g, x, NULL, nobias, n, m, k) == 0, "matmul q4_0x8 runs");
        check(memcmp(ref, multi[0], sizeof(float) * (size_t)n * m) == 0 &&
              memcmp(nobias, multi[1], sizeof(float) * (size_t)n * m) == 0 &&
              memcmp(ref, multi[2], sizeof(float) * (size_t)n * m) == 0,
              "matmul_multi q4_0x8 %s: each output its own matmul's bits (n=%d m=%d k=%d)", ck_variant_name(v), n, m, k);
    }
    for (int o = 0; o < 3; o++) free(multi[o]);
    free(nobias); free(w); free(wf); free(g); free(back); free(x); free(bias); free(ref); free(got);
}

static void test_dequantize(void) {
    const int k = 320;
    for (size_t ti = 0; ti < 4; ti++) {
        float *wf, *ref = malloc(sizeof(float) * k), *got = malloc(sizeof(float) * k);
        void *w = make_weights(types[ti].t, 1, k, &wf);
        ck_set_variant(CK_VARIANT_REF);
        ck_row_to_float(types[ti].t, w, ref, k);
        FOR_EACH_SIMD_VARIANT(v) {
            ck_row_to_float(types[ti].t, w, got, k);
            check(memcmp(ref, got, sizeof(float) * k) == 0, "row_to_float %s %s == ref", types[ti].name, ck_variant_name(v));
        }
        free(w); free(wf); free(ref); free(got);
    }
}

int main(void) {
    print_variants();
    test_quantize();
    test_quantize_gguf();
    test_dequantize();
    test_bad_args();
    test_multi();
    const int shapes_q[][3] = {{1, 1, 32},  {1, 5, 32},   {2, 3, 64},    {3, 7, 96},   {1, 64, 256},
                               {8, 9, 128}, {9, 17, 64},  {16, 4, 32},   {17, 33, 160}, {33, 6, 96},
                               {257, 11, 64}, {1, 13, 10240}, {5, 7, 10240},
                               // a last single panel of 2 rows (its rows through gemv), of 3 (not)
                               {18, 7, 64}, {19, 5, 96},
                               // gemm_lanes: whole and partial groups of 16 weight rows, tiles of
                               // 8 activation rows and a remainder of each height
                               {5, 35, 1408}, {12, 16, 96}, {2, 47, 64}, {7, 49, 32}, {15, 33, 128},
                               // avx2 panels past L1 (x86_q8.h): tiles of 32 weight rows and a
                               // partial one, slices of k and a partial last one, one and two panels
                               {24, 40, 2080}, {17, 37, 1760}, {9, 33, 3328}};
    const int shapes_f[][3] = {{1, 5, 13}, {4, 9, 37}, {7, 3, 1}, {2, 6, 8}};
    for (size_t ti = 0; ti < 4; ti++) {
        for (size_t s = 0; s < sizeof shapes_q / sizeof shapes_q[0]; s++)
            test_matmul_vs_ref(&types[ti], shapes_q[s][0], shapes_q[s][1], shapes_q[s][2]);
        if (types[ti].t == CK_TYPE_F16 || types[ti].t == CK_TYPE_F32)
            for (size_t s = 0; s < sizeof shapes_f / sizeof shapes_f[0]; s++)
                test_matmul_vs_ref(&types[ti], shapes_f[s][0], shapes_f[s][1], shapes_f[s][2]);
        test_threads(&types[ti]);
    }
    // Q4_0x8: n = 1 (decode), a beam step's 5, a tile and a remainder (7, 11), the prefix's 33;
    // one group and several, long rows.
    const int shapes_x8[][3] = {{1, 8, 32}, {1, 24, 96}, {5, 16, 64}, {7, 8, 160}, {11, 40, 32},
                                {33, 16, 96}, {1, 32, 10240}, {5, 8, 2048}, {2, 56, 1408}};
    ck_pool *pool3 = ck_pool_create(3);
    for (size_t s = 0; s < sizeof shapes_x8 / sizeof shapes_x8[0]; s++)
        test_q4_0x8(shapes_x8[s][0], shapes_x8[s][1], shapes_x8[s][2], pool3);
    ck_pool_destroy(pool3);
    const int shapes_i[][3] = {{1, 7, 32}, {1, 9, 10240}, {11, 5, 96}, {19, 3, 2048}};
    for (size_t s = 0; s < 4; s++) {
        test_integer_path(CK_TYPE_Q4_0, shapes_i[s][0], shapes_i[s][1], shapes_i[s][2]);
        test_integer_path(CK_TYPE_Q8_0, shapes_i[s][0], shapes_i[s][1], shapes_i[s][2]);
    }
    return finish();
}
