// Reference matmul kernels in portable C (W X^T against the file's weight types, and C = A B for
// attention): the definition every SIMD variant must reproduce.
#include <math.h>
#include <string.h>
#include "../ck_internal.h"
#include "ck_fp16.h"
#include "ck_quantize.h"

// ggml's quantize_row_q8_0_ref; additionally returns the fp16-rounded scale as a float and the
// block's sum of quants. roundf rounds half away from zero, which SIMD code must reproduce.
void ck_quantize_q8_ref(const float *x, size_t k, int8_t *qs, float *d, int32_t *s) {
    for (size_t b = 0; b < k / 32; b++) {
        const float *xb = x + b * 32;
        float amax = 0.0f;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(xb[j]));
        float db = amax / 127.0f;
        float id = db != 0.0f ? 1.0f / db : 0.0f;
        int32_t sum = 0;
        for (int j = 0; j < 32; j++) {
            int8_t q = (int8_t)roundf(xb[j] * id);
            qs[b * 32 + j] = q;
            sum += q;
        }
        d[b] = ck_half_to_float_ref(ck_float_to_half_ref(db));
        s[b] = sum;
    }
}

// The accumulation every variant reproduces bit for bit: one fused multiply-add per block, in
// block order, of the exact integer block sum and the product of the two (fp16) scales.
// acc plus block b of a Q4_0 row (its 16 quant bytes and scale) times activation block b.
static float fma_q4_0_block(float acc, const uint8_t *qs, ck_half d, const ck_q8_act *a, int b) {
    const int8_t *q = a->qs + b * 32;
    int32_t isum = 0;
    for (int j = 0; j < 16; j++) {
        isum += ((qs[j] & 15) - 8) * q[j];
        isum += ((qs[j] >> 4) - 8) * q[j + 16];
    }
    return fmaf((float)isum, ck_half_to_float_ref(d) * a->d[b], acc);
}

static float dot_q4_0(const ck_block_q4_0 *w, const ck_q8_act *a, int nb) {
    float acc = 0.0f;
    for (int b = 0; b < nb; b++) acc = fma_q4_0_block(acc, w[b].qs, w[b].d, a, b);
    return acc;
}

static float dot_q8_0(const ck_block_q8_0 *w, const ck_q8_act *a, int nb) {
    float acc = 0.0f;
    for (int b = 0; b < nb; b++) {
        const int8_t *q = a->qs + b * 32;
        int32_t isum = 0;
        for (int j = 0; j < 32; j++) isum += w[b].qs[j] * q[j];
        float sc = ck_half_to_float_ref(w[b].d) * a->d[b];
        acc = fmaf((float)isum, sc, acc);
    }
    return acc;
}

static void gemv_q4_0_ref(const void *w, size_t rb, int m, int k, const void *x, float *y) {
    for (int i = 0; i < m; i++)
        y[i] = dot_q4_0((const ck_block_q4_0 *)((const char *)w + i * rb), x, k / 32);
}

static void gemv_q8_0_ref(const void *w, size_t rb, int m, int k, const void *x, float *y) {
    for (int i = 0; i < m; i++)
        y[i] = dot_q8_0((const ck_block_q8_0 *)((const char *)w + i * rb), x, k / 32);
}

// Q4_0x8: row r of a group is dot_q4_0 over the bytes the layout moved, gathered back.
static float dot_q4_0x8(const ck_block_q4_0x8 *g, int r, const ck_q8_act *a, int nb) {
    float acc = 0.0f;
    for (int b = 0; b < nb; b++) {
        uint8_t qs[16];
        for (int j = 0; j < 4; j++) memcpy(qs + 4 * j, g[b].qs + 32 * j + 4 * r, 4);
        acc = fma_q4_0_block(acc, qs, g[b].d[r], a, b);
    }
    return acc;
}

void ck_gemv_q4_0x8_ref(const void *w, size_t rb, int m, int k, const void *x, float *y) {
    for (int i = 0; i < m; i++)
        y[i] = dot_q4_0x8((const ck_block_q4_0x8 *)((const char *)w + (size_t)(i / 8) * 8 * rb), i % 8, x, k / 32);
}

