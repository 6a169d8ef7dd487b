/* wse_abi.h - the contract between PE programs and the machine that runs
 * them (docs/execution.md): the five calls a program may make, its two
 * entry points, and the layout of the parameter block every PE holds at
 * SRAM offset 0. codegen/ emits LLVM code against these declarations and
 * reads parameter fields at their offsetof() here, so this header is the one
 * place the layout is written down; the runtime fills SRAM images with it.
 *
 * Everything in SRAM is little-endian, 4-byte aligned; offsets are bytes
 * from the start of the PE's SRAM. Plain C11, no wsc headers. */
#ifndef WSE_ABI_H
#define WSE_ABI_H

#include <stdint.h>

/* Bumped whenever a struct below changes. Programs do not check it (it
 * would cost every task a load); the runtime refuses blocks of another
 * version when it builds SRAM images. */
#define WSE_ABI_VERSION 3

typedef struct wse_pe wse_pe; /* the PE running the task (opaque) */

uint8_t *wse_sram(wse_pe *pe);                               /* this PE's SRAM */
void wse_send(wse_pe *pe, uint32_t color, uint32_t payload); /* one wavelet onto the ramp */
void wse_activate(wse_pe *pe, uint32_t task);                /* make a local task runnable */
void wse_charge(wse_pe *pe, uint32_t cycles);                /* cycles this task's work takes */
/* The run's input is wrong in a way only the program can see (code is a
 * WSE_FAULT_*, a and b its details): the machine stops the run at the end of
 * the task and reports it. The task may finish normally meanwhile. */
void wse_fault(wse_pe *pe, uint32_t code, uint32_t a, uint32_t b);

enum {
    WSE_FAULT_GATHER_INDEX = 1, /* a: the index (i32 bits), b: the table's rows */
};

/* The entry points every program exports. Besides the five calls above, a
 * program may call only the host's libm functions of doubles (exp, log,
 * sqrt, sin, cos, tanh, erf, erfc, pow). */
typedef void (*wse_init_fn)(wse_pe *pe);
typedef void (*wse_task_fn)(wse_pe *pe, uint32_t task, uint32_t payload);

/* Kernel kinds, in the order of ir_kkind. */
enum {
    WSE_KIND_INPUT,
    WSE_KIND_OUTPUT,
    WSE_KIND_GEMV,
    WSE_KIND_MATMUL,
    WSE_KIND_MAP,
    WSE_KIND_ROW,
    WSE_KIND_GATHER,
    WSE_KIND_MOVE,
    WSE_KIND_GENERIC,
};

/* Row kernels: the reduction they compute (docs/execution.md). */
enum {
    WSE_ROW_SOFTMAX,
    WSE_ROW_LAYERNORM,
    WSE_ROW_RMSNORM,
    WSE_ROW_SUM,
    WSE_ROW_MEAN,
    WSE_ROW_MAX,
    WSE_ROW_MIN,
};

#define WSE_MAX_TASKS   16 /* data tasks a PE may bind (ids 0..15); local tasks are 16..31 */
#define WSE_MAX_SRC     8  /* buffered sources of one PE */
#define WSE_MAX_RANK    8  /* axes of a view */
#define WSE_MAX_OPERAND 16 /* resident or immediate operands of one program's fused ops */
#define WSE_NO_COLOR    0xffffffffu
#define WSE_NONE        0xffffffffu /* an absent source index or SRAM offset */

/* The head of every parameter block. */
typedef struct wse_head {
    uint32_t version;                   /* WSE_ABI_VERSION */
    uint32_t kind;                      /* WSE_KIND_* */
    uint32_t col, row;                  /* this PE's position in its kernel */
    uint32_t w, h;                      /* the kernel's rectangle */
    uint32_t task_color[WSE_MAX_TASKS]; /* colour bound to data task i, or WSE_NO_COLOR */
    uint32_t color_out;                 /* this PE's output lane, or WSE_NO_COLOR */
} wse_head;

/* Which element of a source (a buffered operand) a producer element is: the
 * operand is a view (reshape, slice, row permutation) of the producer's
 * value, operand element sum i_r * ostride[r] being producer element
 * base + sum i_r * stride[r]. The axes come by decreasing stride and the
 * strides nest, so the inverse is a greedy division; the compiler checks it
 * on every element it routes. */
typedef struct wse_view {
    uint32_t rank;                  /* axes, 1..WSE_MAX_RANK */
    uint32_t base;                  /* producer element of operand element 0 */
    uint32_t dim[WSE_MAX_RANK];     /* extents, axes by decreasing stride */
    uint32_t stride[WSE_MAX_RANK];  /* producer elements per step along each axis (0 if dim 1) */
    uint32_t ostride[WSE_MAX_RANK]; /* operand elements per step along each axis */
} wse_view;

