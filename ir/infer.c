/* infer.c - the type rule of every op: result dtype and shape from the
 * operands and attributes. The builder, the verifier and the passes all go
 * through ir_infer, so a rule lives here once. Messages are phrased for the
 * user: the front end prints them at the expression that built the node. */
#include "ir.h"

#include <stdio.h>
#include <string.h>

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        snprintf(e->msg, sizeof e->msg, __VA_ARGS__);                                              \
        return false;                                                                              \
    } while (0)

static const ir_node *opnd(const ir_graph *g, const ir_node *n, int k) {
    return &g->nodes[n->in[k]];
}

static const char *ty(const ir_node *x, char *buf) {
    return ir_type_str(x->dtype, &x->shape, buf, 160);
}

bool ir_broadcast(const ir_shape *a, const ir_shape *b, ir_shape *out) {
    ir_shape r = {0};
    r.rank = a->rank > b->rank ? a->rank : b->rank;
    for (int i = 0; i < r.rank; i++) {
        int ia = a->rank - r.rank + i, ib = b->rank - r.rank + i;
        int64_t da = ia >= 0 ? a->d[ia] : 1, db = ib >= 0 ? b->d[ib] : 1;
        if (da != db && da != 1 && db != 1) return false;
        r.d[i] = da == 1 ? db : da;
    }
    *out = r;
    return true;
}

static bool need_float(const ir_node *n, const ir_node *x, ir_err *e) {
    if (ir_dtype_is_float(x->dtype)) return true;
    FAIL("'%s' needs a floating-point operand, not %s", ir_ops[n->op].name,
         ir_dtype_name(x->dtype));
}

static bool infer_unary(const ir_graph *g, ir_node *n, ir_err *e) {
    const ir_node *x = opnd(g, n, 0);
    bool ok =
        ir_dtype_is_float(x->dtype) || (x->dtype == IR_I32 && (n->op == IR_NEG || n->op == IR_ABS));
    if (!ok) FAIL("'%s' is not defined on %s tensors", ir_ops[n->op].name, ir_dtype_name(x->dtype));
    n->dtype = x->dtype;
    n->shape = x->shape;
    return true;
}

static bool infer_binary(const ir_graph *g, ir_node *n, ir_err *e) {
    const ir_node *a = opnd(g, n, 0), *b = opnd(g, n, 1);
    char t1[160], t2[160];
    if (a->dtype != b->dtype)
        FAIL("operands of '%s' have different dtypes: %s and %s", ir_ops[n->op].name, ty(a, t1),
             ty(b, t2));
    ir_dtype t = a->dtype;
    bool ok;
    switch (n->op) {
    case IR_DIV:
    case IR_POW: ok = ir_dtype_is_float(t); break;
    case IR_EQUAL: ok = true; break;
    default: ok = t != IR_BOOL; break;
    }
    if (!ok) FAIL("'%s' is not defined on %s tensors", ir_ops[n->op].name, ir_dtype_name(t));
    if (!ir_broadcast(&a->shape, &b->shape, &n->shape)) {
        snprintf(e->note, sizeof e->note,
                 "dimensions must be equal or 1, compared from the last axis");
        FAIL("cannot broadcast %s with %s", ty(a, t1), ty(b, t2));
    }
    n->dtype = ir_ops[n->op].kind == IR_K_COMPARE ? IR_BOOL : t;
    return true;
}

static bool infer_where(const ir_graph *g, ir_node *n, ir_err *e) {
    const ir_node *c = opnd(g, n, 0), *a = opnd(g, n, 1), *b = opnd(g, n, 2);
    char t1[160], t2[160], t3[160];
    if (c->dtype != IR_BOOL)
        FAIL("the condition of 'where' must be bool, not %s", ir_dtype_name(c->dtype));
    if (a->dtype != b->dtype)
        FAIL("the branches of 'where' have different dtypes: %s and %s", ty(a, t1), ty(b, t2));
    ir_shape s;
    if (!ir_broadcast(&c->shape, &a->shape, &s) || !ir_broadcast(&s, &b->shape, &n->shape))
        FAIL("cannot broadcast %s, %s and %s", ty(c, t1), ty(a, t2), ty(b, t3));
    n->dtype = a->dtype;
    return true;
}

/* NumPy matmul with optional transposition of each operand's last two axes;
 * 1-D operands are promoted and the promoted axis dropped again. */
