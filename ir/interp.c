/* interp.c - the reference interpreter: one kernel per op of IR_OPS, run in
 * node order with every intermediate freed after its last use.
 *
 * It is the oracle every later stage is checked against, so the arithmetic of
 * each result element is fixed by the op alone: never by the thread count, the
 * blocking or the instruction set. Matmul sums each dot product strictly in k
 * order in float (as a plain loop would), reductions and normalizations
 * accumulate in double, and f16/bf16 results are rounded once per op. */
#include "ir.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

typedef struct run {
    const ir_graph *g; /* the graph the nodes belong to */
    ir_diag *d;        /* where run-time errors go */
    int nthreads;      /* threads the big kernels may use, >= 1 */
} run;

/* A kernel computes node n from its operand values into a new tensor; NULL
 * means a run-time error already reported on r->d. */
typedef ir_tensor *kernel(const run *r, const ir_node *n, ir_tensor *const *in);

static int64_t min64(int64_t a, int64_t b) {
    return a < b ? a : b;
}

_Noreturn static void no_kernel(const ir_node *n, ir_dtype t) {
    ir_internal_error("the interpreter has no %s kernel for %s", ir_ops[n->op].name,
                      ir_dtype_name(t));
}

/* The node's result tensor, zero-filled. Running out of memory for it is a
 * run-time error of the model (a huge shape), reported at the node. */
static ir_tensor *result(const run *r, const ir_node *n) {
    ir_tensor *t = ir_tensor_new(n->dtype, &n->shape);
    if (!t) {
        char buf[160];
        ir_error(r->d, n->loc, "out of memory for a value of type %s",
                 ir_type_str(n->dtype, &n->shape, buf, sizeof buf));
    }
    return t;
}

/* --------------------------------------------------------- fork-join */

/* One parallel loop: tasks 0..ntasks-1 are handed out in any order; every
 * task writes its own part of the result, so the order does not matter. */
typedef void task_fn(void *ctx, int64_t task, float *scratch);

typedef struct pool {
    task_fn *fn;       /* the loop body */
    void *ctx;         /* its shared, read-only arguments */
    int64_t ntasks;    /* tasks in all */
    size_t scratch;    /* floats of private scratch each worker gets */
    atomic_llong next; /* the next task not yet taken */
} pool;

static void *pool_worker(void *arg) {
    pool *p = arg;
    float *scratch = NULL;
    if (p->scratch) scratch = ir_xmalloc(p->scratch * sizeof *scratch);
    for (;;) {
        int64_t t = atomic_fetch_add(&p->next, 1);
        if (t >= p->ntasks) break;
        p->fn(p->ctx, t, scratch);
    }
    free(scratch);
    return NULL;
}

static void parallel_for(int nthreads, int64_t ntasks, task_fn *fn, void *ctx, size_t scratch) {
    pool p = {fn, ctx, ntasks, scratch, 0};
    if (nthreads > ntasks) nthreads = (int)ntasks;
    pthread_t *th = NULL;
    int started = 0;
    if (nthreads > 1) {
        th = ir_xmalloc((size_t)(nthreads - 1) * sizeof *th);
        /* A thread that cannot start only costs speed: the rest take its tasks. */
        for (int i = 0; i < nthreads - 1; i++) {
            if (pthread_create(&th[started], NULL, pool_worker, &p) != 0) break;
            started++;
        }
    }
    pool_worker(&p);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    free(th);
}

/* ------------------------------------------------------ broadcasting */

/* The walk of an elementwise op over its result: the result's dimensions
 * with size-1 axes dropped and neighbours merged where every operand steps
 * through them alike, and each operand's stride per axis (0 where it
 * broadcasts). The last axis is walked by the row functions. */
typedef struct bcast {
    int rank;                   /* merged rank */
    int nin;                    /* operands */
    int64_t d[IR_MAX_RANK];     /* merged dimensions */
    int64_t st[3][IR_MAX_RANK]; /* element strides of each operand */
    int64_t idx[IR_MAX_RANK];   /* the walk's position in the outer axes */
    int64_t off[3];             /* element offset of each operand at idx */
} bcast;

static void bcast_init(bcast *b, const ir_shape *out, int nin, ir_tensor *const *in) {
    int64_t st[3][IR_MAX_RANK];
    for (int k = 0; k < nin; k++) {
        const ir_shape *s = &in[k]->shape;
        int lead = out->rank - s->rank;
        int64_t stride = 1;
        for (int i = out->rank - 1; i >= 0; i--) {
            int j = i - lead;
            if (j < 0 || s->d[j] == 1) {
                st[k][i] = 0;
            } else {
                st[k][i] = stride;
                stride *= s->d[j];
            }
        }
    }
    memset(b, 0, sizeof *b);
    b->nin = nin;
    for (int i = 0; i < out->rank; i++) {
        if (out->d[i] == 1) continue;
        bool merge = b->rank > 0;
        for (int k = 0; k < nin && merge; k++)
            merge = b->st[k][b->rank - 1] == st[k][i] * out->d[i];
        if (merge) {
            b->d[b->rank - 1] *= out->d[i];
        } else {
            b->d[b->rank] = out->d[i];
            b->rank++;
        }
        for (int k = 0; k < nin; k++)
            b->st[k][b->rank - 1] = st[k][i];
    }
}

static int64_t bcast_inner(const bcast *b) {
    return b->rank ? b->d[b->rank - 1] : 1;
}
static int64_t bcast_step(const bcast *b, int k) {
    return b->rank ? b->st[k][b->rank - 1] : 0;
}

/* Moves to the next row (the next index of the outer axes). */
static void bcast_next(bcast *b) {
    for (int i = b->rank - 2; i >= 0; i--) {
        for (int k = 0; k < b->nin; k++)
            b->off[k] += b->st[k][i];
        if (++b->idx[i] < b->d[i]) return;
        for (int k = 0; k < b->nin; k++)
            b->off[k] -= b->st[k][i] * b->d[i];
        b->idx[i] = 0;
    }
}

/* One row of an elementwise op: len elements, operand k at in[k] stepping
 * by st[k] elements. */
typedef void row_fn(const ir_node *n, void *out, const void *const *in, const int64_t *st,
                    int64_t len);

static void each_row(const ir_node *n, ir_tensor *out, int nin, ir_tensor *const *in, row_fn *fn) {
    bcast b;
    bcast_init(&b, &out->shape, nin, in);
    int64_t inner = bcast_inner(&b), rows = ir_shape_numel(&out->shape) / inner;
    int64_t st[3];
    size_t osz = ir_dtype_size(out->dtype), isz[3];
    for (int k = 0; k < nin; k++) {
        st[k] = bcast_step(&b, k);
        isz[k] = ir_dtype_size(in[k]->dtype);
    }
    for (int64_t r = 0; r < rows; r++) {
        const void *p[3];
        for (int k = 0; k < nin; k++)
            p[k] = (const char *)in[k]->data + b.off[k] * isz[k];
        fn(n, (char *)out->data + r * inner * osz, p, st, inner);
        bcast_next(&b);
    }
}

/* ------------------------------------------------------ elementwise */

/* Transcendental functions are evaluated in double and rounded once to
 * float, which puts the oracle within half a float ulp of the exact value
 * whatever libm does (PyTorch's float kernels are within a few ulps, and its
 * gelu loses more to cancellation: the oracle should sit closest to the truth,
 * so an f16 or bf16 result rounds the way the exact value does). The forms
 * below avoid cancellation: 1 + erf(-t) = erfc(t), 1 + tanh(z) = 2 sigmoid(2z). */
