// Element-wise, row-wise and attention operations of the BLIP-2 forward pass, in fp32.
// Every function has a plain-C reference and SIMD variants, chosen like the matmuls (ck_cpu.h).
#ifndef CK_OPS_H
#define CK_OPS_H

#include <stddef.h>
#include "ck_blocks.h"
#include "ck_matmul.h"
#include "ck_pool.h"

// fp16 <-> fp32 rows, round-to-nearest-even (F16C / NEON FCVT): the bits of ck_fp16.h, except
// that SIMD variants may quiet a signaling NaN.
void ck_fp16_to_fp32_row(const ck_half *x, float *y, size_t n);
void ck_fp32_to_fp16_row(const float *x, ck_half *y, size_t n);

// LayerNorm over each of `rows` rows of length dim: y = (x - mean) / sqrt(var + eps) * w + b,
// var the biased (population) variance, as torch.nn.LayerNorm. w, b: [dim]. y may equal x.
void ck_layernorm(const float *x, float *y, int rows, int dim, const float *w, const float *b,
                  float eps);

// y = x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)), transformers' "gelu" (not the tanh form).
// y may equal x.
void ck_gelu(const float *x, float *y, size_t n);

// y = max(x, 0). y may equal x.
void ck_relu(const float *x, float *y, size_t n);

// In-place softmax of each row of x [rows x cols]. causal != 0: row i keeps columns
// j <= i + (cols - rows) (the last `rows` positions of a KV cache of `cols`) and its other
// columns become 0.
void ck_softmax(float *x, int rows, int cols, int causal);

// C[r, t] = sum_j A[r, j] B[j, t] for r < nr, t < nc, j < kk, on one thread: A rows lda
// floats apart, B rows ldb elements apart in fp32 or fp16 (b_type CK_TYPE_F32 / CK_TYPE_F16),
// C rows ldc floats apart. The product of attention's weights with V (and of Q with a
// transposed K): B's rows are read in place, its columns are the SIMD lanes. The sum over j
// is in fp32 in an order that depends on the variant. Returns 0, or -1 on bad arguments.
int ck_gemm_nn(const float *a, int lda, const void *b, int ldb, ck_type b_type, float *c, int ldc,
               int nr, int kk, int nc);

// Multi-head scaled dot-product attention, rows laid out [tokens, n_heads * head_dim] with
// row strides in elements (so q, k, v may be slices of one fused QKV output):
//   O[i, h] = sum_j softmax_j(scale * Q[i, h] . K[j, h] + mask[h, i, j]) V[j, h].
// Bidirectional (ViT, Q-Former self- and cross-attention: n_q and n_kv may differ) or causal
// with a KV cache (OPT): query i (0..n_q-1) sees keys j <= n_kv - n_q + i, the queries being
// the last n_q positions. K and V are fp32 or fp16 (kv_type CK_TYPE_F32 / CK_TYPE_F16).
// Threads split (head, query) pairs; results do not depend on the number of threads.
typedef struct {
    const float *q; int ldq;    // [n_q, n_heads * head_dim]
    const void *k; int ldk;     // [n_kv, n_heads * head_dim], kv_type
    const void *v; int ldv;     // [n_kv, n_heads * head_dim], kv_type
    ck_type kv_type;
    float *o; int ldo;          // [n_q, n_heads * head_dim], written
    int n_q, n_kv, n_heads, head_dim;
    float scale;                // usually 1 / sqrt(head_dim)
    const float *mask;          // optional additive mask [n_q, n_kv] (row stride n_kv), or NULL
    int causal;
    // Floats between heads' masks: 0 shares one mask; n_q * n_kv gives each head its own
    // (T5's relative position bias, [n_heads, n_q, n_kv]).
    size_t mask_head_stride;
} ck_attention_params;

// Returns 0, or -1 on bad arguments or out of memory.
int ck_attention(ck_pool *pool, const ck_attention_params *p);

#endif
