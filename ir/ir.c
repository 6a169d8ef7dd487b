/* ir.c - the op table, graphs, the builder, the printer and the verifier. */
#include "ir.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const ir_opinfo ir_ops[IR_NOPS] = {
#define X(e, name, nin, kind) [IR_##e] = {name, nin, kind},
    IR_OPS(X)
#undef X
};

int ir_op_lookup(const char *name) {
    for (int i = 0; i < IR_NOPS; i++)
        if (!strcmp(ir_ops[i].name, name)) return i;
    return -1;
}

ir_graph *ir_graph_new(const char *model) {
    ir_graph *g = ir_xcalloc(1, sizeof *g);
    g->arena = ir_arena_new();
    g->model = ir_strdup(g->arena, model ? model : "model");
    return g;
}

void ir_graph_free(ir_graph *g) {
    if (!g) return;
    for (int32_t i = 0; i < g->nnodes; i++)
        ir_tensor_free(g->nodes[i].value);
    free(g->nodes);
    free(g->outputs);
    ir_arena_free(g->arena);
    free(g);
}

ir_ref ir_graph_add(ir_graph *g, const ir_node *proto, const ir_ref *in, int nin) {
    if (g->nnodes == INT32_MAX) ir_internal_error("graph has too many nodes");
    if (g->nnodes == g->cap) {
        g->cap = g->cap ? (g->cap > INT32_MAX / 2 ? INT32_MAX : g->cap * 2) : 64;
        g->nodes = ir_xrealloc(g->nodes, sizeof(ir_node) * (size_t)g->cap);
    }
    ir_node *n = &g->nodes[g->nnodes];
    *n = *proto;
    n->nin = nin;
    n->in = nin ? ir_alloc(g->arena, sizeof(ir_ref) * (size_t)nin) : NULL;
    if (nin) memcpy(n->in, in, sizeof(ir_ref) * (size_t)nin);
    if (proto->name) n->name = ir_strdup(g->arena, proto->name);
    return g->nnodes++;
}

void ir_graph_add_output(ir_graph *g, const char *name, ir_ref r, ir_loc loc) {
    if (g->noutputs == g->outcap) {
        g->outcap = g->outcap ? g->outcap * 2 : 8;
        g->outputs = ir_xrealloc(g->outputs, sizeof(ir_output) * (size_t)g->outcap);
    }
    g->outputs[g->noutputs++] = (ir_output){ir_strdup(g->arena, name), r, loc};
}

ir_ref ir_build(ir_graph *g, ir_op op, const ir_ref *in, int nin, const ir_attrs *a, ir_loc loc,
                ir_err *e) {
    ir_node n = {0};
    n.op = op;
    n.nin = nin;
    n.in = (ir_ref *)in;
    if (a) n.a = *a;
    n.loc = loc;
    e->msg[0] = e->note[0] = 0;
    if (!ir_infer(g, &n, e)) return IR_NONE;
    return ir_graph_add(g, &n, in, nin);
}

ir_ref ir_build_const(ir_graph *g, ir_tensor *t, ir_loc loc) {
    ir_node n = {0};
    n.op = IR_CONST;
    n.dtype = t->dtype;
    n.shape = t->shape;
    n.loc = loc;
    n.value = t;
    return ir_graph_add(g, &n, NULL, 0);
}

ir_ref ir_build_scalar(ir_graph *g, ir_dtype t, double v, ir_loc loc) {
    ir_shape s = {0};
    ir_tensor *x = ir_tensor_new(t, &s);
    if (!x) ir_internal_error("cannot allocate a scalar");
    switch (t) {
    case IR_I32: *(int32_t *)x->data = (int32_t)v; break;
    case IR_BOOL: *(uint8_t *)x->data = v != 0; break;
    default: *(float *)x->data = (float)v; break;
    }
    ir_tensor_round(x);
    return ir_build_const(g, x, loc);
}

/* Which attributes each op reads; one place so printing, hashing and
 * equality agree. */
enum {
    A_AXIS = 1,
    A_SLICE = 2,
    A_AXES = 4,
    A_EPS = 8,
    A_PERM = 16,
    A_SHAPE = 32,
    A_DTYPE = 64,
    A_T = 128,
    A_APPROX = 256
};

