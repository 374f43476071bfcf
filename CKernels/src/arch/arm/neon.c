// AArch64 NEON: every kernel of the two NEON variants' tables. Advanced SIMD is part of every
// ARMv8.0 CPU; the dot-product extension (SDOT, ARMv8.2+) is optional, so the quantized kernels
// are compiled twice from neon_q8.h: once with SDOT (target attribute) and once with a
// widening-multiply fallback. Only the dot shim differs between the two.
#include "../../ck_internal.h"

#if defined(CK_ARM64)
#include <arm_neon.h>
#include <math.h>
#include <string.h>
#include "ck_fp16.h"
#include "ck_quantize.h"

#define NEON_INLINE static inline __attribute__((always_inline))

// ---- dot-product shim ----------------------------------------------------------------------

// ARMv8.0: 8 x 8 -> 16-bit products, pairwise sums, then pairwise widening accumulate give
// SDOT's lanes exactly (|a b| <= 128 * 127, so two products fit int16).
NEON_INLINE int32x4_t dot_fallback(int32x4_t acc, int8x16_t a, int8x16_t b) {
    int16x8_t lo = vmull_s8(vget_low_s8(a), vget_low_s8(b));
    int16x8_t hi = vmull_high_s8(a, b);
    return vpadalq_s16(acc, vpaddq_s16(lo, hi));
}

#define DOT_FALLBACK_LANE(acc, a, b, j)                                                          \
    dot_fallback(acc, a, vreinterpretq_s8_s32(vdupq_laneq_s32(vreinterpretq_s32_s8(b), j)))

#define NEON_DOTPROD_ATTR __attribute__((target("arch=armv8.2-a+dotprod")))

// Without SDOT.
#define NEON_FN(name) name##_neon
#define NEON_ATTR
#define DOT(acc, a, b) dot_fallback(acc, a, b)
#define DOT_LANE(acc, a, b, j) DOT_FALLBACK_LANE(acc, a, b, j)
#include "neon_q8.h"
#undef NEON_FN
#undef NEON_ATTR
#undef DOT
#undef DOT_LANE

// With SDOT.
#define NEON_FN(name) name##_neondot
#define NEON_ATTR NEON_DOTPROD_ATTR
#define DOT(acc, a, b) vdotq_s32(acc, a, b)
#define DOT_LANE(acc, a, b, j) vdotq_laneq_s32(acc, a, b, j)
#include "neon_q8.h"
#undef NEON_FN
#undef NEON_ATTR
#undef DOT
#undef DOT_LANE

// ---- activation quantization ---------------------------------------------------------------

// vcvtaq rounds to nearest with ties away from zero: exactly roundf.
static void quantize_q8_neon(const float *x, size_t k, int8_t *qs, float *d, int32_t *s) {
    for (size_t b = 0; b < k / 32; b++) {
        float32x4_t v[8];
        float32x4_t amax = vdupq_n_f32(0.0f);
        for (int i = 0; i < 8; i++) {
            v[i] = vld1q_f32(x + b * 32 + i * 4);
            amax = vmaxq_f32(amax, vabsq_f32(v[i]));
        }
        float db = vmaxvq_f32(amax) / 127.0f;
        float id = db != 0.0f ? 1.0f / db : 0.0f;
        int32x4_t sum = vdupq_n_s32(0);
        int16x8_t q16[4];
        for (int i = 0; i < 4; i++) {
            int32x4_t a = vcvtaq_s32_f32(vmulq_n_f32(v[2 * i], id));
            int32x4_t c = vcvtaq_s32_f32(vmulq_n_f32(v[2 * i + 1], id));
            sum = vaddq_s32(sum, vaddq_s32(a, c));
            q16[i] = vcombine_s16(vqmovn_s32(a), vqmovn_s32(c));
        }
        vst1q_s8(qs + b * 32, vcombine_s8(vqmovn_s16(q16[0]), vqmovn_s16(q16[1])));
        vst1q_s8(qs + b * 32 + 16, vcombine_s8(vqmovn_s16(q16[2]), vqmovn_s16(q16[3])));
        s[b] = vaddvq_s32(sum);
        d[b] = vgetq_lane_f32(vcvt_f32_f16(vcvt_f16_f32(vdupq_n_f32(db))), 0);
    }
}

