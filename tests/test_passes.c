/* test_passes.c - the pass manager and each IR pass: structural effect,
 * preservation of results (the interpreter before and after), and the
 * pipeline's dump / stop / verify options. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ir.h"
#include "pass.h"

/* ---------------------------------------------------------------- helpers */

static ir_shape shp(int rank, ...) {
    va_list ap;
    va_start(ap, rank);
    int64_t d[IR_MAX_RANK];
    for (int k = 0; k < rank; k++)
        d[k] = va_arg(ap, int);
    va_end(ap);
    return ir_shape_make(rank, d);
}

static ir_ref input(ir_graph *g, const char *name, ir_dtype t, ir_shape s) {
    ir_node n = {0};
    n.op = IR_INPUT;
    n.dtype = t;
    n.shape = s;
    n.name = name;
    n.loc = IR_NOLOC;
    return ir_graph_add(g, &n, NULL, 0);
}

static ir_ref param(ir_graph *g, const char *name, ir_shape s) {
    ir_node n = {0};
    n.op = IR_PARAM;
    n.dtype = IR_F32;
    n.shape = s;
    n.name = name;
    n.loc = IR_NOLOC;
    n.init = (ir_init){IR_INIT_NORMAL, 0.0, 1.0, 7};
    return ir_graph_add(g, &n, NULL, 0);
}

static uint64_t rng_state = 12345;

static float frand(void) {
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((double)(rng_state >> 40) / (double)(1ULL << 24) * 2.0 - 1.0);
}

static ir_tensor *rand_tensor(ir_dtype t, ir_shape s) {
    ir_tensor *x = ir_tensor_new(t, &s);
    assert_non_null(x);
    int64_t n = ir_shape_numel(&s);
    for (int64_t i = 0; i < n; i++) {
        if (t == IR_I32)
            ((int32_t *)x->data)[i] = (int32_t)(frand() * 3);
        else if (t == IR_BOOL)
            ((uint8_t *)x->data)[i] = frand() > 0;
        else
            ((float *)x->data)[i] = frand();
    }
    ir_tensor_round(x);
    return x;
}

static ir_ref cst(ir_graph *g, ir_shape s) {
    return ir_build_const(g, rand_tensor(IR_F32, s), IR_NOLOC);
}

/* A const whose elements are v[0..n) (f32). */
static ir_ref cst_vals(ir_graph *g, ir_shape s, const float *v) {
    ir_tensor *t = ir_tensor_new(IR_F32, &s);
    memcpy(t->data, v, ir_tensor_bytes(t));
    return ir_build_const(g, t, IR_NOLOC);
}

static ir_ref build(ir_graph *g, ir_op op, const ir_ref *in, int nin, const ir_attrs *a) {
    ir_err e;
    ir_ref r = ir_build(g, op, in, nin, a, IR_NOLOC, &e);
    if (r == IR_NONE) fail_msg("ir_build(%s): %s", ir_ops[op].name, e.msg);
    return r;
}

static ir_ref op1(ir_graph *g, ir_op op, ir_ref a) {
    return build(g, op, &a, 1, NULL);
}

static ir_ref op2(ir_graph *g, ir_op op, ir_ref a, ir_ref b) {
    ir_ref in[2] = {a, b};
    return build(g, op, in, 2, NULL);
}

static ir_ref matmul(ir_graph *g, ir_ref a, ir_ref b, bool ta, bool tb) {
    ir_attrs at = {0};
    at.ta = ta;
    at.tb = tb;
    ir_ref in[2] = {a, b};
    return build(g, IR_MATMUL, in, 2, &at);
}

static ir_ref transpose(ir_graph *g, ir_ref x, int rank, ...) {
    ir_attrs a = {0};
    va_list ap;
    va_start(ap, rank);
    for (int k = 0; k < rank; k++)
        a.perm[k] = (int8_t)va_arg(ap, int);
    va_end(ap);
    return build(g, IR_TRANSPOSE, &x, 1, &a);
}

static ir_ref reshape(ir_graph *g, ir_ref x, ir_shape s) {
    ir_attrs a = {0};
    a.shape = s;
    return build(g, IR_RESHAPE, &x, 1, &a);
}

static ir_ref slice(ir_graph *g, ir_ref x, int axis, int start, int end) {
    ir_attrs a = {0};
    a.axis = axis;
    a.start = start;
    a.end = end;
    return build(g, IR_SLICE, &x, 1, &a);
}

static ir_ref cast(ir_graph *g, ir_ref x, ir_dtype t) {
    ir_attrs a = {0};
    a.dtype = t;
    return build(g, IR_CAST, &x, 1, &a);
}

static ir_ref softmax(ir_graph *g, ir_ref x, int axis) {
    ir_attrs a = {0};
    a.axis = axis;
    return build(g, IR_SOFTMAX, &x, 1, &a);
}

static void out(ir_graph *g, const char *name, ir_ref r) {
    ir_graph_add_output(g, name, r, IR_NOLOC);
}

static int count(const ir_graph *g, ir_op op) {
    int c = 0;
    for (int32_t i = 0; i < g->nnodes; i++)
        c += g->nodes[i].op == op;
    return c;
}

static const ir_node *out_node(const ir_graph *g, int k) {
    return &g->nodes[g->outputs[k].ref];
}

static void verify(const ir_graph *g) {
    ir_diag *d = ir_diag_new(NULL);
    bool ok = ir_verify(g, d);
    if (!ok) {
        ir_print(g, stderr);
        fail_msg("verifier: %s", ir_diag_text(d));
    }
    ir_diag_free(d);
}

static void run(ir_graph **g, pass_fn *p) {
    ir_diag *d = ir_diag_new(NULL);
    bool ok = p(g, d);
    if (!ok) fail_msg("pass failed: %s", ir_diag_text(d));
    assert_int_equal(ir_diag_errors(d), 0);
    ir_diag_free(d);
    verify(*g);
}

/* Results of g on inputs (one per INPUT node, in order); caller frees. */
static ir_tensor **eval(const ir_graph *g, ir_tensor **inputs) {
    ir_tensor **outs = calloc((size_t)g->noutputs + 1, sizeof *outs);
    ir_diag *d = ir_diag_new(NULL);
    if (ir_eval(g, inputs, outs, 1, d) != 0) fail_msg("eval: %s", ir_diag_text(d));
    ir_diag_free(d);
    return outs;
}

static void free_tensors(ir_tensor **t, int n) {
    for (int i = 0; i < n; i++)
        ir_tensor_free(t[i]);
    free(t);
}

/* Equal up to float rounding: rewrites may only reassociate a bias add. */
static void expect_close(const ir_tensor *want, const ir_tensor *got) {
    assert_int_equal(want->dtype, got->dtype);
    assert_true(ir_shape_eq(&want->shape, &got->shape));
    int64_t n = ir_shape_numel(&want->shape);
    if (!ir_dtype_is_float(want->dtype)) {
        assert_memory_equal(want->data, got->data, ir_tensor_bytes(want));
        return;
    }
    const float *w = want->data, *h = got->data;
    for (int64_t i = 0; i < n; i++) {
        float tol = 1e-5f + 1e-5f * (w[i] < 0 ? -w[i] : w[i]);
        float diff = w[i] - h[i];
        if (diff > tol || diff < -tol)
            fail_msg("element %lld: want %.9g got %.9g", (long long)i, (double)w[i], (double)h[i]);
    }
}