static double sigmoid(double x) {
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x); /* no overflow for very negative x */
    return e / (1.0 + e);
}

static double gelu_erf(double x) {
    return 0.5 * x * erfc(-x * M_SQRT1_2);
}

static double gelu_tanh(double x) {
    const double beta = M_SQRT2 * M_2_SQRTPI * 0.5, kappa = 0.044715;
    return x * sigmoid(2.0 * beta * (x + kappa * x * x * x));
}

static void unary_f32(ir_op op, bool approx, float *restrict o, const float *restrict x,
                      int64_t len) {
#define MAP(expr)                                                                                  \
    for (int64_t i = 0; i < len; i++) {                                                            \
        double v = x[i];                                                                           \
        o[i] = (float)(expr);                                                                      \
    }                                                                                              \
    break
    switch (op) {
    case IR_NEG: MAP(-v);
    case IR_ABS: MAP(fabs(v));
    case IR_EXP: MAP(exp(v));
    case IR_LOG: MAP(log(v));
    case IR_SQRT: MAP(sqrt(v));
    case IR_RSQRT: MAP(1.0 / sqrt(v));
    case IR_SIN: MAP(sin(v));
    case IR_COS: MAP(cos(v));
    case IR_TANH: MAP(tanh(v));
    case IR_ERF: MAP(erf(v));
    case IR_SIGMOID: MAP(sigmoid(v));
    case IR_RELU: MAP(v < 0 ? 0.0 : v); /* NaN and -0 pass through, as in torch */
    case IR_SILU: MAP(v * sigmoid(v));
    case IR_GELU:
        if (approx) {
            MAP(gelu_tanh(v));
        } else {
            MAP(gelu_erf(v));
        }
    default: ir_internal_error("%s is not a float unary op", ir_ops[op].name);
    }
#undef MAP
}

static ir_tensor *k_unary(const run *r, const ir_node *n, ir_tensor *const *in) {
    ir_tensor *t = result(r, n);
    if (!t) return NULL;
    int64_t len = ir_shape_numel(&n->shape);
    if (ir_dtype_is_float(n->dtype)) {
        unary_f32(n->op, n->a.approx_tanh, t->data, in[0]->data, len);
        ir_tensor_round(t);
    } else if (n->dtype == IR_I32 && (n->op == IR_NEG || n->op == IR_ABS)) {
        /* Two's complement wrap: -INT32_MIN stays INT32_MIN, as in torch. */
        const int32_t *x = in[0]->data;
        int32_t *o = t->data;
        for (int64_t i = 0; i < len; i++) {
            uint32_t u = (uint32_t)x[i];
            o[i] = (int32_t)(n->op == IR_NEG || x[i] < 0 ? 0u - u : u);
        }
    } else {
        no_kernel(n, n->dtype);
    }
    return t;
}

#define k_NEG     k_unary
#define k_ABS     k_unary
#define k_EXP     k_unary
#define k_LOG     k_unary
#define k_SQRT    k_unary
#define k_RSQRT   k_unary
#define k_SIN     k_unary
#define k_COS     k_unary
#define k_TANH    k_unary
#define k_ERF     k_unary
#define k_SIGMOID k_unary
#define k_RELU    k_unary
#define k_SILU    k_unary
#define k_GELU    k_unary

/* maximum/minimum propagate NaN like torch.maximum. */
static float fmax_nan(float x, float y) {
    return x > y || x != x ? x : y;
}
static float fmin_nan(float x, float y) {
    return x < y || x != x ? x : y;
}

static void row_binary_f32(const ir_node *n, void *out, const void *const *in, const int64_t *st,
                           int64_t len) {
    float *restrict o = out;
    const float *a = in[0], *b = in[1];
    int64_t sa = st[0], sb = st[1];
#define ZIP(T, expr)                                                                               \
    for (int64_t i = 0; i < len; i++) {                                                            \
        T x = a[i * sa], y = b[i * sb];                                                            \
        o[i] = (expr);                                                                             \
    }                                                                                              \
    break
    switch (n->op) {
    case IR_ADD: ZIP(float, x + y);
    case IR_SUB: ZIP(float, x - y);
    case IR_MUL: ZIP(float, (x) * (y));
    case IR_DIV: ZIP(float, x / y);
    case IR_POW: ZIP(float, (float)pow(x, y));
    case IR_MAXIMUM: ZIP(float, fmax_nan(x, y));
    case IR_MINIMUM: ZIP(float, fmin_nan(x, y));
    default: no_kernel(n, IR_F32);
    }
}

static void row_binary_i32(const ir_node *n, void *out, const void *const *in, const int64_t *st,
                           int64_t len) {
    int32_t *restrict o = out;
    const int32_t *a = in[0], *b = in[1];
    int64_t sa = st[0], sb = st[1];
    /* Unsigned arithmetic: overflow wraps instead of being undefined. */
    switch (n->op) {
    case IR_ADD: ZIP(int32_t, (int32_t)((uint32_t)x + (uint32_t)y));
    case IR_SUB: ZIP(int32_t, (int32_t)((uint32_t)x - (uint32_t)y));
    case IR_MUL: ZIP(int32_t, (int32_t)((uint32_t)x * (uint32_t)y));
    case IR_MAXIMUM: ZIP(int32_t, x > y ? x : y);
    case IR_MINIMUM: ZIP(int32_t, x < y ? x : y);
    default: no_kernel(n, IR_I32);
    }
#undef ZIP
}

static ir_tensor *k_binary(const run *r, const ir_node *n, ir_tensor *const *in) {
    ir_tensor *t = result(r, n);
    if (!t) return NULL;
    if (ir_dtype_is_float(n->dtype)) {
        each_row(n, t, 2, in, row_binary_f32);
        ir_tensor_round(t);
    } else if (n->dtype == IR_I32) {
        each_row(n, t, 2, in, row_binary_i32);
    } else {
        no_kernel(n, n->dtype);
    }
    return t;
}

#define k_ADD     k_binary
#define k_SUB     k_binary
#define k_MUL     k_binary
#define k_DIV     k_binary
#define k_POW     k_binary
#define k_MAXIMUM k_binary
#define k_MINIMUM k_binary

#define CMP(T)                                                                                     \
    do {                                                                                           \
        const T *a = in[0], *b = in[1];                                                            \
        switch (n->op) {                                                                           \
        case IR_LESS:                                                                              \
            for (int64_t i = 0; i < len; i++)                                                      \
                o[i] = a[i * st[0]] < b[i * st[1]];                                                \
            break;                                                                                 \
        case IR_GREATER:                                                                           \
            for (int64_t i = 0; i < len; i++)                                                      \
                o[i] = a[i * st[0]] > b[i * st[1]];                                                \
            break;                                                                                 \
        default:                                                                                   \
            for (int64_t i = 0; i < len; i++)                                                      \
                o[i] = a[i * st[0]] == b[i * st[1]];                                               \
            break;                                                                                 \
        }                                                                                          \
    } while (0)

static void row_compare_f32(const ir_node *n, void *out, const void *const *in, const int64_t *st,
                            int64_t len) {
    uint8_t *restrict o = out;
    CMP(float);
}

