/* sim.h - the event-driven simulator of the modeled wafer (the fabric) that
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
 * resolves a program's imports to their addresses (e.g. cg_symbol
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
 * not local, a deadlock, and max_cycles. */
#ifndef WSC_SIM_H
#define WSC_SIM_H

#include "ir.h"
#include "wse_abi.h"

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
