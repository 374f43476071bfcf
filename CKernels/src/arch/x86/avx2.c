// x86-64 AVX2 + FMA + F16C: every kernel of the variant's table, compiled per function
// (x86_simd.h) so the binary still runs on CPUs without them.
#include "../../ck_internal.h"

#if defined(CK_X86)
#include <string.h>
#include "ck_fp16.h"
#include "ck_quantize.h"
#include "x86_simd.h"

// ---- the quantized kernels: x86_q8.h over AVX2's integer sums --------------------------------

#define Q_FN AVX2
#define Q_INLINE AVX2_INLINE
#define Q_NAME(name) name##_avx2

// Q4_0: unsigned nibbles times x (the offset of 8 is removed later from the block sum of x);
// pairs of products, 2 x 15 x 127 at most, exact in int16.
AVX2_INLINE __m256i nibble_products(const uint8_t *blk, __m256i x) {
    return _mm256_maddubs_epi16(q4_nibbles(blk), x);
}

// Q8_0: signed products (|w| times x with w's sign moved onto x, as maddubs multiplies unsigned
// by signed) may reach 2 x 127 x 128 per int16, so each row is widened to 8 int32 lanes first.
AVX2_INLINE __m256i q8_block_lanes(const uint8_t *blk, __m256i x) {
    __m256i w = _mm256_loadu_si256((const __m256i *)(blk + 2));
    return _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w)), _mm256_set1_epi16(1));
}

// [sum r0, sum r1, sum r2, sum r3] of one block, as low and high partial halves per lane.
AVX2_INLINE __m256i block_sums4(const uint8_t *r0, const uint8_t *r1, const uint8_t *r2, const uint8_t *r3,
                                const int8_t *xq, int q4) {
    __m256i x = _mm256_load_si256((const __m256i *)xq);
    if (q4) {
        const __m256i ones = _mm256_set1_epi16(1);
        return sum4_lanes(_mm256_madd_epi16(nibble_products(r0, x), ones), _mm256_madd_epi16(nibble_products(r1, x), ones),
                          _mm256_madd_epi16(nibble_products(r2, x), ones), _mm256_madd_epi16(nibble_products(r3, x), ones));
    }
    return sum4_lanes(q8_block_lanes(r0, x), q8_block_lanes(r1, x), q8_block_lanes(r2, x), q8_block_lanes(r3, x));
}

// n > 1. Q4_0: nibbles (0..15) times x fit int16 for a whole block (8 groups x 2 x 15 x 127 =
// 30480 < 32767), so one widening per block. Q8_0: |w| x |x| up to 2 x 127 x 127 per int16, so
// each group is widened at once.
// Group g (positions 4g..4g+3) of a Q4_0 block, broadcast in wg, times the panels' rows.
AVX2_INLINE void q4_group(__m256i *p16, __m256i wg, const int8_t *const *xb, int g, int np) {
    p16[0] = _mm256_add_epi16(p16[0], _mm256_maddubs_epi16(wg, _mm256_load_si256((const __m256i *)(xb[0] + g * 32))));
    if (np > 1)
        p16[1] = _mm256_add_epi16(p16[1], _mm256_maddubs_epi16(wg, _mm256_load_si256((const __m256i *)(xb[1] + g * 32))));

}

