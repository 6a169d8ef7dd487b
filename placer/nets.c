/* nets.c - from a placed kernel graph to the placer's and router's inputs:
 * the placement problem (kernel sizes and traffic between them) and the
 * nets (every stream between kernels, cut into per-lane multicasts, plus the
 * communication inside each kernel). The lane layout of each kernel kind is
 * described in docs/kernels.md; the PE programs follow the same layout. */
#include "pl.h"

#include <stdlib.h>
#include <string.h>

void pl_problem_from_kgraph(const ir_kgraph *kg, const ir_target *t, uint64_t seed, pl_problem *p) {
    memset(p, 0, sizeof *p);
    p->width = t->width;
    p->height = t->height;
    p->nkernels = kg->nk;
    int32_t *w = ir_xmalloc(sizeof(int32_t) * ((size_t)kg->nk + 1)),
            *h = ir_xmalloc(sizeof(int32_t) * ((size_t)kg->nk + 1));
    for (int32_t i = 0; i < kg->nk; i++)
        w[i] = kg->k[i].w, h[i] = kg->k[i].h;
    int32_t *src = ir_xmalloc(sizeof(int32_t) * ((size_t)kg->ns + 1)),
            *dst = ir_xmalloc(sizeof(int32_t) * ((size_t)kg->ns + 1));
    double *tr = ir_xmalloc(sizeof(double) * ((size_t)kg->ns + 1));
    for (int32_t i = 0; i < kg->ns; i++)
        src[i] = kg->s[i].src, dst[i] = kg->s[i].dst, tr[i] = (double)kg->s[i].wavelets;
    /* The host reaches the fabric only at its west (inputs) and east
     * (outputs) edges. */
    int8_t *pin = ir_xmalloc((size_t)kg->nk + 1);
    for (int32_t i = 0; i < kg->nk; i++)
        pin[i] = kg->k[i].kind == IR_KK_INPUT    ? PL_PIN_WEST
                 : kg->k[i].kind == IR_KK_OUTPUT ? PL_PIN_EAST
                                                 : PL_PIN_NONE;
    p->w = w, p->h = h, p->src = src, p->dst = dst, p->traffic = tr, p->pin = pin;
    p->nedges = kg->ns;
    p->seed = seed;
}

void pl_problem_free(pl_problem *p) {
    free((void *)p->w), free((void *)p->h), free((void *)p->src), free((void *)p->dst),
        free((void *)p->traffic), free((void *)p->pin);
    memset(p, 0, sizeof *p);
}

/* Output lanes: lane i of a kernel sends columns [lo(i), hi(i)) of every
 * row of its value; the PE sending it is out_pe. */
static int32_t out_lanes(const ir_kernel *k) {
    return k->kind == IR_KK_INPUT || k->kind == IR_KK_OUTPUT ? k->h : k->w;
}

static void out_pe(const ir_kernel *k, int32_t i, int32_t *x, int32_t *y) {
    switch (k->kind) {
    case IR_KK_INPUT:
    case IR_KK_OUTPUT: *x = k->x, *y = k->y + i; break;
    case IR_KK_GEMV:
    case IR_KK_MATMUL:
    case IR_KK_GATHER: *x = k->x + i, *y = k->y + k->h - 1; break;
    default: *x = k->x + i, *y = k->y; break;
    }
}

static int64_t last_dim(const ir_node *n) {
    return n->shape.rank ? n->shape.d[n->shape.rank - 1] : 1;
}

/* The lane holding column c of a row of length n split over p lanes. */
static int32_t lane_of(int64_t c, int64_t n, int32_t p) {
    return (int32_t)(((c + 1) * p - 1) / n);
}

/* Appends the PEs of lane j to (xs, ys). */
static int32_t lane_pes(const ir_kernel *k, ir_lane_kind l, int32_t j, int32_t *xs, int32_t *ys) {
    int32_t n = 0;
    if (l == IR_LANES_ALL) {
        for (int32_t y = 0; y < k->h; y++)
            for (int32_t x = 0; x < k->w; x++)
                xs[n] = k->x + x, ys[n++] = k->y + y;
    } else if (l == IR_LANES_ROWS) {
        for (int32_t x = 0; x < k->w; x++)
            xs[n] = k->x + x, ys[n++] = k->y + j;
    } else {
        for (int32_t y = 0; y < k->h; y++)
            xs[n] = k->x + j, ys[n++] = k->y + y;
    }
    return n;
}