/* A buffered operand: the PE keeps columns [c0, c1) of the rows it keeps
 * (every row, or those in [rlo, rhi) when rhi > 0; of those, the ones with
 * (row - rlo) % rmod in [r0, r1) when rmod > 0) for the whole pass, and
 * counts what has arrived per kept row. Kept row i of a filtered source is
 * operand row rlo + (i / (r1 - r0)) * rmod + r0 + i % (r1 - r0). */
typedef struct wse_source {
    uint32_t rows;     /* operand rows: elements / ncol */
    uint32_t ncol;     /* operand row length */
    uint32_t c0, c1;   /* columns kept */
    uint32_t off_buf;  /* krows x (c1 - c0) words */
    uint32_t off_cnt;  /* krows u32: elements of each kept row received */
    uint32_t krows;    /* rows kept */
    uint32_t rmod;     /* 0: every row; else the row filter's period */
    uint32_t r0, r1;   /* rows kept in each period */
    uint32_t rlo, rhi; /* the range of rows kept; rhi 0: every row */
    wse_view view;     /* from producer elements to operand elements */
} wse_source;

/* An incoming net, bound to the data task of the same index. Every row of
 * the producer's value brings columns [lo, hi) in order. */
typedef struct wse_chan {
    uint32_t srcmask; /* the sources it feeds (bit s: source s filters it through its view) */
    uint32_t np;      /* producer row length */
    uint32_t lo, hi;  /* producer columns carried per row */
} wse_chan;

/* A resident or immediate operand of a fused op, one per operand slot. */
typedef struct wse_operand {
    uint32_t off; /* SRAM offset of its slice (vector: n f32; full: rows x n f32) */
    float imm;    /* the value of a scalar operand */
} wse_operand;

/* Generic kernels: the op (WSE_G_*), element types (WSE_DT_*) and shapes. */
enum {
    WSE_DT_F32,
    WSE_DT_F16,
    WSE_DT_BF16,
    WSE_DT_I32,
    WSE_DT_BOOL,
};

enum {
    WSE_G_NEG,
    WSE_G_ABS,
    WSE_G_EXP,
    WSE_G_LOG,
    WSE_G_SQRT,
    WSE_G_RSQRT,
    WSE_G_SIN,
    WSE_G_COS,
    WSE_G_TANH,
    WSE_G_ERF,
    WSE_G_SIGMOID,
    WSE_G_RELU,
    WSE_G_SILU,
    WSE_G_GELU,
    WSE_G_ADD,
    WSE_G_SUB,
    WSE_G_MUL,
    WSE_G_DIV,
    WSE_G_POW,
    WSE_G_MAXIMUM,
    WSE_G_MINIMUM,
    WSE_G_LESS,
    WSE_G_GREATER,
    WSE_G_EQUAL,
    WSE_G_WHERE,
    WSE_G_MATMUL,
    WSE_G_LINEAR,
    WSE_G_SUM,
    WSE_G_MEAN,
    WSE_G_MAX,
    WSE_G_MIN,
    WSE_G_SOFTMAX,
    WSE_G_LAYERNORM,
    WSE_G_RMSNORM,
    WSE_G_TRANSPOSE,
    WSE_G_CONCAT,
    WSE_G_GATHER,
    WSE_G_CAUSAL_MASK,
    WSE_G_CAST,
    WSE_G_NOPS
};

#define WSE_G_MAX_IN 4 /* operands of a generic op */

/* An operand of a generic op, held whole: a buffered source or resident
 * words in SRAM. */
typedef struct wse_gopnd {
    uint32_t src;               /* source index, or WSE_NONE for resident words */
    uint32_t off;               /* resident: SRAM offset of its words */
    uint32_t dtype;             /* WSE_DT_* */
    uint32_t rank;              /* axes */
    uint32_t dim[WSE_MAX_RANK]; /* shape */
} wse_gopnd;

typedef struct wse_generic {
    uint32_t op;                 /* WSE_G_* */
    uint32_t dtype;              /* result type, WSE_DT_* */
    uint32_t rank;               /* result axes */
    uint32_t dim[WSE_MAX_RANK];  /* result shape */
    uint32_t nin;                /* operands */
    wse_gopnd in[WSE_G_MAX_IN];  /* operands */
    uint32_t axes;               /* reductions: bit mask of input axes; softmax, concat: axis */
    uint32_t keepdims;           /* reductions keep reduced axes */
    uint32_t perm[WSE_MAX_RANK]; /* transpose */
    uint32_t flags;              /* 1: gelu's tanh form; 2: matmul ta; 4: matmul tb */
    float eps;                   /* norms */
} wse_generic;

