/* test_router.c - the router (pl_route) and the independent route checker
 * (pl_check_routes): exact routes on small fabrics, multicast trees,
 * negotiation of congested links and scarce colours, clean failures,
 * determinism, the checker catching each class of corrupted routing, and
 * the full wse3 fabric at scale. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "pl.h"
#include "test_models.h"

/* ---------------------------------------------------------------- helpers */

/* A growing set of nets owning their sink arrays. */
typedef struct netset {
    pl_net *n;     /* nets */
    int32_t count; /* nets in use */
    int32_t cap;   /* allocated */
} netset;

static void add_net(netset *s, int32_t sx, int32_t sy, int32_t nk, const int32_t *kx,
                    const int32_t *ky, double load) {
    if (s->count == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 16;
        s->n = realloc(s->n, (size_t)s->cap * sizeof *s->n);
        assert_non_null(s->n);
    }
    int32_t *x = NULL, *y = NULL;
    if (nk > 0) {
        x = malloc((size_t)nk * sizeof *x);
        y = malloc((size_t)nk * sizeof *y);
        assert_non_null(x);
        assert_non_null(y);
        memcpy(x, kx, (size_t)nk * sizeof *x);
        memcpy(y, ky, (size_t)nk * sizeof *y);
    }
    s->n[s->count++] = (pl_net){sx, sy, nk, x, y, load};
}

static void add_p2p(netset *s, int32_t sx, int32_t sy, int32_t kx, int32_t ky, double load) {
    add_net(s, sx, sy, 1, &kx, &ky, load);
}

static void free_nets(netset *s) {
    for (int32_t i = 0; i < s->count; i++) {
        free((void *)s->n[i].kx);
        free((void *)s->n[i].ky);
    }
    free(s->n);
    memset(s, 0, sizeof *s);
}

/* Routes and runs the checker; both must succeed. */
static void route_ok(int32_t w, int32_t h, const netset *s, int32_t colors, double cap,
                     pl_routing *out) {
    ir_diag *d = ir_diag_new(NULL);
    bool ok = pl_route(w, h, s->n, s->count, colors, cap, out, d);
    if (!ok) print_error("pl_route: %s\n", ir_diag_text(d));
    assert_true(ok);
    assert_int_equal(ir_diag_errors(d), 0);
    ir_diag_free(d);
    d = ir_diag_new(NULL);
    ok = pl_check_routes(w, h, s->n, s->count, out, colors, cap, d);
    if (!ok) print_error("pl_check_routes: %s\n", ir_diag_text(d));
    assert_true(ok);
    ir_diag_free(d);
    assert_true(out->max_colors <= colors);
    assert_true(out->max_link_load <= cap * (1 + 1e-9));
}

/* Routing must fail with a message containing `want`. */
static void route_fails(int32_t w, int32_t h, const netset *s, int32_t colors, double cap,
                        const char *want) {
    ir_diag *d = ir_diag_new(NULL);
    pl_routing out;
    bool ok = pl_route(w, h, s->n, s->count, colors, cap, &out, d);
    if (ok) pl_routing_free(&out);
    assert_false(ok);
    const char *text = ir_diag_text(d);
    if (!strstr(text, want)) print_error("expected \"%s\" in: %s\n", want, text);
    assert_non_null(strstr(text, want));
    ir_diag_free(d);
}

/* The checker must reject r with a message containing `want`. */
static void check_fails(int32_t w, int32_t h, const netset *s, const pl_routing *r, int32_t colors,
                        double cap, const char *want) {
    ir_diag *d = ir_diag_new(NULL);
    assert_false(pl_check_routes(w, h, s->n, s->count, r, colors, cap, d));
    const char *text = ir_diag_text(d);
    if (!strstr(text, want)) print_error("expected \"%s\" in: %s\n", want, text);
    assert_non_null(strstr(text, want));
    ir_diag_free(d);
}

static void copy_routing(const pl_routing *a, pl_routing *b) {
    *b = *a;
    b->routes = calloc((size_t)a->nroutes, sizeof *b->routes);
    assert_non_null(b->routes);
    for (int32_t i = 0; i < a->nroutes; i++) {
        b->routes[i] = a->routes[i];
        b->routes[i].hops = malloc((size_t)(a->routes[i].nhops + 4) * sizeof(pl_hop));
        assert_non_null(b->routes[i].hops);
        memcpy(b->routes[i].hops, a->routes[i].hops, (size_t)a->routes[i].nhops * sizeof(pl_hop));
    }
}

static int find_hop(const struct pl_route *rt, int32_t x, int32_t y) {
    for (int k = 0; k < rt->nhops; k++)
        if (rt->hops[k].x == x && rt->hops[k].y == y) return k;
    return -1;
}