typedef struct netlist {
    pl_net *nets;   /* nets */
    pl_netinfo *in; /* what each carries */
    int32_t n, cap; /* count, allocated */
    ir_arena *arena;
} netlist;

static void add_net(netlist *nl, pl_netinfo info, int32_t sx, int32_t sy, const int32_t *kx,
                    const int32_t *ky, int32_t nsinks, double volume) {
    if (nl->n == nl->cap) {
        nl->cap = nl->cap ? nl->cap * 2 : 256;
        nl->nets = ir_xrealloc(nl->nets, sizeof(pl_net) * (size_t)nl->cap);
        nl->in = ir_xrealloc(nl->in, sizeof(pl_netinfo) * (size_t)nl->cap);
    }
    int32_t *x = ir_alloc(nl->arena, sizeof(int32_t) * (size_t)nsinks);
    int32_t *y = ir_alloc(nl->arena, sizeof(int32_t) * (size_t)nsinks);
    memcpy(x, kx, sizeof(int32_t) * (size_t)nsinks);
    memcpy(y, ky, sizeof(int32_t) * (size_t)nsinks);
    nl->in[nl->n] = info;
    /* the volume for now; pl_build_nets turns volumes into loads at the end */
    nl->nets[nl->n++] = (pl_net){sx, sy, nsinks, x, y, volume};
}

typedef struct pe_vol {
    int64_t key; /* PE: y << 32 | x, and bit 62 for the sending side */
    double vol;  /* wavelets */
} pe_vol;

static int cmp_pe_vol(const void *a, const void *b) {
    const pe_vol *x = a, *y = b;
    return x->key < y->key ? -1 : x->key > y->key;
}

/* The largest total a ramp carries, given nets whose `load` holds volumes. */
static double ramp_bound(const pl_net *nets, int32_t n, double eff) {
    size_t m = 0;
    for (int32_t i = 0; i < n; i++)
        m += 1 + (size_t)nets[i].nsinks;
    pe_vol *v = ir_xmalloc(sizeof(pe_vol) * (m + 1));
    m = 0;
    for (int32_t i = 0; i < n; i++) {
        v[m++] = (pe_vol){(int64_t)nets[i].sy << 32 | (uint32_t)nets[i].sx | (int64_t)1 << 62,
                          nets[i].load};
        for (int32_t j = 0; j < nets[i].nsinks; j++)
            v[m++] = (pe_vol){(int64_t)nets[i].ky[j] << 32 | (uint32_t)nets[i].kx[j], nets[i].load};
    }
    qsort(v, m, sizeof *v, cmp_pe_vol);
    for (size_t i = 0; i < m;) {
        double sum = 0;
        size_t j = i;
        for (; j < m && v[j].key == v[i].key; j++)
            sum += v[j].vol;
        eff = sum > eff ? sum : eff;
        i = j;
    }
    free(v);
    return eff;
}

static int cmp_pe(const void *a, const void *b) {
    const int64_t *x = a, *y = b;
    return *x < *y ? -1 : *x > *y;
}

/* Removes repeated PEs from (xs, ys), keeping a deterministic order. */
static int32_t unique_pes(int32_t *xs, int32_t *ys, int32_t n) {
    if (n < 2) return n;
    int64_t *k = ir_xmalloc(sizeof(int64_t) * (size_t)n);
    for (int32_t i = 0; i < n; i++)
        k[i] = (int64_t)ys[i] << 32 | (uint32_t)xs[i];
    qsort(k, (size_t)n, sizeof *k, cmp_pe);
    int32_t m = 0;
    for (int32_t i = 0; i < n; i++)
        if (i == 0 || k[i] != k[i - 1])
            xs[m] = (int32_t)(uint32_t)k[i], ys[m++] = (int32_t)(k[i] >> 32);
    free(k);
    return m;
}

/* A consumer lane and the producer lanes it needs. */
typedef struct need {
    int32_t kernel;    /* consumer */
    int32_t lane;      /* its lane */
    ir_lane_kind kind; /* lane layout */
    int32_t producer;  /* a producer lane it needs */
} need;

typedef struct needs {
    need *v;        /* pairs */
    int64_t n, cap; /* count, allocated */
} needs;

/* Which producer lanes lane j of consumer b needs for operand r (a view of
 * the producer's value a->node): every element it keeps, mapped back. */