/* Runs passes[0..n) on *g and checks every output is unchanged on random
 * inputs. */
static void check_preserves(ir_graph **g, pass_fn *const *passes, int n) {
    int nin = 0;
    for (int32_t i = 0; i < (*g)->nnodes; i++)
        nin += (*g)->nodes[i].op == IR_INPUT;
    ir_tensor **in = calloc((size_t)nin + 1, sizeof *in);
    for (int32_t i = 0, k = 0; i < (*g)->nnodes; i++)
        if ((*g)->nodes[i].op == IR_INPUT)
            in[k++] = rand_tensor((*g)->nodes[i].dtype, (*g)->nodes[i].shape);
    int nout = (*g)->noutputs;
    ir_tensor **before = eval(*g, in);
    for (int k = 0; k < n; k++)
        run(g, passes[k]);
    assert_int_equal((*g)->noutputs, nout);
    ir_tensor **after = eval(*g, in);
    for (int k = 0; k < nout; k++)
        expect_close(before[k], after[k]);
    free_tensors(before, nout);
    free_tensors(after, nout);
    free_tensors(in, nin);
}

static pass_fn *const canon_dce[] = {pass_canonicalize, pass_dce};
static pass_fn *const all_passes[] = {pass_infer, pass_canonicalize, pass_constfold, pass_cse,
                                      pass_dce};

/* ------------------------------------------------------------- the table */

static void test_table(void **state) {
    (void)state;
    const char *want[] = {"infer", "canonicalize", "constfold", "cse", "dce"};
    assert_int_equal(pass_count, 5);
    for (int i = 0; i < pass_count; i++) {
        assert_string_equal(pass_table[i].name, want[i]);
        assert_non_null(pass_table[i].run);
        assert_non_null(pass_table[i].help);
        assert_ptr_equal(pass_lookup(want[i]), &pass_table[i]);
    }
    assert_null(pass_lookup("nope"));
    assert_null(pass_lookup("all"));
    assert_null(pass_lookup(NULL));
}

/* ----------------------------------------------------------------- infer */

static void test_infer_accepts_builder_graph(void **state) {
    (void)state;
    ir_graph *g = ir_graph_new("m");
    ir_ref x = input(g, "x", IR_F32, shp(2, 4, 8));
    ir_ref w = param(g, "w", shp(2, 8, 3));
    out(g, "y", softmax(g, matmul(g, x, w, false, false), -1));
    run(&g, pass_infer);
    assert_int_equal(g->nnodes, 4);
    ir_graph_free(g);
}

static void test_infer_catches_wrong_type(void **state) {
    (void)state;
    ir_graph *g = ir_graph_new("m");
    ir_ref x = input(g, "x", IR_F32, shp(2, 4, 8));
    ir_ref y = op1(g, IR_EXP, x);
    out(g, "y", y);
    g->nodes[y].shape.d[1] = 9; /* a builder bug */
    ir_diag *d = ir_diag_new(NULL);
    assert_false(pass_infer(&g, d));
    assert_non_null(strstr(ir_diag_text(d), "internal error"));
    assert_non_null(strstr(ir_diag_text(d), "f32[4, 9]"));
    ir_diag_free(d);

    g->nodes[y].shape.d[1] = 8;
    g->nodes[y].dtype = IR_F16;
    d = ir_diag_new(NULL);
    assert_false(pass_infer(&g, d));
    ir_diag_free(d);
    ir_graph_free(g);
}

/* ------------------------------------------------------------- constfold */

static void test_constfold_folds_chains(void **state) {
    (void)state;
    ir_graph *g = ir_graph_new("m");
    ir_ref x = input(g, "x", IR_F32, shp(2, 2, 3));
    float av[6] = {1, 2, 3, 4, 5, 6}, bv[3] = {10, 20, 30};
    ir_ref a = cst_vals(g, shp(2, 2, 3), av), b = cst_vals(g, shp(1, 3), bv);
    ir_ref c = op1(g, IR_NEG, op2(g, IR_ADD, a, b)); /* -(a + b) */
    out(g, "y", op2(g, IR_MUL, x, c));
    out(g, "c", c);
    run(&g, pass_constfold);
    const ir_node *cn = out_node(g, 1);
    assert_int_equal(cn->op, IR_CONST);
    assert_int_equal(cn->nin, 0);
    const float *v = cn->value->data;
    float want[6] = {-11, -22, -33, -14, -25, -36};
    for (int i = 0; i < 6; i++)
        assert_true(v[i] == want[i]);
    assert_int_equal(out_node(g, 0)->op, IR_MUL); /* x is an input: not folded */
    run(&g, pass_dce);
    assert_int_equal(count(g, IR_CONST), 1);
    assert_int_equal(count(g, IR_ADD), 0);
    assert_int_equal(g->nnodes, 3);
    ir_graph_free(g);
}

static void test_constfold_leaves_params_inputs_and_big(void **state) {
    (void)state;
    ir_graph *g = ir_graph_new("m");
    ir_ref x = input(g, "x", IR_F32, shp(1, 4));
    ir_ref p = param(g, "p", shp(1, 4));
    ir_ref c = cst(g, shp(1, 4));
    out(g, "a", op2(g, IR_ADD, p, c));
    /* A param holding its data (from --weights) is still a param. */
    ir_ref pd = param(g, "pd", shp(1, 4));
    g->nodes[pd].value = rand_tensor(IR_F32, shp(1, 4));
    g->nodes[pd].init.kind = IR_INIT_DATA;
    out(g, "b", op2(g, IR_ADD, x, c));
    /* 300 x 300 = 90000 elements > 65536: a broadcast stays an op. */
    ir_ref big = op2(g, IR_ADD, cst(g, shp(2, 300, 1)), cst(g, shp(2, 1, 300)));
    out(g, "big", big);
    /* 256 x 256 = 65536 is still folded. */
    out(g, "edge", op2(g, IR_ADD, cst(g, shp(2, 256, 1)), cst(g, shp(2, 1, 256))));
    out(g, "pd", op1(g, IR_NEG, pd));
    run(&g, pass_constfold);
    assert_int_equal(out_node(g, 0)->op, IR_ADD);
    assert_int_equal(out_node(g, 1)->op, IR_ADD);
    assert_int_equal(out_node(g, 2)->op, IR_ADD);
    assert_int_equal(out_node(g, 3)->op, IR_CONST);
    assert_int_equal(out_node(g, 4)->op, IR_NEG);
    assert_int_equal(g->nodes[p].op, IR_PARAM);
    ir_graph_free(g);

    /* Nothing depends on a dead node: it is left for dce, not evaluated. */
    g = ir_graph_new("m");
    ir_ref dead = op1(g, IR_NEG, cst(g, shp(1, 4)));
    out(g, "y", op1(g, IR_EXP, cst(g, shp(1, 4))));
    run(&g, pass_constfold);
    assert_int_equal(g->nodes[dead].op, IR_NEG);
    assert_int_equal(out_node(g, 0)->op, IR_CONST);
    ir_graph_free(g);
}

