/* test_placer.c - placement of kernel rectangles (placer/place.c): refusal
 * of problems that cannot fit, legality of every result, the incremental
 * cost against pl_cost after every accepted move (the self-check mode),
 * determinism per seed, annealing gains, the lower bound, the checker, and
 * speed on a GPT-2-sized problem on the full wse3 fabric.
 *
 * `test_placer --bench W H L UTIL SEED [EFFORT]` places one synthetic
 * GPT-like pipeline instead of running the tests and prints one line
 * (bench/place_synthetic.sh); `--bench-file PROBLEM SEED [EFFORT]` places a
 * problem read from a file. With WSC_PL_DUMP=FILE either also writes the
 * placement there, for plotting. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "ir.h"
#include "pl.h"

/* ---------------------------------------------------------------- helpers */

/* A problem owning its arrays. */
typedef struct prob {
    pl_problem p;   /* what pl_place sees */
    int32_t *w, *h; /* kernel sizes */
    int32_t *src;   /* edge ends */
    int32_t *dst;
    double *traffic; /* edge traffic */
    int32_t ecap;    /* room for edges */
    int8_t *pin;     /* per kernel pl_pin, NULL until prob_pin */
} prob;

static void prob_init(prob *q, int32_t W, int32_t H, int32_t n) {
    memset(q, 0, sizeof *q);
    q->w = calloc((size_t)n + 1, sizeof(int32_t));
    q->h = calloc((size_t)n + 1, sizeof(int32_t));
    q->p.width = W;
    q->p.height = H;
    q->p.nkernels = n;
    q->p.w = q->w;
    q->p.h = q->h;
}

static void prob_edge(prob *q, int32_t a, int32_t b, double t) {
    if (q->p.nedges == q->ecap) {
        q->ecap = q->ecap ? 2 * q->ecap : 16;
        q->src = realloc(q->src, sizeof(int32_t) * (size_t)q->ecap);
        q->dst = realloc(q->dst, sizeof(int32_t) * (size_t)q->ecap);
        q->traffic = realloc(q->traffic, sizeof(double) * (size_t)q->ecap);
    }
    q->src[q->p.nedges] = a;
    q->dst[q->p.nedges] = b;
    q->traffic[q->p.nedges++] = t;
    q->p.src = q->src;
    q->p.dst = q->dst;
    q->p.traffic = q->traffic;
}

/* Pins kernel k to an edge (the first call makes the array). */
static void prob_pin(prob *q, int32_t k, int pin) {
    if (!q->pin) q->pin = calloc((size_t)q->p.nkernels + 1, 1);
    q->pin[k] = (int8_t)pin;
    q->p.pin = q->pin;
}

static void prob_free(prob *q) {
    free(q->pin);
    free(q->w);
    free(q->h);
    free(q->src);
    free(q->dst);
    free(q->traffic);
}

static uint64_t rs = 0x243f6a8885a308d3ULL;

static uint32_t rnd(uint32_t n) {
    rs = rs * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)((rs >> 33) % n);
}

