/* Inference for small MLPs: class probabilities for many rows (a boundary grid is a
 * million), as fast as this machine's SIMD units allow.
 *
 * Rows go through in tiles of TILE. A tile is transposed to feature-major
 * (width x TILE), so each unit's TILE pre-activations live in VECS SIMD registers while
 * its inputs stream past; two units are computed at once so each loaded input feeds two
 * multiply-adds, and the activation is applied before the registers are stored. A short
 * last tile is zero-padded, so every loop has a fixed length.
 *
 * Everything is written on explicit vectors (GCC/Clang vector extensions, 8 floats with
 * AVX, else 4) rather than left to the auto-vectoriser, which keeps selects and floorf
 * scalar under C's default trapping-math rules. exp, sigmoid and tanh are Cephes' float
 * polynomials (about 1 ulp), so results differ from torch's by float rounding only.
 * Linear: z = h W^T + b (W is out x in, row-major, as nn.Linear stores it).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void run_parallel(void *(*fn)(void *), void *items, size_t size, int count); /* parallel.c */

#if defined(__AVX__)
#define VECTOR_BYTES 32   /* AVX: 8 floats a register */
#else
#define VECTOR_BYTES 16   /* SSE2, NEON: 4 (wider vectors would spill through memory) */
#endif
typedef float vf __attribute__((vector_size(VECTOR_BYTES)));
typedef int vi __attribute__((vector_size(VECTOR_BYTES)));
/* VECS registers per unit in a tile: two units' accumulators (2 x VECS) and their
 * operands fit in the 16 registers of SSE and AVX */
enum { LANES = VECTOR_BYTES / 4, VECS = 4, TILE = LANES * VECS, MAX_THREADS = 64 };
/* the kernel codes of the activation registry (torchclf/activations.py), as in train.c */
enum { ACT_IDENTITY = 0, ACT_RELU = 1, ACT_TANH = 2, ACT_SIGMOID = 3, ACT_LEAKY = 4,
       ACT_GELU = 5, ACT_MANUAL_TANH = 6 };

static inline vf splat(float x) { return (vf){0} + x; }

/* lane-wise mask ? yes : no (mask lanes are all ones or all zeros) */
static inline vf select(vi mask, vf yes, vf no) {
    return (vf)(((vi)yes & mask) | ((vi)no & ~mask));
}

/* exp(x) for x <= 0: Cephes' expf, range reduction and a degree-5 polynomial */
static inline vf exp_nonpositive(vf x) {
    x = select(x < -87.0f, splat(-87.0f), x);
    vf t = x * 1.44269504088896341f + 0.5f;
    vi j = __builtin_convertvector(t, vi);           /* truncates towards zero ... */
    j += __builtin_convertvector(j, vf) > t;          /* ... so step down to floor(t) */
    vf z = __builtin_convertvector(j, vf);
    x = x - z * 0.693359375f - z * -2.12194440e-4f;
    vf y = ((((x * 1.9875691500E-4f + 1.3981999507E-3f) * x + 8.3334519073E-3f) * x
             + 4.1665795894E-2f) * x + 1.6666665459E-1f) * x + 5.0000001201E-1f;
    y = y * x * x + x + 1.0f;
    return y * (vf)((j + 127) << 23);
}

static inline vf vabs(vf x) { return (vf)((vi)x & 0x7fffffff); }

/* 1 / (1 + exp(-z)), without overflow for any z */
static inline vf sigmoid(vf z) {
    vf e = exp_nonpositive(-vabs(z));
    vf inv = 1.0f / (1.0f + e);
    return select(z >= 0.0f, inv, e * inv);
}

/* Cephes' tanhf: an odd polynomial near 0 (where the exp form loses digits), else
 * 1 - 2 / (exp(2|z|) + 1) written with exp(-2|z|) so nothing overflows */
