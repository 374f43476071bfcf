// AArch64 NEON row and attention primitives (the tables are in matmul_neon.c). The algorithms
// are those of ops_avx2.c (same exp and erfc approximations), four lanes wide.
#include "ck_internal.h"

#if defined(CK_ARM64)
#include <arm_neon.h>
#include <math.h>
#include "ck_fp16.h"

#define NEON_INLINE static inline __attribute__((always_inline))

// exp(x) to about 2 ulp; results below FLT_MIN flush to 0 (see ops_avx2.c).
NEON_INLINE float32x4_t exp4(float32x4_t x) {
    const float32x4_t lo = vdupq_n_f32(-87.33654f), hi = vdupq_n_f32(88.3762626647949f);
    uint32x4_t underflow = vcltq_f32(x, lo);
    x = vminq_f32(vmaxq_f32(x, lo), hi);
    float32x4_t n = vrndnq_f32(vmulq_n_f32(x, 1.44269504088896341f));
    float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693359375f));
    r = vfmsq_f32(r, n, vdupq_n_f32(-2.12194440e-4f));
    float32x4_t p = vdupq_n_f32(1.9875691500E-4f);
    p = vfmaq_f32(vdupq_n_f32(1.3981999507E-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(8.3334519073E-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(4.1665795894E-2f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.6666665459E-1f), p, r);
    p = vfmaq_f32(vdupq_n_f32(5.0000001201E-1f), p, r);
    p = vfmaq_f32(vaddq_f32(r, vdupq_n_f32(1.0f)), p, vmulq_f32(r, r));
    int32x4_t e = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
    float32x4_t v = vmulq_f32(p, vreinterpretq_f32_s32(e));
    return vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(v), underflow));
}

void ck_f32_to_f16_neon(const float *x, ck_half *y, size_t n) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4) vst1_u16(y + i, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(x + i))));
    for (; i < n; i++) y[i] = ck_float_to_half_ref(x[i]);
}

void ck_layernorm_row_neon(const float *x, float *y, int dim, const float *w, const float *b, float eps) {
    float32x4_t acc = vdupq_n_f32(0.0f);
    int i = 0;
    for (; i + 4 <= dim; i += 4) acc = vaddq_f32(acc, vld1q_f32(x + i));
    float sum = vaddvq_f32(acc);
    for (; i < dim; i++) sum += x[i];
    float mean = sum / (float)dim;
    float32x4_t vm = vdupq_n_f32(mean);
    acc = vdupq_n_f32(0.0f);
    for (i = 0; i + 4 <= dim; i += 4) {
        float32x4_t dl = vsubq_f32(vld1q_f32(x + i), vm);
        acc = vfmaq_f32(acc, dl, dl);
    }
    float var = vaddvq_f32(acc);
    for (; i < dim; i++) var += (x[i] - mean) * (x[i] - mean);
    var /= (float)dim;
    float rstd = 1.0f / sqrtf(var + eps);
    for (i = 0; i + 4 <= dim; i += 4) {
        float32x4_t t = vmulq_n_f32(vsubq_f32(vld1q_f32(x + i), vm), rstd);
        vst1q_f32(y + i, vfmaq_f32(vld1q_f32(b + i), t, vld1q_f32(w + i)));
    }
    for (; i < dim; i++) y[i] = (x[i] - mean) * rstd * w[i] + b[i];
}

// x Phi(x) through erfc(|x| / sqrt 2) by Abramowitz & Stegun 7.1.26 (see ops_avx2.c).
NEON_INLINE float32x4_t gelu4(float32x4_t x) {
    float32x4_t z = vmulq_n_f32(vabsq_f32(x), 0.70710678118654752f);
    float32x4_t t = vdivq_f32(vdupq_n_f32(1.0f), vfmaq_f32(vdupq_n_f32(1.0f), z, vdupq_n_f32(0.3275911f)));
    float32x4_t p = vdupq_n_f32(1.061405429f);
    p = vfmaq_f32(vdupq_n_f32(-1.453152027f), p, t);
    p = vfmaq_f32(vdupq_n_f32(1.421413741f), p, t);
    p = vfmaq_f32(vdupq_n_f32(-0.284496736f), p, t);
    p = vfmaq_f32(vdupq_n_f32(0.254829592f), p, t);
    float32x4_t e = vmulq_f32(vmulq_f32(p, t), exp4(vnegq_f32(vmulq_f32(z, z))));
    uint32x4_t neg = vcltq_f32(x, vdupq_n_f32(0.0f));
    float32x4_t one_plus_erf = vbslq_f32(neg, e, vsubq_f32(vdupq_n_f32(2.0f), e));
    return vmulq_f32(vmulq_n_f32(x, 0.5f), one_plus_erf);
}

void ck_gelu_neon(const float *x, float *y, size_t n) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, gelu4(vld1q_f32(x + i)));
    if (i < n) {
        float buf[4] = {0};
        for (size_t j = i; j < n; j++) buf[j - i] = x[j];
        vst1q_f32(buf, gelu4(vld1q_f32(buf)));
        for (size_t j = i; j < n; j++) y[j] = buf[j - i];
    }
}

void ck_relu_neon(const float *x, float *y, size_t n) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vmaxq_f32(vld1q_f32(x + i), vdupq_n_f32(0.0f)));
    for (; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void ck_softmax_row_neon(float *x, int n) {
    float32x4_t vmax = vdupq_n_f32(-INFINITY);
    int i = 0;
    for (; i + 4 <= n; i += 4) vmax = vmaxq_f32(vmax, vld1q_f32(x + i));
    float max = vmaxvq_f32(vmax);
    for (; i < n; i++) max = fmaxf(max, x[i]);
    if (max == -INFINITY) {
        for (i = 0; i < n; i++) x[i] = 0.0f;
        return;
    }
    float32x4_t vm = vdupq_n_f32(max), acc = vdupq_n_f32(0.0f);
    for (i = 0; i + 4 <= n; i += 4) {
        float32x4_t e = exp4(vsubq_f32(vld1q_f32(x + i), vm));
        vst1q_f32(x + i, e);
        acc = vaddq_f32(acc, e);
    }
    float sum = vaddvq_f32(acc);
    if (i < n) {
        float buf[4];
        for (int j = 0; j < 4; j++) buf[j] = i + j < n ? x[i + j] - max : -INFINITY;
        vst1q_f32(buf, exp4(vld1q_f32(buf)));
        for (int j = i; j < n; j++) {
            x[j] = buf[j - i];
            sum += x[j];
        }
    }
    float inv = 1.0f / sum;
    for (i = 0; i + 4 <= n; i += 4) vst1q_f32(x + i, vmulq_n_f32(vld1q_f32(x + i), inv));
    for (; i < n; i++) x[i] *= inv;
}

#endif
