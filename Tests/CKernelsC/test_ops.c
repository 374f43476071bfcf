// Row, element-wise and attention operations, fp16 conversion and the thread pool: every SIMD
// variant against the reference (and the reference against double precision where the
// reference itself could be wrong).
//
// Tolerances (u = 2^-24, gamma_n = n u / (1 - n u)):
//  - fp16 <-> fp32, ReLU: 0 (exact operations); a NaN must stay a NaN of the same sign (F16C
//    and NEON quiet signaling NaNs, the scalar reference keeps the payload as it is).
//  - GELU: the SIMD erfc is Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7) evaluated in fp32
//    with an exp of about 2 ulp: TOL_GELU_ERF = 1.5e-7 + 10 u of absolute error in 1 + erf,
//    times 0.5 |x|, plus 4 u |y| for the final products; the reference (libm erff) is checked
//    against double the same way.
//  - LayerNorm: the mean of d values differs by at most 2 gamma_d mean|x|, the variance (two
//    passes) relatively by 2 gamma_{d+3}; so |dy| <= |w| rstd (2 gamma_d mean|x| + |x - mean|
//    (gamma_{d+3} + 6 u)) + 4 u (|y| + |b|).
//  - Softmax over n (plus TOL_FLUSH absolute): exp errs by at most 3 u per element on each side (2 ulp + rounding of the
//    argument's subtraction is exact), the sum by gamma_n: |dp| <= p (2 gamma_n + 8 u).
//  - gemm_nn (C = A B, kk terms) against the exact sum: kk products and kk - 1 additions in
//    fp32 in any order (fused or not) err by at most gamma_kk sum_j |a_j b_j|.
//  - Attention: scores differ by at most 2 gamma_hd scale sum|q k| (two dot orders); a score
//    error e changes p_j by at most 2e relatively; the weighted sum of n_kv rows adds
//    2 gamma_{n_kv} sum p|v|: |do| <= max|v| (2 e_max + 2 gamma_n + 8 u) + 2 gamma_n max|v|.
#include <pthread.h>
#include "test_util.h"

static const double TOL_GELU_ERF = 1.5e-7 + 10.0 * U32;
// SIMD exp flushes results below FLT_MIN (1.18e-38) to zero instead of returning subnormals.
static const double TOL_FLUSH = 2.4e-38;

static void test_fp16(void) {
    float *ref = malloc(sizeof(float) * 65536), *got = malloc(sizeof(float) * 65536);
    ck_half *h = malloc(sizeof(ck_half) * 65536), *hr = malloc(sizeof(ck_half) * 65536), *hg = malloc(sizeof(ck_half) * 65536);
    for (int i = 0; i < 65536; i++) h[i] = (ck_half)i;
    ck_set_variant(CK_VARIANT_REF);
    ck_fp16_to_fp32_row(h, ref, 65536);
    // Floats for the other way: random bits (NaN, inf, subnormals included), exact ties of
    // fp16 rounding, the overflow threshold 65520 and the smallest subnormal's halfway point.
    float *f = malloc(sizeof(float) * 65536);
    for (int i = 0; i < 65536; i++) {
        uint32_t u = rng_u32();
        if (i % 4 == 1) u = (u & 0x807FE000u) | 0x00001000u | ((uint32_t)(103 + i % 40) << 23); // ties
        memcpy(&f[i], &u, 4);
    }
    f[0] = 65520.0f; f[1] = 65519.99f; f[2] = 2.98023224e-8f; f[3] = -2.98023224e-8f; f[4] = 1e-45f;
    ck_fp32_to_fp16_row(f, hr, 65536);
    FOR_EACH_SIMD_VARIANT(v) {
        // Odd lengths exercise the scalar tails.
        for (int len = 65536; len >= 65529; len -= 7) {
            memset(got, 0, sizeof(float) * 65536);
            ck_fp16_to_fp32_row(h, got, (size_t)len);
            int same = 1;
            for (int i = 0; i < len; i++) {
                uint32_t a, b;
                memcpy(&a, &ref[i], 4);
                memcpy(&b, &got[i], 4);
                same &= a == b || (isnan(ref[i]) && isnan(got[i]) && (a >> 31) == (b >> 31));
            }
            check(same, "fp16_to_fp32 %s bit-exact, all halves, n=%d", ck_variant_name(v), len);
            ck_fp32_to_fp16_row(f, hg, (size_t)len);
            check(memcmp(hr, hg, sizeof(ck_half) * (size_t)len) == 0, "fp32_to_fp16 %s bit-exact (RNE, NaN, inf, subnormal), n=%d", ck_variant_name(v), len);
        }
    }
    free(ref); free(got); free(h); free(hr); free(hg); free(f);
}

