/* canonicalize.c - the "canonicalize" pass: rewrites into the forms lowering
 * to wafer kernels wants, and drops ops that do nothing.
 *
 *   transpose(x, swap of the last two axes) feeding a matmul operand
 *       -> the matmul with ta / tb toggled, reading x (also linear's w, tb)
 *   matmul(x, w) + b, the matmul used only there, b of shape [N] or
 *   [1, .., 1, N] no longer than the result -> linear(x, w, reshape(b, [N]))
 *   reshape to the operand's shape, identity transpose, slice of a whole
 *   axis, cast to the operand's dtype -> the operand
 *   transpose(transpose(x)) -> one transpose; reshape(reshape(x)) -> one
 *
 * The graph is rebuilt in a forward sweep in which each node is simplified
 * as it is emitted, against operands that are already in canonical form.
 * That is what makes one sweep a fixed point: an operand is never a
 * transpose of a transpose or an identity, so every rule needs to look only
 * one node up, and a rule's output is itself canonical.
 *
 * The linear fusion needs to know that the matmul has no other user, which
 * a forward sweep cannot know yet, and identity removal changes use counts
 * (x@w feeding an identity reshape feeding the add). So fusion is a second
 * sweep over the canonical graph, with use counts taken from its live nodes
 * only: a transpose absorbed by the first sweep still "uses" its operand
 * until dce removes it, and must not block the fusion. The second sweep also
 * splits a transpose feeding a matmul that moves the contracted axis, like
 * [1, 2, 0], into a cheaper one ([1, 0, 2]) and a ta / tb flag, when the
 * matmul is its only user (see splittable).
 *
 * A third sweep splits a matmul or linear with a resident weight whose
 * every use is a slice of its last axis (attention's q, k and v out of one
 * projection) into one per slice, over the weight's (and bias's) matching
 * columns: slices of resident values cost nothing, and each consumer then
 * reads a product of its own instead of a third of one wide kernel, whose
 * lanes would all leave one row for three places and cross (docs/router.md).
 *
 * Every rewrite is re-inferred and must give the original node's type; if
 * it does not (an operand shape inference does not accept), the node is
 * emitted unchanged, so the pass can only lose an optimization, never
 * change a result. Nodes made unused are left for dce. */
#include "pass.h"
#include "rewrite.h"

#include <stdlib.h>

typedef struct sweep {
    ir_graph *src;   /* the graph being rewritten */
    ir_graph *dst;   /* the graph being built */
    ir_ref *map;     /* src ref -> dst ref */
    pass_refbuf buf; /* operands of the node being emitted */
} sweep;

static const ir_node *node(const ir_graph *g, ir_ref r) {
    return &g->nodes[r];
}

static bool is_identity_perm(const int8_t *perm, int rank) {
    for (int k = 0; k < rank; k++)
        if (perm[k] != k) return false;
    return true;
}

/* A transpose that exchanges the last two axes and keeps the others: what
 * the ta / tb flags of matmul mean. */
static bool swaps_last_two(const ir_node *t) {
    int r = t->shape.rank;
    if (t->op != IR_TRANSPOSE || r < 2) return false;
    for (int k = 0; k < r - 2; k++)
        if (t->a.perm[k] != k) return false;
    return t->a.perm[r - 2] == r - 1 && t->a.perm[r - 1] == r - 2;
}

/* Applies the local rules to p (a proto whose operands in[] are dst refs).
 * Returns the dst ref the node reduces to, or IR_NONE when a node remains
 * to be added; p and in[] may have been rewritten then, which *changed
 * says. */
