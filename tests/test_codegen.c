/* Tests of PE program generation: programs for the reference models, one
 * module per distinct program, the --emit llvm text, and generated gemv and
 * map programs run natively (LLJIT) on hand-made PE SRAM images, their sent
 * wavelets compared with the products computed here. The tests read the
 * program plans (codegen's internal cgi.h) to lay out operand slots. */
#define _GNU_SOURCE /* nftw, open_memstream */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgi.h"
#include "rt.h"
#include "fe.h"
#include "pass.h"

static char tmpdir[] = "/tmp/wsc_test_codegen_XXXXXX";
#include "test_util.h"

#include "test_models.h"

static ir_graph *load_text(const char *name, const char *text, ir_diag *d) {
    write_file(tmp(name), text, strlen(text));
    return test_load(tmp(name), d);
}

/* Lowered and tiled, then programs generated; checks the invariants every
 * result must keep. */
static void compile(ir_graph *g, ir_kgraph *kg, cg_programs *p, int fabric, ir_diag *d) {
    assert_true(pass_lower(g, kg, d));
    ir_target t = test_target(fabric, fabric);
    if (!pass_tile(g, kg, &t, d)) fail_msg("%s", ir_diag_text(d));
    assert_true(cg_generate(g, kg, &t, p, d));
    assert_int_equal(p->nk, kg->nk);
    int32_t listed = 0, unsupported = 0;
    for (int32_t j = 0; j < p->n; j++) {
        const cg_program *q = &p->p[j];
        /* bitcode magic 'BC' 0xC0DE */
        assert_true(q->len > 4);
        assert_memory_equal(q->bitcode, "BC\xc0\xde", 4);
        assert_true(q->nkernels >= 1);
        assert_int_equal(q->supported, q->why == NULL);
        for (int32_t i = 0; i < q->nkernels; i++) {
            assert_int_equal(p->prog_of[q->kernels[i]], j);
            assert_int_equal(kg->k[q->kernels[i]].kind, q->kind);
        }
        listed += q->nkernels;
        unsupported += q->supported ? 0 : q->nkernels;
        for (int32_t i = 0; i < j; i++)
            assert_string_not_equal(p->p[i].key, q->key);
    }
    assert_int_equal(listed, kg->nk);
    assert_int_equal(unsupported, p->nunsupported);
}

/* ------------------------------------------------------ a modeled PE */

struct wse_pe {
    uint8_t *sram; /* its SRAM */
    int id;        /* which PE of the test */
};

typedef struct sent {
    int pe;           /* sender */
    uint32_t color;   /* colour */
    uint32_t payload; /* wavelet */
} sent;

static sent log_[4096];
static int nlog;
static uint64_t charged;

static uint8_t *t_sram(wse_pe *pe) {
    return pe->sram;
}
static void t_send(wse_pe *pe, uint32_t color, uint32_t payload) {
    assert_true(nlog < 4096);
    log_[nlog++] = (sent){pe->id, color, payload};
}
static int activated;
static void t_activate(wse_pe *pe, uint32_t task) {
    assert_int_equal(task, WSE_MAX_TASKS);
    activated++;
}
static void t_charge(wse_pe *pe, uint32_t cycles) {
    charged += cycles;
}

static int faults;
static void t_fault(wse_pe *pe, uint32_t code, uint32_t a, uint32_t b) {
    faults++;
}

static const rt_symbol imports[] = {
    {"wse_sram", (void *)t_sram},         {"wse_send", (void *)t_send},
    {"wse_activate", (void *)t_activate}, {"wse_charge", (void *)t_charge},
    {"wse_fault", (void *)t_fault},
};

typedef struct prog {
    rt_jit *jit;      /* the loaded program */
    wse_init_fn init; /* its entries */
    wse_task_fn task; /* */
} prog;

static prog jit(const cg_program *q) {
    char *err = NULL;
    prog p = {0};
    p.jit = rt_jit_load(q->bitcode, q->len, imports, (int)(sizeof imports / sizeof *imports), &err);
    if (!p.jit) fail_msg("jit: %s", err);
    p.init = (wse_init_fn)rt_jit_entry(p.jit, "wse_init");
    p.task = (wse_task_fn)rt_jit_entry(p.jit, "wse_task");
    assert_non_null(p.init);
    assert_non_null(p.task);
    return p;
}