static unsigned attr_mask(ir_op op) {
    switch (op) {
    case IR_SOFTMAX:
    case IR_CONCAT: return A_AXIS;
    case IR_SLICE: return A_AXIS | A_SLICE;
    case IR_REDUCE_SUM:
    case IR_REDUCE_MEAN:
    case IR_REDUCE_MAX:
    case IR_REDUCE_MIN: return A_AXES;
    case IR_LAYERNORM:
    case IR_RMSNORM: return A_EPS;
    case IR_TRANSPOSE: return A_PERM;
    case IR_RESHAPE: return A_SHAPE;
    case IR_CAST: return A_DTYPE;
    case IR_MATMUL:
    case IR_LINEAR: return A_T;
    case IR_GELU: return A_APPROX;
    default: return 0;
    }
}

bool ir_attrs_equal(ir_op op, const ir_attrs *a, const ir_attrs *b) {
    unsigned m = attr_mask(op);
    if ((m & A_AXIS) && a->axis != b->axis) return false;
    if ((m & A_SLICE) && (a->start != b->start || a->end != b->end)) return false;
    if ((m & A_AXES) && (a->axes != b->axes || a->keepdims != b->keepdims)) return false;
    if ((m & A_EPS) && memcmp(&a->eps, &b->eps, sizeof a->eps)) return false;
    if ((m & A_PERM) && memcmp(a->perm, b->perm, sizeof a->perm)) return false;
    if ((m & A_SHAPE) && !ir_shape_eq(&a->shape, &b->shape)) return false;
    if ((m & A_DTYPE) && a->dtype != b->dtype) return false;
    if ((m & A_T) && (a->ta != b->ta || a->tb != b->tb)) return false;
    if ((m & A_APPROX) && a->approx_tanh != b->approx_tanh) return false;
    return true;
}

static uint64_t mix(uint64_t h, uint64_t v) {
    h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdULL;
}

uint64_t ir_attrs_hash(ir_op op, const ir_attrs *a) {
    unsigned m = attr_mask(op);
    uint64_t h = (uint64_t)op;
    if (m & A_AXIS) h = mix(h, (uint64_t)a->axis);
    if (m & A_SLICE) h = mix(mix(h, (uint64_t)a->start), (uint64_t)a->end);
    if (m & A_AXES) h = mix(h, a->axes * 2u + a->keepdims);
    if (m & A_EPS) {
        uint64_t bits;
        memcpy(&bits, &a->eps, sizeof bits);
        h = mix(h, bits);
    }
    if (m & A_PERM)
        for (int i = 0; i < IR_MAX_RANK; i++)
            h = mix(h, (uint64_t)a->perm[i]);
    if (m & A_SHAPE) {
        h = mix(h, (uint64_t)a->shape.rank);
        for (int i = 0; i < a->shape.rank; i++)
            h = mix(h, (uint64_t)a->shape.d[i]);
    }
    if (m & A_DTYPE) h = mix(h, a->dtype);
    if (m & A_T) h = mix(h, a->ta * 2u + a->tb);
    if (m & A_APPROX) h = mix(h, a->approx_tanh);
    return h;
}

/* ------------------------------------------------------------- printing */

static void print_list(FILE *out, const int64_t *v, int n) {
    fputc('[', out);
    for (int i = 0; i < n; i++)
        fprintf(out, "%s%" PRId64, i ? ", " : "", v[i]);
    fputc(']', out);
}

