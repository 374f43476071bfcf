// Driver of the converter's conversions (ck_quantize.h): the weight quantizers run the active
// variant's, which give the reference's bytes.
#include <string.h>
#include "ck_internal.h"
#include "ck_fp16.h"
#include "ck_quantize.h"

size_t ck_quantize_q8_0_gguf(const float *x, ck_block_q8_0 *y, size_t k) {
    return ck_kernels_active()->quantize_q8_0_gguf(x, y, k);
}

size_t ck_quantize_q4_0_gguf(const float *x, ck_block_q4_0 *y, size_t k) {
    return ck_kernels_active()->quantize_q4_0_gguf(x, y, k);
}

// Row r's block b <-> its place in group r / 8: one loop for both directions.
static int reorder_q4_0x8(ck_block_q4_0 *rows, ck_block_q4_0x8 *groups, int m, int k, int to_groups) {
    if (!rows || !groups || m < 0 || m % 8 || k <= 0 || k % 32) return -1;
    const int nb = k / 32;
    for (int g = 0; g < m / 8; g++)
        for (int b = 0; b < nb; b++) {
            ck_block_q4_0x8 *x8 = groups + (size_t)g * nb + b;
            for (int r = 0; r < 8; r++) {
                ck_block_q4_0 *row = rows + ((size_t)g * 8 + r) * nb + b;
                for (int j = 0; j < 4; j++) {
                    uint8_t *a = x8->qs + 32 * j + 4 * r, *c = row->qs + 4 * j;
                    memcpy(to_groups ? a : c, to_groups ? c : a, 4);
                }
                if (to_groups) x8->d[r] = row->d; else row->d = x8->d[r];
            }
        }
    return 0;
}

int ck_interleave_q4_0x8(const ck_block_q4_0 *rows, ck_block_q4_0x8 *groups, int m, int k) {
    return reorder_q4_0x8((ck_block_q4_0 *)rows, groups, m, k, 1);
}

int ck_deinterleave_q4_0x8(const ck_block_q4_0x8 *groups, ck_block_q4_0 *rows, int m, int k) {
    return reorder_q4_0x8(rows, (ck_block_q4_0x8 *)groups, m, k, 0);
}

void ck_bf16_to_f32(const ck_bfloat16 *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = ck_bf16_to_float(x[i]);
}
