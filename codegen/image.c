/* image.c - every PE's initial SRAM (its parameter block of
 * runtime/wse_abi.h, its share of the weights and resident operands) and
 * the host I/O map, from the placed, routed kernel graph. The block says
 * which colour feeds which data task and what each incoming net carries
 * (docs/execution.md), so the programs themselves know nothing of the
 * placement. */
#include "cgi.h"

#include "../runtime/rt.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef struct builder {
    const ir_graph *g;     /* the model */
    const ir_kgraph *kg;   /* placed kernels */
    const ir_target *t;    /* the machine */
    const rt_routes *rt;   /* routed nets */
    ir_diag *d;            /* errors */
    ir_tensor **val;       /* per node: resident values evaluated so far */
    int32_t *in_first;     /* per PE (y * width + x) of kernels: first incoming net entry */
    int32_t *in_next;      /* chain of (net, sink) entries */
    int32_t *in_net;       /* the net of each entry */
    int32_t *out_first;    /* per PE: first net it sends */
    int32_t *out_next;     /* chain over nets */
    uint32_t *used_colors; /* per PE index: colours configured at its router (bits) */
    int32_t *pe_index;     /* per fabric PE: index into the arrays above, or -1 */
    int32_t npe;           /* PEs indexed */
    rt_images *im;         /* the result */
} builder;

static int64_t last_dim(const ir_node *n) {
    return n->shape.rank ? n->shape.d[n->shape.rank - 1] : 1;
}

static int64_t rows_of(const ir_node *n) {
    int64_t c = last_dim(n);
    return ir_shape_numel(&n->shape) / (c ? c : 1);
}

/* A resident value (weights, views of them), evaluated once. NULL (with
 * an error reported) when the value, or one it is computed from, is too
 * big: for the host's memory, or for the whole fabric's SRAM. */
static const ir_tensor *resident(builder *B, ir_ref r) {
    if (B->val[r]) return B->val[r];
    const ir_node *n = &B->g->nodes[r];
    /* A value with more elements than every PE's SRAM together could hold
     * as f32 is refused before it is evaluated: evaluating it could take
     * minutes and gigabytes of host memory for a model that cannot fit
     * anyway. (Its inputs are checked by the recursion, before they are
     * evaluated too.) */
    int64_t numel = ir_shape_numel(&n->shape);
    int64_t cap = (int64_t)B->t->width * B->t->height * (B->t->sram_bytes / 4);
    if (numel > cap) {
        ir_error(B->d, n->loc,
                 "the model does not fit the target: a value it computes from its params has "
                 "%lld elements, more than the %dx%d fabric's SRAM holds (%lld f32 values)",
                 (long long)numel, (int)B->t->width, (int)B->t->height, (long long)cap);
        return NULL;
    }
    ir_tensor *in[8] = {0};
    for (int k = 0; k < n->nin && k < 8; k++)
        if (!(in[k] = (ir_tensor *)resident(B, n->in[k]))) return NULL;
    int errors = ir_diag_errors(B->d);
    B->val[r] = ir_eval_node(B->g, n, in, 1, B->d);
    /* ir_eval_node reports what it refuses (a value too large for the
     * host's memory); failing silently would be a bug here. */
    if (!B->val[r] && ir_diag_errors(B->d) == errors)
        ir_internal_error("cannot evaluate the resident value %%%d", r);
    return B->val[r];
}

static float elem_f(const ir_tensor *t, int64_t i) {
    if (t->dtype == IR_I32) return (float)((const int32_t *)t->data)[i];
    if (t->dtype == IR_BOOL) return ((const uint8_t *)t->data)[i] ? 1.0f : 0.0f;
    return ((const float *)t->data)[i];
}

/* SRAM of the PE being built: the image grows as blocks are placed. Only
 * the parameter block and the data blocks go into the artifact: buffers
 * start zeroed, and between data blocks they would be most of the bytes
 * (a gemv's partial-sum buffer before its weights). */
typedef struct pe_mem {
    uint8_t *bytes;     /* sram_bytes, zeroed up to top */
    uint32_t top;       /* first free byte */
    uint32_t (*blk)[2]; /* data blocks as [offset, end), in address order */
    int32_t nblk;       /* data blocks */
    int32_t cap;        /* room in blk */
    bool full;          /* ran out */
} pe_mem;

static uint32_t alloc(pe_mem *m, const ir_target *t, uint64_t bytes) {
    uint64_t off = (m->top + 15u) & ~(uint64_t)15u;
    if (off + bytes > (uint64_t)t->sram_bytes) {
        m->full = true;
        return 0;
    }
    m->top = (uint32_t)(off + bytes);
    return (uint32_t)off;
}

/* Records [off, end) as initial data, joined to the previous block when
 * only alignment padding lies between them. */
