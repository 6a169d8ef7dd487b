/* lower.c - lowering of the tensor IR to a kernel graph: which IR nodes
 * become which kernel, which elementwise ops fuse into their producer, which
 * values stay resident in SRAM (weights, views of weights), and which
 * streams of wavelets run between kernels. Sizing the rectangles is the
 * tiling pass's job (tile.c); this pass leaves every kernel 1 x 1. */
#include "pass.h"

#include <stdlib.h>
#include <string.h>

/* How a value exists on the wafer. */
typedef enum vclass {
    V_NONE,     /* not needed */
    V_RESIDENT, /* a weight, constant, or a view of one: lives in its consumers' SRAM */
    V_STREAM,   /* produced by a kernel and streamed */
} vclass;

typedef struct lowering {
    const ir_graph *g; /* the model */
    ir_kgraph *kg;     /* the result */
    vclass *cls;       /* per node */
    int32_t *kernel;   /* per node: the kernel that produces it (views: their base's), or -1 */
    int32_t *uses;     /* per node: users, counting graph outputs */
} lowering;

/* Fast programs exist for f32 elementwise ops of this list (the fused-op
 * generator of codegen/cg.c); everything else runs in a generic kernel. */
static bool fast_op(ir_op op) {
    ir_kind k = ir_ops[op].kind;
    return k == IR_K_UNARY || k == IR_K_BINARY || op == IR_CAUSAL_MASK;
}

static bool all_f32(const ir_graph *g, const ir_node *n) {
    if (n->dtype != IR_F32) return false;
    for (int k = 0; k < n->nin; k++)
        if (g->nodes[n->in[k]].dtype != IR_F32) return false;
    return true;
}

static int64_t batches(const ir_node *n) {
    int r = n->shape.rank;
    return r < 2 ? 1 : ir_shape_numel(&n->shape) / (n->shape.d[r - 1] * n->shape.d[r - 2]);
}

static bool is_elementwise(const ir_node *n) {
    ir_kind k = ir_ops[n->op].kind;
    return k == IR_K_UNARY || k == IR_K_BINARY || k == IR_K_COMPARE || n->op == IR_WHERE ||
           n->op == IR_CAST || n->op == IR_CAUSAL_MASK;
}

static int32_t add_kernel(lowering *L, ir_kkind kind, ir_ref node) {
    ir_kgraph *kg = L->kg;
    if (kg->nk == kg->capk) {
        kg->capk = kg->capk ? kg->capk * 2 : 64;
        kg->k = ir_xrealloc(kg->k, sizeof(ir_kernel) * (size_t)kg->capk);
    }
    ir_kernel *k = &kg->k[kg->nk];
    memset(k, 0, sizeof *k);
    k->kind = kind;
    k->node = node;
    k->nodes = ir_alloc(kg->arena, sizeof(ir_ref) * 8);
    k->nodes[0] = node;
    k->nnodes = 1;
    k->w = k->h = 1;
    k->x = k->y = -1;
    const ir_node *n = &L->g->nodes[node];
    k->name =
        ir_sprintf(kg->arena, "%s%%%d", kind == IR_KK_INPUT ? n->name : ir_ops[n->op].name, node);
    L->kernel[node] = kg->nk;
    L->cls[node] = V_STREAM;
    return kg->nk++;
}

/* Appends an elementwise node to kernel ki's epilogue. */
static void fuse(lowering *L, int32_t ki, ir_ref node) {
    ir_kernel *k = &L->kg->k[ki];
    if ((k->nnodes & (k->nnodes - 1)) == 0 && k->nnodes >= 8) {
        ir_ref *more = ir_alloc(L->kg->arena, sizeof(ir_ref) * (size_t)k->nnodes * 2);
        memcpy(more, k->nodes, sizeof(ir_ref) * (size_t)k->nnodes);
        k->nodes = more;
    }
    k->nodes[k->nnodes++] = node;
    k->node = node;
    L->kernel[node] = ki;
    L->cls[node] = V_STREAM;
}

