/* model.c - the model runtime, float32: a sequential model from a layer table trained on a
 * device with one flat parameter buffer and one caller-provided arena. The table rules, the
 * memory plan, the step order and the three training modes are stated in tinyreptile.h and
 * mirrored by tinyreptile_ref/model.py.
 *
 * The batched path (GRAD) calls the public kernels. The per-sample paths (FUSED and ACCUM)
 * have their own loops for dx, for the accumulated dw/db and for the loss, written to perform
 * per element the same float operations in the same order as the kernels (tinyreptile.h
 * states each order); the tests hold all three modes to the same bits. */
#include <stddef.h>
#include <string.h>

#include "tr_internal.h"

/* ------------------------------------------------------------------ the layer table */

/* What the check learns about a model, per sample. */
typedef struct {
    int32_t in_n;    /* input size */
    int32_t out_n;   /* output size (classes for softmax cross-entropy) */
    int32_t first;   /* index of the first dense or conv1d layer */
    int32_t acts;    /* floats of the kept activations */
    int32_t d0, d1;  /* floats of the two delta buffers */
    int32_t tgt;     /* floats of one stored target: out_n for mse, 1 (a label's bits) */
} tr__info;

/* The geometry of one layer, derived from its row by tr__geometry. */
typedef struct {
    int32_t in_n, out_n;
    int32_t I, O;                                      /* dense */
    int32_t L, C_in, L_out, C_out, K, s, d, pad, code; /* conv1d */
} tr__geom;

static int tr__is_param(int32_t kind)
{
    return kind == TR_LAYER_DENSE || kind == TR_LAYER_CONV1D;
}

/* Size of a tensor of rank r and dims dim; 0 when the shape is invalid, -1 when the product
 * does not fit int32. */
static int32_t tr__tensor_size(int32_t r, const int32_t dim[2])
{
    int32_t n;
    if (r != 1 && r != 2) {
        return 0;
    }
    if (dim[0] < 1 || dim[1] < 1 || (r == 1 && dim[1] != 1)) {
        return 0;
    }
    if (!tr__mul_ok(&n, dim[0], dim[1])) {
        return -1;
    }
    return n;
}

static tr_status tr__geometry(tr__geom *g, const tr_layer *l)
{
    int32_t in_n = tr__tensor_size(l->in_rank, l->in_dim);
    int32_t out_n = tr__tensor_size(l->out_rank, l->out_dim);
    if (in_n == 0 || out_n == 0) {
        return TR_ERR_MODEL;
    }
    if (in_n < 0 || out_n < 0) {
        return TR_ERR_SHAPE;
    }
    memset(g, 0, sizeof *g);
    g->in_n = in_n;
    g->out_n = out_n;
    switch (l->kind) {
    case TR_LAYER_DENSE:
        if (l->in_rank != 1 || l->out_rank != 1) {
            return TR_ERR_MODEL;
        }
        g->I = l->in_dim[0];
        g->O = l->out_dim[0];
        return TR_OK;
    case TR_LAYER_CONV1D: {
        int32_t L_out, pad;
        tr_status st;
        if (l->in_rank != 2 || l->out_rank != 2) {
            return TR_ERR_MODEL;
        }
        g->L = l->in_dim[0];
        g->C_in = l->in_dim[1];
        g->C_out = l->out_dim[1];
        g->K = l->kernel_size;
        g->s = l->stride;
        g->d = l->dilation;
        g->code = l->padding;
        st = tr_conv1d_out_len(&L_out, &pad, g->L, g->K, g->s, g->d, g->code);
        if (st == TR_ERR_SHAPE) {
            return TR_ERR_SHAPE;
        }
        if (st != TR_OK || L_out != l->out_dim[0]) {
            return TR_ERR_MODEL;
        }
        g->L_out = L_out;
        g->pad = pad;
        return TR_OK;
    }
    case TR_LAYER_RELU:
    case TR_LAYER_TANH:
        if (l->out_rank != l->in_rank || l->out_dim[0] != l->in_dim[0] ||
            l->out_dim[1] != l->in_dim[1]) {
            return TR_ERR_MODEL;
        }
        return TR_OK;
    case TR_LAYER_FLATTEN:
        if (l->out_rank != 1 || out_n != in_n) {
            return TR_ERR_MODEL;
        }
        return TR_OK;
    default:
        return TR_ERR_MODEL;
    }
}

/* The number of parameters of a parametric layer (weights, bias), or -1 on overflow. */
static int32_t tr__layer_params(const tr__geom *g, int32_t kind, int32_t *n_w)
{
    int32_t nw, nb;
    if (kind == TR_LAYER_DENSE) {
        if (!tr__mul_ok(&nw, g->O, g->I)) {
            return -1;
        }
        nb = g->O;
    } else {
        if (!tr__mul3_ok(&nw, g->C_out, g->K, g->C_in)) {
            return -1;
        }
        nb = g->C_out;
    }
    if (nw > INT32_MAX - nb) {
        return -1;
    }
    *n_w = nw;
    return nw + nb;
}

