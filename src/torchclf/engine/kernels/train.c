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
#define _POSIX_C_SOURCE 200809L /* sched_yield */
#include <math.h>
#include <stdint.h>
#include <sched.h>
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

/* parallel.c: a team of threads that run together */
#define MAX_TEAM 64
void run_team(void (*fn)(void *arg, int t, int team), void *arg, int count);

/* blocks.c: the layers' matrix products */
void mlp_affine(const float *W, int so, int si, const float *b, const float *H, float *Z,
            int in, int out, int n);
void mlp_weight_grad(const float *D, const float *H, float *G, int in, int out, int n);
float mlp_row_sum(const float *a, int n);

/* Threads of one train_mlp call meet at barriers between the phases of a step. A phase
 * splits its work by whole outputs (neurons, parameters, rows), and each piece is
 * computed by the same code whichever thread runs it, so the numbers do not depend on
 * the number of threads. A waiting thread spins, then yields the CPU. */
typedef struct { int count, sense; } Barrier;

static void barrier_wait(Barrier *b, int total, int *mine) {
    if (total == 1) return;
    *mine = !*mine;
    if (__atomic_add_fetch(&b->count, 1, __ATOMIC_ACQ_REL) == total) {
        __atomic_store_n(&b->count, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&b->sense, *mine, __ATOMIC_RELEASE);
    } else {
        for (int64_t spins = 0; __atomic_load_n(&b->sense, __ATOMIC_ACQUIRE) != *mine; spins++)
            if (spins > 2000) sched_yield();
    }
}

/* thread t's share [lo, hi) of count items among T */
#define SHARE(count, t, T, lo, hi) \
    int lo = (int)((int64_t)(count) * (t) / (T)), hi = (int)((int64_t)(count) * ((t) + 1) / (T))

/* A network being trained: its parameters and optimizer state (torch's tensors, in
 * place) and the buffers of one step. H[0] = the step's rows, feature-major (width x m);
 * Z[l] = pre-activation of layer l's output, H[l] = act(Z[l]); gW[l], gB[l] the
 * gradients of layer l; row_loss, the loss of each row; exps, T x K scratch. */
typedef struct {
    int n_layers, act, binary, opt;
    const int *sizes;
    float **W, **B, **S1W, **S1B, **S2W, **S2B;
    double lr, momentum, wd;
    float **H, **Z, *delta, *delta_prev, **gW, **gB;
    double *row_loss, *exps;
    int64_t correct[64];
    Barrier barrier;
} Net;

/* buffers for steps of up to `rows` rows on up to `threads` threads; 0, or -1 if
 * memory ran out */
static int net_alloc(Net *net, int rows, int threads) {
    int n_layers = net->n_layers, max_width = 0;
    const int *sizes = net->sizes;
    for (int l = 0; l <= n_layers; l++) if (sizes[l] > max_width) max_width = sizes[l];
    net->H = calloc(n_layers + 1, sizeof(float *));
    net->Z = calloc(n_layers + 1, sizeof(float *));
    net->gW = calloc(n_layers, sizeof(float *));
    net->gB = calloc(n_layers, sizeof(float *));
    net->delta = malloc(sizeof(float) * (size_t)rows * max_width);
    net->delta_prev = malloc(sizeof(float) * (size_t)rows * max_width);
    net->row_loss = malloc(sizeof(double) * (size_t)rows);
    net->exps = malloc(sizeof(double) * (size_t)threads * sizes[n_layers]);
    int ok = net->H && net->Z && net->gW && net->gB && net->delta && net->delta_prev
             && net->row_loss && net->exps;
    for (int l = 0; ok && l <= n_layers; l++) {
        net->Z[l] = l ? malloc(sizeof(float) * (size_t)rows * sizes[l]) : NULL;
        net->H[l] = malloc(sizeof(float) * (size_t)rows * sizes[l]);
        ok = (l == 0 || net->Z[l]) && net->H[l];
        if (ok && l < n_layers) {
            net->gW[l] = malloc(sizeof(float) * (size_t)sizes[l] * sizes[l + 1]);
            net->gB[l] = malloc(sizeof(float) * (size_t)sizes[l + 1]);
            ok = net->gW[l] && net->gB[l];
        }
    }
    return ok ? 0 : -1;
}

static void net_free(Net *net) {
    for (int l = 0; net->Z && net->H && l <= net->n_layers; l++) {
        free(net->Z[l]);
        free(net->H[l]);
    }
    for (int l = 0; net->gW && net->gB && l < net->n_layers; l++) {
        free(net->gW[l]);
        free(net->gB[l]);
    }
    free(net->H); free(net->Z); free(net->gW); free(net->gB); free(net->delta);
    free(net->delta_prev); free(net->row_loss); free(net->exps);
}