static void add_stream(lowering *L, int32_t src, int32_t dst, int32_t operand, int64_t wavelets) {
    ir_kgraph *kg = L->kg;
    for (int32_t i = kg->ns - 1; i >= 0 && i >= kg->ns - 8; i--)
        if (kg->s[i].src == src && kg->s[i].dst == dst) {
            kg->s[i].wavelets += wavelets;
            return;
        }
    if (kg->ns == kg->caps) {
        kg->caps = kg->caps ? kg->caps * 2 : 64;
        kg->s = ir_xrealloc(kg->s, sizeof(ir_kstream) * (size_t)kg->caps);
    }
    kg->s[kg->ns++] = (ir_kstream){src, dst, operand, wavelets};
}

/* Words (32-bit wavelets) of a value: f16/bf16 travel packed two per wavelet. */
static int64_t words(const ir_node *n) {
    int64_t e = ir_shape_numel(&n->shape);
    return n->dtype == IR_F16 || n->dtype == IR_BF16 ? (e + 1) / 2 : e;
}

/* Can node i fuse into the kernel producing operand k? The operand must be
 * the kernel's latest value, used only here, of the same shape. */
static int32_t fusion_target(lowering *L, ir_ref i) {
    const ir_node *n = &L->g->nodes[i];
    for (int k = 0; k < n->nin; k++) {
        ir_ref o = n->in[k];
        if (L->cls[o] != V_STREAM || L->uses[o] != 1) continue;
        int32_t ki = L->kernel[o];
        if (ki < 0 || L->kg->k[ki].node != o) continue; /* a view of it, or not its last value */
        ir_kkind kind = L->kg->k[ki].kind;
        if (kind == IR_KK_INPUT || kind == IR_KK_OUTPUT || kind == IR_KK_MOVE ||
            kind == IR_KK_GENERIC)
            continue;
        /* the fused-op generator reads other streams element for element */
        bool same = true;
        for (int j = 0; j < n->nin; j++)
            if (n->in[j] != o && L->cls[n->in[j]] == V_STREAM)
                same &= ir_shape_eq(&L->g->nodes[n->in[j]].shape, &n->shape);
        if (!same) continue;
        if (!ir_shape_eq(&L->g->nodes[o].shape, &n->shape)) continue;
        /* A kernel that emits from its bottom row gets streams by its
         * input layout (a gemv's contraction slices), so an op bringing a
         * second stream stays a map kernel of its own. */
        if (kind == IR_KK_GEMV || kind == IR_KK_MATMUL || kind == IR_KK_GATHER) {
            bool other = false;
            for (int j = 0; j < n->nin; j++)
                other |= n->in[j] != o && L->cls[n->in[j]] == V_STREAM;
            if (other) continue;
        }
        return ki;
    }
    return -1;
}

/* Fusing a later op into an earlier kernel can give that kernel an input
 * from a kernel created after it; the placer wants pipeline order, so the
 * kernels are sorted topologically (stable: among ready kernels the one
 * created first goes first). */
static void order_kernels(ir_kgraph *kg) {
    int32_t n = kg->nk;
    int32_t *indeg = ir_xcalloc((size_t)n + 1, sizeof *indeg),
            *pos = ir_xmalloc(sizeof(int32_t) * ((size_t)n + 1));
    int32_t *start = ir_xcalloc((size_t)n + 2, sizeof *start),
            *adj = ir_xmalloc(sizeof(int32_t) * ((size_t)kg->ns + 1));
    for (int32_t i = 0; i < kg->ns; i++)
        indeg[kg->s[i].dst]++, start[kg->s[i].src + 1]++;
    for (int32_t i = 0; i < n; i++)
        start[i + 1] += start[i];
    int32_t *fill = ir_xmalloc(sizeof(int32_t) * ((size_t)n + 1));
    memcpy(fill, start, sizeof(int32_t) * (size_t)n);
    for (int32_t i = 0; i < kg->ns; i++)
        adj[fill[kg->s[i].src]++] = kg->s[i].dst;
    /* a binary heap of ready kernels by creation index */
    int32_t *heap = ir_xmalloc(sizeof(int32_t) * ((size_t)n + 1)), nh = 0, done = 0;
    for (int32_t i = 0; i < n; i++)
        if (!indeg[i]) heap[nh++] = i; /* ascending: already a heap */
    while (nh) {
        int32_t v = heap[0];
        heap[0] = heap[--nh];
        for (int32_t i = 0;;) {
            int32_t l = 2 * i + 1, r = l + 1, m = i;
            if (l < nh && heap[l] < heap[m]) m = l;
            if (r < nh && heap[r] < heap[m]) m = r;
            if (m == i) break;
            int32_t t = heap[i];
            heap[i] = heap[m], heap[m] = t, i = m;
        }
        pos[v] = done++;
        for (int32_t e = start[v]; e < start[v + 1]; e++)
            if (--indeg[adj[e]] == 0) {
                int32_t i = nh++;
                heap[i] = adj[e];
                while (i && heap[(i - 1) / 2] > heap[i]) {
                    int32_t t = heap[i];
                    heap[i] = heap[(i - 1) / 2], heap[(i - 1) / 2] = t, i = (i - 1) / 2;
                }
            }
    }
    if (done != n) ir_internal_error("the kernel graph has a cycle");
    ir_kernel *k = ir_xmalloc(sizeof(ir_kernel) * ((size_t)n + 1));
    for (int32_t i = 0; i < n; i++)
        k[pos[i]] = kg->k[i];
    memcpy(kg->k, k, sizeof(ir_kernel) * (size_t)n);
    for (int32_t i = 0; i < kg->ns; i++)
        kg->s[i].src = pos[kg->s[i].src], kg->s[i].dst = pos[kg->s[i].dst];
    free(k), free(indeg), free(pos), free(start), free(adj), free(fill), free(heap);
}

