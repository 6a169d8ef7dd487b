/* wsl.c - the PE-side kernel library: what every PE program does besides
 * its fused elementwise ops. It is compiled to LLVM bitcode by clang at
 * build time (never into the host program) and linked into each generated
 * module, where codegen/cg.c supplies `wsc_ep` (the fused ops, generated
 * through the LLVM C API) and the entry points call `wsl_task_KIND`; O2
 * then specializes it per program. Everything a PE knows lives in its SRAM
 * (runtime/wse_abi.h's wse_params at offset 0), so this code has no
 * globals. The algorithms follow docs/execution.md.
 *
 * Every kernel works a row at a time: incoming nets are filtered into
 * buffered sources (the columns this PE needs of every row), and a row is
 * finished once every source holds it, in row order, so outputs leave in
 * the row-major order the next kernel counts on. */
#include "../../runtime/wse_abi.h"

#include <math.h>
#include <string.h>

/* The fused elementwise ops of this program (generated): v[0..n) holds the
 * row slice's values on entry (the kernel's result so far) and on exit. */
void wsc_ep(wse_pe *pe, uint8_t *sram, uint32_t row, uint32_t n, float *v);

typedef wse_params P;

static float *f32(uint8_t *sram, uint32_t off) {
    return (float *)(void *)(sram + off);
}

static uint32_t *u32(uint8_t *sram, uint32_t off) {
    return (uint32_t *)(void *)(sram + off);
}

static uint32_t bits(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    return u;
}

/* Operand element of producer element f, through the view's greedy inverse. */
static int view_map(const wse_view *v, uint32_t f, uint32_t *g) {
    if (f < v->base) return 0;
    uint32_t rem = f - v->base, idx = 0;
    for (uint32_t r = 0; r < v->rank; r++) {
        uint32_t s = v->stride[r], i = s ? rem / s : 0;
        if (i >= v->dim[r]) return 0;
        rem -= i * s;
        idx += i * v->ostride[r];
    }
    if (rem) return 0;
    *g = idx;
    return 1;
}

/* Row t of source s is complete (an empty column range always is). */
static int have(const P *p, uint32_t s, uint32_t t) {
    if (s == WSE_NONE) return 1;
    const wse_source *S = &p->src[s];
    return S->c1 == S->c0 || p->st.done[s] > t;
}

static float *row_of(uint8_t *sram, const P *p, uint32_t s, uint32_t t) {
    const wse_source *S = &p->src[s];
    return f32(sram, S->off_buf) + (size_t)t * (S->c1 - S->c0);
}

/* Stores one element into source s if it is one this PE keeps. */
static void offer(uint8_t *sram, P *p, uint32_t s, uint32_t f, uint32_t payload) {
    wse_source *S = &p->src[s];
    uint32_t g;
    if (!view_map(&S->view, f, &g)) return;
    uint32_t r = g / S->ncol, c = g % S->ncol;
    if (c < S->c0 || c >= S->c1 || r >= S->rows) return;
    if (S->rhi) {
        if (r < S->rlo || r >= S->rhi) return;
        r -= S->rlo;
    }
    if (S->rmod) {
        uint32_t m = r % S->rmod;
        if (m < S->r0 || m >= S->r1) return;
        r = r / S->rmod * (S->r1 - S->r0) + (m - S->r0);
    }
    uint32_t width = S->c1 - S->c0;
    u32(sram, S->off_buf)[(size_t)r * width + (c - S->c0)] = payload;
    uint32_t *cnt = u32(sram, S->off_cnt);
    if (++cnt[r] == width)
        while (p->st.done[s] < S->krows && cnt[p->st.done[s]] == width)
            p->st.done[s]++;
}

/* One wavelet on channel c: which producer element it is follows from the
 * channel's position, since nets are FIFO and carry whole row ranges. */
static void receive(wse_pe *pe, uint8_t *sram, P *p, uint32_t c, uint32_t payload) {
    const wse_chan *ch = &p->chan[c];
    uint32_t pos = p->st.pos[c], row = p->st.crow[c];
    uint32_t f = row * ch->np + ch->lo + pos;
    if (++pos == ch->hi - ch->lo) pos = 0, p->st.crow[c] = row + 1;
    p->st.pos[c] = pos;
    for (uint32_t s = 0; s < p->nsrc; s++)
        if (ch->srcmask >> s & 1) offer(sram, p, s, f, payload);
    wse_charge(pe, 1);
}

/* Sends output row t: the lanes relayed from the west first (their part of
 * the row comes before this lane's), then this lane's n values. */
static void emit(wse_pe *pe, uint8_t *sram, P *p, uint32_t t, const float *v) {
    uint32_t color = p->head.color_out, sent = 0;
    if (color == WSE_NO_COLOR) return;
    if (p->src_relay != WSE_NONE) {
        const wse_source *R = &p->src[p->src_relay];
        const uint32_t *r = u32(sram, R->off_buf) + (size_t)t * (R->c1 - R->c0);
        for (uint32_t j = 0; j < R->c1 - R->c0; j++)
            wse_send(pe, color, r[j]);
        sent += R->c1 - R->c0;
    }
    for (uint32_t j = 0; j < p->n; j++)
        wse_send(pe, color, bits(v[j]));
    wse_charge(pe, sent + p->n);
}

/* Sources a finished row needs besides the kind's own: the fused ops'
 * streamed operands (the plan numbers them first, 0..nplan-1) and the
 * relayed lanes. */
