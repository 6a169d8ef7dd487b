/* rt.h - the wafer runtime: the .wsa artifact container (written by the
 * compiler, validated on reading), its sections, the JIT of PE programs and
 * the simulator of the modeled wafer that `wsc run` executes them on. */
#ifndef WSC_RT_H
#define WSC_RT_H

#include "ir.h"
#include "wse_abi.h"

/* ------------------------------------------------------- the artifact */

/* A .wsa file is a header and sections. Each section has a four-character
 * tag, a length and an XXH64 checksum; the header carries the format
 * version, the section table and the hash of the model and weights it came
 * from. Layout and rules: docs/artifact.md. */
#define RT_WSA_VERSION 1

#define RT_TAG(a, b, c, d)                                                                         \
    ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)

typedef struct rt_writer rt_writer;
rt_writer *rt_writer_new(void);
/* Adds a section (copied). A tag is four printable ASCII characters and may
 * appear once; anything else is a bug in the caller (exit 70). */
void rt_writer_add(rt_writer *w, uint32_t tag, const void *data, size_t len);
/* Writes the file atomically (a temporary in PATH's folder, then rename),
 * sections in the order they were added. False (reported on d) when the
 * file cannot be written; PATH is then untouched and the temporary removed. */
bool rt_writer_save(rt_writer *w, const char *path, uint64_t model_hash, ir_diag *d);
void rt_writer_free(rt_writer *w);

/* "PROG" for a tag (non-printable bytes as '?'), into buf; returns buf. */
char *rt_tag_str(uint32_t tag, char buf[5]);

typedef struct rt_artifact rt_artifact;
/* Opens and validates: magic, version, section table in bounds and not
 * overlapping, every checksum. Refuses (reported, exit-1 style) a
 * truncated, corrupted or foreign-version file. */
rt_artifact *rt_artifact_open(const char *path, ir_diag *d);
void rt_artifact_close(rt_artifact *a);
uint64_t rt_artifact_model_hash(const rt_artifact *a);
/* The section's bytes (64-byte aligned, valid until close), or NULL when
 * absent; *len is set either way (0 when absent). */
const void *rt_artifact_section(const rt_artifact *a, uint32_t tag, size_t *len);
/* The sections in file order: their count and the tag of the i-th. */
int rt_artifact_nsections(const rt_artifact *a);
uint32_t rt_artifact_tag(const rt_artifact *a, int i);

/* A bounds-checked reader over a section's bytes: every read fails once the
 * data runs out, so decoding untrusted sections cannot crash. Failure is
 * sticky: once `bad` is set every read returns 0 (NULL for pointers), so a
 * decoder may read a whole record and test `bad` once. Integers and doubles
 * are little-endian whatever the host. */
typedef struct rt_reader {
    const uint8_t *p;   /* next byte */
    const uint8_t *end; /* one past the last byte */
    bool bad;           /* a read ran past the end or a value was out of range */
} rt_reader;
/* A reader over len bytes at data (NULL with len 0: an empty section). */
rt_reader rt_reader_make(const void *data, size_t len);
/* Bytes not read yet (0 once bad). */
size_t rt_reader_left(const rt_reader *r);
uint8_t rt_read_u8(rt_reader *r);
uint64_t rt_read_u64(rt_reader *r);
uint32_t rt_read_u32(rt_reader *r);
int64_t rt_read_i64(rt_reader *r);
double rt_read_f64(rt_reader *r);
/* A string: u32 length and that many bytes, no NUL among them (else bad).
 * Copied into the arena; "" for length 0. */
const char *rt_read_str(rt_reader *r, ir_arena *a);
/* The next n bytes in place (not copied), or NULL when fewer are left. */
const void *rt_read_bytes(rt_reader *r, size_t n);

/* A growing byte buffer for encoding sections; starts as (rt_buf){0}. Growth
 * checks for overflow; running out of memory exits 1 as ir_xmalloc does. */
typedef struct rt_buf {
    uint8_t *data; /* bytes */
    size_t len;    /* used */
    size_t cap;    /* allocated */
} rt_buf;
void rt_put_u8(rt_buf *b, uint8_t v);
void rt_put_u64(rt_buf *b, uint64_t v);
void rt_put_u32(rt_buf *b, uint32_t v);
void rt_put_i64(rt_buf *b, int64_t v);
void rt_put_f64(rt_buf *b, double v);
/* u32 length, then the bytes without the NUL. */
void rt_put_str(rt_buf *b, const char *s);
void rt_put_bytes(rt_buf *b, const void *p, size_t n);
void rt_put_zeros(rt_buf *b, size_t n);
void rt_buf_free(rt_buf *b);
/* Adds b's bytes as a section without copying them (a gigabyte of SRAM
 * images would otherwise be held twice): the writer owns them, and b is
 * left empty. */