// ---- float weights: register tile of R activation rows x 4 weight rows --------------------
//
// Each output keeps 4 lanes over k, one fixed horizontal sum, then the k % 4 tail in order;
// the tile shape does not change that sequence.

NEON_INLINE float32x4_t load_w4(const uint8_t *row, int j, int f16) {
    if (f16) return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16((const uint16_t *)(row + (size_t)j * 2))));
    return vld1q_f32((const float *)(row + (size_t)j * 4));
}

NEON_INLINE float w_at(const uint8_t *row, int j, int f16) {
    if (f16) {
        ck_half h;
        memcpy(&h, row + (size_t)j * 2, 2);
        return ck_half_to_float_ref(h);
    }
    float v;
    memcpy(&v, row + (size_t)j * 4, 4);
    return v;
}

NEON_INLINE void tile_f(const uint8_t *const *wr, const float *const *xr, int k, float out[][4], int R, int f16) {
    float32x4_t acc[4][4];
    CK_UNROLL(8)
    for (int r = 0; r < R; r++)
        CK_UNROLL(8)
        for (int c = 0; c < 4; c++) acc[r][c] = vdupq_n_f32(0.0f);
    int j = 0;
    for (; j + 4 <= k; j += 4) {
        float32x4_t xv[4];
        CK_UNROLL(8)
        for (int r = 0; r < R; r++) xv[r] = vld1q_f32(xr[r] + j);
        CK_UNROLL(8)
        for (int c = 0; c < 4; c++) {
            float32x4_t wv = load_w4(wr[c], j, f16);
            CK_UNROLL(8)
            for (int r = 0; r < R; r++) acc[r][c] = vfmaq_f32(acc[r][c], xv[r], wv);
        }
    }
    CK_UNROLL(8)
    for (int r = 0; r < R; r++)
        CK_UNROLL(8)
        for (int c = 0; c < 4; c++) {
            float s = vaddvq_f32(acc[r][c]);
            for (int t = j; t < k; t++) s = fmaf(xr[r][t], w_at(wr[c], t, f16), s);
            out[r][c] = s;
        }
}

NEON_INLINE void gemm_f_neon(const void *w, size_t rb, int m, int k, const float *x, size_t xs, int nr,
                             float *y, int ldy, int f16) {
    for (int i = 0; i < m; i += 4) {
        const uint8_t *wr[4];
        CK_UNROLL(8)
        for (int c = 0; c < 4; c++) wr[c] = (const uint8_t *)w + (size_t)(i + c < m ? i + c : m - 1) * rb;
        for (int r0 = 0; r0 < nr; r0 += 4) {
            const float *xr[4];
            int R = nr - r0 < 4 ? nr - r0 : 4;
            CK_UNROLL(8)
            for (int r = 0; r < R; r++) xr[r] = x + (size_t)(r0 + r) * xs;
            float out[4][4];
            switch (R) {
            case 4: tile_f(wr, xr, k, out, 4, f16); break;
            case 3: tile_f(wr, xr, k, out, 3, f16); break;
            case 2: tile_f(wr, xr, k, out, 2, f16); break;
            default: tile_f(wr, xr, k, out, 1, f16); break;
            }
            CK_UNROLL(8)
            for (int r = 0; r < R; r++)
                for (int c = 0; c < 4 && i + c < m; c++) y[(size_t)(r0 + r) * ldy + i + c] = out[r][c];
        }
    }
}

static void gemm_f32_f32_neon(const void *w, size_t rb, int m, int k, const void *x, size_t xs, int nr, float *y, int ldy) {
    gemm_f_neon(w, rb, m, k, x, xs, nr, y, ldy, 0);
}
static void gemm_f16_f32_neon(const void *w, size_t rb, int m, int k, const void *x, size_t xs, int nr, float *y, int ldy) {
    gemm_f_neon(w, rb, m, k, x, xs, nr, y, ldy, 1);
}
static void gemv_f32_f32_neon(const void *w, size_t rb, int m, int k, const void *x, float *y) {
    gemm_f_neon(w, rb, m, k, x, (size_t)k, 1, y, m, 0);
}
static void gemv_f16_f32_neon(const void *w, size_t rb, int m, int k, const void *x, float *y) {
    gemm_f_neon(w, rb, m, k, x, (size_t)k, 1, y, m, 1);
}