static int epilogue_ready(const P *p, uint32_t t, uint32_t nplan) {
    for (uint32_t s = 0; s < nplan; s++)
        if (!have(p, s, t)) return 0;
    return have(p, p->src_relay, t);
}

/* ------------------------------------------------ input, output and map */

/* Source 0 (or, for a map, the plan's sources) row by row through the
 * fused ops. nplan: how many sources the fused ops read. */
static void pump_map(wse_pe *pe, uint8_t *sram, P *p, uint32_t nplan) {
    float *v = f32(sram, p->off_v);
    while (p->st.next < p->rows && epilogue_ready(p, p->st.next, nplan)) {
        uint32_t t = p->st.next;
        if (p->nsrc && p->src[0].c1 > p->src[0].c0) {
            const float *x = row_of(sram, p, 0, t);
            for (uint32_t j = 0; j < p->n; j++)
                v[j] = x[j];
        } else if (!p->nsrc && p->head.kind == WSE_KIND_OUTPUT) {
            /* an output of a resident value: its columns are in SRAM */
            const float *x = f32(sram, p->opnd[0].off) + (size_t)t * p->n;
            for (uint32_t j = 0; j < p->n; j++)
                v[j] = x[j];
        }
        wsc_ep(pe, sram, t, p->n, v);
        emit(pe, sram, p, t, v);
        p->st.next = t + 1;
    }
}

/* ------------------------------------------------------------------ gemv */

/* Kernels that reduce down their columns (gemv, matmul, gather): row t's
 * local part once its inputs are in, plus the north partial sums below the
 * top row; then south, or on the bottom row through bias and fused ops to
 * the output lane. `local` computes v[0..n) and says whether it could. */
static int gemv_local(wse_pe *pe, uint8_t *sram, P *p, uint32_t t, float *v) {
    if (!have(p, p->src_x, t)) return 0;
    const float *w = f32(sram, p->off_w), *x = p->k ? row_of(sram, p, p->src_x, t) : v;
    uint32_t n = p->n;
    for (uint32_t j = 0; j < n; j++)
        v[j] = 0.0f;
    for (uint32_t i = 0; i < p->k; i++) {
        float xi = x[i];
        const float *wr = w + (size_t)i * n;
        for (uint32_t j = 0; j < n; j++)
            v[j] += xi * wr[j];
    }
    wse_charge(pe, p->k * n);
    return 1;
}

/* Output row t = (batch b, row i): A's row (k columns kept) times the block
 * of B this PE keeps for batch b (zeros for a batch another row computes,
 * when the rows split batches). */
static int matmul_local(wse_pe *pe, uint8_t *sram, P *p, uint32_t t, float *v) {
    uint32_t b = t / p->m, i = t % p->m;
    uint32_t ta = p->bat_a == 1 ? i : t, bb = p->bat_b == 1 ? 0 : b;
    if (p->b1) {
        /* split by batches: another row's batch passes through as zeros;
         * this row's operands hold its batches from b0 on */
        if (b < p->b0 || b >= p->b1) {
            for (uint32_t j = 0; j < p->n; j++)
                v[j] = 0.0f;
            return 1;
        }
        ta -= p->b0 * p->m, bb -= p->b0;
    }
    if (!have(p, p->src_x, ta)) return 0;
    if (p->kb && !have(p, p->src_b, (bb + 1) * p->kb - 1)) return 0;
    const float *a = p->k ? row_of(sram, p, p->src_x, ta) : v;
    const wse_source *B = &p->src[p->src_b];
    uint32_t n = p->n, bw = B->c1 - B->c0;
    const float *blk = f32(sram, B->off_buf) + (size_t)bb * p->kb * bw;
    for (uint32_t j = 0; j < n; j++)
        v[j] = 0.0f;
    for (uint32_t kk = 0; kk < p->k; kk++) {
        float ak = a[kk];
        if (!p->tb) {
            const float *br = blk + (size_t)kk * bw;
            for (uint32_t j = 0; j < n; j++)
                v[j] += ak * br[j];
        } else {
            for (uint32_t j = 0; j < n; j++)
                v[j] += ak * blk[(size_t)j * bw + kk];
        }
    }
    wse_charge(pe, p->k * n);
    return 1;
}

/* Output row t is table row idx[t] if this PE holds it, zeros otherwise:
 * the column's sum is the row. Every PE of the column sees every index, so
 * each checks it against the whole table: an index no PE holds is the
 * input's error, never a row of zeros. */
static int gather_local(wse_pe *pe, uint8_t *sram, P *p, uint32_t t, float *v) {
    uint32_t r = t / p->m, c = t % p->m;
    if (!have(p, p->src_x, r)) return 0;
    const wse_source *X = &p->src[p->src_x];
    int32_t raw = (int32_t)u32(sram, X->off_buf)[(size_t)r * (X->c1 - X->c0) + c];
    int32_t idx = raw < 0 ? raw + (int32_t)p->vrows : raw;
    if (idx < 0 || idx >= (int32_t)p->vrows)
        wse_fault(pe, WSE_FAULT_GATHER_INDEX, (uint32_t)raw, p->vrows);
    uint32_t n = p->n;
    if (idx >= (int32_t)p->v0 && idx < (int32_t)(p->v0 + p->k)) {
        const float *row = f32(sram, p->off_w) + (size_t)(idx - (int32_t)p->v0) * n;
        for (uint32_t j = 0; j < n; j++)
            v[j] = row[j];
    } else {
        for (uint32_t j = 0; j < n; j++)
            v[j] = 0.0f;
    }
    wse_charge(pe, n);
    return 1;
}

