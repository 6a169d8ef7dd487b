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

/* The lanes of a kernel: lane i is a set of PEs (offsets in its rectangle)
 * that receives (input) or emits (output) slice i of a row. */
typedef struct lanes {
    int32_t n; /* lanes */
    bool rows; /* input lanes are whole rows (gemv), else whole columns */
    bool all;  /* one lane: the whole rectangle */
} lanes;

static lanes in_lanes(const ir_kernel *k, int32_t operand) {
    switch (k->kind) {
    case IR_KK_GEMV: return (lanes){k->h, true, false};
    case IR_KK_OUTPUT: return (lanes){k->h, true, false};
    case IR_KK_GATHER: return (lanes){1, false, true};
    case IR_KK_MATMUL: return operand == 0 ? (lanes){1, false, true} : (lanes){k->w, false, false};
    default: return (lanes){k->w, false, false};
    }
}

/* Output lane i's source PE. */
static void out_pe(const ir_kernel *k, int32_t i, int32_t *x, int32_t *y) {
    switch (k->kind) {
    case IR_KK_INPUT: *x = k->x, *y = k->y + i; break;
    case IR_KK_GEMV:
    case IR_KK_MATMUL:
    case IR_KK_GATHER: *x = k->x + i, *y = k->y + k->h - 1; break;
    default: *x = k->x + i, *y = k->y; break;
    }
}

static int32_t out_lanes(const ir_kernel *k) {
    return k->kind == IR_KK_INPUT ? k->h : k->w;
}

typedef struct netlist {
    pl_net *nets;                   /* nets */
    int32_t *kernel;                /* per net: the kernel it feeds */
    int32_t *stream;                /* per net: the stream it carries, -1 inside a kernel */
    int32_t cur_kernel, cur_stream; /* what add_net records */
    int32_t n, cap;                 /* count, allocated */
    ir_arena *arena;                /* sink arrays */
    double period;                  /* cycles per pass: loads are volumes over it */
} netlist;

static void add_net(netlist *nl, int32_t sx, int32_t sy, const int32_t *kx, const int32_t *ky,
                    int32_t nsinks, double volume) {
    if (nl->n == nl->cap) {
        nl->cap = nl->cap ? nl->cap * 2 : 256;
        nl->nets = ir_xrealloc(nl->nets, sizeof(pl_net) * (size_t)nl->cap);
        nl->kernel = ir_xrealloc(nl->kernel, sizeof(int32_t) * (size_t)nl->cap);
        nl->stream = ir_xrealloc(nl->stream, sizeof(int32_t) * (size_t)nl->cap);
    }
    nl->kernel[nl->n] = nl->cur_kernel;
    nl->stream[nl->n] = nl->cur_stream;
    int32_t *x = ir_alloc(nl->arena, sizeof(int32_t) * (size_t)nsinks);
    int32_t *y = ir_alloc(nl->arena, sizeof(int32_t) * (size_t)nsinks);
    memcpy(x, kx, sizeof(int32_t) * (size_t)nsinks);
    memcpy(y, ky, sizeof(int32_t) * (size_t)nsinks);
    /* the volume for now; pl_build_nets turns volumes into loads at the end */
    nl->nets[nl->n++] = (pl_net){sx, sy, nsinks, x, y, volume};
}

