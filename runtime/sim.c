/* sim.c - the event-driven simulator of the modeled wafer. sim.h states the
 * timing rules; this file keeps them with three ideas:
 *
 * - Only what exists is allocated: a node per (x, y) that has a program or
 *   a router configuration (sorted by (y, x), found by binary search while
 *   setting up), a channel per configured (router, colour) with its input
 *   queue, and every link's target resolved once before the run. A full
 *   wafer with a hundred PEs in use costs what those hundred cost.
 * - Only what can change is visited. Every queue has exactly one feeder
 *   (a queue takes its colour from one port: a neighbour's channel, the
 *   PE's outbound queue, or the host), so a wavelet blocked by a full
 *   queue sleeps until that queue's next pop wakes its feeder. Each cycle
 *   walks the routers with a wavelet that may move, the cores with an
 *   outbound wavelet that may move, the rows with host input that may
 *   move, and the cores whose state changed (a task ended, a wavelet
 *   arrived, the outbound queue drained). A cycle in which nothing moved,
 *   started or ended cannot be followed by one that differs until the
 *   next task end, so the clock jumps there. Task ends wait on a timing
 *   wheel (a heap beyond its reach).
 * - Threads run only PE programs. A task touches only its own PE, and
 *   what it does (sends, activations, its cost) matters only from its end,
 *   at least L = max(1, task_cycles) cycles after its start; so the tasks
 *   that start in L consecutive cycles are collected and run as one batch
 *   before the first of them can end, on the pool when the batch is large.
 *   Their effects are then committed in batch order, which does not depend
 *   on the threads, and everything else is sequential, so results are
 *   bit-identical for any thread count. */

#include "rt.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

enum {
    NPORTS = 5,             /* N E S W ramp */
    LOCAL0 = WSE_MAX_TASKS, /* the first local task id */
    PAR_MIN = 32,           /* tasks in a batch worth waking the pool for */
    PAR_CHUNK = 4,          /* tasks a worker takes at a time */
    SPIN = 1 << 8,          /* polls before a pool thread sleeps */
    PAR_NS = 20000,         /* nanoseconds of tasks worth waking the pool for */
    MAX_THREADS = 256,      /* more would only cost wake-ups */
    MAX_COLORS = 64,        /* colour sets are 64-bit masks */
    MAX_DEPTH = 1024,       /* queue positions are 16-bit */
    MAX_NOTES = 8,          /* stuck places a deadlock report lists */
    PROGRESS_SHIFT = 16,    /* progress is reported every 2^16 cycles */
    WHEEL = 4096,           /* task ends this close go on the wheel (a power of 2) */
};

_Static_assert(WSE_MAX_TASKS <= 32 && RT_SIM_LOCAL_TASKS <= 32, "task sets are 32-bit masks");

/* A port's channel at the far end of a link, or why there is none. */
enum {
    TGT_MISROUTE = -1, /* the neighbour has no configuration accepting it from this side */
    TGT_OFF = -2,      /* off the fabric, not to the host */
    TGT_HOST = -3,     /* off the east edge to a registered host output (chan.out) */
    TGT_NOOUT = -4,    /* off the east edge, but no output is registered there */
};

/* Where a channel's ramp bit delivers, when not a data task. */
enum { RAMP_NOPE = -1, RAMP_UNBOUND = -2 };

enum { MV_HOST, MV_RAMP, MV_ROUTE };

/* Who feeds a queue, to be woken when it pops from full. */
enum { FEED_NONE, FEED_CHAN, FEED_PE, FEED_ROW };

static const char *const port_name[NPORTS] = {"north", "east", "south", "west", "ramp"};
static const int dx[4] = {0, 1, 0, -1};
static const int dy[4] = {-1, 0, 1, 0};

/* A wavelet in a core's outbound queue. */
typedef struct wave {
    uint32_t no;      /* its send number (the oldest goes first) */
    uint32_t payload; /* its 32 bits */
} wave;

/* A core's outbound queue for one colour: a ring of `count` wavelets the
 * router may take, then `pending` the running task has sent. */
typedef struct outq {
    uint32_t color;  /* its colour */
    wave *ring;      /* the wavelets */
    int64_t cap;     /* ring capacity, a power of 2 (or 0) */
    int64_t head;    /* its first wavelet */
    int64_t count;   /* wavelets the router may take */
    int64_t pending; /* sent by the running task */
} outq;

/* One configured colour at one router, with its input queue. */
typedef struct chan {
    int32_t node;     /* the router */
    int32_t color;    /* the colour */
    uint8_t in;       /* the port it accepts from */
    uint8_t outs;     /* the ports it forwards to */
    uint8_t feedkind; /* FEED_* */
    uint16_t head;    /* first queued wavelet in its ring */
    uint16_t count;   /* queued wavelets */
    int32_t tgt[4];   /* per port N E S W: the channel the link feeds, or TGT_* */
    int32_t ramp;     /* with the ramp bit: the data task it feeds, or RAMP_* */
    int32_t out;      /* the host output when tgt[East] is TGT_HOST */
    int32_t feed;     /* its feeder: a channel, PE or row (by feedkind) */
} chan;

/* A router in use, and its PE if it has one. */
typedef struct node {
    uint64_t qmask;  /* colours with wavelets queued */
    uint64_t rmask;  /* those whose head is not known to be blocked by a full queue */
    uint64_t cmask;  /* configured colours */
    int32_t chan0;   /* its first channel; its channels are contiguous, by colour */
    int32_t pe;      /* its PE, or -1 */
    int32_t rr;      /* the colour that last won a contested link here */
    int32_t x, y;    /* position */
    bool active;     /* on the active router list */
    int64_t sent[4]; /* wavelets sent per port N E S W, for the busiest link */
} node;

struct sim;

/* A PE with a program: what the program sees (through the callbacks) and
 * its core's state. Fields used on every task come first. */
struct wse_pe {
    /* The core, touched only by the main thread, between batches. */
    uint32_t local;                 /* runnable local tasks */
    uint32_t ready;                 /* data tasks with a wavelet waiting */
    bool busy;                      /* a task is running (or waits in the batch) */
    bool cand;                      /* on the candidate list */
    bool obl;                       /* on the outbound list */
    bool obwait;                    /* its outbound head waits for a full queue */
    int32_t node;                   /* its router */
    uint16_t icount[WSE_MAX_TASKS]; /* wavelets in each data task's input queue */
    uint16_t ihead[WSE_MAX_TASKS];  /* ring start of each */
    uint32_t *inq;                  /* the input queues, depth slots per bound data task */
    int64_t start;                  /* the running task's start cycle */
    int32_t wnext;                  /* the next PE in its wheel bucket, or -1 */

    /* The outbound ramp queues, one per colour sent on (as the machine's
     * output queues are bound to colours): a wavelet waiting for a full
     * router queue holds up only its own colour. The ramp takes the oldest
     * wavelet whose colour has room. The running task's callbacks write
     * the tails, on whichever thread it runs; the main thread reads the
     * heads only between batches. */
    struct outq *oq; /* the queues */
    int32_t noq;     /* their count */
    uint32_t sendno; /* the next send's number (wraps; only differences count) */
    int64_t obcount; /* wavelets the router may take, all queues */
    int64_t pending; /* wavelets sent by the running task, all queues */

    /* Written by the running task's callbacks. */
    struct sim *s;      /* the run; only read while tasks run */
    uint8_t *sram;      /* sram_bytes */
    wse_task_fn task;   /* every task's entry */
    uint32_t cur;       /* the task to run */
    uint32_t payload;   /* its payload */
    uint32_t act;       /* local tasks it activated (bit i: task LOCAL0 + i) */
    int64_t charge;     /* cycles charged */
    bool bad_send;      /* sent on a colour the target does not have */
    bool bad_act;       /* activated a task that is not local */
    uint32_t bad_color; /* the first such colour */
    uint32_t bad_task;  /* the first such task */
    /* Its first wse_fault, reported when the task ends. */
    bool fault;                /* it called wse_fault */
    uint32_t fault_code;       /* WSE_FAULT_* */
    uint32_t fault_a, fault_b; /* the details */

    /* Cold. */
    wse_init_fn init;                 /* run once before cycle 0, or NULL */
    int32_t x, y;                     /* position */
    bool named;                       /* its thread_name is in the trace */
    uint8_t slot[WSE_MAX_TASKS];      /* each bound task's place in inq */
    uint32_t color_of[WSE_MAX_TASKS]; /* colour bound to each data task */
};

/* A row of the west edge that the host feeds. */
typedef struct row {
    int32_t y;     /* the row */
    int32_t first; /* its inputs are rowin[first .. first + n) */
    int32_t n;     /* in the order given */
    int32_t rr;    /* the one of them that injected last */
    int64_t left;  /* wavelets not injected yet */
    int64_t sent;  /* wavelets over the host's link into the row */
    bool on;       /* on the active row list */
    bool wait;     /* every input with data left faces a full queue */
} row;

/* A link crossing decided in phase 3, committed after all are decided. */
typedef struct move {
    int32_t kind; /* MV_* */
    int32_t id;   /* the row (host), PE (ramp) or channel (route) */
    int32_t arg;  /* host: the input's place in its row; ramp: the channel */
} move;

/* A task end beyond the wheel. */
typedef struct hent {
    int64_t end; /* the cycle it ends */
    int32_t pe;  /* whose */
} hent;

