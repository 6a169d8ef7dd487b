/* image_io.c - the 'SRAM' section (every PE's initial SRAM as segments of
 * non-zero bytes) and the 'IOMP' section (which edge rows and colours carry
 * each graph input and output). Layouts in docs/artifact.md; decoding
 * trusts nothing. */
#include "rt.h"
#include "wse_abi.h"

#include <string.h>

#define BAD(...)                                                                                   \
    do {                                                                                           \
        ir_error(d, IR_NOLOC, __VA_ARGS__);                                                        \
        rt_images_free(im);                                                                        \
        return false;                                                                              \
    } while (0)

static void put_io(rt_buf *b, const rt_host_io *io) {
    rt_put_str(b, io->name);
    rt_put_u32(b, (uint32_t)io->dtype);
    rt_put_u32(b, (uint32_t)io->shape.rank);
    for (int i = 0; i < io->shape.rank; i++)
        rt_put_i64(b, io->shape.d[i]);
    rt_put_u32(b, (uint32_t)io->nlanes);
    for (int32_t j = 0; j < io->nlanes; j++) {
        const rt_host_lane *l = &io->lanes[j];
        rt_put_u32(b, (uint32_t)l->x);
        rt_put_u32(b, (uint32_t)l->y);
        rt_put_u32(b, (uint32_t)l->color);
        rt_put_i64(b, l->c0);
        rt_put_i64(b, l->c1);
    }
}

void rt_encode_images(const rt_images *im, rt_buf *sram, rt_buf *iomp) {
    rt_put_u32(sram, (uint32_t)im->npe);
    for (int32_t i = 0; i < im->npe; i++) {
        const rt_pe_image *p = &im->pe[i];
        rt_put_u32(sram, (uint32_t)p->x);
        rt_put_u32(sram, (uint32_t)p->y);
        rt_put_u32(sram, (uint32_t)p->kernel);
        rt_put_u32(sram, (uint32_t)p->program);
        rt_put_u32(sram, p->used);
        rt_put_u32(sram, (uint32_t)p->nseg);
        for (int32_t s = 0; s < p->nseg; s++) {
            rt_put_u32(sram, p->seg[s].off);
            rt_put_u32(sram, p->seg[s].len);
            rt_put_bytes(sram, p->seg[s].data, p->seg[s].len);
        }
    }
    rt_put_u32(iomp, (uint32_t)im->nin);
    for (int32_t i = 0; i < im->nin; i++)
        put_io(iomp, &im->in[i]);
    rt_put_u32(iomp, (uint32_t)im->nout);
    for (int32_t i = 0; i < im->nout; i++)
        put_io(iomp, &im->out[i]);
}

static bool get_io(rt_reader *r, const ir_target *t, bool input, rt_host_io *io, ir_arena *a) {
    io->name = rt_read_str(r, a);
    io->dtype = (ir_dtype)rt_read_u32(r);
    uint32_t rank = rt_read_u32(r);
    if (r->bad || !io->name || (uint32_t)io->dtype >= IR_NDTYPES || rank > IR_MAX_RANK)
        return false;
    io->shape.rank = (int)rank;
    for (uint32_t i = 0; i < rank; i++) {
        io->shape.d[i] = rt_read_i64(r);
        if (io->shape.d[i] < 1 || io->shape.d[i] > IR_MAX_DIM) return false;
    }
    uint32_t n = rt_read_u32(r);
    if (r->bad || n < 1 || n > (uint32_t)t->height || n > rt_reader_left(r) / 28) return false;
    int64_t ncol = rank ? io->shape.d[rank - 1] : 1;
    io->nlanes = (int32_t)n;
    io->lanes = ir_alloc(a, sizeof(rt_host_lane) * n);
    for (uint32_t j = 0; j < n; j++) {
        rt_host_lane *l = &io->lanes[j];
        l->x = (int32_t)rt_read_u32(r);
        l->y = (int32_t)rt_read_u32(r);
        l->color = (int32_t)rt_read_u32(r);
        l->c0 = rt_read_i64(r);
        l->c1 = rt_read_i64(r);
        if (r->bad || l->x != (input ? 0 : t->width - 1) || l->y < 0 || l->y >= t->height ||
            l->color < 0 || l->color >= t->colors || l->c0 < 0 || l->c1 < l->c0 || l->c1 > ncol)
            return false;
    }
    return true;
}

