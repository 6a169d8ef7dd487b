/* cmd_compile.c - `wsc compile`: the IR pipeline, then lowering and tiling
 * to kernels, placement, routing, the independent legality checks, and the
 * artifact, and the PE programs through LLVM (codegen/, section 'PROG'). */
#include "cg.h"
#include "driver.h"
#include "pass.h"
#include "pl.h"
#include "rt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <xxhash.h>

/* The router's nets with their routes, as the artifact stores them. */
static void to_routes(const pl_net *nets, const pl_netinfo *info, const pl_routing *pr,
                      double period, rt_routes *out) {
    memset(out, 0, sizeof *out);
    out->arena = ir_arena_new();
    out->n = pr->nroutes;
    out->nets = ir_alloc(out->arena, sizeof(rt_net) * ((size_t)out->n + 1));
    out->max_link_load = pr->max_link_load;
    out->period = period;
    out->max_colors = pr->max_colors;
    out->mean_colors = pr->mean_colors;
    for (int32_t i = 0; i < pr->nroutes; i++) {
        rt_net *n = &out->nets[i];
        const pl_net *p = &nets[i];
        n->kernel = info[i].kernel;
        n->stream = info[i].stream;
        n->role = info[i].role;
        n->producer = info[i].producer;
        n->np = info[i].np, n->lo = info[i].lo, n->hi = info[i].hi;
        n->color = pr->routes[i].color;
        n->sx = p->sx, n->sy = p->sy;
        n->load = p->load;
        n->nsinks = p->nsinks;
        n->kx = (int32_t *)p->kx, n->ky = (int32_t *)p->ky;
        n->nhops = pr->routes[i].nhops;
        n->hops = ir_alloc(out->arena, sizeof(rt_hop) * ((size_t)n->nhops + 1));
        for (int32_t j = 0; j < n->nhops; j++) {
            const pl_hop *h = &pr->routes[i].hops[j];
            n->hops[j] = (rt_hop){h->x, h->y, h->in, h->outs};
        }
    }
}

/* 'PROG' (docs/codegen.md): u32 program count; per program u32 kernel
 * kind, u32 supported (0/1), u64 bitcode length and the bitcode; then u32
 * kernel count and per kernel its u32 program index. */
static void encode_programs(const cg_programs *p, rt_buf *b) {
    rt_put_u32(b, (uint32_t)p->n);
    for (int32_t j = 0; j < p->n; j++) {
        rt_put_u32(b, (uint32_t)p->p[j].kind);
        rt_put_u32(b, p->p[j].supported);
        rt_put_u64(b, p->p[j].len);
        rt_put_bytes(b, p->p[j].bitcode, p->p[j].len);
    }
    rt_put_u32(b, (uint32_t)p->nk);
    for (int32_t i = 0; i < p->nk; i++)
        rt_put_u32(b, (uint32_t)p->prog_of[i]);
}

/* --time-report: wall time per compile phase, in the order phases first
 * ran (a phase that runs again, as when the mapping by heads falls back,
 * adds to its line), then the total and the peak resident memory. */
enum { MAX_PHASES = 16 };
typedef struct phases {
    bool on;                      /* --time-report given */
    double start, mark;           /* the clock at the start and at the last mark */
    const char *name[MAX_PHASES]; /* phase names */
    double secs[MAX_PHASES];      /* their wall seconds */
    int n;                        /* phases seen */
} phases;

static double clock_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Charges the time since the last mark to phase `name`. */
static void phase_end(phases *p, const char *name) {
    if (!p->on) return;
    double t = clock_now();
    int i = 0;
    while (i < p->n && strcmp(p->name[i], name) != 0)
        i++;
    if (i == p->n) {
        if (p->n == MAX_PHASES) ir_internal_error("more than %d compile phases", MAX_PHASES);
        p->name[p->n] = name, p->secs[p->n++] = 0;
    }
    p->secs[i] += t - p->mark;
    p->mark = t;
}

