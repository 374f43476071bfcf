// x86-64 AVX2 + FMA + F16C: every kernel of the variant's table, compiled per function
// (x86_simd.h) so the binary still runs on CPUs without them.
#include "../../ck_internal.h"

#if defined(CK_X86)
#include <string.h>
#include "ck_fp16.h"
#include "ck_quantize.h"
#include "x86_simd.h"

// ---- activation quantization -------------------------------------------------------------

// roundf (half away from zero) for |v| < 2^23: truncate, then step away from zero when the
// dropped fraction (exact) is at least one half. _mm256_round_ps's nearest mode would round
// ties to even and differ from the reference.
AVX2_INLINE __m256 round_half_away(__m256 v) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __m256 frac = _mm256_andnot_ps(sign, _mm256_sub_ps(v, t));
    __m256 step = _mm256_or_ps(_mm256_and_ps(v, sign), _mm256_set1_ps(1.0f));
    return _mm256_add_ps(t, _mm256_and_ps(_mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ), step));
}

AVX2 static void quantize_q8_avx2(const float *x, size_t k, int8_t *qs, float *d, int32_t *s) {
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
    for (size_t b = 0; b < k / 32; b++) {
        __m256 v[4];
        __m256 amax = _mm256_setzero_ps();
        CK_UNROLL(8)
        for (int i = 0; i < 4; i++) {
            v[i] = _mm256_loadu_ps(x + b * 32 + i * 8);
            amax = _mm256_max_ps(amax, _mm256_and_ps(v[i], abs_mask));
        }
        float db = hmax8(amax) / 127.0f;
        float id = db != 0.0f ? 1.0f / db : 0.0f;
        __m256i q[4];
        __m256i sum = _mm256_setzero_si256();
        CK_UNROLL(8)
        for (int i = 0; i < 4; i++) {
            q[i] = _mm256_cvttps_epi32(round_half_away(_mm256_mul_ps(v[i], _mm256_set1_ps(id))));
            sum = _mm256_add_epi32(sum, q[i]);
        }
        // Packing works within 128-bit lanes; the permute restores element order.
        __m256i q01 = _mm256_packs_epi32(q[0], q[1]), q23 = _mm256_packs_epi32(q[2], q[3]);
        __m256i q8 = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(q01, q23),
                                                 _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)(qs + b * 32), q8);
        __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4E));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xB1));
        s[b] = _mm_cvtsi128_si32(s4);
        d[b] = _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtps_ph(_mm_set_ss(db), _MM_FROUND_TO_NEAREST_INT)));
    }
}

// ---- n = 1: one activation row against four weight rows per pass ---------------------------
//
// Per weight row and block, 8 int32 lanes of partial sums; a tree of horizontal adds turns the
// lanes of 4 rows x 2 blocks into their 8 exact block sums, so that each row gets exactly the
// reference's sequence of fused multiply-adds (one per block, in order) at the cost of about
// one shuffle per block.

// Q4_0: unsigned nibbles times x (the offset of 8 is removed later from the block sum of x).
// The int16 products of nibble pairs (2 x 15 x 127 at most) stay exact through two horizontal
// adds (8 products, 15240 at most), so four rows are reduced in int16 and widened once.
AVX2_INLINE __m256i nibble_products(const uint8_t *blk, __m256i x) {
    __m256i raw = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(blk + 2)));
    // Upper lane shifted by 4: low nibbles = elements 0..15, high nibbles = 16..31.
    __m256i nib = _mm256_and_si256(_mm256_srlv_epi64(raw, _mm256_setr_epi64x(0, 0, 4, 4)), _mm256_set1_epi8(15));
    return _mm256_maddubs_epi16(nib, x);
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
        __m256i h01 = _mm256_hadd_epi16(nibble_products(r0, x), nibble_products(r1, x));
        __m256i h23 = _mm256_hadd_epi16(nibble_products(r2, x), nibble_products(r3, x));
        return _mm256_madd_epi16(_mm256_hadd_epi16(h01, h23), _mm256_set1_epi16(1));
    }
    __m256i r01 = _mm256_hadd_epi32(q8_block_lanes(r0, x), q8_block_lanes(r1, x));
    __m256i r23 = _mm256_hadd_epi32(q8_block_lanes(r2, x), q8_block_lanes(r3, x));
    return _mm256_hadd_epi32(r01, r23);
}