#define BIT(p) (1u << (p))

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint32_t rnd(uint32_t n) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)((rng >> 11) % n);
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int32_t clampi(int32_t v, int32_t lo, int32_t hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

/* ------------------------------------------------------- single streams */

static void test_straight(void **state) {
    (void)state;
    netset s = {0};
    add_p2p(&s, 1, 3, 6, 3, 1.0);
    pl_routing r;
    route_ok(8, 8, &s, 24, 1.0, &r);
    assert_int_equal(r.nroutes, 1);
    const struct pl_route *rt = &r.routes[0];
    assert_int_equal(rt->color, 0);
    assert_int_equal(rt->nhops, 6);
    for (int k = 0; k < 6; k++) {
        assert_int_equal(rt->hops[k].x, 1 + k);
        assert_int_equal(rt->hops[k].y, 3);
        assert_int_equal(rt->hops[k].in, k == 0 ? PL_RAMP : PL_WEST);
        assert_int_equal(rt->hops[k].outs, k == 5 ? BIT(PL_RAMP) : BIT(PL_EAST));
    }
    assert_true(r.max_link_load == 1.0);
    assert_int_equal(r.max_colors, 1);
    assert_true(r.iterations >= 1);
    pl_routing_free(&r);
    free_nets(&s);
}

static void test_l_shaped(void **state) {
    (void)state;
    netset s = {0};
    add_p2p(&s, 5, 6, 1, 1, 0.5); /* north-west */
    add_p2p(&s, 0, 0, 7, 7, 0.5); /* south-east across the whole fabric */
    pl_routing r;
    route_ok(8, 8, &s, 24, 1.0, &r);
    assert_int_equal(r.routes[0].nhops, 4 + 5 + 1);
    assert_int_equal(r.routes[1].nhops, 7 + 7 + 1);
    /* the hops follow the stream, source first */
    assert_int_equal(r.routes[0].hops[0].x, 5);
    assert_int_equal(r.routes[0].hops[0].y, 6);
    assert_int_equal(r.routes[0].hops[9].x, 1);
    assert_int_equal(r.routes[0].hops[9].y, 1);
    pl_routing_free(&r);
    free_nets(&s);
}

static void test_loopback_and_duplicates(void **state) {
    (void)state;
    netset s = {0};
    add_p2p(&s, 2, 2, 2, 2, 1.0); /* a PE sending to its own core */
    int32_t kx[] = {4, 2, 4, 4}, ky[] = {2, 2, 2, 2};
    add_net(&s, 2, 2, 4, kx, ky, 1.0); /* source among the sinks, one sink listed twice */
    pl_routing r;
    route_ok(6, 6, &s, 24, 1.0, &r);
    assert_int_equal(r.routes[0].nhops, 1);
    assert_int_equal(r.routes[0].hops[0].in, PL_RAMP);
    assert_int_equal(r.routes[0].hops[0].outs, BIT(PL_RAMP));
    assert_int_equal(r.routes[1].nhops, 3);
    assert_int_equal(r.routes[1].hops[0].outs, BIT(PL_RAMP) | BIT(PL_EAST));
    assert_true(r.routes[0].color != r.routes[1].color);
    pl_routing_free(&r);
    free_nets(&s);
}

/* ------------------------------------------------------------ multicast */

static void test_multicast_column(void **state) {
    (void)state;
    netset s = {0};
    int32_t kx[10], ky[10];
    for (int k = 0; k < 10; k++)
        kx[k] = 10, ky[k] = 9 - k;
    add_net(&s, 0, 0, 10, kx, ky, 1.0);
    pl_routing r;
    route_ok(16, 16, &s, 24, 1.0, &r);
    /* the Steiner minimum: 11 routers along row 0, 9 down column 10; ten
     * separate paths would configure 11 + 12 + ... + 20 */
    assert_int_equal(r.routes[0].nhops, 20);
    /* a tree: no link carries the stream twice */
    assert_true(r.max_link_load == 1.0);
    int fan = 0;
    for (int k = 0; k < r.routes[0].nhops; k++)
        if (__builtin_popcount(r.routes[0].hops[k].outs) > 1) fan++;
    assert_true(fan >= 9); /* every sink but the last forwards and delivers */
    pl_routing_free(&r);
    free_nets(&s);
}

static void test_multicast_block(void **state) {
    (void)state;
    /* one source broadcasting to a 20x20 kernel far away, and a sparse net */
    netset s = {0};
    int32_t kx[400], ky[400];
    for (int k = 0; k < 400; k++)
        kx[k] = 30 + k % 20, ky[k] = 25 + k / 20;
    add_net(&s, 2, 3, 400, kx, ky, 0.25);
    int32_t sx[] = {40, 10, 45, 12, 20}, sy[] = {5, 40, 44, 12, 30};
    add_net(&s, 25, 25, 5, sx, sy, 0.25);
    pl_routing r;
    route_ok(64, 64, &s, 24, 1.0, &r);
    /* 400 sinks need 400 routers and the way there about 28 + 22 more */
    assert_true(r.routes[0].nhops >= 400 + 49);
    assert_true(r.routes[0].nhops <= 400 + 60);
    int64_t separate = 0;
    for (int k = 0; k < 5; k++)
        separate += abs(sx[k] - 25) + abs(sy[k] - 25) + 1;
    assert_true(r.routes[1].nhops < separate);
    pl_routing_free(&r);
    free_nets(&s);
}

/* ----------------------------------------------------------- congestion */

/* Eight streams of 0.5 from two PEs of the north row to two PEs of the
 * south row of a 4-wide fabric: every row boundary has 4 southward links
 * for 8 x 0.5, exactly its capacity, so the streams must spread over all
 * four columns where shortest paths would pile onto two. */
static void test_congested_cut(void **state) {
    (void)state;
    netset s = {0};
    for (int i = 0; i < 8; i++)
        add_p2p(&s, 1 + i % 2, 0, 1 + i % 2, 11, 0.5);
    pl_routing r;
    route_ok(4, 12, &s, 24, 1.0, &r);
    assert_true(r.max_link_load == 1.0);
    assert_true(r.iterations > 1); /* the first round overloads and negotiation fixes it */
    int used[4] = {0};
    for (int i = 0; i < 8; i++)
        for (int k = 0; k < r.routes[i].nhops; k++)
            if (r.routes[i].hops[k].y == 6) used[r.routes[i].hops[k].x] = 1;
    assert_true(used[0] && used[1] && used[2] && used[3]);
    pl_routing_free(&r);
    free_nets(&s);
}

/* Every PE of the north row of a 16x40 fabric sends four streams of 0.25
 * to PEs of the south row, scrambled: each of the 39 row boundaries has 16
 * southward links for 64 x 0.25, exactly its capacity, so every stream
 * must go straight down across every boundary while moving sideways to its
 * column, and streams that swap order must cross on distinct colours. */
static void test_exact_cuts(void **state) {
    (void)state;
    netset s = {0};
    for (int c = 0; c < 16; c++)
        for (int k = 0; k < 4; k++)
            add_p2p(&s, c, 0, (c * 5 + k * 3 + 1) % 16, 39, 0.25);
    pl_routing r;
    route_ok(16, 40, &s, 24, 1.0, &r);
    assert_true(r.max_link_load == 1.0);
    for (int i = 0; i < s.count; i++)
        for (int k = 0; k < r.routes[i].nhops; k++)
            assert_false(r.routes[i].hops[k].outs & BIT(PL_NORTH)); /* no slack to go back */
    print_message("      64 streams through 39 full cuts: %d rounds, colours max %d\n",
                  r.iterations, r.max_colors);
    pl_routing_free(&r);
    free_nets(&s);
}

static void test_congested_random(void **state) {
    (void)state;
    /* 250 streams of 0.25 between random PEs of a 32x32 fabric: shortest
     * paths overload dozens of links and the colours run short; about 40%
     * of the link capacity is needed */
    netset s = {0};
    rng = 7;
    for (int i = 0; i < 250; i++)
        add_p2p(&s, (int32_t)rnd(32), (int32_t)rnd(32), (int32_t)rnd(32), (int32_t)rnd(32), 0.25);
    pl_routing r;
    route_ok(32, 32, &s, 24, 1.0, &r);
    assert_true(r.iterations > 1);
    print_message("      250 random nets on 32x32: %d rounds, max link %.2f, max colours %d\n",
                  r.iterations, r.max_link_load, r.max_colors);
    pl_routing_free(&r);
    free_nets(&s);
}

/* --------------------------------------------------------------- colours */

/* Three nested streams along row 1 with two colours: the middle routers
 * would hold three, so one stream must detour through row 0 or row 2. */
static void test_colour_detour(void **state) {
    (void)state;
    netset s = {0};
    add_p2p(&s, 0, 1, 9, 1, 0.1);
    add_p2p(&s, 1, 1, 8, 1, 0.1);
    add_p2p(&s, 2, 1, 7, 1, 0.1);
    pl_routing r;
    route_ok(10, 3, &s, 2, 1.0, &r);
    assert_true(r.max_colors <= 2);
    int off_row = 0;
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < r.routes[i].nhops; k++)
            off_row += r.routes[i].hops[k].y != 1;
    assert_true(off_row > 0);
    pl_routing_free(&r);
    free_nets(&s);
}

