/* route.c - routing of streams over the mesh on colours (pl_route).
 *
 * Every net becomes a multicast tree on one colour. A tree is grown sink by
 * sink: an A* search runs backwards from the sink until it meets the tree,
 * aimed at the tree's nearest router, so a search costs about the length of
 * the branch it adds and never the size of the fabric. Congestion is
 * negotiated PathFinder-style (McMurchie and Ebeling): links and routers may
 * be overused while present and history costs grow, and each round only the
 * nets on or next to an overused resource are ripped up and rerouted.
 * Colours are then assigned to the legal trees: greedy first, tabu search on
 * the conflict graph (nets sharing a router) when greedy fails, i.e. the
 * wavelength-assignment half of optical routing-and-wavelength problems. If
 * no clash-free colouring is found, the negotiation goes on with every
 * (router, colour) pair as a resource of one net, so a clashing net detours
 * or changes colour. docs/router.md describes the model, costs and numbers. */
#include "pl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum {
    MAX_ROUNDS = 100,     /* negotiation rounds before giving up */
    COLOR_TRIES = 3,      /* greedy colourings, failed nets moved first each time */
    TABU_CALLS = 8,       /* tabu colourings per routing; later clashes are left to rerouting */
    TABU_STALL = 2,       /* colour-aware rounds without progress before recolouring */
    TABU_ITERS = 20000,   /* moves per tabu colouring */
    TABU_WORK = 30000000, /* and its budget of elementary steps */
    MAX_COLORS = 64,      /* a router's colour set is a 64-bit mask: more are never used */
    LINEAR_NEAREST = 64,  /* trees up to this size are scanned for their nearest router */
    MAX_CELLS = 4096,     /* cells of the nearest-router grid of a larger tree */
    RIP_RADIUS = 1,       /* nets this close to an overused resource are rerouted too */
    MARGIN0 = 3,          /* search box margin around a net's terminals, in PEs */
    REPAIR_MAX = 4096,    /* clashes few enough for the end game's repair (repair_clashes) */
    REPAIR_ROOM = 16,     /* and for nets to make room for one another there */
    REPAIR_MARGIN = 24,   /* search box margin of a repairing route */
    REPAIR_BLOCKERS = 64, /* nets a repair may move out of its way on one colour */
    REPAIR_BIG = 3,       /* of which longer than REPAIR_SHORT hops */
    REPAIR_SHORT = 8,     /* hops of a short net (a gemv's partial sums: easy to move) */
    MAX_ROUTERS = 1 << 28,
    MAX_NETS = 1 << 23, /* keeps a link's load sum in fixed point far from overflow */
};

/* Costs (docs/router.md): a hop costs (1 + history) x (1 + pres_fac x overuse). */
#define PRES_FAC0    0.5 /* present-congestion weight of the first round */
#define PRES_MULT    1.6 /* its growth per round */
#define PRES_MAX     1e6 /* its ceiling (keeps float costs exact enough to compare) */
#define HIST_FAC     1.0 /* history added per round to an overused resource, per unit of overuse */
#define SLACK_ROUNDS 8   /* rounds that keep routers a sixth below `colors` before colouring */
#define ASTAR_FAC    1.2 /* weight of the distance estimate: > 1 goes straight when uncongested */
#define HARD_COST    1e30f /* a forbidden hop while repairing (never entered) */

/* Loads are held in fixed point, UNIT per link capacity, each rounded up, so
 * sums are exact and order-free and a legal sum is legal in real numbers;
 * SLACK absorbs the rounding of loads such as 0.1 that fill a link exactly. */
#define UNIT  1099511627776.0 /* 2^40 */
#define SLACK 550             /* about 5e-10 of a capacity */

static const int DX[4] = {0, 1, 0, -1}; /* per direction N E S W: step in x */
static const int DY[4] = {-1, 0, 1, 0}; /* per direction: step in y (north is y - 1) */

/* A router of a tree. */
typedef struct thop {
    int32_t node; /* y * width + x */
    uint8_t in;   /* pl_port the colour arrives from */
    uint8_t outs; /* bit set of pl_port it leaves by */
} thop;

typedef struct rnet {
    thop *hops;     /* the tree, every router after its parent */
    int32_t nhops;  /* routers in the tree */
    int32_t cap;    /* allocated hops */
    int32_t margin; /* search box margin, grown while the net is rerouted */
    int32_t color;  /* assigned colour; -1 before colouring */
    int64_t load;   /* its load in fixed point */
} rnet;

typedef struct box {
    int32_t x0, y0, x1, y1; /* inclusive corners */
} box;

/* A directed link; a router's four take 64 bytes, one cache line's worth. */
typedef struct rlink {
    int64_t occ; /* load carried, fixed point */
    float hist;  /* history cost */
} rlink;

/* What a search and the costs read of one router, kept together so that
 * relaxing a neighbour touches one line of it and one of its links. */
typedef struct rnode {
    float g;        /* search cost from the sink */
    uint32_t state; /* 2 * search: open; 2 * search + 1: closed */
    uint32_t tmark; /* number of the tree holding it */
    int32_t tidx;   /* its hop index in that tree */
    int32_t cnt;    /* nets whose tree holds it */
    float hist;     /* history cost */
    uint8_t pred;   /* direction of the next router toward the sink */
} rnode;

typedef struct router {
    int32_t w, h;       /* fabric in routers */
    const pl_net *nets; /* the input */
    int32_t nnets;      /* count */
    int32_t colors;     /* colours usable: the target's, at most MAX_COLORS */
    double capacity;    /* link capacity, wavelets per cycle (for messages) */
    double pres_fac;    /* present-congestion weight of this round */
    rnet *rn;           /* per net */
    box used;           /* union of the search boxes: every tree lies inside */

    rlink *lk;       /* per directed link, router * 4 + direction */
    rnode *nd;       /* per router */
    uint8_t *hot;    /* per router: 1 near an overused resource this round (apart from nd:
                        the scan of every net's hops for it stays in cache) */
    uint16_t *occ_c; /* per router * colors + colour: nets holding it; NULL until the
                        colour-aware rounds */
    uint32_t search; /* current search number */
    uint64_t *heap;  /* min-heap of (f's float bits << 32 | router) */
    size_t nheap;    /* entries */
    size_t heap_cap; /* allocated entries */

    uint32_t tree; /* number of the tree being built */

    int32_t *chead;  /* MAX_CELLS: first hop of each grid cell, -1 empty */
    bool first_pass; /* routing every net for the first time */
    int32_t cap1;    /* nets a router may carry before colours are assigned: a few below
                        `colors` in the first rounds, so colouring has slack, then `colors` */
    int32_t *cnext;  /* per hop of the tree being built: next hop of its cell */
    int32_t *tx;     /* per hop: x */
    int32_t *ty;     /* per hop: y */
    int32_t tcap;    /* allocated length of cnext, tx, ty */
    box grid;        /* area the grid covers (the search box) */
    int32_t csize;   /* cell side in routers */
    int32_t gw, gh;  /* grid size in cells */
    uint64_t *keys;  /* scratch for sorting sinks and nets */
    size_t keys_cap; /* allocated keys */

    uint64_t *mask;    /* per router: colours taken while colouring */
    int32_t tabu_left; /* tabu colourings still allowed */
    int64_t clashes;   /* colour clashes found by the last scan (colour-aware rounds) */
    int64_t fewest;    /* fewest clashes seen so far */
    int32_t stalled;   /* scans since the clashes last went down */
    bool hard;         /* repairing: a hop onto a taken (router, colour) is forbidden */
} router;

/* ------------------------------------------------------------- helpers */

static bool in_box(const box *b, int32_t x, int32_t y) {
    return x >= b->x0 && x <= b->x1 && y >= b->y0 && y <= b->y1;
}