AVX2_INLINE uint64_t load_u16(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return h;
}

// The four rows' fp16 scales of a block, gathered in general-purpose registers (which are
// idle here) rather than with vector inserts.
AVX2_INLINE __m128i scales4(const uint8_t *r0, const uint8_t *r1, const uint8_t *r2, const uint8_t *r3) {
    uint64_t v = load_u16(r0) | load_u16(r1) << 16 | load_u16(r2) << 32 | load_u16(r3) << 48;
    return _mm_cvtsi64_si128((long long)v);
}

AVX2_INLINE void gemv_q_avx2(const void *w, size_t rb, int m, int k, const void *xv, float *y, int q4) {
    const ck_q8_act *x = xv;
    const size_t bsz = q4 ? sizeof(ck_block_q4_0) : sizeof(ck_block_q8_0);
    const int nb = k / 32;
    for (int i = 0; i < m; i += 4) {
        // Rows past m repeat the last one; their results are dropped.
        const uint8_t *r0 = (const uint8_t *)w + (size_t)i * rb;
        const uint8_t *r1 = i + 1 < m ? r0 + rb : r0;
        const uint8_t *r2 = i + 2 < m ? r1 + rb : r1;
        const uint8_t *r3 = i + 3 < m ? r2 + rb : r2;
        // The next four rows (contiguous) are prefetched while these are computed: rows are
        // short, so the hardware prefetcher alone keeps restarting its streams.
        const uint8_t *next = r0 + 4 * rb;
        const size_t pf_step = (4 * rb / (size_t)(nb > 1 ? nb / 2 : 1) + 63) & ~(size_t)63;
        __m128 acc = _mm_setzero_ps();
        int b = 0;
        for (; b + 1 < nb; b += 2) {
            size_t o0 = b * bsz, o1 = o0 + bsz;
            if (i + 4 < m)
                for (size_t pf = 0; pf < pf_step; pf += 64)
                    _mm_prefetch((const char *)next + (size_t)(b / 2) * pf_step + pf, _MM_HINT_T0);
            __m256i h0 = block_sums4(r0 + o0, r1 + o0, r2 + o0, r3 + o0, x->qs + b * 32, q4);
            __m256i h1 = block_sums4(r0 + o1, r1 + o1, r2 + o1, r3 + o1, x->qs + (b + 1) * 32, q4);
            __m256i isum = _mm256_add_epi32(_mm256_permute2x128_si256(h0, h1, 0x20),
                                            _mm256_permute2x128_si256(h0, h1, 0x31));
            if (q4) {
                __m256i off = _mm256_setr_m128i(_mm_set1_epi32(x->s[b]), _mm_set1_epi32(x->s[b + 1]));
                isum = _mm256_sub_epi32(isum, _mm256_slli_epi32(off, 3));
            }
            __m256 fs = _mm256_cvtepi32_ps(isum);
            __m256 dw = _mm256_cvtph_ps(_mm_unpacklo_epi64(scales4(r0 + o0, r1 + o0, r2 + o0, r3 + o0),
                                                           scales4(r0 + o1, r1 + o1, r2 + o1, r3 + o1)));
            __m256 sc = _mm256_mul_ps(dw, _mm256_setr_m128(_mm_set1_ps(x->d[b]), _mm_set1_ps(x->d[b + 1])));
            acc = _mm_fmadd_ps(_mm256_castps256_ps128(fs), _mm256_castps256_ps128(sc), acc);
            acc = _mm_fmadd_ps(_mm256_extractf128_ps(fs, 1), _mm256_extractf128_ps(sc, 1), acc);
        }
        if (b < nb) {
            size_t o0 = b * bsz;
            __m256i h0 = block_sums4(r0 + o0, r1 + o0, r2 + o0, r3 + o0, x->qs + b * 32, q4);
            __m128i isum = _mm_add_epi32(_mm256_castsi256_si128(h0), _mm256_extracti128_si256(h0, 1));
            if (q4) isum = _mm_sub_epi32(isum, _mm_set1_epi32(x->s[b] * 8));
            __m128 sc = _mm_mul_ps(_mm_cvtph_ps(scales4(r0 + o0, r1 + o0, r2 + o0, r3 + o0)), _mm_set1_ps(x->d[b]));
            acc = _mm_fmadd_ps(_mm_cvtepi32_ps(isum), sc, acc);
        }
        float out[4];
        _mm_storeu_ps(out, acc);
        for (int r = 0; r < 4 && i + r < m; r++) y[i + r] = out[r];
    }
}