/* Colouring, not counting, is the limit: three streams that pairwise
 * cross need three colours though no router holds more than two of them.
 * With two colours allowed, one stream must go round another's end so
 * that that pair no longer meets. */
static void test_colour_triangle(void **state) {
    (void)state;
    netset s = {0};
    add_p2p(&s, 2, 2, 8, 2, 0.1); /* east along row 2 */
    add_p2p(&s, 7, 1, 7, 8, 0.1); /* south along column 7, across row 2 */
    add_p2p(&s, 8, 7, 2, 1, 0.1); /* north-west, across both */
    pl_routing r;
    route_ok(12, 12, &s, 2, 1.0, &r);
    assert_true(r.max_colors <= 2);
    /* some pair no longer shares a router */
    int disjoint = 0;
    for (int i = 0; i < 3; i++) {
        int j = (i + 1) % 3, meet = 0;
        for (int k = 0; k < r.routes[i].nhops; k++)
            meet += find_hop(&r.routes[j], r.routes[i].hops[k].x, r.routes[i].hops[k].y) >= 0;
        disjoint += meet == 0;
    }
    assert_true(disjoint >= 1);
    pl_routing_free(&r);
    free_nets(&s);

    /* four streams crossing in a ring with one colour: none may meet */
    add_p2p(&s, 2, 2, 8, 2, 0.1);
    add_p2p(&s, 7, 1, 7, 8, 0.1);
    add_p2p(&s, 8, 7, 3, 7, 0.1);
    add_p2p(&s, 3, 8, 3, 1, 0.1);
    route_ok(12, 12, &s, 1, 1.0, &r);
    assert_int_equal(r.max_colors, 1);
    pl_routing_free(&r);
    free_nets(&s);
}

