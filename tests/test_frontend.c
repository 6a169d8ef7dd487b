/* Unit tests of the front end: scanner, parser, diagnostics and
 * elaboration (consts, -D, fns, shape variables, imports, loops). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fe.h"

static char tmpdir[256];

static void write_file(const char *name, const char *text) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite(text, 1, strlen(text), f);
    fclose(f);
}

/* Compiles `text` as m.wsm; returns the graph (NULL on error) and the
 * diagnostics text in *diag_out (caller frees). */
static ir_graph *compile_defs(const char *text, const fe_define *defs, int ndefs, char **diag_out,
                              int *status) {
    write_file("m.wsm", text);
    char path[512];
    snprintf(path, sizeof path, "%s/m.wsm", tmpdir);
    ir_diag *d = ir_diag_new(NULL);
    fe_options o = {path, defs, ndefs, NULL, 0};
    int st;
    ir_graph *g = fe_compile(&o, d, &st);
    if (status) *status = st;
    if (diag_out) *diag_out = strdup(ir_diag_text(d));
    ir_diag_free(d);
    return g;
}

static ir_graph *compile(const char *text, char **diag_out) {
    return compile_defs(text, NULL, 0, diag_out, NULL);
}

static int count_op(const ir_graph *g, ir_op op) {
    int n = 0;
    for (int i = 0; i < g->nnodes; i++)
        n += g->nodes[i].op == op;
    return n;
}

static const ir_node *output(const ir_graph *g, const char *name) {
    for (int i = 0; i < g->noutputs; i++)
        if (!strcmp(g->outputs[i].name, name)) return &g->nodes[g->outputs[i].ref];
    fail_msg("no output %s", name);
    return NULL;
}

static float scalar(const ir_graph *g, const char *name) {
    const ir_node *n = output(g, name);
    assert_int_equal(n->op, IR_CONST);
    return *(const float *)n->value->data;
}

/* Expects exactly one error at LINE:COL whose message contains `what`. */
static void expect_error(const char *text, int line, int col, const char *what) {
    char *diag;
    ir_graph *g = compile(text, &diag);
    if (g) fail_msg("compiled without error:\n%s", text);
    char loc[64];
    snprintf(loc, sizeof loc, "m.wsm:%d:%d: error: ", line, col);
    if (!strstr(diag, loc) || !strstr(diag, what))
        fail_msg("want %s...%s, got:\n%s", loc, what, diag);
    free(diag);
}

static void test_parse_only(void **state) {
    ir_diag *d = ir_diag_new(NULL);
    const char *ok = "model m; const N = 4; input x: f32[N]; fn f(a: f32[K], s: float = 1.0) -> "
                     "f32[K] { let b = a * s; return b; }\n"
                     "for i in 0..N { let y = x[i:]; } output z = f(x, s: 2.) @ x;";
    assert_int_equal(fe_parse_only("ok.wsm", ok, strlen(ok), d), 0);
    /* `0..L` is 0, .., L; 3. is a float; 1e-5 a float */
    const char *nums = "const a = 3.; const b = 1e-5; for i in 0..a {} const c = .5;";
    assert_int_equal(fe_parse_only("n.wsm", nums, strlen(nums), d), 0);
    assert_int_equal(ir_diag_errors(d), 0);
    /* binary garbage is a bounded number of errors, never a crash */
    char garbage[4096];
    for (size_t i = 0; i < sizeof garbage; i++)
        garbage[i] = (char)((i * 7919u) >> 3);
    assert_true(fe_parse_only("g.wsm", garbage, sizeof garbage, d) > 0);
    ir_diag_free(d);
}

static void test_syntax_errors(void **state) {
    expect_error("input x: f32[4];\noutput y = relu(x;\n", 2, 18, "expected ')' or ','");
    expect_error("input x: f32[4];\nlet a = x +;\n", 2, 12, "expected an expression");
    expect_error("input x: f32[4];\n/* open\n", 2, 1, "unterminated comment");
    expect_error("param w: f32[4] = file(\"w.npy);\n", 1, 24, "unterminated string");
    expect_error("let s = \"a\\q\";\n", 1, 9, "unknown escape");
    expect_error("const a = 99999999999999999999;\n", 1, 11, "too large");
    expect_error("model a;\nmodel b;\n", 2, 1, "unexpected");
}

static void test_several_errors(void **state) {
    char *diag;
    ir_graph *g = compile(
        "input x: f32[4];\nlet a = x + alpha;\nlet b = a * 2.0;\noutput y = b + beta;\n", &diag);
    assert_null(g);
    assert_non_null(strstr(diag, "m.wsm:2:13: error: undefined name 'alpha'"));
    assert_non_null(strstr(diag, "m.wsm:4:16: error: undefined name 'beta'"));
    /* the operation on an erroneous operand reports nothing more */
    int n = 0;
    for (const char *p = diag; (p = strstr(p, "error:")); p++)
        n++;
    assert_int_equal(n, 2);
    /* caret line under the whole span */
    assert_non_null(strstr(diag, "    2 | let a = x + alpha;\n      |             ^~~~~\n"));
    free(diag);
}

