// Matrix multiply against weights in the model file's own storage (used in place, never
// repacked), and the activation quantization it relies on.
#ifndef CK_MATMUL_H
#define CK_MATMUL_H

#include <stddef.h>
#include <stdint.h>
#include "ck_blocks.h"
#include "ck_pool.h"

// Weight storage types; the values are ggml's type ids, as stored in GGUF tensor infos.
typedef enum {
    CK_TYPE_F32 = 0,
    CK_TYPE_F16 = 1,
    CK_TYPE_Q4_0 = 2,
    CK_TYPE_Q8_0 = 8,
    // Not a ggml id: Q4_0 weights interleaved 8 rows at a time (ck_block_q4_0x8); m must be a
    // multiple of 8. Same numbers and bits as CK_TYPE_Q4_0 over the same weights.
    CK_TYPE_Q4_0X8 = 0x8002,
} ck_type;

// Bytes of one row of k elements of type t (k a multiple of 32 for Q4_0 / Q8_0); 0 for an
// unknown type or a k the type cannot hold.
size_t ck_row_size(ck_type t, size_t k);

// Activation quantization, ggml's quantize_row_q8_0: per block of 32, d = amax / 127,
// q = roundf(x * (1/d)) (half away from zero), d stored as fp16. k a multiple of 32.
// Values beyond about 8e6 in magnitude overflow the fp16 scale (as in ggml).
void ck_quantize_row_q8_0(const float *x, ck_block_q8_0 *y, size_t k);

// Converts one row of k elements of type t to float (dequantization for Q4_0 / Q8_0). Not for
// Q4_0x8, whose rows are not contiguous: y is then left as it was.
void ck_row_to_float(ck_type t, const void *x, float *y, size_t k);

// Y[n x m] = X[n x k] . W[m x k]^T (+ bias[m] when bias is not NULL). All row-major and
// contiguous: X row r at X + r*k, W row i at (char *)W + i*ck_row_size(t, k), Y row r at
// Y + r*m. For Q4_0 / Q8_0 weights X is first quantized to Q8_0 per row and each output is
// sum over blocks b of fp32(isum_b) * (d_w,b * d_x,b), accumulated with one fused multiply-add
// per block in block order, isum_b the exact integer dot product of the block: every variant
// gives the same bits. For F16 / F32 weights the products are summed in fp32 in an order that
// depends on the variant (not on n, m or the threads). Threads split m; results do not depend
// on the number of threads. pool may be NULL (single thread). Returns 0, or -1 on bad
// arguments (unknown type, k not a multiple of 32 for a quantized type) or out of memory.
int ck_matmul(ck_pool *pool, ck_type t, const void *W, const float *X, const float *bias,
              float *Y, int n, int m, int k);

// Several matmuls of one X (the q, k and v projections of a layer) as one: X is quantized once
// and the weight rows of all outputs are shared out in one pass of the pool, so the threads
// meet once instead of once per output. Each output is exactly what ck_matmul gives for it.
#define CK_MATMUL_MAX_OUTPUTS 4
typedef struct {
    ck_type type;
    const void *w;
    const float *bias; // may be NULL
    float *y;          // [n x m]
    int m;
} ck_matmul_output;
int ck_matmul_multi(ck_pool *pool, const float *X, int n, int k, const ck_matmul_output *outs, int count);

#endif
