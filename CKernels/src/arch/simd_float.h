// The float kernels with their scalar scaffolding (row groups, tiles, strips, tails), written
// once for every instruction set: F32 and F16 weights, C = A B, the fp16 conversions and the
// row and element-wise operations. Each instruction set's file includes this once, after
// defining its vector primitives, so the kernels are compiled with that file's target: they
// inline, and the scalar tails get its arithmetic (fmaf is one instruction there, and the
// contraction of a tail's multiply and add matches the vector code's).
//
// Not a header of its own. The including file defines, for its vector VF of VL floats:
//   SIMD_FN, SIMD_INLINE            the attributes of a kernel and of an inlined helper
//   vf_zero() vf_set1(x) vf_bcast(p) vf_load(p) vf_store(p, v) vf_add vf_sub vf_mul vf_max(a, b)
//   vf_fma(a, b, c)                 a b + c, fused
//   vf_hsum(v) vf_hmax(v)           horizontal sum and max, each in one fixed order
//   vf_load_h(p) vf_store_h(p, v)   VL fp16 values to and from floats (round to nearest even)
//   vf_exp(v) vf_gelu(v)            its approximations of exp and x Phi(x)
//   half_to_float(p)                one fp16 value at p
//   tile_prefetch(pf, j, f16)       prefetch, at step j of a float-weight tile, of the four
//                                   weight rows after the tile's
//   TILE_ROWS                       activation rows per float-weight tile: 2 or 4
//   NN_V(R)                         vectors of B per C = A B tile of R rows of A
// and then lists SIMD_FLOAT_KERNELS in its table.

#include <math.h>
#include <string.h>
#include "../ck_internal.h"
#include "ck_fp16.h"

_Static_assert(TILE_ROWS == 2 || TILE_ROWS == 4, "tiles of 2 or 4 activation rows");

// ---- float weights: register tile of TILE_ROWS activation rows x 4 weight rows -------------
//
// Each output keeps VL lanes over k (one FMA per VL elements), one fixed horizontal sum, then
// the k % VL tail in order; the tile size does not change that sequence, so n = 1 and n > 1
// and any split across threads give the same bits.

SIMD_INLINE VF load_w(const uint8_t *row, int j, int f16) {
    if (f16) return vf_load_h(row + (size_t)j * 2);
    return vf_load((const float *)(row + (size_t)j * 4));
}

SIMD_INLINE float w_at(const uint8_t *row, int j, int f16) {
    if (f16) return half_to_float(row + (size_t)j * 2);
    float v;
    memcpy(&v, row + (size_t)j * 4, 4);
    return v;
}

// pf: the next four weight rows (contiguous after these) to prefetch as this tile streams its
// own, or NULL.
SIMD_INLINE void tile_f(const uint8_t *const *wr, const float *const *xr, int k, float out[][4],
                        int R, int f16, const uint8_t *pf) {
    VF acc[TILE_ROWS][4];
    CK_UNROLL(8)
    for (int r = 0; r < R; r++)
        CK_UNROLL(8)
        for (int c = 0; c < 4; c++) acc[r][c] = vf_zero();
    int j = 0;
    for (; j + VL <= k; j += VL) {
        if (pf) tile_prefetch(pf, j, f16);
        VF xv[TILE_ROWS];
        CK_UNROLL(8)
        for (int r = 0; r < R; r++) xv[r] = vf_load(xr[r] + j);
        CK_UNROLL(8)
        for (int c = 0; c < 4; c++) {
            VF wv = load_w(wr[c], j, f16);
            CK_UNROLL(8)
            for (int r = 0; r < R; r++) acc[r][c] = vf_fma(xv[r], wv, acc[r][c]);
        }
    }
    CK_UNROLL(8)
    for (int r = 0; r < R; r++)
        CK_UNROLL(8)
        for (int c = 0; c < 4; c++) {
            float s = vf_hsum(acc[r][c]);
            for (int t = j; t < k; t++) s = fmaf(xr[r][t], w_at(wr[c], t, f16), s);
            out[r][c] = s;
        }
}

SIMD_INLINE void gemm_f(const void *w, size_t rb, int m, int k, const float *x, size_t xs, int nr,
                        float *y, int ldy, int f16) {
    for (int i = 0; i < m; i += 4) {
        const uint8_t *wr[4];
        CK_UNROLL(8)
        for (int c = 0; c < 4; c++) wr[c] = (const uint8_t *)w + (size_t)(i + c < m ? i + c : m - 1) * rb;
        for (int r0 = 0; r0 < nr; r0 += TILE_ROWS) {
            const float *xr[TILE_ROWS];
            int R = nr - r0 < TILE_ROWS ? nr - r0 : TILE_ROWS;
            CK_UNROLL(8)
            for (int r = 0; r < R; r++) xr[r] = x + (size_t)(r0 + r) * xs;
            float out[TILE_ROWS][4];
            switch (R) {
#if TILE_ROWS == 4
            case 4: tile_f(wr, xr, k, out, 4, f16, NULL); break;
            case 3: tile_f(wr, xr, k, out, 3, f16, NULL); break;
#endif
            case 2: tile_f(wr, xr, k, out, 2, f16, NULL); break;
            default: // decode: bandwidth-bound, and rows are short, so prefetch the next ones
                tile_f(wr, xr, k, out, 1, f16, nr == 1 && i + 4 < m ? wr[3] + rb : NULL);
            }
            CK_UNROLL(8)
            for (int r = 0; r < R; r++)
                for (int c = 0; c < 4 && i + c < m; c++) y[(size_t)(r0 + r) * ldy + i + c] = out[r][c];
        }
    }
}