static void test_relu_gelu(void) {
    const int n = 4099;
    float *x = malloc(sizeof(float) * n), *ref = malloc(sizeof(float) * n), *got = malloc(sizeof(float) * n);
    for (int i = 0; i < n; i++) x[i] = rng_uniform(-12.0f, 12.0f);
    x[0] = 0.0f; x[1] = -0.0f; x[2] = 1e-30f; x[3] = -1e-30f; x[4] = 30.0f; x[5] = -30.0f; x[6] = 1e30f; x[7] = -1e30f;
    for (int i = 8; i < 40; i++) x[i] = rng_uniform(-1e-3f, 1e-3f);
    ck_set_variant(CK_VARIANT_REF);
    ck_gelu(x, ref, n);
    int ok = 1;
    for (int i = 0; i < n; i++) {
        double e = 0.5 * x[i] * (1.0 + erf(x[i] / sqrt(2.0)));
        ok &= fabs(ref[i] - e) <= 0.5 * fabs(x[i]) * TOL_GELU_ERF + 4 * U32 * fabs(e) + 1e-38;
    }
    check(ok, "gelu ref within TOL_GELU_ERF of double erf");
    FOR_EACH_SIMD_VARIANT(v) {
        for (int len = n; len >= n - 7; len--) {
            ck_gelu(x, got, (size_t)len);
            double worst = 0.0;
            ok = 1;
            for (int i = 0; i < len; i++) {
                double tol = 0.5 * fabs(x[i]) * 2 * TOL_GELU_ERF + 4 * U32 * fabs(ref[i]) + 1e-38;
                double err = fabs((double)ref[i] - got[i]);
                ok &= err <= tol;
                worst = fmax(worst, err / tol);
            }
            check(ok, "gelu %s within 2 TOL_GELU_ERF of ref, n=%d (worst %.3g of tol)", ck_variant_name(v), len, worst);
        }
        memcpy(got, x, sizeof(float) * n);
        ck_gelu(got, got, n);
        check(fabs(got[100] - ref[100]) <= 1e-5, "gelu %s in place", ck_variant_name(v));
    }
    ck_set_variant(CK_VARIANT_REF);
    ck_relu(x, ref, n);
    FOR_EACH_SIMD_VARIANT(v) {
        ck_relu(x, got, n - 3);
        check(memcmp(ref, got, sizeof(float) * (n - 3)) == 0, "relu %s exact", ck_variant_name(v));
    }
    free(x); free(ref); free(got);
}

static void test_layernorm(void) {
    const int dims[] = {1, 7, 88, 1408, 2560, 1027};
    for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
        int d = dims[di], rows = 5;
        float *x = malloc(sizeof(float) * rows * d), *w = malloc(sizeof(float) * d), *b = malloc(sizeof(float) * d);
        float *ref = malloc(sizeof(float) * rows * d), *got = malloc(sizeof(float) * rows * d);
        fill_normal(x, (size_t)rows * d, 1.0f);
        for (int i = 0; i < d; i++) x[d + i] += 100.0f;      // |mean| >> std
        for (int i = 0; i < d; i++) x[2 * d + i] *= 1e-12f; // var below eps
        for (int i = 0; i < d; i++) x[3 * d + i] *= 1e20f;
        fill_normal(w, (size_t)d, 1.0f);
        fill_normal(b, (size_t)d, 0.1f);
        const float eps = 1e-6f;
        ck_set_variant(CK_VARIANT_REF);
        ck_layernorm(x, ref, rows, d, w, b, eps);
        FOR_EACH_SIMD_VARIANT(v) {
            ck_layernorm(x, got, rows, d, w, b, eps);
            int ok = 1;
            for (int r = 0; r < rows; r++) {
                const float *xr = x + (size_t)r * d;
                double mean = 0, absmean = 0, var = 0;
                for (int i = 0; i < d; i++) { mean += xr[i]; absmean += fabs(xr[i]); }
                mean /= d; absmean /= d;
                for (int i = 0; i < d; i++) var += (xr[i] - mean) * (xr[i] - mean);
                double rstd = 1.0 / sqrt(var / d + eps);
                for (int i = 0; i < d; i++) {
                    double tol = fabs(w[i]) * rstd * (2 * gamma_n(d) * absmean + fabs(xr[i] - mean) * (gamma_n(d + 3) + 6 * U32)) +
                                 4 * U32 * (fabs(ref[(size_t)r * d + i]) + fabs(b[i]));
                    ok &= fabs((double)ref[(size_t)r * d + i] - got[(size_t)r * d + i]) <= tol * 1.0001;
                }
            }
            check(ok, "layernorm %s within tolerance, dim=%d", ck_variant_name(v), d);
        }
        free(x); free(w); free(b); free(ref); free(got);
    }
}

