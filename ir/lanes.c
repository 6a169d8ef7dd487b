/* lanes.c - how each kernel kind takes its streamed operands
 * (docs/execution.md): the lanes of PEs a stream is multicast to, and which
 * elements of the operand each lane keeps. The nets (placer/nets.c) route
 * to these lanes and carry what they keep; the SRAM images (codegen/)
 * refine it per PE. One place, so the two cannot disagree. */
#include "ir.h"

static int64_t last_dim(const ir_node *n) {
    return n->shape.rank ? n->shape.d[n->shape.rank - 1] : 1;
}

/* Matrices in a value of rank >= 2: the product of its leading axes. */
static int64_t batches(const ir_node *n) {
    if (n->shape.rank < 2) return 1;
    int64_t b = 1;
    for (int i = 0; i < n->shape.rank - 2; i++)
        b *= n->shape.d[i];
    return b;
}

/* Attention's matmuls are batched over heads. Split over the rows by
 * contraction, every row needs a slice of every head, so each row's nets
 * come from every head's lanes of the producer and cross one another
 * (docs/router.md); split by batches, a row needs only its heads' lanes. */
/* Whether matmul n0 multiplies batches of matrices alike in both operands. */
static bool batched(const ir_graph *g, const ir_node *n0, int64_t *nb) {
    if (n0->op != IR_MATMUL || n0->a.ta) return false;
    const ir_node *a = &g->nodes[n0->in[0]], *b = &g->nodes[n0->in[1]];
    int64_t n = batches(n0);
    if (n < 2 || batches(a) != n || batches(b) != n) return false;
    *nb = n;
    return true;
}

bool ir_matmul_by_batch(const ir_graph *g, const ir_kernel *k, int64_t *nb) {
    return g->by_heads && k->kind == IR_KK_MATMUL && batched(g, &g->nodes[k->nodes[0]], nb);
}

bool ir_graph_has_heads(const ir_graph *g) {
    int64_t nb;
    for (int32_t i = 0; i < g->nnodes; i++)
        if (ir_permutes_rows(g, i) || batched(g, &g->nodes[i], &nb)) return true;
    return false;
}

void ir_batch_range(int64_t nb, int32_t h, int32_t r, int64_t *b0, int64_t *b1) {
    *b0 = (int64_t)r * nb / h, *b1 = (int64_t)(r + 1) * nb / h;
}

int32_t ir_in_lanes(const ir_graph *g, const ir_kernel *k, ir_ref r, ir_lane_kind *kind) {
    const ir_node *n0 = &g->nodes[k->nodes[0]];
    int64_t nb;
    if (ir_matmul_by_batch(g, k, &nb) && (n0->in[0] == r || n0->in[1] == r)) {
        /* each row takes its batches of both operands, whole */
        *kind = IR_LANES_ROWS;
        return k->h;
    }
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
    int64_t nb, b0, b1;
    if (ir_matmul_by_batch(g, k, &nb) && (n0->in[0] == r || n0->in[1] == r)) {
        /* row j: every column of its batches' rows */
        ir_batch_range(nb, q, j, &b0, &b1);
        int64_t per = ir_shape_numel(&R->shape) / ncol / nb;
        kp.rlo = b0 * per, kp.rhi = b1 * per;
        return kp;
    }
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
