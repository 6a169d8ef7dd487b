/* pl.h - placement of kernel rectangles on the fabric and routing of
 * streams over the mesh on colours. The inputs are plain arrays so the
 * placer and router can be tested on synthetic problems; the compiler
 * fills them from its kernel graph. */
#ifndef WSC_PL_H
#define WSC_PL_H

#include "ir.h"

/* ------------------------------------------------------------ placement */

/* Where a kernel must sit: host I/O reaches the fabric only through its
 * west (input) and east (output) edges (docs/placer.md). */
typedef enum pl_pin {
    PL_PIN_NONE, /* anywhere */
    PL_PIN_WEST, /* x = 0 */
    PL_PIN_EAST, /* x + w = width */
    PL_NPINS
} pl_pin;

/* Kernels are rectangles; edges say how much traffic two kernels exchange
 * per pass (wavelets). Kernel i is w[i] x h[i] PEs. */
typedef struct pl_problem {
    int32_t width, height; /* fabric in PEs */
    int32_t nkernels;      /* count */
    const int32_t *w, *h;  /* kernel sizes */
    int32_t nedges;        /* communicating pairs */
    const int32_t *src;    /* edge source kernel */
    const int32_t *dst;    /* edge destination kernel */
    const double *traffic; /* wavelets per pass on the edge */
    uint64_t seed;         /* annealing seed (results depend on it only) */
    double effort;         /* moves per temperature = effort x nkernels^(4/3); 0: default
                              (20, within 10000..60000 moves per temperature); < 0: none */
    bool selfcheck;        /* tests: after every accepted move, compare the incremental
                              cost with pl_cost and check legality (slow) */
    const int8_t *pin;     /* per kernel a pl_pin: the edge it must touch, free along y;
                              NULL: none pinned */
} pl_problem;

typedef struct pl_placement {
    int32_t *x, *y;       /* north-west PE of each kernel (caller frees with pl_placement_free) */
    double cost;          /* sum over edges of traffic x Manhattan distance between centres */
    double lower_bound;   /* a lower bound of that cost (every edge's own minimum distance) */
    double initial_cost;  /* cost of the constructive placement before annealing */
    int64_t moves;        /* annealing moves tried */
    int64_t accepted;     /* annealing moves accepted */
    int32_t temperatures; /* annealing temperature steps */
    const char *strategy; /* the constructive packing kept (static text) */
} pl_placement;

/* Places every kernel inside the fabric without overlap, pinned kernels on
 * their edges: a constructive serpentine in pipeline (index) order, then
 * simulated annealing with incremental cost updates and a range limit
 * adapted to the acceptance rate. Deterministic for a seed. False
 * (reported) when the rectangles do not fit. */
bool pl_place(const pl_problem *p, pl_placement *out, ir_diag *d);
void pl_placement_free(pl_placement *pl);
/* Recomputes the cost of a placement from scratch (tests compare it with
 * the incremental cost). */
double pl_cost(const pl_problem *p, const int32_t *x, const int32_t *y);
/* In bounds, no overlap, pinned kernels on their edges; reports the first
 * violation. */
bool pl_check_placement(const pl_problem *p, const int32_t *x, const int32_t *y, ir_diag *d);

/* -------------------------------------------------------------- routing */

/* Router ports. North is y - 1 (row 0 is the north edge), east is x + 1. */
typedef enum pl_port { PL_NORTH, PL_EAST, PL_SOUTH, PL_WEST, PL_RAMP, PL_NPORTS } pl_port;

/* One stream: from a source PE's core to the cores of its sink PEs
 * (multicast when several). `load` is the wavelets per cycle it puts on
 * every link it crosses (the router keeps each link's sum <= link capacity). */
typedef struct pl_net {
    int32_t sx, sy;    /* source PE */
    int32_t nsinks;    /* count (>= 1) */
    const int32_t *kx; /* sink PEs, x */
    const int32_t *ky; /* sink PEs, y */
    double load;       /* wavelets per cycle, 0 < load <= capacity */
} pl_net;

/* The configuration of one colour at one router: accepted input port and
 * forwarded output ports (a bit per pl_port; several = multicast). */