static void pump_chain(wse_pe *pe, uint8_t *sram, P *p, uint32_t nplan, uint32_t kind) {
    float *v = f32(sram, p->off_v);
    uint32_t n = p->n;
    int bottom = p->head.row + 1 == p->head.h;
    for (;;) {
        uint32_t t = p->st.next;
        if (t >= p->rows || !have(p, p->src_north, t)) return;
        if (bottom && !epilogue_ready(p, t, nplan)) return;
        int ok = kind == WSE_KIND_GEMV     ? gemv_local(pe, sram, p, t, v)
                 : kind == WSE_KIND_MATMUL ? matmul_local(pe, sram, p, t, v)
                                           : gather_local(pe, sram, p, t, v);
        if (!ok) return;
        if (p->src_north != WSE_NONE) {
            const float *nb = row_of(sram, p, p->src_north, t);
            for (uint32_t j = 0; j < n; j++)
                v[j] = nb[j] + v[j];
            wse_charge(pe, n);
        }
        if (!bottom) {
            for (uint32_t j = 0; j < n; j++)
                wse_send(pe, p->color_south, bits(v[j]));
            wse_charge(pe, n);
        } else {
            if (p->off_bias != WSE_NONE) {
                const float *b = f32(sram, p->off_bias);
                for (uint32_t j = 0; j < n; j++)
                    v[j] += b[j];
                wse_charge(pe, n);
            }
            wsc_ep(pe, sram, t, n, v);
            emit(pe, sram, p, t, v);
        }
        p->st.next = t + 1;
    }
}

/* ------------------------------------------------------------------ move */

/* Where output element o (row-major over mv_dim) comes from: its source and
 * that source's operand element. */
static void move_from(const P *p, uint32_t o, uint32_t *src, uint32_t *g) {
    uint32_t idx[WSE_MAX_RANK], rank = p->mv_rank;
    for (uint32_t a = rank; a-- > 0;) {
        idx[a] = o % p->mv_dim[a];
        o /= p->mv_dim[a];
    }
    uint32_t flat = 0;
    if (p->mv_op == 0) {
        /* input axis perm[a] has extent mv_dim[a]; input row-major */
        uint32_t in[WSE_MAX_RANK], dim[WSE_MAX_RANK];
        for (uint32_t a = 0; a < rank; a++)
            in[p->mv_perm[a]] = idx[a], dim[p->mv_perm[a]] = p->mv_dim[a];
        for (uint32_t a = 0; a < rank; a++)
            flat = flat * dim[a] + in[a];
        *src = 0;
    } else {
        uint32_t ax = p->mv_axis, q = 0;
        while (idx[ax] >= p->mv_off[q + 1])
            q++;
        idx[ax] -= p->mv_off[q];
        for (uint32_t a = 0; a < rank; a++)
            flat = flat * (a == ax ? p->mv_off[q + 1] - p->mv_off[q] : p->mv_dim[a]) + idx[a];
        *src = q;
    }
    *g = flat;
}

/* The word of operand element g of source s, or 0 if its row is not in. */
static int move_word(uint8_t *sram, const P *p, uint32_t s, uint32_t g, uint32_t *w) {
    const wse_source *S = &p->src[s];
    uint32_t r = g / S->ncol, c = g % S->ncol;
    if (!have(p, s, r)) return 0;
    /* an element the lane does not keep: a malformed block, never valid */
    *w = c < S->c0 || c >= S->c1 || r >= S->krows || S->rmod
             ? 0
             : u32(sram, S->off_buf)[(size_t)r * (S->c1 - S->c0) + (c - S->c0)];
    return 1;
}

static void pump_move(wse_pe *pe, uint8_t *sram, P *p) {
    uint32_t *v = u32(sram, p->off_v);
    for (;;) {
        uint32_t t = p->st.next;
        if (t >= p->rows || !have(p, p->src_relay, t)) return;
        for (uint32_t j = 0; j < p->n; j++) {
            uint32_t s, g;
            move_from(p, t * p->out_ncol + p->out_c0 + j, &s, &g);
            if (!move_word(sram, p, s, g, &v[j])) return;
        }
        wse_charge(pe, 2 * p->n);
        emit(pe, sram, p, t, (const float *)(const void *)v);
        p->st.next = t + 1;
    }
}

/* --------------------------------------------------------------- generic */

/* Everything without a fast program: each lane holds every operand whole
 * and computes its columns of each output row element by element, with the
 * semantics of docs/language.md (f16 and bf16 round every result; i32
 * wraps). Slow but complete; the compiler sizes these kernels so the
 * operands fit. */

static float round_dt(float x, uint32_t dt) {
    if (dt == WSE_DT_F16) return (float)(_Float16)x;
    if (dt == WSE_DT_BF16) {
        uint32_t u = bits(x);
        if ((u & 0x7fffffffu) > 0x7f800000u) return x; /* NaN stays */
        u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
        float y;
        memcpy(&y, &u, 4);
        return y;
    }
    return x;
}

static int is_float_dt(uint32_t dt) {
    return dt <= WSE_DT_BF16;
}

