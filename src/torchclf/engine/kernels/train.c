/* Full-batch training of small MLPs: forward, hand-derived backward, optimizer step.
 *
 * For the lesson's models (a few thousand rows, widths of 8 to 64) PyTorch spends
 * almost all its time dispatching tiny operations; this file does the same arithmetic
 * in plain loops. It mirrors torch exactly in what it computes:
 *   Linear: z = h W^T + b (W is out x in, row-major, as nn.Linear stores it)
 *   loss:   BCEWithLogitsLoss (1 logit) or CrossEntropyLoss (K logits), mean over rows
 *   SGD:    g += wd * p; buf = g (first step) or momentum * buf + g; p -= lr * buf
 *   Adam:   torch.optim.Adam / AdamW single-tensor update, same formula and order
 * Loss and accuracy are those of the forward pass before each step, as in fit().
 * Accumulations are in double, so results agree with torch to float32 rounding.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* the kernel codes of the registry entries (torchclf/activations.py, optimizers.py) */
enum { ACT_IDENTITY = 0, ACT_RELU = 1, ACT_TANH = 2, ACT_SIGMOID = 3, ACT_LEAKY = 4,
       ACT_GELU = 5, ACT_MANUAL_TANH = 6 };
enum { OPT_SGD = 0, OPT_ADAM = 1, OPT_ADAMW = 2 };

static float act_forward(int act, float z) {
    switch (act) {
    case ACT_RELU: return z > 0.0f ? z : 0.0f;
    case ACT_TANH: return tanhf(z);
    case ACT_SIGMOID: return 1.0f / (1.0f + expf(-z));
    case ACT_LEAKY: return z > 0.0f ? z : 0.01f * z;
    case ACT_GELU: return (float)(0.5 * z * (1.0 + erf(z / sqrt(2.0))));
    case ACT_MANUAL_TANH: { /* the lesson's formula, as torchclf.activations.manual_tanh */
        float t = -2.0f * fabsf(z);
        return copysignf(-expm1f(t) / (1.0f + expf(t)), z);
    }
    default: return z;
    }
}

/* d activation / dz, from the pre-activation z and the output h */
static float act_grad(int act, float z, float h) {
    switch (act) {
    case ACT_RELU: return z > 0.0f ? 1.0f : 0.0f;
    case ACT_TANH: return 1.0f - h * h;
    case ACT_SIGMOID: return h * (1.0f - h);
    case ACT_LEAKY: return z > 0.0f ? 1.0f : 0.01f;
    case ACT_GELU: {
        double cdf = 0.5 * (1.0 + erf(z / sqrt(2.0)));
        double pdf = exp(-0.5 * (double)z * z) / 2.5066282746310002; /* sqrt(2 pi) */
        return (float)(cdf + z * pdf);
    }
    case ACT_MANUAL_TANH: { /* autograd's derivative of the formula, term by term, as
                             * activations.manual_tanh_derivative (0 at z = 0, as torch) */
        float t = -2.0f * fabsf(z), em1 = expm1f(t), e = expf(t), d = 1.0f + e;
        return z == 0.0f ? 0.0f : 2.0f * ((em1 + 1.0f) / d - em1 * e / (d * d));
    }
    default: return 1.0f;
    }
}

static void optimizer_step(int opt, float *p, float *g, float *s1, float *s2, int count,
                           double lr, double momentum, double wd, int first, double step) {
    if (opt == OPT_SGD) {
        for (int i = 0; i < count; i++) {
            float grad = g[i];
            if (wd != 0.0) grad = grad + (float)wd * p[i];
            if (momentum != 0.0) {
                s1[i] = first ? grad : (float)momentum * s1[i] + grad;
                grad = s1[i];
            }
            p[i] = p[i] - (float)lr * grad;
        }
        return;
    }
    const double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
    double bc1 = 1.0 - pow(beta1, step), bc2 = 1.0 - pow(beta2, step);
    float step_size = (float)(lr / bc1);
    float bc2_sqrt = (float)sqrt(bc2);
    for (int i = 0; i < count; i++) {
        float grad = g[i];
        if (opt == OPT_ADAMW) p[i] = p[i] * (float)(1.0 - lr * wd);
        else if (wd != 0.0) grad = grad + (float)wd * p[i];
        s1[i] = s1[i] + (float)(1.0 - beta1) * (grad - s1[i]);
        s2[i] = s2[i] * (float)beta2 + (float)(1.0 - beta2) * grad * grad;
        float denom = sqrtf(s2[i]) / bc2_sqrt + (float)eps;
        p[i] = p[i] - step_size * (s1[i] / denom);
    }
}

