/* test_models.h - loading models for the cmocka tests of the wafer stages:
 * a target of a given fabric size and a model run through the IR passes
 * (and on to tiled kernels). */
#ifndef WSC_TEST_MODELS_H
#define WSC_TEST_MODELS_H

#include <stdio.h>
#include <string.h>

#include "fe.h"
#include "pass.h"

/* machine.md's wse3 cut to a w x h fabric. */
static inline ir_target test_target(int w, int h) {
    ir_target t;
    assert_true(ir_target_preset("wse3", &t));
    ir_diag *d = ir_diag_new(NULL);
    assert_true(ir_target_set_fabric(&t, w, h, d));
    ir_diag_free(d);
    return t;
}

/* A reference case folder under the source tree (model.wsm and
 * weights.safetensors), or a model file whose params all have initializers
 * (absolute, or relative to the source tree), after the IR pass pipeline. */
static inline ir_graph *test_load(const char *path, ir_diag *d) {
    char full[512], weights[512];
    bool is_case = !strstr(path, ".wsm");
    if (path[0] == '/')
        snprintf(full, sizeof full, "%s", path);
    else
        snprintf(full, sizeof full, "%s/%s%s", WSC_SOURCE_DIR, path, is_case ? "/model.wsm" : "");
    snprintf(weights, sizeof weights, "%s/%s/weights.safetensors", WSC_SOURCE_DIR, path);
    fe_options o = {full, NULL, 0, is_case ? weights : NULL, 0};
    int st;
    ir_graph *g = fe_compile(&o, d, &st);
    if (!g) fail_msg("%s", ir_diag_text(d));
    pass_options po = {0};
    po.verify = true;
    assert_true(pass_run_pipeline(&g, &po, d));
    return g;
}

/* test_load's model lowered to kernels and tiled for target t. */
static inline ir_graph *test_tile(const char *path, const ir_target *t, ir_kgraph *kg, ir_diag *d) {
    ir_graph *g = test_load(path, d);
    assert_true(pass_lower(g, kg, d));
    if (!pass_tile(g, kg, t, d)) fail_msg("%s", ir_diag_text(d));
    return g;
}

#endif