static tr_status tr__check(tr__info *info, const tr_model *m)
{
    int64_t acts = 0, off = 0;
    int32_t first = -1, last_param = -1, act_free = 0, n_deltas = 0, d0 = 0, d1 = 0;
    tr__geom g;
    if (!m) {
        return TR_ERR_NULL;
    }
    if (m->n_layers < 1) {
        return TR_ERR_MODEL;
    }
    if (!m->layers) {
        return TR_ERR_NULL;
    }
    if (m->loss != TR_LOSS_MSE && m->loss != TR_LOSS_SOFTMAX_XENT) {
        return TR_ERR_MODEL;
    }
    for (int32_t i = 0; i < m->n_layers; i++) {
        const tr_layer *l = &m->layers[i];
        tr_status st = tr__geometry(&g, l);
        if (st != TR_OK) {
            return st;
        }
        if (i > 0) {
            const tr_layer *p = &m->layers[i - 1];
            if (l->in_rank != p->out_rank || l->in_dim[0] != p->out_dim[0] ||
                l->in_dim[1] != p->out_dim[1]) {
                return TR_ERR_MODEL;
            }
        }
        if (tr__is_param(l->kind)) {
            int32_t n_w, n = tr__layer_params(&g, l->kind, &n_w);
            if (n < 0) {
                return TR_ERR_SHAPE;
            }
            if (l->w_off != off || (int64_t)l->b_off != off + n_w) {
                return TR_ERR_MODEL;
            }
            off += n;
            acts += g.out_n;
            if (off > INT32_MAX || acts > INT32_MAX) {
                return TR_ERR_SHAPE;
            }
            if (first < 0) {
                first = i;
            }
            last_param = i;
            act_free = 1; /* this output may take one activation */
        } else if (l->kind == TR_LAYER_RELU || l->kind == TR_LAYER_TANH) {
            if (!act_free) {
                return TR_ERR_MODEL; /* on the input, or a second one on the same buffer */
            }
            act_free = 0;
        }
    }
    if (first < 0 || off != m->n_params) {
        return TR_ERR_MODEL;
    }
    {
        const tr_layer *out = &m->layers[m->n_layers - 1];
        if (m->loss == TR_LOSS_SOFTMAX_XENT && out->out_rank != 1) {
            return TR_ERR_MODEL;
        }
        info->in_n = tr__tensor_size(m->layers[0].in_rank, m->layers[0].in_dim);
        info->out_n = tr__tensor_size(out->out_rank, out->out_dim);
    }
    /* the delta tensors in the order backward makes them: dpred, then the dx of each
     * parametric layer from the last down to (not including) the first */
    d0 = info->out_n;
    n_deltas = 1;
    for (int32_t i = last_param; i > first; i--) {
        const tr_layer *l = &m->layers[i];
        if (tr__is_param(l->kind)) {
            int32_t n = tr__tensor_size(l->in_rank, l->in_dim);
            if (n_deltas % 2 == 0) {
                d0 = n > d0 ? n : d0;
            } else {
                d1 = n > d1 ? n : d1;
            }
            n_deltas++;
        }
    }
    info->first = first;
    info->acts = (int32_t)acts;
    info->d0 = d0;
    info->d1 = d1;
    info->tgt = m->loss == TR_LOSS_MSE ? info->out_n : 1;
    return TR_OK;
}

tr_status tr_model_check(const tr_model *model)
{
    tr__info info;
    return tr__check(&info, model);
}

/* ---------------------------------------------------------------- the memory plan */

/* The arena's layout in floats: activations, delta 0, delta 1, gradients, samples. */
typedef struct {
    int32_t act, d0, d1, grad, samples, end; /* offsets; end = total floats */
    int32_t bact;                             /* samples the activations are sized for */
} tr__layout;

static int tr__add(int64_t *acc, int64_t a, int64_t b)
{
    if (a < 0 || b < 0 || (b != 0 && a > INT32_MAX / b)) {
        return 0;
    }
    *acc += a * b;
    return *acc <= INT32_MAX / 4; /* the arena's size in bytes must fit int32 */
}

static tr_status tr__layout_of(tr__layout *lay, const tr__info *info, const tr_model *m,
                               int32_t batch, int32_t stored, int32_t mode)
{
    int64_t n = 0;
    int32_t bact;
    if (mode != TR_TRAIN_FUSED && mode != TR_TRAIN_GRAD && mode != TR_TRAIN_ACCUM) {
        return TR_ERR_PARAM;
    }
    if (batch < 0 || stored < 0) {
        return TR_ERR_SHAPE;
    }
    if (mode == TR_TRAIN_FUSED && batch != 1) {
        return TR_ERR_PARAM;
    }
    bact = mode == TR_TRAIN_GRAD ? batch : 1;
    lay->bact = bact;
    lay->act = 0;
    if (!tr__add(&n, info->acts, bact)) {
        return TR_ERR_SHAPE;
    }
    lay->d0 = (int32_t)n;
    if (!tr__add(&n, info->d0, bact)) {
        return TR_ERR_SHAPE;
    }
    lay->d1 = (int32_t)n;
    if (!tr__add(&n, info->d1, bact)) {
        return TR_ERR_SHAPE;
    }
    lay->grad = (int32_t)n;
    if (!tr__add(&n, mode == TR_TRAIN_FUSED ? 0 : m->n_params, 1)) {
        return TR_ERR_SHAPE;
    }
    lay->samples = (int32_t)n;
    if ((int64_t)info->in_n + info->tgt > INT32_MAX ||
        !tr__add(&n, (int64_t)info->in_n + info->tgt, stored)) {
        return TR_ERR_SHAPE;
    }
    lay->end = (int32_t)n;
    return TR_OK;
}

