// AVX2 versions of the gguf-exact weight quantizers. Every step is the same IEEE float32
// operation as the reference (max, divide, multiply, add, truncate), eight lanes at a time,
// so the bytes are identical; blocks holding NaN or infinity go to the reference, which
// counts them. Multiplies and adds must not fuse (see ref/quantize.c).
#if defined(__x86_64__)
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif
#include <immintrin.h>
#include "ck_quantize.h"
#include "ck_fp16.h"

#define CK_AVX2 __attribute__((target("avx2,fma,f16c")))

// Largest |x| of a block of 32, and whether all 32 are finite.
CK_AVX2 static inline float block_amax(const float *x, int *finite) {
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
    const __m256 fmax = _mm256_set1_ps(3.40282347e+38f);
    __m256 m = _mm256_setzero_ps();
    int ok = 0xFF;
    for (int j = 0; j < 32; j += 8) {
        __m256 a = _mm256_and_ps(_mm256_loadu_ps(x + j), abs_mask);
        ok &= _mm256_movemask_ps(_mm256_cmp_ps(a, fmax, _CMP_LE_OQ)); // false for NaN and inf
        m = _mm256_max_ps(m, a);
    }
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    *finite = ok == 0xFF;
    return _mm_cvtss_f32(h);
}

CK_AVX2 size_t ck_quantize_q8_0_gguf_avx2(const float *x, ck_block_q8_0 *y, size_t k) {
    size_t bad = 0;
    const __m256 sign_mask = _mm256_castsi256_ps(_mm256_set1_epi32((int)0x80000000u));
    for (size_t b = 0; b < k / CK_QK8_0; b++) {
        const float *xb = x + b * CK_QK8_0;
        int finite;
        float amax = block_amax(xb, &finite);
        if (!finite) {
            bad += ck_quantize_q8_0_gguf_ref(xb, y + b, CK_QK8_0);
            continue;
        }
        float d = amax / 127.0f;
        float id = d == 0.0f ? 0.0f : 1.0f / d;
        __m256 vid = _mm256_set1_ps(id);
        __m256i q[4];
        for (int j = 0; j < 4; j++) {
            __m256 p = _mm256_mul_ps(_mm256_loadu_ps(xb + 8 * j), vid);
            // Round half away from zero exactly as gguf's np_roundf: floor(a) + floor(2 * frac).
            __m256 sign = _mm256_and_ps(p, sign_mask);
            __m256 a = _mm256_andnot_ps(sign_mask, p);
            __m256 fl = _mm256_floor_ps(a);
            __m256 r = _mm256_add_ps(fl, _mm256_floor_ps(_mm256_add_ps(_mm256_sub_ps(a, fl), _mm256_sub_ps(a, fl))));
            q[j] = _mm256_cvttps_epi32(_mm256_or_ps(r, sign));
        }
        // int32 -> int8 with the lane order restored after the in-lane packs.
        __m256i p01 = _mm256_packs_epi32(q[0], q[1]);
        __m256i p23 = _mm256_packs_epi32(q[2], q[3]);
        __m256i p = _mm256_packs_epi16(p01, p23);
        p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)y[b].qs, p);
        y[b].d = ck_float_to_half_ref(d);
    }
    return bad;
}

CK_AVX2 size_t ck_quantize_q4_0_gguf_avx2(const float *x, ck_block_q4_0 *y, size_t k) {
    size_t bad = 0;
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
    for (size_t b = 0; b < k / CK_QK4_0; b++) {
        const float *xb = x + b * CK_QK4_0;
        int finite;
        float amax = block_amax(xb, &finite);
        if (!finite) {
            bad += ck_quantize_q4_0_gguf_ref(xb, y + b, CK_QK4_0);
            continue;
        }
        // numpy's argmax: the first element whose magnitude is the maximum.
        float max = 0.0f;
        __m256 vamax = _mm256_set1_ps(amax);
        for (int j = 0; j < 32; j += 8) {
            int hit = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_and_ps(_mm256_loadu_ps(xb + j), abs_mask), vamax, _CMP_EQ_OQ));
            if (hit) { max = xb[j + __builtin_ctz((unsigned)hit)]; break; }
        }
        float d = max / -8.0f;
        float id = d == 0.0f ? 0.0f : 1.0f / d;
        __m256 vid = _mm256_set1_ps(id);
        __m256 half8 = _mm256_set1_ps(8.5f);
        __m256i fifteen = _mm256_set1_epi32(15);
        __m256i q[4];
        for (int j = 0; j < 4; j++) {
            __m256 p = _mm256_mul_ps(_mm256_loadu_ps(xb + 8 * j), vid);
            q[j] = _mm256_min_epi32(_mm256_cvttps_epi32(_mm256_add_ps(p, half8)), fifteen);
        }
        // q[0..1] are weights 0..15 (low nibbles), q[2..3] weights 16..31 (high nibbles).
        __m256i lo16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(q[0], q[1]), 0xD8);
        __m256i hi16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(q[2], q[3]), 0xD8);
        __m256i nib = _mm256_or_si256(lo16, _mm256_slli_epi16(hi16, 4));
        __m128i packed = _mm_packus_epi16(_mm256_castsi256_si128(nib), _mm256_extracti128_si256(nib, 1));
        _mm_storeu_si128((__m128i *)y[b].qs, packed);
        y[b].d = ck_float_to_half_ref(d);
    }
    return bad;
}
#endif