/* Counters, zero in the initial image. */
typedef struct wse_state {
    uint32_t pos[WSE_MAX_TASKS];  /* per channel: element within its current row */
    uint32_t crow[WSE_MAX_TASKS]; /* per channel: its current row */
    uint32_t done[WSE_MAX_SRC];   /* per source: leading rows complete */
    uint32_t next;                /* next output row to finish and send */
    uint32_t red;                 /* row kernels: next row to reduce */
} wse_state;

/* The parameter block every PE holds at SRAM offset 0, for every kind
 * (fields a kind does not use are WSE_NONE or 0). */
typedef struct wse_params {
    wse_head head;                    /* common head */
    uint32_t op;                      /* row kernels: WSE_ROW_* */
    float eps;                        /* norms: epsilon */
    uint32_t n;                       /* elements of this PE's output row slice */
    uint32_t out_c0;                  /* its first column */
    uint32_t out_ncol;                /* output row length */
    uint32_t rows;                    /* output rows per pass */
    uint32_t mat_rows;                /* rows of the output's last two axes (causal masks) */
    uint32_t nsrc;                    /* sources used */
    wse_source src[WSE_MAX_SRC];      /* buffered operands (the plan's streams first) */
    wse_chan chan[WSE_MAX_TASKS];     /* incoming nets, by data task */
    uint32_t src_x;                   /* gemv, row: the main input */
    uint32_t src_north;               /* gemv: partial sums from the PE above */
    uint32_t src_west;                /* row: partial statistics from the lane to the west */
    uint32_t src_stats;               /* row: final statistics per row (2 f32) */
    uint32_t src_relay;               /* output lanes before this one, relayed ahead of its own */
    uint32_t color_south;             /* gemv: partial sums to the PE below */
    uint32_t color_east;              /* row: partial statistics to the next lane */
    uint32_t color_bcast;             /* row: final statistics from the last lane */
    uint32_t k;                       /* gemv, matmul, gather: rows of the block (x columns kept) */
    uint32_t off_w;                   /* gemv: k x n f32, row-major; gather: k table rows x n */
    uint32_t src_b;                   /* matmul: the buffered right operand */
    uint32_t m;                       /* matmul: output rows per batch; gather: index row length */
    uint32_t tb;                      /* matmul: the right operand is transposed */
    uint32_t bat_a, bat_b;            /* matmul: batches of each operand (1: broadcast) */
    uint32_t kb;                      /* matmul: kept rows of the right operand per batch */
    uint32_t b0, b1;                  /* matmul split by batches: this PE's [b0, b1); b1 0: not */
    uint32_t v0;                      /* gather: first table row held */
    uint32_t mv_op;                   /* move: 0 transpose, 1 concat */
    uint32_t mv_rank;                 /* move: axes of the output */
    uint32_t mv_dim[WSE_MAX_RANK];    /* move: the output's shape */
    uint32_t mv_perm[WSE_MAX_RANK];   /* transpose: output axis i is input axis perm[i] */
    uint32_t mv_axis;                 /* concat: the axis */
    uint32_t mv_off[WSE_MAX_SRC + 1]; /* concat: where operand q starts along it (then the end) */
    uint32_t vrows;                   /* gather: rows of the whole table (negative indices wrap) */
    wse_generic gen;                  /* generic kernels */
    uint32_t off_bias;                /* gemv: n f32, or WSE_NONE */
    uint32_t off_v;                   /* scratch: n f32 (a row being finished) */
    wse_operand opnd[WSE_MAX_OPERAND]; /* fused ops' resident and immediate operands */
    wse_state st;                      /* counters */
} wse_params;

/* A parameter block with nothing bound (no task colours, no sources, no
 * bias), for kind `kind`: what the compiler fills in from. */
static inline void wse_params_blank(wse_params *P, uint32_t kind) {
    P->head.version = WSE_ABI_VERSION;
    P->head.kind = kind;
    for (int i = 0; i < WSE_MAX_TASKS; i++)
        P->head.task_color[i] = WSE_NO_COLOR;
    P->head.color_out = P->color_south = P->color_east = P->color_bcast = WSE_NO_COLOR;
    P->src_x = P->src_north = P->src_west = P->src_stats = P->src_relay = WSE_NONE;
    P->src_b = WSE_NONE;
    P->off_bias = WSE_NONE;
}

#endif
