/* plan.c - what each kernel's program must do, decided from the IR alone:
 * the fused elementwise ops, the form of each operand (the chain value, a
 * streamed source, a scalar, a per-column vector or a full resident block)
 * and the key that identifies the program, so kernels with the same key
 * share one module. */
#include "cgi.h"

#include <string.h>

/* The ABI numbers kinds as the IR does, and every source has a task id. */
_Static_assert((int)WSE_KIND_INPUT == (int)IR_KK_INPUT && (int)WSE_KIND_GEMV == (int)IR_KK_GEMV &&
                   (int)WSE_KIND_MAP == (int)IR_KK_MAP && (int)WSE_KIND_MOVE == (int)IR_KK_MOVE &&
                   (int)WSE_KIND_GENERIC + 1 == (int)IR_NKKINDS,
               "wse_abi.h's kinds follow ir_kkind");
/* The fused ops' streams leave room for a kernel's own sources (main
 * input, north or west, statistics, relay). */
#define MAX_PLAN_SOURCES (WSE_MAX_SRC - 4)

static bool supported_op(ir_op op) {
    switch (op) {
    case IR_NEG:
    case IR_ABS:
    case IR_EXP:
    case IR_LOG:
    case IR_SQRT:
    case IR_RSQRT:
    case IR_SIN:
    case IR_COS:
    case IR_TANH:
    case IR_ERF:
    case IR_SIGMOID:
    case IR_RELU:
    case IR_SILU:
    case IR_GELU:
    case IR_ADD:
    case IR_SUB:
    case IR_MUL:
    case IR_DIV:
    case IR_POW:
    case IR_MAXIMUM:
    case IR_MINIMUM:
    case IR_CAUSAL_MASK: return true;
    default: return false;
    }
}

static void unsupported(cg_plan *p, const char *fmt, const char *what) {
    if (p->why[0]) return;
    snprintf(p->why, sizeof p->why, fmt, what);
}

static int add_source(cg_plan *p, ir_ref r) {
    for (int s = 0; s < p->nsrc; s++)
        if (p->src[s] == r) return s;
    if (p->nsrc == MAX_PLAN_SOURCES) {
        unsupported(p, "more than %s streamed operands", "4");
        return 0;
    }
    p->src[p->nsrc] = r;
    return p->nsrc++;
}

/* The form of operand r of an op whose result has shape `out`. */
static cg_arg classify(const ir_graph *g, cg_plan *p, ir_ref r, ir_ref chain, const ir_shape *out) {
    const ir_node *n = &g->nodes[r];
    if (r == chain) return (cg_arg){CG_CHAIN, 0};
    if (!ir_is_resident(g, r)) {
        if (!ir_shape_eq(&n->shape, out)) unsupported(p, "a broadcast streamed operand%s", "");
        /* Streams reach a gemv's rows by its contraction slices, not the
         * bottom row's columns (lowering does not fuse such ops). */
        if (p->kind == IR_KK_GEMV || p->kind == IR_KK_MATMUL || p->kind == IR_KK_GATHER)
            unsupported(p, "a streamed operand in a %s's fused ops", ir_kkind_name(p->kind));
        return (cg_arg){CG_STREAM, add_source(p, r)};
    }
    if (p->nslots == WSE_MAX_OPERAND) {
        unsupported(p, "more than %s resident operands", "16");
        return (cg_arg){CG_SCALAR, 0};
    }
    int slot = p->nslots++;
    p->slot_ref[slot] = r;
    if (ir_shape_numel(&n->shape) == 1) return (cg_arg){CG_SCALAR, slot};
    if (ir_shape_eq(&n->shape, out)) return (cg_arg){CG_FULL, slot};
    /* Broadcast along rows: every axis but the last is 1 (or absent). */
    bool vector = out->rank >= 1 && n->shape.rank >= 1 && n->shape.rank <= out->rank &&
                  n->shape.d[n->shape.rank - 1] == out->d[out->rank - 1];
    for (int i = 0; vector && i < n->shape.rank - 1; i++)
        vector = n->shape.d[i] == 1;
    /* anything else is expanded to the output's shape in each PE's image */
    return (cg_arg){vector ? CG_VECTOR : CG_FULL, slot};
}