static int32_t iabs(int32_t v) {
    return v < 0 ? -v : v;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t *keys(router *r, size_t n) {
    if (n > r->keys_cap) {
        r->keys_cap = n;
        r->keys = ir_xrealloc(r->keys, n * sizeof *r->keys);
    }
    return r->keys;
}

static int64_t units(double load, double capacity) {
    return (int64_t)ceil(load / capacity * UNIT);
}

static bool link_over(const router *r, size_t l) {
    return r->lk[l].occ > (int64_t)UNIT + SLACK;
}

static void heap_push(router *r, float f, int32_t v) {
    uint32_t fb;
    memcpy(&fb, &f, sizeof fb); /* non-negative floats order like their bits */
    uint64_t k = (uint64_t)fb << 32 | (uint32_t)v;
    if (r->nheap == r->heap_cap) {
        r->heap_cap = r->heap_cap ? 2 * r->heap_cap : 1024;
        r->heap = ir_xrealloc(r->heap, r->heap_cap * sizeof *r->heap);
    }
    size_t i = r->nheap++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (r->heap[p] <= k) break;
        r->heap[i] = r->heap[p];
        i = p;
    }
    r->heap[i] = k;
}

static uint64_t heap_pop(router *r) {
    uint64_t top = r->heap[0], last = r->heap[--r->nheap];
    size_t i = 0, n = r->nheap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && r->heap[c + 1] < r->heap[c]) c++;
        if (last <= r->heap[c]) break;
        r->heap[i] = r->heap[c];
        i = c;
    }
    if (n) r->heap[i] = last;
    return top;
}

/* ----------------------------------------------------------- the trees */

static void next_search(router *r) {
    if (r->search >= UINT32_MAX / 2 - 1) {
        for (size_t v = 0; v < (size_t)r->w * r->h; v++)
            r->nd[v].state = 0;
        r->search = 0;
    }
    r->search++;
}

static void next_tree(router *r) {
    if (r->tree == UINT32_MAX) {
        for (size_t v = 0; v < (size_t)r->w * r->h; v++)
            r->nd[v].tmark = 0;
        r->tree = 0;
    }
    r->tree++;
}

static void add_hop(router *r, rnet *n, int32_t node, uint8_t in) {
    if (n->nhops == n->cap) {
        n->cap = n->cap ? 2 * n->cap : 16;
        n->hops = ir_xrealloc(n->hops, (size_t)n->cap * sizeof *n->hops);
    }
    if (n->nhops == r->tcap) {
        r->tcap = r->tcap ? 2 * r->tcap : 1024;
        r->cnext = ir_xrealloc(r->cnext, (size_t)r->tcap * sizeof *r->cnext);
        r->tx = ir_xrealloc(r->tx, (size_t)r->tcap * sizeof *r->tx);
        r->ty = ir_xrealloc(r->ty, (size_t)r->tcap * sizeof *r->ty);
    }
    int32_t i = n->nhops++;
    n->hops[i] = (thop){node, in, 0};
    r->nd[node].tmark = r->tree;
    r->nd[node].tidx = i;
    int32_t x = node % r->w, y = node / r->w;
    r->tx[i] = x;
    r->ty[i] = y;
    int32_t c = (y - r->grid.y0) / r->csize * r->gw + (x - r->grid.x0) / r->csize;
    r->cnext[i] = r->chead[c];
    r->chead[c] = i;
}

/* The tree router nearest (Manhattan) to (sx, sy): the target the search
 * aims at. A ring walk over grid cells keeps this cheap for big multicast
 * trees, where a plain scan per sink would be quadratic. */
static int32_t nearest(const router *r, const rnet *n, int32_t sx, int32_t sy) {
    int32_t best = INT32_MAX, bi = 0;
    if (n->nhops <= LINEAR_NEAREST) {
        for (int32_t i = 0; i < n->nhops; i++) {
            int32_t dd = iabs(r->tx[i] - sx) + iabs(r->ty[i] - sy);
            if (dd < best) best = dd, bi = i;
        }
        return bi;
    }
    int32_t cx = (sx - r->grid.x0) / r->csize, cy = (sy - r->grid.y0) / r->csize;
    int32_t rings = cx;
    if (r->gw - 1 - cx > rings) rings = r->gw - 1 - cx;
    if (cy > rings) rings = cy;
    if (r->gh - 1 - cy > rings) rings = r->gh - 1 - cy;
    for (int32_t k = 0; k <= rings; k++) {
        /* every router of ring k is at least (k - 1) * csize + 1 away */
        if (k > 0 && best <= (k - 1) * r->csize + 1) break;
        for (int32_t y = cy - k; y <= cy + k; y++) {
            if (y < 0 || y >= r->gh) continue;
            int32_t step = (y == cy - k || y == cy + k) ? 1 : 2 * k;
            for (int32_t x = cx - k; x <= cx + k; x += step) {
                if (x < 0 || x >= r->gw) continue;
                for (int32_t i = r->chead[y * r->gw + x]; i >= 0; i = r->cnext[i]) {
                    int32_t dd = iabs(r->tx[i] - sx) + iabs(r->ty[i] - sy);
                    if (dd < best || (dd == best && i < bi)) best = dd, bi = i;
                }
            }
        }
    }
    return bi;
}

/* Cost of the hop u -> v (link `link` leaving u) for net n; u's router
 * counts unless it already belongs to the tree. Before colours are
 * assigned a router is overused beyond `colors` nets; after, beyond one
 * net per colour. */
static float hop_cost(const router *r, size_t link, int32_t u, bool u_in_tree, const rnet *n) {
    double over = 0, base = 1 + r->lk[link].hist;
    int64_t lo = r->lk[link].occ + n->load - (int64_t)UNIT;
    if (r->hard) {
        bool taken =
            !u_in_tree && (r->occ_c[(size_t)u * r->colors + n->color] || r->nd[u].cnt >= r->colors);
        return lo > SLACK || taken ? HARD_COST : 1.0f;
    }
    if (lo > SLACK) over += (double)lo / UNIT;
    if (!u_in_tree) {
        int32_t ro =
            r->occ_c ? r->occ_c[(size_t)u * r->colors + n->color] : r->nd[u].cnt + 1 - r->cap1;
        if (ro > 0) over += ro;
        base += r->nd[u].hist;
    }
    return (float)(base * (1 + r->pres_fac * over));
}

/* The branch from tree router t to sink s along one of the two L-shaped
 * shortest paths, when every hop on it costs exactly 1 (no history, no
 * overuse) and it meets the tree only at t: then no path is cheaper, and
 * the A* search below (which dominates routing time on large fabrics) is
 * not needed. Only in the first pass: during negotiation A*'s choice among
 * equally cheap paths spreads nets better (tests/test_router.c's exact
 * cuts do not converge otherwise). False when neither L qualifies. */
static bool straight(router *r, rnet *n, int32_t t, int32_t s) {
    int32_t w = r->w, tx = r->tx[t], ty = r->ty[t], sx = s % w, sy = s / w;
    for (int xfirst = 0; xfirst <= 1; xfirst++) {
        int32_t x = tx, y = ty;
        bool ok = true;
        while (ok && (x != sx || y != sy)) {
            bool horiz = xfirst ? x != sx : y == sy;
            int d = horiz ? (sx > x ? 1 : 3) : (sy > y ? 2 : 0);
            int32_t v = y * w + x;
            ok = hop_cost(r, (size_t)v * 4 + (size_t)d, v, r->nd[v].tmark == r->tree, n) == 1.0f;
            x += DX[d], y += DY[d];
            ok = ok && r->nd[y * w + x].tmark != r->tree;
        }
        if (!ok) continue;
        int32_t v = ty * w + tx;
        x = tx, y = ty;
        while (x != sx || y != sy) {
            bool horiz = xfirst ? x != sx : y == sy;
            int d = horiz ? (sx > x ? 1 : 3) : (sy > y ? 2 : 0);
            n->hops[r->nd[v].tidx].outs |= (uint8_t)(1u << d);
            x += DX[d], y += DY[d];
            v = y * w + x;
            add_hop(r, n, v, (uint8_t)(d ^ 2));
        }
        n->hops[r->nd[s].tidx].outs |= 1u << PL_RAMP;
        return true;
    }
    return false;
}

