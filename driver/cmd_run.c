/* cmd_run.c - `wsc run`: loads and validates an artifact, compiles its PE
 * programs once each (LLJIT), loads every PE's SRAM image and the routers'
 * configurations into the simulator of the modeled wafer, streams the
 * inputs in on the west edge and collects the outputs on the east edge.
 * The host touches the computation only there: the outputs are what the
 * programs, routes and images in the artifact compute. */
#include "cg.h"
#include "driver.h"
#include "rt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Everything decoded from the artifact. */
typedef struct loaded {
    rt_artifact *art;    /* the open file */
    ir_target t;         /* TARG */
    ir_graph *g;         /* IRGR */
    ir_kgraph kg;        /* KERN */
    rt_routes routes;    /* ROUT */
    rt_images im;        /* SRAM + IOMP */
    int32_t nprog;       /* PROG: programs */
    const uint8_t **bc;  /* their bitcode (in the artifact) */
    uint64_t *bclen;     /* lengths */
    uint32_t *kind;      /* their kernel kinds */
    uint32_t *supported; /* whether each has code */
} loaded;

static void unload(loaded *L) {
    rt_images_free(&L->im);
    rt_routes_free(&L->routes);
    if (L->g) ir_kgraph_free(&L->kg);
    ir_graph_free(L->g);
    free(L->bc), free(L->bclen), free(L->kind), free(L->supported);
    rt_artifact_close(L->art);
}

static const void *section(loaded *L, uint32_t tag, size_t *len, ir_diag *d) {
    const void *p = rt_artifact_section(L->art, tag, len);
    char name[5];
    if (!p) ir_error(d, IR_NOLOC, "artifact: no '%s' section", rt_tag_str(tag, name));
    return p;
}

static bool load(const char *path, loaded *L, ir_diag *d) {
    memset(L, 0, sizeof *L);
    L->art = rt_artifact_open(path, d);
    if (!L->art) return false;
    size_t n;
    const void *p;
    if (!(p = section(L, RT_SEC_TARGET, &n, d)) || !rt_decode_target(p, n, &L->t, d)) return false;
    if (!(p = section(L, RT_SEC_GRAPH, &n, d)) || !(L->g = rt_decode_graph(p, n, d))) return false;
    if (!(p = section(L, RT_SEC_KERNELS, &n, d)) ||
        !rt_decode_kgraph(p, n, L->g, &L->t, &L->kg, d)) {
        ir_graph_free(L->g);
        L->g = NULL;
        return false;
    }
    if (!(p = section(L, RT_SEC_ROUTES, &n, d)) ||
        !rt_decode_routes(p, n, &L->t, L->kg.nk, &L->routes, d))
        return false;
    if (!(p = section(L, RT_SEC_PROGS, &n, d))) return false;
    rt_reader r = rt_reader_make(p, n);
    uint32_t np = rt_read_u32(&r);
    if (r.bad || np > rt_reader_left(&r) / 16 + 1) {
        ir_error(d, IR_NOLOC, "artifact: the program section is malformed");
        return false;
    }
    L->nprog = (int32_t)np;
    L->bc = ir_xcalloc(np + 1, sizeof *L->bc);
    L->bclen = ir_xcalloc(np + 1, sizeof *L->bclen);
    L->kind = ir_xcalloc(np + 1, sizeof *L->kind);
    L->supported = ir_xcalloc(np + 1, sizeof *L->supported);
    for (uint32_t i = 0; i < np; i++) {
        L->kind[i] = rt_read_u32(&r);
        L->supported[i] = rt_read_u32(&r);
        L->bclen[i] = rt_read_u64(&r);
        L->bc[i] =
            r.bad || L->bclen[i] > rt_reader_left(&r) ? NULL : rt_read_bytes(&r, L->bclen[i]);
        if (r.bad || !L->bc[i] || L->kind[i] >= IR_NKKINDS || L->supported[i] > 1) {
            ir_error(d, IR_NOLOC, "artifact: the program section is malformed (program %u)", i);
            return false;
        }
    }
    size_t sl, il;
    const void *sp = section(L, RT_SEC_SRAM, &sl, d),
               *ip = sp ? section(L, RT_SEC_IOMAP, &il, d) : NULL;
    if (!sp || !ip) return false;
    if (!rt_decode_images(sp, sl, ip, il, &L->t, L->kg.nk, L->nprog, &L->im, d)) return false;
    return true;
}

