/* ir.h - the core of wsc: arenas, the diagnostics engine, tensors and their
 * files, and the typed tensor IR with its op table, builder, printer,
 * verifier and reference interpreter.
 *
 * Everything else (frontend, passes, placer, codegen, runtime, driver) stands
 * on this header, so it holds only what several modules share. */
#ifndef WSC_IR_H
#define WSC_IR_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit statuses of cli.md. */
enum { IR_EXIT_OK = 0, IR_EXIT_INPUT = 1, IR_EXIT_USAGE = 2, IR_EXIT_INTERNAL = 70 };

/* Reports a bug (never bad input) and exits with status 70. */
_Noreturn void ir_internal_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Allocation that cannot fail: out of memory is reported as an error of the
 * input (exit 1) since only a huge model gets us there. */
void *ir_xmalloc(size_t n);
void *ir_xcalloc(size_t n, size_t size);
void *ir_xrealloc(void *p, size_t n);
char *ir_xstrdup(const char *s);

/* ---------------------------------------------------------------- arenas */

/* Bump allocator: everything of one compilation (AST, IR nodes, strings) is
 * freed at once. */
typedef struct ir_arena ir_arena;
ir_arena *ir_arena_new(void);
void ir_arena_free(ir_arena *a);
void *ir_alloc(ir_arena *a, size_t n); /* zeroed, 16-byte aligned */
char *ir_strdup(ir_arena *a, const char *s);
char *ir_strndup(ir_arena *a, const char *s, size_t n);
char *ir_sprintf(ir_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ----------------------------------------------------------- diagnostics */

/* A source span: byte offsets into one registered file. Line and column are
 * computed only when a diagnostic is printed. */
typedef struct ir_loc {
    int32_t file;   /* id from ir_diag_add_file; -1: no location */
    uint32_t begin; /* first byte */
    uint32_t end;   /* one past the last byte; end == begin marks a point */
} ir_loc;

#define IR_NOLOC ((ir_loc){-1, 0, 0})

typedef struct ir_diag ir_diag;

/* Prints to `out` (stderr in the driver); a NULL out keeps messages in memory
 * only (tests read them with ir_diag_text). */
ir_diag *ir_diag_new(FILE *out);
void ir_diag_free(ir_diag *d);
/* Registers a source text (copied); returns its file id. */
int ir_diag_add_file(ir_diag *d, const char *path, const char *text, size_t len);
const char *ir_diag_file_path(const ir_diag *d, int file);
const char *ir_diag_file_text(const ir_diag *d, int file, size_t *len);
/* Line and column (from 1; the column counts bytes) of a byte offset. */
void ir_diag_linecol(const ir_diag *d, int file, uint32_t off, int *line, int *col);

void ir_error(ir_diag *d, ir_loc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void ir_warning(ir_diag *d, ir_loc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A note belongs to the error or warning just reported. */
void ir_note(ir_diag *d, ir_loc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void ir_verror(ir_diag *d, ir_loc loc, const char *fmt, va_list ap);
int ir_diag_errors(const ir_diag *d);
int ir_diag_warnings(const ir_diag *d);
/* Everything printed so far (also kept when out is NULL). */
const char *ir_diag_text(const ir_diag *d);

/* ---------------------------------------------------------------- tensors */

typedef enum ir_dtype { IR_F32, IR_F16, IR_BF16, IR_I32, IR_BOOL, IR_NDTYPES } ir_dtype;

#define IR_MAX_RANK  8
#define IR_MAX_DIM   2147483647LL /* 2^31 - 1 */
#define IR_MAX_NUMEL (1LL << 48)

typedef struct ir_shape {
    int rank;               /* 0 for a scalar */
    int64_t d[IR_MAX_RANK]; /* dimensions, each 1..IR_MAX_DIM */
} ir_shape;

const char *ir_dtype_name(ir_dtype t); /* "f32" ... */
int ir_dtype_parse(const char *s);     /* -1 if not a dtype name */
bool ir_dtype_is_float(ir_dtype t);    /* f32, f16, bf16 */
/* Bytes per element in memory. f16 and bf16 values are held as float,
 * already rounded to their dtype, so every float kernel works on float. */
size_t ir_dtype_size(ir_dtype t);

/* 1 for a scalar; saturates at IR_MAX_NUMEL + 1; -1 for a malformed shape. */
int64_t ir_shape_numel(const ir_shape *s);
bool ir_shape_eq(const ir_shape *a, const ir_shape *b);
ir_shape ir_shape_make(int rank, const int64_t *dims);
/* "[2, 3]" into buf; returns buf. */
char *ir_shape_str(const ir_shape *s, char *buf, size_t n);
/* "f32[2, 3]" into buf; returns buf. */
char *ir_type_str(ir_dtype t, const ir_shape *s, char *buf, size_t n);

/* A dense row-major tensor owning its data. */
typedef struct ir_tensor {
    ir_dtype dtype; /* element type */
    ir_shape shape; /* dimensions */
    void *data;     /* ir_shape_numel * ir_dtype_size bytes; float/int32_t/uint8_t */
} ir_tensor;

/* Zero-filled; NULL when the size overflows or memory runs out. */
ir_tensor *ir_tensor_new(ir_dtype t, const ir_shape *s);
void ir_tensor_free(ir_tensor *t);
ir_tensor *ir_tensor_clone(const ir_tensor *t);
size_t ir_tensor_bytes(const ir_tensor *t);

/* Rounding of a float to f16 / bf16 (round to nearest even), and the bit
 * conversions used by the file formats. */
float ir_round_f16(float x);
float ir_round_bf16(float x);
uint16_t ir_f32_to_f16_bits(float x);
float ir_f16_bits_to_f32(uint16_t h);
uint16_t ir_f32_to_bf16_bits(float x);
float ir_bf16_bits_to_f32(uint16_t h);
/* Rounds every element of a float tensor to its dtype (no-op for f32). */
void ir_tensor_round(ir_tensor *t);

/* .npy files (format 1.0-3.0, little-endian; '<f4' '<f2' '<i4' '|b1', and
 * '<u2' read as bf16 when `want` is IR_BF16). Errors are reported on `d`
 * naming the file, and NULL / -1 returned. `want` < 0 accepts any dtype. */
ir_tensor *ir_npy_read(const char *path, int want, ir_diag *d);
ir_tensor *ir_npy_parse(const char *path, const void *bytes, size_t len, int want, ir_diag *d);
/* bf16 is written as '<u2'. */
int ir_npy_write(const char *path, const ir_tensor *t, ir_diag *d);

/* A set of named weights: a .safetensors file or a folder of NAME.npy files.
 * Entries are loaded on demand and remembered as used. */
typedef struct ir_weights ir_weights;
ir_weights *ir_weights_open(const char *path, ir_diag *d);
void ir_weights_close(ir_weights *w);
/* 0: no such entry; 1: found, *out is a new tensor the caller owns (its dtype
 * and shape as stored; the caller checks them); -1: the entry is unreadable
 * (reported on d). */
int ir_weights_get(ir_weights *w, const char *name, ir_tensor **out, ir_diag *d);
/* Warns once per entry that no ir_weights_get asked for. */
void ir_weights_warn_unused(ir_weights *w, ir_diag *d);

/* The deterministic generator behind normal() and uniform() (docs/formats.md
 * documents it; large fills run on several threads without changing values): element i of a param
 * draws from a counter-based stream keyed by the seed and the param's name, so values do not depend
 * on the order of params or on threads. */
void ir_fill_uniform(ir_tensor *t, uint64_t seed, const char *name, double lo, double hi);
void ir_fill_normal(ir_tensor *t, uint64_t seed, const char *name, double mean, double std);

/* --------------------------------------------------------------- the IR */

/* The op table. Each row: enum suffix, printed name, operand count (-1:
 * variadic), and kind. Adding an op touches this list, its inference rule
 * (infer.c) and its kernel (interp.c); the printer, verifier and passes are
 * driven by the table.
 *
 * Attribute use (ir_attrs):
 *   SLICE      axis, start, end (normalized, 0 <= start < end <= dim)
 *   CONCAT     axis
 *   SOFTMAX    axis (normalized)
 *   REDUCE_*   axes (bit mask of normalized axes), keepdims
 *   LAYERNORM  eps (operands x, gamma, beta); RMSNORM eps (x, gamma)
 *   TRANSPOSE  perm
 *   RESHAPE    shape (target; one -1 allowed before inference)
 *   CAST       dtype
 *   MATMUL     ta, tb: the operand's last two axes are transposed
 *   LINEAR     tb; operands x, w, b: matmul(x, w) + b with b of shape [N]
 *   GELU       approx_tanh
 *   CONST      the node's value holds the data
 */
#define IR_OPS(X)                                                                                  \
    X(INPUT, "input", 0, IR_K_SOURCE)                                                              \
    X(PARAM, "param", 0, IR_K_SOURCE)                                                              \
    X(CONST, "const", 0, IR_K_SOURCE)                                                              \
    X(NEG, "neg", 1, IR_K_UNARY)                                                                   \
    X(ABS, "abs", 1, IR_K_UNARY)                                                                   \
    X(EXP, "exp", 1, IR_K_UNARY)                                                                   \
    X(LOG, "log", 1, IR_K_UNARY)                                                                   \
    X(SQRT, "sqrt", 1, IR_K_UNARY)                                                                 \
    X(RSQRT, "rsqrt", 1, IR_K_UNARY)                                                               \
    X(SIN, "sin", 1, IR_K_UNARY)                                                                   \
    X(COS, "cos", 1, IR_K_UNARY)                                                                   \
    X(TANH, "tanh", 1, IR_K_UNARY)                                                                 \
    X(ERF, "erf", 1, IR_K_UNARY)                                                                   \
    X(SIGMOID, "sigmoid", 1, IR_K_UNARY)                                                           \
    X(RELU, "relu", 1, IR_K_UNARY)                                                                 \
    X(SILU, "silu", 1, IR_K_UNARY)                                                                 \
    X(GELU, "gelu", 1, IR_K_UNARY)                                                                 \
    X(ADD, "add", 2, IR_K_BINARY)                                                                  \
    X(SUB, "sub", 2, IR_K_BINARY)                                                                  \
    X(MUL, "mul", 2, IR_K_BINARY)                                                                  \
    X(DIV, "div", 2, IR_K_BINARY)                                                                  \
    X(POW, "pow", 2, IR_K_BINARY)                                                                  \
    X(MAXIMUM, "maximum", 2, IR_K_BINARY)                                                          \
    X(MINIMUM, "minimum", 2, IR_K_BINARY)                                                          \
    X(LESS, "less", 2, IR_K_COMPARE)                                                               \
    X(GREATER, "greater", 2, IR_K_COMPARE)                                                         \
    X(EQUAL, "equal", 2, IR_K_COMPARE)                                                             \
    X(WHERE, "where", 3, IR_K_OTHER)                                                               \
    X(MATMUL, "matmul", 2, IR_K_MATMUL)                                                            \
    X(LINEAR, "linear", 3, IR_K_MATMUL)                                                            \
    X(REDUCE_SUM, "sum", 1, IR_K_REDUCE)                                                           \
    X(REDUCE_MEAN, "mean", 1, IR_K_REDUCE)                                                         \
    X(REDUCE_MAX, "max", 1, IR_K_REDUCE)                                                           \
    X(REDUCE_MIN, "min", 1, IR_K_REDUCE)                                                           \
    X(SOFTMAX, "softmax", 1, IR_K_NORM)                                                            \
    X(LAYERNORM, "layernorm", 3, IR_K_NORM)                                                        \
    X(RMSNORM, "rmsnorm", 2, IR_K_NORM)                                                            \
    X(RESHAPE, "reshape", 1, IR_K_SHAPE)                                                           \
    X(TRANSPOSE, "transpose", 1, IR_K_SHAPE)                                                       \
    X(SLICE, "slice", 1, IR_K_SHAPE)                                                               \
    X(CONCAT, "concat", -1, IR_K_SHAPE)                                                            \
    X(GATHER, "gather", 2, IR_K_OTHER)                                                             \
    X(CAUSAL_MASK, "causal_mask", 1, IR_K_OTHER)                                                   \
    X(CAST, "cast", 1, IR_K_OTHER)

typedef enum ir_kind {
    IR_K_SOURCE,  /* no operands: input, param, const */
    IR_K_UNARY,   /* elementwise, one operand, same type out */
    IR_K_BINARY,  /* elementwise, broadcast, same dtype out */
    IR_K_COMPARE, /* elementwise, broadcast, bool out */
    IR_K_MATMUL,  /* contractions */
    IR_K_REDUCE,  /* reductions over axes */
    IR_K_NORM,    /* softmax, layernorm, rmsnorm */
    IR_K_SHAPE,   /* pure data movement */
    IR_K_OTHER,
} ir_kind;

typedef enum ir_op {
#define X(e, name, nin, kind) IR_##e,
    IR_OPS(X)
#undef X
        IR_NOPS
} ir_op;

typedef struct ir_opinfo {
    const char *name; /* printed name */
    int nin;          /* operand count, -1 variadic */
    ir_kind kind;     /* family */
} ir_opinfo;

extern const ir_opinfo ir_ops[IR_NOPS];
int ir_op_lookup(const char *name); /* -1 if none */

/* A value is named by the index of the node that defines it. */
typedef int32_t ir_ref;
#define IR_NONE (-1)

typedef struct ir_attrs {
    int64_t axis;             /* softmax, slice, concat */
    int64_t start, end;       /* slice bounds */
    uint32_t axes;            /* reductions: bit i set = reduce axis i */
    bool keepdims;            /* reductions keep reduced axes as 1 */
    bool ta, tb;              /* matmul/linear: operand transposed */
    bool approx_tanh;         /* gelu: the tanh form */
    double eps;               /* layernorm, rmsnorm */
    int8_t perm[IR_MAX_RANK]; /* transpose: output axis i is input axis perm[i] */
    ir_shape shape;           /* reshape target */
    ir_dtype dtype;           /* cast target */
} ir_attrs;

/* How a param gets its value when no weights entry supplies it. */
typedef enum ir_init_kind {
    IR_INIT_NONE,
    IR_INIT_ZEROS,
    IR_INIT_ONES,
    IR_INIT_NORMAL,
    IR_INIT_UNIFORM,
    IR_INIT_DATA
} ir_init_kind;

typedef struct ir_init {
    ir_init_kind kind; /* which initializer */
    double a, b;       /* normal: mean, std; uniform: lo, hi */
    uint64_t seed;     /* --seed */
} ir_init;

typedef struct ir_node {
    ir_op op;         /* what it computes */
    ir_dtype dtype;   /* result dtype */
    ir_shape shape;   /* result shape */
    int32_t nin;      /* operand count */
    ir_ref *in;       /* operands (arena) */
    ir_attrs a;       /* attributes, see IR_OPS */
    const char *name; /* input and param name (arena) */
    ir_loc loc;       /* source span that created it: runtime errors name it */
    ir_init init;     /* param: initializer */
    ir_tensor *value; /* const: its value; param: data (weights, file, or materialized) */
} ir_node;

typedef struct ir_output {
    const char *name; /* output name (arena) */
    ir_ref ref;       /* the value */
    ir_loc loc;       /* the output statement */
} ir_output;

/* A model: nodes in topological order (operands precede users). Sources of
 * the graph are its INPUT nodes, in declaration order. */
typedef struct ir_graph {
    ir_arena *arena;    /* names, operand arrays */
    const char *model;  /* model name ("model" item, else the file's stem) */
    ir_node *nodes;     /* node array (grown with realloc; refs stay valid) */
    int32_t nnodes;     /* nodes in use */
    int32_t cap;        /* nodes allocated */
    ir_output *outputs; /* in declaration order */
    int32_t noutputs;   /* outputs in use */
    int32_t outcap;     /* outputs allocated */
    bool by_heads;      /* mapping chosen by wsc compile, not part of the model: attention by
                           heads (ir_is_view's row permutations, ir_matmul_by_batch) */
} ir_graph;

ir_graph *ir_graph_new(const char *model);
/* Frees nodes' tensors too. */
void ir_graph_free(ir_graph *g);
/* Appends a node without inference (passes use it after copying types). */
ir_ref ir_graph_add(ir_graph *g, const ir_node *proto, const ir_ref *in, int nin);
void ir_graph_add_output(ir_graph *g, const char *name, ir_ref r, ir_loc loc);

/* A failed type rule: a message and an optional note (expected vs found). */
typedef struct ir_err {
    char msg[256];  /* "cannot broadcast f32[3, 4] with f32[5]" */
    char note[256]; /* "" or further detail */
} ir_err;

/* Computes n->dtype and n->shape from its operands (already in g) and its
 * attributes, normalizing attributes (negative axes, reshape's -1). Returns
 * false with *e filled when the operands do not fit. */
bool ir_infer(const ir_graph *g, ir_node *n, ir_err *e);

/* Adds a node of `op` with the given operands and attributes, inferring its
 * type; returns IR_NONE with *e filled when the type rule fails. */
ir_ref ir_build(ir_graph *g, ir_op op, const ir_ref *in, int nin, const ir_attrs *a, ir_loc loc,
                ir_err *e);
/* Adds a CONST node owning t. */
ir_ref ir_build_const(ir_graph *g, ir_tensor *t, ir_loc loc);
ir_ref ir_build_scalar(ir_graph *g, ir_dtype t, double v, ir_loc loc);

/* Attribute equality and hash restricted to the attributes `op` uses (CSE,
 * golden printing). */
bool ir_attrs_equal(ir_op op, const ir_attrs *a, const ir_attrs *b);
uint64_t ir_attrs_hash(ir_op op, const ir_attrs *a);

/* Broadcast shape of two shapes (NumPy rules); false if incompatible. */
bool ir_broadcast(const ir_shape *a, const ir_shape *b, ir_shape *out);

/* Checks every node: operands defined before use, operand counts, and that
 * re-running inference gives the recorded types. Reports on d (no location)
 * and returns false on the first broken node. */
bool ir_verify(const ir_graph *g, ir_diag *d);

/* The stable text form (golden tests depend on it):
 *   model NAME
 *   %0 = input "x" : f32[8, 64]
 *   %3 = matmul %0, %1 : f32[8, 256]
 *   output "probs" = %7
 */
void ir_print(const ir_graph *g, FILE *out);

/* The value of a param: its data, or its initializer materialized into a new
 * tensor the caller frees. */
ir_tensor *ir_param_value(const ir_node *n);

/* ------------------------------------------------------- the interpreter */

/* Runs the graph on the host: inputs[i] feeds the i-th INPUT node (types
 * already checked by the caller). On success fills outputs[k] (new tensors,
 * one per graph output) and returns 0; on a run-time error (a gather index
 * out of range) reports it at the node's location and returns -1. Results do
 * not depend on nthreads. */
int ir_eval(const ir_graph *g, ir_tensor *const *inputs, ir_tensor **outputs, int nthreads,
            ir_diag *d);

/* Evaluates one node whose operands are given; used by constant folding.
 * Returns NULL (and reports) on a run-time error. */
ir_tensor *ir_eval_node(const ir_graph *g, const ir_node *n, ir_tensor *const *operands,
                        int nthreads, ir_diag *d);

/* ---------------------------------------------------------- targets */

/* The modeled wafer (../shared/spec/machine.md). Every stage after the IR
 * reads machine parameters from here, never from constants. */
typedef struct ir_target {
    char name[64];         /* "wse2", "wse3" or the target file's name */
    int32_t width;         /* fabric width in PEs (x grows east) */
    int32_t height;        /* fabric height in PEs (y grows south) */
    int64_t sram_bytes;    /* SRAM per PE */
    int32_t sram_banks;    /* SRAM banks per PE */
    int32_t colors;        /* routable colours per router */
    int32_t queue_depth;   /* router input queue per colour, in wavelets (2..8) */
    int32_t link_wavelets; /* wavelets per cycle per link per direction */
    int32_t hop_cycles;    /* cycles per router hop */
    int32_t fp32_lanes;    /* fp32 multiply-add lanes per cycle */
    int32_t fp16_lanes;    /* fp16 multiply-add lanes per cycle */
    int32_t sram_reads;    /* 32-bit SRAM reads per cycle */
    int32_t sram_writes;   /* 32-bit SRAM writes per cycle */
    int32_t task_cycles;   /* cycles to start a task */
    double clock_hz;       /* clock, for latency in seconds */
} ir_target;

/* The range of clock_hz: a slower clock makes latencies in seconds
 * overflow to infinity for long runs, which no report can print. */
#define IR_MIN_CLOCK_HZ 1e3
#define IR_MAX_CLOCK_HZ 1e12

/* Fills *t with a preset ("wse2", "wse3"); false if there is none. */
bool ir_target_preset(const char *name, ir_target *t);
/* Reads a target file: `key = value` lines, `#` comments, starting from the
 * preset named by an optional `base = wse2|wse3` line (default wse3). Every
 * key is a field name above; unknown keys and out-of-range values are
 * errors reported at their line. */
bool ir_target_load(const char *path, ir_target *t, ir_diag *d);
/* --fabric WxH: a rectangle no larger than the target's fabric. */
bool ir_target_set_fabric(ir_target *t, int32_t w, int32_t h, ir_diag *d);
/* The text of `wsc help targets`: presets, keys, ranges and an example. */
void ir_target_help(FILE *out);
/* Writes the target as a target file (every key), for dumps and artifacts. */
void ir_target_write(const ir_target *t, FILE *out);

/* ------------------------------------------------------------- views */

/* A chain of views of a value as addressing (view.c): operand element
 * (i_0, ..., i_{rank-1}) is element base + sum i_k * stride[k] of the value
 * at the chain's base. Sorted by size the strides nest, so ir_view_inverse
 * is exact. */
typedef struct ir_view {
    int rank;                    /* axes */
    int64_t base;                /* value element of operand element 0 */
    int64_t dim[IR_MAX_RANK];    /* operand extents */
    int64_t stride[IR_MAX_RANK]; /* value elements per step (0 on unit axes) */
} ir_view;

/* Whether node r is addressing of its operand, not a kernel: a reshape, a
 * slice, or, when g->by_heads, a transpose that keeps the last axis (a row
 * permutation) of a reshape or slice and is not reshaped itself, such as
 * attention's heads view of a projection. Other transposes move data
 * (kernels of kind move). */
bool ir_is_view(const ir_graph *g, ir_ref r);
/* Whether node r is such a row permutation, whatever the mapping. */
bool ir_permutes_rows(const ir_graph *g, ir_ref r);
/* The value under r's views. */
ir_ref ir_view_base(const ir_graph *g, ir_ref r);
/* Whether r is resident: a weight or computed from weights alone (no input
 * reaches it), so it is evaluated at compile time and lives in SRAM. */
bool ir_is_resident(const ir_graph *g, ir_ref r);
/* r as a view of ir_view_base(g, r); false when a reshape splits a sliced
 * axis in a way no strides express. */
bool ir_view_of(const ir_graph *g, ir_ref r, ir_view *v);
/* The value element of operand element g, and the operand element of value
 * element f (-1 when f is not in the view). */
int64_t ir_view_apply(const ir_view *v, int64_t g);
int64_t ir_view_inverse(const ir_view *v, int64_t f);
/* v's axes by decreasing stride (stable): the order a producer element
 * splits into operand indices. */
void ir_view_order(const ir_view *v, int *order);

/* ----------------------------------------------------- the kernel graph */

/* What the IR becomes on the wafer: kernels, each a rectangle of PEs that
 * computes one or more IR nodes, and the streams of wavelets between them.
 * All kernels are resident at once and activations stream through them
 * (layer-pipelined execution). docs/kernels.md describes each kind. */
typedef enum ir_kkind {
    IR_KK_INPUT,   /* host input, streamed in on the west edge */
    IR_KK_OUTPUT,  /* host output, collected on the east edge */
    IR_KK_GEMV,    /* weight-stationary matmul: weights split over the rectangle,
                      input slices multicast along rows, partial sums reduced down columns */
    IR_KK_MATMUL,  /* matmul of two activations: one operand buffered in SRAM */
    IR_KK_MAP,     /* elementwise ops over row slices */
    IR_KK_ROW,     /* softmax, norms and reductions: reduce-and-broadcast along the row */
    IR_KK_GATHER,  /* embedding lookup: table rows split over the PEs */
    IR_KK_MOVE,    /* transpose and concat: buffered and re-emitted in the new order */
    IR_KK_GENERIC, /* anything else (other element types, axes, broadcasts): each lane holds its
                      operands whole and computes its columns element by element */
    IR_NKKINDS
} ir_kkind;

const char *ir_kkind_name(ir_kkind k);

typedef struct ir_kernel {
    const char *name;     /* unique: the op and its IR value, e.g. "linear%12" */
    ir_kkind kind;        /* what it is */
    ir_ref node;          /* the IR value it produces (after its fused ops) */
    ir_ref *nodes;        /* every IR node it computes, in order (arena) */
    int32_t nnodes;       /* count */
    int32_t w, h;         /* rectangle in PEs */
    int32_t x, y;         /* north-west PE; -1 until placed */
    int64_t rows;         /* rows streamed per pass (elements / row length) */
    int64_t row_len;      /* elements of a row (split across the kernel's lanes) */
    int64_t sram_data;    /* bytes of weights and resident operands, busiest PE */
    int64_t sram_buffers; /* bytes of stream buffers, busiest PE */
    int64_t sram_program; /* bytes of program and task tables */
    int64_t work;         /* multiply-adds or element operations per pass, whole kernel */
    int64_t cycles;       /* estimated cycles per pass of its busiest PE */
    int32_t colors;       /* colours it needs inside its rectangle */
    int32_t relay_max;    /* most lanes a relay group of its output may hold (tile.c: what its
                             SRAM allows); 0: the nets' own limit */
    const int32_t *chunk; /* gemv and output kernels, per row: the slice of the streamed
                             input that row takes (NULL: row r takes slice r); chosen
                             after placement so the streams' routes need not cross */
} ir_kernel;

/* The input slice row r of kernel k takes (see ir_kernel.chunk). */
static inline int32_t ir_kernel_chunk(const ir_kernel *k, int32_t r) {
    return k->chunk ? k->chunk[r] : r;
}

typedef struct ir_kstream {
    int32_t src, dst; /* kernel indices (src produces, dst consumes) */
    int32_t operand;  /* which operand of dst's first node it feeds */
    int64_t wavelets; /* 32-bit wavelets per pass */
} ir_kstream;

typedef struct ir_kgraph {
    ir_arena *arena;  /* names, node lists */
    ir_kernel *k;     /* kernels, in pipeline (topological) order */
    int32_t nk, capk; /* count, allocated */
    ir_kstream *s;    /* streams */
    int32_t ns, caps; /* count, allocated */
} ir_kgraph;

void ir_kgraph_free(ir_kgraph *kg);

/* How a kernel takes a streamed operand (lanes.c): a stream is multicast to
 * lanes of PEs (rows or columns of the rectangle, or all of it), and each
 * lane keeps part of the operand (seen as rows x ncol, ncol its last axis). */
typedef enum ir_lane_kind {
    IR_LANES_ROWS, /* lane j: row j of the rectangle */
    IR_LANES_COLS, /* lane j: column j */
    IR_LANES_ALL,  /* one lane: every PE */
} ir_lane_kind;

typedef struct ir_keep {
    int64_t c0, c1;       /* columns kept */
    int64_t rmod, r0, r1; /* rows kept: (row - rlo) % rmod in [r0, r1); rmod 0: every row */
    int64_t rlo, rhi;     /* and only rows in [rlo, rhi); rhi 0: no range */
} ir_keep;

/* Whether row t of an operand is kept. */
static inline bool ir_keeps_row(const ir_keep *k, int64_t t) {
    if (k->rhi && (t < k->rlo || t >= k->rhi)) return false;
    return !k->rmod || ((t - k->rlo) % k->rmod >= k->r0 && (t - k->rlo) % k->rmod < k->r1);
}

/* A batched attention-style matmul (both operands batched alike) splits its
 * batches over the rectangle's rows, each row computing whole dot products
 * for its batches (ir/lanes.c): *nb gets the batches. Otherwise its rows
 * split the contraction. */
bool ir_matmul_by_batch(const ir_graph *g, const ir_kernel *k, int64_t *nb);
/* Whether mapping attention by heads changes anything in g: a transpose
 * that would be a view, or a matmul that would split by batches. */
bool ir_graph_has_heads(const ir_graph *g);
/* The batches [*b0, *b1) of row r of such a kernel. */
void ir_batch_range(int64_t nb, int32_t h, int32_t r, int64_t *b0, int64_t *b1);

/* The lanes of kernel k for its operand r (a value it reads). */
int32_t ir_in_lanes(const ir_graph *g, const ir_kernel *k, ir_ref r, ir_lane_kind *kind);
/* What lane j keeps of operand r (for the whole lane: a PE may keep less). */
ir_keep ir_lane_keep(const ir_graph *g, const ir_kernel *k, ir_ref r, int32_t j);

#endif
