// The quantized kernels of the x86 variants (Q4_0 and Q8_0 weights against Q8_0 activations):
// the activation quantizer and the n = 1 and n > 1 loops with their prefetches, scales and one
// fused multiply-add per block. What differs between instruction sets is how a block's exact
// integer sums are formed; each file defines, before including this once:
//   Q_FN, Q_INLINE        the attributes of a kernel and of an inlined helper
//   Q_NAME(name)          a kernel's name with the file's suffix
//   block_sums4(r0, r1, r2, r3, xq, q4)
//                         n = 1: the integer sums of one block of 4 weight rows against the
//                         activation block xq (Q4_0: unsigned nibbles, without the offset of 8),
//                         lane r of each 128-bit half holding part of row r's sum
//   block_isums(blk, xb, q4, np, isum)
//                         n > 1: the integer sums of one weight block against np panels (xb[p]:
//                         the block's 8 groups x 8 rows x 4 bytes), lane r = panel row r
//                         (Q4_0 without the offset)
// or instead of block_isums, Q4_LANES and Q8_LANES: the names of the file's gemm_lanes kernels
// (ck_internal.h), which then do every n > 1 product, so no panel GEMM is built.
// Integer sums are exact in every variant, so all give the reference's bits.

#include <string.h>
#include "../../ck_internal.h"
#include "x86_simd.h"

// ---- activation quantization -------------------------------------------------------------

// roundf (half away from zero) for |v| < 2^23: truncate, then step away from zero when the
// dropped fraction (exact) is at least one half. _mm256_round_ps's nearest mode would round
// ties to even and differ from the reference.
Q_INLINE __m256 round_half_away(__m256 v) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __m256 frac = _mm256_andnot_ps(sign, _mm256_sub_ps(v, t));
    __m256 step = _mm256_or_ps(_mm256_and_ps(v, sign), _mm256_set1_ps(1.0f));
    return _mm256_add_ps(t, _mm256_and_ps(_mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ), step));
}

