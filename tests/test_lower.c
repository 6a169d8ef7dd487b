/* Tests of lowering to kernels and tiling: every IR value that must exist on
 * the wafer is computed by exactly one kernel, fusion follows its rules,
 * every kernel fits its PEs' SRAM, the rectangles fit the budget, and a
 * model too large for a fabric is refused with a message that says why. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fe.h"
#include "pass.h"

#include "test_models.h"

static void check_kernels(const ir_graph *g, const ir_kgraph *kg, const ir_target *t) {
    int32_t *owner = calloc((size_t)g->nnodes, sizeof *owner);
    int64_t area = 0;
    for (int32_t i = 0; i < kg->nk; i++) {
        const ir_kernel *k = &kg->k[i];
        assert_true(k->w >= 1 && k->h >= 1 && k->w <= t->width && k->h <= t->height);
        assert_true(k->sram_data + k->sram_buffers + k->sram_program <= t->sram_bytes);
        area += (int64_t)k->w * k->h;
        if (k->kind == IR_KK_OUTPUT) continue;
        for (int32_t j = 0; j < k->nnodes; j++)
            owner[k->nodes[j]]++;
        /* fused ops follow the first node and keep its shape */
        for (int32_t j = 1; j < k->nnodes; j++)
            assert_true(ir_shape_eq(&g->nodes[k->nodes[j]].shape, &g->nodes[k->nodes[0]].shape) ||
                        g->nodes[k->nodes[j]].shape.rank == g->nodes[k->nodes[0]].shape.rank);
    }
    assert_true(area <= (int64_t)t->width * t->height / 2);
    for (int32_t i = 0; i < g->nnodes; i++) {
        ir_op op = g->nodes[i].op;
        bool resident = op == IR_PARAM || op == IR_CONST;
        if (!resident && op != IR_RESHAPE && op != IR_SLICE && op != IR_TRANSPOSE)
            if (owner[i] != 1)
                fail_msg("node %%%d (%s) is computed by %d kernels", i, ir_ops[op].name, owner[i]);
        assert_true(owner[i] <= 1);
    }
    for (int32_t i = 0; i < kg->ns; i++) {
        assert_true(kg->s[i].src < kg->s[i].dst); /* pipeline order */
        assert_true(kg->s[i].wavelets > 0);
    }
    free(owner);
}

static void lower_example(const char *path, int w, int h) {
    ir_diag *d = ir_diag_new(NULL);
    ir_target t = test_target(w, h);
    ir_kgraph kg;
    ir_graph *g = test_tile(path, &t, &kg, d);
    check_kernels(g, &kg, &t);
    ir_kgraph_free(&kg);
    ir_graph_free(g);
    ir_diag_free(d);
}

static void test_examples(void **state) {
    lower_example("tests/ref/cases/ex_mlp", 32, 32);
    lower_example("tests/golden/ir/attention.wsm", 16, 16);
    lower_example("tests/golden/ir/stacked.wsm", 16, 16);
    lower_example("tests/golden/ir/dtypes.wsm", 16, 16);
    lower_example("tests/ref/cases/ex_gpt2", 32, 32);
    lower_example("tests/ref/cases/ex_llama", 32, 32);
    lower_example("tests/ref/cases/ex_llama", 762, 1172);
    lower_example("tests/ref/cases/ex_mlp", 762, 1172);
}

static void test_fusion(void **state) {
    ir_diag *d = ir_diag_new(NULL);
    ir_graph *g = test_load("tests/golden/ir/mlp.wsm", d);
    ir_kgraph kg;
    assert_true(pass_lower(g, &kg, d));
    /* input, linear+relu, linear, softmax, output */
    int gemv = 0, fused = 0;
    for (int32_t i = 0; i < kg.nk; i++) {
        gemv += kg.k[i].kind == IR_KK_GEMV;
        if (kg.k[i].kind == IR_KK_GEMV && kg.k[i].nnodes == 2)
            fused += g->nodes[kg.k[i].nodes[1]].op == IR_RELU;
    }
    assert_int_equal(gemv, 2);
    assert_int_equal(fused, 1);
    assert_int_equal(kg.nk, 5);
    ir_kgraph_free(&kg);
    ir_graph_free(g);
    ir_diag_free(d);
}

static void test_refusal(void **state) {
    ir_diag *d = ir_diag_new(NULL);
    ir_graph *g = test_load("tests/ref/cases/ex_gpt2", d);
    ir_kgraph kg;
    assert_true(pass_lower(g, &kg, d));
    ir_target t = test_target(4, 4);
    assert_false(pass_tile(g, &kg, &t, d));
    assert_non_null(strstr(ir_diag_text(d), "does not fit"));
    assert_non_null(strstr(ir_diag_text(d), "PEs"));
    ir_kgraph_free(&kg);
    ir_graph_free(g);
    ir_diag_free(d);
}

/* More PEs never make the pipeline slower. */
static void test_balance(void **state) {
    ir_diag *d = ir_diag_new(NULL);
    ir_graph *g = test_load("tests/ref/cases/ex_gpt2", d);
    int64_t prev = INT64_MAX;
    for (int s = 64; s <= 512; s *= 2) {
        ir_kgraph kg;
        assert_true(pass_lower(g, &kg, d));
        ir_target t = test_target(s, s);
        if (!pass_tile(g, &kg, &t, d)) fail_msg("%s", ir_diag_text(d));
        check_kernels(g, &kg, &t);
        int64_t period = 0;
        for (int32_t i = 0; i < kg.nk; i++)
            period = kg.k[i].cycles > period ? kg.k[i].cycles : period;
        assert_true(period <= prev);
        prev = period;
        ir_kgraph_free(&kg);
    }
    ir_graph_free(g);
    ir_diag_free(d);
}

