// Block formats of the quantized tensor types, byte-for-byte those of ggml (ggml-common.h),
// so that our model files are ggml/gguf files and the `gguf` Python package reads them.
#ifndef CK_BLOCKS_H
#define CK_BLOCKS_H

#include <stdint.h>

#define CK_QK8_0 32
#define CK_QK4_0 32

typedef uint16_t ck_half;     // IEEE 754 binary16, stored as bits
typedef uint16_t ck_bfloat16; // bfloat16, stored as bits

// Q8_0: 32 weights as int8 with one fp16 scale: x[i] = d * qs[i].
typedef struct {
    ck_half d;
    int8_t qs[CK_QK8_0];
} ck_block_q8_0;
_Static_assert(sizeof(ck_block_q8_0) == 34, "Q8_0 block must be 34 bytes (ggml layout)");

// Q4_0: 32 weights as 4-bit unsigned with an implied offset of 8 and one fp16 scale.
// Byte j holds weight j in its low nibble and weight j+16 in its high nibble:
// x[j] = d * ((qs[j] & 15) - 8), x[j+16] = d * ((qs[j] >> 4) - 8).
typedef struct {
    ck_half d;
    uint8_t qs[CK_QK4_0 / 2];
} ck_block_q4_0;
_Static_assert(sizeof(ck_block_q4_0) == 18, "Q4_0 block must be 18 bytes (ggml layout)");

// Q4_0x8: blip2-edge's own layout, not ggml's. Block b of 8 consecutive weight rows r0..r0+7
// as one 144-byte block: the 8 rows' fp16 scales, then their quant bytes 4 at a time, row
// after row: qs[32 j + 4 r + c] = row r's qs[4 j + c]. A 32-byte load then holds the same 4
// bytes (8 weights: 4 low and 4 high nibbles) of all 8 rows, so SIMD lanes are rows and the
// n = 1 product needs no horizontal sums. The same bytes as 8 Q4_0 blocks, reordered; a model
// file stores such a tensor as raw bytes (ggml's I8) and says so in its metadata.
typedef struct {
    ck_half d[8];
    uint8_t qs[8 * CK_QK4_0 / 2];
} ck_block_q4_0x8;
_Static_assert(sizeof(ck_block_q4_0x8) == 8 * sizeof(ck_block_q4_0), "Q4_0x8 block must be 8 Q4_0 blocks");

#endif
