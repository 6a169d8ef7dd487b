/* wafer_io.c - encoding of the compiled program's sections: the target, the
 * kernel graph with its placement, and the routes. Decoders trust nothing:
 * every count, index, coordinate and port is checked, so a corrupted or
 * hand-made artifact is refused instead of crashing a later stage. */
#include "rt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BAD(...)                                                                                   \
    do {                                                                                           \
        ir_error(d, IR_NOLOC, __VA_ARGS__);                                                        \
        return false;                                                                              \
    } while (0)

void rt_encode_target(const ir_target *t, rt_buf *b) {
    rt_put_str(b, t->name);
    rt_put_u32(b, (uint32_t)t->width);
    rt_put_u32(b, (uint32_t)t->height);
    rt_put_i64(b, t->sram_bytes);
    rt_put_u32(b, (uint32_t)t->sram_banks);
    rt_put_u32(b, (uint32_t)t->colors);
    rt_put_u32(b, (uint32_t)t->queue_depth);
    rt_put_u32(b, (uint32_t)t->link_wavelets);
    rt_put_u32(b, (uint32_t)t->hop_cycles);
    rt_put_u32(b, (uint32_t)t->fp32_lanes);
    rt_put_u32(b, (uint32_t)t->fp16_lanes);
    rt_put_u32(b, (uint32_t)t->sram_reads);
    rt_put_u32(b, (uint32_t)t->sram_writes);
    rt_put_u32(b, (uint32_t)t->task_cycles);
    rt_put_f64(b, t->clock_hz);
}

bool rt_decode_target(const void *data, size_t len, ir_target *t, ir_diag *d) {
    rt_reader r = rt_reader_make(data, len);
    ir_arena *a = ir_arena_new();
    const char *name = rt_read_str(&r, a);
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name ? name : "");
    ir_arena_free(a);
    t->width = (int32_t)rt_read_u32(&r);
    t->height = (int32_t)rt_read_u32(&r);
    t->sram_bytes = rt_read_i64(&r);
    t->sram_banks = (int32_t)rt_read_u32(&r);
    t->colors = (int32_t)rt_read_u32(&r);
    t->queue_depth = (int32_t)rt_read_u32(&r);
    t->link_wavelets = (int32_t)rt_read_u32(&r);
    t->hop_cycles = (int32_t)rt_read_u32(&r);
    t->fp32_lanes = (int32_t)rt_read_u32(&r);
    t->fp16_lanes = (int32_t)rt_read_u32(&r);
    t->sram_reads = (int32_t)rt_read_u32(&r);
    t->sram_writes = (int32_t)rt_read_u32(&r);
    t->task_cycles = (int32_t)rt_read_u32(&r);
    t->clock_hz = rt_read_f64(&r);
    if (r.bad || rt_reader_left(&r) || !name) BAD("artifact: the target section is malformed");
    if (t->width < 1 || t->height < 1 || t->width > 65536 || t->height > 65536 ||
        t->sram_bytes < 1 || t->colors < 1 || t->colors > 64 || t->link_wavelets < 1 ||
        !(t->clock_hz >= IR_MIN_CLOCK_HZ) || !(t->clock_hz <= IR_MAX_CLOCK_HZ))
        BAD("artifact: the target section holds impossible values");
    return true;
}

void rt_encode_kgraph(const ir_kgraph *kg, rt_buf *b) {
    rt_put_u32(b, (uint32_t)kg->nk);
    for (int32_t i = 0; i < kg->nk; i++) {
        const ir_kernel *k = &kg->k[i];
        rt_put_str(b, k->name);
        rt_put_u32(b, (uint32_t)k->kind);
        rt_put_u32(b, (uint32_t)k->node);
        rt_put_u32(b, (uint32_t)k->nnodes);
        for (int32_t j = 0; j < k->nnodes; j++)
            rt_put_u32(b, (uint32_t)k->nodes[j]);
        rt_put_u32(b, (uint32_t)k->w);
        rt_put_u32(b, (uint32_t)k->h);
        rt_put_i64(b, k->x);
        rt_put_i64(b, k->y);
        rt_put_i64(b, k->rows);
        rt_put_i64(b, k->row_len);
        rt_put_i64(b, k->sram_data);
        rt_put_i64(b, k->sram_buffers);
        rt_put_i64(b, k->sram_program);
        rt_put_i64(b, k->work);
        rt_put_i64(b, k->cycles);
        rt_put_u32(b, (uint32_t)k->colors);
    }
    rt_put_u32(b, (uint32_t)kg->ns);
    for (int32_t i = 0; i < kg->ns; i++) {
        rt_put_u32(b, (uint32_t)kg->s[i].src);
        rt_put_u32(b, (uint32_t)kg->s[i].dst);
        rt_put_u32(b, (uint32_t)kg->s[i].operand);
        rt_put_i64(b, kg->s[i].wavelets);
    }
}

