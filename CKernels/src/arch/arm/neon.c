// AArch64 NEON: every kernel of the three NEON variants' tables. Advanced SIMD is part of every
// ARMv8.0 CPU; the dot-product extension (SDOT, ARMv8.2+) is optional, so the quantized kernels
// are compiled twice from neon_q8.h: once with SDOT (target attribute) and once with a
// widening-multiply fallback. Only the dot shim differs between the two. The int8 matrix
// multiply extension (I8MM, SMMLA: Graviton 3 and 4, Apple M2, Cortex-A710/X2 and later) makes a
// third variant, whose GEMMs (n > 1) use SMMLA and whose other kernels are the SDOT ones.
#include "../../ck_internal.h"

#if defined(CK_ARM64)
#include <arm_neon.h>
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

// ---- GEMM with SMMLA (I8MM) ------------------------------------------------------------------

#define NEON_I8MM_ATTR __attribute__((target("arch=armv8.2-a+dotprod+i8mm")))
#define NEON_I8MM_INLINE static inline __attribute__((always_inline, target("arch=armv8.2-a+dotprod+i8mm")))

// SMMLA multiplies two 2 x 8 int8 matrices, one by the other's transpose: with x = activation
// rows r, r + 1 and w = weight rows i, i + 1 (8 consecutive bytes of each row, one after the
// other), vmmlaq_s32(acc, x, w) adds [x_r.w_i, x_r.w_i+1, x_r+1.w_i, x_r+1.w_i+1]. This variant's
// panels are in 8-byte groups (panel_group 8), so each such activation operand is one load: block
// b's bytes 8c..8c+7 of rows 2q and 2q + 1 are the 16 bytes at qs + b * 256 + c * 64 + q * 16.

NEON_I8MM_INLINE int8x16_t rows_lo(int8x16_t a, int8x16_t b) {
    return vreinterpretq_s8_s64(vzip1q_s64(vreinterpretq_s64_s8(a), vreinterpretq_s64_s8(b)));
}
NEON_I8MM_INLINE int8x16_t rows_hi(int8x16_t a, int8x16_t b) {
    return vreinterpretq_s8_s64(vzip2q_s64(vreinterpretq_s64_s8(a), vreinterpretq_s64_s8(b)));
}

// The weight operands of one block of two rows: w[c] holds elements 8c..8c+7 of each.
NEON_I8MM_INLINE void weight_pairs(const uint8_t *b0, const uint8_t *b1, int q4, int8x16_t w[4]) {
    if (q4) {
        // Byte j holds elements j (low nibble) and j + 16 (high nibble): pair the rows' bytes
        // first, then one unpack yields two operands.
        int8x16_t r0 = vld1q_s8((const int8_t *)b0 + 2), r1 = vld1q_s8((const int8_t *)b1 + 2);
        uint8x16_t a = vreinterpretq_u8_s8(rows_lo(r0, r1)), b = vreinterpretq_u8_s8(rows_hi(r0, r1));
        const uint8x16_t mask = vdupq_n_u8(15);
        const int8x16_t eight = vdupq_n_s8(8);
        w[0] = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(a, mask)), eight);
        w[1] = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(b, mask)), eight);
        w[2] = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(a, 4)), eight);
        w[3] = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(b, 4)), eight);
        return;
    }
    int8x16_t l0 = vld1q_s8((const int8_t *)b0 + 2), h0 = vld1q_s8((const int8_t *)b0 + 18);
    int8x16_t l1 = vld1q_s8((const int8_t *)b1 + 2), h1 = vld1q_s8((const int8_t *)b1 + 18);
    w[0] = rows_lo(l0, l1);
    w[1] = rows_hi(l0, l1);
    w[2] = rows_lo(h0, h1);
    w[3] = rows_hi(h0, h1);
}