/* The thread pool that runs batches of tasks. Batches come every few
 * cycles and last microseconds, so workers spin a little before they sleep
 * on `go`. The main thread runs items too and waits only for the workers
 * that joined the batch while it was open: one that was not scheduled in
 * time never holds the run up. */
typedef struct pool {
    pthread_mutex_t mu;   /* guards sleepers, open and joined */
    pthread_cond_t go;    /* a batch is ready (gen moved) or quit */
    pthread_cond_t done;  /* the last joined worker left a closed batch */
    pthread_t *th;        /* the workers */
    int nth;              /* how many started */
    int sleepers;         /* workers waiting on go */
    bool open;            /* workers may still join the current batch */
    int joined;           /* workers that joined it */
    atomic_int left;      /* joined workers that finished it */
    atomic_ullong gen;    /* batches handed out */
    atomic_bool quit;     /* the run is over */
    struct sim *s;        /* whose PEs */
    const int32_t *items; /* the PEs of the batch */
    int32_t n;            /* their count */
    bool init;            /* run init rather than task */
    atomic_int next;      /* the next item not taken */
    double ns_per_task;   /* what a task costs the main thread, a running mean */
} pool;

typedef struct sim {
    const rt_sim_desc *d; /* the description */
    ir_diag *diag;        /* where errors go */
    int32_t w, h;         /* fabric */
    int32_t ncol;         /* colours */
    int32_t depth;        /* queue depth */
    int64_t task_cycles;  /* start-up cost of a task */
    int64_t lag;          /* L: cycles from a start to the earliest end */
    size_t sram_bytes;    /* per PE */

    node *nodes;       /* routers in use, by (y, x) */
    int32_t nnodes;    /* their count */
    chan *chans;       /* configured channels, by node then colour */
    int32_t nchans;    /* their count */
    uint32_t *qbuf;    /* channel c's queue is qbuf[c * depth ..] */
    wse_pe *pes;       /* PEs, in the order given */
    int32_t npes;      /* their count */
    uint8_t *sram;     /* every PE's SRAM, one mapping */
    size_t sram_map;   /* its length */
    uint32_t *inqbuf;  /* every PE's input queues */
    row *rows;         /* rows with host inputs, by y */
    int32_t nrows;     /* their count */
    int32_t *rowin;    /* inputs grouped by row */
    int32_t *in_chan;  /* per input: the channel it feeds */
    int64_t *in_pos;   /* per input: wavelets injected */
    int64_t host_left; /* wavelets not injected, all rows */
    uint32_t **out;    /* per output: what arrived */
    int64_t *nout;     /* per output: how many */
    int64_t *capout;   /* per output: allocated */
    int32_t *osort;    /* outputs sorted by (y, colour) */
    int64_t got;       /* wavelets the host received */
    int64_t expect;    /* wavelets the outputs expect */

    int32_t *act;     /* routers with a wavelet that may move */
    int32_t nact;     /* their count */
    int32_t *obl;     /* PEs with an outbound wavelet that may move */
    int32_t nobl;     /* their count */
    int32_t *cand;    /* PEs that may start a task */
    int32_t ncand;    /* their count */
    int32_t *arows;   /* rows with input that may move */
    int32_t narows;   /* their count */
    int32_t *batch;   /* PEs whose started tasks have not run yet */
    int32_t nbatch;   /* their count */
    int64_t batch_t0; /* the start cycle of the batch's first */
    move *mv;         /* this cycle's moves */
    int32_t nmv;      /* their count */

    int32_t *whead; /* per wheel bucket: the first PE ending then, or -1 */
    int32_t *wtail; /* and the last, so a bucket keeps the order of arrival */
    int32_t nwheel; /* PEs on the wheel */
    hent *heap;     /* task ends beyond the wheel, by (end, PE) */
    int32_t nheap;  /* their count */

    int64_t inflight;  /* wavelets in router, core input and outbound queues */
    int32_t nrunnable; /* PEs with a runnable local task */
    int32_t nbusy;     /* PEs running a task (batch included) */
    int64_t t;         /* the current cycle */
    int64_t last;      /* the end of the last activity */
    int64_t prog_next; /* the cycle at which progress is reported next */
    rt_sim_stats st;   /* statistics so far */
    pool *pool;        /* NULL: one thread */
    int64_t ntrace;    /* task events traced */
    bool traced;       /* a trace entry is written (the next needs a comma) */
} sim;

/* PE p's outbound queue for `color`, or NULL before it first sends on it. */
static outq *queue_of(wse_pe *p, uint32_t color) {
    for (int32_t j = 0; j < p->noq; j++)
        if (p->oq[j].color == color) return &p->oq[j];
    return NULL;
}

/* Whether non-empty queue a's head was sent before b's (send numbers wrap). */
static bool older(const outq *a, const outq *b) {
    return (int32_t)(a->ring[a->head].no - b->ring[b->head].no) < 0;
}

/* ------------------------------------------------------------- the ABI */

/* The callbacks run on whichever thread runs the task and touch only the
 * calling PE; errors are recorded and reported once the task returns. */

uint8_t *wse_sram(wse_pe *pe) {
    return pe->sram;
}

void wse_send(wse_pe *pe, uint32_t color, uint32_t payload) {
    if (color >= (uint32_t)pe->s->ncol) {
        if (!pe->bad_send) pe->bad_color = color;
        pe->bad_send = true;
        return;
    }
    outq *q = queue_of(pe, color);
    if (!q) {
        /* a PE sends on a few colours: grown one at a time */
        pe->oq = ir_xrealloc(pe->oq, sizeof *pe->oq * (size_t)(pe->noq + 1));
        q = &pe->oq[pe->noq++];
        *q = (outq){color, NULL, 0, 0, 0, 0};
    }
    int64_t n = q->count + q->pending;
    if (n == q->cap) {
        int64_t cap = q->cap ? 2 * q->cap : 16;
        wave *ring = ir_xmalloc((size_t)cap * sizeof *ring);
        for (int64_t k = 0; k < n; k++)
            ring[k] = q->ring[(q->head + k) & (q->cap - 1)];
        free(q->ring);
        q->ring = ring;
        q->cap = cap;
        q->head = 0;
    }
    q->ring[(q->head + n) & (q->cap - 1)] = (wave){pe->sendno++, payload};
    q->pending++;
    pe->pending++;
}

void wse_activate(wse_pe *pe, uint32_t task) {
    if (task - LOCAL0 >= RT_SIM_LOCAL_TASKS) {
        if (!pe->bad_act) pe->bad_task = task;
        pe->bad_act = true;
        return;
    }
    pe->act |= 1u << (task - LOCAL0);
}

void wse_charge(wse_pe *pe, uint32_t cycles) {
    pe->charge += cycles;
}

void wse_fault(wse_pe *pe, uint32_t code, uint32_t a, uint32_t b) {
    /* The first fault is the one reported: later ones in the same task are
     * usually the same bad input seen again. */
    if (pe->fault) return;
    pe->fault = true;
    pe->fault_code = code;
    pe->fault_a = a;
    pe->fault_b = b;
}

/* ------------------------------------------------------------ the pool */

static void run_pe(wse_pe *p, bool init) {
    p->act = 0;
    p->charge = 0;
    if (init)
        p->init(p);
    else
        p->task(p, p->cur, p->payload);
}

/* Runs items of the current batch until none is left; returns how many. */
static int32_t pool_work(pool *pl) {
    int32_t done = 0;
    for (;;) {
        int i = atomic_fetch_add(&pl->next, PAR_CHUNK);
        if (i >= pl->n) break;
        int end = i + PAR_CHUNK < pl->n ? i + PAR_CHUNK : pl->n;
        for (; i < end; i++, done++)
            run_pe(&pl->s->pes[pl->items[i]], pl->init);
    }
    return done;
}

/* One poll of a spin: tells the CPU so, where it can be told. */
static void spin_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void *pool_main(void *arg) {
    pool *pl = arg;
    unsigned long long seen = 0;
    for (;;) {
        unsigned long long g;
        int spins = 0;
        while ((g = atomic_load(&pl->gen)) == seen && !atomic_load(&pl->quit)) {
            if (++spins < SPIN) {
                spin_pause();
                continue;
            }
            pthread_mutex_lock(&pl->mu);
            pl->sleepers++;
            while (atomic_load(&pl->gen) == seen && !atomic_load(&pl->quit))
                pthread_cond_wait(&pl->go, &pl->mu);
            pl->sleepers--;
            pthread_mutex_unlock(&pl->mu);
        }
        if (atomic_load(&pl->quit)) break;
        seen = g;
        pthread_mutex_lock(&pl->mu);
        bool join = pl->open && atomic_load(&pl->gen) == g;
        if (join) pl->joined++;
        pthread_mutex_unlock(&pl->mu);
        if (!join) continue; /* too late: the main thread did the work */
        pool_work(pl);
        int left = atomic_fetch_add(&pl->left, 1) + 1;
        pthread_mutex_lock(&pl->mu);
        if (!pl->open && left == pl->joined) pthread_cond_signal(&pl->done);
        pthread_mutex_unlock(&pl->mu);
    }
    return NULL;
}

static pool *pool_new(sim *s, int threads) {
    pool *pl = ir_xcalloc(1, sizeof *pl);
    pthread_mutex_init(&pl->mu, NULL);
    pthread_cond_init(&pl->go, NULL);
    pthread_cond_init(&pl->done, NULL);
    pl->s = s;
    pl->ns_per_task = 1000; /* until measured: try the pool */
    pl->th = ir_xmalloc((size_t)(threads - 1) * sizeof *pl->th);
    /* A worker that cannot start costs only speed. */
    for (int i = 0; i < threads - 1; i++) {
        if (pthread_create(&pl->th[pl->nth], NULL, pool_main, pl) != 0) break;
        pl->nth++;
    }
    return pl;
}