static void add_op(const ir_graph *g, cg_plan *p, ir_ref node, ir_ref chain) {
    const ir_node *n = &g->nodes[node];
    if (!supported_op(n->op)) unsupported(p, "op '%s' in a PE program", ir_ops[n->op].name);
    if (n->dtype != IR_F32) unsupported(p, "element type %s", ir_dtype_name(n->dtype));
    if (p->nops == CG_MAX_OPS) {
        unsupported(p, "more than %s fused ops", "32");
        return;
    }
    cg_fop *f = &p->ops[p->nops++];
    f->op = n->op;
    f->approx = n->op == IR_GELU && n->a.approx_tanh;
    f->nin = n->nin > 3 ? 3 : n->nin;
    for (int k = 0; k < f->nin; k++)
        f->a[k] = classify(g, p, n->in[k], chain, &n->shape);
}

/* The reduction of a row kernel's op, or -1 when no row program does it. */
static int row_op(const ir_graph *g, const ir_node *n) {
    const ir_node *x = &g->nodes[n->in[0]];
    int rank = x->shape.rank;
    switch (n->op) {
    case IR_SOFTMAX: return n->a.axis == rank - 1 || n->a.axis == -1 ? WSE_ROW_SOFTMAX : -1;
    case IR_LAYERNORM: return WSE_ROW_LAYERNORM;
    case IR_RMSNORM: return WSE_ROW_RMSNORM;
    default: break;
    }
    if (rank < 1 || n->a.axes != 1u << (rank - 1)) return -1;
    switch (n->op) {
    case IR_REDUCE_SUM: return WSE_ROW_SUM;
    case IR_REDUCE_MEAN: return WSE_ROW_MEAN;
    case IR_REDUCE_MAX: return WSE_ROW_MAX;
    case IR_REDUCE_MIN: return WSE_ROW_MIN;
    default: return -1;
    }
}