void rt_writer_take(rt_writer *w, uint32_t tag, rt_buf *b);

/* The IR graph of the model, with its params' initializers and data, as a
 * section ('IRGR'), so `wsc run --check` can compare with the interpreter. */
void rt_encode_graph(const ir_graph *g, rt_buf *b);
/* NULL (one error reported) when the bytes do not decode to a valid graph;
 * the decoded graph passes ir_verify and holds its attributes as inference
 * leaves them. Nodes and outputs carry IR_NOLOC. */
ir_graph *rt_decode_graph(const void *data, size_t len, ir_diag *d);

/* ------------------------------------------- the compiled program's sections */

/* 'TARG': the machine it was compiled for. */
void rt_encode_target(const ir_target *t, rt_buf *b);
bool rt_decode_target(const void *data, size_t len, ir_target *t, ir_diag *d);

/* 'KERN': kernels (with their placement) and streams. Decoding checks every
 * index against the graph and every rectangle against the target. */
void rt_encode_kgraph(const ir_kgraph *kg, rt_buf *b);
bool rt_decode_kgraph(const void *data, size_t len, const ir_graph *g, const ir_target *t,
                      ir_kgraph *kg, ir_diag *d);

/* One routed stream: a multicast tree on one colour. The hops are the
 * router configurations of that colour along the tree. */
typedef struct rt_hop {
    int32_t x, y; /* router */
    uint8_t in;   /* port the colour arrives from: 0 N, 1 E, 2 S, 3 W, 4 ramp */
    uint8_t outs; /* bit set of ports it leaves by */
} rt_hop;

/* What a net carries (placer/pl.h's pl_role, same numbers). */
enum { RT_NET_STREAM, RT_NET_RELAY, RT_NET_SOUTH, RT_NET_EAST, RT_NET_BCAST };

typedef struct rt_net {
    int32_t kernel;   /* the kernel it feeds (its destination) */
    int32_t stream;   /* the kernel-graph stream it carries, or -1 inside a kernel */
    int32_t color;    /* colour */
    int32_t role;     /* RT_NET_* */
    int32_t producer; /* the kernel whose PE sends it */
    int64_t np;       /* streams and relays: the producer's row length */
    int64_t lo, hi;   /* streams and relays: producer columns carried per row */
    int32_t sx, sy;   /* source PE */
    double load;      /* wavelets per cycle on each link it crosses */
    int32_t nsinks;   /* destination PEs */
    int32_t *kx;      /* their x (arena) */
    int32_t *ky;      /* their y (arena) */
    int32_t nhops;    /* router configurations */
    rt_hop *hops;     /* (arena) */
} rt_net;

typedef struct rt_routes {
    ir_arena *arena;      /* sink and hop arrays */
    rt_net *nets;         /* the nets (arena) */
    int32_t n;            /* count */
    double period;        /* cycles per pass, compute and streams considered */
    double max_link_load; /* busiest link, wavelets per cycle */
    int32_t max_colors;   /* most colours at one router */
    double mean_colors;   /* mean colours per router in use */
} rt_routes;

/* 'ROUT': the nets and their routes. Decoding checks coordinates, ports and
 * colours against the target. */
void rt_encode_routes(const rt_routes *r, rt_buf *b);
bool rt_decode_routes(const void *data, size_t len, const ir_target *t, int32_t nkernels,
                      rt_routes *r, ir_diag *d);
void rt_routes_free(rt_routes *r);

/* ------------------------------------- SRAM images and the host I/O map */

/* One PE's initial SRAM: the bytes that are not zero, as segments (its
 * parameter block, weights and resident operands; buffers start zeroed). */
typedef struct rt_seg {
    uint32_t off;        /* SRAM offset */
    uint32_t len;        /* bytes */
    const uint8_t *data; /* the bytes (arena, or in the artifact when decoded) */
} rt_seg;

typedef struct rt_pe_image {
    int32_t x, y;    /* PE */
    int32_t kernel;  /* the kernel it belongs to */
    int32_t program; /* index into the PROG section's programs */
    uint32_t used;   /* SRAM bytes it uses (segments and buffers) */
    int32_t nseg;    /* segments */
    rt_seg *seg;     /* (arena) */
} rt_pe_image;

