/* constfold.c - the "constfold" pass: evaluates nodes whose operands are all
 * constants and makes them constants.
 *
 * One forward sweep reaches the fixed point: a folded node is a CONST by the
 * time its users are visited. Folding happens in place (the node becomes a
 * CONST with no operands), so no refs move; operands left unused die in dce.
 *
 * Only CONST operands count: PARAMs are weights the artifact carries and may
 * be replaced by other weights, INPUTs are fed at run time. Results larger
 * than FOLD_MAX elements are left alone so folding never bloats the artifact
 * (a broadcast of a scalar to a huge shape stays a cheap op).
 *
 * Nodes no output depends on (a transpose canonicalize absorbed into a
 * matmul) are not evaluated: dce removes them, and folding them would only
 * cost time. */
#include "pass.h"

#include <stdlib.h>

enum { FOLD_MAX = 65536 };

/* Which nodes some output depends on: one backward walk, as in dce. */
static uint8_t *live_nodes(const ir_graph *g) {
    uint8_t *live = ir_xcalloc((size_t)(g->nnodes ? g->nnodes : 1), 1);
    for (int32_t k = 0; k < g->noutputs; k++)
        live[g->outputs[k].ref] = 1;
    for (int32_t i = g->nnodes - 1; i >= 0; i--)
        if (live[i])
            for (int k = 0; k < g->nodes[i].nin; k++)
                live[g->nodes[i].in[k]] = 1;
    return live;
}

static bool foldable(const ir_graph *g, const ir_node *n) {
    if (ir_ops[n->op].kind == IR_K_SOURCE || n->nin == 0) return false;
    if (ir_shape_numel(&n->shape) > FOLD_MAX) return false;
    for (int k = 0; k < n->nin; k++) {
        const ir_node *p = &g->nodes[n->in[k]];
        if (p->op != IR_CONST || !p->value) return false;
    }
    return true;
}

bool pass_constfold(ir_graph **gp, ir_diag *d) {
    ir_graph *g = *gp;
    /* A fold that fails at run time (a constant gather index out of range)
     * is not folded: the error belongs to eval and run, which report it at
     * the node. So evaluation errors go to a scratch engine and are dropped. */
    ir_diag *scratch = NULL;
    ir_tensor **ops = NULL;
    int opcap = 0;
    bool ok = true;
    uint8_t *live = live_nodes(g);
    for (int32_t i = 0; i < g->nnodes && ok; i++) {
        ir_node *n = &g->nodes[i];
        if (!live[i] || !foldable(g, n)) continue;
        if (n->nin > opcap) {
            opcap = n->nin;
            ops = ir_xrealloc(ops, (size_t)opcap * sizeof *ops);
        }
        for (int k = 0; k < n->nin; k++)
            ops[k] = g->nodes[n->in[k]].value;
        if (!scratch) scratch = ir_diag_new(NULL);
        ir_tensor *t = ir_eval_node(g, n, ops, 1, scratch);
        if (!t) continue;
        if (t->dtype != n->dtype || !ir_shape_eq(&t->shape, &n->shape)) {
            char want[96], got[96];
            ir_type_str(n->dtype, &n->shape, want, sizeof want);
            ir_type_str(t->dtype, &t->shape, got, sizeof got);
            ir_error(d, n->loc, "internal error: evaluating %%%d (%s) gave %s, not %s", (int)i,
                     ir_ops[n->op].name, got, want);
            ir_tensor_free(t);
            ok = false;
            break;
        }
        n->op = IR_CONST;
        n->nin = 0;
        n->in = NULL; /* the old operand array stays in the arena until the graph goes */
        n->a = (ir_attrs){0};
        n->name = NULL;
        n->init = (ir_init){0};
        n->value = t;
    }
    free(ops);
    free(live);
    if (scratch) ir_diag_free(scratch);
    return ok;
}