/* The first checks of every entry point: the model's table, then its layout for `batch` rows,
 * `stored` stored samples and `mode`. */
static tr_status tr__plan(tr__info *info, tr__layout *lay, const tr_model *m, int32_t batch,
                          int32_t stored, int32_t mode)
{
    tr_status st = tr__check(info, m);
    if (st != TR_OK) {
        return st;
    }
    return tr__layout_of(lay, info, m, batch, stored, mode);
}

tr_status tr_model_memory_plan(tr_memory_plan *plan, const tr_model *model, int32_t batch,
                               int32_t stored, int32_t mode)
{
    tr__info info;
    tr__layout lay;
    tr_status st = tr__plan(&info, &lay, model, batch, stored, mode);
    if (st != TR_OK) {
        return st;
    }
    if (!plan) {
        return TR_ERR_NULL;
    }
    if (model->n_params > INT32_MAX / 4) {
        return TR_ERR_SHAPE;
    }
    plan->params = 4 * model->n_params;
    plan->grads = 4 * (lay.samples - lay.grad);
    plan->activations = 4 * (lay.d0 - lay.act);
    plan->deltas = 4 * (lay.grad - lay.d0);
    plan->samples = 4 * (lay.end - lay.samples);
    plan->arena = 4 * lay.end;
    return TR_OK;
}

tr_status tr_model_arena_size(int32_t *bytes, const tr_model *model, int32_t batch,
                              int32_t stored, int32_t mode)
{
    /* initialised: GCC 5's LTO (Arduino AVR) cannot see that st == TR_OK sets it */
    tr_memory_plan plan = {0, 0, 0, 0, 0, 0};
    tr_status st = tr_model_memory_plan(&plan, model, batch, stored, mode);
    if (st != TR_OK) {
        return st;
    }
    if (!bytes) {
        return TR_ERR_NULL;
    }
    *bytes = plan.arena;
    return TR_OK;
}

/* The arena as floats, when it is aligned and holds `need` floats; else NULL. */
static float *tr__arena(void *arena, int32_t arena_bytes, int32_t need)
{
    if (!arena || arena_bytes < 0 || arena_bytes / 4 < need ||
        ((uintptr_t)arena & (uintptr_t)(sizeof(float) - 1)) != 0) {
        return NULL;
    }
    return (float *)arena;
}

/* ------------------------------------------------------------ shared step machinery */

/* One step's buffers: the arena carved by its layout, the model and its info. */
typedef struct {
    const tr_model *m;
    const tr__info *info;
    float *act;    /* [B][acts] in table order: layer outputs, each [B][out_n] */
    float *dlt[2]; /* the two delta buffers */
    float *grad;   /* [n_params] or NULL */
} tr__run;

static void tr__carve(tr__run *r, const tr_model *m, const tr__info *info, float *a,
                      const tr__layout *lay, int with_grad)
{
    r->m = m;
    r->info = info;
    r->act = a + lay->act;
    r->dlt[0] = a + lay->d0;
    r->dlt[1] = a + lay->d1;
    r->grad = with_grad && lay->samples > lay->grad ? a + lay->grad : NULL;
}

/* Forward over B samples (B <= the layout's bact). Returns the status and the prediction
 * (the last parametric layer's activation buffer, after any activation on it). */
static tr_status tr__forward(const float **pred, const tr__run *r, const float *theta,
                             const float *x, int32_t B)
{
    const tr_model *m = r->m;
    const float *cur = x;
    float *slot = r->act; /* the next free activation buffer */
    float *out = NULL;    /* the buffer cur points into, once it is one */
    tr__geom g;
    tr_status st = TR_OK;
    for (int32_t i = 0; i < m->n_layers && st == TR_OK; i++) {
        const tr_layer *l = &m->layers[i];
        (void)tr__geometry(&g, l);
        switch (l->kind) {
        case TR_LAYER_DENSE:
            st = tr_dense_forward_f32(slot, cur, theta + l->w_off, theta + l->b_off, B, g.I,
                                      g.O);
            break;
        case TR_LAYER_CONV1D:
            st = tr_conv1d_forward_f32(slot, cur, theta + l->w_off, theta + l->b_off, B, g.L,
                                       g.C_in, g.C_out, g.K, g.s, g.d, g.code);
            break;
        case TR_LAYER_RELU:
            st = tr_relu_forward_f32(out, out, B * g.in_n);
            break;
        case TR_LAYER_TANH:
            st = tr_tanh_forward_f32(out, out, B * g.in_n);
            break;
        default: /* flatten */
            break;
        }
        if (tr__is_param(l->kind)) {
            out = slot;
            cur = slot;
            slot += (size_t)B * (size_t)g.out_n;
        }
    }
    *pred = cur;
    return st;
}