/* Operand i's word at its flat index. */
static uint32_t gword(uint8_t *sram, const P *p, uint32_t i, uint32_t flat) {
    const wse_gopnd *o = &p->gen.in[i];
    if (o->src == WSE_NONE) return u32(sram, o->off)[flat];
    return u32(sram, p->src[o->src].off_buf)[flat];
}

static float gf(uint8_t *sram, const P *p, uint32_t i, uint32_t flat) {
    uint32_t w = gword(sram, p, i, flat), dt = p->gen.in[i].dtype;
    if (is_float_dt(dt)) {
        float x;
        memcpy(&x, &w, 4);
        return x;
    }
    return dt == WSE_DT_I32 ? (float)(int32_t)w : (float)(w != 0);
}

/* The flat index of operand i broadcast to output index idx (rank r). */
static uint32_t bcast(const P *p, uint32_t i, const uint32_t *idx, uint32_t r) {
    const wse_gopnd *o = &p->gen.in[i];
    uint32_t flat = 0;
    for (uint32_t a = 0; a < o->rank; a++) {
        uint32_t oa = r - o->rank + a;
        flat = flat * o->dim[a] + (o->dim[a] == 1 ? 0 : idx[oa]);
    }
    return flat;
}

static void unflatten(uint32_t f, const uint32_t *dim, uint32_t rank, uint32_t *idx) {
    for (uint32_t a = rank; a-- > 0;) {
        idx[a] = f % dim[a];
        f /= dim[a];
    }
}

static uint32_t flatten(const uint32_t *idx, const uint32_t *dim, uint32_t rank) {
    uint32_t f = 0;
    for (uint32_t a = 0; a < rank; a++)
        f = f * dim[a] + idx[a];
    return f;
}

static double sigmoid_d(double x) {
    double t = exp(-fabs(x));
    return x >= 0 ? 1.0 / (1.0 + t) : t / (1.0 + t);
}

static float unary_f(uint32_t op, float xf, uint32_t flags) {
    double x = xf;
    switch (op) {
    case WSE_G_NEG: return -xf;
    case WSE_G_ABS: return fabsf(xf);
    case WSE_G_EXP: return (float)exp(x);
    case WSE_G_LOG: return (float)log(x);
    case WSE_G_SQRT: return (float)sqrt(x);
    case WSE_G_RSQRT: return (float)(1.0 / sqrt(x));
    case WSE_G_SIN: return (float)sin(x);
    case WSE_G_COS: return (float)cos(x);
    case WSE_G_TANH: return (float)tanh(x);
    case WSE_G_ERF: return (float)erf(x);
    case WSE_G_SIGMOID: return (float)sigmoid_d(x);
    case WSE_G_RELU: return xf < 0 ? 0.0f : xf;
    case WSE_G_SILU: return (float)(x * sigmoid_d(x));
    case WSE_G_GELU:
        if (flags & 1) {
            const double beta = 0.7978845608028654, kappa = 0.044715;
            return (float)(x * sigmoid_d(2.0 * beta * (x + kappa * x * x * x)));
        }
        return (float)(0.5 * x * erfc(-x * 0.7071067811865476));
    }
    return xf;
}

static uint32_t binary_w(const P *p, uint32_t op, uint8_t *sram, uint32_t ia, uint32_t ib) {
    uint32_t dt = p->gen.dtype;
    if (dt == WSE_DT_I32) {
        uint32_t x = gword(sram, p, 0, ia), y = gword(sram, p, 1, ib);
        switch (op) {
        case WSE_G_ADD: return x + y;
        case WSE_G_SUB: return x - y;
        case WSE_G_MUL: return x * y;
        case WSE_G_MAXIMUM: return (int32_t)x > (int32_t)y ? x : y;
        case WSE_G_MINIMUM: return (int32_t)x < (int32_t)y ? x : y;
        }
        return 0;
    }
    float x = gf(sram, p, 0, ia), y = gf(sram, p, 1, ib), r = 0;
    switch (op) {
    case WSE_G_ADD: r = x + y; break;
    case WSE_G_SUB: r = x - y; break;
    case WSE_G_MUL: r = x * y; break;
    case WSE_G_DIV: r = x / y; break;
    case WSE_G_POW: r = (float)pow(x, y); break;
    case WSE_G_MAXIMUM: r = x > y || x != x ? x : y; break;
    case WSE_G_MINIMUM: r = x < y || x != x ? x : y; break;
    }
    return bits(round_dt(r, dt));
}

static uint32_t compare_w(const P *p, uint32_t op, uint8_t *sram, uint32_t ia, uint32_t ib) {
    uint32_t dt = p->gen.in[0].dtype;
    if (dt == WSE_DT_I32 || dt == WSE_DT_BOOL) {
        int32_t x = (int32_t)gword(sram, p, 0, ia), y = (int32_t)gword(sram, p, 1, ib);
        return op == WSE_G_LESS ? x < y : op == WSE_G_GREATER ? x > y : x == y;
    }
    float x = gf(sram, p, 0, ia), y = gf(sram, p, 1, ib);
    return op == WSE_G_LESS ? x < y : op == WSE_G_GREATER ? x > y : x == y;
}