static void softmax_tol_check(const float *ref, const float *got, int rows, int cols, int causal, const char *what) {
    int ok = 1;
    for (int r = 0; r < rows; r++) {
        int nv = causal ? cols - rows + r + 1 : cols;
        if (nv < 0) nv = 0;
        for (int j = 0; j < cols; j++) {
            double p = ref[(size_t)r * cols + j], g = got[(size_t)r * cols + j];
            if (j >= nv) ok &= g == 0.0;
            else ok &= fabs(p - g) <= p * (2 * gamma_n(nv) + 8 * U32) + TOL_FLUSH;
        }
    }
    check(ok, "%s", what);
}

static void test_softmax(void) {
    const int shapes[][2] = {{1, 1}, {3, 7}, {5, 257}, {4, 33}, {6, 4}, {2, 1000}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int rows = shapes[s][0], cols = shapes[s][1];
        float *x = malloc(sizeof(float) * rows * cols), *ref = malloc(sizeof(float) * rows * cols), *got = malloc(sizeof(float) * rows * cols);
        fill_normal(x, (size_t)rows * cols, 5.0f);
        if (cols > 3) { x[1] = -INFINITY; x[2] = 80.0f; x[3] = -120.0f; }
        for (int causal = 0; causal < 2; causal++) {
            memcpy(ref, x, sizeof(float) * rows * cols);
            ck_set_variant(CK_VARIANT_REF);
            ck_softmax(ref, rows, cols, causal);
            double sum0 = 0; // the last row always has visible columns
            for (int j = 0; j < cols; j++) sum0 += ref[(size_t)(rows - 1) * cols + j];
            check(fabs(sum0 - 1.0) < 1e-5, "softmax ref row sums to 1 (%dx%d causal=%d)", rows, cols, causal);
            FOR_EACH_SIMD_VARIANT(v) {
                memcpy(got, x, sizeof(float) * rows * cols);
                ck_softmax(got, rows, cols, causal);
                char what[128];
                snprintf(what, sizeof what, "softmax %s within tolerance, %dx%d causal=%d", ck_variant_name(v), rows, cols, causal);
                softmax_tol_check(ref, got, rows, cols, causal, what);
            }
        }
        free(x); free(ref); free(got);
    }
    float allmasked[5] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
    ck_set_variant(CK_VARIANT_REF);
    ck_softmax(allmasked, 1, 5, 0);
    check(allmasked[0] == 0.0f && allmasked[4] == 0.0f, "softmax of a fully masked row is zeros");
}