/* ----------------------------------------------------- per-sample loops (FUSED, ACCUM) */

/* Dense, one sample: dx[i] = 0 + sum over o ascending of dy[o]*w[o][i] (tr_dense_backward_f32's
 * order); dx may be NULL. With update: each w[o][i] is read for dx, then replaced by
 * w - lr*(0 + dy[o]*x[i]); b[o] by b - lr*(0 + dy[o]). With grad (gw, gb): += instead. */
static void tr__dense_sample(float *dx, float *w, float *b, float *gw, float *gb,
                             const float *dy, const float *x, int32_t I, int32_t O, float lr)
{
    if (dx) {
        for (int32_t i = 0; i < I; i++) {
            dx[i] = 0.0f;
        }
    }
    for (int32_t o = 0; o < O; o++) {
        const float g = dy[o];
        float *wo = w + (size_t)o * (size_t)I; /* [I] */
        if (gw) {
            float *gwo = gw + (size_t)o * (size_t)I; /* [I] */
            if (dx) {
                for (int32_t i = 0; i < I; i++) {
                    dx[i] += g * wo[i];
                }
            }
            for (int32_t i = 0; i < I; i++) {
                gwo[i] += g * x[i];
            }
            gb[o] += g;
        } else if (dx) {
            for (int32_t i = 0; i < I; i++) {
                float wi = wo[i];
                dx[i] += g * wi;
                float gi = 0.0f + g * x[i];
                wo[i] = wi - lr * gi;
            }
            b[o] = b[o] - lr * (0.0f + g);
        } else {
            for (int32_t i = 0; i < I; i++) {
                float gi = 0.0f + g * x[i];
                wo[i] = wo[i] - lr * gi;
            }
            b[o] = b[o] - lr * (0.0f + g);
        }
    }
}

/* The first tap row t0 and the end t1 of the rows t in [0, L_out) whose tap k lands inside
 * [0, L): p = t*s + k*d - pad. */
static void tr__rows(int32_t *t0, int32_t *t1, const tr__geom *g, int32_t k)
{
    tr__taps(t0, t1, (int64_t)k * g->d - g->pad, g->s, g->L_out, g->L);
}

/* Conv1d, one sample, dx: dx[l][ci] = 0 + sum over k ascending (the row t with p(t,k) = l, if
 * any), then co ascending, of w[co][k][ci]*dy[t][co] (tr_conv1d_backward_f32's order). */
static void tr__conv1d_dx(float *dx, const float *w, const float *dy, const tr__geom *g)
{
    const size_t wco = (size_t)g->K * (size_t)g->C_in;
    const int32_t n = g->L * g->C_in;
    for (int32_t j = 0; j < n; j++) {
        dx[j] = 0.0f;
    }
    for (int32_t k = 0; k < g->K; k++) {
        int32_t t0, t1;
        tr__rows(&t0, &t1, g, k);
        for (int32_t t = t0; t < t1; t++) {
            float *dxl = dx + (size_t)(t * g->s + k * g->d - g->pad) * (size_t)g->C_in;
            const float *dyt = dy + (size_t)t * (size_t)g->C_out; /* [C_out] */
            for (int32_t co = 0; co < g->C_out; co++) {
                const float *wr = w + (size_t)co * wco + (size_t)k * (size_t)g->C_in;
                const float gv = dyt[co];
                for (int32_t ci = 0; ci < g->C_in; ci++) {
                    dxl[ci] += wr[ci] * gv;
                }
            }
        }
    }
}

/* Conv1d, one sample, weights: per element the terms of tr_conv1d_backward_f32 for this sample,
 * t ascending (valid taps only): dw[co][k][ci] terms dy[t][co]*x[p(t,k)][ci], db[co] terms
 * dy[t][co]. With grad (gw, gb) they are added to it; else w = w - lr*(0 + terms...). */
static void tr__conv1d_weights(float *w, float *b, float *gw, float *gb, const float *dy,
                               const float *x, const tr__geom *g, float lr)
{
    const size_t wco = (size_t)g->K * (size_t)g->C_in;
    for (int32_t co = 0; co < g->C_out; co++) {
        float acc = gb ? gb[co] : 0.0f;
        for (int32_t t = 0; t < g->L_out; t++) {
            acc += dy[(size_t)t * (size_t)g->C_out + (size_t)co];
        }
        if (gb) {
            gb[co] = acc;
        } else {
            b[co] = b[co] - lr * acc;
        }
        for (int32_t k = 0; k < g->K; k++) {
            int32_t t0, t1;
            tr__rows(&t0, &t1, g, k);
            float *wk = (gw ? gw : w) + (size_t)co * wco + (size_t)k * (size_t)g->C_in;
            for (int32_t ci = 0; ci < g->C_in; ci++) {
                float a = gw ? wk[ci] : 0.0f;
                for (int32_t t = t0; t < t1; t++) {
                    const float *xp =
                        x + (size_t)(t * g->s + k * g->d - g->pad) * (size_t)g->C_in;
                    a += dy[(size_t)t * (size_t)g->C_out + (size_t)co] * xp[ci];
                }
                wk[ci] = gw ? a : wk[ci] - lr * a;
            }
        }
    }
}