/* Where a host tensor enters or leaves the fabric: lane i is the edge row
 * y, on colour `color`, carrying columns [c0, c1) of every row in order. */
typedef struct rt_host_lane {
    int32_t x, y;   /* the edge PE (x = 0 for inputs, width - 1 for outputs) */
    int32_t color;  /* colour on the edge link */
    int64_t c0, c1; /* columns of each row */
} rt_host_lane;

typedef struct rt_host_io {
    const char *name;    /* the graph input's or output's name (arena) */
    ir_dtype dtype;      /* element type */
    ir_shape shape;      /* shape */
    int32_t nlanes;      /* edge rows used */
    rt_host_lane *lanes; /* (arena) */
} rt_host_io;

typedef struct rt_images {
    ir_arena *arena; /* everything below */
    rt_pe_image *pe; /* PEs with a program, in kernel order */
    int32_t npe;     /* count */
    rt_host_io *in;  /* graph inputs, in the graph's order */
    int32_t nin;     /* count */
    rt_host_io *out; /* graph outputs, in the graph's order */
    int32_t nout;    /* count */
} rt_images;

/* 'SRAM' and 'IOMP' (docs/artifact.md). Decoding checks every PE, offset,
 * length, program and lane against the target; segments then point into
 * the section's bytes, which must outlive *im. */
void rt_encode_images(const rt_images *im, rt_buf *sram, rt_buf *iomp);
bool rt_decode_images(const void *sram, size_t slen, const void *iomp, size_t ilen,
                      const ir_target *t, int32_t nkernels, int32_t nprograms, rt_images *im,
                      ir_diag *d);
void rt_images_free(rt_images *im);

/* Checks a PE's parameter block (runtime/wse_abi.h) before its program runs
 * on it: version, kind against its program's, every count against its
 * limit and every offset and extent inside SRAM, so no artifact, however
 * crafted, makes a program read or write outside its PE. False with *why
 * (static text) when something is out of range. */
bool rt_check_params(const uint8_t *sram, uint32_t len, uint64_t sram_bytes, uint32_t kind,
                     int32_t colors, const char **why);

/* ----------------------------------------------------------- the JIT */

/* Compiles one PE program (LLVM bitcode from 'PROG') natively with ORC
 * LLJIT: the imports resolve the ABI calls (wse_sram, wse_send,
 * wse_activate, wse_charge) and the host's libm the rest. NULL with *err
 * (malloc'd) on failure. */
typedef struct rt_jit rt_jit;
typedef struct rt_symbol {
    const char *name; /* e.g. "wse_send" */
    void *addr;       /* its implementation */
} rt_symbol;
rt_jit *rt_jit_load(const void *bitcode, size_t len, const rt_symbol *imports, int nimports,
                    char **err);
void *rt_jit_entry(rt_jit *j, const char *name); /* "wse_init", "wse_task"; NULL if absent */
void rt_jit_free(rt_jit *j);

#define RT_SEC_TARGET  RT_TAG('T', 'A', 'R', 'G')
#define RT_SEC_GRAPH   RT_TAG('I', 'R', 'G', 'R')
#define RT_SEC_KERNELS RT_TAG('K', 'E', 'R', 'N')
#define RT_SEC_ROUTES  RT_TAG('R', 'O', 'U', 'T')
#define RT_SEC_PROGS   RT_TAG('P', 'R', 'O', 'G')
#define RT_SEC_SRAM    RT_TAG('S', 'R', 'A', 'M')
#define RT_SEC_IOMAP   RT_TAG('I', 'O', 'M', 'P')