bool rt_decode_kgraph(const void *data, size_t len, const ir_graph *g, const ir_target *t,
                      ir_kgraph *kg, ir_diag *d) {
    memset(kg, 0, sizeof *kg);
    kg->arena = ir_arena_new();
    rt_reader r = rt_reader_make(data, len);
    uint32_t nk = rt_read_u32(&r);
    /* every kernel takes more than 64 bytes: a count beyond that is a lie */
    if (r.bad || nk > rt_reader_left(&r) / 64 + 1) goto bad;
    kg->k = ir_xcalloc((size_t)nk + 1, sizeof(ir_kernel));
    kg->nk = kg->capk = (int32_t)nk;
    for (uint32_t i = 0; i < nk; i++) {
        ir_kernel *k = &kg->k[i];
        k->name = rt_read_str(&r, kg->arena);
        k->kind = (ir_kkind)rt_read_u32(&r);
        k->node = (ir_ref)rt_read_u32(&r);
        uint32_t nn = rt_read_u32(&r);
        if (r.bad || nn < 1 || nn > rt_reader_left(&r) / 4) goto bad;
        k->nodes = ir_alloc(kg->arena, sizeof(ir_ref) * nn);
        k->nnodes = (int32_t)nn;
        for (uint32_t j = 0; j < nn; j++) {
            k->nodes[j] = (ir_ref)rt_read_u32(&r);
            if (k->nodes[j] < 0 || k->nodes[j] >= g->nnodes) goto bad;
        }
        k->w = (int32_t)rt_read_u32(&r);
        k->h = (int32_t)rt_read_u32(&r);
        int64_t x = rt_read_i64(&r), y = rt_read_i64(&r);
        k->rows = rt_read_i64(&r);
        k->row_len = rt_read_i64(&r);
        k->sram_data = rt_read_i64(&r);
        k->sram_buffers = rt_read_i64(&r);
        k->sram_program = rt_read_i64(&r);
        k->work = rt_read_i64(&r);
        k->cycles = rt_read_i64(&r);
        k->colors = (int32_t)rt_read_u32(&r);
        if (r.bad || !k->name || (unsigned)k->kind >= IR_NKKINDS || k->node < 0 ||
            k->node >= g->nnodes)
            goto bad;
        if (k->w < 1 || k->h < 1 || x < 0 || y < 0 || x + k->w > t->width || y + k->h > t->height)
            goto bad;
        k->x = (int32_t)x, k->y = (int32_t)y;
        if (k->sram_data < 0 || k->sram_buffers < 0 || k->sram_program < 0 || k->cycles < 0 ||
            k->work < 0 || k->rows < 0 || k->row_len < 0)
            goto bad;
    }
    uint32_t ns = rt_read_u32(&r);
    if (r.bad || ns > rt_reader_left(&r) / 20 + 1) goto bad;
    kg->s = ir_xcalloc((size_t)ns + 1, sizeof(ir_kstream));
    kg->ns = kg->caps = (int32_t)ns;
    for (uint32_t i = 0; i < ns; i++) {
        ir_kstream *s = &kg->s[i];
        s->src = (int32_t)rt_read_u32(&r);
        s->dst = (int32_t)rt_read_u32(&r);
        s->operand = (int32_t)rt_read_u32(&r);
        s->wavelets = rt_read_i64(&r);
        if (r.bad || s->src < 0 || s->src >= kg->nk || s->dst < 0 || s->dst >= kg->nk ||
            s->wavelets < 0)
            goto bad;
    }
    if (rt_reader_left(&r)) goto bad;
    return true;
bad:
    ir_kgraph_free(kg);
    BAD("artifact: the kernel section is malformed or does not match the model");
}

void rt_encode_routes(const rt_routes *rs, rt_buf *b) {
    rt_put_f64(b, rs->period);
    rt_put_f64(b, rs->max_link_load);
    rt_put_u32(b, (uint32_t)rs->max_colors);
    rt_put_f64(b, rs->mean_colors);
    rt_put_u32(b, (uint32_t)rs->n);
    for (int32_t i = 0; i < rs->n; i++) {
        const rt_net *n = &rs->nets[i];
        rt_put_u32(b, (uint32_t)n->kernel);
        rt_put_i64(b, n->stream);
        rt_put_u32(b, (uint32_t)n->color);
        rt_put_u32(b, (uint32_t)n->role);
        rt_put_u32(b, (uint32_t)n->producer);
        rt_put_i64(b, n->np);
        rt_put_i64(b, n->lo);
        rt_put_i64(b, n->hi);
        rt_put_u32(b, (uint32_t)n->sx);
        rt_put_u32(b, (uint32_t)n->sy);
        rt_put_f64(b, n->load);
        rt_put_u32(b, (uint32_t)n->nsinks);
        for (int32_t j = 0; j < n->nsinks; j++) {
            rt_put_u32(b, (uint32_t)n->kx[j]);
            rt_put_u32(b, (uint32_t)n->ky[j]);
        }
        rt_put_u32(b, (uint32_t)n->nhops);
        for (int32_t j = 0; j < n->nhops; j++) {
            rt_put_u32(b, (uint32_t)n->hops[j].x);
            rt_put_u32(b, (uint32_t)n->hops[j].y);
            rt_put_u8(b, n->hops[j].in);
            rt_put_u8(b, n->hops[j].outs);
        }
    }
}

