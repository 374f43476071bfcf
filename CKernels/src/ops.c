// Drivers of the row and attention operations: loops over rows and heads around the active
// variant's primitives.
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "ck_internal.h"
#include "ck_ops.h"
#include "ck_fp16.h"

void ck_fp16_to_fp32_row(const ck_half *x, float *y, size_t n) {
    ck_kernels_active()->f16_to_f32(x, y, n);
}

void ck_fp32_to_fp16_row(const float *x, ck_half *y, size_t n) {
    ck_kernels_active()->f32_to_f16(x, y, n);
}

void ck_layernorm(const float *x, float *y, int rows, int dim, const float *w, const float *b,
                  float eps) {
    const ck_kernels *kt = ck_kernels_active();
    for (int r = 0; r < rows; r++)
        kt->layernorm_row(x + (size_t)r * dim, y + (size_t)r * dim, dim, w, b, eps);
}

void ck_gelu(const float *x, float *y, size_t n) { ck_kernels_active()->gelu(x, y, n); }

void ck_relu(const float *x, float *y, size_t n) { ck_kernels_active()->relu(x, y, n); }

// Keys visible to query i of n_q when they are the last n_q of n_kv positions.
static int causal_visible(int i, int n_q, int n_kv) {
    int v = n_kv - n_q + i + 1;
    return v < 0 ? 0 : v > n_kv ? n_kv : v;
}

void ck_softmax(float *x, int rows, int cols, int causal) {
    const ck_kernels *kt = ck_kernels_active();
    for (int r = 0; r < rows; r++) {
        float *row = x + (size_t)r * cols;
        int nv = causal ? causal_visible(r, rows, cols) : cols;
        kt->softmax_row(row, nv);
        for (int j = nv; j < cols; j++) row[j] = 0.0f;
    }
}

typedef struct {
    const ck_attention_params *p;
    const ck_kernels *kt;
    volatile int failed;
    atomic_long next; // next work item, taken by whichever thread is free (see matmul.c)
} attn_job;

// Queries per work item: scores of a chunk of queries against the keys are one matmul.
enum { ATTN_Q_CHUNK = 64 };

// Y[nr x m] = X[nr x k] . W[m x k]^T with float rows, through the variant's GEMM if it has one.
static void rows_matmul(const ck_type_kernels *tk, const void *w, size_t rb, int m, int k, const float *x,
                        size_t xs, int nr, float *y, int ldy) {
    if (tk->gemm) {
        tk->gemm(w, rb, m, k, x, xs, nr, y, ldy);
        return;
    }
    for (int r = 0; r < nr; r++) tk->gemv(w, rb, m, k, x + (size_t)r * xs, y + (size_t)r * ldy);
}

// One work item = (head, chunk of queries): S = Q K^T (the float matmul kernels, K used in
// place), scale + mask + softmax per row, then O = P V with V^T staged as fp32 in scratch (the
// matmul kernels want the summed dimension contiguous). Chunks do not depend on the number of
// threads, so neither do the results.
static void attention_task(void *ctx, int ith, int nth) {
    attn_job *job = ctx;
    const ck_attention_params *p = job->p;
    const ck_kernels *kt = job->kt;
    (void)ith;
    (void)nth;
    int chunks = (p->n_q + ATTN_Q_CHUNK - 1) / ATTN_Q_CHUNK;
    long items = (long)p->n_heads * chunks;
    int hd = p->head_dim, n_kv = p->n_kv;
    float *s = malloc(sizeof(float) * ATTN_Q_CHUNK * ((size_t)n_kv + 1));
    float *vt = malloc(sizeof(float) * (size_t)hd * ((size_t)n_kv + 1));
    if (!s || !vt) {
        job->failed = 1;
        free(s);
        free(vt);
        return;
    }
    int f16 = p->kv_type == CK_TYPE_F16;
    size_t esz = f16 ? 2 : 4;
    const ck_type_kernels *tk_kv = ck_type_kernels_for(kt, p->kv_type), *tk_f32 = &kt->f32;
    int vt_head = -1, vt_filled = 0;
    for (;;) {
        long it = atomic_fetch_add_explicit(&job->next, 1, memory_order_relaxed);
        if (it >= items) break;
        int h = (int)(it / chunks), i0 = (int)(it % chunks) * ATTN_Q_CHUNK;
        int nq = p->n_q - i0 < ATTN_Q_CHUNK ? p->n_q - i0 : ATTN_Q_CHUNK;
        int nvmax = p->causal ? causal_visible(i0 + nq - 1, p->n_q, n_kv) : n_kv;
        float *o = p->o + (size_t)i0 * p->ldo + (size_t)h * hd;
        if (nvmax == 0) {
            for (int r = 0; r < nq; r++) memset(o + (size_t)r * p->ldo, 0, sizeof(float) * (size_t)hd);
            continue;
        }
        const char *kh = (const char *)p->k + (size_t)h * hd * esz;
        rows_matmul(tk_kv, kh, (size_t)p->ldk * esz, nvmax, hd, p->q + (size_t)i0 * p->ldq + (size_t)h * hd,
                    (size_t)p->ldq, nq, s, nvmax);
        for (int r = 0; r < nq; r++) {
            float *row = s + (size_t)r * nvmax;
            int nv = p->causal ? causal_visible(i0 + r, p->n_q, n_kv) : n_kv;
            const float *mrow = p->mask ? p->mask + (size_t)(i0 + r) * n_kv : NULL;
            for (int j = 0; j < nv; j++) row[j] = row[j] * p->scale + (mrow ? mrow[j] : 0.0f);
            kt->softmax_row(row, nv);
            for (int j = nv; j < nvmax; j++) row[j] = 0.0f;
        }
        if (vt_head != h) vt_filled = 0;
        vt_head = h;
        const char *vh = (const char *)p->v + (size_t)h * hd * esz;
        for (int j = vt_filled; j < nvmax; j++) { // vt[t][j] = V[j][h, t]; row stride n_kv
            const char *vj = vh + (size_t)j * p->ldv * esz;
            for (int t = 0; t < hd; t++)
                vt[(size_t)t * n_kv + j] = f16 ? ck_half_to_float_ref(((const ck_half *)vj)[t]) : ((const float *)vj)[t];
        }
        if (nvmax > vt_filled) vt_filled = nvmax;
        rows_matmul(tk_f32, vt, (size_t)n_kv * sizeof(float), hd, nvmax, s, (size_t)nvmax, nq, o, p->ldo);
    }
    free(s);
    free(vt);
}

int ck_attention(ck_pool *pool, const ck_attention_params *p) {
    if (!p || !p->q || !p->k || !p->v || !p->o || p->n_q < 0 || p->n_kv < 0 || p->n_heads <= 0 ||
        p->head_dim <= 0)
        return -1;
    if (p->kv_type != CK_TYPE_F32 && p->kv_type != CK_TYPE_F16) return -1;
    int width = p->n_heads * p->head_dim;
    if (p->ldq < width || p->ldk < width || p->ldv < width || p->ldo < width) return -1;
    if (p->n_q == 0) return 0;
    attn_job job = {p, ck_kernels_active(), 0, 0};
    atomic_init(&job.next, 0);
    ck_pool_run(pool, attention_task, &job);
    return job.failed ? -1 : 0;
}
