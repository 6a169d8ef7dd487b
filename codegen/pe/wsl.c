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
        idx = idx * v->dim[r] + i;
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
        }
        wsc_ep(pe, sram, t, p->n, v);
        emit(pe, sram, p, t, v);
        p->st.next = t + 1;
    }
}

/* Input, output and map PEs; `nplan` is fixed per program. Task ids from
 * WSE_MAX_TASKS up are the local task wsl_init starts, which receives
 * nothing (rows needing no input go at once). */
void wsl_task_map(wse_pe *pe, uint32_t task, uint32_t payload, uint32_t nplan) {
    uint8_t *sram = wse_sram(pe);
    P *p = (P *)(void *)sram;
    if (task < WSE_MAX_TASKS) receive(pe, sram, p, task, payload);
    pump_map(pe, sram, p, nplan);
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
 * of B this PE keeps for batch b. */
static int matmul_local(wse_pe *pe, uint8_t *sram, P *p, uint32_t t, float *v) {
    uint32_t b = t / p->m, i = t % p->m;
    uint32_t ta = p->bat_a == 1 ? i : t, bb = p->bat_b == 1 ? 0 : b;
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
 * the column's sum is the row. */
static int gather_local(wse_pe *pe, uint8_t *sram, P *p, uint32_t t, float *v) {
    uint32_t r = t / p->m, c = t % p->m;
    if (!have(p, p->src_x, r)) return 0;
    const wse_source *X = &p->src[p->src_x];
    int32_t idx = (int32_t)u32(sram, X->off_buf)[(size_t)r * (X->c1 - X->c0) + c];
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

void wsl_task_gemv(wse_pe *pe, uint32_t task, uint32_t payload, uint32_t nplan) {
    uint8_t *sram = wse_sram(pe);
    P *p = (P *)(void *)sram;
    if (task < WSE_MAX_TASKS) receive(pe, sram, p, task, payload);
    pump_chain(pe, sram, p, nplan, WSE_KIND_GEMV);
}

void wsl_task_matmul(wse_pe *pe, uint32_t task, uint32_t payload, uint32_t nplan) {
    uint8_t *sram = wse_sram(pe);
    P *p = (P *)(void *)sram;
    if (task < WSE_MAX_TASKS) receive(pe, sram, p, task, payload);
    pump_chain(pe, sram, p, nplan, WSE_KIND_MATMUL);
}

void wsl_task_gather(wse_pe *pe, uint32_t task, uint32_t payload, uint32_t nplan) {
    uint8_t *sram = wse_sram(pe);
    P *p = (P *)(void *)sram;
    if (task < WSE_MAX_TASKS) receive(pe, sram, p, task, payload);
    pump_chain(pe, sram, p, nplan, WSE_KIND_GATHER);
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
    *w = u32(sram, S->off_buf)[(size_t)r * (S->c1 - S->c0) + (c - S->c0)];
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

void wsl_task_move(wse_pe *pe, uint32_t task, uint32_t payload, uint32_t nplan) {
    uint8_t *sram = wse_sram(pe);
    P *p = (P *)(void *)sram;
    (void)nplan;
    if (task < WSE_MAX_TASKS) receive(pe, sram, p, task, payload);
    pump_move(pe, sram, p);
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

static void reduce_rows(wse_pe *pe, uint8_t *sram, P *p) {
    const wse_source *X = &p->src[p->src_x];
    uint32_t nx = X->c1 - X->c0, last = p->head.col + 1 == p->head.w;
    for (;;) {
        uint32_t t = p->st.red;
        if (t >= X->krows || !have(p, p->src_x, t) || !have(p, p->src_west, t)) return;
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
    const float *g = p->op == WSE_ROW_LAYERNORM || p->op == WSE_ROW_RMSNORM
                         ? f32(sram, p->opnd[0].off)
                         : NULL;
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
            finish_row(p, row_of(sram, p, p->src_x, t), row_of(sram, p, p->src_stats, t), v, g,
                       b);
        }
        wse_charge(pe, 4 * p->n);
        wsc_ep(pe, sram, t, p->n, v);
        emit(pe, sram, p, t, v);
        p->st.next = t + 1;
    }
}

void wsl_task_row(wse_pe *pe, uint32_t task, uint32_t payload, uint32_t nplan) {
    uint8_t *sram = wse_sram(pe);
    P *p = (P *)(void *)sram;
    if (task < WSE_MAX_TASKS) receive(pe, sram, p, task, payload);
    reduce_rows(pe, sram, p);
    finish_rows(pe, sram, p, nplan);
}

/* Every PE starts with one local task, so rows that need no input (a lane
 * whose sources are empty, the statistics of a 1-wide row kernel) go at
 * once. */
void wsl_init(wse_pe *pe) {
    wse_activate(pe, WSE_MAX_TASKS);
}