/* The inputs' and outputs' lanes agree with the graph's (names, types). */
static bool check_io(const loaded *L, ir_diag *d) {
    const ir_graph *g = L->g;
    int32_t nin = 0;
    for (int32_t i = 0; i < g->nnodes; i++)
        if (g->nodes[i].op == IR_INPUT) {
            const rt_host_io *io = nin < L->im.nin ? &L->im.in[nin] : NULL;
            if (!io || strcmp(io->name, g->nodes[i].name) || io->dtype != g->nodes[i].dtype ||
                !ir_shape_eq(&io->shape, &g->nodes[i].shape))
                goto bad;
            nin++;
        }
    if (nin != L->im.nin || g->noutputs != L->im.nout) goto bad;
    for (int32_t i = 0; i < g->noutputs; i++) {
        const rt_host_io *io = &L->im.out[i];
        const ir_node *n = &g->nodes[g->outputs[i].ref];
        if (strcmp(io->name, g->outputs[i].name) || io->dtype != n->dtype ||
            !ir_shape_eq(&io->shape, &n->shape))
            goto bad;
    }
    return true;
bad:
    ir_error(d, IR_NOLOC, "artifact: the I/O map does not match the model's inputs and outputs");
    return false;
}

static int64_t last_dim(const ir_shape *s) {
    return s->rank ? s->d[s->rank - 1] : 1;
}

/* A tensor's element as the 32-bit payload of a wavelet. */
static uint32_t word(const ir_tensor *t, int64_t i) {
    uint32_t u = 0;
    if (t->dtype == IR_I32 || t->dtype == IR_F32 || t->dtype == IR_F16 || t->dtype == IR_BF16)
        memcpy(&u, (const uint8_t *)t->data + 4 * i, 4);
    else
        u = ((const uint8_t *)t->data)[i];
    return u;
}

static void put_word(ir_tensor *t, int64_t i, uint32_t u) {
    if (t->dtype == IR_BOOL)
        ((uint8_t *)t->data)[i] = u != 0;
    else
        memcpy((uint8_t *)t->data + 4 * i, &u, 4);
}

static void progress(void *ctx, int64_t cycle, int64_t got, int64_t want) {
    (void)ctx;
    fprintf(stderr, "\rwsc run: cycle %lld, outputs %lld of %lld wavelets", (long long)cycle,
            (long long)got, (long long)want);
    fflush(stderr);
}

/* A PE program's wse_fault, named after its kernel as `wsc eval` names the
 * node: the same bad input gives the same kind of message either way. */
static void fault(void *ctx, int32_t pe, uint32_t code, uint32_t a, uint32_t b, ir_diag *d) {
    const loaded *L = ctx;
    const rt_pe_image *p = &L->im.pe[pe];
    const char *name = L->kg.k[p->kernel].name;
    if (code == WSE_FAULT_GATHER_INDEX)
        ir_error(d, IR_NOLOC, "gather '%s': index %d is out of range for a table of %u rows", name,
                 (int32_t)a, b);
    else
        ir_error(d, IR_NOLOC, "PE (%d,%d) of kernel '%s': its program reported fault %u (%u, %u)",
                 p->x, p->y, name, code, a, b);
}

/* A JSON number with `digits` significant digits; null when it is not
 * finite, since JSON has no inf or nan (and %g would print them). */
static const char *json_num(char *buf, size_t n, double v, int digits) {
    if (!isfinite(v)) return "null";
    snprintf(buf, n, "%.*g", digits, v);
    return buf;
}

static void print_stats(const drv_args *a, const loaded *L, const rt_sim_stats *s) {
    double secs = (double)s->cycles / L->t.clock_hz;
    double load = s->cycles ? (double)s->busiest_link / (double)s->cycles : 0;
    double util = s->cycles && s->pes ? (double)s->busy_cycles / ((double)s->cycles * s->pes) : 0;
    if (a->format && !strcmp(a->format, "json")) {
        char b1[32], b2[32], b3[32], b4[32];
        printf("{\"cycles\": %lld, \"latency_s\": %s, \"clock_hz\": %s, \"wavelets\": %lld, "
               "\"hops\": %lld, \"tasks\": %lld, \"busiest_link_wavelets\": %lld, "
               "\"busiest_link_load\": %s, \"pes\": %d, \"pe_utilization\": %s}\n",
               (long long)s->cycles, json_num(b1, sizeof b1, secs, 9),
               json_num(b2, sizeof b2, L->t.clock_hz, 9), (long long)s->wavelets,
               (long long)s->hops, (long long)s->tasks, (long long)s->busiest_link,
               json_num(b3, sizeof b3, load, 6), s->pes, json_num(b4, sizeof b4, util, 6));
        return;
    }
    static const char *port[] = {"north", "east", "south", "west", "ramp"};
    printf("cycles       %lld (%.3f us at %.0f MHz)\n", (long long)s->cycles, secs * 1e6,
           L->t.clock_hz / 1e6);
    printf("wavelets     %lld sent, %lld link hops\n", (long long)s->wavelets, (long long)s->hops);
    printf("busiest link %lld wavelets, %.3f per cycle (router (%d,%d), %s port)\n",
           (long long)s->busiest_link, load, s->busiest_x, s->busiest_y,
           port[s->busiest_port >= 0 && s->busiest_port < 5 ? s->busiest_port : 4]);
    printf("PEs          %d running programs, %.2f%% busy, %lld tasks\n", s->pes, 100 * util,
           (long long)s->tasks);
}

