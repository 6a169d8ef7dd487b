/* cmd_dump.c - `wsc dump`: what a compiled artifact holds, as a summary, a
 * placement map for the terminal, JSON (cli.md's schema), or an SVG picture
 * of the fabric with link load as a heat overlay. */
#include "driver.h"
#include "rt.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

typedef struct loaded {
    rt_artifact *a; /* the file */
    ir_target t;    /* its target */
    ir_graph *g;    /* its model */
    ir_kgraph kg;   /* kernels and placement */
    rt_routes r;    /* routes */
} loaded;

static bool load(const char *path, loaded *L, ir_diag *d) {
    memset(L, 0, sizeof *L);
    L->a = rt_artifact_open(path, d);
    if (!L->a) return false;
    size_t n;
    const void *p;
    if (!(p = rt_artifact_section(L->a, RT_SEC_TARGET, &n)) || !rt_decode_target(p, n, &L->t, d))
        goto missing;
    if (!(p = rt_artifact_section(L->a, RT_SEC_GRAPH, &n)) || !(L->g = rt_decode_graph(p, n, d)))
        goto missing;
    if (!(p = rt_artifact_section(L->a, RT_SEC_KERNELS, &n)) ||
        !rt_decode_kgraph(p, n, L->g, &L->t, &L->kg, d))
        goto missing;
    if (!(p = rt_artifact_section(L->a, RT_SEC_ROUTES, &n)) ||
        !rt_decode_routes(p, n, &L->t, L->kg.nk, &L->r, d))
        goto missing;
    return true;
missing:
    if (!ir_diag_errors(d))
        ir_error(d, IR_NOLOC, "%s: the artifact lacks a section wsc dump needs", path);
    return false;
}

static void unload(loaded *L) {
    rt_routes_free(&L->r);
    ir_kgraph_free(&L->kg);
    ir_graph_free(L->g);
    rt_artifact_close(L->a);
}

typedef struct stats {
    int64_t pes;               /* PEs in kernels */
    int64_t sram_max;          /* busiest PE's SRAM */
    double sram_mean;          /* mean over used PEs */
    int32_t sram_arg;          /* kernel of the busiest PE */
    int64_t period;            /* slowest kernel's cycles per pass */
    int32_t period_arg;        /* that kernel */
    int64_t latency;           /* longest path through the kernels, in cycles */
    int32_t kinds[IR_NKKINDS]; /* kernels per kind */
} stats;

static stats compute(const loaded *L) {
    stats s = {0};
    double sum = 0;
    int64_t *finish = calloc((size_t)L->kg.nk + 1, sizeof *finish);
    for (int32_t i = 0; i < L->kg.nk; i++) {
        const ir_kernel *k = &L->kg.k[i];
        int64_t pe = (int64_t)k->w * k->h, sram = k->sram_data + k->sram_buffers + k->sram_program;
        s.pes += pe;
        sum += (double)sram * (double)pe;
        if (sram > s.sram_max) s.sram_max = sram, s.sram_arg = i;
        if (k->cycles > s.period) s.period = k->cycles, s.period_arg = i;
        s.kinds[k->kind]++;
    }
    /* streams go forward in kernel order: one sweep gives the longest path */
    for (int32_t i = 0; i < L->kg.nk; i++)
        finish[i] = L->kg.k[i].cycles;
    for (int32_t i = 0; i < L->kg.ns; i++) {
        const ir_kstream *st = &L->kg.s[i];
        int64_t f = finish[st->src] + L->kg.k[st->dst].cycles;
        if (f > finish[st->dst]) finish[st->dst] = f;
    }
    for (int32_t i = 0; i < L->kg.nk; i++)
        s.latency = finish[i] > s.latency ? finish[i] : s.latency;
    free(finish);
    s.sram_mean = s.pes ? sum / (double)s.pes : 0;
    return s;
}

