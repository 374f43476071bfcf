// Reference element-wise, row and attention primitives in portable C.
#include <math.h>
#include "../ck_internal.h"
#include "ck_fp16.h"

void ck_f16_to_f32_ref_row(const ck_half *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = ck_half_to_float_ref(x[i]);
}

void ck_f32_to_f16_ref_row(const float *x, ck_half *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = ck_float_to_half_ref(x[i]);
}

// Two passes (mean, then the mean of squared deviations): no cancellation when |mean| >> std.
void ck_layernorm_row_ref(const float *x, float *y, int dim, const float *w, const float *b,
                          float eps) {
    float sum = 0.0f;
    for (int i = 0; i < dim; i++) sum += x[i];
    float mean = sum / (float)dim;
    float var = 0.0f;
    for (int i = 0; i < dim; i++) var += (x[i] - mean) * (x[i] - mean);
    var /= (float)dim;
    float rstd = 1.0f / sqrtf(var + eps);
    for (int i = 0; i < dim; i++) y[i] = (x[i] - mean) * rstd * w[i] + b[i];
}

void ck_gelu_ref(const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}

void ck_relu_ref(const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

// A row that is all -inf (fully masked) becomes all zeros rather than NaN.
void ck_softmax_row_ref(float *x, int n) {
    float max = -INFINITY;
    for (int i = 0; i < n; i++) max = fmaxf(max, x[i]);
    if (max == -INFINITY) {
        for (int i = 0; i < n; i++) x[i] = 0.0f;
        return;
    }
    float sum = 0.0f;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    float inv = 1.0f / sum;
    for (int i = 0; i < n; i++) x[i] *= inv;
}