static void row_compare_i32(const ir_node *n, void *out, const void *const *in, const int64_t *st,
                            int64_t len) {
    uint8_t *restrict o = out;
    CMP(int32_t);
}

static void row_compare_bool(const ir_node *n, void *out, const void *const *in, const int64_t *st,
                             int64_t len) {
    uint8_t *restrict o = out;
    CMP(uint8_t);
}
#undef CMP

static ir_tensor *k_compare(const run *r, const ir_node *n, ir_tensor *const *in) {
    ir_dtype t_in = in[0]->dtype;
    row_fn *fn;
    if (ir_dtype_is_float(t_in))
        fn = row_compare_f32;
    else if (t_in == IR_I32)
        fn = row_compare_i32;
    else if (t_in == IR_BOOL)
        fn = row_compare_bool;
    else
        no_kernel(n, t_in);
    ir_tensor *t = result(r, n);
    if (!t) return NULL;
    each_row(n, t, 2, in, fn);
    return t;
}

#define k_LESS    k_compare
#define k_GREATER k_compare
#define k_EQUAL   k_compare

static void row_where(const ir_node *n, void *out, const void *const *in, const int64_t *st,
                      int64_t len) {
    const uint8_t *c = in[0];
    if (ir_dtype_size(n->dtype) == 4) {
        uint32_t *restrict o = out;
        const uint32_t *a = in[1], *b = in[2];
        for (int64_t i = 0; i < len; i++)
            o[i] = c[i * st[0]] ? a[i * st[1]] : b[i * st[2]];
    } else {
        uint8_t *restrict o = out;
        const uint8_t *a = in[1], *b = in[2];
        for (int64_t i = 0; i < len; i++)
            o[i] = c[i * st[0]] ? a[i * st[1]] : b[i * st[2]];
    }
}

static ir_tensor *k_WHERE(const run *r, const ir_node *n, ir_tensor *const *in) {
    ir_tensor *t = result(r, n);
    if (!t) return NULL;
    each_row(n, t, 3, in, row_where);
    return t;
}

/* ------------------------------------------------------------ matmul */

/* C = A B for one or many products, blocked in the manner of GotoBLAS: a task
 * owns an MT x nt block of one C; for each KC slice of k it packs its columns
 * of B into NR-wide panels and its rows of A into MR-high panels, and the
 * micro-kernel keeps an MR x NR tile of C in registers. Each element of C is
 * the float sum of its products in increasing k, as a plain loop computes it
 * (a tile is stored and reloaded between k slices, which is exact), so the
 * result does not depend on blocking, task split or vector width. */
enum {
    MR = 6,   /* micro-tile rows */
    NR = 16,  /* micro-tile columns */
    KC = 256, /* k slice: a packed B panel (16 KB) stays in L1 */
    MT = 96,  /* task rows, a multiple of MR: the packed A block stays in L2 */
    NT = 256, /* task columns at most, a multiple of NR */
};

typedef void micro_fn(int64_t kc, const float *restrict ap, const float *restrict bp,
                      float *restrict c, int64_t ldc, bool zero);

/* The micro-kernel: C[0..MR, 0..NR) (row stride ldc) = (zero ? 0 : C) plus
 * the kc rank-1 products of the packed panels. Neither instantiation uses a
 * fused multiply-add (no build target here enables FMA), so every product
 * and every sum is rounded alike and both give the same bits.
 *
 * Without AVX2 (baseline x86-64, or NEON) a vector holds four floats and the
 * 6 x 16 tile would not fit in 16 registers, so it goes as two 6 x 8 halves. */
typedef float vf4 __attribute__((vector_size(16)));

static void micro_base(int64_t kc, const float *restrict ap, const float *restrict bp,
                       float *restrict c, int64_t ldc, bool zero) {
    for (int half = 0; half < NR; half += 8) {
        vf4 lo[MR], hi[MR];
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            if (zero) {
                lo[i] = (vf4){0};
                hi[i] = (vf4){0};
            } else {
                memcpy(&lo[i], c + i * ldc + half, sizeof lo[i]);
                memcpy(&hi[i], c + i * ldc + half + 4, sizeof hi[i]);
            }
        }
        for (int64_t p = 0; p < kc; p++) {
            vf4 b0, b1;
            memcpy(&b0, bp + p * NR + half, sizeof b0);
            memcpy(&b1, bp + p * NR + half + 4, sizeof b1);
#pragma GCC unroll 8
            for (int i = 0; i < MR; i++) {
                float x = ap[p * MR + i];
                vf4 a = {x, x, x, x};
                lo[i] += a * b0;
                hi[i] += a * b1;
            }
        }
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            memcpy(c + i * ldc + half, &lo[i], sizeof lo[i]);
            memcpy(c + i * ldc + half + 4, &hi[i], sizeof hi[i]);
        }
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
/* With AVX2 the whole tile lives in 12 ymm registers. */
typedef float vf8 __attribute__((vector_size(32)));

__attribute__((target("avx2"))) static void micro_avx2(int64_t kc, const float *restrict ap,
                                                       const float *restrict bp, float *restrict c,
                                                       int64_t ldc, bool zero) {
    vf8 lo[MR], hi[MR];
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
        if (zero) {
            lo[i] = (vf8){0};
            hi[i] = (vf8){0};
        } else {
            memcpy(&lo[i], c + i * ldc, sizeof lo[i]);
            memcpy(&hi[i], c + i * ldc + 8, sizeof hi[i]);
        }
    }
    for (int64_t p = 0; p < kc; p++) {
        vf8 b0, b1;
        memcpy(&b0, bp + p * NR, sizeof b0);
        memcpy(&b1, bp + p * NR + 8, sizeof b1);
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            float x = ap[p * MR + i];
            vf8 a = {x, x, x, x, x, x, x, x};
            lo[i] += a * b0;
            hi[i] += a * b1;
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
        memcpy(c + i * ldc, &lo[i], sizeof lo[i]);
        memcpy(c + i * ldc + 8, &hi[i], sizeof hi[i]);
    }
}
#endif

static micro_fn *micro_pick(void) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (__builtin_cpu_supports("avx2")) return micro_avx2;
#endif
    return micro_base;
}

typedef struct gemm {
    const float *a;         /* first operands' data */
    const float *b;         /* second operands' data */
    float *c;               /* results, [nbatch, m, n] */
    int64_t m, n, k;        /* sizes of one product */
    int64_t sai, sak;       /* A(i, p) is a[aoff + i * sai + p * sak] */
    int64_t sbk, sbj;       /* B(p, j) is b[boff + p * sbk + j * sbj] */
    const int64_t *aoff;    /* per product: where its A starts in a */
    const int64_t *boff;    /* per product: where its B starts in b */
    int64_t nt;             /* task columns, a multiple of NR */
    int64_t mtiles, ntiles; /* task grid over one product */
    micro_fn *micro;        /* the micro-kernel for this CPU */
} gemm;

/* Rows i0..i1 of A, k slice p0..p0+kc, as MR-high panels [kc][MR], zero-padded. */
static void pack_a(float *restrict ap, const float *a, int64_t sai, int64_t sak, int64_t i0,
                   int64_t i1, int64_t p0, int64_t kc) {
    for (int64_t ip = i0; ip < i1; ip += MR, ap += kc * MR) {
        int64_t h = min64(MR, i1 - ip);
        if (h < MR) memset(ap, 0, (size_t)(kc * MR) * sizeof *ap);
        const float *src = a + ip * sai + p0 * sak;
        if (sai == 1 && h == MR) {
            for (int64_t p = 0; p < kc; p++)
                for (int i = 0; i < MR; i++)
                    ap[p * MR + i] = src[p * sak + i];
        } else {
            for (int64_t i = 0; i < h; i++)
                for (int64_t p = 0; p < kc; p++)
                    ap[p * MR + i] = src[i * sai + p * sak];
        }
    }
}