static ir_ref simplify(const ir_graph *dst, ir_node *p, ir_ref *in, bool *changed) {
    switch (p->op) {
    case IR_CAST:
        if (node(dst, in[0])->dtype == p->a.dtype) return in[0];
        return IR_NONE;
    case IR_SLICE: {
        const ir_node *x = node(dst, in[0]);
        if (p->a.axis >= 0 && p->a.axis < x->shape.rank && p->a.start == 0 &&
            p->a.end == x->shape.d[p->a.axis])
            return in[0];
        return IR_NONE;
    }
    case IR_RESHAPE: {
        const ir_node *x = node(dst, in[0]);
        if (x->op == IR_RESHAPE) {
            in[0] = x->in[0]; /* the target shape alone decides a reshape */
            x = node(dst, in[0]);
            *changed = true;
        }
        if (ir_shape_eq(&x->shape, &p->shape)) return in[0];
        return IR_NONE;
    }
    case IR_TRANSPOSE: {
        int r = p->shape.rank;
        const ir_node *x = node(dst, in[0]);
        if (x->op == IR_TRANSPOSE) {
            /* Output axis k is x's axis p[k], which is x's operand's axis
             * q[p[k]]. */
            int8_t perm[IR_MAX_RANK];
            for (int k = 0; k < r; k++)
                perm[k] = x->a.perm[p->a.perm[k]];
            for (int k = 0; k < r; k++)
                p->a.perm[k] = perm[k];
            in[0] = x->in[0];
            *changed = true;
        }
        if (is_identity_perm(p->a.perm, r)) return in[0];
        return IR_NONE;
    }
    case IR_MATMUL:
    case IR_LINEAR:
        /* linear has no ta: only its weight (operand 1) can absorb. */
        for (int k = p->op == IR_MATMUL ? 0 : 1; k < 2; k++) {
            const ir_node *x = node(dst, in[k]);
            if (!swaps_last_two(x)) continue;
            in[k] = x->in[0];
            if (k == 0)
                p->a.ta = !p->a.ta;
            else
                p->a.tb = !p->a.tb;
            *changed = true;
        }
        return IR_NONE;
    default: return IR_NONE;
    }
}

/* Whether node p with operands in[] infers to exactly the type it has. */
static bool keeps_type(const ir_graph *dst, const ir_node *p, ir_ref *in, int nin) {
    ir_node t = *p;
    t.in = in;
    t.nin = nin;
    ir_err e;
    return ir_infer(dst, &t, &e) && t.dtype == p->dtype && ir_shape_eq(&t.shape, &p->shape);
}

/* Adds n with dst operands in[] in its simplest form, or returns the
 * existing node it reduces to. n's value, if any, moves to the copy. */
static ir_ref emit(sweep *s, ir_node *n, const ir_ref *in, int nin) {
    enum { MAXIN = 3 }; /* no rule applies to an op with more operands */
    if (nin <= MAXIN) {
        ir_node q = *n;
        ir_ref cur[MAXIN];
        for (int k = 0; k < nin; k++)
            cur[k] = in[k];
        bool changed = false;
        ir_ref r = simplify(s->dst, &q, cur, &changed);
        if (r != IR_NONE) {
            const ir_node *x = node(s->dst, r);
            if (x->dtype == n->dtype && ir_shape_eq(&x->shape, &n->shape)) return r;
        } else if (changed && keeps_type(s->dst, &q, cur, nin)) {
            ir_ref out = pass_copy_node(s->dst, &q, cur, nin);
            n->value = NULL; /* moved with the copy */
            return out;
        }
    }
    return pass_copy_node(s->dst, n, in, nin);
}

static void sweep_begin(sweep *s, ir_graph *src) {
    s->src = src;
    s->dst = pass_graph_begin(src);
    s->map = ir_xmalloc((size_t)(src->nnodes ? src->nnodes : 1) * sizeof *s->map);
}

static void sweep_end(sweep *s, ir_graph **gp) {
    pass_copy_outputs(s->dst, s->src, s->map);
    free(s->map);
    ir_graph_free(s->src);
    *gp = s->dst;
}

/* Node i of the sweep's source with its operands mapped and simplified. */
static ir_ref emit_mapped(sweep *s, int32_t i) {
    ir_node *n = &s->src->nodes[i];
    ir_ref *in = pass_refbuf_reserve(&s->buf, n->nin);
    for (int k = 0; k < n->nin; k++)
        in[k] = s->map[n->in[k]];
    return emit(s, n, in, n->nin);
}

/* ------------------------------------------- linear fusion, transpose split */

/* Use counts of g's nodes by its live nodes and outputs (an output is a use
 * that no rewrite may take away). */