static uint32_t cast_w(const P *p, uint32_t w) {
    uint32_t from = p->gen.in[0].dtype, to = p->gen.dtype;
    float f;
    int32_t v;
    if (is_float_dt(from)) {
        memcpy(&f, &w, 4);
        v = f >= -2147483648.0f && f < 2147483648.0f ? (int32_t)f : INT32_MIN;
    } else {
        v = from == WSE_DT_I32 ? (int32_t)w : (int32_t)(w != 0);
        f = (float)v;
    }
    if (is_float_dt(to)) return bits(round_dt(f, to));
    if (to == WSE_DT_I32) return (uint32_t)v;
    return is_float_dt(from) ? f != 0 : v != 0;
}

/* Reductions: input index of output index idx with reduced axes at 0. */
static void reduce_base(const P *p, const uint32_t *idx, uint32_t *in) {
    const wse_gopnd *x = &p->gen.in[0];
    uint32_t k = 0;
    for (uint32_t a = 0; a < x->rank; a++) {
        if (p->gen.axes >> a & 1) {
            in[a] = 0;
            if (p->gen.keepdims) k++;
        } else {
            in[a] = idx[k++];
        }
    }
}

/* Next index over the reduced axes (odometer); 0 when done. */
static int reduce_next(const P *p, uint32_t *in) {
    const wse_gopnd *x = &p->gen.in[0];
    for (uint32_t a = x->rank; a-- > 0;) {
        if (!(p->gen.axes >> a & 1)) continue;
        if (++in[a] < x->dim[a]) return 1;
        in[a] = 0;
    }
    return 0;
}

static uint32_t reduce_w(uint8_t *sram, const P *p, const uint32_t *idx) {
    const wse_gopnd *x = &p->gen.in[0];
    uint32_t in[WSE_MAX_RANK], op = p->gen.op, dt = p->gen.dtype;
    reduce_base(p, idx, in);
    double acc = op == WSE_G_MAX ? -INFINITY : op == WSE_G_MIN ? INFINITY : 0;
    int64_t iacc = op == WSE_G_MAX ? INT32_MIN : op == WSE_G_MIN ? INT32_MAX : 0;
    uint32_t count = 0;
    int nan = 0;
    do {
        uint32_t f = flatten(in, x->dim, x->rank);
        count++;
        if (dt == WSE_DT_I32) {
            int32_t v = (int32_t)gword(sram, p, 0, f);
            if (op == WSE_G_MAX)
                iacc = v > iacc ? v : iacc;
            else if (op == WSE_G_MIN)
                iacc = v < iacc ? v : iacc;
            else
                iacc += v;
            continue;
        }
        double v = gf(sram, p, 0, f);
        if (v != v) nan = 1;
        if (op == WSE_G_MAX)
            acc = v > acc ? v : acc;
        else if (op == WSE_G_MIN)
            acc = v < acc ? v : acc;
        else
            acc += v;
    } while (reduce_next(p, in));
    if (dt == WSE_DT_I32) {
        if (op == WSE_G_MEAN) iacc /= count;
        return (uint32_t)(int32_t)iacc;
    }
    if (op == WSE_G_MEAN) acc /= count;
    if (nan && (op == WSE_G_MAX || op == WSE_G_MIN)) acc = NAN;
    return bits(round_dt((float)acc, dt));
}

/* softmax along an axis, layernorm and rmsnorm along the last. */
static uint32_t norm_w(uint8_t *sram, const P *p, const uint32_t *idx, uint32_t f) {
    const wse_gopnd *x = &p->gen.in[0];
    uint32_t op = p->gen.op, rank = x->rank;
    uint32_t ax = op == WSE_G_SOFTMAX ? p->gen.axes : rank - 1;
    uint32_t len = x->dim[ax], stride = 1;
    for (uint32_t a = ax + 1; a < rank; a++)
        stride *= x->dim[a];
    uint32_t base = f - idx[ax] * stride;
    double r;
    float xv = gf(sram, p, 0, f);
    if (op == WSE_G_SOFTMAX) {
        double m = -INFINITY, sum = 0;
        for (uint32_t j = 0; j < len; j++) {
            double v = gf(sram, p, 0, base + j * stride);
            m = v > m ? v : m;
        }
        for (uint32_t j = 0; j < len; j++)
            sum += exp(gf(sram, p, 0, base + j * stride) - m);
        r = exp(xv - m) / sum;
    } else if (op == WSE_G_LAYERNORM) {
        double mean = 0, var = 0;
        for (uint32_t j = 0; j < len; j++)
            mean += gf(sram, p, 0, base + j);
        mean /= len;
        for (uint32_t j = 0; j < len; j++) {
            double d = gf(sram, p, 0, base + j) - mean;
            var += d * d;
        }
        var /= len;
        uint32_t c = idx[ax];
        r = (xv - mean) / sqrt(var + p->gen.eps) * gf(sram, p, 1, c) + gf(sram, p, 2, c);
    } else {
        double ms = 0;
        for (uint32_t j = 0; j < len; j++) {
            double v = gf(sram, p, 0, base + j);
            ms += v * v;
        }
        ms /= len;
        r = xv / sqrt(ms + p->gen.eps) * gf(sram, p, 1, idx[ax]);
    }
    return bits(round_dt((float)r, p->gen.dtype));
}

/* The flat index of element (r, c) of an operand of rank `rank` taken as
 * [batch.., rows, cols] (rank >= 2), its batch axes aligned at the right
 * of the output's nb batch axes (idx) and broadcast where they are 1. */
