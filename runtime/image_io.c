/* image_io.c - the 'SRAM' section (every PE's initial SRAM as segments of
 * non-zero bytes) and the 'IOMP' section (which edge rows and colours carry
 * each graph input and output). Layouts in docs/artifact.md; decoding
 * trusts nothing. */
#include "rt.h"

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
            p->kernel < 0 || p->kernel >= nkernels || p->program < 0 ||
            p->program >= nprograms || p->used > t->sram_bytes || ns > rt_reader_left(&r) / 8)
            BAD("artifact: the SRAM section is malformed (PE record %u)", i);
        p->nseg = (int32_t)ns;
        p->seg = ir_alloc(im->arena, sizeof(rt_seg) * ((size_t)ns + 1));
        for (uint32_t s = 0; s < ns; s++) {
            rt_seg *g = &p->seg[s];
            g->off = rt_read_u32(&r);
            g->len = rt_read_u32(&r);
            g->data = rt_read_bytes(&r, g->len);
            if (r.bad || !g->data || (uint64_t)g->off + g->len > (uint64_t)t->sram_bytes)
                BAD("artifact: the SRAM section is malformed (PE (%d,%d), segment %u)", p->x,
                    p->y, s);
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
