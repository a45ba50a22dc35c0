/* A consumer of the tinyreptile package: one dense layer forward and an SGD step, each
 * result compared with its exact value (all operands and results are small integers or
 * binary fractions, so every float operation is exact). Exit status 0 only if all hold. */
#include <stdio.h>

#include "tinyreptile.h"

int main(void)
{
    const float x[3] = {1.0f, 2.0f, 3.0f};            /* [B=1][I=3] */
    const float w[6] = {1.0f, 0.5f, -1.0f,            /* [O=2][I=3] */
                        2.0f, 0.0f, 0.25f};
    const float bias[2] = {0.5f, -4.0f};
    float y[2];                                       /* [1][2] */
    float theta[2] = {1.0f, -2.0f};
    const float grad[2] = {4.0f, 8.0f};
    int bad = 0;

    tr_status s = tr_dense_forward_f32(y, x, w, bias, 1, 3, 2);
    if (s != TR_OK) {
        printf("tr_dense_forward_f32: %s\n", tr_status_str(s));
        return 1;
    }
    bad += y[0] != -0.5f; /* 0.5 + 1 + 1 - 3 */
    bad += y[1] != -1.25f; /* -4 + 2 + 0 + 0.75 */
    s = tr_sgd_step_f32(theta, grad, 0.25f, 2);
    if (s != TR_OK) {
        printf("tr_sgd_step_f32: %s\n", tr_status_str(s));
        return 1;
    }
    bad += theta[0] != 0.0f || theta[1] != -4.0f;
    printf("consumer: y = [%g, %g], theta = [%g, %g]: %s\n", (double)y[0], (double)y[1],
           (double)theta[0], (double)theta[1], bad ? "WRONG" : "ok");
    return bad != 0;
}