typedef struct pl_hop {
    int32_t x, y; /* router */
    uint8_t in;   /* pl_port the colour arrives from (PL_RAMP at the source) */
    uint8_t outs; /* bit set of pl_port it leaves by (PL_RAMP bit at a sink) */
} pl_hop;

/* One net's tree. Spelled `struct pl_route`: the function pl_route holds
 * the plain name (a typedef of it would clash). The hops come parents
 * first (each router after the one it receives from), the source first. */
struct pl_route {
    int32_t color; /* 0 .. colors-1 */
    int32_t nhops; /* routers configured for this net */
    pl_hop *hops;  /* their configurations */
};

typedef struct pl_routing {
    struct pl_route *routes; /* one per net, same order */
    int32_t nroutes;         /* count */
    double max_link_load;    /* the busiest link's load (wavelets per cycle) */
    int32_t max_colors;      /* most colours used at one router */
    double mean_colors;      /* mean colours per router that has any */
    int32_t iterations;      /* negotiation rounds used */
} pl_routing;

/* Routes every net as a multicast tree on one colour with negotiated
 * congestion (PathFinder: rip up and reroute with present and history
 * costs) so that no link carries more than `capacity` wavelets per cycle
 * and no router holds more than `colors` colours, where two nets sharing a
 * router need distinct colours. False (reported, naming what is short)
 * when it cannot. */
bool pl_route(int32_t width, int32_t height, const pl_net *nets, int32_t nnets, int32_t colors,
              double capacity, pl_routing *out, ir_diag *d);
void pl_routing_free(pl_routing *r);

/* The independent checker: builds every router's colour table from the
 * routes (one configuration per colour per router, ports in bounds), then
 * walks each net from its source through the configurations and proves it
 * reaches exactly its sinks' ramps and nowhere else, without loops, and
 * that link loads and colour counts are within limits. Reports the first
 * violation. */
bool pl_check_routes(int32_t width, int32_t height, const pl_net *nets, int32_t nnets,
                     const pl_routing *r, int32_t colors, double capacity, ir_diag *d);

/* ------------------------------------------------ from the kernel graph */

/* The placement problem of a kernel graph (nets.c); pl_problem_free
 * releases the arrays it allocates. */
void pl_problem_from_kgraph(const ir_kgraph *kg, const ir_target *t, uint64_t seed, pl_problem *p);
void pl_problem_free(pl_problem *p);
/* What a net of a kernel graph carries (docs/execution.md). */
typedef enum pl_role {
    PL_NET_STREAM, /* a producer's output lane (with the lanes relayed into it) to consumers */
    PL_NET_RELAY,  /* an output lane to the next lane of its relay group */
    PL_NET_SOUTH,  /* gemv: partial sums to the PE below */
    PL_NET_EAST,   /* row kernels: partial statistics to the next lane */
    PL_NET_BCAST,  /* row kernels: final statistics from the last lane to the others */
} pl_role;

typedef struct pl_netinfo {
    int32_t kernel;   /* the kernel it feeds (streams: the first consumer) */
    int32_t stream;   /* the kernel-graph stream it carries (its first), or -1 inside a kernel */
    int32_t producer; /* the kernel whose PE sends it */
    int32_t role;     /* pl_role */
    int64_t np;       /* streams and relays: the producer's row length */
    int64_t lo, hi;   /* streams and relays: producer columns carried per row */
} pl_netinfo;

/* Chooses which input slice each row of a placed gemv or output kernel
 * takes (ir_kernel.chunk), so the routes feeding the rows do not cross. */
void pl_order_rows(const ir_graph *g, ir_kgraph *kg);

/* The nets of a placed kernel graph: every stream cut into per-lane
 * multicasts (a consumer lane gets the producer lanes holding the elements
 * it needs, through its operand's view; runs of producer lanes are relayed
 * lane to lane so a consumer gets few nets), and each kernel's internal
 * communication. Loads are volumes over the pass's period: *period comes
 * in as the kernels' compute period and goes out as the period the streams
 * allow (no link or ramp moves more than one wavelet per cycle). info[i]
 * (arena) describes net i. Returns the count; *nets is malloc'd. */
int32_t pl_build_nets(const ir_graph *g, const ir_kgraph *kg, double *period, pl_net **nets,
                      pl_netinfo **info, ir_arena *arena);

#endif