static void lane_needs(const ir_graph *g, const ir_kernel *a, int32_t p, const ir_kernel *b,
                       int32_t bi, ir_ref r, needs *out, uint8_t *mark) {
    ir_view v;
    if (!ir_view_of(g, r, &v))
        ir_internal_error("no addressing for the view %%%d of a stream (lowering should "
                          "have refused it)",
                          r);
    const ir_node *R = &g->nodes[r];
    int64_t ncol = last_dim(R), rows = ir_shape_numel(&R->shape) / (ncol ? ncol : 1);
    int64_t np = last_dim(&g->nodes[a->node]);
    bool identity = v.base == 0 && ncol == np;
    for (int i = 0; identity && i < v.rank; i++) {
        int64_t want = 1;
        for (int k = i + 1; k < v.rank; k++)
            want *= v.dim[k];
        identity = v.dim[i] == 1 || v.stride[i] == want;
    }
    ir_lane_kind kind;
    int32_t q = ir_in_lanes(g, b, r, &kind);
    for (int32_t j = 0; j < q; j++) {
        ir_keep kp = ir_lane_keep(g, b, r, j);
        memset(mark, 0, (size_t)p);
        /* an identical layout keeping every row needs one row; else every row */
        int64_t t0 = kp.rhi ? kp.rlo : 0, t1 = kp.rhi ? kp.rhi : rows;
        if (identity && !kp.rmod) t1 = t0 + 1;
        for (int64_t t = t0; t < t1; t++) {
            if (!ir_keeps_row(&kp, t)) continue;
            for (int64_t c = kp.c0; c < kp.c1; c++) {
                int64_t e = t * ncol + c, f = ir_view_apply(&v, e);
                if (ir_view_inverse(&v, f) != e)
                    ir_internal_error("view of %%%d: element %lld does not invert", r,
                                      (long long)e);
                mark[lane_of(f % np, np, p)] = 1;
            }
        }
        for (int32_t i = 0; i < p; i++) {
            if (!mark[i]) continue;
            if (out->n == out->cap) {
                out->cap = out->cap ? out->cap * 2 : 1024;
                out->v = ir_xrealloc(out->v, sizeof(need) * (size_t)out->cap);
            }
            out->v[out->n++] = (need){bi, j, kind, i};
        }
    }
}

static int cmp_need_group(const void *x, const void *y) {
    const need *a = x, *b = y;
    return a->producer != b->producer ? (a->producer < b->producer ? -1 : 1)
           : a->kernel != b->kernel   ? (a->kernel < b->kernel ? -1 : 1)
                                      : (a->lane > b->lane) - (a->lane < b->lane);
}

/* Every value of consumer b read from producer a's stream (views of it). */
static int32_t operands_from(const ir_graph *g, const ir_kernel *a, const ir_kernel *b,
                             ir_ref *out) {
    int32_t n = 0;
    if (b->kind == IR_KK_OUTPUT) {
        if (ir_view_base(g, b->node) == a->node) out[n++] = b->node;
        return n;
    }
    for (int32_t j = 0; j < b->nnodes; j++) {
        const ir_node *x = &g->nodes[b->nodes[j]];
        if (b->kind == IR_KK_GEMV && j == 0) {
            if (ir_view_base(g, x->in[0]) == a->node) out[n++] = x->in[0];
            continue;
        }
        for (int o = 0; o < x->nin; o++) {
            ir_ref r = x->in[o];
            if (ir_view_base(g, r) != a->node) continue;
            bool seen = false;
            for (int32_t k = 0; k < n; k++)
                seen |= out[k] == r;
            if (!seen && n < 64) out[n++] = r;
        }
    }
    return n;
}

/* Scratch for lane_needs: a mark per output lane of the widest producer. */
static uint8_t *lane_marks(const ir_kgraph *kg) {
    int32_t pmax = 1;
    for (int32_t i = 0; i < kg->nk; i++)
        pmax = out_lanes(&kg->k[i]) > pmax ? out_lanes(&kg->k[i]) : pmax;
    return ir_xmalloc((size_t)pmax + 1);
}

/* A row waiting for its slice: where its source lanes are, seen from the
 * kernel's rectangle. */
typedef struct row_src {
    int64_t side;  /* columns from the rectangle's nearer side (0: within its columns) */
    int64_t off;   /* rows from the rectangle's span (0: within it) */
    int32_t sy;    /* the sources' mean row, clamped to the rectangle */
    int32_t slice; /* the slice (the row that takes it when no order is chosen) */
} row_src;

static int cmp_row_src(const void *x, const void *y) {
    const row_src *a = x, *b = y;
    if (a->side != b->side) return a->side < b->side ? -1 : 1;
    if (a->off != b->off) return a->off > b->off ? -1 : 1;
    if (a->sy != b->sy) return a->sy < b->sy ? -1 : 1;
    return (a->slice > b->slice) - (a->slice < b->slice);
}

