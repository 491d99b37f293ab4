/* The matrix products of training small MLPs, feature-major (width x rows), in
 * register blocks: a layer's outputs (affine), the gradient of its weights
 * (weight_grad) and the sum of a row of deltas (row_sum). Used by train.c.
 */
#include <math.h>
#include <string.h>

/* Eight floats as one value: AVX registers where the CPU has them; the compiler splits
 * them into narrower SIMD (or scalars) elsewhere. The products summed by the layers'
 * matrix products are fused multiply-adds where the CPU has FMA (as in torch's own
 * matrix products), in vectors and scalar tails alike, so a row's result does not depend
 * on where in a step it falls; everything else (losses, updates) rounds as torch does. */
typedef float vf __attribute__((vector_size(32)));
#define VL 8
#ifdef __FMA__
#define VMADD(a, b, c) __builtin_ia32_vfmaddps256((a), (b), (c))
#define MADD(a, b, c) fmaf((a), (b), (c))
#else
#define VMADD(a, b, c) ((a) * (b) + (c))
#define MADD(a, b, c) ((a) * (b) + (c))
#endif
#define ROWS (2 * VL) /* rows per register block */
#define OUTS 4        /* outputs per register block */

static inline vf vload(const float *p) { vf v; memcpy(&v, p, sizeof v); return v; }
static inline void vstore(float *p, vf v) { memcpy(p, &v, sizeof v); }

/* OB outputs of a layer over n rows, feature-major: Z[o, r] = b[o] + sum_i w(o, i) H[i, r]
 * in the order i = 0, 1, ... (b = 0 when NULL), where w(o, i) = W[o * so + i * si].
 * Each block of OB outputs x 16 rows stays in registers while the inputs stream by. */
static inline void affine_block(int OB, const float *W, int so, int si, const float *b,
                                const float *H, float *Z, int in, int n, int o) {
    int r = 0;
    for (; r + ROWS <= n; r += ROWS) {
        vf a0[OUTS], a1[OUTS];
        for (int k = 0; k < OB; k++) {
            a0[k] = (vf){0} + (b ? b[o + k] : 0.0f);
            a1[k] = a0[k];
        }
        for (int i = 0; i < in; i++) {
            vf h0 = vload(H + (size_t)i * n + r), h1 = vload(H + (size_t)i * n + r + VL);
            for (int k = 0; k < OB; k++) {
                vf w = (vf){0} + W[(size_t)(o + k) * so + (size_t)i * si];
                a0[k] = VMADD(w, h0, a0[k]);
                a1[k] = VMADD(w, h1, a1[k]);
            }
        }
        for (int k = 0; k < OB; k++) {
            vstore(Z + (size_t)(o + k) * n + r, a0[k]);
            vstore(Z + (size_t)(o + k) * n + r + VL, a1[k]);
        }
    }
    for (; r < n; r++)
        for (int k = 0; k < OB; k++) {
            float z = b ? b[o + k] : 0.0f;
            for (int i = 0; i < in; i++)
                z = MADD(W[(size_t)(o + k) * so + (size_t)i * si], H[(size_t)i * n + r], z);
            Z[(size_t)(o + k) * n + r] = z;
        }
}

void mlp_affine(const float *W, int so, int si, const float *b, const float *H, float *Z,
                   int in, int out, int n) {
    int o = 0;
    for (; o + OUTS <= out; o += OUTS) affine_block(OUTS, W, so, si, b, H, Z, in, n, o);
    for (; o < out; o++) affine_block(1, W, so, si, b, H, Z, in, n, o);
}

/* the eight lanes' partial sums, then the tail: one order for every entry */
static inline float lanes_sum(vf acc, float tail) {
    float s = tail;
    for (int j = 0; j < VL; j++) s += acc[j];
    return s;
}

/* G[o, i] = sum_r D[o, r] H[i, r] for IB inputs of OB outputs: eight running partial
 * sums per entry (lane j sums rows j, j + 8, ...), the rows past the last full vector
 * summed apart; OB x IB accumulators in registers. */
static inline void outer_block(int OB, int IB, const float *D, const float *H, float *G,
                               int in, int n, int o, int i) {
    vf acc[OUTS][2];
    for (int k = 0; k < OB; k++)
        for (int j = 0; j < IB; j++) acc[k][j] = (vf){0};
    int r = 0;
    for (; r + VL <= n; r += VL) {
        vf h[2];
        for (int j = 0; j < IB; j++) h[j] = vload(H + (size_t)(i + j) * n + r);
        for (int k = 0; k < OB; k++) {
            vf d = vload(D + (size_t)(o + k) * n + r);
            for (int j = 0; j < IB; j++) acc[k][j] = VMADD(d, h[j], acc[k][j]);
        }
    }
    for (int k = 0; k < OB; k++)
        for (int j = 0; j < IB; j++) {
            float tail = 0.0f;
            for (int t = r; t < n; t++)
                tail = MADD(D[(size_t)(o + k) * n + t], H[(size_t)(i + j) * n + t], tail);
            G[(size_t)(o + k) * in + i + j] = lanes_sum(acc[k][j], tail);
        }
}

/* the weight gradient of a layer: G (out x in) = D (out x n) H^T (n x in) */
void mlp_weight_grad(const float *D, const float *H, float *G, int in, int out, int n) {
    int o = 0;
    for (; o + OUTS <= out; o += OUTS) {
        int i = 0;
        for (; i + 2 <= in; i += 2) outer_block(OUTS, 2, D, H, G, in, n, o, i);
        for (; i < in; i++) outer_block(OUTS, 1, D, H, G, in, n, o, i);
    }
    for (; o < out; o++) {
        int i = 0;
        for (; i + 2 <= in; i += 2) outer_block(1, 2, D, H, G, in, n, o, i);
        for (; i < in; i++) outer_block(1, 1, D, H, G, in, n, o, i);
    }
}

float mlp_row_sum(const float *a, int n) {
    float acc[8] = {0};
    int r = 0;
    for (; r + 8 <= n; r += 8)
        for (int j = 0; j < 8; j++) acc[j] += a[r + j];
    float s = 0.0f;
    for (; r < n; r++) s += a[r];
    for (int j = 0; j < 8; j++) s += acc[j];
    return s;
}
