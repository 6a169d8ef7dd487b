/* cmd_compile.c - `wsc compile`: the IR pipeline, then lowering and tiling
 * to kernels, placement, routing, the independent legality checks, and the
 * artifact, and the PE programs through LLVM (codegen/, section 'PROG'). */
#include "cg.h"
#include "driver.h"
#include "pass.h"
#include "pl.h"
#include "rt.h"

#include <stdlib.h>
#include <string.h>
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
static bool map_model(const drv_args *a, const ir_graph *g, mapping *m, ir_diag *d) {
    const ir_target *t = &a->machine;
    memset(m, 0, sizeof *m);
    m->arena = ir_arena_new();
    if (!pass_lower(g, &m->kg, d) || !pass_tile(g, &m->kg, t, d)) return false;
    m->period = 1;
    for (int32_t i = 0; i < m->kg.nk; i++)
        m->period = (double)m->kg.k[i].cycles > m->period ? (double)m->kg.k[i].cycles : m->period;
    pl_problem_from_kgraph(&m->kg, t, a->seed, &m->prob);
    if (!pl_place(&m->prob, &m->pl, d)) return false;
    if (!pl_check_placement(&m->prob, m->pl.x, m->pl.y, d))
        ir_internal_error("the placer produced an illegal placement");
    for (int32_t i = 0; i < m->kg.nk; i++)
        m->kg.k[i].x = m->pl.x[i], m->kg.k[i].y = m->pl.y[i];
    pl_order_rows(g, &m->kg);
    m->nnets = pl_build_nets(g, &m->kg, &m->period, &m->nets, &m->info, m->arena);
    if (!pl_route(t->width, t->height, m->nets, m->nnets, t->colors, t->link_wavelets, &m->pr, d))
        return false;
    if (!pl_check_routes(t->width, t->height, m->nets, m->nnets, &m->pr, t->colors,
                         t->link_wavelets, d))
        ir_internal_error("the router produced routes that its checker refutes");
    return true;
}

int drv_compile(const drv_args *a, ir_diag *d) {
    ir_graph *g = NULL;
    int status = drv_front_end(a, d, &g);
    if (!status) status = drv_pipeline(a, d, &g);
    if (status || a->stop_after) {
        ir_graph_free(g);
        return status;
    }
    const ir_target *t = &a->machine;
    /* Attention by heads first (docs/kernels.md); should that mapping not
     * fit or route, the batched one the model spells out. Without heads in
     * the model both are the same, and it is tried once. */
    mapping mp;
    g->by_heads = ir_graph_has_heads(g);
    ir_diag *quiet = g->by_heads ? ir_diag_new(NULL) : NULL;
    bool ok = map_model(a, g, &mp, quiet ? quiet : d);
    if (quiet) {
        ir_diag_free(quiet);
        if (!ok) {
            mapping_free(&mp);
            g->by_heads = false;
            ok = map_model(a, g, &mp, d);
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
    }
    rt_routes routes = {0};
    rt_images images = {0};
    if (ok && a->outdir) {
        to_routes(mp.nets, mp.info, &mp.pr, mp.period, &routes);
        ok = cg_build_images(g, kg, t, &progs, &routes, &images, d);
    }
    if (ok && a->outdir) {
        rt_buf gb = {0}, tb = {0}, kb = {0}, rb = {0}, pb = {0}, sb = {0}, ib = {0};
        rt_encode_graph(g, &gb);
        rt_encode_target(t, &tb);
        rt_encode_kgraph(kg, &kb);
        rt_encode_routes(&routes, &rb);
        rt_encode_images(&images, &sb, &ib);
        rt_writer *w = rt_writer_new();
        rt_writer_add(w, RT_SEC_TARGET, tb.data, tb.len);
        rt_writer_add(w, RT_SEC_GRAPH, gb.data, gb.len);
        rt_writer_add(w, RT_SEC_KERNELS, kb.data, kb.len);
        rt_writer_add(w, RT_SEC_ROUTES, rb.data, rb.len);
        encode_programs(&progs, &pb);
        rt_writer_add(w, RT_SEC_PROGS, pb.data, pb.len);
        rt_writer_add(w, RT_SEC_SRAM, sb.data, sb.len);
        rt_writer_add(w, RT_SEC_IOMAP, ib.data, ib.len);
        /* The model and its weights are all in the graph section. */
        ok = rt_writer_save(w, a->outdir, XXH64(gb.data, gb.len, 0), d);
        rt_writer_free(w);
        rt_buf_free(&gb), rt_buf_free(&tb), rt_buf_free(&kb), rt_buf_free(&rb), rt_buf_free(&pb);
        rt_buf_free(&sb), rt_buf_free(&ib);
    }
    rt_images_free(&images);
    rt_routes_free(&routes);
    cg_programs_free(&progs);
    mapping_free(&mp);
    ir_graph_free(g);
    return ok ? IR_EXIT_OK : IR_EXIT_INPUT;
}