/* ------------------------------------------------------------------------ backward */

/* The sample source of a step: x rows and targets either contiguous (idx NULL) or picked from
 * a store by idx. Labels in the store are int32 bit patterns kept in float slots. */
typedef struct {
    const float *x;       /* [n][in_n] */
    const float *target;  /* [n][out_n] (mse) */
    const int32_t *labels; /* [n] (softmax), or NULL when they are in `store_labels` */
    const float *store_labels; /* [n] label bits in float slots, or NULL */
    const int32_t *idx;   /* [B] row indices, or NULL: rows 0..B-1 */
} tr__src;

static int32_t tr__row(const tr__src *s, int32_t b)
{
    return s->idx ? s->idx[b] : b;
}

static int32_t tr__label(const tr__src *s, int32_t row)
{
    int32_t v;
    if (s->labels) {
        return s->labels[row];
    }
    memcpy(&v, &s->store_labels[row], sizeof v);
    return v;
}

/* Backward of one sample from dpred in dlt[0] (FUSED: update theta; ACCUM: add to grad). */
static tr_status tr__backward_sample(const tr__run *r, float *theta, const float *x, int fused,
                                     float lr)
{
    const tr_model *m = r->m;
    float *slot_end = r->act + r->info->acts; /* end of the last activation buffer */
    float *y = NULL;                          /* the output of the layer being undone */
    int cur = 0;                              /* the delta buffer holding dy */
    tr__geom g;
    tr_status st = TR_OK;
    for (int32_t i = m->n_layers - 1; i >= r->info->first && st == TR_OK; i--) {
        const tr_layer *l = &m->layers[i];
        (void)tr__geometry(&g, l);
        if (tr__is_param(l->kind)) {
            float *own = slot_end - g.out_n;                  /* this layer's output */
            const float *in = i > r->info->first ? own - g.in_n : x; /* its input */
            float *dx = i > r->info->first ? r->dlt[1 - cur] : NULL;
            float *w = theta + l->w_off, *b = theta + l->b_off;
            float *gw = fused ? NULL : r->grad + l->w_off;
            float *gb = fused ? NULL : r->grad + l->b_off;
            if (l->kind == TR_LAYER_DENSE) {
                tr__dense_sample(dx, w, b, gw, gb, r->dlt[cur], in, g.I, g.O, lr);
            } else {
                if (dx) {
                    tr__conv1d_dx(dx, w, r->dlt[cur], &g);
                }
                tr__conv1d_weights(w, b, gw, gb, r->dlt[cur], in, &g, lr);
            }
            slot_end = own;
            cur = 1 - cur;
            y = NULL;
        } else if (l->kind == TR_LAYER_RELU || l->kind == TR_LAYER_TANH) {
            y = slot_end - g.in_n; /* the preceding parametric layer's buffer: holds this output */
            if (l->kind == TR_LAYER_RELU) {
                st = tr_relu_backward_f32(r->dlt[cur], r->dlt[cur], y, g.in_n);
            } else {
                st = tr_tanh_backward_f32(r->dlt[cur], r->dlt[cur], y, g.in_n);
            }
        }
    }
    return st;
}

/* Backward of B samples at once with the kernels, gradients into grad. */
static tr_status tr__backward_batch(const tr__run *r, float *grad, const float *theta,
                                    const float *x, int32_t B)
{
    const tr_model *m = r->m;
    float *slot_end = r->act + (size_t)B * (size_t)r->info->acts;
    int cur = 0;
    tr__geom g;
    tr_status st = TR_OK;
    for (int32_t i = m->n_layers - 1; i >= r->info->first && st == TR_OK; i--) {
        const tr_layer *l = &m->layers[i];
        (void)tr__geometry(&g, l);
        if (tr__is_param(l->kind)) {
            float *own = slot_end - (size_t)B * (size_t)g.out_n;
            const float *in = i > r->info->first ? own - (size_t)B * (size_t)g.in_n : x;
            float *dx = i > r->info->first ? r->dlt[1 - cur] : NULL;
            if (l->kind == TR_LAYER_DENSE) {
                st = tr_dense_backward_f32(dx, grad + l->w_off, grad + l->b_off, r->dlt[cur],
                                           in, theta + l->w_off, B, g.I, g.O);
            } else {
                st = tr_conv1d_backward_f32(dx, grad + l->w_off, grad + l->b_off, r->dlt[cur],
                                            in, theta + l->w_off, B, g.L, g.C_in, g.C_out, g.K,
                                            g.s, g.d, g.code);
            }
            slot_end = own;
            cur = 1 - cur;
        } else if (l->kind == TR_LAYER_RELU || l->kind == TR_LAYER_TANH) {
            const float *y = slot_end - (size_t)B * (size_t)g.in_n;
            if (l->kind == TR_LAYER_RELU) {
                st = tr_relu_backward_f32(r->dlt[cur], r->dlt[cur], y, B * g.in_n);
            } else {
                st = tr_tanh_backward_f32(r->dlt[cur], r->dlt[cur], y, B * g.in_n);
            }
        }
    }
    return st;
}