// C = A B with B's columns in the lanes: every variant (and the reference) against the
// definition in double, with strided rows, fp32 and fp16 B, the tile edges (1-4 rows, column
// counts around 8, 16, 32 and 64) and rows of huge and tiny values.
static void gemm_nn_case(int nr, int kk, int nc, int f16) {
    int lda = kk + 3, ldb = nc + 5, ldc = nc + 2;
    float *a = malloc(sizeof(float) * ((size_t)nr * lda + 1)), *bf = malloc(sizeof(float) * ((size_t)kk * ldb + 1));
    ck_half *bh = malloc(sizeof(ck_half) * ((size_t)kk * ldb + 1));
    float *c = malloc(sizeof(float) * ((size_t)nr * ldc + 1));
    fill_normal(a, (size_t)nr * lda + 1, 1.0f);
    fill_normal(bf, (size_t)kk * ldb + 1, 1.0f);
    for (int r = 0; r < nr; r++) {
        if (r % 3 == 1) for (int j = 0; j < kk; j++) a[(size_t)r * lda + j] *= 1e20f;
        if (r % 5 == 2) for (int j = 0; j < kk; j++) a[(size_t)r * lda + j] *= 1e-20f;
    }
    if (f16) { // B holds fp16 values; compare against exactly those
        ck_fp32_to_fp16_row(bf, bh, (size_t)kk * ldb + 1);
        ck_fp16_to_fp32_row(bh, bf, (size_t)kk * ldb + 1);
    }
    FOR_EACH_VARIANT(v) {
        for (size_t i = 0; i < (size_t)nr * ldc + 1; i++) c[i] = -7.0f; // the gaps must survive
        check(ck_gemm_nn(a, lda, f16 ? (const void *)bh : bf, ldb, f16 ? CK_TYPE_F16 : CK_TYPE_F32, c, ldc, nr, kk, nc) == 0,
              "gemm_nn runs");
        int ok = 1;
        double worst = 0;
        for (int r = 0; r < nr; r++) {
            for (int t = 0; t < nc; t++) {
                double exact = 0, mag = 0;
                for (int j = 0; j < kk; j++) {
                    double pr = (double)a[(size_t)r * lda + j] * bf[(size_t)j * ldb + t];
                    exact += pr;
                    mag += fabs(pr);
                }
                double tol = gamma_n(kk) * mag, err = fabs(c[(size_t)r * ldc + t] - exact);
                if (!(err <= tol)) ok = 0;
                if (tol > 0) worst = fmax(worst, err / tol);
            }
            for (int t = nc; t < ldc; t++)
                if (c[(size_t)r * ldc + t] != -7.0f) ok = 0;
        }
        check(ok, "gemm_nn %s within gamma_kk sum|ab| (nr=%d kk=%d nc=%d f16=%d, worst %.3g of tol)",
              ck_variant_name(v), nr, kk, nc, f16, worst);
    }
    free(a); free(bf); free(bh); free(c);
}