/* Columns j0..j1 of B, k slice p0..p0+kc, as NR-wide panels [kc][NR], zero-padded. */
static void pack_b(float *restrict bp, const float *b, int64_t sbk, int64_t sbj, int64_t j0,
                   int64_t j1, int64_t p0, int64_t kc) {
    for (int64_t jp = j0; jp < j1; jp += NR, bp += kc * NR) {
        int64_t w = min64(NR, j1 - jp);
        if (w < NR) memset(bp, 0, (size_t)(kc * NR) * sizeof *bp);
        const float *src = b + p0 * sbk + jp * sbj;
        if (sbj == 1) {
            for (int64_t p = 0; p < kc; p++)
                memcpy(bp + p * NR, src + p * sbk, (size_t)w * sizeof *bp);
        } else {
            /* B transposed: each column is contiguous along k. */
            for (int64_t p = 0; p < kc; p++)
                for (int64_t j = 0; j < w; j++)
                    bp[p * NR + j] = src[j * sbj + p * sbk];
        }
    }
}

static void gemm_task(void *ctx, int64_t task, float *scratch) {
    const gemm *g = ctx;
    int64_t per = g->mtiles * g->ntiles, q = task / per, rest = task % per;
    int64_t i0 = rest / g->ntiles * MT, j0 = rest % g->ntiles * g->nt;
    int64_t i1 = min64(i0 + MT, g->m), j1 = min64(j0 + g->nt, g->n);
    const float *a = g->a + g->aoff[q], *b = g->b + g->boff[q];
    float *c = g->c + q * g->m * g->n;
    float *bp = scratch, *ap = scratch + KC * g->nt;
    for (int64_t p0 = 0; p0 < g->k; p0 += KC) {
        int64_t kc = min64(KC, g->k - p0);
        bool zero = p0 == 0;
        pack_b(bp, b, g->sbk, g->sbj, j0, j1, p0, kc);
        pack_a(ap, a, g->sai, g->sak, i0, i1, p0, kc);
        const float *bpp = bp;
        for (int64_t jp = j0; jp < j1; jp += NR, bpp += kc * NR) {
            const float *app = ap;
            for (int64_t ip = i0; ip < i1; ip += MR, app += kc * MR) {
                int64_t h = min64(MR, i1 - ip), w = min64(NR, j1 - jp);
                float *cc = c + ip * g->n + jp;
                if (h == MR && w == NR) {
                    g->micro(kc, app, bpp, cc, g->n, zero);
                    continue;
                }
                /* An edge tile goes through a full-size buffer; the padding
                 * rows and columns are computed and dropped. */
                float tile[MR * NR];
                for (int64_t i = 0; i < h && !zero; i++)
                    memcpy(tile + i * NR, cc + i * g->n, (size_t)w * sizeof *cc);
                g->micro(kc, app, bpp, tile, NR, zero);
                for (int64_t i = 0; i < h; i++)
                    memcpy(cc + i * g->n, tile + i * NR, (size_t)w * sizeof *cc);
            }
        }
    }
}

/* out = matmul(A, B) with NumPy's rules: a 1-D A is a row [1, K] and a 1-D B
 * a column [K, 1] (their axis is absent from out, which leaves its layout
 * alone), batch axes broadcast, and ta / tb mean the operand is stored with
 * its last two axes swapped. */
static void matmul(const run *r, const ir_node *n, const ir_tensor *A, const ir_tensor *B,
                   ir_tensor *out) {
    const ir_shape *as = &A->shape, *bs = &B->shape;
    int ar = as->rank, br = bs->rank;
    gemm g = {A->data, B->data, out->data};
    int64_t kb;
    if (ar == 1) {
        g.m = 1, g.k = as->d[0], g.sai = 0, g.sak = 1;
    } else if (!n->a.ta) {
        g.m = as->d[ar - 2], g.k = as->d[ar - 1], g.sai = g.k, g.sak = 1;
    } else {
        g.k = as->d[ar - 2], g.m = as->d[ar - 1], g.sai = 1, g.sak = g.m;
    }
    if (br == 1) {
        kb = bs->d[0], g.n = 1, g.sbk = 1, g.sbj = 0;
    } else if (!n->a.tb) {
        kb = bs->d[br - 2], g.n = bs->d[br - 1], g.sbk = g.n, g.sbj = 1;
    } else {
        g.n = bs->d[br - 2], kb = bs->d[br - 1], g.sbk = 1, g.sbj = kb;
    }
    if (ar < 1 || br < 1 || kb != g.k)
        ir_internal_error("matmul operands do not fit (%d-D and %d-D)", ar, br);

    /* Batch axes, right-aligned; a stride of 0 repeats a broadcast operand. */
    int abr = ar > 2 ? ar - 2 : 0, bbr = br > 2 ? br - 2 : 0, obr = abr > bbr ? abr : bbr;
    int64_t od[IR_MAX_RANK], ast[IR_MAX_RANK], bst[IR_MAX_RANK], nbatch = 1;
    int64_t astride = g.m * g.k, bstride = g.k * g.n;
    bool a_whole = true, b_none = true;
    for (int i = obr - 1; i >= 0; i--) {
        int ai = i - (obr - abr), bi = i - (obr - bbr);
        int64_t da = ai >= 0 ? as->d[ai] : 1, db = bi >= 0 ? bs->d[bi] : 1;
        od[i] = da > db ? da : db;
        if ((da != od[i] && da != 1) || (db != od[i] && db != 1))
            ir_internal_error("matmul batch axes do not broadcast");
        ast[i] = da == 1 ? 0 : astride;
        bst[i] = db == 1 ? 0 : bstride;
        astride *= da;
        bstride *= db;
        a_whole = a_whole && da == od[i];
        b_none = b_none && db == 1;
        nbatch *= od[i];
    }
    /* One B for a whole batch of row-major As: a single taller product. */
    if (nbatch > 1 && b_none && a_whole && !n->a.ta && ar >= 2) {
        g.m *= nbatch;
        nbatch = 1;
    }
    int64_t *off = ir_xmalloc((size_t)(2 * nbatch) * sizeof *off);
    int64_t idx[IR_MAX_RANK] = {0}, ao = 0, bo = 0;
    for (int64_t q = 0; q < nbatch; q++) {
        off[q] = ao;
        off[nbatch + q] = bo;
        for (int i = obr - 1; i >= 0; i--) {
            ao += ast[i], bo += bst[i];
            if (++idx[i] < od[i]) break;
            ao -= ast[i] * od[i], bo -= bst[i] * od[i];
            idx[i] = 0;
        }
    }
    g.aoff = off;
    g.boff = off + nbatch;
    g.micro = micro_pick();
    g.mtiles = (g.m + MT - 1) / MT;

    /* Threads only pay off beyond a few MFLOP; narrower column blocks give
     * each thread several tasks to balance. */
    double flops = 2.0 * (double)g.m * (double)g.n * (double)g.k * (double)nbatch;
    int threads = flops < 4e6 ? 1 : r->nthreads;
    g.nt = NT;
    while (threads > 1 && g.nt > 4 * NR &&
           nbatch * g.mtiles * ((g.n + g.nt - 1) / g.nt) < 4 * threads)
        g.nt -= NR;
    g.ntiles = (g.n + g.nt - 1) / g.nt;
    parallel_for(threads, nbatch * g.mtiles * g.ntiles, gemm_task, &g,
                 (size_t)(KC * g.nt + KC * MT));
    free(off);
}