static void pool_free(pool *pl) {
    if (!pl) return;
    pthread_mutex_lock(&pl->mu);
    atomic_store(&pl->quit, true);
    pthread_cond_broadcast(&pl->go);
    pthread_mutex_unlock(&pl->mu);
    for (int i = 0; i < pl->nth; i++)
        pthread_join(pl->th[i], NULL);
    pthread_cond_destroy(&pl->go);
    pthread_cond_destroy(&pl->done);
    pthread_mutex_destroy(&pl->mu);
    free(pl->th);
    free(pl);
}

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e9 * (double)ts.tv_sec + (double)ts.tv_nsec;
}

/* Runs the tasks (or inits) of the given PEs. Which thread runs which
 * cannot change a result, since each touches only its own PE, so the pool
 * is used when it pays by wall-clock measure: when the batch's tasks, at
 * what they have cost so far, outweigh waking the workers. */
static void run_batch(sim *s, const int32_t *items, int32_t n, bool init) {
    pool *pl = s->pool;
    bool par = pl && pl->nth > 0 && n >= PAR_MIN && (double)n * pl->ns_per_task >= PAR_NS;
    double t0 = pl ? now_ns() : 0;
    int32_t mine = n;
    if (!par) {
        for (int32_t i = 0; i < n; i++)
            run_pe(&s->pes[items[i]], init);
    } else {
        /* No worker is inside a batch here: the last one waited for every
         * worker that joined it, and the rest never touch it. */
        pl->items = items;
        pl->n = n;
        pl->init = init;
        atomic_store(&pl->next, 0);
        atomic_store(&pl->left, 0);
        pthread_mutex_lock(&pl->mu);
        pl->open = true;
        pl->joined = 0;
        atomic_fetch_add(&pl->gen, 1);
        if (pl->sleepers) pthread_cond_broadcast(&pl->go);
        pthread_mutex_unlock(&pl->mu);
        mine = pool_work(pl);
    }
    if (pl && mine > 0) pl->ns_per_task += 0.125 * ((now_ns() - t0) / mine - pl->ns_per_task);
    if (!par) return;
    pthread_mutex_lock(&pl->mu);
    pl->open = false;
    int joined = pl->joined;
    pthread_mutex_unlock(&pl->mu);
    for (int spins = 0; atomic_load(&pl->left) < joined && spins < SPIN; spins++)
        spin_pause();
    if (atomic_load(&pl->left) < joined) {
        pthread_mutex_lock(&pl->mu);
        while (atomic_load(&pl->left) < joined)
            pthread_cond_wait(&pl->done, &pl->mu);
        pthread_mutex_unlock(&pl->mu);
    }
}

/* ------------------------------------------------- task ends: the wheel */

static bool hless(hent a, hent b) {
    return a.end < b.end || (a.end == b.end && a.pe < b.pe);
}

static void heap_push(sim *s, hent e) {
    int32_t i = s->nheap++;
    while (i > 0) {
        int32_t p = (i - 1) / 2;
        if (!hless(e, s->heap[p])) break;
        s->heap[i] = s->heap[p];
        i = p;
    }
    s->heap[i] = e;
}

static hent heap_pop(sim *s) {
    hent top = s->heap[0], e = s->heap[--s->nheap];
    int32_t i = 0, n = s->nheap;
    for (;;) {
        int32_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && hless(s->heap[c + 1], s->heap[c])) c++;
        if (!hless(s->heap[c], e)) break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (n > 0) s->heap[i] = e;
    return top;
}

/* Schedules PE i's task end (end >= s->t). The wheel holds ends in
 * [t, t + WHEEL), so each bucket holds one end cycle. */
static void schedule_end(sim *s, int32_t i, int64_t end) {
    if (end - s->t >= WHEEL) {
        heap_push(s, (hent){end, i});
        return;
    }
    int32_t b = (int32_t)(end & (WHEEL - 1));
    s->pes[i].wnext = -1;
    if (s->whead[b] < 0)
        s->whead[b] = i;
    else
        s->pes[s->wtail[b]].wnext = i;
    s->wtail[b] = i;
    s->nwheel++;
}

/* The first task end after cycle t (there is one). */
static int64_t next_end(const sim *s) {
    int64_t best = s->nheap ? s->heap[0].end : INT64_MAX;
    if (s->nwheel)
        for (int64_t c = s->t + 1; c < s->t + WHEEL && c < best; c++)
            if (s->whead[c & (WHEEL - 1)] >= 0) return c;
    return best;
}

/* ------------------------------------------------------------- queues */

static int32_t chan_of(const node *n, int32_t color) {
    if (!(n->cmask >> color & 1)) return -1;
    uint64_t below = color ? n->cmask & (~0ULL >> (64 - color)) : 0;
    return n->chan0 + __builtin_popcountll(below);
}

static void activate_node(sim *s, int32_t ni) {
    node *n = &s->nodes[ni];
    if (n->active) return;
    n->active = true;
    s->act[s->nact++] = ni;
}

/* The queue c has room again: its feeder may move. */
static void wake_feeder(sim *s, int32_t c) {
    const chan *ch = &s->chans[c];
    if (ch->feedkind == FEED_CHAN) {
        const chan *f = &s->chans[ch->feed];
        if (!f->count) return;
        s->nodes[f->node].rmask |= 1ULL << f->color;
        activate_node(s, f->node);
    } else if (ch->feedkind == FEED_PE) {
        wse_pe *p = &s->pes[ch->feed];
        p->obwait = false;
        if (p->obcount && !p->obl) {
            p->obl = true;
            s->obl[s->nobl++] = ch->feed;
        }
    } else if (ch->feedkind == FEED_ROW) {
        row *r = &s->rows[ch->feed];
        r->wait = false;
        if (r->left && !r->on) {
            r->on = true;
            s->arows[s->narows++] = ch->feed;
        }
    }
}

static void chan_push(sim *s, int32_t c, uint32_t v) {
    chan *ch = &s->chans[c];
    s->qbuf[(size_t)c * s->depth + (ch->head + ch->count) % s->depth] = v;
    if (ch->count++) return; /* behind a head that was there already */
    node *n = &s->nodes[ch->node];
    n->qmask |= 1ULL << ch->color;
    n->rmask |= 1ULL << ch->color;
    activate_node(s, ch->node);
}

static uint32_t chan_pop(sim *s, int32_t c) {
    chan *ch = &s->chans[c];
    uint32_t v = s->qbuf[(size_t)c * s->depth + ch->head];
    ch->head = (uint16_t)((ch->head + 1) % s->depth);
    if (ch->count-- == s->depth) wake_feeder(s, c);
    if (ch->count == 0) {
        s->nodes[ch->node].qmask &= ~(1ULL << ch->color);
        s->nodes[ch->node].rmask &= ~(1ULL << ch->color);
    }
    return v;
}

/* Pops data task b's input queue at a task start. */
static uint32_t inq_pop(sim *s, wse_pe *p, int b) {
    uint32_t v = p->inq[(size_t)p->slot[b] * s->depth + p->ihead[b]];
    p->ihead[b] = (uint16_t)((p->ihead[b] + 1) % s->depth);
    if (p->icount[b]-- == s->depth) {
        /* The channel that delivers this colour down the ramp may move. */
        node *n = &s->nodes[p->node];
        int32_t c = chan_of(n, (int32_t)p->color_of[b]);
        if (c >= 0 && s->chans[c].count) {
            n->rmask |= 1ULL << p->color_of[b];
            activate_node(s, p->node);
        }
    }
    if (p->icount[b] == 0) p->ready &= ~(1u << b);
    s->inflight--;
    return v;
}

static void add_cand(sim *s, int32_t i) {
    if (s->pes[i].cand) return;
    s->pes[i].cand = true;
    s->cand[s->ncand++] = i;
}

/* What the PE's finished task (or init) sent becomes the router's to take. */
static void release_sends(sim *s, int32_t i) {
    wse_pe *p = &s->pes[i];
    for (int32_t k = 0; k < p->noq; k++)
        p->oq[k].count += p->oq[k].pending, p->oq[k].pending = 0;
    /* New wavelets may be on a colour that has room even if every other
     * queue waits. */
    if (p->pending) p->obwait = false;
    p->obcount += p->pending;
    s->inflight += p->pending;
    s->st.wavelets += p->pending;
    p->pending = 0;
    if (p->obcount && !p->obl && !p->obwait) {
        p->obl = true;
        s->obl[s->nobl++] = i;
    }
}

/* ------------------------------------------------------------- the trace */

/* Every trace entry starts a line; all but the first follow a comma. */
static void trace_line(sim *s) {
    fputs(s->traced ? ",\n" : "\n", s->d->trace->f);
    s->traced = true;
}

static void trace_task(sim *s, wse_pe *p, int64_t start, int64_t cost) {
    const rt_sim_trace *tr = s->d->trace;
    if (!tr || p->x < tr->x0 || p->x >= tr->x1 || p->y < tr->y0 || p->y >= tr->y1 ||
        start < tr->c0 || start >= tr->c1 || (tr->max_events > 0 && s->ntrace >= tr->max_events))
        return;
    long long tid = (long long)p->y * s->w + p->x;
    if (!p->named) {
        trace_line(s);
        fprintf(tr->f,
                "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":0,\"tid\":%lld,"
                "\"args\":{\"name\":\"PE (%d,%d)\"}}",
                tid, (int)p->x, (int)p->y);
        p->named = true;
    }
    trace_line(s);
    fprintf(tr->f,
            "{\"name\":\"task %u\",\"ph\":\"X\",\"ts\":%lld,\"dur\":%lld,\"pid\":0,\"tid\":%lld}",
            p->cur, (long long)start, (long long)cost, tid);
    s->ntrace++;
}

