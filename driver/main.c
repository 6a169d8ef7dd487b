/* main.c - the wsc program: the command table and dispatch. (The only deep
 * recursion, elaboration, runs on a large stack of its own: fe_compile.) */
#include "driver.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

const drv_command drv_commands[] = {
    {"check", "parse and type-check a model; print nothing on success (--emit ir: its IR)",
     "wsc check MODEL.wsm [OPTIONS]",
     "Reads the model (and the files it imports), elaborates it into the tensor IR,\n"
     "type-checks every operation and runs the IR pass pipeline. Prints nothing on\n"
     "success; every error is reported as FILE:LINE:COL with the source line.\n",
     OPTS_MODEL, drv_check, NULL},
    {"eval", "run a model on the host with the reference interpreter (the oracle)",
     "wsc eval MODEL.wsm -i NAME=FILE.npy ... -o DIR [OPTIONS]",
     "Compiles the model as 'check' does, then runs it on the host with the reference\n"
     "interpreter and writes DIR/NAME.npy for every output. Every input of the model\n"
     "must be given exactly once with -i; the file's dtype and shape must equal the\n"
     "input's. Results are bit-identical whatever the number of threads.\n",
     OPTS_MODEL | OPT_BIT(OPT_INPUT) | OPT_BIT(OPT_OUTDIR) | OPT_BIT(OPT_THREADS), drv_eval, NULL},
    {"compile", "compile a model to a placed-and-routed artifact with PE programs",
     "wsc compile MODEL.wsm -o OUT.wsa [OPTIONS]",
     "Compiles the model for the modeled wafer: lowers it to kernels, sizes each\n"
     "kernel's rectangle of PEs, places the rectangles, routes the streams between\n"
     "them on colours, proves every route, and writes one self-describing artifact.\n"
     "-o names the artifact (PE programs as LLVM bitcode, every PE's SRAM image and the\n"
     "host I/O map included); --emit kernels prints the kernel graph, --emit llvm the\n"
     "PE programs.\n",
     OPTS_MODEL | OPT_BIT(OPT_OUTDIR) | OPT_BIT(OPT_TIME_REPORT), drv_compile, NULL},
    {"run", "execute an artifact on the modeled wafer",
     "wsc run OUT.wsa -i NAME=FILE.npy ... -o DIR [OPTIONS]",
     "Executes a compiled artifact on the cycle-level model of the wafer: every PE\n"
     "runs its program from the artifact on its SRAM image, every wavelet moves hop\n"
     "by hop through the routers' configurations, the inputs stream in on the west\n"
     "edge and the outputs are collected on the east edge, then written as 'eval'\n"
     "does. --stats reports the modeled cycles, latency, wavelets, hops, the busiest\n"
     "link and PE use (--format json: one JSON object); --trace writes PE task\n"
     "activity for Perfetto; --check runs the reference interpreter too and compares\n"
     "every output within the spec's tolerance. Outputs and cycles are identical for\n"
     "any --threads.\n",
     OPT_BIT(OPT_HELP) | OPT_BIT(OPT_INPUT) | OPT_BIT(OPT_OUTDIR) | OPT_BIT(OPT_THREADS) |
         OPT_BIT(OPT_STATS) | OPT_BIT(OPT_FORMAT) | OPT_BIT(OPT_TRACE) | OPT_BIT(OPT_CHECK),
     drv_run, NULL},
    {"dump", "inspect an artifact: summary, placement (text, json, svg)",
     "wsc dump OUT.wsa [--placement | --memory | --routes KERNEL] [--format text|json|svg]",
     "Prints a summary of a compiled artifact: target, fabric size, PEs used, kernels,\n"
     "SRAM and colour use, link load, and the modeled pipeline period. --placement\n"
     "prints the placement: a map scaled to the terminal (text), a JSON object, or an\n"
     "SVG picture of the fabric. --format json without --placement prints the summary\n"
     "as JSON. --memory lists every kernel's SRAM use per PE (weights, buffers,\n"
     "program); --routes KERNEL lists the routed streams into a kernel and inside it:\n"
     "colour, source, sinks, routers configured, load.\n",
     OPT_BIT(OPT_HELP) | OPT_BIT(OPT_PLACEMENT) | OPT_BIT(OPT_FORMAT) | OPT_BIT(OPT_ROUTES) |
         OPT_BIT(OPT_MEMORY),
     drv_dump, NULL},
    {"import", "translate an ONNX model to WSM (not implemented yet)",
     "wsc import MODEL.onnx -o MODEL.wsm",
     "Translates an ONNX model to a WSM file, its weights to a .safetensors file\n"
     "beside it.\n",
     0, NULL, "  -o MODEL.wsm               the WSM file to write\n"},
    {"help", "describe a command, the passes or the targets", "wsc help [COMMAND|passes|targets]",
     "Without a topic, lists the commands. 'wsc help COMMAND' describes a command and\n"
     "its options, 'wsc help passes' the IR passes and 'wsc help targets' the machines.\n",
     OPT_BIT(OPT_HELP), NULL, NULL},
};
const int drv_ncommands = (int)(sizeof drv_commands / sizeof drv_commands[0]);