static void test_colour_limit_fails(void **state) {
    (void)state;
    netset s = {0};
    add_p2p(&s, 0, 0, 9, 0, 0.1);
    add_p2p(&s, 1, 0, 8, 0, 0.1);
    add_p2p(&s, 2, 0, 7, 0, 0.1);
    /* one row: nowhere to detour */
    route_fails(10, 1, &s, 2, 1.0, "needs 3 colours, the target has 2");
    free_nets(&s);

    /* more streams end at one PE than it has colours: refused up front */
    for (int i = 0; i < 25; i++)
        add_p2p(&s, i % 10, 9, 3, 3, 0.01);
    route_fails(10, 10, &s, 24, 1.0, "router (3,3) needs 25 colours, the target has 24");
    free_nets(&s);
}

/* ------------------------------------------------------------- failures */

static void test_link_limit_fails(void **state) {
    (void)state;
    netset s = {0};
    add_p2p(&s, 0, 0, 9, 0, 0.6);
    add_p2p(&s, 1, 0, 8, 0, 0.6);
    route_fails(10, 1, &s, 24, 1.0, "needs 1.2 wavelets per cycle, the capacity is 1");
    route_fails(10, 1, &s, 24, 1.0, "link (");
    free_nets(&s);

    /* five full-rate streams leave one PE that has four links */
    for (int i = 0; i < 5; i++)
        add_p2p(&s, 5, 5, i, 0, 1.0);
    route_fails(10, 10, &s, 24, 1.0,
                "PE (5,5) sends 5 wavelets per cycle into the mesh; its 4 links carry at most 4");
    free_nets(&s);

    /* a corner PE has two links */
    for (int i = 0; i < 3; i++)
        add_p2p(&s, 0, 0, 9, i, 0.75);
    route_fails(10, 10, &s, 24, 1.0, "PE (0,0) sends 2.25 wavelets per cycle");
    free_nets(&s);

    /* negotiation runs out: a 2-wide fabric whose cut holds 2 but 3 must cross */
    for (int i = 0; i < 3; i++)
        add_p2p(&s, i % 2, 0, i % 2, 5, 0.7);
    route_fails(2, 6, &s, 24, 1.0, "wavelets per cycle, the capacity is 1");
    free_nets(&s);
}

