// Matmul driver: validates, quantizes the activations once, and splits the output columns (the
// weight rows, m) across the pool. Per-output arithmetic never depends on the split.
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "ck_internal.h"
#include "ck_fp16.h"

size_t ck_row_size(ck_type t, size_t k) {
    switch (t) {
    case CK_TYPE_F32: return k * 4;
    case CK_TYPE_F16: return k * 2;
    case CK_TYPE_Q4_0: return k % 32 ? 0 : k / 32 * sizeof(ck_block_q4_0);
    case CK_TYPE_Q8_0: return k % 32 ? 0 : k / 32 * sizeof(ck_block_q8_0);
    }
    return 0;
}

const ck_type_kernels *ck_type_kernels_for(const ck_kernels *kt, ck_type t) {
    switch (t) {
    case CK_TYPE_F32: return &kt->f32;
    case CK_TYPE_F16: return &kt->f16;
    case CK_TYPE_Q4_0: return &kt->q4_0;
    case CK_TYPE_Q8_0: return &kt->q8_0;
    }
    return NULL;
}

void ck_quantize_row_q8_0(const float *x, ck_block_q8_0 *y, size_t k) {
    enum { CHUNK = 64 }; // blocks per call of the kernel, through a small stack buffer
    int8_t qs[CHUNK * 32];
    float d[CHUNK];
    int32_t s[CHUNK];
    const ck_kernels *kt = ck_kernels_active();
    for (size_t b0 = 0; b0 < k / 32; b0 += CHUNK) {
        size_t nb = k / 32 - b0 < CHUNK ? k / 32 - b0 : CHUNK;
        kt->quantize_q8(x + b0 * 32, nb * 32, qs, d, s);
        for (size_t b = 0; b < nb; b++) {
            y[b0 + b].d = ck_float_to_half_ref(d[b]); // exact: d is an fp16 value
            memcpy(y[b0 + b].qs, qs + b * 32, 32);
        }
    }
}

void ck_row_to_float(ck_type t, const void *x, float *y, size_t k) {
    const ck_type_kernels *tk = ck_type_kernels_for(ck_kernels_active(), t);
    if (tk && ck_row_size(t, k)) tk->to_float(x, y, k);
}

// Quantized activations, in row or panel layout (ck_internal.h), in one allocation.
typedef struct {
    void *mem;
    ck_q8_act *act;  // one per row (row layout) or per panel
    int count;
} q8_buffer;

static int q8_buffer_init(q8_buffer *qb, int count, int rows_per, int nb) {
    size_t qs_bytes = (size_t)nb * 32 * rows_per, d_bytes = (size_t)nb * 4 * rows_per;
    size_t per = (qs_bytes + 2 * d_bytes + 63) & ~(size_t)63; // every qs 64-byte aligned
    qb->count = count;
    qb->act = malloc(sizeof(ck_q8_act) * (size_t)count);
    // Zeroed: panel rows beyond n then have zero quants and scales and contribute nothing.
    qb->mem = ck_aligned_alloc(per * (size_t)count);
    if (!qb->act || !qb->mem) {
        free(qb->act);
        ck_aligned_free(qb->mem);
        return -1;
    }
    memset(qb->mem, 0, per * (size_t)count);
    for (int i = 0; i < count; i++) {
        char *base = (char *)qb->mem + per * (size_t)i;
        qb->act[i].qs = (int8_t *)base;
        qb->act[i].d = (float *)(base + qs_bytes);
        qb->act[i].s = (int32_t *)(base + qs_bytes + d_bytes);
    }
    return 0;
}

static void q8_buffer_free(q8_buffer *qb) {
    free(qb->act);
    ck_aligned_free(qb->mem);
}

typedef struct {
    const ck_kernels *kt;
    const ck_type_kernels *tk;
    const char *w;
    size_t rb;
    const float *x, *bias;
    float *y;
    int n, m, k;
    int panels; // quantized: 1 when act holds panels of CK_PANEL rows
    q8_buffer q8;
    volatile int failed; // a worker ran out of memory
    int chunk;           // weight rows per work item
    atomic_int next;     // next work item
} mm_job;

// Rows [r0, r1) of X quantized into the buffer; panel rows are scattered four bytes at a time.
static void quantize_rows(mm_job *j, int r0, int r1) {
    int nb = j->k / 32;
    if (!j->panels) {
        for (int r = r0; r < r1; r++) {
            ck_q8_act *a = &j->q8.act[r];
            j->kt->quantize_q8(j->x + (size_t)r * j->k, j->k, (int8_t *)a->qs, (float *)a->d,
                               (int32_t *)a->s);
        }
        return;
    }
    int8_t *qs = malloc((size_t)j->k);
    float *d = malloc(sizeof(float) * (size_t)nb);
    int32_t *s = malloc(sizeof(int32_t) * (size_t)nb);
    if (!qs || !d || !s) j->failed = 1;
    if (qs && d && s) {
        for (int r = r0; r < r1; r++) {
            j->kt->quantize_q8(j->x + (size_t)r * j->k, j->k, qs, d, s);
            const ck_q8_act *p = &j->q8.act[r / CK_PANEL];
            int lane = r % CK_PANEL;
            for (int b = 0; b < nb; b++) {
                int8_t *dst = (int8_t *)p->qs + (size_t)b * 32 * CK_PANEL + lane * 4;
                for (int g = 0; g < 8; g++) memcpy(dst + g * 4 * CK_PANEL, qs + b * 32 + g * 4, 4);
                ((float *)p->d)[b * CK_PANEL + lane] = d[b];
                ((int32_t *)p->s)[b * CK_PANEL + lane] = s[b];
            }
        }
    }
    free(qs);
    free(d);
    free(s);
}

