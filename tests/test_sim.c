/* test_sim.c - the simulator of the modeled wafer (runtime/rt.h): its
 * timing rules cycle for cycle (host streams over d links, a core on the
 * way, backpressure from a slow consumer, multicast, contended links and
 * the round-robin between them), task order on a core, every run-time and
 * description error, deadlock, the trace, determinism for 1, 2 and 4
 * threads, and that idle fabric area costs nothing. Programs are tiny
 * native C functions; each reads its parameters from its SRAM image. */
#define _GNU_SOURCE /* open_memstream */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rt.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { N = RT_PORT_N, E = RT_PORT_E, S = RT_PORT_S, W = RT_PORT_W, R = RT_PORT_RAMP };
#define BIT(p) (uint8_t)(1u << (p))
#define L0     WSE_MAX_TASKS /* the first local task */

/* The test programs' parameters, after the head of the parameter block. */
typedef struct tparams {
    uint32_t color_out; /* where results go */
    uint32_t charge;    /* cycles each task charges */
    uint32_t add;       /* added to each payload before it goes on */
    uint32_t n;         /* producer: wavelets to send */
    uint32_t count;     /* producer: sent so far */
    uint32_t fanout;    /* amplifier: wavelets sent per wavelet received */
    uint32_t work;      /* words of scratch SRAM each task churns (host time, not modeled) */
} tparams;

typedef struct timage {
    wse_head head; /* task bindings */
    tparams p;     /* the program's parameters */
} timage;

static tparams *params(wse_pe *pe) {
    return &((timage *)wse_sram(pe))->p;
}

/* Forwards every wavelet plus `add` after charging `charge` (and churning
 * `work` words of scratch SRAM, which makes its tasks worth threads). */
static void prog_fwd(wse_pe *pe, uint32_t task, uint32_t payload) {
    tparams *p = params(pe);
    uint32_t *scratch = (uint32_t *)(wse_sram(pe) + 1024);
    for (uint32_t i = 0; i < p->work; i++)
        scratch[i] = scratch[i] * 2654435761u + payload + i;
    wse_charge(pe, p->charge);
    wse_send(pe, p->color_out, payload + p->add);
}

/* Sends 0, 1, ..., n-1, one per run of local task L0, which it re-activates. */
static void prog_producer_init(wse_pe *pe) {
    wse_activate(pe, L0);
}
static void prog_producer(wse_pe *pe, uint32_t task, uint32_t payload) {
    tparams *p = params(pe);
    assert_int_equal(task, L0);
    wse_send(pe, p->color_out, p->count++);
    if (p->count < p->n) wse_activate(pe, L0);
}

/* Reports which task ran with which payload: (task << 16) | payload. */
static void prog_tag_init(wse_pe *pe) {
    wse_activate(pe, L0 + 1);
    wse_activate(pe, L0);
    wse_activate(pe, L0); /* already runnable: no second run */
}
static void prog_tag(wse_pe *pe, uint32_t task, uint32_t payload) {
    tparams *p = params(pe);
    wse_charge(pe, p->charge);
    wse_send(pe, p->color_out, task << 16 | payload);
}

/* Init sends `n` wavelets on colour_out, then one on colour_out + 1. */
static void prog_two_init(wse_pe *pe) {
    tparams *p = params(pe);
    for (uint32_t i = 0; i < p->n; i++)
        wse_send(pe, p->color_out, i);
    wse_send(pe, p->color_out + 1, 1000);
}

/* Sends `fanout` wavelets per wavelet received, starting with one from init. */
static void prog_amp_init(wse_pe *pe) {
    wse_send(pe, params(pe)->color_out, 0);
}
static void prog_amp(wse_pe *pe, uint32_t task, uint32_t payload) {
    tparams *p = params(pe);
    for (uint32_t i = 0; i < p->fanout; i++)
        wse_send(pe, p->color_out, payload + i);
}

static void prog_bad_color(wse_pe *pe, uint32_t task, uint32_t payload) {
    wse_send(pe, 99, payload);
}
static void prog_bad_activate(wse_pe *pe, uint32_t task, uint32_t payload) {
    wse_activate(pe, 5);
}
static void prog_sink(wse_pe *pe, uint32_t task, uint32_t payload) {
    wse_charge(pe, params(pe)->charge);
}

/* ------------------------------------------------------------ fabrics */

/* A fabric description under construction. */
typedef struct fab {
    ir_target t;               /* the machine */
    rt_sim_pe *pes;            /* PEs (sram pointers set by run) */
    timage *imgs;              /* their images */
    int npes;                  /* count */
    rt_sim_route *routes;      /* configurations */
    int nroutes;               /* count */
    rt_sim_input in[64];       /* host inputs */
    int nin;                   /* count */
    rt_sim_output out[64];     /* host outputs */
    int nout;                  /* count */
    int64_t max_cycles;        /* desc.max_cycles */
    const rt_sim_trace *trace; /* desc.trace */
} fab;

static fab *fab_new(int w, int h) {
    fab *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_true(ir_target_preset("wse3", &f->t));
    f->t.width = w;
    f->t.height = h;
    return f;
}

static void fab_free(fab *f) {
    free(f->pes);
    free(f->imgs);
    free(f->routes);
    free(f);
}

static void route(fab *f, int x, int y, int color, int in, uint8_t outs) {
    f->routes = realloc(f->routes, (size_t)(f->nroutes + 1) * sizeof *f->routes);
    assert_non_null(f->routes);
    f->routes[f->nroutes++] = (rt_sim_route){x, y, color, (uint8_t)in, outs};
}

/* Colour `color` from the west edge of row y straight to its east edge. */
static void row_path(fab *f, int y, int color) {
    for (int x = 0; x < f->t.width; x++)
        route(f, x, y, color, W, BIT(E));
}

/* A PE running `task` whose data task i is bound to colour bind[i] (-1 ends
 * the list); returns its parameters to fill in. */