/* --check: the interpreter on the artifact's graph, within the spec's
 * tolerance |got - want| <= 1e-4 + 1e-3 |want|. */
static int check_outputs(const drv_args *a, const loaded *L, ir_tensor *const *ins,
                         ir_tensor *const *outs, ir_diag *d) {
    ir_tensor **want = ir_xcalloc((size_t)L->g->noutputs + 1, sizeof *want);
    int status = ir_eval(L->g, ins, want, a->threads, d) ? IR_EXIT_INPUT : IR_EXIT_OK;
    for (int32_t k = 0; !status && k < L->g->noutputs; k++) {
        int64_t n = ir_shape_numel(&want[k]->shape), bad = 0, first = -1;
        double worst = 0;
        for (int64_t i = 0; i < n; i++) {
            double w, g;
            if (want[k]->dtype == IR_I32 || want[k]->dtype == IR_BOOL) {
                w = want[k]->dtype == IR_I32 ? ((int32_t *)want[k]->data)[i]
                                             : ((uint8_t *)want[k]->data)[i];
                g = outs[k]->dtype == IR_I32 ? ((int32_t *)outs[k]->data)[i]
                                             : ((uint8_t *)outs[k]->data)[i];
            } else {
                w = ((float *)want[k]->data)[i], g = ((float *)outs[k]->data)[i];
            }
            double err = fabs(g - w) - (1e-4 + 1e-3 * fabs(w));
            if (err > 0 || (isnan(g) != isnan(w))) {
                if (first < 0) first = i;
                bad++;
            }
            if (fabs(g - w) > worst) worst = fabs(g - w);
        }
        if (bad) {
            ir_error(d, IR_NOLOC,
                     "--check: output '%s' differs from the interpreter in %lld of %lld elements "
                     "(first at flat index %lld; largest difference %.3g)",
                     L->g->outputs[k].name, (long long)bad, (long long)n, (long long)first, worst);
            status = IR_EXIT_INPUT;
        } else {
            fprintf(stderr,
                    "wsc run: --check: output '%s' matches the interpreter (%lld elements, "
                    "largest difference %.3g)\n",
                    L->g->outputs[k].name, (long long)n, worst);
        }
    }
    for (int32_t k = 0; k < L->g->noutputs; k++)
        ir_tensor_free(want[k]);
    free(want);
    return status;
}

