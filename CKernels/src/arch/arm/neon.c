// AArch64 NEON: every kernel of the two NEON variants' tables. Advanced SIMD is part of every
// ARMv8.0 CPU; the dot-product extension (SDOT, ARMv8.2+) is optional, so the quantized kernels
// are compiled twice from neon_q8.h: once with SDOT (target attribute) and once with a
// widening-multiply fallback. Only the dot shim differs between the two.
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

// ---- the two tables ------------------------------------------------------------------------

#define NEON_COMMON                                                                              \
    SIMD_FLOAT_KERNELS, .quantize_q8 = quantize_q8_neon,                                         \
    .quantize_q8_0_gguf = ck_quantize_q8_0_gguf_ref, .quantize_q4_0_gguf = ck_quantize_q4_0_gguf_ref

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