static tparams *pe(fab *f, int x, int y, wse_task_fn task, wse_init_fn init, const int *bind) {
    f->pes = realloc(f->pes, (size_t)(f->npes + 1) * sizeof *f->pes);
    f->imgs = realloc(f->imgs, (size_t)(f->npes + 1) * sizeof *f->imgs);
    assert_true(f->pes && f->imgs);
    timage *im = &f->imgs[f->npes];
    memset(im, 0, sizeof *im);
    im->head.version = WSE_ABI_VERSION;
    for (int i = 0; i < WSE_MAX_TASKS; i++)
        im->head.task_color[i] = WSE_NO_COLOR;
    for (int i = 0; bind && bind[i] >= 0; i++)
        im->head.task_color[i] = (uint32_t)bind[i];
    f->pes[f->npes++] = (rt_sim_pe){x, y, init, task, NULL, sizeof(timage)};
    return &im->p;
}

static void input(fab *f, int y, int color, const uint32_t *data, int64_t n) {
    f->in[f->nin++] = (rt_sim_input){y, color, data, n};
}

static void output(fab *f, int y, int color) {
    f->out[f->nout++] = (rt_sim_output){y, color, 0};
}

static rt_sim_desc desc_of(fab *f, int threads) {
    for (int i = 0; i < f->npes; i++)
        f->pes[i].sram = (const uint8_t *)&f->imgs[i];
    return (rt_sim_desc){.t = &f->t,
                         .pes = f->pes,
                         .npes = f->npes,
                         .routes = f->routes,
                         .nroutes = f->nroutes,
                         .inputs = f->in,
                         .ninputs = f->nin,
                         .outputs = f->out,
                         .noutputs = f->nout,
                         .threads = threads,
                         .max_cycles = f->max_cycles,
                         .trace = f->trace};
}

/* Runs f; the messages go to *msgs (caller frees) when msgs is given, and
 * must be empty on success otherwise. */
static bool run(fab *f, int threads, rt_sim_result *r, char **msgs) {
    rt_sim_desc d = desc_of(f, threads);
    ir_diag *dg = ir_diag_new(NULL);
    bool ok = rt_sim_run(&d, r, dg);
    if (msgs)
        *msgs = strdup(ir_diag_text(dg));
    else if (!ok)
        fail_msg("unexpected failure: %s", ir_diag_text(dg));
    assert_int_equal(ir_diag_errors(dg), ok ? 0 : 1);
    ir_diag_free(dg);
    return ok;
}

/* Runs f, which must fail with a message containing `want`. */
static void expect_fail(fab *f, const char *want) {
    rt_sim_result r;
    char *msgs;
    assert_false(run(f, 1, &r, &msgs));
    if (!strstr(msgs, want)) fail_msg("expected '%s' in:\n%s", want, msgs);
    free(msgs);
    rt_sim_result_free(&r, f->nout);
}

static uint32_t *iota(int64_t n, uint32_t base) {
    uint32_t *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    assert_non_null(v);
    for (int64_t i = 0; i < n; i++)
        v[i] = base + (uint32_t)i;
    return v;
}

/* ---------------------------------------------------------- timing */

/* One wavelet over d links arrives in cycle d - 1: cycles = d. */
static void test_one_wavelet(void **state) {
    for (int w = 1; w <= 33; w += 8) {
        fab *f = fab_new(w, 2);
        row_path(f, 1, 5);
        uint32_t v = 0xdeadbeef;
        input(f, 1, 5, &v, 1);
        output(f, 1, 5);
        rt_sim_result r;
        assert_true(run(f, 1, &r, NULL));
        assert_int_equal(r.nout[0], 1);
        assert_int_equal(r.out[0][0], 0xdeadbeef);
        int d = w + 1; /* host -> (0,1), w - 1 inner links, (w-1,1) -> host */
        assert_int_equal(r.stats.cycles, d);
        assert_int_equal(r.stats.hops, d);
        assert_int_equal(r.stats.wavelets, 1);
        assert_int_equal(r.stats.tasks, 0);
        assert_int_equal(r.stats.pes, 0);
        rt_sim_result_free(&r, f->nout);
        fab_free(f);
    }
    /* Around corners: west edge of row 0 down column 0, then east on row 2. */
    fab *f = fab_new(3, 3);
    route(f, 0, 0, 0, W, BIT(S));
    route(f, 0, 1, 0, N, BIT(S));
    route(f, 0, 2, 0, N, BIT(E));
    route(f, 1, 2, 0, W, BIT(E));
    route(f, 2, 2, 0, W, BIT(E));
    uint32_t v = 7;
    input(f, 0, 0, &v, 1);
    output(f, 2, 0);
    rt_sim_result r;
    assert_true(run(f, 1, &r, NULL));
    assert_int_equal(r.nout[0], 1);
    assert_int_equal(r.stats.cycles, 6);
    assert_int_equal(r.stats.hops, 6);
    rt_sim_result_free(&r, f->nout);
    fab_free(f);
}

/* A stream of n wavelets over d links: one per cycle, cycles = n + d - 1. */
static void test_stream(void **state) {
    const int64_t ns[] = {1, 2, 3, 10, 1000};
    for (int k = 0; k < 5; k++) {
        int64_t n = ns[k];
        fab *f = fab_new(4, 1);
        row_path(f, 0, 3);
        uint32_t *data = iota(n, 100);
        input(f, 0, 3, data, n);
        output(f, 0, 3);
        rt_sim_result r;
        assert_true(run(f, 1, &r, NULL));
        assert_int_equal(r.nout[0], n);
        assert_memory_equal(r.out[0], data, (size_t)n * sizeof *data);
        assert_int_equal(r.stats.cycles, n + 5 - 1);
        assert_int_equal(r.stats.hops, 5 * n);
        assert_int_equal(r.stats.wavelets, n);
        /* Every link carries n; the first in (y, x, port) order is the
         * host's link into row 0. */
        assert_int_equal(r.stats.busiest_link, n);
        assert_int_equal(r.stats.busiest_x, -1);
        assert_int_equal(r.stats.busiest_y, 0);
        assert_int_equal(r.stats.busiest_port, E);
        rt_sim_result_free(&r, f->nout);
        /* max_cycles allows exactly the cycles the run needs. */
        f->max_cycles = n + 5 - 1;
        assert_true(run(f, 1, &r, NULL));
        rt_sim_result_free(&r, f->nout);
        f->max_cycles--;
        expect_fail(f, "the run did not finish within");
        free(data);
        fab_free(f);
    }
}

/* The fabric of the core tests: row 0 of width 3, the host's stream on
 * colour 0 down the ramp of PE (1,0), whose results go east on colour 1. */