static void test_bad_input(void **state) {
    (void)state;
    netset s = {0};
    add_p2p(&s, 0, 0, 10, 0, 0.5);
    route_fails(10, 10, &s, 24, 1.0, "net 0: sink (10,0) is outside the 10x10 fabric");
    free_nets(&s);
    add_p2p(&s, -1, 0, 1, 0, 0.5);
    route_fails(10, 10, &s, 24, 1.0, "net 0: source (-1,0) is outside");
    free_nets(&s);
    add_p2p(&s, 0, 0, 1, 0, 1.5);
    route_fails(10, 10, &s, 24, 1.0, "needs 1.5 wavelets per cycle; a link carries at most 1");
    free_nets(&s);
    add_p2p(&s, 0, 0, 1, 0, 0);
    route_fails(10, 10, &s, 24, 1.0, "is not a positive number");
    free_nets(&s);
    add_net(&s, 0, 0, 0, NULL, NULL, 0.5);
    route_fails(10, 10, &s, 24, 1.0, "has no sinks");
    free_nets(&s);
    add_p2p(&s, 0, 0, 1, 0, 0.5);
    route_fails(0, 10, &s, 24, 1.0, "cannot route on a 0x10 fabric");
    route_fails(10, 10, &s, 0, 1.0, "the target has 0 colours");
    route_fails(10, 10, &s, 24, 0.0, "link capacity 0");
    free_nets(&s);

    /* nothing to route is a success */
    pl_routing r;
    ir_diag *d = ir_diag_new(NULL);
    assert_true(pl_route(10, 10, NULL, 0, 24, 1.0, &r, d));
    assert_int_equal(r.nroutes, 0);
    assert_true(pl_check_routes(10, 10, NULL, 0, &r, 24, 1.0, d));
    pl_routing_free(&r);
    ir_diag_free(d);
}

/* ----------------------------------------------------------- determinism */

static void random_mixed(netset *s, int32_t w, int32_t h, int n, uint64_t seed) {
    rng = seed;
    for (int i = 0; i < n; i++) {
        int32_t sx = (int32_t)rnd((uint32_t)w), sy = (int32_t)rnd((uint32_t)h);
        int32_t nk = 1 + (i % 4 == 0 ? (int32_t)rnd(12) : 0);
        int32_t kx[16], ky[16];
        /* uniform in the 31x31 window around the source cut to the
         * fabric (clamping would pile sinks onto the edges) */
        int32_t x0 = sx > 15 ? sx - 15 : 0, x1 = sx + 15 < w ? sx + 15 : w - 1;
        int32_t y0 = sy > 15 ? sy - 15 : 0, y1 = sy + 15 < h ? sy + 15 : h - 1;
        for (int k = 0; k < nk; k++) {
            kx[k] = x0 + (int32_t)rnd((uint32_t)(x1 - x0 + 1));
            ky[k] = y0 + (int32_t)rnd((uint32_t)(y1 - y0 + 1));
        }
        add_net(s, sx, sy, nk, kx, ky, 0.05 * (1 + rnd(6)));
    }
}

static void test_determinism(void **state) {
    (void)state;
    netset s = {0};
    random_mixed(&s, 48, 48, 500, 42);
    pl_routing a, b;
    route_ok(48, 48, &s, 24, 1.0, &a);
    route_ok(48, 48, &s, 24, 1.0, &b);
    assert_int_equal(a.iterations, b.iterations);
    assert_int_equal(a.max_colors, b.max_colors);
    assert_true(a.max_link_load == b.max_link_load);
    assert_true(a.mean_colors == b.mean_colors);
    for (int32_t i = 0; i < s.count; i++) {
        assert_int_equal(a.routes[i].color, b.routes[i].color);
        assert_int_equal(a.routes[i].nhops, b.routes[i].nhops);
        for (int32_t k = 0; k < a.routes[i].nhops; k++) {
            const pl_hop *p = &a.routes[i].hops[k], *q = &b.routes[i].hops[k];
            assert_true(p->x == q->x && p->y == q->y && p->in == q->in && p->outs == q->outs);
        }
    }
    print_message("      500 mixed nets on 48x48: %d rounds, max link %.2f, colours max %d "
                  "mean %.2f\n",
                  a.iterations, a.max_link_load, a.max_colors, a.mean_colors);
    pl_routing_free(&a);
    pl_routing_free(&b);
    free_nets(&s);
}

/* -------------------------------------------------------------- checker */

/* Three nets on 12x12: 0 east along row 5, 1 south along column 5
 * (crossing 0 at (5,5)), 2 a multicast from (1,8) to three PEs. */
static void mutation_base(netset *s, pl_routing *r) {
    add_p2p(s, 1, 5, 10, 5, 0.5);
    add_p2p(s, 5, 1, 5, 10, 0.5);
    int32_t kx[] = {8, 8, 10}, ky[] = {8, 10, 8};
    add_net(s, 1, 8, 3, kx, ky, 0.5);
    route_ok(12, 12, s, 24, 1.0, r);
    /* the mutations below rely on net 0 being the straight row */
    assert_int_equal(r->routes[0].nhops, 10);
    for (int k = 0; k < 10; k++) {
        assert_int_equal(r->routes[0].hops[k].x, 1 + k);
        assert_int_equal(r->routes[0].hops[k].y, 5);
    }
    assert_true(r->routes[0].color != r->routes[1].color);
}

