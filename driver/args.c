/* args.c - the command-line parser: one option table for every command,
 * getopt_long underneath, and messages that name what was wrong. */
#include "driver.h"
#include "pass.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct opt_spec {
    drv_opt id;            /* which option */
    char short_name;       /* 0: long form only */
    const char *long_name; /* without the dashes; NULL: short form only */
    const char *arg;       /* placeholder of the value in help; NULL: a flag */
    const char *help;      /* one line for the command's help */
} opt_spec;

/* In the order the help pages list them. */
static const opt_spec specs[] = {
    {OPT_INPUT, 'i', "input", "NAME=FILE.npy", "feed the model input NAME (once for every input)"},
    {OPT_OUTDIR, 'o', NULL, "DIR", "write DIR/NAME.npy for every output (DIR is created)"},
    {OPT_THREADS, 0, "threads", "N", "host threads of the interpreter (default: online CPUs)"},
    {OPT_DEFINE, 'D', NULL, "NAME=VALUE", "override a top-level const (also -DNAME=VALUE)"},
    {OPT_WEIGHTS, 0, "weights", "PATH", "weights: a .safetensors file or a folder of NAME.npy"},
    {OPT_SEED, 0, "seed", "N", "seed of the normal() and uniform() initializers (default 0)"},
    {OPT_TARGET, 0, "target", "wse2|wse3|FILE", "the machine (default wse3; used by compile)"},
    {OPT_FABRIC, 0, "fabric", "WxH", "a W x H rectangle of the target (used by compile)"},
    {OPT_EMIT, 0, "emit", "ir", "print the IR after the pass pipeline on standard output"},
    {OPT_DUMP_AFTER, 0, "dump-after", "PASS|all", "print the IR after PASS (all: after each)"},
    {OPT_STOP_AFTER, 0, "stop-after", "PASS", "stop the pass pipeline after PASS"},
    {OPT_PLACEMENT, 0, "placement", NULL, "print the placement of the kernels"},
    {OPT_FORMAT, 0, "format", "text|json|svg", "the form of the output (default text)"},
    {OPT_ROUTES, 0, "routes", "KERNEL", "the routed streams into KERNEL (and inside it)"},
    {OPT_MEMORY, 0, "memory", NULL, "SRAM use per PE of every kernel"},
    {OPT_STATS, 0, "stats", NULL, "print cycles, latency, wavelets, hops, link load, PE use"},
    {OPT_TRACE, 0, "trace", "FILE.json", "write a Chrome trace-event file of PE task activity"},
    {OPT_CHECK, 0, "check", NULL, "also run the interpreter and compare every output"},
    {OPT_TIME_REPORT, 0, "time-report", NULL,
     "print each compile phase's wall time and the peak memory"},
    {OPT_HELP, 'h', "help", NULL, "show this help"},
};
enum { NSPECS = sizeof specs / sizeof specs[0] };

/* getopt_long reports long-only options by their `val`; keeping it above any
 * char lets one switch tell them from short ones. */
enum { LONG_BASE = 256 };

/* Caps --threads: more than this only adds scheduling overhead. */
enum { MAX_THREADS = 1024 };
/* Caps each side of --fabric well above any preset, so W * H cannot overflow. */
enum { MAX_FABRIC_SIDE = 1 << 16 };

static const opt_spec *spec_of(drv_opt id) {
    for (int i = 0; i < NSPECS; i++)
        if (specs[i].id == id) return &specs[i];
    ir_internal_error("option %d has no spec", (int)id);
}

static const opt_spec *spec_of_code(int c) {
    if (c >= LONG_BASE) return c - LONG_BASE < OPT_COUNT ? spec_of((drv_opt)(c - LONG_BASE)) : NULL;
    for (int i = 0; i < NSPECS; i++)
        if (specs[i].short_name && specs[i].short_name == c) return &specs[i];
    return NULL;
}

/* "-o" or "--threads": how messages name an option. */
static void spell(const opt_spec *s, char *buf, size_t n) {
    if (s->short_name)
        snprintf(buf, n, "-%c", s->short_name);
    else
        snprintf(buf, n, "--%s", s->long_name);
}

/* compile's -o names the artifact, not a folder of outputs. */
static const opt_spec compile_out = {OPT_OUTDIR, 'o', NULL, "OUT.wsa",
                                     "write the artifact to OUT.wsa (replaced atomically)"};

