// x86-64 AVX-512 VNNI (Ice Lake, Sapphire Rapids and later Xeons; Zen 4 and 5): the quantized
// kernels form their integer block sums with vpdpbusd, four u8 x s8 products summed into each
// int32 lane in one instruction, where AVX2 needs vpmaddubsw, int16 adds and vpmaddwd. Mostly on
// 256-bit registers (AVX512VL), so the loops and the lane layout are AVX2's (x86_q8.h); the
// Q4_0 GEMM, the bulk of the vision tower and the prefill, uses all 512 bits. Float kernels and
// weight quantizers are AVX2's.
#include "../../ck_internal.h"

#if defined(CK_X86)
#include "x86_simd.h"

#define VNNI __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))
#define VNNI_INLINE static inline __attribute__((always_inline, target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))

#define Q_FN VNNI
#define Q_INLINE VNNI_INLINE
#define Q_NAME(name) name##_avx512_vnni

// Unsigned bytes u times signed bytes s, four at a time, added to the int32 lanes of acc.
VNNI_INLINE __m256i dot4(__m256i acc, __m256i u, __m256i s) { return _mm256_dpbusd_epi32(acc, u, s); }

// n = 1. Q4_0: the 32 nibbles (elements 0..15 in the low half, 16..31 in the high half) against
// x; Q8_0: |w| against x with w's sign (x is never -128: the quantizer's range is +-127).
VNNI_INLINE __m256i row_lanes(const uint8_t *blk, __m256i x, int q4) {
    if (q4) return dot4(_mm256_setzero_si256(), q4_nibbles(blk), x);
    __m256i w = _mm256_loadu_si256((const __m256i *)(blk + 2));
    return dot4(_mm256_setzero_si256(), _mm256_abs_epi8(w), _mm256_sign_epi8(x, w));
}

VNNI_INLINE __m256i block_sums4(const uint8_t *r0, const uint8_t *r1, const uint8_t *r2, const uint8_t *r3,
                                const int8_t *xq, int q4) {
    __m256i x = _mm256_load_si256((const __m256i *)xq);
    __m256i r01 = _mm256_hadd_epi32(row_lanes(r0, x, q4), row_lanes(r1, x, q4));
    __m256i r23 = _mm256_hadd_epi32(row_lanes(r2, x, q4), row_lanes(r3, x, q4));
    return _mm256_hadd_epi32(r01, r23);
}

// n > 1, Q8_0 (Q4_0 has its own kernel below): each 4-byte weight group, broadcast, against the
// same 4 positions of a panel's 8 rows.
VNNI_INLINE void block_isums(const uint8_t *blk, const int8_t *const *xb, int q4, int np, __m256i *isum) {
    (void)q4;
    for (int p = 0; p < np; p++) isum[p] = _mm256_setzero_si256();
    CK_UNROLL(8)
    for (int g = 0; g < 8; g++) {
        int32_t wg32;
        memcpy(&wg32, blk + 2 + g * 4, 4);
        __m256i wg = _mm256_set1_epi32(wg32);
        __m256i wabs = _mm256_abs_epi8(wg);
        for (int p = 0; p < np; p++) {
            __m256i xg = _mm256_load_si256((const __m256i *)(xb[p] + g * 32));
            isum[p] = dot4(isum[p], wabs, _mm256_sign_epi8(xg, wg));
        }
    }
}

// Q4_0, n > 1, on 512-bit registers: two weight rows per pass, row i in the low 256 bits and
// row i + 1 in the high ones, each against the same panel rows (broadcast from memory), so one
// vpdpbusd does two rows' work. The lanes, block sums and per-block fused multiply-adds are
// those of the 256-bit loop, per row: the same bits.
VNNI_INLINE __m512i two_rows(const uint8_t *b0, const uint8_t *b1) {
    __m256i r0 = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(b0 + 2)));
    __m256i r1 = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(b1 + 2)));
    return _mm512_inserti64x4(_mm512_castsi256_si512(r0), r1, 1);
}

VNNI_INLINE void group512(__m512i *isum, __m512i wg, const int8_t *const *xb, int g, int np) {
    for (int p = 0; p < np; p++)
        isum[p] = _mm512_dpbusd_epi32(isum[p], wg, _mm512_broadcast_i64x4(_mm256_load_si256((const __m256i *)(xb[p] + g * 32))));
}

