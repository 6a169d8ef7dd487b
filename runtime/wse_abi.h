/* wse_abi.h - the contract between PE programs and the machine that runs
 * them (docs/execution.md): the four calls a program may make, its two
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
#define WSE_ABI_VERSION 1

typedef struct wse_pe wse_pe; /* the PE running the task (opaque) */

uint8_t *wse_sram(wse_pe *pe);                               /* this PE's SRAM */
void wse_send(wse_pe *pe, uint32_t color, uint32_t payload); /* one wavelet onto the ramp */
void wse_activate(wse_pe *pe, uint32_t task);                /* make a local task runnable */
void wse_charge(wse_pe *pe, uint32_t cycles);                /* cycles this task's work takes */

/* The entry points every program exports. Besides the four calls above, a
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
};

/* Data task ids. gemv: the input slice x_k arrives on task 0 and the north
 * partial sums on task 1. Every program: streamed operand s of the fused ops
 * arrives on task WSE_TASK_SRC + s (gemv's own result is source 0 and has
 * no task; input, output and map kernels stream their first operand as
 * source 0). Which colour feeds which task is `task_color` below. */
enum { WSE_TASK_X = 0, WSE_TASK_NORTH = 1, WSE_TASK_SRC = 2 };

#define WSE_MAX_TASKS   8  /* data tasks a PE may bind */
#define WSE_MAX_SOURCES 6  /* streamed sources of one program (WSE_TASK_SRC + s < WSE_MAX_TASKS) */
#define WSE_MAX_OPERAND 16 /* resident or immediate operands of one program's fused ops */
#define WSE_NO_COLOR    0xffffffffu

/* The head of every parameter block. */
typedef struct wse_head {
    uint32_t version;                   /* WSE_ABI_VERSION */
    uint32_t kind;                      /* WSE_KIND_* */
    uint32_t col, row;                  /* this PE's position in its kernel */
    uint32_t w, h;                      /* the kernel's rectangle */
    uint32_t task_color[WSE_MAX_TASKS]; /* colour bound to data task i, or WSE_NO_COLOR */
    uint32_t color_out;                 /* the kernel's output stream (last row for gemv) */
    uint32_t off_state;                 /* the program's counters (zeroed by wse_init) */
} wse_head;

/* A resident or immediate operand of a fused op, one per operand slot (slots
 * are numbered in the order the fused ops use them; docs/codegen.md). */
typedef struct wse_operand {
    uint32_t off; /* SRAM offset of the vector (or full per-row block) slice; unused for scalars */
    float imm;    /* the value of a scalar operand */
} wse_operand;

/* The fused elementwise epilogue, shared by every kind that has one. Each
 * streamed source is buffered in a ring of `ring` elements; element e of
 * the PE's output slice is computed once every source holds element e. */
typedef struct wse_epilogue {
    uint32_t n;                         /* elements of this PE's row slice */
    uint32_t rows;                      /* rows per pass (full resident operands wrap) */
    uint32_t ring;                      /* capacity of each source ring, in elements */
    uint32_t off_ring[WSE_MAX_SOURCES]; /* SRAM offset of source s's ring (f32 elements) */
    wse_operand opnd[WSE_MAX_OPERAND];  /* resident and immediate operands */
} wse_epilogue;

/* Counters of the epilogue (at head.off_state, then the kind's own). */
typedef struct wse_ep_state {
    uint32_t got[WSE_MAX_SOURCES]; /* elements received per source */
    uint32_t done;                 /* elements computed and sent */
} wse_ep_state;

/* gemv: PE (col, row) holds W[Kr, Nc] row-major at off_w (laid out for its
 * use whatever the IR's transposes), accumulates x_k * W[k, :] into one of
 * two local accumulators, and adds the north partial sums of the same row. */
typedef struct wse_gemv_params {
    wse_head head;        /* common head */
    uint32_t k;           /* Kr: rows of the W block (x elements per row slice) */
    uint32_t color_south; /* partial sums to the next row (rows < h - 1) */
    uint32_t off_w;       /* W block, Kr x Nc f32 */
    uint32_t off_bias;    /* bias slice, Nc f32 (linear; used by the last row) */
    uint32_t off_acc;     /* two local accumulators, 2 x Nc f32 */
    uint32_t off_north;   /* two north partial sum buffers, 2 x Nc f32 */
    wse_epilogue ep;      /* Nc is ep.n; source 0 is the row result */
} wse_gemv_params;

typedef struct wse_gemv_state {
    wse_ep_state ep; /* epilogue counters */
    uint32_t lk;     /* x elements of the current row received */
    uint32_t lrow;   /* rows whose local slice is complete */
    uint32_t nj;     /* north elements of the current row received */
    uint32_t nrow;   /* rows whose north partial sums are complete */
    uint32_t erow;   /* rows sent on (south, or into the epilogue) */
} wse_gemv_state;

/* map, input, output: the fused ops over the streamed sources. */
typedef struct wse_map_params {
    wse_head head;   /* common head */
    wse_epilogue ep; /* sources, operands */
} wse_map_params;

typedef struct wse_map_state {
    wse_ep_state ep; /* epilogue counters */
} wse_map_state;

#endif
