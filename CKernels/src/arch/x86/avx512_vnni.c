// x86-64 AVX-512 VNNI (Ice Lake, Sapphire Rapids and later Xeons; Zen 4 and 5): the quantized
// kernels form their integer block sums with vpdpbusd, four u8 x s8 products summed into each
// int32 lane in one instruction, where AVX2 needs vpmaddubsw, int16 adds and vpmaddwd. The n = 1
// kernels run on 256-bit registers (AVX512VL) in AVX2's loops (x86_q8.h); every n > 1 product
// (vision tower, Q-Former, prefill, beam steps) is gemm_lanes on 512-bit registers, below. Float
// kernels and weight quantizers are AVX2's.
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
    return sum4_lanes(row_lanes(r0, x, q4), row_lanes(r1, x, q4), row_lanes(r2, x, q4), row_lanes(r3, x, q4));
}

// ---- n > 1 with weight rows in the lanes (ck_type_kernels.gemm_lanes) ------------------------
//
// Sixteen weight rows per pass, a block at a time, are unpacked into 8 registers of unsigned
// bytes (kept in scratch when more than 8 activation rows reuse them), group g of the block
// (positions 4g..4g+3) of row i in int32 lane i of the g-th: Q4_0's nibbles as they are (offset
// 8), Q8_0's quants plus 128 (offset 128). Each activation row's
// 4-byte group is then broadcast from memory into one vpdpbusd per 16 rows; the offset comes off
// via the activation's block sum, and the lanes' fp32 work is the reference's per row.

// The 16 data bytes at p + 16 * j of rows 4l + q (l = 0..3) in the 128-bit lanes of q-th
// register, transposed so that register g holds bytes 4g..4g+3 of all 16 rows in row order.
VNNI_INLINE void transpose16(const uint8_t *const *rows, size_t off, __m512i out[4]) {
    __m512i q[4];
    CK_UNROLL(4)
    for (int c = 0; c < 4; c++) {
        __m512i v = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(rows[c] + off)));
        v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(rows[4 + c] + off)), 1);
        v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(rows[8 + c] + off)), 2);
        q[c] = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(rows[12 + c] + off)), 3);
    }
    __m512i t0 = _mm512_unpacklo_epi32(q[0], q[1]), t1 = _mm512_unpackhi_epi32(q[0], q[1]);
    __m512i t2 = _mm512_unpacklo_epi32(q[2], q[3]), t3 = _mm512_unpackhi_epi32(q[2], q[3]);
    out[0] = _mm512_unpacklo_epi64(t0, t2);
    out[1] = _mm512_unpackhi_epi64(t0, t2);
    out[2] = _mm512_unpacklo_epi64(t1, t3);
    out[3] = _mm512_unpackhi_epi64(t1, t3);
}

VNNI_INLINE uint64_t u16_at(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return h;
}

VNNI_INLINE uint64_t halves4(const uint8_t *r0, const uint8_t *r1, const uint8_t *r2, const uint8_t *r3) {
    return u16_at(r0) | u16_at(r1) << 16 | u16_at(r2) << 32 | u16_at(r3) << 48;
}

// The 16 rows' block at offset o (its fp16 scale; the quants follow): quants into w[8], group
// g in w[g], and the scales as floats.
VNNI_INLINE __m512 unpack_block(const uint8_t *const *row, size_t o, int q4, __m512i w[8]) {
    __m512i g[4];
    transpose16(row, o + 2, g);
    if (q4) {
        const __m512i low = _mm512_set1_epi8(15);
        CK_UNROLL(4)
        for (int c = 0; c < 4; c++) {
            w[c] = _mm512_and_si512(g[c], low);
            w[c + 4] = _mm512_and_si512(_mm512_srli_epi32(g[c], 4), low);
        }
    } else {
        const __m512i bias = _mm512_set1_epi8((char)0x80);
        CK_UNROLL(4)
        for (int c = 0; c < 4; c++) w[c] = _mm512_xor_si512(g[c], bias);
        transpose16(row, o + 18, g);
        CK_UNROLL(4)
        for (int c = 0; c < 4; c++) w[c + 4] = _mm512_xor_si512(g[c], bias);
    }
    // The scales gathered in general-purpose registers (idle here; vpgatherdd is slow).
    __m256i d16 = _mm256_setr_epi64x((long long)halves4(row[0] + o, row[1] + o, row[2] + o, row[3] + o),
                                     (long long)halves4(row[4] + o, row[5] + o, row[6] + o, row[7] + o),
                                     (long long)halves4(row[8] + o, row[9] + o, row[10] + o, row[11] + o),
                                     (long long)halves4(row[12] + o, row[13] + o, row[14] + o, row[15] + o));
    return _mm512_cvtph_ps(d16);
}