static ir_tensor *k_MATMUL(const run *r, const ir_node *n, ir_tensor *const *in) {
    if (!ir_dtype_is_float(n->dtype)) no_kernel(n, n->dtype);
    ir_tensor *t = result(r, n);
    if (!t) return NULL;
    matmul(r, n, in[0], in[1], t);
    ir_tensor_round(t);
    return t;
}

static ir_tensor *k_LINEAR(const run *r, const ir_node *n, ir_tensor *const *in) {
    if (!ir_dtype_is_float(n->dtype)) no_kernel(n, n->dtype);
    ir_tensor *t = result(r, n);
    if (!t) return NULL;
    matmul(r, n, in[0], in[1], t);
    int64_t cols = n->shape.rank ? n->shape.d[n->shape.rank - 1] : 1;
    if (ir_shape_numel(&in[2]->shape) != cols) ir_internal_error("linear bias does not fit");
    int64_t rows = ir_shape_numel(&n->shape) / cols;
    float *o = t->data;
    const float *bias = in[2]->data;
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++)
            o[i * cols + j] += bias[j];
    ir_tensor_round(t);
    return t;
}

/* -------------------------------------------------------- reductions */

static double reduce_init(ir_op op) {
    return op == IR_REDUCE_MAX ? -INFINITY : op == IR_REDUCE_MIN ? INFINITY : 0.0;
}

/* Folds one input row into the accumulators it maps to (step 0: all into one). */
static void reduce_row_f(ir_op op, double *acc, int64_t step, const float *x, int64_t len) {
    switch (op) {
    case IR_REDUCE_MAX:
        for (int64_t j = 0; j < len; j++) {
            double v = x[j], *a = acc + j * step;
            if (v > *a || v != v) *a = v; /* NaN sticks, as in torch */
        }
        break;
    case IR_REDUCE_MIN:
        for (int64_t j = 0; j < len; j++) {
            double v = x[j], *a = acc + j * step;
            if (v < *a || v != v) *a = v;
        }
        break;
    default:
        for (int64_t j = 0; j < len; j++)
            acc[j * step] += x[j];
        break;
    }
}

static void reduce_row_i(ir_op op, int64_t *acc, int64_t step, const void *data, ir_dtype t,
                         int64_t len) {
    for (int64_t j = 0; j < len; j++) {
        int64_t v = t == IR_I32 ? ((const int32_t *)data)[j] : ((const uint8_t *)data)[j];
        int64_t *a = acc + j * step;
        if (op == IR_REDUCE_MAX)
            *a = v > *a ? v : *a;
        else if (op == IR_REDUCE_MIN)
            *a = v < *a ? v : *a;
        else
            *a = (int64_t)((uint64_t)*a + (uint64_t)v);
    }
}

static ir_tensor *k_reduce(const run *r, const ir_node *n, ir_tensor *const *in) {
    const ir_tensor *x = in[0];
    const ir_shape *xs = &x->shape;
    int rank = xs->rank;
    /* Strides of the result with reduced axes kept: 0 along them. */
    int64_t ost[IR_MAX_RANK], on = 1;
    for (int i = rank - 1; i >= 0; i--) {
        if (n->a.axes >> i & 1u) {
            ost[i] = 0;
        } else {
            ost[i] = on;
            on *= xs->d[i];
        }
    }
    if (ir_shape_numel(&n->shape) != on) ir_internal_error("reduction result does not fit");
    ir_tensor *t = result(r, n);
    if (!t) return NULL;
    int64_t xn = ir_shape_numel(xs), count = xn / on;
    int64_t inner = rank ? xs->d[rank - 1] : 1, step = rank ? ost[rank - 1] : 0;
    int64_t rows = inner ? xn / inner : 0;
    bool flt = ir_dtype_is_float(x->dtype);
    double *fa = NULL;
    int64_t *ia = NULL;
    if (flt) {
        fa = ir_xmalloc((size_t)on * sizeof *fa);
        for (int64_t i = 0; i < on; i++)
            fa[i] = reduce_init(n->op);
    } else {
        ia = ir_xmalloc((size_t)on * sizeof *ia);
        for (int64_t i = 0; i < on; i++)
            ia[i] = n->op == IR_REDUCE_MAX ? INT64_MIN : n->op == IR_REDUCE_MIN ? INT64_MAX : 0;
    }
    int64_t idx[IR_MAX_RANK] = {0}, oo = 0;
    size_t es = ir_dtype_size(x->dtype);
    for (int64_t row = 0; row < rows; row++) {
        const char *src = (const char *)x->data + (size_t)(row * inner) * es;
        if (flt)
            reduce_row_f(n->op, fa + oo, step, (const float *)src, inner);
        else
            reduce_row_i(n->op, ia + oo, step, src, x->dtype, inner);
        for (int i = rank - 2; i >= 0; i--) {
            oo += ost[i];
            if (++idx[i] < xs->d[i]) break;
            oo -= ost[i] * xs->d[i];
            idx[i] = 0;
        }
    }
    bool mean = n->op == IR_REDUCE_MEAN;
    for (int64_t i = 0; i < on; i++) {
        if (flt) {
            double v = mean ? fa[i] / (double)count : fa[i];
            if (ir_dtype_is_float(n->dtype))
                ((float *)t->data)[i] = (float)v;
            else
                no_kernel(n, n->dtype);
        } else {
            /* An i32 mean truncates toward zero like a cast; sums wrap. */
            int64_t v = mean ? ia[i] / count : ia[i];
            if (n->dtype == IR_I32)
                ((int32_t *)t->data)[i] = (int32_t)(uint32_t)(uint64_t)v;
            else if (n->dtype == IR_BOOL)
                ((uint8_t *)t->data)[i] = v != 0;
            else if (ir_dtype_is_float(n->dtype))
                ((float *)t->data)[i] = (float)v;
            else
                no_kernel(n, n->dtype);
        }
    }
    free(fa);
    free(ia);
    ir_tensor_round(t);
    return t;
}

#define k_REDUCE_SUM  k_reduce
#define k_REDUCE_MEAN k_reduce
#define k_REDUCE_MAX  k_reduce
#define k_REDUCE_MIN  k_reduce

/* ----------------------------------------------------- normalization */

