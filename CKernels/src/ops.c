// Drivers of the row and attention operations: loops over rows and heads around the active
// variant's primitives.
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "ck_internal.h"
#include "ck_ops.h"

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

int ck_gemm_nn(const float *a, int lda, const void *b, int ldb, ck_type b_type, float *c, int ldc,
               int nr, int kk, int nc) {
    if (!a || !b || !c || nr < 0 || kk < 0 || nc < 0 || lda < kk || ldb < nc || ldc < nc) return -1;
    if (b_type != CK_TYPE_F32 && b_type != CK_TYPE_F16) return -1;
    size_t esz = b_type == CK_TYPE_F16 ? 2 : 4;
    ck_kernels_active()->gemm_nn(a, (size_t)lda, b, (size_t)ldb * esz, b_type == CK_TYPE_F16, nr, kk, nc, c, (size_t)ldc);
    return 0;
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
// Up to this many queries, each query's scores come from the gemv kernel against K in place
// (staging K^T for them would cost more than the product).
enum { ATTN_FEW_Q = 4 };

// Scores of query row i (absolute index among the n_q) -> attention weights over its nv
// visible keys; the row's columns beyond nv, up to `width`, become 0.
static void weights_row(const ck_attention_params *p, const ck_kernels *kt, int h, int i, int nv, int width, float *row) {
    const float *mrow = p->mask ? p->mask + (size_t)h * p->mask_head_stride + (size_t)i * p->n_kv : NULL;
    for (int j = 0; j < nv; j++) row[j] = row[j] * p->scale + (mrow ? mrow[j] : 0.0f);
    kt->softmax_row(row, nv);
    for (int j = nv; j < width; j++) row[j] = 0.0f;
}

// A few queries (a decode step: one per sequence): per query, the scores by the variant's gemv
// against K in place, then O = P V by gemm_nn with V also in place.
static void attend_few(const ck_attention_params *p, const ck_kernels *kt, int h, float *s) {
    int hd = p->head_dim, f16 = p->kv_type == CK_TYPE_F16;
    size_t esz = f16 ? 2 : 4;
    const ck_type_kernels *tk_kv = ck_type_kernels_for(kt, p->kv_type);
    const char *kh = (const char *)p->k + (size_t)h * hd * esz, *vh = (const char *)p->v + (size_t)h * hd * esz;
    for (int i = 0; i < p->n_q; i++) {
        float *o = p->o + (size_t)i * p->ldo + (size_t)h * hd;
        int nv = p->causal ? causal_visible(i, p->n_q, p->n_kv) : p->n_kv;
        if (nv == 0) {
            memset(o, 0, sizeof(float) * (size_t)hd);
            continue;
        }
        tk_kv->gemv(kh, (size_t)p->ldk * esz, nv, hd, p->q + (size_t)i * p->ldq + (size_t)h * hd, s);
        weights_row(p, kt, h, i, nv, nv, s);
        kt->gemm_nn(s, (size_t)nv, vh, (size_t)p->ldv * esz, f16, 1, nv, hd, o, (size_t)p->ldo);
    }
}

// K^T of head h, rows [from, to) of K, into ktr (fp32, row stride n_kv): the keys become the
// lanes of gemm_nn and head_dim, short, the summed dimension.
static void stage_keys(const ck_attention_params *p, const ck_kernels *kt, int h, int from, int to, float *ktr,
                       float *row) {
    int hd = p->head_dim, f16 = p->kv_type == CK_TYPE_F16;
    size_t esz = f16 ? 2 : 4;
    for (int j = from; j < to; j++) {
        const char *kj = (const char *)p->k + ((size_t)j * p->ldk + (size_t)h * hd) * esz;
        const float *src = (const float *)kj;
        if (f16) {
            kt->f16_to_f32((const ck_half *)kj, row, (size_t)hd);
            src = row;
        }
        for (int t = 0; t < hd; t++) ktr[(size_t)t * p->n_kv + j] = src[t];
    }
}

// One work item = (head, chunk of queries): S = Q K^T (gemm_nn against K^T, staged once per
// head), scale + mask + softmax per row, then O = P V (gemm_nn with V in place). Chunks do not
// depend on the number of threads, so neither do the results.
static void attention_task(void *ctx, int ith, int nth) {
    attn_job *job = ctx;
    const ck_attention_params *p = job->p;
    const ck_kernels *kt = job->kt;
    (void)ith;
    (void)nth;
    int chunks = (p->n_q + ATTN_Q_CHUNK - 1) / ATTN_Q_CHUNK;
    long items = (long)p->n_heads * chunks;
    int hd = p->head_dim, n_kv = p->n_kv, few = p->n_q <= ATTN_FEW_Q;
    // Scores: one row per query of a chunk (a few queries reuse one row).
    float *s = malloc(sizeof(float) * (few ? 1 : ATTN_Q_CHUNK) * ((size_t)n_kv + 1));
    float *ktr = few ? NULL : malloc(sizeof(float) * (size_t)hd * ((size_t)n_kv + 1));
    float *row = few ? NULL : malloc(sizeof(float) * (size_t)hd);
    if (!s || (!few && (!ktr || !row))) {
        job->failed = 1;
        free(s);
        free(ktr);
        free(row);
        return;
    }
    int f16 = p->kv_type == CK_TYPE_F16;
    size_t esz = f16 ? 2 : 4;
    int kt_head = -1, kt_filled = 0;
    for (;;) {
        long it = atomic_fetch_add_explicit(&job->next, 1, memory_order_relaxed);
        if (it >= items) break;
        if (few) { // one chunk per head
            attend_few(p, kt, (int)it, s);
            continue;
        }
        int h = (int)(it / chunks), i0 = (int)(it % chunks) * ATTN_Q_CHUNK;
        int nq = p->n_q - i0 < ATTN_Q_CHUNK ? p->n_q - i0 : ATTN_Q_CHUNK;
        int nvmax = p->causal ? causal_visible(i0 + nq - 1, p->n_q, n_kv) : n_kv;
        float *o = p->o + (size_t)i0 * p->ldo + (size_t)h * hd;
        if (nvmax == 0) {
            for (int r = 0; r < nq; r++) memset(o + (size_t)r * p->ldo, 0, sizeof(float) * (size_t)hd);
            continue;
        }
        if (kt_head != h) kt_filled = 0;
        kt_head = h;
        if (nvmax > kt_filled) {
            stage_keys(p, kt, h, kt_filled, nvmax, ktr, row);
            kt_filled = nvmax;
        }
        kt->gemm_nn(p->q + (size_t)i0 * p->ldq + (size_t)h * hd, (size_t)p->ldq, ktr, (size_t)n_kv * sizeof(float), 0,
                    nq, hd, nvmax, s, (size_t)nvmax);
        for (int r = 0; r < nq; r++)
            weights_row(p, kt, h, i0 + r, p->causal ? causal_visible(i0 + r, p->n_q, n_kv) : n_kv, nvmax,
                        s + (size_t)r * nvmax);
        const char *vh = (const char *)p->v + (size_t)h * hd * esz;
        kt->gemm_nn(s, (size_t)nvmax, vh, (size_t)p->ldv * esz, f16, nq, nvmax, hd, o, (size_t)p->ldo);
    }
    free(s);
    free(ktr);
    free(row);
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