static void summary_text(const char *path, const loaded *L, FILE *out) {
    stats s = compute(L);
    const ir_target *t = &L->t;
    fprintf(out, "artifact  %s (format %d, model hash %016llx)\n", path, RT_WSA_VERSION,
            (unsigned long long)rt_artifact_model_hash(L->a));
    fprintf(out, "model     %s: %d IR values, %d outputs\n", L->g->model, L->g->nnodes,
            L->g->noutputs);
    fprintf(out,
            "target    %s, fabric %d x %d PEs, %lld bytes of SRAM per PE, %d colours, %.0f MHz\n",
            t->name, t->width, t->height, (long long)t->sram_bytes, t->colors, t->clock_hz / 1e6);
    fprintf(out, "kernels   %d:", L->kg.nk);
    for (int k = 0; k < IR_NKKINDS; k++)
        if (s.kinds[k]) fprintf(out, " %d %s", s.kinds[k], ir_kkind_name((ir_kkind)k));
    fprintf(out, "\nPEs used  %lld of %lld (%.1f%%)\n", (long long)s.pes,
            (long long)t->width * t->height,
            100.0 * (double)s.pes / ((double)t->width * t->height));
    fprintf(out, "SRAM      max %lld bytes per PE (%s), mean %.0f, of %lld\n",
            (long long)s.sram_max, L->kg.nk ? L->kg.k[s.sram_arg].name : "-", s.sram_mean,
            (long long)t->sram_bytes);
    fprintf(out, "colours   max %d per router, mean %.2f, of %d\n", L->r.max_colors,
            L->r.mean_colors, t->colors);
    fprintf(out, "links     %d routed streams, busiest link %.3f wavelets per cycle\n", L->r.n,
            L->r.max_link_load);
    fprintf(out,
            "pipeline  period %.0f cycles (compute alone: %lld, %s); one pass without overlap %lld "
            "cycles = %.3f us at %.0f MHz\n",
            L->r.period, (long long)s.period, L->kg.nk ? L->kg.k[s.period_arg].name : "-",
            (long long)s.latency, (double)s.latency / t->clock_hz * 1e6, t->clock_hz / 1e6);
}

static json_t *json_doc(const loaded *L, bool kernels) {
    stats s = compute(L);
    json_t *root = json_object();
    json_object_set_new(root, "target",
                        json_pack("{s:s, s:i, s:i, s:I, s:i}", "name", L->t.name, "width",
                                  L->t.width, "height", L->t.height, "sram_bytes",
                                  (json_int_t)L->t.sram_bytes, "colors", L->t.colors));
    if (kernels) {
        json_t *ks = json_array();
        for (int32_t i = 0; i < L->kg.nk; i++) {
            const ir_kernel *k = &L->kg.k[i];
            json_array_append_new(
                ks,
                json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:i, s:I, s:I}", "name", k->name, "op",
                          ir_ops[L->g->nodes[k->nodes[0]].op].name, "kind", ir_kkind_name(k->kind),
                          "x", k->x, "y", k->y, "width", k->w, "height", k->h, "sram_bytes",
                          (json_int_t)(k->sram_data + k->sram_buffers + k->sram_program), "cycles",
                          (json_int_t)k->cycles));
        }
        json_object_set_new(root, "kernels", ks);
    }
    json_object_set_new(root, "summary",
                        json_pack("{s:I, s:I, s:i, s:f, s:I, s:I}", "pes_used", (json_int_t)s.pes,
                                  "sram_bytes_max", (json_int_t)s.sram_max, "colors_max",
                                  L->r.max_colors, "link_load_max", L->r.max_link_load,
                                  "period_cycles", (json_int_t)L->r.period, "pass_cycles",
                                  (json_int_t)s.latency));
    return root;
}

/* A character map of the fabric scaled to the terminal: each cell shows the
 * kernel covering most of it, lettered in kernel order, with a legend. */