static ir_tensor *k_SOFTMAX(const run *r, const ir_node *n, ir_tensor *const *in) {
    const ir_tensor *x = in[0];
    if (!ir_dtype_is_float(x->dtype)) no_kernel(n, x->dtype);
    const ir_shape *s = &x->shape;
    int ax = s->rank ? (int)n->a.axis : 0;
    int64_t len = s->rank ? s->d[ax] : 1, inner = 1;
    for (int i = ax + 1; i < s->rank; i++)
        inner *= s->d[i];
    int64_t outer = ir_shape_numel(s) / (len * inner);
    ir_tensor *t = result(r, n);
    if (!t) return NULL;
    double *e = ir_xmalloc((size_t)len * sizeof *e);
    const float *xd = x->data;
    float *o = t->data;
    for (int64_t q = 0; q < outer; q++) {
        for (int64_t i = 0; i < inner; i++) {
            int64_t base = q * len * inner + i;
            /* A row of -inf has max -inf: -inf - -inf is NaN, as in torch. */
            double m = -INFINITY, sum = 0;
            for (int64_t j = 0; j < len; j++) {
                double v = xd[base + j * inner];
                if (v > m || v != v) m = v;
            }
            for (int64_t j = 0; j < len; j++) {
                e[j] = exp(xd[base + j * inner] - m);
                sum += e[j];
            }
            for (int64_t j = 0; j < len; j++)
                o[base + j * inner] = (float)(e[j] / sum);
        }
    }
    free(e);
    ir_tensor_round(t);
    return t;
}

/* Rows of the last axis, and the per-row vectors gamma and beta. */
static int64_t last_axis(const ir_node *n, const ir_tensor *x, ir_tensor *const *vecs, int nvec) {
    if (!ir_dtype_is_float(x->dtype)) no_kernel(n, x->dtype);
    int64_t len = x->shape.rank ? x->shape.d[x->shape.rank - 1] : 1;
    for (int k = 0; k < nvec; k++)
        if (ir_shape_numel(&vecs[k]->shape) != len)
            ir_internal_error("%s: gamma or beta does not fit the last axis", ir_ops[n->op].name);
    return len;
}

static ir_tensor *k_LAYERNORM(const run *r, const ir_node *n, ir_tensor *const *in) {
    int64_t len = last_axis(n, in[0], in + 1, 2), rows = ir_shape_numel(&in[0]->shape) / len;
    ir_tensor *t = result(r, n);
    if (!t) return NULL;
    const float *x = in[0]->data, *gamma = in[1]->data, *beta = in[2]->data;
    float *o = t->data;
    for (int64_t q = 0; q < rows; q++, x += len, o += len) {
        double sum = 0, var = 0;
        for (int64_t j = 0; j < len; j++)
            sum += x[j];
        double mean = sum / (double)len;
        for (int64_t j = 0; j < len; j++)
            var += (x[j] - mean) * (x[j] - mean);
        double rstd = 1.0 / sqrt(var / (double)len + n->a.eps);
        for (int64_t j = 0; j < len; j++)
            o[j] = (float)((x[j] - mean) * rstd * gamma[j] + beta[j]);
    }
    ir_tensor_round(t);
    return t;
}

static ir_tensor *k_RMSNORM(const run *r, const ir_node *n, ir_tensor *const *in) {
    int64_t len = last_axis(n, in[0], in + 1, 1), rows = ir_shape_numel(&in[0]->shape) / len;
    ir_tensor *t = result(r, n);
    if (!t) return NULL;
    const float *x = in[0]->data, *gamma = in[1]->data;
    float *o = t->data;
    for (int64_t q = 0; q < rows; q++, x += len, o += len) {
        double ss = 0;
        for (int64_t j = 0; j < len; j++)
            ss += (double)x[j] * x[j];
        double root = sqrt(ss / (double)len + n->a.eps);
        for (int64_t j = 0; j < len; j++)
            o[j] = (float)(x[j] / root * gamma[j]);
    }
    ir_tensor_round(t);
    return t;
}

/* ------------------------------------------------------ data movement */

static ir_tensor *k_RESHAPE(const run *r, const ir_node *n, ir_tensor *const *in) {
    ir_tensor *t = result(r, n);
    if (!t) return NULL;
    if (ir_tensor_bytes(t) != ir_tensor_bytes(in[0]))
        ir_internal_error("reshape changes the element count");
    memcpy(t->data, in[0]->data, ir_tensor_bytes(t));
    return t;
}

/* Copies an h x w block: dst[i * dsi + j] = src[i + j * ssj] (element units). */
#define BLOCK_COPY(T)                                                                              \
    do {                                                                                           \
        T *dd = (T *)dst;                                                                          \
        const T *ss = (const T *)src;                                                              \
        for (int64_t i0 = 0; i0 < h; i0 += 32)                                                     \
            for (int64_t j0 = 0; j0 < w; j0 += 32)                                                 \
                for (int64_t i = i0; i < min64(i0 + 32, h); i++)                                   \
                    for (int64_t j = j0; j < min64(j0 + 32, w); j++)                               \
                        dd[i * dsi + j] = ss[i + j * ssj];                                         \
    } while (0)

static void block_copy(void *dst, const void *src, size_t es, int64_t h, int64_t w, int64_t dsi,
                       int64_t ssj) {
    if (es == 4)
        BLOCK_COPY(uint32_t);
    else
        BLOCK_COPY(uint8_t);
}
#undef BLOCK_COPY

static ir_tensor *k_TRANSPOSE(const run *r, const ir_node *n, ir_tensor *const *in) {
    const ir_tensor *x = in[0];
    int rank = x->shape.rank;
    ir_tensor *t = result(r, n);
    if (!t) return NULL;
    size_t es = ir_dtype_size(x->dtype);
    if (rank == 0) {
        memcpy(t->data, x->data, es);
        return t;
    }
    int64_t is[IR_MAX_RANK], os[IR_MAX_RANK], st[IR_MAX_RANK];
    int64_t s1 = 1, s2 = 1;
    for (int i = rank - 1; i >= 0; i--) {
        is[i] = s1;
        s1 *= x->shape.d[i];
        os[i] = s2;
        s2 *= n->shape.d[i];
    }
    int last = rank - 1, a = last;
    for (int i = 0; i < rank; i++) {
        st[i] = is[n->a.perm[i]];
        if (n->a.perm[i] == rank - 1) a = i;
    }
    /* Output axis `a` walks the input contiguously and the last output axis
     * walks the output contiguously: copy (a, last) planes in tiles, or whole
     * rows when they coincide. The other axes are walked by an odometer. */
    int other[IR_MAX_RANK], no = 0;
    for (int i = 0; i < rank; i++)
        if (i != a && i != last) other[no++] = i;
    int64_t idx[IR_MAX_RANK] = {0}, io = 0, oo = 0;
    int64_t planes = ir_shape_numel(&n->shape) / n->shape.d[last] / (a == last ? 1 : n->shape.d[a]);
    const char *src = x->data;
    char *dst = t->data;
    for (int64_t q = 0; q < planes; q++) {
        if (a == last)
            memcpy(dst + oo * es, src + io * es, (size_t)n->shape.d[last] * es);
        else
            block_copy(dst + oo * es, src + io * es, es, n->shape.d[a], n->shape.d[last], os[a],
                       st[last]);
        for (int k = no - 1; k >= 0; k--) {
            int i = other[k];
            io += st[i], oo += os[i];
            if (++idx[i] < n->shape.d[i]) break;
            io -= st[i] * n->shape.d[i], oo -= os[i] * n->shape.d[i];
            idx[i] = 0;
        }
    }
    return t;
}

/* Product of dimensions [from, to). */
static int64_t span(const ir_shape *s, int from, int to) {
    int64_t p = 1;
    for (int i = from; i < to; i++)
        p *= s->d[i];
    return p;
}

