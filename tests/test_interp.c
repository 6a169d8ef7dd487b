/* test_interp.c - the reference interpreter: every op's kernel against values
 * from PyTorch (tests/data/interp/torch_ref.h, written by gen.py) or worked
 * out by hand, plus the driver: sources, views, output aliasing, run-time
 * errors, dead code and independence from the thread count. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ir.h"

#include "data/interp/torch_ref.h"

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

static const char *const input_names[] = {"x0", "x1", "x2", "x3"};

static ir_ref input(ir_graph *g, const char *name, ir_dtype t, ir_shape s) {
    ir_node n = {0};
    n.op = IR_INPUT;
    n.dtype = t;
    n.shape = s;
    n.name = name;
    n.loc = IR_NOLOC;
    return ir_graph_add(g, &n, NULL, 0);
}

static ir_ref build(ir_graph *g, ir_op op, const ir_ref *in, int nin, const ir_attrs *a) {
    ir_err e;
    ir_ref r = ir_build(g, op, in, nin, a, IR_NOLOC, &e);
    if (r == IR_NONE) fail_msg("ir_build(%s): %s", ir_ops[op].name, e.msg);
    return r;
}

static ir_ref op2(ir_graph *g, ir_op op, ir_ref a, ir_ref b) {
    ir_ref in[2] = {a, b};
    return build(g, op, in, 2, NULL);
}

static ir_tensor *tensor_f(ir_dtype t, ir_shape s, const float *v) {
    ir_tensor *x = ir_tensor_new(t, &s);
    assert_non_null(x);
    memcpy(x->data, v, ir_tensor_bytes(x));
    return x;
}

static ir_tensor *tensor_i(ir_shape s, const int32_t *v) {
    ir_tensor *x = ir_tensor_new(IR_I32, &s);
    assert_non_null(x);
    memcpy(x->data, v, ir_tensor_bytes(x));
    return x;
}

static ir_tensor *tensor_b(ir_shape s, const uint8_t *v) {
    ir_tensor *x = ir_tensor_new(IR_BOOL, &s);
    assert_non_null(x);
    memcpy(x->data, v, ir_tensor_bytes(x));
    return x;
}

/* A fixture array of torch_ref.h as a tensor of dtype t. */
#define REF(t, name)    tensor_f(t, ir_shape_make(name##_RANK, name##_SHAPE), name)
#define REF_SHAPE(name) ir_shape_make(name##_RANK, name##_SHAPE)

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static float frand(void) {
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((double)(rng_state >> 40) / (double)(1ULL << 24) * 2.0 - 1.0);
}

static ir_tensor *rand_tensor(ir_shape s) {
    ir_tensor *x = ir_tensor_new(IR_F32, &s);
    assert_non_null(x);
    float *p = x->data;
    for (int64_t i = 0; i < ir_shape_numel(&s); i++)
        p[i] = frand();
    return x;
}

/* Builds a graph with one input per operand feeding one node of op, runs it
 * with ir_eval on nthreads threads, checks that ir_eval_node on the same
 * operands gives the same bytes, and returns the output (the caller frees). */
static ir_tensor *run_op(ir_op op, const ir_attrs *a, int nin, ir_tensor **in, int nthreads) {
    ir_graph *g = ir_graph_new("t");
    ir_ref refs[4];
    assert_true(nin <= 4);
    for (int k = 0; k < nin; k++)
        refs[k] = input(g, input_names[k], in[k]->dtype, in[k]->shape);
    ir_ref r = build(g, op, refs, nin, a);
    ir_graph_add_output(g, "y", r, IR_NOLOC);
    ir_diag *d = ir_diag_new(NULL);
    ir_tensor *out[1] = {NULL};
    if (ir_eval(g, in, out, nthreads, d) != 0) fail_msg("ir_eval: %s", ir_diag_text(d));
    assert_non_null(out[0]);
    assert_int_equal(out[0]->dtype, g->nodes[r].dtype);
    assert_true(ir_shape_eq(&out[0]->shape, &g->nodes[r].shape));
    ir_tensor *alone = ir_eval_node(g, &g->nodes[r], in, nthreads, d);
    assert_non_null(alone);
    assert_int_equal(alone->dtype, out[0]->dtype);
    assert_true(ir_shape_eq(&alone->shape, &out[0]->shape));
    assert_memory_equal(alone->data, out[0]->data, ir_tensor_bytes(out[0]));
    ir_tensor_free(alone);
    assert_int_equal(ir_diag_errors(d), 0);
    ir_diag_free(d);
    ir_graph_free(g);
    return out[0];
}

static ir_tensor *run1(ir_op op, const ir_attrs *a, ir_tensor *x) {
    ir_tensor *in[1] = {x};
    ir_tensor *y = run_op(op, a, 1, in, 1);
    ir_tensor_free(x);
    return y;
}

static ir_tensor *run2(ir_op op, const ir_attrs *a, ir_tensor *x, ir_tensor *z) {
    ir_tensor *in[2] = {x, z};
    ir_tensor *y = run_op(op, a, 2, in, 1);
    ir_tensor_free(x);
    ir_tensor_free(z);
    return y;
}

static ir_tensor *run3(ir_op op, const ir_attrs *a, ir_tensor *x, ir_tensor *z, ir_tensor *w) {
    ir_tensor *in[3] = {x, z, w};
    ir_tensor *y = run_op(op, a, 3, in, 1);
    ir_tensor_free(x);
    ir_tensor_free(z);
    ir_tensor_free(w);
    return y;
}

static void expect_shape(const ir_tensor *got, ir_shape want) {
    char b1[128], b2[128];
    if (!ir_shape_eq(&got->shape, &want))
        fail_msg("shape %s, want %s", ir_shape_str(&got->shape, b1, sizeof b1),
                 ir_shape_str(&want, b2, sizeof b2));
}

/* |got - want| <= atol + rtol |want| element by element; NaN and infinities
 * must match exactly. */
static void expect_close(const ir_tensor *got, ir_shape shape, const float *want, double rtol,
                         double atol, const char *what) {
    expect_shape(got, shape);
    assert_true(ir_dtype_is_float(got->dtype));
    const float *p = got->data;
    for (int64_t i = 0; i < ir_shape_numel(&shape); i++) {
        double g = p[i], w = want[i];
        bool ok;
        if (isnan(w))
            ok = isnan(g);
        else if (isinf(w))
            ok = g == w;
        else
            ok = fabs(g - w) <= atol + rtol * fabs(w);
        if (!ok) fail_msg("%s: element %lld is %.9g, want %.9g", what, (long long)i, g, w);
    }
}

static void expect_equal_f(const ir_tensor *got, ir_shape shape, const float *want,
                           const char *what) {
    expect_close(got, shape, want, 0, 0, what);
}

/* One unit in the last place of dtype t at w. */
static double ulp(ir_dtype t, double w) {
    int e;
    frexp(w, &e); /* |w| in [2^(e-1), 2^e) */
    int mant = t == IR_F16 ? 11 : t == IR_BF16 ? 8 : 24;
    int emin = t == IR_F16 ? -14 : -126;
    if (e - 1 < emin) e = emin + 1;
    return ldexp(1.0, e - mant);
}

/* An f16/bf16 result must hold values of its dtype and be within one unit
 * of the dtype of want (a library's float result may sit on the other side
 * of a rounding boundary). */
static void expect_ulp(const ir_tensor *got, ir_shape shape, const float *want, const char *what) {
    expect_shape(got, shape);
    const float *p = got->data;
    for (int64_t i = 0; i < ir_shape_numel(&shape); i++) {
        float g = p[i];
        float r = got->dtype == IR_F16 ? ir_round_f16(g) : ir_round_bf16(g);
        if (!(r == g || (isnan(r) && isnan(g))))
            fail_msg("%s: element %lld (%.9g) is not a %s value", what, (long long)i, g,
                     ir_dtype_name(got->dtype));
        double w = want[i];
        bool ok = isnan(w) ? isnan(g) : isinf(w) ? g == w : fabs(g - w) <= ulp(got->dtype, w);
        if (!ok) fail_msg("%s: element %lld is %.9g, want %.9g", what, (long long)i, g, w);
    }
}

static void expect_i32(const ir_tensor *got, ir_shape shape, const int32_t *want,
                       const char *what) {
    expect_shape(got, shape);
    assert_int_equal(got->dtype, IR_I32);
    const int32_t *p = got->data;
    for (int64_t i = 0; i < ir_shape_numel(&shape); i++)
        if (p[i] != want[i])
            fail_msg("%s: element %lld is %d, want %d", what, (long long)i, p[i], want[i]);
}

static void expect_bool(const ir_tensor *got, ir_shape shape, const uint8_t *want,
                        const char *what) {
    expect_shape(got, shape);
    assert_int_equal(got->dtype, IR_BOOL);
    const uint8_t *p = got->data;
    for (int64_t i = 0; i < ir_shape_numel(&shape); i++)
        if (p[i] != want[i])
            fail_msg("%s: element %lld is %d, want %d", what, (long long)i, p[i], want[i]);
}

/* ------------------------------------------------------------ elementwise */