/* Every label of the step's B samples in [0, classes). */
static tr_status tr__check_labels(const tr__run *r, const tr__src *s, int32_t B)
{
    if (r->m->loss != TR_LOSS_SOFTMAX_XENT) {
        return TR_OK;
    }
    for (int32_t b = 0; b < B; b++) {
        int32_t v = tr__label(s, tr__row(s, b));
        if (v < 0 || v >= r->info->out_n) {
            return TR_ERR_LABEL;
        }
    }
    return TR_OK;
}

/* Forward, loss and kernel backward over the contiguous batch of s (GRAD, and FUSED's first
 * half); the loss' dpred goes to dlt[0]. */
static tr_status tr__loss(float *loss, const tr__run *r, const float *pred, const tr__src *s,
                          int32_t B)
{
    if (r->m->loss == TR_LOSS_MSE) {
        return tr_mse_loss_f32(loss, r->dlt[0], pred, s->target, B * r->info->out_n);
    }
    if (s->labels) {
        return tr_softmax_xent_loss_f32(loss, r->dlt[0], pred, s->labels, B, r->info->out_n);
    }
    /* one stored label (B == 1): its bits out of the float slot */
    int32_t label = tr__label(s, 0);
    return tr_softmax_xent_loss_f32(loss, r->dlt[0], pred, &label, B, r->info->out_n);
}

/* One step on the samples of s; theta updated in place. Labels were checked. */
static tr_status tr__step(float *loss, const tr__run *r, float *theta, const tr__src *s,
                          int32_t B, float lr, int32_t mode)
{
    const tr__info *info = r->info;
    const float *pred;
    float l = 0.0f;
    tr_status st;
    if (mode == TR_TRAIN_GRAD || mode == TR_TRAIN_FUSED) {
        /* s is contiguous here (idx NULL; a stored sample is row 0 of its own buffer) */
        st = tr__forward(&pred, r, theta, s->x, B);
        if (st == TR_OK) {
            st = tr__loss(&l, r, pred, s, B);
        }
        if (st == TR_OK) {
            if (mode == TR_TRAIN_FUSED) {
                st = tr__backward_sample(r, theta, s->x, 1, lr);
            } else {
                st = tr__backward_batch(r, r->grad, theta, s->x, B);
                if (st == TR_OK) {
                    st = tr_sgd_step_f32(theta, r->grad, lr, r->m->n_params);
                }
            }
        }
    } else { /* ACCUM */
        int32_t n_total;
        float fn, scale, fB = (float)B;
        if (!tr__mul_ok(&n_total, B, info->out_n)) {
            return TR_ERR_SHAPE;
        }
        fn = (float)n_total;
        scale = 2.0f / fn;
        for (int32_t j = 0; j < r->m->n_params; j++) {
            r->grad[j] = 0.0f;
        }
        st = TR_OK;
        for (int32_t b = 0; b < B && st == TR_OK; b++) {
            int32_t row = tr__row(s, b);
            const float *xb = s->x + (size_t)row * (size_t)info->in_n;
            st = tr__forward(&pred, r, theta, xb, 1);
            if (st != TR_OK) {
                break;
            }
            if (r->m->loss == TR_LOSS_MSE) {
                tr__mse_terms(&l, r->dlt[0], pred,
                              s->target + (size_t)row * (size_t)info->out_n, info->out_n,
                              scale);
            } else {
                tr__softmax_xent_row(&l, r->dlt[0], pred, tr__label(s, row), info->out_n,
                                     fB);
            }
            st = tr__backward_sample(r, theta, xb, 0, lr); /* reads theta, adds to grad */
        }
        if (st == TR_OK) {
            if (r->m->loss == TR_LOSS_MSE) {
                l = n_total == 0 ? 0.0f : l / fn;
            } else {
                l = B == 0 ? 0.0f : l / fB;
            }
            st = tr_sgd_step_f32(theta, r->grad, lr, r->m->n_params);
        }
    }
    if (loss) {
        *loss = l;
    }
    return st;
}

/* The last step before the work: the arena's first `need` floats carved into the run r (with
 * the gradient buffer when with_grad), then the labels of the n sample rows of s checked. */