/* ---------------------------------------------------------- errors */

static bool fail_max(sim *s) {
    ir_error(s->diag, IR_NOLOC, "the run did not finish within %lld cycles (max_cycles)",
             (long long)s->d->max_cycles);
    return false;
}

static void misroute(sim *s, int32_t x, int32_t y, int32_t color, int from) {
    ir_error(s->diag, IR_NOLOC,
             "wavelet on colour %d reached router (%d,%d) from %s, which has no route for it",
             (int)color, (int)x, (int)y, port_name[from]);
}

/* Reports the PE's first program error of its last task (or init). */
static bool pe_errors(sim *s, const wse_pe *p, bool init) {
    if (!p->bad_send && !p->bad_act && !p->fault) return true;
    char what[32];
    if (init)
        snprintf(what, sizeof what, "init");
    else
        snprintf(what, sizeof what, "task %u", p->cur);
    if (p->fault && s->d->fault)
        s->d->fault(s->d->fault_ctx, (int32_t)(p - s->pes), p->fault_code, p->fault_a, p->fault_b,
                    s->diag);
    else if (p->fault)
        ir_error(s->diag, IR_NOLOC, "PE (%d,%d): %s reported fault %u (%u, %u)", (int)p->x,
                 (int)p->y, what, p->fault_code, p->fault_a, p->fault_b);
    else if (p->bad_send)
        ir_error(s->diag, IR_NOLOC,
                 "PE (%d,%d): %s sent a wavelet on colour %u, but the target has %d colours",
                 (int)p->x, (int)p->y, what, p->bad_color, (int)s->ncol);
    else
        ir_error(s->diag, IR_NOLOC,
                 "PE (%d,%d): %s activated task %u, which is not a local task (%d..%d)", (int)p->x,
                 (int)p->y, what, p->bad_task, LOCAL0, LOCAL0 + RT_SIM_LOCAL_TASKS - 1);
    return false;
}