static fab *core_fab(wse_task_fn task, uint32_t charge, uint32_t add) {
    fab *f = fab_new(3, 1);
    route(f, 0, 0, 0, W, BIT(E));
    route(f, 1, 0, 0, W, BIT(R));
    route(f, 1, 0, 1, R, BIT(E));
    route(f, 2, 0, 1, W, BIT(E));
    tparams *p = pe(f, 1, 0, task, NULL, (const int[]){0, -1});
    p->color_out = 1;
    p->charge = charge;
    p->add = add;
    output(f, 0, 1);
    return f;
}

/* A core on the way adds 2 + its cost; a stream through it runs at one
 * task per cost. */
static void test_core_timing(void **state) {
    /* Charges beyond 4096 cycles put task ends past the timing wheel. */
    const uint32_t charges[] = {0, 1, 100, 5000};
    const int32_t startup[] = {0, 1, 3, 7};
    for (int k = 0; k < 16; k++) {
        for (int64_t n = 1; n <= 50; n += 49) {
            fab *f = core_fab(prog_fwd, charges[k % 4], 1000);
            f->t.task_cycles = startup[k / 4];
            uint32_t *data = iota(n, 0);
            input(f, 0, 0, data, n);
            rt_sim_result r;
            assert_true(run(f, 1, &r, NULL));
            int64_t cost = f->t.task_cycles + charges[k % 4];
            if (cost < 1) cost = 1; /* a task takes at least one cycle */
            assert_int_equal(r.nout[0], n);
            for (int64_t i = 0; i < n; i++)
                assert_int_equal(r.out[0][i], 1000 + i);
            /* 2 links in, ramp down, n tasks back to back (the queue keeps
             * the core fed), ramp up, 2 links out. */
            assert_int_equal(r.stats.cycles, 2 + 1 + n * cost + 1 + 2);
            assert_int_equal(r.stats.tasks, n);
            assert_int_equal(r.stats.busy_cycles, n * cost);
            assert_int_equal(r.stats.wavelets, 2 * n);
            assert_int_equal(r.stats.hops, 4 * n);
            assert_int_equal(r.stats.pes, 1);
            rt_sim_result_free(&r, f->nout);
            free(data);
            fab_free(f);
        }
    }
}

/* The start cycles of the tasks of PE tid in a trace, in order; returns
 * their count. */
static int trace_starts(const char *text, long long tid, int64_t *starts, int max) {
    json_error_t err;
    json_t *a = json_loads(text, 0, &err);
    if (!a) fail_msg("trace is not JSON (%s): %s", err.text, text);
    assert_true(json_is_array(a));
    int n = 0;
    size_t i;
    json_t *e;
    json_array_foreach(a, i, e) {
        if (strcmp(json_string_value(json_object_get(e, "ph")), "X") != 0) continue;
        if (json_integer_value(json_object_get(e, "tid")) != tid) continue;
        assert_true(n < max);
        starts[n++] = json_integer_value(json_object_get(e, "ts"));
    }
    json_decref(a);
    return n;
}

/* A core's outbound queues are per colour: PE A sends 20 wavelets east to
 * a consumer B that takes 103 cycles each, then one south to C. Once
 * colour 1 backs up (A's router, B's router and B's input queue hold two
 * each, B runs one), the ramp serves colour 2: C runs at cycle 10, not
 * after B has taken 13 more (over 1300 cycles) as behind one queue. */
static void test_colour_queues(void **state) {
    fab *f = fab_new(2, 2);
    route(f, 0, 0, 1, R, BIT(E));
    route(f, 1, 0, 1, W, BIT(R));
    route(f, 1, 0, 3, R, BIT(E));
    route(f, 0, 0, 2, R, BIT(S));
    route(f, 0, 1, 2, N, BIT(R));
    route(f, 0, 1, 4, R, BIT(E));
    route(f, 1, 1, 4, W, BIT(E));
    tparams *p = pe(f, 0, 0, prog_sink, prog_two_init, NULL);
    p->color_out = 1;
    p->n = 20;
    p = pe(f, 1, 0, prog_fwd, NULL, (const int[]){1, -1});
    p->color_out = 3;
    p->charge = 100;
    p = pe(f, 0, 1, prog_fwd, NULL, (const int[]){2, -1});
    p->color_out = 4;
    output(f, 0, 3);
    output(f, 1, 4);
    char *text = NULL;
    size_t len = 0;
    FILE *tf = open_memstream(&text, &len);
    rt_sim_trace tr = {tf, 0, 0, 2, 2, 0, INT64_MAX, 0};
    f->trace = &tr;
    rt_sim_result r;
    assert_true(run(f, 1, &r, NULL));
    fclose(tf);
    assert_int_equal(r.nout[0], 20);
    assert_int_equal(r.nout[1], 1);
    assert_int_equal(r.out[1][0], 1000);
    int64_t cs[4];
    assert_int_equal(trace_starts(text, 2, cs, 4), 1);
    print_message("  C starts at cycle %lld\n", (long long)cs[0]);
    assert_true(cs[0] < 20);
    free(text);
    rt_sim_result_free(&r, f->nout);
    fab_free(f);
}

/* A producer that sends one wavelet per task (3 cycles) into a consumer
 * that takes 103 per wavelet: the consumer sets the pace, and the producer
 * runs ahead by no more than the queues between them hold. */