static void test_consts(void **state) {
    char *diag;
    ir_graph *g = compile("const A = 6; const B = A / 3 * 2 - 1; const C = 7.0 / 2;\n"
                          "output a = B * 1.0; output b = C * 1.0; output r = rsqrt(64) * 1.0; "
                          "output m = maximum(2, 3.5) * 1.0;\n",
                          &diag);
    assert_non_null(g);
    assert_int_equal(g->noutputs, 4);
    ir_graph_free(g);
    free(diag);
    expect_error("const A = 7 / 2;\n", 1, 11, "does not divide exactly");
    expect_error("const A = 1 / 0;\n", 1, 11, "division by zero");
    expect_error("input x: f32[2];\nconst A = x;\n", 2, 11, "compile-time integer or float");
}

static void test_defines(void **state) {
    fe_define d[] = {{"B", "3"}, {"S", "0.5"}};
    int st;
    char *diag;
    ir_graph *g = compile_defs(
        "const B = 8; const S = 1.0; const D = 2 * B;\ninput x: f32[B, D];\noutput y = x * S;\n", d,
        2, &diag, &st);
    assert_non_null(g);
    assert_int_equal(g->nodes[0].shape.d[0], 3);
    assert_int_equal(g->nodes[0].shape.d[1], 6); /* D follows B */
    ir_graph_free(g);
    free(diag);
    fe_define bad[] = {{"Q", "3"}};
    g = compile_defs("const B = 8;\ninput x: f32[B];\noutput y = x;\n", bad, 1, &diag, &st);
    assert_null(g);
    assert_int_equal(st, IR_EXIT_USAGE);
    free(diag);
    fe_define junk[] = {{"B", "abc"}};
    g = compile_defs("const B = 8;\ninput x: f32[B];\noutput y = x;\n", junk, 1, &diag, &st);
    assert_null(g);
    assert_int_equal(st, IR_EXIT_USAGE);
    free(diag);
}

static void test_fn_shape_vars(void **state) {
    char *diag;
    ir_graph *g =
        compile("fn linear(x: f32[N, K], w: f32[K, M]) -> f32[N, M] = x @ w;\n"
                "fn top(x: f32[N, C], k: int) -> f32[k, C] = slice(x, axis: 0, start: 0, end: k);\n"
                "input x: f32[6, 4]; param w: f32[4, 3] = ones;\n"
                "output y = top(linear(x, w), 2);\n"
                "output d = dim(linear(x, w), 1) * 1.0;\n",
                &diag);
    assert_non_null(g);
    const ir_node *y = output(g, "y");
    assert_int_equal(y->shape.rank, 2);
    assert_int_equal(y->shape.d[0], 2);
    assert_int_equal(y->shape.d[1], 3);
    assert_float_equal(scalar(g, "d"), 3.0f, 0);
    ir_graph_free(g);
    free(diag);
    /* a shape variable inconsistent across parameters */
    expect_error("fn f(a: f32[N], b: f32[N]) = a + b;\ninput x: f32[4]; input z: f32[5];\noutput y "
                 "= f(x, z);\n",
                 3, 17, "does not fit f32[4]");
    /* fn bodies do not see let names */
    expect_error("input x: f32[4];\nlet s = x;\nfn f(a) = a + s;\noutput y = f(x);\n", 3, 15,
                 "let name");
}

static void test_for_and_rebinding(void **state) {
    char *diag;
    ir_graph *g = compile("input x: f32[4];\nlet h = x;\nfor i in 0..5 { let t = h * 2.0; h = t + "
                          "i; }\noutput y = h;\n",
                          &diag);
    assert_non_null(g);
    assert_int_equal(count_op(g, IR_MUL), 5);
    assert_int_equal(count_op(g, IR_ADD), 5);
    ir_graph_free(g);
    free(diag);
    /* the iteration's lets end with it */
    expect_error("input x: f32[4];\nfor i in 0..2 { let t = x; }\noutput y = t;\n", 3, 12,
                 "undefined name 't'");
    expect_error("input x: f32[4];\nx = x + 1.0;\noutput y = x;\n", 2, 1, "cannot rebind input");
}

static void test_outputs(void **state) {
    char *diag;
    ir_graph *g =
        compile("input x: f32[4];\noutput y = x * 2.0;\ny = y + 1.0;\noutput z = y;\n", &diag);
    assert_non_null(g);
    assert_int_equal(g->noutputs, 2);
    assert_string_equal(g->outputs[0].name, "y");
    assert_int_equal(g->nodes[g->outputs[0].ref].op, IR_MUL); /* value at that statement */
    assert_int_equal(g->nodes[g->outputs[1].ref].op, IR_ADD);
    ir_graph_free(g);
    free(diag);
    expect_error("input x: f32[4];\noutput y = x;\noutput y;\n", 3, 8, "declared twice");
}

