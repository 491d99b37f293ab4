/* Many MLPs of one architecture trained at once, full batch: models in SIMD lanes.
 *
 * Eight models (sixteen with AVX-512) share a vector: lane k of every number belongs
 * to model k of the group. A group's parameters are stored lane-interleaved, layer by
 * layer (W as out x in, then b), each entry a vector; the optimizer states likewise.
 * Every model sees the same rows, so a row's features are broadcast to all lanes, the
 * network's activations for a block of rows stay in L1, and the gradients are summed
 * over the rows (full batch: the weights do not move within an epoch); then each lane
 * takes its own step with its own lr, momentum and weight decay. The formulas are
 * train.c's (forward, hand-derived backward, BCEWithLogits / CrossEntropy as the mean
 * over rows, torch.optim's SGD, Adam and AdamW), so each lane trains as its model
 * would alone, to float rounding (the sums run in another order).
 *
 * The vectors and their exp and log are lanes.h's; GELU's erf is libm's, lane by lane
 * (exact but slower).
 */
#include <math.h>
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

void run_parallel(void *(*fn)(void *), void *items, size_t size, int count); /* parallel.c */

/* Sixteen models a vector where the CPU has AVX-512 (fast.py passes MANY_AVX512 after
 * reading /proc/cpuinfo; this file alone is built for it): 1.4x the model-epochs per
 * second of eight with AVX2 on the 2-8-8-1 moons job, measured. Eight otherwise: wider
 * vectors without AVX-512 go through memory (4x slower, measured). */
#if defined(MANY_AVX512) && defined(__clang__)
#pragma clang attribute push (__attribute__((target("avx512f"))), apply_to = function)
#define LANES 16
#elif defined(MANY_AVX512)
#pragma GCC target("avx512f")
#define LANES 16
#else
#define LANES 8
#endif
#include "lanes.h"

/* the kernel codes of the registry entries, as train.c */
enum { ACT_IDENTITY = 0, ACT_RELU = 1, ACT_TANH = 2, ACT_SIGMOID = 3, ACT_LEAKY = 4,
       ACT_GELU = 5, ACT_MANUAL_TANH = 6 };
enum { OPT_SGD = 0, OPT_ADAM = 1, OPT_ADAMW = 2 };

/* the activation of layer outputs z into h */
static void activate(int act, const vf *z, vf *h, int count) {
    int j;
    switch (act) {
    case ACT_RELU: for (j = 0; j < count; j++) h[j] = vsel(z[j] > 0.0f, z[j], splat(0)); break;
    case ACT_LEAKY: for (j = 0; j < count; j++) h[j] = vsel(z[j] > 0.0f, z[j], 0.01f * z[j]);
        break;
    case ACT_SIGMOID: for (j = 0; j < count; j++) h[j] = 1.0f / (1.0f + v_exp(-z[j])); break;
    case ACT_TANH: case ACT_MANUAL_TANH: /* sign(x) -expm1(t) / (1 + e^t), t = -2|x| */
        for (j = 0; j < count; j++) {
            vf x = z[j], em1, e;
            v_expm1_exp(-2.0f * vabs(x), &em1, &e);
            vf a = -em1 / (1.0f + e);
            h[j] = vsel(x < 0.0f, -a, vsel(x > 0.0f, a, x));
        }
        break;
    case ACT_GELU:
        for (j = 0; j < count; j++)
            for (int k = 0; k < LANES; k++)
                h[j][k] = (float)(0.5 * z[j][k] * (1.0 + erf(z[j][k] / sqrt(2.0))));
        break;
    default: memcpy(h, z, sizeof(vf) * (size_t)count);
    }
}

/* d *= d h / d z, from z and h */
static void activation_grad(int act, const vf *z, const vf *h, vf *d, int count) {
    int j;
    switch (act) {
    case ACT_RELU: for (j = 0; j < count; j++) d[j] = vsel(z[j] > 0.0f, d[j], splat(0)); break;
    case ACT_LEAKY: for (j = 0; j < count; j++) d[j] = vsel(z[j] > 0.0f, d[j], 0.01f * d[j]);
        break;
    case ACT_SIGMOID: for (j = 0; j < count; j++) d[j] = d[j] * (h[j] * (1.0f - h[j])); break;
    case ACT_TANH: for (j = 0; j < count; j++) d[j] = d[j] * (1.0f - h[j] * h[j]); break;
    case ACT_MANUAL_TANH: /* autograd's derivative of the formula, as train.c */
        for (j = 0; j < count; j++) {
            vf x = z[j], em1, e;
            v_expm1_exp(-2.0f * vabs(x), &em1, &e);
            vf dd = 1.0f + e;
            vf g = 2.0f * ((em1 + 1.0f) / dd - em1 * e / (dd * dd));
            d[j] = d[j] * vsel(x == 0.0f, splat(0.0f), g);
        }
        break;
    case ACT_GELU:
        for (j = 0; j < count; j++)
            for (int k = 0; k < LANES; k++) {
                double x = z[j][k];
                double cdf = 0.5 * (1.0 + erf(x / sqrt(2.0)));
                double pdf = exp(-0.5 * x * x) / 2.5066282746310002; /* sqrt(2 pi) */
                d[j][k] *= (float)(cdf + x * pdf);
            }
        break;
    default: break;
    }
}