static int32_t *live_uses(const ir_graph *g) {
    int32_t *uses = ir_xcalloc((size_t)(g->nnodes ? g->nnodes : 1), sizeof *uses);
    uint8_t *live = ir_xcalloc((size_t)(g->nnodes ? g->nnodes : 1), 1);
    for (int32_t k = 0; k < g->noutputs; k++) {
        live[g->outputs[k].ref] = 1;
        uses[g->outputs[k].ref]++;
    }
    for (int32_t i = g->nnodes - 1; i >= 0; i--) {
        if (!live[i]) continue;
        const ir_node *n = &g->nodes[i];
        for (int k = 0; k < n->nin; k++) {
            live[n->in[k]] = 1;
            uses[n->in[k]]++;
        }
    }
    free(live);
    return uses;
}

/* Whether operand m of add node a is a matmul that can absorb the other
 * operand b as linear's bias: used only by the add, not transposed on the
 * left, at least 2-D, and b is [N] or [1, .., 1, N] with N the last dim and
 * no more axes than the result, so the add neither broadcasts the matmul
 * nor adds leading axes. */
static bool fusable(const ir_graph *g, const int32_t *uses, const ir_node *a, ir_ref m, ir_ref b) {
    const ir_node *mm = &g->nodes[m], *bias = &g->nodes[b];
    if (mm->op != IR_MATMUL || mm->a.ta || uses[m] != 1 || m == b) return false;
    int r = mm->shape.rank, br = bias->shape.rank;
    if (r < 2 || br < 1 || br > r || bias->dtype != mm->dtype) return false;
    if (!ir_shape_eq(&a->shape, &mm->shape) || a->dtype != mm->dtype) return false;
    if (bias->shape.d[br - 1] != mm->shape.d[r - 1]) return false;
    for (int k = 0; k < br - 1; k++)
        if (bias->shape.d[k] != 1) return false;
    return true;
}

/* Which operand of add node i is the matmul to fuse: 0, 1, or -1. */
static int fusion_side(const ir_graph *g, const int32_t *uses, int32_t i) {
    const ir_node *a = &g->nodes[i];
    if (a->op != IR_ADD || a->nin != 2) return -1;
    if (fusable(g, uses, a, a->in[0], a->in[1])) return 0;
    if (fusable(g, uses, a, a->in[1], a->in[0])) return 1;
    return -1;
}

/* Whether operand k of matmul or linear node n (of g) is a transpose, used
 * only there, that moves its operand's last axis to the second-to-last
 * place. Such a transpose is one that keeps the last axis in place followed
 * by a swap of the last two axes, and the matmul's flag can absorb the swap:
 * what remains moves whole rows instead of single elements. The first sweep
 * absorbed the pure swaps; this catches compositions such as attention's
 * q @ transpose(k, [0, 2, 1]) with k = transpose(.., [1, 0, 2]), which the
 * first sweep composed into one transpose [1, 2, 0]. Only a transpose with
 * no other user is split, or both forms would stay. */
static bool splittable(const ir_graph *g, const int32_t *uses, const ir_node *n, int k) {
    if (k == 0 && n->op != IR_MATMUL) return false; /* linear has no ta */
    const ir_node *t = &g->nodes[n->in[k]];
    int r = t->shape.rank;
    return t->op == IR_TRANSPOSE && r >= 2 && uses[n->in[k]] == 1 && t->a.perm[r - 2] == r - 1;
}

static bool has_split(const ir_graph *g, const int32_t *uses, const ir_node *n) {
    if (n->op != IR_MATMUL && n->op != IR_LINEAR) return false;
    return splittable(g, uses, n, 0) || splittable(g, uses, n, 1);
}

/* Operand k of s->src's node n as a dst ref: split as above when it can be,
 * toggling *flag, else simply mapped. */