static ir_tensor *k_SLICE(const run *r, const ir_node *n, ir_tensor *const *in) {
    const ir_tensor *x = in[0];
    int ax = (int)n->a.axis;
    ir_tensor *t = result(r, n);
    if (!t) return NULL;
    int64_t outer = span(&x->shape, 0, ax), dim = x->shape.d[ax];
    size_t row = (size_t)span(&x->shape, ax + 1, x->shape.rank) * ir_dtype_size(x->dtype);
    size_t chunk = (size_t)(n->a.end - n->a.start) * row;
    for (int64_t q = 0; q < outer; q++)
        memcpy((char *)t->data + q * chunk,
               (const char *)x->data + (size_t)(q * dim + n->a.start) * row, chunk);
    return t;
}

static ir_tensor *k_CONCAT(const run *r, const ir_node *n, ir_tensor *const *in) {
    int ax = (int)n->a.axis;
    ir_tensor *t = result(r, n);
    if (!t) return NULL;
    int64_t outer = span(&n->shape, 0, ax);
    size_t row = (size_t)span(&n->shape, ax + 1, n->shape.rank) * ir_dtype_size(n->dtype);
    char *dst = t->data;
    for (int64_t q = 0; q < outer; q++) {
        for (int k = 0; k < n->nin; k++) {
            size_t chunk = (size_t)in[k]->shape.d[ax] * row;
            memcpy(dst, (const char *)in[k]->data + q * chunk, chunk);
            dst += chunk;
        }
    }
    return t;
}

static ir_tensor *k_GATHER(const run *r, const ir_node *n, ir_tensor *const *in) {
    const ir_tensor *table = in[0], *ix = in[1];
    int64_t rows = table->shape.d[0], ni = ir_shape_numel(&ix->shape);
    size_t row = (size_t)span(&table->shape, 1, table->shape.rank) * ir_dtype_size(table->dtype);
    const int32_t *idx = ix->data;
    /* Every index is checked before anything is allocated. */
    for (int64_t j = 0; j < ni; j++) {
        int64_t v = idx[j] < 0 ? idx[j] + rows : idx[j];
        if (v < 0 || v >= rows) {
            ir_error(r->d, n->loc, "gather index %d is out of range for a table of %lld rows",
                     (int)idx[j], (long long)rows);
            return NULL;
        }
    }
    ir_tensor *t = result(r, n);
    if (!t) return NULL;
    for (int64_t j = 0; j < ni; j++) {
        int64_t v = idx[j] < 0 ? idx[j] + rows : idx[j];
        memcpy((char *)t->data + j * row, (const char *)table->data + v * row, row);
    }
    return t;
}

static ir_tensor *k_CAUSAL_MASK(const run *r, const ir_node *n, ir_tensor *const *in) {
    const ir_tensor *x = in[0];
    if (!ir_dtype_is_float(x->dtype)) no_kernel(n, x->dtype);
    int rank = x->shape.rank;
    int64_t rows = rank >= 2 ? x->shape.d[rank - 2] : 1,
            cols = rank >= 1 ? x->shape.d[rank - 1] : 1;
    int64_t mats = ir_shape_numel(&x->shape) / (rows * cols);
    ir_tensor *t = result(r, n);
    if (!t) return NULL;
    const float *xd = x->data;
    float *o = t->data;
    for (int64_t q = 0; q < mats; q++)
        for (int64_t i = 0; i < rows; i++, xd += cols, o += cols)
            for (int64_t j = 0; j < cols; j++)
                o[j] = j > i + (cols - rows) ? -INFINITY : xd[j];
    return t;
}

/* float -> i32 truncates toward zero; NaN and out-of-range values give
 * INT32_MIN, as torch does on x86, instead of C's undefined behaviour. */
static int32_t float_to_i32(float v) {
    if (v >= -2147483648.0f && v < 2147483648.0f) return (int32_t)v;
    return INT32_MIN;
}

static ir_tensor *k_CAST(const run *r, const ir_node *n, ir_tensor *const *in) {
    const ir_tensor *x = in[0];
    ir_dtype from = x->dtype, to = n->dtype;
    ir_tensor *t = result(r, n);
    if (!t) return NULL;
    int64_t len = ir_shape_numel(&n->shape);
    for (int64_t i = 0; i < len; i++) {
        float f;
        int32_t v;
        if (ir_dtype_is_float(from)) {
            f = ((const float *)x->data)[i];
            v = float_to_i32(f);
        } else {
            v = from == IR_I32 ? ((const int32_t *)x->data)[i] : ((const uint8_t *)x->data)[i];
            f = (float)v;
        }
        if (ir_dtype_is_float(to))
            ((float *)t->data)[i] = f;
        else if (to == IR_I32)
            ((int32_t *)t->data)[i] = v;
        else if (ir_dtype_is_float(from))
            ((uint8_t *)t->data)[i] = f != 0; /* NaN counts as true, as in torch */
        else
            ((uint8_t *)t->data)[i] = v != 0;
    }
    ir_tensor_round(t);
    return t;
}

/* ---------------------------------------------------------- sources */

static ir_tensor *own(const run *r, const ir_node *n, ir_tensor *t) {
    if (!t) {
        char buf[160];
        ir_error(r->d, n->loc, "out of memory for a value of type %s",
                 ir_type_str(n->dtype, &n->shape, buf, sizeof buf));
    }
    return t;
}

/* ir_eval reads sources in place; these kernels serve ir_eval_node, whose
 * caller owns what it gets. */
static ir_tensor *k_INPUT(const run *r, const ir_node *n, ir_tensor *const *in) {
    ir_internal_error("input \"%s\" has no value outside ir_eval", n->name ? n->name : "?");
}

static ir_tensor *param_value(const ir_node *n) {
    ir_tensor *t = ir_param_value(n);
    if (!t) ir_internal_error("param \"%s\" has neither data nor an initializer", n->name);
    return t;
}

static ir_tensor *k_PARAM(const run *r, const ir_node *n, ir_tensor *const *in) {
    return n->value ? own(r, n, ir_tensor_clone(n->value)) : param_value(n);
}

static ir_tensor *k_CONST(const run *r, const ir_node *n, ir_tensor *const *in) {
    if (!n->value) ir_internal_error("const node without a value");
    return own(r, n, ir_tensor_clone(n->value));
}

static kernel *const kernels[IR_NOPS] = {
#define X(e, name, nin, kind) [IR_##e] = k_##e,
    IR_OPS(X)
#undef X
};

/* The language has no empty axes, but ir_shape_numel counts them: an empty
 * result needs no kernel (whose row and block arithmetic assumes rows). */
static ir_tensor *compute(const run *r, const ir_node *n, ir_tensor *const *in) {
    if (ir_shape_numel(&n->shape) == 0) return result(r, n);
    return kernels[n->op](r, n, in);
}

/* ------------------------------------------------------------ driver */

/* How the interpreter holds a value while the graph runs. */
typedef enum hold {
    HOLD_NONE,   /* not computed yet, or released */
    HOLD_OWNED,  /* a tensor of its own, freed at its last use */
    HOLD_SHARED, /* data owned by the graph or the caller (a param, const or input, or a view) */
} hold;

typedef struct slot {
    ir_tensor *t;   /* the value */
    hold how;       /* who owns it */
    ir_tensor view; /* the header when t is a view into shared data */
} slot;

/* The operand node n reads as its k-th input. A matmul reads a transpose of
 * the last two axes straight from the transpose's operand and flips ta or tb
 * instead, so `x @ transpose(wte)` never copies the embedding. */