static void print_attrs(FILE *out, const ir_node *n) {
    unsigned m = attr_mask(n->op);
    const ir_attrs *a = &n->a;
    const char *sep = " {";
    if (m & A_AXIS) fprintf(out, "%saxis=%" PRId64, sep, a->axis), sep = ", ";
    if (m & A_SLICE)
        fprintf(out, "%sstart=%" PRId64 ", end=%" PRId64, sep, a->start, a->end), sep = ", ";
    if (m & A_AXES) {
        int64_t ax[32];
        int k = 0;
        for (int i = 0; i < 32; i++)
            if (a->axes & (1u << i)) ax[k++] = i;
        fprintf(out, "%saxes=", sep);
        print_list(out, ax, k);
        if (a->keepdims) fputs(", keepdims", out);
        sep = ", ";
    }
    if (m & A_EPS) fprintf(out, "%seps=%.9g", sep, a->eps), sep = ", ";
    if (m & A_PERM) {
        int64_t p[IR_MAX_RANK];
        int r = n->shape.rank;
        for (int i = 0; i < r; i++)
            p[i] = a->perm[i];
        fprintf(out, "%sperm=", sep);
        print_list(out, p, r);
        sep = ", ";
    }
    if ((m & A_T) && a->ta) fprintf(out, "%sta", sep), sep = ", ";
    if ((m & A_T) && a->tb) fprintf(out, "%stb", sep), sep = ", ";
    if ((m & A_APPROX) && a->approx_tanh) fprintf(out, "%sapproximate=tanh", sep), sep = ", ";
    if (sep[0] == ',') fputc('}', out);
}

static void print_value(FILE *out, const ir_tensor *t) {
    int64_t n = ir_shape_numel(&t->shape);
    if (n > 8) {
        fprintf(out, " = <%" PRId64 " elements>", n);
        return;
    }
    fputs(n == 1 && t->shape.rank == 0 ? " = " : " = [", out);
    for (int64_t i = 0; i < n; i++) {
        if (i) fputs(", ", out);
        switch (t->dtype) {
        case IR_I32: fprintf(out, "%" PRId32, ((const int32_t *)t->data)[i]); break;
        case IR_BOOL: fputs(((const uint8_t *)t->data)[i] ? "true" : "false", out); break;
        default: fprintf(out, "%.9g", ((const float *)t->data)[i]); break;
        }
    }
    if (!(n == 1 && t->shape.rank == 0)) fputc(']', out);
}

static void print_init(FILE *out, const ir_node *n) {
    if (n->value) {
        fputs(" = data", out);
        return;
    }
    switch (n->init.kind) {
    case IR_INIT_ZEROS: fputs(" = zeros", out); break;
    case IR_INIT_ONES: fputs(" = ones", out); break;
    case IR_INIT_NORMAL: fprintf(out, " = normal(%.9g, %.9g)", n->init.a, n->init.b); break;
    case IR_INIT_UNIFORM: fprintf(out, " = uniform(%.9g, %.9g)", n->init.a, n->init.b); break;
    default: break;
    }
}

void ir_print(const ir_graph *g, FILE *out) {
    char ty[160];
    fprintf(out, "model %s\n", g->model);
    for (int32_t i = 0; i < g->nnodes; i++) {
        const ir_node *n = &g->nodes[i];
        fprintf(out, "%%%d = %s", i, ir_ops[n->op].name);
        if (n->name) fprintf(out, " \"%s\"", n->name);
        for (int k = 0; k < n->nin; k++)
            fprintf(out, "%s%%%d", k ? ", " : " ", n->in[k]);
        print_attrs(out, n);
        fprintf(out, " : %s", ir_type_str(n->dtype, &n->shape, ty, sizeof ty));
        if (n->op == IR_CONST && n->value) print_value(out, n->value);
        if (n->op == IR_PARAM) print_init(out, n);
        fputc('\n', out);
    }
    for (int32_t i = 0; i < g->noutputs; i++)
        fprintf(out, "output \"%s\" = %%%d\n", g->outputs[i].name, g->outputs[i].ref);
}

/* ------------------------------------------------------------ verifying */