static void test_checker_mutations(void **state) {
    (void)state;
    netset s = {0};
    pl_routing base, m;
    mutation_base(&s, &base);
    struct pl_route *r0;

    /* flip an out port: (3,5) forwards north instead of east */
    copy_routing(&base, &m);
    m.routes[0].hops[2].outs = BIT(PL_NORTH);
    check_fails(12, 12, &s, &m, 24, 1.0,
                "net 0 (colour 0): router (3,5) forwards north to router (3,4), which has no "
                "configuration for the colour");
    pl_routing_free(&m);

    /* drop a hop: (4,5) loses its configuration */
    copy_routing(&base, &m);
    r0 = &m.routes[0];
    memmove(&r0->hops[3], &r0->hops[4], (size_t)(r0->nhops - 4) * sizeof(pl_hop));
    r0->nhops--;
    check_fails(12, 12, &s, &m, 24, 1.0,
                "router (3,5) forwards east to router (4,5), which has no configuration");
    pl_routing_free(&m);

    /* duplicate a colour: the crossing nets on one colour */
    copy_routing(&base, &m);
    m.routes[1].color = m.routes[0].color;
    check_fails(12, 12, &s, &m, 24, 1.0, "router (5,5): colour 0 is configured by both net");
    pl_routing_free(&m);

    /* the same configuration twice within one net */
    copy_routing(&base, &m);
    r0 = &m.routes[0];
    r0->hops[r0->nhops++] = r0->hops[4];
    check_fails(12, 12, &s, &m, 24, 1.0, "net 0 configures router (5,5) twice for colour 0");
    pl_routing_free(&m);

    /* wrong in-port */
    copy_routing(&base, &m);
    m.routes[0].hops[3].in = PL_EAST;
    check_fails(12, 12, &s, &m, 24, 1.0,
                "net 0 (colour 0): router (4,5) accepts the colour from the east, but the stream "
                "arrives from the west");
    pl_routing_free(&m);

    /* extra ramp delivery on the way */
    copy_routing(&base, &m);
    m.routes[0].hops[3].outs |= BIT(PL_RAMP);
    check_fails(12, 12, &s, &m, 24, 1.0,
                "net 0 (colour 0) is delivered to PE (4,5), which is not one of its sinks");
    pl_routing_free(&m);

    /* missing delivery at one sink of the multicast */
    copy_routing(&base, &m);
    int k = find_hop(&m.routes[2], 8, 10);
    assert_true(k >= 0);
    m.routes[2].hops[k].outs &= (uint8_t)~BIT(PL_RAMP);
    check_fails(12, 12, &s, &m, 24, 1.0, "net 2 (colour 0) never reaches its sink PE (8,10)");
    pl_routing_free(&m);

    /* a consistent misroute: the row runs one PE too far and delivers there */
    copy_routing(&base, &m);
    r0 = &m.routes[0];
    r0->hops[9].outs = BIT(PL_EAST);
    r0->hops[r0->nhops++] = (pl_hop){11, 5, PL_WEST, BIT(PL_RAMP)};
    check_fails(12, 12, &s, &m, 24, 1.0, "is delivered to PE (11,5), which is not one of its");
    pl_routing_free(&m);

    /* the stream leaks into another net's tree of the same colour */
    copy_routing(&base, &m);
    m.routes[0].color = 0;
    m.routes[1].color = 2;
    m.routes[2].color = 0;
    /* nets 0 and 2 share colour 0 legally (disjoint); make 0 forward into 2 */
    r0 = &m.routes[0];
    k = find_hop(&m.routes[2], 1, 8);
    assert_true(k >= 0);
    r0->hops[0].outs |= BIT(PL_SOUTH);
    r0->hops[r0->nhops++] = (pl_hop){1, 6, PL_NORTH, BIT(PL_SOUTH)};
    r0->hops[r0->nhops++] = (pl_hop){1, 7, PL_NORTH, BIT(PL_SOUTH)};
    check_fails(12, 12, &s, &m, 24, 1.0,
                "router (1,7) forwards south into router (1,8), where the colour belongs to net 2");
    pl_routing_free(&m);

    /* a loop: the route circles a 2x2 block back into its own path */
    copy_routing(&base, &m);
    r0 = &m.routes[0];
    r0->hops[2].outs = BIT(PL_EAST) | BIT(PL_SOUTH); /* (3,5) */
    r0->hops[r0->nhops++] = (pl_hop){3, 6, PL_NORTH, BIT(PL_EAST)};
    r0->hops[r0->nhops++] = (pl_hop){4, 6, PL_WEST, BIT(PL_NORTH)};
    check_fails(12, 12, &s, &m, 24, 1.0,
                "router (4,6) forwards north to router (4,5), which the stream has already "
                "passed: a loop");
    pl_routing_free(&m);

    /* configured routers the stream never reaches (a detached cycle) */
    copy_routing(&base, &m);
    r0 = &m.routes[0];
    r0->hops[r0->nhops++] = (pl_hop){0, 0, PL_SOUTH, BIT(PL_EAST)};
    r0->hops[r0->nhops++] = (pl_hop){1, 0, PL_WEST, BIT(PL_SOUTH)};
    r0->hops[r0->nhops++] = (pl_hop){1, 1, PL_NORTH, BIT(PL_WEST)};
    r0->hops[r0->nhops++] = (pl_hop){0, 1, PL_EAST, BIT(PL_NORTH)};
    check_fails(12, 12, &s, &m, 24, 1.0,
                "net 0 (colour 0): router (0,0) is configured for it but the stream never "
                "reaches it");
    pl_routing_free(&m);

    /* the source must take the stream from its core */
    copy_routing(&base, &m);
    m.routes[0].hops[0].in = PL_WEST;
    check_fails(12, 12, &s, &m, 24, 1.0,
                "its source router (1,5) accepts colour 0 from the west, not the ramp");
    pl_routing_free(&m);

    /* ports off the fabric, colours out of range, ports that do not exist */
    copy_routing(&base, &m);
    r0 = &m.routes[0];
    r0->hops[r0->nhops++] = (pl_hop){11, 0, PL_WEST, BIT(PL_NORTH)};
    check_fails(12, 12, &s, &m, 24, 1.0, "router (11,0) forwards colour 0 north, off the fabric");
    r0->hops[r0->nhops - 1] = (pl_hop){0, 11, PL_SOUTH, 0};
    check_fails(12, 12, &s, &m, 24, 1.0,
                "router (0,11) accepts colour 0 from the south, off the fabric");
    r0->hops[r0->nhops - 1] = (pl_hop){12, 3, PL_WEST, 0};
    check_fails(12, 12, &s, &m, 24, 1.0, "net 0 configures router (12,3), outside");
    r0->hops[r0->nhops - 1] = (pl_hop){2, 2, 7, 0};
    check_fails(12, 12, &s, &m, 24, 1.0, "has input port 7");
    r0->nhops--;
    m.routes[1].color = 24;
    check_fails(12, 12, &s, &m, 24, 1.0, "net 1 has colour 24; the target's colours are 0 to 23");
    pl_routing_free(&m);

    /* limits the routing meets for one target but not for a smaller one */
    check_fails(12, 12, &s, &base, 24, 0.4,
                "link (5,1)->(5,2) carries 0.5 wavelets per cycle, the capacity is 0.4");
    check_fails(12, 12, &s, &base, 1, 1.0, "colour 1; the target's colours are 0 to 0");

    pl_routing_free(&base);
    free_nets(&s);
}