bool pass_lower(const ir_graph *g, ir_kgraph *kg, ir_diag *d) {
    memset(kg, 0, sizeof *kg);
    kg->arena = ir_arena_new();
    lowering L = {g, kg, NULL, NULL, NULL};
    int32_t n = g->nnodes;
    L.cls = ir_xcalloc((size_t)n + 1, sizeof *L.cls);
    L.kernel = ir_xmalloc(sizeof(int32_t) * ((size_t)n + 1));
    L.uses = ir_xcalloc((size_t)n + 1, sizeof *L.uses);
    for (int32_t i = 0; i < n; i++) {
        L.kernel[i] = -1;
        for (int k = 0; k < g->nodes[i].nin; k++)
            L.uses[g->nodes[i].in[k]]++;
    }
    for (int32_t i = 0; i < g->noutputs; i++)
        L.uses[g->outputs[i].ref]++;

    for (int32_t i = 0; i < n; i++) {
        const ir_node *x = &g->nodes[i];
        if (x->op == IR_PARAM || x->op == IR_CONST) {
            L.cls[i] = V_RESIDENT;
            continue;
        }
        if (x->op == IR_INPUT) {
            add_kernel(&L, IR_KK_INPUT, i);
            continue;
        }
        bool all_resident = true;
        for (int k = 0; k < x->nin; k++)
            all_resident &= L.cls[x->in[k]] == V_RESIDENT;
        /* Anything computed from weights alone is computed at compile time
         * (views and transposes of weights are addressing: the weight is
         * laid out in SRAM in the order its user wants). */
        if (all_resident) {
            L.cls[i] = V_RESIDENT;
            continue;
        }
        if (ir_is_view(g, i)) {
            ir_view v; /* lowering goes on after an error, but returns false */
            if (!ir_view_of(g, i, &v)) {
                ir_error(d, x->loc,
                         "this %s of a streamed value has no addressing on the wafer (it merges "
                         "axes that a slice or transpose before it separated); wsc cannot map it",
                         ir_ops[x->op].name);
            }
            L.cls[i] = V_STREAM;
            L.kernel[i] = L.kernel[x->in[0]];
            continue;
        }
        switch (x->op) {
        case IR_MATMUL:
        case IR_LINEAR: {
            const ir_node *a = &g->nodes[x->in[0]], *b = &g->nodes[x->in[1]];
            bool f32 = all_f32(g, x);
            bool weights = L.cls[x->in[1]] == V_RESIDENT && b->shape.rank == 2 && !x->a.ta &&
                           L.cls[x->in[0]] == V_STREAM && a->shape.rank >= 1 &&
                           (x->op == IR_MATMUL || L.cls[x->in[2]] == V_RESIDENT);
            bool streams = x->op == IR_MATMUL && L.cls[x->in[0]] == V_STREAM &&
                           L.cls[x->in[1]] == V_STREAM && !x->a.ta && a->shape.rank >= 2 &&
                           b->shape.rank >= 2 && (batches(a) == batches(b) || batches(b) == 1);
            add_kernel(&L,
                       f32 && weights   ? IR_KK_GEMV
                       : f32 && streams ? IR_KK_MATMUL
                                        : IR_KK_GENERIC,
                       i);
            break;
        }
        case IR_GATHER: {
            const ir_node *t = &g->nodes[x->in[0]];
            bool fast = L.cls[x->in[0]] == V_RESIDENT && t->shape.rank == 2 && t->dtype == IR_F32 &&
                        L.cls[x->in[1]] == V_STREAM;
            add_kernel(&L, fast ? IR_KK_GATHER : IR_KK_GENERIC, i);
            break;
        }
        case IR_SOFTMAX:
        case IR_LAYERNORM:
        case IR_RMSNORM:
        case IR_REDUCE_SUM:
        case IR_REDUCE_MEAN:
        case IR_REDUCE_MAX:
        case IR_REDUCE_MIN: {
            /* one reduction along the row, gains and biases resident */
            const ir_node *in = &g->nodes[x->in[0]];
            int rank = in->shape.rank;
            bool fast = all_f32(g, x) && rank >= 1 && L.cls[x->in[0]] == V_STREAM;
            if (x->op == IR_SOFTMAX) fast &= x->a.axis == rank - 1;
            if (ir_ops[x->op].kind == IR_K_REDUCE) fast &= x->a.axes == 1u << (rank - 1);
            for (int k = 1; k < x->nin; k++)
                fast &= L.cls[x->in[k]] == V_RESIDENT;
            add_kernel(&L, fast ? IR_KK_ROW : IR_KK_GENERIC, i);
            break;
        }
        case IR_TRANSPOSE:
        case IR_CONCAT: {
            bool streams = true;
            for (int k = 0; k < x->nin; k++)
                streams &= L.cls[x->in[k]] == V_STREAM;
            add_kernel(&L, streams ? IR_KK_MOVE : IR_KK_GENERIC, i);
            break;
        }
        default: {
            if (!is_elementwise(x)) ir_internal_error("no kernel for op '%s'", ir_ops[x->op].name);
            bool fast = fast_op(x->op) && all_f32(g, x);
            for (int k = 0; k < x->nin; k++)
                if (L.cls[x->in[k]] == V_STREAM)
                    fast &= ir_shape_eq(&g->nodes[x->in[k]].shape, &x->shape);
            int32_t ki = fast ? fusion_target(&L, i) : -1;
            if (ki >= 0)
                fuse(&L, ki, i);
            else
                add_kernel(&L, fast ? IR_KK_MAP : IR_KK_GENERIC, i);
        }
        }
    }
    /* Outputs: a kernel on the east edge per output. */
    for (int32_t i = 0; i < g->noutputs; i++) {
        ir_ref r = g->outputs[i].ref;
        int32_t prod = L.kernel[r];
        vclass c = L.cls[r];
        int32_t ki = add_kernel(&L, IR_KK_OUTPUT, r);
        kg->k[ki].name = ir_sprintf(kg->arena, "%s", g->outputs[i].name);
        L.kernel[r] = prod;
        L.cls[r] = c;
        /* An output of a resident value (a param) is streamed from SRAM by
         * the output kernel itself. */
        if (c == V_STREAM && prod >= 0) add_stream(&L, prod, ki, 0, words(&g->nodes[r]));
    }
    /* Streams into every kernel from the producers of its operands. */
    for (int32_t ki = 0; ki < kg->nk; ki++) {
        ir_kernel *k = &kg->k[ki];
        if (k->kind == IR_KK_OUTPUT || k->kind == IR_KK_INPUT) continue;
        for (int32_t j = 0; j < k->nnodes; j++) {
            const ir_node *x = &g->nodes[k->nodes[j]];
            for (int o = 0; o < x->nin; o++) {
                ir_ref r = x->in[o];
                if (L.cls[r] != V_STREAM) continue;
                int32_t src = L.kernel[r];
                if (src == ki || src < 0) continue;
                add_stream(&L, src, ki, o, words(&g->nodes[r]));
            }
        }
    }
    free(L.cls);
    free(L.kernel);
    free(L.uses);
    order_kernels(kg);
    return !ir_diag_errors(d);
}