void drv_print_options(unsigned mask, const char *cmd_name, FILE *out) {
    for (int i = 0; i < NSPECS; i++) {
        const opt_spec *s = &specs[i];
        if (!(mask & OPT_BIT(s->id))) continue;
        if (s->id == OPT_OUTDIR && cmd_name && strcmp(cmd_name, "compile") == 0) s = &compile_out;
        char left[64];
        if (s->short_name && s->long_name)
            snprintf(left, sizeof left, "-%c, --%s%s%s", s->short_name, s->long_name,
                     s->arg ? " " : "", s->arg ? s->arg : "");
        else if (s->short_name)
            snprintf(left, sizeof left, "-%c%s%s", s->short_name, s->arg ? " " : "",
                     s->arg ? s->arg : "");
        else
            snprintf(left, sizeof left, "--%s%s%s", s->long_name, s->arg ? " " : "",
                     s->arg ? s->arg : "");
        fprintf(out, "  %-26s %s\n", left, s->help);
    }
}

static char *xstrndup(const char *s, size_t n) {
    char *p = ir_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

/* Splits NAME=VALUE into an owned name and a pointer to the value; false
 * when either side is empty. */
static bool split_pair(const char *s, char **name, const char **value) {
    const char *eq = strchr(s, '=');
    if (!eq || eq == s || eq[1] == 0) return false;
    *name = xstrndup(s, (size_t)(eq - s));
    *value = eq + 1;
    return true;
}

/* Decimal digits only: strtoull alone would take "-1", " 7" and "0x10". */
static bool parse_u64(const char *s, uint64_t *out) {
    if (*s < '0' || *s > '9') return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end) return false;
    *out = v;
    return true;
}

static bool parse_int(const char *s, int lo, int hi, int *out) {
    uint64_t v;
    if (!parse_u64(s, &v) || v < (uint64_t)lo || v > (uint64_t)hi) return false;
    *out = (int)v;
    return true;
}

static bool parse_fabric(const char *s, int *w, int *h) {
    const char *x = strpbrk(s, "xX");
    if (!x) return false;
    char *ws = xstrndup(s, (size_t)(x - s));
    bool ok = parse_int(ws, 1, MAX_FABRIC_SIDE, w) && parse_int(x + 1, 1, MAX_FABRIC_SIDE, h);
    free(ws);
    return ok;
}

static bool is_regular_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* A usage error naming an unknown pass, with the list of passes. */
static int bad_pass(const drv_command *cmd, const char *opt, const char *name) {
    char *list = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&list, &len);
    if (!f) ir_internal_error("open_memstream: %s", strerror(errno));
    drv_print_pass_names(f);
    fclose(f);
    int status = drv_usage_error(cmd, "unknown pass '%s' for %s (the passes: %s)", name, opt, list);
    free(list);
    return status;
}

