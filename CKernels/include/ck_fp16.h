// Half-precision and bfloat16 conversions. The scalar forms here are the reference: exact,
// round-to-nearest-even, with overflow to infinity, subnormals and NaN handled as IEEE 754
// (and so as numpy's astype(float16), which the `gguf` package uses for F16 tensors).
#ifndef CK_FP16_H
#define CK_FP16_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "ck_blocks.h"

static inline uint32_t ck_f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline float ck_bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

static inline float ck_half_to_float_ref(ck_half h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1Fu;
    uint32_t man = h & 0x3FFu;
    if (exp == 0x1F) return ck_bits_f32(sign | 0x7F800000u | (man << 13)); // inf / NaN
    if (exp == 0) {
        if (man == 0) return ck_bits_f32(sign);
        // Subnormal half: value = man * 2^-24, exactly representable as a float.
        float v = (float)man * 5.9604644775390625e-08f;
        return sign ? -v : v;
    }
    return ck_bits_f32(sign | ((exp + 112u) << 23) | (man << 13));
}

static inline ck_half ck_float_to_half_ref(float f) {
    uint32_t u = ck_f32_bits(f);
    uint32_t sign = (u >> 16) & 0x8000u;
    uint32_t abs = u & 0x7FFFFFFFu;
    if (abs > 0x7F800000u) return (ck_half)(sign | 0x7E00u | ((abs >> 13) & 0x3FFu)); // NaN stays NaN
    if (abs >= 0x477FF000u) return (ck_half)(sign | 0x7C00u); // rounds to >= 65520: infinity
    if (abs < 0x38800000u) {
        // Result is subnormal (or zero): scale into the subnormal grid, round to nearest even.
        if (abs < 0x33000000u) return (ck_half)sign; // below half the smallest subnormal
        uint32_t e = abs >> 23;
        uint32_t m = (abs & 0x7FFFFFu) | 0x800000u;
        uint32_t shift = 126u - e; // 14..24 for this range
        uint32_t q = m >> shift;
        uint32_t rem = m & ((1u << shift) - 1u);
        uint32_t halfway = 1u << (shift - 1u);
        if (rem > halfway || (rem == halfway && (q & 1u))) q++;
        return (ck_half)(sign | q);
    }
    // Normal: rebias exponent, round mantissa to 10 bits (carry may bump the exponent).
    uint32_t r = abs - 0x38000000u; // exponent rebias 127 -> 15, in place
    uint32_t lsb = (r >> 13) & 1u;
    r += 0xFFFu + lsb;
    return (ck_half)(sign | (r >> 13));
}

static inline float ck_bf16_to_float(ck_bfloat16 b) { return ck_bits_f32((uint32_t)b << 16); }

#endif