static void add_block(pe_mem *m, uint32_t off, uint32_t end) {
    if (m->nblk && off - m->blk[m->nblk - 1][1] < 16) {
        m->blk[m->nblk - 1][1] = end;
        return;
    }
    if (m->nblk == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 16;
        m->blk = ir_xrealloc(m->blk, sizeof *m->blk * (size_t)m->cap);
    }
    m->blk[m->nblk][0] = off, m->blk[m->nblk][1] = end;
    m->nblk++;
}

/* The PE splits a producer element from the largest stride down, so the
 * axes go in that order, each with its step in the operand. */
static void to_wse_view(const ir_view *v, wse_view *w) {
    memset(w, 0, sizeof *w);
    w->rank = (uint32_t)v->rank;
    w->base = (uint32_t)v->base;
    int order[IR_MAX_RANK];
    ir_view_order(v, order);
    int64_t os[IR_MAX_RANK], st = 1;
    for (int i = v->rank - 1; i >= 0; i--)
        os[i] = st, st *= v->dim[i];
    for (int j = 0; j < v->rank; j++) {
        int i = order[j];
        w->dim[j] = (uint32_t)v->dim[i], w->stride[j] = (uint32_t)v->stride[i];
        w->ostride[j] = (uint32_t)os[i];
    }
}

/* A source over operand r (a view of a streamed value), keeping columns
 * [c0, c1) of each of its rows. */
static uint32_t add_filtered(builder *B, wse_params *P, pe_mem *m, ir_ref r, ir_keep kp) {
    uint32_t s = P->nsrc++;
    wse_source *S = &P->src[s];
    const ir_node *n = &B->g->nodes[r];
    S->ncol = (uint32_t)last_dim(n);
    S->rows = (uint32_t)rows_of(n);
    S->c0 = (uint32_t)kp.c0, S->c1 = (uint32_t)kp.c1;
    int64_t span = kp.rhi ? kp.rhi - kp.rlo : (int64_t)S->rows;
    S->rlo = (uint32_t)kp.rlo, S->rhi = (uint32_t)kp.rhi;
    S->krows = (uint32_t)span;
    if (kp.rmod) {
        S->rmod = (uint32_t)kp.rmod, S->r0 = (uint32_t)kp.r0, S->r1 = (uint32_t)kp.r1;
        S->krows = (uint32_t)(span / kp.rmod * (kp.r1 - kp.r0));
    }
    ir_view v;
    if (!ir_view_of(B->g, r, &v)) ir_internal_error("no view for %%%d", r);
    to_wse_view(&v, &S->view);
    S->off_buf = alloc(m, B->t, (uint64_t)S->krows * (uint64_t)(kp.c1 - kp.c0) * 4);
    S->off_cnt = alloc(m, B->t, (uint64_t)S->krows * 4);
    return s;
}

static uint32_t add_source(builder *B, wse_params *P, pe_mem *m, ir_ref r, int64_t c0, int64_t c1) {
    return add_filtered(B, P, m, r, (ir_keep){c0, c1, 0, 0, 0});
}

/* A source with no view: rows x ncol values sent in order by a PE of the
 * same kernel (north partial sums, statistics). */
static uint32_t add_plain(builder *B, wse_params *P, pe_mem *m, int64_t rows, int64_t ncol) {
    uint32_t s = P->nsrc++;
    wse_source *S = &P->src[s];
    S->ncol = (uint32_t)ncol;
    S->rows = (uint32_t)rows;
    S->c0 = 0, S->c1 = (uint32_t)ncol;
    S->krows = (uint32_t)rows;
    S->view.rank = 1;
    S->view.dim[0] = (uint32_t)(rows * ncol);
    S->view.stride[0] = 1;
    S->view.ostride[0] = 1;
    S->off_buf = alloc(m, B->t, (uint64_t)rows * (uint64_t)ncol * 4);
    S->off_cnt = alloc(m, B->t, (uint64_t)rows * 4);
    return s;
}

/* The relayed columns [lo, c0) of the kernel's own value, identity view. */
static uint32_t add_relay(builder *B, wse_params *P, pe_mem *m, const ir_kernel *k, int64_t lo,
                          int64_t c0) {
    return add_source(B, P, m, k->node, lo, c0);
}

/* Copies floats into a new data block; returns its offset. */
static uint32_t put_floats(builder *B, pe_mem *m, const float *v, int64_t n) {
    uint32_t off = alloc(m, B->t, (uint64_t)n * 4);
    if (!m->full && n) {
        memcpy(m->bytes + off, v, (size_t)n * 4);
        add_block(m, off, off + (uint32_t)n * 4);
    }
    return off;
}

/* The element of a value of shape `in` that broadcasts to element f of
 * shape `out` (axes aligned at the right; extent-1 axes repeat). */