static uint32_t bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static float flt(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static void put_f32(uint8_t *sram, uint32_t off, float v) {
    memcpy(sram + off, &v, 4);
}

/* The interpreter's forms (ir/interp.c), in double. */
static double sigmoid(double x) {
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}
static float gelu_tanh(float xf) {
    double x = xf;
    const double beta = M_SQRT2 * M_2_SQRTPI * 0.5, kappa = 0.044715;
    return (float)(x * sigmoid(2.0 * beta * (x + kappa * x * x * x)));
}

/* A resident operand's value (param or constant). */
static ir_tensor *value_of(const ir_graph *g, ir_ref r) {
    const ir_node *n = &g->nodes[r];
    if (n->op == IR_CONST) return ir_tensor_clone(n->value);
    assert_int_equal(n->op, IR_PARAM);
    return ir_param_value(n);
}

/* ------------------------------------------------------------- tests */

static void test_ex_mlp(void **state) {
    ir_diag *d = ir_diag_new(NULL);
    ir_graph *g = test_load("tests/ref/cases/ex_mlp", d);
    ir_kgraph kg;
    cg_programs p;
    compile(g, &kg, &p, 32, d);
    int gemv = 0;
    for (int32_t j = 0; j < p.n; j++) {
        gemv += p.p[j].kind == IR_KK_GEMV && p.p[j].supported;
        if (p.p[j].supported) {
            prog q = jit(&p.p[j]); /* compiles natively, entries resolve */
            rt_jit_free(q.jit);
        }
    }
    assert_true(gemv >= 1);
    /* every kernel of the MLP (gemv, map, layernorm, softmax) has a program */
    assert_int_equal(p.nunsupported, 0);

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cg_print_llvm(&p, f);
    fclose(f);
    int inits = 0, tasks = 0;
    for (const char *s = text; (s = strstr(s, "define void @wse_init(")); s++)
        inits++;
    for (const char *s = text; (s = strstr(s, "define void @wse_task(")); s++)
        tasks++;
    assert_int_equal(inits, p.n);
    assert_int_equal(tasks, p.n);
    assert_non_null(strstr(text, "; program 0: input f32, used by kernels"));
    assert_null(strstr(text, "wsc_unsupported_")); /* no trap program */
    free(text);
    cg_programs_free(&p);
    ir_kgraph_free(&kg);
    ir_graph_free(g);
    ir_diag_free(d);
}

static const char epilogues[] = "model epi;\n"
                                "input x: f32[4, 8];\n"
                                "param w1: f32[8, 8] = normal(0.0, 0.3);\n"
                                "param b1: f32[8] = uniform(-0.1, 0.1);\n"
                                "param w2: f32[8, 8] = normal(0.0, 0.3);\n"
                                "param w3: f32[8, 8] = normal(0.0, 0.3);\n"
                                "param w4: f32[8, 8] = normal(0.0, 0.3);\n"
                                "let a = gelu(x @ w1 + b1);\n"
                                "let c = silu(a @ w2);\n"
                                "let e = gelu(c @ w3, approximate: \"tanh\");\n"
                                "output y = relu(e @ w4) * 2.0;\n"
                                "output z = silu(x) * 2.0;\n";

static void test_epilogues(void **state) {
    ir_diag *d = ir_diag_new(NULL);
    ir_graph *g = load_text("epi.wsm", epilogues, d);
    ir_kgraph kg;
    cg_programs p;
    compile(g, &kg, &p, 32, d);
    assert_int_equal(p.nunsupported, 0);
    const char *want[] = {"gelu(c0)", "silu(c0)", "gelu~tanh(c0)", "relu(c0)", "mul(c0,i"};
    for (size_t w = 0; w < sizeof want / sizeof *want; w++) {
        bool found = false;
        for (int32_t j = 0; j < p.n; j++)
            found |= p.p[j].kind == IR_KK_GEMV && strstr(p.p[j].key, want[w]) != NULL;
        if (!found) fail_msg("no gemv program with %s", want[w]);
    }
    bool map = false;
    for (int32_t j = 0; j < p.n; j++) {
        map |= p.p[j].kind == IR_KK_MAP && strstr(p.p[j].key, "silu(s0)") != NULL;
        prog q = jit(&p.p[j]);
        rt_jit_free(q.jit);
    }
    assert_true(map);
    cg_programs_free(&p);
    ir_kgraph_free(&kg);
    ir_graph_free(g);
    ir_diag_free(d);
}

/* Kernels with the same program share one module: GPT-2's blocks repeat. */
static void test_sharing(void **state) {
    ir_diag *d = ir_diag_new(NULL);
    ir_graph *g = test_load("tests/ref/cases/ex_gpt2", d);
    ir_kgraph kg;
    cg_programs p;
    compile(g, &kg, &p, 32, d);
    assert_true(p.n < kg.nk);
    int shared = 0;
    for (int32_t j = 0; j < p.n; j++)
        shared += p.p[j].supported && p.p[j].nkernels > 1;
    assert_true(shared >= 1);
    cg_programs_free(&p);
    ir_kgraph_free(&kg);
    ir_graph_free(g);
    ir_diag_free(d);
}

/* The last kernel of kind `kind` (one must exist), with its plan, which
 * must be supported. */
static int32_t planned_kernel(const ir_graph *g, const ir_kgraph *kg, ir_kkind kind, cg_plan *pl) {
    int32_t ki = -1;
    for (int32_t i = 0; i < kg->nk; i++)
        if (kg->k[i].kind == kind) ki = i;
    assert_true(ki >= 0);
    cg_plan_kernel(g, &kg->k[ki], pl);
    assert_true(pl->supported);
    return ki;
}

/* SRAM layout of the test PEs (bytes): the parameter block, then these. */
enum {
    SRAM = 16384,
    OFF_W = 4096,
    OFF_BIAS = 5120,
    OFF_XBUF = 5376,
    OFF_XCNT = 5632,
    OFF_NBUF = 5760,
    OFF_NCNT = 6016,
    OFF_V = 6144,
    OFF_OPND = 6400,
    C_X = 3,
    C_NORTH = 5,
    C_OUT = 7,
};

static void identity_view(wse_view *v, uint32_t n) {
    memset(v, 0, sizeof *v);
    v->rank = 1, v->dim[0] = n, v->stride[0] = 1, v->ostride[0] = 1;
}

/* A parameter block with nothing bound. */
static wse_params *blank(uint8_t *mem, uint32_t kind, uint32_t row, uint32_t h) {
    _Static_assert(sizeof(wse_params) <= OFF_W, "the test layout leaves room for the block");
    wse_params *P = (wse_params *)mem;
    wse_params_blank(P, kind);
    P->head.row = row, P->head.w = 1, P->head.h = h;
    return P;
}

/* One gemv kernel of 1 x 2 PEs, run natively: x[3, 6] @ w[6, 5] + b, then
 * gelu (tanh form), * s, + 0.5. Row 0 holds W[0:3, :], row 1 W[3:6, :];
 * both receive whole rows of x and keep their columns. Row 0's partial
 * sums must be the exact float sums; row 1's output the whole computation.
 * The order in which row 1 sees x and north partial sums differs per row. */
static void test_gemv_jit(void **state) {
    static const char model[] = "model g1;\n"
                                "input x: f32[3, 6];\n"
                                "param w: f32[6, 5] = normal(0.0, 0.5);\n"
                                "param b: f32[5] = uniform(-0.5, 0.5);\n"
                                "param s: f32[5] = uniform(0.5, 1.5);\n"
                                "output y = gelu(x @ w + b, approximate: \"tanh\") * s + 0.5;\n";
    enum { R = 3, K = 6, N = 5, KR = 3 };
    ir_diag *d = ir_diag_new(NULL);
    ir_graph *g = load_text("g1.wsm", model, d);
    ir_kgraph kg;
    cg_programs p;
    compile(g, &kg, &p, 16, d);
    cg_plan pl;
    int32_t ki = planned_kernel(g, &kg, IR_KK_GEMV, &pl);
    const ir_kernel *k = &kg.k[ki];
    assert_true(pl.bias);
    assert_int_equal(pl.nsrc, 0);
    const cg_program *q = &p.p[p.prog_of[ki]];
    assert_true(q->supported);
    assert_string_equal(q->key, pl.key);

    const ir_node *lin = &g->nodes[k->nodes[0]];
    ir_tensor *w = value_of(g, lin->in[1]), *b = value_of(g, lin->in[2]);
    const float *W = w->data, *B = b->data;
    float X[R][K];
    for (int r = 0; r < R; r++)
        for (int j = 0; j < K; j++)
            X[r][j] = (float)((r * 7 + j * 3) % 11) / 5.0f - 1.0f;

    uint8_t *mem[2];
    wse_pe pe[2];
    for (int r = 0; r < 2; r++) {
        mem[r] = calloc(SRAM, 1);
        pe[r] = (wse_pe){mem[r], r};
        wse_params *P = blank(mem[r], WSE_KIND_GEMV, (uint32_t)r, 2);
        P->n = N, P->out_c0 = 0, P->out_ncol = N, P->rows = R, P->k = KR;
        /* source 0: x, columns r*KR..(r+1)*KR of each row */
        P->nsrc = r ? 2 : 1;
        P->src_x = 0;
        P->src[0] = (wse_source){.rows = R,
                                 .ncol = K,
                                 .c0 = (uint32_t)(r * KR),
                                 .c1 = (uint32_t)((r + 1) * KR),
                                 .off_buf = OFF_XBUF,
                                 .off_cnt = OFF_XCNT,
                                 .krows = R};
        identity_view(&P->src[0].view, R * K);
        P->head.task_color[0] = C_X;
        P->chan[0] = (wse_chan){1u, K, 0, K};
        if (r) {
            P->src_north = 1;
            P->src[1] = (wse_source){.rows = R,
                                     .ncol = N,
                                     .c0 = 0,
                                     .c1 = N,
                                     .off_buf = OFF_NBUF,
                                     .off_cnt = OFF_NCNT,
                                     .krows = R};
            identity_view(&P->src[1].view, R * N);
            P->head.task_color[1] = C_NORTH;
            P->chan[1] = (wse_chan){2u, N, 0, N};
            P->head.color_out = C_OUT;
            P->off_bias = OFF_BIAS;
        } else {
            P->color_south = C_NORTH;
        }
        P->off_w = OFF_W, P->off_v = OFF_V;
        for (int kk = 0; kk < KR; kk++)
            for (int j = 0; j < N; j++)
                put_f32(mem[r], OFF_W + 4 * (kk * N + j), W[(r * KR + kk) * N + j]);
        for (int j = 0; j < N; j++)
            put_f32(mem[r], OFF_BIAS + 4 * j, B[j]);
        /* the epilogue's resident operands, at the slots the plan gives */
        for (int i = 0; i < pl.nops; i++) {
            const ir_node *op = &g->nodes[k->nodes[i + 1]];
            for (int a = 0; a < pl.ops[i].nin; a++) {
                const cg_arg *ar = &pl.ops[i].a[a];
                if (ar->form != CG_SCALAR && ar->form != CG_VECTOR) continue;
                ir_tensor *v = value_of(g, op->in[a]);
                const float *vf = v->data;
                uint32_t off = OFF_OPND + 64 * (uint32_t)ar->idx;
                P->opnd[ar->idx].off = off;
                P->opnd[ar->idx].imm = vf[0];
                for (int j = 0; j < N && ar->form == CG_VECTOR; j++)
                    put_f32(mem[r], off + 4 * (uint32_t)j, vf[j]);
                ir_tensor_free(v);
            }
        }
    }
    prog pr = jit(q);
    nlog = 0, charged = 0, activated = 0;
    pr.init(&pe[0]), pr.init(&pe[1]);
    assert_int_equal(activated, 2); /* each starts its local task */
    pr.task(&pe[0], WSE_MAX_TASKS, 0), pr.task(&pe[1], WSE_MAX_TASKS, 0);
    assert_int_equal(nlog, 0);

    /* Row 0 of the kernel: every input row; its sends are row 1's north. */
    for (int r = 0; r < R; r++)
        for (int j = 0; j < K; j++)
            pr.task(&pe[0], 0, bits(X[r][j]));
    assert_int_equal(nlog, R * N);
    uint32_t north[R * N];
    for (int i = 0; i < R * N; i++) {
        assert_int_equal(log_[i].pe, 0);
        assert_int_equal(log_[i].color, C_NORTH);
        north[i] = log_[i].payload;
        int r = i / N, j = i % N;
        float acc = 0;
        for (int kk = 0; kk < KR; kk++)
            acc = acc + X[r][kk] * W[kk * N + j];
        assert_int_equal(north[i], bits(acc)); /* exact: same order of operations */
    }
    nlog = 0;
    /* Row 1: input row 0 x first then north; row 1 north first; row 2 interleaved. */
    for (int j = 0; j < K; j++)
        pr.task(&pe[1], 0, bits(X[0][j]));
    for (int j = 0; j < N; j++)
        pr.task(&pe[1], 1, north[j]);
    assert_int_equal(nlog, N);
    for (int j = 0; j < N; j++)
        pr.task(&pe[1], 1, north[N + j]);
    assert_int_equal(nlog, N);
    for (int j = 0; j < K; j++)
        pr.task(&pe[1], 0, bits(X[1][j]));
    assert_int_equal(nlog, 2 * N);
    for (int j = 0; j < N || j < K; j++) {
        if (j < K) pr.task(&pe[1], 0, bits(X[2][j]));
        if (j < N) pr.task(&pe[1], 1, north[2 * N + j]);
    }
    assert_int_equal(nlog, R * N);

    /* The whole computation, as the program orders it. */
    ir_tensor *sv = NULL;
    float scal = NAN;
    for (int i = 0; i < pl.nops; i++)
        for (int a = 0; a < pl.ops[i].nin; a++) {
            const cg_arg *ar = &pl.ops[i].a[a];
            ir_ref ref = g->nodes[k->nodes[i + 1]].in[a];
            if (ar->form == CG_VECTOR) sv = value_of(g, ref);
            if (ar->form == CG_SCALAR) {
                ir_tensor *v = value_of(g, ref);
                scal = ((float *)v->data)[0];
                ir_tensor_free(v);
            }
        }
    assert_non_null(sv);
    assert_float_equal(scal, 0.5, 0);
    for (int i = 0; i < R * N; i++) {
        int r = i / N, j = i % N;
        float acc = 0;
        for (int kk = KR; kk < K; kk++)
            acc = acc + X[r][kk] * W[kk * N + j];
        float v = flt(north[i]) + acc;
        v = v + B[j];
        v = gelu_tanh(v) * ((float *)sv->data)[j] + scal;
        assert_int_equal(log_[i].pe, 1);
        assert_int_equal(log_[i].color, C_OUT);
        if (fabsf(flt(log_[i].payload) - v) > 1e-6f * fmaxf(1.0f, fabsf(v)))
            fail_msg("y[%d, %d] = %.9g, expected %.9g", r, j, flt(log_[i].payload), v);
    }
    /* Cost: KR x N multiply-adds per row on both PEs, plus receiving and sending. */
    assert_true(charged >= (uint64_t)(2 * R * KR * N + R * K));
    ir_tensor_free(sv);
    rt_jit_free(pr.jit);
    free(mem[0]), free(mem[1]);
    ir_tensor_free(w), ir_tensor_free(b);
    cg_programs_free(&p);
    ir_kgraph_free(&kg);
    ir_graph_free(g);
    ir_diag_free(d);
}

/* A map kernel: silu(x) * 2.0, a row of 8 at a time, run natively. */
static void test_map_jit(void **state) {
    ir_diag *d = ir_diag_new(NULL);
    ir_graph *g = load_text("epi.wsm", epilogues, d);
    ir_kgraph kg;
    cg_programs p;
    compile(g, &kg, &p, 32, d);
    cg_plan pl;
    int32_t ki = planned_kernel(g, &kg, IR_KK_MAP, &pl);
    uint8_t *mem = calloc(SRAM, 1);
    wse_pe pe = {mem, 0};
    wse_params *P = blank(mem, WSE_KIND_MAP, 0, 1);
    P->head.color_out = C_OUT;
    P->n = 8, P->out_ncol = 8, P->rows = 4, P->nsrc = 1;
    P->src[0] = (wse_source){.rows = 4,
                             .ncol = 8,
                             .c0 = 0,
                             .c1 = 8,
                             .off_buf = OFF_XBUF,
                             .off_cnt = OFF_XCNT,
                             .krows = 4};
    identity_view(&P->src[0].view, 32);
    P->head.task_color[0] = C_X;
    P->chan[0] = (wse_chan){1u, 8, 0, 8};
    P->off_v = OFF_V;
    for (int i = 0; i < pl.nops; i++)
        for (int a = 0; a < pl.ops[i].nin; a++)
            if (pl.ops[i].a[a].form == CG_SCALAR) P->opnd[pl.ops[i].a[a].idx].imm = 2.0f;
    prog pr = jit(&p.p[p.prog_of[ki]]);
    nlog = 0;
    pr.init(&pe);
    for (int i = 0; i < 32; i++) {
        pr.task(&pe, 0, bits((float)i / 4.0f - 4.0f));
        /* a row goes out once it is complete */
        assert_int_equal(nlog, (i + 1) / 8 * 8);
    }
    for (int i = 0; i < 32; i++) {
        float x = (float)i / 4.0f - 4.0f;
        float want = (float)(x * sigmoid(x)) * 2.0f;
        assert_int_equal(log_[i].payload, bits(want));
        assert_int_equal(log_[i].color, C_OUT);
    }
    rt_jit_free(pr.jit);
    free(mem);
    cg_programs_free(&p);
    ir_kgraph_free(&kg);
    ir_graph_free(g);
    ir_diag_free(d);
}

/* Lane 0 of a two-lane layernorm, run natively on every row of its input
 * at once: it passes row 0's statistics east and no more until row 0's
 * totals come back (the loop east and back holds one row; lanes running
 * ahead deadlocked GPT-2 small, docs/execution.md), then finishes row 0
 * and passes row 1's. */
static void test_row_loop(void **state) {
    static const char model[] = "model ln;\n"
                                "input x: f32[4, 8];\n"
                                "param g: f32[8] = uniform(0.5, 1.5);\n"
                                "param b: f32[8] = uniform(-0.5, 0.5);\n"
                                "output y = layernorm(x, g, b);\n";
    enum { R = 4, K = 8, HALF = 4, C_BCAST = 4, C_EAST = 6 };
    ir_diag *d = ir_diag_new(NULL);
    ir_graph *g = load_text("ln.wsm", model, d);
    ir_kgraph kg;
    cg_programs p;
    compile(g, &kg, &p, 32, d);
    cg_plan pl;
    int32_t ki = planned_kernel(g, &kg, IR_KK_ROW, &pl);
    assert_int_equal(pl.nsrc, 0); /* x is the kernel's own source */
    uint8_t *mem = calloc(SRAM, 1);
    wse_pe pe = {mem, 0};
    wse_params *P = blank(mem, WSE_KIND_ROW, 0, 1);
    P->head.col = 0, P->head.w = 2;
    P->op = WSE_ROW_LAYERNORM, P->eps = 1e-5f;
    P->n = HALF, P->out_c0 = 0, P->out_ncol = K, P->rows = R, P->mat_rows = R;
    P->nsrc = 2, P->src_x = 0, P->src_stats = 1;
    P->src[0] = (wse_source){.rows = R,
                             .ncol = K,
                             .c0 = 0,
                             .c1 = HALF,
                             .off_buf = OFF_XBUF,
                             .off_cnt = OFF_XCNT,
                             .krows = R};
    identity_view(&P->src[0].view, R * K);
    P->src[1] = (wse_source){.rows = R,
                             .ncol = 2,
                             .c0 = 0,
                             .c1 = 2,
                             .off_buf = OFF_NBUF,
                             .off_cnt = OFF_NCNT,
                             .krows = R};
    identity_view(&P->src[1].view, R * 2);
    P->opnd[0].off = OFF_OPND, P->opnd[1].off = OFF_OPND + 4 * HALF;
    for (int j = 0; j < HALF; j++)
        put_f32(mem, OFF_OPND + 4 * j, 1.0f), put_f32(mem, OFF_OPND + 4 * (HALF + j), 0.0f);
    P->off_v = OFF_V;
    P->head.task_color[0] = C_X, P->chan[0] = (wse_chan){1u << 0, K, 0, K};
    P->head.task_color[1] = C_BCAST, P->chan[1] = (wse_chan){1u << 1, 2, 0, 2};
    P->color_east = C_EAST, P->head.color_out = C_OUT;
    prog pr = jit(&p.p[p.prog_of[ki]]);
    nlog = 0;
    pr.init(&pe);
    for (int i = 0; i < R * K; i++)
        pr.task(&pe, 0, bits((float)(i % 5)));
    int east = 0, out = 0;
    for (int i = 0; i < nlog; i++)
        east += log_[i].color == C_EAST, out += log_[i].color == C_OUT;
    assert_int_equal(east, 2);
    assert_int_equal(out, 0);
    /* row 0's totals (mean 1, 1 / std 2): its half row goes out, and row 1's statistics east */
    pr.task(&pe, 1, bits(1.0f));
    pr.task(&pe, 1, bits(2.0f));
    east = out = 0;
    for (int i = 0; i < nlog; i++)
        east += log_[i].color == C_EAST, out += log_[i].color == C_OUT;
    assert_int_equal(east, 4);
    assert_int_equal(out, HALF);
    for (int i = 0, j = 0; i < nlog; i++)
        if (log_[i].color == C_OUT) {
            assert_true(flt(log_[i].payload) == (float)((j % 5) - 1) * 2.0f);
            j++;
        }
    rt_jit_free(pr.jit);
    free(mem);
    cg_programs_free(&p);
    ir_kgraph_free(&kg);
    ir_graph_free(g);
    ir_diag_free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ex_mlp),  cmocka_unit_test(test_epilogues),
        cmocka_unit_test(test_sharing), cmocka_unit_test(test_gemv_jit),
        cmocka_unit_test(test_map_jit), cmocka_unit_test(test_row_loop),
    };
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