typedef struct {  /* what every group shares */
    int n, d, n_layers, act, binary, opt, epochs, update, n_groups;
    const float *X;
    const int64_t *y;
    const int *sizes;
    int n_params, max_width, hidden_total;
    vf *params, *s1, *s2;                  /* n_groups x n_params vectors each */
    const double *lr, *momentum, *wd;      /* one per lane */
    int first_step;
    double step;
    float *loss_out, *acc_out;             /* epochs x (n_groups * LANES) */
} Job;

typedef struct {  /* one thread's groups and buffers */
    const Job *job;
    int first, last, ok;
} Part;

/* per-lane Adam/SGD step of `count` parameters, as optimizer_step in train.c */
static void update(const Job *job, int g, vf *p, const vf *grad, vf *s1, vf *s2, int count,
                   int first, double step) {
    const double *lr = job->lr + (size_t)g * LANES, *mo = job->momentum + (size_t)g * LANES,
                 *wd = job->wd + (size_t)g * LANES;
    vf vlr, vmo, vwd, size, decay, bc2;
    vi has_mo;
    for (int k = 0; k < LANES; k++) {
        vlr[k] = (float)lr[k];
        vmo[k] = (float)mo[k];
        vwd[k] = (float)wd[k];
        has_mo[k] = mo[k] != 0.0 ? -1 : 0;
        double bc1 = 1.0 - pow(0.9, step), b2 = 1.0 - pow(0.999, step);
        size[k] = (float)(lr[k] / bc1);
        bc2[k] = (float)sqrt(b2);
        decay[k] = (float)(1.0 - lr[k] * wd[k]);
    }
    if (job->opt == OPT_SGD) {
        for (int i = 0; i < count; i++) {
            vf gr = grad[i] + vwd * p[i];
            vf buf = first ? gr : vmo * s1[i] + gr;
            s1[i] = buf;
            p[i] = p[i] - vlr * vsel(has_mo, buf, gr);
        }
        return;
    }
    for (int i = 0; i < count; i++) {
        vf gr = grad[i];
        if (job->opt == OPT_ADAMW) p[i] = p[i] * decay;
        else gr = gr + vwd * p[i];
        s1[i] = s1[i] + (float)(1.0 - 0.9) * (gr - s1[i]);
        s2[i] = s2[i] * (float)0.999 + (float)(1.0 - 0.999) * gr * gr;
        vf denom;
        for (int k = 0; k < LANES; k++) denom[k] = sqrtf(s2[i][k]);
        denom = denom / bc2 + (float)1e-8;
        p[i] = p[i] - size * (s1[i] / denom);
    }
}

#define R 4  /* rows per block: each weight and gradient is loaded once for R rows */

/* Loss, accuracy and d loss / d logits of the block's rows (valid: how many are real;
 * the others get delta 0 and count for nothing). logit, delta: k x R. */
static void loss_block(const Job *job, const vf *logit, const int64_t *y, int valid, vf *delta,
                       vd *loss_sum, vi *correct) {
    const int n = job->n, k_out = job->sizes[job->n_layers];
    for (int r = 0; r < R; r++) {
        int64_t yr = r < valid ? y[r] : 0;
        vf row_loss;
        if (job->binary) {
            vf z = logit[r], t = splat((float)yr);
            vf ez = v_exp(-vabs(z));  /* in (0, 1]: never overflows */
            row_loss = vsel(z > 0.0f, z, splat(0.0f)) - z * t + v_log(1.0f + ez);
            vf p = vsel(z >= 0.0f, splat(1.0f), ez) / (1.0f + ez);
            delta[r] = (p - t) / (float)n;
            if (r < valid) *correct -= (z > 0.0f) == (yr == 1 ? -1 : 0);
        } else {
            vf m = logit[r];
            vi arg = {0};
            for (int c = 1; c < k_out; c++) {
                vi more = logit[c * R + r] > m;
                m = vsel(more, logit[c * R + r], m);
                arg = (more & c) | (~more & arg);
            }
            vf total = splat(0.0f);
            for (int c = 0; c < k_out; c++) {
                delta[c * R + r] = v_exp(logit[c * R + r] - m);
                total = total + delta[c * R + r];
            }
            row_loss = v_log(total) + m - logit[yr * R + r];
            for (int c = 0; c < k_out; c++)
                delta[c * R + r] = (delta[c * R + r] / total - (c == yr ? 1.0f : 0.0f))
                                   / (float)n;
            if (r < valid) *correct -= arg == (int)yr;
        }
        if (r >= valid) {
            for (int c = 0; c < k_out; c++) delta[c * R + r] = splat(0.0f);
            continue;
        }
        *loss_sum += __builtin_convertvector(row_loss, vd);
    }
}