void cg_plan_kernel(const ir_graph *g, const ir_kernel *k, cg_plan *p) {
    memset(p, 0, sizeof *p);
    p->kind = k->kind;
    p->gemv_x = IR_NONE;
    p->row_op = -1;
    const ir_node *n0 = &g->nodes[k->nodes[0]];
    p->dtype = g->nodes[k->node].dtype;
    switch (k->kind) {
    case IR_KK_INPUT:
    case IR_KK_OUTPUT:
        /* Host-facing kernels pass their value's 32-bit words through as
         * source 0 (an output of a resident value sends it from SRAM). */
        if (!(k->kind == IR_KK_OUTPUT && ir_is_resident(g, k->node))) add_source(p, k->node);
        break;
    case IR_KK_GEMV:
        p->bias = n0->op == IR_LINEAR;
        p->gemv_x = n0->in[0];
        if (n0->dtype != IR_F32) unsupported(p, "element type %s", ir_dtype_name(n0->dtype));
        for (int32_t j = 1; j < k->nnodes; j++)
            add_op(g, p, k->nodes[j], k->nodes[j - 1]);
        break;
    case IR_KK_MATMUL: {
        const ir_node *a = &g->nodes[n0->in[0]], *b = &g->nodes[n0->in[1]];
        if (n0->dtype != IR_F32) unsupported(p, "element type %s", ir_dtype_name(n0->dtype));
        if (n0->a.ta) unsupported(p, "a transposed left operand%s", "");
        if (ir_is_resident(g, n0->in[0]) || ir_is_resident(g, n0->in[1]))
            unsupported(p, "a matmul of a weight and a stream other than x @ W%s", "");
        if (a->shape.rank < 2 || b->shape.rank < 2) unsupported(p, "a matmul of vectors%s", "");
        int64_t ba = a->shape.rank < 2 ? 1
                                       : ir_shape_numel(&a->shape) / a->shape.d[a->shape.rank - 1] /
                                             a->shape.d[a->shape.rank - 2];
        int64_t bb = b->shape.rank < 2 ? 1
                                       : ir_shape_numel(&b->shape) / b->shape.d[b->shape.rank - 1] /
                                             b->shape.d[b->shape.rank - 2];
        if (ba != bb && ba != 1 && bb != 1) unsupported(p, "a matmul broadcasting batches%s", "");
        if (ba == 1 && bb != 1) unsupported(p, "a matmul of one left matrix and batches%s", "");
        for (int32_t j = 1; j < k->nnodes; j++)
            add_op(g, p, k->nodes[j], k->nodes[j - 1]);
        break;
    }
    case IR_KK_GATHER: {
        const ir_node *tab = &g->nodes[n0->in[0]], *idx = &g->nodes[n0->in[1]];
        if (n0->dtype != IR_F32) unsupported(p, "element type %s", ir_dtype_name(n0->dtype));
        if (!ir_is_resident(g, n0->in[0]) || tab->shape.rank != 2)
            unsupported(p, "a gather from other than a resident table%s", "");
        if (ir_is_resident(g, n0->in[1])) unsupported(p, "a gather with resident indices%s", "");
        if (idx->dtype != IR_I32) unsupported(p, "indices of type %s", ir_dtype_name(idx->dtype));
        for (int32_t j = 1; j < k->nnodes; j++)
            add_op(g, p, k->nodes[j], k->nodes[j - 1]);
        break;
    }
    case IR_KK_GENERIC:
        /* the library evaluates the op; the image builder binds operands */
        if (n0->nin > WSE_G_MAX_IN)
            unsupported(p, "more than %s operands in a generic kernel", "4");
        if (n0->op == IR_CONCAT || n0->op == IR_WHERE || n0->op == IR_LINEAR) {
            int streams = 0;
            for (int o = 0; o < n0->nin; o++)
                streams += !ir_is_resident(g, n0->in[o]);
            if (streams > WSE_MAX_SRC - 1) unsupported(p, "too many streamed operands%s", "");
        }
        p->gen_op = n0->op;
        break;
    case IR_KK_MOVE:
        /* Moves copy 32-bit words: every operand streams in as a source. */
        if (ir_dtype_size(n0->dtype) != 4 && n0->dtype != IR_BOOL)
            unsupported(p, "element type %s", ir_dtype_name(n0->dtype));
        if (n0->nin > MAX_PLAN_SOURCES + 3)
            unsupported(p, "a concat of more than 7 operands%s", "");
        for (int o = 0; o < n0->nin; o++) {
            if (ir_is_resident(g, n0->in[o])) unsupported(p, "a resident operand of a move%s", "");
            if (p->nsrc < WSE_MAX_SRC - 1) p->src[p->nsrc++] = n0->in[o];
        }
        break;
    case IR_KK_ROW: {
        p->row_op = row_op(g, n0);
        if (p->row_op < 0)
            unsupported(p, "op '%s' over other than the last axis in a row program",
                        ir_ops[n0->op].name);
        if (n0->dtype != IR_F32) unsupported(p, "element type %s", ir_dtype_name(n0->dtype));
        /* gamma and beta take operand slots 0 and 1, the library's
         * convention; they must be resident vectors over the row. */
        for (int o = 1; o < n0->nin; o++) {
            cg_arg a = classify(g, p, n0->in[o], IR_NONE, &n0->shape);
            if (a.form != CG_VECTOR || a.idx != o - 1)
                unsupported(p, "a norm's gain or bias that is not a resident vector%s", "");
        }
        for (int32_t j = 1; j < k->nnodes; j++)
            add_op(g, p, k->nodes[j], k->nodes[j - 1]);
        break;
    }
    case IR_KK_MAP:
        for (int32_t j = 0; j < k->nnodes; j++)
            add_op(g, p, k->nodes[j], j ? k->nodes[j - 1] : IR_NONE);
        if (!p->nsrc) unsupported(p, "a map kernel without streamed operands%s", "");
        break;
    default: unsupported(p, "%s kernels (no program yet)", ir_kkind_name(k->kind)); break;
    }
    p->nplan = p->nsrc;
    p->supported = !p->why[0];

    /* The key: everything the generated code depends on, nothing per PE. */
    size_t len = 0, cap = sizeof p->key;
#define KEY(...)                                                                                   \
    do {                                                                                           \
        int w_ = snprintf(p->key + len, cap - len, __VA_ARGS__);                                   \
        if (w_ > 0) len = len + (size_t)w_ < cap ? len + (size_t)w_ : cap - 1;                     \
    } while (0)
    KEY("%s %s", ir_kkind_name(p->kind), ir_dtype_name(p->dtype));
    if (!p->supported) {
        /* Traps are shared by kind and ops alone. */
        KEY(" unsupported");
        for (int32_t j = 0; j < k->nnodes; j++)
            KEY(" %s", ir_ops[g->nodes[k->nodes[j]].op].name);
        return;
    }
    if (p->bias) KEY(" +bias");
    if (p->row_op >= 0) KEY(" row_op=%d", p->row_op);
    if (p->kind == IR_KK_GENERIC) KEY(" op=%s", ir_ops[p->gen_op].name);
    KEY(" sources=%d", p->nsrc);
    static const char form[] = "cssvf"; /* chain, stream, scalar, vector, full */
    for (int i = 0; i < p->nops; i++) {
        const cg_fop *f = &p->ops[i];
        KEY(" %s%s(", ir_ops[f->op].name, f->approx ? "~tanh" : "");
        for (int a = 0; a < f->nin; a++)
            KEY("%s%c%d", a ? "," : "", f->a[a].form == CG_SCALAR ? 'i' : form[f->a[a].form],
                f->a[a].idx);
        KEY(")");
    }
#undef KEY
}