static void phases_print(const phases *p) {
    if (!p->on) return;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    fprintf(stderr, "wsc: compile time report (wall seconds)\n");
    for (int i = 0; i < p->n; i++)
        fprintf(stderr, "  %-16s %8.3f\n", p->name[i], p->secs[i]);
    fprintf(stderr, "  %-16s %8.3f\n", "total", clock_now() - p->start);
    fprintf(stderr, "  peak memory      %8.1f MiB\n", (double)ru.ru_maxrss / 1024);
}

/* One mapping of the model onto the fabric: kernels, placement, nets and
 * routes. */
typedef struct mapping {
    ir_kgraph kg;     /* kernels, sized and placed */
    pl_problem prob;  /* the placement problem */
    pl_placement pl;  /* where the kernels are */
    ir_arena *arena;  /* the nets' sink arrays */
    pl_net *nets;     /* every stream cut into multicasts */
    pl_netinfo *info; /* what each net carries */
    int32_t nnets;    /* count */
    pl_routing pr;    /* their routes */
    double period;    /* the pipeline period, cycles */
} mapping;

static void mapping_free(mapping *m) {
    pl_routing_free(&m->pr);
    free(m->nets);
    ir_arena_free(m->arena);
    pl_placement_free(&m->pl);
    pl_problem_free(&m->prob);
    ir_kgraph_free(&m->kg);
    memset(m, 0, sizeof *m);
}

/* Lowers, tiles, places and routes g for the target; false when refused
 * (reported on d). */
static bool map_model(const drv_args *a, const ir_graph *g, mapping *m, phases *ph, ir_diag *d) {
    const ir_target *t = &a->machine;
    memset(m, 0, sizeof *m);
    m->arena = ir_arena_new();
    bool tiled = pass_lower(g, &m->kg, d) && pass_tile(g, &m->kg, t, d);
    phase_end(ph, "lower and tile");
    if (!tiled) return false;
    m->period = 1;
    for (int32_t i = 0; i < m->kg.nk; i++)
        m->period = (double)m->kg.k[i].cycles > m->period ? (double)m->kg.k[i].cycles : m->period;
    pl_problem_from_kgraph(&m->kg, t, a->seed, &m->prob);
    bool placed = pl_place(&m->prob, &m->pl, d);
    phase_end(ph, "place");
    if (!placed) return false;
    if (!pl_check_placement(&m->prob, m->pl.x, m->pl.y, d))
        ir_internal_error("the placer produced an illegal placement");
    for (int32_t i = 0; i < m->kg.nk; i++)
        m->kg.k[i].x = m->pl.x[i], m->kg.k[i].y = m->pl.y[i];
    pl_order_rows(g, &m->kg);
    m->nnets = pl_build_nets(g, &m->kg, &m->period, &m->nets, &m->info, m->arena);
    phase_end(ph, "nets");
    bool routed =
        pl_route(t->width, t->height, m->nets, m->nnets, t->colors, t->link_wavelets, &m->pr, d);
    phase_end(ph, "route");
    if (!routed) return false;
    if (!pl_check_routes(t->width, t->height, m->nets, m->nnets, &m->pr, t->colors,
                         t->link_wavelets, d))
        ir_internal_error("the router produced routes that its checker refutes");
    phase_end(ph, "check routes");
    return true;
}