bool rt_decode_images(const void *sram, size_t slen, const void *iomp, size_t ilen,
                      const ir_target *t, int32_t nkernels, int32_t nprograms, rt_images *im,
                      ir_diag *d) {
    memset(im, 0, sizeof *im);
    im->arena = ir_arena_new();
    rt_reader r = rt_reader_make(sram, slen);
    uint32_t n = rt_read_u32(&r);
    if (r.bad || n > rt_reader_left(&r) / 24) BAD("artifact: the SRAM section is malformed");
    im->npe = (int32_t)n;
    im->pe = ir_alloc(im->arena, sizeof(rt_pe_image) * ((size_t)n + 1));
    for (uint32_t i = 0; i < n; i++) {
        rt_pe_image *p = &im->pe[i];
        p->x = (int32_t)rt_read_u32(&r);
        p->y = (int32_t)rt_read_u32(&r);
        p->kernel = (int32_t)rt_read_u32(&r);
        p->program = (int32_t)rt_read_u32(&r);
        p->used = rt_read_u32(&r);
        uint32_t ns = rt_read_u32(&r);
        if (r.bad || p->x < 0 || p->y < 0 || p->x >= t->width || p->y >= t->height ||
            p->kernel < 0 || p->kernel >= nkernels || p->program < 0 || p->program >= nprograms ||
            p->used > t->sram_bytes || ns > rt_reader_left(&r) / 8)
            BAD("artifact: the SRAM section is malformed (PE record %u)", i);
        p->nseg = (int32_t)ns;
        p->seg = ir_alloc(im->arena, sizeof(rt_seg) * ((size_t)ns + 1));
        for (uint32_t s = 0; s < ns; s++) {
            rt_seg *g = &p->seg[s];
            g->off = rt_read_u32(&r);
            g->len = rt_read_u32(&r);
            g->data = rt_read_bytes(&r, g->len);
            if (r.bad || !g->data || (uint64_t)g->off + g->len > (uint64_t)t->sram_bytes)
                BAD("artifact: the SRAM section is malformed (PE (%d,%d), segment %u)", p->x, p->y,
                    s);
        }
    }
    if (r.bad || rt_reader_left(&r)) BAD("artifact: the SRAM section is malformed");
    r = rt_reader_make(iomp, ilen);
    uint32_t ni = rt_read_u32(&r);
    if (r.bad || ni > rt_reader_left(&r) / 16) BAD("artifact: the I/O map section is malformed");
    im->nin = (int32_t)ni;
    im->in = ir_alloc(im->arena, sizeof(rt_host_io) * ((size_t)ni + 1));
    for (uint32_t i = 0; i < ni; i++)
        if (!get_io(&r, t, true, &im->in[i], im->arena))
            BAD("artifact: the I/O map section is malformed (input %u)", i);
    uint32_t no = rt_read_u32(&r);
    if (r.bad || no > rt_reader_left(&r) / 16) BAD("artifact: the I/O map section is malformed");
    im->nout = (int32_t)no;
    im->out = ir_alloc(im->arena, sizeof(rt_host_io) * ((size_t)no + 1));
    for (uint32_t i = 0; i < no; i++)
        if (!get_io(&r, t, false, &im->out[i], im->arena))
            BAD("artifact: the I/O map section is malformed (output %u)", i);
    if (r.bad || rt_reader_left(&r)) BAD("artifact: the I/O map section is malformed");
    return true;
}

void rt_images_free(rt_images *im) {
    if (!im) return;
    ir_arena_free(im->arena);
    memset(im, 0, sizeof *im);
}

/* ------------------------------------------- parameter blocks, checked */

/* True when [off, off + bytes) lies in SRAM (64-bit sums: no wrap). */
static bool fits(uint64_t off, uint64_t bytes, uint64_t sram) {
    return off <= sram && bytes <= sram - off;
}

static uint64_t numel_dims(const uint32_t *dim, uint32_t rank) {
    uint64_t n = 1;
    for (uint32_t a = 0; a < rank; a++) {
        if (!dim[a] || n > (UINT64_C(1) << 40) / dim[a]) return UINT64_MAX;
        n *= dim[a];
    }
    return n;
}

static bool check_view(const wse_view *v) {
    if (v->rank < 1 || v->rank > WSE_MAX_RANK) return false;
    return numel_dims(v->dim, v->rank) != UINT64_MAX;
}

/* The index arithmetic of codegen/pe/wsl.c's generic evaluator stays inside
 * every operand only when the shapes agree as the op says. */
