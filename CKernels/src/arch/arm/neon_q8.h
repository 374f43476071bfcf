// NEON quantized matmul kernels, written once against the dot-product shim and included twice
// by neon.c: with SDOT (names ending _neondot) and with the ARMv8.0 fallback (_neon). Not a
// header of its own: it expects NEON_FN, NEON_ATTR, DOT and DOT_LANE to be defined.
//
//   DOT(acc, a, b):           acc[l] += sum of a[4l..4l+3] * b[4l..4l+3]   (int8 -> int32)
//   DOT_LANE(acc, a, b, j):   acc[l] += sum of a[4l..4l+3] * b[4j..4j+3]

// Q4_0 block to signed weights: wl = elements 0..15, wh = 16..31.
#define Q4_UNPACK(blk, wl, wh)                                                                   \
    do {                                                                                         \
        uint8x16_t raw_ = vld1q_u8((blk) + 2);                                                   \
        wl = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(raw_, vdupq_n_u8(15))), vdupq_n_s8(8));       \
        wh = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(raw_, 4)), vdupq_n_s8(8));                  \
    } while (0)

#define LOAD_W(blk, wl, wh, q4)                                                                  \
    do {                                                                                         \
        if (q4)                                                                                  \
            Q4_UNPACK(blk, wl, wh);                                                              \
        else {                                                                                   \
            wl = vld1q_s8((const int8_t *)(blk) + 2);                                            \
            wh = vld1q_s8((const int8_t *)(blk) + 18);                                           \
        }                                                                                        \
    } while (0)

// n = 1: four weight rows per pass; their per-block int32 lanes fold into [r0 r1 r2 r3] with
// three pairwise adds, then one vector fused multiply-add per block keeps each row's reference
// order.
NEON_ATTR static inline __attribute__((always_inline)) void NEON_FN(gemv_q)(
    const void *w, size_t rb, int m, int k, const void *xv, float *y, int q4) {
    const ck_q8_act *x = xv;
    const size_t bsz = q4 ? sizeof(ck_block_q4_0) : sizeof(ck_block_q8_0);
    const int nb = k / 32;
    for (int i = 0; i < m; i += 4) {
        const uint8_t *r[4];
        r[0] = (const uint8_t *)w + (size_t)i * rb;
        for (int t = 1; t < 4; t++) r[t] = i + t < m ? r[t - 1] + rb : r[t - 1];
        // Prefetch the next four rows (contiguous) while these are computed: rows are short and
        // the hardware prefetcher alone keeps restarting its streams.
        const uint8_t *next = r[0] + 4 * rb;
        const size_t pf_step = (4 * rb / (size_t)nb + 63) & ~(size_t)63;
        float32x4_t acc = vdupq_n_f32(0.0f);
        for (int b = 0; b < nb; b++) {
            if (i + 4 < m)
                for (size_t pf = 0; pf < pf_step; pf += 64) __builtin_prefetch(next + (size_t)b * pf_step + pf);
            int8x16_t x0 = vld1q_s8(x->qs + b * 32), x1 = vld1q_s8(x->qs + b * 32 + 16);
            int32x4_t s[4];
            uint16x4_t dh = vdup_n_u16(0);
            for (int t = 0; t < 4; t++) {
                const uint8_t *blk = r[t] + (size_t)b * bsz;
                int8x16_t wl, wh;
                LOAD_W(blk, wl, wh, q4);
                s[t] = DOT(DOT(vdupq_n_s32(0), wl, x0), wh, x1);
                uint16_t h;
                memcpy(&h, blk, 2);
                dh = vset_lane_u16(h, dh, 0);
                dh = vext_u16(dh, dh, 1); // rotate: after four rows, row t sits in lane t
            }
            int32x4_t isum = vpaddq_s32(vpaddq_s32(s[0], s[1]), vpaddq_s32(s[2], s[3]));
            float32x4_t sc = vmulq_n_f32(vcvt_f32_f16(vreinterpret_f16_u16(dh)), x->d[b]);
            acc = vfmaq_f32(acc, vcvtq_f32_s32(isum), sc);
        }
        float out[4];
        vst1q_f32(out, acc);
        for (int t = 0; t < 4 && i + t < m; t++) y[i + t] = out[t];
    }
}

