/* check.c - the independent route checker (pl_check_routes).
 *
 * It trusts nothing the router computed and shares none of its code: it
 * rebuilds the (router, colour) -> (in, outs) table from the hop lists as a
 * loader would program the fabric, walks every net through that table as
 * its wavelets would travel, and recomputes link loads and colour counts.
 * A router that configures the right hops but wires one port wrongly, or
 * gives two nets one colour where they meet, delivers wavelets to the wrong
 * PE without any local symptom; only a walk over the merged table shows it. */
#include "pl.h"

#include <stdlib.h>
#include <string.h>

static const int DX[4] = {0, 1, 0, -1}; /* per direction N E S W: step in x */
static const int DY[4] = {-1, 0, 1, 0}; /* per direction: step in y (north is y - 1) */

static const char *port_name(int p) {
    static const char *names[] = {"north", "east", "south", "west", "ramp"};
    return p >= 0 && p < PL_NPORTS ? names[p] : "?";
}

/* One configured (router, colour). */
typedef struct entry {
    int32_t color; /* its colour */
    int32_t net;   /* net whose route configures it */
    int32_t hop;   /* index in that route's hops */
} entry;

/* The fabric's colour tables: the entries grouped by router (counting
 * sort) and sorted by colour within a router, so a lookup reads one short
 * contiguous run. */
typedef struct table {
    int32_t *off; /* per router + 1: start of its entries */
    entry *e;     /* entries, one per hop */
} table;

static const entry *lookup(const table *t, int32_t width, int32_t x, int32_t y, int32_t color) {
    size_t v = (size_t)y * width + x;
    int32_t lo = t->off[v], hi = t->off[v + 1];
    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (t->e[mid].color < color)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < t->off[v + 1] && t->e[lo].color == color ? &t->e[lo] : NULL;
}

static bool entry_less(const entry *a, const entry *b) {
    if (a->color != b->color) return a->color < b->color;
    return a->net != b->net ? a->net < b->net : a->hop < b->hop;
}

static int cmp_entry(const void *a, const void *b) {
    return entry_less(a, b) ? -1 : entry_less(b, a);
}

static void sort_run(entry *e, int32_t n) {
    if (n > 16) {
        qsort(e, (size_t)n, sizeof *e, cmp_entry);
        return;
    }
    for (int32_t i = 1; i < n; i++) {
        entry x = e[i];
        int32_t j = i;
        for (; j > 0 && entry_less(&x, &e[j - 1]); j--)
            e[j] = e[j - 1];
        e[j] = x;
    }
}

static bool check_nets(int32_t width, int32_t height, const pl_net *nets, int32_t nnets,
                       ir_diag *d) {
    for (int32_t i = 0; i < nnets; i++) {
        const pl_net *n = &nets[i];
        if (n->sx < 0 || n->sx >= width || n->sy < 0 || n->sy >= height || n->nsinks < 1 ||
            !n->kx || !n->ky) {
            ir_error(d, IR_NOLOC, "net %d: no source inside the fabric or no sinks", i);
            return false;
        }
        for (int32_t k = 0; k < n->nsinks; k++)
            if (n->kx[k] < 0 || n->kx[k] >= width || n->ky[k] < 0 || n->ky[k] >= height) {
                ir_error(d, IR_NOLOC, "net %d: sink (%d,%d) is outside the %dx%d fabric", i,
                         n->kx[k], n->ky[k], width, height);
                return false;
            }
    }
    return true;
}

/* Every hop in bounds with ports that exist and lead onto the fabric; each
 * (router, colour) configured once; at most `colors` colours per router. */
