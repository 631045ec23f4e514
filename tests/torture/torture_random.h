/*
 * torture_random.h - the torture's one source of choices: a seeded
 * generator (splitmix64), so a seed repeats every decision the torture
 * makes. The timing of the processes it drives is not repeated by it.
 */
#ifndef FOGPAY_TORTURE_RANDOM_H
#define FOGPAY_TORTURE_RANDOM_H

#include <stdint.h>

typedef struct torture_random {
    uint64_t state;
} torture_random;

static inline uint64_t torture_random_next(torture_random *r)
{
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, n); 0 when n is 0. */
static inline uint64_t torture_random_below(torture_random *r, uint64_t n)
{
    return n == 0 ? 0 : torture_random_next(r) % n;
}

/* True with probability percent / 100. */
static inline int torture_random_chance(torture_random *r, unsigned percent)
{
    return torture_random_below(r, 100) < percent;
}

#endif