static tr_status tr__start(tr__run *r, float **a, void *arena, int32_t arena_bytes, int32_t need,
                           const tr_model *m, const tr__info *info, const tr__layout *lay,
                           int with_grad, const tr__src *s, int32_t n)
{
    *a = tr__arena(arena, arena_bytes, need);
    if (!*a) {
        return TR_ERR_BUFFER;
    }
    tr__carve(r, m, info, *a, lay, with_grad);
    return tr__check_labels(r, s, n);
}

/* --------------------------------------------------------------- public functions */

/* The NULL checks of a step's samples: x, and target or labels by the loss. */
static int tr__samples_ok(const tr_model *m, const float *x, const float *target,
                          const int32_t *labels)
{
    return x && (m->loss == TR_LOSS_MSE ? target != NULL : labels != NULL);
}

tr_status tr_model_forward_f32(float *y, void *arena, const float *theta, const float *x,
                               const tr_model *model, int32_t B, int32_t arena_bytes)
{
    tr__info info;
    tr__layout lay;
    tr__run r;
    float *a;
    const float *pred;
    tr_status st = tr__plan(&info, &lay, model, B, 0, TR_TRAIN_GRAD);
    if (st != TR_OK) {
        return st;
    }
    if (B == 0) {
        return TR_OK;
    }
    if (!y || !theta || !x || !arena) {
        return TR_ERR_NULL;
    }
    st = tr__start(&r, &a, arena, arena_bytes, lay.d0, model, &info, &lay, 0, NULL, 0);
    if (st == TR_OK) {
        st = tr__forward(&pred, &r, theta, x, B);
    }
    if (st == TR_OK) {
        const int32_t n = B * info.out_n; /* fits: part of the checked layout */
        for (int32_t j = 0; j < n; j++) {
            y[j] = pred[j];
        }
    }
    return st;
}

tr_status tr_model_backward_f32(float *grad, float *loss, void *arena, const float *theta,
                                const float *x, const float *target, const int32_t *labels,
                                const tr_model *model, int32_t B, int32_t arena_bytes)
{
    tr__info info;
    tr__layout lay;
    tr__run r;
    tr__src s = {x, target, labels, NULL, NULL};
    float *a;
    const float *pred;
    tr_status st = tr__plan(&info, &lay, model, B, 0, TR_TRAIN_GRAD);
    if (st != TR_OK) {
        return st;
    }
    if (!grad || !loss) {
        return TR_ERR_NULL;
    }
    if (B == 0) { /* what the kernels give for an empty batch: zero gradient, loss +0 */
        for (int32_t j = 0; j < model->n_params; j++) {
            grad[j] = 0.0f;
        }
        *loss = 0.0f;
        return TR_OK;
    }
    if (!theta || !arena || !tr__samples_ok(model, x, target, labels)) {
        return TR_ERR_NULL;
    }
    st = tr__start(&r, &a, arena, arena_bytes, lay.grad, model, &info, &lay, 0, &s, B);
    if (st == TR_OK) {
        st = tr__forward(&pred, &r, theta, x, B);
    }
    if (st == TR_OK) {
        st = tr__loss(loss, &r, pred, &s, B);
    }
    if (st == TR_OK) {
        st = tr__backward_batch(&r, grad, theta, x, B);
    }
    return st;
}

tr_status tr_model_train_step_f32(float *theta, float *loss, void *arena, const float *x,
                                  const float *target, const int32_t *labels,
                                  const tr_model *model, int32_t B, int32_t arena_bytes,
                                  float lr, int32_t mode)
{
    tr__info info;
    tr__layout lay;
    tr__run r;
    tr__src s = {x, target, labels, NULL, NULL};
    float *a;
    tr_status st = tr__plan(&info, &lay, model, B, 0, mode);
    if (st != TR_OK) {
        return st;
    }
    if (!theta || !arena || (B > 0 && !tr__samples_ok(model, x, target, labels))) {
        return TR_ERR_NULL;
    }
    st = tr__start(&r, &a, arena, arena_bytes, lay.samples, model, &info, &lay, 1, &s, B);
    if (st != TR_OK) {
        return st;
    }
    if (B == 0) { /* an empty batch: the kernels' zero gradient, then SGD */
        for (int32_t j = 0; j < model->n_params; j++) {
            r.grad[j] = 0.0f;
        }
        if (loss) {
            *loss = 0.0f;
        }
        return tr_sgd_step_f32(theta, r.grad, lr, model->n_params);
    }
    return tr__step(loss, &r, theta, &s, B, lr, mode);
}

/* phi = theta (phi may be theta). */
static void tr__copy(float *dst, const float *src, int32_t n)
{
    if (dst != src) {
        for (int32_t j = 0; j < n; j++) {
            dst[j] = src[j];
        }
    }
}

/* Copies sample `row` of (x, target | labels) into row `dst` of a sample store: xs [.][in_n],
 * ts [.][tgt] (mse: the target; softmax: the label's int32 bits in a float slot). */