/* The nearest free row from r along skip (a taken row points past itself,
 * toward one end: skip is one array per direction), or -1; path halving
 * keeps the walks short. */
static int32_t free_row(int32_t *skip, int32_t r, int32_t h) {
    while (r >= 0 && r < h && skip[r] != r) {
        int32_t n = skip[r];
        if (n >= 0 && n < h && skip[n] != n) skip[r] = skip[n];
        r = skip[r];
    }
    return r >= 0 && r < h ? r : -1;
}

/* A gemv's rows (each takes a slice of x and multicasts it across the
 * row) and an output kernel's rows each get their slice from producer lanes
 * outside the rectangle. A colour stays with a wavelet, so two routes that
 * cross need two colours: taking the slices in index order down the rows
 * makes a producer's lanes below a gemv cross one another's routes in one
 * big clique, more nets than a router has colours. Instead each slice goes
 * to the free row nearest its sources' row, slices with the nearest sources
 * first: every route then passes only rows taken by routes nearer to the
 * rectangle and enters its row from the side, so Y-then-X routes are
 * nested rather than crossed. The partial sums and outputs do not depend
 * on which row holds which slice, only the order of the float additions. */
void pl_order_rows(const ir_graph *g, ir_kgraph *kg) {
    uint8_t *mark = lane_marks(kg);
    ir_ref ops[64];
    needs nd = {0};
    for (int32_t bi = 0; bi < kg->nk; bi++) {
        ir_kernel *b = &kg->k[bi];
        b->chunk = NULL;
        if ((b->kind != IR_KK_GEMV && b->kind != IR_KK_OUTPUT) || b->h < 2) continue;
        int32_t h = b->h;
        double *mx = ir_xcalloc((size_t)h, sizeof(double)),
               *my = ir_xcalloc((size_t)h, sizeof(double));
        int32_t *cnt = ir_xcalloc((size_t)h, sizeof(int32_t));
        for (int32_t s = 0; s < kg->ns; s++) {
            if (kg->s[s].dst != bi) continue;
            const ir_kernel *a = &kg->k[kg->s[s].src];
            int32_t nops = operands_from(g, a, b, ops);
            nd.n = 0;
            for (int32_t o = 0; o < nops; o++)
                lane_needs(g, a, out_lanes(a), b, bi, ops[o], &nd, mark);
            for (int64_t e = 0; e < nd.n; e++) {
                int32_t x, y, j = nd.v[e].lane;
                out_pe(a, nd.v[e].producer, &x, &y);
                mx[j] += x, my[j] += y, cnt[j]++;
            }
        }
        row_src *rs = ir_xmalloc(sizeof(row_src) * (size_t)h);
        int32_t x1 = b->x + b->w - 1, y1 = b->y + h - 1;
        for (int32_t j = 0; j < h; j++) {
            double x = cnt[j] ? mx[j] / cnt[j] : b->x, y = cnt[j] ? my[j] / cnt[j] : b->y + j;
            int64_t xi = (int64_t)(x + 0.5), yi = (int64_t)(y + 0.5);
            rs[j].side = xi < b->x ? b->x - xi : xi > x1 ? xi - x1 : 0;
            rs[j].off = yi < b->y ? b->y - yi : yi > y1 ? yi - y1 : 0;
            rs[j].sy = (int32_t)(yi < b->y ? b->y : yi > y1 ? y1 : yi) - b->y;
            rs[j].slice = j;
            /* rows without a streamed source go last, where they are */
            if (!cnt[j]) rs[j].side = INT64_MAX, rs[j].sy = j;
        }
        qsort(rs, (size_t)h, sizeof *rs, cmp_row_src);
        int32_t *chunk = ir_alloc(kg->arena, sizeof(int32_t) * (size_t)h);
        int32_t *up = ir_xmalloc(sizeof(int32_t) * (size_t)h),
                *dn = ir_xmalloc(sizeof(int32_t) * (size_t)h);
        for (int32_t r = 0; r < h; r++)
            up[r] = dn[r] = r;
        for (int32_t j = 0; j < h; j++) {
            int32_t r = rs[j].sy, a = free_row(up, r, h), c = free_row(dn, r, h);
            int32_t take = a < 0 ? c : c < 0 ? a : (r - a <= c - r ? a : c);
            chunk[take] = rs[j].slice;
            up[take] = take - 1, dn[take] = take + 1;
        }
        bool identity = true;
        for (int32_t r = 0; r < h; r++)
            identity &= chunk[r] == r;
        b->chunk = identity ? NULL : chunk;
        free(up), free(dn), free(rs), free(mx), free(my), free(cnt);
    }
    free(mark), free(nd.v);
}