static inline vf tanh_v(vf z) {
    vf a = vabs(z), s = z * z;
    vf near = ((((s * -5.70498872745E-3f + 2.06390887954E-2f) * s - 5.37397155531E-2f) * s
                + 1.33314422036E-1f) * s - 3.33332819422E-1f) * s * z + z;
    vf e = exp_nonpositive(-2.0f * a);
    vf far = (1.0f - e) / (1.0f + e);
    far = (vf)((vi)far | ((vi)z & ~0x7fffffff));   /* with the sign of z */
    return select(a < 0.625f, near, far);
}

static inline vf activate(int act, vf z) {
    switch (act) {
    /* z < 0 rather than z > 0, so that nan stays nan as in torch */
    case ACT_RELU: return select(z < 0.0f, splat(0.0f), z);
    case ACT_TANH: return tanh_v(z);
    case ACT_SIGMOID: return sigmoid(z);
    case ACT_LEAKY: return select(z < 0.0f, z * 0.01f, z);
    case ACT_GELU: {
        for (int j = 0; j < LANES; j++) z[j] = (float)(0.5 * z[j] * (1.0 + erf(z[j] / sqrt(2.0))));
        return z;
    }
    case ACT_MANUAL_TANH: /* the lesson's formula itself, not tanh_v: the model's function */
        for (int j = 0; j < LANES; j++) {
            float t = -2.0f * fabsf(z[j]);
            z[j] = copysignf(-expm1f(t) / (1.0f + expf(t)), z[j]);
        }
        return z;
    default: return z;
    }
}

/* z (out x TILE) = act(W (out x in) . h (in x TILE) + b); act < 0: no activation */
static void dense_tile(int in, int out, const float *w, const float *bias, const vf *h,
                       vf *z, int act) {
    int o = 0;
    for (; o + 2 <= out; o += 2) {
        const float *w0 = w + (size_t)o * in, *w1 = w0 + in;
        vf acc0[VECS], acc1[VECS];
        for (int v = 0; v < VECS; v++) { acc0[v] = splat(bias[o]); acc1[v] = splat(bias[o + 1]); }
        for (int i = 0; i < in; i++) {
            vf a = splat(w0[i]), b = splat(w1[i]);
            for (int v = 0; v < VECS; v++) {
                vf x = h[i * VECS + v];
                acc0[v] += a * x;
                acc1[v] += b * x;
            }
        }
        for (int v = 0; v < VECS; v++) {
            z[o * VECS + v] = act < 0 ? acc0[v] : activate(act, acc0[v]);
            z[(o + 1) * VECS + v] = act < 0 ? acc1[v] : activate(act, acc1[v]);
        }
    }
    if (o < out) {
        const float *w0 = w + (size_t)o * in;
        vf acc[VECS];
        for (int v = 0; v < VECS; v++) acc[v] = splat(bias[o]);
        for (int i = 0; i < in; i++) {
            vf a = splat(w0[i]);
            for (int v = 0; v < VECS; v++) acc[v] += a * h[i * VECS + v];
        }
        for (int v = 0; v < VECS; v++) z[o * VECS + v] = act < 0 ? acc[v] : activate(act, acc[v]);
    }
}

/* rows [0, m) of row-major x (m x in, m <= TILE) into feature-major t (in x TILE) */
static void transpose_in(const float *x, int m, int in, float *t) {
    if (m < TILE) memset(t, 0, sizeof(float) * TILE * (size_t)in);
    if (in == 2) {
        for (int r = 0; r < m; r++) { t[r] = x[2 * r]; t[TILE + r] = x[2 * r + 1]; }
        return;
    }
    for (int r = 0; r < m; r++)
        for (int i = 0; i < in; i++) t[i * TILE + r] = x[(size_t)r * in + i];
}