AVX2_INLINE void block_isums(const uint8_t *blk, const int8_t *const *xb, int q4, int np, __m256i *isum) {
    const __m256i ones = _mm256_set1_epi16(1);
    if (q4) {
        __m256i raw = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(blk + 2)));
        __m256i lo = _mm256_and_si256(raw, _mm256_set1_epi8(15));
        __m256i hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), _mm256_set1_epi8(15));
        __m256i p16[CK_MAX_PANELS];
        for (int p = 0; p < CK_MAX_PANELS; p++) p16[p] = _mm256_setzero_si256();
        q4_group(p16, _mm256_shuffle_epi32(lo, 0x00), xb, 0, np);
        q4_group(p16, _mm256_shuffle_epi32(lo, 0x55), xb, 1, np);
        q4_group(p16, _mm256_shuffle_epi32(lo, 0xAA), xb, 2, np);
        q4_group(p16, _mm256_shuffle_epi32(lo, 0xFF), xb, 3, np);
        q4_group(p16, _mm256_shuffle_epi32(hi, 0x00), xb, 4, np);
        q4_group(p16, _mm256_shuffle_epi32(hi, 0x55), xb, 5, np);
        q4_group(p16, _mm256_shuffle_epi32(hi, 0xAA), xb, 6, np);
        q4_group(p16, _mm256_shuffle_epi32(hi, 0xFF), xb, 7, np);
        for (int p = 0; p < np; p++) isum[p] = _mm256_madd_epi16(p16[p], ones);
        return;
    }
    for (int p = 0; p < np; p++) isum[p] = _mm256_setzero_si256();
    for (int g = 0; g < 8; g++) {
        int32_t wg32;
        memcpy(&wg32, blk + 2 + g * 4, 4);
        __m256i wg = _mm256_set1_epi32(wg32);
        __m256i wabs = _mm256_sign_epi8(wg, wg);
        for (int p = 0; p < np; p++) {
            __m256i xg = _mm256_load_si256((const __m256i *)(xb[p] + g * 32));
            __m256i p16 = _mm256_maddubs_epi16(wabs, _mm256_sign_epi8(xg, wg));
            isum[p] = _mm256_add_epi32(isum[p], _mm256_madd_epi16(p16, ones));
        }
    }
}

#include "x86_q8.h"

// ---- Q4_0x8: weight rows in the lanes, straight from the file -----------------------------
//
// One 32-byte load is 4 bytes of each of 8 rows: its low nibbles are positions 4j..4j+3 of
// every row, its high nibbles 16+4j..; each multiplies the activation's same 4 positions
// broadcast. The int16 sums (8 groups x 2 x 15 x 127 < 32767) widen once per block into the 8
// rows' exact block sums, with no horizontal adds; then the reference's fused multiply-add.

// p16[r] += the products of one 8-row block with activation rows x[0..nr) (nr a constant after
// inlining, at most Q4X8_TILE). Three rows a tile: with five (a beam step in one pass) the
// compilers spill and the loop ran 12-17% slower on Zen 3 than as tiles of 3 + 2, although
// it unpacks each block once instead of twice (BENCHMARKS.md); four and two were slower too.
#define Q4X8_TILE 3 // the switch in ck_lanes_q4_0x8_avx2 has a case for each tile height
AVX2_INLINE void q4x8_block(const ck_block_q4_0x8 *blk, const ck_q8_act *x, int b, int nr, __m256i *p16) {
    const __m256i m15 = _mm256_set1_epi8(15);
    for (int r = 0; r < nr; r++) p16[r] = _mm256_setzero_si256();
    CK_UNROLL(4)
    for (int j = 0; j < 4; j++) {
        __m256i raw = _mm256_loadu_si256((const __m256i *)(blk->qs + 32 * j));
        __m256i lo = _mm256_and_si256(raw, m15), hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m15);
        for (int r = 0; r < nr; r++) {
            int32_t a, c;
            memcpy(&a, x[r].qs + b * 32 + 4 * j, 4);
            memcpy(&c, x[r].qs + b * 32 + 16 + 4 * j, 4);
            p16[r] = _mm256_add_epi16(p16[r], _mm256_maddubs_epi16(lo, _mm256_set1_epi32(a)));
            p16[r] = _mm256_add_epi16(p16[r], _mm256_maddubs_epi16(hi, _mm256_set1_epi32(c)));
        }
    }
}

// One group of 8 rows against activation rows x[0..nr): y[r * ldy + 0..8).
AVX2_INLINE void q4x8_group(const ck_block_q4_0x8 *g, int nb, const ck_q8_act *x, int nr, float *y, size_t ldy) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[Q4X8_TILE];
    for (int r = 0; r < nr; r++) acc[r] = _mm256_setzero_ps();
    for (int b = 0; b < nb; b++) {
        // 8 blocks (1152 bytes) ahead: the hardware prefetcher alone left a decode step 10-20%
        // slower on Zen 3 (BENCHMARKS.md). A tile of several rows spends longer on each block,
        // and 8 then left the memory stream idle: 32 made a 5-row product from DRAM about 10%
        // faster (48 and 64 no better). A prefetch past the end does not fault.
        const char *ahead = (const char *)(g + b) + (nr > 1 ? 32 : 8) * sizeof(ck_block_q4_0x8);
        _mm_prefetch(ahead, _MM_HINT_T0);
        _mm_prefetch(ahead + 64, _MM_HINT_T0);
        _mm_prefetch(ahead + 128, _MM_HINT_T0);
        __m256i p16[Q4X8_TILE];
        q4x8_block(g + b, x, b, nr, p16);
        __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)g[b].d));
        for (int r = 0; r < nr; r++) {
            __m256i isum = _mm256_sub_epi32(_mm256_madd_epi16(p16[r], ones), _mm256_set1_epi32(x[r].s[b] * 8));
            acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(dw, _mm256_set1_ps(x[r].d[b])), acc[r]);
        }
    }
    for (int r = 0; r < nr; r++) _mm256_storeu_ps(y + (size_t)r * ldy, acc[r]);
}