static void test_imports(void **state) {
    write_file("lib1.wsm", "import \"lib2.wsm\";\nconst N = 4;\nfn f(x: f32[N]) = g(x) * 2.0;\n");
    write_file("lib2.wsm", "fn g(x: f32[M]) = x + 1.0;\n");
    char *diag;
    /* a shape variable in an imported fn stays one even with a const M here */
    ir_graph *g = compile("import \"lib1.wsm\";\nimport \"lib2.wsm\";\nconst M = 9;\ninput x: "
                          "f32[N];\noutput y = f(x) + g(x);\n",
                          &diag);
    if (!g) fail_msg("%s", diag);
    ir_graph_free(g);
    free(diag);
    write_file("cyc.wsm", "import \"m.wsm\";\n");
    char *d1;
    g = compile("import \"cyc.wsm\";\n", &d1);
    assert_null(g);
    assert_non_null(strstr(d1, "cyc.wsm:1:1: error: import cycle"));
    free(d1);
    write_file("bad.wsm", "input q: f32[2];\n");
    char *d2;
    g = compile("import \"bad.wsm\";\n", &d2);
    assert_null(g);
    assert_non_null(strstr(d2, "bad.wsm:1:1: error: an imported file holds only"));
    free(d2);
}

static void test_types_and_limits(void **state) {
    expect_error("input x: f32[0];\n", 1, 14, "out of range");
    expect_error("input x: f32[65536, 65536, 65536, 65536];\n", 1, 10, "2^48");
    expect_error("input a: f32[4]; input i: i32[4];\noutput y = a + i;\n", 2, 12,
                 "different dtypes");
    expect_error("input i: i32[4];\noutput y = i * 0.5;\n", 2, 16, "whole number");
    expect_error("input b: bool[4];\noutput y = b + 1;\n", 2, 16, "bool tensor");
    expect_error("input x: f32[3, 4]; input w: f32[5, 6];\noutput y = x @ w;\n", 2, 12,
                 "matmul shapes do not fit");
}

static void test_deep_nesting(void **state) {
    /* 10,000 nested calls work; far deeper is refused with a location */
    size_t n = 10000;
    char *text = malloc(n * 6 + 100);
    strcpy(text, "input x: f32[4];\noutput y = ");
    for (size_t i = 0; i < n; i++)
        strcat(text + strlen(text) - 0, "relu(");
    strcat(text, "x");
    for (size_t i = 0; i < n; i++)
        strcat(text, ")");
    strcat(text, ";\n");
    char *diag;
    ir_graph *g = compile(text, &diag);
    assert_non_null(g);
    ir_graph_free(g);
    free(diag);
    free(text);
    n = 30000;
    text = malloc(n * 2 + 100);
    size_t len = (size_t)sprintf(text, "input x: f32[4];\noutput y = ");
    for (size_t i = 0; i < n; i++)
        text[len++] = '-';
    len += (size_t)sprintf(text + len, "x;\n");
    g = compile(text, &diag);
    assert_null(g);
    assert_non_null(strstr(diag, "nested more than"));
    free(diag);
    free(text);
}

static void test_diag_linecol(void **state) {
    ir_diag *d = ir_diag_new(NULL);
    int f = ir_diag_add_file(d, "a.wsm", "ab\n\tcd\n\nx", 9);
    int line, col;
    ir_diag_linecol(d, f, 4, &line, &col);
    assert_int_equal(line, 2);
    assert_int_equal(col, 2); /* a tab is one column */
    ir_diag_linecol(d, f, 8, &line, &col);
    assert_int_equal(line, 4);
    assert_int_equal(col, 1);
    ir_error(d, (ir_loc){f, 4, 6}, "bad %s", "thing");
    ir_note(d, (ir_loc){f, 0, 2}, "here");
    assert_string_equal(ir_diag_text(d), "a.wsm:2:2: error: bad thing\n    2 | \tcd\n      | \t^~\n"
                                         "a.wsm:1:1: note: here\n    1 | ab\n      | ^~\n");
    assert_int_equal(ir_diag_errors(d), 1);
    ir_diag_free(d);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/wsc-fe-XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_only),        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_several_errors),    cmocka_unit_test(test_consts),
        cmocka_unit_test(test_defines),           cmocka_unit_test(test_fn_shape_vars),
        cmocka_unit_test(test_for_and_rebinding), cmocka_unit_test(test_outputs),
        cmocka_unit_test(test_imports),           cmocka_unit_test(test_types_and_limits),
        cmocka_unit_test(test_deep_nesting),      cmocka_unit_test(test_diag_linecol),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd)) {
    }
    return r;
}
