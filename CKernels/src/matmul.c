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
    case CK_TYPE_Q4_0X8: return k % 32 ? 0 : k / 32 * sizeof(ck_block_q4_0); // per row, 8 rows a group
    }
    return 0;
}

const ck_type_kernels *ck_type_kernels_for(const ck_kernels *kt, ck_type t) {
    switch (t) {
    case CK_TYPE_F32: return &kt->f32;
    case CK_TYPE_F16: return &kt->f16;
    case CK_TYPE_Q4_0: return &kt->q4_0;
    case CK_TYPE_Q8_0: return &kt->q8_0;
    case CK_TYPE_Q4_0X8: return &kt->q4_0x8;
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
    if (tk && tk->to_float && ck_row_size(t, k)) tk->to_float(x, y, k);
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

// One output of a job, its weight rows shared out in chunks: items [first, first + items).
typedef struct {
    const ck_type_kernels *tk;
    const char *w;
    size_t rb;
    const float *bias;
    float *y;
    int m, quant;
    int chunk, first, items;
} mm_out;

typedef struct {
    const ck_kernels *kt;
    const float *x;
    int n, k;
    int panels; // quantized: 1 when act holds panels of CK_PANEL rows
    int lanes;  // quantized, n > 1: rows through gemm_lanes (act in row layout)
    q8_buffer q8;
    int n_gemm;      // with panels: rows [0, n_gemm) in q8's panels, the rest in tail's rows
    q8_buffer tail;
    volatile int failed; // a worker ran out of memory
    mm_out out[CK_MATMUL_MAX_OUTPUTS];
    int items;
    atomic_int next;     // next work item
} mm_job;

// Row r of X quantized into a row-layout activation.
static void quantize_row_into(const mm_job *j, int r, const ck_q8_act *a) {
    j->kt->quantize_q8(j->x + (size_t)r * j->k, j->k, (int8_t *)a->qs, (float *)a->d, (int32_t *)a->s);
}

// Rows [r0, r1) of X quantized into the buffers; panel rows are scattered a group at a time.
static void quantize_rows(mm_job *j, int r0, int r1) {
    int nb = j->k / 32;
    int g = j->kt->panel_group ? j->kt->panel_group : CK_PANEL_GROUP;
    if (!j->panels) {
        for (int r = r0; r < r1; r++) quantize_row_into(j, r, &j->q8.act[r]);
        return;
    }
    int8_t *qs = malloc((size_t)j->k);
    float *d = malloc(sizeof(float) * (size_t)nb);
    int32_t *s = malloc(sizeof(int32_t) * (size_t)nb);
    if (!qs || !d || !s) j->failed = 1;
    if (qs && d && s) {
        for (int r = r0; r < r1; r++) {
            if (r >= j->n_gemm) {
                quantize_row_into(j, r, &j->tail.act[r - j->n_gemm]);
                continue;
            }
            j->kt->quantize_q8(j->x + (size_t)r * j->k, j->k, qs, d, s);
            const ck_q8_act *p = &j->q8.act[r / CK_PANEL];
            int lane = r % CK_PANEL;
            for (int b = 0; b < nb; b++) {
                int8_t *dst = (int8_t *)p->qs + (size_t)b * 32 * CK_PANEL + lane * g;
                // Constant sizes in each branch, so each copy is one load and one store.
                if (g == 8)
                    for (int c = 0; c < 32; c += 8) memcpy(dst + c * CK_PANEL, qs + b * 32 + c, 8);
                else
                    for (int c = 0; c < 32; c += 4) memcpy(dst + c * CK_PANEL, qs + b * 32 + c, 4);
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

// Weight rows [i0, i1) of one output against all activation rows; scratch: the thread's for
// gemm_lanes.
static void matmul_rows(const mm_job *j, const mm_out *o, int i0, int i1, void *scratch) {
    int cnt = i1 - i0;
    const char *w = o->w + (size_t)i0 * o->rb;
    if (o->quant && j->lanes) {
        o->tk->gemm_lanes(w, o->rb, cnt, j->k, j->q8.act, j->n, o->y + i0, o->m, scratch);
    } else if (o->quant && j->panels) {
        const int step = CK_MAX_PANELS * CK_PANEL;
        for (int r0 = 0; r0 < j->n_gemm; r0 += step) {
            int nr = j->n_gemm - r0 < step ? j->n_gemm - r0 : step;
            o->tk->gemm(w, o->rb, cnt, j->k, &j->q8.act[r0 / CK_PANEL], 0, nr,
                        o->y + (size_t)r0 * o->m + i0, o->m);
        }
        for (int r = j->n_gemm; r < j->n; r++)
            o->tk->gemv(w, o->rb, cnt, j->k, &j->tail.act[r - j->n_gemm], o->y + (size_t)r * o->m + i0);
    } else if (!o->quant && o->tk->gemm && j->n > 1) {
        int chunk = float_chunk_rows(j->k);
        for (int r0 = 0; r0 < j->n; r0 += chunk) {
            int nr = j->n - r0 < chunk ? j->n - r0 : chunk;
            o->tk->gemm(w, o->rb, cnt, j->k, j->x + (size_t)r0 * j->k, (size_t)j->k, nr,
                        o->y + (size_t)r0 * o->m + i0, o->m);
        }
    } else {
        for (int r = 0; r < j->n; r++) {
            const void *xr = o->quant ? (const void *)&j->q8.act[r] : (const void *)(j->x + (size_t)r * j->k);
            o->tk->gemv(w, o->rb, cnt, j->k, xr, o->y + (size_t)r * o->m + i0);
        }
    }
    if (o->bias)
        for (int r = 0; r < j->n; r++)
            for (int i = i0; i < i1; i++) o->y[(size_t)r * o->m + i] += o->bias[i];
}

// Weight bytes per work item when n > 1: the chunk stays in L2 while every pass of activation
// panels runs over it.
#define GEMM_CHUNK_BYTES (256 * 1024)
// Rows of a last single panel that go through the n = 1 kernel instead (see ck_matmul_multi).
#define GEMV_TAIL_ROWS 2

// Threads take chunks of weight rows from a shared counter rather than fixed shares, so a
// thread slowed by a busy or slower core (big.LITTLE) does not hold up the others. Which
// thread computes a row never changes its bits.
static void matmul_task(void *ctx, int ith, int nth) {
    mm_job *j = ctx;
    (void)ith;
    (void)nth;
    void *scratch = NULL;
    if (j->lanes && j->n > CK_LANE_DIRECT_ROWS &&
        !(scratch = ck_aligned_alloc((size_t)(j->k / 32) * CK_LANE_BLOCK_BYTES))) {
        j->failed = 1;
        return;
    }
    for (;;) {
        int it = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (it >= j->items) break;
        const mm_out *o = j->out;
        while (it >= o->first + o->items) o++;
        long i0 = (long)(it - o->first) * o->chunk;
        long i1 = i0 + o->chunk < o->m ? i0 + o->chunk : o->m;
        matmul_rows(j, o, (int)i0, (int)i1, scratch);
    }
    ck_aligned_free(scratch);
}

int ck_matmul_multi(ck_pool *pool, const float *X, int n, int k, const ck_matmul_output *outs, int count) {
    if (n < 0 || k <= 0 || !X || !outs || count < 1 || count > CK_MATMUL_MAX_OUTPUTS) return -1;
    mm_job j = {0};
    j.kt = ck_kernels_active();
    j.x = X;
    j.n = n;
    j.k = k;
    int any_quant = 0, all_gemm = 1, all_lanes = 1;
    for (int c = 0; c < count; c++) {
        const ck_matmul_output *src = &outs[c];
        mm_out *o = &j.out[c];
        o->rb = ck_row_size(src->type, (size_t)k);
        if (!o->rb || src->m < 0 || !src->w || !src->y) return -1;
        o->tk = ck_type_kernels_for(j.kt, src->type);
        o->w = src->w;
        o->bias = src->bias;
        o->y = src->y;
        o->m = src->m;
        // A Q4_0x8 output's chunks start on its groups of 8 rows (every chunk is a multiple of 8).
        if (src->type == CK_TYPE_Q4_0X8 && src->m % 8) return -1;
        o->quant = src->type == CK_TYPE_Q4_0 || src->type == CK_TYPE_Q8_0 || src->type == CK_TYPE_Q4_0X8;
        any_quant |= o->quant;
        if (o->quant && !o->tk->gemm) all_gemm = 0;
        if (o->quant && !o->tk->gemm_lanes) all_lanes = 0;
    }
    j.lanes = any_quant && n > 1 && all_lanes;
    // About eight chunks per thread and output, whole multiples of the kernels' row groups (8;
    // gemm_lanes: 16).
    const int group = j.lanes ? CK_LANE_ROWS : 8;
    int nth = ck_pool_size(pool);
    for (int c = 0; c < count; c++) {
        mm_out *o = &j.out[c];
        o->chunk = (o->m + 8 * nth - 1) / (8 * nth);
        if (n > 1 && (size_t)o->chunk * o->rb > GEMM_CHUNK_BYTES) o->chunk = (int)(GEMM_CHUNK_BYTES / o->rb);
        o->chunk = o->chunk < group ? group : (o->chunk + group - 1) / group * group;
        o->first = j.items;
        o->items = (o->m + o->chunk - 1) / o->chunk;
        j.items += o->items;
    }
    if (n == 0 || j.items == 0) return 0;
    if (any_quant) {
        j.panels = n > 1 && all_gemm && !j.lanes;
        j.n_gemm = n;
        int panels = (n + CK_PANEL - 1) / CK_PANEL, last = n - (panels - 1) * CK_PANEL;
        // A last pass over the weights with one panel (an odd count) costs about half a full
        // pass whatever its rows; a row or two there are cheaper through the n = 1 kernel
        // (BLIP-2's 257 ViT tokens, the 33-row caption prefix).
        if (j.panels && panels > 1 && panels % CK_MAX_PANELS == 1 && last <= GEMV_TAIL_ROWS) {
            j.n_gemm = n - last;
            panels--;
            if (q8_buffer_init(&j.tail, last, 1, k / 32) != 0) return -1;
        }
        int acts = j.panels ? panels : n;
        if (q8_buffer_init(&j.q8, acts, j.panels ? CK_PANEL : 1, k / 32) != 0) {
            if (j.tail.act) q8_buffer_free(&j.tail);
            return -1;
        }
        if (n >= 4)
            ck_pool_run(pool, quantize_task, &j);
        else
            quantize_rows(&j, 0, n);
    }
    atomic_init(&j.next, 0);
    if (!j.failed) ck_pool_run(pool, matmul_task, &j);
    if (j.q8.act) q8_buffer_free(&j.q8);
    if (j.tail.act) q8_buffer_free(&j.tail);
    return j.failed ? -1 : 0;
}

int ck_matmul(ck_pool *pool, ck_type t, const void *W, const float *X, const float *bias,
              float *Y, int n, int m, int k) {
    ck_matmul_output o = {t, W, bias, Y, m};
    return ck_matmul_multi(pool, X, n, k, &o, 1);
}