static ir_ref split_operand(sweep *s, const int32_t *uses, const ir_node *n, int k, bool *flag) {
    if (!splittable(s->src, uses, n, k)) return s->map[n->in[k]];
    const ir_node *t = &s->src->nodes[n->in[k]];
    int r = t->shape.rank;
    ir_node p = *t;
    p.a.perm[r - 2] = t->a.perm[r - 1];
    p.a.perm[r - 1] = t->a.perm[r - 2];
    p.shape.d[r - 2] = t->shape.d[r - 1];
    p.shape.d[r - 1] = t->shape.d[r - 2];
    ir_ref y = s->map[t->in[0]];
    *flag = !*flag;
    return emit(s, &p, &y, 1);
}

/* Emits matmul or linear node i of s->src with its operands split; IR_NONE
 * when inference does not accept the result (the caller copies the node). */
static ir_ref emit_split(sweep *s, const int32_t *uses, int32_t i) {
    const ir_node *n = &s->src->nodes[i];
    if (n->nin < 2 || n->nin > 3) return IR_NONE; /* broken; the verifier says so */
    ir_node q = *n;
    ir_ref in[3];
    for (int k = 0; k < n->nin; k++)
        in[k] = s->map[n->in[k]];
    in[0] = split_operand(s, uses, n, 0, &q.a.ta);
    in[1] = split_operand(s, uses, n, 1, &q.a.tb);
    if (!keeps_type(s->dst, &q, in, n->nin)) return IR_NONE;
    return pass_copy_node(s->dst, &q, in, n->nin);
}

/* Emits add node i of s->src as linear(x, w, bias); IR_NONE when inference
 * does not accept the linear (the caller emits the add). */
static ir_ref emit_linear(sweep *s, const int32_t *uses, int32_t i, int side) {
    const ir_node *a = &s->src->nodes[i];
    const ir_node *mm = &s->src->nodes[a->in[side]];
    const ir_node *bias = &s->src->nodes[a->in[1 - side]];
    ir_ref b = s->map[a->in[1 - side]];
    int64_t n = mm->shape.d[mm->shape.rank - 1];
    if (bias->shape.rank != 1) {
        ir_node rs = {0};
        rs.op = IR_RESHAPE;
        rs.dtype = bias->dtype;
        rs.shape = ir_shape_make(1, &n);
        rs.a.shape = rs.shape;
        rs.loc = bias->loc;
        b = emit(s, &rs, &b, 1);
    }
    ir_node lin = {0};
    lin.op = IR_LINEAR;
    lin.dtype = a->dtype;
    lin.shape = a->shape;
    lin.a.tb = mm->a.tb;
    lin.loc = a->loc;
    ir_ref in[3] = {s->map[mm->in[0]], IR_NONE, b};
    in[1] = split_operand(s, uses, mm, 1, &lin.a.tb);
    if (!keeps_type(s->dst, &lin, in, 3)) return IR_NONE;
    return emit(s, &lin, in, 3);
}

/* ----------------------------------------------------- column splits */

/* Whether matmul or linear node m (of g) has a resident 2-D weight (and
 * bias) and a use. Its uses are checked by split_columns. */
static bool column_split(const ir_graph *g, const int32_t *uses, ir_ref m) {
    const ir_node *n = &g->nodes[m];
    if ((n->op != IR_MATMUL && n->op != IR_LINEAR) || n->a.ta || !uses[m]) return false;
    if (n->nin < 2 || n->shape.rank < 2 || node(g, n->in[1])->shape.rank != 2) return false;
    return ir_is_resident(g, n->in[1]) && (n->nin < 3 || ir_is_resident(g, n->in[2]));
}

/* Slice node i of s->src, of a splittable product, as the product of the
 * weight's (and bias's) columns; IR_NONE when inference disagrees. */