AVX2 void ck_gemv_q4_0x8_avx2(const void *w, size_t rb, int m, int k, const void *x, float *y) {
    (void)rb;
    const int nb = k / 32;
    for (int i = 0; i < m; i += 8) q4x8_group((const ck_block_q4_0x8 *)w + (size_t)(i / 8) * nb, nb, x, 1, y + i, 0);
}

// Activation rows in tiles of up to Q4X8_TILE (a beam step's 5 as 3 + 2), each tile one pass
// over the group's blocks, which stay in L1 between tiles (8 rows x k/2 bytes).
AVX2 void ck_lanes_q4_0x8_avx2(const void *w, size_t rb, int m, int k, const ck_q8_act *x, int nr, float *y, int ldy,
                               void *scratch) {
    (void)rb;
    (void)scratch;
    const int nb = k / 32;
    for (int i = 0; i < m; i += 8) {
        const ck_block_q4_0x8 *g = (const ck_block_q4_0x8 *)w + (size_t)(i / 8) * nb;
        for (int r0 = 0; r0 < nr; r0 += Q4X8_TILE) {
            float *yt = y + (size_t)r0 * ldy + i;
            switch (nr - r0 < Q4X8_TILE ? nr - r0 : Q4X8_TILE) {
            case 1: q4x8_group(g, nb, x + r0, 1, yt, (size_t)ldy); break;
            case 2: q4x8_group(g, nb, x + r0, 2, yt, (size_t)ldy); break;
            default: q4x8_group(g, nb, x + r0, 3, yt, (size_t)ldy); break;
            }
        }
    }
}

#include "x86_float.h"


// ---- the gguf weight quantizers ------------------------------------------------------------
//
// Every step is the same IEEE float32 operation as the reference (max, divide, multiply, add,
// truncate), eight lanes at a time, so the bytes are identical; blocks holding NaN or infinity
// go to the reference, which counts them. Multiplies and adds must not fuse (see
// ref/quantize.c), here only: the other kernels keep the compiler's contraction.
#if defined(__clang__)
#pragma float_control(push)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif

// Largest |x| of a block of 32, and whether all 32 are finite.
AVX2 static inline float block_amax(const float *x, int *finite) {
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
    const __m256 fmax = _mm256_set1_ps(3.40282347e+38f);
    __m256 m = _mm256_setzero_ps();
    int ok = 0xFF;
    for (int j = 0; j < 32; j += 8) {
        __m256 a = _mm256_and_ps(_mm256_loadu_ps(x + j), abs_mask);
        ok &= _mm256_movemask_ps(_mm256_cmp_ps(a, fmax, _CMP_LE_OQ)); // false for NaN and inf
        m = _mm256_max_ps(m, a);
    }
    *finite = ok == 0xFF;
    return hmax8(m);
}

AVX2 size_t ck_quantize_q8_0_gguf_avx2(const float *x, ck_block_q8_0 *y, size_t k) {
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

AVX2 size_t ck_quantize_q4_0_gguf_avx2(const float *x, ck_block_q4_0 *y, size_t k) {
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

#if defined(__clang__)
#pragma float_control(pop)
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif

// ---- the table ---------------------------------------------------------------------------

const ck_kernels ck_kernels_avx2 = {
    SIMD_FLOAT_KERNELS,
    X86_Q8_KERNELS,
    .q4_0x8 = X86_Q4_0X8_KERNELS,
    .quantize_q8_0_gguf = ck_quantize_q8_0_gguf_avx2,
    .quantize_q4_0_gguf = ck_quantize_q4_0_gguf_avx2,
};

#endif