static double uni(double lo, double hi) {
    rs = rs * 6364136223846793005ULL + 1442695040888963407ULL;
    return lo + (hi - lo) * (double)(rs >> 11) * 0x1.0p-53;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Every pinned kernel touches its edge (pl_check_placement checks it too;
 * this does not trust it). */
static void assert_pins(const prob *q, const pl_placement *pl) {
    for (int32_t k = 0; q->pin && k < q->p.nkernels; k++) {
        if (q->pin[k] == PL_PIN_WEST) assert_int_equal(pl->x[k], 0);
        if (q->pin[k] == PL_PIN_EAST) assert_int_equal(pl->x[k] + q->w[k], q->p.width);
    }
}

/* Places and checks what every placement must satisfy. */
static void place_ok(const prob *q, pl_placement *pl) {
    ir_diag *d = ir_diag_new(NULL);
    bool ok = pl_place(&q->p, pl, d);
    if (!ok) fprintf(stderr, "%s", ir_diag_text(d));
    assert_true(ok);
    assert_int_equal(ir_diag_errors(d), 0);
    assert_true(pl_check_placement(&q->p, pl->x, pl->y, d));
    double c = pl_cost(&q->p, pl->x, pl->y);
    assert_true(fabs(c - pl->cost) <= 1e-9 * fmax(1, c));
    assert_true(pl->cost >= pl->lower_bound * (1 - 1e-12) - 1e-9);
    assert_true(pl->cost <= pl->initial_cost * (1 + 1e-12) + 1e-9);
    assert_pins(q, pl);
    ir_diag_free(d);
}

/* Places a problem that must be refused; returns the message (static). */
static const char *place_fails(const prob *q) {
    static char msg[1024];
    ir_diag *d = ir_diag_new(NULL);
    pl_placement pl;
    assert_false(pl_place(&q->p, &pl, d));
    assert_true(ir_diag_errors(d) > 0);
    assert_null(pl.x);
    snprintf(msg, sizeof msg, "%s", ir_diag_text(d));
    ir_diag_free(d);
    return msg;
}

/* A synthetic GPT-like pipeline: an embedding, L transformer blocks of 20
 * kernels each (layer norms, q/k/v, attention, projection, MLP, residual
 * adds) and a head, in pipeline order, with sizes spread -20%..+25% around a
 * template (the same spread in every block) and scaled so the kernels
 * cover about `util` of the fabric. */
typedef struct tmpl {
    int w, h; /* size at the reference scale */
} tmpl;

/* ln1, q, k, v, q heads, k heads, v heads, scores, scale, mask, softmax,
 * attention, merge heads, projection, add, ln2, fc1, gelu, fc2, add */
static const tmpl block_kernels[20] = {
    {16, 64}, {80, 96}, {80, 96},   {80, 96}, {8, 48},    {8, 48}, {8, 48},
    {64, 96}, {4, 48},  {8, 48},    {16, 96}, {64, 96},   {8, 48}, {80, 80},
    {8, 64},  {16, 64}, {160, 120}, {24, 96}, {160, 120}, {8, 64},
};
/* Edges inside a block (local indices; -1 is the block's input). */
static const struct {
    int a, b;
    double t;
} block_edges[] = {
    {-1, 0, 1},  {0, 1, 1},   {0, 2, 1},   {0, 3, 1},   {1, 4, 1},   {2, 5, 1},
    {3, 6, 1},   {4, 7, 1},   {5, 7, 1},   {7, 8, 2},   {8, 9, 2},   {9, 10, 2},
    {10, 11, 2}, {6, 11, 1},  {11, 12, 1}, {12, 13, 1}, {13, 14, 1}, {-1, 14, 1},
    {14, 15, 1}, {15, 16, 1}, {16, 17, 4}, {17, 18, 4}, {18, 19, 1}, {14, 19, 1},
};
/* embedding, position add; final layer norm, lm head */
static const tmpl head_kernels[4] = {{48, 64}, {8, 64}, {16, 64}, {200, 160}};

static void gen_gpt(prob *q, int32_t W, int32_t H, int L, double util, uint64_t seed) {
    int32_t n = 4 + 20 * L;
    prob_init(q, W, H, n);
    rs = seed * 2654435761ULL + 1;
    double *fw = malloc(sizeof(double) * (size_t)n), *fh = malloc(sizeof(double) * (size_t)n);
    /* Identical layers compile to identical kernels: the spread is per
     * template slot, shared by every block. */
    double jw[24], jh[24];
    for (int j = 0; j < 24; j++) {
        jw[j] = uni(0.8, 1.25);
        jh[j] = uni(0.8, 1.25);
    }
    double area = 0;
    for (int32_t k = 0; k < n; k++) {
        int slot = k < 2 ? 20 + k : k >= n - 2 ? 20 + k - n + 4 : (k - 2) % 20;
        tmpl t = slot >= 20 ? head_kernels[slot - 20] : block_kernels[slot];
        fw[k] = t.w * jw[slot];
        fh[k] = t.h * jh[slot];
        area += fw[k] * fh[k];
    }
    double f = sqrt(util * (double)W * H / area);
    for (int32_t k = 0; k < n; k++) {
        q->w[k] = (int32_t)fmin(W, fmax(1, floor(fw[k] * f + 0.5)));
        q->h[k] = (int32_t)fmin(H, fmax(1, floor(fh[k] * f + 0.5)));
    }
    free(fw);
    free(fh);
    prob_edge(q, 0, 1, 1000);
    for (int l = 0; l < L; l++) {
        int32_t base = 2 + 20 * l, in = base - 1;
        for (size_t e = 0; e < sizeof block_edges / sizeof *block_edges; e++)
            prob_edge(q, block_edges[e].a < 0 ? in : base + block_edges[e].a,
                      base + block_edges[e].b, 1000 * block_edges[e].t);
    }
    prob_edge(q, n - 3, n - 2, 1000);
    prob_edge(q, n - 2, n - 1, 1000);
}

/* ------------------------------------------------------------------ tests */

static void test_no_kernels(void **state) {
    prob q;
    prob_init(&q, 8, 8, 0);
    pl_placement pl;
    place_ok(&q, &pl);
    assert_true(pl.cost == 0 && pl.lower_bound == 0);
    pl_placement_free(&pl);
    prob_free(&q);
}

static void test_one_kernel(void **state) {
    prob q;
    prob_init(&q, 10, 7, 1);
    q.w[0] = 5;
    q.h[0] = 3;
    prob_edge(&q, 0, 0, 5); /* a self-edge costs nothing */
    pl_placement pl;
    place_ok(&q, &pl);
    assert_true(pl.cost == 0);
    pl_placement_free(&pl);
    /* One kernel exactly as large as the fabric. */
    q.w[0] = 10;
    q.h[0] = 7;
    place_ok(&q, &pl);
    assert_int_equal(pl.x[0], 0);
    assert_int_equal(pl.y[0], 0);
    pl_placement_free(&pl);
    prob_free(&q);
}

/* Rows of kernels of one height whose widths add up to the fabric width:
 * the fabric is filled exactly, in pipeline order and shuffled. */
static void exact_rows(prob *q, int32_t W, int32_t H, bool shuffle) {
    /* Distinct row heights 1, 2, .., m and H - m(m+1)/2 > m, in a random
     * order, so a shuffled problem still packs by decreasing height. */
    int32_t hs[16], nrows = 0, m = 0;
    while ((m + 1) * (m + 2) / 2 + (m + 1) + 1 <= H)
        m++;
    for (int32_t r = 1; r <= m; r++)
        hs[nrows++] = r;
    hs[nrows++] = H - m * (m + 1) / 2;
    for (int32_t r = nrows - 1; r > 0; r--) {
        int32_t j = (int32_t)rnd((uint32_t)r + 1), t = hs[r];
        hs[r] = hs[j];
        hs[j] = t;
    }
    int32_t n = 0, cw[64 * 16], ch[64 * 16];
    for (int32_t r = 0; r < nrows; r++)
        for (int32_t x = 0; x < W;) {
            int32_t w = 1 + (int32_t)rnd(8);
            if (x + w > W) w = W - x;
            cw[n] = w;
            ch[n++] = hs[r];
            x += w;
        }
    prob_init(q, W, H, n);
    int32_t *perm = malloc(sizeof(int32_t) * (size_t)n);
    for (int32_t i = 0; i < n; i++)
        perm[i] = i;
    if (shuffle)
        for (int32_t i = n - 1; i > 0; i--) {
            int32_t j = (int32_t)rnd((uint32_t)i + 1), t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
    for (int32_t i = 0; i < n; i++) {
        q->w[perm[i]] = cw[i];
        q->h[perm[i]] = ch[i];
    }
    for (int32_t i = 0; i + 1 < n; i++)
        prob_edge(q, perm[i], perm[i + 1], 1 + rnd(10));
    free(perm);
}

static void test_exact_fill(void **state) {
    for (int round = 0; round < 20; round++) {
        prob q;
        exact_rows(&q, 24 + (int32_t)rnd(20), 10 + (int32_t)rnd(12), round % 2 == 1);
        q.p.seed = (uint64_t)round;
        q.p.selfcheck = true;
        int64_t area = 0;
        for (int32_t k = 0; k < q.p.nkernels; k++)
            area += (int64_t)q.w[k] * q.h[k];
        assert_int_equal(area, (int64_t)q.p.width * q.p.height);
        pl_placement pl;
        place_ok(&q, &pl);
        pl_placement_free(&pl);
        prob_free(&q);
    }
    /* A full grid of equal tiles: only swaps can move anything. */
    prob q;
    prob_init(&q, 32, 24, 48);
    for (int32_t k = 0; k < 48; k++) {
        q.w[k] = 4;
        q.h[k] = 4;
    }
    for (int32_t k = 0; k + 1 < 48; k++)
        prob_edge(&q, k, (k * 7 + 5) % 48, 1);
    q.p.selfcheck = true;
    pl_placement pl;
    place_ok(&q, &pl);
    assert_true(pl.accepted > 0);
    assert_true(pl.cost < pl.initial_cost);
    pl_placement_free(&pl);
    prob_free(&q);
}

static void test_refused(void **state) {
    prob q;
    prob_init(&q, 40, 30, 3);
    q.w[0] = 10, q.h[0] = 10;
    q.w[1] = 41, q.h[1] = 2;
    q.w[2] = 3, q.h[2] = 3;
    const char *m = place_fails(&q);
    assert_non_null(strstr(m, "kernel 1 (41x2 PEs) does not fit the 40x30 fabric"));
    q.w[1] = 2, q.h[1] = 31;
    m = place_fails(&q);
    assert_non_null(strstr(m, "kernel 1 (2x31 PEs) does not fit"));
    /* Too much area. */
    q.w[0] = 40, q.h[0] = 30;
    q.w[1] = 2, q.h[1] = 2;
    m = place_fails(&q);
    assert_non_null(strstr(m, "the kernels need 1213 PEs but the 40x30 fabric has 1200"));
    prob_free(&q);
    /* Enough area, but the shapes do not pack. */
    prob_init(&q, 10, 10, 2);
    q.w[0] = q.h[0] = q.w[1] = q.h[1] = 6;
    m = place_fails(&q);
    assert_non_null(strstr(m, "the kernels need 72 PEs (72.0% of the fabric) in rectangles "
                              "that do not pack into 10x10"));
    prob_free(&q);
    /* Malformed problems. */
    prob_init(&q, 10, 10, 2);
    q.w[0] = q.h[0] = q.w[1] = 1;
    q.h[1] = 0;
    m = place_fails(&q);
    assert_non_null(strstr(m, "kernel 1 has an empty size 1x0"));
    q.h[1] = 1;
    prob_edge(&q, 0, 2, 1);
    m = place_fails(&q);
    assert_non_null(strstr(m, "edge 0 joins kernels 0 and 2 of 2"));
    q.dst[0] = 1;
    q.traffic[0] = -1;
    m = place_fails(&q);
    assert_non_null(strstr(m, "edge 0 has traffic -1"));
    prob_free(&q);
}

/* Random problems from sparse to tight, every accepted move self-checked. */
static void test_random_selfcheck(void **state) {
    int rounds = 0, annealed = 0;
    for (int round = 0; round < 60; round++) {
        int32_t W = 8 + (int32_t)rnd(40), H = 8 + (int32_t)rnd(40);
        int32_t n = 1 + (int32_t)rnd(30);
        double util = uni(0.05, 0.75);
        prob q;
        prob_init(&q, W, H, n);
        double side = sqrt(util * W * H / n);
        for (int32_t k = 0; k < n; k++) {
            q.w[k] = (int32_t)fmax(1, fmin(W, side * uni(0.3, 1.7)));
            q.h[k] = (int32_t)fmax(1, fmin(H, side * uni(0.3, 1.7)));
        }
        int32_t ne = (int32_t)rnd((uint32_t)(3 * n + 1));
        for (int32_t e = 0; e < ne; e++)
            prob_edge(&q, (int32_t)rnd((uint32_t)n), (int32_t)rnd((uint32_t)n),
                      rnd(4) ? uni(0.5, 100) : 0);
        q.p.seed = (uint64_t)round * 77;
        q.p.selfcheck = true;
        q.p.effort = 2;
        ir_diag *d = ir_diag_new(NULL);
        pl_placement pl;
        if (pl_place(&q.p, &pl, d)) {
            assert_int_equal(ir_diag_errors(d), 0);
            assert_true(pl_check_placement(&q.p, pl.x, pl.y, d));
            assert_true(fabs(pl_cost(&q.p, pl.x, pl.y) - pl.cost) <= 1e-9 * fmax(1, pl.cost));
            assert_true(pl.cost >= pl.lower_bound - 1e-9);
            assert_true(pl.cost <= pl.initial_cost + 1e-9);
            rounds++;
            annealed += pl.accepted > 0;
            pl_placement_free(&pl);
        } else {
            /* Only "does not pack" is possible here: sizes fit, area is below 100%. */
            assert_non_null(strstr(ir_diag_text(d), "do not pack"));
        }
        ir_diag_free(d);
        prob_free(&q);
    }
    assert_true(rounds >= 50);
    assert_true(annealed >= 30);
}

static void test_deterministic(void **state) {
    prob q;
    gen_gpt(&q, 64, 64, 3, 0.5, 5);
    q.p.seed = 42;
    pl_placement a, b, c;
    place_ok(&q, &a);
    place_ok(&q, &b);
    assert_memory_equal(a.x, b.x, sizeof(int32_t) * (size_t)q.p.nkernels);
    assert_memory_equal(a.y, b.y, sizeof(int32_t) * (size_t)q.p.nkernels);
    assert_true(a.cost == b.cost && a.moves == b.moves && a.accepted == b.accepted);
    bool differs = false;
    for (uint64_t s = 1; s <= 3 && !differs; s++) {
        q.p.seed = s;
        place_ok(&q, &c);
        differs = memcmp(a.x, c.x, sizeof(int32_t) * (size_t)q.p.nkernels) ||
                  memcmp(a.y, c.y, sizeof(int32_t) * (size_t)q.p.nkernels);
        pl_placement_free(&c);
    }
    assert_true(differs);
    pl_placement_free(&a);
    pl_placement_free(&b);
    prob_free(&q);
}

/* A chain whose pipeline order is shuffled: the serpentine puts chain
 * neighbours far apart and annealing must bring them together. */
static void test_shuffled_chain(void **state) {
    int32_t n = 60;
    prob q;
    prob_init(&q, 48, 48, n);
    int32_t *perm = malloc(sizeof(int32_t) * (size_t)n);
    for (int32_t i = 0; i < n; i++)
        perm[i] = i;
    for (int32_t i = n - 1; i > 0; i--) {
        int32_t j = (int32_t)rnd((uint32_t)i + 1), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    static const int32_t sz[4][2] = {{4, 4}, {6, 3}, {3, 6}, {5, 5}};
    for (int32_t k = 0; k < n; k++) {
        q.w[k] = sz[k % 4][0];
        q.h[k] = sz[k % 4][1];
    }
    for (int32_t i = 0; i + 1 < n; i++)
        prob_edge(&q, perm[i], perm[i + 1], 10);
    q.p.seed = 3;
    pl_placement pl;
    place_ok(&q, &pl);
    assert_true(pl.cost < 0.4 * pl.initial_cost);
    assert_true(pl.cost < 2.5 * pl.lower_bound);
    pl_placement_free(&pl);
    /* The self-check agrees along the way. */
    q.p.selfcheck = true;
    q.p.effort = 1;
    place_ok(&q, &pl);
    assert_true(pl.accepted > 100);
    pl_placement_free(&pl);
    free(perm);
    prob_free(&q);
}

/* Two kernels: the bound is reached when they touch with aligned centres. */
static void test_lower_bound(void **state) {
    prob q;
    prob_init(&q, 30, 30, 2);
    q.w[0] = 4, q.h[0] = 4;
    q.w[1] = 2, q.h[1] = 6;
    prob_edge(&q, 0, 1, 2);
    pl_placement pl;
    place_ok(&q, &pl);
    assert_true(pl.lower_bound == 2 * 3.0);
    assert_true(pl.cost == pl.lower_bound);
    pl_placement_free(&pl);
    /* An edge both ways and a self-edge. */
    prob_edge(&q, 1, 0, 1);
    prob_edge(&q, 1, 1, 7);
    place_ok(&q, &pl);
    assert_true(pl.lower_bound == 3 * 3.0);
    assert_true(pl.cost == pl.lower_bound);
    pl_placement_free(&pl);
    prob_free(&q);
}

static void test_cost(void **state) {
    prob q;
    prob_init(&q, 30, 30, 3);
    q.w[0] = 3, q.h[0] = 1; /* centre (1.5, 0.5) at the origin */
    q.w[1] = 2, q.h[1] = 2; /* centre (x + 1, y + 1) */
    q.w[2] = 1, q.h[2] = 1;
    prob_edge(&q, 0, 1, 2);
    prob_edge(&q, 1, 2, 0.5);
    int32_t x[3] = {0, 10, 0}, y[3] = {0, 4, 20};
    /* |11 - 1.5| + |5 - 0.5| = 14; |11 - 0.5| + |5 - 20.5| = 26 */
    assert_true(pl_cost(&q.p, x, y) == 2 * 14.0 + 0.5 * 26.0);
    prob_free(&q);
}

static void test_check(void **state) {
    prob q;
    prob_init(&q, 10, 10, 3);
    for (int k = 0; k < 3; k++)
        q.w[k] = q.h[k] = 3;
    ir_diag *d = ir_diag_new(NULL);
    int32_t x[3] = {0, 3, 0}, y[3] = {0, 0, 3}; /* touching is fine */
    assert_true(pl_check_placement(&q.p, x, y, d));
    x[2] = 2;
    y[2] = 2;
    assert_false(pl_check_placement(&q.p, x, y, d));
    assert_non_null(
        strstr(ir_diag_text(d), "kernels 0 (3x3 PEs at 0,0) and 2 (3x3 PEs at 2,2) overlap"));
    x[2] = 8;
    assert_false(pl_check_placement(&q.p, x, y, d));
    assert_non_null(
        strstr(ir_diag_text(d), "kernel 2 (3x3 PEs at 8,2) lies outside the 10x10 fabric"));
    x[2] = -1;
    assert_false(pl_check_placement(&q.p, x, y, NULL));
    /* Containment and identical positions are overlaps too. */
    q.w[2] = q.h[2] = 1;
    x[2] = 4, y[2] = 1;
    assert_false(pl_check_placement(&q.p, x, y, NULL));
    x[2] = 3, y[2] = 0;
    assert_false(pl_check_placement(&q.p, x, y, NULL));
    ir_diag_free(d);
    prob_free(&q);
    /* Many kernels: a legal grid, then one moved onto its neighbour. */
    int32_t n = 5000;
    prob_init(&q, 500, 400, n);
    int32_t *gx = malloc(sizeof(int32_t) * (size_t)n), *gy = malloc(sizeof(int32_t) * (size_t)n);
    for (int32_t k = 0; k < n; k++) {
        q.w[k] = 1 + k % 5;
        q.h[k] = 1 + k % 4;
        gx[k] = (k % 100) * 5;
        gy[k] = (k / 100) * 8;
    }
    assert_true(pl_check_placement(&q.p, gx, gy, NULL));
    gx[4321] = gx[4322] - 1;
    assert_false(pl_check_placement(&q.p, gx, gy, NULL));
    free(gx);
    free(gy);
    prob_free(&q);
}

/* Every constructive strategy is legal; when the pipeline order cannot
 * pack, the order-free packers take over. */
static void test_tight(void **state) {
    /* Tall and flat kernels alternating: shelves in index order waste the
     * space under the flat ones. */
    prob q;
    prob_init(&q, 20, 22, 20);
    for (int32_t k = 0; k < 20; k++) {
        q.w[k] = k % 2 ? 5 : 4;
        q.h[k] = k % 2 ? 2 : 8;
    }
    for (int32_t k = 0; k + 1 < 20; k++)
        prob_edge(&q, k, k + 1, 1);
    q.p.selfcheck = true;
    pl_placement pl;
    place_ok(&q, &pl);
    pl_placement_free(&pl);
    prob_free(&q);
    /* Three rows of equal squares (6, 4 and 2 PEs) filling 12x12 exactly,
     * interleaved in pipeline order: only sorting by height finds it. */
    prob_init(&q, 12, 12, 11);
    static const int32_t sq[11] = {2, 6, 4, 2, 2, 4, 6, 2, 4, 2, 2};
    for (int32_t k = 0; k < 11; k++)
        q.w[k] = q.h[k] = sq[k];
    for (int32_t k = 0; k + 1 < 11; k++)
        prob_edge(&q, k, k + 1, 1);
    q.p.selfcheck = true;
    place_ok(&q, &pl);
    assert_non_null(pl.strategy);
    pl_placement_free(&pl);
    prob_free(&q);
    /* Random tight problems: whatever packs is legal. */
    int packed = 0;
    for (int round = 0; round < 40; round++) {
        int32_t W = 16 + (int32_t)rnd(16), H = 16 + (int32_t)rnd(16), n = 10 + (int32_t)rnd(20);
        prob_init(&q, W, H, n);
        double side = sqrt(0.85 * W * H / n);
        for (int32_t k = 0; k < n; k++) {
            q.w[k] = (int32_t)fmax(1, fmin(W, side * uni(0.4, 1.6)));
            q.h[k] = (int32_t)fmax(1, fmin(H, side * uni(0.4, 1.6)));
        }
        for (int32_t k = 0; k + 1 < n; k++)
            prob_edge(&q, k, k + 1, 1);
        q.p.effort = 1;
        q.p.selfcheck = true;
        int64_t area = 0;
        for (int32_t k = 0; k < n; k++)
            area += (int64_t)q.w[k] * q.h[k];
        ir_diag *d = ir_diag_new(NULL);
        if (pl_place(&q.p, &pl, d)) {
            assert_true(pl_check_placement(&q.p, pl.x, pl.y, NULL));
            packed++;
            pl_placement_free(&pl);
        } else {
            assert_true(strstr(ir_diag_text(d), "do not pack") || area > (int64_t)W * H);
        }
        ir_diag_free(d);
        prob_free(&q);
    }
    assert_true(packed >= 10);
}

/* No edges: nothing to improve, the constructive placement stands. */
static void test_no_edges(void **state) {
    prob q;
    prob_init(&q, 50, 50, 30);
    for (int32_t k = 0; k < 30; k++) {
        q.w[k] = 1 + k % 7;
        q.h[k] = 1 + k % 5;
    }
    pl_placement pl;
    place_ok(&q, &pl);
    assert_true(pl.cost == 0 && pl.moves == 0);
    pl_placement_free(&pl);
    /* effort < 0: constructive only. */
    prob_edge(&q, 0, 29, 1);
    q.p.effort = -1;
    place_ok(&q, &pl);
    assert_true(pl.moves == 0 && pl.cost == pl.initial_cost);
    pl_placement_free(&pl);
    prob_free(&q);
}

/* The synthetic GPT between host I/O: `nin` input columns (1 x in_h)
 * pinned west feeding the embedding, and `nout` output columns (1 x out_h)
 * pinned east fed by the head. The inputs come first and the outputs last,
 * as the compiler orders them. */
static void gen_gpt_io(prob *q, int32_t W, int32_t H, int L, double util, uint64_t seed,
                       int32_t nin, int32_t in_h, int32_t nout, int32_t out_h) {
    prob g;
    gen_gpt(&g, W, H, L, util, seed);
    int32_t n = g.p.nkernels;
    prob_init(q, W, H, nin + n + nout);
    for (int32_t i = 0; i < nin; i++) {
        q->w[i] = 1, q->h[i] = in_h;
        prob_pin(q, i, PL_PIN_WEST);
        prob_edge(q, i, nin, 100);
    }
    for (int32_t k = 0; k < n; k++)
        q->w[nin + k] = g.w[k], q->h[nin + k] = g.h[k];
    for (int32_t e = 0; e < g.p.nedges; e++)
        prob_edge(q, nin + g.src[e], nin + g.dst[e], g.traffic[e]);
    for (int32_t i = 0; i < nout; i++) {
        int32_t k = nin + n + i;
        q->w[k] = 1, q->h[k] = out_h;
        prob_pin(q, k, PL_PIN_EAST);
        prob_edge(q, nin + n - 1, k, 100);
    }
    prob_free(&g);
}

/* Inputs end on the west edge and outputs on the east edge, on fabrics from
 * roomy to tight, with every accepted move self-checked; and they sit near
 * their neighbours. */
static void test_pinned(void **state) {
    static const struct {
        int32_t W, H, L;
        double util;
    } cfg[] = {{32, 32, 2, 0.5}, {64, 64, 3, 0.6}, {48, 24, 2, 0.7}, {24, 48, 1, 0.4}};
    for (size_t c = 0; c < sizeof cfg / sizeof *cfg; c++) {
        prob q;
        gen_gpt_io(&q, cfg[c].W, cfg[c].H, cfg[c].L, cfg[c].util, c + 1, 2, 3, 1, 4);
        q.p.seed = c;
        q.p.selfcheck = true;
        q.p.effort = 2;
        pl_placement pl;
        place_ok(&q, &pl);
        /* The inputs feed the first free kernel: pushed apart, each still
         * lies within the other's height (3 rows) of that kernel's rows. */
        int32_t first = 2, in_rows = 2 * 3;
        assert_true(pl.y[0] + q.h[0] > pl.y[first] - in_rows &&
                    pl.y[0] < pl.y[first] + q.h[first] + in_rows);
        pl_placement_free(&pl);
        prob_free(&q);
    }
    /* A kernel pinned to each edge of a fabric one PE wide: they share the
     * column, one above the other. */
    prob q;
    prob_init(&q, 1, 10, 3);
    q.w[0] = q.w[1] = q.w[2] = 1;
    q.h[0] = 4, q.h[1] = 2, q.h[2] = 4;
    prob_pin(&q, 0, PL_PIN_WEST);
    prob_pin(&q, 2, PL_PIN_EAST);
    prob_edge(&q, 0, 1, 1);
    prob_edge(&q, 1, 2, 1);
    q.p.selfcheck = true;
    pl_placement pl;
    place_ok(&q, &pl);
    pl_placement_free(&pl);
    /* Only pinned kernels. */
    q.p.nkernels = 2;
    q.p.nedges = 1;
    q.h[0] = 5, q.h[1] = 5;
    prob_pin(&q, 1, PL_PIN_WEST);
    place_ok(&q, &pl);
    assert_int_equal(pl.y[0] + pl.y[1], 5);
    pl_placement_free(&pl);
    prob_free(&q);
}

/* The same seed gives the same placement with pins too. */
static void test_pinned_deterministic(void **state) {
    prob q;
    gen_gpt_io(&q, 64, 64, 3, 0.5, 5, 1, 8, 2, 6);
    q.p.seed = 42;
    pl_placement a, b;
    place_ok(&q, &a);
    place_ok(&q, &b);
    assert_memory_equal(a.x, b.x, sizeof(int32_t) * (size_t)q.p.nkernels);
    assert_memory_equal(a.y, b.y, sizeof(int32_t) * (size_t)q.p.nkernels);
    assert_true(a.cost == b.cost && a.moves == b.moves && a.accepted == b.accepted);
    assert_string_equal(a.strategy, b.strategy);
    pl_placement_free(&a);
    pl_placement_free(&b);
    prob_free(&q);
}

static void test_pinned_refused(void **state) {
    prob q;
    prob_init(&q, 10, 8, 4);
    q.w[0] = 1, q.h[0] = 5;
    q.w[1] = 2, q.h[1] = 4;
    q.w[2] = 3, q.h[2] = 3;
    q.w[3] = 1, q.h[3] = 2;
    prob_pin(&q, 0, PL_PIN_WEST);
    prob_pin(&q, 1, PL_PIN_WEST);
    prob_pin(&q, 3, PL_PIN_EAST);
    const char *m = place_fails(&q);
    assert_non_null(
        strstr(m, "the pinned kernels do not fit on the west edge (9 PEs of column height 8)"));
    prob_pin(&q, 1, PL_PIN_EAST);
    q.h[3] = 5;
    m = place_fails(&q);
    assert_non_null(
        strstr(m, "the pinned kernels do not fit on the east edge (9 PEs of column height 8)"));
    /* Edges that share columns share the rows too. */
    prob_free(&q);
    prob_init(&q, 3, 8, 2);
    q.w[0] = 2, q.h[0] = 5;
    q.w[1] = 2, q.h[1] = 4;
    prob_pin(&q, 0, PL_PIN_WEST);
    prob_pin(&q, 1, PL_PIN_EAST);
    m = place_fails(&q);
    assert_non_null(strstr(m, "the pinned kernels do not fit on the west and east edges (9 PEs "
                              "of column height 8)"));
    /* Room on the edges, but not for the rest around them: a kernel as wide
     * as the fabric needs rows the pinned column does not take. */
    prob_free(&q);
    prob_init(&q, 10, 10, 3);
    q.w[0] = 1, q.h[0] = 6;
    q.w[1] = 10, q.h[1] = 5;
    q.w[2] = 5, q.h[2] = 5;
    prob_pin(&q, 0, PL_PIN_WEST);
    m = place_fails(&q);
    assert_non_null(strstr(m, "do not pack into 10x10 with the pinned kernels on their edges"));
    /* An unknown pin. */
    q.pin[0] = 3;
    m = place_fails(&q);
    assert_non_null(strstr(m, "kernel 0 has the unknown pin 3"));
    /* The checker refuses a pinned kernel off its edge. */
    q.w[1] = 3, q.h[1] = 3;
    q.w[2] = 1, q.h[2] = 1;
    q.pin[0] = PL_PIN_EAST;
    int32_t x[3] = {0, 1, 0}, y[3] = {0, 0, 9};
    ir_diag *d = ir_diag_new(NULL);
    assert_false(pl_check_placement(&q.p, x, y, d));
    assert_non_null(strstr(ir_diag_text(d), "kernel 0 (1x6 PEs at 0,0) is pinned to the east "
                                            "edge of the 10x10 fabric but does not lie on it"));
    q.pin[0] = PL_PIN_WEST;
    assert_true(pl_check_placement(&q.p, x, y, d));
    q.pin[2] = PL_PIN_WEST;
    assert_true(pl_check_placement(&q.p, x, y, NULL));
    q.pin[2] = PL_PIN_EAST;
    assert_false(pl_check_placement(&q.p, x, y, NULL));
    ir_diag_free(d);
    prob_free(&q);
}

/* Annealing slides pinned kernels along their edges only: here the free
 * kernels need the whole width, so the pinned ones start stacked in the
 * corners, far from the kernel they talk to, and must come down to it. */
static void test_pinned_anneal(void **state) {
    prob q;
    prob_init(&q, 6, 24, 5);
    q.w[0] = 1, q.h[0] = 2; /* input */
    q.w[1] = 6, q.h[1] = 10;
    q.w[2] = 4, q.h[2] = 3;
    q.w[3] = 1, q.h[3] = 2; /* outputs */
    q.w[4] = 1, q.h[4] = 3;
    prob_pin(&q, 0, PL_PIN_WEST);
    prob_pin(&q, 3, PL_PIN_EAST);
    prob_pin(&q, 4, PL_PIN_EAST);
    prob_edge(&q, 0, 2, 50);
    prob_edge(&q, 2, 3, 50);
    prob_edge(&q, 2, 4, 50);
    prob_edge(&q, 1, 2, 1);
    q.p.selfcheck = true;
    q.p.effort = -1;
    pl_placement start;
    place_ok(&q, &start);
    assert_non_null(strstr(start.strategy, "around the pinned kernels"));
    q.p.effort = 5;
    for (uint64_t seed = 1; seed <= 4; seed++) {
        q.p.seed = seed;
        pl_placement pl;
        place_ok(&q, &pl);
        assert_true(pl.accepted > 0);
        assert_true(pl.cost < 0.5 * start.cost);
        assert_true(pl.y[0] != start.y[0] && pl.y[3] != start.y[3]);
        pl_placement_free(&pl);
    }
    pl_placement_free(&start);
    prob_free(&q);
}

/* Random problems with pinned columns, every accepted move self-checked. */
static void test_pinned_random(void **state) {
    int placed = 0;
    for (int round = 0; round < 60; round++) {
        int32_t W = 6 + (int32_t)rnd(40), H = 6 + (int32_t)rnd(40);
        int32_t n = 2 + (int32_t)rnd(30);
        double util = uni(0.05, 0.7);
        prob q;
        prob_init(&q, W, H, n);
        double side = sqrt(util * W * H / n);
        for (int32_t k = 0; k < n; k++) {
            int pin = rnd(4) ? PL_PIN_NONE : 1 + (int)rnd(2);
            q.w[k] = pin ? 1 + (int32_t)rnd(2) : (int32_t)fmax(1, fmin(W, side * uni(0.3, 1.7)));
            q.h[k] = (int32_t)fmax(1, fmin(H, side * uni(0.3, 1.7)));
            if (pin) prob_pin(&q, k, pin);
        }
        int32_t ne = (int32_t)rnd((uint32_t)(3 * n + 1));
        for (int32_t e = 0; e < ne; e++)
            prob_edge(&q, (int32_t)rnd((uint32_t)n), (int32_t)rnd((uint32_t)n),
                      rnd(4) ? uni(0.5, 100) : 0);
        q.p.seed = (uint64_t)round * 31;
        q.p.selfcheck = true;
        q.p.effort = 2;
        ir_diag *d = ir_diag_new(NULL);
        pl_placement pl;
        if (pl_place(&q.p, &pl, d)) {
            assert_int_equal(ir_diag_errors(d), 0);
            assert_true(pl_check_placement(&q.p, pl.x, pl.y, d));
            assert_pins(&q, &pl);
            assert_true(fabs(pl_cost(&q.p, pl.x, pl.y) - pl.cost) <= 1e-9 * fmax(1, pl.cost));
            assert_true(pl.cost >= pl.lower_bound - 1e-9);
            assert_true(pl.cost <= pl.initial_cost + 1e-9);
            placed++;
            pl_placement_free(&pl);
        } else {
            const char *m = ir_diag_text(d);
            assert_true(strstr(m, "do not pack") || strstr(m, "pinned kernels do not fit"));
        }
        ir_diag_free(d);
        prob_free(&q);
    }
    assert_true(placed >= 40);
}

/* A GPT-2-sized problem on the full wse3 fabric places in seconds. */
static void test_performance(void **state) {
    prob q;
#ifdef WSC_SANITIZED
    gen_gpt(&q, 762, 1172, 20, 0.6, 1);
    q.p.effort = 2;
#else
    gen_gpt(&q, 762, 1172, 20, 0.6, 1);
#endif
    q.p.seed = 1;
    double t0 = now();
    pl_placement pl;
    place_ok(&q, &pl);
    double dt = now() - t0;
    fprintf(stderr,
            "  %d kernels on 762x1172: %.2f s, cost %.4g (constructive %.4g, bound %.4g, "
            "ratio %.2f), %d temperatures, %lld moves\n",
            q.p.nkernels, dt, pl.cost, pl.initial_cost, pl.lower_bound, pl.cost / pl.lower_bound,
            pl.temperatures, (long long)pl.moves);
    assert_true(pl.cost < pl.initial_cost);
    /* With 40% slack the pipeline order packs. */
    assert_true(strstr(pl.strategy, "serpentine") || strstr(pl.strategy, "pipeline order"));
#ifndef WSC_SANITIZED
    assert_true(dt < 10.0);
#endif
    pl_placement_free(&pl);
    prob_free(&q);
}

/* ------------------------------------------------------------------ bench */

/* A problem from a file: "W H N E", then N lines "w h [pin]" (pin: a
 * pl_pin, 0 when left out), then E lines "src dst traffic". */
static bool read_problem(const char *path, prob *q) {
    FILE *f = fopen(path, "r");
    int W, H, n, ne;
    if (!f || fscanf(f, "%d %d %d %d", &W, &H, &n, &ne) != 4 || n < 0 || ne < 0) {
        if (f) fclose(f);
        return false;
    }
    prob_init(q, W, H, n);
    bool ok = true;
    char line[256];
    ok = fgets(line, sizeof line, f) != NULL; /* the rest of the header line */
    for (int32_t k = 0; k < n && ok; k++) {
        int pin = 0;
        ok = fgets(line, sizeof line, f) && sscanf(line, "%d %d %d", &q->w[k], &q->h[k], &pin) >= 2;
        if (ok && pin) prob_pin(q, k, pin);
    }
    for (int32_t e = 0; e < ne && ok; e++) {
        int a, b;
        double t;
        ok = fscanf(f, "%d %d %lf", &a, &b, &t) == 3;
        if (ok) prob_edge(q, a, b, t);
    }
    fclose(f);
    if (!ok) prob_free(q);
    return ok;
}

static int bench(int argc, char **argv) {
    bool file = !strcmp(argv[1], "--bench-file");
    if (argc < (file ? 4 : 7)) {
        fprintf(stderr, "usage: test_placer --bench W H L UTIL SEED [EFFORT]\n"
                        "       test_placer --bench-file PROBLEM SEED [EFFORT]\n");
        return 2;
    }
    prob q;
    if (file) {
        if (!read_problem(argv[2], &q)) {
            fprintf(stderr, "test_placer: cannot read the problem %s\n", argv[2]);
            return 1;
        }
    } else {
        gen_gpt(&q, atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), atof(argv[5]), 1);
    }
    int seed_arg = file ? 3 : 6; /* then the effort, if any */
    int32_t W = q.p.width, H = q.p.height;
    q.p.seed = strtoull(argv[seed_arg], NULL, 10);
    q.p.effort = argc > seed_arg + 1 ? atof(argv[seed_arg + 1]) : 0;
    int64_t area = 0;
    for (int32_t k = 0; k < q.p.nkernels; k++)
        area += (int64_t)q.w[k] * q.h[k];
    ir_diag *d = ir_diag_new(stderr);
    pl_placement pl;
    double t0 = now();
    bool ok = pl_place(&q.p, &pl, d);
    double dt = now() - t0;
    if (ok) {
        ok = pl_check_placement(&q.p, pl.x, pl.y, d);
        printf("%5dx%-5d %4d %5d %5.1f%% %-40s %11.4g %11.4g %11.4g %6.3f %6.3f %5d %9lld %7.2f\n",
               W, H, q.p.nkernels, q.p.nedges, 100.0 * (double)area / ((double)W * H), pl.strategy,
               pl.initial_cost, pl.cost, pl.lower_bound, pl.initial_cost / pl.lower_bound,
               pl.cost / pl.lower_bound, pl.temperatures, (long long)pl.moves, dt);
        const char *dump = getenv("WSC_PL_DUMP");
        FILE *f = dump ? fopen(dump, "w") : NULL;
        if (f) {
            /* W H kernels edges; then x y w h per kernel; then src dst traffic per edge. */
            fprintf(f, "%d %d %d %d\n", W, H, q.p.nkernels, q.p.nedges);
            for (int32_t k = 0; k < q.p.nkernels; k++)
                fprintf(f, "%d %d %d %d\n", pl.x[k], pl.y[k], q.w[k], q.h[k]);
            for (int32_t e = 0; e < q.p.nedges; e++)
                fprintf(f, "%d %d %g\n", q.src[e], q.dst[e], q.traffic[e]);
            fclose(f);
        }
        pl_placement_free(&pl);
    }
    ir_diag_free(d);
    prob_free(&q);
    return ok ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc > 1 && (!strcmp(argv[1], "--bench") || !strcmp(argv[1], "--bench-file")))
        return bench(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_kernels),
        cmocka_unit_test(test_one_kernel),
        cmocka_unit_test(test_exact_fill),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_random_selfcheck),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_shuffled_chain),
        cmocka_unit_test(test_lower_bound),
        cmocka_unit_test(test_cost),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_tight),
        cmocka_unit_test(test_no_edges),
        cmocka_unit_test(test_pinned),
        cmocka_unit_test(test_pinned_deterministic),
        cmocka_unit_test(test_pinned_refused),
        cmocka_unit_test(test_pinned_anneal),
        cmocka_unit_test(test_pinned_random),
        cmocka_unit_test(test_performance),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
