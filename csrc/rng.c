/* rng.c - counter-based random numbers: every draw a pure function of its coordinates.
 *
 * A stream is named by (seed, stream, device, round), four unsigned 64-bit integers, and
 * hashed into a 64-bit key; draw j of the stream is SplitMix64's output function of
 * key + (j+1)*GAMMA, i.e. the (j+1)-th output of a SplitMix64 generator seeded with the key
 * (Steele, Lea, Flood 2014; the mixing constants are Stafford's variant 13). No state is
 * carried from one draw to the next, so any draw of any device in any round can be computed
 * directly: by the server, by a device for its own data, or by a whole run in one C call.
 * tinyreptile_ref/kernels/rng.py is the NumPy twin (same bits).
 *
 *   F(v)            = mix(v + GAMMA)   mix(z): z ^= z >> 30; z *= M1; z ^= z >> 27; z *= M2;
 *                                              z ^= z >> 31   (all mod 2^64)
 *   key             = F(F(F(F(seed) ^ stream) ^ device) ^ round)
 *   bits(key, j)    = F(key + j*GAMMA)                         (mod 2^64)
 *   uniform(j)      = lo + (hi - lo) * u,  u = (bits >> 40) * 2^-24 in [0, 1), exact;
 *                     two float32 roundings (hi - lo, the product) and the sum: in [lo, hi]
 *   below(j, n)     = ((bits >> 32) * n) >> 32 in [0, n)   (bias below n / 2^32)
 */
#include "tr_internal.h"

#define TR__GAMMA 0x9e3779b97f4a7c15u
#define TR__M1 0xbf58476d1ce4e5b9u
#define TR__M2 0x94d049bb133111ebu

static uint64_t tr__splitmix(uint64_t v)
{
    uint64_t z = v + (uint64_t)TR__GAMMA;
    z = (z ^ (z >> 30)) * (uint64_t)TR__M1;
    z = (z ^ (z >> 27)) * (uint64_t)TR__M2;
    return z ^ (z >> 31);
}

uint64_t tr__rng_bits(uint64_t key, uint64_t j)
{
    return tr__splitmix(key + j * (uint64_t)TR__GAMMA);
}

static int32_t tr__rng_below(uint64_t key, uint64_t j, int32_t n)
{
    return (int32_t)(((tr__rng_bits(key, j) >> 32) * (uint64_t)n) >> 32);
}

tr_status tr_rng_key(uint64_t *key, uint64_t seed, uint64_t stream, uint64_t device,
                     uint64_t round)
{
    if (!key) {
        return TR_ERR_NULL;
    }
    *key = tr__splitmix(tr__splitmix(tr__splitmix(tr__splitmix(seed) ^ stream) ^ device) ^ round);
    return TR_OK;
}

tr_status tr_rng_bits_u64(uint64_t *out, uint64_t key, uint64_t j0, int32_t n)
{
    if (n < 0) {
        return TR_ERR_SHAPE;
    }
    if (n > 0 && !out) {
        return TR_ERR_NULL;
    }
    for (int32_t i = 0; i < n; i++) {
        out[i] = tr__rng_bits(key, j0 + (uint64_t)i);
    }
    return TR_OK;
}

tr_status tr_rng_uniform_f32(float *out, uint64_t key, uint64_t j0, int32_t n, float lo,
                             float hi)
{
    if (n < 0) {
        return TR_ERR_SHAPE;
    }
    if (!(lo <= hi) || (tr__f32_bits(lo) & 0x7fffffffu) >= 0x7f800000u
        || (tr__f32_bits(hi) & 0x7fffffffu) >= 0x7f800000u) {
        return TR_ERR_PARAM;
    }
    if (n > 0 && !out) {
        return TR_ERR_NULL;
    }
    float span = hi - lo;
    for (int32_t i = 0; i < n; i++) {
        float u = (float)(uint32_t)(tr__rng_bits(key, j0 + (uint64_t)i) >> 40) * 0x1p-24f;
        out[i] = lo + span * u;
    }
    return TR_OK;
}

tr_status tr_rng_below_i32(int32_t *out, uint64_t key, uint64_t j0, int32_t n, int32_t bound)
{
    if (n < 0) {
        return TR_ERR_SHAPE;
    }
    if (bound < 1) {
        return TR_ERR_PARAM;
    }
    if (n > 0 && !out) {
        return TR_ERR_NULL;
    }
    for (int32_t i = 0; i < n; i++) {
        out[i] = tr__rng_below(key, j0 + (uint64_t)i, bound);
    }
    return TR_OK;
}

tr_status tr_rng_distinct_i32(int32_t *out, uint64_t *used, uint64_t key, uint64_t j0,
                              int32_t m, int32_t bound)
{
    if (m < 0) {
        return TR_ERR_SHAPE;
    }
    if (bound < 1 || m > bound) {
        return TR_ERR_PARAM;
    }
    if (m > 0 && !out) {
        return TR_ERR_NULL;
    }
    uint64_t j = j0;
    for (int32_t i = 0; i < m; i++) {
        int32_t v;
        int32_t dup;
        do {
            v = tr__rng_below(key, j, bound);
            j++;
            dup = 0;
            for (int32_t q = 0; q < i; q++) {
                dup |= out[q] == v;
            }
        } while (dup);
        out[i] = v;
    }
    if (used) {
        *used = j - j0;
    }
    return TR_OK;
}

tr_status tr_rng_permutation_i32(int32_t *out, uint64_t key, uint64_t j0, int32_t n)
{
    if (n < 0) {
        return TR_ERR_SHAPE;
    }
    if (n > 0 && !out) {
        return TR_ERR_NULL;
    }
    for (int32_t i = 0; i < n; i++) {
        out[i] = i;
    }
    for (int32_t i = n - 1; i >= 1; i--) {
        int32_t q = tr__rng_below(key, j0 + (uint64_t)(n - 1 - i), i + 1);
        int32_t t = out[i];
        out[i] = out[q];
        out[q] = t;
    }
    return TR_OK;
}