static ir_ref operand(const ir_graph *g, const ir_node *n, int k, bool *flip) {
    ir_ref ref = n->in[k];
    *flip = false;
    if (!((n->op == IR_MATMUL && k < 2) || (n->op == IR_LINEAR && k == 1))) return ref;
    const ir_node *p = &g->nodes[ref];
    int rank = p->shape.rank;
    if (p->op != IR_TRANSPOSE || rank < 2) return ref;
    for (int i = 0; i < rank - 2; i++)
        if (p->a.perm[i] != i) return ref;
    if (p->a.perm[rank - 2] != rank - 1 || p->a.perm[rank - 1] != rank - 2) return ref;
    *flip = true;
    return p->in[0];
}

static void release(slot *s) {
    if (s->how == HOLD_OWNED) ir_tensor_free(s->t);
    s->t = NULL;
    s->how = HOLD_NONE;
}

static void share(slot *s, ir_tensor *t) {
    s->t = t;
    s->how = HOLD_SHARED;
}

/* A view of shared data under another shape, at a byte offset. */
static void share_view(slot *s, const ir_tensor *base, const ir_node *n, size_t offset) {
    s->view = *base;
    s->view.shape = n->shape;
    s->view.data = (char *)base->data + offset;
    share(s, &s->view);
}

/* Reshapes and leading slices of shared data are views; a reshape of a
 * value at its last use takes the value over. True when n is done. */
static bool alias(slot *s, const int32_t *last, int32_t i, const ir_node *n) {
    if (n->op != IR_RESHAPE && n->op != IR_SLICE) return false;
    slot *o = &s[n->in[0]];
    if (n->op == IR_SLICE) {
        const ir_shape *xs = &o->t->shape;
        int ax = (int)n->a.axis;
        if (o->how != HOLD_SHARED || span(xs, 0, ax) != 1) return false;
        size_t row = (size_t)span(xs, ax + 1, xs->rank) * ir_dtype_size(o->t->dtype);
        share_view(&s[i], o->t, n, (size_t)n->a.start * row);
        return true;
    }
    if (o->how == HOLD_SHARED) {
        share_view(&s[i], o->t, n, 0);
        return true;
    }
    if (last[n->in[0]] != i) return false;
    s[i] = *o;
    s[i].t->shape = n->shape;
    o->t = NULL;
    o->how = HOLD_NONE;
    return true;
}

/* Computes node i into s[i]; false on a run-time error (reported). */
static bool step(const run *r, slot *s, const int32_t *last, int32_t i, ir_tensor *const *inputs,
                 int input_no) {
    const ir_node *n = &r->g->nodes[i];
    switch (n->op) {
    case IR_INPUT:
        if (!inputs || !inputs[input_no]) ir_internal_error("input %d has no value", input_no);
        share(&s[i], inputs[input_no]);
        return true;
    case IR_CONST:
        if (!n->value) ir_internal_error("const node without a value");
        share(&s[i], n->value);
        return true;
    case IR_PARAM:
        if (n->value) {
            share(&s[i], n->value);
        } else {
            s[i].t = param_value(n);
            s[i].how = HOLD_OWNED;
        }
        return true;
    default: break;
    }
    if (alias(s, last, i, n)) return true;
    ir_tensor *small[8] = {0},
              **ops = n->nin <= 8 ? small : ir_xmalloc((size_t)n->nin * sizeof *ops);
    ir_node flipped;
    const ir_node *kn = n;
    for (int k = 0; k < n->nin; k++) {
        bool flip;
        ops[k] = s[operand(r->g, n, k, &flip)].t;
        if (flip) {
            if (kn == n) flipped = *n, kn = &flipped;
            if (k == 0)
                flipped.a.ta = !flipped.a.ta;
            else
                flipped.a.tb = !flipped.a.tb;
        }
    }
    ir_tensor *t = compute(r, kn, ops);
    if (ops != small) free(ops);
    if (!t) return false;
    s[i].t = t;
    s[i].how = HOLD_OWNED;
    return true;
}

int ir_eval(const ir_graph *g, ir_tensor *const *inputs, ir_tensor **outputs, int nthreads,
            ir_diag *d) {
    run r = {g, d, nthreads > 0 ? nthreads : 1};
    int32_t nn = g->nnodes;
    size_t cnt = nn > 0 ? (size_t)nn : 1;
    slot *s = ir_xcalloc(cnt, sizeof *s);
    int32_t *last = ir_xmalloc(cnt * sizeof *last);
    bool *live = ir_xcalloc(cnt, sizeof *live);
    /* Only what an output needs runs; last[i] is the node after which value i
     * is dead (nn for outputs, which outlive the loop). */
    for (int k = 0; k < g->noutputs; k++)
        live[g->outputs[k].ref] = true;
    for (int32_t i = nn - 1; i >= 0; i--) {
        last[i] = -1;
        if (!live[i]) continue;
        for (int k = 0; k < g->nodes[i].nin; k++) {
            bool flip;
            live[operand(g, &g->nodes[i], k, &flip)] = true;
        }
    }
    for (int32_t i = 0; i < nn; i++) {
        if (!live[i]) continue;
        for (int k = 0; k < g->nodes[i].nin; k++) {
            bool flip;
            last[operand(g, &g->nodes[i], k, &flip)] = i;
        }
    }
    for (int k = 0; k < g->noutputs; k++)
        last[g->outputs[k].ref] = nn;

    int rc = 0, input_no = 0;
    for (int32_t i = 0; i < nn && rc == 0; i++) {
        const ir_node *n = &g->nodes[i];
        int no = input_no;
        if (n->op == IR_INPUT) input_no++;
        if (!live[i]) continue;
        if (!step(&r, s, last, i, inputs, no)) {
            rc = -1;
            break;
        }
        for (int k = 0; k < n->nin; k++) {
            bool flip;
            ir_ref ref = operand(g, n, k, &flip);
            if (last[ref] == i) release(&s[ref]);
        }
    }

    /* Each output gets a tensor of its own: the value itself the first time
     * an owned value is named, a copy otherwise. */
    int done = 0;
    for (; done < g->noutputs && rc == 0; done++) {
        const ir_output *out = &g->outputs[done];
        slot *o = &s[out->ref];
        bool named = false;
        for (int j = 0; j < done; j++)
            named = named || g->outputs[j].ref == out->ref;
        if (o->how == HOLD_OWNED && !named) {
            outputs[done] = o->t;
        } else {
            outputs[done] = own(&r, &g->nodes[out->ref], ir_tensor_clone(o->t));
            if (!outputs[done]) rc = -1;
        }
    }
    /* Owned values handed out are the caller's now; on failure the copies
     * go, and the handed values are freed with the other slots. */
    for (int k = 0; k < done; k++) {
        slot *o = &s[g->outputs[k].ref];
        bool handed = o->how == HOLD_OWNED && outputs[k] == o->t;
        if (rc == 0 && handed) o->how = HOLD_NONE;
        if (rc != 0 && !handed) ir_tensor_free(outputs[k]);
    }
    for (int32_t i = 0; i < nn; i++)
        release(&s[i]);
    if (rc != 0)
        for (int k = 0; k < g->noutputs; k++)
            outputs[k] = NULL;
    free(live);
    free(last);
    free(s);
    return rc;
}

ir_tensor *ir_eval_node(const ir_graph *g, const ir_node *n, ir_tensor *const *operands,
                        int nthreads, ir_diag *d) {
    run r = {g, d, nthreads > 0 ? nthreads : 1};
    return compute(&r, n, operands);
}