static void test_backpressure(void **state) {
    const int n = 40;
    fab *f = fab_new(2, 1);
    route(f, 0, 0, 1, R, BIT(E));
    route(f, 1, 0, 1, W, BIT(R));
    route(f, 1, 0, 2, R, BIT(E));
    tparams *p = pe(f, 0, 0, prog_producer, prog_producer_init, NULL);
    p->color_out = 1;
    p->n = n;
    p = pe(f, 1, 0, prog_fwd, NULL, (const int[]){1, -1});
    p->color_out = 2;
    p->charge = 100;
    output(f, 0, 2);
    char *text = NULL;
    size_t len = 0;
    FILE *tf = open_memstream(&text, &len);
    rt_sim_trace tr = {tf, 0, 0, 2, 1, 0, INT64_MAX, 0};
    f->trace = &tr;
    rt_sim_result r;
    assert_true(run(f, 1, &r, NULL));
    fclose(tf);
    assert_int_equal(r.nout[0], n);
    for (int i = 0; i < n; i++)
        assert_int_equal(r.out[0][i], i);
    /* The producer's first wavelet: task 0..3, ramp up at 3, (0,0)->(1,0)
     * at 4, down the ramp at 5; the consumer runs at 6 + 103 j, and its
     * last result goes up at 6 + 103 n and east at 7 + 103 n. */
    const int64_t k = 103;
    assert_int_equal(r.stats.cycles, 8 + n * k);

    int64_t ps[64], cs[64];
    assert_int_equal(trace_starts(text, 0, ps, 64), n);
    assert_int_equal(trace_starts(text, 1, cs, 64), n);
    for (int j = 0; j < n; j++)
        assert_int_equal(cs[j], 6 + j * k);
    /* When the producer starts its task j, j wavelets are out of it and
     * the consumer has taken those it started on: the rest sit in its
     * outbound queue (at most queue_depth, or it could not start), the two
     * router queues and the consumer's input queue, depth 2 each. */
    int most = 0;
    for (int j = 0; j < n; j++) {
        int taken = 0;
        while (taken < n && cs[taken] <= ps[j])
            taken++;
        int held = j - taken;
        assert_true(held <= 4 * 2);
        if (held > most) most = held;
    }
    assert_int_equal(most, 8);
    /* Without backpressure the producer would be done by cycle 3 n. */
    assert_true(ps[n - 1] > (n - 10) * k);
    free(text);
    rt_sim_result_free(&r, f->nout);
    fab_free(f);
}

/* A multicast leaves on both ports in the same cycle. */
static void test_multicast(void **state) {
    const int64_t n = 20;
    fab *f = fab_new(2, 2);
    route(f, 0, 0, 0, W, BIT(E) | BIT(S));
    route(f, 1, 0, 0, W, BIT(E));
    route(f, 0, 1, 0, N, BIT(E));
    route(f, 1, 1, 0, W, BIT(E));
    uint32_t *data = iota(n, 7);
    input(f, 0, 0, data, n);
    output(f, 0, 0);
    output(f, 1, 0);
    rt_sim_result r;
    assert_true(run(f, 1, &r, NULL));
    for (int o = 0; o < 2; o++) {
        assert_int_equal(r.nout[o], n);
        assert_memory_equal(r.out[o], data, (size_t)n * sizeof *data);
    }
    assert_int_equal(r.stats.cycles, n + 4 - 1);             /* the longer branch: 4 links */
    assert_int_equal(r.stats.hops, n * (1 + 2 + 1 + 1 + 1)); /* in, the fork, the two rows */
    assert_int_equal(r.stats.wavelets, n);
    rt_sim_result_free(&r, f->nout);
    free(data);
    fab_free(f);
}

/* A multicast to a slow core and the east edge waits for the core's queue:
 * the stream reaches the host only as fast as the core drains. */
static void test_multicast_waits(void **state) {
    const int64_t n = 12;
    fab *f = fab_new(2, 1);
    route(f, 0, 0, 0, W, BIT(E) | BIT(R));
    route(f, 1, 0, 0, W, BIT(E));
    tparams *p = pe(f, 0, 0, prog_sink, NULL, (const int[]){0, -1});
    p->charge = 100;
    uint32_t *data = iota(n, 0);
    input(f, 0, 0, data, n);
    output(f, 0, 0);
    /* Stop two cycles after the core's third task started: only what its
     * queue could take has passed the multicast. */
    const int64_t k = 103;
    f->max_cycles = 2 + 2 * k + 2;
    rt_sim_result r;
    char *msgs;
    assert_false(run(f, 1, &r, &msgs));
    assert_non_null(strstr(msgs, "did not finish within"));
    free(msgs);
    /* Wavelets 0 (run at 2), 1 and 2 (queued), then 3 and 4 as the core
     * took 1 and 2 (at 2 + k and 2 + 2k), each reaching the host a cycle
     * after it passed. */
    assert_int_equal(r.nout[0], 5);
    rt_sim_result_free(&r, f->nout);

    f->max_cycles = 0;
    assert_true(run(f, 1, &r, NULL));
    assert_int_equal(r.nout[0], n);
    assert_int_equal(r.stats.cycles, 2 + n * k);
    rt_sim_result_free(&r, f->nout);
    free(data);
    fab_free(f);
}

/* Two colours from two ports share one link: it carries one wavelet per
 * cycle, and neither starves. */
static void test_contention(void **state) {
    const int64_t n = 200;
    fab *f = fab_new(2, 2);
    route(f, 0, 0, 0, W, BIT(E));
    route(f, 1, 0, 0, W, BIT(E));
    route(f, 0, 1, 1, W, BIT(N));
    route(f, 0, 0, 1, S, BIT(E));
    route(f, 1, 0, 1, W, BIT(E));
    uint32_t *a = iota(n, 0), *b = iota(n, 1u << 20);
    input(f, 0, 0, a, n);
    input(f, 1, 1, b, n);
    output(f, 0, 0);
    output(f, 0, 1);
    rt_sim_result r;
    assert_true(run(f, 1, &r, NULL));
    assert_memory_equal(r.out[0], a, (size_t)n * sizeof *a);
    assert_memory_equal(r.out[1], b, (size_t)n * sizeof *b);
    /* (0,0) east carries 2n wavelets in cycles 1..2n, then one more link. */
    assert_int_equal(r.stats.cycles, 2 * n + 2);
    assert_int_equal(r.stats.busiest_link, 2 * n);
    assert_int_equal(r.stats.busiest_x, 0);
    assert_int_equal(r.stats.busiest_y, 0);
    assert_int_equal(r.stats.busiest_port, E);
    rt_sim_result_free(&r, f->nout);
    /* Halfway, each colour has had its half of the link. */
    f->max_cycles = n + 2;
    char *msgs;
    assert_false(run(f, 1, &r, &msgs));
    free(msgs);
    assert_true(r.nout[0] >= n / 2 - 1 && r.nout[0] <= n / 2 + 1);
    assert_true(r.nout[1] >= n / 2 - 1 && r.nout[1] <= n / 2 + 1);
    assert_int_equal(r.nout[0] + r.nout[1], n);
    rt_sim_result_free(&r, f->nout);
    free(a);
    free(b);
    fab_free(f);
}