// ---- C = A B with B's columns in the lanes (see arch/x86/avx2.c) ----------------------------

NEON_INLINE void nn_tile(const float *a, size_t lda, const uint8_t *b, size_t ldb, int f16, int kk, float *c,
                         size_t ldc, const int R, const int V) {
    float32x4_t acc[4][8];
    CK_UNROLL(8)
    for (int r = 0; r < R; r++)
        CK_UNROLL(8)
        for (int v = 0; v < V; v++) acc[r][v] = vdupq_n_f32(0.0f);
    for (int j = 0; j < kk; j++) {
        const uint8_t *bj = b + (size_t)j * ldb;
        float32x4_t bv[8];
        CK_UNROLL(8)
        for (int v = 0; v < V; v++) bv[v] = load_w4(bj, v * 4, f16);
        CK_UNROLL(8)
        for (int r = 0; r < R; r++) {
            float ar = a[(size_t)r * lda + j];
            CK_UNROLL(8)
            for (int v = 0; v < V; v++) acc[r][v] = vfmaq_n_f32(acc[r][v], bv[v], ar);
        }
    }
    CK_UNROLL(8)
    for (int r = 0; r < R; r++)
        CK_UNROLL(8)
        for (int v = 0; v < V; v++) vst1q_f32(c + (size_t)r * ldc + v * 4, acc[r][v]);
}

NEON_INLINE void nn_rows(const float *a, size_t lda, const uint8_t *b, size_t ldb, int f16, int kk, int nc,
                         float *c, size_t ldc, const int R, const int V) {
    size_t esz = f16 ? 2 : 4;
    int t = 0;
    for (; t + 4 * V <= nc; t += 4 * V) nn_tile(a, lda, b + t * esz, ldb, f16, kk, c + t, ldc, R, V);
    for (; t + 4 <= nc; t += 4) nn_tile(a, lda, b + t * esz, ldb, f16, kk, c + t, ldc, R, 1);
    for (; t < nc; t++)
        for (int r = 0; r < R; r++) {
            float s = 0.0f;
            for (int j = 0; j < kk; j++) s = fmaf(a[(size_t)r * lda + j], w_at(b + (size_t)j * ldb, t, f16), s);
            c[(size_t)r * ldc + t] = s;
        }
}

static void gemm_nn_neon(const float *a, size_t lda, const void *b, size_t ldb, int f16, int nr, int kk, int nc,
                     float *c, size_t ldc) {
    const uint8_t *bb = b;
    int r = 0;
    for (; r + 4 <= nr; r += 4) nn_rows(a + (size_t)r * lda, lda, bb, ldb, f16, kk, nc, c + (size_t)r * ldc, ldc, 4, 4);
    switch (nr - r) {
    case 3: nn_rows(a + (size_t)r * lda, lda, bb, ldb, f16, kk, nc, c + (size_t)r * ldc, ldc, 3, 4); break;
    case 2: nn_rows(a + (size_t)r * lda, lda, bb, ldb, f16, kk, nc, c + (size_t)r * ldc, ldc, 2, 8); break;
    case 1: nn_rows(a + (size_t)r * lda, lda, bb, ldb, f16, kk, nc, c + (size_t)r * ldc, ldc, 1, 8); break;
    default: break;
    }
}

// ---- fp16 conversions, row and element-wise operations --------------------------------------
//
// The algorithms of arch/x86/avx2.c (same exp and erfc approximations), four lanes wide.

static void f16_to_f32_neon(const ck_half *x, float *y, size_t n) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(x + i))));
    for (; i < n; i++) y[i] = ck_half_to_float_ref(x[i]);
}