/* ------------------------------------------------- the simulator
 *
 * the event-driven simulator of the modeled wafer (the fabric) that
 * `wsc run` executes PE programs on (docs/execution.md, machine.md).
 *
 * The caller describes the fabric: which PEs run which program with which
 * initial SRAM, every router's configuration per colour, the host's input
 * streams into the west edge and the output streams it collects from the
 * east edge. rt_sim_run runs it cycle by cycle and returns what reached the
 * host, with statistics. Results (outputs, cycles, statistics, trace) are
 * bit-identical for any number of threads.
 *
 * Timing rules (what the cycle counts mean):
 *
 * - Cycles are numbered from 0. Every PE's init runs before cycle 0 and
 *   costs nothing; what it sends enters its outbound queue at cycle 0 and
 *   what it activates is runnable at cycle 0 (wse_charge in init is ignored).
 * - Each cycle t has three phases, in this order:
 *   1. task ends: a task that started at s with cost c ends at t = s + c;
 *      its sends enter the core's outbound queue (in send order) and its
 *      activations become runnable;
 *   2. task starts: an idle core whose outbound queue holds at most
 *      queue_depth wavelets starts the lowest-id runnable local task
 *      (payload 0), else the lowest-id data task with a wavelet waiting,
 *      which it pops (payload = the wavelet);
 *   3. moves, decided from the state after phase 2 and then committed
 *      together: each link (router to router, host to (0,y) west, (w-1,y)
 *      east to host, a router's ramp to its core, a core's outbound queue up
 *      its ramp) carries at most one wavelet per direction, into a queue
 *      that had room (fewer than queue_depth wavelets) at that point. So a
 *      wavelet that enters a queue in cycle t leaves it at t + 1 at the
 *      earliest, and a full queue accepts nothing in the cycle its head
 *      leaves; a core's input queue popped by a start in phase 2 has room
 *      in phase 3 of the same cycle.
 * - A task costs max(1, task_cycles + the sum of its wse_charge calls).
 * - A router's head wavelet on a colour moves only when every target (each
 *   output port's queue, the core's input queue for the ramp) has room, and
 *   then leaves on all its output ports in the same cycle. When colours
 *   compete for an output link, the router serves its colours in a rotating
 *   order that starts after the colour that last won a contested link
 *   there (a round-robin arbiter per router, starvation-free).
 * - The host injects one wavelet per cycle per row, the row's inputs taking
 *   turns in the order given (an input whose queue is full is skipped that
 *   cycle); the host accepts one wavelet per cycle per row at the east
 *   edge, always.
 * - cycles = the end of the last activity: 1 + the last cycle in which a
 *   wavelet crossed a link (host edges and ramps included), or the last
 *   task end, whichever is later (0 when nothing happened). So a wavelet
 *   the host injects at cycle 0 that crosses d links to the east edge gives
 *   cycles = d; a stream of n such wavelets gives n + d - 1; a core on the
 *   way adds 2 + its task's cost (one cycle down its ramp; its task starts
 *   the cycle after the wavelet arrives; the result goes up its ramp in
 *   the cycle the task ends).
 *
 * Programs. Each PE's init and task are native functions (JIT-compiled
 * code, or C in tests) that reach the machine only through the four ABI
 * calls of wse_abi.h, which this module defines with exactly those names
 * and signatures (wse_sram, wse_send, wse_activate, wse_charge): a JIT
 * resolves a program's imports to their addresses (e.g. rt_symbol
 * {"wse_send", (void *)wse_send}). A program may call them only on the
 * wse_pe it was given, and only while it runs. Tasks of different PEs may
 * run at the same time on different threads (and at a later wall-clock
 * moment than their modeled start, never out of order on one PE), so a
 * program must keep all its state in its PE's SRAM and touch nothing
 * shared; the host libm functions it may call are thread-safe. Runs of
 * rt_sim_run on different threads are independent.
 *
 * Errors stop the run (false, reported on the diag): a wavelet reaching a
 * router whose configuration for its colour does not accept it from that
 * port, a route off the fabric other than to the host at the east edge, a
 * wavelet reaching a core on a colour no task is bound to, a program
 * sending on a colour the target does not have or activating a task that is
 * not local, a program calling wse_fault (its input is wrong; reported by
 * rt_sim_desc.fault when set), a deadlock, and max_cycles. A fault stops the
 * run when the task that raised it ends; tasks are committed in an order
 * that does not depend on the threads, so the same fault is reported for
 * any thread count. */
/* Router ports, the bit index in rt_sim_route.outs. */
enum { RT_PORT_N, RT_PORT_E, RT_PORT_S, RT_PORT_W, RT_PORT_RAMP };

/* Local task ids: WSE_MAX_TASKS .. WSE_MAX_TASKS + RT_SIM_LOCAL_TASKS - 1. */
#define RT_SIM_LOCAL_TASKS 16

typedef struct rt_sim_pe {
    int32_t x, y;        /* position */
    wse_init_fn init;    /* run once before cycle 0; may be NULL */
    wse_task_fn task;    /* every task's entry; required */
    const uint8_t *sram; /* initial SRAM image (copied); bytes past sram_len are zero */
    uint32_t sram_len;   /* <= the target's sram_bytes */
} rt_sim_pe;