static void test_constfold_keeps_runtime_errors(void **state) {
    (void)state;
    ir_graph *g = ir_graph_new("m");
    ir_ref table = cst(g, shp(2, 4, 2));
    ir_tensor *ix = ir_tensor_new(IR_I32, &(ir_shape){1, {2}});
    ((int32_t *)ix->data)[0] = 1;
    ((int32_t *)ix->data)[1] = 99; /* out of range: eval reports it, not the compiler */
    ir_ref idx = ir_build_const(g, ix, IR_NOLOC);
    out(g, "y", op2(g, IR_GATHER, table, idx));
    ir_diag *d = ir_diag_new(NULL);
    assert_true(pass_constfold(&g, d));
    assert_int_equal(ir_diag_errors(d), 0);
    assert_int_equal(out_node(g, 0)->op, IR_GATHER);
    ir_diag_free(d);
    ir_graph_free(g);
}

static void test_constfold_preserves_results(void **state) {
    (void)state;
    ir_graph *g = ir_graph_new("m");
    ir_ref x = input(g, "x", IR_F32, shp(2, 3, 5));
    ir_ref w = cst(g, shp(2, 5, 4));
    ir_ref wt = transpose(g, op1(g, IR_TANH, w), 2, 1, 0);    /* [4, 5] */
    ir_ref s = softmax(g, matmul(g, x, wt, false, true), -1); /* [3, 4] */
    ir_ref k = op1(g, IR_EXP, op2(g, IR_SUB, cst(g, shp(1, 4)), cst(g, shp(0))));
    out(g, "y", op2(g, IR_MUL, s, k));
    pass_fn *p[] = {pass_constfold};
    check_preserves(&g, p, 1);
    assert_int_equal(count(g, IR_TANH), 0);
    assert_int_equal(count(g, IR_EXP), 0);
    assert_int_equal(count(g, IR_MATMUL), 1);
    ir_graph_free(g);
}

/* ------------------------------------------------------------------- cse */

static void test_cse_merges_duplicates(void **state) {
    (void)state;
    ir_graph *g = ir_graph_new("m");
    ir_ref x = input(g, "x", IR_F32, shp(2, 3, 4));
    ir_ref y = input(g, "y", IR_F32, shp(2, 3, 4));
    ir_ref e1 = op1(g, IR_EXP, op1(g, IR_EXP, x));
    ir_ref e2 = op1(g, IR_EXP, op1(g, IR_EXP, x));
    ir_ref a1 = op2(g, IR_ADD, x, y), a2 = op2(g, IR_ADD, y, x); /* commutative */
    ir_ref s1 = op2(g, IR_SUB, x, y), s2 = op2(g, IR_SUB, y, x); /* not */
    ir_ref m1 = softmax(g, x, 0), m2 = softmax(g, x, 1);         /* attributes differ */
    out(g, "e1", e1);
    out(g, "e2", e2);
    out(g, "a1", a1);
    out(g, "a2", a2);
    out(g, "s1", s1);
    out(g, "s2", s2);
    out(g, "m1", m1);
    out(g, "m2", m2);
    pass_fn *p[] = {pass_cse};
    check_preserves(&g, p, 1);
    assert_int_equal(count(g, IR_EXP), 2);
    assert_int_equal(count(g, IR_ADD), 1);
    assert_int_equal(count(g, IR_SUB), 2);
    assert_int_equal(count(g, IR_SOFTMAX), 2);
    assert_int_equal(count(g, IR_INPUT), 2);
    assert_int_equal(g->noutputs, 8);
    assert_string_equal(g->outputs[1].name, "e2");
    assert_int_equal(g->outputs[0].ref, g->outputs[1].ref);
    assert_int_equal(g->outputs[2].ref, g->outputs[3].ref);
    assert_int_not_equal(g->outputs[4].ref, g->outputs[5].ref);
    ir_graph_free(g);
}

static void test_cse_constants_and_sources(void **state) {
    (void)state;
    ir_graph *g = ir_graph_new("m");
    float v[6] = {1, 2, 3, 4, 5, 6}, u[6] = {1, 2, 3, 4, 5, 7};
    ir_ref c1 = cst_vals(g, shp(2, 2, 3), v);
    ir_ref c2 = cst_vals(g, shp(2, 2, 3), v); /* same bytes: merged */
    ir_ref c3 = cst_vals(g, shp(2, 3, 2), v); /* other shape */
    ir_ref c4 = cst_vals(g, shp(2, 2, 3), u); /* other bytes */
    ir_ref x1 = input(g, "a", IR_F32, shp(2, 2, 3));
    ir_ref x2 = input(g, "b", IR_F32, shp(2, 2, 3)); /* same type, distinct inputs */
    ir_ref p1 = param(g, "p", shp(2, 2, 3));
    ir_ref p2 = param(g, "q", shp(2, 2, 3)); /* same initializer, distinct weights */
    out(g, "c1", c1);
    out(g, "c2", c2);
    out(g, "c3", c3);
    out(g, "c4", c4);
    out(g, "x1", x1);
    out(g, "x2", x2);
    out(g, "p1", p1);
    out(g, "p2", p2);
    out(g, "n1", op1(g, IR_NEG, c1));
    out(g, "n2", op1(g, IR_NEG, c2)); /* merged through the merged constants */
    run(&g, pass_cse);
    assert_int_equal(count(g, IR_CONST), 3);
    assert_int_equal(count(g, IR_INPUT), 2);
    assert_int_equal(count(g, IR_PARAM), 2);
    assert_int_equal(count(g, IR_NEG), 1);
    assert_int_equal(g->outputs[0].ref, g->outputs[1].ref);
    assert_int_not_equal(g->outputs[0].ref, g->outputs[2].ref);
    assert_int_not_equal(g->outputs[0].ref, g->outputs[3].ref);
    assert_int_not_equal(g->outputs[4].ref, g->outputs[5].ref);
    assert_int_not_equal(g->outputs[6].ref, g->outputs[7].ref);
    assert_int_equal(g->outputs[8].ref, g->outputs[9].ref);
    assert_string_equal(g->nodes[g->outputs[5].ref].name, "b");
    ir_graph_free(g);
}

/* ------------------------------------------------------------------- dce */

static void test_dce_keeps_inputs(void **state) {
    (void)state;
    ir_graph *g = ir_graph_new("m");
    ir_ref a = input(g, "a", IR_F32, shp(1, 4));
    ir_ref unused_p = param(g, "unused", shp(1, 4));
    ir_ref b = input(g, "b", IR_F32, shp(1, 4)); /* fed but unused */
    op1(g, IR_EXP, op2(g, IR_ADD, a, unused_p)); /* dead */
    ir_ref c = input(g, "c", IR_I32, shp(0));
    ir_ref y = op1(g, IR_NEG, a);
    out(g, "y", y);
    out(g, "a", a);
    (void)b;
    (void)c;
    pass_fn *p[] = {pass_dce};
    check_preserves(&g, p, 1);
    assert_int_equal(g->nnodes, 4);
    assert_int_equal(count(g, IR_PARAM), 0);
    assert_int_equal(count(g, IR_EXP), 0);
    assert_string_equal(g->nodes[0].name, "a");
    assert_string_equal(g->nodes[1].name, "b");
    assert_string_equal(g->nodes[2].name, "c");
    assert_int_equal(g->nodes[2].dtype, IR_I32);
    assert_string_equal(g->outputs[0].name, "y");
    assert_int_equal(out_node(g, 0)->op, IR_NEG);
    assert_int_equal(out_node(g, 0)->in[0], 0);
    assert_int_equal(g->outputs[1].ref, 0);
    assert_string_equal(g->model, "m");
    ir_graph_free(g);
}