static void apply_activation(int act, const float *z, float *h, size_t count) {
    switch (act) {
    case ACT_RELU: for (size_t j = 0; j < count; j++) h[j] = z[j] > 0.0f ? z[j] : 0.0f; break;
    case ACT_IDENTITY: memcpy(h, z, count * sizeof(float)); break;
    default: for (size_t j = 0; j < count; j++) h[j] = act_forward(act, z[j]);
    }
}

static void scale_by_activation_grad(int act, float *d, const float *z, const float *h,
                                     size_t count) {
    switch (act) {
    case ACT_RELU: for (size_t j = 0; j < count; j++) d[j] = z[j] > 0.0f ? d[j] : 0.0f; break;
    case ACT_IDENTITY: break;
    default: for (size_t j = 0; j < count; j++) d[j] *= act_grad(act, z[j], h[j]);
    }
}

/* sum_r a[r] * b[r] with eight running partial sums, so the loop vectorises */
static float dot(const float *a, const float *b, int n) {
    float acc[8] = {0};
    int r = 0;
    for (; r + 8 <= n; r += 8)
        for (int j = 0; j < 8; j++) acc[j] += a[r + j] * b[r + j];
    float s = 0.0f;
    for (; r < n; r++) s += a[r] * b[r];
    for (int j = 0; j < 8; j++) s += acc[j];
    return s;
}

static float sum(const float *a, int n) {
    float acc[8] = {0};
    int r = 0;
    for (; r + 8 <= n; r += 8)
        for (int j = 0; j < 8; j++) acc[j] += a[r + j];
    float s = 0.0f;
    for (; r < n; r++) s += a[r];
    for (int j = 0; j < 8; j++) s += acc[j];
    return s;
}

/* Train for `epochs` full-batch steps. Returns 0, or -1 if memory ran out.
 * X: n x in, row-major (as torch stores it). sizes: n_layers + 1 entries
 * (in, hidden..., out). y: class index per row. W, B: n_layers pointers.
 * S1W/S1B (momentum or exp_avg), S2W/S2B (exp_avg_sq). first_step: 1 if the momentum
 * buffers are not initialised yet (torch's first step). step: Adam's step count before
 * this call; updated in place.
 * Activations are kept feature-major (width x n) so every inner loop runs along the
 * rows: long, contiguous and vectorised. */