/* Adds a branch from the tree to sink s: A* backwards from s over reversed
 * links until the first tree router is settled, so the branch's inner
 * routers are all new and the tree stays a tree. False only while
 * repairing (r->hard), when forbidden hops cut every path: they are never
 * entered, so a failing search ends with the routers it can reach instead
 * of walking the whole box on forbidden costs. */
static bool connect(router *r, rnet *n, const box *sb, int32_t s) {
    int32_t w = r->w;
    int32_t t = nearest(r, n, s % w, s / w);
    int32_t px = r->tx[t], py = r->ty[t];
    if (r->first_pass && straight(r, n, t, s)) return true;
    next_search(r);
    uint32_t open = 2 * r->search, closed = open + 1;
    r->nheap = 0;
    r->nd[s].g = 0;
    r->nd[s].state = open;
    heap_push(r, (float)(ASTAR_FAC * (iabs(s % w - px) + iabs(s / w - py))), s);
    int32_t found = -1;
    while (r->nheap) {
        int32_t v = (int32_t)(uint32_t)heap_pop(r);
        if (r->nd[v].state == closed) continue;
        r->nd[v].state = closed;
        if (r->nd[v].tmark == r->tree) {
            found = v;
            break;
        }
        int32_t vx = v % w, vy = v / w;
        for (int d = 0; d < 4; d++) {
            int32_t ux = vx + DX[d], uy = vy + DY[d];
            if (!in_box(sb, ux, uy)) continue;
            int32_t u = uy * w + ux;
            if (r->nd[u].state == closed) continue;
            int od = d ^ 2; /* u reaches v through its port opposite to d */
            float hc = hop_cost(r, (size_t)u * 4 + od, u, r->nd[u].tmark == r->tree, n);
            if (hc == HARD_COST) continue;
            float ng = r->nd[v].g + hc;
            if (r->nd[u].state != open || ng < r->nd[u].g) {
                r->nd[u].g = ng;
                r->nd[u].state = open;
                r->nd[u].pred = (uint8_t)od;
                heap_push(r, ng + (float)(ASTAR_FAC * (iabs(ux - px) + iabs(uy - py))), u);
            }
        }
    }
    if (found < 0 && r->hard) return false;
    if (found < 0) ir_internal_error("router: no path inside a search box holding both ends");
    for (int32_t v = found; v != s;) {
        int d = r->nd[v].pred;
        int32_t u = v + DX[d] + DY[d] * w;
        n->hops[r->nd[v].tidx].outs |= (uint8_t)(1u << d);
        add_hop(r, n, u, (uint8_t)(d ^ 2));
        v = u;
    }
    n->hops[r->nd[s].tidx].outs |= 1u << PL_RAMP;
    return true;
}

/* Routes net i afresh; false only while repairing, when some sink cannot
 * be reached without a forbidden hop (the tree is then incomplete). */
static bool route_net(router *r, int32_t i) {
    const pl_net *pn = &r->nets[i];
    rnet *n = &r->rn[i];
    next_tree(r);
    box sb = {pn->sx, pn->sy, pn->sx, pn->sy};
    for (int32_t k = 0; k < pn->nsinks; k++) {
        if (pn->kx[k] < sb.x0) sb.x0 = pn->kx[k];
        if (pn->kx[k] > sb.x1) sb.x1 = pn->kx[k];
        if (pn->ky[k] < sb.y0) sb.y0 = pn->ky[k];
        if (pn->ky[k] > sb.y1) sb.y1 = pn->ky[k];
    }
    sb.x0 = sb.x0 - n->margin < 0 ? 0 : sb.x0 - n->margin;
    sb.y0 = sb.y0 - n->margin < 0 ? 0 : sb.y0 - n->margin;
    sb.x1 = sb.x1 + n->margin >= r->w ? r->w - 1 : sb.x1 + n->margin;
    sb.y1 = sb.y1 + n->margin >= r->h ? r->h - 1 : sb.y1 + n->margin;
    if (sb.x0 < r->used.x0) r->used.x0 = sb.x0;
    if (sb.y0 < r->used.y0) r->used.y0 = sb.y0;
    if (sb.x1 > r->used.x1) r->used.x1 = sb.x1;
    if (sb.y1 > r->used.y1) r->used.y1 = sb.y1;

    r->grid = sb;
    int32_t bw = sb.x1 - sb.x0 + 1, bh = sb.y1 - sb.y0 + 1;
    r->csize = 1;
    for (;;) {
        r->gw = (bw + r->csize - 1) / r->csize;
        r->gh = (bh + r->csize - 1) / r->csize;
        if ((int64_t)r->gw * r->gh <= MAX_CELLS) break;
        r->csize *= 2;
    }
    for (int32_t c = 0; c < r->gw * r->gh; c++)
        r->chead[c] = -1;

    n->nhops = 0;
    add_hop(r, n, pn->sy * r->w + pn->sx, PL_RAMP);
    /* Nearer sinks first: the tree grows outward and each later sink
     * usually finds a branch close by. */
    uint64_t *ks = keys(r, (size_t)pn->nsinks);
    for (int32_t k = 0; k < pn->nsinks; k++)
        ks[k] = (uint64_t)(iabs(pn->kx[k] - pn->sx) + iabs(pn->ky[k] - pn->sy)) << 32 | (uint32_t)k;
    qsort(ks, (size_t)pn->nsinks, sizeof *ks, cmp_u64);
    for (int32_t k = 0; k < pn->nsinks; k++) {
        int32_t j = (int32_t)(uint32_t)ks[k];
        int32_t s = pn->ky[j] * r->w + pn->kx[j];
        if (r->nd[s].tmark == r->tree)
            n->hops[r->nd[s].tidx].outs |= 1u << PL_RAMP;
        else if (!connect(r, n, &sb, s))
            return false;
    }
    return true;
}

/* Adds (sign 1) or removes (sign -1) net i's tree from the occupancy. */
static void commit(router *r, int32_t i, int sign) {
    const rnet *n = &r->rn[i];
    for (int32_t k = 0; k < n->nhops; k++) {
        int32_t v = n->hops[k].node;
        r->nd[v].cnt += sign;
        if (r->occ_c) {
            uint16_t *oc = &r->occ_c[(size_t)v * r->colors + n->color];
            /* the colour-aware rounds start from at most `colors` nets a router */
            if (sign > 0 && *oc == UINT16_MAX)
                ir_internal_error("router: 65535 nets on one colour at router (%d,%d)", v % r->w,
                                  v / r->w);
            *oc = (uint16_t)(*oc + sign);
        }
        for (int d = 0; d < 4; d++)
            if (n->hops[k].outs >> d & 1) r->lk[(size_t)v * 4 + d].occ += sign * n->load;
    }
}

/* Rebuilds the (router, colour) counts after the colours changed. */
static void recount_colors(router *r) {
    memset(r->occ_c, 0, (size_t)r->w * r->h * r->colors * sizeof *r->occ_c);
    for (int32_t i = 0; i < r->nnets; i++)
        for (int32_t k = 0; k < r->rn[i].nhops; k++)
            r->occ_c[(size_t)r->rn[i].hops[k].node * r->colors + r->rn[i].color]++;
}