/* Counts a stuck place and lists the first few. */
static void stuck_note(sim *s, int *k, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void stuck_note(sim *s, int *k, const char *fmt, ...) {
    if ((*k)++ >= MAX_NOTES) return;
    va_list ap;
    va_start(ap, fmt);
    char buf[256];
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    ir_note(s->diag, IR_NOLOC, "%s", buf);
}

/* The outbound queue holding p's oldest wavelet, or NULL. (In a deadlock
 * every non-empty one faces a full queue.) */
static const outq *oldest(const wse_pe *p) {
    const outq *b = NULL;
    for (int32_t j = 0; j < p->noq; j++)
        if (p->oq[j].count && (!b || older(&p->oq[j], b))) b = &p->oq[j];
    return b;
}

/* The wait-for graph of a deadlock: a channel's queue waits for a full
 * queue its head must enter (the next router's channel, or the data task
 * queue of the PE it delivers to); a data task's queue waits for its
 * core's outbound queue when that is over the depth (the core starts no
 * task until it drains); an outbound queue waits for the channel its head
 * enters at its router. Nodes: channels, then (PE, task), then PEs. */
static int64_t wf_next(const sim *s, int64_t v) {
    int64_t nch = s->nchans, niq = (int64_t)s->npes * WSE_MAX_TASKS;
    if (v < nch) {
        const chan *ch = &s->chans[v];
        if (!ch->count) return -1;
        for (int p = 0; p < 4; p++)
            if (ch->outs >> p & 1 && ch->tgt[p] >= 0 && s->chans[ch->tgt[p]].count >= s->depth)
                return ch->tgt[p];
        const node *n = &s->nodes[ch->node];
        if (ch->outs >> RT_PORT_RAMP & 1 && ch->ramp >= 0 &&
            s->pes[n->pe].icount[ch->ramp] >= s->depth)
            return nch + (int64_t)n->pe * WSE_MAX_TASKS + ch->ramp;
        return -1;
    }
    if (v < nch + niq) {
        const wse_pe *p = &s->pes[(v - nch) / WSE_MAX_TASKS];
        if (!p->icount[(v - nch) % WSE_MAX_TASKS] || p->obcount <= s->depth) return -1;
        return nch + niq + (v - nch) / WSE_MAX_TASKS;
    }
    const wse_pe *p = &s->pes[v - nch - niq];
    const outq *q = oldest(p);
    if (!q) return -1;
    int32_t ci = chan_of(&s->nodes[p->node], (int32_t)q->color);
    return ci >= 0 && s->chans[ci].count >= s->depth ? ci : -1;
}

/* One element of a wait cycle, for the report. */
static void wf_note(sim *s, int64_t v, int64_t run_from, int32_t run_len) {
    int64_t nch = s->nchans, niq = (int64_t)s->npes * WSE_MAX_TASKS;
    if (v < nch) {
        const chan *a = &s->chans[run_from], *b = &s->chans[v];
        const node *na = &s->nodes[a->node], *nb = &s->nodes[b->node];
        if (run_len > 1)
            ir_note(s->diag, IR_NOLOC, "  colour %d, routers (%d,%d) to (%d,%d) (%d routers): full",
                    (int)b->color, (int)na->x, (int)na->y, (int)nb->x, (int)nb->y, (int)run_len);
        else
            ir_note(s->diag, IR_NOLOC, "  colour %d at router (%d,%d): full", (int)b->color,
                    (int)nb->x, (int)nb->y);
    } else if (v < nch + niq) {
        const wse_pe *p = &s->pes[(v - nch) / WSE_MAX_TASKS];
        int t = (int)((v - nch) % WSE_MAX_TASKS);
        ir_note(s->diag, IR_NOLOC, "  PE (%d,%d) data task %d (colour %d): input queue full",
                (int)p->x, (int)p->y, t, (int)p->color_of[t]);
    } else {
        const wse_pe *p = &s->pes[v - nch - niq];
        ir_note(s->diag, IR_NOLOC,
                "  PE (%d,%d): %lld wavelets in its outbound queues, over the depth %d, so it "
                "starts no task; its oldest is on colour %u",
                (int)p->x, (int)p->y, (long long)p->obcount, (int)s->depth, oldest(p)->color);
    }
}

/* Finds a cycle of the wait-for graph and reports it, runs of routers on
 * one colour folded into one line: what a user needs to see why the
 * program stopped. */
static void report_wait_cycle(sim *s) {
    int64_t nv = s->nchans + (int64_t)s->npes * (WSE_MAX_TASKS + 1);
    uint8_t *mark = ir_xcalloc((size_t)nv + 1, 1); /* 1: on the current walk, 2: done */
    int64_t found = -1;
    for (int64_t v0 = 0; v0 < nv && found < 0; v0++) {
        int64_t v = v0;
        while (v >= 0 && !mark[v]) {
            mark[v] = 1;
            v = wf_next(s, v);
        }
        if (v >= 0 && mark[v] == 1) found = v;
        for (int64_t u = v0; u >= 0 && mark[u] == 1; u = wf_next(s, u))
            mark[u] = 2;
    }
    free(mark);
    if (found < 0) return;
    int64_t len = 0;
    for (int64_t v = found; len == 0 || v != found; v = wf_next(s, v))
        len++;
    ir_note(s->diag, IR_NOLOC,
            "a cycle of %lld full queues, each waiting for the next:", (long long)len);
    int32_t lines = 0, run = 0;
    int64_t from = -1, v = found;
    for (int64_t k = 0; k < len; k++, v = wf_next(s, v)) {
        int64_t w = wf_next(s, v);
        bool is_ch = v < s->nchans;
        if (is_ch && !run) from = v;
        run += is_ch;
        /* a run of channels of one colour ends here unless the next is one */
        if (is_ch && w < s->nchans && s->chans[w].color == s->chans[v].color && k + 1 < len)
            continue;
        if (lines++ < 4 * MAX_NOTES) wf_note(s, v, from, run);
        run = 0;
    }
    if (lines > 4 * MAX_NOTES)
        ir_note(s->diag, IR_NOLOC, "  and %d more", (int)(lines - 4 * MAX_NOTES));
}

static bool deadlock(sim *s) {
    ir_error(s->diag, IR_NOLOC, "deadlock at cycle %lld: %lld wavelets stuck", (long long)s->t,
             (long long)s->inflight);
    report_wait_cycle(s);
    int k = 0;
    for (int32_t i = 0; i < s->nnodes; i++) {
        const node *n = &s->nodes[i];
        for (uint64_t q = n->qmask; q; q &= q - 1) {
            int c = __builtin_ctzll(q);
            stuck_note(s, &k, "router (%d,%d) colour %d: %d wavelets queued", (int)n->x, (int)n->y,
                       c, (int)s->chans[chan_of(n, c)].count);
        }
    }
    for (int32_t i = 0; i < s->npes; i++) {
        const wse_pe *p = &s->pes[i];
        for (int t = 0; t < WSE_MAX_TASKS; t++)
            if (p->icount[t])
                stuck_note(s, &k, "PE (%d,%d): %d wavelets waiting for task %d", (int)p->x,
                           (int)p->y, (int)p->icount[t], t);
        if (p->obcount)
            stuck_note(s, &k, "PE (%d,%d): %lld wavelets in its outbound queues%s", (int)p->x,
                       (int)p->y, (long long)p->obcount,
                       p->obcount > s->depth ? " (it may start no task until it drains)" : "");
    }
    for (int32_t r = 0; r < s->nrows; r++)
        if (s->rows[r].left)
            stuck_note(s, &k, "host: %lld wavelets for row %d not injected",
                       (long long)s->rows[r].left, (int)s->rows[r].y);
    if (k > MAX_NOTES) ir_note(s->diag, IR_NOLOC, "and %d more stuck places", k - MAX_NOTES);
    return false;
}

/* -------------------------------------------------------- the cycle */

/* Runs the batch of started tasks and schedules their ends. */
static bool flush_batch(sim *s) {
    if (!s->nbatch) return true;
    run_batch(s, s->batch, s->nbatch, false);
    for (int32_t k = 0; k < s->nbatch; k++) {
        int32_t i = s->batch[k];
        wse_pe *p = &s->pes[i];
        if (!pe_errors(s, p, false)) return false;
        int64_t cost = s->task_cycles + p->charge;
        if (cost < 1) cost = 1;
        schedule_end(s, i, p->start + cost);
        s->st.busy_cycles += cost;
        trace_task(s, p, p->start, cost);
    }
    s->nbatch = 0;
    return true;
}

static void finish(sim *s, int32_t i) {
    wse_pe *p = &s->pes[i];
    p->busy = false;
    s->nbusy--;
    release_sends(s, i);
    if (p->act) {
        if (!p->local) s->nrunnable++;
        p->local |= p->act;
    }
    add_cand(s, i);
}

/* Phase 1: the tasks that end now. */
static bool phase_ends(sim *s) {
    bool any = false;
    int32_t b = (int32_t)(s->t & (WHEEL - 1));
    for (int32_t i = s->whead[b]; i >= 0; i = s->pes[i].wnext) {
        finish(s, i);
        s->nwheel--;
        any = true;
    }
    s->whead[b] = -1;
    while (s->nheap && s->heap[0].end == s->t) {
        finish(s, heap_pop(s).pe);
        any = true;
    }
    if (any && s->t > s->last) s->last = s->t;
    return any;
}

/* Phase 2: idle cores with work start a task (run later, in the batch). */
static bool phase_starts(sim *s) {
    bool any = false;
    for (int32_t k = 0; k < s->ncand; k++) {
        int32_t i = s->cand[k];
        wse_pe *p = &s->pes[i];
        p->cand = false;
        if (p->busy || p->obcount > s->depth) continue;
        if (p->local) {
            int b = __builtin_ctz(p->local);
            p->local &= p->local - 1;
            if (!p->local) s->nrunnable--;
            p->cur = (uint32_t)(LOCAL0 + b);
            p->payload = 0;
        } else if (p->ready) {
            int b = __builtin_ctz(p->ready);
            p->payload = inq_pop(s, p, b);
            p->cur = (uint32_t)b;
        } else {
            continue;
        }
        p->busy = true;
        p->start = s->t;
        s->nbusy++;
        s->st.tasks++;
        if (!s->nbatch) s->batch_t0 = s->t;
        s->batch[s->nbatch++] = i;
        any = true;
    }
    s->ncand = 0;
    return any;
}

static int arbitrate(sim *s, int32_t ni) {
    node *n = &s->nodes[ni];
    uint64_t q = n->rmask;
    uint64_t after = n->rr + 1 >= 64 ? 0 : q & (~0ULL << (n->rr + 1));
    uint64_t order[2] = {after, q & ~after};
    uint8_t claimed = 0;
    int32_t owner[NPORTS] = {0};
    int best_pos = INT_MAX, best = -1;
    for (int h = 0; h < 2; h++) {
        for (uint64_t m = order[h]; m; m &= m - 1) {
            int c = __builtin_ctzll(m);
            int32_t ci = chan_of(n, c);
            const chan *ch = &s->chans[ci];
            bool room = true;
            for (int p = 0; p < 4; p++) {
                if (!(ch->outs >> p & 1)) continue;
                int32_t tg = ch->tgt[p];
                if (tg >= 0) {
                    if (s->chans[tg].count >= s->depth) room = false;
                } else if (tg == TGT_MISROUTE) {
                    misroute(s, n->x + dx[p], n->y + dy[p], c, (p + 2) % 4);
                    return -1;
                } else if (tg == TGT_OFF) {
                    ir_error(s->diag, IR_NOLOC, "router (%d,%d) sends colour %d %s, off the fabric",
                             (int)n->x, (int)n->y, c, port_name[p]);
                    return -1;
                } else if (tg == TGT_NOOUT) {
                    ir_error(s->diag, IR_NOLOC,
                             "router (%d,%d) sends colour %d east to the host, but no output is "
                             "registered for row %d, colour %d",
                             (int)n->x, (int)n->y, c, (int)n->y, c);
                    return -1;
                }
            }
            if (ch->outs >> RT_PORT_RAMP & 1) {
                if (ch->ramp == RAMP_NOPE) {
                    ir_error(s->diag, IR_NOLOC,
                             "router (%d,%d) delivers colour %d to its core, but PE (%d,%d) has "
                             "no program",
                             (int)n->x, (int)n->y, c, (int)n->x, (int)n->y);
                    return -1;
                }
                if (ch->ramp == RAMP_UNBOUND) {
                    ir_error(s->diag, IR_NOLOC,
                             "wavelet on colour %d reached PE (%d,%d), which has no task bound to "
                             "colour %d",
                             c, (int)n->x, (int)n->y, c);
                    return -1;
                }
                if (s->pes[n->pe].icount[ch->ramp] >= s->depth) room = false;
            }
            if (!room) {
                /* Asleep until the full queue pops (wake_feeder, inq_pop). */
                n->rmask &= ~(1ULL << c);
                continue;
            }
            if (!(ch->outs & claimed)) {
                claimed |= ch->outs;
                for (int p = 0; p < NPORTS; p++)
                    if (ch->outs >> p & 1) owner[p] = c;
                s->mv[s->nmv++] = (move){MV_ROUTE, ci, 0};
                continue;
            }
            for (int p = 0; p < NPORTS; p++) {
                if (!((ch->outs & claimed) >> p & 1)) continue;
                int op = (owner[p] - n->rr - 1 + 2 * MAX_COLORS) % MAX_COLORS;
                if (op < best_pos) best_pos = op, best = owner[p];
            }
        }
    }
    if (best >= 0) n->rr = best;
    return 0;
}

/* Phase 3: every link crossing, decided from the state after phase 2, then
 * committed. 1: something moved; 0: nothing; -1: an error (reported). */
static int phase_moves(sim *s) {
    s->nmv = 0;
    for (int32_t k = 0; k < s->narows; k++) {
        row *r = &s->rows[s->arows[k]];
        bool moved = false;
        for (int32_t j = 1; j <= r->n && !moved; j++) {
            int32_t pos = (r->rr + j) % r->n;
            int32_t in = s->rowin[r->first + pos];
            if (s->in_pos[in] < s->d->inputs[in].n && s->chans[s->in_chan[in]].count < s->depth) {
                s->mv[s->nmv++] = (move){MV_HOST, s->arows[k], pos};
                moved = true;
            }
        }
        /* Every input with data left faces a full queue: asleep until one
         * of them pops. */
        if (!moved) r->wait = true;
    }
    for (int32_t k = 0; k < s->nobl; k++) {
        int32_t i = s->obl[k];
        const wse_pe *p = &s->pes[i];
        const node *n = &s->nodes[p->node];
        int32_t best = -1;
        const outq *bq = NULL;
        for (int32_t j = 0; j < p->noq; j++) {
            const outq *q = &p->oq[j];
            if (!q->count) continue;
            int32_t ci = chan_of(n, (int32_t)q->color);
            if (ci < 0 || s->chans[ci].in != RT_PORT_RAMP) {
                misroute(s, n->x, n->y, (int32_t)q->color, RT_PORT_RAMP);
                return -1;
            }
            if (s->chans[ci].count < s->depth && (!bq || older(q, bq))) best = ci, bq = q;
        }
        if (bq)
            s->mv[s->nmv++] = (move){MV_RAMP, i, best};
        else
            s->pes[i].obwait = true;
    }
    for (int32_t k = 0; k < s->nact; k++)
        if (arbitrate(s, s->act[k]) < 0) return -1;

    for (int32_t k = 0; k < s->nmv; k++) {
        move m = s->mv[k];
        if (m.kind == MV_HOST) {
            row *r = &s->rows[m.id];
            int32_t in = s->rowin[r->first + m.arg];
            chan_push(s, s->in_chan[in], s->d->inputs[in].data[s->in_pos[in]++]);
            r->rr = m.arg;
            r->left--;
            r->sent++;
            s->host_left--;
            s->inflight++;
            s->st.wavelets++;
            s->st.hops++;
        } else if (m.kind == MV_RAMP) {
            wse_pe *p = &s->pes[m.id];
            outq *q = queue_of(p, (uint32_t)s->chans[m.arg].color);
            uint32_t v = q->ring[q->head].payload;
            q->head = (q->head + 1) & (q->cap - 1);
            q->count--;
            p->obcount--;
            chan_push(s, m.arg, v);
            add_cand(s, m.id);
        } else {
            int32_t ci = m.id;
            uint32_t v = chan_pop(s, ci);
            const chan *ch = &s->chans[ci];
            node *n = &s->nodes[ch->node];
            s->inflight--;
            for (int p = 0; p < 4; p++) {
                if (!(ch->outs >> p & 1)) continue;
                n->sent[p]++;
                s->st.hops++;
                if (ch->tgt[p] >= 0) {
                    chan_push(s, ch->tgt[p], v);
                    s->inflight++;
                } else {
                    int32_t o = ch->out;
                    if (s->nout[o] == s->capout[o]) {
                        s->capout[o] = s->capout[o] ? 2 * s->capout[o] : 64;
                        s->out[o] = ir_xrealloc(s->out[o], (size_t)s->capout[o] * sizeof(uint32_t));
                    }
                    s->out[o][s->nout[o]++] = v;
                    s->got++;
                }
            }
            if (ch->outs >> RT_PORT_RAMP & 1) {
                wse_pe *p = &s->pes[n->pe];
                int b = ch->ramp;
                uint32_t *q = p->inq + (size_t)p->slot[b] * s->depth;
                q[(p->ihead[b] + p->icount[b]) % s->depth] = v;
                p->icount[b]++;
                p->ready |= 1u << b;
                s->inflight++;
                add_cand(s, n->pe);
            }
        }
    }
    if (s->nmv) s->last = s->t + 1;

    /* The lists keep what may move next cycle. */
    int32_t k2 = 0;
    for (int32_t k = 0; k < s->narows; k++) {
        row *r = &s->rows[s->arows[k]];
        if (!r->wait && r->left)
            s->arows[k2++] = s->arows[k];
        else
            r->on = false;
    }
    s->narows = k2;
    k2 = 0;
    for (int32_t k = 0; k < s->nobl; k++) {
        wse_pe *p = &s->pes[s->obl[k]];
        if (!p->obcount) p->obwait = false;
        if (p->obcount && !p->obwait)
            s->obl[k2++] = s->obl[k];
        else
            p->obl = false;
    }
    s->nobl = k2;
    k2 = 0;
    for (int32_t k = 0; k < s->nact; k++) {
        node *n = &s->nodes[s->act[k]];
        if (n->rmask)
            s->act[k2++] = s->act[k];
        else
            n->active = false;
    }
    s->nact = k2;
    return s->nmv > 0;
}

static bool run_loop(sim *s) {
    const rt_sim_desc *d = s->d;
    for (;;) {
        if (d->max_cycles > 0 && s->t > d->max_cycles) return fail_max(s);
        if (d->progress && s->t >= s->prog_next) {
            d->progress(d->progress_ctx, s->t, s->got, s->expect);
            s->prog_next = ((s->t >> PROGRESS_SHIFT) + 1) << PROGRESS_SHIFT;
        }
        /* The batch runs before the first of its tasks may end. */
        if (s->nbatch && s->t >= s->batch_t0 + s->lag && !flush_batch(s)) return false;
        bool ended = phase_ends(s);
        if (!s->inflight && !s->host_left && !s->nbusy && !s->nrunnable) return true;
        /* Cycle max_cycles - 1 is the last that may hold activity. */
        if (d->max_cycles > 0 && s->t >= d->max_cycles) return fail_max(s);
        bool started = phase_starts(s);
        int moved = phase_moves(s);
        if (moved < 0) return false;
        if (ended || started || moved) {
            s->t++;
            continue;
        }
        /* Nothing changes until a task ends. */
        if (!flush_batch(s)) return false;
        if (!s->nbusy) return deadlock(s);
        s->t = next_end(s);
    }
}

/* ------------------------------------------------------------ set-up */

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int32_t find_node(const sim *s, int32_t x, int32_t y) {
    int32_t lo = 0, hi = s->nnodes;
    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        const node *n = &s->nodes[mid];
        if (n->y < y || (n->y == y && n->x < x))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->nnodes && s->nodes[lo].x == x && s->nodes[lo].y == y ? lo : -1;
}

/* The host output registered for (y, colour), or -1. */
static int32_t find_output(const sim *s, int32_t y, int32_t color) {
    const rt_sim_output *o = s->d->outputs;
    int32_t lo = 0, hi = s->d->noutputs;
    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        const rt_sim_output *m = &o[s->osort[mid]];
        if (m->y < y || (m->y == y && m->color < color))
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < s->d->noutputs && o[s->osort[lo]].y == y && o[s->osort[lo]].color == color)
        return s->osort[lo];
    return -1;
}