static const struct {
    ir_op op;          /* the op */
    bool approx;       /* gelu's tanh form */
    const float *f32;  /* torch in float64 on U_F32_X, rounded to f32 */
    const float *f32t; /* torch in float32 on U_F32_X */
    const float *f16;  /* torch in float64 on U_F16_X, rounded to f16 */
    const float *bf16; /* torch in float64 on U_BF16_X, rounded to bf16 */
} unary_cases[] = {
    {IR_NEG, false, U_F32_NEG, U_F32T_NEG, U_F16_NEG, U_BF16_NEG},
    {IR_ABS, false, U_F32_ABS, U_F32T_ABS, U_F16_ABS, U_BF16_ABS},
    {IR_EXP, false, U_F32_EXP, U_F32T_EXP, U_F16_EXP, U_BF16_EXP},
    {IR_LOG, false, U_F32_LOG, U_F32T_LOG, U_F16_LOG, U_BF16_LOG},
    {IR_SQRT, false, U_F32_SQRT, U_F32T_SQRT, U_F16_SQRT, U_BF16_SQRT},
    {IR_RSQRT, false, U_F32_RSQRT, U_F32T_RSQRT, U_F16_RSQRT, U_BF16_RSQRT},
    {IR_SIN, false, U_F32_SIN, U_F32T_SIN, U_F16_SIN, U_BF16_SIN},
    {IR_COS, false, U_F32_COS, U_F32T_COS, U_F16_COS, U_BF16_COS},
    {IR_TANH, false, U_F32_TANH, U_F32T_TANH, U_F16_TANH, U_BF16_TANH},
    {IR_ERF, false, U_F32_ERF, U_F32T_ERF, U_F16_ERF, U_BF16_ERF},
    {IR_SIGMOID, false, U_F32_SIGMOID, U_F32T_SIGMOID, U_F16_SIGMOID, U_BF16_SIGMOID},
    {IR_RELU, false, U_F32_RELU, U_F32T_RELU, U_F16_RELU, U_BF16_RELU},
    {IR_SILU, false, U_F32_SILU, U_F32T_SILU, U_F16_SILU, U_BF16_SILU},
    {IR_GELU, false, U_F32_GELU, U_F32T_GELU, U_F16_GELU, U_BF16_GELU},
    {IR_GELU, true, U_F32_GELU_TANH, U_F32T_GELU_TANH, U_F16_GELU_TANH, U_BF16_GELU_TANH},
};

static void test_unary(void **state) {
    for (size_t c = 0; c < sizeof unary_cases / sizeof unary_cases[0]; c++) {
        ir_attrs a = {0};
        a.approx_tanh = unary_cases[c].approx;
        const char *name = ir_ops[unary_cases[c].op].name, *form = a.approx_tanh ? " tanh" : "";
        char what[64];
        snprintf(what, sizeof what, "%s%s f32", name, form);
        /* Within a float ulp of the exact value, and within the spec's
         * tolerance of PyTorch's float32 result. */
        ir_tensor *y = run1(unary_cases[c].op, &a, REF(IR_F32, U_F32_X));
        expect_close(y, REF_SHAPE(U_F32_X), unary_cases[c].f32, 1.2e-7, 0, what);
        expect_close(y, REF_SHAPE(U_F32_X), unary_cases[c].f32t, 1e-3, 1e-4, what);
        ir_tensor_free(y);
        snprintf(what, sizeof what, "%s%s f16", name, form);
        y = run1(unary_cases[c].op, &a, REF(IR_F16, U_F16_X));
        assert_int_equal(y->dtype, IR_F16);
        expect_ulp(y, REF_SHAPE(U_F16_X), unary_cases[c].f16, what);
        ir_tensor_free(y);
        snprintf(what, sizeof what, "%s%s bf16", name, form);
        y = run1(unary_cases[c].op, &a, REF(IR_BF16, U_BF16_X));
        assert_int_equal(y->dtype, IR_BF16);
        expect_ulp(y, REF_SHAPE(U_BF16_X), unary_cases[c].bf16, what);
        ir_tensor_free(y);
    }
}

/* Spot values worked out by hand, so the table above cannot hide a formula
 * wrong in both places. */
static void test_unary_by_hand(void **state) {
    float x[] = {-1.0f, 0.0f, 2.0f, -INFINITY};
    ir_tensor *y = run1(IR_SIGMOID, NULL, tensor_f(IR_F32, shp(1, 4), x));
    float sig[] = {0.268941421f, 0.5f, 0.880797078f, 0.0f};
    expect_close(y, shp(1, 4), sig, 1e-7, 0, "sigmoid");
    ir_tensor_free(y);
    y = run1(IR_RELU, NULL, tensor_f(IR_F32, shp(1, 4), x));
    float relu[] = {0, 0, 2, 0};
    expect_equal_f(y, shp(1, 4), relu, "relu");
    ir_tensor_free(y);
    float r[] = {4.0f, 0.25f, 0.0f};
    y = run1(IR_RSQRT, NULL, tensor_f(IR_F32, shp(1, 3), r));
    float rs[] = {0.5f, 2.0f, INFINITY};
    expect_equal_f(y, shp(1, 3), rs, "rsqrt");
    ir_tensor_free(y);
    /* gelu(1) = 0.5 (1 + erf(1/sqrt 2)) = 0.841344746; the tanh form 0.841191990 */
    float one[] = {1.0f};
    y = run1(IR_GELU, NULL, tensor_f(IR_F32, shp(1, 1), one));
    expect_close(y, shp(1, 1), (float[]){0.841344746f}, 1e-7, 0, "gelu(1)");
    ir_tensor_free(y);
    ir_attrs a = {0};
    a.approx_tanh = true;
    y = run1(IR_GELU, &a, tensor_f(IR_F32, shp(1, 1), one));
    expect_close(y, shp(1, 1), (float[]){0.841191990f}, 1e-7, 0, "gelu tanh(1)");
    ir_tensor_free(y);
}

static const struct {
    ir_op op;          /* the op */
    const float *want; /* torch on B_A, B_B */
} binary_cases[] = {
    {IR_ADD, B_F32_ADD},         {IR_SUB, B_F32_SUB}, {IR_MUL, B_F32_MUL},
    {IR_DIV, B_F32_DIV},         {IR_POW, B_F32_POW}, {IR_MAXIMUM, B_F32_MAXIMUM},
    {IR_MINIMUM, B_F32_MINIMUM},
};

static void test_binary_broadcast(void **state) {
    for (size_t c = 0; c < sizeof binary_cases / sizeof binary_cases[0]; c++) {
        ir_tensor *y = run2(binary_cases[c].op, NULL, REF(IR_F32, B_A), REF(IR_F32, B_B));
        expect_close(y, shp(3, 2, 3, 4), binary_cases[c].want, 1.2e-7, 0,
                     ir_ops[binary_cases[c].op].name);
        ir_tensor_free(y);
        /* Operands swapped: the broadcast walk must not depend on which
         * operand is the larger. */
        if (binary_cases[c].op == IR_ADD || binary_cases[c].op == IR_MUL) {
            y = run2(binary_cases[c].op, NULL, REF(IR_F32, B_B), REF(IR_F32, B_A));
            expect_close(y, shp(3, 2, 3, 4), binary_cases[c].want, 1.2e-7, 0, "swapped");
            ir_tensor_free(y);
        }
    }
    /* A scalar with a matrix, and [3, 1] with [1, 4]. */
    float m[] = {1, 2, 3, 4, 5, 6};
    ir_tensor *y = run2(IR_SUB, NULL, tensor_f(IR_F32, shp(0), (float[]){10}),
                        tensor_f(IR_F32, shp(2, 2, 3), m));
    expect_equal_f(y, shp(2, 2, 3), (float[]){9, 8, 7, 6, 5, 4}, "scalar - matrix");
    ir_tensor_free(y);
    y = run2(IR_MUL, NULL, tensor_f(IR_F32, shp(2, 3, 1), (float[]){1, 2, 3}),
             tensor_f(IR_F32, shp(2, 1, 4), (float[]){1, 10, 100, 1000}));
    float outer[] = {1, 10, 100, 1000, 2, 20, 200, 2000, 3, 30, 300, 3000};
    expect_equal_f(y, shp(2, 3, 4), outer, "outer product");
    ir_tensor_free(y);
    /* maximum and minimum propagate NaN like torch.maximum */
    float a[] = {NAN, 1, 2}, b[] = {1, NAN, -2};
    y = run2(IR_MAXIMUM, NULL, tensor_f(IR_F32, shp(1, 3), a), tensor_f(IR_F32, shp(1, 3), b));
    expect_equal_f(y, shp(1, 3), (float[]){NAN, NAN, 2}, "maximum NaN");
    ir_tensor_free(y);
    y = run2(IR_MINIMUM, NULL, tensor_f(IR_F32, shp(1, 3), a), tensor_f(IR_F32, shp(1, 3), b));
    expect_equal_f(y, shp(1, 3), (float[]){NAN, NAN, -2}, "minimum NaN");
    ir_tensor_free(y);
}

