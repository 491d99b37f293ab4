/* Training of small MLPs, full batch or mini-batches: forward, hand-derived backward,
 * optimizer step.
 *
 * For the lesson's models (a few thousand rows, widths of 8 to 64) PyTorch spends
 * almost all its time dispatching tiny operations; this file does the same arithmetic
 * in plain loops. It mirrors torch exactly in what it computes:
 *   Linear: z = h W^T + b (W is out x in, row-major, as nn.Linear stores it)
 *   loss:   BCEWithLogitsLoss (1 logit) or CrossEntropyLoss (K logits), mean over a
 *           step's rows
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

/* A network being trained: its parameters and optimizer state (torch's tensors, in
 * place) and the buffers of one step. H[0] = the step's rows, feature-major (width x m);
 * Z[l] = pre-activation of layer l's output, H[l] = act(Z[l]). */
typedef struct {
    int n_layers, act, binary, opt;
    const int *sizes;
    float **W, **B, **S1W, **S1B, **S2W, **S2B;
    double lr, momentum, wd;
    float **H, **Z, *delta, *delta_prev, *gW, *gB;
} Net;

/* buffers for steps of up to `rows` rows; 0, or -1 if memory ran out */
static int net_alloc(Net *net, int rows) {
    int n_layers = net->n_layers, max_width = 0, max_params = 0;
    const int *sizes = net->sizes;
    for (int l = 0; l <= n_layers; l++) if (sizes[l] > max_width) max_width = sizes[l];
    for (int l = 0; l < n_layers; l++)
        if (sizes[l] * sizes[l + 1] > max_params) max_params = sizes[l] * sizes[l + 1];
    net->H = calloc(n_layers + 1, sizeof(float *));
    net->Z = calloc(n_layers + 1, sizeof(float *));
    net->delta = malloc(sizeof(float) * (size_t)rows * max_width);
    net->delta_prev = malloc(sizeof(float) * (size_t)rows * max_width);
    net->gW = malloc(sizeof(float) * (size_t)max_params);
    net->gB = malloc(sizeof(float) * (size_t)max_width);
    int ok = net->H && net->Z && net->delta && net->delta_prev && net->gW && net->gB;
    for (int l = 0; ok && l <= n_layers; l++) {
        net->Z[l] = l ? malloc(sizeof(float) * (size_t)rows * sizes[l]) : NULL;
        net->H[l] = malloc(sizeof(float) * (size_t)rows * sizes[l]);
        ok = (l == 0 || net->Z[l]) && net->H[l];
    }
    return ok ? 0 : -1;
}

static void net_free(Net *net) {
    for (int l = 0; net->Z && net->H && l <= net->n_layers; l++) {
        free(net->Z[l]);
        free(net->H[l]);
    }
    free(net->H); free(net->Z); free(net->delta); free(net->delta_prev);
    free(net->gW); free(net->gB);
}

/* One step on the n rows in H[0] (feature-major, n apart) with classes y: forward,
 * loss, d loss / d logits as the mean over the n rows, backward and the optimizer's
 * update (Adam's step count `step`). Adds the rows' summed loss and correct labels. */
static void net_step(Net *net, int n, const long *y, int first_step, double step,
                     double *loss_sum, long *correct_sum) {
    int n_layers = net->n_layers, act = net->act, k = net->sizes[n_layers];
    const int *sizes = net->sizes;
    float **W = net->W, **B = net->B, **H = net->H, **Z = net->Z;
    float *delta = net->delta, *delta_prev = net->delta_prev, *gW = net->gW, *gB = net->gB;
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
    if (net->binary) {
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
    *loss_sum += loss;
    *correct_sum += correct;
    /* backward and update, last layer first */
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
        optimizer_step(net->opt, w, gW, net->S1W[l], net->S2W ? net->S2W[l] : NULL, in * out,
                       net->lr, net->momentum, net->wd, first_step, step);
        optimizer_step(net->opt, B[l], gB, net->S1B[l], net->S2B ? net->S2B[l] : NULL, out,
                       net->lr, net->momentum, net->wd, first_step, step);
        float *swap = delta; delta = delta_prev; delta_prev = swap;
    }
    net->delta = delta; net->delta_prev = delta_prev;
}

/* Train for `epochs` epochs. Returns 0, or -1 if memory ran out.
 * X: n x in, row-major (as torch stores it). sizes: n_layers + 1 entries
 * (in, hidden..., out). y: class index per row. W, B: n_layers pointers.
 * S1W/S1B (momentum or exp_avg), S2W/S2B (exp_avg_sq). first_step: 1 if the momentum
 * buffers are not initialised yet (torch's first step). step: Adam's step count before
 * this call; updated in place.
 * order NULL: full batch, one step per epoch on the rows in their order; the epoch's
 * loss is the mean over rows (in double). Otherwise mini-batches: order holds epochs x n
 * row indices (a permutation per epoch, drawn by the caller from torch's generator), cut
 * into steps of `batch` rows (the last one smaller); the epoch's loss is, as autograd's
 * loop sums it in float, sum(batch mean * batch rows) / n.
 * Activations are kept feature-major (width x rows) so every inner loop runs along the
 * rows: long, contiguous and vectorised. */
int train_mlp(int n, const float *X, const long *y, int n_layers, const int *sizes,
              int act, int binary, float **W, float **B, float **S1W, float **S1B,
              float **S2W, float **S2B, int opt, double lr, double momentum, double wd,
              int first_step, double *step, int epochs, int batch, const long *order,
              float *loss_out, float *acc_out) {
    Net net = {n_layers, act, binary, opt, sizes, W, B, S1W, S1B, S2W, S2B, lr, momentum,
               wd, NULL, NULL, NULL, NULL, NULL, NULL};
    int d = sizes[0], rows = order && batch < n ? batch : n;
    long *yb = order ? malloc(sizeof(long) * (size_t)rows) : NULL;
    int ok = net_alloc(&net, rows) == 0 && (yb || !order);
    if (!ok) goto done;
    float *h0 = net.H[0];
    if (!order)
        for (int r = 0; r < n; r++)
            for (int i = 0; i < d; i++) h0[(size_t)i * n + r] = X[(size_t)r * d + i];

    for (int e = 0; e < epochs; e++) {
        double loss = 0.0;
        long correct = 0;
        if (!order) {
            *step += 1.0;
            net_step(&net, n, y, first_step, *step, &loss, &correct);
            first_step = 0;
            loss_out[e] = (float)(loss / n);
            acc_out[e] = (float)correct / (float)n;
            continue;
        }
        const long *perm = order + (size_t)e * n;
        float total = 0.0f;
        for (int s = 0; s < n; s += rows) {
            int m = n - s < rows ? n - s : rows;
            for (int r = 0; r < m; r++) { /* gather the batch's rows, feature-major */
                const float *x = X + (size_t)perm[s + r] * d;
                for (int i = 0; i < d; i++) h0[(size_t)i * m + r] = x[i];
                yb[r] = y[perm[s + r]];
            }
            double batch_loss = 0.0;
            *step += 1.0;
            net_step(&net, m, yb, first_step, *step, &batch_loss, &correct);
            first_step = 0;
            total += (float)(batch_loss / m) * (float)m;
        }
        loss_out[e] = total / (float)n;
        acc_out[e] = (float)correct / (float)n;
    }
done:
    net_free(&net);
    free(yb);
    return ok ? 0 : -1;
}