/* Inputs on one row take turns at the host's link into it. */
static void test_host_round_robin(void **state) {
    const int64_t n = 30;
    fab *f = fab_new(3, 1);
    row_path(f, 0, 0);
    row_path(f, 0, 4);
    uint32_t *a = iota(n, 0), *b = iota(n / 2, 500);
    input(f, 0, 4, a, n);
    input(f, 0, 0, b, n / 2);
    output(f, 0, 0);
    output(f, 0, 4);
    rt_sim_result r;
    assert_true(run(f, 1, &r, NULL));
    assert_memory_equal(r.out[0], b, (size_t)(n / 2) * sizeof *b);
    assert_memory_equal(r.out[1], a, (size_t)n * sizeof *a);
    /* 3n/2 wavelets one per cycle over 4 links. */
    assert_int_equal(r.stats.cycles, n + n / 2 + 4 - 1);
    rt_sim_result_free(&r, f->nout);
    /* Alternating: after 10 cycles, 5 of each are in. */
    f->max_cycles = 10 + 3;
    char *msgs;
    assert_false(run(f, 1, &r, &msgs));
    free(msgs);
    assert_int_equal(r.nout[0], 5);
    assert_int_equal(r.nout[1], 5);
    rt_sim_result_free(&r, f->nout);
    free(a);
    free(b);
    fab_free(f);
}

/* Local tasks first, lowest id first; then the waiting data task with the
 * lowest id; activating a runnable task again is a no-op. */
static void test_task_order(void **state) {
    fab *f = fab_new(2, 1);
    route(f, 0, 0, 0, W, BIT(R));
    route(f, 0, 0, 2, W, BIT(R));
    route(f, 0, 0, 4, R, BIT(E));
    route(f, 1, 0, 4, W, BIT(E));
    /* Task 3 on colour 0, task 1 on colour 2. */
    tparams *p = pe(f, 0, 0, prog_tag, prog_tag_init, (const int[]){9, 2, 10, 0, -1});
    p->color_out = 4;
    p->charge = 50;
    uint32_t a[] = {100, 101, 102}, b[] = {200, 201, 202};
    input(f, 0, 0, a, 3);
    input(f, 0, 2, b, 3);
    output(f, 0, 4);
    rt_sim_result r;
    assert_true(run(f, 1, &r, NULL));
    const uint32_t want[] = {16u << 16,      17u << 16,      1u << 16 | 200, 1u << 16 | 201,
                             1u << 16 | 202, 3u << 16 | 100, 3u << 16 | 101, 3u << 16 | 102};
    assert_int_equal(r.nout[0], 8);
    assert_memory_equal(r.out[0], want, sizeof want);
    assert_int_equal(r.stats.tasks, 8);
    rt_sim_result_free(&r, f->nout);
    fab_free(f);
}

/* ----------------------------------------------------------- errors */

static void test_route_errors(void **state) {
    uint32_t v = 1;
    /* The next router takes colour 0 from the north only. */
    fab *f = fab_new(3, 2);
    route(f, 0, 0, 0, W, BIT(E));
    route(f, 1, 0, 0, N, BIT(E));
    input(f, 0, 0, &v, 1);
    expect_fail(f, "wavelet on colour 0 reached router (1,0) from west, which has no route for it");
    fab_free(f);
    /* No configuration there at all. */
    f = fab_new(3, 2);
    route(f, 0, 1, 2, W, BIT(E));
    route(f, 1, 1, 3, W, BIT(E));
    input(f, 1, 2, &v, 1);
    expect_fail(f, "wavelet on colour 2 reached router (1,1) from west, which has no route for it");
    fab_free(f);
    /* Off the fabric: north, south, and west at the west edge. */
    const int port[] = {N, S, W};
    const char *const want[] = {"router (0,0) sends colour 0 north, off the fabric",
                                "router (0,1) sends colour 0 south, off the fabric",
                                "router (0,0) sends colour 0 west, off the fabric"};
    for (int k = 0; k < 3; k++) {
        f = fab_new(2, 2);
        int y = port[k] == S;
        route(f, 0, y, 0, W, BIT(port[k]));
        input(f, y, 0, &v, 1);
        expect_fail(f, want[k]);
        fab_free(f);
    }
    /* East edge with no output registered for the colour. */
    f = fab_new(2, 1);
    row_path(f, 0, 1);
    input(f, 0, 1, &v, 1);
    output(f, 0, 2);
    expect_fail(f, "router (1,0) sends colour 1 east to the host, but no output is registered for "
                   "row 0, colour 1");
    fab_free(f);
    /* Down a ramp where there is no program. */
    f = fab_new(2, 1);
    route(f, 0, 0, 0, W, BIT(E));
    route(f, 1, 0, 0, W, BIT(R));
    input(f, 0, 0, &v, 1);
    expect_fail(f, "router (1,0) delivers colour 0 to its core, but PE (1,0) has no program");
    fab_free(f);
    /* To a core on a colour no task is bound to. */
    f = fab_new(2, 1);
    route(f, 0, 0, 0, W, BIT(E));
    route(f, 1, 0, 0, W, BIT(R));
    pe(f, 1, 0, prog_fwd, NULL, (const int[]){3, -1});
    input(f, 0, 0, &v, 1);
    expect_fail(f, "wavelet on colour 0 reached PE (1,0), which has no task bound to colour 0");
    fab_free(f);
    /* Up a ramp on a colour the router does not take from the ramp. */
    f = core_fab(prog_fwd, 0, 0);
    f->routes[2].in = N;
    input(f, 0, 0, &v, 1);
    expect_fail(f, "wavelet on colour 1 reached router (1,0) from ramp, which has no route for it");
    fab_free(f);
}

static void test_program_errors(void **state) {
    uint32_t v = 1;
    fab *f = core_fab(prog_bad_color, 0, 0);
    input(f, 0, 0, &v, 1);
    expect_fail(f, "PE (1,0): task 0 sent a wavelet on colour 99, but the target has 24 colours");
    fab_free(f);
    f = core_fab(prog_bad_activate, 0, 0);
    input(f, 0, 0, &v, 1);
    expect_fail(f, "PE (1,0): task 0 activated task 5, which is not a local task (16..31)");
    fab_free(f);
    f = core_fab(prog_fwd, 0, 0);
    f->imgs[0].head.task_color[4] = 0;
    expect_fail(f, "PE (1,0) binds data tasks 0 and 4 to colour 0");
    fab_free(f);
    f = core_fab(prog_fwd, 0, 0);
    f->imgs[0].head.task_color[2] = 24;
    expect_fail(f, "PE (1,0) binds data task 2 to colour 24, but the target has 24 colours");
    fab_free(f);
}