static void quantize_task(void *ctx, int ith, int nth) {
    mm_job *j = ctx;
    quantize_rows(j, (int)((long)j->n * ith / nth), (int)((long)j->n * (ith + 1) / nth));
}

// Activation rows per pass over the weights in the float GEMM: X rows of the chunk stay in L2.
static int float_chunk_rows(int k) {
    int r = (256 * 1024) / (4 * (k > 0 ? k : 1));
    return r < 4 ? 4 : r;
}

// Weight rows [i0, i1) against all activation rows.
static void matmul_rows(mm_job *j, int i0, int i1) {
    int cnt = i1 - i0;
    const char *w = j->w + (size_t)i0 * j->rb;
    int quant = j->q8.act != NULL;
    if (quant && j->panels) {
        const int step = CK_MAX_PANELS * CK_PANEL;
        for (int r0 = 0; r0 < j->n; r0 += step) {
            int nr = j->n - r0 < step ? j->n - r0 : step;
            j->tk->gemm(w, j->rb, cnt, j->k, &j->q8.act[r0 / CK_PANEL], 0, nr,
                        j->y + (size_t)r0 * j->m + i0, j->m);
        }
    } else if (!quant && j->tk->gemm && j->n > 1) {
        int chunk = float_chunk_rows(j->k);
        for (int r0 = 0; r0 < j->n; r0 += chunk) {
            int nr = j->n - r0 < chunk ? j->n - r0 : chunk;
            j->tk->gemm(w, j->rb, cnt, j->k, j->x + (size_t)r0 * j->k, (size_t)j->k, nr,
                        j->y + (size_t)r0 * j->m + i0, j->m);
        }
    } else {
        for (int r = 0; r < j->n; r++) {
            const void *xr = quant ? (const void *)&j->q8.act[r] : (const void *)(j->x + (size_t)r * j->k);
            j->tk->gemv(w, j->rb, cnt, j->k, xr, j->y + (size_t)r * j->m + i0);
        }
    }
    if (j->bias)
        for (int r = 0; r < j->n; r++)
            for (int i = i0; i < i1; i++) j->y[(size_t)r * j->m + i] += j->bias[i];
}

// Threads take chunks of weight rows from a shared counter rather than fixed shares, so a
// thread slowed by a busy or slower core (big.LITTLE) does not hold up the others. Which
// thread computes a row never changes its bits.
static void matmul_task(void *ctx, int ith, int nth) {
    mm_job *j = ctx;
    (void)ith;
    (void)nth;
    for (;;) {
        int c = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        long i0 = (long)c * j->chunk;
        if (i0 >= j->m) return;
        long i1 = i0 + j->chunk < j->m ? i0 + j->chunk : j->m;
        matmul_rows(j, (int)i0, (int)i1);
    }
}

int ck_matmul(ck_pool *pool, ck_type t, const void *W, const float *X, const float *bias,
              float *Y, int n, int m, int k) {
    if (n < 0 || m < 0 || k <= 0 || !W || !X || !Y) return -1;
    size_t rb = ck_row_size(t, (size_t)k);
    if (!rb) return -1;
    if (n == 0 || m == 0) return 0;
    mm_job j = {0};
    j.kt = ck_kernels_active();
    j.tk = ck_type_kernels_for(j.kt, t);
    j.w = W;
    j.rb = rb;
    j.x = X;
    j.bias = bias;
    j.y = Y;
    j.n = n;
    j.m = m;
    j.k = k;
    if (t == CK_TYPE_Q4_0 || t == CK_TYPE_Q8_0) {
        j.panels = n > 1 && j.tk->gemm != NULL;
        int count = j.panels ? (n + CK_PANEL - 1) / CK_PANEL : n;
        if (q8_buffer_init(&j.q8, count, j.panels ? CK_PANEL : 1, k / 32) != 0) return -1;
        if (n >= 4)
            ck_pool_run(pool, quantize_task, &j);
        else
            quantize_rows(&j, 0, n);
    }
    // About eight chunks per thread, whole multiples of 8 rows (the kernels' row groups).
    int nth = ck_pool_size(pool);
    j.chunk = (m + 8 * nth - 1) / (8 * nth);
    j.chunk = (j.chunk + 7) / 8 * 8;
    atomic_init(&j.next, 0);
    if (!j.failed) ck_pool_run(pool, matmul_task, &j);
    if (j.q8.act) q8_buffer_free(&j.q8);
    return j.failed ? -1 : 0;
}