/* ------------------------------------------------------------------ scale */

/* Full size in the sanitizer build too: about 2 s there, 1 s otherwise. */
enum { SCALE_P2P = 20000, SCALE_MC = 2000 };

static void test_scale_wse3(void **state) {
    (void)state;
    const int32_t W = 762, H = 1172;
    netset s = {0};
    rng = 2024;
    for (int i = 0; i < SCALE_P2P; i++) {
        int32_t sx = (int32_t)rnd(W), sy = (int32_t)rnd(H);
        add_p2p(&s, sx, sy, clampi(sx + (int32_t)rnd(41) - 20, 0, W - 1),
                clampi(sy + (int32_t)rnd(41) - 20, 0, H - 1), 0.1 * (1 + rnd(5)));
    }
    double t0 = now();
    pl_routing r;
    route_ok(W, H, &s, 24, 1.0, &r);
    double t1 = now();
    int64_t hops = 0;
    for (int32_t i = 0; i < r.nroutes; i++)
        hops += r.routes[i].nhops;
    print_message("      %d short nets on %dx%d: route+check %.2f s, %d rounds, %lld hops, max "
                  "link %.2f, colours max %d mean %.2f\n",
                  SCALE_P2P, W, H, t1 - t0, r.iterations, (long long)hops, r.max_link_load,
                  r.max_colors, r.mean_colors);
    pl_routing_free(&r);
    free_nets(&s);

    /* multicast: each source feeds 4..32 PEs of a 48x48 window around it,
     * all packed into the fabric's north-west quarter so that they overlap */
    rng = 99;
    for (int i = 0; i < SCALE_MC; i++) {
        int32_t sx = (int32_t)rnd(W / 2), sy = (int32_t)rnd(H / 2);
        int32_t nk = 4 + (int32_t)rnd(29), kx[32], ky[32];
        for (int k = 0; k < nk; k++) {
            kx[k] = clampi(sx + (int32_t)rnd(49) - 24, 0, W - 1);
            ky[k] = clampi(sy + (int32_t)rnd(49) - 24, 0, H - 1);
        }
        add_net(&s, sx, sy, nk, kx, ky, 0.1 * (1 + rnd(3)));
    }
    t0 = now();
    route_ok(W, H, &s, 24, 1.0, &r);
    t1 = now();
    hops = 0;
    for (int32_t i = 0; i < r.nroutes; i++)
        hops += r.routes[i].nhops;
    print_message("      %d multicast nets on %dx%d: route+check %.2f s, %d rounds, %lld hops, "
                  "max link %.2f, colours max %d mean %.2f\n",
                  SCALE_MC, W, H, t1 - t0, r.iterations, (long long)hops, r.max_link_load,
                  r.max_colors, r.mean_colors);
    pl_routing_free(&r);
    free_nets(&s);
}