static bool matmul_shape(const ir_node *n, const ir_node *a, const ir_node *b, ir_shape *out,
                         ir_err *e) {
    char t1[160], t2[160];
    if (a->dtype != b->dtype)
        FAIL("operands of matmul have different dtypes: %s and %s", ty(a, t1), ty(b, t2));
    if (!ir_dtype_is_float(a->dtype))
        FAIL("matmul needs floating-point operands, not %s", ir_dtype_name(a->dtype));
    if (a->shape.rank < 1 || b->shape.rank < 1)
        FAIL("matmul operands must have at least one axis: %s @ %s", ty(a, t1), ty(b, t2));
    if ((n->a.ta && a->shape.rank < 2) || (n->a.tb && b->shape.rank < 2))
        FAIL("a transposed matmul operand needs two axes");
    ir_shape sa = a->shape, sb = b->shape;
    bool va = sa.rank == 1, vb = sb.rank == 1;
    if (va) sa = (ir_shape){2, {1, sa.d[0]}};
    if (vb) sb = (ir_shape){2, {sb.d[0], 1}};
    int64_t m = sa.d[sa.rank - 2], ka = sa.d[sa.rank - 1];
    if (n->a.ta) m = sa.d[sa.rank - 1], ka = sa.d[sa.rank - 2];
    int64_t kb = sb.d[sb.rank - 2], nn = sb.d[sb.rank - 1];
    if (n->a.tb) kb = sb.d[sb.rank - 1], nn = sb.d[sb.rank - 2];
    if (ka != kb) {
        snprintf(e->note, sizeof e->note,
                 "the last axis of the left operand (%lld) must equal the %s axis of the right one "
                 "(%lld)",
                 (long long)ka, vb ? "only" : "second-to-last", (long long)kb);
        FAIL("matmul shapes do not fit: %s @ %s", ty(a, t1), ty(b, t2));
    }
    ir_shape ba = {sa.rank - 2, {0}}, bb = {sb.rank - 2, {0}}, bs;
    memcpy(ba.d, sa.d, sizeof(int64_t) * (size_t)ba.rank);
    memcpy(bb.d, sb.d, sizeof(int64_t) * (size_t)bb.rank);
    if (!ir_broadcast(&ba, &bb, &bs))
        FAIL("matmul batch dimensions do not broadcast: %s @ %s", ty(a, t1), ty(b, t2));
    if (bs.rank + 2 > IR_MAX_RANK) FAIL("matmul result has more than %d axes", IR_MAX_RANK);
    *out = bs;
    if (!va) out->d[out->rank++] = m;
    if (!vb) out->d[out->rank++] = nn;
    return true;
}

static bool infer_matmul(const ir_graph *g, ir_node *n, ir_err *e) {
    const ir_node *a = opnd(g, n, 0), *b = opnd(g, n, 1);
    if (!matmul_shape(n, a, b, &n->shape, e)) return false;
    n->dtype = a->dtype;
    if (n->op == IR_LINEAR) {
        const ir_node *bias = opnd(g, n, 2);
        char t1[160];
        if (n->a.ta) FAIL("linear does not take a transposed input");
        if (n->shape.rank < 1 || bias->shape.rank != 1 ||
            bias->shape.d[0] != n->shape.d[n->shape.rank - 1] || bias->dtype != n->dtype)
            FAIL("the bias of linear must be %s[%lld], not %s", ir_dtype_name(n->dtype),
                 (long long)(n->shape.rank ? n->shape.d[n->shape.rank - 1] : 0), ty(bias, t1));
    }
    return true;
}

static bool infer_reduce(const ir_graph *g, ir_node *n, ir_err *e) {
    const ir_node *x = opnd(g, n, 0);
    if (x->dtype == IR_BOOL || (n->op == IR_REDUCE_MEAN && x->dtype == IR_I32))
        FAIL("'%s' is not defined on %s tensors", ir_ops[n->op].name, ir_dtype_name(x->dtype));
    int r = x->shape.rank;
    if (r < 32 && (n->a.axes >> r)) FAIL("reduction axis out of range for a tensor of rank %d", r);
    n->dtype = x->dtype;
    n->shape.rank = 0;
    for (int i = 0; i < r; i++) {
        bool red = n->a.axes & (1u << i);
        if (!red)
            n->shape.d[n->shape.rank++] = x->shape.d[i];
        else if (n->a.keepdims)
            n->shape.d[n->shape.rank++] = 1;
    }
    return true;
}

static bool norm_axis(int64_t *axis, int rank, ir_err *e) {
    if (*axis < -rank || *axis >= rank)
        FAIL("axis %lld is out of range for a tensor of rank %d", (long long)*axis, rank);
    if (*axis < 0) *axis += rank;
    return true;
}

