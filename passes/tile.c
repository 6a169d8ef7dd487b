/* tile.c - sizing every kernel's rectangle. Two forces: each PE's SRAM must
 * hold its share of the weights, its buffers and its program; and since all
 * kernels are resident and activations stream through them, the slowest
 * kernel sets the pace, so PEs go where the work is. The pass finds the
 * shortest pipeline period P for which every kernel, sized to finish a pass
 * within P cycles, fits, and the rectangles together use at most half the
 * fabric (the rest is slack for packing and routing). */
#include "pass.h"

#include "../runtime/wse_abi.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* What a kernel must do, independent of its size. */
typedef struct shape {
    int64_t rows; /* rows streamed per pass */
    int64_t n;    /* row length of its output (split across w) */
    int64_t k;    /* contraction length (gemv, matmul), else 1 */
    int64_t
        held; /* elements held in SRAM split over all PEs (weights, tables, buffered operands) */
    int64_t lanes;    /* elements of resident per-row operands split across w (bias, gamma) */
    int64_t esize;    /* bytes per held element */
    int64_t epilogue; /* fused elementwise ops per output element */
    int64_t maxw;     /* largest useful w */
    int64_t maxh;     /* largest useful h */
    int64_t work;     /* multiply-adds or element operations per pass */
    int64_t whole;    /* elements every PE holds whole (moves that reorder columns, generic) */
    int64_t epilogue_streams; /* streamed operands of its fused ops (map: of its ops) */
    int64_t table;            /* gather: the table's rows */
    int64_t batches;          /* matmul split by batches over its rows: how many; else 0 */
} shape;

static int64_t cdiv(int64_t a, int64_t b) {
    return (a + b - 1) / b;
}
static int64_t max64(int64_t a, int64_t b) {
    return a > b ? a : b;
}
static int64_t min64(int64_t a, int64_t b) {
    return a < b ? a : b;
}

static int64_t elems(const ir_node *n) {
    return ir_shape_numel(&n->shape);
}
static int64_t last(const ir_node *n) {
    return n->shape.rank ? n->shape.d[n->shape.rank - 1] : 1;
}