static bool build_table(int32_t width, int32_t height, int32_t nnets, const pl_routing *r,
                        int32_t colors, table *t, ir_diag *d) {
    size_t nr = (size_t)width * height;
    for (int32_t i = 0; i < nnets; i++) {
        const struct pl_route *rt = &r->routes[i];
        int32_t c = rt->color;
        if (c < 0 || c >= colors) {
            ir_error(d, IR_NOLOC, "net %d has colour %d; the target's colours are 0 to %d", i, c,
                     colors - 1);
            return false;
        }
        for (int32_t k = 0; k < rt->nhops; k++) {
            const pl_hop *h = &rt->hops[k];
            if (h->x < 0 || h->x >= width || h->y < 0 || h->y >= height) {
                ir_error(d, IR_NOLOC, "net %d configures router (%d,%d), outside the %dx%d fabric",
                         i, h->x, h->y, width, height);
                return false;
            }
            if (h->in >= PL_NPORTS || (h->outs >> PL_NPORTS)) {
                ir_error(d, IR_NOLOC,
                         "net %d: router (%d,%d) has input port %u and outputs 0x%x; ports are "
                         "0 to %d",
                         i, h->x, h->y, h->in, h->outs, PL_NPORTS - 1);
                return false;
            }
            for (int p = 0; p < 4; p++) {
                bool off = h->x + DX[p] < 0 || h->x + DX[p] >= width || h->y + DY[p] < 0 ||
                           h->y + DY[p] >= height;
                if (!off) continue;
                if (h->in == p) {
                    ir_error(d, IR_NOLOC,
                             "net %d: router (%d,%d) accepts colour %d from the %s, off the fabric",
                             i, h->x, h->y, c, port_name(p));
                    return false;
                }
                if (h->outs >> p & 1) {
                    ir_error(d, IR_NOLOC,
                             "net %d: router (%d,%d) forwards colour %d %s, off the fabric", i,
                             h->x, h->y, c, port_name(p));
                    return false;
                }
            }
            t->off[(size_t)h->y * width + h->x + 1]++;
        }
    }
    for (size_t v = 0; v < nr; v++)
        t->off[v + 1] += t->off[v];
    for (int32_t i = 0; i < nnets; i++)
        for (int32_t k = 0; k < r->routes[i].nhops; k++) {
            const pl_hop *h = &r->routes[i].hops[k];
            t->e[t->off[(size_t)h->y * width + h->x]++] = (entry){r->routes[i].color, i, k};
        }
    /* the fill moved every start to the next router's: shift back */
    memmove(t->off + 1, t->off, nr * sizeof *t->off);
    t->off[0] = 0;
    for (size_t v = 0; v < nr; v++) {
        int32_t a = t->off[v], n = t->off[v + 1] - a;
        if (n < 2) continue;
        sort_run(t->e + a, n);
        int32_t x = (int32_t)(v % width), y = (int32_t)(v / width);
        for (int32_t j = a + 1; j < a + n; j++) {
            const entry *p = &t->e[j - 1], *q = &t->e[j];
            if (p->color != q->color) continue;
            if (p->net == q->net)
                ir_error(d, IR_NOLOC, "net %d configures router (%d,%d) twice for colour %d",
                         p->net, x, y, p->color);
            else
                ir_error(d, IR_NOLOC,
                         "router (%d,%d): colour %d is configured by both net %d and net %d", x, y,
                         p->color, p->net, q->net);
            return false;
        }
        /* With global colour ids in range and no pair configured twice this
         * cannot fire; it states the machine's limit directly, so that it
         * stays checked if colours ever become per-router. */
        if (n > colors) {
            ir_error(d, IR_NOLOC, "router (%d,%d) holds %d colours, the target has %d", x, y, n,
                     colors);
            return false;
        }
    }
    return true;
}

/* Follows net i's wavelets from its source through the table: every router
 * reached must accept the colour from the port it arrives on, no router is
 * reached twice, the ramp deliveries are exactly the sinks, and every
 * configured hop of the net is reached. */