/* ---------------------------------------------------------- row order */

/* Pairs of rows of gemv b fed from the same side of it whose Y-then-X
 * routes from producer a's lanes cross: the farther source's row inside
 * the vertical run of the nearer one. Producer lane i holds slice i. */
static int crossings(const ir_kernel *a, const ir_kernel *b) {
    int n = 0, S = a->y + a->h - 1;
    for (int32_t ra = 0; ra < b->h; ra++)
        for (int32_t rb = 0; rb < b->h; rb++) {
            int xa = a->x + ir_kernel_chunk(b, ra), xb = a->x + ir_kernel_chunk(b, rb);
            int ya = b->y + ra, yb = b->y + rb;
            bool west = xa < b->x && xb < b->x && xa < xb; /* a farther west */
            bool east = xa > b->x + b->w - 1 && xb > b->x + b->w - 1 && xa > xb;
            int lo = S < yb ? S : yb, hi = S < yb ? yb : S;
            if ((west || east) && ya >= lo && ya <= hi) n++;
        }
    return n;
}

/* pl_order_rows gives each row of a gemv the slice whose route nests with
 * the others' wherever the producer lies, and the order is a permutation. */
static void test_row_order(void **state) {
    (void)state;
    ir_diag *d = ir_diag_new(NULL);
    ir_target t = test_target(64, 64);
    ir_kgraph kg;
    ir_graph *g = test_tile("tests/data/two_gemv.wsm", &t, &kg, d);
    int32_t ia = -1, ib = -1;
    for (int32_t i = 0; i < kg.nk; i++)
        if (kg.k[i].kind == IR_KK_GEMV) {
            if (ia < 0)
                ia = i;
            else
                ib = i;
        }
    assert_true(ia >= 0 && ib > ia);
    ir_kernel *a = &kg.k[ia], *b = &kg.k[ib];
    /* 16 producer lanes of 16 columns, 16 consumer rows of 16 */
    a->w = 16, a->h = 2, b->w = 4, b->h = 16;
    b->x = 30, b->y = 5;
    static const int32_t at[][2] = {{0, 40}, {40, 40}, {24, 40}, {40, 0}, {0, 0}, {24, 0}};
    for (size_t c = 0; c < sizeof at / sizeof at[0]; c++) {
        a->x = at[c][0], a->y = at[c][1];
        if (at[c][1] == 0) b->y = 10; /* the producer above */
        for (int32_t i = 0; i < kg.nk; i++)
            if (i != ia && i != ib) kg.k[i].x = 63, kg.k[i].y = 40 + i; /* out of the way */
        b->chunk = NULL;
        int identity = crossings(a, b);
        pl_order_rows(g, &kg);
        uint8_t seen[16] = {0};
        for (int32_t r = 0; r < 16; r++) {
            int32_t ch = ir_kernel_chunk(b, r);
            assert_true(ch >= 0 && ch < 16 && !seen[ch]);
            seen[ch] = 1;
        }
        if (crossings(a, b))
            fail_msg("producer at (%d,%d): %d crossing pairs (%d in slice order)", a->x, a->y,
                     crossings(a, b), identity);
        /* a producer east and below crosses in slice order: the check bites */
        if (c == 1) assert_true(identity > 0);
    }
    ir_kgraph_free(&kg);
    ir_graph_free(g);
    ir_diag_free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_straight),
        cmocka_unit_test(test_l_shaped),
        cmocka_unit_test(test_loopback_and_duplicates),
        cmocka_unit_test(test_multicast_column),
        cmocka_unit_test(test_multicast_block),
        cmocka_unit_test(test_congested_cut),
        cmocka_unit_test(test_exact_cuts),
        cmocka_unit_test(test_congested_random),
        cmocka_unit_test(test_colour_detour),
        cmocka_unit_test(test_colour_triangle),
        cmocka_unit_test(test_colour_limit_fails),
        cmocka_unit_test(test_link_limit_fails),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_checker_mutations),
        cmocka_unit_test(test_scale_wse3),
        cmocka_unit_test(test_row_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