int train_mlp(int n, const float *X, const long *y, int n_layers, const int *sizes,
              int act, int binary, float **W, float **B, float **S1W, float **S1B,
              float **S2W, float **S2B, int opt, double lr, double momentum, double wd,
              int first_step, double *step, int epochs, float *loss_out, float *acc_out) {
    int max_width = 0, max_params = 0;
    for (int l = 0; l <= n_layers; l++) if (sizes[l] > max_width) max_width = sizes[l];
    for (int l = 0; l < n_layers; l++)
        if (sizes[l] * sizes[l + 1] > max_params) max_params = sizes[l] * sizes[l + 1];
    /* H[0] = X^T; Z[l] = pre-activation of layer l's output, H[l] = act(Z[l]) */
    float **H = calloc(n_layers + 1, sizeof(float *));
    float **Z = calloc(n_layers + 1, sizeof(float *));
    float *delta = malloc(sizeof(float) * (size_t)n * max_width);
    float *delta_prev = malloc(sizeof(float) * (size_t)n * max_width);
    float *gW = malloc(sizeof(float) * (size_t)max_params);
    float *gB = malloc(sizeof(float) * (size_t)max_width);
    int ok = H && Z && delta && delta_prev && gW && gB;
    for (int l = 0; ok && l <= n_layers; l++) {
        Z[l] = l ? malloc(sizeof(float) * (size_t)n * sizes[l]) : NULL;
        H[l] = malloc(sizeof(float) * (size_t)n * sizes[l]);
        ok = (l == 0 || Z[l]) && H[l];
    }
    if (!ok) goto done;
    for (int r = 0; r < n; r++)
        for (int i = 0; i < sizes[0]; i++) H[0][(size_t)i * n + r] = X[(size_t)r * sizes[0] + i];
    int k = sizes[n_layers];

    for (int e = 0; e < epochs; e++) {
        /* forward: z[o, :] = b[o] + sum_i W[o, i] * h[i, :] */
        for (int l = 0; l < n_layers; l++) {
            int in = sizes[l], out = sizes[l + 1];
            const float *w = W[l], *h = H[l];
            for (int o = 0; o < out; o++) {
                float *zo = Z[l + 1] + (size_t)o * n;
                float bo = B[l][o];
                for (int r = 0; r < n; r++) zo[r] = bo;
                for (int i = 0; i < in; i++) {
                    float woi = w[(size_t)o * in + i];
                    const float *hi = h + (size_t)i * n;
                    for (int r = 0; r < n; r++) zo[r] += woi * hi[r];
                }
            }
            if (l < n_layers - 1) apply_activation(act, Z[l + 1], H[l + 1], (size_t)n * out);
        }
        /* loss, accuracy and d loss / d logits (mean over rows) */
        const float *logits = Z[n_layers];
        double loss = 0.0;
        long correct = 0;
        if (binary) {
            for (int r = 0; r < n; r++) {
                float z = logits[r], t = (float)y[r];
                float ez = expf(-fabsf(z));               /* in (0, 1]: never overflows */
                /* log(1 + ez) with ez in (0, 1]: logf is exact to float rounding here */
                loss += (z > 0 ? z : 0) - z * t + logf(1.0f + ez);
                float p = z >= 0 ? 1.0f / (1.0f + ez) : ez / (1.0f + ez);
                delta[r] = (p - t) / (float)n;
                correct += ((z > 0) == (y[r] == 1));
            }
        } else {
            for (int r = 0; r < n; r++) {
                float m = logits[r];
                int arg = 0;
                for (int c = 1; c < k; c++)
                    if (logits[(size_t)c * n + r] > m) { m = logits[(size_t)c * n + r]; arg = c; }
                double total = 0.0;
                for (int c = 0; c < k; c++) total += exp((double)logits[(size_t)c * n + r] - m);
                loss += log(total) + m - logits[(size_t)y[r] * n + r];
                for (int c = 0; c < k; c++)
                    delta[(size_t)c * n + r] = (float)(exp((double)logits[(size_t)c * n + r] - m)
                                                       / total - (c == y[r])) / (float)n;
                correct += (arg == y[r]);
            }
        }
        loss_out[e] = (float)(loss / n);
        acc_out[e] = (float)correct / (float)n;
        /* backward and update, last layer first */
        *step += 1.0;
        for (int l = n_layers - 1; l >= 0; l--) {
            int in = sizes[l], out = sizes[l + 1];
            float *w = W[l];
            for (int o = 0; o < out; o++) {
                const float *d = delta + (size_t)o * n;
                gB[o] = sum(d, n);
                for (int i = 0; i < in; i++)
                    gW[(size_t)o * in + i] = dot(d, H[l] + (size_t)i * n, n);
            }
            if (l > 0) { /* the layer below's delta uses W before its update */
                for (int i = 0; i < in; i++) {
                    float *dp = delta_prev + (size_t)i * n;
                    float w0i = w[i];
                    for (int r = 0; r < n; r++) dp[r] = w0i * delta[r];
                    for (int o = 1; o < out; o++) {
                        float woi = w[(size_t)o * in + i];
                        const float *d = delta + (size_t)o * n;
                        for (int r = 0; r < n; r++) dp[r] += woi * d[r];
                    }
                }
                scale_by_activation_grad(act, delta_prev, Z[l], H[l], (size_t)n * in);
            }
            optimizer_step(opt, w, gW, S1W[l], S2W ? S2W[l] : NULL, in * out, lr,
                           momentum, wd, first_step, *step);
            optimizer_step(opt, B[l], gB, S1B[l], S2B ? S2B[l] : NULL, out, lr, momentum,
                           wd, first_step, *step);
            float *swap = delta; delta = delta_prev; delta_prev = swap;
        }
        first_step = 0;
    }
done:
    for (int l = 0; Z && H && l <= n_layers; l++) { free(Z[l]); free(H[l]); }
    free(H); free(Z); free(delta); free(delta_prev); free(gW); free(gB);
    return ok ? 0 : -1;
}