static shape kernel_shape(const ir_graph *g, const ir_kernel *k, const ir_target *t) {
    const ir_node *x = &g->nodes[k->nodes[0]];
    const ir_node *out = &g->nodes[k->node];
    shape s = {0};
    s.esize = 4;
    s.n = last(out);
    s.rows = max64(1, elems(out) / max64(1, s.n));
    s.k = 1;
    s.epilogue = k->nnodes - 1;
    s.maxw = s.n;
    s.maxh = 1;
    /* Resident operands of fused ops (biases, gains) are split by lanes;
     * streamed ones are buffered per row. */
    for (int32_t j = 0; j < k->nnodes; j++) {
        const ir_node *y = &g->nodes[k->nodes[j]];
        for (int o = 0; o < y->nin; o++) {
            const ir_node *op = &g->nodes[y->in[o]];
            /* a view of a weight (wpe[0:T]) is as resident as the weight */
            bool resident = ir_is_resident(g, y->in[o]);
            if (j && resident && elems(op) > 1) s.lanes += elems(op);
            bool inside = false;
            for (int32_t q = 0; q < k->nnodes; q++)
                inside |= k->nodes[q] == y->in[o];
            if (!inside && !resident && (j || k->kind == IR_KK_MAP)) s.epilogue_streams++;
        }
    }
    switch (k->kind) {
    case IR_KK_GEMV: {
        const ir_node *w = &g->nodes[x->in[1]];
        s.k = x->a.tb ? w->shape.d[1] : w->shape.d[0];
        s.held = elems(w);
        if (x->op == IR_LINEAR) s.lanes += s.n;
        s.maxh = s.k;
        s.work = s.rows * s.k * s.n;
        break;
    }
    case IR_KK_MATMUL: {
        const ir_node *a = &g->nodes[x->in[0]], *b = &g->nodes[x->in[1]];
        s.k = x->a.ta ? a->shape.d[a->shape.rank - 2] : last(a);
        s.held = elems(b);
        s.maxh = max64(1, elems(b) / max64(1, s.n));
        if (ir_matmul_by_batch(g, k, &s.batches)) s.maxh = s.batches;
        s.work = s.rows * s.k * s.n;
        break;
    }
    case IR_KK_GATHER: {
        const ir_node *tab = &g->nodes[x->in[0]];
        s.held = elems(tab);
        s.table = tab->shape.d[0];
        s.maxh = tab->shape.d[0];
        s.work = elems(out);
        break;
    }
    case IR_KK_ROW: {
        const ir_node *in = &g->nodes[x->in[0]];
        s.n = last(in);
        s.rows = max64(1, elems(in) / max64(1, s.n));
        s.maxw = s.n;
        for (int o = 1; o < x->nin; o++)
            s.lanes += elems(&g->nodes[x->in[o]]);
        /* reductions over other axes keep the whole operand */
        bool last_axis_only =
            !(ir_ops[x->op].kind == IR_K_REDUCE) || x->a.axes == (1u << (in->shape.rank - 1));
        if (!last_axis_only) s.held = elems(in);
        s.work = 5 * elems(in);
        break;
    }
    case IR_KK_MOVE: {
        /* one row of lanes; each keeps its columns of every operand when
         * the last axis stays in place, else all of them (docs/kernels.md) */
        int rank = out->shape.rank;
        bool columns = rank >= 1 && (x->op == IR_TRANSPOSE ? x->a.perm[rank - 1] == rank - 1
                                                           : x->a.axis != rank - 1);
        s.held = elems(out);
        s.lanes = columns ? 0 : elems(out) * 1;
        if (!columns) s.held = 0, s.lanes = 0, s.whole = elems(out);
        s.maxh = 1;
        s.work = elems(out);
        break;
    }
    case IR_KK_GENERIC: {
        /* every lane holds all operands (docs/kernels.md) */
        s.whole = 0;
        for (int o = 0; o < x->nin; o++)
            s.whole += elems(&g->nodes[x->in[o]]);
        s.maxh = 1;
        int64_t per = 1;
        if (x->op == IR_MATMUL || x->op == IR_LINEAR) per = last(&g->nodes[x->in[0]]);
        if (ir_ops[x->op].kind == IR_K_NORM || ir_ops[x->op].kind == IR_K_REDUCE)
            per = max64(1, elems(&g->nodes[x->in[0]]) / max64(1, elems(out))) * 3;
        s.work = elems(out) * per;
        s.epilogue = 0;
        break;
    }
    case IR_KK_MAP:
        for (int o = 0; o < x->nin; o++) {
            const ir_node *op = &g->nodes[x->in[o]];
            if ((op->op == IR_PARAM || op->op == IR_CONST) && elems(op) > 1) s.lanes += elems(op);
        }
        s.work = elems(out) * k->nnodes;
        s.epilogue = 0;
        break;
    case IR_KK_INPUT:
    case IR_KK_OUTPUT:
        /* one edge column: h lanes, one wavelet per cycle per row */
        s.maxw = 1;
        s.maxh = min64(s.n, t->height);
        s.work = elems(out);
        break;
    default: break;
    }
    s.maxw = min64(max64(1, s.maxw), t->width);
    s.maxh = min64(max64(1, s.maxh), t->height);
    return s;
}

/* SRAM bytes of the busiest PE and cycles per pass at w x h. The PE
 * programs (codegen/pe/wsl.c) buffer every streamed operand's rows for the
 * whole pass, with a counter per row, so buffers grow with the rows. */