int drv_run(const drv_args *a, ir_diag *d) {
    loaded L;
    if (!load(a->model, &L, d) || !check_io(&L, d)) {
        unload(&L);
        return IR_EXIT_INPUT;
    }
    int status = IR_EXIT_OK;
    for (int32_t i = 0; i < L.nprog && !status; i++)
        if (!L.supported[i]) {
            ir_error(d, IR_NOLOC,
                     "the artifact has %s kernels without a PE program (compile warned about "
                     "them); wsc run cannot execute it",
                     ir_kkind_name((ir_kkind)L.kind[i]));
            status = IR_EXIT_INPUT;
        }
    ir_tensor **ins = NULL;
    if (!status) status = drv_read_inputs(a, L.g, &ins, d);
    if (!status) status = drv_make_dirs(a->outdir, d);
    if (status) {
        for (int32_t i = 0; ins && i < L.im.nin; i++)
            ir_tensor_free(ins[i]);
        free(ins);
        unload(&L);
        return status;
    }

    /* Programs: each compiled once, shared by every PE that runs it. */
    rt_symbol imports[] = {{"wse_sram", (void *)wse_sram},
                           {"wse_send", (void *)wse_send},
                           {"wse_activate", (void *)wse_activate},
                           {"wse_charge", (void *)wse_charge},
                           {"wse_fault", (void *)wse_fault}};
    rt_jit **jit = ir_xcalloc((size_t)L.nprog + 1, sizeof *jit);
    wse_init_fn *init = ir_xcalloc((size_t)L.nprog + 1, sizeof *init);
    wse_task_fn *task = ir_xcalloc((size_t)L.nprog + 1, sizeof *task);
    for (int32_t i = 0; i < L.nprog && !status; i++) {
        char *err = NULL;
        jit[i] = rt_jit_load(L.bc[i], L.bclen[i], imports, (int)(sizeof imports / sizeof *imports),
                             &err);
        if (jit[i]) {
            init[i] = (wse_init_fn)rt_jit_entry(jit[i], "wse_init");
            task[i] = (wse_task_fn)rt_jit_entry(jit[i], "wse_task");
        }
        if (!jit[i] || !task[i]) {
            ir_error(d, IR_NOLOC, "artifact: program %d does not load: %s", i,
                     err ? err : "no wse_task");
            status = IR_EXIT_INPUT;
        }
        free(err);
    }

    /* PEs with their SRAM images; routers; host streams. */
    rt_sim_pe *pes = ir_xcalloc((size_t)L.im.npe + 1, sizeof *pes);
    uint8_t **mem = ir_xcalloc((size_t)L.im.npe + 1, sizeof *mem);
    for (int32_t i = 0; i < L.im.npe && !status; i++) {
        const rt_pe_image *p = &L.im.pe[i];
        uint32_t len = 0;
        for (int32_t s = 0; s < p->nseg; s++)
            if (p->seg[s].off + p->seg[s].len > len) len = p->seg[s].off + p->seg[s].len;
        mem[i] = ir_xcalloc((size_t)len + 1, 1);
        for (int32_t s = 0; s < p->nseg; s++)
            memcpy(mem[i] + p->seg[s].off, p->seg[s].data, p->seg[s].len);
        pes[i] = (rt_sim_pe){p->x, p->y, init[p->program], task[p->program], mem[i], len};
        const char *why = NULL;
        if (L.kind[p->program] != (uint32_t)L.kg.k[p->kernel].kind)
            why = "its program is for another kind of kernel";
        else if (!rt_check_params(mem[i], len, (uint64_t)L.t.sram_bytes, L.kind[p->program],
                                  L.t.colors, &why))
            ;
        else
            why = NULL;
        if (why) {
            ir_error(d, IR_NOLOC, "artifact: PE (%d,%d) of kernel '%s': %s", p->x, p->y,
                     L.kg.k[p->kernel].name, why);
            status = IR_EXIT_INPUT;
        }
    }
    int64_t nroutes = 0;
    for (int32_t i = 0; i < L.routes.n; i++)
        nroutes += L.routes.nets[i].nhops;
    for (int32_t i = 0; i < L.im.nin; i++)
        nroutes += L.im.in[i].nlanes;
    for (int32_t i = 0; i < L.im.nout; i++)
        nroutes += L.im.out[i].nlanes;
    rt_sim_route *routes = ir_xcalloc((size_t)nroutes + 1, sizeof *routes);
    int64_t nr = 0;
    for (int32_t i = 0; i < L.routes.n; i++) {
        const rt_net *n = &L.routes.nets[i];
        for (int32_t j = 0; j < n->nhops; j++)
            routes[nr++] = (rt_sim_route){n->hops[j].x, n->hops[j].y, n->color, n->hops[j].in,
                                          n->hops[j].outs};
    }
    int32_t nlin = 0, nlout = 0;
    for (int32_t i = 0; i < L.im.nin; i++)
        nlin += L.im.in[i].nlanes;
    for (int32_t i = 0; i < L.im.nout; i++)
        nlout += L.im.out[i].nlanes;
    rt_sim_input *sin = ir_xcalloc((size_t)nlin + 1, sizeof *sin);
    rt_sim_output *sout = ir_xcalloc((size_t)nlout + 1, sizeof *sout);
    uint32_t **data = ir_xcalloc((size_t)nlin + 1, sizeof *data);
    int32_t li = 0;
    for (int32_t i = 0; i < L.im.nin && !status; i++) {
        const rt_host_io *io = &L.im.in[i];
        int64_t ncol = last_dim(&io->shape), rows = ir_shape_numel(&io->shape) / ncol;
        for (int32_t j = 0; j < io->nlanes; j++, li++) {
            const rt_host_lane *l = &io->lanes[j];
            int64_t w = l->c1 - l->c0, k = 0;
            data[li] = ir_xmalloc(sizeof(uint32_t) * (size_t)(rows * w + 1));
            for (int64_t t = 0; t < rows; t++)
                for (int64_t c = l->c0; c < l->c1; c++)
                    data[li][k++] = word(ins[i], t * ncol + c);
            sin[li] = (rt_sim_input){l->y, l->color, data[li], k};
            routes[nr++] = (rt_sim_route){l->x, l->y, l->color, RT_PORT_W, 1u << RT_PORT_RAMP};
        }
    }
    int32_t lo = 0;
    for (int32_t i = 0; i < L.im.nout; i++) {
        const rt_host_io *io = &L.im.out[i];
        int64_t ncol = last_dim(&io->shape), rows = ir_shape_numel(&io->shape) / ncol;
        for (int32_t j = 0; j < io->nlanes; j++, lo++) {
            const rt_host_lane *l = &io->lanes[j];
            sout[lo] = (rt_sim_output){l->y, l->color, rows * (l->c1 - l->c0)};
            routes[nr++] = (rt_sim_route){l->x, l->y, l->color, RT_PORT_RAMP, 1u << RT_PORT_E};
        }
    }

    FILE *tf = NULL;
    rt_sim_trace trace = {0};
    if (!status && a->trace) {
        tf = fopen(a->trace, "w");
        if (!tf) {
            ir_error(d, IR_NOLOC, "--trace %s: cannot write the file", a->trace);
            status = IR_EXIT_INPUT;
        }
        /* The whole fabric for the first million cycles, at most 200,000
         * task events: what Perfetto opens comfortably. */
        trace = (rt_sim_trace){tf, 0, 0, L.t.width, L.t.height, 0, 1000000, 200000};
    }
    rt_sim_desc desc = {&L.t, pes,   L.im.npe,   routes, (int32_t)nr,        sin,  nlin,
                        sout, nlout, a->threads, 0,      tf ? &trace : NULL, NULL, NULL};
    if (isatty(2)) desc.progress = progress;
    desc.fault = fault;
    desc.fault_ctx = &L;
    rt_sim_result res = {0};
    ir_tensor **outs = ir_xcalloc((size_t)L.im.nout + 1, sizeof *outs);
    if (!status && !rt_sim_run(&desc, &res, d)) status = IR_EXIT_INPUT;
    if (desc.progress) fputc('\n', stderr);
    if (tf) fclose(tf);

    /* Outputs: every lane must bring exactly its columns of every row. */
    lo = 0;
    for (int32_t i = 0; i < L.im.nout && !status; i++) {
        const rt_host_io *io = &L.im.out[i];
        outs[i] = ir_tensor_new(io->dtype, &io->shape);
        if (!outs[i]) ir_internal_error("out of memory for output '%s'", io->name);
        int64_t ncol = last_dim(&io->shape), rows = ir_shape_numel(&io->shape) / ncol;
        for (int32_t j = 0; j < io->nlanes && !status; j++, lo++) {
            const rt_host_lane *l = &io->lanes[j];
            int64_t w = l->c1 - l->c0;
            if (res.nout[lo] != rows * w) {
                ir_error(d, IR_NOLOC,
                         "output '%s': edge row %d brought %lld wavelets, %lld expected (the "
                         "artifact's programs or routes are wrong)",
                         io->name, l->y, (long long)res.nout[lo], (long long)(rows * w));
                status = IR_EXIT_INPUT;
                break;
            }
            for (int64_t t = 0, k = 0; t < rows; t++)
                for (int64_t c = l->c0; c < l->c1; c++)
                    put_word(outs[i], t * ncol + c, res.out[lo][k++]);
        }
    }
    if (!status) status = drv_write_outputs(a, L.g, outs, d);
    if (!status && a->stats) print_stats(a, &L, &res.stats);
    if (!status && a->check) status = check_outputs(a, &L, ins, outs, d);

    rt_sim_result_free(&res, nlout);
    for (int32_t i = 0; i < L.im.nout; i++)
        ir_tensor_free(outs[i]);
    free(outs);
    for (int32_t i = 0; i < nlin; i++)
        free(data[i]);
    free(data), free(sin), free(sout), free(routes);
    for (int32_t i = 0; i < L.im.npe; i++)
        free(mem[i]);
    free(mem), free(pes);
    for (int32_t i = 0; i < L.nprog; i++)
        if (jit[i]) rt_jit_free(jit[i]);
    free(jit), free(init), free(task);
    for (int32_t i = 0; i < L.im.nin; i++)
        ir_tensor_free(ins[i]);
    free(ins);
    unload(&L);
    return status;
}