AVX2 static void gemv_q4_0_q8_0_avx2(const void *w, size_t rb, int m, int k, const void *x, float *y) {
    gemv_q_avx2(w, rb, m, k, x, y, 1);
}

AVX2 static void gemv_q8_0_q8_0_avx2(const void *w, size_t rb, int m, int k, const void *x, float *y) {
    gemv_q_avx2(w, rb, m, k, x, y, 0);
}

// ---- n > 1: panels of 8 activation rows, lanes are rows ----------------------------------
//
// A weight group of 4 bytes is broadcast to all 8 lanes and multiplied with the same 4
// positions of the panel's 8 rows: the int32 lanes are then 8 outputs and need no horizontal
// sums. Q4_0: nibbles (0..15) times x fit int16 for a whole block (8 groups x 2 x 15 x 127 =
// 30480 < 32767), so one widening per block; the offset of 8 comes off via the rows' block
// sums. Q8_0: |w| x |x| up to 2 x 127 x 127 per int16, so each group is widened at once.
// Up to CK_MAX_PANELS panels per pass share each unpacked weight block.

_Static_assert(CK_MAX_PANELS == 2, "the panel kernels below hold two panels");

// Group g (positions 4g..4g+3) of a Q4_0 block, broadcast in wg, times the panels' rows.
AVX2_INLINE void q4_group(__m256i *p16, __m256i wg, const int8_t *const *xb, int g, int np) {
    p16[0] = _mm256_add_epi16(p16[0], _mm256_maddubs_epi16(wg, _mm256_load_si256((const __m256i *)(xb[0] + g * 32))));
    if (np > 1)
        p16[1] = _mm256_add_epi16(p16[1], _mm256_maddubs_epi16(wg, _mm256_load_si256((const __m256i *)(xb[1] + g * 32))));

}