/* A core that sends three wavelets back to itself per wavelet it gets
 * fills its loop, then may not start (its outbound queue is over its
 * bound) and so never drains it. Init's wavelet goes up at 0, down at 1;
 * task 1 runs 2..5; its three go up at 5, 6, 7 while task 2 runs 7..10
 * (the outbound queue is back to 2 at 6); task 2's three leave the core
 * gated at 10 until one goes up, task 3 runs 11..14, and its three find the
 * router queue and the core's input queue full: nothing moves at 15. */
static void test_deadlock(void **state) {
    fab *f = fab_new(1, 1);
    route(f, 0, 0, 1, R, BIT(R));
    tparams *p = pe(f, 0, 0, prog_amp, prog_amp_init, (const int[]){1, -1});
    p->color_out = 1;
    p->fanout = 3;
    rt_sim_result r;
    char *msgs;
    assert_false(run(f, 2, &r, &msgs));
    if (!strstr(msgs, "deadlock at cycle 15: 7 wavelets stuck") ||
        !strstr(msgs, "router (0,0) colour 1: 2 wavelets queued") ||
        !strstr(msgs, "PE (0,0): 2 wavelets waiting for task 0") ||
        !strstr(msgs, "PE (0,0): 3 wavelets in its outbound queues (it may start no task until it "
                      "drains)") ||
        /* and the cycle that holds it: router queue, core input, core output */
        !strstr(msgs, "a cycle of 3 full queues, each waiting for the next:") ||
        !strstr(msgs, "  colour 1 at router (0,0): full") ||
        !strstr(msgs, "  PE (0,0) data task 0 (colour 1): input queue full") ||
        !strstr(msgs,
                "  PE (0,0): 3 wavelets in its outbound queues, over the depth 2, so it starts "
                "no task; its oldest is on colour 1"))
        fail_msg("unexpected report:\n%s", msgs);
    free(msgs);
    /* The statistics until then. */
    assert_int_equal(r.stats.tasks, 3);
    assert_int_equal(r.stats.wavelets, 1 + 3 * 3);
    assert_int_equal(r.stats.cycles, 14);
    rt_sim_result_free(&r, f->nout);
    fab_free(f);

    /* With a fan-out of 1 it runs until max_cycles. */
    f = fab_new(1, 1);
    route(f, 0, 0, 1, R, BIT(R));
    p = pe(f, 0, 0, prog_amp, prog_amp_init, (const int[]){1, -1});
    p->color_out = 1;
    p->fanout = 1;
    f->max_cycles = 1000;
    expect_fail(f, "the run did not finish within 1000 cycles (max_cycles)");
    fab_free(f);
}

/* Every kind of malformed description is reported, never run. */
static void test_validation(void **state) {
    uint32_t v = 1;
    fab *f;
#define CASE(setup, want)                                                                          \
    do {                                                                                           \
        f = core_fab(prog_fwd, 0, 0);                                                              \
        input(f, 0, 0, &v, 1);                                                                     \
        setup;                                                                                     \
        expect_fail(f, want);                                                                      \
        fab_free(f);                                                                               \
    } while (0)
    CASE(f->pes[0].x = 5, "PE 0 at (5,0) lies outside the 3x1 fabric");
    CASE(f->pes[0].y = -1, "PE 0 at (1,-1) lies outside the 3x1 fabric");
    CASE(f->pes[0].task = NULL, "PE (1,0) has no task entry");
    CASE((pe(f, 1, 0, prog_fwd, NULL, NULL)), "PE (1,0) is given twice");
    CASE(f->pes[0].sram_len = 49153, "PE (1,0): SRAM image of 49153 bytes does not fit in 49152");
    CASE(f->routes[1].x = 3, "route 1 at router (3,0) lies outside the 3x1 fabric");
    CASE(f->routes[1].color = 24, "route 1 at router (1,0): colour 24 is out of range (0..23)");
    CASE(f->routes[1].color = -1, "route 1 at router (1,0): colour -1 is out of range (0..23)");
    CASE(f->routes[1].in = 5,
         "route 1 at router (1,0) colour 0: ports in 5, outs 0x10 are not valid");
    CASE(f->routes[1].outs = 0,
         "route 1 at router (1,0) colour 0: ports in 3, outs 0x0 are not valid");
    CASE(f->routes[1].outs = 0x20, "ports in 3, outs 0x20 are not valid");
    CASE(route(f, 1, 0, 0, N, BIT(E)), "router (1,0) is configured twice for colour 0");
    CASE(f->in[0].y = 1, "input 0 (row 1, colour 0, 1 wavelets) is not valid");
    CASE(f->in[0].color = 30, "input 0 (row 0, colour 30, 1 wavelets) is not valid");
    CASE(f->in[0].n = -1, "input 0 (row 0, colour 0, -1 wavelets) is not valid");
    CASE(f->in[0].data = NULL, "input 0 (row 0, colour 0, 1 wavelets) is not valid");
    CASE(f->in[0].color = 1,
         "input 0: router (0,0) has no configuration for colour 1 that accepts it from west");
    CASE(f->routes[0].in = N,
         "input 0: router (0,0) has no configuration for colour 0 that accepts it from west");
    CASE(f->out[0].y = 2, "output 0 (row 2, colour 1) is not valid");
    CASE(output(f, 0, 1), "outputs 0 and 1 both collect row 0, colour 1");
    CASE(f->t.colors = 65, "simulator: 65 colours are out of range (1..64)");
    CASE(f->t.queue_depth = 0, "simulator: queue depth 0 is out of range");
    CASE(f->t.hop_cycles = 2, "only 1 wavelet per link per cycle and 1 cycle per hop are modeled");
    CASE(f->t.link_wavelets = 2, "the target has link_wavelets = 2, hop_cycles = 1");
    CASE(f->max_cycles = -1, "simulator: max_cycles must not be negative");
#undef CASE
    f = core_fab(prog_fwd, 0, 0);
    rt_sim_desc d = desc_of(f, 0);
    rt_sim_result r;
    ir_diag *dg = ir_diag_new(NULL);
    assert_false(rt_sim_run(&d, &r, dg));
    assert_non_null(strstr(ir_diag_text(dg), "threads must be at least 1 (got 0)"));
    rt_sim_result_free(&r, f->nout);
    d = desc_of(f, 1);
    d.npes = -1;
    assert_false(rt_sim_run(&d, &r, dg));
    d = desc_of(f, 1);
    d.routes = NULL;
    assert_false(rt_sim_run(&d, &r, dg));
    d = desc_of(f, 1);
    d.t = NULL;
    assert_false(rt_sim_run(&d, &r, dg));
    rt_sim_trace tr = {0};
    d = desc_of(f, 1);
    d.trace = &tr;
    assert_false(rt_sim_run(&d, &r, dg));
    assert_non_null(strstr(ir_diag_text(dg), "the trace has no file"));
    assert_int_equal(ir_diag_errors(dg), 5);
    rt_sim_result_free(&r, f->nout);
    ir_diag_free(dg);
    fab_free(f);
}