static bool infer_norm(const ir_graph *g, ir_node *n, ir_err *e) {
    const ir_node *x = opnd(g, n, 0);
    char t1[160];
    if (!need_float(n, x, e)) return false;
    if (x->shape.rank < 1) FAIL("'%s' needs a tensor with at least one axis", ir_ops[n->op].name);
    if (n->op == IR_SOFTMAX) {
        if (!norm_axis(&n->a.axis, x->shape.rank, e)) return false;
    } else {
        int64_t last = x->shape.d[x->shape.rank - 1];
        for (int k = 1; k < n->nin; k++) {
            const ir_node *p = opnd(g, n, k);
            if (p->dtype != x->dtype || p->shape.rank != 1 || p->shape.d[0] != last) {
                snprintf(e->note, sizeof e->note,
                         "gamma and beta have the shape of the last axis: %s[%lld]",
                         ir_dtype_name(x->dtype), (long long)last);
                FAIL("'%s' of %s needs %s of type %s[%lld], not %s", ir_ops[n->op].name, ty(x, t1),
                     k == 1 ? "gamma" : "beta", ir_dtype_name(x->dtype), (long long)last,
                     ty(p, (char[160]){0}));
            }
        }
    }
    n->dtype = x->dtype;
    n->shape = x->shape;
    return true;
}

static bool infer_reshape(const ir_graph *g, ir_node *n, ir_err *e) {
    const ir_node *x = opnd(g, n, 0);
    ir_shape *s = &n->a.shape;
    char t1[160], t2[160];
    int hole = -1;
    int64_t known = 1, total = ir_shape_numel(&x->shape);
    for (int i = 0; i < s->rank; i++) {
        if (s->d[i] == -1) {
            if (hole >= 0) FAIL("reshape allows only one -1");
            hole = i;
        } else if (s->d[i] < 1 || s->d[i] > IR_MAX_DIM) {
            FAIL("reshape dimension %lld is out of range (1 to 2^31 - 1)", (long long)s->d[i]);
        } else {
            if (known > IR_MAX_NUMEL / s->d[i]) FAIL("reshape target has more than 2^48 elements");
            known *= s->d[i];
        }
    }
    if (hole >= 0) {
        if (total % known)
            FAIL("cannot reshape %s: %lld elements do not divide into %lld", ty(x, t1),
                 (long long)total, (long long)known);
        s->d[hole] = total / known;
        known = total;
    }
    if (known != total)
        FAIL("cannot reshape %s to %s: element counts differ", ty(x, t1),
             ir_shape_str(s, t2, sizeof t2));
    n->dtype = x->dtype;
    n->shape = *s;
    return true;
}

static bool infer_transpose(const ir_graph *g, ir_node *n, ir_err *e) {
    const ir_node *x = opnd(g, n, 0);
    int r = x->shape.rank;
    bool seen[IR_MAX_RANK] = {0};
    for (int i = 0; i < r; i++) {
        int p = n->a.perm[i];
        if (p < 0 || p >= r || seen[p]) {
            int64_t v[IR_MAX_RANK];
            char buf[160];
            for (int k = 0; k < r; k++)
                v[k] = n->a.perm[k];
            ir_shape ps = ir_shape_make(r, v);
            ir_shape_str(&ps, buf, sizeof buf);
            FAIL("transpose permutation %s is not a permutation of the %d axes of %s", buf, r,
                 ty(x, (char[160]){0}));
        }
        seen[p] = true;
        n->shape.d[i] = x->shape.d[p];
    }
    for (int i = r; i < IR_MAX_RANK; i++)
        n->a.perm[i] = 0;
    n->shape.rank = r;
    n->dtype = x->dtype;
    return true;
}

static bool infer_slice(const ir_graph *g, ir_node *n, ir_err *e) {
    const ir_node *x = opnd(g, n, 0);
    if (x->shape.rank < 1) FAIL("cannot slice a scalar");
    if (!norm_axis(&n->a.axis, x->shape.rank, e)) return false;
    int64_t dim = x->shape.d[n->a.axis], s = n->a.start, t = n->a.end;
    /* Python slice rules: negatives count from the end, bounds clamp. */
    if (s < 0) s += dim;
    if (t < 0) t += dim;
    s = s < 0 ? 0 : s > dim ? dim : s;
    t = t < 0 ? 0 : t > dim ? dim : t;
    if (s >= t)
        FAIL("slice [%lld:%lld] of an axis of length %lld is empty", (long long)n->a.start,
             (long long)n->a.end, (long long)dim);
    n->a.start = s;
    n->a.end = t;
    n->dtype = x->dtype;
    n->shape = x->shape;
    n->shape.d[n->a.axis] = t - s;
    return true;
}