/* Nets too many at router v: beyond `colors`, or once colours are assigned,
 * beyond one per colour. */
static int32_t rtr_excess(const router *r, size_t v) {
    if (!r->occ_c) return r->nd[v].cnt > r->cap1 ? r->nd[v].cnt - r->cap1 : 0;
    int32_t ex = 0;
    if (r->nd[v].cnt > 1)
        for (int32_t c = 0; c < r->colors; c++)
            if (r->occ_c[v * r->colors + c] > 1) ex += r->occ_c[v * r->colors + c] - 1;
    return ex;
}

enum { OVER_PHYS = 1, OVER_CLASH = 2 };

/* Scans the used area. Returns OVER_PHYS when a link carries too much or a
 * router holds more nets than colours, OVER_CLASH when (colour-aware
 * rounds) two nets share a colour at a router. With `negotiate`, also adds
 * history cost to every overused resource and marks the routers within
 * RIP_RADIUS of one as hot. */
static int scan(router *r, bool negotiate) {
    int over = 0;
    r->clashes = 0;
    for (int32_t y = r->used.y0; y <= r->used.y1; y++)
        for (int32_t x = r->used.x0; x <= r->used.x1; x++) {
            size_t v = (size_t)y * r->w + x;
            bool bad = false;
            for (int d = 0; d < 4; d++)
                if (link_over(r, v * 4 + d)) {
                    over |= OVER_PHYS;
                    bad = true;
                    if (negotiate)
                        r->lk[v * 4 + d].hist +=
                            (float)(HIST_FAC *
                                    (1 + (double)(r->lk[v * 4 + d].occ - (int64_t)UNIT) / UNIT));
                }
            int32_t ex = rtr_excess(r, v);
            r->clashes += r->occ_c ? ex : 0;
            if (ex) {
                over |= r->nd[v].cnt > (r->occ_c ? r->colors : r->cap1) ? OVER_PHYS : 0;
                over |= r->occ_c ? OVER_CLASH : 0;
                bad = true;
                if (negotiate) r->nd[v].hist += (float)(HIST_FAC * ex);
            }
            if (bad && negotiate)
                for (int32_t yy = y - RIP_RADIUS; yy <= y + RIP_RADIUS; yy++)
                    for (int32_t xx = x - RIP_RADIUS; xx <= x + RIP_RADIUS; xx++)
                        if (in_box(&r->used, xx, yy)) r->hot[(size_t)yy * r->w + xx] = 1;
        }
    return over;
}

static void clear_hot(router *r) {
    for (int32_t y = r->used.y0; y <= r->used.y1; y++)
        memset(r->hot + (size_t)y * r->w + r->used.x0, 0, (size_t)(r->used.x1 - r->used.x0 + 1));
}

/* Rerouting only the nets on an overused resource leaves in place the nets
 * that block their way out (on resources full but not overused); taking in
 * every net passing close by lets those move too, at a local cost. */
static bool net_hot(const router *r, int32_t i) {
    const rnet *n = &r->rn[i];
    for (int32_t k = 0; k < n->nhops; k++)
        if (r->hot[n->hops[k].node]) return true;
    return false;
}

/* ------------------------------------------------------------- colours */

/* Greedy first-fit colouring of the nets, larger trees first; a failed
 * attempt moves its failed nets to the front and tries again (iterated
 * greedy). Returns the number of nets left without a colour (-1). */
static int32_t greedy_colors(router *r) {
    int32_t nn = r->nnets;
    int32_t *order = ir_xmalloc((size_t)(nn ? nn : 1) * sizeof *order);
    int32_t *failed = ir_xmalloc((size_t)(nn ? nn : 1) * sizeof *failed);
    uint64_t *ks = keys(r, (size_t)nn);
    for (int32_t i = 0; i < nn; i++)
        ks[i] = (uint64_t)(INT32_MAX - r->rn[i].nhops) << 32 | (uint32_t)i;
    qsort(ks, (size_t)nn, sizeof *ks, cmp_u64);
    for (int32_t i = 0; i < nn; i++)
        order[i] = (int32_t)(uint32_t)ks[i];
    uint64_t all = r->colors == 64 ? UINT64_MAX : (UINT64_C(1) << r->colors) - 1;
    int32_t nfail = 0;
    for (int t = 0; t < COLOR_TRIES; t++) {
        for (int32_t y = r->used.y0; y <= r->used.y1; y++)
            memset(r->mask + (size_t)y * r->w + r->used.x0, 0,
                   (size_t)(r->used.x1 - r->used.x0 + 1) * sizeof *r->mask);
        nfail = 0;
        for (int32_t j = 0; j < nn; j++) {
            rnet *n = &r->rn[order[j]];
            uint64_t m = 0;
            for (int32_t k = 0; k < n->nhops; k++)
                m |= r->mask[n->hops[k].node];
            uint64_t avail = ~m & all;
            if (!avail) {
                n->color = -1;
                failed[nfail++] = order[j];
                continue;
            }
            n->color = __builtin_ctzll(avail);
            for (int32_t k = 0; k < n->nhops; k++)
                r->mask[n->hops[k].node] |= UINT64_C(1) << n->color;
        }
        if (!nfail) break;
        int32_t m = 0;
        for (int32_t j = 0; j < nfail; j++)
            ks[m++] = (uint64_t)failed[j];
        for (int32_t j = 0; j < nn; j++)
            if (r->rn[order[j]].color >= 0) ks[m++] = (uint64_t)order[j];
        for (int32_t j = 0; j < nn; j++)
            order[j] = (int32_t)ks[j];
    }
    free(order);
    free(failed);
    return nfail;
}

/* The colour for net i (already ripped up) on its next route: the one its
 * old tree meets least often, where a meeting at its source or a sink
 * counts as many as a whole detour could cost (those routers cannot be
 * avoided), and its own colour wins a tie so that settled nets stay put. */
static int32_t least_conflict_color(const router *r, int32_t i) {
    const rnet *n = &r->rn[i];
    int64_t meet[MAX_COLORS] = {0};
    for (int32_t k = 0; k < n->nhops; k++) {
        const uint16_t *oc = r->occ_c + (size_t)n->hops[k].node * r->colors;
        int64_t wgt = k == 0 || (n->hops[k].outs >> PL_RAMP & 1) ? n->nhops + 1 : 1;
        for (int32_t c = 0; c < r->colors; c++)
            meet[c] += wgt * oc[c];
    }
    int32_t best = n->color >= 0 ? n->color : 0;
    for (int32_t c = 0; c < r->colors; c++)
        if (meet[c] < meet[best]) best = c;
    return best;
}

/* The conflict graph: nets are adjacent when their trees share a router.
 * Its size is the sum over routers of the square of the nets there, at
 * most `colors` times the hops once no router holds more nets than
 * colours. */
typedef struct cgraph {
    size_t *off;  /* per net + 1: start of its neighbours in adj */
    int32_t *adj; /* neighbour lists */
} cgraph;