/* Handles one option and its value; returns -1 to go on, else the status. */
static int take_option(const drv_command *cmd, const opt_spec *s, const char *val, drv_args *a) {
    char name[32];
    spell(s, name, sizeof name);
    if (!(cmd->opts & OPT_BIT(s->id)))
        return drv_usage_error(cmd, "'%s' does not take %s", cmd->name, name);
    if (s->arg && !*val) return drv_usage_error(cmd, "%s needs a value, not ''", name);
    /* A second value would silently replace the first; -D and -i may
     * repeat (each names what it sets). */
    if (s->arg && s->id != OPT_DEFINE && s->id != OPT_INPUT) {
        if (a->seen & OPT_BIT(s->id)) return drv_usage_error(cmd, "%s given twice", name);
        a->seen |= OPT_BIT(s->id);
    }
    switch (s->id) {
    case OPT_HELP: drv_print_command_help(cmd, stdout); return IR_EXIT_OK;
    case OPT_DEFINE: {
        char *dname;
        const char *dval;
        if (!split_pair(val, &dname, &dval))
            return drv_usage_error(cmd, "bad -D '%s': expected -D NAME=VALUE", val);
        a->defines = ir_xrealloc(a->defines, (size_t)(a->ndefines + 1) * sizeof *a->defines);
        a->defines[a->ndefines++] = (fe_define){dname, dval};
        return -1;
    }
    case OPT_INPUT: {
        char *iname;
        const char *path;
        if (!split_pair(val, &iname, &path))
            return drv_usage_error(cmd, "bad -i '%s': expected -i NAME=FILE.npy", val);
        a->inputs = ir_xrealloc(a->inputs, (size_t)(a->ninputs + 1) * sizeof *a->inputs);
        a->inputs[a->ninputs++] = (drv_input){iname, path};
        return -1;
    }
    case OPT_WEIGHTS: a->weights = val; return -1;
    case OPT_OUTDIR: a->outdir = val; return -1;
    case OPT_SEED:
        if (!parse_u64(val, &a->seed))
            return drv_usage_error(cmd, "bad --seed '%s': expected a number from 0 to %llu", val,
                                   (unsigned long long)UINT64_MAX);
        return -1;
    case OPT_THREADS:
        if (!parse_int(val, 1, MAX_THREADS, &a->threads))
            return drv_usage_error(cmd, "bad --threads '%s': expected a number from 1 to %d", val,
                                   MAX_THREADS);
        return -1;
    case OPT_TARGET:
        if (!ir_target_preset(val, &(ir_target){0}) && !is_regular_file(val))
            return drv_usage_error(
                cmd, "unknown target '%s' (expected wse2, wse3 or a target file)", val);
        a->target = val;
        return -1;
    case OPT_FABRIC:
        if (!parse_fabric(val, &a->fabric_w, &a->fabric_h))
            return drv_usage_error(cmd, "bad --fabric '%s': expected WxH, e.g. 32x32", val);
        return -1;
    case OPT_EMIT:
        if (strcmp(val, "ir") != 0 && strcmp(val, "kernels") != 0 && strcmp(val, "llvm") != 0)
            return drv_usage_error(cmd, "bad --emit '%s': expected ir, kernels or llvm", val);
        a->emit = val;
        return -1;
    case OPT_DUMP_AFTER:
        if (strcmp(val, "all") != 0 && !pass_lookup(val)) return bad_pass(cmd, "--dump-after", val);
        a->dump_after = val;
        return -1;
    case OPT_STOP_AFTER:
        if (!pass_lookup(val)) return bad_pass(cmd, "--stop-after", val);
        a->stop_after = val;
        return -1;
    case OPT_PLACEMENT: a->placement = true; return -1;
    case OPT_ROUTES: a->routes = val; return -1;
    case OPT_MEMORY: a->memory = true; return -1;
    case OPT_STATS: a->stats = true; return -1;
    case OPT_TRACE: a->trace = val; return -1;
    case OPT_CHECK: a->check = true; return -1;
    case OPT_TIME_REPORT: a->time_report = true; return -1;
    case OPT_FORMAT:
        if (strcmp(val, "text") != 0 && strcmp(val, "json") != 0 && strcmp(val, "svg") != 0)
            return drv_usage_error(cmd, "bad --format '%s': expected text, json or svg", val);
        a->format = val;
        return -1;
    case OPT_COUNT: break;
    }
    ir_internal_error("option %s has no handler", name);
}

/* getopt_long takes unique prefixes of long options and refuses the others
 * as unknown; say which options a prefix could mean. */
static int unknown_long(const drv_command *cmd, const char *arg) {
    int len = (int)strcspn(arg, "=");
    char *list = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&list, &size);
    if (!f) ir_internal_error("open_memstream: %s", strerror(errno));
    int matches = 0;
    for (int i = 0; i < NSPECS; i++)
        if (len > 2 && specs[i].long_name &&
            strncmp(specs[i].long_name, arg + 2, (size_t)(len - 2)) == 0)
            fprintf(f, "%s--%s", matches++ ? ", " : "", specs[i].long_name);
    fclose(f);
    int status = matches > 1 ? drv_usage_error(cmd, "ambiguous option '%.*s' (%s?)", len, arg, list)
                             : drv_usage_error(cmd, "unknown option '%.*s'", len, arg);
    free(list);
    return status;
}

static int take_model(const drv_command *cmd, const char *path, drv_args *a) {
    if (a->model)
        return drv_usage_error(cmd, "two model files given: '%s' and '%s'", a->model, path);
    a->model = path;
    return -1;
}

