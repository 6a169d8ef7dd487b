/* pass.h - the pass manager and the IR passes, one per file, registered in
 * one table {name, function}. docs/passes.md describes each pass. */
#ifndef WSC_PASS_H
#define WSC_PASS_H

#include "ir.h"

/* A pass rewrites *g in place or replaces it with a new graph (freeing the
 * old one). Passes never reject a graph the builder made: false means a bug
 * was found (reported on d as an internal error). */
typedef bool pass_fn(ir_graph **g, ir_diag *d);

typedef struct pass_info {
    const char *name; /* as given to --dump-after / --stop-after */
    pass_fn *run;     /* the pass */
    const char *help; /* one line for `wsc help passes` */
} pass_info;

/* The default pipeline, in order: infer, canonicalize, constfold, cse, dce. */
extern const pass_info pass_table[];
extern const int pass_count;
/* The table entry named `name`, or NULL (the driver reports unknown names). */
const pass_info *pass_lookup(const char *name);

/* The passes themselves, also callable one by one (tests do). */
bool pass_infer(ir_graph **g, ir_diag *d);
bool pass_canonicalize(ir_graph **g, ir_diag *d);
bool pass_constfold(ir_graph **g, ir_diag *d);
bool pass_cse(ir_graph **g, ir_diag *d);
bool pass_dce(ir_graph **g, ir_diag *d);

typedef struct pass_options {
    const char *dump_after; /* print the IR to dump_out after this pass ("all": after each) */
    const char *stop_after; /* stop the pipeline after this pass */
    FILE *dump_out;         /* where dumps go (stdout); NULL means stdout */
    bool verify;            /* run ir_verify between passes (on in debug builds) */
} pass_options;

/* Runs the pipeline. Returns false when a pass or the verifier failed; every
 * such failure is an internal error (reported on d): the caller exits 70. */
bool pass_run_pipeline(ir_graph **g, const pass_options *o, ir_diag *d);

/* Runs passes[0..n) as pass_run_pipeline runs the default table (same
 * options, dumps and checks); the pipeline is this on pass_table. */
bool pass_run_list(ir_graph **g, const pass_info *passes, int n, const pass_options *o, ir_diag *d);

/* ---------------------------------------------------- to the wafer */

/* Lowers the (canonicalized) IR to a kernel graph (lower.c): kernels in
 * pipeline order, elementwise ops fused into their producers, weights and
 * their views resident, streams between kernels. Every kernel is 1 x 1. */
bool pass_lower(const ir_graph *g, ir_kgraph *kg, ir_diag *d);
/* Sizes every kernel's rectangle for the target (tile.c): SRAM per PE and
 * pipeline balance. Refuses (reported) a model that does not fit. */
bool pass_tile(const ir_graph *g, ir_kgraph *kg, const ir_target *t, ir_diag *d);
/* The kernel table of `wsc compile --emit kernels`. */
void pass_print_kernels(const ir_graph *g, const ir_kgraph *kg, FILE *out);

#endif