static void test_gemm_nn(void) {
    const int shapes[][3] = {{1, 1, 1}, {1, 53, 80}, {2, 7, 17}, {3, 257, 88}, {4, 88, 257}, {5, 9, 33},
                             {9, 1, 7}, {1, 13, 64}, {2, 5, 65}, {1, 3, 71}, {7, 88, 16}, {64, 88, 31}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (int f16 = 0; f16 < 2; f16++) gemm_nn_case(shapes[i][0], shapes[i][1], shapes[i][2], f16);
    float x[4] = {0};
    check(ck_gemm_nn(x, 1, x, 1, CK_TYPE_Q4_0, x, 1, 1, 1, 1) == -1, "gemm_nn rejects a quantized B");
    check(ck_gemm_nn(x, 1, x, 1, CK_TYPE_F32, x, 1, 1, 2, 1) == -1, "gemm_nn rejects lda < kk");
    check(ck_gemm_nn(x, 1, x, 1, CK_TYPE_F32, x, 1, 1, 1, 0) == 0, "gemm_nn with no columns does nothing");
}

// Attention: variants against the reference with the tolerance above, and the reference against
// a double-precision evaluation of the definition.
typedef struct {
    int n_q, n_kv, heads, hd, causal, f16, use_mask, fused; // use_mask 2: one per head, scale 1 (T5)
} attn_case;

static void attention_case(const attn_case *c) {
    int width = c->heads * c->hd;
    int ldq = c->fused ? 3 * width : width; // q, k, v as slices of one [tokens, 3 width] buffer
    int rows = c->n_q > c->n_kv ? c->n_q : c->n_kv;
    float *qkv = malloc(sizeof(float) * (size_t)rows * 3 * width);
    fill_normal(qkv, (size_t)rows * 3 * width, 1.0f);
    float *q = qkv, *k = c->fused ? qkv + width : qkv + (size_t)rows * width, *v = c->fused ? qkv + 2 * width : qkv + (size_t)rows * 2 * width;
    int ldk = c->fused ? 3 * width : width;
    ck_half *k16 = NULL, *v16 = NULL;
    if (c->f16) { // the cache holds fp16; compare against the values it holds
        k16 = malloc(sizeof(ck_half) * (size_t)c->n_kv * width);
        v16 = malloc(sizeof(ck_half) * (size_t)c->n_kv * width);
        for (int j = 0; j < c->n_kv; j++) {
            ck_fp32_to_fp16_row(k + (size_t)j * ldk, k16 + (size_t)j * width, (size_t)width);
            ck_fp32_to_fp16_row(v + (size_t)j * ldk, v16 + (size_t)j * width, (size_t)width);
            ck_fp16_to_fp32_row(k16 + (size_t)j * width, k + (size_t)j * ldk, (size_t)width);
            ck_fp16_to_fp32_row(v16 + (size_t)j * width, v + (size_t)j * ldk, (size_t)width);
        }
    }
    float *mask = NULL;
    if (c->use_mask) {
        int masks = c->use_mask == 2 ? c->heads : 1;
        mask = malloc(sizeof(float) * (size_t)masks * c->n_q * c->n_kv);
        for (int i = 0; i < masks * c->n_q * c->n_kv; i++) mask[i] = (rng_u32() % 4 == 0) ? -INFINITY : rng_normal(1.0f);
        for (int i = 0; i < masks * c->n_q; i++) mask[(size_t)i * c->n_kv] = 0.0f; // one visible key per row
    }
    size_t mask_head_stride = c->use_mask == 2 ? (size_t)c->n_q * c->n_kv : 0;
    float *ref = malloc(sizeof(float) * (size_t)c->n_q * width), *got = malloc(sizeof(float) * (size_t)c->n_q * width);
    ck_attention_params p = {q, ldq, c->f16 ? (const void *)k16 : k, c->f16 ? width : ldk,
                             c->f16 ? (const void *)v16 : v, c->f16 ? width : ldk,
                             c->f16 ? CK_TYPE_F16 : CK_TYPE_F32, ref, width,
                             c->n_q, c->n_kv, c->heads, c->hd, c->use_mask == 2 ? 1.0f : 1.0f / sqrtf((float)c->hd), mask,
                             c->causal, mask_head_stride};
    ck_set_variant(CK_VARIANT_REF);
    check(ck_attention(NULL, &p) == 0, "attention ref runs");
    // Per output: the bound of the header, with the definition evaluated in double.
    double *tol = malloc(sizeof(double) * (size_t)c->n_q * width);
    int ok_def = 1;
    for (int h = 0; h < c->heads; h++)
        for (int i = 0; i < c->n_q; i++) {
            int nv = c->causal ? c->n_kv - c->n_q + i + 1 : c->n_kv;
            double s[512], emax = 0, vmax = 0, mx = -INFINITY, sum = 0;
            for (int j = 0; j < nv; j++) {
                double dot = 0, mag = 0;
                for (int t = 0; t < c->hd; t++) {
                    double a = q[(size_t)i * ldq + h * c->hd + t], bb = k[(size_t)j * ldk + h * c->hd + t];
                    dot += a * bb;
                    mag += fabs(a * bb);
                }
                s[j] = dot * p.scale + (mask ? mask[h * mask_head_stride + (size_t)i * c->n_kv + j] : 0.0);
                emax = fmax(emax, 2 * gamma_n(c->hd) * p.scale * mag + 4 * U32 * fabs(s[j]));
                mx = fmax(mx, s[j]);
                for (int t = 0; t < c->hd; t++) vmax = fmax(vmax, fabs(v[(size_t)j * ldk + h * c->hd + t]));
            }
            for (int j = 0; j < nv; j++) sum += (s[j] = exp(s[j] - mx));
            for (int t = 0; t < c->hd; t++) {
                double o = 0;
                for (int j = 0; j < nv; j++) o += s[j] / sum * v[(size_t)j * ldk + h * c->hd + t];
                double tl = vmax * (2 * emax + 4 * gamma_n(nv) + 8 * U32) + 1e-30;
                tol[(size_t)i * width + h * c->hd + t] = tl;
                ok_def &= fabs(ref[(size_t)i * width + h * c->hd + t] - o) <= tl;
            }
        }
    check(ok_def, "attention ref matches the definition (n_q=%d n_kv=%d heads=%d hd=%d causal=%d f16=%d mask=%d)",
          c->n_q, c->n_kv, c->heads, c->hd, c->causal, c->f16, c->use_mask);
    ck_pool *pool = ck_pool_create(3);
    FOR_EACH_SIMD_VARIANT(var) {
        p.o = got;
        ck_attention(NULL, &p);
        int ok = 1;
        for (int i = 0; i < c->n_q * width; i++) ok &= fabs((double)ref[i] - got[i]) <= tol[i];
        check(ok, "attention %s within tolerance (n_q=%d n_kv=%d heads=%d hd=%d causal=%d f16=%d mask=%d fused=%d)",
              ck_variant_name(var), c->n_q, c->n_kv, c->heads, c->hd, c->causal, c->f16, c->use_mask, c->fused);
        float *got3 = malloc(sizeof(float) * (size_t)c->n_q * width);
        p.o = got3;
        ck_attention(pool, &p);
        check(memcmp(got, got3, sizeof(float) * (size_t)c->n_q * width) == 0, "attention %s: 3 threads == 1 thread", ck_variant_name(var));
        free(got3);
    }
    ck_pool_destroy(pool);
    free(qkv); free(k16); free(v16); free(mask); free(ref); free(got); free(tol);
}

static void test_attention(void) {
    const attn_case cases[] = {
        {17, 17, 3, 11, 0, 0, 0, 1},  // ViT-like self-attention on a fused QKV buffer, odd head dim
        {5, 9, 2, 13, 0, 0, 0, 0},    // cross-attention: different query and key counts
        {32, 40, 4, 8, 0, 0, 1, 0},   // Q-Former-like with an additive mask (some -inf)
        {3, 10, 2, 9, 1, 0, 0, 0},    // causal prefill against a cache of 7 + 3
        {1, 13, 3, 5, 1, 1, 0, 0},    // causal decode, fp16 cache
        {6, 6, 1, 80, 1, 1, 0, 0},    // OPT head dim, fp16, causal, no past
        {1, 1, 1, 1, 1, 0, 0, 0},
        {130, 140, 2, 11, 1, 0, 0, 0}, // several query chunks, causal, with a past of 10
        {70, 70, 2, 9, 0, 1, 1, 1},    // several chunks, fp16, mask, fused buffer
        {1, 53, 4, 80, 1, 0, 0, 0},    // OPT decode step, fp32 cache (the few-query path)
        {4, 21, 2, 16, 0, 0, 1, 1},    // the few-query path's limit, mask, fused buffer
        {2, 2, 3, 7, 1, 1, 0, 0},      // few queries, fp16, causal with no past
        {5, 12, 2, 8, 1, 0, 0, 0},     // one past the few-query path
        {37, 37, 3, 7, 0, 0, 2, 1},    // T5 encoder: a bias per head, no scaling, odd sizes
        {1, 9, 5, 16, 1, 1, 2, 0},     // T5 decoder step: per-head bias, causal, fp16 cache
        {70, 66, 2, 9, 0, 0, 2, 0},    // T5 cross-sized, several chunks, per-head mask
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) attention_case(&cases[i]);
    ck_attention_params bad = {0};
    check(ck_attention(NULL, &bad) == -1, "attention rejects missing buffers");
}

static void sum_task(void *ctx, int ith, int nth) {
    long *slots = ctx;
    slots[ith] = 1000 * nth + ith;
}

static void test_pool(void) {
    for (int n = 1; n <= 6; n++) {
        ck_pool *pool = ck_pool_create(n);
        check(pool && ck_pool_size(pool) == n, "pool of %d threads created", n);
        int ok = 1;
        for (int round = 0; round < 200; round++) {
            long slots[8] = {0};
            ck_pool_run(pool, sum_task, slots);
            for (int i = 0; i < n; i++) ok &= slots[i] == 1000 * n + i;
        }
        check(ok, "pool of %d runs every thread once per call, 200 calls", n);
        ck_pool_destroy(pool);
    }
    ck_pool *def = ck_pool_create(0);
    check(ck_pool_size(def) == ck_cpu_count(), "default pool has one thread per CPU");
    ck_pool_destroy(def);
    long one[1] = {0};
    ck_pool_run(NULL, sum_task, one);
    check(one[0] == 1000, "NULL pool runs inline");
}

int main(void) {
    print_variants();
    test_fp16();
    test_relu_gelu();
    test_layernorm();
    test_softmax();
    test_gemm_nn();
    test_attention();
    test_pool();
    return finish();
}
