// Shared by the x86-64 variants: the AVX2 target and its helpers. Later x86 variants target a
// superset of AVX2, so these inline into their kernels too.
#ifndef CK_X86_SIMD_H
#define CK_X86_SIMD_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "ck_blocks.h"
#include "../../ck_internal.h"

// Per function, not per file: the binary still runs on CPUs without AVX2 (cpu.c selects a
// variant only when cpuid says its instructions are there).
#define AVX2 __attribute__((target("avx2,fma,f16c")))
#define AVX2_INLINE static inline __attribute__((always_inline, target("avx2,fma,f16c")))

// The gguf weight quantizers (avx2.c), which later x86 variants share: they run once per
// conversion and gain nothing from wider integer instructions.
size_t ck_quantize_q8_0_gguf_avx2(const float *x, ck_block_q8_0 *y, size_t k);
size_t ck_quantize_q4_0_gguf_avx2(const float *x, ck_block_q4_0 *y, size_t k);
// The Q4_0x8 kernels (avx2.c), which the AVX-512 variant shares as they are (a vpdpbusd
// version would drop the int16 adds; not written).
void ck_gemv_q4_0x8_avx2(const void *w, size_t rb, int m, int k, const void *x, float *y);
void ck_lanes_q4_0x8_avx2(const void *w, size_t rb, int m, int k, const ck_q8_act *x, int nr, float *y, int ldy,
                          void *scratch);
#define X86_Q4_0X8_KERNELS {ck_gemv_q4_0x8_avx2, NULL, NULL, ck_lanes_q4_0x8_avx2}

AVX2_INLINE float half_to_float(const void *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(h)));
}

// A Q4_0 block's 32 nibbles as bytes 0..15 (elements 0..15, the low nibbles) and 16..31 (the
// high nibbles): the 16 data bytes in both lanes, the upper one shifted by 4.
AVX2_INLINE __m256i q4_nibbles(const uint8_t *blk) {
    __m256i raw = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(blk + 2)));
    return _mm256_and_si256(_mm256_srlv_epi64(raw, _mm256_setr_epi64x(0, 0, 4, 4)), _mm256_set1_epi8(15));
}

// Four rows' 8 int32 lanes added into [r0, r1, r2, r3] in each 128-bit half (the n = 1 loops'
// block sums), by unpacks and adds: one shuffle-pipe instruction each, where Zen 3 runs
// vphaddd as several.
AVX2_INLINE __m256i sum4_lanes(__m256i a, __m256i b, __m256i c, __m256i d) {
    __m256i ab = _mm256_add_epi32(_mm256_unpacklo_epi32(a, b), _mm256_unpackhi_epi32(a, b));
    __m256i cd = _mm256_add_epi32(_mm256_unpacklo_epi32(c, d), _mm256_unpackhi_epi32(c, d));
    return _mm256_add_epi32(_mm256_unpacklo_epi64(ab, cd), _mm256_unpackhi_epi64(ab, cd));
}

AVX2_INLINE float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

AVX2_INLINE float hmax8(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

#endif
