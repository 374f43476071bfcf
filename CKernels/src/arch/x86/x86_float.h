// The float kernels of the x86 variants: simd_float.h over AVX2's 8 lanes. Each x86 file
// includes this once, so its table lists SIMD_FLOAT_KERNELS compiled for AVX2 (later variants
// add integer instructions only: their float results stay those of AVX2).
#ifndef CK_X86_FLOAT_H
#define CK_X86_FLOAT_H

#include "x86_simd.h"

// exp(x) to about 2 ulp (Cephes expf: x = n ln2 + r, |r| <= ln2/2, degree-6 polynomial, 2^n
// through the exponent bits). Below -87.3 the result would be subnormal; it is flushed to 0
// (the reference's subnormals there are below 1.2e-38).
AVX2_INLINE __m256 exp8(__m256 x) {
    const __m256 lo = _mm256_set1_ps(-87.33654f), hi = _mm256_set1_ps(88.3762626647949f);
    __m256 underflow = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
    x = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500E-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507E-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073E-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894E-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459E-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201E-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_andnot_ps(underflow, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}

// GELU through erfc: with z = |x| / sqrt 2 and E = erfc(z) by Abramowitz & Stegun 7.1.26
// (|error| <= 1.5e-7), x Phi(x) = 0.5 x (2 - E) for x >= 0 and 0.5 x E for x < 0: no
// cancellation on the negative side, where the result is small.
AVX2_INLINE __m256 gelu8(__m256 x) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 z = _mm256_mul_ps(_mm256_andnot_ps(sign, x), _mm256_set1_ps(0.70710678118654752f));
    __m256 t = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_fmadd_ps(z, _mm256_set1_ps(0.3275911f), _mm256_set1_ps(1.0f)));
    __m256 p = _mm256_set1_ps(1.061405429f);
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.453152027f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.421413741f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.284496736f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.254829592f));
    __m256 e = _mm256_mul_ps(_mm256_mul_ps(p, t), exp8(_mm256_xor_ps(_mm256_mul_ps(z, z), sign)));
    __m256 neg = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
    __m256 one_plus_erf = _mm256_blendv_ps(_mm256_sub_ps(_mm256_set1_ps(2.0f), e), e, neg);
    return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x), one_plus_erf);
}

typedef __m256 VF;
#define VL 8
#define SIMD_FN AVX2
#define SIMD_INLINE AVX2_INLINE
AVX2_INLINE VF vf_zero(void) { return _mm256_setzero_ps(); }
AVX2_INLINE VF vf_set1(float x) { return _mm256_set1_ps(x); }
AVX2_INLINE VF vf_bcast(const float *p) { return _mm256_broadcast_ss(p); }
AVX2_INLINE VF vf_load(const float *p) { return _mm256_loadu_ps(p); }
AVX2_INLINE void vf_store(float *p, VF v) { _mm256_storeu_ps(p, v); }
AVX2_INLINE VF vf_add(VF a, VF b) { return _mm256_add_ps(a, b); }
AVX2_INLINE VF vf_sub(VF a, VF b) { return _mm256_sub_ps(a, b); }
AVX2_INLINE VF vf_mul(VF a, VF b) { return _mm256_mul_ps(a, b); }
AVX2_INLINE VF vf_max(VF a, VF b) { return _mm256_max_ps(a, b); }
AVX2_INLINE VF vf_fma(VF a, VF b, VF c) { return _mm256_fmadd_ps(a, b, c); }
AVX2_INLINE VF vf_load_h(const void *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }
AVX2_INLINE void vf_store_h(void *p, VF v) {
    _mm_storeu_si128((__m128i *)p, _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
}
#define vf_hsum hsum8
#define vf_hmax hmax8
#define vf_exp exp8
#define vf_gelu gelu8

// 4 rows x 8 elements = 64 (fp16) or 128 (fp32) bytes per step.
AVX2_INLINE void tile_prefetch(const uint8_t *pf, int j, int f16) {
    _mm_prefetch((const char *)pf + (size_t)j * 8 * (f16 ? 1 : 2), _MM_HINT_T0);
    if (!f16) _mm_prefetch((const char *)pf + (size_t)j * 16 + 64, _MM_HINT_T0);
}

// 2 x 4 rather than 3 x 4: the same speed with GCC, and clang (SwiftPM's compiler) spills the
// 16 registers a 3 x 4 tile needs and runs at half speed.
#define TILE_ROWS 2
#define NN_V(R) ((R) >= 3 ? 2 : (R) == 2 ? 4 : 8)

#include "../simd_float.h"

#endif