SIMD_FN static void gemm_f32_f32(const void *w, size_t rb, int m, int k, const void *x, size_t xs, int nr,
                                 float *y, int ldy) {
    gemm_f(w, rb, m, k, x, xs, nr, y, ldy, 0);
}

SIMD_FN static void gemm_f16_f32(const void *w, size_t rb, int m, int k, const void *x, size_t xs, int nr,
                                 float *y, int ldy) {
    gemm_f(w, rb, m, k, x, xs, nr, y, ldy, 1);
}

SIMD_FN static void gemv_f32_f32(const void *w, size_t rb, int m, int k, const void *x, float *y) {
    gemm_f(w, rb, m, k, x, (size_t)k, 1, y, m, 0);
}

SIMD_FN static void gemv_f16_f32(const void *w, size_t rb, int m, int k, const void *x, float *y) {
    gemm_f(w, rb, m, k, x, (size_t)k, 1, y, m, 1);
}

// ---- C = A B with B's columns in the lanes ------------------------------------------------
//
// Tiles of R rows of A times V vectors of VL columns of B, R x V accumulators: each step j
// broadcasts A[r][j] and loads B's row j once for the tile. One row of A (a decode step) takes
// 8 vectors, so V is read in as few strips as possible.

SIMD_INLINE void nn_tile(const float *a, size_t lda, const uint8_t *b, size_t ldb, int f16, int kk, float *c,
                         size_t ldc, const int R, const int V) {
    VF acc[4][8];
    CK_UNROLL(8)
    for (int r = 0; r < R; r++)
        CK_UNROLL(8)
        for (int v = 0; v < V; v++) acc[r][v] = vf_zero();
    for (int j = 0; j < kk; j++) {
        const uint8_t *bj = b + (size_t)j * ldb;
        VF bv[8];
        CK_UNROLL(8)
        for (int v = 0; v < V; v++) bv[v] = load_w(bj, v * VL, f16);
        CK_UNROLL(8)
        for (int r = 0; r < R; r++) {
            VF ar = vf_bcast(a + (size_t)r * lda + j);
            CK_UNROLL(8)
            for (int v = 0; v < V; v++) acc[r][v] = vf_fma(ar, bv[v], acc[r][v]);
        }
    }
    CK_UNROLL(8)
    for (int r = 0; r < R; r++)
        CK_UNROLL(8)
        for (int v = 0; v < V; v++) vf_store(c + (size_t)r * ldc + v * VL, acc[r][v]);
}

// Rows [0, R) of A against all columns: wide strips, then VL columns, then single columns.
SIMD_INLINE void nn_rows(const float *a, size_t lda, const uint8_t *b, size_t ldb, int f16, int kk, int nc,
                         float *c, size_t ldc, const int R, const int V) {
    size_t esz = f16 ? 2 : 4;
    int t = 0;
    for (; t + VL * V <= nc; t += VL * V) nn_tile(a, lda, b + t * esz, ldb, f16, kk, c + t, ldc, R, V);
    for (; t + VL <= nc; t += VL) nn_tile(a, lda, b + t * esz, ldb, f16, kk, c + t, ldc, R, 1);
    for (; t < nc; t++)
        for (int r = 0; r < R; r++) {
            float s = 0.0f;
            for (int j = 0; j < kk; j++) s = fmaf(a[(size_t)r * lda + j], w_at(b + (size_t)j * ldb, t, f16), s);
            c[(size_t)r * ldc + t] = s;
        }
}

SIMD_FN static void gemm_nn(const float *a, size_t lda, const void *b, size_t ldb, int f16, int nr, int kk, int nc,
                            float *c, size_t ldc) {
    const uint8_t *bb = b;
    int r = 0;
    for (; r + 4 <= nr; r += 4)
        nn_rows(a + (size_t)r * lda, lda, bb, ldb, f16, kk, nc, c + (size_t)r * ldc, ldc, 4, NN_V(4));
    switch (nr - r) {
    case 3: nn_rows(a + (size_t)r * lda, lda, bb, ldb, f16, kk, nc, c + (size_t)r * ldc, ldc, 3, NN_V(3)); break;
    case 2: nn_rows(a + (size_t)r * lda, lda, bb, ldb, f16, kk, nc, c + (size_t)r * ldc, ldc, 2, NN_V(2)); break;
    case 1: nn_rows(a + (size_t)r * lda, lda, bb, ldb, f16, kk, nc, c + (size_t)r * ldc, ldc, 1, NN_V(1)); break;
    default: break;
    }
}