static uint32_t mat_index(const wse_gopnd *X, uint32_t rank, const uint32_t *idx, uint32_t nb,
                          uint32_t r, uint32_t c) {
    uint32_t f = 0;
    for (uint32_t a = 0; a + 2 < rank; a++) {
        uint32_t d = X->dim[a];
        f = f * d + (d == 1 ? 0 : idx[nb - (rank - 2) + a]);
    }
    return (f * X->dim[rank - 2] + r) * X->dim[rank - 1] + c;
}

/* matmul with NumPy's rules (1-D operands, broadcast batches), and linear. */
static uint32_t matmul_w(uint8_t *sram, const P *p, const uint32_t *idx) {
    const wse_gopnd *A = &p->gen.in[0], *B = &p->gen.in[1];
    uint32_t ta = p->gen.flags >> 1 & 1, tb = p->gen.flags >> 2 & 1;
    /* A as [.., m, k] (a vector is [1, k]); B as [.., k, n] (a vector [k, 1]) */
    uint32_t ar = A->rank, br = B->rank;
    uint32_t ak = ar >= 2 ? A->dim[ar - 1 - ta] : A->dim[0];
    uint32_t i = 0, j = 0, nb = p->gen.rank; /* output: [batch.., (m), (n)] */
    if (br >= 2) j = idx[--nb];
    if (ar >= 2) i = idx[--nb];
    double acc = 0;
    for (uint32_t k = 0; k < ak; k++) {
        uint32_t fa =
            ar >= 2 ? (ta ? mat_index(A, ar, idx, nb, k, i) : mat_index(A, ar, idx, nb, i, k)) : k;
        uint32_t fb =
            br >= 2 ? (tb ? mat_index(B, br, idx, nb, j, k) : mat_index(B, br, idx, nb, k, j)) : k;
        acc += (double)gf(sram, p, 0, fa) * gf(sram, p, 1, fb);
    }
    if (p->gen.op == WSE_G_LINEAR) acc += gf(sram, p, 2, j);
    return bits(round_dt((float)acc, p->gen.dtype));
}

static uint32_t generic_word(wse_pe *pe, uint8_t *sram, const P *p, uint32_t o) {
    const wse_generic *G = &p->gen;
    uint32_t idx[WSE_MAX_RANK], op = G->op, rank = G->rank;
    unflatten(o, G->dim, rank, idx);
    switch (op) {
    case WSE_G_ADD:
    case WSE_G_SUB:
    case WSE_G_MUL:
    case WSE_G_DIV:
    case WSE_G_POW:
    case WSE_G_MAXIMUM:
    case WSE_G_MINIMUM:
        return binary_w(p, op, sram, bcast(p, 0, idx, rank), bcast(p, 1, idx, rank));
    case WSE_G_LESS:
    case WSE_G_GREATER:
    case WSE_G_EQUAL: return compare_w(p, op, sram, bcast(p, 0, idx, rank), bcast(p, 1, idx, rank));
    case WSE_G_WHERE:
        return gword(sram, p, 0, bcast(p, 0, idx, rank))
                   ? gword(sram, p, 1, bcast(p, 1, idx, rank))
                   : gword(sram, p, 2, bcast(p, 2, idx, rank));
    case WSE_G_CAST: return cast_w(p, gword(sram, p, 0, bcast(p, 0, idx, rank)));
    case WSE_G_CAUSAL_MASK: {
        uint32_t t = rank >= 2 ? G->dim[rank - 2] : 1, s = G->dim[rank - 1];
        uint32_t i = rank >= 2 ? idx[rank - 2] : 0, j = idx[rank - 1];
        if (j + t > i + s) return bits(-INFINITY);
        return gword(sram, p, 0, o);
    }
    case WSE_G_MATMUL:
    case WSE_G_LINEAR: return matmul_w(sram, p, idx);
    case WSE_G_SUM:
    case WSE_G_MEAN:
    case WSE_G_MAX:
    case WSE_G_MIN: return reduce_w(sram, p, idx);
    case WSE_G_SOFTMAX:
    case WSE_G_LAYERNORM:
    case WSE_G_RMSNORM: return norm_w(sram, p, idx, o);
    case WSE_G_TRANSPOSE: {
        uint32_t in[WSE_MAX_RANK];
        for (uint32_t a = 0; a < rank; a++)
            in[G->perm[a]] = idx[a];
        return gword(sram, p, 0, flatten(in, G->in[0].dim, rank));
    }
    case WSE_G_CONCAT: {
        uint32_t ax = G->axes, q = 0;
        while (idx[ax] >= G->in[q].dim[ax])
            idx[ax] -= G->in[q++].dim[ax];
        return gword(sram, p, q, flatten(idx, G->in[q].dim, rank));
    }
    case WSE_G_GATHER: {
        /* output [idx shape.., table row shape..] */
        const wse_gopnd *T = &p->gen.in[0], *I = &p->gen.in[1];
        uint32_t ir = I->rank, row = 1;
        int32_t raw = (int32_t)gword(sram, p, 1, flatten(idx, I->dim, ir));
        int32_t v = raw < 0 ? raw + (int32_t)T->dim[0] : raw;
        if (v < 0 || v >= (int32_t)T->dim[0]) {
            /* the run stops; the NaN only keeps this row well defined */
            wse_fault(pe, WSE_FAULT_GATHER_INDEX, (uint32_t)raw, T->dim[0]);
            return bits(NAN);
        }
        for (uint32_t a = 1; a < T->rank; a++)
            row *= T->dim[a];
        return gword(sram, p, 0, (uint32_t)v * row + flatten(idx + ir, T->dim + 1, T->rank - 1));
    }
    default: {
        /* unary */
        uint32_t w = gword(sram, p, 0, o);
        if (G->dtype == WSE_DT_I32) {
            int32_t x = (int32_t)w;
            return op == WSE_G_NEG || x < 0 ? 0u - w : w;
        }
        float x;
        memcpy(&x, &w, 4);
        return bits(round_dt(unary_f(op, x, G->flags), G->dtype));
    }
    }
}

