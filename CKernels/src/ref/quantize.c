// Scalar weight quantizers following gguf-py 0.19's quants.py step by step, all in float32,
// so the bytes match the Python reference exactly. Q4_0's x * id + 8.5 must be rounded after
// the multiply and again after the add: a fused multiply-add gives another nibble in about
// one block in a thousand, so contraction is off for this file.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif
#include <math.h>
#include "ck_quantize.h"
#include "ck_fp16.h"

static int is_finite_f(float v) { return v == v && fabsf(v) <= 3.40282347e+38f; }

size_t ck_quantize_q8_0_gguf_ref(const float *x, ck_block_q8_0 *y, size_t k) {
    size_t bad = 0;
    for (size_t b = 0; b < k / CK_QK8_0; b++) {
        const float *xb = x + b * CK_QK8_0;
        float amax = 0.0f;
        size_t bad_here = 0;
        for (int j = 0; j < CK_QK8_0; j++) {
            if (!is_finite_f(xb[j])) { bad_here++; continue; }
            float a = fabsf(xb[j]);
            if (a > amax) amax = a;
        }
        bad += bad_here;
        if (bad_here) {
            y[b].d = 0;
            for (int j = 0; j < CK_QK8_0; j++) y[b].qs[j] = 0;
            continue;
        }
        // d = amax / 127 and id = 1 / d in float32, as numpy does with float32 arrays.
        float d = amax / 127.0f;
        float id = d == 0.0f ? 0.0f : 1.0f / d;
        for (int j = 0; j < CK_QK8_0; j++) {
            float p = xb[j] * id;
            y[b].qs[j] = (int8_t)roundf(p); // round half away from zero, as gguf's np_roundf
        }
        y[b].d = ck_float_to_half_ref(d);
    }
    return bad;
}

size_t ck_quantize_q4_0_gguf_ref(const float *x, ck_block_q4_0 *y, size_t k) {
    size_t bad = 0;
    for (size_t b = 0; b < k / CK_QK4_0; b++) {
        const float *xb = x + b * CK_QK4_0;
        // The signed value of largest magnitude; the first one wins ties (numpy argmax).
        float amax = 0.0f, max = 0.0f;
        size_t bad_here = 0;
        for (int j = 0; j < CK_QK4_0; j++) {
            if (!is_finite_f(xb[j])) { bad_here++; continue; }
            float a = fabsf(xb[j]);
            if (a > amax) { amax = a; max = xb[j]; }
        }
        bad += bad_here;
        if (bad_here) {
            y[b].d = 0;
            for (int j = 0; j < CK_QK4_0 / 2; j++) y[b].qs[j] = 0x88;
            continue;
        }
        float d = max / -8.0f;
        float id = d == 0.0f ? 0.0f : 1.0f / d;
        uint8_t q[CK_QK4_0];
        for (int j = 0; j < CK_QK4_0; j++) {
            float p = xb[j] * id;
            float t = truncf(p + 8.5f);
            q[j] = t >= 15.0f ? 15 : (uint8_t)t; // t >= 0 since |x * id| <= 8
        }
        for (int j = 0; j < CK_QK4_0 / 2; j++) y[b].qs[j] = (uint8_t)(q[j] | (q[j + 16] << 4));
        y[b].d = ck_float_to_half_ref(d);
    }
    return bad;
}