static void test_binary_half(void **state) {
    static const struct {
        ir_op op;                /* the op */
        const float *f16, *bf16; /* torch results */
    } cases[] = {
        {IR_ADD, BH_F16_ADD, BH_BF16_ADD},
        {IR_SUB, BH_F16_SUB, BH_BF16_SUB},
        {IR_MUL, BH_F16_MUL, BH_BF16_MUL},
        {IR_DIV, BH_F16_DIV, BH_BF16_DIV},
        {IR_MAXIMUM, BH_F16_MAXIMUM, BH_BF16_MAXIMUM},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        /* One rounding of the exact float result: bit-exact. */
        ir_tensor *y = run2(cases[c].op, NULL, REF(IR_F16, BH_F16_A), REF(IR_F16, BH_F16_B));
        assert_int_equal(y->dtype, IR_F16);
        expect_equal_f(y, REF_SHAPE(BH_F16_A), cases[c].f16, ir_ops[cases[c].op].name);
        ir_tensor_free(y);
        y = run2(cases[c].op, NULL, REF(IR_BF16, BH_BF16_A), REF(IR_BF16, BH_BF16_B));
        assert_int_equal(y->dtype, IR_BF16);
        expect_equal_f(y, REF_SHAPE(BH_BF16_A), cases[c].bf16, ir_ops[cases[c].op].name);
        ir_tensor_free(y);
    }
    /* pow of |a|: a negative base with a fractional exponent is NaN */
    ir_tensor *a = REF(IR_F16, BH_F16_A), *b = REF(IR_BF16, BH_BF16_A);
    for (int i = 0; i < 16; i++) {
        ((float *)a->data)[i] = fabsf(((float *)a->data)[i]);
        ((float *)b->data)[i] = fabsf(((float *)b->data)[i]);
    }
    ir_tensor *y = run2(IR_POW, NULL, a, REF(IR_F16, BH_F16_B));
    expect_ulp(y, REF_SHAPE(BH_F16_A), BH_F16_POW, "pow f16");
    ir_tensor_free(y);
    y = run2(IR_POW, NULL, b, REF(IR_BF16, BH_BF16_B));
    expect_ulp(y, REF_SHAPE(BH_BF16_A), BH_BF16_POW, "pow bf16");
    ir_tensor_free(y);
    /* 1 + 2^-11 is a tie in f16: it rounds to even, 1 */
    y = run2(IR_ADD, NULL, tensor_f(IR_F16, shp(1, 2), (float[]){1, 1}),
             tensor_f(IR_F16, shp(1, 2), (float[]){0x1p-11f, 0x1.8p-11f}));
    expect_equal_f(y, shp(1, 2), (float[]){1, 1 + 0x1p-10f}, "f16 ties");
    ir_tensor_free(y);
}