static void pump_generic(wse_pe *pe, uint8_t *sram, P *p) {
    /* every operand whole first */
    for (uint32_t i = 0; i < p->gen.nin; i++) {
        uint32_t s = p->gen.in[i].src;
        if (s != WSE_NONE && p->src[s].krows && !have(p, s, p->src[s].krows - 1)) return;
    }
    uint32_t *v = u32(sram, p->off_v);
    while (p->st.next < p->rows) {
        uint32_t t = p->st.next;
        if (!have(p, p->src_relay, t)) return;
        for (uint32_t j = 0; j < p->n; j++)
            v[j] = generic_word(pe, sram, p, t * p->out_ncol + p->out_c0 + j);
        wse_charge(pe, 4 * p->n);
        emit(pe, sram, p, t, (const float *)(const void *)v);
        p->st.next = t + 1;
    }
}

/* ------------------------------------------------------------------- row */

/* A lane's statistics of a row: two numbers whose meaning depends on the
 * op (docs/execution.md), combined along the row from west to east. */
typedef struct stats {
    double a, b;
} stats;

static stats partial(const P *p, const float *x, uint32_t n) {
    stats s = {0, 0};
    switch (p->op) {
    case WSE_ROW_SOFTMAX: {
        double m = -INFINITY, sum = 0;
        for (uint32_t j = 0; j < n; j++)
            if (x[j] > m) m = x[j];
        if (n && m > -INFINITY)
            for (uint32_t j = 0; j < n; j++)
                sum += exp((double)x[j] - m);
        s.a = m, s.b = sum;
        break;
    }
    case WSE_ROW_LAYERNORM: {
        double mean = 0, m2 = 0;
        for (uint32_t j = 0; j < n; j++)
            mean += x[j];
        mean = n ? mean / n : 0;
        for (uint32_t j = 0; j < n; j++)
            m2 += ((double)x[j] - mean) * ((double)x[j] - mean);
        s.a = mean, s.b = m2;
        break;
    }
    case WSE_ROW_RMSNORM:
        for (uint32_t j = 0; j < n; j++)
            s.a += (double)x[j] * x[j];
        break;
    case WSE_ROW_SUM:
    case WSE_ROW_MEAN:
        for (uint32_t j = 0; j < n; j++)
            s.a += x[j];
        break;
    case WSE_ROW_MAX:
    case WSE_ROW_MIN: {
        int max = p->op == WSE_ROW_MAX;
        s.a = max ? -INFINITY : INFINITY;
        s.b = n ? 1 : 0; /* whether any element was seen */
        for (uint32_t j = 0; j < n; j++) {
            double y = x[j];
            if (y != y || (max ? y > s.a : y < s.a)) s.a = y;
            if (s.a != s.a) break;
        }
        break;
    }
    }
    return s;
}

/* w holds columns [0, nw), e columns [nw, nw + ne). */
static stats combine(const P *p, stats w, uint32_t nw, stats e, uint32_t ne) {
    if (!nw) return e;
    if (!ne) return w;
    stats s = w;
    switch (p->op) {
    case WSE_ROW_SOFTMAX: {
        double m = w.a > e.a ? w.a : e.a;
        s.a = m;
        s.b = (w.b ? w.b * exp(w.a - m) : 0) + (e.b ? e.b * exp(e.a - m) : 0);
        break;
    }
    case WSE_ROW_LAYERNORM: {
        double n = (double)nw + ne, d = e.a - w.a;
        s.a = w.a + d * ne / n;
        s.b = w.b + e.b + d * d * (double)nw * ne / n;
        break;
    }
    case WSE_ROW_RMSNORM:
    case WSE_ROW_SUM:
    case WSE_ROW_MEAN: s.a = w.a + e.a; break;
    case WSE_ROW_MAX:
    case WSE_ROW_MIN: {
        int max = p->op == WSE_ROW_MAX;
        if (w.a != w.a)
            s.a = w.a;
        else if (e.a != e.a || (max ? e.a > w.a : e.a < w.a))
            s.a = e.a;
        break;
    }
    }
    return s;
}

/* The whole row's statistics, ready for finishing: softmax (max, sum),
 * layernorm (mean, 1/sqrt(var + eps)), rmsnorm 1/sqrt(mean square + eps),
 * reductions their value. */
static stats final_stats(const P *p, stats s, uint32_t ncol) {
    switch (p->op) {
    case WSE_ROW_LAYERNORM: s.b = 1.0 / sqrt(s.b / ncol + p->eps); break;
    case WSE_ROW_RMSNORM: s.a = 1.0 / sqrt(s.a / ncol + p->eps); break;
    case WSE_ROW_MEAN: s.a = s.a / ncol; break;
    default: break;
    }
    return s;
}

