/* cse.c - the "cse" pass: common subexpression elimination.
 *
 * One forward sweep with an open-addressing hash table of representatives.
 * A node's operands are looked up through the replacement map before it is
 * hashed, so chains of duplicates collapse in the same sweep (two equal
 * matmuls of two equal transposes become one of one) and the pass is
 * linear in the graph size.
 *
 * Two nodes are equal when op, dtype, shape, the attributes the op uses and
 * the (replaced) operands are equal; add and mul, being commutative in IEEE
 * arithmetic, also match with their operands swapped. CONST nodes are equal
 * when their dtype, shape and bytes are. INPUT and PARAM are never merged:
 * each is a distinct thing the user supplies. */
#include "pass.h"
#include "rewrite.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

typedef struct table {
    ir_ref *slot;   /* representatives; IR_NONE marks an empty slot */
    uint64_t *hash; /* the hash of each occupied slot, to skip most compares */
    size_t mask;    /* capacity - 1 (capacity is a power of two) */
} table;

typedef struct ctx {
    const ir_graph *g; /* the graph being scanned */
    const ir_ref *map; /* old ref -> representative, filled for earlier nodes */
} ctx;

static bool commutative(ir_op op) {
    return op == IR_ADD || op == IR_MUL;
}

static uint64_t mix(uint64_t h, uint64_t v) {
    h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdULL;
}

/* The attributes an op uses hash and compare through the op table's
 * attribute masks in ir.c, so a new attribute is handled in one place. */
static uint64_t attrs_hash(uint64_t h, const ir_node *n) {
    return mix(h, ir_attrs_hash(n->op, &n->a));
}

static bool attrs_eq(const ir_node *x, const ir_node *y) {
    return ir_attrs_equal(x->op, &x->a, &y->a);
}

/* The operands of node n after replacement; for a commutative op in sorted
 * order, so a + b and b + a hash and compare alike. */
static void operands(const ctx *c, const ir_node *n, ir_ref *out) {
    for (int k = 0; k < n->nin; k++)
        out[k] = c->map[n->in[k]];
    if (commutative(n->op) && n->nin == 2 && out[0] > out[1]) {
        ir_ref t = out[0];
        out[0] = out[1];
        out[1] = t;
    }
}

static uint64_t node_hash(const ctx *c, const ir_node *n, pass_refbuf *buf) {
    uint64_t h = mix(mix((uint64_t)n->op, n->dtype), (uint64_t)n->shape.rank);
    for (int k = 0; k < n->shape.rank; k++)
        h = mix(h, (uint64_t)n->shape.d[k]);
    if (n->op == IR_CONST) return mix(h, XXH3_64bits(n->value->data, ir_tensor_bytes(n->value)));
    h = attrs_hash(h, n);
    h = mix(h, (uint64_t)n->nin);
    ir_ref *in = pass_refbuf_reserve(buf, n->nin);
    operands(c, n, in);
    for (int k = 0; k < n->nin; k++)
        h = mix(h, (uint64_t)in[k]);
    return h;
}

static bool node_eq(const ctx *c, const ir_node *x, const ir_node *y, pass_refbuf *bx,
                    pass_refbuf *by) {
    if (x->op != y->op || x->dtype != y->dtype || !ir_shape_eq(&x->shape, &y->shape)) return false;
    if (x->op == IR_CONST) {
        size_t nb = ir_tensor_bytes(x->value);
        return nb == ir_tensor_bytes(y->value) && memcmp(x->value->data, y->value->data, nb) == 0;
    }
    if (x->nin != y->nin || !attrs_eq(x, y)) return false;
    ir_ref *ix = pass_refbuf_reserve(bx, x->nin);
    ir_ref *iy = pass_refbuf_reserve(by, y->nin);
    operands(c, x, ix);
    operands(c, y, iy);
    return memcmp(ix, iy, (size_t)x->nin * sizeof *ix) == 0;
}

bool pass_cse(ir_graph **gp, ir_diag *d) {
    ir_graph *g = *gp;
    if (g->nnodes == 0) return true;
    ir_ref *map = ir_xmalloc((size_t)g->nnodes * sizeof *map);
    size_t cap = 16;
    while (cap < (size_t)g->nnodes * 2)
        cap *= 2;
    table t = {ir_xmalloc(cap * sizeof *t.slot), ir_xmalloc(cap * sizeof *t.hash), cap - 1};
    for (size_t s = 0; s < cap; s++)
        t.slot[s] = IR_NONE;
    ctx c = {g, map};
    pass_refbuf b0 = {0}, b1 = {0};
    int32_t merged = 0;
    for (int32_t i = 0; i < g->nnodes; i++) {
        const ir_node *n = &g->nodes[i];
        map[i] = i;
        if (n->op == IR_INPUT || n->op == IR_PARAM) continue;
        if (n->op == IR_CONST && !n->value) continue; /* broken; the verifier says so */
        uint64_t h = node_hash(&c, n, &b0);
        size_t s = (size_t)h & t.mask;
        for (; t.slot[s] != IR_NONE; s = (s + 1) & t.mask) {
            if (t.hash[s] == h && node_eq(&c, n, &g->nodes[t.slot[s]], &b0, &b1)) break;
        }
        if (t.slot[s] != IR_NONE) {
            map[i] = t.slot[s];
            merged++;
        } else {
            t.slot[s] = i;
            t.hash[s] = h;
        }
    }
    if (merged > 0) pass_rebuild(gp, map);
    free(b0.v);
    free(b1.v);
    free(t.slot);
    free(t.hash);
    free(map);
    return true;
}