// Row pointers of a pass: rows [0, rows) of w, the missing ones (rows < 16) repeating the last.
VNNI_INLINE void lane_rows(const uint8_t *w, size_t rb, int rows, const uint8_t *row[CK_LANE_ROWS]) {
    for (int i = 0; i < CK_LANE_ROWS; i++) row[i] = w + (size_t)(i < rows ? i : rows - 1) * rb;
}

// One block of nr (<= 8, a constant where inlined) activation rows against the unpacked rows.
VNNI_INLINE void block_rows(const __m512i w[8], __m512 dw, const ck_q8_act *x, int b, int nr, int offset,
                            __m512 *acc) {
    __m512i isum[8];
    CK_UNROLL(8)
    for (int r = 0; r < nr; r++) isum[r] = _mm512_setzero_si512();
    CK_UNROLL(8)
    for (int g = 0; g < 8; g++) {
        CK_UNROLL(8)
        for (int r = 0; r < nr; r++) {
            int32_t xg;
            memcpy(&xg, x[r].qs + (size_t)b * 32 + 4 * g, 4);
            isum[r] = _mm512_dpbusd_epi32(isum[r], w[g], _mm512_set1_epi32(xg));
        }
    }
    CK_UNROLL(8)
    for (int r = 0; r < nr; r++) {
        __m512i off = _mm512_set1_epi32(x[r].s[b] * offset);
        __m512 sc = _mm512_mul_ps(dw, _mm512_set1_ps(x[r].d[b]));
        acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(isum[r], off)), sc, acc[r]);
    }
}

// A slice per block of the pf_bytes at pf (the next 16 weight rows) into L2: the hardware
// prefetcher does not follow 16 short streams at once, and a beam step would wait on memory.
// Into L2, not L1: L1's few outstanding misses limited a 5-beam step to 2x a greedy one on Zen 4
// (1.4x with L2, BENCHMARKS.md).
VNNI_INLINE void prefetch_slice(const uint8_t *pf, size_t pf_bytes, int b, int nb) {
    const size_t step = (pf_bytes / (size_t)nb + 127) & ~(size_t)63;
    for (size_t o = (size_t)b * step; o < (size_t)(b + 1) * step && o < pf_bytes; o += 64)
        _mm_prefetch((const char *)pf + o, _MM_HINT_T1);
}

VNNI_INLINE void store_rows(const __m512 *acc, int nr, float *y, int ldy, int rows) {
    __mmask16 keep = (__mmask16)((1u << rows) - 1);
    CK_UNROLL(8)
    for (int r = 0; r < nr; r++) _mm512_mask_storeu_ps(y + (size_t)r * ldy, keep, acc[r]);
}

// nr <= 8 (beam steps, short prompts): each block unpacked into registers and used at once.
_Static_assert(CK_LANE_DIRECT_ROWS == 8, "the tiles below are up to 8 rows");
VNNI_INLINE void lanes_direct(const uint8_t *const *row, size_t bsz, int nb, int q4, const ck_q8_act *x, int nr,
                              float *y, int ldy, int rows, const uint8_t *pf, size_t pf_bytes) {
    __m512 acc[8];
    CK_UNROLL(8)
    for (int r = 0; r < nr; r++) acc[r] = _mm512_setzero_ps();
    for (int b = 0; b < nb; b++) {
        prefetch_slice(pf, pf_bytes, b, nb);
        __m512i w[8];
        __m512 dw = unpack_block(row, (size_t)b * bsz, q4, w);
        block_rows(w, dw, x, b, nr, q4 ? 8 : 128, acc);
    }
    store_rows(acc, nr, y, ldy, rows);
}