/* One epoch of group g: forward and backward over every row, R rows at a time, then
 * (if job->update) the step; the lanes' mean losses and accuracies into loss, acc.
 * A block's activations are unit-major: entry o * R + r is unit o of row r. */
static void epoch(const Job *job, int g, vf *grad, vf *act_buf, vf *delta, vf *delta2,
                  float *loss, float *acc, int first, double step) {
    const int L = job->n_layers, *sizes = job->sizes, n = job->n, d = job->d;
    const int act = job->act;
    vf *P = job->params + (size_t)g * job->n_params;
    vf *W[64], *B[64], *GW[64], *GB[64], *Z[65], *H[65];
    vf *pp = P, *gg = grad, *ab = act_buf;
    for (int l = 0; l < L; l++) {
        W[l] = pp; GW[l] = gg;
        pp += sizes[l] * sizes[l + 1]; gg += sizes[l] * sizes[l + 1];
        B[l] = pp; GB[l] = gg;
        pp += sizes[l + 1]; gg += sizes[l + 1];
    }
    H[0] = ab; ab += d * R;
    for (int l = 1; l <= L; l++) {
        Z[l] = ab; ab += sizes[l] * R;
        H[l] = l < L ? ab : Z[l];
        if (l < L) ab += sizes[l] * R;
    }
    if (job->update) memset(grad, 0, sizeof(vf) * (size_t)job->n_params);
    vd loss_sum = {0};
    vi correct = {0};
    for (int r0 = 0; r0 < n; r0 += R) {
        int valid = n - r0 < R ? n - r0 : R;
        for (int r = 0; r < R; r++) {  /* the rows, broadcast; past the end, the last */
            const float *x = job->X + (size_t)(r < valid ? r0 + r : n - 1) * d;
            for (int i = 0; i < d; i++) H[0][i * R + r] = splat(x[i]);
        }
        for (int l = 0; l < L; l++) {  /* z[o] = b[o] + sum_i W[o, i] h[i] */
            int in = sizes[l], out = sizes[l + 1];
            const vf *h = H[l];
            vf *z = Z[l + 1];
            for (int o = 0; o < out; o++) {
                const vf *wo = W[l] + (size_t)o * in;
                vf a0 = B[l][o], a1 = a0, a2 = a0, a3 = a0;
                for (int i = 0; i < in; i++) {
                    vf w = wo[i];
                    const vf *hi = h + i * R;
                    a0 = a0 + w * hi[0]; a1 = a1 + w * hi[1];
                    a2 = a2 + w * hi[2]; a3 = a3 + w * hi[3];
                }
                z[o * R] = a0; z[o * R + 1] = a1; z[o * R + 2] = a2; z[o * R + 3] = a3;
            }
            if (l < L - 1) activate(act, z, H[l + 1], out * R);
        }
        loss_block(job, Z[L], job->y + r0, valid, delta, &loss_sum, &correct);
        if (!job->update) continue;
        vf *dl = delta, *dp = delta2;
        for (int l = L - 1; l >= 0; l--) {  /* gradients, then the layer below's delta */
            int in = sizes[l], out = sizes[l + 1];
            const vf *h = H[l], *w = W[l];
            for (int o = 0; o < out; o++) {
                const vf *dv = dl + o * R;
                vf d0 = dv[0], d1 = dv[1], d2 = dv[2], d3 = dv[3];
                vf *go = GW[l] + (size_t)o * in;
                GB[l][o] = GB[l][o] + d0 + d1 + d2 + d3;
                for (int i = 0; i < in; i++) {
                    const vf *hi = h + i * R;
                    go[i] = go[i] + d0 * hi[0] + d1 * hi[1] + d2 * hi[2] + d3 * hi[3];
                }
            }
            if (l == 0) break;
            for (int i = 0; i < in; i++) {
                vf a0 = w[i] * dl[0], a1 = w[i] * dl[1], a2 = w[i] * dl[2], a3 = w[i] * dl[3];
                for (int o = 1; o < out; o++) {
                    vf wv = w[(size_t)o * in + i];
                    const vf *dv = dl + o * R;
                    a0 = a0 + wv * dv[0]; a1 = a1 + wv * dv[1];
                    a2 = a2 + wv * dv[2]; a3 = a3 + wv * dv[3];
                }
                dp[i * R] = a0; dp[i * R + 1] = a1; dp[i * R + 2] = a2; dp[i * R + 3] = a3;
            }
            activation_grad(act, Z[l], H[l], dp, in * R);
            vf *swap = dl; dl = dp; dp = swap;
        }
    }
    for (int k = 0; k < LANES; k++) {
        loss[k] = (float)(loss_sum[k] / n);
        acc[k] = (float)correct[k] / (float)n;
    }
    if (!job->update) return;
    vf *S1 = job->s1 + (size_t)g * job->n_params;
    vf *S2 = job->s2 ? job->s2 + (size_t)g * job->n_params : NULL;
    update(job, g, P, grad, S1, S2, job->n_params, first, step);
}

