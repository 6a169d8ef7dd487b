/* fe.h - the WSM front end: scanner, parser and elaboration of a model file
 * (imports, consts, fns, for loops) into a typed tensor IR graph. */
#ifndef WSC_FE_H
#define WSC_FE_H

#include "ir.h"

/* A -D NAME=VALUE override of a top-level const of the main file. */
typedef struct fe_define {
    const char *name;  /* const name */
    const char *value; /* an integer or float literal, as typed */
} fe_define;

typedef struct fe_options {
    const char *path;         /* the model file */
    const fe_define *defines; /* -D overrides */
    int ndefines;             /* count of defines */
    const char *weights;      /* --weights FILE.safetensors|DIR, or NULL */
    uint64_t seed;            /* --seed for normal/uniform */
} fe_options;

/* Reads, parses and elaborates the model. Returns the graph, or NULL after
 * reporting every error on d; *status is then IR_EXIT_INPUT, or
 * IR_EXIT_USAGE when a -D names no top-level const or its value is not a
 * number. Params get their data from --weights or file(); normal/uniform/
 * zeros/ones params keep their initializer (ir_param_value materializes it). */
ir_graph *fe_compile(const fe_options *o, ir_diag *d, int *status);

/* Parses source text only (no elaboration); returns the number of errors.
 * The fuzzer and the parser tests use it. */
int fe_parse_only(const char *path, const char *text, size_t len, ir_diag *d);

#endif