int32_t pl_build_nets(const ir_graph *g, const ir_kgraph *kg, double *period, pl_net **out,
                      pl_netinfo **info, ir_arena *arena) {
    netlist nl = {0};
    nl.arena = arena;
    double base_period = *period > 1 ? *period : 1;
    int32_t maxpes = 1;
    for (int32_t i = 0; i < kg->nk; i++)
        if (kg->k[i].w * kg->k[i].h > maxpes) maxpes = kg->k[i].w * kg->k[i].h;
    int32_t *first = ir_xmalloc(sizeof(int32_t) * ((size_t)kg->nk + 1));
    for (int32_t i = 0; i < kg->nk; i++)
        first[i] = -1;
    for (int32_t s = kg->ns - 1; s >= 0; s--)
        first[kg->s[s].src] = s;
    uint8_t *mark = lane_marks(kg);
    ir_ref ops[64];
    needs nd = {0};
    int32_t cap = 1024;
    int32_t *sx = ir_xmalloc(sizeof(int32_t) * (size_t)cap),
            *sy = ir_xmalloc(sizeof(int32_t) * (size_t)cap);
    /* Streams, producer by producer. */
    for (int32_t ka = 0; ka < kg->nk; ka++) {
        if (first[ka] < 0) continue;
        const ir_kernel *a = &kg->k[ka];
        int32_t p = out_lanes(a);
        int64_t np = last_dim(&g->nodes[a->node]);
        int64_t rows = ir_shape_numel(&g->nodes[a->node].shape) / (np ? np : 1);
        nd.n = 0;
        for (int32_t s = first[ka]; s < kg->ns; s++) {
            if (kg->s[s].src != ka) continue;
            const ir_kernel *b = &kg->k[kg->s[s].dst];
            int32_t nops = operands_from(g, a, b, ops);
            for (int32_t o = 0; o < nops; o++)
                lane_needs(g, a, p, b, kg->s[s].dst, ops[o], &nd, mark);
        }
        if (!nd.n) continue;
        /* Relay groups: r consecutive lanes pass their columns along so a
         * consumer lane needing many producer lanes gets about three nets. */
        qsort(nd.v, (size_t)nd.n, sizeof *nd.v, cmp_need_group);
        /* the most producer lanes one consumer lane needs */
        int64_t maxneed = 1;
        int64_t *keys = ir_xmalloc(sizeof(int64_t) * (size_t)nd.n);
        for (int64_t i = 0; i < nd.n; i++)
            keys[i] = (int64_t)nd.v[i].kernel << 32 | (uint32_t)nd.v[i].lane;
        qsort(keys, (size_t)nd.n, sizeof *keys, cmp_pe);
        for (int64_t i = 0; i < nd.n;) {
            int64_t j = i;
            while (j < nd.n && keys[j] == keys[i])
                j++;
            maxneed = j - i > maxneed ? j - i : maxneed;
            i = j;
        }
        free(keys);
        /* at most 4 lanes to a group: a lane buffers the lanes it relays
         * (passes/tile.c budgets 3) */
        int32_t r = maxneed <= 3 ? 1 : (int32_t)((maxneed + 2) / 3);
        if (r > 4) r = 4;
        if (a->relay_max > 0 && r > a->relay_max) r = a->relay_max;
        int32_t ngroups = (p + r - 1) / r;
        int64_t pos = 0;
        for (int32_t gi = 0; gi < ngroups; gi++) {
            int32_t g0 = gi * r, g1 = g0 + r < p ? g0 + r : p;
            /* consumers of the group: lanes needing any of its producer lanes */
            int32_t n = 0, firstk = -1;
            for (; pos < nd.n && nd.v[pos].producer < g1; pos++) {
                const need *e = &nd.v[pos];
                const ir_kernel *b = &kg->k[e->kernel];
                if (n + b->w * b->h > cap) {
                    cap = (n + b->w * b->h) * 2;
                    sx = ir_xrealloc(sx, sizeof(int32_t) * (size_t)cap);
                    sy = ir_xrealloc(sy, sizeof(int32_t) * (size_t)cap);
                }
                n += lane_pes(b, e->kind, e->lane, sx + n, sy + n);
                if (firstk < 0 || e->kernel < firstk) firstk = e->kernel;
                /* many producer lanes of a group feed the same lanes */
                if (n > 4 * maxpes) n = unique_pes(sx, sy, n);
            }
            n = unique_pes(sx, sy, n);
            if (!n) continue;
            int32_t stream = first[ka];
            for (int32_t s = first[ka]; s < kg->ns; s++)
                if (kg->s[s].src == ka && kg->s[s].dst == firstk) {
                    stream = s;
                    break;
                }
            int64_t lo = (int64_t)g0 * np / p;
            for (int32_t i = g0; i < g1; i++) {
                int64_t hi = (int64_t)(i + 1) * np / p;
                int32_t x0, y0;
                out_pe(a, i, &x0, &y0);
                double vol = (double)rows * (double)(hi - lo);
                if (i + 1 < g1) {
                    int32_t tx, ty;
                    out_pe(a, i + 1, &tx, &ty);
                    add_net(&nl, (pl_netinfo){ka, -1, ka, PL_NET_RELAY, np, lo, hi}, x0, y0, &tx,
                            &ty, 1, vol);
                } else {
                    add_net(&nl, (pl_netinfo){firstk, stream, ka, PL_NET_STREAM, np, lo, hi}, x0,
                            y0, sx, sy, n, vol);
                }
            }
        }
    }
    free(first), free(mark), free(nd.v), free(sx), free(sy);
    int32_t *xs = ir_xmalloc(sizeof(int32_t) * (size_t)maxpes),
            *ys = ir_xmalloc(sizeof(int32_t) * (size_t)maxpes);
    /* Inside kernels: gemv partial sums flow down each column; row kernels
     * pass statistics along the row and broadcast the result back. */
    for (int32_t i = 0; i < kg->nk; i++) {
        const ir_kernel *k = &kg->k[i];
        int64_t n = last_dim(&g->nodes[k->node]);
        if (k->kind == IR_KK_GEMV || k->kind == IR_KK_MATMUL || k->kind == IR_KK_GATHER) {
            for (int32_t x = 0; x < k->w; x++) {
                int64_t nc = (int64_t)(x + 1) * n / k->w - (int64_t)x * n / k->w;
                for (int32_t y = 0; y + 1 < k->h; y++) {
                    int32_t tx = k->x + x, ty = k->y + y + 1;
                    add_net(&nl, (pl_netinfo){i, -1, i, PL_NET_SOUTH, 0, 0, 0}, k->x + x, k->y + y,
                            &tx, &ty, 1, (double)k->rows * (double)nc);
                }
            }
        } else if (k->kind == IR_KK_ROW && k->w > 1) {
            for (int32_t x = 0; x + 1 < k->w; x++) {
                int32_t tx = k->x + x + 1, ty = k->y;
                add_net(&nl, (pl_netinfo){i, -1, i, PL_NET_EAST, 0, 0, 0}, k->x + x, k->y, &tx, &ty,
                        1, 2.0 * (double)k->rows);
            }
            int32_t m = 0;
            for (int32_t x = 0; x + 1 < k->w; x++)
                xs[m] = k->x + x, ys[m++] = k->y;
            add_net(&nl, (pl_netinfo){i, -1, i, PL_NET_BCAST, 0, 0, 0}, k->x + k->w - 1, k->y, xs,
                    ys, m, 2.0 * (double)k->rows);
        }
    }
    free(xs), free(ys);
    /* A link moves one wavelet per cycle, so the pass can take no fewer
     * cycles than the largest volume any one stream puts on a link: that
     * is the period loads are measured against when it exceeds the
     * kernels' compute period. */
    double eff = base_period;
    for (int32_t i = 0; i < nl.n; i++)
        eff = nl.nets[i].load > eff ? nl.nets[i].load : eff;
    /* Each core's ramp is one link too: everything a PE receives (or
     * sends) crosses it, one wavelet per cycle. */
    eff = ramp_bound(nl.nets, nl.n, eff);
    for (int32_t i = 0; i < nl.n; i++)
        nl.nets[i].load = nl.nets[i].load > 0 ? nl.nets[i].load / eff : 1e-9;
    *period = eff;
    *out = nl.nets;
    *info = ir_alloc(arena, sizeof(pl_netinfo) * ((size_t)nl.n + 1));
    if (nl.n) memcpy(*info, nl.in, sizeof(pl_netinfo) * (size_t)nl.n);
    free(nl.in);
    return nl.n;
}
