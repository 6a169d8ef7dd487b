/* place.c - floorplanning of kernel rectangles on the fabric.
 *
 * Two stages. A constructive stage packs the kernels in pipeline (index)
 * order along a serpentine of shelves, trying a few band widths in both
 * orientations (plus order-free packers for tight problems) and keeps the
 * cheapest legal result. Simulated annealing in the style of VPR's placer
 * then improves it: random displacements within a range limit, swaps with
 * the kernel in the way, and swaps of equal-sized kernels, each priced
 * incrementally over the moved kernels' edges. docs/placer.md describes the
 * schedule, the lower bound and the measured quality.
 *
 * Nothing here is proportional to the fabric's area: the packers and the
 * checker work per kernel (the checker's sweep holds one counter per fabric
 * row), and the annealer's occupancy index has a bounded number of bins. */
#include "pl.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Under the default effort a temperature tries at most DEFAULT_MOVE_CAP
 * moves, so that a few hundred kernels place in seconds, and at least
 * DEFAULT_MOVE_FLOOR, which small models get for next to nothing; an
 * explicit effort is obeyed. */
#define DEFAULT_EFFORT     20.0
#define DEFAULT_MOVE_CAP   60000
#define DEFAULT_MOVE_FLOOR 10000
/* A safety net: VPR's schedule ends well before this. */
#define MAX_TEMPERATURES 2000
/* The annealer's occupancy index never has more bins than this. */
#define MAX_BINS 65536
/* Initial temperature as a multiple of the standard deviation of the cost
 * change of random moves around the constructive placement. VPR uses 20
 * from a random start; from a good start anything above ~0.1 scatters the
 * serpentine for good (docs/placer.md has the measurements). */
#define T0_FACTOR 0.02
/* ... and at most this multiple of the mean cost of an edge. */
#define T0_MAX_PER_EDGE 0.5
/* Share of moves that swap two kernels of equal size. */
#define CLASS_SWAP_SHARE 0.25

