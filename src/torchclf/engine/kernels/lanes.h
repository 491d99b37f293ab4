/* The vectors of many.c's lanes and the math it does on them, lane by lane.
 *
 * GCC/clang vector extensions of LANES floats: AVX-512 or AVX2 where built for them,
 * SSE or scalar code on other CPUs. exp and log are small polynomials (Cephes' expf/logf, about one
 * ulp), since libm has no vector forms C can call portably.
 */
#ifndef TORCHCLF_LANES_H
#define TORCHCLF_LANES_H
#include <math.h>

#ifndef LANES
#error "define LANES, the floats in a vector, first (many.c)"
#endif
/* alignment 4: the arrays come from numpy, and unaligned AVX loads cost nothing extra */
typedef float vf __attribute__((vector_size(4 * LANES), aligned(4)));
typedef int vi __attribute__((vector_size(4 * LANES), aligned(4)));
typedef double vd __attribute__((vector_size(8 * LANES)));

static inline vf splat(float x) {
    vf v;
    for (int k = 0; k < LANES; k++) v[k] = x;
    return v;
}
/* lane by lane: a where mask is set (-1, as comparisons give), else b */
static inline vf vsel(vi mask, vf a, vf b) { return (vf)(((vi)a & mask) | ((vi)b & ~mask)); }
static inline vf vabs(vf x) { return vsel(x < 0.0f, -x, x); }

static inline vf vfloor(vf x) {
    vf t = __builtin_convertvector(__builtin_convertvector(x, vi), vf);
    return vsel(t > x, t - 1.0f, t);
}

/* 2^n for integer-valued n in [-252, 254], in two factors so gradual underflow and
 * overflow to inf happen as in expf */
static inline vf pow2(vf n) {
    vi a = __builtin_convertvector(n, vi), b = a >> 1, c = a - b;
    vi eb = (b + 127) << 23, ec = (c + 127) << 23;
    return (vf)eb * (vf)ec;
}

/* expf: x = n ln2 + r, |r| <= ln2 / 2, Cephes' polynomial; nan stays nan */
static inline __attribute__((always_inline)) vf v_exp(vf x) {
    x = vsel(x > 89.0f, splat(89.0f), vsel(x < -104.0f, splat(-104.0f), x));
    vf n = vfloor(x * 1.44269504088896341f + 0.5f);
    vf r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
    vf p = ((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r
             + 4.1665795894e-2f) * r + 1.6666665459e-1f) * r + 5.0000001201e-1f;
    return (p * (r * r) + r + 1.0f) * pow2(n);
}

/* logf for x >= 1 (every log taken here: 1 + e^-|z|, a softmax sum); nan and inf pass */
static inline __attribute__((always_inline)) vf v_log(vf x) {
    vi bits = (vi)x;
    vf e = __builtin_convertvector(((bits >> 23) & 0xff) - 126, vf);
    vf m = (vf)((bits & 0x007fffff) | 0x3f000000);  /* in [0.5, 1) */
    vi small = m < 0.707106781186547524f;
    e = vsel(small, e - 1.0f, e);
    m = vsel(small, m + m - 1.0f, m - 1.0f);
    vf z = m * m;
    vf p = (((((((7.0376836292e-2f * m + -1.1514610310e-1f) * m + 1.1676998740e-1f) * m
                + -1.2420140846e-1f) * m + 1.4249322787e-1f) * m + -1.6668057665e-1f) * m
             + 2.0000714765e-1f) * m + -2.4999993993e-1f) * m + 3.3333331174e-1f;
    vf y = (p * m * z + e * -2.12194440e-4f) - 0.5f * z;
    return vsel((x == x) & (x < INFINITY), m + y + e * 0.693359375f, x);
}

/* expm1(t) and exp(t) for t <= 0: Taylor series near 0, where exp(t) - 1 cancels */
static inline void v_expm1_exp(vf t, vf *em1, vf *e) {
    *e = v_exp(t);
    vf p = (((((t * (1.0f / 40320.0f) + 1.0f / 5040.0f) * t + 1.0f / 720.0f) * t
              + 1.0f / 120.0f) * t + 1.0f / 24.0f) * t + 1.0f / 6.0f) * t + 0.5f;
    *em1 = vsel(t > -0.35f, p * (t * t) + t, *e - 1.0f);
}

#endif