/* Lanes pass statistics east and the last lane broadcasts the totals back
 * west: a loop. A lane reduces row t only once row t - 1's totals are in,
 * so the loop holds one row at a time. Running ahead, two lanes each held
 * two rows of sends (four wavelets, over the queue depth of two), each
 * core then started no task until its sends drained, and each waited for
 * the other's queue: GPT-2 small's first layernorm deadlocked that way. */
static void reduce_rows(wse_pe *pe, uint8_t *sram, P *p) {
    const wse_source *X = &p->src[p->src_x];
    uint32_t nx = X->c1 - X->c0, last = p->head.col + 1 == p->head.w;
    for (;;) {
        uint32_t t = p->st.red;
        if (t >= X->krows || !have(p, p->src_x, t) || !have(p, p->src_west, t)) return;
        if (!last && t > 0 && !have(p, p->src_stats, t - 1)) return;
        stats s = partial(p, nx ? row_of(sram, p, p->src_x, t) : NULL, nx);
        if (p->src_west != WSE_NONE) {
            const float *wv = row_of(sram, p, p->src_west, t);
            s = combine(p, (stats){wv[0], wv[1]}, X->c0, s, nx);
        }
        wse_charge(pe, 2 * nx + 4);
        if (!last) {
            wse_send(pe, p->color_east, bits((float)s.a));
            wse_send(pe, p->color_east, bits((float)s.b));
        } else {
            s = final_stats(p, s, X->ncol);
            float *st = row_of(sram, p, p->src_stats, t);
            st[0] = (float)s.a, st[1] = (float)s.b;
            p->st.done[p->src_stats] = t + 1;
            if (p->color_bcast != WSE_NO_COLOR) {
                wse_send(pe, p->color_bcast, bits(st[0]));
                wse_send(pe, p->color_bcast, bits(st[1]));
            }
        }
        p->st.red = t + 1;
    }
}

/* Finishing output row t of a row op that keeps the shape. */
static void finish_row(const P *p, const float *x, const float *st, float *v, const float *g,
                       const float *b) {
    uint32_t n = p->n;
    for (uint32_t j = 0; j < n; j++) {
        double y = x[j];
        switch (p->op) {
        case WSE_ROW_SOFTMAX: y = st[1] ? exp(y - st[0]) / st[1] : NAN; break;
        case WSE_ROW_LAYERNORM: y = (y - st[0]) * st[1] * g[j] + b[j]; break;
        case WSE_ROW_RMSNORM: y = y * st[0] * g[j]; break;
        default: break;
        }
        v[j] = (float)y;
    }
}

static int is_reduction(const P *p) {
    return p->op >= WSE_ROW_SUM;
}

static void finish_rows(wse_pe *pe, uint8_t *sram, P *p, uint32_t nplan) {
    float *v = f32(sram, p->off_v);
    /* layernorm's gamma and beta, rmsnorm's gain: the first operand slots */
    const float *g =
        p->op == WSE_ROW_LAYERNORM || p->op == WSE_ROW_RMSNORM ? f32(sram, p->opnd[0].off) : NULL;
    const float *b = p->op == WSE_ROW_LAYERNORM ? f32(sram, p->opnd[1].off) : NULL;
    for (;;) {
        uint32_t t = p->st.next;
        if (t >= p->rows || !epilogue_ready(p, t, nplan)) return;
        if (is_reduction(p)) {
            /* Output element (t, c) is the statistic of input row t*ncol + c. */
            uint32_t need = t * p->out_ncol + p->out_c0 + p->n;
            if (p->n && !have(p, p->src_stats, need - 1)) return;
            for (uint32_t j = 0; j < p->n; j++)
                v[j] = row_of(sram, p, p->src_stats, t * p->out_ncol + p->out_c0 + j)[0];
        } else {
            if (!have(p, p->src_stats, t)) return;
            finish_row(p, row_of(sram, p, p->src_x, t), row_of(sram, p, p->src_stats, t), v, g, b);
        }
        wse_charge(pe, 4 * p->n);
        wsc_ep(pe, sram, t, p->n, v);
        emit(pe, sram, p, t, v);
        p->st.next = t + 1;
    }
}

/* A PE program's task: `kind` and `nplan` (the sources its fused ops
 * read) are constants of the program, so O2 keeps one case. Task ids from
 * WSE_MAX_TASKS up are the local task wsl_init starts, which receives
 * nothing (rows needing no input go at once). */
void wsl_task(wse_pe *pe, uint32_t task, uint32_t payload, uint32_t nplan, uint32_t kind) {
    uint8_t *sram = wse_sram(pe);
    P *p = (P *)(void *)sram;
    if (task < WSE_MAX_TASKS) receive(pe, sram, p, task, payload);
    switch (kind) {
    case WSE_KIND_GEMV:
    case WSE_KIND_MATMUL:
    case WSE_KIND_GATHER: pump_chain(pe, sram, p, nplan, kind); break;
    case WSE_KIND_ROW:
        reduce_rows(pe, sram, p);
        finish_rows(pe, sram, p, nplan);
        break;
    case WSE_KIND_MOVE: pump_move(pe, sram, p); break;
    case WSE_KIND_GENERIC: pump_generic(pe, sram, p); break;
    default: pump_map(pe, sram, p, nplan); break;
    }
}

/* Every PE starts with one local task, so rows that need no input (a lane
 * whose sources are empty, the statistics of a 1-wide row kernel) go at
 * once. */
void wsl_init(wse_pe *pe) {
    wse_activate(pe, WSE_MAX_TASKS);
}
