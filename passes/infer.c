/* infer.c - the "infer" pass: re-derives every node's type and checks it
 * against the recorded one.
 *
 * The builder already inferred each type, so a disagreement means the
 * builder, a front-end shortcut through ir_graph_add, or inference itself is
 * wrong; catching it here, before anything is lowered, names the node instead
 * of letting a kernel read out of bounds later. */
#include "pass.h"

static bool type_eq(const ir_node *n, ir_dtype t, const ir_shape *s) {
    return n->dtype == t && ir_shape_eq(&n->shape, s);
}

static bool mismatch(ir_diag *d, const ir_node *n, int32_t i, const char *what, ir_dtype t,
                     const ir_shape *s) {
    char want[96], got[96];
    ir_type_str(n->dtype, &n->shape, want, sizeof want);
    ir_type_str(t, s, got, sizeof got);
    ir_error(d, n->loc, "internal error: %%%d (%s) is recorded as %s but %s gives %s", (int)i,
             ir_ops[n->op].name, want, what, got);
    return false;
}

bool pass_infer(ir_graph **gp, ir_diag *d) {
    const ir_graph *g = *gp;
    for (int32_t i = 0; i < g->nnodes; i++) {
        const ir_node *n = &g->nodes[i];
        if (ir_ops[n->op].kind == IR_K_SOURCE) {
            /* Sources have no rule; their tensor, when present, is the truth. */
            if (n->op == IR_CONST && !n->value) {
                ir_error(d, n->loc, "internal error: const %%%d has no value", (int)i);
                return false;
            }
            if (n->value && !type_eq(n, n->value->dtype, &n->value->shape))
                return mismatch(d, n, i, "its tensor", n->value->dtype, &n->value->shape);
            continue;
        }
        /* Inference reads the operands' nodes, so a forward or wild ref must
         * be caught before it does. */
        for (int k = 0; k < n->nin; k++) {
            if (n->in[k] < 0 || n->in[k] >= i) {
                ir_error(d, n->loc, "internal error: %%%d (%s) uses %%%d, not defined before it",
                         (int)i, ir_ops[n->op].name, (int)n->in[k]);
                return false;
            }
        }
        /* A copy: inference normalizes attributes, and this pass must not
         * change the graph it checks. */
        ir_node copy = *n;
        ir_err e = {{0}, {0}};
        if (!ir_infer(g, &copy, &e)) {
            ir_error(d, n->loc, "internal error: %%%d (%s) no longer type-checks: %s", (int)i,
                     ir_ops[n->op].name, e.msg);
            if (e.note[0]) ir_note(d, n->loc, "%s", e.note);
            return false;
        }
        if (!type_eq(n, copy.dtype, &copy.shape))
            return mismatch(d, n, i, "inference", copy.dtype, &copy.shape);
    }
    return true;
}