static void to_float_f16_neon(const void *x, float *y, size_t k) { f16_to_f32_neon(x, y, k); }

// exp(x) to about 2 ulp; results below FLT_MIN flush to 0 (see arch/x86/avx2.c).
NEON_INLINE float32x4_t exp4(float32x4_t x) {
    const float32x4_t lo = vdupq_n_f32(-87.33654f), hi = vdupq_n_f32(88.3762626647949f);
    uint32x4_t underflow = vcltq_f32(x, lo);
    x = vminq_f32(vmaxq_f32(x, lo), hi);
    float32x4_t n = vrndnq_f32(vmulq_n_f32(x, 1.44269504088896341f));
    float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693359375f));
    r = vfmsq_f32(r, n, vdupq_n_f32(-2.12194440e-4f));
    float32x4_t p = vdupq_n_f32(1.9875691500E-4f);
    p = vfmaq_f32(vdupq_n_f32(1.3981999507E-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(8.3334519073E-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(4.1665795894E-2f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.6666665459E-1f), p, r);
    p = vfmaq_f32(vdupq_n_f32(5.0000001201E-1f), p, r);
    p = vfmaq_f32(vaddq_f32(r, vdupq_n_f32(1.0f)), p, vmulq_f32(r, r));
    int32x4_t e = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
    float32x4_t v = vmulq_f32(p, vreinterpretq_f32_s32(e));
    return vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(v), underflow));
}

static void f32_to_f16_neon(const float *x, ck_half *y, size_t n) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4) vst1_u16(y + i, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(x + i))));
    for (; i < n; i++) y[i] = ck_float_to_half_ref(x[i]);
}

static void layernorm_row_neon(const float *x, float *y, int dim, const float *w, const float *b, float eps) {
    float32x4_t acc = vdupq_n_f32(0.0f);
    int i = 0;
    for (; i + 4 <= dim; i += 4) acc = vaddq_f32(acc, vld1q_f32(x + i));
    float sum = vaddvq_f32(acc);
    for (; i < dim; i++) sum += x[i];
    float mean = sum / (float)dim;
    float32x4_t vm = vdupq_n_f32(mean);
    acc = vdupq_n_f32(0.0f);
    for (i = 0; i + 4 <= dim; i += 4) {
        float32x4_t dl = vsubq_f32(vld1q_f32(x + i), vm);
        acc = vfmaq_f32(acc, dl, dl);
    }
    float var = vaddvq_f32(acc);
    for (; i < dim; i++) var += (x[i] - mean) * (x[i] - mean);
    var /= (float)dim;
    float rstd = 1.0f / sqrtf(var + eps);
    for (i = 0; i + 4 <= dim; i += 4) {
        float32x4_t t = vmulq_n_f32(vsubq_f32(vld1q_f32(x + i), vm), rstd);
        vst1q_f32(y + i, vfmaq_f32(vld1q_f32(b + i), t, vld1q_f32(w + i)));
    }
    for (; i < dim; i++) y[i] = (x[i] - mean) * rstd * w[i] + b[i];
}

// x Phi(x) through erfc(|x| / sqrt 2) by Abramowitz & Stegun 7.1.26 (see arch/x86/avx2.c).
NEON_INLINE float32x4_t gelu4(float32x4_t x) {
    float32x4_t z = vmulq_n_f32(vabsq_f32(x), 0.70710678118654752f);
    float32x4_t t = vdivq_f32(vdupq_n_f32(1.0f), vfmaq_f32(vdupq_n_f32(1.0f), z, vdupq_n_f32(0.3275911f)));
    float32x4_t p = vdupq_n_f32(1.061405429f);
    p = vfmaq_f32(vdupq_n_f32(-1.453152027f), p, t);
    p = vfmaq_f32(vdupq_n_f32(1.421413741f), p, t);
    p = vfmaq_f32(vdupq_n_f32(-0.284496736f), p, t);
    p = vfmaq_f32(vdupq_n_f32(0.254829592f), p, t);
    float32x4_t e = vmulq_f32(vmulq_f32(p, t), exp4(vnegq_f32(vmulq_f32(z, z))));
    uint32x4_t neg = vcltq_f32(x, vdupq_n_f32(0.0f));
    float32x4_t one_plus_erf = vbslq_f32(neg, e, vsubq_f32(vdupq_n_f32(2.0f), e));
    return vmulq_f32(vmulq_n_f32(x, 0.5f), one_plus_erf);
}