static bool generic_shapes_ok(const wse_generic *G) {
    const wse_gopnd *in = G->in;
    uint32_t r = G->rank, op = G->op;
    switch (op) {
    case WSE_G_MATMUL:
    case WSE_G_LINEAR: {
        if (G->nin < 2 || in[0].rank < 1 || in[1].rank < 1) return false;
        uint32_t ar = in[0].rank, br = in[1].rank, nb = r;
        if (br >= 2) nb--;
        if (ar >= 2) nb--;
        if (nb > r || (ar >= 2 && nb < ar - 2) || (br >= 2 && nb < br - 2)) return false;
        uint32_t ta = G->flags >> 1 & 1, tb = G->flags >> 2 & 1;
        uint32_t ak = ar >= 2 ? in[0].dim[ar - 1 - ta] : in[0].dim[0];
        uint32_t bk = br >= 2 ? in[1].dim[br - 2 + tb] : in[1].dim[0];
        if (ak != bk) return false;
        if (ar >= 2 && in[0].dim[ar - 2 + ta] != G->dim[nb]) return false;
        if (br >= 2 && in[1].dim[br - 1 - tb] != G->dim[r - 1]) return false;
        for (uint32_t a = 0; a + 2 < ar; a++)
            if (in[0].dim[a] != 1 && in[0].dim[a] != G->dim[nb - (ar - 2) + a]) return false;
        for (uint32_t a = 0; a + 2 < br; a++)
            if (in[1].dim[a] != 1 && in[1].dim[a] != G->dim[nb - (br - 2) + a]) return false;
        if (op == WSE_G_LINEAR &&
            (G->nin < 3 || r < 1 || numel_dims(in[2].dim, in[2].rank) < G->dim[r - 1]))
            return false;
        return true;
    }
    case WSE_G_SUM:
    case WSE_G_MEAN:
    case WSE_G_MAX:
    case WSE_G_MIN: {
        if (G->nin != 1 || (in[0].rank < 32 && G->axes >> in[0].rank)) return false;
        uint32_t k = 0;
        for (uint32_t a = 0; a < in[0].rank; a++) {
            bool red = G->axes >> a & 1;
            if (red && !G->keepdims) continue;
            if (k >= r || G->dim[k] != (red ? 1 : in[0].dim[a])) return false;
            k++;
        }
        return k == r;
    }
    case WSE_G_SOFTMAX:
    case WSE_G_LAYERNORM:
    case WSE_G_RMSNORM: {
        if (in[0].rank != r || r < 1 || numel_dims(in[0].dim, r) != numel_dims(G->dim, r))
            return false;
        for (uint32_t a = 0; a < r; a++)
            if (in[0].dim[a] != G->dim[a]) return false;
        if (op == WSE_G_SOFTMAX) return G->axes < r;
        uint32_t need = op == WSE_G_LAYERNORM ? 3 : 2;
        if (G->nin != need) return false;
        for (uint32_t i = 1; i < need; i++)
            if (numel_dims(in[i].dim, in[i].rank) < G->dim[r - 1]) return false;
        return true;
    }
    case WSE_G_TRANSPOSE: {
        if (in[0].rank != r) return false;
        uint32_t seen = 0;
        for (uint32_t a = 0; a < r; a++) {
            if (G->perm[a] >= r || seen >> G->perm[a] & 1) return false;
            seen |= 1u << G->perm[a];
            if (in[0].dim[G->perm[a]] != G->dim[a]) return false;
        }
        return true;
    }
    case WSE_G_CONCAT: {
        if (G->axes >= r || !G->nin) return false;
        uint64_t total = 0;
        for (uint32_t i = 0; i < G->nin; i++) {
            if (in[i].rank != r) return false;
            for (uint32_t a = 0; a < r; a++)
                if (a != G->axes && in[i].dim[a] != G->dim[a]) return false;
            total += in[i].dim[G->axes];
        }
        return total == G->dim[G->axes];
    }
    case WSE_G_GATHER: {
        if (G->nin != 2 || in[0].rank < 1 || in[1].rank + in[0].rank - 1 != r) return false;
        for (uint32_t a = 0; a < in[1].rank; a++)
            if (in[1].dim[a] != G->dim[a]) return false;
        for (uint32_t a = 1; a < in[0].rank; a++)
            if (in[0].dim[a] != G->dim[in[1].rank + a - 1]) return false;
        return true;
    }
    default:
        /* elementwise: each operand broadcasts to the result */
        if (!G->nin) return false;
        for (uint32_t i = 0; i < G->nin; i++) {
            if (in[i].rank > r) return false;
            for (uint32_t a = 0; a < in[i].rank; a++) {
                uint32_t d = in[i].dim[a], o = G->dim[r - in[i].rank + a];
                if (d != 1 && d != o) return false;
            }
        }
        if (op == WSE_G_CAUSAL_MASK) {
            if (in[0].rank != r || r < 1) return false;
            for (uint32_t a = 0; a < r; a++)
                if (in[0].dim[a] != G->dim[a]) return false;
        }
        return true;
    }
}