static bool walk(int32_t width, const pl_net *nets, int32_t i, const pl_routing *r, const table *t,
                 uint32_t *visit, uint32_t *sinkm, int32_t *stack, ir_diag *d) {
    const pl_net *n = &nets[i];
    const struct pl_route *rt = &r->routes[i];
    int32_t c = rt->color;
    uint32_t mark = (uint32_t)i + 1, want = 2 * (uint32_t)i + 1, got = want + 1;
    int32_t nsinks = 0;
    for (int32_t k = 0; k < n->nsinks; k++) {
        size_t v = (size_t)n->ky[k] * width + n->kx[k];
        if (sinkm[v] != want) nsinks++;
        sinkm[v] = want;
    }
    const entry *e = lookup(t, width, n->sx, n->sy, c);
    if (!e) {
        ir_error(d, IR_NOLOC,
                 "net %d: its source router (%d,%d) has no configuration for colour %d", i, n->sx,
                 n->sy, c);
        return false;
    }
    if (e->net != i) {
        ir_error(d, IR_NOLOC, "net %d: colour %d at its source router (%d,%d) belongs to net %d", i,
                 c, n->sx, n->sy, e->net);
        return false;
    }
    if (rt->hops[e->hop].in != PL_RAMP) {
        ir_error(d, IR_NOLOC,
                 "net %d: its source router (%d,%d) accepts colour %d from the %s, not the ramp", i,
                 n->sx, n->sy, c, port_name(rt->hops[e->hop].in));
        return false;
    }
    int32_t sp = 0, reached = 0, delivered = 0;
    stack[sp++] = e->hop;
    visit[(size_t)n->sy * width + n->sx] = mark;
    while (sp) {
        const pl_hop *h = &rt->hops[stack[--sp]];
        reached++;
        size_t v = (size_t)h->y * width + h->x;
        if (h->outs >> PL_RAMP & 1) {
            if (sinkm[v] != want) {
                ir_error(d, IR_NOLOC,
                         "net %d (colour %d) is delivered to PE (%d,%d), which is not one of its "
                         "sinks",
                         i, c, h->x, h->y);
                return false;
            }
            sinkm[v] = got;
            delivered++;
        }
        for (int p = 0; p < 4; p++) {
            if (!(h->outs >> p & 1)) continue;
            int32_t ux = h->x + DX[p], uy = h->y + DY[p];
            size_t u = (size_t)uy * width + ux;
            if (visit[u] == mark) {
                ir_error(d, IR_NOLOC,
                         "net %d (colour %d): router (%d,%d) forwards %s to router (%d,%d), "
                         "which the stream has already passed: a loop",
                         i, c, h->x, h->y, port_name(p), ux, uy);
                return false;
            }
            const entry *f = lookup(t, width, ux, uy, c);
            if (!f) {
                ir_error(d, IR_NOLOC,
                         "net %d (colour %d): router (%d,%d) forwards %s to router (%d,%d), "
                         "which has no configuration for the colour",
                         i, c, h->x, h->y, port_name(p), ux, uy);
                return false;
            }
            if (f->net != i) {
                ir_error(d, IR_NOLOC,
                         "net %d (colour %d): router (%d,%d) forwards %s into router (%d,%d), "
                         "where the colour belongs to net %d",
                         i, c, h->x, h->y, port_name(p), ux, uy, f->net);
                return false;
            }
            int arrive = p ^ 2; /* the port facing the sender */
            if (rt->hops[f->hop].in != arrive) {
                ir_error(d, IR_NOLOC,
                         "net %d (colour %d): router (%d,%d) accepts the colour from the %s, but "
                         "the stream arrives from the %s",
                         i, c, ux, uy, port_name(rt->hops[f->hop].in), port_name(arrive));
                return false;
            }
            visit[u] = mark;
            stack[sp++] = f->hop;
        }
    }
    if (reached != rt->nhops) {
        for (int32_t k = 0; k < rt->nhops; k++) {
            const pl_hop *h = &rt->hops[k];
            if (visit[(size_t)h->y * width + h->x] != mark) {
                ir_error(d, IR_NOLOC,
                         "net %d (colour %d): router (%d,%d) is configured for it but the stream "
                         "never reaches it",
                         i, c, h->x, h->y);
                return false;
            }
        }
    }
    if (delivered != nsinks) {
        for (int32_t k = 0; k < n->nsinks; k++)
            if (sinkm[(size_t)n->ky[k] * width + n->kx[k]] == want) {
                ir_error(d, IR_NOLOC, "net %d (colour %d) never reaches its sink PE (%d,%d)", i, c,
                         n->kx[k], n->ky[k]);
                return false;
            }
    }
    return true;
}