static void test_i32(void **state) {
    const int32_t a[] = {INT32_MAX, INT32_MIN, 7, -8}, b[] = {1, -1, -3, 5};
    static const struct {
        ir_op op;        /* the op */
        int32_t want[4]; /* two's complement results */
    } cases[] = {
        {IR_ADD, {INT32_MIN, INT32_MAX, 4, -3}},
        {IR_SUB, {INT32_MAX - 1, INT32_MIN + 1, 10, -13}},
        {IR_MUL, {INT32_MAX, INT32_MIN, -21, -40}},
        {IR_MAXIMUM, {INT32_MAX, -1, 7, 5}},
        {IR_MINIMUM, {1, INT32_MIN, -3, -8}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        ir_tensor *y = run2(cases[c].op, NULL, tensor_i(shp(1, 4), a), tensor_i(shp(1, 4), b));
        expect_i32(y, shp(1, 4), cases[c].want, ir_ops[cases[c].op].name);
        ir_tensor_free(y);
    }
    ir_tensor *y = run1(IR_NEG, NULL, tensor_i(shp(1, 4), a));
    expect_i32(y, shp(1, 4), (int32_t[]){-INT32_MAX, INT32_MIN, -7, 8}, "neg");
    ir_tensor_free(y);
    y = run1(IR_ABS, NULL, tensor_i(shp(1, 4), a));
    expect_i32(y, shp(1, 4), (int32_t[]){INT32_MAX, INT32_MIN, 7, 8}, "abs");
    ir_tensor_free(y);
    y = run2(IR_ADD, NULL, tensor_i(shp(2, 2, 1), (int32_t[]){1, 2}),
             tensor_i(shp(1, 3), (int32_t[]){10, 20, 30}));
    expect_i32(y, shp(2, 2, 3), (int32_t[]){11, 21, 31, 12, 22, 32}, "broadcast add");
    ir_tensor_free(y);
    y = run2(IR_LESS, NULL, tensor_i(shp(1, 4), a), tensor_i(shp(1, 4), b));
    expect_bool(y, shp(1, 4), (uint8_t[]){0, 1, 0, 1}, "less");
    ir_tensor_free(y);
    y = run2(IR_GREATER, NULL, tensor_i(shp(1, 4), a), tensor_i(shp(0), (int32_t[]){7}));
    expect_bool(y, shp(1, 4), (uint8_t[]){1, 0, 0, 0}, "greater");
    ir_tensor_free(y);
    y = run2(IR_EQUAL, NULL, tensor_i(shp(1, 4), a), tensor_i(shp(0), (int32_t[]){7}));
    expect_bool(y, shp(1, 4), (uint8_t[]){0, 0, 1, 0}, "equal");
    ir_tensor_free(y);
}

static void test_compare_and_where(void **state) {
    float a[] = {1, NAN, 3, -0.0f}, b[] = {2, NAN, 3, 0.0f};
    ir_tensor *y =
        run2(IR_LESS, NULL, tensor_f(IR_F32, shp(1, 4), a), tensor_f(IR_F32, shp(1, 4), b));
    expect_bool(y, shp(1, 4), (uint8_t[]){1, 0, 0, 0}, "less");
    ir_tensor_free(y);
    y = run2(IR_GREATER, NULL, tensor_f(IR_F32, shp(1, 4), b), tensor_f(IR_F32, shp(1, 4), a));
    expect_bool(y, shp(1, 4), (uint8_t[]){1, 0, 0, 0}, "greater");
    ir_tensor_free(y);
    y = run2(IR_EQUAL, NULL, tensor_f(IR_F32, shp(1, 4), a), tensor_f(IR_F32, shp(1, 4), b));
    expect_bool(y, shp(1, 4), (uint8_t[]){0, 0, 1, 1}, "equal (NaN never, -0 == 0)");
    ir_tensor_free(y);
    y = run2(IR_EQUAL, NULL, tensor_b(shp(1, 4), (uint8_t[]){1, 0, 1, 0}),
             tensor_b(shp(1, 4), (uint8_t[]){1, 1, 0, 0}));
    expect_bool(y, shp(1, 4), (uint8_t[]){1, 0, 0, 1}, "bool equal");
    ir_tensor_free(y);
    /* where broadcasts all three: cond [2, 1], a [3], b scalar */
    y = run3(IR_WHERE, NULL, tensor_b(shp(2, 2, 1), (uint8_t[]){1, 0}),
             tensor_f(IR_F32, shp(1, 3), (float[]){1, 2, 3}),
             tensor_f(IR_F32, shp(0), (float[]){-1}));
    expect_equal_f(y, shp(2, 2, 3), (float[]){1, 2, 3, -1, -1, -1}, "where f32");
    ir_tensor_free(y);
    y = run3(IR_WHERE, NULL, tensor_b(shp(1, 3), (uint8_t[]){0, 1, 0}),
             tensor_i(shp(2, 2, 1), (int32_t[]){5, 6}), tensor_i(shp(1, 3), (int32_t[]){7, 8, 9}));
    expect_i32(y, shp(2, 2, 3), (int32_t[]){7, 5, 9, 7, 6, 9}, "where i32");
    ir_tensor_free(y);
    y = run3(IR_WHERE, NULL, tensor_b(shp(1, 2), (uint8_t[]){0, 1}),
             tensor_b(shp(1, 2), (uint8_t[]){1, 1}), tensor_b(shp(1, 2), (uint8_t[]){0, 0}));
    expect_bool(y, shp(1, 2), (uint8_t[]){0, 1}, "where bool");
    ir_tensor_free(y);
}

/* ------------------------------------------------------------- matmul */

static ir_tensor *run_matmul(ir_tensor *a, ir_tensor *b, bool ta, bool tb) {
    ir_attrs at = {0};
    at.ta = ta;
    at.tb = tb;
    return run2(IR_MATMUL, &at, a, b);
}

static void test_matmul_shapes(void **state) {
#define MM(name, ta, tb)                                                                           \
    do {                                                                                           \
        ir_tensor *y = run_matmul(REF(IR_F32, name##_A), REF(IR_F32, name##_B), ta, tb);           \
        expect_close(y, REF_SHAPE(name##_Y), name##_Y, 2e-6, 1e-6, #name);                         \
        ir_tensor_free(y);                                                                         \
    } while (0)
    MM(MM_VM, false, false);
    MM(MM_MV, false, false);
    MM(MM_VV, false, false);
    MM(MM_VBATCH, false, false);
    MM(MM_BATCH, false, false);
    MM(MM_BATCHB, false, false);
    MM(MM_TA, true, false);
    MM(MM_TB, false, true);
    MM(MM_TATB, true, true);
#undef MM
    /* By hand: [1 2; 3 4] [5; 6] and the row form. */
    ir_tensor *y = run_matmul(tensor_f(IR_F32, shp(2, 2, 2), (float[]){1, 2, 3, 4}),
                              tensor_f(IR_F32, shp(1, 2), (float[]){5, 6}), false, false);
    expect_equal_f(y, shp(1, 2), (float[]){17, 39}, "matrix @ vector");
    ir_tensor_free(y);
    y = run_matmul(tensor_f(IR_F32, shp(1, 2), (float[]){5, 6}),
                   tensor_f(IR_F32, shp(2, 2, 2), (float[]){1, 2, 3, 4}), false, false);
    expect_equal_f(y, shp(1, 2), (float[]){23, 34}, "vector @ matrix");
    ir_tensor_free(y);
    y = run_matmul(tensor_f(IR_F32, shp(2, 2, 2), (float[]){1, 2, 3, 4}),
                   tensor_f(IR_F32, shp(2, 2, 2), (float[]){5, 6, 7, 8}), true, true);
    /* [1 3; 2 4] [5 7; 6 8] */
    expect_equal_f(y, shp(2, 2, 2), (float[]){23, 31, 34, 46}, "ta tb");
    ir_tensor_free(y);
}

static void test_matmul_half(void **state) {
    ir_tensor *y = run_matmul(REF(IR_BF16, MM_BF16_A), REF(IR_BF16, MM_BF16_B), false, false);
    assert_int_equal(y->dtype, IR_BF16);
    expect_ulp(y, REF_SHAPE(MM_BF16_Y), MM_BF16_Y, "bf16 matmul");
    ir_tensor_free(y);
    y = run_matmul(REF(IR_F16, MM_F16_A), REF(IR_F16, MM_F16_B), false, false);
    assert_int_equal(y->dtype, IR_F16);
    expect_ulp(y, REF_SHAPE(MM_F16_Y), MM_F16_Y, "f16 matmul");
    ir_tensor_free(y);
}

static void test_linear(void **state) {
    ir_tensor *y =
        run3(IR_LINEAR, NULL, REF(IR_F32, LIN_X), REF(IR_F32, LIN_W), REF(IR_F32, LIN_B));
    expect_close(y, REF_SHAPE(LIN_Y), LIN_Y, 2e-6, 1e-6, "linear");
    ir_tensor_free(y);
    ir_attrs a = {0};
    a.tb = true;
    y = run3(IR_LINEAR, &a, REF(IR_F32, LIN_X), REF(IR_F32, LIN_WT), REF(IR_F32, LIN_B));
    expect_close(y, REF_SHAPE(LIN_Y), LIN_Y, 2e-6, 1e-6, "linear tb");
    ir_tensor_free(y);
    /* By hand: x [1, 2] w [[1, 2], [3, 4]] b [10, 20] */
    y = run3(IR_LINEAR, NULL, tensor_f(IR_F32, shp(1, 2), (float[]){1, 2}),
             tensor_f(IR_F32, shp(2, 2, 2), (float[]){1, 2, 3, 4}),
             tensor_f(IR_F32, shp(1, 2), (float[]){10, 20}));
    expect_equal_f(y, shp(1, 2), (float[]){17, 30}, "linear by hand");
    ir_tensor_free(y);
}

/* A (m x k) and B (k x n) of one product, element (i, p) and (p, j). */
static float at(const ir_tensor *t, bool trans, int64_t r, int64_t c, int64_t rows, int64_t cols) {
    const float *p = t->data;
    return trans ? p[c * rows + r] : p[r * cols + c];
}

/* Big products against a double reference: the float sum of k products is
 * within k * 2^-24 * sum |a b| of the exact value. On x86-64 without FMA the
 * result must also equal, bit for bit, a plain float loop in increasing k:
 * the interpreter's documented order. */
static void check_big(int64_t m, int64_t k, int64_t n, bool ta, bool tb, int threads) {
    ir_tensor *a = rand_tensor(ta ? shp(2, (int)k, (int)m) : shp(2, (int)m, (int)k));
    ir_tensor *b = rand_tensor(tb ? shp(2, (int)n, (int)k) : shp(2, (int)k, (int)n));
    ir_attrs attrs = {0};
    attrs.ta = ta;
    attrs.tb = tb;
    ir_tensor *in[2] = {a, b};
    ir_tensor *y = run_op(IR_MATMUL, &attrs, 2, in, threads);
    expect_shape(y, shp(2, (int)m, (int)n));
    const float *c = y->data;
    for (int64_t i = 0; i < m; i++) {
        for (int64_t j = 0; j < n; j++) {
            double exact = 0, mag = 0;
            float plain = 0;
            for (int64_t p = 0; p < k; p++) {
                float x = at(a, ta, i, p, m, k), w = at(b, tb, p, j, k, n);
                exact += (double)x * w;
                mag += fabs((double)x * w);
                plain += x * w;
            }
            double got = c[i * n + j];
            if (fabs(got - exact) > (double)k * 0x1p-24 * mag)
                fail_msg("[%lld, %lld] is %.9g, exact %.9g", (long long)i, (long long)j, got,
                         exact);
#if defined(__x86_64__) && !defined(__FMA__)
            if (c[i * n + j] != plain)
                fail_msg("[%lld, %lld] is %.9g, the k-ordered float sum is %.9g", (long long)i,
                         (long long)j, got, (double)plain);
#else
            (void)plain;
#endif
        }
    }
    ir_tensor_free(y);
    ir_tensor_free(a);
    ir_tensor_free(b);
}

static void test_matmul_big(void **state) {
    check_big(150, 301, 170, false, false, 1);
    check_big(150, 301, 170, false, true, 2);
    check_big(97, 600, 61, true, false, 3);
    check_big(7, 1000, 300, true, true, 2);
    check_big(1, 513, 33, false, true, 1);
}

/* Every thread count gives the same bits, over edge tiles of odd sizes,
 * batches (one shared B folded into a taller product, and per-batch Bs). */
static void test_matmul_threads(void **state) {
    static const struct {
        ir_shape a, b; /* operand shapes */
        bool ta, tb;   /* stored transposed */
    } cases[] = {
        {{2, {150, 301}}, {2, {301, 171}}, false, false},
        {{2, {150, 301}}, {2, {171, 301}}, false, true},
        {{2, {301, 67}}, {2, {301, 333}}, true, false},
        {{3, {4, 61, 257}}, {2, {257, 123}}, false, false},
        {{3, {4, 61, 257}}, {3, {4, 257, 123}}, false, false},
        {{3, {1, 61, 257}}, {3, {5, 123, 257}}, false, true},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        ir_tensor *a = rand_tensor(cases[c].a), *b = rand_tensor(cases[c].b);
        ir_tensor *in[2] = {a, b}, *first = NULL;
        ir_attrs attrs = {0};
        attrs.ta = cases[c].ta;
        attrs.tb = cases[c].tb;
        for (int threads = 1; threads <= 4; threads++) {
            ir_tensor *y = run_op(IR_MATMUL, &attrs, 2, in, threads);
            if (!first) {
                first = y;
                continue;
            }
            assert_int_equal(ir_tensor_bytes(y), ir_tensor_bytes(first));
            if (memcmp(y->data, first->data, ir_tensor_bytes(y)) != 0)
                fail_msg("case %zu: %d threads give other bits than 1", c, threads);
            ir_tensor_free(y);
        }
        ir_tensor_free(first);
        ir_tensor_free(a);
        ir_tensor_free(b);
    }
}

/* ------------------------------------------------------- reductions */

static ir_tensor *run_reduce(ir_op op, uint32_t axes, bool keep, ir_tensor *x) {
    ir_attrs a = {0};
    a.axes = axes;
    a.keepdims = keep;
    return run1(op, &a, x);
}

static void test_reduce(void **state) {
    ir_tensor *y = run_reduce(IR_REDUCE_SUM, 1u << 1, false, REF(IR_F32, RD_X));
    expect_close(y, REF_SHAPE(RD_SUM_1), RD_SUM_1, 1e-6, 1e-6, "sum axis 1");
    ir_tensor_free(y);
    y = run_reduce(IR_REDUCE_MEAN, 1u | 4u, true, REF(IR_F32, RD_X));
    expect_close(y, REF_SHAPE(RD_MEAN_02K), RD_MEAN_02K, 1e-6, 1e-6, "mean axes 0, 2 keepdims");
    ir_tensor_free(y);
    y = run_reduce(IR_REDUCE_MAX, 1u << 2, false, REF(IR_F32, RD_X));
    expect_equal_f(y, REF_SHAPE(RD_MAX_2), RD_MAX_2, "max axis 2");
    ir_tensor_free(y);
    y = run_reduce(IR_REDUCE_MIN, 7u, false, REF(IR_F32, RD_X));
    expect_equal_f(y, REF_SHAPE(RD_MIN_ALL), RD_MIN_ALL, "min all");
    ir_tensor_free(y);
    y = run_reduce(IR_REDUCE_SUM, 7u, true, REF(IR_F32, RD_X));
    expect_close(y, REF_SHAPE(RD_SUM_ALLK), RD_SUM_ALLK, 1e-6, 1e-6, "sum all keepdims");
    ir_tensor_free(y);
    y = run_reduce(IR_REDUCE_MAX, 1u, true, REF(IR_F32, RD_X));
    expect_equal_f(y, REF_SHAPE(RD_MAX_0K), RD_MAX_0K, "max axis 0 keepdims");
    ir_tensor_free(y);

    /* NaN sticks in max and min; sums are exact in double before rounding */
    float v[] = {1, NAN, 3, -INFINITY, 2, 5};
    y = run_reduce(IR_REDUCE_MAX, 2u, false, tensor_f(IR_F32, shp(2, 2, 3), v));
    expect_equal_f(y, shp(1, 2), (float[]){NAN, 5}, "max NaN");
    ir_tensor_free(y);
    y = run_reduce(IR_REDUCE_MIN, 2u, false, tensor_f(IR_F32, shp(2, 2, 3), v));
    expect_equal_f(y, shp(1, 2), (float[]){NAN, -INFINITY}, "min NaN");
    ir_tensor_free(y);
    float big[] = {1e8f, 1, -1e8f, 1};
    y = run_reduce(IR_REDUCE_SUM, 1u, false, tensor_f(IR_F32, shp(1, 4), big));
    expect_equal_f(y, shp(0), (float[]){2}, "sum in double");
    ir_tensor_free(y);

    /* i32: sums wrap like int32 arithmetic */
    int32_t iv[] = {INT32_MAX, 1, 5, -7};
    y = run_reduce(IR_REDUCE_SUM, 1u, false, tensor_i(shp(2, 2, 2), iv));
    expect_i32(y, shp(1, 2), (int32_t[]){INT32_MIN + 4, -6}, "i32 sum axis 0");
    ir_tensor_free(y);
    y = run_reduce(IR_REDUCE_SUM, 2u, true, tensor_i(shp(2, 2, 2), iv));
    expect_i32(y, shp(2, 2, 1), (int32_t[]){INT32_MIN, -2}, "i32 sum axis 1");
    ir_tensor_free(y);
    y = run_reduce(IR_REDUCE_MAX, 3u, false, tensor_i(shp(2, 2, 2), iv));
    expect_i32(y, shp(0), (int32_t[]){INT32_MAX}, "i32 max");
    ir_tensor_free(y);
    y = run_reduce(IR_REDUCE_MIN, 2u, false, tensor_i(shp(2, 2, 2), iv));
    expect_i32(y, shp(1, 2), (int32_t[]){1, -7}, "i32 min");
    ir_tensor_free(y);
    /* bf16 mean rounds once */
    y = run_reduce(IR_REDUCE_MEAN, 1u, false,
                   tensor_f(IR_BF16, shp(1, 3), (float[]){1, 1, 0x1.02p0f}));
    expect_equal_f(y, shp(0), (float[]){1}, "bf16 mean");
    ir_tensor_free(y);
}

/* ----------------------------------------------------- normalization */

static void test_softmax(void **state) {
    ir_attrs a = {0};
    a.axis = -1;
    ir_tensor *y = run1(IR_SOFTMAX, &a, REF(IR_F32, SM_X));
    /* Row 1 has -inf entries (0 out); row 2 is all -inf: NaN, as in torch. */
    expect_close(y, REF_SHAPE(SM_Y), SM_Y, 1e-6, 1e-9, "softmax last axis");
    const float *p = y->data;
    assert_true(p[6] == 0.0f && p[8] == 0.0f);
    for (int j = 10; j < 15; j++)
        assert_true(isnan(p[j]));
    ir_tensor_free(y);
    a.axis = -2;
    y = run1(IR_SOFTMAX, &a, REF(IR_F32, SM0_X));
    expect_close(y, REF_SHAPE(SM0_Y), SM0_Y, 1e-6, 1e-9, "softmax axis 0");
    ir_tensor_free(y);
    a.axis = 1;
    y = run1(IR_SOFTMAX, &a, REF(IR_BF16, SMB_X));
    expect_ulp(y, REF_SHAPE(SMB_Y), SMB_Y, "softmax bf16");
    ir_tensor_free(y);
    /* By hand: softmax([0, ln 3]) = [1/4, 3/4] */
    a.axis = 0;
    y = run1(IR_SOFTMAX, &a, tensor_f(IR_F32, shp(1, 2), (float[]){0, 1.09861229f}));
    expect_close(y, shp(1, 2), (float[]){0.25f, 0.75f}, 1e-7, 0, "softmax by hand");
    ir_tensor_free(y);
}

static void test_layernorm(void **state) {
    ir_attrs a = {0};
    a.eps = 1e-5;
    ir_tensor *y = run3(IR_LAYERNORM, &a, REF(IR_F32, LN_X), REF(IR_F32, LN_G), REF(IR_F32, LN_B));
    expect_close(y, REF_SHAPE(LN_Y), LN_Y, 1e-5, 1e-6, "layernorm");
    ir_tensor_free(y);
    y = run3(IR_LAYERNORM, &a, REF(IR_F16, LNH_F16_X), REF(IR_F16, LNH_F16_G),
             REF(IR_F16, LNH_F16_B));
    expect_ulp(y, REF_SHAPE(LNH_F16_Y), LNH_F16_Y, "layernorm f16");
    ir_tensor_free(y);
    y = run3(IR_LAYERNORM, &a, REF(IR_BF16, LNH_BF16_X), REF(IR_BF16, LNH_BF16_G),
             REF(IR_BF16, LNH_BF16_B));
    expect_ulp(y, REF_SHAPE(LNH_BF16_Y), LNH_BF16_Y, "layernorm bf16");
    ir_tensor_free(y);
    a.eps = 1e-6;
    y = run2(IR_RMSNORM, &a, REF(IR_F32, LN_X), REF(IR_F32, LN_G));
    expect_close(y, REF_SHAPE(RMS_Y), RMS_Y, 1e-6, 0, "rmsnorm");
    ir_tensor_free(y);
    /* By hand: [1, 3] has mean 2 and biased variance 1; eps 0 gives [-1, 1]
     * times gamma plus beta. rmsnorm([3, 4]) = [3, 4] / sqrt(12.5). */
    a.eps = 0;
    y = run3(IR_LAYERNORM, &a, tensor_f(IR_F32, shp(1, 2), (float[]){1, 3}),
             tensor_f(IR_F32, shp(1, 2), (float[]){2, 3}),
             tensor_f(IR_F32, shp(1, 2), (float[]){0.5f, -1}));
    expect_equal_f(y, shp(1, 2), (float[]){-1.5f, 2}, "layernorm by hand");
    ir_tensor_free(y);
    y = run2(IR_RMSNORM, &a, tensor_f(IR_F32, shp(1, 2), (float[]){3, 4}),
             tensor_f(IR_F32, shp(1, 2), (float[]){1, 2}));
    expect_close(y, shp(1, 2), (float[]){0.848528137f, 2.26274170f}, 1e-7, 0, "rmsnorm by hand");
    ir_tensor_free(y);
}

/* ------------------------------------------------------ data movement */

static ir_tensor *iota(ir_dtype t, ir_shape s) {
    ir_tensor *x = ir_tensor_new(t, &s);
    assert_non_null(x);
    for (int64_t i = 0; i < ir_shape_numel(&s); i++) {
        if (t == IR_I32)
            ((int32_t *)x->data)[i] = (int32_t)i;
        else if (t == IR_BOOL)
            ((uint8_t *)x->data)[i] = (uint8_t)(i % 3 == 0);
        else
            ((float *)x->data)[i] = (float)i;
    }
    return x;
}

static void test_reshape_transpose(void **state) {
    ir_attrs a = {0};
    a.shape = shp(2, 4, -1);
    ir_tensor *y = run1(IR_RESHAPE, &a, iota(IR_F32, shp(3, 2, 3, 4)));
    expect_shape(y, shp(2, 4, 6));
    for (int i = 0; i < 24; i++)
        assert_true(((float *)y->data)[i] == (float)i);
    ir_tensor_free(y);

    /* Every permutation of [2, 3, 4]: out[i0, i1, i2] = x[index with i_k on axis perm[k]]. */
    static const int8_t perms[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2},
                                       {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    const int64_t dims[3] = {2, 3, 4};
    for (int p = 0; p < 6; p++) {
        for (int dt = 0; dt < 2; dt++) {
            ir_dtype t = dt ? IR_BOOL : IR_F32;
            memset(&a, 0, sizeof a);
            memcpy(a.perm, perms[p], 3);
            ir_tensor *x = iota(t, shp(3, 2, 3, 4));
            ir_tensor *src = ir_tensor_clone(x);
            y = run1(IR_TRANSPOSE, &a, x);
            expect_shape(
                y, shp(3, (int)dims[perms[p][0]], (int)dims[perms[p][1]], (int)dims[perms[p][2]]));
            int64_t o = 0, idx[3];
            for (idx[0] = 0; idx[0] < dims[perms[p][0]]; idx[0]++)
                for (idx[1] = 0; idx[1] < dims[perms[p][1]]; idx[1]++)
                    for (idx[2] = 0; idx[2] < dims[perms[p][2]]; idx[2]++, o++) {
                        int64_t in[3];
                        for (int k = 0; k < 3; k++)
                            in[perms[p][k]] = idx[k];
                        int64_t s = (in[0] * 3 + in[1]) * 4 + in[2];
                        if (t == IR_F32)
                            assert_true(((float *)y->data)[o] == ((float *)src->data)[s]);
                        else
                            assert_int_equal(((uint8_t *)y->data)[o], ((uint8_t *)src->data)[s]);
                    }
            ir_tensor_free(y);
            ir_tensor_free(src);
        }
    }
    /* A 2-D transpose bigger than one 32 x 32 tile, with ragged edges. */
    memset(&a, 0, sizeof a);
    a.perm[0] = 1;
    a.perm[1] = 0;
    y = run1(IR_TRANSPOSE, &a, iota(IR_I32, shp(2, 70, 45)));
    expect_shape(y, shp(2, 45, 70));
    for (int i = 0; i < 45; i++)
        for (int j = 0; j < 70; j++)
            assert_int_equal(((int32_t *)y->data)[i * 70 + j], j * 45 + i);
    ir_tensor_free(y);
}

static void test_slice_concat(void **state) {
    ir_attrs a = {0};
    a.axis = 1;
    a.start = -3;
    a.end = 100; /* clamps to 5 */
    ir_tensor *y = run1(IR_SLICE, &a, iota(IR_F32, shp(3, 2, 5, 3)));
    expect_shape(y, shp(3, 2, 3, 3));
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 3; k++)
                assert_true(((float *)y->data)[(i * 3 + j) * 3 + k] ==
                            (float)((i * 5 + j + 2) * 3 + k));
    ir_tensor_free(y);
    a.axis = -1;
    a.start = 1;
    a.end = 2;
    y = run1(IR_SLICE, &a, iota(IR_I32, shp(2, 2, 3)));
    expect_i32(y, shp(2, 2, 1), (int32_t[]){1, 4}, "slice last axis");
    ir_tensor_free(y);

    /* concat of three along axis -2 */
    ir_tensor *x0 = iota(IR_F32, shp(3, 2, 1, 2)), *x1 = iota(IR_F32, shp(3, 2, 2, 2)),
              *x2 = iota(IR_F32, shp(3, 2, 3, 2));
    for (int i = 0; i < 8; i++)
        ((float *)x1->data)[i] += 100;
    for (int i = 0; i < 12; i++)
        ((float *)x2->data)[i] += 200;
    a.axis = -2;
    ir_tensor *in[3] = {x0, x1, x2};
    y = run_op(IR_CONCAT, &a, 3, in, 1);
    float want[] = {0, 1, 100, 101, 102, 103, 200, 201, 202, 203, 204, 205,
                    2, 3, 104, 105, 106, 107, 206, 207, 208, 209, 210, 211};
    expect_equal_f(y, shp(3, 2, 6, 2), want, "concat of 3");
    ir_tensor_free(y);
    ir_tensor_free(x0);
    ir_tensor_free(x1);
    ir_tensor_free(x2);
    a.axis = 0;
    y = run2(IR_CONCAT, &a, tensor_b(shp(1, 2), (uint8_t[]){1, 0}),
             tensor_b(shp(1, 1), (uint8_t[]){1}));
    expect_bool(y, shp(1, 3), (uint8_t[]){1, 0, 1}, "concat bool");
    ir_tensor_free(y);
}

static void test_gather(void **state) {
    ir_tensor *y = run2(IR_GATHER, NULL, iota(IR_F32, shp(2, 5, 3)),
                        tensor_i(shp(2, 2, 2), (int32_t[]){0, -1, 4, -5}));
    float want[] = {0, 1, 2, 12, 13, 14, 12, 13, 14, 0, 1, 2};
    expect_equal_f(y, shp(3, 2, 2, 3), want, "gather rows");
    ir_tensor_free(y);
    y = run2(IR_GATHER, NULL, iota(IR_I32, shp(1, 4)), tensor_i(shp(0), (int32_t[]){-2}));
    expect_i32(y, shp(0), (int32_t[]){2}, "gather from a vector with a scalar index");
    ir_tensor_free(y);
    y = run2(IR_GATHER, NULL, tensor_b(shp(2, 2, 2), (uint8_t[]){1, 0, 0, 1}),
             tensor_i(shp(1, 3), (int32_t[]){1, 1, 0}));
    expect_bool(y, shp(2, 3, 2), (uint8_t[]){0, 1, 0, 1, 1, 0}, "gather bool rows");
    ir_tensor_free(y);
}

static void test_gather_out_of_range(void **state) {
    static const int32_t bad[][3] = {{0, 5, 1}, {-6, 0, 0}, {INT32_MIN, 0, 0}};
    static const char *const msg[] = {
        "gather index 5 is out of range for a table of 5 rows",
        "gather index -6 is out of range for a table of 5 rows",
        "gather index -2147483648 is out of range for a table of 5 rows",
    };
    for (int c = 0; c < 3; c++) {
        ir_graph *g = ir_graph_new("t");
        int file;
        ir_diag *d = ir_diag_new(NULL);
        const char *src = "output y = gather(t, i);\n";
        file = ir_diag_add_file(d, "m.wsm", src, strlen(src));
        ir_ref t = input(g, "t", IR_F32, shp(2, 5, 3));
        ir_ref ix = input(g, "i", IR_I32, shp(1, 3));
        ir_ref in[2] = {t, ix};
        ir_err e;
        ir_ref r = ir_build(g, IR_GATHER, in, 2, NULL, (ir_loc){file, 11, 23}, &e);
        assert_int_not_equal(r, IR_NONE);
        /* Other outputs, computed or not yet, must be freed on the way out. */
        ir_ref early = op2(g, IR_ADD, t, t);
        ir_ref late = op2(g, IR_MUL, r, r);
        ir_graph_add_output(g, "early", early, IR_NOLOC);
        ir_graph_add_output(g, "y", late, IR_NOLOC);
        ir_graph_add_output(g, "t", t, IR_NOLOC);
        ir_tensor *x = iota(IR_F32, shp(2, 5, 3)), *i = tensor_i(shp(1, 3), bad[c]);
        ir_tensor *inputs[2] = {x, i}, *outs[3] = {NULL, NULL, NULL};
        assert_int_equal(ir_eval(g, inputs, outs, 2, d), -1);
        assert_null(outs[0]);
        assert_null(outs[1]);
        assert_null(outs[2]);
        assert_int_equal(ir_diag_errors(d), 1);
        const char *text = ir_diag_text(d);
        if (!strstr(text, msg[c])) fail_msg("diagnostic: %s", text);
        assert_non_null(strstr(text, "m.wsm:1:12: error:"));
        /* The node alone reports too and returns NULL. */
        ir_tensor *alone = ir_eval_node(g, &g->nodes[r], inputs, 1, d);
        assert_null(alone);
        assert_int_equal(ir_diag_errors(d), 2);
        ir_tensor_free(x);
        ir_tensor_free(i);
        ir_diag_free(d);
        ir_graph_free(g);
    }
}

static void test_causal_mask(void **state) {
    /* [.., T, S] = [2, 3, 5]: j > i + 2 is masked */
    ir_tensor *y = run1(IR_CAUSAL_MASK, NULL, iota(IR_F32, shp(3, 2, 3, 5)));
    expect_shape(y, shp(3, 2, 3, 5));
    const float *p = y->data;
    for (int b = 0; b < 2; b++)
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 5; j++) {
                int o = (b * 3 + i) * 5 + j;
                if (j > i + 2)
                    assert_true(p[o] == -INFINITY);
                else
                    assert_true(p[o] == (float)o);
            }
    ir_tensor_free(y);
    y = run1(IR_CAUSAL_MASK, NULL, tensor_f(IR_F16, shp(2, 2, 2), (float[]){1, 2, 3, 4}));
    expect_equal_f(y, shp(2, 2, 2), (float[]){1, -INFINITY, 3, 4}, "square mask");
    assert_int_equal(y->dtype, IR_F16);
    ir_tensor_free(y);
}

static ir_tensor *run_cast(ir_dtype to, ir_tensor *x) {
    ir_attrs a = {0};
    a.dtype = to;
    return run1(IR_CAST, &a, x);
}

static void test_cast(void **state) {
    ir_tensor *y = run_cast(IR_I32, REF(IR_F32, CT_X));
    expect_i32(y, REF_SHAPE(CT_X), CT_I32, "f32 -> i32");
    ir_tensor_free(y);
    y = run_cast(IR_F16, REF(IR_F32, CT_X));
    assert_int_equal(y->dtype, IR_F16);
    expect_equal_f(y, REF_SHAPE(CT_X), CT_F16, "f32 -> f16");
    ir_tensor_free(y);
    y = run_cast(IR_BF16, REF(IR_F32, CT_X));
    expect_equal_f(y, REF_SHAPE(CT_X), CT_BF16, "f32 -> bf16");
    ir_tensor_free(y);
    y = run_cast(IR_BOOL, REF(IR_F32, CT_X));
    uint8_t wb[64];
    assert_true(CT_X_SHAPE[0] <= 64);
    for (int i = 0; i < CT_X_SHAPE[0]; i++)
        wb[i] = (uint8_t)CT_BOOL[i];
    expect_bool(y, REF_SHAPE(CT_X), wb, "f32 -> bool");
    ir_tensor_free(y);
    y = run_cast(IR_F32, tensor_i(REF_SHAPE(CTI_X), CTI_X));
    expect_equal_f(y, REF_SHAPE(CTI_X), CTI_F32, "i32 -> f32");
    ir_tensor_free(y);
    y = run_cast(IR_F16, tensor_i(REF_SHAPE(CTI_X), CTI_X));
    expect_equal_f(y, REF_SHAPE(CTI_X), CTI_F16, "i32 -> f16");
    ir_tensor_free(y);
    y = run_cast(IR_BF16, tensor_i(REF_SHAPE(CTI_X), CTI_X));
    expect_equal_f(y, REF_SHAPE(CTI_X), CTI_BF16, "i32 -> bf16");
    ir_tensor_free(y);
    /* By hand: bool and i32 both ways, f16 -> bf16, f16 -> i32. */
    y = run_cast(IR_F32, tensor_b(shp(1, 2), (uint8_t[]){1, 0}));
    expect_equal_f(y, shp(1, 2), (float[]){1, 0}, "bool -> f32");
    ir_tensor_free(y);
    y = run_cast(IR_I32, tensor_b(shp(1, 2), (uint8_t[]){1, 0}));
    expect_i32(y, shp(1, 2), (int32_t[]){1, 0}, "bool -> i32");
    ir_tensor_free(y);
    y = run_cast(IR_BOOL, tensor_i(shp(1, 3), (int32_t[]){0, -7, 1}));
    expect_bool(y, shp(1, 3), (uint8_t[]){0, 1, 1}, "i32 -> bool");
    ir_tensor_free(y);
    y = run_cast(IR_BF16, tensor_f(IR_F16, shp(1, 2), (float[]){1 + 0x1p-10f, 1 + 0x1.8p-8f}));
    expect_equal_f(y, shp(1, 2), (float[]){1, 1 + 0x1p-7f}, "f16 -> bf16");
    ir_tensor_free(y);
    y = run_cast(IR_I32, tensor_f(IR_F16, shp(1, 2), (float[]){-2.5f, 65504}));
    expect_i32(y, shp(1, 2), (int32_t[]){-2, 65504}, "f16 -> i32");
    ir_tensor_free(y);
}

/* ------------------------------------------------------------ the driver */

static ir_ref cst(ir_graph *g, ir_tensor *t) {
    return ir_build_const(g, t, IR_NOLOC);
}

static ir_ref param(ir_graph *g, const char *name, ir_shape s, ir_init_kind k) {
    ir_node n = {0};
    n.op = IR_PARAM;
    n.dtype = IR_F32;
    n.shape = s;
    n.name = name;
    n.loc = IR_NOLOC;
    n.init = (ir_init){k, 0.0, 1.0, 0};
    return ir_graph_add(g, &n, NULL, 0);
}

static ir_tensor **eval(const ir_graph *g, ir_tensor **inputs, int nthreads) {
    ir_tensor **outs = calloc((size_t)g->noutputs + 1, sizeof *outs);
    ir_diag *d = ir_diag_new(NULL);
    if (ir_eval(g, inputs, outs, nthreads, d) != 0) fail_msg("ir_eval: %s", ir_diag_text(d));
    ir_diag_free(d);
    for (int k = 0; k < g->noutputs; k++)
        assert_non_null(outs[k]);
    return outs;
}

static void free_all(ir_tensor **t, int n) {
    for (int i = 0; i < n; i++)
        ir_tensor_free(t[i]);
    free(t);
}

/* Outputs naming one value, an input, a const and params each get their own
 * tensor; views (reshapes and leading slices of shared data, a reshape at
 * the last use of a value) never change what anyone sees. */
static void test_sources_and_aliasing(void **state) {
    ir_graph *g = ir_graph_new("t");
    ir_ref x = input(g, "x", IR_F32, shp(2, 2, 3));
    ir_ref c = cst(g, iota(IR_F32, shp(2, 4, 3)));
    ir_ref p1 = param(g, "ones", shp(2, 2, 3), IR_INIT_ONES);
    ir_ref p2 = param(g, "data", shp(1, 3), IR_INIT_DATA);
    g->nodes[p2].value = tensor_f(IR_F32, shp(1, 3), (float[]){7, 8, 9});
    ir_attrs a = {0};
    /* rows 1..3 of the const (a view), then flattened (a view of a view) */
    a.axis = 0, a.start = 1, a.end = 3;
    ir_ref rows = build(g, IR_SLICE, &c, 1, &a);
    a.shape = shp(1, 6);
    ir_ref flat = build(g, IR_RESHAPE, &rows, 1, &a);
    /* a column slice of the const: not contiguous, copied */
    a.axis = 1, a.start = 1, a.end = 2;
    ir_ref col = build(g, IR_SLICE, &c, 1, &a);
    ir_ref sum = op2(g, IR_ADD, x, p1); /* x + 1 */
    a.shape = shp(1, 6);
    ir_ref sflat = build(g, IR_RESHAPE, &sum, 1, &a); /* sum dies here: taken over */
    ir_ref twice = op2(g, IR_ADD, sflat, flat);
    ir_ref keep = op2(g, IR_MUL, x, p2); /* x * [7, 8, 9] */
    a.shape = shp(1, 6);
    ir_ref kflat = build(g, IR_RESHAPE, &keep, 1, &a); /* keep lives on: copied */
    ir_graph_add_output(g, "twice", twice, IR_NOLOC);
    ir_graph_add_output(g, "twice_again", twice, IR_NOLOC);
    ir_graph_add_output(g, "x", x, IR_NOLOC);
    ir_graph_add_output(g, "c", c, IR_NOLOC);
    ir_graph_add_output(g, "flat", flat, IR_NOLOC);
    ir_graph_add_output(g, "col", col, IR_NOLOC);
    ir_graph_add_output(g, "ones", p1, IR_NOLOC);
    ir_graph_add_output(g, "data", p2, IR_NOLOC);
    ir_graph_add_output(g, "keep", keep, IR_NOLOC);
    ir_graph_add_output(g, "kflat", kflat, IR_NOLOC);
    ir_tensor *xin = tensor_f(IR_F32, shp(2, 2, 3), (float[]){0, 1, 2, 3, 4, 5});
    ir_tensor *in[1] = {xin};
    for (int threads = 0; threads <= 2; threads++) {
        ir_tensor **o = eval(g, in, threads);
        float twice_v[] = {1 + 3, 2 + 4, 3 + 5, 4 + 6, 5 + 7, 6 + 8};
        expect_equal_f(o[0], shp(1, 6), twice_v, "twice");
        expect_equal_f(o[1], shp(1, 6), twice_v, "twice again");
        assert_ptr_not_equal(o[0], o[1]);
        assert_ptr_not_equal(o[0]->data, o[1]->data);
        expect_equal_f(o[2], shp(2, 2, 3), (float[]){0, 1, 2, 3, 4, 5}, "x");
        assert_ptr_not_equal(o[2], xin);
        assert_ptr_not_equal(o[2]->data, xin->data);
        float cv[12];
        for (int i = 0; i < 12; i++)
            cv[i] = (float)i;
        expect_equal_f(o[3], shp(2, 4, 3), cv, "c");
        assert_ptr_not_equal(o[3]->data, g->nodes[c].value->data);
        expect_equal_f(o[4], shp(1, 6), (float[]){3, 4, 5, 6, 7, 8}, "flat");
        expect_equal_f(o[5], shp(2, 4, 1), (float[]){1, 4, 7, 10}, "col");
        expect_equal_f(o[6], shp(2, 2, 3), (float[]){1, 1, 1, 1, 1, 1}, "ones");
        expect_equal_f(o[7], shp(1, 3), (float[]){7, 8, 9}, "data");
        assert_ptr_not_equal(o[7]->data, g->nodes[p2].value->data);
        expect_equal_f(o[8], shp(2, 2, 3), (float[]){0, 8, 18, 21, 32, 45}, "keep");
        expect_equal_f(o[9], shp(1, 6), (float[]){0, 8, 18, 21, 32, 45}, "kflat");
        /* Writing to one output changes nothing else. */
        ((float *)o[0]->data)[0] = -1;
        assert_true(((float *)o[1]->data)[0] == 4);
        free_all(o, g->noutputs);
    }
    /* The graph's own data is untouched. */
    assert_true(((float *)g->nodes[c].value->data)[3] == 3);
    assert_true(((float *)xin->data)[0] == 0);
    ir_tensor_free(xin);
    ir_graph_free(g);
}

/* ir_eval_node on sources gives copies the caller owns. */
static void test_eval_node_sources(void **state) {
    ir_graph *g = ir_graph_new("t");
    ir_ref c = cst(g, tensor_f(IR_F32, shp(1, 2), (float[]){1, 2}));
    ir_ref p = param(g, "p", shp(1, 3), IR_INIT_ONES);
    ir_ref q = param(g, "q", shp(1, 2), IR_INIT_DATA);
    g->nodes[q].value = tensor_f(IR_F32, shp(1, 2), (float[]){5, 6});
    ir_diag *d = ir_diag_new(NULL);
    ir_tensor *t = ir_eval_node(g, &g->nodes[c], NULL, 1, d);
    expect_equal_f(t, shp(1, 2), (float[]){1, 2}, "const");
    assert_ptr_not_equal(t->data, g->nodes[c].value->data);
    ir_tensor_free(t);
    t = ir_eval_node(g, &g->nodes[p], NULL, 1, d);
    expect_equal_f(t, shp(1, 3), (float[]){1, 1, 1}, "param ones");
    ir_tensor_free(t);
    t = ir_eval_node(g, &g->nodes[q], NULL, 1, d);
    expect_equal_f(t, shp(1, 2), (float[]){5, 6}, "param data");
    assert_ptr_not_equal(t->data, g->nodes[q].value->data);
    ir_tensor_free(t);
    ir_diag_free(d);
    ir_graph_free(g);
}

/* x @ transpose(w) reads w in place (the transpose is folded into the
 * matmul) unless the transpose is needed on its own too; both ways agree. */
static void test_transpose_into_matmul(void **state) {
    ir_graph *g = ir_graph_new("t");
    ir_ref x = input(g, "x", IR_F32, shp(3, 2, 3, 4));
    ir_ref w = input(g, "w", IR_F32, shp(2, 5, 4));
    ir_attrs a = {0};
    a.perm[0] = 1, a.perm[1] = 0;
    ir_ref wt = build(g, IR_TRANSPOSE, &w, 1, &a);
    ir_ref y1 = op2(g, IR_MATMUL, x, wt); /* folded: tb */
    ir_attrs b = {0};
    b.perm[0] = 0, b.perm[1] = 2, b.perm[2] = 1;
    ir_ref xt = build(g, IR_TRANSPOSE, &x, 1, &b); /* [2, 4, 3] */
    ir_ref y2 = op2(g, IR_MATMUL, xt, x);          /* folded: ta, [2, 4, 4] */
    ir_ref bias = cst(g, tensor_f(IR_F32, shp(1, 5), (float[]){1, 2, 3, 4, 5}));
    ir_ref lin_in[3] = {x, wt, bias};
    ir_ref y3 = build(g, IR_LINEAR, lin_in, 3, NULL); /* folded: tb */
    ir_graph_add_output(g, "y1", y1, IR_NOLOC);
    ir_graph_add_output(g, "y2", y2, IR_NOLOC);
    ir_graph_add_output(g, "y3", y3, IR_NOLOC);
    ir_tensor *xv = rand_tensor(shp(3, 2, 3, 4)), *wv = rand_tensor(shp(2, 5, 4));
    ir_tensor *in[2] = {xv, wv};
    ir_tensor **o = eval(g, in, 1);
    /* The same graph with the transposes also named as outputs: now they are
     * computed, and the matmuls must not change. */
    ir_graph_add_output(g, "wt", wt, IR_NOLOC);
    ir_graph_add_output(g, "xt", xt, IR_NOLOC);
    ir_tensor **o2 = eval(g, in, 2);
    const float *X = xv->data, *W = wv->data;
    for (int bi = 0; bi < 2; bi++)
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 5; j++) {
                float s = 0;
                for (int k = 0; k < 4; k++)
                    s += X[(bi * 3 + i) * 4 + k] * W[j * 4 + k];
                float *p1 = o[0]->data, *p3 = o[2]->data;
                assert_true(fabsf(p1[(bi * 3 + i) * 5 + j] - s) <= 1e-6f);
                assert_true(fabsf(p3[(bi * 3 + i) * 5 + j] - (s + (float)(j + 1))) <= 1e-5f);
            }
    for (int bi = 0; bi < 2; bi++)
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) {
                float s = 0;
                for (int k = 0; k < 3; k++)
                    s += X[(bi * 3 + k) * 4 + i] * X[(bi * 3 + k) * 4 + j];
                assert_true(fabsf(((float *)o[1]->data)[(bi * 4 + i) * 4 + j] - s) <= 1e-6f);
            }
    for (int k = 0; k < 3; k++)
        assert_memory_equal(o[k]->data, o2[k]->data, ir_tensor_bytes(o[k]));
    expect_shape(o2[3], shp(2, 4, 5));
    assert_true(((float *)o2[3]->data)[1 * 5 + 2] == W[2 * 4 + 1]);
    expect_shape(o2[4], shp(3, 2, 4, 3));
    free_all(o, 3);
    free_all(o2, 5);
    ir_tensor_free(xv);
    ir_tensor_free(wv);
    ir_graph_free(g);
}

/* Only what an output needs runs: an unused gather with a bad index is not
 * an error, and an unused param is never materialized. */
static void test_dead_code(void **state) {
    ir_graph *g = ir_graph_new("t");
    ir_ref t = input(g, "t", IR_F32, shp(2, 2, 2));
    ir_ref i = input(g, "i", IR_I32, shp(1, 1));
    ir_ref in[2] = {t, i};
    build(g, IR_GATHER, in, 2, NULL);
    param(g, "huge", shp(2, 1 << 30, 1 << 18), IR_INIT_ONES); /* 2^48 elements */
    ir_ref y = build(g, IR_EXP, &t, 1, NULL);
    ir_graph_add_output(g, "y", y, IR_NOLOC);
    ir_tensor *tv = tensor_f(IR_F32, shp(2, 2, 2), (float[]){0, 0, 0, 0});
    ir_tensor *iv = tensor_i(shp(1, 1), (int32_t[]){9});
    ir_tensor *inputs[2] = {tv, iv};
    ir_tensor **o = eval(g, inputs, 1);
    expect_equal_f(o[0], shp(2, 2, 2), (float[]){1, 1, 1, 1}, "exp");
    free_all(o, 1);
    ir_tensor_free(tv);
    ir_tensor_free(iv);
    ir_graph_free(g);
}

/* A little transformer block (the shape of docs/language.md's example) run
 * on 1..4 threads gives the same bits; its matmuls are big enough to split. */
static void test_block_threads(void **state) {
    enum { T = 48, D = 96, H = 4 };
    ir_graph *g = ir_graph_new("t");
    ir_ref tok = input(g, "tokens", IR_I32, shp(1, T));
    ir_ref wte = cst(g, rand_tensor(shp(2, 300, D)));
    ir_ref wqkv = cst(g, rand_tensor(shp(2, D, 3 * D)));
    ir_ref g1 = cst(g, rand_tensor(shp(1, D))), b1 = cst(g, rand_tensor(shp(1, D)));
    ir_ref in2[2] = {wte, tok};
    ir_ref x = build(g, IR_GATHER, in2, 2, NULL);
    ir_attrs a = {0};
    a.eps = 1e-5;
    ir_ref ln_in[3] = {x, g1, b1};
    ir_ref h = build(g, IR_LAYERNORM, ln_in, 3, &a);
    ir_ref qkv = op2(g, IR_MATMUL, h, wqkv);
    ir_ref parts[3];
    for (int k = 0; k < 3; k++) {
        memset(&a, 0, sizeof a);
        a.axis = 1, a.start = k * D, a.end = (k + 1) * D;
        ir_ref s = build(g, IR_SLICE, &qkv, 1, &a);
        a.shape = shp(3, T, H, D / H);
        ir_ref r = build(g, IR_RESHAPE, &s, 1, &a);
        memset(&a, 0, sizeof a);
        a.perm[0] = 1, a.perm[1] = 0, a.perm[2] = 2;
        parts[k] = build(g, IR_TRANSPOSE, &r, 1, &a);
    }
    memset(&a, 0, sizeof a);
    a.perm[0] = 0, a.perm[1] = 2, a.perm[2] = 1;
    ir_ref kt = build(g, IR_TRANSPOSE, &parts[1], 1, &a);
    ir_ref sc = op2(g, IR_MATMUL, parts[0], kt);
    ir_ref scale = ir_build_scalar(g, IR_F32, 0.25, IR_NOLOC);
    ir_ref m = build(g, IR_CAUSAL_MASK, (ir_ref[]){op2(g, IR_MUL, sc, scale)}, 1, NULL);
    memset(&a, 0, sizeof a);
    a.axis = -1;
    ir_ref p = build(g, IR_SOFTMAX, &m, 1, &a);
    ir_ref att = op2(g, IR_MATMUL, p, parts[2]);
    ir_ref gl = build(g, IR_GELU, &att, 1, &(ir_attrs){.approx_tanh = true});
    memset(&a, 0, sizeof a);
    a.perm[0] = 1, a.perm[1] = 0, a.perm[2] = 2;
    ir_ref back = build(g, IR_TRANSPOSE, &gl, 1, &a);
    a.shape = shp(2, T, D);
    ir_ref flat = build(g, IR_RESHAPE, &back, 1, &a);
    memset(&a, 0, sizeof a);
    a.perm[0] = 1, a.perm[1] = 0;
    ir_ref wt = build(g, IR_TRANSPOSE, &wte, 1, &a);
    ir_ref logits = op2(g, IR_MATMUL, flat, wt);
    ir_graph_add_output(g, "logits", logits, IR_NOLOC);
    ir_graph_add_output(g, "probs", p, IR_NOLOC);
    int32_t tv[T];
    for (int i = 0; i < T; i++)
        tv[i] = (i * 37) % 300 - (i % 2 ? 300 : 0);
    ir_tensor *tt = tensor_i(shp(1, T), tv);
    ir_tensor **ref = eval(g, &tt, 1);
    for (int threads = 2; threads <= 4; threads++) {
        ir_tensor **o = eval(g, &tt, threads);
        for (int k = 0; k < 2; k++)
            if (memcmp(o[k]->data, ref[k]->data, ir_tensor_bytes(o[k])) != 0)
                fail_msg("output %d differs with %d threads", k, threads);
        free_all(o, 2);
    }
    /* Causal: each row of probabilities sums to 1 and is 0 past the diagonal. */
    const float *pr = ref[1]->data;
    for (int hh = 0; hh < H; hh++)
        for (int i = 0; i < T; i++) {
            double s = 0;
            for (int j = 0; j < T; j++) {
                s += pr[(hh * T + i) * T + j];
                if (j > i) assert_true(pr[(hh * T + i) * T + j] == 0.0f);
            }
            assert_true(fabs(s - 1) < 1e-5);
        }
    free_all(ref, 2);
    ir_tensor_free(tt);
    ir_graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unary),
        cmocka_unit_test(test_unary_by_hand),
        cmocka_unit_test(test_binary_broadcast),
        cmocka_unit_test(test_binary_half),
        cmocka_unit_test(test_i32),
        cmocka_unit_test(test_compare_and_where),
        cmocka_unit_test(test_matmul_shapes),
        cmocka_unit_test(test_matmul_half),
        cmocka_unit_test(test_linear),
        cmocka_unit_test(test_matmul_big),
        cmocka_unit_test(test_matmul_threads),
        cmocka_unit_test(test_reduce),
        cmocka_unit_test(test_softmax),
        cmocka_unit_test(test_layernorm),
        cmocka_unit_test(test_reshape_transpose),
        cmocka_unit_test(test_slice_concat),
        cmocka_unit_test(test_gather),
        cmocka_unit_test(test_gather_out_of_range),
        cmocka_unit_test(test_causal_mask),
        cmocka_unit_test(test_cast),
        cmocka_unit_test(test_sources_and_aliasing),
        cmocka_unit_test(test_eval_node_sources),
        cmocka_unit_test(test_transpose_into_matmul),
        cmocka_unit_test(test_dead_code),
        cmocka_unit_test(test_block_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