/* Reports when there is an engine (the self-check and tests may pass none). */
static void fail(ir_diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(ir_diag *d, const char *fmt, ...) {
    if (!d) return;
    va_list ap;
    va_start(ap, fmt);
    ir_verror(d, IR_NOLOC, fmt, ap);
    va_end(ap);
}

static int32_t imax(int32_t a, int32_t b) {
    return a > b ? a : b;
}
static int32_t imin(int32_t a, int32_t b) {
    return a < b ? a : b;
}

/* Kernel k's pl_pin (problems without pins leave the array out). */
static int pin_of(const pl_problem *p, int32_t k) {
    return p->pin ? p->pin[k] : PL_PIN_NONE;
}

/* The only column a kernel pinned to `pin` may start at. */
static int32_t pinned_x(int pin, int32_t width, int32_t w) {
    return pin == PL_PIN_WEST ? 0 : width - w;
}

static const char *const edge_names[PL_NPINS] = {"no", "west", "east"};

/* ---------------------------------------------------------------- random */

/* xoshiro256** seeded through splitmix64: the results depend on the seed
 * only, never on time, addresses or threads. */
typedef struct rng {
    uint64_t s[4]; /* state */
} rng;

static uint64_t splitmix(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void rng_seed(rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix(&seed);
}

static uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(rng *r) {
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

/* Uniform in [0, n), n >= 1 (multiply-shift; the bias is below 2^-32). */
static uint32_t rng_below(rng *r, uint32_t n) {
    return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

/* Uniform in [0, 1). */
static double rng_unit(rng *r) {
    return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

/* Uniform in [lo, hi]. */
static int32_t rng_range(rng *r, int32_t lo, int32_t hi) {
    return lo + (int32_t)rng_below(r, (uint32_t)((int64_t)hi - lo + 1));
}

/* ------------------------------------------------------------------ cost */

/* Manhattan distance between the centres of kernels a and b in half PEs:
 * doubling keeps centres (x + w/2) integral, so every cost term is computed
 * the same way by the from-scratch and the incremental sums. */
static int64_t dist2(int32_t xa, int32_t ya, int32_t wa, int32_t ha, int32_t xb, int32_t yb,
                     int32_t wb, int32_t hb) {
    int64_t dx = (2 * (int64_t)xa + wa) - (2 * (int64_t)xb + wb);
    int64_t dy = (2 * (int64_t)ya + ha) - (2 * (int64_t)yb + hb);
    return (dx < 0 ? -dx : dx) + (dy < 0 ? -dy : dy);
}

double pl_cost(const pl_problem *p, const int32_t *x, const int32_t *y) {
    double c = 0;
    for (int32_t e = 0; e < p->nedges; e++) {
        int32_t a = p->src[e], b = p->dst[e];
        c += p->traffic[e] *
             (double)dist2(x[a], y[a], p->w[a], p->h[a], x[b], y[b], p->w[b], p->h[b]);
    }
    return 0.5 * c;
}

/* Two rectangles that do not overlap are separated along x or along y, so
 * their centres are at least (wa+wb)/2 apart in x or (ha+hb)/2 apart in y,
 * and the Manhattan distance is at least the smaller of the two. A kernel
 * talking to itself costs nothing. Pins fix centres' columns: a free kernel
 * beside or beyond a pinned one along y is still (wb-wa)/2 from its edge
 * when wider; two kernels on one edge share its column; kernels on
 * opposite edges are the fabric's width apart less their half widths.
 * Everything in half PEs. */
static int64_t edge_bound2(const pl_problem *p, int32_t a, int32_t b) {
    int64_t wa = p->w[a], wb = p->w[b];
    int64_t sx = wa + wb, sy = (int64_t)p->h[a] + p->h[b];
    int pa = pin_of(p, a), pb = pin_of(p, b);
    if (pa == PL_PIN_NONE && pb == PL_PIN_NONE) return sx < sy ? sx : sy;
    if (pa == PL_PIN_NONE || pb == PL_PIN_NONE) {
        int64_t wf = pa == PL_PIN_NONE ? wa : wb, wp = pa == PL_PIN_NONE ? wb : wa;
        int64_t along = sy + (wf > wp ? wf - wp : 0);
        return sx < along ? sx : along;
    }
    if (pa == pb) return (wa > wb ? wa - wb : wb - wa) + sy;
    int64_t dx = 2 * (int64_t)p->width - sx;
    return (dx < 0 ? -dx : dx) + (sx > p->width ? sy : 0);
}

static double lower_bound(const pl_problem *p) {
    double lb = 0;
    for (int32_t e = 0; e < p->nedges; e++) {
        int32_t a = p->src[e], b = p->dst[e];
        if (a == b) continue;
        lb += p->traffic[e] * (double)edge_bound2(p, a, b);
    }
    return 0.5 * lb;
}

/* ------------------------------------------------------------- checking */

/* Range add and range max over fabric rows, without lazy propagation: a
 * node's max includes its own pending add. */
typedef struct segtree {
    int32_t n;    /* rows covered */
    int32_t *mx;  /* max count in the node's range, own add included */
    int32_t *add; /* count added to the whole range */
} segtree;

static void st_add(segtree *t, int32_t node, int32_t lo, int32_t hi, int32_t a, int32_t b,
                   int32_t v) {
    if (b <= lo || hi <= a) return;
    if (a <= lo && hi <= b) {
        t->add[node] += v;
        t->mx[node] += v;
        return;
    }
    int32_t mid = lo + (hi - lo) / 2;
    st_add(t, 2 * node, lo, mid, a, b, v);
    st_add(t, 2 * node + 1, mid, hi, a, b, v);
    t->mx[node] = t->add[node] + imax(t->mx[2 * node], t->mx[2 * node + 1]);
}

static int32_t st_max(const segtree *t, int32_t node, int32_t lo, int32_t hi, int32_t a,
                      int32_t b) {
    if (b <= lo || hi <= a) return 0;
    if (a <= lo && hi <= b) return t->mx[node];
    int32_t mid = lo + (hi - lo) / 2;
    return t->add[node] +
           imax(st_max(t, 2 * node, lo, mid, a, b), st_max(t, 2 * node + 1, mid, hi, a, b));
}

/* A sweep event: a rectangle's west edge opens it, its east edge closes it. */
typedef struct event {
    int32_t x;    /* column */
    int32_t open; /* 0 closes, 1 opens: closing first lets rectangles touch */
    int32_t k;    /* kernel */
} event;

static int event_cmp(const void *pa, const void *pb) {
    const event *a = pa, *b = pb;
    if (a->x != b->x) return a->x < b->x ? -1 : 1;
    if (a->open != b->open) return a->open - b->open;
    return (a->k > b->k) - (a->k < b->k);
}

static bool rects_overlap(int32_t xa, int32_t ya, int32_t wa, int32_t ha, int32_t xb, int32_t yb,
                          int32_t wb, int32_t hb) {
    return xa < xb + wb && xb < xa + wa && ya < yb + hb && yb < ya + ha;
}

bool pl_check_placement(const pl_problem *p, const int32_t *x, const int32_t *y, ir_diag *d) {
    int32_t n = p->nkernels;
    for (int32_t k = 0; k < n; k++) {
        if ((int64_t)x[k] < 0 || (int64_t)y[k] < 0 || (int64_t)x[k] + p->w[k] > p->width ||
            (int64_t)y[k] + p->h[k] > p->height) {
            fail(d, "placement: kernel %d (%dx%d PEs at %d,%d) lies outside the %dx%d fabric", k,
                 p->w[k], p->h[k], x[k], y[k], p->width, p->height);
            return false;
        }
        int pin = pin_of(p, k);
        if (pin < PL_PIN_NONE || pin >= PL_NPINS) {
            fail(d, "placement: kernel %d has the unknown pin %d", k, pin);
            return false;
        }
        if (pin != PL_PIN_NONE && x[k] != pinned_x(pin, p->width, p->w[k])) {
            fail(d,
                 "placement: kernel %d (%dx%d PEs at %d,%d) is pinned to the %s edge of the %dx%d "
                 "fabric but does not lie on it",
                 k, p->w[k], p->h[k], x[k], y[k], edge_names[pin], p->width, p->height);
            return false;
        }
    }
    if (n < 2) return true;
    /* Sweep west to east; rectangles crossing the sweep line are disjoint in
     * y while the placement is legal, so a row counter above zero inside a
     * new rectangle's rows means an overlap. O(n log n + n log height). */
    event *ev = ir_xmalloc(sizeof *ev * 2 * (size_t)n);
    for (int32_t k = 0; k < n; k++) {
        ev[2 * k] = (event){x[k], 1, k};
        ev[2 * k + 1] = (event){x[k] + p->w[k], 0, k};
    }
    qsort(ev, 2 * (size_t)n, sizeof *ev, event_cmp);
    segtree t = {p->height, ir_xcalloc(4 * (size_t)p->height, sizeof(int32_t)),
                 ir_xcalloc(4 * (size_t)p->height, sizeof(int32_t))};
    int32_t bad = -1;
    for (int32_t i = 0; i < 2 * n && bad < 0; i++) {
        int32_t k = ev[i].k;
        if (!ev[i].open) {
            st_add(&t, 1, 0, t.n, y[k], y[k] + p->h[k], -1);
        } else if (st_max(&t, 1, 0, t.n, y[k], y[k] + p->h[k]) > 0) {
            bad = k;
        } else {
            st_add(&t, 1, 0, t.n, y[k], y[k] + p->h[k], 1);
        }
    }
    free(ev);
    free(t.mx);
    free(t.add);
    if (bad < 0) return true;
    for (int32_t j = 0; j < n; j++) {
        if (j != bad &&
            rects_overlap(x[bad], y[bad], p->w[bad], p->h[bad], x[j], y[j], p->w[j], p->h[j])) {
            int32_t a = imin(j, bad), b = imax(j, bad);
            fail(d,
                 "placement: kernels %d (%dx%d PEs at %d,%d) and %d (%dx%d PEs at %d,%d) overlap",
                 a, p->w[a], p->h[a], x[a], y[a], b, p->w[b], p->h[b], x[b], y[b]);
            return false;
        }
    }
    ir_internal_error("placement check: an overlap without an overlapping pair");
}

void pl_placement_free(pl_placement *pl) {
    if (!pl) return;
    free(pl->x);
    free(pl->y);
    pl->x = pl->y = NULL;
}

/* ---------------------------------------------------------- constructive */

/* Packers work on a fabric of W x H with item sizes w, h; the caller passes
 * the transposed problem to get column shelves. Each returns false when the
 * items do not all fit. */

/* Serpentine of shelves in index order inside vertical bands of width
 * `band`: a shelf runs west to east, the next one east to west below it, so
 * consecutive kernels stay adjacent at the turns; a full band continues in
 * the next band to the east, filled bottom up so the snake goes on where
 * the last band ended. A band as wide as the fabric gives plain rows; a
 * narrower one keeps a small pipeline in a compact square. With `stack`,
 * consecutive kernels short enough share a column of the shelf, one below
 * the other, which wastes less of the shelf under short kernels. */
static bool pack_serpentine(int32_t W, int32_t H, const int32_t *w, const int32_t *h, int32_t n,
                            int32_t band, bool stack, int32_t *px, int32_t *py) {
    int32_t bx = 0, bw = imin(band, W); /* band's west column and width */
    int32_t k = 0;                      /* band index: even bands fill down, odd up */
    int32_t v0 = 0, sh = 0;             /* shelf offset from the band's start, height */
    int32_t first = 0;                  /* the shelf's first kernel */
    int32_t col_start = 0, col_w = 0;   /* current column: offset along the shelf, width */
    int32_t ncols = 0;                  /* columns in the shelf */
    bool ltr = true;                    /* shelf runs west to east */
    int32_t *col = ir_xmalloc(sizeof(int32_t) * (size_t)(n ? n : 1));  /* kernel -> column */
    int32_t *fill = ir_xmalloc(sizeof(int32_t) * (size_t)(n ? n : 1)); /* column -> rows used */
    bool ok = true;
    for (int32_t i = 0; i <= n; i++) {
        /* Stack under the current column, or open a column, or a shelf. */
        bool stacks = i < n && stack && ncols > 0 && (int64_t)fill[ncols - 1] + h[i] <= sh &&
                      (int64_t)col_start + imax(col_w, w[i]) <= bw;
        bool close_shelf =
            i == n || (!stacks && ncols > 0 && (int64_t)col_start + col_w + w[i] > bw);
        /* The rows the kernel needs: a new shelf's, or the current one grown. */
        int64_t need = i == n        ? 0
                       : close_shelf ? (int64_t)v0 + sh + h[i]
                                     : (int64_t)v0 + imax(sh, h[i]);
        bool close_band = i < n && (w[i] > bw || need > H);
        if (close_shelf || close_band) {
            /* Centre every column on the shelf's middle line: a short
             * kernel next to a tall one then costs the least offset. */
            int32_t top = k % 2 == 0 ? v0 : H - v0 - sh;
            for (int32_t j = first; j < i; j++)
                py[j] += top + (sh - fill[col[j]]) / 2;
            if (i == n) break;
            v0 += sh;
            sh = 0;
            ncols = 0;
            col_start = col_w = 0;
            first = i;
            ltr = !ltr;
            stacks = false;
        }
        if (close_band) {
            bx += bw;
            if (bx >= W) {
                ok = false;
                break;
            }
            bw = imin(band, W - bx);
            k++;
            v0 = 0;
            ltr = true;
            if (w[i] > bw || h[i] > H) {
                ok = false;
                break;
            }
        }
        if (stacks) {
            col_w = imax(col_w, w[i]);
        } else {
            col_start += col_w;
            col_w = w[i];
            fill[ncols++] = 0;
            if (ncols == 1) {
                /* Plan the shelf as tall as the kernels that would fill it
                 * one per column, so that short ones can stack. */
                int32_t span = 0;
                for (int32_t j = i; j < n && (int64_t)span + w[j] <= bw; j++) {
                    span += w[j];
                    if ((int64_t)v0 + h[j] <= H) sh = imax(sh, h[j]);
                }
                if (!stack) sh = 0;
            }
        }
        px[i] = ltr ? bx + col_start : bx + bw - col_start - w[i];
        py[i] = fill[ncols - 1]; /* within the column; the shelf's top comes at closing */
        col[i] = ncols - 1;
        fill[ncols - 1] += h[i];
        sh = imax(sh, h[i]);
    }
    free(col);
    free(fill);
    return ok;
}

/* A sort key carrying its kernel, so that comparisons need no shared state
 * (placements may run on several threads). */
typedef struct sortkey {
    int32_t a, b, c; /* compared first, second and third, ascending */
    int32_t k;       /* the kernel, last: the order is total */
} sortkey;

static int sortkey_cmp(const void *pa, const void *pb) {
    const sortkey *x = pa, *y = pb;
    if (x->a != y->a) return x->a < y->a ? -1 : 1;
    if (x->b != y->b) return x->b < y->b ? -1 : 1;
    if (x->c != y->c) return x->c < y->c ? -1 : 1;
    return (x->k > y->k) - (x->k < y->k);
}

/* Kernels in the order of the keys (a[k], b[k], c[k]); c may be NULL. */
static int32_t *sorted_kernels(const int32_t *a, const int32_t *b, const int32_t *c, int32_t sign,
                               int32_t n) {
    sortkey *keys = ir_xmalloc(sizeof *keys * (size_t)(n ? n : 1));
    for (int32_t k = 0; k < n; k++)
        keys[k] = (sortkey){sign * a[k], sign * b[k], c ? sign * c[k] : 0, k};
    qsort(keys, (size_t)n, sizeof *keys, sortkey_cmp);
    int32_t *ord = ir_xmalloc(sizeof *ord * (size_t)(n ? n : 1));
    for (int32_t i = 0; i < n; i++)
        ord[i] = keys[i].k;
    free(keys);
    return ord;
}

/* Decreasing height, then decreasing width, then index. */
static int32_t *order_by_height(const int32_t *w, const int32_t *h, int32_t n) {
    return sorted_kernels(h, w, NULL, -1, n);
}

/* First-fit decreasing height: for problems too tight for the pipeline
 * order; the annealer then restores locality. */
static bool pack_ffdh(int32_t W, int32_t H, const int32_t *w, const int32_t *h, int32_t n,
                      int32_t *px, int32_t *py) {
    int32_t *ord = order_by_height(w, h, n);
    int32_t *shelf_y = ir_xmalloc(sizeof(int32_t) * (size_t)(n ? n : 1));
    int32_t *shelf_used = ir_xmalloc(sizeof(int32_t) * (size_t)(n ? n : 1));
    int32_t nshelves = 0, top = 0; /* shelves open, first free row */
    bool ok = true;
    for (int32_t j = 0; j < n && ok; j++) {
        int32_t i = ord[j], s = 0;
        while (s < nshelves && (int64_t)shelf_used[s] + w[i] > W)
            s++;
        if (s == nshelves) {
            if ((int64_t)top + h[i] > H || w[i] > W) {
                ok = false;
                break;
            }
            shelf_y[s] = top;
            shelf_used[s] = 0;
            top += h[i]; /* the first item is the shelf's tallest */
            nshelves++;
        }
        px[i] = shelf_used[s];
        py[i] = shelf_y[s];
        shelf_used[s] += w[i];
    }
    free(ord);
    free(shelf_y);
    free(shelf_used);
    return ok;
}

/* A skyline segment: columns [x, x+len) are filled from row 0 down to row y. */
typedef struct seg {
    int32_t x, len, y; /* first column, width, first free row */
} seg;

/* The lowest free row under columns [x, x+w), s being a segment that holds
 * column x or lies east of it; *waste gets the area a kernel there would
 * cut off below it. */
static int32_t span_top(const seg *sk, int32_t ns, int32_t s, int32_t x, int32_t w,
                        int64_t *waste) {
    while (sk[s].x > x)
        s--;
    int32_t top = 0, s0 = s;
    for (; s < ns && sk[s].x < x + w; s++)
        top = imax(top, sk[s].y);
    int64_t cut = 0;
    for (s = s0; s < ns && sk[s].x < x + w; s++) {
        int32_t a = imax(sk[s].x, x), b = imin(sk[s].x + sk[s].len, x + w);
        cut += (int64_t)(b - a) * (top - sk[s].y);
    }
    *waste = cut;
    return top;
}

/* Raises columns [x, x+w) of the skyline to row y (they end up level). */
static int32_t skyline_raise(seg *sk, int32_t ns, seg *tmp, int32_t x, int32_t w, int32_t y) {
    int32_t m = 0;
    for (int32_t s = 0; s < ns; s++) {
        int32_t a = sk[s].x, b = sk[s].x + sk[s].len;
        if (b <= x || a >= x + w) {
            tmp[m++] = sk[s];
            continue;
        }
        if (a < x) tmp[m++] = (seg){a, x - a, sk[s].y};
        if (a <= x) tmp[m++] = (seg){x, w, y};
        if (b > x + w) tmp[m++] = (seg){x + w, b - x - w, sk[s].y};
    }
    /* Merge neighbours of equal height so the segment count stays small. */
    int32_t k = 0;
    for (int32_t s = 0; s < m; s++) {
        if (k > 0 && sk[k - 1].y == tmp[s].y)
            sk[k - 1].len += tmp[s].len;
        else
            sk[k++] = tmp[s];
    }
    return k;
}

/* Skyline packing: each kernel goes to the lowest spot where it fits,
 * flush with the west or the east end of a skyline segment. It fills the
 * holes that shelves leave under short kernels. In pipeline order, ties go
 * to the spot nearest the previous kernel; in decreasing height (the last
 * resort before refusing), to the westmost. The skyline starts flat, or as
 * `init` (at most 3 segments covering [0, W)) when rows are taken already. */
static bool pack_skyline(int32_t W, int32_t H, const int32_t *w, const int32_t *h, int32_t n,
                         bool pipeline, bool best_fit, const seg *init, int32_t ninit, int32_t *px,
                         int32_t *py) {
    int32_t *ord = NULL;
    if (!pipeline) ord = order_by_height(w, h, n);
    /* Each kernel splits at most one segment into three. */
    seg *sk = ir_xmalloc(sizeof *sk * (2 * (size_t)n + 3));
    seg *tmp = ir_xmalloc(sizeof *tmp * (2 * (size_t)n + 3));
    int32_t ns = 1;
    sk[0] = (seg){0, W, 0};
    if (init) {
        memcpy(sk, init, sizeof *sk * (size_t)ninit);
        ns = ninit;
    }
    bool ok = true;
    int64_t prev_cx2 = 0; /* doubled centre column of the previous kernel */
    for (int32_t j = 0; j < n; j++) {
        int32_t i = pipeline ? j : ord[j];
        int32_t best_x = -1, best_y = 0;
        int64_t best_d = 0, best_key = 0;
        for (int32_t s = 0; s < ns; s++) {
            for (int side = 0; side < 2; side++) {
                int32_t x = side == 0 ? sk[s].x : sk[s].x + sk[s].len - w[i];
                if (x < 0 || (int64_t)x + w[i] > W) continue;
                int64_t waste;
                int32_t top = span_top(sk, ns, s, x, w[i], &waste);
                if ((int64_t)top + h[i] > H) continue;
                int64_t dc = 2 * (int64_t)x + w[i] - prev_cx2;
                int64_t dist = pipeline ? (dc < 0 ? -dc : dc) : x;
                int64_t key = best_fit ? waste : top;
                if (best_x < 0 || key < best_key || (key == best_key && top < best_y) ||
                    (key == best_key && top == best_y && dist < best_d)) {
                    best_x = x;
                    best_y = top;
                    best_d = dist;
                    best_key = key;
                }
            }
        }
        if (best_x < 0) {
            ok = false;
            break;
        }
        px[i] = best_x;
        py[i] = best_y;
        prev_cx2 = 2 * (int64_t)best_x + w[i];
        ns = skyline_raise(sk, ns, tmp, best_x, w[i], best_y + h[i]);
    }
    free(ord);
    free(sk);
    free(tmp);
    return ok;
}

/* The packings tried, in the order tried. */
typedef enum strategy {
    SERPENTINE,               /* full-width shelves */
    SERPENTINE_STACKED,       /* the same, short kernels stacked in columns */
    SERPENTINE_BANDS,         /* shelves in narrower bands */
    SERPENTINE_BANDS_STACKED, /* the same, stacked */
    SKYLINE_PIPELINE,         /* skyline in pipeline order, lowest spot */
    SKYLINE_PIPELINE_FIT,     /* skyline in pipeline order, least waste */
    FIRST_FIT,                /* order-free: first-fit decreasing height */
    SKYLINE,                  /* order-free: skyline in decreasing height */
    NSTRATEGIES
} strategy;

static const char *const strategy_names[2][NSTRATEGIES] = {
    {"serpentine rows", "serpentine rows, stacked", "serpentine rows in bands",
     "serpentine rows in bands, stacked", "skyline rows in pipeline order",
     "best-fit skyline rows in pipeline order", "first-fit rows", "skyline rows"},
    {"serpentine columns", "serpentine columns, stacked", "serpentine columns in bands",
     "serpentine columns in bands, stacked", "skyline columns in pipeline order",
     "best-fit skyline columns in pipeline order", "first-fit columns", "skyline columns"},
};

/* The kernels pinned to the fabric's edges and the room they take. */
typedef struct pins {
    int32_t n;      /* kernels pinned */
    int32_t ww, we; /* widest kernel pinned west, east (0: none) */
    int64_t hw, he; /* rows the west, east kernels take stacked along their edge */
} pins;

static pins count_pins(const pl_problem *p) {
    pins pn = {0};
    for (int32_t k = 0; k < p->nkernels; k++) {
        int pin = pin_of(p, k);
        if (pin == PL_PIN_NONE) continue;
        pn.n++;
        if (pin == PL_PIN_WEST) {
            pn.ww = imax(pn.ww, p->w[k]);
            pn.hw += p->h[k];
        } else {
            pn.we = imax(pn.we, p->w[k]);
            pn.he += p->h[k];
        }
    }
    return pn;
}

/* Puts the kernels pinned to each edge, which has columns of its own, where
 * their free neighbours pull them: at the traffic-weighted mean row of the
 * neighbours' centres, then pushed apart along the edge in that order and
 * back inside the fabric (they fit: pl_place checked the rows they take). */
static void pins_near(const pl_problem *p, int32_t *x, int32_t *y) {
    int32_t n = p->nkernels;
    double *tw = ir_xcalloc((size_t)n, sizeof(double));  /* traffic to free kernels */
    double *tc2 = ir_xcalloc((size_t)n, sizeof(double)); /* that traffic x doubled centre rows */
    for (int32_t e = 0; e < p->nedges; e++) {
        int32_t a = p->src[e], b = p->dst[e];
        for (int end = 0; end < 2; end++) {
            int32_t k = end ? b : a, o = end ? a : b;
            if (pin_of(p, k) == PL_PIN_NONE || pin_of(p, o) != PL_PIN_NONE) continue;
            tw[k] += p->traffic[e];
            tc2[k] += p->traffic[e] * (2.0 * y[o] + p->h[o]);
        }
    }
    sortkey *keys = ir_xmalloc(sizeof *keys * (size_t)n);
    for (int side = PL_PIN_WEST; side <= PL_PIN_EAST; side++) {
        int32_t m = 0;
        for (int32_t k = 0; k < n; k++) {
            if (pin_of(p, k) != side) continue;
            double want = tw[k] > 0 ? floor(0.5 * (tc2[k] / tw[k] - p->h[k]) + 0.5) : 0;
            int32_t top = (int32_t)fmax(0, fmin(want, (double)(p->height - p->h[k])));
            keys[m++] = (sortkey){top, 0, 0, k};
        }
        qsort(keys, (size_t)m, sizeof *keys, sortkey_cmp);
        int32_t end = 0;
        for (int32_t i = 0; i < m; i++) {
            int32_t k = keys[i].k;
            x[k] = pinned_x(side, p->width, p->w[k]);
            y[k] = imax(keys[i].a, end);
            end = y[k] + p->h[k];
        }
        int32_t lim = p->height;
        for (int32_t i = m - 1; i >= 0; i--) {
            int32_t k = keys[i].k;
            y[k] = imin(y[k], lim - p->h[k]);
            lim = y[k];
        }
    }
    free(keys);
    free(tw);
    free(tc2);
}

/* Stacks the kernels pinned to each edge from the north-west and the
 * north-east corners, in index order; when the two edges' kernels would
 * share columns, the east ones go below the west ones. */
static void pins_stacked(const pl_problem *p, const pins *pn, int32_t *x, int32_t *y) {
    int32_t next[PL_NPINS] = {0, 0, (int64_t)pn->ww + pn->we > p->width ? (int32_t)pn->hw : 0};
    for (int32_t k = 0; k < p->nkernels; k++) {
        int pin = pin_of(p, k);
        if (pin == PL_PIN_NONE) continue;
        x[k] = pinned_x(pin, p->width, p->w[k]);
        y[k] = next[pin];
        next[pin] += p->h[k];
    }
}

/* The skyline those stacks leave: their bounding boxes taken from row 0. */
static int32_t pinned_skyline(const pl_problem *p, const pins *pn, seg *sk) {
    int32_t W = p->width, hw = (int32_t)pn->hw, he = (int32_t)pn->he;
    seg s[3];
    int32_t ns = 0, m = 0;
    if ((int64_t)pn->ww + pn->we <= W) {
        s[ns++] = (seg){0, pn->ww, hw};
        s[ns++] = (seg){pn->ww, W - pn->ww - pn->we, 0};
        s[ns++] = (seg){W - pn->we, pn->we, he};
    } else {
        s[ns++] = (seg){0, W - pn->we, hw};
        s[ns++] = (seg){W - pn->we, pn->we, hw + he};
    }
    for (int32_t i = 0; i < ns; i++) {
        if (s[i].len == 0) continue;
        if (m > 0 && sk[m - 1].y == s[i].y)
            sk[m - 1].len += s[i].len;
        else
            sk[m++] = s[i];
    }
    return m;
}

/* The constructive stage's state: candidates come from packing the free
 * kernels in a region and then placing the pinned ones. */
typedef struct builder {
    const pl_problem *p; /* the problem */
    const pins *pn;      /* its pinned kernels */
    const int32_t *fk;   /* free kernel i is kernel fk[i] */
    int32_t nf;          /* free kernels */
    int32_t *cx, *cy;    /* the candidate, every kernel */
    int32_t *x, *y;      /* the cheapest candidate so far */
    double best;         /* its cost; INFINITY: none yet */
    const char **name;   /* its strategy */
} builder;

/* Completes a candidate from the free kernels' corners (tx, ty) in a region
 * of columns [x0, x0 + rw), mirrored west to east when `rw` > 0: pinned
 * kernels in edge columns of their own (`strips`) or stacked from the
 * corners; keeps it when it is the cheapest. */
static void consider(builder *b, const int32_t *tx, const int32_t *ty, int32_t x0, int32_t rw,
                     bool strips, const char *name) {
    const pl_problem *p = b->p;
    for (int32_t i = 0; i < b->nf; i++) {
        int32_t k = b->fk[i];
        b->cx[k] = rw > 0 ? x0 + rw - tx[i] - p->w[k] : x0 + tx[i];
        b->cy[k] = ty[i];
    }
    if (b->pn->n > 0) {
        if (strips)
            pins_near(p, b->cx, b->cy);
        else
            pins_stacked(p, b->pn, b->cx, b->cy);
    }
    /* The self-check vouches for the packings not kept too. */
    if (p->selfcheck && !pl_check_placement(p, b->cx, b->cy, NULL))
        ir_internal_error("placer: the %s packing is illegal", name);
    double c = pl_cost(p, b->cx, b->cy);
    if (c < b->best) {
        b->best = c;
        memcpy(b->x, b->cx, sizeof(int32_t) * (size_t)p->nkernels);
        memcpy(b->y, b->cy, sizeof(int32_t) * (size_t)p->nkernels);
        *b->name = name;
    }
}

static const char *const mirrored_names[2][NSTRATEGIES] = {
    {"serpentine rows, mirrored", "serpentine rows, stacked, mirrored",
     "serpentine rows in bands, mirrored", "serpentine rows in bands, stacked, mirrored",
     "skyline rows in pipeline order, mirrored",
     "best-fit skyline rows in pipeline order, mirrored", "first-fit rows, mirrored",
     "skyline rows, mirrored"},
    {"serpentine columns, mirrored", "serpentine columns, stacked, mirrored",
     "serpentine columns in bands, mirrored", "serpentine columns in bands, stacked, mirrored",
     "skyline columns in pipeline order, mirrored",
     "best-fit skyline columns in pipeline order, mirrored", "first-fit columns, mirrored",
     "skyline columns, mirrored"},
};

/* The packings around the pinned kernels' corner stacks: only the skyline
 * packers take a skyline that does not start flat. */
static const char *const around_pins_names[NSTRATEGIES] = {
    [SKYLINE_PIPELINE] = "skyline rows in pipeline order, around the pinned kernels",
    [SKYLINE_PIPELINE_FIT] = "best-fit skyline rows in pipeline order, around the pinned kernels",
    [SKYLINE] = "skyline rows, around the pinned kernels",
};

/* The constructive stage: every strategy that keeps the pipeline order in
 * both orientations, and the cheapest legal result in (x, y); only when
 * none packs, the order-free packers. Kernels pinned to an edge take its
 * columns and the free kernels pack between them; when that leaves no room,
 * the skyline packers go around the pinned kernels stacked in the corners.
 * False when nothing packs. */
static bool construct(const pl_problem *p, int32_t *x, int32_t *y, const char **name) {
    int32_t n = p->nkernels;
    pins pn = count_pins(p);
    int32_t *fk = ir_xmalloc(sizeof(int32_t) * (size_t)n);
    int32_t *fw = ir_xmalloc(sizeof(int32_t) * (size_t)n);
    int32_t *fh = ir_xmalloc(sizeof(int32_t) * (size_t)n);
    int32_t nf = 0;
    int64_t area = 0;
    for (int32_t k = 0; k < n; k++) {
        if (pin_of(p, k) != PL_PIN_NONE) continue;
        fk[nf] = k;
        fw[nf] = p->w[k];
        fh[nf++] = p->h[k];
        area += (int64_t)p->w[k] * p->h[k];
    }
    int32_t *tx = ir_xmalloc(sizeof(int32_t) * (size_t)n);
    int32_t *ty = ir_xmalloc(sizeof(int32_t) * (size_t)n);
    builder b = {
        .p = p, .pn = &pn, .fk = fk, .nf = nf, .x = x, .y = y, .best = INFINITY, .name = name};
    b.cx = ir_xmalloc(sizeof(int32_t) * (size_t)n);
    b.cy = ir_xmalloc(sizeof(int32_t) * (size_t)n);
    /* The region between the edge columns the pinned kernels take. */
    int32_t x0 = pn.ww, RW = p->width - pn.ww - pn.we;
    bool strips = RW >= 1;
    if (nf == 0)
        consider(&b, tx, ty, 0, 0, (int64_t)pn.ww + pn.we <= p->width, "pinned kernels only");
    enum { NBANDS = 12 };
    static const double band_scale[NBANDS / 2] = {0.8, 1.0, 1.25, 1.6, 2.0, 2.5};
    static const double width_scale[NBANDS / 2] = {1.0, 1.5, 2.0, 2.5, 3.0, 4.0};
    for (int order_free = 0; order_free < 2 && nf > 0 && b.best == INFINITY; order_free++) {
        for (int tr = 0; tr < 2 && strips; tr++) {
            /* Transposed, shelves become columns. */
            int32_t W = tr ? p->height : RW, H = tr ? RW : p->height;
            const int32_t *w = tr ? fh : fw, *h = tr ? fw : fh;
            int32_t maxw = 0;
            for (int32_t k = 0; k < nf; k++)
                maxw = imax(maxw, w[k]);
            /* Full rows; bands about as wide as a square of the kernels'
             * area; and bands a few of the widest kernels wide, whose
             * frequent turns bring kernels some way apart in the pipeline
             * (residual connections) close again. */
            int32_t bands[1 + NBANDS], nb = 0;
            bands[nb++] = W;
            for (int32_t j = 0; j < NBANDS; j++) {
                double bd = j < NBANDS / 2 ? sqrt((double)area) * band_scale[j]
                                           : maxw * width_scale[j - NBANDS / 2];
                if (bd >= W) continue;
                int32_t bw = imax(maxw, (int32_t)ceil(bd));
                bool seen = false;
                for (int32_t i = 0; i < nb; i++)
                    seen |= bands[i] == bw;
                if (bw < W && !seen) bands[nb++] = bw;
            }
            /* Serpentines: every band, plain and stacked; then the rest. */
            int32_t ntries = order_free ? 2 : 2 * nb + 2;
            for (int32_t t = 0; t < ntries; t++) {
                strategy st = order_free        ? (t == 0 ? FIRST_FIT : SKYLINE)
                              : t == 2 * nb + 1 ? SKYLINE_PIPELINE_FIT
                              : t == 2 * nb     ? SKYLINE_PIPELINE
                              : t < 2           ? (t % 2 ? SERPENTINE_STACKED : SERPENTINE)
                              : t % 2           ? SERPENTINE_BANDS_STACKED
                                                : SERPENTINE_BANDS;
                bool ok = false;
                switch (st) {
                case SERPENTINE:
                case SERPENTINE_STACKED:
                case SERPENTINE_BANDS:
                case SERPENTINE_BANDS_STACKED:
                    ok = pack_serpentine(W, H, w, h, nf, bands[t / 2], t % 2, tx, ty);
                    break;
                case SKYLINE_PIPELINE:
                    ok = pack_skyline(W, H, w, h, nf, true, false, NULL, 0, tx, ty);
                    break;
                case SKYLINE_PIPELINE_FIT:
                    ok = pack_skyline(W, H, w, h, nf, true, true, NULL, 0, tx, ty);
                    break;
                case FIRST_FIT: ok = pack_ffdh(W, H, w, h, nf, tx, ty); break;
                case SKYLINE:
                    ok = pack_skyline(W, H, w, h, nf, false, false, NULL, 0, tx, ty);
                    break;
                case NSTRATEGIES: break;
                }
                if (!ok) continue;
                if (tr)
                    for (int32_t k = 0; k < nf; k++) {
                        int32_t sw = tx[k];
                        tx[k] = ty[k];
                        ty[k] = sw;
                    }
                consider(&b, tx, ty, x0, 0, true, strategy_names[tr][st]);
                /* The packers start in the west; a pipeline whose heavy end
                 * is the output is better off against the east edge. */
                if (pn.n > 0) consider(&b, tx, ty, x0, RW, true, mirrored_names[tr][st]);
            }
        }
        if (pn.n == 0) continue;
        /* Around the corner stacks the free kernels may use the edge
         * columns below them: tighter, but the pinned kernels start far
         * from their neighbours. */
        seg init[3];
        int32_t ninit = pinned_skyline(p, &pn, init);
        for (int t = 0; t < (order_free ? 1 : 2); t++) {
            strategy st = order_free ? SKYLINE : t ? SKYLINE_PIPELINE_FIT : SKYLINE_PIPELINE;
            if (pack_skyline(p->width, p->height, fw, fh, nf, !order_free, t == 1, init, ninit, tx,
                             ty))
                consider(&b, tx, ty, 0, 0, false, around_pins_names[st]);
        }
    }
    free(fk);
    free(fw);
    free(fh);
    free(tx);
    free(ty);
    free(b.cx);
    free(b.cy);
    return b.best < INFINITY;
}

/* ------------------------------------------------------------- occupancy */

/* Square bins over the fabric, each listing the kernels that touch it: an
 * overlap query looks only at the kernels in the bins under the rectangle,
 * and moving a kernel updates only the bins it covers. */
typedef struct bins {
    int32_t side;   /* bin side in PEs */
    int32_t nx, ny; /* bins across and down */
    int32_t *count; /* kernels listed per bin */
    int32_t *cap;   /* room per bin */
    int32_t **ids;  /* the kernels per bin */
} bins;

static void bins_init(bins *b, int32_t W, int32_t H, int32_t side) {
    b->side = side;
    b->nx = (W + side - 1) / side;
    b->ny = (H + side - 1) / side;
    size_t nb = (size_t)b->nx * (size_t)b->ny;
    b->count = ir_xcalloc(nb, sizeof(int32_t));
    b->cap = ir_xcalloc(nb, sizeof(int32_t));
    b->ids = ir_xcalloc(nb, sizeof(int32_t *));
}

static void bins_free(bins *b) {
    size_t nb = (size_t)b->nx * (size_t)b->ny;
    for (size_t i = 0; i < nb; i++)
        free(b->ids[i]);
    free(b->ids);
    free(b->count);
    free(b->cap);
}

static void bins_insert(bins *b, int32_t k, int32_t x, int32_t y, int32_t w, int32_t h) {
    for (int32_t by = y / b->side; by <= (y + h - 1) / b->side; by++)
        for (int32_t bx = x / b->side; bx <= (x + w - 1) / b->side; bx++) {
            size_t i = (size_t)by * (size_t)b->nx + (size_t)bx;
            if (b->count[i] == b->cap[i]) {
                b->cap[i] = b->cap[i] ? 2 * b->cap[i] : 4;
                b->ids[i] = ir_xrealloc(b->ids[i], sizeof(int32_t) * (size_t)b->cap[i]);
            }
            b->ids[i][b->count[i]++] = k;
        }
}

static void bins_remove(bins *b, int32_t k, int32_t x, int32_t y, int32_t w, int32_t h) {
    for (int32_t by = y / b->side; by <= (y + h - 1) / b->side; by++)
        for (int32_t bx = x / b->side; bx <= (x + w - 1) / b->side; bx++) {
            size_t i = (size_t)by * (size_t)b->nx + (size_t)bx;
            int32_t *ids = b->ids[i], c = b->count[i], j = 0;
            while (j < c && ids[j] != k)
                j++;
            if (j == c) ir_internal_error("placer: kernel %d missing from its bin", k);
            ids[j] = ids[c - 1];
            b->count[i] = c - 1;
        }
}

/* ------------------------------------------------------------- annealer */

/* One move: one kernel displaced, or two exchanged. */
typedef struct move {
    int32_t n;    /* kernels moved: 1 or 2 */
    int32_t k[2]; /* which */
    int32_t x[2]; /* their new north-west corners */
    int32_t y[2];
} move;

typedef struct anneal {
    const pl_problem *p; /* the problem */
    int32_t n;           /* kernels */
    const int32_t *w;    /* kernel widths (the problem's) */
    const int32_t *h;    /* kernel heights */
    int32_t *x, *y;      /* current north-west corners */
    int32_t *adj_off;    /* kernel k's edges are adj_off[k] .. adj_off[k+1]-1 */
    int32_t *adj_to;     /* the other end of each edge */
    double *adj_t;       /* its traffic */
    int32_t *cls;        /* kernel -> its size class */
    int32_t *cls_off;    /* class c's kernels are cls_k[cls_off[c] .. cls_off[c+1]-1] */
    int32_t *cls_k;      /* kernels grouped by size */
    bins occ;            /* occupancy index */
    rng r;               /* the move generator */
    int32_t rlim;        /* range limit in PEs */
} anneal;

/* The bin side: about the typical (geometric mean) kernel side, so a small
 * kernel covers a few bins and a bin lists a few kernels, but never so small
 * that the bins outnumber MAX_BINS. */
static int32_t bin_side(const pl_problem *p) {
    double lsum = 0;
    for (int32_t k = 0; k < p->nkernels; k++)
        lsum += log((double)p->w[k] * p->h[k]);
    double s = sqrt(exp(lsum / p->nkernels));
    double min_s = sqrt((double)p->width * p->height / MAX_BINS);
    if (s < min_s) s = min_s;
    int32_t side = (int32_t)ceil(s);
    return imax(1, imin(side, imax(p->width, p->height)));
}

static void anneal_init(anneal *s, const pl_problem *p, int32_t *x, int32_t *y) {
    int32_t n = p->nkernels;
    s->p = p;
    s->n = n;
    s->w = p->w;
    s->h = p->h;
    s->x = x;
    s->y = y;
    /* Adjacency both ways; self-edges and silent edges never change cost. */
    s->adj_off = ir_xcalloc((size_t)n + 1, sizeof(int32_t));
    for (int32_t e = 0; e < p->nedges; e++)
        if (p->src[e] != p->dst[e] && p->traffic[e] != 0) {
            s->adj_off[p->src[e] + 1]++;
            s->adj_off[p->dst[e] + 1]++;
        }
    for (int32_t k = 0; k < n; k++)
        s->adj_off[k + 1] += s->adj_off[k];
    size_t m = (size_t)s->adj_off[n];
    s->adj_to = ir_xmalloc(sizeof(int32_t) * (m ? m : 1));
    s->adj_t = ir_xmalloc(sizeof(double) * (m ? m : 1));
    int32_t *fill = ir_xmalloc(sizeof(int32_t) * (size_t)n);
    memcpy(fill, s->adj_off, sizeof(int32_t) * (size_t)n);
    for (int32_t e = 0; e < p->nedges; e++) {
        int32_t a = p->src[e], b = p->dst[e];
        if (a == b || p->traffic[e] == 0) continue;
        s->adj_to[fill[a]] = b;
        s->adj_t[fill[a]++] = p->traffic[e];
        s->adj_to[fill[b]] = a;
        s->adj_t[fill[b]++] = p->traffic[e];
    }
    free(fill);
    /* Size classes for the equal-size swaps; a class also shares its pin,
     * so that a swap keeps every kernel on its edge. */
    s->cls = ir_xmalloc(sizeof(int32_t) * (size_t)n);
    s->cls_k = ir_xmalloc(sizeof(int32_t) * (size_t)n);
    s->cls_off = ir_xmalloc(sizeof(int32_t) * ((size_t)n + 1));
    int32_t *pins = NULL;
    if (p->pin) {
        pins = ir_xmalloc(sizeof(int32_t) * (size_t)n);
        for (int32_t k = 0; k < n; k++)
            pins[k] = p->pin[k];
    }
    int32_t *by_size = sorted_kernels(p->w, p->h, pins, 1, n);
    memcpy(s->cls_k, by_size, sizeof(int32_t) * (size_t)n);
    free(by_size);
    free(pins);
    int32_t nc = 0;
    for (int32_t i = 0; i < n; i++) {
        int32_t k = s->cls_k[i], prev = i > 0 ? s->cls_k[i - 1] : -1;
        if (i == 0 || p->w[k] != p->w[prev] || p->h[k] != p->h[prev] ||
            pin_of(p, k) != pin_of(p, prev))
            s->cls_off[nc++] = i;
        s->cls[k] = nc - 1;
    }
    s->cls_off[nc] = n;
    bins_init(&s->occ, p->width, p->height, bin_side(p));
    for (int32_t k = 0; k < n; k++)
        bins_insert(&s->occ, k, x[k], y[k], p->w[k], p->h[k]);
    rng_seed(&s->r, p->seed);
    s->rlim = imax(p->width, p->height);
}

static void anneal_free(anneal *s) {
    free(s->adj_off);
    free(s->adj_to);
    free(s->adj_t);
    free(s->cls);
    free(s->cls_off);
    free(s->cls_k);
    bins_free(&s->occ);
}

/* How many distinct kernels other than ex1 and ex2 the rectangle overlaps,
 * counting no further than 2; *first gets the first one. */
static int blockers(const anneal *s, int32_t x, int32_t y, int32_t w, int32_t h, int32_t ex1,
                    int32_t ex2, int32_t *first) {
    const bins *b = &s->occ;
    int found = 0;
    for (int32_t by = y / b->side; by <= (y + h - 1) / b->side; by++)
        for (int32_t bx = x / b->side; bx <= (x + w - 1) / b->side; bx++) {
            size_t i = (size_t)by * (size_t)b->nx + (size_t)bx;
            const int32_t *ids = b->ids[i];
            for (int32_t j = 0; j < b->count[i]; j++) {
                int32_t k = ids[j];
                if (k == ex1 || k == ex2 || (found && k == *first)) continue;
                if (!rects_overlap(x, y, w, h, s->x[k], s->y[k], s->w[k], s->h[k])) continue;
                if (found) return 2;
                *first = k;
                found = 1;
            }
        }
    return found;
}

/* Where a kernel of size (w, h) goes when it takes the spot of a rectangle
 * at (ox, oy) of size (ow, oh): aligned on one of its corners or its centre,
 * then pulled inside the fabric. */
static void align(int anchor, int32_t ox, int32_t oy, int32_t ow, int32_t oh, int32_t w, int32_t h,
                  int32_t W, int32_t H, int32_t *nx, int32_t *ny) {
    int32_t ax = anchor == 4 ? (ow - w) / 2 : (anchor & 1) ? ow - w : 0;
    int32_t ay = anchor == 4 ? (oh - h) / 2 : (anchor & 2) ? oh - h : 0;
    *nx = imax(0, imin(ox + ax, W - w));
    *ny = imax(0, imin(oy + ay, H - h));
}

/* Exchanges kernels a and b, each aligned on a random anchor of the other's
 * spot (independent anchors let two neighbours of different sizes trade
 * order within their shelf); false when they do not fit there, or when they
 * are not pinned alike (a free kernel would push a pinned one off its
 * edge). Kernels pinned to the same edge stay flush with it. */
static bool swap_move(anneal *s, int32_t a, int32_t b, move *m) {
    const pl_problem *p = s->p;
    int pin = pin_of(p, a);
    if (pin != pin_of(p, b)) return false;
    int32_t wa = s->w[a], ha = s->h[a], wb = s->w[b], hb = s->h[b];
    int anchor_a = (int)rng_below(&s->r, 5), anchor_b = (int)rng_below(&s->r, 5);
    int32_t ax, ay, bx, by;
    align(anchor_a, s->x[b], s->y[b], wb, hb, wa, ha, p->width, p->height, &ax, &ay);
    align(anchor_b, s->x[a], s->y[a], wa, ha, wb, hb, p->width, p->height, &bx, &by);
    if (pin != PL_PIN_NONE) {
        ax = pinned_x(pin, p->width, wa);
        bx = pinned_x(pin, p->width, wb);
    }
    if (rects_overlap(ax, ay, wa, ha, bx, by, wb, hb)) return false;
    int32_t dummy;
    if (blockers(s, ax, ay, wa, ha, a, b, &dummy)) return false;
    if (blockers(s, bx, by, wb, hb, a, b, &dummy)) return false;
    *m = (move){2, {a, b}, {ax, bx}, {ay, by}};
    return true;
}

/* Draws a move within the range limit; false when it would overlap or take
 * a pinned kernel off its edge (an aborted move, which tells nothing about
 * the temperature). */
static bool propose(anneal *s, move *m) {
    const pl_problem *p = s->p;
    int32_t a = (int32_t)rng_below(&s->r, (uint32_t)s->n);
    int32_t c = s->cls[a], csize = s->cls_off[c + 1] - s->cls_off[c];
    if (csize > 1 && rng_unit(&s->r) < CLASS_SWAP_SHARE) {
        /* Equal sizes trade places exactly, always legal. */
        int32_t j = (int32_t)rng_below(&s->r, (uint32_t)(csize - 1));
        int32_t b = s->cls_k[s->cls_off[c] + j];
        if (b == a) b = s->cls_k[s->cls_off[c + 1] - 1];
        if (abs(s->x[a] - s->x[b]) > s->rlim || abs(s->y[a] - s->y[b]) > s->rlim) return false;
        *m = (move){2, {a, b}, {s->x[b], s->x[a]}, {s->y[b], s->y[a]}};
        return true;
    }
    int32_t wa = s->w[a], ha = s->h[a];
    int32_t b = -1;
    int32_t tx = s->x[a] + rng_range(&s->r, -s->rlim, s->rlim);
    int32_t ty = s->y[a] + rng_range(&s->r, -s->rlim, s->rlim);
    if (pin_of(p, a) != PL_PIN_NONE) tx = s->x[a]; /* slides along its edge only */
    tx = imax(0, imin(tx, p->width - wa));
    ty = imax(0, imin(ty, p->height - ha));
    if (tx == s->x[a] && ty == s->y[a]) return false;
    int nb = blockers(s, tx, ty, wa, ha, a, -1, &b);
    if (nb == 0) {
        *m = (move){1, {a, -1}, {tx, 0}, {ty, 0}};
        return true;
    }
    if (nb > 1) return false;
    return swap_move(s, a, b, m);
}

/* Sum of the moved kernels' edge terms (an edge between the two counted
 * once), in half PEs times traffic. */
static double moved_terms(const anneal *s, const move *m) {
    double sum = 0;
    for (int32_t j = 0; j < m->n; j++) {
        int32_t k = m->k[j];
        int32_t xk = s->x[k], yk = s->y[k], wk = s->w[k], hk = s->h[k];
        for (int32_t e = s->adj_off[k]; e < s->adj_off[k + 1]; e++) {
            int32_t o = s->adj_to[e];
            if (j == 1 && o == m->k[0]) continue;
            sum += s->adj_t[e] * (double)dist2(xk, yk, wk, hk, s->x[o], s->y[o], s->w[o], s->h[o]);
        }
    }
    return sum;
}

static double move_delta(anneal *s, const move *m) {
    int32_t ox[2], oy[2];
    double before = moved_terms(s, m);
    for (int32_t j = 0; j < m->n; j++) {
        ox[j] = s->x[m->k[j]];
        oy[j] = s->y[m->k[j]];
        s->x[m->k[j]] = m->x[j];
        s->y[m->k[j]] = m->y[j];
    }
    double after = moved_terms(s, m);
    for (int32_t j = 0; j < m->n; j++) {
        s->x[m->k[j]] = ox[j];
        s->y[m->k[j]] = oy[j];
    }
    return 0.5 * (after - before);
}

static void apply(anneal *s, const move *m) {
    for (int32_t j = 0; j < m->n; j++) {
        int32_t k = m->k[j];
        bins_remove(&s->occ, k, s->x[k], s->y[k], s->w[k], s->h[k]);
    }
    for (int32_t j = 0; j < m->n; j++) {
        int32_t k = m->k[j];
        s->x[k] = m->x[j];
        s->y[k] = m->y[j];
        bins_insert(&s->occ, k, s->x[k], s->y[k], s->w[k], s->h[k]);
    }
}

/* The debug self-check after an accepted move: the incremental cost must
 * match a from-scratch sum and the placement must stay legal. */
static bool selfcheck(const anneal *s, double cost, int64_t move_no, ir_diag *d) {
    double full = pl_cost(s->p, s->x, s->y);
    if (fabs(full - cost) > 1e-9 * fmax(1.0, fabs(full))) {
        fail(d,
             "placer self-check: after move %lld the incremental cost is %.17g but the cost "
             "recomputed from scratch is %.17g",
             (long long)move_no, cost, full);
        return false;
    }
    if (!pl_check_placement(s->p, s->x, s->y, d)) {
        fail(d, "placer self-check: move %lld made the placement illegal", (long long)move_no);
        return false;
    }
    return true;
}

/* One temperature (t < 0: a greedy quench) of `lim` moves; counts what was
 * evaluated and accepted. False when the self-check fails. */
static bool run_temperature(anneal *s, double t, int64_t lim, double *cost, int64_t *evaluated,
                            int64_t *accepted, int64_t *moves, ir_diag *d) {
    *evaluated = *accepted = 0;
    for (int64_t i = 0; i < lim; i++) {
        move m;
        ++*moves;
        if (!propose(s, &m)) continue;
        ++*evaluated;
        double delta = move_delta(s, &m);
        bool ok = delta <= 0 || (t > 0 && rng_unit(&s->r) < exp(-delta / t));
        if (!ok) continue;
        apply(s, &m);
        *cost += delta;
        ++*accepted;
        if (s->p->selfcheck && !selfcheck(s, *cost, *moves, d)) return false;
    }
    return true;
}

/* VPR's schedule: cool fast while nearly everything is accepted or nearly
 * nothing is, slowly in the productive middle. */
static double next_temperature(double t, double rate, int32_t rlim) {
    if (rate > 0.96) return t * 0.5;
    if (rate > 0.8) return t * 0.9;
    if (rate > 0.15 || rlim > 1) return t * 0.95;
    return t * 0.8;
}

/* Anneals (x, y) in place; false only when the self-check fails. */
static bool anneal_run(const pl_problem *p, int32_t *x, int32_t *y, pl_placement *out, ir_diag *d) {
    int32_t n = p->nkernels;
    double cost = pl_cost(p, x, y);
    int32_t live_edges = 0; /* edges that can cost anything */
    for (int32_t e = 0; e < p->nedges; e++)
        live_edges += p->src[e] != p->dst[e] && p->traffic[e] != 0;
    if (n < 2 || live_edges == 0 || p->effort < 0 || cost <= out->lower_bound) return true;

    double effort = p->effort > 0 ? p->effort : DEFAULT_EFFORT;
    double lim_d = ceil(effort * pow((double)n, 4.0 / 3.0));
    if (p->effort <= 0) lim_d = fmin(fmax(lim_d, DEFAULT_MOVE_FLOOR), DEFAULT_MOVE_CAP);
    if (lim_d > 1e9) lim_d = 1e9;
    int64_t lim = (int64_t)lim_d;

    anneal s;
    anneal_init(&s, p, x, y);
    bool ok = true;
    int32_t *best_x = ir_xmalloc(sizeof(int32_t) * (size_t)n);
    int32_t *best_y = ir_xmalloc(sizeof(int32_t) * (size_t)n);
    memcpy(best_x, x, sizeof(int32_t) * (size_t)n);
    memcpy(best_y, y, sizeof(int32_t) * (size_t)n);
    double best = cost;

    /* Initial temperature from the spread of cost changes of random moves
     * around the constructive placement (evaluated, not applied). */
    double sum = 0, sum2 = 0;
    int64_t nsample = 0, tries = imax(64, imin(20 * n, 20000));
    for (int64_t i = 0; i < tries; i++) {
        move m;
        if (!propose(&s, &m)) continue;
        double dl = move_delta(&s, &m);
        sum += dl;
        sum2 += dl * dl;
        nsample++;
    }
    out->moves += tries;
    double t = 0;
    if (nsample > 1) {
        double mean = sum / (double)nsample;
        double var = (sum2 - (double)nsample * mean * mean) / (double)(nsample - 1);
        t = T0_FACTOR * sqrt(var > 0 ? var : 0);
        /* Wide kernels make a few moves enormous; never start hotter than a
         * fraction of an edge's cost, which would scatter any placement. */
        t = fmin(t, T0_MAX_PER_EDGE * cost / live_edges);
    }

    int64_t evaluated, accepted;
    while (t > 0 && out->temperatures < MAX_TEMPERATURES) {
        ok = run_temperature(&s, t, lim, &cost, &evaluated, &accepted, &out->moves, d);
        if (!ok) break;
        out->temperatures++;
        out->accepted += accepted;
        /* Bound the drift of the incremental sum. */
        cost = pl_cost(p, x, y);
        if (cost < best) {
            best = cost;
            memcpy(best_x, x, sizeof(int32_t) * (size_t)n);
            memcpy(best_y, y, sizeof(int32_t) * (size_t)n);
        }
        if (evaluated == 0) break; /* nothing can move */
        double rate = (double)accepted / (double)evaluated;
        t = next_temperature(t, rate, s.rlim);
        /* Keep the acceptance rate near 0.44 (VPR's range limit rule). */
        double r = (double)s.rlim * (1.0 - 0.44 + rate);
        s.rlim = (int32_t)fmax(1.0, fmin(r, (double)imax(p->width, p->height)));
        /* VPR's exit: the temperature is small against an edge's cost. */
        if (t < 0.005 * cost / live_edges || cost <= out->lower_bound) break;
    }
    if (ok) {
        /* Freeze out with greedy moves, from the best placement seen (the
         * constructive one when annealing found nothing better). */
        if (best < cost) {
            for (int32_t k = 0; k < n; k++)
                bins_remove(&s.occ, k, x[k], y[k], p->w[k], p->h[k]);
            memcpy(x, best_x, sizeof(int32_t) * (size_t)n);
            memcpy(y, best_y, sizeof(int32_t) * (size_t)n);
            for (int32_t k = 0; k < n; k++)
                bins_insert(&s.occ, k, x[k], y[k], p->w[k], p->h[k]);
            cost = best;
        }
        ok = run_temperature(&s, -1, lim, &cost, &evaluated, &accepted, &out->moves, d);
        out->accepted += accepted;
    }
    free(best_x);
    free(best_y);
    anneal_free(&s);
    return ok;
}

/* ------------------------------------------------------------- pl_place */

static bool valid_problem(const pl_problem *p, ir_diag *d) {
    if (p->width < 1 || p->height < 1) {
        fail(d, "placement: the fabric is %dx%d PEs", p->width, p->height);
        return false;
    }
    if (p->nkernels < 0 || p->nedges < 0 || (p->nkernels > 0 && (!p->w || !p->h)) ||
        (p->nedges > 0 && (!p->src || !p->dst || !p->traffic))) {
        fail(d, "placement: malformed problem (%d kernels, %d edges)", p->nkernels, p->nedges);
        return false;
    }
    for (int32_t k = 0; k < p->nkernels; k++) {
        if (p->w[k] < 1 || p->h[k] < 1) {
            fail(d, "placement: kernel %d has an empty size %dx%d", k, p->w[k], p->h[k]);
            return false;
        }
        if (pin_of(p, k) < PL_PIN_NONE || pin_of(p, k) >= PL_NPINS) {
            fail(d, "placement: kernel %d has the unknown pin %d", k, pin_of(p, k));
            return false;
        }
    }
    for (int32_t e = 0; e < p->nedges; e++) {
        if (p->src[e] < 0 || p->src[e] >= p->nkernels || p->dst[e] < 0 ||
            p->dst[e] >= p->nkernels) {
            fail(d, "placement: edge %d joins kernels %d and %d of %d", e, p->src[e], p->dst[e],
                 p->nkernels);
            return false;
        }
        if (!(p->traffic[e] >= 0) || !isfinite(p->traffic[e])) {
            fail(d, "placement: edge %d has traffic %g", e, p->traffic[e]);
            return false;
        }
    }
    return true;
}

bool pl_place(const pl_problem *p, pl_placement *out, ir_diag *d) {
    memset(out, 0, sizeof *out);
    if (!valid_problem(p, d)) return false;
    int32_t n = p->nkernels;
    int64_t area = 0, fabric = (int64_t)p->width * p->height;
    for (int32_t k = 0; k < n; k++) {
        if (p->w[k] > p->width || p->h[k] > p->height) {
            fail(d, "kernel %d (%dx%d PEs) does not fit the %dx%d fabric", k, p->w[k], p->h[k],
                 p->width, p->height);
            return false;
        }
        area += (int64_t)p->w[k] * p->h[k];
    }
    if (area > fabric) {
        fail(d, "the kernels need %lld PEs but the %dx%d fabric has %lld", (long long)area,
             p->width, p->height, (long long)fabric);
        return false;
    }
    /* Kernels pinned to one edge all touch it, so they stack along it. */
    pins pn = count_pins(p);
    for (int side = PL_PIN_WEST; side <= PL_PIN_EAST; side++) {
        int64_t need = side == PL_PIN_WEST ? pn.hw : pn.he;
        if (need > p->height) {
            fail(d,
                 "the pinned kernels do not fit on the %s edge (%lld PEs of column height %d): "
                 "the host streams %s through kernels stacked along it",
                 edge_names[side], (long long)need, p->height,
                 side == PL_PIN_WEST ? "inputs" : "outputs");
            return false;
        }
    }
    if ((int64_t)pn.ww + pn.we > p->width && pn.hw + pn.he > p->height) {
        fail(d,
             "the pinned kernels do not fit on the west and east edges (%lld PEs of column "
             "height %d): the %dx%d fabric is too narrow to put the %d-PE-wide west and "
             "%d-PE-wide east kernels side by side",
             (long long)(pn.hw + pn.he), p->height, p->width, p->height, pn.ww, pn.we);
        return false;
    }
    out->x = ir_xcalloc((size_t)(n ? n : 1), sizeof(int32_t));
    out->y = ir_xcalloc((size_t)(n ? n : 1), sizeof(int32_t));
    out->lower_bound = lower_bound(p);
    out->strategy = "none";
    if (n > 0 && !construct(p, out->x, out->y, &out->strategy)) {
        fail(d,
             "the kernels need %lld PEs (%.1f%% of the fabric) in rectangles that do not pack "
             "into %dx%d%s",
             (long long)area, 100.0 * (double)area / (double)fabric, p->width, p->height,
             pn.n ? " with the pinned kernels on their edges" : "");
        pl_placement_free(out);
        return false;
    }
    if (!pl_check_placement(p, out->x, out->y, NULL))
        ir_internal_error("placer: the %s packing is illegal", out->strategy);
    out->initial_cost = pl_cost(p, out->x, out->y);
    if (!anneal_run(p, out->x, out->y, out, d)) {
        pl_placement_free(out);
        return false;
    }
    out->cost = pl_cost(p, out->x, out->y);
    return true;
}