// ---- fp16 conversions, row and element-wise operations --------------------------------------

SIMD_FN static void f16_to_f32(const ck_half *x, float *y, size_t n) {
    size_t i = 0;
    for (; i + VL <= n; i += VL) vf_store(y + i, vf_load_h(x + i));
    for (; i < n; i++) y[i] = half_to_float(x + i);
}

SIMD_FN static void to_float_f16(const void *x, float *y, size_t k) { f16_to_f32(x, y, k); }

SIMD_FN static void f32_to_f16(const float *x, ck_half *y, size_t n) {
    size_t i = 0;
    for (; i + VL <= n; i += VL) vf_store_h(y + i, vf_load(x + i));
    for (; i < n; i++) y[i] = ck_float_to_half_ref(x[i]);
}

SIMD_FN static void layernorm_row(const float *x, float *y, int dim, const float *w, const float *b, float eps) {
    VF acc = vf_zero();
    int i = 0;
    for (; i + VL <= dim; i += VL) acc = vf_add(acc, vf_load(x + i));
    float sum = vf_hsum(acc);
    for (; i < dim; i++) sum += x[i];
    float mean = sum / (float)dim;
    VF vm = vf_set1(mean);
    acc = vf_zero();
    for (i = 0; i + VL <= dim; i += VL) {
        VF dlt = vf_sub(vf_load(x + i), vm);
        acc = vf_fma(dlt, dlt, acc);
    }
    float var = vf_hsum(acc);
    for (; i < dim; i++) var += (x[i] - mean) * (x[i] - mean);
    var /= (float)dim;
    float rstd = 1.0f / sqrtf(var + eps);
    VF vr = vf_set1(rstd);
    for (i = 0; i + VL <= dim; i += VL) {
        VF t = vf_mul(vf_sub(vf_load(x + i), vm), vr);
        vf_store(y + i, vf_fma(t, vf_load(w + i), vf_load(b + i)));
    }
    for (; i < dim; i++) y[i] = (x[i] - mean) * rstd * w[i] + b[i];
}

SIMD_FN static void gelu(const float *x, float *y, size_t n) {
    size_t i = 0;
    for (; i + VL <= n; i += VL) vf_store(y + i, vf_gelu(vf_load(x + i)));
    if (i < n) { // the tail through the same vector code, so every element gets the same formula
        float buf[VL] = {0};
        for (size_t j = i; j < n; j++) buf[j - i] = x[j];
        vf_store(buf, vf_gelu(vf_load(buf)));
        for (size_t j = i; j < n; j++) y[j] = buf[j - i];
    }
}

SIMD_FN static void relu(const float *x, float *y, size_t n) {
    size_t i = 0;
    for (; i + VL <= n; i += VL) vf_store(y + i, vf_max(vf_load(x + i), vf_zero()));
    for (; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

SIMD_FN static void softmax_row(float *x, int n) {
    VF vmax = vf_set1(-INFINITY);
    int i = 0;
    for (; i + VL <= n; i += VL) vmax = vf_max(vmax, vf_load(x + i));
    float max = vf_hmax(vmax);
    for (; i < n; i++) max = fmaxf(max, x[i]);
    if (max == -INFINITY) {
        for (i = 0; i < n; i++) x[i] = 0.0f;
        return;
    }
    VF vm = vf_set1(max), acc = vf_zero();
    for (i = 0; i + VL <= n; i += VL) {
        VF e = vf_exp(vf_sub(vf_load(x + i), vm));
        vf_store(x + i, e);
        acc = vf_add(acc, e);
    }
    float sum = vf_hsum(acc);
    if (i < n) {
        float buf[VL];
        for (int j = 0; j < VL; j++) buf[j] = i + j < n ? x[i + j] - max : -INFINITY;
        vf_store(buf, vf_exp(vf_load(buf)));
        for (int j = i; j < n; j++) {
            x[j] = buf[j - i];
            sum += x[j];
        }
    }
    float inv = 1.0f / sum;
    VF vinv = vf_set1(inv);
    for (i = 0; i + VL <= n; i += VL) vf_store(x + i, vf_mul(vf_load(x + i), vinv));
    for (; i < n; i++) x[i] *= inv;
}

// ---- their table entries ---------------------------------------------------------------------

#define SIMD_FLOAT_KERNELS                                                                       \
    .f32 = {gemv_f32_f32, gemm_f32_f32, ck_to_float_f32_ref, NULL},                              \
    .f16 = {gemv_f16_f32, gemm_f16_f32, to_float_f16, NULL},                                     \
    .f16_to_f32 = f16_to_f32, .f32_to_f16 = f32_to_f16, .layernorm_row = layernorm_row,          \
    .gelu = gelu, .relu = relu, .softmax_row = softmax_row, .gemm_nn = gemm_nn