NEON_ATTR static void NEON_FN(gemv_q4_0_q8_0)(const void *w, size_t rb, int m, int k, const void *x, float *y) {
    NEON_FN(gemv_q)(w, rb, m, k, x, y, 1);
}

NEON_ATTR static void NEON_FN(gemv_q8_0_q8_0)(const void *w, size_t rb, int m, int k, const void *x, float *y) {
    NEON_FN(gemv_q)(w, rb, m, k, x, y, 0);
}

_Static_assert(CK_MAX_PANELS == 2, "the panel kernels below hold two panels");

// n > 1: panels of 8 rows (lanes are rows), DOT_LANE broadcasting each 4-byte weight group;
// np panels (1 or 2, CK_MAX_PANELS) share each unpacked weight block.
#define PANEL_GROUP(src, j, g)                                                                   \
    do {                                                                                         \
        const int8_t *xg = xp + (g) * 32;                                                        \
        lo[p] = DOT_LANE(lo[p], vld1q_s8(xg), src, j);                                           \
        hi[p] = DOT_LANE(hi[p], vld1q_s8(xg + 16), src, j);                                      \
    } while (0)

NEON_ATTR static inline __attribute__((always_inline)) void NEON_FN(gemm_q)(
    const void *w, size_t rb, int m, int k, const ck_q8_act *panels, int nr, float *y, int ldy,
    int q4, int np) {
    const size_t bsz = q4 ? sizeof(ck_block_q4_0) : sizeof(ck_block_q8_0);
    const int nb = k / 32;
    for (int i = 0; i < m; i++) {
        const uint8_t *row = (const uint8_t *)w + (size_t)i * rb;
        float32x4_t acc_lo[2] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)}, acc_hi[2] = {acc_lo[0], acc_lo[0]};
        for (int b = 0; b < nb; b++) {
            const uint8_t *blk = row + (size_t)b * bsz;
            int8x16_t wl, wh;
            LOAD_W(blk, wl, wh, q4);
            int32x4_t lo[2] = {vdupq_n_s32(0), vdupq_n_s32(0)}, hi[2] = {lo[0], lo[0]};
            for (int p = 0; p < np; p++) { // a panel at a time: few activation registers live
                const int8_t *xp = panels[p].qs + (size_t)b * 256;
                PANEL_GROUP(wl, 0, 0); PANEL_GROUP(wl, 1, 1); PANEL_GROUP(wl, 2, 2); PANEL_GROUP(wl, 3, 3);
                PANEL_GROUP(wh, 0, 4); PANEL_GROUP(wh, 1, 5); PANEL_GROUP(wh, 2, 6); PANEL_GROUP(wh, 3, 7);
            }
            uint16_t h;
            memcpy(&h, blk, 2);
            float dw = vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0);
            for (int p = 0; p < np; p++) {
                const float *d = panels[p].d + b * 8;
                acc_lo[p] = vfmaq_f32(acc_lo[p], vcvtq_f32_s32(lo[p]), vmulq_n_f32(vld1q_f32(d), dw));
                acc_hi[p] = vfmaq_f32(acc_hi[p], vcvtq_f32_s32(hi[p]), vmulq_n_f32(vld1q_f32(d + 4), dw));
            }
        }
        for (int p = 0; p < np; p++) {
            float out[8];
            vst1q_f32(out, acc_lo[p]);
            vst1q_f32(out + 4, acc_hi[p]);
            for (int t = 0; t < 8 && p * 8 + t < nr; t++) y[(size_t)(p * 8 + t) * ldy + i] = out[t];
        }
    }
}
#undef PANEL_GROUP

// One panel or two, a constant in each call so that the panel loops unroll.
NEON_ATTR static inline __attribute__((always_inline)) void NEON_FN(gemm_q_panels)(
    const void *w, size_t rb, int m, int k, const void *x, int nr, float *y, int ldy, int q4) {
    if (nr > 8)
        NEON_FN(gemm_q)(w, rb, m, k, x, nr, y, ldy, q4, 2);
    else
        NEON_FN(gemm_q)(w, rb, m, k, x, nr, y, ldy, q4, 1);
}