static void placement_text(const loaded *L, FILE *out) {
    int cols = 100;
    struct winsize ws;
    if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20)
        cols = ws.ws_col - 2;
    int W = L->t.width, H = L->t.height;
    int cw = W < cols ? W : cols;
    double sx = (double)W / cw;
    /* a character is about twice as tall as wide: halve the rows, unless
     * the fabric is small enough to show every PE */
    int ch = W <= cols && H <= 64 ? H : (int)((double)H / sx / 2.0 + 0.5);
    if (ch < 1) ch = 1;
    double sy = (double)H / ch;
    static const char sym[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    char *grid = malloc((size_t)cw * (size_t)ch);
    memset(grid, '.', (size_t)cw * (size_t)ch);
    for (int32_t i = 0; i < L->kg.nk; i++) {
        const ir_kernel *k = &L->kg.k[i];
        int x0 = (int)(k->x / sx), x1 = (int)((k->x + k->w - 1) / sx), y0 = (int)(k->y / sy),
            y1 = (int)((k->y + k->h - 1) / sy);
        for (int y = y0; y <= y1 && y < ch; y++)
            for (int x = x0; x <= x1 && x < cw; x++)
                grid[(size_t)y * cw + x] = sym[i % (int)(sizeof sym - 1)];
    }
    fprintf(out, "placement on %s, %d x %d PEs; one character is %.1f x %.1f PEs\n", L->t.name, W,
            H, sx, sy);
    for (int y = 0; y < ch; y++)
        fprintf(out, "%.*s\n", cw, grid + (size_t)y * cw);
    for (int32_t i = 0; i < L->kg.nk; i++) {
        const ir_kernel *k = &L->kg.k[i];
        fprintf(out, "%c %-24s %-7s at (%d, %d), %d x %d PEs\n", sym[i % (int)(sizeof sym - 1)],
                k->name, ir_kkind_name(k->kind), k->x, k->y, k->w, k->h);
    }
    free(grid);
}

static const char *kind_color(ir_kkind k) {
    static const char *const c[IR_NKKINDS] = {"#8da0cb", "#a6d854", "#fc8d62", "#e78ac3", "#66c2a5",
                                              "#ffd92f", "#e5c494", "#b3b3b3", "#80b1d3"};
    return (unsigned)k < IR_NKKINDS ? c[k] : "#ffffff";
}

static void xml_text(FILE *out, const char *s) {
    for (; *s; s++) {
        if (*s == '<')
            fputs("&lt;", out);
        else if (*s == '>')
            fputs("&gt;", out);
        else if (*s == '&')
            fputs("&amp;", out);
        else if (*s == '"')
            fputs("&quot;", out);
        else
            fputc(*s, out);
    }
}

/* The whole fabric at a readable scale: one rectangle per kernel coloured by
 * kind and labelled where the label fits, and link load as a heat overlay
 * (per cell of a coarse grid, the busiest link inside it). */