bool ir_verify(const ir_graph *g, ir_diag *d) {
    char t1[160], t2[160];
    for (int32_t i = 0; i < g->nnodes; i++) {
        const ir_node *n = &g->nodes[i];
        if ((unsigned)n->op >= IR_NOPS) {
            ir_error(d, IR_NOLOC, "IR verifier: %%%d has an unknown op %d", i, (int)n->op);
            return false;
        }
        const ir_opinfo *op = &ir_ops[n->op];
        if (op->nin >= 0 ? n->nin != op->nin : n->nin < 1) {
            ir_error(d, IR_NOLOC, "IR verifier: %%%d (%s) has %d operands", i, op->name, n->nin);
            return false;
        }
        for (int k = 0; k < n->nin; k++)
            if (n->in[k] < 0 || n->in[k] >= i) {
                ir_error(d, IR_NOLOC,
                         "IR verifier: operand %d of %%%d (%s) is %%%d, not an earlier value", k, i,
                         op->name, n->in[k]);
                return false;
            }
        if (n->op == IR_INPUT || n->op == IR_PARAM) {
            if (!n->name) {
                ir_error(d, IR_NOLOC, "IR verifier: %%%d (%s) has no name", i, op->name);
                return false;
            }
        }
        if (n->op == IR_CONST && !n->value) {
            ir_error(d, IR_NOLOC, "IR verifier: constant %%%d has no value", i);
            return false;
        }
        if (n->value &&
            (n->value->dtype != n->dtype || !ir_shape_eq(&n->value->shape, &n->shape))) {
            ir_error(d, IR_NOLOC, "IR verifier: %%%d holds data of type %s, not %s", i,
                     ir_type_str(n->value->dtype, &n->value->shape, t1, sizeof t1),
                     ir_type_str(n->dtype, &n->shape, t2, sizeof t2));
            return false;
        }
        if (op->kind == IR_K_SOURCE) continue;
        ir_node copy = *n;
        ir_err e;
        if (!ir_infer(g, &copy, &e)) {
            ir_error(d, IR_NOLOC, "IR verifier: %%%d (%s) breaks its type rule: %s", i, op->name,
                     e.msg);
            return false;
        }
        if (copy.dtype != n->dtype || !ir_shape_eq(&copy.shape, &n->shape)) {
            ir_error(d, IR_NOLOC,
                     "IR verifier: %%%d (%s) is recorded as %s but its operands give %s", i,
                     op->name, ir_type_str(n->dtype, &n->shape, t1, sizeof t1),
                     ir_type_str(copy.dtype, &copy.shape, t2, sizeof t2));
            return false;
        }
    }
    for (int32_t i = 0; i < g->noutputs; i++)
        if (g->outputs[i].ref < 0 || g->outputs[i].ref >= g->nnodes) {
            ir_error(d, IR_NOLOC, "IR verifier: output '%s' names no value", g->outputs[i].name);
            return false;
        }
    return true;
}

/* ---------------------------------------------------------------- params */

ir_tensor *ir_param_value(const ir_node *n) {
    if (n->value) return ir_tensor_clone(n->value);
    ir_tensor *t = ir_tensor_new(n->dtype, &n->shape);
    if (!t) {
        fprintf(stderr, "wsc: error: param '%s' is too large for this host's memory\n", n->name);
        exit(IR_EXIT_INPUT);
    }
    int64_t count = ir_shape_numel(&n->shape);
    switch (n->init.kind) {
    case IR_INIT_ONES:
        for (int64_t i = 0; i < count; i++) {
            if (n->dtype == IR_I32)
                ((int32_t *)t->data)[i] = 1;
            else if (n->dtype == IR_BOOL)
                ((uint8_t *)t->data)[i] = 1;
            else
                ((float *)t->data)[i] = 1.0f;
        }
        break;
    case IR_INIT_NORMAL: ir_fill_normal(t, n->init.seed, n->name, n->init.a, n->init.b); break;
    case IR_INIT_UNIFORM: ir_fill_uniform(t, n->init.seed, n->name, n->init.a, n->init.b); break;
    default: break; /* zeros */
    }
    return t;
}

/* --------------------------------------------------------- kernel graphs */

const char *ir_kkind_name(ir_kkind k) {
    static const char *const names[IR_NKKINDS] = {"input", "output", "gemv", "matmul", "map",
                                                  "row",   "gather", "move", "generic"};
    return (unsigned)k < IR_NKKINDS ? names[k] : "?";
}

void ir_kgraph_free(ir_kgraph *kg) {
    if (!kg) return;
    free(kg->k);
    free(kg->s);
    ir_arena_free(kg->arena);
    memset(kg, 0, sizeof *kg);
}