Q_FN static void Q_NAME(quantize_q8)(const float *x, size_t k, int8_t *qs, float *d, int32_t *s) {
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

Q_INLINE uint64_t load_u16(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return h;
}

// The four rows' fp16 scales of a block, gathered in general-purpose registers (which are
// idle here) rather than with vector inserts.
Q_INLINE __m128i scales4(const uint8_t *r0, const uint8_t *r1, const uint8_t *r2, const uint8_t *r3) {
    uint64_t v = load_u16(r0) | load_u16(r1) << 16 | load_u16(r2) << 32 | load_u16(r3) << 48;
    return _mm_cvtsi64_si128((long long)v);
}

Q_INLINE void gemv_q(const void *w, size_t rb, int m, int k, const void *xv, float *y, int q4) {
    const ck_q8_act *x = xv;
    const size_t bsz = q4 ? sizeof(ck_block_q4_0) : sizeof(ck_block_q8_0);
    const int nb = k / 32;
    for (int i = 0; i < m; i += 4) {
        // Rows past m repeat the last one; their results are dropped.
        const uint8_t *r0 = (const uint8_t *)w + (size_t)i * rb;
        const uint8_t *r1 = i + 1 < m ? r0 + rb : r0;
        const uint8_t *r2 = i + 2 < m ? r1 + rb : r1;
        const uint8_t *r3 = i + 3 < m ? r2 + rb : r2;
        // The next four rows (contiguous) are prefetched while these are computed, 8 blocks'
        // bytes rounded up to whole lines for every 2 blocks of these 4 rows: rows are short, so
        // the hardware prefetcher alone keeps restarting its streams. A constant number of lines
        // a step (a loop of them cost more than the prefetches); a prefetch past the end does
        // not fault.
        const char *next = (const char *)r0 + 4 * rb;
        const int pf_lines = (int)((8 * bsz + 63) / 64);
        // Block b's and b + 1's values of the activation, each in one half: [v_b x 4, v_b+1 x 4].
        const __m256i halves = _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1);
        __m128 acc = _mm_setzero_ps();
        int b = 0;
        for (; b + 1 < nb; b += 2) {
            size_t o0 = b * bsz, o1 = o0 + bsz;
            if (i + 4 < m)
                for (int t = 0; t < pf_lines; t++) _mm_prefetch(next + (size_t)(b / 2 * pf_lines + t) * 64, _MM_HINT_T0);
            __m256i h0 = block_sums4(r0 + o0, r1 + o0, r2 + o0, r3 + o0, x->qs + b * 32, q4);
            __m256i h1 = block_sums4(r0 + o1, r1 + o1, r2 + o1, r3 + o1, x->qs + (b + 1) * 32, q4);
            __m256i isum = _mm256_add_epi32(_mm256_permute2x128_si256(h0, h1, 0x20),
                                            _mm256_permute2x128_si256(h0, h1, 0x31));
            if (q4) {
                __m256i s2 = _mm256_castsi128_si256(_mm_loadl_epi64((const __m128i *)(x->s + b)));
                isum = _mm256_sub_epi32(isum, _mm256_slli_epi32(_mm256_permutevar8x32_epi32(s2, halves), 3));
            }
            __m256 fs = _mm256_cvtepi32_ps(isum);
            __m256 dw = _mm256_cvtph_ps(_mm_unpacklo_epi64(scales4(r0 + o0, r1 + o0, r2 + o0, r3 + o0),
                                                           scales4(r0 + o1, r1 + o1, r2 + o1, r3 + o1)));
            __m256 d2 = _mm256_castps128_ps256(_mm_castsi128_ps(_mm_loadl_epi64((const __m128i *)(x->d + b))));
            __m256 sc = _mm256_mul_ps(dw, _mm256_permutevar8x32_ps(d2, halves));
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

Q_FN static void Q_NAME(gemv_q4_0_q8_0)(const void *w, size_t rb, int m, int k, const void *x, float *y) {
    gemv_q(w, rb, m, k, x, y, 1);
}

Q_FN static void Q_NAME(gemv_q8_0_q8_0)(const void *w, size_t rb, int m, int k, const void *x, float *y) {
    gemv_q(w, rb, m, k, x, y, 0);
}

// ---- n > 1: panels of 8 activation rows, lanes are rows ----------------------------------
#if !defined(Q4_LANES) || !defined(Q8_LANES)
//
// A weight group of 4 bytes is broadcast to all 8 lanes and multiplied with the same 4
// positions of the panel's 8 rows: the int32 lanes are then 8 outputs and need no horizontal
// sums; Q4_0's offset of 8 comes off via the rows' block sums. Up to CK_MAX_PANELS panels per
// pass share each unpacked weight block.

_Static_assert(CK_MAX_PANELS == 2, "the panel kernels below hold two panels");


// acc[p] += one weight block of a row times panel p's rows: the block's exact integer sums,
// less Q4_0's offset, then one fused multiply-add per lane, as the reference does per block.
Q_INLINE void panel_block(const uint8_t *blk, int b, const ck_q8_act *panels, int q4, int np, __m256 *acc) {
    const int8_t *xb[CK_MAX_PANELS];
    for (int p = 0; p < CK_MAX_PANELS; p++) xb[p] = panels[p < np ? p : 0].qs + (size_t)b * 256;
    __m256i isum[CK_MAX_PANELS];
    block_isums(blk, xb, q4, np, isum);
    __m256 dw = _mm256_set1_ps(half_to_float(blk));
    for (int p = 0; p < np; p++) {
        if (q4) {
            __m256i off = _mm256_slli_epi32(_mm256_load_si256((const __m256i *)(panels[p].s + b * 8)), 3);
            isum[p] = _mm256_sub_epi32(isum[p], off);
        }
        __m256 sc = _mm256_mul_ps(dw, _mm256_load_ps(panels[p].d + b * 8));
        acc[p] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[p]), sc, acc[p]);
    }
}

// Panel bytes per block (8 rows x 32 quants, 8 scales, 8 sums), and how many of them a pass
// keeps in L1 (Zen 3's is 32 KB, shared with the weights streaming through).
#define PANEL_BLOCK_BYTES (CK_PANEL * (32 + 4 + 4))
#define GEMM_L1_PANEL_BYTES (32 * 1024)
// Rows per tile and blocks per slice of k when the panels do not fit: see gemm_q.
#define GEMM_TILE_ROWS 32
#define GEMM_SLICE_BLOCKS 24

// One weight row's outputs (out[p][r]: panel p's row r) into column y of Y's first nr rows.
Q_INLINE void store_panels(const float (*out)[8], int np, int nr, float *y, int ldy) {
    for (int p = 0; p < np; p++)
        for (int r = 0; r < 8 && p * 8 + r < nr; r++) y[(size_t)(p * 8 + r) * ldy] = out[p][r];
}

// When the panels' blocks fit in L1 each row runs over all of them. When they do not (k past
// about 1600 with two panels, 3300 with one: the ViT's fc2, the language model's layers),
// every block's panel bytes would come from L2, whose bandwidth, not the arithmetic, then sets
// the speed (about 20 cycles a block on Zen 3 at n = 257); so rows go in tiles over slices of k
// that stay in L1, the partial sums waiting in acc_tile between slices: the same fused
// multiply-adds in the same order, so the same bits (15-17% faster at 1408x6144 and 2560x2560,
// n = 257).
Q_INLINE void gemm_q(const void *w, size_t rb, int m, int k, const ck_q8_act *panels, int nr, float *y, int ldy,
                     int q4, int np) {
    const size_t bsz = q4 ? sizeof(ck_block_q4_0) : sizeof(ck_block_q8_0);
    const int nb = k / 32;
    if ((size_t)nb * np * PANEL_BLOCK_BYTES <= GEMM_L1_PANEL_BYTES) {
        for (int i = 0; i < m; i++) {
            const uint8_t *row = (const uint8_t *)w + (size_t)i * rb;
            __m256 acc[CK_MAX_PANELS];
            for (int p = 0; p < CK_MAX_PANELS; p++) acc[p] = _mm256_setzero_ps();
            for (int b = 0; b < nb; b++) panel_block(row + (size_t)b * bsz, b, panels, q4, np, acc);
            float out[CK_MAX_PANELS][8];
            for (int p = 0; p < np; p++) _mm256_storeu_ps(out[p], acc[p]);
            store_panels(out, np, nr, y + i, ldy);
        }
        return;
    }
    __attribute__((aligned(32))) float acc_tile[GEMM_TILE_ROWS][CK_MAX_PANELS][8];
    for (int i0 = 0; i0 < m; i0 += GEMM_TILE_ROWS) {
        const int rows = m - i0 < GEMM_TILE_ROWS ? m - i0 : GEMM_TILE_ROWS;
        for (int b0 = 0; b0 < nb; b0 += GEMM_SLICE_BLOCKS) {
            const int b1 = nb - b0 < GEMM_SLICE_BLOCKS ? nb : b0 + GEMM_SLICE_BLOCKS;
            for (int t = 0; t < rows; t++) {
                const uint8_t *row = (const uint8_t *)w + (size_t)(i0 + t) * rb;
                __m256 acc[CK_MAX_PANELS];
                for (int p = 0; p < CK_MAX_PANELS; p++)
                    acc[p] = b0 ? _mm256_load_ps(acc_tile[t][p]) : _mm256_setzero_ps();
                for (int b = b0; b < b1; b++) panel_block(row + (size_t)b * bsz, b, panels, q4, np, acc);
                for (int p = 0; p < np; p++) _mm256_store_ps(acc_tile[t][p], acc[p]);
            }
        }
        for (int t = 0; t < rows; t++) store_panels(acc_tile[t], np, nr, y + i0 + t, ldy);
    }
}

// One panel or two, a constant in each call so that the panel loops unroll.
Q_INLINE void gemm_q_panels(const void *w, size_t rb, int m, int k, const void *x, int nr, float *y, int ldy, int q4) {
    switch ((nr + CK_PANEL - 1) / CK_PANEL) {
    case 2: gemm_q(w, rb, m, k, x, nr, y, ldy, q4, 2); break;
    default: gemm_q(w, rb, m, k, x, nr, y, ldy, q4, 1); break;
    }
}

Q_FN static void Q_NAME(gemm_q4_0_q8_0)(const void *w, size_t rb, int m, int k, const void *x, size_t xs, int nr,
                                         float *y, int ldy) {
    (void)xs;
    gemm_q_panels(w, rb, m, k, x, nr, y, ldy, 1);
}

Q_FN static void Q_NAME(gemm_q8_0_q8_0)(const void *w, size_t rb, int m, int k, const void *x, size_t xs, int nr,
                                         float *y, int ldy) {
    (void)xs;
    gemm_q_panels(w, rb, m, k, x, nr, y, ldy, 0);
}

#define Q4_PANELS Q_NAME(gemm_q4_0_q8_0)
#define Q8_PANELS Q_NAME(gemm_q8_0_q8_0)
#define Q4_LANES NULL
#define Q8_LANES NULL
#else
#define Q4_PANELS NULL
#define Q8_PANELS NULL
#endif

// The table entries these kernels fill.
#define X86_Q8_KERNELS                                                                            \
    .q4_0 = {Q_NAME(gemv_q4_0_q8_0), Q4_PANELS, ck_to_float_q4_0_ref, Q4_LANES},                 \
    .q8_0 = {Q_NAME(gemv_q8_0_q8_0), Q8_PANELS, ck_to_float_q8_0_ref, Q8_LANES},                 \
    .quantize_q8 = Q_NAME(quantize_q8)