static void placement_svg(const loaded *L, FILE *out) {
    int W = L->t.width, H = L->t.height;
    double scale = 1200.0 / (W > H ? W : H);
    if (scale > 24) scale = 24;
    double pw = W * scale, ph = H * scale;
    fprintf(out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 "
            "0 %.1f %.1f\">\n",
            pw + 220, ph + 40, pw + 220, ph + 40);
    fprintf(
        out,
        "<rect x=\"0\" y=\"0\" width=\"%.1f\" height=\"%.1f\" fill=\"#f7f7f7\" stroke=\"#333\"/>\n",
        pw, ph);
    /* heat: the load of the links leaving each router, on a coarse grid */
    int cell = (int)(6.0 / scale) + 1;
    int gw = (W + cell - 1) / cell, gh = (H + cell - 1) / cell;
    double *heat = calloc((size_t)gw * (size_t)gh, sizeof *heat);
    for (int32_t i = 0; i < L->r.n; i++) {
        const rt_net *n = &L->r.nets[i];
        for (int32_t j = 0; j < n->nhops; j++) {
            int bits = n->hops[j].outs & 15; /* N E S W */
            if (!bits) continue;
            double *h = &heat[(size_t)(n->hops[j].y / cell) * gw + n->hops[j].x / cell];
            *h += n->load * __builtin_popcount((unsigned)bits);
        }
    }
    double hmax = 0;
    for (int i = 0; i < gw * gh; i++)
        hmax = heat[i] > hmax ? heat[i] : hmax;
    for (int32_t i = 0; i < L->kg.nk; i++) {
        const ir_kernel *k = &L->kg.k[i];
        fprintf(out,
                "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\" "
                "stroke=\"#222\" "
                "stroke-width=\"%.2f\"><title>",
                k->x * scale, k->y * scale, k->w * scale, k->h * scale, kind_color(k->kind),
                scale > 4 ? 1.0 : 0.3);
        xml_text(out, k->name);
        fprintf(out, " (%s, %d x %d PEs at %d, %d)</title></rect>\n", ir_kkind_name(k->kind), k->w,
                k->h, k->x, k->y);
        double fs = k->h * scale * 0.6 < 11 ? k->h * scale * 0.6 : 11;
        if (fs >= 5 && strlen(k->name) * fs * 0.6 < k->w * scale) {
            fprintf(out,
                    "<text x=\"%.2f\" y=\"%.2f\" font-family=\"monospace\" font-size=\"%.1f\" "
                    "text-anchor=\"middle\" dominant-baseline=\"central\">",
                    (k->x + k->w / 2.0) * scale, (k->y + k->h / 2.0) * scale, fs);
            xml_text(out, k->name);
            fputs("</text>\n", out);
        }
    }
    if (hmax > 0)
        for (int y = 0; y < gh; y++)
            for (int x = 0; x < gw; x++) {
                double v = heat[(size_t)y * gw + x] / hmax;
                if (v <= 0.02) continue;
                fprintf(
                    out,
                    "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"#4a1486\" "
                    "fill-opacity=\"%.2f\"/>\n",
                    x * cell * scale, y * cell * scale, cell * scale, cell * scale, 0.1 + 0.5 * v);
            }
    free(heat);
    /* legend */
    for (int k = 0; k < IR_NKKINDS; k++) {
        fprintf(
            out,
            "<rect x=\"%.1f\" y=\"%d\" width=\"14\" height=\"14\" fill=\"%s\" stroke=\"#222\"/>\n",
            pw + 12, 12 + 20 * k, kind_color((ir_kkind)k));
        fprintf(out,
                "<text x=\"%.1f\" y=\"%d\" font-family=\"sans-serif\" font-size=\"13\">%s</text>\n",
                pw + 32, 24 + 20 * k, ir_kkind_name((ir_kkind)k));
    }
    fprintf(out,
            "<rect x=\"%.1f\" y=\"%d\" width=\"14\" height=\"14\" fill=\"#4a1486\" "
            "fill-opacity=\"0.5\"/>\n",
            pw + 12, 12 + 20 * IR_NKKINDS);
    fprintf(out,
            "<text x=\"%.1f\" y=\"%d\" font-family=\"sans-serif\" font-size=\"13\">link load (max "
            "%.2f)</text>\n",
            pw + 32, 24 + 20 * IR_NKKINDS, L->r.max_link_load);
    fprintf(out, "<text x=\"4\" y=\"%.1f\" font-family=\"sans-serif\" font-size=\"14\">", ph + 26);
    xml_text(out, L->g->model);
    fprintf(out, " on %s (%d x %d PEs), %d kernels</text>\n</svg>\n", L->t.name, W, H, L->kg.nk);
}

/* Every kernel's SRAM per PE, largest first, with a bar against the
 * target's SRAM. */