static int64_t bcast_index(const ir_shape *out, const ir_shape *in, int64_t f) {
    int64_t idx = 0, stride = 1;
    for (int a = out->rank - 1, b = in->rank - 1; a >= 0; a--, b--) {
        int64_t i = f % out->d[a];
        f /= out->d[a];
        if (b >= 0) {
            if (in->d[b] != 1) idx += i * stride;
            stride *= in->d[b];
        }
    }
    return idx;
}

static uint32_t dt_code(ir_dtype t) {
    switch (t) {
    case IR_F16: return WSE_DT_F16;
    case IR_BF16: return WSE_DT_BF16;
    case IR_I32: return WSE_DT_I32;
    case IR_BOOL: return WSE_DT_BOOL;
    default: return WSE_DT_F32;
    }
}

/* A tensor element as the 32-bit word the wafer carries. */
static uint32_t word_of(const ir_tensor *t, int64_t i) {
    uint32_t u = 0;
    if (t->dtype == IR_BOOL)
        u = ((const uint8_t *)t->data)[i] != 0;
    else
        memcpy(&u, (const uint8_t *)t->data + 4 * i, 4);
    return u;
}

static int generic_op(ir_op op) {
    switch (op) {
#define G(x)                                                                                       \
    case IR_##x: return WSE_G_##x
        G(NEG);
        G(ABS);
        G(EXP);
        G(LOG);
        G(SQRT);
        G(RSQRT);
        G(SIN);
        G(COS);
        G(TANH);
        G(ERF);
        G(SIGMOID);
        G(RELU);
        G(SILU);
        G(GELU);
        G(ADD);
        G(SUB);
        G(MUL);
        G(DIV);
        G(POW);
        G(MAXIMUM);
        G(MINIMUM);
        G(LESS);
        G(GREATER);
        G(EQUAL);
        G(WHERE);
        G(MATMUL);
        G(LINEAR);
        G(SOFTMAX);
        G(LAYERNORM);
        G(RMSNORM);
        G(TRANSPOSE);
        G(CONCAT);
        G(GATHER);
        G(CAUSAL_MASK);
        G(CAST);
#undef G
    case IR_REDUCE_SUM: return WSE_G_SUM;
    case IR_REDUCE_MEAN: return WSE_G_MEAN;
    case IR_REDUCE_MAX: return WSE_G_MAX;
    case IR_REDUCE_MIN: return WSE_G_MIN;
    default: ir_internal_error("no generic program for op '%s'", ir_ops[op].name);
    }
}

/* Whether kernel ki reads value r as a stream (else it is resident). */
static bool is_streamed(const builder *B, int32_t ki, ir_ref r) {
    ir_ref base = ir_view_base(B->g, r);
    for (int32_t i = 0; i < B->kg->nk; i++)
        if (i != ki && B->kg->k[i].node == base && B->kg->k[i].kind != IR_KK_OUTPUT) return true;
    return false;
}

static int pe_slot(const builder *B, int32_t x, int32_t y) {
    return B->pe_index[(int64_t)y * B->t->width + x];
}

/* A colour no net uses at router (x, y). */
static int32_t free_color(builder *B, int32_t x, int32_t y) {
    int i = pe_slot(B, x, y);
    uint32_t used = i >= 0 ? B->used_colors[i] : 0;
    for (int32_t c = 0; c < B->t->colors && c < 32; c++)
        if (!(used >> c & 1)) {
            if (i >= 0) B->used_colors[i] |= 1u << c;
            return c;
        }
    return -1;
}

/* The graph input or output a host kernel carries, or NULL. */
static rt_host_io *host_io(const ir_graph *g, rt_images *im, const ir_kernel *k) {
    if (k->kind == IR_KK_INPUT) {
        for (int32_t i = 0, in = 0; i < g->nnodes; i++)
            if (g->nodes[i].op == IR_INPUT) {
                if (i == k->node) return &im->in[in];
                in++;
            }
    } else if (k->kind == IR_KK_OUTPUT) {
        for (int32_t i = 0; i < g->noutputs; i++)
            if (!strcmp(g->outputs[i].name, k->name)) return &im->out[i];
    }
    return NULL;
}