static void gemv_f32_ref(const void *w, size_t rb, int m, int k, const void *x, float *y) {
    const float *xf = x;
    for (int i = 0; i < m; i++) {
        const float *wr = (const float *)((const char *)w + i * rb);
        float acc = 0.0f;
        for (int j = 0; j < k; j++) acc += wr[j] * xf[j];
        y[i] = acc;
    }
}

static void gemv_f16_ref(const void *w, size_t rb, int m, int k, const void *x, float *y) {
    const float *xf = x;
    for (int i = 0; i < m; i++) {
        const ck_half *wr = (const ck_half *)((const char *)w + i * rb);
        float acc = 0.0f;
        for (int j = 0; j < k; j++) acc += ck_half_to_float_ref(wr[j]) * xf[j];
        y[i] = acc;
    }
}

void ck_to_float_f32_ref(const void *x, float *y, size_t k) { memcpy(y, x, k * sizeof(float)); }

void ck_to_float_f16_ref(const void *x, float *y, size_t k) {
    const ck_half *h = x;
    for (size_t i = 0; i < k; i++) y[i] = ck_half_to_float_ref(h[i]);
}

void ck_to_float_q4_0_ref(const void *x, float *y, size_t k) {
    const ck_block_q4_0 *b = x;
    for (size_t i = 0; i < k / 32; i++) {
        float d = ck_half_to_float_ref(b[i].d);
        for (int j = 0; j < 16; j++) {
            y[i * 32 + j] = d * (float)((b[i].qs[j] & 15) - 8);
            y[i * 32 + j + 16] = d * (float)((b[i].qs[j] >> 4) - 8);
        }
    }
}

void ck_to_float_q8_0_ref(const void *x, float *y, size_t k) {
    const ck_block_q8_0 *b = x;
    for (size_t i = 0; i < k / 32; i++) {
        float d = ck_half_to_float_ref(b[i].d);
        for (int j = 0; j < 32; j++) y[i * 32 + j] = d * (float)b[i].qs[j];
    }
}

void ck_gemm_nn_ref(const float *a, size_t lda, const void *b, size_t ldb, int b_f16, int nr, int kk, int nc,
                    float *c, size_t ldc) {
    for (int r = 0; r < nr; r++) {
        float *cr = c + (size_t)r * ldc;
        for (int t = 0; t < nc; t++) cr[t] = 0.0f;
        for (int j = 0; j < kk; j++) {
            float arj = a[(size_t)r * lda + j];
            const char *bj = (const char *)b + (size_t)j * ldb;
            for (int t = 0; t < nc; t++) {
                float bjt = b_f16 ? ck_half_to_float_ref(((const ck_half *)bj)[t]) : ((const float *)bj)[t];
                cr[t] += arj * bjt;
            }
        }
    }
}

// The reference has no panel kernels: the driver then calls gemv once per activation row.
#define REF_TYPE(name) { gemv_##name##_ref, NULL, ck_to_float_##name##_ref, NULL }

const ck_kernels ck_kernels_ref = {
    .f32 = REF_TYPE(f32),
    .f16 = REF_TYPE(f16),
    .q4_0 = REF_TYPE(q4_0),
    .q8_0 = REF_TYPE(q8_0),
    .q4_0x8 = CK_Q4_0X8_REF,
    .quantize_q8 = ck_quantize_q8_ref,
    .f16_to_f32 = ck_f16_to_f32_ref_row,
    .f32_to_f16 = ck_f32_to_f16_ref_row,
    .layernorm_row = ck_layernorm_row_ref,
    .gelu = ck_gelu_ref,
    .relu = ck_relu_ref,
    .softmax_row = ck_softmax_row_ref,
    .gemm_nn = ck_gemm_nn_ref,
    .quantize_q8_0_gguf = ck_quantize_q8_0_gguf_ref,
    .quantize_q4_0_gguf = ck_quantize_q4_0_gguf_ref,
};