NEON_ATTR static void NEON_FN(gemm_q4_0_q8_0)(const void *w, size_t rb, int m, int k, const void *x,
                                              size_t xs, int nr, float *y, int ldy) {
    (void)xs;
    NEON_FN(gemm_q_panels)(w, rb, m, k, x, nr, y, ldy, 1);
}

NEON_ATTR static void NEON_FN(gemm_q8_0_q8_0)(const void *w, size_t rb, int m, int k, const void *x,
                                              size_t xs, int nr, float *y, int ldy) {
    (void)xs;
    NEON_FN(gemm_q_panels)(w, rb, m, k, x, nr, y, ldy, 0);
}

// Q4_0x8 (ck_blocks.h): weight rows in the lanes. Per 8-row block and 4-byte position j, two
// registers hold rows 0-3 and 4-7; their low nibbles meet lane j of x[0..15], their high nibbles
// lane j of x[16..31], so the 8 block sums need no pairwise adds. Nibbles (0..15) stay unsigned
// in int8; the offset of 8 comes off through the block sum of x. n > 1: the driver runs the n = 1
// kernel once per activation row.
#define Q4X8_GROUP(j)                                                                            \
    do {                                                                                         \
        uint8x16_t r0_ = vld1q_u8(blk->qs + 32 * (j)), r1_ = vld1q_u8(blk->qs + 32 * (j) + 16);   \
        s0 = DOT_LANE(s0, vreinterpretq_s8_u8(vandq_u8(r0_, m15)), x0, j);                       \
        s0 = DOT_LANE(s0, vreinterpretq_s8_u8(vshrq_n_u8(r0_, 4)), x1, j);                       \
        s1 = DOT_LANE(s1, vreinterpretq_s8_u8(vandq_u8(r1_, m15)), x0, j);                       \
        s1 = DOT_LANE(s1, vreinterpretq_s8_u8(vshrq_n_u8(r1_, 4)), x1, j);                       \
    } while (0)

NEON_ATTR static inline __attribute__((always_inline)) void NEON_FN(q4x8_group)(
    const ck_block_q4_0x8 *g, int nb, const ck_q8_act *x, float *y) {
    const uint8x16_t m15 = vdupq_n_u8(15);
    float32x4_t acc0 = vdupq_n_f32(0.0f), acc1 = acc0;
    for (int b = 0; b < nb; b++) {
        const ck_block_q4_0x8 *blk = g + b;
        int8x16_t x0 = vld1q_s8(x->qs + b * 32), x1 = vld1q_s8(x->qs + b * 32 + 16);
        int32x4_t s0 = vdupq_n_s32(0), s1 = s0;
        Q4X8_GROUP(0); Q4X8_GROUP(1); Q4X8_GROUP(2); Q4X8_GROUP(3);
        int32x4_t off = vdupq_n_s32(x->s[b] * 8);
        uint16x8_t dh = vld1q_u16(blk->d);
        float32x4_t d0 = vcvt_f32_f16(vreinterpret_f16_u16(vget_low_u16(dh)));
        float32x4_t d1 = vcvt_f32_f16(vreinterpret_f16_u16(vget_high_u16(dh)));
        acc0 = vfmaq_f32(acc0, vcvtq_f32_s32(vsubq_s32(s0, off)), vmulq_n_f32(d0, x->d[b]));
        acc1 = vfmaq_f32(acc1, vcvtq_f32_s32(vsubq_s32(s1, off)), vmulq_n_f32(d1, x->d[b]));
    }
    vst1q_f32(y, acc0);
    vst1q_f32(y + 4, acc1);
}
#undef Q4X8_GROUP

NEON_ATTR static void NEON_FN(gemv_q4_0x8)(const void *w, size_t rb, int m, int k, const void *x, float *y) {
    (void)rb;
    const int nb = k / 32;
    for (int i = 0; i < m; i += 8) NEON_FN(q4x8_group)((const ck_block_q4_0x8 *)w + (size_t)(i / 8) * nb, nb, x, y + i);
}

#undef Q4_UNPACK
#undef LOAD_W