// nr > 8: the unpacked blocks kept in scratch for every tile of 8 activation rows.
VNNI_INLINE void lanes_tile(const uint8_t *scratch, int nb, const ck_q8_act *x, int nr, int offset, float *y,
                            int ldy, int rows, const uint8_t *pf, size_t pf_bytes) {
    __m512 acc[8];
    CK_UNROLL(8)
    for (int r = 0; r < nr; r++) acc[r] = _mm512_setzero_ps();
    for (int b = 0; b < nb; b++) {
        prefetch_slice(pf, pf_bytes, b, nb);
        const uint8_t *sb = scratch + (size_t)b * CK_LANE_BLOCK_BYTES;
        __m512i w[8];
        CK_UNROLL(8)
        for (int g = 0; g < 8; g++) w[g] = _mm512_load_si512(sb + 64 * g);
        block_rows(w, _mm512_load_ps(sb + 512), x, b, nr, offset, acc);
    }
    store_rows(acc, nr, y, ldy, rows);
}

// Tile heights are constants in each call, so that the row loops unroll into registers.
#define LANES_BY_HEIGHT(h, call)                                                                   \
    switch (h) {                                                                                   \
    case 1: call(1); break;                                                                        \
    case 2: call(2); break;                                                                        \
    case 3: call(3); break;                                                                        \
    case 4: call(4); break;                                                                        \
    case 5: call(5); break;                                                                        \
    case 6: call(6); break;                                                                        \
    case 7: call(7); break;                                                                        \
    default: call(8); break;                                                                       \
    }

VNNI_INLINE void gemm_lanes(const void *w, size_t rb, int m, int k, const ck_q8_act *x, int nr, float *y, int ldy,
                            void *scratch, int q4) {
    const size_t bsz = q4 ? sizeof(ck_block_q4_0) : sizeof(ck_block_q8_0);
    const int nb = k / 32, offset = q4 ? 8 : 128;
    for (int i = 0; i < m; i += CK_LANE_ROWS) {
        int rows = m - i < CK_LANE_ROWS ? m - i : CK_LANE_ROWS;
        const uint8_t *wi = (const uint8_t *)w + (size_t)i * rb, *pf = wi + (size_t)rows * rb;
        size_t pf_bytes = (size_t)(m - i - rows < CK_LANE_ROWS ? m - i - rows : CK_LANE_ROWS) * rb;
        const uint8_t *row[CK_LANE_ROWS];
        lane_rows(wi, rb, rows, row);
        if (nr <= CK_LANE_DIRECT_ROWS) {
#define DIRECT(h) lanes_direct(row, bsz, nb, q4, x, h, y + i, ldy, rows, pf, pf_bytes)
            LANES_BY_HEIGHT(nr, DIRECT)
#undef DIRECT
            continue;
        }
        for (int b = 0; b < nb; b++) {
            uint8_t *dst = (uint8_t *)scratch + (size_t)b * CK_LANE_BLOCK_BYTES;
            __m512i wb[8];
            __m512 dw = unpack_block(row, (size_t)b * bsz, q4, wb);
            CK_UNROLL(8)
            for (int g = 0; g < 8; g++) _mm512_store_si512(dst + 64 * g, wb[g]);
            _mm512_store_ps(dst + 512, dw);
        }
        for (int r0 = 0; r0 < nr; r0 += 8) {
            // The next rows are prefetched during the first tile only.
#define TILE(h) lanes_tile(scratch, nb, x + r0, h, offset, y + (size_t)r0 * ldy + i, ldy, rows, pf, r0 ? 0 : pf_bytes)
            LANES_BY_HEIGHT(nr - r0, TILE)
#undef TILE
        }
    }
}
#undef LANES_BY_HEIGHT

VNNI static void gemm_lanes_q4_0_avx512_vnni(const void *w, size_t rb, int m, int k, const ck_q8_act *x, int nr,
                                             float *y, int ldy, void *scratch) {
    gemm_lanes(w, rb, m, k, x, nr, y, ldy, scratch, 1);
}

VNNI static void gemm_lanes_q8_0_avx512_vnni(const void *w, size_t rb, int m, int k, const ck_q8_act *x, int nr,
                                             float *y, int ldy, void *scratch) {
    gemm_lanes(w, rb, m, k, x, nr, y, ldy, scratch, 0);
}

#define Q4_LANES gemm_lanes_q4_0_avx512_vnni
#define Q8_LANES gemm_lanes_q8_0_avx512_vnni
#include "x86_q8.h"
#include "x86_float.h"

const ck_kernels ck_kernels_avx512_vnni = {
    SIMD_FLOAT_KERNELS,
    X86_Q8_KERNELS,
    .q4_0x8 = X86_Q4_0X8_KERNELS,
    .quantize_q8_0_gguf = ck_quantize_q8_0_gguf_avx2,
    .quantize_q4_0_gguf = ck_quantize_q4_0_gguf_avx2,
};

#endif