static bool build_pe(builder *B, int32_t ki, int32_t c, int32_t r, const cg_plan *pl, pe_mem *m) {
    const ir_graph *g = B->g;
    const ir_kernel *k = &B->kg->k[ki];
    const ir_node *n0 = &g->nodes[k->nodes[0]], *out = &g->nodes[k->node];
    int32_t x = k->x + c, y = k->y + r;
    memset(m->bytes, 0, m->top);
    m->full = false;
    wse_params *P = (wse_params *)(void *)m->bytes;
    m->top = (uint32_t)sizeof(wse_params);
    m->nblk = 0;
    add_block(m, 0, m->top);
    wse_params_blank(P, (uint32_t)k->kind);
    P->head.col = (uint32_t)c, P->head.row = (uint32_t)r;
    P->head.w = (uint32_t)k->w, P->head.h = (uint32_t)k->h;
    P->op = pl->row_op >= 0 ? (uint32_t)pl->row_op : 0;
    P->eps = (float)n0->a.eps;

    /* The output slice: lanes of rows for host columns, of columns else. */
    int64_t N = last_dim(out);
    bool host = k->kind == IR_KK_INPUT || k->kind == IR_KK_OUTPUT;
    int32_t lanes = host ? k->h : k->w, lane = host ? ir_kernel_chunk(k, r) : c;
    int64_t lo = (int64_t)lane * N / lanes, hi = (int64_t)(lane + 1) * N / lanes;
    P->n = (uint32_t)(hi - lo);
    P->out_c0 = (uint32_t)lo;
    P->out_ncol = (uint32_t)N;
    P->rows = (uint32_t)rows_of(out);
    P->mat_rows = (uint32_t)(out->shape.rank >= 2 ? out->shape.d[out->shape.rank - 2] : 1);

    /* An output of a resident value: its columns of every row, in SRAM. */
    if (k->kind == IR_KK_OUTPUT && pl->nsrc == 0) {
        const ir_tensor *v = resident(B, k->node);
        if (!v) return false;
        int64_t rows = P->rows;
        uint32_t *w = ir_xmalloc(sizeof(uint32_t) * (size_t)(rows * (hi - lo) + 1));
        for (int64_t t = 0; t < rows; t++)
            for (int64_t j = lo; j < hi; j++)
                w[t * (hi - lo) + j - lo] = word_of(v, t * N + j);
        P->opnd[0].off = put_floats(B, m, (const float *)(const void *)w, rows * (hi - lo));
        free(w);
    }
    /* The fused ops' streams first, in the plan's order, over this PE's
     * columns (they have the output's shape). */
    for (int s = 0; s < pl->nsrc; s++)
        if (k->kind == IR_KK_MOVE)
            add_filtered(B, P, m, pl->src[s], ir_lane_keep(g, k, pl->src[s], c));
        else
            add_source(B, P, m, pl->src[s], lo, hi);
    switch (k->kind) {
    case IR_KK_GENERIC: {
        wse_generic *G = &P->gen;
        G->op = (uint32_t)generic_op(n0->op);
        G->dtype = dt_code(n0->dtype);
        G->rank = (uint32_t)out->shape.rank;
        for (int a = 0; a < out->shape.rank; a++)
            G->dim[a] = (uint32_t)out->shape.d[a];
        G->nin = (uint32_t)n0->nin;
        for (int o = 0; o < n0->nin; o++) {
            ir_ref r0 = n0->in[o];
            const ir_node *x = &g->nodes[r0];
            wse_gopnd *gi = &G->in[o];
            gi->dtype = dt_code(x->dtype);
            gi->rank = (uint32_t)x->shape.rank;
            for (int a = 0; a < x->shape.rank; a++)
                gi->dim[a] = (uint32_t)x->shape.d[a];
            if (is_streamed(B, ki, r0)) {
                gi->src = add_source(B, P, m, r0, 0, last_dim(x));
            } else {
                gi->src = WSE_NONE;
                const ir_tensor *v = resident(B, r0);
                if (!v) return false;
                int64_t numel = ir_shape_numel(&v->shape);
                uint32_t *w = ir_xmalloc(sizeof(uint32_t) * (size_t)(numel + 1));
                for (int64_t e = 0; e < numel; e++)
                    w[e] = word_of(v, e);
                gi->off = put_floats(B, m, (const float *)(const void *)w, numel);
                free(w);
            }
        }
        G->axes = n0->op == IR_SOFTMAX || n0->op == IR_CONCAT ? (uint32_t)n0->a.axis : n0->a.axes;
        G->keepdims = n0->a.keepdims;
        for (int a = 0; a < out->shape.rank; a++)
            G->perm[a] = (uint32_t)n0->a.perm[a];
        G->flags = (n0->a.approx_tanh ? 1u : 0) | (n0->a.ta ? 2u : 0) | (n0->a.tb ? 4u : 0);
        G->eps = (float)n0->a.eps;
        break;
    }
    case IR_KK_MOVE: {
        P->mv_op = n0->op == IR_CONCAT;
        P->mv_rank = (uint32_t)out->shape.rank;
        for (int a = 0; a < out->shape.rank; a++) {
            P->mv_dim[a] = (uint32_t)out->shape.d[a];
            P->mv_perm[a] = n0->op == IR_TRANSPOSE ? (uint32_t)n0->a.perm[a] : (uint32_t)a;
        }
        if (n0->op == IR_CONCAT) {
            int ax = (int)n0->a.axis;
            P->mv_axis = (uint32_t)ax;
            uint32_t off = 0;
            for (int o = 0; o < n0->nin; o++) {
                P->mv_off[o] = off;
                off += (uint32_t)g->nodes[n0->in[o]].shape.d[ax];
            }
            P->mv_off[n0->nin] = off;
        }
        break;
    }
    case IR_KK_GEMV: {
        ir_ref xr = n0->in[0];
        int64_t K = last_dim(&g->nodes[xr]);
        int32_t ch = ir_kernel_chunk(k, r);
        int64_t k0 = (int64_t)ch * K / k->h, k1 = (int64_t)(ch + 1) * K / k->h;
        P->src_x = add_source(B, P, m, xr, k0, k1);
        P->k = (uint32_t)(k1 - k0);
        if (r > 0) P->src_north = add_plain(B, P, m, P->rows, P->n);
        /* W[k0..k1, lo..hi) row-major, whatever the IR's transposes */
        const ir_tensor *W = resident(B, n0->in[1]);
        if (!W) return false;
        int64_t wc = W->shape.d[1];
        float *blk = ir_xmalloc(sizeof(float) * (size_t)((k1 - k0) * (hi - lo) + 1));
        for (int64_t i = k0; i < k1; i++)
            for (int64_t j = lo; j < hi; j++)
                blk[(i - k0) * (hi - lo) + (j - lo)] =
                    n0->a.tb ? elem_f(W, j * wc + i) : elem_f(W, i * wc + j);
        P->off_w = put_floats(B, m, blk, (k1 - k0) * (hi - lo));
        free(blk);
        if (pl->bias && r + 1 == k->h) {
            const ir_tensor *b = resident(B, n0->in[2]);
            if (!b) return false;
            float *v = ir_xmalloc(sizeof(float) * (size_t)(hi - lo + 1));
            for (int64_t j = lo; j < hi; j++)
                v[j - lo] = elem_f(b, j);
            P->off_bias = put_floats(B, m, v, hi - lo);
            free(v);
        }
        break;
    }
    case IR_KK_MATMUL: {
        /* A's row times this PE's block of B: B's rows k0..k1 (its
         * contraction slice) and columns lo..hi, for every batch; split by
         * batches, the whole contraction for this row's batches */
        const ir_node *A = &g->nodes[n0->in[0]], *Bn = &g->nodes[n0->in[1]];
        int64_t K = last_dim(A), nb, b0 = 0, b1 = 0;
        int64_t k0 = (int64_t)r * K / k->h, k1 = (int64_t)(r + 1) * K / k->h;
        bool by_batch = ir_matmul_by_batch(g, k, &nb);
        if (by_batch) ir_batch_range(nb, k->h, r, &b0, &b1), k0 = 0, k1 = K;
        int64_t per_a = rows_of(A) / (by_batch ? nb : 1), per_b = rows_of(Bn) / (by_batch ? nb : 1);
        ir_keep ka = {k0, k1, 0, 0, 0, by_batch ? b0 * per_a : 0, by_batch ? b1 * per_a : 0};
        P->src_x = add_filtered(B, P, m, n0->in[0], ka);
        P->k = (uint32_t)(k1 - k0);
        ir_keep kb = n0->a.tb ? (ir_keep){k0, k1, last_dim(out) > 0 ? N : 1, lo, hi, 0, 0}
                              : (ir_keep){lo, hi, K, k0, k1, 0, 0};
        if (by_batch) kb.rlo = b0 * per_b, kb.rhi = b1 * per_b;
        P->src_b = add_filtered(B, P, m, n0->in[1], kb);
        P->kb = (uint32_t)(kb.r1 - kb.r0);
        P->b0 = (uint32_t)b0, P->b1 = (uint32_t)b1;
        P->tb = n0->a.tb;
        P->m = (uint32_t)(out->shape.rank >= 2 ? out->shape.d[out->shape.rank - 2] : 1);
        P->bat_a =
            (uint32_t)(rows_of(A) / (A->shape.rank >= 2 ? A->shape.d[A->shape.rank - 2] : 1));
        P->bat_b =
            (uint32_t)(rows_of(Bn) / (Bn->shape.rank >= 2 ? Bn->shape.d[Bn->shape.rank - 2] : 1));
        if (r > 0) P->src_north = add_plain(B, P, m, P->rows, P->n);
        break;
    }
    case IR_KK_GATHER: {
        /* table rows v0..v1 (this PE's row of the rectangle), columns lo..hi */
        const ir_tensor *T = resident(B, n0->in[0]);
        if (!T) return false;
        int64_t V = T->shape.d[0], D = T->shape.d[1];
        int64_t v0 = (int64_t)r * V / k->h, v1 = (int64_t)(r + 1) * V / k->h;
        const ir_node *I = &g->nodes[n0->in[1]];
        P->src_x = add_source(B, P, m, n0->in[1], 0, last_dim(I));
        P->m = (uint32_t)last_dim(I);
        P->k = (uint32_t)(v1 - v0), P->v0 = (uint32_t)v0, P->vrows = (uint32_t)V;
        float *blk = ir_xmalloc(sizeof(float) * (size_t)((v1 - v0) * (hi - lo) + 1));
        for (int64_t i = v0; i < v1; i++)
            for (int64_t j = lo; j < hi; j++)
                blk[(i - v0) * (hi - lo) + (j - lo)] = elem_f(T, i * D + j);
        P->off_w = put_floats(B, m, blk, (v1 - v0) * (hi - lo));
        free(blk);
        if (r > 0) P->src_north = add_plain(B, P, m, P->rows, P->n);
        break;
    }
    case IR_KK_ROW: {
        ir_ref xr = n0->in[0];
        int64_t K = last_dim(&g->nodes[xr]), rin = rows_of(&g->nodes[xr]);
        int64_t c0 = (int64_t)c * K / k->w, c1 = (int64_t)(c + 1) * K / k->w;
        P->src_x = add_source(B, P, m, xr, c0, c1);
        if (c > 0) P->src_west = add_plain(B, P, m, rin, 2);
        P->src_stats = add_plain(B, P, m, rin, 2);
        /* gamma and beta (slots 0, 1) are sliced by the input's columns */
        for (int o = 1; o < n0->nin; o++) {
            const ir_tensor *gv = resident(B, n0->in[o]);
            if (!gv) return false;
            float *v = ir_xmalloc(sizeof(float) * (size_t)(c1 - c0 + 1));
            for (int64_t j = c0; j < c1; j++)
                v[j - c0] = elem_f(gv, j);
            P->opnd[o - 1].off = put_floats(B, m, v, c1 - c0);
            free(v);
        }
        break;
    }
    default: break;
    }
    /* The fused ops' resident operands, sliced to this PE's columns. */
    int first_slot = k->kind == IR_KK_ROW ? n0->nin - 1 : 0;
    for (int s = first_slot; s < pl->nslots; s++) {
        const ir_tensor *v = resident(B, pl->slot_ref[s]);
        if (!v) return false;
        int64_t numel = ir_shape_numel(&v->shape);
        if (numel == 1) {
            P->opnd[s].imm = elem_f(v, 0);
        } else if (numel == N) {
            float *buf = ir_xmalloc(sizeof(float) * (size_t)(hi - lo + 1));
            for (int64_t j = lo; j < hi; j++)
                buf[j - lo] = elem_f(v, j);
            P->opnd[s].off = put_floats(B, m, buf, hi - lo);
            free(buf);
        } else {
            /* broadcast to the output's shape, then this PE's columns */
            int64_t rows = P->rows;
            float *buf = ir_xmalloc(sizeof(float) * (size_t)(rows * (hi - lo) + 1));
            for (int64_t t = 0; t < rows; t++)
                for (int64_t j = lo; j < hi; j++)
                    buf[t * (hi - lo) + j - lo] =
                        elem_f(v, bcast_index(&out->shape, &v->shape, t * N + j));
            P->opnd[s].off = put_floats(B, m, buf, rows * (hi - lo));
            free(buf);
        }
    }
    P->off_v = alloc(m, B->t, (uint64_t)(P->n > P->k ? P->n : P->k) * 4 + 4);

    /* Incoming nets: one data task each. */
    int pi = pe_slot(B, x, y);
    int nchan = 0;
    for (int32_t e = pi >= 0 ? B->in_first[pi] : -1; e >= 0; e = B->in_next[e]) {
        const rt_net *net = &B->rt->nets[B->in_net[e]];
        if (nchan == WSE_MAX_TASKS) {
            ir_error(B->d, IR_NOLOC,
                     "PE (%d,%d) of kernel '%s' receives more than %d nets; the PE has %d data "
                     "tasks",
                     x, y, k->name, WSE_MAX_TASKS, WSE_MAX_TASKS);
            return false;
        }
        wse_chan *ch = &P->chan[nchan];
        uint32_t mask = 0;
        switch (net->role) {
        case RT_NET_STREAM: {
            ir_ref base = B->kg->k[net->producer].node;
            for (uint32_t s = 0; s < P->nsrc; s++) {
                bool own =
                    s == P->src_north || s == P->src_west || s == P->src_stats || s == P->src_relay;
                ir_ref rs = IR_NONE;
                for (uint32_t q = 0; k->kind == IR_KK_GENERIC && q < P->gen.nin; q++)
                    if (P->gen.in[q].src == s) rs = n0->in[q];
                if (rs == IR_NONE)
                    rs = s < (uint32_t)pl->nsrc ? pl->src[s]
                         : s == P->src_x        ? n0->in[k->kind == IR_KK_GATHER ? 1 : 0]
                         : s == P->src_b && k->kind == IR_KK_MATMUL ? n0->in[1]
                                                                    : IR_NONE;
                if (!own && rs != IR_NONE && ir_view_base(g, rs) == base) mask |= 1u << s;
            }
            ch->np = (uint32_t)net->np, ch->lo = (uint32_t)net->lo, ch->hi = (uint32_t)net->hi;
            break;
        }
        case RT_NET_RELAY:
            P->src_relay = add_relay(B, P, m, k, net->lo, lo);
            mask = 1u << P->src_relay;
            ch->np = (uint32_t)net->np, ch->lo = (uint32_t)net->lo, ch->hi = (uint32_t)net->hi;
            break;
        case RT_NET_SOUTH:
            mask = P->src_north != WSE_NONE ? 1u << P->src_north : 0;
            ch->np = P->n, ch->lo = 0, ch->hi = P->n;
            break;
        case RT_NET_EAST:
        case RT_NET_BCAST:
            mask = 1u << (net->role == RT_NET_EAST ? P->src_west : P->src_stats);
            ch->np = 2, ch->lo = 0, ch->hi = 2;
            break;
        }
        if (!mask)
            ir_internal_error("net %d reaches PE (%d,%d) of '%s' but feeds nothing there",
                              B->in_net[e], x, y, k->name);
        ch->srcmask = mask;
        P->head.task_color[nchan++] = (uint32_t)net->color;
    }
    /* Outgoing nets. */
    for (int32_t i = pi >= 0 ? B->out_first[pi] : -1; i >= 0; i = B->out_next[i]) {
        const rt_net *net = &B->rt->nets[i];
        switch (net->role) {
        case RT_NET_STREAM:
        case RT_NET_RELAY: P->head.color_out = (uint32_t)net->color; break;
        case RT_NET_SOUTH: P->color_south = (uint32_t)net->color; break;
        case RT_NET_EAST: P->color_east = (uint32_t)net->color; break;
        case RT_NET_BCAST: P->color_bcast = (uint32_t)net->color; break;
        }
    }
    /* Host I/O on the edges: a colour free at the edge router. */
    if (host) {
        int32_t color = free_color(B, x, y);
        if (color < 0) {
            ir_error(B->d, IR_NOLOC, "edge PE (%d,%d) of '%s' has no colour left for the host link",
                     x, y, k->name);
            return false;
        }
        rt_host_io *io = host_io(g, B->im, k);
        if (k->kind == IR_KK_INPUT) {
            P->head.task_color[nchan] = (uint32_t)color;
            P->chan[nchan++] = (wse_chan){1u, (uint32_t)N, (uint32_t)lo, (uint32_t)hi};
        } else {
            P->head.color_out = (uint32_t)color;
        }
        if (!io) ir_internal_error("host kernel '%s' matches no graph input or output", k->name);
        io->lanes[r] = (rt_host_lane){x, y, color, lo, hi};
    }
    if (m->full) {
        ir_error(B->d, IR_NOLOC,
                 "kernel '%s' does not fit: PE (%d,%d) needs more than the target's %lld bytes "
                 "of SRAM for its parameters, weights and buffers",
                 k->name, c, r, (long long)B->t->sram_bytes);
        return false;
    }
    return true;
}