static void build_conflicts(const router *r, cgraph *g) {
    size_t nr = (size_t)r->w * r->h, total = 0;
    int32_t *roff = ir_xcalloc(nr + 1, sizeof *roff); /* per router: start of its nets */
    for (int32_t i = 0; i < r->nnets; i++)
        for (int32_t k = 0; k < r->rn[i].nhops; k++) {
            roff[r->rn[i].hops[k].node + 1]++;
            total++;
        }
    for (size_t v = 0; v < nr; v++)
        roff[v + 1] += roff[v];
    int32_t *rnets = ir_xmalloc((total ? total : 1) * sizeof *rnets);
    for (int32_t i = 0; i < r->nnets; i++)
        for (int32_t k = 0; k < r->rn[i].nhops; k++)
            rnets[roff[r->rn[i].hops[k].node]++] = i;
    /* the fill moved every start to the next router's: shift back */
    memmove(roff + 1, roff, nr * sizeof *roff);
    roff[0] = 0;
    uint32_t *seen = ir_xcalloc((size_t)r->nnets, sizeof *seen);
    size_t m = 0, cap = 1024;
    g->off = ir_xmalloc(((size_t)r->nnets + 1) * sizeof *g->off);
    g->adj = ir_xmalloc(cap * sizeof *g->adj);
    for (int32_t i = 0; i < r->nnets; i++) {
        g->off[i] = m;
        for (int32_t k = 0; k < r->rn[i].nhops; k++) {
            int32_t v = r->rn[i].hops[k].node;
            for (int32_t q = roff[v]; q < roff[v + 1]; q++) {
                int32_t j = rnets[q];
                if (j == i || seen[j] == (uint32_t)i + 1) continue;
                seen[j] = (uint32_t)i + 1;
                if (m == cap) {
                    cap *= 2;
                    g->adj = ir_xrealloc(g->adj, cap * sizeof *g->adj);
                }
                g->adj[m++] = j;
            }
        }
    }
    g->off[r->nnets] = m;
    free(roff);
    free(rnets);
    free(seen);
}