// n > 1: two weight rows per pass against np panels (1 or 2, CK_MAX_PANELS) of 8 rows; four
// SMMLA give the exact block sums of two activation rows by the two weight rows, sixteen a
// panel's. Each of those sums then takes the neondot kernel's float steps: one fused
// multiply-add per block by d_x d_w, so the bits are the same.
NEON_I8MM_INLINE void gemm_q_i8mm(const void *w, size_t rb, int m, int k, const ck_q8_act *panels, int nr,
                                  float *y, int ldy, int q4, int np) {
    const size_t bsz = q4 ? sizeof(ck_block_q4_0) : sizeof(ck_block_q8_0);
    const int nb = k / 32;
    for (int i = 0; i < m; i += 2) {
        const uint8_t *row0 = (const uint8_t *)w + (size_t)i * rb;
        const uint8_t *row1 = i + 1 < m ? row0 + rb : row0; // a lone last row is done twice
        // [panel][row pair q]: rows 2q, 2q + 1 by i, i + 1. The panel loops are unrolled
        // (CK_MAX_PANELS) so that the accumulators live in registers only.
        float32x4_t acc[CK_MAX_PANELS][4];
        CK_UNROLL(2)
        for (int p = 0; p < np; p++)
            for (int q = 0; q < 4; q++) acc[p][q] = vdupq_n_f32(0.0f);
        for (int b = 0; b < nb; b++) {
            const uint8_t *b0 = row0 + (size_t)b * bsz, *b1 = row1 + (size_t)b * bsz;
            int8x16_t wc[4];
            weight_pairs(b0, b1, q4, wc);
            uint16_t h0, h1;
            memcpy(&h0, b0, 2);
            memcpy(&h1, b1, 2);
            // The scales in the accumulators' lane order: dw = [d_i, d_i+1, d_i, d_i+1] here,
            // dx[q] = [d_2q, d_2q, d_2q+1, d_2q+1] per panel.
            float32x4_t dw = vcvt_f32_f16(vreinterpret_f16_u16(vzip1_u16(vdup_n_u16(h0), vdup_n_u16(h1))));
            CK_UNROLL(2)
            for (int p = 0; p < np; p++) {
                const int8_t *xb = panels[p].qs + (size_t)b * 256;
                float32x4_t dlo = vld1q_f32(panels[p].d + b * 8), dhi = vld1q_f32(panels[p].d + b * 8 + 4);
                float32x4_t dx[4] = {vzip1q_f32(dlo, dlo), vzip2q_f32(dlo, dlo), vzip1q_f32(dhi, dhi),
                                     vzip2q_f32(dhi, dhi)};
                CK_UNROLL(4)
                for (int q = 0; q < 4; q++) {
                    int32x4_t isum = vdupq_n_s32(0);
                    CK_UNROLL(4)
                    for (int c = 0; c < 4; c++) isum = vmmlaq_s32(isum, vld1q_s8(xb + c * 64 + q * 16), wc[c]);
                    acc[p][q] = vfmaq_f32(acc[p][q], vcvtq_f32_s32(isum), vmulq_f32(dx[q], dw));
                }
            }
        }
        CK_UNROLL(2)
        for (int p = 0; p < np; p++)
            CK_UNROLL(4)
            for (int q = 0; q < 4; q++) {
                float out[4];
                vst1q_f32(out, acc[p][q]);
                for (int t = 0; t < 2 && p * 8 + 2 * q + t < nr; t++) {
                    float *yr = y + (size_t)(p * 8 + 2 * q + t) * ldy + i;
                    yr[0] = out[2 * t];
                    if (i + 1 < m) yr[1] = out[2 * t + 1];
                }
            }
    }
}

// One panel or two, a constant in each call so that the panel loops unroll.
NEON_I8MM_INLINE void gemm_q_i8mm_panels(const void *w, size_t rb, int m, int k, const void *x, int nr, float *y,
                                         int ldy, int q4) {
    if (nr > 8)
        gemm_q_i8mm(w, rb, m, k, x, nr, y, ldy, q4, 2);
    else
        gemm_q_i8mm(w, rb, m, k, x, nr, y, ldy, q4, 1);
}

NEON_I8MM_ATTR static void gemm_q4_0_q8_0_neon_i8mm(const void *w, size_t rb, int m, int k, const void *x,
                                                    size_t xs, int nr, float *y, int ldy) {
    (void)xs;
    gemm_q_i8mm_panels(w, rb, m, k, x, nr, y, ldy, 1);
}

NEON_I8MM_ATTR static void gemm_q8_0_q8_0_neon_i8mm(const void *w, size_t rb, int m, int k, const void *x,
                                                    size_t xs, int nr, float *y, int ldy) {
    (void)xs;
    gemm_q_i8mm_panels(w, rb, m, k, x, nr, y, ldy, 0);
}

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

