// Weight quantization for the converter: bit-identical to the `gguf` Python package's
// gguf.quants.quantize (version 0.19, our reference for quantized bytes): float32 arithmetic
// throughout, with Q4_0's multiply and add rounded separately. Activation quantization for
// the matmuls lives in ck_matmul.h.
#ifndef CK_QUANTIZE_H
#define CK_QUANTIZE_H

#include <stddef.h>
#include <stdint.h>
#include "ck_blocks.h"

// k must be a multiple of 32. Return the number of non-finite inputs seen (0 for a sound
// tensor); blocks holding NaN or infinity get a zero scale instead of undefined bytes.
size_t ck_quantize_q8_0_gguf(const float *x, ck_block_q8_0 *y, size_t k);
size_t ck_quantize_q4_0_gguf(const float *x, ck_block_q4_0 *y, size_t k);
// The plain-C references the dispatched versions above are tested against.
size_t ck_quantize_q8_0_gguf_ref(const float *x, ck_block_q8_0 *y, size_t k);
size_t ck_quantize_q4_0_gguf_ref(const float *x, ck_block_q4_0 *y, size_t k);

// Q4_0 rows <-> Q4_0x8 groups (ck_blocks.h, blip2-quantize --interleave): m rows of k (m a
// multiple of 8, k of 32), each Q4_0 row k / 32 blocks after the previous. The same bytes,
// reordered; not in place. Return 0, or -1 on bad arguments.
int ck_interleave_q4_0x8(const ck_block_q4_0 *rows, ck_block_q4_0x8 *groups, int m, int k);
int ck_deinterleave_q4_0x8(const ck_block_q4_0x8 *groups, ck_block_q4_0 *rows, int m, int k);

// bfloat16 checkpoint values to float (exact). Dequantization is ck_row_to_float and the
// fp16 conversions are ck_fp16_to_fp32_row / ck_fp32_to_fp16_row (ck_matmul.h, ck_ops.h).
void ck_bf16_to_f32(const ck_bfloat16 *x, float *y, size_t n);

#endif