/* ---------------------------------------------------------- canonicalize */

static void test_canon_transpose_into_matmul(void **state) {
    (void)state;
    ir_graph *g = ir_graph_new("m");
    ir_ref x = input(g, "x", IR_F32, shp(2, 5, 3));
    ir_ref w = input(g, "w", IR_F32, shp(2, 4, 5));
    ir_ref b3 = input(g, "b3", IR_F32, shp(3, 2, 6, 4));
    ir_ref y = matmul(g, transpose(g, x, 2, 1, 0), transpose(g, w, 2, 1, 0), false, false);
    out(g, "y", y);                                                        /* [3, 4] */
    out(g, "z", matmul(g, y, transpose(g, b3, 3, 0, 2, 1), false, false)); /* batched */
    /* Swapping axes 0 and 1 of a 3-D tensor is not a matmul transposition. */
    ir_ref q = input(g, "q", IR_F32, shp(3, 4, 2, 3));
    out(g, "v",
        matmul(g, transpose(g, q, 3, 1, 0, 2), input(g, "r", IR_F32, shp(2, 3, 7)), false, false));
    check_preserves(&g, canon_dce, 2);
    const ir_node *m = out_node(g, 0);
    assert_int_equal(m->op, IR_MATMUL);
    assert_true(m->a.ta && m->a.tb);
    assert_int_equal(m->in[0], x);
    assert_int_equal(m->in[1], w);
    const ir_node *mz = out_node(g, 1);
    assert_true(!mz->a.ta && mz->a.tb);
    assert_int_equal(mz->in[1], b3);
    assert_int_equal(count(g, IR_TRANSPOSE), 1);
    assert_int_equal(g->nodes[out_node(g, 2)->in[0]].op, IR_TRANSPOSE);
    ir_graph_free(g);
}

static void test_canon_transposed_matmul_toggles(void **state) {
    (void)state;
    /* A transpose into an operand already marked transposed cancels it. */
    ir_graph *g = ir_graph_new("m");
    ir_ref x = input(g, "x", IR_F32, shp(2, 3, 5));
    ir_ref w = input(g, "w", IR_F32, shp(2, 5, 4));
    out(g, "y", matmul(g, x, transpose(g, w, 2, 1, 0), false, true));
    check_preserves(&g, canon_dce, 2);
    assert_false(out_node(g, 0)->a.tb);
    assert_int_equal(out_node(g, 0)->in[1], w);
    assert_int_equal(count(g, IR_TRANSPOSE), 0);
    ir_graph_free(g);
    g = ir_graph_new("m");
    ir_ref xt = input(g, "xt", IR_F32, shp(2, 3, 5));
    w = input(g, "w", IR_F32, shp(2, 5, 4));
    out(g, "y", matmul(g, transpose(g, xt, 2, 1, 0), w, true, false));
    check_preserves(&g, canon_dce, 2);
    assert_false(out_node(g, 0)->a.ta);
    assert_int_equal(out_node(g, 0)->in[0], xt);
    ir_graph_free(g);
}

static void test_canon_linear_fusion(void **state) {
    (void)state;
    ir_graph *g = ir_graph_new("m");
    ir_ref x = input(g, "x", IR_F32, shp(2, 3, 5));
    ir_ref w = param(g, "w", shp(2, 5, 4));
    ir_ref wt = param(g, "wt", shp(2, 4, 5));
    ir_ref b = param(g, "b", shp(1, 4));
    ir_ref b2 = param(g, "b2", shp(2, 1, 4));
    out(g, "y0", op2(g, IR_ADD, matmul(g, x, w, false, false), b));
    out(g, "y1", op2(g, IR_ADD, b, matmul(g, x, w, false, false))); /* bias first */
    out(g, "y2", op2(g, IR_ADD, matmul(g, x, transpose(g, wt, 2, 1, 0), false, false), b2));
    ir_ref x3 = input(g, "x3", IR_F32, shp(3, 2, 3, 5));
    out(g, "y3", op2(g, IR_ADD, matmul(g, x3, w, false, false), b2)); /* batched x */
    check_preserves(&g, canon_dce, 2);
    for (int k = 0; k < 4; k++) {
        const ir_node *l = out_node(g, k);
        assert_int_equal(l->op, IR_LINEAR);
        assert_int_equal(l->nin, 3);
        assert_int_equal(g->nodes[l->in[2]].shape.rank, 1);
        assert_int_equal(g->nodes[l->in[2]].shape.d[0], 4);
    }
    assert_int_equal(out_node(g, 0)->in[0], x);
    assert_int_equal(out_node(g, 0)->in[1], w);
    assert_int_equal(out_node(g, 0)->in[2], b);
    assert_int_equal(out_node(g, 1)->in[2], b);
    assert_false(out_node(g, 0)->a.tb);
    assert_true(out_node(g, 2)->a.tb);
    assert_int_equal(out_node(g, 2)->in[1], wt);
    /* [1, 4] becomes [4] through a reshape. */
    assert_int_equal(g->nodes[out_node(g, 2)->in[2]].op, IR_RESHAPE);
    assert_int_equal(g->nodes[out_node(g, 2)->in[2]].in[0], b2);
    assert_int_equal(count(g, IR_MATMUL), 0);
    assert_int_equal(count(g, IR_ADD), 0);
    assert_int_equal(count(g, IR_TRANSPOSE), 0);
    ir_graph_free(g);
}

static ir_ref cols(ir_graph *g, ir_ref x, int64_t start, int64_t end) {
    ir_attrs a = {0};
    a.axis = g->nodes[x].shape.rank - 1;
    a.start = start, a.end = end;
    return build(g, IR_SLICE, &x, 1, &a);
}

/* A product of a resident weight used only through slices of its last
 * axis becomes one product per slice, over the weight's columns (rows when
 * transposed) and the bias's; any other use, an output use or a streamed
 * weight keeps it whole. */