/* A fused op's resident operand that is a view of a weight (GPT-2's
 * wpe[0:T] added to the token gather) is held by the kernel's lanes like a
 * bias: tiling must count it, or codegen finds the PEs over-full. */
static void test_resident_view_operand(void **state) {
    (void)state;
    ir_diag *d = ir_diag_new(NULL);
    ir_target t = test_target(762, 1172);
    ir_kgraph kg;
    ir_graph *g = test_tile("tests/data/embed_pos.wsm", &t, &kg, d);
    check_kernels(g, &kg, &t);
    int checked = 0;
    for (int32_t i = 0; i < kg.nk; i++) {
        const ir_kernel *k = &kg.k[i];
        if (k->kind != IR_KK_GATHER) continue;
        assert_int_equal(k->nnodes, 2); /* the add is fused */
        int64_t table = (16384 + k->h - 1) / k->h * ((768 + k->w - 1) / k->w) * 4;
        int64_t pos = (64 * 768 + k->w - 1) / k->w * 4;
        assert_true(k->sram_data >= table + pos);
        assert_true(k->sram_data + k->sram_buffers + k->sram_program <= t.sram_bytes);
        checked++;
    }
    assert_int_equal(checked, 1);
    ir_kgraph_free(&kg);
    ir_graph_free(g);
    ir_diag_free(d);
}

/* Attention mapped by heads: the heads views of q, k and v are addressing,
 * not move kernels (only the view back, which a reshape merges, moves
 * data), and the batched matmuls split their heads over their rows; mapped
 * as written, every transpose is a move kernel. */
static void test_attention_by_heads(void **state) {
    (void)state;
    ir_diag *d = ir_diag_new(NULL);
    ir_target t = test_target(32, 32);
    for (int by = 0; by <= 1; by++) {
        ir_graph *g = test_load("tests/golden/dump/attention.wsm", d);
        assert_true(ir_graph_has_heads(g));
        g->by_heads = by;
        ir_kgraph kg;
        assert_true(pass_lower(g, &kg, d));
        if (!pass_tile(g, &kg, &t, d)) fail_msg("%s", ir_diag_text(d));
        check_kernels(g, &kg, &t);
        int moves = 0, matmuls = 0;
        for (int32_t i = 0; i < kg.nk; i++) {
            const ir_kernel *k = &kg.k[i];
            int64_t nb = 0;
            moves += k->kind == IR_KK_MOVE;
            if (k->kind != IR_KK_MATMUL) continue;
            matmuls++;
            assert_int_equal(ir_matmul_by_batch(g, k, &nb), by);
            if (by) {
                assert_int_equal(nb, 2);
                assert_true(k->h <= 2);
                /* row r keeps its heads' rows of both operands, every column */
                const ir_node *n0 = &g->nodes[k->nodes[0]];
                for (int o = 0; o < 2; o++) {
                    ir_keep kp = ir_lane_keep(g, k, n0->in[o], k->h - 1);
                    const ir_node *x = &g->nodes[n0->in[o]];
                    assert_int_equal(kp.c0, 0);
                    assert_int_equal(kp.c1, x->shape.d[2]);
                    assert_int_equal(kp.rhi, x->shape.d[0] * x->shape.d[1]);
                }
            }
        }
        assert_int_equal(matmuls, 2);
        assert_int_equal(moves, by ? 1 : 4);
        ir_kgraph_free(&kg);
        ir_graph_free(g);
    }
    ir_diag_free(d);
}

/* A gather takes the narrowest rectangle meeting the period (its lanes are
 * its columns, and each one is a net into its consumers), and an output
 * column takes a number of rows that divides its producer's lanes or is a
 * multiple of them, so no lane feeds two rows. */
static void test_lane_shapes(void **state) {
    ir_diag *d = ir_diag_new(NULL);
    ir_target t = test_target(762, 1172);
    ir_kgraph kg;
    ir_graph *g = test_tile("tests/data/embed_logits.wsm", &t, &kg, d);
    check_kernels(g, &kg, &t);
    int64_t period = 0;
    for (int32_t i = 0; i < kg.nk; i++)
        period = kg.k[i].cycles > period ? kg.k[i].cycles : period;
    int checked = 0;
    for (int32_t i = 0; i < kg.nk; i++) {
        const ir_kernel *k = &kg.k[i];
        if (k->kind == IR_KK_GATHER) {
            /* the smallest area spreads the 48 MiB table over one wide row
             * band (hundreds of lanes); the chain down a column of the
             * narrow one still meets the period */
            assert_true(k->w <= 32);
            assert_true(k->h > 8 * k->w);
            assert_true(k->cycles <= period);
            checked++;
        }
        if (k->kind == IR_KK_OUTPUT) {
            for (int32_t s = 0; s < kg.ns; s++)
                if (kg.s[s].dst == i) {
                    int32_t p = kg.k[kg.s[s].src].w;
                    assert_int_equal(kg.k[kg.s[s].src].kind, IR_KK_GEMV);
                    assert_true(p > 1);
                    assert_true(p % k->h == 0 || k->h % p == 0);
                    checked++;
                }
        }
    }
    assert_int_equal(checked, 2);
    ir_kgraph_free(&kg);
    ir_graph_free(g);
    ir_diag_free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_examples),
        cmocka_unit_test(test_fusion),
        cmocka_unit_test(test_refusal),
        cmocka_unit_test(test_balance),
        cmocka_unit_test(test_lane_shapes),
        cmocka_unit_test(test_resident_view_operand),
        cmocka_unit_test(test_attention_by_heads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