int drv_compile(const drv_args *a, ir_diag *d) {
    ir_graph *g = NULL;
    phases ph = {a->time_report, 0, 0, {0}, {0}, 0};
    ph.start = ph.mark = clock_now();
    int status = drv_front_end(a, d, &g);
    phase_end(&ph, "front end");
    if (!status) status = drv_pipeline(a, d, &g);
    phase_end(&ph, "passes");
    if (status || a->stop_after) {
        ir_graph_free(g);
        phases_print(&ph);
        return status;
    }
    const ir_target *t = &a->machine;
    /* Attention by heads first (docs/kernels.md); should that mapping not
     * fit or route, the batched one the model spells out. Without heads in
     * the model both are the same, and it is tried once. */
    mapping mp;
    g->by_heads = ir_graph_has_heads(g);
    ir_diag *quiet = g->by_heads ? ir_diag_new(NULL) : NULL;
    bool ok = map_model(a, g, &mp, &ph, quiet ? quiet : d);
    if (quiet) {
        ir_diag_free(quiet);
        if (!ok) {
            mapping_free(&mp);
            g->by_heads = false;
            ok = map_model(a, g, &mp, &ph, d);
        }
    }
    const ir_kgraph *kg = &mp.kg;
    if (ok && a->emit && strcmp(a->emit, "kernels") == 0) {
        pass_print_kernels(g, kg, stdout);
        printf("period %.0f cycles; placement cost %.6g, lower bound %.6g; nets %d, link load max "
               "%.3g, colours max %d\n",
               mp.period, mp.pl.cost, mp.pl.lower_bound, mp.nnets, mp.pr.max_link_load,
               mp.pr.max_colors);
    }
    /* PE programs (codegen/): printed for --emit llvm, stored in 'PROG'. */
    bool want_llvm = a->emit && strcmp(a->emit, "llvm") == 0;
    cg_programs progs = {0};
    if (ok && (want_llvm || a->outdir)) {
        ok = cg_generate(g, kg, t, &progs, d);
        if (ok && progs.nunsupported) {
            ir_warning(d, IR_NOLOC,
                       "%d of %d kernels have no PE program yet (their program traps when run)",
                       progs.nunsupported, kg->nk);
            for (int32_t i = 0; i < progs.nunsupported && i < 8; i++) {
                int32_t k = progs.unsupported[i];
                ir_note(d, IR_NOLOC, "kernel '%s': %s", kg->k[k].name,
                        progs.p[progs.prog_of[k]].why);
            }
            if (progs.nunsupported > 8)
                ir_note(d, IR_NOLOC, "and %d more (--emit llvm lists them)",
                        progs.nunsupported - 8);
        }
        if (ok && want_llvm) cg_print_llvm(&progs, stdout);
        phase_end(&ph, "codegen (LLVM)");
    }
    rt_routes routes = {0};
    rt_images images = {0};
    if (ok && a->outdir) {
        to_routes(mp.nets, mp.info, &mp.pr, mp.period, &routes);
        ok = cg_build_images(g, kg, t, &progs, &routes, &images, d);
        phase_end(&ph, "SRAM images");
    }
    if (ok && a->outdir) {
        rt_buf gb = {0}, tb = {0}, kb = {0}, rb = {0}, pb = {0}, sb = {0}, ib = {0};
        rt_encode_graph(g, &gb);
        rt_encode_target(t, &tb);
        rt_encode_kgraph(kg, &kb);
        rt_encode_routes(&routes, &rb);
        rt_encode_images(&images, &sb, &ib);
        rt_images_free(&images); /* encoded: no need to hold both */
        encode_programs(&progs, &pb);
        phase_end(&ph, "encode");
        /* The model and its weights are all in the graph section. */
        uint64_t model_hash = XXH64(gb.data, gb.len, 0);
        rt_writer *w = rt_writer_new();
        rt_writer_take(w, RT_SEC_TARGET, &tb);
        rt_writer_take(w, RT_SEC_GRAPH, &gb);
        rt_writer_take(w, RT_SEC_KERNELS, &kb);
        rt_writer_take(w, RT_SEC_ROUTES, &rb);
        rt_writer_take(w, RT_SEC_PROGS, &pb);
        rt_writer_take(w, RT_SEC_SRAM, &sb);
        rt_writer_take(w, RT_SEC_IOMAP, &ib);
        ok = rt_writer_save(w, a->outdir, model_hash, d);
        rt_writer_free(w);
        phase_end(&ph, "write");
    }
    rt_images_free(&images);
    rt_routes_free(&routes);
    cg_programs_free(&progs);
    mapping_free(&mp);
    ir_graph_free(g);
    phases_print(&ph);
    return ok ? IR_EXIT_OK : IR_EXIT_INPUT;
}