static void test_canon_column_split(void **state) {
    (void)state;
    ir_graph *g = ir_graph_new("m");
    ir_ref x = input(g, "x", IR_F32, shp(2, 3, 5));
    ir_ref w = param(g, "w", shp(2, 5, 6));
    ir_ref b = param(g, "b", shp(1, 6));
    ir_ref wt = param(g, "wt", shp(2, 6, 5));
    ir_ref y = op2(g, IR_ADD, matmul(g, x, w, false, false), b);
    out(g, "q", cols(g, y, 0, 2));
    out(g, "k", op1(g, IR_RELU, cols(g, y, 2, 6)));
    ir_ref t = matmul(g, x, wt, false, true);
    out(g, "t", cols(g, t, 1, 4));
    ir_ref kept = matmul(g, x, w, false, false); /* also used whole */
    out(g, "s", cols(g, kept, 0, 3));
    out(g, "r", op1(g, IR_RELU, kept));
    ir_ref x2 = input(g, "x2", IR_F32, shp(2, 5, 6)); /* streamed weight */
    out(g, "u", cols(g, matmul(g, x, x2, false, false), 0, 3));
    check_preserves(&g, canon_dce, 2);
    const ir_node *q = out_node(g, 0), *k = &g->nodes[out_node(g, 1)->in[0]];
    assert_int_equal(q->op, IR_LINEAR);
    assert_int_equal(k->op, IR_LINEAR);
    assert_int_equal(q->shape.d[1], 2);
    assert_int_equal(k->shape.d[1], 4);
    const ir_node *wq = &g->nodes[q->in[1]], *bk = &g->nodes[k->in[2]];
    assert_int_equal(wq->op, IR_SLICE);
    assert_int_equal(wq->a.axis, 1);
    assert_int_equal(wq->a.end, 2);
    assert_int_equal(wq->in[0], w);
    assert_int_equal(bk->op, IR_SLICE);
    assert_int_equal(bk->a.start, 2);
    assert_int_equal(bk->a.end, 6);
    const ir_node *tn = out_node(g, 2);
    assert_int_equal(tn->op, IR_MATMUL);
    assert_true(tn->a.tb);
    assert_int_equal(g->nodes[tn->in[1]].a.axis, 0);
    assert_int_equal(g->nodes[tn->in[1]].a.start, 1);
    assert_int_equal(out_node(g, 3)->op, IR_SLICE); /* kept whole */
    assert_int_equal(out_node(g, 5)->op, IR_SLICE); /* streamed */
    ir_graph_free(g);
}

static void test_canon_linear_through_identities(void **state) {
    (void)state;
    ir_graph *g = ir_graph_new("m");
    ir_ref x = input(g, "x", IR_F32, shp(2, 3, 5));
    ir_ref w = param(g, "w", shp(2, 5, 4));
    ir_ref b = param(g, "b", shp(1, 4));
    /* The matmul reaches the add through a reshape to the same shape and a
     * pair of transposes that cancel: each "uses" it until removed. */
    ir_ref m = matmul(g, x, w, false, false);
    ir_ref t = transpose(g, transpose(g, reshape(g, m, shp(2, 3, 4)), 2, 1, 0), 2, 1, 0);
    out(g, "y", op2(g, IR_ADD, t, b));
    check_preserves(&g, canon_dce, 2);
    assert_int_equal(out_node(g, 0)->op, IR_LINEAR);
    assert_int_equal(g->nnodes, 4);
    ir_graph_free(g);
}

static void test_canon_linear_negative(void **state) {
    (void)state;
    ir_graph *g = ir_graph_new("m");
    ir_ref x = input(g, "x", IR_F32, shp(2, 3, 5));
    ir_ref w = param(g, "w", shp(2, 5, 4));
    ir_ref b = param(g, "b", shp(1, 4));
    /* Used twice: the matmul must stay for its other user. */
    ir_ref m0 = matmul(g, x, w, false, false);
    out(g, "twice", op2(g, IR_ADD, m0, b));
    out(g, "other", op1(g, IR_EXP, m0));
    /* An output itself. */
    ir_ref m1 = matmul(g, x, w, false, false);
    out(g, "m1", m1);
    out(g, "m1b", op2(g, IR_ADD, m1, b));
    /* A full [M, N] bias is not a linear bias. */
    out(g, "full", op2(g, IR_ADD, matmul(g, x, w, false, false), param(g, "bm", shp(2, 3, 4))));
    /* [N] bias broadcast to [1, M, N] adds an axis. */
    out(g, "rank", op2(g, IR_ADD, matmul(g, x, w, false, false), param(g, "b3", shp(3, 1, 1, 4))));
    /* A bias of [1] broadcasts along the last axis, but is not [N]. */
    out(g, "one", op2(g, IR_ADD, matmul(g, x, w, false, false), param(g, "b1", shp(1, 1))));
    /* linear has no ta. */
    ir_ref xt = input(g, "xt", IR_F32, shp(2, 5, 3));
    out(g, "ta", op2(g, IR_ADD, matmul(g, xt, w, true, false), b));
    /* A vector result. */
    ir_ref v = input(g, "v", IR_F32, shp(1, 5));
    out(g, "vec", op2(g, IR_ADD, matmul(g, v, w, false, false), b));
    /* Not an add. */
    out(g, "sub", op2(g, IR_SUB, matmul(g, x, w, false, false), b));
    check_preserves(&g, canon_dce, 2);
    assert_int_equal(count(g, IR_LINEAR), 0);
    for (int k = 0; k < g->noutputs; k++) {
        ir_op op = out_node(g, k)->op;
        assert_true(op == IR_ADD || op == IR_SUB || op == IR_EXP || op == IR_MATMUL);
    }
    ir_graph_free(g);
}

static void test_canon_linear_vector_input(void **state) {
    (void)state;
    /* x[K] @ w[B, K, N] is [B, N]: 2-D, so it fuses. */
    ir_graph *g = ir_graph_new("m");
    ir_ref x = input(g, "x", IR_F32, shp(1, 5));
    ir_ref w = param(g, "w", shp(3, 2, 5, 4));
    out(g, "y", op2(g, IR_ADD, matmul(g, x, w, false, false), param(g, "b", shp(1, 4))));
    check_preserves(&g, canon_dce, 2);
    assert_int_equal(out_node(g, 0)->op, IR_LINEAR);
    ir_graph_free(g);
}

static void test_canon_identities(void **state) {
    (void)state;
    ir_graph *g = ir_graph_new("m");
    ir_ref x = input(g, "x", IR_F32, shp(2, 3, 4));
    out(g, "reshape", reshape(g, x, shp(2, 3, 4)));
    out(g, "transpose", transpose(g, x, 2, 0, 1));
    out(g, "slice", slice(g, x, 1, 0, 4));
    out(g, "cast", cast(g, x, IR_F32));
    out(g, "all",
        cast(g,
             slice(g, transpose(g, reshape(g, op1(g, IR_EXP, x), shp(2, 3, 4)), 2, 0, 1), 0, -3, 3),
             IR_F32));
    /* These do something and stay. */
    out(g, "reshape2", reshape(g, x, shp(2, 4, 3)));
    out(g, "slice2", slice(g, x, 1, 1, 4));
    out(g, "cast2", cast(g, x, IR_F16));
    check_preserves(&g, canon_dce, 2);
    for (int k = 0; k < 4; k++)
        assert_int_equal(g->outputs[k].ref, x);
    assert_int_equal(out_node(g, 4)->op, IR_EXP);
    assert_int_equal(out_node(g, 5)->op, IR_RESHAPE);
    assert_int_equal(out_node(g, 6)->op, IR_SLICE);
    assert_int_equal(out_node(g, 7)->op, IR_CAST);
    assert_int_equal(g->nnodes, 5);
    ir_graph_free(g);
}

