/* dce.c - the "dce" pass: removes nodes that no output depends on.
 *
 * Liveness is one backward walk over the node array: nodes are in
 * topological order, so by the time node i is visited every user of it has
 * been, and no worklist or recursion is needed. INPUT nodes stay even when
 * unused because the caller still feeds them by position. */
#include "pass.h"
#include "rewrite.h"

#include <stdlib.h>

bool pass_dce(ir_graph **gp, ir_diag *d) {
    ir_graph *g = *gp;
    if (g->nnodes == 0) return true;
    uint8_t *live = ir_xcalloc((size_t)g->nnodes, 1);
    for (int32_t k = 0; k < g->noutputs; k++)
        live[g->outputs[k].ref] = 1;
    int32_t dead = 0;
    for (int32_t i = g->nnodes - 1; i >= 0; i--) {
        const ir_node *n = &g->nodes[i];
        if (!live[i] && n->op != IR_INPUT) {
            dead++;
            continue;
        }
        for (int k = 0; k < n->nin; k++)
            live[n->in[k]] = 1;
    }
    if (dead > 0) {
        ir_ref *repl = ir_xmalloc((size_t)g->nnodes * sizeof *repl);
        for (int32_t i = 0; i < g->nnodes; i++)
            repl[i] = live[i] || g->nodes[i].op == IR_INPUT ? i : IR_NONE;
        pass_rebuild(gp, repl);
        free(repl);
    }
    free(live);
    return true;
}
