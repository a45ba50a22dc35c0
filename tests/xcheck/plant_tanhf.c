/* tests/xcheck/plant_tanhf.c - a planted fault for xcheck's tests: the tanh activation with the
 * C library's tanhf in place of the library's own (csrc/mathf.c). Linked with csrc/activation.c
 * compiled with -Dtr_tanh_f32=tr__plant_tanh_f32, so tr_tanh_forward_f32 lands here. */
#include <math.h>

#include "tinyreptile.h"

tr_status tr__plant_tanh_f32(float *y, const float *x, int32_t n);

tr_status tr__plant_tanh_f32(float *y, const float *x, int32_t n)
{
    for (int32_t j = 0; j < n; j++) {
        y[j] = tanhf(x[j]);
    }
    return TR_OK;
}