static void memory_text(const loaded *L, FILE *out) {
    fprintf(out, "SRAM per PE of each kernel (busiest PE), of %lld bytes\n",
            (long long)L->t.sram_bytes);
    fprintf(out, "%-24s %-7s %9s %9s %9s %9s  use\n", "kernel", "kind", "weights", "buffers",
            "program", "total");
    for (int32_t i = 0; i < L->kg.nk; i++) {
        const ir_kernel *k = &L->kg.k[i];
        int64_t total = k->sram_data + k->sram_buffers + k->sram_program;
        int bar = (int)(20.0 * (double)total / (double)L->t.sram_bytes + 0.5);
        fprintf(out, "%-24s %-7s %9lld %9lld %9lld %9lld  [%-20.*s] %5.1f%%\n", k->name,
                ir_kkind_name(k->kind), (long long)k->sram_data, (long long)k->sram_buffers,
                (long long)k->sram_program, (long long)total, bar, "####################",
                100.0 * (double)total / (double)L->t.sram_bytes);
    }
}

static const char *port_name(int p) {
    static const char *const n[] = {"N", "E", "S", "W", "ramp"};
    return p >= 0 && p < 5 ? n[p] : "?";
}

/* The routed streams into one kernel (and inside it), router by router. */
static bool routes_text(const loaded *L, const char *kernel, FILE *out, ir_diag *d) {
    int32_t ki = -1;
    for (int32_t i = 0; i < L->kg.nk; i++)
        if (!strcmp(L->kg.k[i].name, kernel)) ki = i;
    if (ki < 0) {
        ir_error(d, IR_NOLOC, "the artifact has no kernel '%s' (wsc dump --placement lists them)",
                 kernel);
        return false;
    }
    const ir_kernel *k = &L->kg.k[ki];
    fprintf(out, "routes into %s (%s, %d x %d PEs at %d, %d)\n", k->name, ir_kkind_name(k->kind),
            k->w, k->h, k->x, k->y);
    for (int32_t i = 0; i < L->r.n; i++) {
        const rt_net *n = &L->r.nets[i];
        if (n->kernel != ki) continue;
        const char *from = n->stream >= 0 && n->stream < L->kg.ns
                               ? L->kg.k[L->kg.s[n->stream].src].name
                               : "(inside)";
        fprintf(out, "net %d: colour %d, from %s at (%d, %d), %d sink%s, %d routers, load %.3f\n",
                i, n->color, from, n->sx, n->sy, n->nsinks, n->nsinks == 1 ? "" : "s", n->nhops,
                n->load);
        for (int32_t j = 0; j < n->nhops; j++) {
            fprintf(out, "    (%d, %d) in %s out", n->hops[j].x, n->hops[j].y,
                    port_name(n->hops[j].in));
            for (int p = 0; p < 5; p++)
                if (n->hops[j].outs & (1u << p)) fprintf(out, " %s", port_name(p));
            fputc('\n', out);
        }
    }
    return true;
}

int drv_dump(const drv_args *a, ir_diag *d) {
    loaded L;
    if (!load(a->model, &L, d)) {
        unload(&L);
        return IR_EXIT_INPUT;
    }
    const char *fmt = a->format ? a->format : "text";
    if (a->routes) {
        bool ok = routes_text(&L, a->routes, stdout, d);
        unload(&L);
        return ok ? IR_EXIT_OK : IR_EXIT_INPUT;
    }
    if (a->memory) {
        memory_text(&L, stdout);
    } else if (!strcmp(fmt, "json")) {
        json_t *doc = json_doc(&L, a->placement);
        json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
        fputc('\n', stdout);
        json_decref(doc);
    } else if (!strcmp(fmt, "svg")) {
        placement_svg(&L, stdout);
    } else if (a->placement) {
        placement_text(&L, stdout);
    } else {
        summary_text(a->model, &L, stdout);
    }
    unload(&L);
    if (fflush(stdout) || ferror(stdout)) {
        ir_error(d, IR_NOLOC, "cannot write the output");
        return IR_EXIT_INPUT;
    }
    return IR_EXIT_OK;
}