static ir_ref emit_column(sweep *s, int32_t i) {
    const ir_node *sl = &s->src->nodes[i], *n = &s->src->nodes[sl->in[0]];
    ir_ref in[3] = {s->map[n->in[0]]};
    for (int k = 1; k < n->nin; k++) {
        /* the weight's columns are axis 1, or axis 0 when transposed */
        const ir_node *w = &s->src->nodes[n->in[k]];
        ir_node p = {0};
        p.op = IR_SLICE;
        p.dtype = w->dtype;
        p.shape = w->shape;
        p.a.axis = k == 2 ? 0 : n->a.tb ? 0 : 1;
        p.a.start = sl->a.start, p.a.end = sl->a.end;
        p.shape.d[p.a.axis] = sl->a.end - sl->a.start;
        p.loc = sl->loc;
        ir_ref wr = s->map[n->in[k]];
        if (!keeps_type(s->dst, &p, &wr, 1)) return IR_NONE;
        in[k] = pass_copy_node(s->dst, &p, &wr, 1);
    }
    ir_node q = *n;
    q.shape = sl->shape;
    q.loc = sl->loc;
    q.name = NULL;
    q.value = NULL;
    if (!keeps_type(s->dst, &q, in, n->nin)) return IR_NONE;
    return pass_copy_node(s->dst, &q, in, n->nin);
}

static void split_columns(ir_graph **gp) {
    ir_graph *g = *gp;
    int32_t *uses = live_uses(g);
    /* slices[m]: live uses of m that slice its last axis (a live node has
     * uses); an output is a use and no slice, so an output is never split */
    int32_t *slices = ir_xcalloc((size_t)(g->nnodes ? g->nnodes : 1), sizeof *slices);
    for (int32_t i = 0; i < g->nnodes; i++) {
        const ir_node *u = &g->nodes[i];
        if (u->op == IR_SLICE && uses[i] && u->a.axis == node(g, u->in[0])->shape.rank - 1)
            slices[u->in[0]]++;
    }
    uint8_t *split = ir_xcalloc((size_t)(g->nnodes ? g->nnodes : 1), 1);
    int32_t candidates = 0;
    for (int32_t i = 0; i < g->nnodes; i++)
        candidates += split[i] = slices[i] == uses[i] && column_split(g, uses, i);
    if (candidates > 0) {
        sweep s = {0};
        sweep_begin(&s, g);
        for (int32_t i = 0; i < s.src->nnodes; i++) {
            const ir_node *n = &s.src->nodes[i];
            ir_ref r = IR_NONE;
            if (n->op == IR_SLICE && split[n->in[0]]) r = emit_column(&s, i);
            s.map[i] = r != IR_NONE ? r : emit_mapped(&s, i);
        }
        sweep_end(&s, gp);
        free(s.buf.v);
    }
    free(split);
    free(slices);
    free(uses);
}

bool pass_canonicalize(ir_graph **gp, ir_diag *d) {
    sweep s = {0};
    sweep_begin(&s, *gp);
    for (int32_t i = 0; i < s.src->nnodes; i++)
        s.map[i] = emit_mapped(&s, i);
    sweep_end(&s, gp);

    /* The second sweep: fusion, and splitting transposes into matmuls.
     * fused[m] marks a matmul whose only user becomes a linear: it is copied
     * plainly (dce removes it) and the linear does the splitting. */
    ir_graph *g = *gp;
    int32_t *uses = live_uses(g);
    int8_t *side = ir_xmalloc((size_t)(g->nnodes ? g->nnodes : 1));
    uint8_t *fused = ir_xcalloc((size_t)(g->nnodes ? g->nnodes : 1), 1);
    int32_t candidates = 0;
    for (int32_t i = 0; i < g->nnodes; i++) {
        side[i] = (int8_t)fusion_side(g, uses, i);
        if (side[i] >= 0) fused[g->nodes[i].in[side[i]]] = 1;
        candidates += side[i] >= 0 || has_split(g, uses, &g->nodes[i]);
    }
    if (candidates > 0) {
        sweep_begin(&s, g);
        for (int32_t i = 0; i < s.src->nnodes; i++) {
            const ir_node *n = &s.src->nodes[i];
            ir_ref r = IR_NONE;
            if (side[i] >= 0)
                r = emit_linear(&s, uses, i, side[i]);
            else if (!fused[i] && has_split(s.src, uses, n))
                r = emit_split(&s, uses, i);
            s.map[i] = r != IR_NONE ? r : emit_mapped(&s, i);
        }
        sweep_end(&s, gp);
    }
    free(side);
    free(fused);
    free(uses);
    free(s.buf.v);
    split_columns(gp);
    return true;
}