bool rt_check_params(const uint8_t *sram, uint32_t len, uint64_t sram_bytes, uint32_t kind,
                     int32_t colors, const char **why) {
#define NO(msg)                                                                                    \
    do {                                                                                           \
        *why = msg;                                                                                \
        return false;                                                                              \
    } while (0)
    if (len < sizeof(wse_params)) NO("its parameter block is truncated");
    wse_params P;
    memcpy(&P, sram, sizeof P);
    if (P.head.version != WSE_ABI_VERSION) NO("its parameter block has another ABI version");
    if (P.head.kind != kind)
        NO("its parameter block is for another kind of kernel than its program");
    if (P.nsrc > WSE_MAX_SRC) NO("it has too many sources");
    uint64_t S = sram_bytes;
    for (uint32_t s = 0; s < P.nsrc; s++) {
        const wse_source *x = &P.src[s];
        uint64_t width = (uint64_t)x->c1 - x->c0;
        if (!x->ncol || x->c0 > x->c1 || x->c1 > x->ncol || !check_view(&x->view))
            NO("a source's columns or view are out of range");
        uint64_t span = x->rhi ? (uint64_t)x->rhi - x->rlo : x->rows;
        if ((x->rhi && (x->rlo >= x->rhi || x->rhi > x->rows)) ||
            (x->rmod ? (x->r0 > x->r1 || x->r1 > x->rmod || span % x->rmod ||
                        span / x->rmod * (x->r1 - x->r0) != x->krows)
                     : x->krows != span))
            NO("a source's kept rows are inconsistent");
        if (!fits(x->off_buf, (uint64_t)x->krows * width * 4, S) ||
            !fits(x->off_cnt, (uint64_t)x->krows * 4, S))
            NO("a source's buffers lie outside SRAM");
    }
    const uint32_t *idx[] = {&P.src_x,     &P.src_north, &P.src_west,
                             &P.src_stats, &P.src_relay, &P.src_b};
    for (size_t i = 0; i < sizeof idx / sizeof *idx; i++)
        if (*idx[i] != WSE_NONE && *idx[i] >= P.nsrc) NO("a source index is out of range");
    for (int t = 0; t < WSE_MAX_TASKS; t++) {
        if (P.head.task_color[t] == WSE_NO_COLOR) continue;
        const wse_chan *c = &P.chan[t];
        if (P.head.task_color[t] >= (uint32_t)colors)
            NO("a task is bound to a colour the target lacks");
        if ((P.nsrc < 32 && c->srcmask >> P.nsrc) || !c->np || c->lo >= c->hi || c->hi > c->np)
            NO("an incoming net's description is out of range");
    }
    uint32_t outs[] = {P.head.color_out, P.color_south, P.color_east, P.color_bcast};
    for (size_t i = 0; i < 4; i++)
        if (outs[i] != WSE_NO_COLOR && outs[i] >= (uint32_t)colors)
            NO("it sends on a colour the target lacks");
    uint64_t n = P.n, rows = P.rows, big = n > P.k ? n : P.k;
    if (!fits(P.off_v, big * 4 + 4, S)) NO("its scratch row lies outside SRAM");
    if (P.out_c0 > P.out_ncol || n > (uint64_t)P.out_ncol - P.out_c0)
        NO("its output columns are out of range");
    if (kind != WSE_KIND_INPUT && kind != WSE_KIND_OUTPUT && kind != WSE_KIND_MAP &&
        P.src_x == WSE_NONE && kind != WSE_KIND_MOVE && kind != WSE_KIND_GENERIC)
        NO("it has no main input");
    if ((kind == WSE_KIND_GEMV || kind == WSE_KIND_GATHER) &&
        !fits(P.off_w, (uint64_t)P.k * n * 4, S))
        NO("its weight block lies outside SRAM");
    if (P.off_bias != WSE_NONE && !fits(P.off_bias, n * 4, S)) NO("its bias lies outside SRAM");
    if (kind == WSE_KIND_GEMV && P.src_x != WSE_NONE &&
        P.src[P.src_x].c1 - P.src[P.src_x].c0 != P.k)
        NO("its weight block does not match its input slice");
    if (kind == WSE_KIND_MATMUL) {
        if (P.src_b == WSE_NONE || !P.m || !P.bat_a || !P.bat_b || P.src_x == WSE_NONE)
            NO("its matmul description is incomplete");
        const wse_source *b = &P.src[P.src_b];
        uint64_t bw = (uint64_t)b->c1 - b->c0;
        /* split by batches, the PE holds its batches [b0, b1) only */
        uint64_t nb = P.b1 ? (uint64_t)P.b1 - P.b0 : P.bat_b;
        if (P.b1 && (P.b0 >= P.b1 || P.b1 > P.bat_b || P.bat_a != P.bat_b))
            NO("its matmul's batch range is out of range");
        if ((P.tb ? bw < P.k : bw < n) || (uint64_t)P.kb * nb > b->krows ||
            P.kb < (P.tb ? n : P.k) || P.src[P.src_x].c1 - P.src[P.src_x].c0 != P.k)
            NO("its matmul blocks do not match its sources");
    }
    if (kind == WSE_KIND_GATHER && (!P.m || P.src_x == WSE_NONE))
        NO("its gather description is incomplete");
    if (kind == WSE_KIND_ROW &&
        (P.src_stats == WSE_NONE || P.op > WSE_ROW_MIN || P.src[P.src_stats].ncol != 2))
        NO("its row description is out of range");
    for (int o = 0; o < WSE_MAX_OPERAND; o++)
        if (P.opnd[o].off && !fits(P.opnd[o].off, n * 4, S))
            NO("a resident operand lies outside SRAM");
    /* rows are finished only once their sources hold them: a row slice
     * must fit its sources' rows */
    if (kind != WSE_KIND_GENERIC && kind != WSE_KIND_MOVE)
        for (uint32_t s = 0; s < P.nsrc; s++) {
            bool own = s == P.src_x || s == P.src_north || s == P.src_west || s == P.src_stats ||
                       s == P.src_relay || s == P.src_b;
            if (!own && P.src[s].c1 > P.src[s].c0 && P.src[s].c1 - P.src[s].c0 < n)
                NO("a source is narrower than the row slice it feeds");
        }
    if (P.src_north != WSE_NONE && P.src[P.src_north].c1 - P.src[P.src_north].c0 < n)
        NO("its north partial sums are narrower than its columns");
    if (rows > 0 && kind != WSE_KIND_GENERIC && kind != WSE_KIND_MOVE && P.nsrc &&
        P.src[0].krows < rows && (kind == WSE_KIND_MAP || kind == WSE_KIND_OUTPUT))
        NO("its output has more rows than its sources");
    if (kind == WSE_KIND_MOVE) {
        if (P.mv_rank < 1 || P.mv_rank > WSE_MAX_RANK ||
            numel_dims(P.mv_dim, P.mv_rank) == UINT64_MAX)
            NO("its move description is out of range");
        for (uint32_t a = 0; a < P.mv_rank; a++)
            if (P.mv_perm[a] >= P.mv_rank) NO("its move description is out of range");
        if (P.mv_op) {
            if (P.mv_axis >= P.mv_rank) NO("its concat axis is out of range");
            uint32_t q = 0;
            while (q < WSE_MAX_SRC && P.mv_off[q + 1] > P.mv_off[q])
                q++;
            if (P.mv_off[0] || P.mv_off[q] != P.mv_dim[P.mv_axis] || q > P.nsrc)
                NO("its concat description is out of range");
        } else if (!P.nsrc) {
            NO("its move has no source");
        }
    }
    if (kind == WSE_KIND_GENERIC) {
        const wse_generic *G = &P.gen;
        if (G->op >= WSE_G_NOPS || G->nin > WSE_G_MAX_IN || G->rank > WSE_MAX_RANK ||
            numel_dims(G->dim, G->rank) == UINT64_MAX || G->dtype > WSE_DT_BOOL)
            NO("its generic description is out of range");
        for (uint32_t i = 0; i < G->nin; i++) {
            const wse_gopnd *o = &G->in[i];
            uint64_t ne = numel_dims(o->dim, o->rank);
            if (o->rank > WSE_MAX_RANK || ne == UINT64_MAX || o->dtype > WSE_DT_BOOL)
                NO("a generic operand is out of range");
            if (o->src == WSE_NONE
                    ? !fits(o->off, ne * 4, S)
                    : o->src >= P.nsrc ||
                          (uint64_t)P.src[o->src].krows * (P.src[o->src].c1 - P.src[o->src].c0) <
                              ne)
                NO("a generic operand lies outside its storage");
        }
        if (!generic_shapes_ok(G)) NO("a generic operand's shape does not fit the op");
    }
    return true;
#undef NO
}