bool pl_check_routes(int32_t width, int32_t height, const pl_net *nets, int32_t nnets,
                     const pl_routing *r, int32_t colors, double capacity, ir_diag *d) {
    if (width < 1 || height < 1 || (int64_t)width * height > (INT64_C(1) << 28)) {
        ir_error(d, IR_NOLOC, "cannot check routes on a %dx%d fabric", width, height);
        return false;
    }
    if (colors < 1 || !(capacity > 0)) {
        ir_error(d, IR_NOLOC, "cannot check routes with %d colours and link capacity %g", colors,
                 capacity);
        return false;
    }
    if (nnets < 0 || (nnets > 0 && !nets) || !r || r->nroutes != nnets ||
        (nnets > 0 && !r->routes)) {
        ir_error(d, IR_NOLOC, "the routing has %d routes for %d nets", r ? r->nroutes : 0, nnets);
        return false;
    }
    if (!check_nets(width, height, nets, nnets, d)) return false;
    size_t total = 0;
    for (int32_t i = 0; i < nnets; i++) {
        if (r->routes[i].nhops < 0 || (r->routes[i].nhops > 0 && !r->routes[i].hops)) {
            ir_error(d, IR_NOLOC, "net %d: route of %d hops", i, r->routes[i].nhops);
            return false;
        }
        total += (size_t)r->routes[i].nhops;
    }

    if (total > INT32_MAX) {
        ir_error(d, IR_NOLOC, "cannot check routes of %zu hops", total);
        return false;
    }
    size_t nr = (size_t)width * height;
    table t = {ir_xcalloc(nr + 1, sizeof *t.off), ir_xmalloc((total + 1) * sizeof *t.e)};
    uint32_t *visit = ir_xcalloc(nr, sizeof *visit);
    uint32_t *sinkm = ir_xcalloc(nr, sizeof *sinkm);
    int32_t *stack = ir_xmalloc((total + 1) * sizeof *stack);
    double *load = NULL;
    bool ok = build_table(width, height, nnets, r, colors, &t, d);
    for (int32_t i = 0; ok && i < nnets; i++)
        ok = walk(width, nets, i, r, &t, visit, sinkm, stack, d);
    if (ok) {
        /* Every hop is now known to be on its net's tree, so each out port
         * is one link the net's wavelets cross. */
        load = ir_xcalloc(nr * 4, sizeof *load);
        for (int32_t i = 0; i < nnets; i++)
            for (int32_t k = 0; k < r->routes[i].nhops; k++) {
                const pl_hop *h = &r->routes[i].hops[k];
                for (int p = 0; p < 4; p++)
                    if (h->outs >> p & 1)
                        load[((size_t)h->y * width + h->x) * 4 + p] += nets[i].load;
            }
        for (size_t l = 0; ok && l < nr * 4; l++)
            if (load[l] > capacity * (1 + 1e-9)) {
                int32_t x = (int32_t)(l / 4 % width), y = (int32_t)(l / 4 / width);
                int p = (int)(l % 4);
                ir_error(d, IR_NOLOC,
                         "link (%d,%d)->(%d,%d) carries %g wavelets per cycle, the capacity is %g",
                         x, y, x + DX[p], y + DY[p], load[l], capacity);
                ok = false;
            }
    }
    free(t.off);
    free(t.e);
    free(visit);
    free(sinkm);
    free(stack);
    free(load);
    return ok;
}