/* Appends the PEs of lane j of k's input to (xs, ys). */
static int32_t lane_pes(const ir_kernel *k, lanes l, int32_t j, int32_t *xs, int32_t *ys) {
    int32_t n = 0;
    if (l.all) {
        for (int32_t y = 0; y < k->h; y++)
            for (int32_t x = 0; x < k->w; x++)
                xs[n] = k->x + x, ys[n++] = k->y + y;
    } else if (l.rows) {
        for (int32_t x = 0; x < k->w; x++)
            xs[n] = k->x + x, ys[n++] = k->y + j;
    } else {
        for (int32_t y = 0; y < k->h; y++)
            xs[n] = k->x + j, ys[n++] = k->y + y;
    }
    return n;
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

int32_t pl_build_nets(const ir_kgraph *kg, double *period, pl_net **out, int32_t **kernel_of,
                      int32_t **stream_of, ir_arena *arena) {
    netlist nl = {0};
    nl.arena = arena;
    nl.period = *period > 1 ? *period : 1;
    int32_t maxpes = 1;
    for (int32_t i = 0; i < kg->nk; i++)
        if (kg->k[i].w * kg->k[i].h > maxpes) maxpes = kg->k[i].w * kg->k[i].h;
    int32_t *xs = ir_xmalloc(sizeof(int32_t) * (size_t)maxpes * 2),
            *ys = ir_xmalloc(sizeof(int32_t) * (size_t)maxpes * 2);
    /* Streams: for each producer, output lane i sends its slice once, as
     * one multicast to every consumer lane that needs it (a consumer with
     * fewer lanes gets it through a relay along the producer's output row,
     * each PE adding its slice, so a consumer PE receives one stream per
     * lane, not one per producer PE: a router has few colours). */
    int32_t *first = ir_xmalloc(sizeof(int32_t) * ((size_t)kg->nk + 1));
    for (int32_t i = 0; i < kg->nk; i++)
        first[i] = -1;
    for (int32_t s = kg->ns - 1; s >= 0; s--)
        first[kg->s[s].src] = s;
    int32_t cap = maxpes * 4;
    int32_t *sx_ = ir_xmalloc(sizeof(int32_t) * (size_t)cap),
            *sy_ = ir_xmalloc(sizeof(int32_t) * (size_t)cap);
    for (int32_t ka = 0; ka < kg->nk; ka++) {
        if (first[ka] < 0) continue;
        const ir_kernel *a = &kg->k[ka];
        int32_t p = out_lanes(a);
        for (int32_t i = 0; i < p; i++) {
            int32_t n = 0;
            double vol = 0;
            nl.cur_kernel = kg->s[first[ka]].dst, nl.cur_stream = first[ka];
            for (int32_t s = first[ka]; s < kg->ns; s++) {
                const ir_kstream *st = &kg->s[s];
                if (st->src != ka) continue;
                const ir_kernel *b = &kg->k[st->dst];
                lanes l = in_lanes(b, st->operand);
                int64_t q = l.n;
                double slice = (double)st->wavelets / p;
                if (p > q) {
                    int32_t j = (int32_t)((int64_t)i * q / p),
                            jn = (int32_t)((int64_t)(i + 1) * q / p);
                    int32_t start = (int32_t)(((int64_t)j * p + q - 1) /
                                              q); /* first producer lane of group j */
                    double v = slice * (double)(i - start + 1);
                    vol = v > vol ? v : vol;
                    if (n + maxpes > cap) break;
                    if (i + 1 < p && jn == j) {
                        out_pe(a, i + 1, sx_ + n, sy_ + n);
                        n++;
                    } else {
                        n += lane_pes(b, l, j, sx_ + n, sy_ + n);
                    }
                    continue;
                }
                vol = slice > vol ? slice : vol;
                for (int32_t j = 0; j < l.n; j++)
                    if ((int64_t)i * q < (int64_t)(j + 1) * p &&
                        (int64_t)j * p < (int64_t)(i + 1) * q) {
                        if (n + maxpes > cap) break;
                        n += lane_pes(b, l, j, sx_ + n, sy_ + n);
                    }
            }
            /* the same PE reached through two consumers is one sink */
            n = unique_pes(sx_, sy_, n);
            int32_t x0, y0;
            out_pe(a, i, &x0, &y0);
            if (n) add_net(&nl, x0, y0, sx_, sy_, n, vol);
        }
    }
    free(first), free(sx_), free(sy_);
    /* Inside kernels: gemv partial sums flow down each column; row kernels
     * reduce along the row and broadcast the result back. */
    for (int32_t i = 0; i < kg->nk; i++) {
        const ir_kernel *k = &kg->k[i];
        nl.cur_kernel = i, nl.cur_stream = -1;
        if (k->kind == IR_KK_GEMV) {
            double vol = (double)k->rows * (double)((k->row_len + k->w - 1) / k->w);
            for (int32_t x = 0; x < k->w; x++)
                for (int32_t y = 0; y + 1 < k->h; y++) {
                    int32_t tx = k->x + x, ty = k->y + y + 1;
                    add_net(&nl, k->x + x, k->y + y, &tx, &ty, 1, vol);
                }
        } else if (k->kind == IR_KK_ROW && k->w > 1) {
            for (int32_t x = 0; x + 1 < k->w; x++) {
                int32_t tx = k->x + x + 1, ty = k->y;
                add_net(&nl, k->x + x, k->y, &tx, &ty, 1, 2.0 * (double)k->rows);
            }
            int32_t n = 0;
            for (int32_t x = 0; x + 1 < k->w; x++)
                xs[n] = k->x + x, ys[n++] = k->y;
            add_net(&nl, k->x + k->w - 1, k->y, xs, ys, n, 2.0 * (double)k->rows);
        }
    }
    free(xs), free(ys);
    /* A link moves one wavelet per cycle, so the pass can take no fewer
     * cycles than the largest volume any one stream puts on a link: that
     * is the period loads are measured against when it exceeds the
     * kernels' compute period. */
    double eff = nl.period;
    for (int32_t i = 0; i < nl.n; i++)
        eff = nl.nets[i].load > eff ? nl.nets[i].load : eff;
    /* Each core's ramp is one link too: everything a PE receives (or
     * sends) crosses it, one wavelet per cycle. */
    eff = ramp_bound(nl.nets, nl.n, eff);
    for (int32_t i = 0; i < nl.n; i++)
        nl.nets[i].load = nl.nets[i].load > 0 ? nl.nets[i].load / eff : 1e-9;
    *period = eff;
    *out = nl.nets;
    *kernel_of = ir_alloc(arena, sizeof(int32_t) * ((size_t)nl.n + 1));
    *stream_of = ir_alloc(arena, sizeof(int32_t) * ((size_t)nl.n + 1));
    if (nl.n) {
        memcpy(*kernel_of, nl.kernel, sizeof(int32_t) * (size_t)nl.n);
        memcpy(*stream_of, nl.stream, sizeof(int32_t) * (size_t)nl.n);
    }
    free(nl.kernel), free(nl.stream);
    return nl.n;
}