/* ----------------------------------------------------- the trace */

static void test_trace(void **state) {
    /* Three PEs in a row each forward (charge 10): tasks at known cycles. */
    fab *f = fab_new(4, 1);
    route(f, 0, 0, 0, W, BIT(R));
    route(f, 0, 0, 1, R, BIT(E));
    route(f, 1, 0, 1, W, BIT(R));
    route(f, 1, 0, 2, R, BIT(E));
    route(f, 2, 0, 2, W, BIT(R));
    route(f, 2, 0, 3, R, BIT(E));
    route(f, 3, 0, 3, W, BIT(E));
    for (int x = 0; x < 3; x++) {
        tparams *p = pe(f, x, 0, prog_fwd, NULL, (const int[]){x, -1});
        p->color_out = (uint32_t)x + 1;
        p->charge = 10;
    }
    output(f, 0, 3);
    uint32_t *data = iota(5, 0);
    input(f, 0, 0, data, 5);
    const int64_t k = 13;
    /* PE x's task j starts at 2 + x (k + 3) + j k: k + 3 is its cost, up
     * the ramp, one link and down the next ramp. */
    struct {
        rt_sim_trace tr;
        int events;
    } cases[] = {
        {{NULL, 0, 0, 4, 1, 0, INT64_MAX, 0}, 15},
        {{NULL, 1, 0, 2, 1, 0, INT64_MAX, 0}, 5}, /* PE (1,0) only */
        {{NULL, 0, 0, 4, 1, 0, INT64_MAX, 7}, 7}, /* max_events */
        {{NULL, 0, 0, 4, 1, 2 + k, 2 + 2 * k, 0},
         2},                                      /* [15, 28): (0,0) j=1 at 15, (1,0) j=0 at 18 */
        {{NULL, 0, 1, 4, 2, 0, INT64_MAX, 0}, 0}, /* no PE in the rectangle */
    };
    for (int c = 0; c < 5; c++) {
        char *text = NULL;
        size_t len = 0;
        cases[c].tr.f = open_memstream(&text, &len);
        f->trace = &cases[c].tr;
        rt_sim_result r;
        assert_true(run(f, 1, &r, NULL));
        fclose(cases[c].tr.f);
        /* The last task of (2,0) ends at 2 + 2 (k + 3) + 5 k, then the ramp
         * and two links. */
        assert_int_equal(r.stats.cycles, 2 + 2 * (k + 3) + 5 * k + 3);
        json_error_t err;
        json_t *a = json_loads(text, 0, &err);
        if (!a) fail_msg("not JSON: %s\n%s", err.text, text);
        int events = 0, names = 0;
        size_t i;
        json_t *e;
        json_array_foreach(a, i, e) {
            const char *ph = json_string_value(json_object_get(e, "ph"));
            json_int_t tid = json_integer_value(json_object_get(e, "tid"));
            assert_int_equal(json_integer_value(json_object_get(e, "pid")), 0);
            if (strcmp(ph, "M") == 0) {
                char want[32];
                snprintf(want, sizeof want, "PE (%d,0)", (int)tid);
                assert_string_equal(
                    json_string_value(json_object_get(json_object_get(e, "args"), "name")), want);
                names++;
                continue;
            }
            assert_string_equal(ph, "X");
            int x = (int)tid;
            json_int_t ts = json_integer_value(json_object_get(e, "ts"));
            assert_int_equal(json_integer_value(json_object_get(e, "dur")), k);
            assert_string_equal(json_string_value(json_object_get(e, "name")), "task 0");
            assert_true(ts >= 2 + x * (k + 3));
            assert_int_equal((ts - 2 - x * (k + 3)) % k, 0);
            assert_true(ts >= cases[c].tr.c0 && ts < cases[c].tr.c1);
            events++;
        }
        assert_int_equal(events, cases[c].events);
        assert_true(names >= 1 || events == 0);
        json_decref(a);
        free(text);
        rt_sim_result_free(&r, f->nout);
    }
    free(data);
    fab_free(f);
}

/* ------------------------------------------------ determinism, scale */

/* Each PE adds its own value to every wavelet and forwards it east, on
 * colours alternating 0, 1 along the row. The host feeds the first `fed`
 * rows, whose column x PEs then start their tasks in the same cycles, so
 * batches hold `fed` tasks or more; each task churns scratch SRAM long
 * enough for the pool to take them when there are threads. The other rows
 * start with a producer (local tasks) instead. */
static uint32_t add_of(int x, int y) {
    return (uint32_t)(1000 * y + x + 1);
}