static void gelu_neon(const float *x, float *y, size_t n) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, gelu4(vld1q_f32(x + i)));
    if (i < n) {
        float buf[4] = {0};
        for (size_t j = i; j < n; j++) buf[j - i] = x[j];
        vst1q_f32(buf, gelu4(vld1q_f32(buf)));
        for (size_t j = i; j < n; j++) y[j] = buf[j - i];
    }
}

static void relu_neon(const float *x, float *y, size_t n) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vmaxq_f32(vld1q_f32(x + i), vdupq_n_f32(0.0f)));
    for (; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

static void softmax_row_neon(float *x, int n) {
    float32x4_t vmax = vdupq_n_f32(-INFINITY);
    int i = 0;
    for (; i + 4 <= n; i += 4) vmax = vmaxq_f32(vmax, vld1q_f32(x + i));
    float max = vmaxvq_f32(vmax);
    for (; i < n; i++) max = fmaxf(max, x[i]);
    if (max == -INFINITY) {
        for (i = 0; i < n; i++) x[i] = 0.0f;
        return;
    }
    float32x4_t vm = vdupq_n_f32(max), acc = vdupq_n_f32(0.0f);
    for (i = 0; i + 4 <= n; i += 4) {
        float32x4_t e = exp4(vsubq_f32(vld1q_f32(x + i), vm));
        vst1q_f32(x + i, e);
        acc = vaddq_f32(acc, e);
    }
    float sum = vaddvq_f32(acc);
    if (i < n) {
        float buf[4];
        for (int j = 0; j < 4; j++) buf[j] = i + j < n ? x[i + j] - max : -INFINITY;
        vst1q_f32(buf, exp4(vld1q_f32(buf)));
        for (int j = i; j < n; j++) {
            x[j] = buf[j - i];
            sum += x[j];
        }
    }
    float inv = 1.0f / sum;
    for (i = 0; i + 4 <= n; i += 4) vst1q_f32(x + i, vmulq_n_f32(vld1q_f32(x + i), inv));
    for (; i < n; i++) x[i] *= inv;
}

// ---- the two tables ------------------------------------------------------------------------

#define NEON_COMMON                                                                              \
    .f32 = {gemv_f32_f32_neon, gemm_f32_f32_neon, ck_to_float_f32_ref},                          \
    .f16 = {gemv_f16_f32_neon, gemm_f16_f32_neon, to_float_f16_neon},                            \
    .quantize_q8 = quantize_q8_neon, .f16_to_f32 = f16_to_f32_neon,                           \
    .f32_to_f16 = f32_to_f16_neon, .layernorm_row = layernorm_row_neon,                    \
    .gelu = gelu_neon, .relu = relu_neon, .softmax_row = softmax_row_neon,      \
    .gemm_nn = gemm_nn_neon, .quantize_q8_0_gguf = ck_quantize_q8_0_gguf_ref,                    \
    .quantize_q4_0_gguf = ck_quantize_q4_0_gguf_ref

const ck_kernels ck_kernels_neon = {
    NEON_COMMON,
    .q4_0 = {gemv_q4_0_q8_0_neon, gemm_q4_0_q8_0_neon, ck_to_float_q4_0_ref},
    .q8_0 = {gemv_q8_0_q8_0_neon, gemm_q8_0_q8_0_neon, ck_to_float_q8_0_ref},
};

const ck_kernels ck_kernels_neondot = {
    NEON_COMMON,
    .q4_0 = {gemv_q4_0_q8_0_neondot, gemm_q4_0_q8_0_neondot, ck_to_float_q4_0_ref},
    .q8_0 = {gemv_q8_0_q8_0_neondot, gemm_q8_0_q8_0_neondot, ck_to_float_q8_0_ref},
};

#endif