/* rows [lo, hi) of the loss: each row's loss, d loss / d logits (mean over the n rows)
 * and the correct labels counted into *correct */
static void rows_loss(Net *net, int t, int n, int lo, int hi, const int64_t *y, int64_t *correct) {
    int k = net->sizes[net->n_layers];
    const float *logits = net->Z[net->n_layers];
    float *delta = net->delta;
    if (net->binary) {
        for (int r = lo; r < hi; r++) {
            float z = logits[r], tgt = (float)y[r];
            float ez = expf(-fabsf(z));               /* in (0, 1]: never overflows */
            /* log(1 + ez) with ez in (0, 1]: logf is exact to float rounding here */
            net->row_loss[r] = (z > 0 ? z : 0) - z * tgt + logf(1.0f + ez);
            float p = z >= 0 ? 1.0f / (1.0f + ez) : ez / (1.0f + ez);
            delta[r] = (p - tgt) / (float)n;
            *correct += ((z > 0) == (y[r] == 1));
        }
        return;
    }
    double *e = net->exps + (size_t)t * k;
    for (int r = lo; r < hi; r++) {
        float m = logits[r];
        int arg = 0;
        for (int c = 1; c < k; c++)
            if (logits[(size_t)c * n + r] > m) { m = logits[(size_t)c * n + r]; arg = c; }
        double total = 0.0;
        for (int c = 0; c < k; c++) total += e[c] = exp((double)logits[(size_t)c * n + r] - m);
        net->row_loss[r] = log(total) + m - logits[(size_t)y[r] * n + r];
        for (int c = 0; c < k; c++)
            delta[(size_t)c * n + r] = (float)(e[c] / total - (c == y[r])) / (float)n;
        *correct += (arg == y[r]);
    }
}

/* Thread t's part (of T) of one step on the n rows in H[0] (feature-major, n apart)
 * with classes y: forward, loss, d loss / d logits as the mean over the n rows, backward
 * and the optimizer's update (Adam's step count `step`). Thread 0 adds the rows' summed
 * loss and correct labels. Every thread of the call runs it; `sense` is its own. */
static void net_step(Net *net, int t, int T, int *sense, int n, const int64_t *y,
                     int first_step, double step, double *loss_sum, int64_t *correct_sum) {
    int n_layers = net->n_layers, act = net->act;
    const int *sizes = net->sizes;
    float **W = net->W, **B = net->B, **H = net->H, **Z = net->Z;
    float *delta = net->delta, *delta_prev = net->delta_prev;
    /* forward: z[o, :] = b[o] + sum_i W[o, i] * h[i, :], each thread its outputs */
    for (int l = 0; l < n_layers; l++) {
        int in = sizes[l], out = sizes[l + 1];
        SHARE(out, t, T, lo, hi);
        mlp_affine(W[l] + (size_t)lo * in, in, 1, B[l] + lo, H[l], Z[l + 1] + (size_t)lo * n,
                   in, hi - lo, n);
        if (l < n_layers - 1)
            apply_activation(act, Z[l + 1] + (size_t)lo * n, H[l + 1] + (size_t)lo * n,
                             (size_t)n * (hi - lo));
        barrier_wait(&net->barrier, T, sense);
    }
    { /* loss, accuracy and d loss / d logits, each thread its rows */
        SHARE(n, t, T, lo, hi);
        net->correct[t] = 0;
        rows_loss(net, t, n, lo, hi, y, &net->correct[t]);
        barrier_wait(&net->barrier, T, sense);
    }
    if (t == 0) { /* the rows' losses summed in their order, whatever the threads */
        double loss = 0.0;
        for (int r = 0; r < n; r++) loss += net->row_loss[r];
        *loss_sum += loss;
        for (int u = 0; u < T; u++) *correct_sum += net->correct[u];
    }
    /* backward, last layer first: gradients of this thread's outputs, and the layer
     * below's delta for this thread's inputs (from W before any update) */
    for (int l = n_layers - 1; l >= 0; l--) {
        int in = sizes[l], out = sizes[l + 1];
        SHARE(out, t, T, lo, hi);
        for (int o = lo; o < hi; o++) net->gB[l][o] = mlp_row_sum(delta + (size_t)o * n, n);
        mlp_weight_grad(delta + (size_t)lo * n, H[l], net->gW[l] + (size_t)lo * in, in,
                        hi - lo, n);
        if (l > 0) { /* delta_prev[i, :] = sum_o W[o, i] delta[o, :] */
            SHARE(in, t, T, ilo, ihi);
            mlp_affine(W[l] + ilo, 1, in, NULL, delta, delta_prev + (size_t)ilo * n, out,
                       ihi - ilo, n);
            scale_by_activation_grad(act, delta_prev + (size_t)ilo * n, Z[l] + (size_t)ilo * n,
                                     H[l] + (size_t)ilo * n, (size_t)n * (ihi - ilo));
        }
        barrier_wait(&net->barrier, T, sense);
        float *swap = delta; delta = delta_prev; delta_prev = swap;
    }
    /* the update, each thread its outputs' weights and biases */
    for (int l = 0; l < n_layers; l++) {
        int in = sizes[l], out = sizes[l + 1];
        SHARE(out, t, T, lo, hi);
        size_t w0 = (size_t)lo * in, nw = (size_t)(hi - lo) * in;
        optimizer_step(net->opt, W[l] + w0, net->gW[l] + w0, net->S1W[l] + w0,
                       net->S2W ? net->S2W[l] + w0 : NULL, (int)nw, net->lr, net->momentum,
                       net->wd, first_step, step);
        optimizer_step(net->opt, B[l] + lo, net->gB[l] + lo, net->S1B[l] + lo,
                       net->S2B ? net->S2B[l] + lo : NULL, hi - lo, net->lr, net->momentum,
                       net->wd, first_step, step);
    }
    barrier_wait(&net->barrier, T, sense);
}