static void tr__store(float *xs, float *ts, int32_t dst, const tr__info *info,
                      const tr_model *m, const float *x, const float *target,
                      const int32_t *labels, int32_t row)
{
    const float *xr = x + (size_t)row * (size_t)info->in_n;
    float *xd = xs + (size_t)dst * (size_t)info->in_n;
    for (int32_t i = 0; i < info->in_n; i++) {
        xd[i] = xr[i];
    }
    if (m->loss == TR_LOSS_MSE) {
        const float *tr = target + (size_t)row * (size_t)info->out_n;
        float *td = ts + (size_t)dst * (size_t)info->out_n;
        for (int32_t o = 0; o < info->out_n; o++) {
            td[o] = tr[o];
        }
    } else {
        memcpy(&ts[dst], &labels[row], sizeof(int32_t));
    }
}

tr_status tr_tinyreptile_device_round_f32(float *phi, float *losses, void *arena,
                                          const float *theta, const float *x,
                                          const float *target, const int32_t *labels,
                                          const tr_model *model, int32_t k,
                                          int32_t arena_bytes, float lr, int32_t mode)
{
    tr__info info;
    tr__layout lay;
    tr__run r;
    tr__src s = {x, target, labels, NULL, NULL};
    int32_t n;
    float *a;
    tr_status st = tr__plan(&info, &lay, model, 1, 1, mode);
    if (st != TR_OK) {
        return st;
    }
    if (k < 0 || !tr__mul_ok(&n, k, info.in_n) || !tr__mul_ok(&n, k, info.out_n)) {
        return TR_ERR_SHAPE;
    }
    if (!phi || !theta || !arena || (k > 0 && !tr__samples_ok(model, x, target, labels))) {
        return TR_ERR_NULL;
    }
    st = tr__start(&r, &a, arena, arena_bytes, lay.end, model, &info, &lay, 1, &s, k);
    if (st != TR_OK) {
        return st;
    }
    tr__copy(phi, theta, model->n_params);
    {
        /* the one sample in RAM: x [in_n], then its target [tgt] */
        float *xs = a + lay.samples, *ts = xs + info.in_n;
        tr__src one = {xs, ts, NULL, ts, NULL};
        for (int32_t j = 0; j < k && st == TR_OK; j++) {
            float l = 0.0f;
            tr__store(xs, ts, 0, &info, model, x, target, labels, j);
            st = tr__step(&l, &r, phi, &one, 1, lr, mode);
            if (losses) {
                losses[j] = l;
            }
        }
    }
    return st;
}

tr_status tr_reptile_device_round_f32(float *phi, float *losses, void *arena,
                                      const float *theta, const float *x, const float *target,
                                      const int32_t *labels, const int32_t *order,
                                      const tr_model *model, int32_t k, int32_t epochs,
                                      int32_t batch, int32_t arena_bytes, float lr)
{
    tr__info info;
    tr__layout lay;
    tr__run r;
    tr__src s = {x, target, labels, NULL, NULL};
    int32_t n, per_epoch;
    float *a;
    tr_status st = tr__check(&info, model);
    if (st != TR_OK) {
        return st;
    }
    if (epochs < 0 || batch < 1) {
        return TR_ERR_PARAM;
    }
    st = tr__layout_of(&lay, &info, model, batch, k, TR_TRAIN_ACCUM);
    if (st != TR_OK) {
        return st;
    }
    if (!tr__mul_ok(&n, k, info.in_n) || !tr__mul_ok(&n, k, info.out_n) ||
        !tr__mul_ok(&n, epochs, k)) {
        return TR_ERR_SHAPE;
    }
    per_epoch = k / batch + (k % batch != 0);
    if (!phi || !theta || !arena || (k > 0 && !tr__samples_ok(model, x, target, labels)) ||
        (k > 0 && epochs > 0 && !order)) {
        return TR_ERR_NULL;
    }
    for (int32_t j = 0; j < n; j++) { /* n = epochs * k */
        if (order[j] < 0 || order[j] >= k) {
            return TR_ERR_PARAM;
        }
    }
    st = tr__start(&r, &a, arena, arena_bytes, lay.end, model, &info, &lay, 1, &s, k);
    if (st != TR_OK) {
        return st;
    }
    tr__copy(phi, theta, model->n_params);
    {
        /* the store: xs [k][in_n], then ts [k][tgt] */
        float *xs = a + lay.samples, *ts = xs + (size_t)k * (size_t)info.in_n;
        int32_t step = 0;
        for (int32_t j = 0; j < k; j++) {
            tr__store(xs, ts, j, &info, model, x, target, labels, j);
        }
        for (int32_t e = 0; e < epochs && st == TR_OK; e++) {
            for (int32_t q = 0; q < per_epoch && st == TR_OK; q++) {
                int32_t s0 = q * batch;
                int32_t nb = k - s0 < batch ? k - s0 : batch;
                tr__src mb = {xs, ts, NULL, ts, order + (size_t)e * (size_t)k + (size_t)s0};
                float l = 0.0f;
                st = tr__step(&l, &r, phi, &mb, nb, lr, TR_TRAIN_ACCUM);
                if (losses) {
                    losses[step] = l;
                }
                step++;
            }
        }
    }
    return st;
}
