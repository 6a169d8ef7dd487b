/* manager.c - the pass table, the pipeline runner, and the graph rebuilding
 * helpers of rewrite.h shared by the passes. */
#include "pass.h"
#include "rewrite.h"

#include <stdlib.h>
#include <string.h>

/* Order matters. canonicalize runs before constfold because removing an
 * identity can hand a constant straight to its user (sum(reshape(c)) with c
 * too large to fold as a reshape) and the linear fusion reshapes constant
 * biases, while folding never creates work for canonicalize (it cannot make
 * a matmul or a transpose, nor remove a live use). cse runs after both so
 * equal spellings and equal folded constants have become identical nodes,
 * and dce sweeps what the others left unused. In this order a second run of
 * the pipeline changes nothing. */
const pass_info pass_table[] = {
    {"infer", pass_infer, "re-check every node's recorded type against inference"},
    {"canonicalize", pass_canonicalize,
     "absorb transposes into matmuls, fuse matmul + bias into linear, drop identities"},
    {"constfold", pass_constfold, "evaluate small nodes whose operands are all constants"},
    {"cse", pass_cse, "merge identical nodes and equal constants"},
    {"dce", pass_dce, "remove nodes no output depends on (inputs stay)"},
};
const int pass_count = (int)(sizeof pass_table / sizeof pass_table[0]);

const pass_info *pass_lookup(const char *name) {
    if (!name) return NULL;
    for (int i = 0; i < pass_count; i++)
        if (strcmp(pass_table[i].name, name) == 0) return &pass_table[i];
    return NULL;
}

static bool names_pass(const char *opt, const char *pass) {
    return opt && (strcmp(opt, "all") == 0 || strcmp(opt, pass) == 0);
}

bool pass_run_list(ir_graph **g, const pass_info *passes, int n, const pass_options *o,
                   ir_diag *d) {
    static const pass_options none = {0};
    if (!o) o = &none;
    FILE *out = o->dump_out ? o->dump_out : stdout;
    for (int i = 0; i < n; i++) {
        const pass_info *p = &passes[i];
        if (!p->run(g, d)) {
            ir_note(d, IR_NOLOC, "internal error: in pass '%s'", p->name);
            return false;
        }
        if (o->verify && !ir_verify(*g, d)) {
            ir_note(d, IR_NOLOC, "internal error: the IR is invalid after pass '%s'", p->name);
            return false;
        }
        if (names_pass(o->dump_after, p->name)) {
            fprintf(out, "// after %s\n", p->name);
            ir_print(*g, out);
            fflush(out);
        }
        /* "all" is not a stop point: stopping after the first pass would make
         * it useless, and the driver only passes real pass names here. */
        if (o->stop_after && strcmp(o->stop_after, p->name) == 0) break;
    }
    return true;
}

bool pass_run_pipeline(ir_graph **g, const pass_options *o, ir_diag *d) {
    return pass_run_list(g, pass_table, pass_count, o, d);
}

/* ------------------------------------------------------- rewrite.h helpers */

ir_ref *pass_refbuf_reserve(pass_refbuf *b, int n) {
    if (n > b->cap) {
        int cap = b->cap ? b->cap : 8;
        while (cap < n)
            cap *= 2;
        b->v = ir_xrealloc(b->v, (size_t)cap * sizeof *b->v);
        b->cap = cap;
    }
    return b->v;
}

ir_graph *pass_graph_begin(const ir_graph *src) {
    return ir_graph_new(src->model);
}

ir_ref pass_copy_node(ir_graph *dst, ir_node *n, const ir_ref *in, int nin) {
    /* ir_graph_add copies the name and in[] into dst's arena. */
    ir_ref r = ir_graph_add(dst, n, in, nin);
    n->value = NULL; /* dst owns the tensor now */
    return r;
}

void pass_copy_outputs(ir_graph *dst, const ir_graph *src, const ir_ref *map) {
    for (int32_t k = 0; k < src->noutputs; k++) {
        const ir_output *o = &src->outputs[k];
        ir_ref r = map[o->ref];
        if (r == IR_NONE) ir_internal_error("pass rewrite: output \"%s\" lost its value", o->name);
        ir_graph_add_output(dst, o->name, r, o->loc); /* copies the name */
    }
}

void pass_rebuild(ir_graph **gp, const ir_ref *repl) {
    ir_graph *g = *gp;
    ir_graph *ng = pass_graph_begin(g);
    ir_ref *map = ir_xmalloc((size_t)(g->nnodes ? g->nnodes : 1) * sizeof *map);
    pass_refbuf buf = {0};
    for (int32_t i = 0; i < g->nnodes; i++) {
        ir_node *n = &g->nodes[i];
        ir_ref r = repl[i];
        if (r == IR_NONE) {
            if (n->op == IR_INPUT)
                ir_internal_error("pass rewrite: input \"%s\" dropped", n->name ? n->name : "");
            map[i] = IR_NONE;
            continue;
        }
        if (r != i) {
            if (r < 0 || r > i || n->op == IR_INPUT)
                ir_internal_error("pass rewrite: bad replacement %%%d for %%%d", (int)r, (int)i);
            map[i] = map[r];
            continue;
        }
        ir_ref *in = pass_refbuf_reserve(&buf, n->nin);
        for (int k = 0; k < n->nin; k++) {
            in[k] = map[n->in[k]];
            if (in[k] == IR_NONE)
                ir_internal_error("pass rewrite: %%%d uses dropped %%%d", (int)i, (int)n->in[k]);
        }
        map[i] = pass_copy_node(ng, n, in, n->nin);
    }
    pass_copy_outputs(ng, g, map);
    free(buf.v);
    free(map);
    ir_graph_free(g);
    *gp = ng;
}