static void test_determinism(void **state) {
    const int w = 4, h = 48, fed = 40;
    const int64_t n = 64;
    uint32_t *data = iota(n, 0);
    fab *f = fab_new(w, h);
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            int cin = x % 2, cout = 1 - cin;
            if (x > 0 || y < fed) route(f, x, y, cin, W, BIT(R));
            route(f, x, y, cout, R, BIT(E));
            tparams *p;
            if (x == 0 && y >= fed) {
                p = pe(f, x, y, prog_producer, prog_producer_init, NULL);
                p->n = (uint32_t)n;
            } else {
                p = pe(f, x, y, prog_fwd, NULL, (const int[]){cin, -1});
                p->add = add_of(x, y);
                p->charge = (uint32_t)(x * 7 % 5);
                p->work = 2048;
            }
            p->color_out = (uint32_t)cout;
        }
        output(f, y, w % 2);
        if (y < fed) input(f, y, 0, data, n);
    }
    rt_sim_result r[3];
    char *traces[3];
    size_t lens[3];
    const int threads[3] = {1, 2, 4};
    for (int k = 0; k < 3; k++) {
        traces[k] = NULL;
        rt_sim_trace tr = {open_memstream(&traces[k], &lens[k]), 0, 0, w, h, 0, INT64_MAX, 0};
        f->trace = &tr;
        assert_true(run(f, threads[k], &r[k], NULL));
        fclose(tr.f);
    }
    for (int y = 0; y < h; y++) {
        assert_int_equal(r[0].nout[y], n);
        for (int64_t i = 0; i < n; i++) {
            uint32_t want = (uint32_t)i;
            for (int x = y < fed ? 0 : 1; x < w; x++)
                want += add_of(x, y);
            assert_int_equal(r[0].out[y][i], want);
        }
    }
    assert_int_equal(r[0].stats.tasks, (int64_t)w * h * n);
    for (int k = 1; k < 3; k++) {
        for (int y = 0; y < h; y++) {
            assert_int_equal(r[k].nout[y], r[0].nout[y]);
            assert_memory_equal(r[k].out[y], r[0].out[y], (size_t)n * sizeof(uint32_t));
        }
        assert_memory_equal(&r[k].stats, &r[0].stats, sizeof r[0].stats);
        assert_int_equal(lens[k], lens[0]);
        assert_memory_equal(traces[k], traces[0], lens[0]);
    }
    for (int k = 0; k < 3; k++) {
        rt_sim_result_free(&r[k], f->nout);
        free(traces[k]);
    }
    free(data);
    fab_free(f);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The whole wse3 wafer with a few rows in use costs what those rows cost. */
static void test_big_fabric(void **state) {
    fab *f = fab_new(762, 1172);
    ir_target full;
    assert_true(ir_target_preset("wse3", &full));
    assert_int_equal(f->t.width, full.width);
    assert_int_equal(f->t.height, full.height);
    const int rows[] = {0, 585, 1171};
    const int64_t n = 100;
    uint32_t *data = iota(n, 0);
    for (int k = 0; k < 3; k++) {
        int y = rows[k];
        /* West edge to a PE at x = 380, which adds y and goes on east. */
        for (int x = 0; x < 762; x++) {
            if (x < 380) route(f, x, y, 0, W, BIT(E));
            if (x == 380) {
                route(f, x, y, 0, W, BIT(R));
                route(f, x, y, 1, R, BIT(E));
            }
            if (x > 380) route(f, x, y, 1, W, BIT(E));
        }
        tparams *p = pe(f, 380, y, prog_fwd, NULL, (const int[]){0, -1});
        p->color_out = 1;
        p->add = (uint32_t)y;
        input(f, y, 0, data, n);
        output(f, y, 1);
    }
    double t0 = now();
    rt_sim_result r;
    assert_true(run(f, 2, &r, NULL));
    double dt = now() - t0;
    for (int k = 0; k < 3; k++) {
        assert_int_equal(r.nout[k], n);
        for (int64_t i = 0; i < n; i++)
            assert_int_equal(r.out[k][i], (uint32_t)i + (uint32_t)rows[k]);
    }
    /* 381 links in, the core (n tasks of 3 cycles), 382 links out. */
    assert_int_equal(r.stats.cycles, 381 + 1 + n * 3 + 1 + 382);
    assert_true(dt < 0.5);
    rt_sim_result_free(&r, f->nout);
    free(data);
    fab_free(f);
}

/* Progress is reported at cycle 0 and every 2^16 cycles after, and a long
 * task is jumped over, not stepped through. */
static int64_t progress_calls, progress_last;
static void on_progress(void *ctx, int64_t cycle, int64_t got, int64_t expect) {
    assert_ptr_equal(ctx, &progress_calls);
    assert_true(cycle >= progress_last);
    assert_int_equal(expect, 3);
    assert_true(got <= 3);
    progress_last = cycle;
    progress_calls++;
}

static void test_progress(void **state) {
    fab *f = core_fab(prog_fwd, 100000, 0);
    f->out[0].expect = 3;
    uint32_t *data = iota(3, 0);
    input(f, 0, 0, data, 3);
    rt_sim_desc d = desc_of(f, 1);
    d.progress = on_progress;
    d.progress_ctx = &progress_calls;
    rt_sim_result r;
    ir_diag *dg = ir_diag_new(NULL);
    double t0 = now();
    assert_true(rt_sim_run(&d, &r, dg));
    assert_true(now() - t0 < 0.5);
    assert_int_equal(r.stats.cycles, 2 + 1 + 3 * 100003 + 1 + 2);
    assert_true(progress_calls >= 4 && progress_calls <= 8);
    rt_sim_result_free(&r, f->nout);
    ir_diag_free(dg);
    free(data);
    fab_free(f);
}

/* An empty fabric ends at once. */
static void test_empty(void **state) {
    fab *f = fab_new(5, 5);
    rt_sim_result r;
    assert_true(run(f, 4, &r, NULL));
    assert_int_equal(r.stats.cycles, 0);
    assert_int_equal(r.stats.busiest_link, 0);
    rt_sim_result_free(&r, 0);
    /* A program that only runs its init and one local task. */
    tparams *p = pe(f, 2, 2, prog_tag, prog_tag_init, NULL);
    p->charge = 7;
    p->color_out = 0;
    route(f, 2, 2, 0, R, BIT(R));
    f->imgs[0].head.task_color[0] = 0;
    f->max_cycles = 200;
    /* Tasks 16 and 17 send to the core itself, and task 0 sends each
     * wavelet around again, forever: stopped by max_cycles. */
    expect_fail(f, "did not finish within 200 cycles");
    fab_free(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_wavelet),
        cmocka_unit_test(test_stream),
        cmocka_unit_test(test_core_timing),
        cmocka_unit_test(test_backpressure),
        cmocka_unit_test(test_colour_queues),
        cmocka_unit_test(test_multicast),
        cmocka_unit_test(test_multicast_waits),
        cmocka_unit_test(test_contention),
        cmocka_unit_test(test_host_round_robin),
        cmocka_unit_test(test_task_order),
        cmocka_unit_test(test_route_errors),
        cmocka_unit_test(test_program_errors),
        cmocka_unit_test(test_deadlock),
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_trace),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_big_fabric),
        cmocka_unit_test(test_progress),
        cmocka_unit_test(test_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
