// Driver of the converter's conversions (ck_quantize.h): the weight quantizers run the active
// variant's, which give the reference's bytes.
#include "ck_internal.h"
#include "ck_fp16.h"
#include "ck_quantize.h"

size_t ck_quantize_q8_0_gguf(const float *x, ck_block_q8_0 *y, size_t k) {
    return ck_kernels_active()->quantize_q8_0_gguf(x, y, k);
}

size_t ck_quantize_q4_0_gguf(const float *x, ck_block_q4_0 *y, size_t k) {
    return ck_kernels_active()->quantize_q4_0_gguf(x, y, k);
}

void ck_bf16_to_f32(const ck_bfloat16 *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = ck_bf16_to_float(x[i]);
}