AVX2_INLINE void gemm_q_avx2(const void *w, size_t rb, int m, int k, const ck_q8_act *panels,
                             int nr, float *y, int ldy, int q4, int np) {
    const __m256i ones = _mm256_set1_epi16(1);
    const size_t bsz = q4 ? sizeof(ck_block_q4_0) : sizeof(ck_block_q8_0);
    const int nb = k / 32;
    for (int i = 0; i < m; i++) {
        const uint8_t *row = (const uint8_t *)w + (size_t)i * rb;
        __m256 acc[CK_MAX_PANELS];
        for (int p = 0; p < CK_MAX_PANELS; p++) acc[p] = _mm256_setzero_ps();
        for (int b = 0; b < nb; b++) {
            const uint8_t *blk = row + (size_t)b * bsz;
            __m256i isum[CK_MAX_PANELS];
            if (q4) {
                __m256i raw = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(blk + 2)));
                __m256i lo = _mm256_and_si256(raw, _mm256_set1_epi8(15));
                __m256i hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), _mm256_set1_epi8(15));
                __m256i p16[CK_MAX_PANELS];
                for (int p = 0; p < CK_MAX_PANELS; p++) p16[p] = _mm256_setzero_si256();
                const int8_t *xb[CK_MAX_PANELS];
                for (int p = 0; p < CK_MAX_PANELS; p++) xb[p] = panels[p < np ? p : 0].qs + (size_t)b * 256;
                q4_group(p16, _mm256_shuffle_epi32(lo, 0x00), xb, 0, np);
                q4_group(p16, _mm256_shuffle_epi32(lo, 0x55), xb, 1, np);
                q4_group(p16, _mm256_shuffle_epi32(lo, 0xAA), xb, 2, np);
                q4_group(p16, _mm256_shuffle_epi32(lo, 0xFF), xb, 3, np);
                q4_group(p16, _mm256_shuffle_epi32(hi, 0x00), xb, 4, np);
                q4_group(p16, _mm256_shuffle_epi32(hi, 0x55), xb, 5, np);
                q4_group(p16, _mm256_shuffle_epi32(hi, 0xAA), xb, 6, np);
                q4_group(p16, _mm256_shuffle_epi32(hi, 0xFF), xb, 7, np);
                for (int p = 0; p < np; p++) {
                    __m256i off = _mm256_slli_epi32(_mm256_load_si256((const __m256i *)(panels[p].s + b * 8)), 3);
                    isum[p] = _mm256_sub_epi32(_mm256_madd_epi16(p16[p], ones), off);
                }
            } else {
                for (int p = 0; p < np; p++) isum[p] = _mm256_setzero_si256();
                for (int g = 0; g < 8; g++) {
                    int32_t wg32;
                    memcpy(&wg32, blk + 2 + g * 4, 4);
                    __m256i wg = _mm256_set1_epi32(wg32);
                    __m256i wabs = _mm256_sign_epi8(wg, wg);
                    for (int p = 0; p < np; p++) {
                        __m256i xg = _mm256_load_si256((const __m256i *)(panels[p].qs + (size_t)b * 256 + g * 32));
                        __m256i p16 = _mm256_maddubs_epi16(wabs, _mm256_sign_epi8(xg, wg));
                        isum[p] = _mm256_add_epi32(isum[p], _mm256_madd_epi16(p16, ones));
                    }
                }
            }
            __m256 dw = _mm256_set1_ps(half_to_float(blk));
            for (int p = 0; p < np; p++) {
                __m256 sc = _mm256_mul_ps(dw, _mm256_load_ps(panels[p].d + b * 8));
                acc[p] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[p]), sc, acc[p]);
            }
        }
        for (int p = 0; p < np; p++) {
            float out[8];
            _mm256_storeu_ps(out, acc[p]);
            for (int r = 0; r < 8 && p * 8 + r < nr; r++) y[(size_t)(p * 8 + r) * ldy + i] = out[r];
        }
    }
}

// One panel or two, a constant in each call so that the panel loops unroll.
AVX2_INLINE void gemm_q_panels_avx2(const void *w, size_t rb, int m, int k, const void *x, int nr, float *y,
                                    int ldy, int q4) {
    switch ((nr + CK_PANEL - 1) / CK_PANEL) {
    case 2: gemm_q_avx2(w, rb, m, k, x, nr, y, ldy, q4, 2); break;
    default: gemm_q_avx2(w, rb, m, k, x, nr, y, ldy, q4, 1); break;
    }
}

AVX2 static void gemm_q4_0_q8_0_avx2(const void *w, size_t rb, int m, int k, const void *x, size_t xs,
                                     int nr, float *y, int ldy) {
    (void)xs;
    gemm_q_panels_avx2(w, rb, m, k, x, nr, y, ldy, 1);
}

AVX2 static void gemm_q8_0_q8_0_avx2(const void *w, size_t rb, int m, int k, const void *x, size_t xs,
                                     int nr, float *y, int ldy) {
    (void)xs;
    gemm_q_panels_avx2(w, rb, m, k, x, nr, y, ldy, 0);
}

// ---- the float kernels: simd_float.h on 8 lanes ----------------------------------------------

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

AVX2 static size_t quantize_q8_0_gguf_avx2(const float *x, ck_block_q8_0 *y, size_t k) {
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

AVX2 static size_t quantize_q4_0_gguf_avx2(const float *x, ck_block_q4_0 *y, size_t k) {
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
    .q4_0 = {gemv_q4_0_q8_0_avx2, gemm_q4_0_q8_0_avx2, ck_to_float_q4_0_ref},
    .q8_0 = {gemv_q8_0_q8_0_avx2, gemm_q8_0_q8_0_avx2, ck_to_float_q8_0_ref},
    .quantize_q8 = quantize_q8_avx2,
    .quantize_q8_0_gguf = quantize_q8_0_gguf_avx2,
    .quantize_q4_0_gguf = quantize_q4_0_gguf_avx2,
};

#endif