VNNI_INLINE void gemm_q4_512(const void *w, size_t rb, int m, int k, const ck_q8_act *panels, int nr, float *y,
                             int ldy, int np) {
    const size_t bsz = sizeof(ck_block_q4_0);
    const int nb = k / 32;
    for (int i = 0; i < m; i += 2) {
        const uint8_t *row0 = (const uint8_t *)w + (size_t)i * rb;
        const uint8_t *row1 = i + 1 < m ? row0 + rb : row0; // a lone last row is done twice
        __m512 acc[CK_MAX_PANELS];
        for (int p = 0; p < CK_MAX_PANELS; p++) acc[p] = _mm512_setzero_ps();
        for (int b = 0; b < nb; b++) {
            const uint8_t *b0 = row0 + (size_t)b * bsz, *b1 = row1 + (size_t)b * bsz;
            const int8_t *xb[CK_MAX_PANELS];
            for (int p = 0; p < CK_MAX_PANELS; p++) xb[p] = panels[p < np ? p : 0].qs + (size_t)b * 256;
            __m512i raw = two_rows(b0, b1);
            __m512i lo = _mm512_and_si512(raw, _mm512_set1_epi8(15));
            __m512i hi = _mm512_and_si512(_mm512_srli_epi16(raw, 4), _mm512_set1_epi8(15));
            __m512i isum[CK_MAX_PANELS];
            for (int p = 0; p < CK_MAX_PANELS; p++) isum[p] = _mm512_setzero_si512();
            group512(isum, _mm512_shuffle_epi32(lo, _MM_PERM_AAAA), xb, 0, np);
            group512(isum, _mm512_shuffle_epi32(lo, _MM_PERM_BBBB), xb, 1, np);
            group512(isum, _mm512_shuffle_epi32(lo, _MM_PERM_CCCC), xb, 2, np);
            group512(isum, _mm512_shuffle_epi32(lo, _MM_PERM_DDDD), xb, 3, np);
            group512(isum, _mm512_shuffle_epi32(hi, _MM_PERM_AAAA), xb, 4, np);
            group512(isum, _mm512_shuffle_epi32(hi, _MM_PERM_BBBB), xb, 5, np);
            group512(isum, _mm512_shuffle_epi32(hi, _MM_PERM_CCCC), xb, 6, np);
            group512(isum, _mm512_shuffle_epi32(hi, _MM_PERM_DDDD), xb, 7, np);
            // (AVX512F's 64-bit-lane inserts and broadcasts: the 32-bit ones need AVX512DQ.)
            __m512 dw = _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_set1_ps(half_to_float(b0))),
                                                            _mm256_castps_pd(_mm256_set1_ps(half_to_float(b1))), 1));
            for (int p = 0; p < np; p++) {
                __m512i off = _mm512_slli_epi32(_mm512_broadcast_i64x4(_mm256_load_si256((const __m256i *)(panels[p].s + b * 8))), 3);
                __m512 dx = _mm512_castpd_ps(_mm512_broadcast_f64x4(_mm256_castps_pd(_mm256_load_ps(panels[p].d + b * 8))));
                __m512 sc = _mm512_mul_ps(dw, dx);
                acc[p] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(isum[p], off)), sc, acc[p]);
            }
        }
        for (int p = 0; p < np; p++) {
            float out[16];
            _mm512_storeu_ps(out, acc[p]);
            for (int r = 0; r < 8 && p * 8 + r < nr; r++) {
                y[(size_t)(p * 8 + r) * ldy + i] = out[r];
                if (i + 1 < m) y[(size_t)(p * 8 + r) * ldy + i + 1] = out[8 + r];
            }
        }
    }
}

VNNI static void gemm_q4_0_q8_0_avx512_vnni(const void *w, size_t rb, int m, int k, const void *x, size_t xs,
                                            int nr, float *y, int ldy) {
    (void)xs;
    if ((nr + CK_PANEL - 1) / CK_PANEL == 2) gemm_q4_512(w, rb, m, k, x, nr, y, ldy, 2);
    else gemm_q4_512(w, rb, m, k, x, nr, y, ldy, 1);
}
// block_isums above treats its input as Q8_0: it must never see Q4_0.
#define Q4_GEMM gemm_q4_0_q8_0_avx512_vnni

#include "x86_q8.h"
#include "x86_float.h"

const ck_kernels ck_kernels_avx512_vnni = {
    SIMD_FLOAT_KERNELS,
    X86_Q8_KERNELS,
    .quantize_q8_0_gguf = ck_quantize_q8_0_gguf_avx2,
    .quantize_q4_0_gguf = ck_quantize_q4_0_gguf_avx2,
};

#endif