/* A sort key with its index, so that sorting needs no context and keeps
 * equal keys in the order given. */
typedef struct keyed {
    int64_t key; /* what is sorted on */
    int32_t i;   /* the item */
} keyed;

static int cmp_keyed(const void *a, const void *b) {
    const keyed *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

/* Items 0..n-1 sorted by key(i), into a new array of indices. */
static int32_t *sorted(int32_t n, int64_t (*key)(const sim *, int32_t), const sim *s) {
    keyed *k = ir_xmalloc((size_t)(n ? n : 1) * sizeof *k);
    for (int32_t i = 0; i < n; i++)
        k[i] = (keyed){key(s, i), i};
    qsort(k, (size_t)n, sizeof *k, cmp_keyed);
    int32_t *ord = ir_xmalloc((size_t)(n ? n : 1) * sizeof *ord);
    for (int32_t i = 0; i < n; i++)
        ord[i] = k[i].i;
    free(k);
    return ord;
}

static int64_t route_key(const sim *s, int32_t i) {
    const rt_sim_route *r = &s->d->routes[i];
    return ((int64_t)r->y * s->w + r->x) * MAX_COLORS + r->color;
}

static int64_t output_key(const sim *s, int32_t i) {
    return (int64_t)s->d->outputs[i].y * MAX_COLORS + s->d->outputs[i].color;
}

static int64_t input_key(const sim *s, int32_t i) {
    return s->d->inputs[i].y;
}

/* Checks everything that does not need the nodes. */
static bool validate(const rt_sim_desc *d, ir_diag *diag) {
    const ir_target *t = d->t;
    if (!t) {
        ir_error(diag, IR_NOLOC, "simulator: no target");
        return false;
    }
    if (t->width < 1 || t->height < 1 || t->width > (1 << 20) || t->height > (1 << 20)) {
        ir_error(diag, IR_NOLOC, "simulator: fabric %dx%d is out of range", (int)t->width,
                 (int)t->height);
        return false;
    }
    if (t->colors < 1 || t->colors > MAX_COLORS) {
        ir_error(diag, IR_NOLOC, "simulator: %d colours are out of range (1..%d)", (int)t->colors,
                 MAX_COLORS);
        return false;
    }
    if (t->queue_depth < 1 || t->queue_depth > MAX_DEPTH) {
        ir_error(diag, IR_NOLOC, "simulator: queue depth %d is out of range (1..%d)",
                 (int)t->queue_depth, MAX_DEPTH);
        return false;
    }
    if (t->link_wavelets != 1 || t->hop_cycles != 1) {
        ir_error(diag, IR_NOLOC,
                 "simulator: only 1 wavelet per link per cycle and 1 cycle per hop are modeled "
                 "(the target has link_wavelets = %d, hop_cycles = %d)",
                 (int)t->link_wavelets, (int)t->hop_cycles);
        return false;
    }
    if (t->task_cycles < 0 || t->sram_bytes < (int64_t)sizeof(wse_head) ||
        t->sram_bytes > (int64_t)1 << 30) {
        ir_error(diag, IR_NOLOC, "simulator: task_cycles %d or sram_bytes %lld is out of range",
                 (int)t->task_cycles, (long long)t->sram_bytes);
        return false;
    }
    if (d->threads < 1) {
        ir_error(diag, IR_NOLOC, "simulator: threads must be at least 1 (got %d)", d->threads);
        return false;
    }
    if (d->max_cycles < 0) {
        ir_error(diag, IR_NOLOC, "simulator: max_cycles must not be negative");
        return false;
    }
    if (d->npes < 0 || d->nroutes < 0 || d->ninputs < 0 || d->noutputs < 0 ||
        (d->npes && !d->pes) || (d->nroutes && !d->routes) || (d->ninputs && !d->inputs) ||
        (d->noutputs && !d->outputs)) {
        ir_error(diag, IR_NOLOC, "simulator: malformed description (negative count or no array)");
        return false;
    }
    if (d->trace && !d->trace->f) {
        ir_error(diag, IR_NOLOC, "simulator: the trace has no file");
        return false;
    }
    for (int32_t i = 0; i < d->npes; i++) {
        const rt_sim_pe *p = &d->pes[i];
        if (p->x < 0 || p->y < 0 || p->x >= t->width || p->y >= t->height) {
            ir_error(diag, IR_NOLOC, "PE %d at (%d,%d) lies outside the %dx%d fabric", (int)i,
                     (int)p->x, (int)p->y, (int)t->width, (int)t->height);
            return false;
        }
        if (!p->task) {
            ir_error(diag, IR_NOLOC, "PE (%d,%d) has no task entry", (int)p->x, (int)p->y);
            return false;
        }
        if (p->sram_len > t->sram_bytes || (p->sram_len && !p->sram)) {
            ir_error(diag, IR_NOLOC, "PE (%d,%d): SRAM image of %u bytes does not fit in %lld",
                     (int)p->x, (int)p->y, p->sram_len, (long long)t->sram_bytes);
            return false;
        }
    }
    for (int32_t i = 0; i < d->nroutes; i++) {
        const rt_sim_route *r = &d->routes[i];
        if (r->x < 0 || r->y < 0 || r->x >= t->width || r->y >= t->height) {
            ir_error(diag, IR_NOLOC, "route %d at router (%d,%d) lies outside the %dx%d fabric",
                     (int)i, (int)r->x, (int)r->y, (int)t->width, (int)t->height);
            return false;
        }
        if (r->color < 0 || r->color >= t->colors) {
            ir_error(diag, IR_NOLOC,
                     "route %d at router (%d,%d): colour %d is out of range (0..%d)", (int)i,
                     (int)r->x, (int)r->y, (int)r->color, (int)t->colors - 1);
            return false;
        }
        if (r->in >= NPORTS || r->outs == 0 || r->outs >= 1 << NPORTS) {
            ir_error(diag, IR_NOLOC,
                     "route %d at router (%d,%d) colour %d: ports in %d, outs 0x%x are not valid "
                     "(in 0..4, outs a non-empty set of ports 0..4)",
                     (int)i, (int)r->x, (int)r->y, (int)r->color, r->in, r->outs);
            return false;
        }
    }
    for (int32_t i = 0; i < d->ninputs; i++) {
        const rt_sim_input *in = &d->inputs[i];
        if (in->y < 0 || in->y >= t->height || in->color < 0 || in->color >= t->colors ||
            in->n < 0 || (in->n && !in->data)) {
            ir_error(diag, IR_NOLOC, "input %d (row %d, colour %d, %lld wavelets) is not valid",
                     (int)i, (int)in->y, (int)in->color, (long long)in->n);
            return false;
        }
    }
    for (int32_t i = 0; i < d->noutputs; i++) {
        const rt_sim_output *o = &d->outputs[i];
        if (o->y < 0 || o->y >= t->height || o->color < 0 || o->color >= t->colors ||
            o->expect < 0) {
            ir_error(diag, IR_NOLOC, "output %d (row %d, colour %d) is not valid", (int)i,
                     (int)o->y, (int)o->color);
            return false;
        }
    }
    return true;
}

/* Builds the nodes, channels and their links. */
static bool build_fabric(sim *s) {
    const rt_sim_desc *d = s->d;
    int64_t nkeys = (int64_t)d->npes + d->nroutes;
    int64_t *keys = ir_xmalloc((size_t)(nkeys ? nkeys : 1) * sizeof *keys);
    int64_t k = 0;
    for (int32_t i = 0; i < d->npes; i++)
        keys[k++] = (int64_t)d->pes[i].y * s->w + d->pes[i].x;
    for (int32_t i = 0; i < d->nroutes; i++)
        keys[k++] = (int64_t)d->routes[i].y * s->w + d->routes[i].x;
    qsort(keys, (size_t)nkeys, sizeof *keys, cmp_i64);
    int64_t u = 0;
    for (int64_t i = 0; i < nkeys; i++)
        if (i == 0 || keys[i] != keys[i - 1]) keys[u++] = keys[i];
    s->nnodes = (int32_t)u;
    s->nodes = ir_xcalloc((size_t)(u ? u : 1), sizeof *s->nodes);
    for (int64_t i = 0; i < u; i++) {
        node *n = &s->nodes[i];
        n->x = (int32_t)(keys[i] % s->w);
        n->y = (int32_t)(keys[i] / s->w);
        n->pe = -1;
        n->rr = s->ncol - 1;
    }
    free(keys);

    for (int32_t i = 0; i < d->npes; i++) {
        node *n = &s->nodes[find_node(s, d->pes[i].x, d->pes[i].y)];
        if (n->pe >= 0) {
            ir_error(s->diag, IR_NOLOC, "PE (%d,%d) is given twice", (int)n->x, (int)n->y);
            return false;
        }
        n->pe = i;
    }

    int32_t *ord = sorted(d->nroutes, route_key, s);
    s->nchans = d->nroutes;
    s->chans = ir_xcalloc((size_t)(d->nroutes ? d->nroutes : 1), sizeof *s->chans);
    s->qbuf =
        ir_xcalloc((size_t)(d->nroutes ? d->nroutes : 1) * (size_t)s->depth, sizeof(uint32_t));
    /* Routes and nodes are both sorted by (y, x), so one walk pairs them. */
    int32_t ni = 0;
    for (int32_t i = 0; i < d->nroutes; i++) {
        const rt_sim_route *r = &d->routes[ord[i]];
        while (s->nodes[ni].x != r->x || s->nodes[ni].y != r->y)
            ni++;
        node *n = &s->nodes[ni];
        if (n->cmask >> r->color & 1) {
            ir_error(s->diag, IR_NOLOC, "router (%d,%d) is configured twice for colour %d",
                     (int)r->x, (int)r->y, (int)r->color);
            free(ord);
            return false;
        }
        if (!n->cmask) n->chan0 = i;
        n->cmask |= 1ULL << r->color;
        s->chans[i] = (chan){.node = ni,
                             .color = r->color,
                             .in = r->in,
                             .outs = r->outs,
                             .ramp = RAMP_NOPE,
                             .out = -1};
    }
    free(ord);

    for (int32_t c = 0; c < s->nchans; c++) {
        chan *ch = &s->chans[c];
        const node *n = &s->nodes[ch->node];
        for (int p = 0; p < 4; p++) {
            if (!(ch->outs >> p & 1)) continue;
            int32_t x = n->x + dx[p], y = n->y + dy[p];
            if (x < 0 || y < 0 || x >= s->w || y >= s->h) {
                ch->tgt[p] = TGT_OFF;
                if (p == RT_PORT_E) {
                    ch->out = find_output(s, n->y, ch->color);
                    ch->tgt[p] = ch->out >= 0 ? TGT_HOST : TGT_NOOUT;
                }
                continue;
            }
            int32_t m = find_node(s, x, y);
            int32_t tc = m >= 0 ? chan_of(&s->nodes[m], ch->color) : -1;
            ch->tgt[p] = tc >= 0 && s->chans[tc].in == (p + 2) % 4 ? tc : TGT_MISROUTE;
        }
    }
    return true;
}

/* Sorts the host outputs for find_output, which build_fabric uses. */
static bool build_outputs(sim *s) {
    const rt_sim_desc *d = s->d;
    s->osort = sorted(d->noutputs, output_key, s);
    for (int32_t i = 0; i < d->noutputs; i++)
        s->expect += d->outputs[i].expect;
    for (int32_t i = 1; i < d->noutputs; i++) {
        const rt_sim_output *a = &d->outputs[s->osort[i - 1]], *b = &d->outputs[s->osort[i]];
        if (a->y == b->y && a->color == b->color) {
            ir_error(s->diag, IR_NOLOC, "outputs %d and %d both collect row %d, colour %d",
                     (int)s->osort[i - 1], (int)s->osort[i], (int)a->y, (int)a->color);
            return false;
        }
    }
    s->out = ir_xcalloc((size_t)(d->noutputs ? d->noutputs : 1), sizeof *s->out);
    s->nout = ir_xcalloc((size_t)(d->noutputs ? d->noutputs : 1), sizeof *s->nout);
    s->capout = ir_xcalloc((size_t)(d->noutputs ? d->noutputs : 1), sizeof *s->capout);
    return true;
}

/* Groups the host inputs by row, each with its channel at (0, y). */
static bool build_inputs(sim *s) {
    const rt_sim_desc *d = s->d;
    s->in_chan = ir_xmalloc((size_t)(d->ninputs ? d->ninputs : 1) * sizeof *s->in_chan);
    s->in_pos = ir_xcalloc((size_t)(d->ninputs ? d->ninputs : 1), sizeof *s->in_pos);
    s->rows = ir_xcalloc((size_t)(d->ninputs ? d->ninputs : 1), sizeof *s->rows);
    s->arows = ir_xmalloc((size_t)(d->ninputs ? d->ninputs : 1) * sizeof *s->arows);
    for (int32_t i = 0; i < d->ninputs; i++) {
        const rt_sim_input *in = &d->inputs[i];
        int32_t m = find_node(s, 0, in->y);
        int32_t c = m >= 0 ? chan_of(&s->nodes[m], in->color) : -1;
        if (c < 0 || s->chans[c].in != RT_PORT_W) {
            ir_error(s->diag, IR_NOLOC,
                     "input %d: router (0,%d) has no configuration for colour %d that accepts it "
                     "from west",
                     (int)i, (int)in->y, (int)in->color);
            return false;
        }
        s->in_chan[i] = c;
    }
    s->rowin = sorted(d->ninputs, input_key, s);
    for (int32_t i = 0; i < d->ninputs; i++) {
        const rt_sim_input *in = &d->inputs[s->rowin[i]];
        if (i == 0 || d->inputs[s->rowin[i - 1]].y != in->y)
            s->rows[s->nrows++] = (row){.y = in->y, .first = i, .rr = -1};
        row *r = &s->rows[s->nrows - 1];
        r->n++;
        r->left += in->n;
        s->host_left += in->n;
    }
    for (int32_t r = 0; r < s->nrows; r++) {
        s->rows[r].rr = s->rows[r].n - 1; /* the first input goes first */
        if (s->rows[r].left) {
            s->rows[r].on = true;
            s->arows[s->narows++] = r;
        }
    }
    return true;
}

/* Finds every queue's feeder (sim.c's head says why). */
static void build_feeds(sim *s) {
    for (int32_t c = 0; c < s->nchans; c++) {
        chan *ch = &s->chans[c];
        const node *n = &s->nodes[ch->node];
        ch->feedkind = FEED_NONE;
        if (ch->in == RT_PORT_RAMP) {
            if (n->pe >= 0) ch->feedkind = FEED_PE, ch->feed = n->pe;
            continue;
        }
        int32_t m = find_node(s, n->x + dx[ch->in], n->y + dy[ch->in]);
        int32_t f = m >= 0 ? chan_of(&s->nodes[m], ch->color) : -1;
        if (f >= 0 && s->chans[f].tgt[(ch->in + 2) % 4] == c)
            ch->feedkind = FEED_CHAN, ch->feed = f;
    }
    for (int32_t r = 0; r < s->nrows; r++)
        for (int32_t k = 0; k < s->rows[r].n; k++) {
            chan *ch = &s->chans[s->in_chan[s->rowin[s->rows[r].first + k]]];
            ch->feedkind = FEED_ROW;
            ch->feed = r;
        }
}

/* Creates the PEs, runs their inits and reads their task bindings. */
static bool build_pes(sim *s) {
    const rt_sim_desc *d = s->d;
    int32_t np = d->npes;
    s->npes = np;
    s->pes = ir_xcalloc((size_t)(np ? np : 1), sizeof *s->pes);
    s->batch = ir_xmalloc((size_t)(np ? np : 1) * sizeof *s->batch);
    s->cand = ir_xmalloc((size_t)(np ? np : 1) * sizeof *s->cand);
    s->obl = ir_xmalloc((size_t)(np ? np : 1) * sizeof *s->obl);
    s->heap = ir_xmalloc((size_t)(np ? np : 1) * sizeof *s->heap);
    s->whead = ir_xmalloc(WHEEL * sizeof *s->whead);
    s->wtail = ir_xmalloc(WHEEL * sizeof *s->wtail);
    for (int b = 0; b < WHEEL; b++)
        s->whead[b] = s->wtail[b] = -1;
    /* One mapping for every PE's SRAM: its pages are zero until written,
     * so only what programs and images touch costs memory, and the
     * reservation is not refused for exceeding RAM up front. */
    size_t total;
    if (np &&
        (__builtin_mul_overflow((size_t)np, s->sram_bytes, &total) ||
         (s->sram = mmap(NULL, total, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)) == MAP_FAILED)) {
        s->sram = NULL;
        ir_error(s->diag, IR_NOLOC, "simulator: cannot map %lld bytes of SRAM for %d PEs",
                 (long long)np * (long long)s->sram_bytes, (int)np);
        return false;
    }
    if (np) s->sram_map = total;
    int32_t ninit = 0;
    for (int32_t i = 0; i < np; i++) {
        const rt_sim_pe *src = &d->pes[i];
        wse_pe *p = &s->pes[i];
        p->s = s;
        p->x = src->x;
        p->y = src->y;
        p->node = find_node(s, src->x, src->y);
        p->task = src->task;
        p->init = src->init;
        p->sram = s->sram + (size_t)i * s->sram_bytes;
        if (src->sram_len) memcpy(p->sram, src->sram, src->sram_len);
        if (p->init) s->batch[ninit++] = i;
    }
    run_batch(s, s->batch, ninit, true);
    size_t slots = 0;
    for (int32_t i = 0; i < np; i++) {
        wse_pe *p = &s->pes[i];
        if (p->init && !pe_errors(s, p, true)) return false;
        wse_head head;
        memcpy(&head, p->sram, sizeof head);
        int nbound = 0;
        for (int t = 0; t < WSE_MAX_TASKS; t++) {
            uint32_t c = head.task_color[t];
            p->color_of[t] = c;
            if (c == WSE_NO_COLOR) continue;
            if (c >= (uint32_t)s->ncol) {
                ir_error(s->diag, IR_NOLOC,
                         "PE (%d,%d) binds data task %d to colour %u, but the target has %d "
                         "colours",
                         (int)p->x, (int)p->y, t, c, (int)s->ncol);
                return false;
            }
            for (int u = 0; u < t; u++)
                if (p->color_of[u] == c) {
                    ir_error(s->diag, IR_NOLOC,
                             "PE (%d,%d) binds data tasks %d and %d to colour %u", (int)p->x,
                             (int)p->y, u, t, c);
                    return false;
                }
            p->slot[t] = (uint8_t)nbound++;
        }
        slots += (size_t)nbound * (size_t)s->depth;
        /* What init did takes effect at cycle 0. */
        if (p->act) {
            p->local = p->act;
            s->nrunnable++;
        }
        release_sends(s, i);
        s->cand[s->ncand++] = i;
        p->cand = true;
    }
    /* One block for every input queue, in PE order, for locality. */
    s->inqbuf = ir_xmalloc((slots ? slots : 1) * sizeof *s->inqbuf);
    slots = 0;
    for (int32_t i = 0; i < np; i++) {
        wse_pe *p = &s->pes[i];
        p->inq = s->inqbuf + slots;
        for (int t = 0; t < WSE_MAX_TASKS; t++)
            if (p->color_of[t] != WSE_NO_COLOR) slots += (size_t)s->depth;
    }
    for (int32_t c = 0; c < s->nchans; c++) {
        chan *ch = &s->chans[c];
        if (!(ch->outs >> RT_PORT_RAMP & 1)) continue;
        const node *n = &s->nodes[ch->node];
        if (n->pe < 0) continue; /* RAMP_NOPE */
        ch->ramp = RAMP_UNBOUND;
        for (int t = 0; t < WSE_MAX_TASKS; t++)
            if (s->pes[n->pe].color_of[t] == (uint32_t)ch->color) ch->ramp = t;
    }
    return true;
}

/* The busiest link, ties to the smallest (y, x, port). */
static void busiest(sim *s) {
    rt_sim_stats *st = &s->st;
    st->busiest_link = 0;
    st->busiest_x = st->busiest_y = st->busiest_port = -1;
    /* Rows and nodes are both sorted by y, and the host's link (x = -1)
     * comes before row y's routers, so one merge walks links in order. */
    int32_t r = 0;
    for (int32_t i = 0; i <= s->nnodes; i++) {
        int32_t y = i < s->nnodes ? s->nodes[i].y : INT32_MAX;
        for (; r < s->nrows && s->rows[r].y <= y; r++)
            if (s->rows[r].sent > st->busiest_link) {
                st->busiest_link = s->rows[r].sent;
                st->busiest_x = -1;
                st->busiest_y = s->rows[r].y;
                st->busiest_port = RT_PORT_E;
            }
        if (i == s->nnodes) break;
        for (int p = 0; p < 4; p++)
            if (s->nodes[i].sent[p] > st->busiest_link) {
                st->busiest_link = s->nodes[i].sent[p];
                st->busiest_x = s->nodes[i].x;
                st->busiest_y = s->nodes[i].y;
                st->busiest_port = p;
            }
    }
}

static void sim_free(sim *s) {
    pool_free(s->pool);
    for (int32_t i = 0; i < s->npes; i++) {
        for (int32_t k = 0; k < s->pes[i].noq; k++)
            free(s->pes[i].oq[k].ring);
        free(s->pes[i].oq);
    }
    free(s->pes);
    free(s->inqbuf);
    free(s->whead);
    free(s->wtail);
    if (s->sram) munmap(s->sram, s->sram_map);
    free(s->nodes);
    free(s->chans);
    free(s->qbuf);
    free(s->rows);
    free(s->rowin);
    free(s->in_chan);
    free(s->in_pos);
    free(s->capout);
    free(s->osort);
    free(s->act);
    free(s->obl);
    free(s->cand);
    free(s->arows);
    free(s->batch);
    free(s->mv);
    free(s->heap);
}

bool rt_sim_run(const rt_sim_desc *d, rt_sim_result *r, ir_diag *diag) {
    memset(r, 0, sizeof *r);
    if (!validate(d, diag)) return false;
    sim s = {.d = d, .diag = diag};
    s.w = d->t->width;
    s.h = d->t->height;
    s.ncol = d->t->colors;
    s.depth = d->t->queue_depth;
    s.task_cycles = d->t->task_cycles;
    s.lag = s.task_cycles > 1 ? s.task_cycles : 1;
    s.sram_bytes = (size_t)d->t->sram_bytes;
    bool ok = build_outputs(&s) && build_fabric(&s) && build_inputs(&s);
    if (ok) build_feeds(&s);
    if (ok) {
        s.act = ir_xmalloc((size_t)(s.nnodes ? s.nnodes : 1) * sizeof *s.act);
        s.mv = ir_xmalloc((size_t)(s.nrows + d->npes + s.nchans + 1) * sizeof *s.mv);
        int threads = d->threads < MAX_THREADS ? d->threads : MAX_THREADS;
        if (threads > 1 && d->npes >= PAR_MIN) s.pool = pool_new(&s, threads);
        if (d->trace) fputs("[", d->trace->f);
        ok = build_pes(&s) && run_loop(&s);
        if (d->trace) fputs("\n]\n", d->trace->f);
        if (d->trace && (fflush(d->trace->f) != 0 || ferror(d->trace->f))) {
            ir_error(diag, IR_NOLOC, "simulator: cannot write the trace");
            ok = false;
        }
    }
    s.st.cycles = s.last;
    s.st.pes = d->npes;
    busiest(&s);
    r->stats = s.st;
    r->out = s.out;
    r->nout = s.nout;
    sim_free(&s);
    return ok;
}

void rt_sim_result_free(rt_sim_result *r, int32_t noutputs) {
    if (r->out)
        for (int32_t i = 0; i < noutputs; i++)
            free(r->out[i]);
    free(r->out);
    free(r->nout);
    memset(r, 0, sizeof *r);
}
