/* view.c - reshapes, slices and row permutations of streamed values as
 * addressing: an operand
 * that is a view of a kernel's value is an affine map from the operand's
 * indices to the value's elements (docs/execution.md), which the nets, the
 * SRAM images and the PE programs all use to find which element is which. */
#include "ir.h"

#include <string.h>

bool ir_is_resident(const ir_graph *g, ir_ref r) {
    const ir_node *n = &g->nodes[r];
    if (n->op == IR_PARAM || n->op == IR_CONST) return true;
    if (n->op == IR_INPUT) return false;
    for (int k = 0; k < n->nin; k++)
        if (!ir_is_resident(g, n->in[k])) return false;
    return true;
}

bool ir_permutes_rows(const ir_graph *g, ir_ref r) {
    const ir_node *n = &g->nodes[r];
    if (n->op != IR_TRANSPOSE || n->shape.rank < 2 ||
        n->a.perm[n->shape.rank - 1] != n->shape.rank - 1)
        return false;
    ir_op in = g->nodes[n->in[0]].op;
    if (in != IR_RESHAPE && in != IR_SLICE) return false;
    /* a reshape may merge axes the permutation separated, which no strides
     * express: then the transpose moves data */
    for (int32_t i = r + 1; i < g->nnodes; i++) {
        const ir_node *u = &g->nodes[i];
        if (u->op == IR_RESHAPE && u->in[0] == r) return false;
    }
    return true;
}

bool ir_is_view(const ir_graph *g, ir_ref r) {
    ir_op op = g->nodes[r].op;
    return op == IR_RESHAPE || op == IR_SLICE || (g->by_heads && ir_permutes_rows(g, r));
}

ir_ref ir_view_base(const ir_graph *g, ir_ref r) {
    while (ir_is_view(g, r))
        r = g->nodes[r].in[0];
    return r;
}

/* Drops unit axes and merges axes that are contiguous in the producer, so a
 * later reshape sees the fewest, non-mergeable axes. */
static void canonical(ir_view *v) {
    int n = 0;
    for (int i = 0; i < v->rank; i++) {
        if (v->dim[i] == 1) continue;
        if (n && v->stride[n - 1] == v->stride[i] * v->dim[i]) {
            v->dim[n - 1] *= v->dim[i];
            v->stride[n - 1] = v->stride[i];
            continue;
        }
        v->dim[n] = v->dim[i], v->stride[n] = v->stride[i], n++;
    }
    if (!n) v->dim[0] = 1, v->stride[0] = 0, n = 1;
    v->rank = n;
}

/* Splits the canonical axes into `s`'s, innermost first; false when an
 * axis of s would span two axes that are not contiguous. */
static bool reshape(ir_view *v, const ir_shape *s) {
    ir_view o = *v;
    canonical(&o);
    ir_view r = {0};
    r.base = v->base;
    r.rank = s->rank ? s->rank : 1;
    int k = o.rank - 1;
    int64_t rem = o.dim[k], stride = o.stride[k];
    for (int i = s->rank - 1; i >= 0; i--) {
        int64_t d = s->d[i];
        if (d == 1) {
            r.dim[i] = 1, r.stride[i] = 0;
            continue;
        }
        if (k < 0 || rem % d) return false;
        r.dim[i] = d, r.stride[i] = stride;
        stride *= d, rem /= d;
        if (rem == 1 && --k >= 0) rem = o.dim[k], stride = o.stride[k];
    }
    if (!s->rank) r.dim[0] = 1, r.stride[0] = 0;
    if (k >= 0 && !(k == 0 && rem == 1 && o.dim[0] == 1)) return false;
    *v = r;
    return true;
}

bool ir_view_of(const ir_graph *g, ir_ref r, ir_view *v) {
    const ir_node *n = &g->nodes[r];
    if (!ir_is_view(g, r)) {
        memset(v, 0, sizeof *v);
        v->rank = n->shape.rank ? n->shape.rank : 1;
        int64_t st = 1;
        for (int i = n->shape.rank - 1; i >= 0; i--) {
            v->dim[i] = n->shape.d[i];
            v->stride[i] = n->shape.d[i] == 1 ? 0 : st;
            st *= n->shape.d[i];
        }
        if (!n->shape.rank) v->dim[0] = 1, v->stride[0] = 0;
        return true;
    }
    if (!ir_view_of(g, n->in[0], v)) return false;
    if (n->op == IR_RESHAPE) return reshape(v, &n->shape);
    if (n->op == IR_TRANSPOSE) {
        ir_view t = *v;
        for (int i = 0; i < n->shape.rank; i++)
            v->dim[i] = t.dim[n->a.perm[i]], v->stride[i] = t.stride[n->a.perm[i]];
        return true;
    }
    int a = (int)n->a.axis;
    v->base += n->a.start * v->stride[a];
    v->dim[a] = n->a.end - n->a.start;
    if (v->dim[a] == 1) v->stride[a] = 0;
    return true;
}

int64_t ir_view_apply(const ir_view *v, int64_t g) {
    int64_t f = v->base;
    for (int i = v->rank - 1; i >= 0; i--) {
        f += (g % v->dim[i]) * v->stride[i];
        g /= v->dim[i];
    }
    return f;
}

void ir_view_order(const ir_view *v, int *order) {
    for (int i = 0; i < v->rank; i++) {
        int j = i;
        for (; j > 0 && v->stride[order[j - 1]] < v->stride[i]; j--)
            order[j] = order[j - 1];
        order[j] = i;
    }
}

int64_t ir_view_inverse(const ir_view *v, int64_t f) {
    if (f < v->base) return -1;
    /* the producer's element splits into the operand's indices from the
     * largest stride down, whatever order the operand's axes are in */
    int order[IR_MAX_RANK];
    ir_view_order(v, order);
    int64_t rem = f - v->base, k[IR_MAX_RANK];
    for (int j = 0; j < v->rank; j++) {
        int i = order[j];
        int64_t s = v->stride[i];
        k[i] = s ? rem / s : 0;
        if (k[i] >= v->dim[i]) return -1;
        rem -= k[i] * s;
    }
    int64_t idx = 0;
    for (int i = 0; i < v->rank; i++)
        idx = idx * v->dim[i] + k[i];
    return rem ? -1 : idx;
}
