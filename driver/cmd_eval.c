/* cmd_eval.c - `wsc eval`: binds the -i files to the model's inputs, runs
 * the reference interpreter and writes one .npy file per output. */
#include "driver.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A declared input of the model, as the front end made it. It is copied out
 * of the graph because the passes may replace the graph; the user feeds the
 * model as written, whatever the passes did to it. */
typedef struct decl {
    char *name;             /* the input's name (owned) */
    ir_dtype dtype;         /* its element type */
    ir_shape shape;         /* its shape */
    const drv_input *given; /* the -i that feeds it, or NULL */
    ir_tensor *value;       /* the tensor read from that file */
} decl;

typedef struct decls {
    decl *v; /* in declaration order */
    int n;   /* count */
} decls;

static decls declared_inputs(const ir_graph *g) {
    decls ds = {0};
    for (int32_t i = 0; i < g->nnodes; i++) {
        const ir_node *n = &g->nodes[i];
        if (n->op != IR_INPUT) continue;
        ds.v = ir_xrealloc(ds.v, (size_t)(ds.n + 1) * sizeof *ds.v);
        ds.v[ds.n++] = (decl){ir_xstrdup(n->name), n->dtype, n->shape, NULL, NULL};
    }
    return ds;
}

static void free_decls(decls *ds) {
    for (int i = 0; i < ds->n; i++) {
        free(ds->v[i].name);
        ir_tensor_free(ds->v[i].value);
    }
    free(ds->v);
}

static decl *find_decl(const decls *ds, const char *name) {
    for (int i = 0; i < ds->n; i++)
        if (strcmp(ds->v[i].name, name) == 0) return &ds->v[i];
    return NULL;
}

static char *type_str(const decl *x, char *buf, size_t n) {
    return ir_type_str(x->dtype, &x->shape, buf, n);
}

/* "its inputs: x, tokens", for the message about an unknown name. */
static char *input_list(const decls *ds) {
    char *s = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&s, &len);
    if (!f) ir_internal_error("open_memstream: %s", strerror(errno));
    if (ds->n == 0) fputs("it has no inputs", f);
    for (int i = 0; i < ds->n; i++)
        fprintf(f, "%s%s", i ? ", " : "its inputs: ", ds->v[i].name);
    fclose(f);
    return s;
}

/* Every input exactly once, and no -i for a name the model lacks. All
 * problems are reported at once so one run shows everything to fix. */
static int bind_inputs(const drv_args *a, decls *ds, ir_diag *d) {
    int before = ir_diag_errors(d);
    for (int k = 0; k < a->ninputs; k++) {
        const drv_input *in = &a->inputs[k];
        decl *x = find_decl(ds, in->name);
        if (!x) {
            char *list = input_list(ds);
            ir_error(d, IR_NOLOC, "the model has no input '%s' (%s)", in->name, list);
            free(list);
        } else if (x->given) {
            ir_error(d, IR_NOLOC, "input '%s' is given twice: -i %s=%s and -i %s=%s", x->name,
                     x->name, x->given->path, in->name, in->path);
        } else {
            x->given = in;
        }
    }
    for (int i = 0; i < ds->n; i++) {
        decl *x = &ds->v[i];
        char ty[128];
        if (!x->given)
            ir_error(d, IR_NOLOC, "input '%s' (%s) is not given; add -i %s=FILE.npy", x->name,
                     type_str(x, ty, sizeof ty), x->name);
    }
    return ir_diag_errors(d) > before ? IR_EXIT_INPUT : IR_EXIT_OK;
}

static int read_inputs(decls *ds, ir_diag *d) {
    int status = IR_EXIT_OK;
    for (int i = 0; i < ds->n; i++) {
        decl *x = &ds->v[i];
        char want[128], got[128];
        type_str(x, want, sizeof want);
        /* Any dtype is read so a mismatch gets the message below, which names
         * the input; only bf16 must be asked for, as it is stored as <u2. */
        ir_tensor *t = ir_npy_read(x->given->path, x->dtype == IR_BF16 ? IR_BF16 : -1, d);
        if (!t) {
            ir_note(d, IR_NOLOC, "for input '%s', which expects %s", x->name, want);
            status = IR_EXIT_INPUT;
        } else if (t->dtype != x->dtype || !ir_shape_eq(&t->shape, &x->shape)) {
            ir_error(d, IR_NOLOC, "input '%s' expects %s, got %s from %s", x->name, want,
                     ir_type_str(t->dtype, &t->shape, got, sizeof got), x->given->path);
            ir_tensor_free(t);
            status = IR_EXIT_INPUT;
        } else {
            x->value = t;
        }
    }
    return status;
}

