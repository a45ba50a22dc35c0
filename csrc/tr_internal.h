/*
 * tr_internal.h - helpers shared by the kernel sources; not part of the public API.
 * Private names carry the double prefix tr__.
 */
#ifndef TR_INTERNAL_H
#define TR_INTERNAL_H

#include <stdint.h>

#include "tinyreptile.h"

/* Returns 1 and stores a*b in *out when a >= 0, b >= 0 and a*b <= INT32_MAX; else 0. */
static inline int tr__mul_ok(int32_t *out, int32_t a, int32_t b)
{
    if (a < 0 || b < 0) {
        return 0;
    }
    if (a != 0 && b > INT32_MAX / a) {
        return 0;
    }
    *out = a * b;
    return 1;
}

/* Returns 1 and stores a*b*c in *out when all are >= 0 and every partial product fits. */
static inline int tr__mul3_ok(int32_t *out, int32_t a, int32_t b, int32_t c)
{
    int32_t ab;
    return tr__mul_ok(&ab, a, b) && tr__mul_ok(out, ab, c);
}

#endif /* TR_INTERNAL_H */