// ---- the float kernels: simd_float.h on 4 lanes ----------------------------------------------

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

typedef float32x4_t VF;
#define VL 4
#define SIMD_FN
#define SIMD_INLINE NEON_INLINE
NEON_INLINE VF vf_zero(void) { return vdupq_n_f32(0.0f); }
NEON_INLINE VF vf_set1(float x) { return vdupq_n_f32(x); }
NEON_INLINE VF vf_bcast(const float *p) { return vdupq_n_f32(*p); }
NEON_INLINE VF vf_load(const float *p) { return vld1q_f32(p); }
NEON_INLINE void vf_store(float *p, VF v) { vst1q_f32(p, v); }
NEON_INLINE VF vf_add(VF a, VF b) { return vaddq_f32(a, b); }
NEON_INLINE VF vf_sub(VF a, VF b) { return vsubq_f32(a, b); }
NEON_INLINE VF vf_mul(VF a, VF b) { return vmulq_f32(a, b); }
NEON_INLINE VF vf_max(VF a, VF b) { return vmaxq_f32(a, b); }
NEON_INLINE VF vf_fma(VF a, VF b, VF c) { return vfmaq_f32(c, a, b); }
NEON_INLINE VF vf_load_h(const void *p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16((const uint16_t *)p))); }
NEON_INLINE void vf_store_h(void *p, VF v) { vst1_u16((uint16_t *)p, vreinterpret_u16_f16(vcvt_f16_f32(v))); }
#define vf_hsum vaddvq_f32
#define vf_hmax vmaxvq_f32
#define vf_exp exp4
#define vf_gelu gelu4

NEON_INLINE float half_to_float(const void *p) {
    ck_half h;
    memcpy(&h, p, 2);
    return ck_half_to_float_ref(h);
}

// NEON's float tiles leave the prefetching to the hardware.
NEON_INLINE void tile_prefetch(const uint8_t *pf, int j, int f16) {
    (void)pf;
    (void)j;
    (void)f16;
}

#define TILE_ROWS 4
#define NN_V(R) ((R) >= 3 ? 4 : 8)

#include "../simd_float.h"

// ---- the three tables ----------------------------------------------------------------------

#define NEON_COMMON                                                                              \
    SIMD_FLOAT_KERNELS, .quantize_q8 = quantize_q8_neon,                                         \
    .quantize_q8_0_gguf = ck_quantize_q8_0_gguf_ref, .quantize_q4_0_gguf = ck_quantize_q4_0_gguf_ref

const ck_kernels ck_kernels_neon = {
    NEON_COMMON,
    .q4_0 = {gemv_q4_0_q8_0_neon, gemm_q4_0_q8_0_neon, ck_to_float_q4_0_ref, NULL},
    .q8_0 = {gemv_q8_0_q8_0_neon, gemm_q8_0_q8_0_neon, ck_to_float_q8_0_ref, NULL},
    .q4_0x8 = {gemv_q4_0x8_neon, NULL, NULL, NULL},
};

const ck_kernels ck_kernels_neondot = {
    NEON_COMMON,
    .q4_0 = {gemv_q4_0_q8_0_neondot, gemm_q4_0_q8_0_neondot, ck_to_float_q4_0_ref, NULL},
    .q8_0 = {gemv_q8_0_q8_0_neondot, gemm_q8_0_q8_0_neondot, ck_to_float_q8_0_ref, NULL},
    .q4_0x8 = {gemv_q4_0x8_neondot, NULL, NULL, NULL},
};

const ck_kernels ck_kernels_neon_i8mm = {
    NEON_COMMON,
    .q4_0 = {gemv_q4_0_q8_0_neondot, gemm_q4_0_q8_0_neon_i8mm, ck_to_float_q4_0_ref, NULL},
    .q8_0 = {gemv_q8_0_q8_0_neondot, gemm_q8_0_q8_0_neon_i8mm, ck_to_float_q8_0_ref, NULL},
    .q4_0x8 = {gemv_q4_0x8_neondot, NULL, NULL, NULL},
    .panel_group = 8, // SMMLA's operand: 8 consecutive bytes of each of two rows
};

#endif
