/* lanes.c - how each kernel kind takes its streamed operands
 * (docs/execution.md): the lanes of PEs a stream is multicast to, and which
 * elements of the operand each lane keeps. The nets (placer/nets.c) route
 * to these lanes and carry what they keep; the SRAM images (codegen/)
 * refine it per PE. One place, so the two cannot disagree. */
#include "ir.h"

static int64_t last_dim(const ir_node *n) {
    return n->shape.rank ? n->shape.d[n->shape.rank - 1] : 1;
}

int32_t ir_in_lanes(const ir_graph *g, const ir_kernel *k, ir_ref r, ir_lane_kind *kind) {
    const ir_node *n0 = &g->nodes[k->nodes[0]];
    switch (k->kind) {
    case IR_KK_GEMV:
    case IR_KK_OUTPUT: *kind = IR_LANES_ROWS; return k->h;
    case IR_KK_GATHER: *kind = IR_LANES_ALL; return 1;
    case IR_KK_MATMUL:
        /* the left operand's contraction slices go along the rows, as a
         * gemv's x, and so does a transposed right operand (its columns are
         * the contraction); an upright right operand's columns go down the
         * columns. Each PE then keeps its block's rows. */
        if (n0->in[0] == r || n0->a.tb) {
            *kind = IR_LANES_ROWS;
            return k->h;
        }
        *kind = IR_LANES_COLS;
        return k->w;
    default: *kind = IR_LANES_COLS; return k->w;
    }
}

/* Whether a move kernel keeps the last axis in place: each lane then needs
 * only its own columns of every operand. */
static bool move_keeps_columns(const ir_graph *g, const ir_node *n0) {
    int rank = n0->shape.rank;
    if (rank < 1) return false;
    if (n0->op == IR_TRANSPOSE) return n0->a.perm[rank - 1] == rank - 1;
    if (n0->op == IR_CONCAT) return n0->a.axis != rank - 1;
    return false;
}

ir_keep ir_lane_keep(const ir_graph *g, const ir_kernel *k, ir_ref r, int32_t j) {
    const ir_node *R = &g->nodes[r], *n0 = &g->nodes[k->nodes[0]];
    int64_t ncol = last_dim(R);
    ir_keep kp = {0, ncol, 0, 0, 0};
    ir_lane_kind kind;
    int32_t q = ir_in_lanes(g, k, r, &kind);
    if (kind == IR_LANES_ALL || k->kind == IR_KK_GENERIC) return kp;
    if (k->kind == IR_KK_MOVE && !move_keeps_columns(g, n0)) return kp;
    if (k->kind == IR_KK_MOVE && n0->op == IR_CONCAT) {
        /* every operand has the output's columns */
        kp.c0 = (int64_t)j * ncol / q, kp.c1 = (int64_t)(j + 1) * ncol / q;
        return kp;
    }
    if (kind == IR_LANES_ROWS) j = ir_kernel_chunk(k, j);
    kp.c0 = (int64_t)j * ncol / q, kp.c1 = (int64_t)(j + 1) * ncol / q;
    return kp;
}