void rt_routes_free(rt_routes *r) {
    if (!r) return;
    ir_arena_free(r->arena);
    memset(r, 0, sizeof *r);
}

bool rt_decode_routes(const void *data, size_t len, const ir_target *t, int32_t nkernels,
                      rt_routes *rs, ir_diag *d) {
    memset(rs, 0, sizeof *rs);
    rs->arena = ir_arena_new();
    rt_reader r = rt_reader_make(data, len);
    rs->period = rt_read_f64(&r);
    rs->max_link_load = rt_read_f64(&r);
    rs->max_colors = (int32_t)rt_read_u32(&r);
    rs->mean_colors = rt_read_f64(&r);
    uint32_t n = rt_read_u32(&r);
    if (r.bad || n > rt_reader_left(&r) / 40 + 1 || !(rs->period >= 1) || !isfinite(rs->period))
        goto bad;
    rs->nets = ir_alloc(rs->arena, sizeof(rt_net) * ((size_t)n + 1));
    rs->n = (int32_t)n;
    for (uint32_t i = 0; i < n; i++) {
        rt_net *x = &rs->nets[i];
        x->kernel = (int32_t)rt_read_u32(&r);
        x->stream = (int32_t)rt_read_i64(&r);
        x->color = (int32_t)rt_read_u32(&r);
        x->role = (int32_t)rt_read_u32(&r);
        x->producer = (int32_t)rt_read_u32(&r);
        x->np = rt_read_i64(&r);
        x->lo = rt_read_i64(&r);
        x->hi = rt_read_i64(&r);
        if (x->role < 0 || x->role > RT_NET_BCAST || x->producer < 0 || x->producer >= nkernels ||
            x->np < 0 || x->lo < 0 || x->hi < x->lo || x->hi > x->np)
            goto bad;
        x->sx = (int32_t)rt_read_u32(&r);
        x->sy = (int32_t)rt_read_u32(&r);
        x->load = rt_read_f64(&r);
        uint32_t ns = rt_read_u32(&r);
        if (r.bad || x->kernel < 0 || x->kernel >= nkernels || x->color < 0 ||
            x->color >= t->colors || x->sx < 0 || x->sy < 0 || x->sx >= t->width ||
            x->sy >= t->height || !(x->load >= 0) || ns > rt_reader_left(&r) / 8)
            goto bad;
        x->nsinks = (int32_t)ns;
        x->kx = ir_alloc(rs->arena, sizeof(int32_t) * (ns + 1));
        x->ky = ir_alloc(rs->arena, sizeof(int32_t) * (ns + 1));
        for (uint32_t j = 0; j < ns; j++) {
            x->kx[j] = (int32_t)rt_read_u32(&r);
            x->ky[j] = (int32_t)rt_read_u32(&r);
            if (x->kx[j] < 0 || x->ky[j] < 0 || x->kx[j] >= t->width || x->ky[j] >= t->height)
                goto bad;
        }
        uint32_t nh = rt_read_u32(&r);
        if (r.bad || nh > rt_reader_left(&r) / 10) goto bad;
        x->nhops = (int32_t)nh;
        x->hops = ir_alloc(rs->arena, sizeof(rt_hop) * (nh + 1));
        for (uint32_t j = 0; j < nh; j++) {
            rt_hop *h = &x->hops[j];
            h->x = (int32_t)rt_read_u32(&r);
            h->y = (int32_t)rt_read_u32(&r);
            h->in = rt_read_u8(&r);
            h->outs = rt_read_u8(&r);
            if (r.bad || h->x < 0 || h->y < 0 || h->x >= t->width || h->y >= t->height ||
                h->in > 4 || h->outs >= 32)
                goto bad;
        }
    }
    if (r.bad || rt_reader_left(&r)) goto bad;
    return true;
bad:
    rt_routes_free(rs);
    BAD("artifact: the route section is malformed");
}