static bool infer_concat(const ir_graph *g, ir_node *n, ir_err *e) {
    const ir_node *x = opnd(g, n, 0);
    char t1[160], t2[160];
    if (x->shape.rank < 1) FAIL("cannot concatenate scalars");
    if (!norm_axis(&n->a.axis, x->shape.rank, e)) return false;
    n->shape = x->shape;
    n->dtype = x->dtype;
    for (int k = 1; k < n->nin; k++) {
        const ir_node *y = opnd(g, n, k);
        bool ok = y->dtype == x->dtype && y->shape.rank == x->shape.rank;
        for (int i = 0; ok && i < x->shape.rank; i++)
            ok = i == n->a.axis || y->shape.d[i] == x->shape.d[i];
        if (!ok) {
            snprintf(e->note, sizeof e->note, "all operands must agree except along axis %lld",
                     (long long)n->a.axis);
            FAIL("cannot concatenate %s and %s along axis %lld", ty(x, t1), ty(y, t2),
                 (long long)n->a.axis);
        }
        n->shape.d[n->a.axis] += y->shape.d[n->a.axis];
        if (n->shape.d[n->a.axis] > IR_MAX_DIM) FAIL("concat result axis is longer than 2^31 - 1");
    }
    return true;
}

static bool infer_gather(const ir_graph *g, ir_node *n, ir_err *e) {
    const ir_node *t = opnd(g, n, 0), *ix = opnd(g, n, 1);
    if (t->shape.rank < 1) FAIL("the table of gather must have at least one axis");
    if (ix->dtype != IR_I32) FAIL("gather indices must be i32, not %s", ir_dtype_name(ix->dtype));
    if (ix->shape.rank + t->shape.rank - 1 > IR_MAX_RANK)
        FAIL("gather result has more than %d axes", IR_MAX_RANK);
    n->shape = ix->shape;
    for (int i = 1; i < t->shape.rank; i++)
        n->shape.d[n->shape.rank++] = t->shape.d[i];
    n->dtype = t->dtype;
    return true;
}

static bool infer_causal(const ir_graph *g, ir_node *n, ir_err *e) {
    const ir_node *x = opnd(g, n, 0);
    if (!need_float(n, x, e)) return false;
    if (x->shape.rank < 2)
        FAIL("causal_mask needs at least two axes, not %s", ty(x, (char[160]){0}));
    n->dtype = x->dtype;
    n->shape = x->shape;
    return true;
}

static bool infer_cast(const ir_graph *g, ir_node *n, ir_err *e) {
    const ir_node *x = opnd(g, n, 0);
    if ((unsigned)n->a.dtype >= IR_NDTYPES) FAIL("cast to an unknown dtype");
    n->dtype = n->a.dtype;
    n->shape = x->shape;
    return true;
}

bool ir_infer(const ir_graph *g, ir_node *n, ir_err *e) {
    e->msg[0] = e->note[0] = 0;
    const ir_opinfo *op = &ir_ops[n->op];
    if (op->nin >= 0 ? n->nin != op->nin : n->nin < 1)
        FAIL("'%s' takes %d operands, not %d", op->name, op->nin, n->nin);
    for (int k = 0; k < n->nin; k++)
        if (n->in[k] < 0 || n->in[k] >= g->nnodes)
            FAIL("operand %d of '%s' is not a value", k, op->name);
    bool ok;
    switch (n->op) {
    case IR_INPUT:
    case IR_PARAM:
    case IR_CONST: return true; /* sources carry their declared type */
    case IR_WHERE: ok = infer_where(g, n, e); break;
    case IR_MATMUL:
    case IR_LINEAR: ok = infer_matmul(g, n, e); break;
    case IR_RESHAPE: ok = infer_reshape(g, n, e); break;
    case IR_TRANSPOSE: ok = infer_transpose(g, n, e); break;
    case IR_SLICE: ok = infer_slice(g, n, e); break;
    case IR_CONCAT: ok = infer_concat(g, n, e); break;
    case IR_GATHER: ok = infer_gather(g, n, e); break;
    case IR_CAUSAL_MASK: ok = infer_causal(g, n, e); break;
    case IR_CAST: ok = infer_cast(g, n, e); break;
    default:
        switch (op->kind) {
        case IR_K_UNARY: ok = infer_unary(g, n, e); break;
        case IR_K_BINARY:
        case IR_K_COMPARE: ok = infer_binary(g, n, e); break;
        case IR_K_REDUCE: ok = infer_reduce(g, n, e); break;
        case IR_K_NORM: ok = infer_norm(g, n, e); break;
        default: ir_internal_error("no type rule for op '%s'", op->name);
        }
    }
    if (ok && ir_shape_numel(&n->shape) > IR_MAX_NUMEL)
        FAIL("the result of '%s' has more than 2^48 elements", op->name);
    return ok;
}