/* One colour's configuration at one router. */
typedef struct rt_sim_route {
    int32_t x, y, color; /* router and colour */
    uint8_t in;          /* port 0..4 it accepts the colour from */
    uint8_t outs;        /* bit set of ports it forwards to (1 << port), not empty */
} rt_sim_route;

/* The host streams data into router (0, y)'s west port on colour `color`;
 * that router's configuration for the colour must have in = West. */
typedef struct rt_sim_input {
    int32_t y, color;     /* row and colour */
    const uint32_t *data; /* the wavelets, in order */
    int64_t n;            /* their count */
} rt_sim_input;

/* The host collects what router (width - 1, y) sends east on `color`. */
typedef struct rt_sim_output {
    int32_t y, color; /* row and colour; each (row, colour) registered once */
    int64_t expect;   /* wavelets the caller expects, for progress only (0: unknown) */
} rt_sim_output;

/* A Chrome trace-event JSON array (one event per line) of the tasks of PEs
 * in [x0, x1) x [y0, y1) that start in cycles [c0, c1); "ts" and "dur" are
 * cycles, "tid" is y * width + x, and each traced PE gets a thread_name
 * "PE (x,y)". */
typedef struct rt_sim_trace {
    FILE *f;                /* where it goes */
    int32_t x0, y0, x1, y1; /* PE rectangle, half-open */
    int64_t c0, c1;         /* start cycles, half-open */
    int64_t max_events;     /* task events at most (<= 0: no limit) */
} rt_sim_trace;

typedef struct rt_sim_desc {
    const ir_target *t;           /* width, height, colors, queue_depth, task_cycles, sram_bytes */
    const rt_sim_pe *pes;         /* PEs with a program (others are idle) */
    int32_t npes;                 /* their count */
    const rt_sim_route *routes;   /* router configurations (a router without a PE is fine) */
    int32_t nroutes;              /* their count */
    const rt_sim_input *inputs;   /* host input streams */
    int32_t ninputs;              /* their count */
    const rt_sim_output *outputs; /* host output streams */
    int32_t noutputs;             /* their count */
    int threads;                  /* >= 1 */
    int64_t max_cycles;           /* an error if the run needs more cycles; 0: no limit */
    const rt_sim_trace *trace;    /* NULL: none */
    /* Called every 2^16 cycles (when set): the cycle, the wavelets the host
     * has received and the sum of the outputs' `expect`. */
    void (*progress)(void *ctx, int64_t cycle, int64_t wavelets_out, int64_t wavelets_expected);
    void *progress_ctx; /* its first argument */
    /* Reports a program's wse_fault (when set; else a generic message):
     * the PE (an index into pes) and the call's arguments. */
    void (*fault)(void *ctx, int32_t pe, uint32_t code, uint32_t a, uint32_t b, ir_diag *diag);
    void *fault_ctx; /* its first argument */
} rt_sim_desc;

typedef struct rt_sim_stats {
    int64_t cycles;       /* modeled cycles (the timing rules above) */
    int64_t wavelets;     /* wavelets sent by cores plus injected by the host */
    int64_t hops;         /* link crossings (ramps not counted; host edge links counted) */
    int64_t tasks;        /* tasks run (init not counted) */
    int64_t busy_cycles;  /* sum over PEs of cycles spent in tasks */
    int64_t busiest_link; /* most wavelets over one link in one direction */
    /* Where: the sending router and its port; the host's input link into
     * row y is (-1, y, East). Ties go to the smallest (y, x, port). */
    int32_t busiest_x, busiest_y, busiest_port;
    int32_t pes; /* PEs with a program */
} rt_sim_stats;

typedef struct rt_sim_result {
    uint32_t **out;     /* per registered output, the wavelets received (malloc'd) */
    int64_t *nout;      /* their counts */
    rt_sim_stats stats; /* statistics */
} rt_sim_result;

/* Runs the fabric until every host input is injected and nothing is queued,
 * running or runnable. False when the description is invalid or the run
 * fails (reported on diag). *r is filled either way (on failure, with what
 * the host received until then) and is released with rt_sim_result_free. */
bool rt_sim_run(const rt_sim_desc *d, rt_sim_result *r, ir_diag *diag);
void rt_sim_result_free(rt_sim_result *r, int32_t noutputs);

#endif
