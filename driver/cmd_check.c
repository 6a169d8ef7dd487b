/* cmd_check.c - `wsc check`, and the front end and pass pipeline steps that
 * every command reading a model shares. */
#include "driver.h"
#include "pass.h"

#include <stdlib.h>
#include <string.h>

/* Debug and sanitizer builds always verify; WSC_VERIFY=1 turns it on in a
 * release build, to bisect a suspected pass bug without rebuilding. */
static bool verify_passes(void) {
#ifdef WSC_VERIFY_PASSES
    return true;
#else
    const char *v = getenv("WSC_VERIFY");
    return v && strcmp(v, "1") == 0;
#endif
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

int drv_check_emit(const drv_args *a, ir_diag *d) {
    if (!a->emit || strcmp(a->emit, "ir") == 0) return IR_EXIT_OK;
    ir_error(d, IR_NOLOC, "--emit %s is a stage of 'compile', not of '%s'", a->emit, a->cmd->name);
    return IR_EXIT_INPUT;
}

int drv_front_end(const drv_args *a, ir_diag *d, ir_graph **g) {
    *g = NULL;
    if (ends_with(a->model, ".onnx")) {
        ir_error(d, IR_NOLOC, "%s: reading ONNX models is not implemented yet", a->model);
        return IR_EXIT_INPUT;
    }
    fe_options o = {a->model, a->defines, a->ndefines, a->weights, a->seed};
    int before = ir_diag_errors(d);
    int status = IR_EXIT_INPUT;
    *g = fe_compile(&o, d, &status);
    if (*g) return IR_EXIT_OK;
    if (status == IR_EXIT_USAGE) {
        /* A -D that names no const is a command-line error: point at the help. */
        fprintf(stderr, "try 'wsc help %s'\n", a->cmd->name);
        return IR_EXIT_USAGE;
    }
    if (ir_diag_errors(d) == before) ir_internal_error("the front end failed without a diagnostic");
    return IR_EXIT_INPUT;
}

int drv_pipeline(const drv_args *a, ir_diag *d, ir_graph **g) {
    pass_options o = {a->dump_after, a->stop_after, stdout, verify_passes()};
    /* Passes meet only graphs the front end type-checked, so a failing pass
     * (the manager has noted which) or verifier is a bug, never bad input. */
    if (!pass_run_pipeline(g, &o, d)) ir_internal_error("the IR pass pipeline failed");
    if (a->emit && strcmp(a->emit, "ir") == 0) ir_print(*g, stdout);
    return IR_EXIT_OK;
}

int drv_check(const drv_args *a, ir_diag *d) {
    ir_graph *g = NULL;
    int status = drv_check_emit(a, d);
    if (!status) status = drv_front_end(a, d, &g);
    if (!status) status = drv_pipeline(a, d, &g);
    ir_graph_free(g);
    return status;
}