static void evaluate(const shape *s, const ir_kernel *k, int64_t w, int64_t h, int64_t *sram,
                     int64_t *cycles, int64_t *data, int64_t *buffers, int64_t *program) {
    bool host = k->kind == IR_KK_INPUT || k->kind == IR_KK_OUTPUT;
    int64_t lanes = host ? h : w;
    int64_t slice_n = cdiv(s->n, lanes);
    int64_t slice_k = cdiv(s->k, h);
    int64_t rows = s->rows;
    /* the program, its parameter block, and the 16-byte alignment of each
     * block codegen/image.c lays out (sources, buffers, counters: 16 at most) */
    *program = 1024 + 256 * k->nnodes + (int64_t)sizeof(wse_params) + 16 * 16;
    *data = cdiv(s->held, w * h) * s->esize + cdiv(s->lanes, w) * 4 + s->whole * 4;
    /* match_lanes keeps relays away (a relaying lane would buffer more) */
    int64_t relay = 0;
    (void)lanes;
    int64_t scratch = 4 * max64(slice_n, slice_k) + 16;
    switch (k->kind) {
    case IR_KK_GEMV:
        *data = slice_k * slice_n * s->esize + cdiv(s->lanes, w) * 4;
        /* x's contraction slice and the north partial sums, per row */
        *buffers = rows * (slice_k + 1) * 4 + (h > 1 ? rows * (slice_n + 1) * 4 : 0);
        *cycles = rows * (slice_k * slice_n + slice_n * (1 + s->epilogue));
        break;
    case IR_KK_MATMUL:
        /* the left operand's slice of every row (split by batches: its
         * batches' rows whole), the right one's block in data */
        if (s->batches)
            *buffers = cdiv(s->batches, h) * (rows / s->batches) * (s->k + 1) * 4;
        else
            *buffers = rows * (slice_k + 1) * 4;
        *buffers += h > 1 ? rows * (slice_n + 1) * 4 : 0;
        *cycles = cdiv(s->work, w * h) + rows * slice_n * (1 + s->epilogue);
        break;
    case IR_KK_ROW:
        /* the row slice, and the statistics from the west and of the row */
        *buffers = rows * (slice_n + 1) * 4 * (1 + s->epilogue_streams) + rows * 6 * 4;
        /* a reduce-and-broadcast along the row per row: 2 w hops */
        *cycles = rows * (5 * slice_n + 2 * w + slice_n * s->epilogue);
        break;
    case IR_KK_INPUT:
    case IR_KK_OUTPUT:
        *buffers = rows * (slice_n + 1) * 4;
        *cycles = rows * slice_n;
        break;
    case IR_KK_GATHER:
        /* PE (c, r) holds table rows r of the split, columns c; it keeps the
         * whole index and, below the top row, the north sums of every row */
        *data = cdiv(s->table, h) * slice_n * s->esize + cdiv(s->lanes, w) * 4;
        *buffers = rows * 2 * 4 + (h > 1 ? rows * (slice_n + 1) * 4 : 0);
        /* a row's copy (or zeros), the north sum added and sent south, at
         * every PE of a column in turn: the chain fills in h steps */
        *cycles = (rows + h - 1) * 3 * slice_n + rows * slice_n * s->epilogue;
        break;
    case IR_KK_MAP:
        *buffers = rows * (slice_n + 1) * 4 * max64(1, s->epilogue_streams);
        *cycles = cdiv(s->work, w * h) + rows * slice_n * s->epilogue;
        break;
    default:
        /* move and generic: their operands are `data` */
        *buffers = 0;
        *cycles = cdiv(s->work, w * h) + rows * slice_n * s->epilogue;
        break;
    }
    *buffers += relay + scratch;
    *sram = *data + *buffers + *program;
}

/* Gives kernel k the size w x h and what it costs there. */
static void set_size(const shape *s, ir_kernel *k, int64_t w, int64_t h) {
    int64_t sram;
    k->w = (int32_t)w, k->h = (int32_t)h;
    evaluate(s, k, w, h, &sram, &k->cycles, &k->sram_data, &k->sram_buffers, &k->sram_program);
}

/* Candidate sizes 1..limit: all small values, then a geometric ladder. */
static int candidates(int64_t limit, int64_t *c) {
    int n = 0;
    for (int64_t v = 1; v <= limit && v <= 16; v++)
        c[n++] = v;
    for (double v = 20; v < (double)limit && n < 60; v *= 1.25)
        c[n++] = (int64_t)v;
    if (c[n - 1] != limit) c[n++] = limit;
    return n;
}

/* The smallest-area size meeting period P within SRAM; false if none. */
static bool best_size(const shape *s, const ir_kernel *k, const ir_target *t, int64_t period,
                      int64_t *bw, int64_t *bh) {
    int64_t cw[64], ch[64];
    int nw = candidates(s->maxw, cw), nh = candidates(s->maxh, ch);
    int64_t best = INT64_MAX;
    for (int i = 0; i < nh; i++)
        for (int j = 0; j < nw; j++) {
            int64_t w = cw[j], h = ch[i], sram, cyc, a, b, c;
            if (w * h >= best) break;
            evaluate(s, k, w, h, &sram, &cyc, &a, &b, &c);
            if (sram <= t->sram_bytes && cyc <= period) {
                best = w * h;
                *bw = w, *bh = h;
                break;
            }
        }
    return best != INT64_MAX;
}

