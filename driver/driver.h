/* driver.h - the pieces of the wsc program shared by its files: the command
 * table, the parsed command line, the help printers and the commands. */
#ifndef WSC_DRIVER_H
#define WSC_DRIVER_H

#include "fe.h"
#include "ir.h"

/* Every option the program knows. A command's mask says which it takes, so
 * one parser serves all commands and an option given to the wrong command is
 * named as such instead of as unknown. */
typedef enum drv_opt {
    OPT_HELP,
    OPT_DEFINE,
    OPT_WEIGHTS,
    OPT_SEED,
    OPT_TARGET,
    OPT_FABRIC,
    OPT_EMIT,
    OPT_DUMP_AFTER,
    OPT_STOP_AFTER,
    OPT_INPUT,
    OPT_OUTDIR,
    OPT_THREADS,
    OPT_PLACEMENT,
    OPT_FORMAT,
    OPT_ROUTES,
    OPT_MEMORY,
    OPT_STATS,
    OPT_TRACE,
    OPT_CHECK,
    OPT_TIME_REPORT,
    OPT_COUNT
} drv_opt;

#define OPT_BIT(o) (1u << (o))

/* The options of the commands that read a model (check, eval, compile). */
#define OPTS_MODEL                                                                                 \
    (OPT_BIT(OPT_HELP) | OPT_BIT(OPT_DEFINE) | OPT_BIT(OPT_WEIGHTS) | OPT_BIT(OPT_SEED) |          \
     OPT_BIT(OPT_TARGET) | OPT_BIT(OPT_FABRIC) | OPT_BIT(OPT_EMIT) | OPT_BIT(OPT_DUMP_AFTER) |     \
     OPT_BIT(OPT_STOP_AFTER))

/* One -i NAME=FILE. */
typedef struct drv_input {
    char *name;       /* the model input it feeds (owned) */
    const char *path; /* the .npy file, as typed (points into argv) */
} drv_input;

struct drv_command;

/* A parsed command line. Strings point into argv unless marked owned. */
typedef struct drv_args {
    const struct drv_command *cmd; /* the command being run */
    const char *model;             /* the model file */
    fe_define *defines;            /* -D overrides (names owned) */
    int ndefines;                  /* count of defines */
    const char *weights;           /* --weights, or NULL */
    uint64_t seed;                 /* --seed (0 by default) */
    const char *target;            /* --target: "wse2", "wse3" or a file */
    int fabric_w, fabric_h;        /* --fabric WxH; 0 x 0: the whole target */
    ir_target machine;             /* --target's machine with --fabric applied */
    const char *emit;              /* --emit: NULL, "ir", "kernels" or "llvm" */
    const char *dump_after;        /* --dump-after PASS|all, or NULL */
    const char *stop_after;        /* --stop-after PASS, or NULL */
    drv_input *inputs;             /* -i in command-line order (owned) */
    int ninputs;                   /* count of inputs */
    const char *outdir;            /* -o DIR, or NULL */
    int threads;                   /* --threads, else the online CPUs */
    bool placement;                /* dump --placement */
    const char *format;            /* dump --format text|json|svg (NULL: text) */
    const char *routes;            /* dump --routes KERNEL, or NULL */
    bool memory;                   /* dump --memory */
    bool stats;                    /* run --stats */
    const char *trace;             /* run --trace FILE.json, or NULL */
    bool check;                    /* run --check */
    bool time_report;              /* compile --time-report */
    unsigned seen;                 /* OPT_BIT of the single-valued options given */
} drv_args;

/* Runs a command whose command line parsed; returns the exit status.
 * Diagnostics go to d. */
typedef int drv_run_fn(const drv_args *a, ir_diag *d);

typedef struct drv_command {
    const char *name;    /* as typed after `wsc` */
    const char *summary; /* one line for `wsc help` */
    const char *usage;   /* synopsis for `wsc help NAME` and usage errors */
    const char *about;   /* what it does, for `wsc help NAME` */
    unsigned opts;       /* OPT_BIT mask of the options it takes */
    drv_run_fn *run;     /* NULL: not implemented yet (or `help`) */
    const char *planned; /* options of a command not implemented yet, for its help */
} drv_command;

extern const drv_command drv_commands[];
extern const int drv_ncommands;
const drv_command *drv_command_lookup(const char *name);

/* Prints "wsc: error: MESSAGE" and the hint "try 'wsc help TOPIC'" (TOPIC is
 * the command, or the command list when cmd is NULL); returns IR_EXIT_USAGE. */
int drv_usage_error(const drv_command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Parses the arguments after the command name (argv[0] is the command).
 * Returns -1 when the command should run, else the exit status to end with:
 * 0 after printing the command's help for -h, IR_EXIT_USAGE after a usage
 * error, IR_EXIT_INPUT when the --target file is wrong (reported on standard
 * error at its FILE:LINE:COL). *a is filled either way; drv_args_free
 * releases it. */
int drv_parse_args(const drv_command *cmd, int argc, char **argv, drv_args *a);
void drv_args_free(drv_args *a);

/* `wsc help [TOPIC]`, with argv[0] == "help". */
int drv_help_main(int argc, char **argv);
/* The command list (for `wsc help` and a bare `wsc`). */
void drv_print_overview(FILE *out);
/* The help page of one command. */
void drv_print_command_help(const drv_command *cmd, FILE *out);
/* The options of `mask`, one line each, for a command's help. */
void drv_print_options(unsigned mask, const char *cmd_name, FILE *out);
/* The names of the passes, comma separated, for usage errors. */
void drv_print_pass_names(FILE *out);

/* The implemented commands. */
int drv_check(const drv_args *a, ir_diag *d);
int drv_eval(const drv_args *a, ir_diag *d);
int drv_compile(const drv_args *a, ir_diag *d);
int drv_dump(const drv_args *a, ir_diag *d);
int drv_run(const drv_args *a, ir_diag *d);
/* Shared by eval and run: the -i files bound to g's inputs (in the order of
 * its input nodes, checked for name, dtype and shape; *values is malloc'd,
 * its tensors the caller's), `-o DIR` created, and DIR/NAME.npy written. */
int drv_read_inputs(const drv_args *a, const ir_graph *g, ir_tensor ***values, ir_diag *d);
int drv_make_dirs(const char *path, ir_diag *d);
int drv_write_outputs(const drv_args *a, const ir_graph *g, ir_tensor *const *outs, ir_diag *d);

/* Shared by check and eval: refuses the --emit stages that do not exist yet
 * (returns IR_EXIT_INPUT after reporting) and returns 0 otherwise. */
int drv_check_emit(const drv_args *a, ir_diag *d);
/* Reads and elaborates the model; returns 0 with *g set, or the exit status. */
int drv_front_end(const drv_args *a, ir_diag *d, ir_graph **g);
/* Runs the pass pipeline on *g with the dump, stop and --emit ir options and
 * returns 0; a failing pass or verifier is a bug and exits with status 70. */
int drv_pipeline(const drv_args *a, ir_diag *d, ir_graph **g);

#endif