static void test_canon_compose(void **state) {
    (void)state;
    ir_graph *g = ir_graph_new("m");
    ir_ref x = input(g, "x", IR_F32, shp(3, 2, 3, 4));
    /* (x.T[1,2,0]).T[0,2,1]: output axis k is x's axis q[p[k]]. */
    ir_ref t = transpose(g, transpose(g, x, 3, 1, 2, 0), 3, 0, 2, 1);
    out(g, "t", t);
    /* Three transposes that compose to the identity disappear. */
    out(g, "id", transpose(g, transpose(g, transpose(g, x, 3, 1, 2, 0), 3, 1, 2, 0), 3, 1, 2, 0));
    ir_ref r = reshape(g, reshape(g, reshape(g, x, shp(2, 6, 4)), shp(1, 24)), shp(2, 4, 6));
    out(g, "r", r);
    out(g, "rid", reshape(g, reshape(g, x, shp(1, 24)), shp(3, 2, 3, 4)));
    check_preserves(&g, canon_dce, 2);
    const ir_node *tn = out_node(g, 0);
    assert_int_equal(tn->op, IR_TRANSPOSE);
    assert_int_equal(tn->in[0], x);
    assert_int_equal(tn->a.perm[0], 1);
    assert_int_equal(tn->a.perm[1], 0);
    assert_int_equal(tn->a.perm[2], 2);
    assert_int_equal(g->outputs[1].ref, x);
    const ir_node *rn = out_node(g, 2);
    assert_int_equal(rn->op, IR_RESHAPE);
    assert_int_equal(rn->in[0], x);
    assert_int_equal(g->outputs[3].ref, x);
    assert_int_equal(count(g, IR_TRANSPOSE), 1);
    assert_int_equal(count(g, IR_RESHAPE), 1);
    ir_graph_free(g);
}

static void test_canon_shared_transpose_stays(void **state) {
    (void)state;
    /* A transpose with another user survives dce; the matmul reads past it. */
    ir_graph *g = ir_graph_new("m");
    ir_ref x = input(g, "x", IR_F32, shp(2, 3, 5));
    ir_ref w = input(g, "w", IR_F32, shp(2, 4, 5));
    ir_ref wt = transpose(g, w, 2, 1, 0);
    out(g, "y", matmul(g, x, wt, false, false));
    out(g, "wt", op1(g, IR_EXP, wt));
    check_preserves(&g, canon_dce, 2);
    assert_int_equal(out_node(g, 0)->in[1], w);
    assert_true(out_node(g, 0)->a.tb);
    assert_int_equal(count(g, IR_TRANSPOSE), 1);
    ir_graph_free(g);
}

static void test_canon_split_contraction_transpose(void **state) {
    (void)state;
    /* Attention's q @ transpose(k, [0, 2, 1]) with k split into heads by
     * transpose(.., [1, 0, 2]): the two compose to [1, 2, 0], which the
     * matmul splits back into the head transpose and tb. */
    ir_graph *g = ir_graph_new("m");
    ir_ref q = input(g, "q", IR_F32, shp(3, 2, 6, 4));
    ir_ref k = input(g, "k", IR_F32, shp(3, 6, 2, 4));
    ir_ref kh = transpose(g, k, 3, 1, 0, 2); /* [2, 6, 4] */
    out(g, "s", matmul(g, q, transpose(g, kh, 3, 0, 2, 1), false, false));
    /* The same through linear's weight. */
    ir_ref x = input(g, "x", IR_F32, shp(3, 2, 3, 5));
    ir_ref w = param(g, "w", shp(3, 4, 2, 5));
    ir_ref wt = transpose(g, transpose(g, w, 3, 1, 0, 2), 3, 0, 2, 1); /* [2, 5, 4] */
    out(g, "l", op2(g, IR_ADD, matmul(g, x, wt, false, false), param(g, "b", shp(1, 4))));
    /* A composed transpose with another user stays whole. */
    ir_ref k2 = input(g, "k2", IR_F32, shp(3, 6, 2, 4));
    ir_ref kt2 = transpose(g, transpose(g, k2, 3, 1, 0, 2), 3, 0, 2, 1);
    out(g, "s2", matmul(g, q, kt2, false, false));
    out(g, "kt2", kt2);
    check_preserves(&g, canon_dce, 2);
    const ir_node *m = out_node(g, 0);
    assert_int_equal(m->op, IR_MATMUL);
    assert_true(m->a.tb);
    const ir_node *t = &g->nodes[m->in[1]];
    assert_int_equal(t->op, IR_TRANSPOSE);
    assert_int_equal(t->in[0], k);
    assert_int_equal(t->a.perm[0], 1);
    assert_int_equal(t->a.perm[1], 0);
    assert_int_equal(t->a.perm[2], 2);
    const ir_node *l = out_node(g, 1);
    assert_int_equal(l->op, IR_LINEAR);
    assert_true(l->a.tb);
    assert_int_equal(g->nodes[l->in[1]].op, IR_TRANSPOSE);
    assert_int_equal(g->nodes[l->in[1]].a.perm[2], 2);
    const ir_node *m2 = out_node(g, 2);
    assert_false(m2->a.tb);
    assert_int_equal(m2->in[1], g->outputs[3].ref);
    assert_int_equal(g->nodes[m2->in[1]].a.perm[1], 2);
    assert_int_equal(count(g, IR_TRANSPOSE), 3);
    ir_graph_free(g);
}

/* -------------------------------------------------------------- pipeline */

/* A two-layer perceptron written the long way round. */
static ir_graph *mlp(void) {
    ir_graph *g = ir_graph_new("mlp");
    ir_ref x = input(g, "x", IR_F32, shp(2, 4, 8));
    input(g, "unused", IR_F32, shp(1, 3));
    ir_ref w1 = param(g, "w1", shp(2, 16, 8));
    ir_ref b1 = param(g, "b1", shp(1, 16));
    ir_ref w2 = param(g, "w2", shp(2, 16, 8));
    ir_ref h = op2(g, IR_ADD, matmul(g, x, transpose(g, w1, 2, 1, 0), false, false), b1);
    ir_ref two = ir_build_scalar(g, IR_F32, 2.0, IR_NOLOC);
    ir_ref half = op2(g, IR_DIV, ir_build_scalar(g, IR_F32, 1.0, IR_NOLOC), two);
    ir_ref a1 = op2(g, IR_MUL, op1(g, IR_RELU, h), half);
    ir_ref a2 = op2(g, IR_MUL, op1(g, IR_RELU, h), half); /* duplicate for cse */
    ir_ref s = op2(g, IR_ADD, a1, a2);
    ir_ref bias = op1(g, IR_NEG, cst(g, shp(2, 1, 8)));
    ir_ref y = op2(g, IR_ADD, matmul(g, s, w2, false, false), bias);
    out(g, "y", reshape(g, y, shp(2, 4, 8)));
    out(g, "h", h);
    return g;
}

static void test_pipeline_preserves(void **state) {
    (void)state;
    ir_graph *g = mlp();
    check_preserves(&g, all_passes, 5);
    /* h is an output, but its matmul is used only by the add: both fuse. */
    assert_int_equal(count(g, IR_LINEAR), 2);
    assert_int_equal(count(g, IR_RELU), 1);
    assert_int_equal(count(g, IR_TRANSPOSE), 0);
    assert_int_equal(count(g, IR_DIV), 0);
    assert_int_equal(count(g, IR_INPUT), 2);
    assert_int_equal(out_node(g, 0)->op, IR_LINEAR);
    ir_graph_free(g);

    g = mlp();
    ir_diag *d = ir_diag_new(NULL);
    pass_options o = {.verify = true};
    assert_true(pass_run_pipeline(&g, &o, d));
    assert_int_equal(ir_diag_errors(d), 0);
    assert_int_equal(count(g, IR_LINEAR), 2);
    ir_diag_free(d);
    ir_graph_free(g);
}