/* One train_mlp call, shared by its threads. */
typedef struct {
    Net *net;
    int n, epochs, batch, first_step;
    const float *X;
    const int64_t *y, *order;
    int64_t *yb;
    double step;
    float *loss_out, *acc_out;
} Job;

/* Thread t's part (of T) of every epoch (thread 0 also writes the epochs' numbers). */
static void train_loop(void *arg, int t, int T) {
    Job *j = arg;
    Net *net = j->net;
    int n = j->n, d = net->sizes[0], rows = j->batch, sense = 0;
    int first_step = j->first_step;
    double step = j->step;
    float *h0 = net->H[0];
    SHARE(d, t, T, flo, fhi); /* the input features this thread gathers */
    if (!j->order) {
        for (int r = 0; r < n; r++)
            for (int i = flo; i < fhi; i++) h0[(size_t)i * n + r] = j->X[(size_t)r * d + i];
        barrier_wait(&net->barrier, T, &sense);
    }
    for (int e = 0; e < j->epochs; e++) {
        double loss = 0.0;
        int64_t correct = 0;
        if (!j->order) {
            step += 1.0;
            net_step(net, t, T, &sense, n, j->y, first_step, step, &loss, &correct);
            first_step = 0;
            if (t == 0) {
                j->loss_out[e] = (float)(loss / n);
                j->acc_out[e] = (float)correct / (float)n;
            }
            continue;
        }
        const int64_t *perm = j->order + (size_t)e * n;
        float total = 0.0f;
        for (int s = 0; s < n; s += rows) {
            int m = n - s < rows ? n - s : rows;
            for (int r = 0; r < m; r++) { /* gather the batch's rows, feature-major */
                const float *x = j->X + (size_t)perm[s + r] * d;
                for (int i = flo; i < fhi; i++) h0[(size_t)i * m + r] = x[i];
                if (t == 0) j->yb[r] = j->y[perm[s + r]];
            }
            barrier_wait(&net->barrier, T, &sense);
            double batch_loss = 0.0;
            step += 1.0;
            net_step(net, t, T, &sense, m, j->yb, first_step, step, &batch_loss, &correct);
            first_step = 0;
            total += (float)(batch_loss / m) * (float)m;
        }
        if (t == 0) {
            j->loss_out[e] = total / (float)n;
            j->acc_out[e] = (float)correct / (float)n;
        }
    }
    if (t == 0) j->step = step;
}

/* Train for `epochs` epochs on up to `threads` threads (the numbers are the same for
 * any count). Returns 0, or -1 if memory ran out.
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
int train_mlp(int n, const float *X, const int64_t *y, int n_layers, const int *sizes,
              int act, int binary, float **W, float **B, float **S1W, float **S1B,
              float **S2W, float **S2B, int opt, double lr, double momentum, double wd,
              int first_step, double *step, int epochs, int batch, const int64_t *order,
              float *loss_out, float *acc_out, int threads) {
    threads = threads < 1 ? 1 : threads > MAX_TEAM ? MAX_TEAM : threads;
    Net net = {n_layers, act, binary, opt, sizes, W, B, S1W, S1B, S2W, S2B, lr, momentum,
               wd, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, {0}, {0, 0}};
    int rows = order && batch < n ? batch : n;
    Job job = {&net, n, epochs, rows, first_step, X, y, order, NULL, *step, loss_out,
               acc_out};
    job.yb = order ? malloc(sizeof(int64_t) * (size_t)rows) : NULL;
    int ok = net_alloc(&net, rows, threads) == 0 && (job.yb || !order);
    if (ok) {
        run_team(train_loop, &job, threads);
        *step = job.step;
    }
    net_free(&net);
    free(job.yb);
    return ok ? 0 : -1;
}