/* What no single option can check: required options and their agreement. */
static int check_complete(const drv_command *cmd, drv_args *a) {
    if (!a->model)
        return drv_usage_error(cmd, strcmp(cmd->name, "dump") == 0 || strcmp(cmd->name, "run") == 0
                                        ? "no artifact given"
                                        : "no model file given");
    bool is_compile = strcmp(cmd->name, "compile") == 0;
    /* compile writes an artifact, unless it only prints a stage */
    if (is_compile && !a->outdir && !a->emit)
        return drv_usage_error(cmd,
                               "'compile' needs -o OUT.wsa, the artifact to write (or --emit)");
    /* only compile has the later stages to print */
    if (!is_compile && a->emit && strcmp(a->emit, "ir") != 0)
        return drv_usage_error(cmd, "--emit %s is a stage of 'compile', not of '%s'", a->emit,
                               cmd->name);
    if (!is_compile && (cmd->opts & OPT_BIT(OPT_OUTDIR)) && !a->outdir)
        return drv_usage_error(cmd, "'%s' needs -o DIR, the folder for the outputs", cmd->name);
    /* The file's contents are input, not usage: errors in it are located
     * diagnostics and exit 1. */
    if (!ir_target_preset(a->target, &a->machine)) {
        ir_diag *d = ir_diag_new(stderr);
        bool ok = ir_target_load(a->target, &a->machine, d);
        ir_diag_free(d);
        if (!ok) return IR_EXIT_INPUT;
    }
    if (a->fabric_w) {
        /* Too big a --fabric is a usage error, so it gets the usage hint. */
        ir_diag *quiet = ir_diag_new(NULL);
        bool fits = ir_target_set_fabric(&a->machine, a->fabric_w, a->fabric_h, quiet);
        ir_diag_free(quiet);
        const ir_target *t = &a->machine;
        if (!fits)
            return drv_usage_error(cmd, "--fabric %dx%d does not fit the %s fabric (%dx%d)",
                                   a->fabric_w, a->fabric_h, t->name, (int)t->width,
                                   (int)t->height);
    }
    if (a->threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        a->threads = n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (int)n;
    }
    return -1;
}

int drv_parse_args(const drv_command *cmd, int argc, char **argv, drv_args *a) {
    memset(a, 0, sizeof *a);
    a->cmd = cmd;
    a->target = "wse3";

    struct option longopts[NSPECS + 1];
    int nlong = 0;
    for (int i = 0; i < NSPECS; i++)
        if (specs[i].long_name)
            longopts[nlong++] =
                (struct option){specs[i].long_name, specs[i].arg ? required_argument : no_argument,
                                NULL, LONG_BASE + (int)specs[i].id};
    longopts[nlong] = (struct option){0};
    /* "-": positionals come back in place, so options may follow the model
     * whatever POSIXLY_CORRECT says; ":": we print the messages ourselves. */
    char shortopts[2 * NSPECS + 3] = "-:";
    size_t n = 2;
    for (int i = 0; i < NSPECS; i++) {
        if (!specs[i].short_name) continue;
        shortopts[n++] = specs[i].short_name;
        if (specs[i].arg) shortopts[n++] = ':';
    }
    shortopts[n] = 0;

    opterr = 0;
    optind = 0; /* glibc: a full reset, in case anything parsed before */
    int status = -1, c;
    while (status < 0 && (c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        char name[32];
        const opt_spec *s;
        switch (c) {
        case 1: status = take_model(cmd, optarg, a); break;
        case ':':
            s = spec_of_code(optopt);
            if (!s) ir_internal_error("getopt: missing value of unknown option %d", optopt);
            spell(s, name, sizeof name);
            status = drv_usage_error(cmd, "%s needs a value", name);
            break;
        case '?':
            if (optopt >= LONG_BASE && (s = spec_of_code(optopt))) {
                status = drv_usage_error(cmd, "--%s takes no value", s->long_name);
            } else if (optopt) {
                status = drv_usage_error(cmd, "unknown option '-%c'", optopt);
            } else {
                status = unknown_long(cmd, argv[optind - 1]);
            }
            break;
        default:
            s = spec_of_code(c);
            if (!s) ir_internal_error("getopt returned %d", c);
            status = take_option(cmd, s, s->arg ? optarg : NULL, a);
            break;
        }
    }
    /* Whatever follows "--" is positional. */
    for (int i = optind; status < 0 && i < argc; i++)
        status = take_model(cmd, argv[i], a);
    if (status < 0) status = check_complete(cmd, a);
    return status;
}

void drv_args_free(drv_args *a) {
    for (int i = 0; i < a->ndefines; i++)
        free((char *)a->defines[i].name);
    free(a->defines);
    for (int i = 0; i < a->ninputs; i++)
        free(a->inputs[i].name);
    free(a->inputs);
    memset(a, 0, sizeof *a);
}