/* the k x TILE logits in z -> probabilities of rows [0, m) into p (m x max(k, 2)) */
static void probabilities_out(vf *z, int k, int m, float *p) {
    if (k == 1) {   /* one logit: (1 - sigmoid, sigmoid) */
        vf s[VECS];
        for (int v = 0; v < VECS; v++) s[v] = sigmoid(z[v]);
        const float *f = (const float *)s;
        for (int r = 0; r < m; r++) { p[2 * r] = 1.0f - f[r]; p[2 * r + 1] = f[r]; }
        return;
    }
    for (int v = 0; v < VECS; v++) {   /* softmax over the k classes, lane by lane */
        vf mx = z[v];
        for (int c = 1; c < k; c++) mx = select(z[c * VECS + v] > mx, z[c * VECS + v], mx);
        vf total = splat(0.0f);
        for (int c = 0; c < k; c++) {
            z[c * VECS + v] = exp_nonpositive(z[c * VECS + v] - mx);
            total += z[c * VECS + v];
        }
        vf inv = 1.0f / total;
        for (int c = 0; c < k; c++) z[c * VECS + v] *= inv;
    }
    const float *f = (const float *)z;
    for (int r = 0; r < m; r++)
        for (int c = 0; c < k; c++) p[(size_t)r * k + c] = f[c * TILE + r];
}

/* Probabilities for rows [0, n) of X (row-major n x in) into P (n x max(K, 2)).
 * Returns 0, or -1 if memory ran out. */
static int predict_rows(int n, const float *X, int n_layers, const int *sizes, int act,
                        float *const *W, float *const *B, float *P) {
    int max_width = 0;
    for (int l = 0; l <= n_layers; l++) if (sizes[l] > max_width) max_width = sizes[l];
    char *raw = malloc(sizeof(vf) * (2 * VECS * (size_t)max_width + 1));
    if (!raw) return -1;
    vf *a = (vf *)(((uintptr_t)raw + sizeof(vf) - 1) & ~(uintptr_t)(sizeof(vf) - 1));
    vf *b = a + VECS * max_width;
    int in0 = sizes[0], k = sizes[n_layers], width = k == 1 ? 2 : k;
    for (int start = 0; start < n; start += TILE) {
        int m = n - start < TILE ? n - start : TILE;
        transpose_in(X + (size_t)start * in0, m, in0, (float *)a);
        for (int l = 0; l < n_layers; l++) {
            dense_tile(sizes[l], sizes[l + 1], W[l], B[l], a, b, l < n_layers - 1 ? act : -1);
            vf *swap = a; a = b; b = swap;
        }
        probabilities_out(a, k, m, P + (size_t)start * width);
    }
    free(raw);
    return 0;
}

struct job {
    int n, n_layers, act, code;
    const float *X;
    const int *sizes;
    float *const *W, *const *B;
    float *P;
};

static void *run_job(void *arg) {
    struct job *j = arg;
    j->code = predict_rows(j->n, j->X, j->n_layers, j->sizes, j->act, j->W, j->B, j->P);
    return NULL;
}

/* Class probabilities for rows [0, n) of X (row-major n x in) written to P
 * (n x max(K, 2)); a binary model's one logit becomes (1 - sigmoid, sigmoid). The rows
 * are split into `threads` runs of whole tiles, each on its own thread (the caller's
 * thread takes the first). Returns 0, or -1 if memory ran out. */
int predict_mlp(int n, const float *X, int n_layers, const int *sizes, int act,
                float **W, float **B, float *P, int threads) {
    if (threads > MAX_THREADS) threads = MAX_THREADS;
    if (threads < 1 || n < threads * TILE) threads = 1;
    int width = sizes[n_layers] == 1 ? 2 : sizes[n_layers];
    int64_t tiles = (n + TILE - 1) / TILE;
    struct job jobs[MAX_THREADS];
    for (int t = 0; t < threads; t++) {
        int64_t lo = tiles * t / threads * TILE, hi = tiles * (t + 1) / threads * TILE;
        if (hi > n) hi = n;
        jobs[t] = (struct job){(int)(hi - lo), n_layers, act, 0, X + lo * sizes[0], sizes,
                               W, B, P + lo * width};
    }
    run_parallel(run_job, jobs, sizeof jobs[0], threads);
    int code = 0;
    for (int t = 0; t < threads; t++)
        if (jobs[t].code) code = jobs[t].code;
    return code;
}