bool cg_build_images(const ir_graph *g, const ir_kgraph *kg, const ir_target *t,
                     const cg_programs *progs, const rt_routes *rt, rt_images *im, ir_diag *d) {
    memset(im, 0, sizeof *im);
    im->arena = ir_arena_new();
    builder B = {g, kg, t, rt, d, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, im};
    B.val = ir_xcalloc((size_t)g->nnodes + 1, sizeof *B.val);
    /* index the PEs of kernels and the edge routers */
    B.pe_index = ir_xmalloc(sizeof(int32_t) * (size_t)t->width * (size_t)t->height);
    memset(B.pe_index, 0xff, sizeof(int32_t) * (size_t)t->width * (size_t)t->height);
    for (int32_t i = 0; i < kg->nk; i++)
        for (int32_t y = kg->k[i].y; y < kg->k[i].y + kg->k[i].h; y++)
            for (int32_t x = kg->k[i].x; x < kg->k[i].x + kg->k[i].w; x++)
                B.pe_index[(int64_t)y * t->width + x] = B.npe++;
    B.in_first = ir_xmalloc(sizeof(int32_t) * ((size_t)B.npe + 1));
    B.out_first = ir_xmalloc(sizeof(int32_t) * ((size_t)B.npe + 1));
    B.used_colors = ir_xcalloc((size_t)B.npe + 1, sizeof(uint32_t));
    memset(B.in_first, 0xff, sizeof(int32_t) * ((size_t)B.npe + 1));
    memset(B.out_first, 0xff, sizeof(int32_t) * ((size_t)B.npe + 1));
    int64_t nsinks = 0;
    for (int32_t i = 0; i < rt->n; i++)
        nsinks += rt->nets[i].nsinks;
    B.in_next = ir_xmalloc(sizeof(int32_t) * ((size_t)nsinks + 1));
    B.in_net = ir_xmalloc(sizeof(int32_t) * ((size_t)nsinks + 1));
    B.out_next = ir_xmalloc(sizeof(int32_t) * ((size_t)rt->n + 1));
    /* lists in reverse so the chains come out in net order */
    int64_t e = 0;
    for (int32_t i = rt->n - 1; i >= 0; i--) {
        const rt_net *n = &rt->nets[i];
        int s = pe_slot(&B, n->sx, n->sy);
        if (s < 0) ir_internal_error("net %d starts outside every kernel", i);
        B.out_next[i] = B.out_first[s], B.out_first[s] = i;
        for (int32_t j = n->nsinks - 1; j >= 0; j--) {
            int q = pe_slot(&B, n->kx[j], n->ky[j]);
            if (q < 0) ir_internal_error("net %d ends outside every kernel", i);
            B.in_net[e] = i, B.in_next[e] = B.in_first[q], B.in_first[q] = (int32_t)e, e++;
        }
        for (int32_t j = 0; j < n->nhops; j++) {
            int q = pe_slot(&B, n->hops[j].x, n->hops[j].y);
            if (q >= 0 && n->color < 32) B.used_colors[q] |= 1u << n->color;
        }
    }
    /* host tensors: one entry per graph input and output */
    for (int32_t i = 0; i < g->nnodes; i++)
        im->nin += g->nodes[i].op == IR_INPUT;
    im->in = ir_alloc(im->arena, sizeof(rt_host_io) * ((size_t)im->nin + 1));
    im->nout = g->noutputs;
    im->out = ir_alloc(im->arena, sizeof(rt_host_io) * ((size_t)im->nout + 1));
    for (int32_t i = 0, in = 0; i < g->nnodes; i++)
        if (g->nodes[i].op == IR_INPUT) {
            rt_host_io *io = &im->in[in++];
            io->name = ir_sprintf(im->arena, "%s", g->nodes[i].name);
            io->dtype = g->nodes[i].dtype, io->shape = g->nodes[i].shape;
        }
    for (int32_t i = 0; i < g->noutputs; i++) {
        rt_host_io *io = &im->out[i];
        const ir_node *n = &g->nodes[g->outputs[i].ref];
        io->name = ir_sprintf(im->arena, "%s", g->outputs[i].name);
        io->dtype = n->dtype, io->shape = n->shape;
    }
    for (int32_t i = 0; i < kg->nk; i++) {
        const ir_kernel *k = &kg->k[i];
        if (k->kind != IR_KK_INPUT && k->kind != IR_KK_OUTPUT) continue;
        rt_host_io *io = host_io(g, im, k);
        if (!io) continue;
        io->nlanes = k->h;
        io->lanes = ir_alloc(im->arena, sizeof(rt_host_lane) * (size_t)k->h);
        /* each lane's edge PE; build_pe adds its colour and columns (a
         * kernel without a program keeps these, and wsc run refuses it) */
        for (int32_t r = 0; r < k->h; r++)
            io->lanes[r] = (rt_host_lane){k->x, k->y + r, 0, 0, 0};
    }

    im->pe = ir_alloc(im->arena, sizeof(rt_pe_image) * ((size_t)B.npe + 1));
    pe_mem m = {ir_xcalloc((size_t)t->sram_bytes + 16, 1), 0, NULL, 0, 0, false};
    cg_plan *pl = ir_xmalloc(sizeof *pl);
    bool ok = true;
    for (int32_t i = 0; i < kg->nk && ok; i++) {
        const ir_kernel *k = &kg->k[i];
        cg_plan_kernel(g, k, pl);
        for (int32_t r = 0; r < k->h && ok; r++)
            for (int32_t c = 0; c < k->w && ok; c++) {
                if (pl->supported) ok = build_pe(&B, i, c, r, pl, &m);
                rt_pe_image *p = &im->pe[im->npe++];
                p->x = k->x + c, p->y = k->y + r;
                p->kernel = i;
                p->program = progs->prog_of[i];
                p->used = pl->supported ? m.top : 0;
                /* the parameter block (segment 0), then the data blocks */
                p->nseg = pl->supported ? m.nblk : 0;
                p->seg = ir_alloc(im->arena, sizeof(rt_seg) * ((size_t)p->nseg + 1));
                for (int32_t s = 0; s < p->nseg; s++) {
                    uint32_t off = m.blk[s][0], len = m.blk[s][1] - off;
                    uint8_t *bytes = ir_alloc(im->arena, len);
                    memcpy(bytes, m.bytes + off, len);
                    p->seg[s] = (rt_seg){off, len, bytes};
                }
            }
    }
    free(pl);
    free(m.bytes), free(m.blk);
    for (int32_t i = 0; i < g->nnodes; i++)
        ir_tensor_free(B.val[i]);
    free(B.val), free(B.pe_index), free(B.in_first), free(B.out_first), free(B.used_colors);
    free(B.in_next), free(B.in_net), free(B.out_next);
    if (!ok) rt_images_free(im);
    return ok;
}
