/* rewrite.h - internal to the passes: the one way a pass rebuilds a graph.
 *
 * A pass that drops or replaces nodes builds a new graph rather than editing
 * the node array in place, because refs are indices and every removal would
 * shift them. These helpers do the bookkeeping that every such pass needs
 * (names copied into the new arena, tensors moved, INPUT nodes and outputs
 * kept in their order) so no pass repeats it. */
#ifndef WSC_PASS_REWRITE_H
#define WSC_PASS_REWRITE_H

#include "ir.h"

/* An empty graph with src's model name, to be filled by pass_copy_node. */
ir_graph *pass_graph_begin(const ir_graph *src);

/* Appends a copy of n (a node of another graph) to dst with operands in[0..nin)
 * (refs of dst). The name is copied into dst's arena and the tensor is moved:
 * n->value is NULL afterwards, so freeing the old graph keeps it alive. */
ir_ref pass_copy_node(ir_graph *dst, ir_node *n, const ir_ref *in, int nin);

/* Adds src's outputs to dst in order, each ref mapped through map (indexed by
 * src refs, holding dst refs). */
void pass_copy_outputs(ir_graph *dst, const ir_graph *src, const ir_ref *map);

/* Replaces *g by a copy in which node i is kept when repl[i] == i, has its
 * uses forwarded to repl[i] when repl[i] < i (itself possibly replaced), and
 * is dropped when repl[i] == IR_NONE (then no kept node or output may use
 * it). INPUT nodes must be kept. Frees the old graph. */
void pass_rebuild(ir_graph **g, const ir_ref *repl);

/* A growable operand buffer, so passes remap operand lists of any length
 * (concat is variadic) without a fixed limit. */
typedef struct pass_refbuf {
    ir_ref *v; /* the refs */
    int cap;   /* entries allocated */
} pass_refbuf;

/* Makes room for n refs and returns the array. */
ir_ref *pass_refbuf_reserve(pass_refbuf *b, int n);

#endif