const drv_command *drv_command_lookup(const char *name) {
    for (int i = 0; i < drv_ncommands; i++)
        if (strcmp(drv_commands[i].name, name) == 0) return &drv_commands[i];
    return NULL;
}

int drv_usage_error(const drv_command *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("wsc: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (cmd)
        fprintf(stderr, "\ntry 'wsc help %s'\n", cmd->name);
    else
        fputs("\ntry 'wsc help'\n", stderr);
    return IR_EXIT_USAGE;
}

static bool is_help_flag(const char *s) {
    return strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0;
}

/* A command still to come answers -h with its planned options, and anything
 * else with a clear refusal rather than a parse of options it cannot use. */
static int not_implemented(const drv_command *cmd, int argc, char **argv) {
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (is_help_flag(argv[i])) {
            drv_print_command_help(cmd, stdout);
            return IR_EXIT_OK;
        }
    }
    fprintf(stderr, "wsc: error: '%s' is not implemented yet\n", cmd->name);
    return IR_EXIT_INPUT;
}

static int run_command(const drv_command *cmd, int argc, char **argv) {
    drv_args a;
    int status = drv_parse_args(cmd, argc, argv, &a);
    if (status < 0) {
        ir_diag *d = ir_diag_new(stderr);
        status = cmd->run(&a, d);
        ir_diag_free(d);
    }
    drv_args_free(&a);
    return status;
}

static int dispatch(int argc, char **argv) {
    if (argc < 2) {
        fputs("wsc: error: no command given\n\n", stderr);
        drv_print_overview(stderr);
        return IR_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (is_help_flag(name)) {
        drv_print_overview(stdout);
        return IR_EXIT_OK;
    }
    if (name[0] == '-') return drv_usage_error(NULL, "expected a command before '%s'", name);
    const drv_command *cmd = drv_command_lookup(name);
    if (!cmd) return drv_usage_error(NULL, "unknown command '%s'", name);
    if (strcmp(cmd->name, "help") == 0) return drv_help_main(argc - 1, argv + 1);
    if (!cmd->run) return not_implemented(cmd, argc - 1, argv + 1);
    return run_command(cmd, argc - 1, argv + 1);
}

int main(int argc, char **argv) {
    int status = dispatch(argc, argv);
    /* Output cut short (a full disk, a closed pipe) must not pass for success:
     * the IR printed by --emit ir may be what the caller consumes. */
    int err = fflush(stdout) != 0 ? errno : ferror(stdout) ? EIO : 0;
    if (err) {
        fprintf(stderr, "wsc: error: cannot write to standard output: %s\n", strerror(err));
        if (status == IR_EXIT_OK) status = IR_EXIT_INPUT;
    }
    return status;
}