static char *run_with(const char *dump, const char *stop, ir_graph **gp) {
    FILE *f = tmpfile();
    assert_non_null(f);
    *gp = mlp();
    pass_options o = {.dump_after = dump, .stop_after = stop, .dump_out = f, .verify = true};
    ir_diag *d = ir_diag_new(NULL);
    assert_true(pass_run_pipeline(gp, &o, d));
    ir_diag_free(d);
    long n = ftell(f);
    rewind(f);
    char *text = calloc((size_t)n + 1, 1);
    assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return text;
}

static void test_pipeline_dump_and_stop(void **state) {
    (void)state;
    ir_graph *g;
    char *t = run_with("cse", NULL, &g);
    assert_true(strncmp(t, "// after cse\nmodel mlp\n", 23) == 0);
    assert_null(strstr(t, "// after dce"));
    assert_non_null(strstr(t, "linear"));
    free(t);
    ir_graph_free(g);

    t = run_with("all", NULL, &g);
    const char *at = t;
    for (int i = 0; i < pass_count; i++) {
        char marker[64];
        snprintf(marker, sizeof marker, "// after %s\n", pass_table[i].name);
        const char *p = strstr(at, marker);
        if (!p) fail_msg("missing \"%s\" in order", marker);
        at = p + 1;
    }
    free(t);
    ir_graph_free(g);

    /* Stopping after canonicalize: no cse or dce ran, so the absorbed
     * transpose is still in the graph and nothing more is printed. */
    t = run_with("all", "canonicalize", &g);
    assert_non_null(strstr(t, "// after canonicalize"));
    assert_null(strstr(t, "// after cse"));
    assert_int_equal(count(g, IR_TRANSPOSE), 1);
    assert_int_equal(count(g, IR_RELU), 2);
    free(t);
    ir_graph_free(g);

    t = run_with(NULL, "infer", &g);
    assert_string_equal(t, "");
    assert_int_equal(count(g, IR_DIV), 1);
    free(t);
    ir_graph_free(g);
}

/* A pass that breaks the graph the verifier checks. */
static bool break_graph(ir_graph **g, ir_diag *d) {
    (void)d;
    (*g)->nodes[(*g)->nnodes - 1].shape.d[0] += 1;
    return true;
}

static bool fail_pass(ir_graph **g, ir_diag *d) {
    (void)g;
    ir_error(d, IR_NOLOC, "internal error: synthetic");
    return false;
}

static void test_pipeline_verify_and_failure(void **state) {
    (void)state;
    const pass_info broken[] = {
        {"dce", pass_dce, ""}, {"breaker", break_graph, ""}, {"cse", pass_cse, ""}};
    ir_graph *g = mlp();
    ir_diag *d = ir_diag_new(NULL);
    pass_options o = {.verify = true};
    assert_false(pass_run_list(&g, broken, 3, &o, d));
    assert_non_null(strstr(ir_diag_text(d), "'breaker'"));
    ir_diag_free(d);
    ir_graph_free(g);

    /* Without verify the broken graph goes through unnoticed. */
    g = mlp();
    d = ir_diag_new(NULL);
    o.verify = false;
    assert_true(pass_run_list(&g, broken, 2, &o, d));
    ir_diag_free(d);
    ir_graph_free(g);

    const pass_info failing[] = {
        {"infer", pass_infer, ""}, {"oops", fail_pass, ""}, {"dce", pass_dce, ""}};
    g = mlp();
    d = ir_diag_new(NULL);
    assert_false(pass_run_list(&g, failing, 3, &o, d));
    assert_non_null(strstr(ir_diag_text(d), "'oops'"));
    ir_diag_free(d);
    ir_graph_free(g);
}

static char *print_to_string(const ir_graph *g) {
    FILE *f = tmpfile();
    assert_non_null(f);
    ir_print(g, f);
    long n = ftell(f);
    rewind(f);
    char *text = calloc((size_t)n + 1, 1);
    assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return text;
}

static void test_pipeline_fixed_point(void **state) {
    (void)state;
    ir_graph *g = mlp();
    /* An identity reshape hides a constant too large to fold as a reshape
     * from a sum that is small enough: canonicalize must run before
     * constfold for the sum to fold in one pipeline run. */
    ir_ref big = cst(g, shp(2, 300, 300));
    ir_ref sum = build(g, IR_REDUCE_SUM, (ir_ref[]){reshape(g, big, shp(2, 300, 300))}, 1,
                       &(ir_attrs){.axes = 1u});
    out(g, "sum", sum);
    /* A constant [1, N] bias is reshaped by the fusion, then folded. */
    ir_ref x = input(g, "x2", IR_F32, shp(2, 3, 5));
    out(g, "lin",
        op2(g, IR_ADD, matmul(g, x, param(g, "w5", shp(2, 5, 4)), false, false),
            cst(g, shp(2, 1, 4))));
    ir_diag *d = ir_diag_new(NULL);
    pass_options o = {.verify = true};
    assert_true(pass_run_pipeline(&g, &o, d));
    assert_int_equal(out_node(g, 2)->op, IR_CONST);
    const ir_node *lin = out_node(g, 3);
    assert_int_equal(lin->op, IR_LINEAR);
    assert_int_equal(g->nodes[lin->in[2]].op, IR_CONST);
    assert_int_equal(count(g, IR_RESHAPE), 0);
    char *once = print_to_string(g);
    assert_true(pass_run_pipeline(&g, &o, d));
    char *twice = print_to_string(g);
    assert_string_equal(once, twice);
    assert_int_equal(ir_diag_errors(d), 0);
    free(once);
    free(twice);
    ir_diag_free(d);
    ir_graph_free(g);
}

/* ------------------------------------------------------- random graphs */

static int irand(int n) {
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (int)((rng_state >> 33) % (uint64_t)n);
}

static ir_shape rand_shape(void) {
    ir_shape s = {irand(3) + 1, {0}};
    for (int k = 0; k < s.rank; k++)
        s.d[k] = irand(3) + 1;
    return s;
}

/* An f32 node of g picked at random (the graph has one at least). */
static ir_ref pick(const ir_graph *g) {
    for (;;) {
        ir_ref r = irand(g->nnodes);
        if (g->nodes[r].dtype == IR_F32) return r;
    }
}

/* Adds one random node; ops whose type rule rejects the random operands
 * are simply not added. */