static uint64_t xorshift(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Tabu search for a colouring without clashes (TabuCol, Hertz and de
 * Werra): move one clashing net to the colour that removes most clashes,
 * forbidding its way back for a while. Starts from the nets' colours
 * (uncoloured nets take their least-clashing colour), leaves the best
 * colouring found in them and returns its clashes. Deterministic: ties
 * are broken by a fixed-seed generator. */
static int64_t tabu_colors(router *r, const cgraph *g) {
    int32_t nv = r->nnets, k = r->colors;
    int32_t *col = ir_xmalloc((size_t)nv * sizeof *col);
    int32_t *best_col = ir_xmalloc((size_t)nv * sizeof *best_col);
    int32_t *gam = ir_xcalloc((size_t)nv * k, sizeof *gam);   /* neighbours per colour */
    int64_t *tabu = ir_xcalloc((size_t)nv * k, sizeof *tabu); /* move allowed from this move */
    int32_t *cs = ir_xmalloc((size_t)nv * sizeof *cs);        /* clashing nets */
    int32_t *pos = ir_xmalloc((size_t)nv * sizeof *pos);      /* index in cs, -1 */
    int32_t ncs = 0;
    for (int32_t i = 0; i < nv; i++)
        col[i] = r->rn[i].color;
    for (int32_t i = 0; i < nv; i++)
        if (col[i] >= 0)
            for (size_t q = g->off[i]; q < g->off[i + 1]; q++)
                gam[(size_t)g->adj[q] * k + col[i]]++;
    for (int32_t i = 0; i < nv; i++) {
        if (col[i] >= 0) continue;
        int32_t c = 0;
        for (int32_t c2 = 1; c2 < k; c2++)
            if (gam[(size_t)i * k + c2] < gam[(size_t)i * k + c]) c = c2;
        col[i] = c;
        for (size_t q = g->off[i]; q < g->off[i + 1]; q++)
            gam[(size_t)g->adj[q] * k + c]++;
    }
    int64_t clash = 0;
    for (int32_t i = 0; i < nv; i++) {
        clash += gam[(size_t)i * k + col[i]];
        pos[i] = -1;
        if (gam[(size_t)i * k + col[i]] > 0) pos[i] = ncs, cs[ncs++] = i;
    }
    clash /= 2;
    int64_t best = clash, work = 0;
    memcpy(best_col, col, (size_t)nv * sizeof *col);
    uint64_t seed = UINT64_C(0x2545f4914f6cdd1d);
    for (int64_t it = 1; clash > 0 && it <= TABU_ITERS && work < TABU_WORK; it++) {
        int32_t bv = -1, bc = -1, ties = 0;
        int64_t bd = INT64_MAX;
        for (int32_t a = 0; a < ncs; a++) {
            int32_t v = cs[a];
            const int32_t *gv = gam + (size_t)v * k;
            for (int32_t c = 0; c < k; c++) {
                if (c == col[v]) continue;
                int64_t delta = gv[c] - gv[col[v]];
                if (tabu[(size_t)v * k + c] > it && clash + delta >= best) continue;
                if (delta < bd) {
                    bd = delta, bv = v, bc = c, ties = 1;
                } else if (delta == bd && xorshift(&seed) % (uint64_t)++ties == 0) {
                    bv = v, bc = c;
                }
            }
        }
        work += (int64_t)ncs * k;
        if (bv < 0) continue; /* every move tabu: wait for one to expire */
        int32_t old = col[bv];
        col[bv] = bc;
        clash += bd;
        for (size_t q = g->off[bv]; q < g->off[bv + 1]; q++) {
            int32_t j = g->adj[q];
            gam[(size_t)j * k + old]--;
            gam[(size_t)j * k + bc]++;
        }
        work += (int64_t)(g->off[bv + 1] - g->off[bv]);
        /* membership changes only for bv and its neighbours */
        for (size_t q = g->off[bv]; q <= g->off[bv + 1]; q++) {
            int32_t j = q < g->off[bv + 1] ? g->adj[q] : bv;
            bool in = gam[(size_t)j * k + col[j]] > 0;
            if (in && pos[j] < 0) {
                pos[j] = ncs, cs[ncs++] = j;
            } else if (!in && pos[j] >= 0) {
                cs[pos[j]] = cs[--ncs];
                pos[cs[pos[j]]] = pos[j];
                pos[j] = -1;
            }
        }
        tabu[(size_t)bv * k + old] =
            it + 1 + (int64_t)(0.6 * ncs) + (int64_t)(xorshift(&seed) % 10);
        if (clash < best) {
            best = clash;
            memcpy(best_col, col, (size_t)nv * sizeof *col);
        }
    }
    for (int32_t i = 0; i < nv; i++)
        r->rn[i].color = best_col[i];
    free(col);
    free(best_col);
    free(gam);
    free(tabu);
    free(cs);
    free(pos);
    return best;
}

/* Whether net i's tree (not committed) is legal on its colour: every router
 * free in that colour and below `colors` nets, every link within capacity. */
static bool tree_free(const router *r, int32_t i) {
    const rnet *n = &r->rn[i];
    for (int32_t k = 0; k < n->nhops; k++) {
        size_t v = (size_t)n->hops[k].node;
        if (r->occ_c[v * r->colors + n->color] || r->nd[v].cnt >= r->colors) return false;
        for (int d = 0; d < 4; d++)
            if (n->hops[k].outs >> d & 1 && r->lk[v * 4 + d].occ + n->load > (int64_t)UNIT + SLACK)
                return false;
    }
    return true;
}

/* Whether committed net i shares its colour with another net anywhere. */
static bool net_clashes(const router *r, int32_t i) {
    const rnet *n = &r->rn[i];
    for (int32_t k = 0; k < n->nhops; k++)
        if (r->occ_c[(size_t)n->hops[k].node * r->colors + n->color] > 1) return true;
    return false;
}

/* A net's tree and colour, to put back. */
typedef struct snap {
    int32_t net;   /* which */
    int32_t color; /* its colour */
    int32_t nhops; /* its routers */
    thop *hops;    /* copy of its tree */
} snap;

static void snap_take(const router *r, int32_t i, snap *s) {
    const rnet *n = &r->rn[i];
    s->net = i, s->color = n->color, s->nhops = n->nhops;
    s->hops = ir_xmalloc(sizeof *s->hops * (size_t)(n->nhops ? n->nhops : 1));
    memcpy(s->hops, n->hops, sizeof *s->hops * (size_t)n->nhops);
}

/* Gives uncommitted net s->net its tree and colour back. */
static void snap_put(router *r, const snap *s) {
    rnet *n = &r->rn[s->net];
    if (n->cap < s->nhops) {
        n->cap = s->nhops;
        n->hops = ir_xrealloc(n->hops, sizeof *n->hops * (size_t)s->nhops);
    }
    memcpy(n->hops, s->hops, sizeof *s->hops * (size_t)s->nhops);
    n->nhops = s->nhops, n->color = s->color;
}

/* Puts committed net s->net back as it was when taken. */
static void snap_restore(router *r, const snap *s) {
    commit(r, s->net, -1);
    snap_put(r, s);
    commit(r, s->net, 1);
}

/* Reroutes committed net i on another colour (`only` if >= 0; never
 * `avoid`) through routers and links where that colour and capacity are
 * free (anything else forbidden), on the first colour where such a tree
 * exists: a net of a thousand routers is rerouted in milliseconds, but the
 * end game may meet hundreds of them. Otherwise it stays as it was.
 * Returns whether it moved. */
static bool move_net(router *r, int32_t i, int32_t only, int32_t avoid) {
    rnet *n = &r->rn[i];
    const pl_net *pn = &r->nets[i];
    snap was;
    snap_take(r, i, &was);
    commit(r, i, -1);
    int32_t margin = n->margin;
    bool moved = false;
    r->hard = true;
    n->margin = margin > REPAIR_MARGIN ? margin : REPAIR_MARGIN;
    for (int32_t c = only >= 0 ? only : 0; c < (only >= 0 ? only + 1 : r->colors) && !moved; c++) {
        if (c == was.color || c == avoid) continue;
        bool ends = !r->occ_c[((size_t)pn->sy * r->w + pn->sx) * r->colors + c];
        for (int32_t k = 0; k < pn->nsinks && ends; k++)
            ends = !r->occ_c[((size_t)pn->ky[k] * r->w + pn->kx[k]) * r->colors + c];
        if (!ends) continue;
        n->color = c;
        moved = route_net(r, i) && tree_free(r, i);
    }
    r->hard = false;
    n->margin = margin;
    if (!moved) snap_put(r, &was);
    commit(r, i, 1);
    free(was.hops);
    return moved;
}

/* The end game. Negotiation leaves a few clashes that moving nets around
 * under soft costs keeps trading back and forth. Here each clashing net
 * moves to a colour where a whole tree of it is free (move_net): every
 * success removes a clash and adds none. A net that finds no such colour
 * because other nets hold every colour at its ends (a row multicast across
 * a gemv meets every partial-sum net of its PEs) asks those on one colour
 * to move away first: up to REPAIR_BLOCKERS short ones and REPAIR_BIG
 * long ones, fewest first. Returns the nets repaired. */
static int32_t repair_clashes(router *r) {
    int32_t *cand = ir_xmalloc(sizeof(int32_t) * (size_t)(r->nnets ? r->nnets : 1)), nc = 0;
    for (int32_t i = 0; i < r->nnets; i++)
        if (net_clashes(r, i)) cand[nc++] = i;
    int32_t fixed = 0;
    uint8_t *end = NULL;
    for (int32_t j = 0; j < nc; j++) {
        int32_t i = cand[j];
        if (!net_clashes(r, i)) continue; /* an earlier repair freed it */
        if (move_net(r, i, -1, -1)) {
            fixed++;
            continue;
        }
        if (r->clashes > REPAIR_ROOM) continue;
        /* the nets holding each colour at i's ends */
        const pl_net *pn = &r->nets[i];
        if (!end) end = ir_xcalloc((size_t)r->w * r->h, 1);
        end[pn->sy * r->w + pn->sx] = 1;
        for (int32_t k = 0; k < pn->nsinks; k++)
            end[pn->ky[k] * r->w + pn->kx[k]] = 1;
        int32_t nb[MAX_COLORS] = {0}, big[MAX_COLORS] = {0}, who[MAX_COLORS][REPAIR_BLOCKERS];
        for (int32_t q = 0; q < r->nnets; q++) {
            const rnet *m = &r->rn[q];
            if (q == i) continue;
            for (int32_t k = 0; k < m->nhops; k++)
                if (end[m->hops[k].node]) {
                    if (nb[m->color] < REPAIR_BLOCKERS) who[m->color][nb[m->color]] = q;
                    nb[m->color]++;
                    big[m->color] += m->nhops > REPAIR_SHORT;
                    break;
                }
        }
        /* colours with the fewest nets in the way first */
        int32_t order[MAX_COLORS];
        for (int32_t c = 0; c < r->colors; c++) {
            int32_t k = c;
            for (; k > 0 && nb[order[k - 1]] > nb[c]; k--)
                order[k] = order[k - 1];
            order[k] = c;
        }
        end[pn->sy * r->w + pn->sx] = 0;
        for (int32_t k = 0; k < pn->nsinks; k++)
            end[pn->ky[k] * r->w + pn->kx[k]] = 0;
        bool done = false;
        for (int32_t o = 0; o < r->colors && !done; o++) {
            int32_t c = order[o];
            if (c == r->rn[i].color || nb[c] > REPAIR_BLOCKERS || big[c] > REPAIR_BIG) continue;
            /* i steps aside while the blockers move, so they may take its
             * colour; if i then finds no tree on c, everyone goes back */
            snap sv[REPAIR_BLOCKERS + 1];
            int32_t ns = 0;
            snap_take(r, i, &sv[ns++]);
            for (int32_t b = 0; b < nb[c]; b++)
                snap_take(r, who[c][b], &sv[ns++]);
            commit(r, i, -1);
            bool moved = true;
            for (int32_t b = 0; b < nb[c] && moved; b++)
                moved = r->rn[who[c][b]].color != c || move_net(r, who[c][b], -1, c);
            commit(r, i, 1);
            done = moved && move_net(r, i, c, -1);
            for (int32_t q = ns - 1; q >= 0; q--) {
                if (!done) snap_restore(r, &sv[q]);
                free(sv[q].hops);
            }
        }
        fixed += done;
    }
    free(cand), free(end);
    return fixed;
}

/* Colours the nets, which are routed legally apart from colours: first fit
 * the first time, then tabu search on the conflict graph. True when no two
 * nets sharing a router share a colour. Otherwise the nets keep the best
 * colouring found and the colour-aware rounds start (or go on). */
static bool color_nets(router *r) {
    if (!r->occ_c && !greedy_colors(r)) return true;
    bool changed = !r->occ_c;
    /* Rerouting usually removes clashes faster than recolouring, which
     * upsets the colours the routes were negotiated for: recolour first,
     * then again only when rerouting stalls. */
    if (r->occ_c) {
        if (r->clashes < r->fewest)
            r->fewest = r->clashes, r->stalled = 0;
        else
            r->stalled++;
    }
    if (r->tabu_left > 0 && (!r->occ_c || r->stalled >= TABU_STALL)) {
        r->stalled = 0;
        changed = true;
        r->tabu_left--;
        cgraph g;
        build_conflicts(r, &g);
        int64_t clash = tabu_colors(r, &g);
        free(g.off);
        free(g.adj);
        if (!clash) return true;
    } else if (!r->occ_c) {
        for (int32_t i = 0; i < r->nnets; i++)
            if (r->rn[i].color < 0) r->rn[i].color = 0;
    }
    if (!r->occ_c) r->occ_c = ir_xmalloc((size_t)r->w * r->h * r->colors * sizeof *r->occ_c);
    if (changed) recount_colors(r);
    return false;
}

/* --------------------------------------------------------------- entry */

static void router_free(router *r) {
    if (r->rn)
        for (int32_t i = 0; i < r->nnets; i++)
            free(r->rn[i].hops);
    free(r->rn);
    free(r->lk);
    free(r->nd);
    free(r->hot);
    free(r->occ_c);
    free(r->heap);
    free(r->chead);
    free(r->cnext);
    free(r->tx);
    free(r->ty);
    free(r->keys);
    free(r->mask);
}

static bool check_input(int32_t width, int32_t height, const pl_net *nets, int32_t nnets,
                        int32_t colors, double capacity, ir_diag *d) {
    if (width < 1 || height < 1 || (int64_t)width * height > MAX_ROUTERS) {
        ir_error(d, IR_NOLOC, "cannot route on a %dx%d fabric (1 to %d routers)", width, height,
                 MAX_ROUTERS);
        return false;
    }
    if (colors < 1) {
        ir_error(d, IR_NOLOC, "the target has %d colours per router; routing needs at least 1",
                 colors);
        return false;
    }
    if (!(capacity > 0) || !isfinite(capacity)) {
        ir_error(d, IR_NOLOC, "link capacity %g is not a positive number", capacity);
        return false;
    }
    if (nnets < 0 || nnets > MAX_NETS || (nnets > 0 && !nets)) {
        ir_error(d, IR_NOLOC, "cannot route %d nets (at most %d)", nnets, MAX_NETS);
        return false;
    }
    for (int32_t i = 0; i < nnets; i++) {
        const pl_net *n = &nets[i];
        if (n->sx < 0 || n->sx >= width || n->sy < 0 || n->sy >= height) {
            ir_error(d, IR_NOLOC, "net %d: source (%d,%d) is outside the %dx%d fabric", i, n->sx,
                     n->sy, width, height);
            return false;
        }
        if (n->nsinks < 1 || !n->kx || !n->ky) {
            ir_error(d, IR_NOLOC, "net %d from (%d,%d) has no sinks", i, n->sx, n->sy);
            return false;
        }
        for (int32_t k = 0; k < n->nsinks; k++)
            if (n->kx[k] < 0 || n->kx[k] >= width || n->ky[k] < 0 || n->ky[k] >= height) {
                ir_error(d, IR_NOLOC, "net %d: sink (%d,%d) is outside the %dx%d fabric", i,
                         n->kx[k], n->ky[k], width, height);
                return false;
            }
        if (!(n->load > 0) || !isfinite(n->load)) {
            ir_error(d, IR_NOLOC, "net %d from (%d,%d): load %g is not a positive number", i, n->sx,
                     n->sy, n->load);
            return false;
        }
        if (units(n->load, capacity) > (int64_t)UNIT + SLACK) {
            ir_error(d, IR_NOLOC,
                     "net %d from (%d,%d) needs %g wavelets per cycle; a link carries at most %g",
                     i, n->sx, n->sy, n->load, capacity);
            return false;
        }
    }
    return true;
}

/* Needs no routing to be hopeless: more nets ending at a router than it has
 * colours, or more load entering or leaving a PE than its links carry. */
static bool check_terminals(router *r, ir_diag *d) {
    size_t nr = (size_t)r->w * r->h;
    /* borrowed, zero before and after: a router's cnt counts the nets ending
     * there, its first two links' occ the load leaving and entering the PE */
    bool ok = true;
    for (int32_t i = 0; i < r->nnets; i++) {
        const pl_net *n = &r->nets[i];
        next_tree(r);
        int32_t s = n->sy * r->w + n->sx;
        r->nd[s].tmark = r->tree;
        r->nd[s].cnt++;
        bool leaves = false;
        for (int32_t k = 0; k < n->nsinks; k++) {
            int32_t v = n->ky[k] * r->w + n->kx[k];
            if (r->nd[v].tmark == r->tree) continue;
            r->nd[v].tmark = r->tree;
            r->nd[v].cnt++;
            r->lk[(size_t)v * 4 + 1].occ += r->rn[i].load;
            leaves = true;
        }
        if (leaves) r->lk[(size_t)s * 4].occ += r->rn[i].load;
    }
    for (size_t v = 0; v < nr && ok; v++) {
        int32_t x = (int32_t)(v % r->w), y = (int32_t)(v / r->w);
        int links = (x > 0) + (x < r->w - 1) + (y > 0) + (y < r->h - 1);
        int64_t most = links * ((int64_t)UNIT + SLACK);
        if (r->nd[v].cnt > r->colors) {
            ir_error(d, IR_NOLOC,
                     "router (%d,%d) needs %d colours, the target has %d: %d nets start or end "
                     "at PE (%d,%d)",
                     x, y, r->nd[v].cnt, r->colors, r->nd[v].cnt, x, y);
            ok = false;
        } else if (r->lk[v * 4].occ > most || r->lk[v * 4 + 1].occ > most) {
            bool out = r->lk[v * 4].occ > most;
            ir_error(d, IR_NOLOC,
                     "PE (%d,%d) %s %g wavelets per cycle %s the mesh; its %d links carry at "
                     "most %g",
                     x, y, out ? "sends" : "receives",
                     (double)r->lk[v * 4 + !out].occ / UNIT * r->capacity, out ? "into" : "from",
                     links, links * r->capacity);
            ok = false;
        }
    }
    for (size_t v = 0; v < nr; v++) {
        r->nd[v].cnt = 0;
        r->lk[v * 4].occ = r->lk[v * 4 + 1].occ = 0;
    }
    return ok;
}

/* Reports what is short after the last round. */
static void report_failure(router *r, int32_t rounds, ir_diag *d) {
    size_t worst_link = SIZE_MAX;
    int32_t worst_rtr = -1, nlinks = 0, nrtrs = 0;
    for (int32_t y = r->used.y0; y <= r->used.y1; y++)
        for (int32_t x = r->used.x0; x <= r->used.x1; x++) {
            size_t v = (size_t)y * r->w + x;
            for (int d4 = 0; d4 < 4; d4++)
                if (link_over(r, v * 4 + d4)) {
                    nlinks++;
                    if (worst_link == SIZE_MAX || r->lk[v * 4 + d4].occ > r->lk[worst_link].occ)
                        worst_link = v * 4 + d4;
                }
            if (r->nd[v].cnt > r->colors) {
                nrtrs++;
                if (worst_rtr < 0 || r->nd[v].cnt > r->nd[worst_rtr].cnt) worst_rtr = (int32_t)v;
            }
        }
    bool reported = false;
    if (worst_link != SIZE_MAX) {
        int32_t v = (int32_t)(worst_link / 4), dir = (int)(worst_link % 4);
        int32_t x = v % r->w, y = v / r->w;
        ir_error(d, IR_NOLOC,
                 "link (%d,%d)->(%d,%d) needs %g wavelets per cycle, the capacity is %g (%d "
                 "links overloaded after %d negotiation rounds)",
                 x, y, x + DX[dir], y + DY[dir], (double)r->lk[worst_link].occ / UNIT * r->capacity,
                 r->capacity, nlinks, rounds);
        reported = true;
    }
    if (worst_rtr >= 0) {
        int32_t x = worst_rtr % r->w, y = worst_rtr / r->w;
        if (reported)
            ir_note(d, IR_NOLOC, "router (%d,%d) would also need %d colours, the target has %d", x,
                    y, r->nd[worst_rtr].cnt, r->colors);
        else
            ir_error(d, IR_NOLOC,
                     "router (%d,%d) needs %d colours, the target has %d (%d routers over after "
                     "%d negotiation rounds)",
                     x, y, r->nd[worst_rtr].cnt, r->colors, nrtrs, rounds);
        reported = true;
    }
    if (reported || !r->occ_c) return;
    /* Enough colours everywhere, but no assignment found: name a clash. */
    int32_t worst = -1, worst_ex = 0;
    for (int32_t y = r->used.y0; y <= r->used.y1; y++)
        for (int32_t x = r->used.x0; x <= r->used.x1; x++) {
            size_t v = (size_t)y * r->w + x;
            int32_t ex = rtr_excess(r, v);
            if (ex > worst_ex) worst_ex = ex, worst = (int32_t)v;
        }
    if (worst < 0) ir_internal_error("router: gave up without an overused resource");
    int32_t c = 0, a = -1, b = -1;
    while (r->occ_c[(size_t)worst * r->colors + c] < 2)
        c++;
    for (int32_t i = 0; i < r->nnets && b < 0; i++)
        if (r->rn[i].color == c)
            for (int32_t k = 0; k < r->rn[i].nhops; k++)
                if (r->rn[i].hops[k].node == worst) {
                    if (a < 0)
                        a = i;
                    else
                        b = i;
                    break;
                }
    ir_error(d, IR_NOLOC,
             "cannot assign the %d colours: nets %d and %d both need colour %d at router (%d,%d), "
             "which carries %d nets (after %d negotiation rounds)",
             r->colors, a, b, c, worst % r->w, worst / r->w, r->nd[worst].cnt, rounds);
}

static void build_output(router *r, int32_t rounds, pl_routing *out) {
    out->nroutes = r->nnets;
    out->routes = ir_xcalloc((size_t)(r->nnets ? r->nnets : 1), sizeof *out->routes);
    for (int32_t i = 0; i < r->nnets; i++) {
        const rnet *n = &r->rn[i];
        struct pl_route *rt = &out->routes[i];
        rt->color = n->color;
        rt->nhops = n->nhops;
        /* zeroed and set field by field: padding bytes too are the same on
         * every run, for whoever hashes or writes the routes raw */
        rt->hops = ir_xcalloc((size_t)(n->nhops ? n->nhops : 1), sizeof *rt->hops);
        for (int32_t k = 0; k < n->nhops; k++) {
            rt->hops[k].x = n->hops[k].node % r->w;
            rt->hops[k].y = n->hops[k].node / r->w;
            rt->hops[k].in = n->hops[k].in;
            rt->hops[k].outs = n->hops[k].outs;
        }
    }
    out->iterations = rounds;
    size_t busiest = SIZE_MAX;
    int64_t sum = 0, held = 0;
    for (int32_t y = r->used.y0; y <= r->used.y1; y++)
        for (int32_t x = r->used.x0; x <= r->used.x1; x++) {
            size_t v = (size_t)y * r->w + x;
            for (int d = 0; d < 4; d++)
                if (r->lk[v * 4 + d].occ > 0 &&
                    (busiest == SIZE_MAX || r->lk[v * 4 + d].occ > r->lk[busiest].occ))
                    busiest = v * 4 + d;
            if (r->nd[v].cnt > out->max_colors) out->max_colors = r->nd[v].cnt;
            sum += r->nd[v].cnt;
            held += r->nd[v].cnt > 0;
        }
    /* the busiest link's load summed from the input loads, not the rounded ones */
    for (int32_t i = 0; busiest != SIZE_MAX && i < r->nnets; i++)
        for (int32_t k = 0; k < r->rn[i].nhops; k++)
            if ((size_t)r->rn[i].hops[k].node == busiest / 4 &&
                (r->rn[i].hops[k].outs >> (busiest % 4) & 1))
                out->max_link_load += r->nets[i].load;
    out->mean_colors = held ? (double)sum / (double)held : 0;
}

bool pl_route(int32_t width, int32_t height, const pl_net *nets, int32_t nnets, int32_t colors,
              double capacity, pl_routing *out, ir_diag *d) {
    memset(out, 0, sizeof *out);
    if (!check_input(width, height, nets, nnets, colors, capacity, d)) return false;
    size_t nr = (size_t)width * height;
    router r = {0};
    r.w = width;
    r.h = height;
    r.nets = nets;
    r.nnets = nnets;
    r.colors = colors > MAX_COLORS ? MAX_COLORS : colors;
    r.cap1 = r.colors - r.colors / 6;
    r.capacity = capacity;
    r.pres_fac = PRES_FAC0;
    r.used = (box){INT32_MAX, INT32_MAX, -1, -1};
    r.tabu_left = TABU_CALLS;
    r.fewest = INT64_MAX;
    r.lk = ir_xcalloc(nr * 4, sizeof *r.lk);
    r.nd = ir_xcalloc(nr, sizeof *r.nd);
    r.hot = ir_xcalloc(nr, sizeof *r.hot);
    r.chead = ir_xmalloc(MAX_CELLS * sizeof *r.chead);
    r.mask = ir_xcalloc(nr, sizeof *r.mask);
    r.rn = ir_xcalloc((size_t)(nnets ? nnets : 1), sizeof *r.rn);
    for (int32_t i = 0; i < nnets; i++) {
        r.rn[i].margin = MARGIN0;
        r.rn[i].color = -1;
        r.rn[i].load = units(nets[i].load, capacity);
    }
    if (!check_terminals(&r, d)) {
        router_free(&r);
        return false;
    }

    int32_t *redo = ir_xmalloc((size_t)(nnets ? nnets : 1) * sizeof *redo);
    r.first_pass = true;
    for (int32_t i = 0; i < nnets; i++) {
        route_net(&r, i);
        commit(&r, i, 1);
    }
    r.first_pass = false;
    bool ok = nnets == 0;
    int32_t round = 1, most = width > height ? width : height;
    for (; !ok; round++) {
        /* the slack goes when it cannot be had quickly */
        if (round > SLACK_ROUNDS) r.cap1 = r.colors;
        int over = scan(&r, false);
        if (!(over & OVER_PHYS)) {
            /* in the colour-aware rounds, legal colours may come from rerouting */
            if ((r.occ_c && !over) || color_nets(&r)) {
                ok = true;
                break;
            }
        }
        if (r.occ_c && r.clashes && r.clashes <= REPAIR_MAX && !(over & OVER_PHYS)) {
            repair_clashes(&r);
            if (!scan(&r, false)) {
                ok = true;
                break;
            }
        }
        if (round >= MAX_ROUNDS) break;
        scan(&r, true);
        r.pres_fac = r.pres_fac * PRES_MULT > PRES_MAX ? PRES_MAX : r.pres_fac * PRES_MULT;
        int32_t nredo = 0;
        for (int32_t i = 0; i < nnets; i++)
            if (net_hot(&r, i)) redo[nredo++] = i;
        clear_hot(&r);
        for (int32_t j = 0; j < nredo; j++) {
            int32_t i = redo[j];
            rnet *n = &r.rn[i];
            commit(&r, i, -1);
            if (r.occ_c) n->color = least_conflict_color(&r, i);
            n->margin = n->margin + n->margin / 2 + 1 > most ? most : n->margin + n->margin / 2 + 1;
            route_net(&r, i);
            commit(&r, i, 1);
        }
    }
    if (ok)
        build_output(&r, nnets ? round : 0, out);
    else
        report_failure(&r, round, d);
    free(redo);
    router_free(&r);
#ifdef WSC_VERIFY_PASSES
    if (ok) {
        ir_diag *cd = ir_diag_new(NULL);
        if (!pl_check_routes(width, height, nets, nnets, out, colors, capacity, cd))
            ir_internal_error("the router produced an invalid routing: %s", ir_diag_text(cd));
        ir_diag_free(cd);
    }
#endif
    return ok;
}

void pl_routing_free(pl_routing *r) {
    if (!r) return;
    for (int32_t i = 0; i < r->nroutes; i++)
        free(r->routes[i].hops);
    free(r->routes);
    memset(r, 0, sizeof *r);
}
