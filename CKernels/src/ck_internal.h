// Internal interface between the portable drivers (matmul.c, ops.c, quantize.c) and the
// kernels: one table of function pointers per variant, the plain-C reference's in ref/, each
// instruction set's in its one file under arch/ (whose float kernels come from
// arch/simd_float.h). A new variant is that file, its row in cpu.c's table and its id in
// ck_cpu.h.
#ifndef CK_INTERNAL_H
#define CK_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include "ck_blocks.h"
#include "ck_cpu.h"
#include "ck_matmul.h"

// Activation rows of a GEMM panel: CK_PANEL rows interleaved a group of bytes at a time. Four
// bytes by default, so that one SIMD register holds the same four positions of every row and a
// broadcast weight group multiplies all rows at once (lanes are rows: no horizontal sums, int16
// partial sums stay exact for Q4_0); a variant may ask for wider groups (ck_kernels.panel_group).
#define CK_PANEL 8
#define CK_PANEL_GROUP 4
// Panels a GEMM kernel takes per call (they share each unpacked weight block). 3 measured
// slower than 2 on AVX2 (the accumulators no longer fit the 16 registers).
#define CK_MAX_PANELS 2

// Q8_0-quantized activations, as the matmul kernels read them. Scales are the fp16-rounded d
// already widened to float; s is the sum of the block's quants (for Q4_0's offset of 8).
//   row layout   (n = 1):   qs[nb][32],                      d[nb],          s[nb]
//   panel layout (n > 1):   qs[nb][32/G groups][8 rows][G],  d[nb][8 rows],  s[nb][8 rows]
// with G the variant's panel_group.
typedef struct {
    const int8_t *qs;
    const float *d;
    const int32_t *s;
} ck_q8_act;

// Weight-type kernels of one variant (ggml's type traits: vec_dot_type is Q8_0 for the
// quantized types, F32 for the float ones).
//   gemv: y[i] = W[i] . x for i < m; x is a ck_q8_act row (quantized types) or const float *.
//   gemm: Y[r][i] = W[i] . X[r] for r < nr, i < m. Quantized types: x points to an array of
//         ceil(nr / 8) ck_q8_act panels, nr <= 8 * CK_MAX_PANELS. Float types: x is const float *, rows
//         x_stride apart, any nr. NULL: the driver calls gemv per row.
//   gemm_lanes: optional (quantized types), preferred over gemm when every output of a product
//         has it. Y[r][i] = W[i] . X[r] for r < nr (any nr), i < m, with x an array of nr
//         row-layout ck_q8_act: the weight rows sit in the SIMD lanes, CK_LANE_ROWS at a time
//         unpacked (into registers for nr <= CK_LANE_DIRECT_ROWS; for more, into scratch:
//         CK_LANE_BLOCK_BYTES per block of k, 64-byte aligned, the caller's, one per thread, NULL
//         allowed for the few rows), and each activation row's 4-byte groups are broadcast
//         against them. So n is never padded to a panel and no lanes are summed horizontally.
#define CK_LANE_ROWS 16
#define CK_LANE_DIRECT_ROWS 8
#define CK_LANE_BLOCK_BYTES (CK_LANE_ROWS * (32 + 4)) // per block: 16 rows x 32 quants, 16 scales
typedef struct {
    void (*gemv)(const void *w, size_t row_bytes, int m, int k, const void *x, float *y);
    void (*gemm)(const void *w, size_t row_bytes, int m, int k, const void *x, size_t x_stride,
                 int nr, float *y, int ldy);
    void (*to_float)(const void *x, float *y, size_t k);
    void (*gemm_lanes)(const void *w, size_t row_bytes, int m, int k, const ck_q8_act *x, int nr,
                       float *y, int ldy, void *scratch);
} ck_type_kernels;

typedef struct {
    ck_type_kernels f32, f16, q4_0, q8_0, q4_0x8;
    // Bytes per row and group in the panel layout: 8, or 0 for CK_PANEL_GROUP (4).
    int panel_group;
    // ggml-compatible Q8_0 quantization of one row into the row layout above (k % 32 == 0).
    void (*quantize_q8)(const float *x, size_t k, int8_t *qs, float *d, int32_t *s);
    void (*f16_to_f32)(const ck_half *x, float *y, size_t n);
    void (*f32_to_f16)(const float *x, ck_half *y, size_t n);
    void (*layernorm_row)(const float *x, float *y, int dim, const float *w, const float *b,
                          float eps);
    void (*gelu)(const float *x, float *y, size_t n);
    void (*relu)(const float *x, float *y, size_t n);
    void (*softmax_row)(float *x, int n);
    // C[r][t] = sum_j A[r][j] B[j][t] (see ck_gemm_nn); ldb in bytes, B fp16 when b_f16.
    void (*gemm_nn)(const float *a, size_t lda, const void *b, size_t ldb, int b_f16, int nr, int kk,
                    int nc, float *c, size_t ldc);
    // The converter's weight quantizers (ck_quantize.h): the gguf package's bytes exactly.
    size_t (*quantize_q8_0_gguf)(const float *x, ck_block_q8_0 *y, size_t k);
    size_t (*quantize_q4_0_gguf)(const float *x, ck_block_q4_0 *y, size_t k);
} ck_kernels;

// The reference variant's table; the others are listed with their CPU checks in cpu.c.
extern const ck_kernels ck_kernels_ref;
#if defined(__x86_64__) || defined(_M_X64)
#define CK_X86 1
#endif
#if defined(__aarch64__)
#define CK_ARM64 1
#endif

// The table of the active variant (selected once; see cpu.c).
const ck_kernels *ck_kernels_active(void);
const ck_type_kernels *ck_type_kernels_for(const ck_kernels *kt, ck_type t);

// Reference kernels (ref/): the reference table's, and the SIMD tables' rarely used entries.
void ck_quantize_q8_ref(const float *x, size_t k, int8_t *qs, float *d, int32_t *s);
void ck_to_float_f16_ref(const void *x, float *y, size_t k);
void ck_to_float_f32_ref(const void *x, float *y, size_t k);
void ck_to_float_q4_0_ref(const void *x, float *y, size_t k);
// Q4_0x8 (ck_block_q4_0x8): the reference's n = 1 kernel (the driver runs it once per row
// when n > 1). No to_float: a row of it is not contiguous.
void ck_gemv_q4_0x8_ref(const void *w, size_t rb, int m, int k, const void *x, float *y);
#define CK_Q4_0X8_REF {ck_gemv_q4_0x8_ref, NULL, NULL, NULL}
void ck_to_float_q8_0_ref(const void *x, float *y, size_t k);
void ck_f16_to_f32_ref_row(const ck_half *x, float *y, size_t n);
void ck_f32_to_f16_ref_row(const float *x, ck_half *y, size_t n);
void ck_layernorm_row_ref(const float *x, float *y, int dim, const float *w, const float *b,
                          float eps);
void ck_gelu_ref(const float *x, float *y, size_t n);
void ck_relu_ref(const float *x, float *y, size_t n);
void ck_softmax_row_ref(float *x, int n);
void ck_gemm_nn_ref(const float *a, size_t lda, const void *b, size_t ldb, int b_f16, int nr, int kk, int nc,
                    float *c, size_t ldc);

// Portable helpers of the drivers.
void *ck_aligned_alloc(size_t bytes);
void ck_aligned_free(void *p);

// Full unrolling of the small constant loops of the kernels, so their arrays of accumulators
// live in registers (GCC 8+ and clang both read this pragma).
#define CK_PRAGMA(x) _Pragma(#x)
#define CK_UNROLL(n) CK_PRAGMA(GCC unroll n)

#endif