static void *run_part(void *arg) {
    Part *part = arg;
    const Job *job = part->job;
    int width = (job->d + 2 * job->hidden_total + job->sizes[job->n_layers]) * R;
    vf *grad = malloc(sizeof(vf) * (size_t)(job->n_params ? job->n_params : 1));
    vf *act_buf = malloc(sizeof(vf) * (size_t)width);
    vf *delta = malloc(sizeof(vf) * (size_t)job->max_width * R);
    vf *delta2 = malloc(sizeof(vf) * (size_t)job->max_width * R);
    part->ok = grad && act_buf && delta && delta2;
    size_t cols = (size_t)job->n_groups * LANES;
    for (int g = part->first; part->ok && g < part->last; g++)
        for (int e = 0; e < job->epochs; e++)
            epoch(job, g, grad, act_buf, delta, delta2,
                  job->loss_out + e * cols + (size_t)g * LANES,
                  job->acc_out + e * cols + (size_t)g * LANES,
                  job->first_step && e == 0, job->step + e + 1);
    free(grad); free(act_buf); free(delta); free(delta2);
    return NULL;
}

/* Train n_groups groups of LANES models for `epochs` full-batch epochs (update 1), or
 * evaluate them once (update 0, epochs 1: loss and accuracy, nothing changed).
 * X: n x d row-major, y: class per row. sizes: n_layers + 1 entries. params, s1, s2:
 * n_groups x n_params x LANES floats (the layout above; s2 NULL for SGD). lr, momentum,
 * wd: n_groups x LANES. first_step: the SGD momentum buffers are new. step: Adam's step
 * count before this call. loss_out, acc_out: epochs x (n_groups x LANES), the loss and
 * accuracy of the forward pass before each step, as train_mlp gives them. The groups
 * are split over `threads` threads. Returns 0, or -1 if memory ran out. */
int train_many_mlp(int n, const float *X, const int64_t *y, int n_layers, const int *sizes,
                   int act, int binary, int opt, int n_groups, float *params, float *s1,
                   float *s2, const double *lr, const double *momentum, const double *wd,
                   int first_step, double step, int epochs, int update, float *loss_out,
                   float *acc_out, int threads) {
    if (n_layers < 1 || n_layers > 64 || n_groups < 1) return -1;
    Job job = {n, sizes[0], n_layers, act, binary, opt, epochs, update, n_groups, X, y, sizes,
               0, 0, 0, (vf *)params, (vf *)s1, (vf *)s2, lr, momentum, wd, first_step, step,
               loss_out, acc_out};
    for (int l = 0; l < n_layers; l++) job.n_params += sizes[l] * sizes[l + 1] + sizes[l + 1];
    for (int l = 0; l <= n_layers; l++) if (sizes[l] > job.max_width) job.max_width = sizes[l];
    for (int l = 1; l < n_layers; l++) job.hidden_total += sizes[l];
    if (threads > n_groups) threads = n_groups;
    if (threads < 1) threads = 1;
    Part parts[64];
    threads = threads > 64 ? 64 : threads;
    for (int t = 0; t < threads; t++) {
        parts[t].job = &job;
        parts[t].first = (int)((int64_t)n_groups * t / threads);
        parts[t].last = (int)((int64_t)n_groups * (t + 1) / threads);
        parts[t].ok = 1;
    }
    run_parallel(run_part, parts, sizeof parts[0], threads);
    int ok = 1;
    for (int t = 0; t < threads; t++) ok = ok && parts[t].ok;
    return ok ? 0 : -1;
}

/* models per vector: the group size train_many_mlp's arrays are laid out in */
int many_lanes(void) { return LANES; }
#if defined(MANY_AVX512) && defined(__clang__)
#pragma clang attribute pop
#endif