/* The fewest rows a gather w wide needs to fit SRAM, or -1. */
static int64_t gather_rows(const shape *s, const ir_kernel *k, const ir_target *t, int64_t w) {
    int64_t sram, cyc, a, b, c;
    evaluate(s, k, w, 1, &sram, &cyc, &a, &b, &c);
    if (sram <= t->sram_bytes) return 1;
    /* SRAM falls as h grows (from 2 on: the north sums start at 2) */
    int64_t lo = 2, hi = s->maxh;
    evaluate(s, k, w, hi, &sram, &cyc, &a, &b, &c);
    if (hi < 2 || sram > t->sram_bytes) return -1;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        evaluate(s, k, w, mid, &sram, &cyc, &a, &b, &c);
        if (sram <= t->sram_bytes)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* A gather's lanes are its columns, and every consumer lane needs the
 * producer lanes holding its columns: a table spread over a wide, flat
 * rectangle (the smallest area often is) makes hundreds of lanes whose
 * routes converge on a narrower consumer and cross (docs/router.md). So a
 * gather takes the narrowest rectangle that meets the period and fits SRAM
 * within `area` PEs; false (size unchanged) if none. */
static bool narrowest_gather(const shape *s, const ir_kernel *k, const ir_target *t, int64_t period,
                             int64_t area, int64_t *bw, int64_t *bh) {
    for (int64_t w = 1; w <= s->maxw && w <= area; w++) {
        int64_t sram, cyc, a, b, c, h = gather_rows(s, k, t, w);
        if (h < 0) continue;
        evaluate(s, k, w, h, &sram, &cyc, &a, &b, &c);
        /* the chain only grows slower with h: the first h is the best */
        if (cyc <= period && w * h <= area) {
            *bw = w, *bh = h;
            return true;
        }
    }
    return false;
}

/* Output lanes of a kernel (placer/nets.c's out_lanes). */
static int64_t out_lanes(const ir_kernel *k) {
    return k->kind == IR_KK_INPUT || k->kind == IR_KK_OUTPUT ? k->h : k->w;
}

/* A consumer lane gets one net per producer lane it needs, or per relay
 * group of up to 4 of them (placer/nets.c); a PE has 16 data tasks and a
 * router 24 colours. So no kernel takes an operand on fewer than 1/12 of its
 * producer's output lanes (a lane then gets about 4 nets), and on fewer than
 * half of them (no relays) when the producer's lanes could not buffer what
 * they relay (`tight`): a kernel sized by its own work alone (a 1-wide map
 * after a 64-wide gemv) is widened. In pipeline order, so a widened
 * kernel's own consumers see its new width. */
static void match_lanes(const ir_graph *g, ir_kgraph *kg, const shape *sh, const ir_target *t,
                        const uint8_t *tight) {
    /* within the half of the fabric tiling allows */
    int64_t budget = (int64_t)t->width * t->height / 2, area = 0;
    for (int32_t i = 0; i < kg->nk; i++)
        area += (int64_t)kg->k[i].w * kg->k[i].h;
    int32_t *order = ir_xmalloc(sizeof(int32_t) * ((size_t)kg->ns + 1)), n = 0;
    for (int32_t ka = 0; ka < kg->nk; ka++)
        for (int32_t s = 0; s < kg->ns; s++)
            if (kg->s[s].src == ka) order[n++] = s;
    for (int32_t i = 0; i < n; i++) {
        int32_t s = order[i];
        const ir_kernel *a = &kg->k[kg->s[s].src];
        ir_kernel *b = &kg->k[kg->s[s].dst];
        int64_t need = cdiv(out_lanes(a), tight[kg->s[s].src] ? 2 : 12);
        const shape *bs = &sh[kg->s[s].dst];
        ir_lane_kind kind = IR_LANES_ALL;
        for (int32_t j = 0; j < b->nnodes; j++) {
            const ir_node *x = &g->nodes[b->nodes[j]];
            for (int o = 0; o < x->nin; o++)
                if (ir_view_base(g, x->in[o]) == a->node) ir_in_lanes(g, b, x->in[o], &kind);
        }
        if (b->kind == IR_KK_OUTPUT) kind = IR_LANES_ROWS;
        int64_t before = (int64_t)b->w * b->h;
        if (kind == IR_LANES_ROWS && b->h < need) {
            int64_t h = min64(need, bs->maxh);
            if (area + b->w * (h - b->h) > budget) continue;
            b->h = (int32_t)h;
        } else if (kind == IR_LANES_COLS && b->w < need) {
            int64_t w = min64(need, bs->maxw);
            if (area + (w - b->w) * b->h > budget) continue;
            b->w = (int32_t)w;
        } else {
            continue;
        }
        area += (int64_t)b->w * b->h - before;
        set_size(bs, b, b->w, b->h);
    }
    free(order);
}

/* An output column's row takes one slice of its value's columns, and the
 * producer's lane i sends slice i of p. Unless the rows are a divisor or a
 * multiple of p, some lanes feed two rows: their routes branch and cross
 * the others' (docs/router.md), which costs colours: GPT-2 small's logits
 * (568 lanes into 291 rows) made thousands of clashes. So an output column
 * grows to the nearest aligned height, within the east edge; more rows only
 * shrink its buffers. (Aligning gemv and matmul rows the same way helped
 * GPT-2 small too but made the 64x64 GPT-2 example unroutable: see
 * docs/PERFORMANCE.md.) */
static void align_outputs(const ir_graph *g, ir_kgraph *kg, const shape *sh, const ir_target *t) {
    int64_t budget = (int64_t)t->width * t->height / 2, area = 0, edge = 0;
    for (int32_t i = 0; i < kg->nk; i++) {
        area += (int64_t)kg->k[i].w * kg->k[i].h;
        if (kg->k[i].kind == IR_KK_OUTPUT) edge += kg->k[i].h;
    }
    for (int32_t s = 0; s < kg->ns; s++) {
        ir_kernel *b = &kg->k[kg->s[s].dst];
        const ir_kernel *a = &kg->k[kg->s[s].src];
        if (b->kind != IR_KK_OUTPUT || ir_view_base(g, b->node) != a->node ||
            last(&g->nodes[b->node]) != last(&g->nodes[a->node]))
            continue;
        int64_t p = out_lanes(a), h = b->h, best = (h + p - 1) / p * p;
        for (int64_t d = h; d < best && d <= p; d++)
            if (p % d == 0) {
                best = d;
                break;
            }
        const shape *bs = &sh[kg->s[s].dst];
        if (best == h || best > bs->maxh || area + best - h > budget || edge + best - h > t->height)
            continue;
        int64_t sram, cyc, d0, d1, d2;
        evaluate(bs, b, b->w, best, &sram, &cyc, &d0, &d1, &d2);
        if (sram > t->sram_bytes || cyc > b->cycles) continue;
        area += best - h, edge += best - h;
        set_size(bs, b, b->w, best);
    }
}

bool pass_tile(const ir_graph *g, ir_kgraph *kg, const ir_target *t, ir_diag *d) {
    int32_t n = kg->nk;
    shape *sh = ir_xmalloc(sizeof(shape) * ((size_t)n + 1));
    int64_t lo = 1, hi = 1;
    for (int32_t i = 0; i < n; i++) {
        sh[i] = kernel_shape(g, &kg->k[i], t);
        int64_t sram, cyc, a, b, c;
        /* fastest possible: everything spread as far as it goes */
        int64_t fw = sh[i].maxw, fh = sh[i].maxh;
        /* a gather's chain grows with its rows: fastest is the fewest that fit */
        int64_t gh = kg->k[i].kind == IR_KK_GATHER ? gather_rows(&sh[i], &kg->k[i], t, fw) : -1;
        if (gh > 0) fh = gh;
        evaluate(&sh[i], &kg->k[i], fw, fh, &sram, &cyc, &a, &b, &c);
        if (sram > t->sram_bytes) {
            ir_error(d, g->nodes[kg->k[i].nodes[0]].loc,
                     "kernel '%s' does not fit: even spread over %lld x %lld PEs it needs %lld "
                     "bytes of SRAM per PE, "
                     "the target has %lld",
                     kg->k[i].name, (long long)fw, (long long)fh, (long long)sram,
                     (long long)t->sram_bytes);
            free(sh);
            return false;
        }
        /* Known limitation: the widest size is not the fastest for row
         * kernels (their reduce-and-broadcast grows with w), so this lower
         * end can sit above the best period. Searching from 1 finds periods
         * 2.6x shorter on GPT-2 small but doubles the PEs and nets, and the
         * router then needs minutes: docs/kernels.md. */
        lo = max64(lo, cyc);
        /* slowest useful: the smallest rectangle that holds it */
        int64_t w, h;
        best_size(&sh[i], &kg->k[i], t, INT64_MAX, &w, &h);
        evaluate(&sh[i], &kg->k[i], w, h, &sram, &cyc, &a, &b, &c);
        hi = max64(hi, cyc);
    }
    /* Half the fabric for kernels: the rest keeps packing and routing easy. */
    int64_t budget = (int64_t)t->width * t->height / 2;
    int64_t *w = ir_xmalloc(sizeof(int64_t) * ((size_t)n + 1)),
            *h = ir_xmalloc(sizeof(int64_t) * ((size_t)n + 1));
    /* Binary search for the shortest feasible period (area falls as P grows). */
    int64_t best = -1;
    for (int64_t a = lo, b = hi; a <= b;) {
        int64_t p = a + (b - a) / 2, area = 0;
        bool ok = true;
        for (int32_t i = 0; i < n && ok; i++) {
            ok = best_size(&sh[i], &kg->k[i], t, p, &w[i], &h[i]);
            area += w[i] * h[i];
        }
        if (ok && area <= budget)
            best = p, b = p - 1;
        else
            a = p + 1;
    }
    if (best < 0) {
        int64_t area = 0;
        for (int32_t i = 0; i < n; i++) {
            best_size(&sh[i], &kg->k[i], t, hi, &w[i], &h[i]);
            area += w[i] * h[i];
        }
        ir_error(d, IR_NOLOC,
                 "the model does not fit the target: its %d kernels need at least %lld PEs to hold "
                 "their weights and "
                 "buffers in %lld bytes of SRAM each, and wsc keeps half of the %d x %d fabric "
                 "(%lld PEs) free for "
                 "packing and routing",
                 n, (long long)area, (long long)t->sram_bytes, t->width, t->height,
                 (long long)budget);
        free(sh), free(w), free(h);
        return false;
    }
    for (int32_t i = 0; i < n; i++) {
        ir_kernel *k = &kg->k[i];
        best_size(&sh[i], k, t, best, &w[i], &h[i]);
        set_size(&sh[i], k, w[i], h[i]);
        k->rows = sh[i].rows;
        k->row_len = sh[i].n;
        k->work = sh[i].work;
        k->colors = k->kind == IR_KK_GEMV ? 2 : k->kind == IR_KK_ROW ? 2 : 1;
    }
    int64_t used = 0;
    for (int32_t i = 0; i < n; i++)
        used += (int64_t)kg->k[i].w * kg->k[i].h;
    for (int32_t i = 0; i < n; i++) {
        ir_kernel *k = &kg->k[i];
        int64_t gw, gh, before = (int64_t)k->w * k->h;
        if (k->kind != IR_KK_GATHER ||
            !narrowest_gather(&sh[i], k, t, best, budget - used + before, &gw, &gh))
            continue;
        used += gw * gh - before;
        set_size(&sh[i], k, gw, gh);
    }
    /* Lanes matched loosely first; producers whose relays would overflow
     * SRAM then get consumers at least half as wide (no relays). */
    uint8_t *tight = ir_xcalloc((size_t)n + 1, 1);
    match_lanes(g, kg, sh, t, tight);
    bool again = false;
    for (int32_t i = 0; i < n; i++) {
        ir_kernel *a = &kg->k[i];
        int64_t qmin = INT64_MAX, nb;
        bool whole = false; /* a consumer lane needs every lane (a batch-split matmul) */
        for (int32_t s = 0; s < kg->ns; s++)
            if (kg->s[s].src == i) {
                const ir_kernel *b = &kg->k[kg->s[s].dst];
                qmin = min64(qmin, min64(b->w, b->h) > 0 ? max64(b->w, b->h) : 1);
                whole |= ir_matmul_by_batch(g, b, &nb);
            }
        if (qmin == INT64_MAX) continue;
        int64_t p = out_lanes(a), need = whole ? p + 1 : cdiv(p, qmin) + 1;
        int64_t r = need <= 3 ? 1 : min64(4, cdiv(need, 3));
        int64_t per = cdiv(sh[i].n, p) * sh[i].rows * 4,
                used = a->sram_data + a->sram_buffers + a->sram_program;
        /* nets.c groups lanes by what consumers need, which this estimate
         * only approaches: it never makes a group larger than the SRAM left */
        int64_t most = 4;
        while (most > 1 && used + (most - 1) * per > t->sram_bytes)
            most--;
        a->relay_max = (int32_t)most;
        if (whole) {
            /* no consumer can widen to need fewer lanes */
            r = min64(r, most);
            a->sram_buffers += (r - 1) * per;
        } else if (r > 1 && used + (r - 1) * per > t->sram_bytes) {
            tight[i] = 1, again = true;
        } else {
            a->sram_buffers += (r - 1) * per;
        }
    }
    if (again) match_lanes(g, kg, sh, t, tight);
    free(tight);
    align_outputs(g, kg, sh, t);
    /* Input and output columns stand on the west and east edges: together
     * they may be at most as tall as the fabric. */
    for (int side = 0; side < 2; side++) {
        ir_kkind kind = side ? IR_KK_OUTPUT : IR_KK_INPUT;
        int64_t total = 0, count = 0;
        for (int32_t i = 0; i < n; i++)
            if (kg->k[i].kind == kind) total += kg->k[i].h, count++;
        if (count > t->height) {
            ir_error(
                d, IR_NOLOC, "the model has %lld %ss; the fabric's %s edge has %d rows for them",
                (long long)count, side ? "output" : "input", side ? "east" : "west", t->height);
            free(sh), free(w), free(h);
            return false;
        }
        /* shrink the tallest columns first until they fit */
        while (total > t->height) {
            int32_t tall = -1;
            for (int32_t i = 0; i < n; i++)
                if (kg->k[i].kind == kind && (tall < 0 || kg->k[i].h > kg->k[tall].h)) tall = i;
            ir_kernel *k = &kg->k[tall];
            int64_t cut = total - t->height < k->h - 1 ? total - t->height : k->h - 1;
            if (cut < 1) cut = 1;
            total -= cut;
            set_size(&sh[tall], k, k->w, k->h - cut);
        }
    }
    free(sh), free(w), free(h);
    return true;
}

void pass_print_kernels(const ir_graph *g, const ir_kgraph *kg, FILE *out) {
    fprintf(out, "kernels %d, streams %d\n", kg->nk, kg->ns);
    fprintf(out, "%-4s %-22s %-7s %9s %8s %8s %8s %12s %10s  nodes\n", "#", "name", "kind", "WxH",
            "data", "buffers", "program", "work", "cycles");
    for (int32_t i = 0; i < kg->nk; i++) {
        const ir_kernel *k = &kg->k[i];
        char wh[32];
        snprintf(wh, sizeof wh, "%dx%d", k->w, k->h);
        fprintf(out, "%-4d %-22s %-7s %9s %8lld %8lld %8lld %12lld %10lld ", i, k->name,
                ir_kkind_name(k->kind), wh, (long long)k->sram_data, (long long)k->sram_buffers,
                (long long)k->sram_program, (long long)k->work, (long long)k->cycles);
        for (int32_t j = 0; j < k->nnodes; j++)
            fprintf(out, " %s%%%d", ir_ops[g->nodes[k->nodes[j]].op].name, k->nodes[j]);
        fputc('\n', out);
    }
    for (int32_t i = 0; i < kg->ns; i++)
        fprintf(out, "stream %s -> %s: %lld wavelets\n", kg->k[kg->s[i].src].name,
                kg->k[kg->s[i].dst].name, (long long)kg->s[i].wavelets);
}