static void grow(ir_graph *g, int *nparams) {
    ir_err e;
    ir_attrs a = {0};
    ir_ref x = pick(g), y = pick(g);
    if (g->nodes[x].shape.rank == 0) x = 0; /* input x: the rules below want an axis */
    const ir_node *xn = &g->nodes[x];
    int r = xn->shape.rank;
    char name[16];
    switch (irand(12)) {
    case 0: cst(g, rand_shape()); break;
    case 1: op1(g, (ir_op[]){IR_EXP, IR_NEG, IR_TANH, IR_RELU}[irand(4)], x); break;
    case 2:
        ir_build(g, (ir_op[]){IR_ADD, IR_MUL, IR_SUB}[irand(3)], (ir_ref[]){x, y}, 2, NULL,
                 IR_NOLOC, &e);
        break;
    case 3: {
        /* A random permutation, often the swap of the last two axes. */
        for (int k = 0; k < r; k++)
            a.perm[k] = (int8_t)k;
        for (int k = r - 1; k > 0; k--) {
            int j = irand(k + 1);
            int8_t t = a.perm[k];
            a.perm[k] = a.perm[j];
            a.perm[j] = t;
        }
        if (r >= 2 && irand(2)) {
            for (int k = 0; k < r; k++)
                a.perm[k] = (int8_t)k;
            a.perm[r - 2] = (int8_t)(r - 1);
            a.perm[r - 1] = (int8_t)(r - 2);
        }
        ir_build(g, IR_TRANSPOSE, &x, 1, &a, IR_NOLOC, &e);
        break;
    }
    case 4: {
        /* To the same shape, or to the dims reversed. */
        a.shape.rank = r;
        for (int k = 0; k < r; k++)
            a.shape.d[k] = xn->shape.d[irand(2) ? k : r - 1 - k];
        ir_build(g, IR_RESHAPE, &x, 1, &a, IR_NOLOC, &e);
        break;
    }
    case 5:
        a.axis = irand(r);
        a.start = irand(2);
        a.end = 3;
        ir_build(g, IR_SLICE, &x, 1, &a, IR_NOLOC, &e);
        break;
    case 6:
        a.dtype = IR_F32;
        ir_build(g, IR_CAST, &x, 1, &a, IR_NOLOC, &e);
        break;
    case 7:
        a.ta = irand(4) == 0;
        a.tb = irand(3) == 0;
        ir_build(g, IR_MATMUL, (ir_ref[]){x, y}, 2, &a, IR_NOLOC, &e);
        break;
    case 8: {
        /* x @ w + b, the weight sometimes transposed, the bias [N] or [1, N]. */
        int64_t kdim = xn->shape.d[r - 1], n = irand(3) + 1;
        bool tw = irand(2);
        snprintf(name, sizeof name, "w%d", (*nparams)++);
        ir_ref w = param(g, name, tw ? shp(2, (int)n, (int)kdim) : shp(2, (int)kdim, (int)n));
        if (tw) w = transpose(g, w, 2, 1, 0);
        ir_ref m = matmul(g, x, w, false, false);
        snprintf(name, sizeof name, "b%d", (*nparams)++);
        ir_ref b = irand(2) ? param(g, name, shp(1, (int)n)) : cst(g, shp(2, 1, (int)n));
        bool swap = irand(2);
        op2(g, IR_ADD, swap ? b : m, swap ? m : b);
        break;
    }
    case 9: {
        /* An exact duplicate of an existing node, for cse. */
        const ir_node *d = &g->nodes[x];
        if (ir_ops[d->op].kind != IR_K_SOURCE)
            ir_build(g, d->op, d->in, d->nin, &d->a, IR_NOLOC, &e);
        break;
    }
    case 10: softmax(g, x, -1); break;
    default:
        a.axes = 1u << irand(r);
        a.keepdims = irand(2);
        ir_build(g, IR_REDUCE_SUM, &x, 1, &a, IR_NOLOC, &e);
        break;
    }
}

static void test_random_graphs(void **state) {
    (void)state;
    for (int iter = 0; iter < 300; iter++) {
        ir_graph *g = ir_graph_new("rand");
        int nparams = 0;
        input(g, "x", IR_F32, rand_shape());
        input(g, "y", IR_F32, rand_shape());
        if (irand(2)) cst(g, rand_shape());
        int n = 5 + irand(40);
        for (int k = 0; k < n; k++)
            grow(g, &nparams);
        int nout = 1 + irand(3);
        for (int k = 0; k < nout; k++)
            out(g, k == 0 ? "o0" : k == 1 ? "o1" : "o2", k == 0 ? g->nnodes - 1 : irand(g->nnodes));
        check_preserves(&g, all_passes, 5);
        /* The result is a fixed point of the pipeline. */
        char *once = print_to_string(g);
        ir_diag *d = ir_diag_new(NULL);
        pass_options o = {.verify = true};
        assert_true(pass_run_pipeline(&g, &o, d));
        ir_diag_free(d);
        char *twice = print_to_string(g);
        if (strcmp(once, twice) != 0) fail_msg("not a fixed point:\n%s\n---\n%s", once, twice);
        free(once);
        free(twice);
        ir_graph_free(g);
    }
}

/* ----------------------------------------------------------------- scale */

static void test_large_graph(void **state) {
    (void)state;
    /* Long chains in every pass: quadratic work or recursion proportional
     * to the graph would show here. */
#ifndef BIG_N
#define BIG_N 50000 /* -DBIG_N=250000 for a graph of over a million nodes */
#endif
    enum { N = BIG_N };
    ir_graph *g = ir_graph_new("big");
    ir_ref x = input(g, "x", IR_F32, shp(2, 2, 3));
    ir_ref c = cst(g, shp(1, 3));
    ir_ref a = x, b = x;
    for (int i = 0; i < N; i++) {
        a = op1(g, IR_NEG, a);
        b = op1(g, IR_NEG, b);                 /* cse merges the second chain into the first */
        c = op1(g, IR_EXP, op1(g, IR_NEG, c)); /* constfold folds this chain */
    }
    ir_ref t = x;
    for (int i = 0; i < N; i++)
        t = transpose(g, t, 2, 1, 0); /* canonicalize: identity */
    out(g, "y", op2(g, IR_ADD, op2(g, IR_ADD, a, b), c));
    out(g, "t", t);
    ir_diag *d = ir_diag_new(NULL);
    pass_options o = {.verify = true};
    assert_true(pass_run_pipeline(&g, &o, d));
    ir_diag_free(d);
    assert_int_equal(count(g, IR_TRANSPOSE), 0);
    assert_int_equal(count(g, IR_NEG), N);
    assert_int_equal(count(g, IR_EXP), 0);
    assert_int_equal(g->nnodes, N + 4);
    assert_int_equal(g->outputs[1].ref, 0);
    ir_graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_infer_accepts_builder_graph),
        cmocka_unit_test(test_infer_catches_wrong_type),
        cmocka_unit_test(test_constfold_folds_chains),
        cmocka_unit_test(test_constfold_leaves_params_inputs_and_big),
        cmocka_unit_test(test_constfold_keeps_runtime_errors),
        cmocka_unit_test(test_constfold_preserves_results),
        cmocka_unit_test(test_cse_merges_duplicates),
        cmocka_unit_test(test_cse_constants_and_sources),
        cmocka_unit_test(test_dce_keeps_inputs),
        cmocka_unit_test(test_canon_transpose_into_matmul),
        cmocka_unit_test(test_canon_transposed_matmul_toggles),
        cmocka_unit_test(test_canon_linear_fusion),
        cmocka_unit_test(test_canon_column_split),
        cmocka_unit_test(test_canon_linear_through_identities),
        cmocka_unit_test(test_canon_linear_negative),
        cmocka_unit_test(test_canon_linear_vector_input),
        cmocka_unit_test(test_canon_identities),
        cmocka_unit_test(test_canon_compose),
        cmocka_unit_test(test_canon_shared_transpose_stays),
        cmocka_unit_test(test_canon_split_contraction_transpose),
        cmocka_unit_test(test_pipeline_preserves),
        cmocka_unit_test(test_pipeline_dump_and_stop),
        cmocka_unit_test(test_pipeline_verify_and_failure),
        cmocka_unit_test(test_pipeline_fixed_point),
        cmocka_unit_test(test_random_graphs),
        cmocka_unit_test(test_large_graph),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