/* mkdir -p: every missing folder on the way is created. */
int drv_make_dirs(const char *path, ir_diag *d) {
    char *p = ir_xstrdup(path);
    int status = IR_EXIT_OK;
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != 0) continue;
        char c = *s;
        *s = 0;
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            ir_error(d, IR_NOLOC, "cannot create the folder '%s': %s", p, strerror(errno));
            status = IR_EXIT_INPUT;
            break;
        }
        *s = c;
        if (!c) break;
    }
    free(p);
    struct stat st;
    if (!status && (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))) {
        ir_error(d, IR_NOLOC, "-o %s: not a folder", path);
        status = IR_EXIT_INPUT;
    }
    return status;
}

int drv_write_outputs(const drv_args *a, const ir_graph *g, ir_tensor *const *outs, ir_diag *d) {
    int status = IR_EXIT_OK;
    size_t dirlen = strlen(a->outdir);
    while (dirlen > 1 && a->outdir[dirlen - 1] == '/')
        dirlen--;
    for (int32_t k = 0; !status && k < g->noutputs; k++) {
        const char *name = g->outputs[k].name;
        size_t n = dirlen + strlen(name) + 6;
        char *path = ir_xmalloc(n);
        snprintf(path, n, "%.*s/%s.npy", (int)dirlen, a->outdir, name);
        if (ir_npy_write(path, outs[k], d) != 0) status = IR_EXIT_INPUT;
        free(path);
    }
    return status;
}

int drv_read_inputs(const drv_args *a, const ir_graph *g, ir_tensor ***values, ir_diag *d) {
    decls ds = declared_inputs(g);
    int status = bind_inputs(a, &ds, d);
    if (!status) status = read_inputs(&ds, d);
    *values = ir_xcalloc((size_t)ds.n + 1, sizeof **values);
    for (int i = 0; !status && i < ds.n; i++)
        (*values)[i] = ds.v[i].value, ds.v[i].value = NULL;
    free_decls(&ds);
    return status;
}

/* Feeds the final graph's inputs by name and writes DIR/NAME.npy for each
 * output. */
static int run_and_write(const drv_args *a, const ir_graph *g, const decls *ds, ir_diag *d) {
    ir_tensor **feeds = ir_xcalloc((size_t)g->nnodes + 1, sizeof *feeds);
    int nfeeds = 0;
    for (int32_t i = 0; i < g->nnodes; i++) {
        const ir_node *n = &g->nodes[i];
        if (n->op != IR_INPUT) continue;
        const decl *x = find_decl(ds, n->name);
        if (!x || x->dtype != n->dtype || !ir_shape_eq(&x->shape, &n->shape))
            ir_internal_error("the passes changed input '%s'", n->name);
        feeds[nfeeds++] = x->value;
    }
    ir_tensor **outs = ir_xcalloc((size_t)g->noutputs + 1, sizeof *outs);
    int status = ir_eval(g, feeds, outs, a->threads, d) == 0 ? IR_EXIT_OK : IR_EXIT_INPUT;
    if (!status) status = drv_write_outputs(a, g, outs, d);
    for (int32_t k = 0; k < g->noutputs; k++)
        ir_tensor_free(outs[k]);
    free(outs);
    free(feeds);
    return status;
}

int drv_eval(const drv_args *a, ir_diag *d) {
    ir_graph *g = NULL;
    decls ds = {0};
    int status = drv_check_emit(a, d);
    if (!status) status = drv_front_end(a, d, &g);
    if (!status) {
        ds = declared_inputs(g);
        status = bind_inputs(a, &ds, d);
    }
    if (!status) status = read_inputs(&ds, d);
    if (!status) status = drv_pipeline(a, d, &g);
    if (!status) status = drv_make_dirs(a->outdir, d);
    if (!status) status = run_and_write(a, g, &ds, d);
    free_decls(&ds);
    ir_graph_free(g);
    return status;
}
