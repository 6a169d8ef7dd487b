/* elab.c - elaboration: walks the syntax tree of the main file (and of what
 * it imports), evaluates everything that is compile-time (consts, shapes,
 * for loops, fn calls, which are inlined) and builds the IR graph.
 *
 * Values are either compile-time (integers, floats, booleans, strings,
 * dtypes, lists) or tensors (an IR value). An erroneous expression yields
 * V_ERR, which every operation passes on silently, so one mistake is
 * reported once. */
#include "ast.h"
#include "fe.h"

#include <pthread.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Elaboration stops after this many IR nodes: unrolling can blow up. */
#define MAX_NODES 8000000
/* Loops that build nothing still take time: iterations are capped too. */
#define MAX_ITERATIONS 2000000
/* fn calls nest at most this deep (each level is a few C stack frames). */
#define MAX_CALL_DEPTH 20000
/* ... and after this many errors: the rest would be noise. */
#define MAX_ERRORS 50

/* ------------------------------------------------------------- values */

typedef enum vkind { V_ERR, V_INT, V_FLOAT, V_BOOL, V_STR, V_LIST, V_TENSOR, V_DTYPE, V_FN } vkind;

typedef struct filectx filectx;

typedef struct value {
    vkind k;             /* kind */
    int64_t i;           /* V_INT, V_BOOL, V_DTYPE */
    double f;            /* V_FLOAT */
    const char *s;       /* V_STR */
    ir_ref t;            /* V_TENSOR */
    struct value *items; /* V_LIST (arena) */
    int n;               /* V_LIST length */
    const fe_stmt *fn;   /* V_FN: its definition */
    filectx *fnfile;     /* V_FN: the file it resolves names in */
} value;

static const value ERR = {V_ERR};

static value vint(int64_t i) {
    return (value){.k = V_INT, .i = i};
}
static value vfloat(double f) {
    return (value){.k = V_FLOAT, .f = f};
}
static value vbool(bool b) {
    return (value){.k = V_BOOL, .i = b};
}
static value vtensor(ir_ref t) {
    return t == IR_NONE ? ERR : (value){.k = V_TENSOR, .t = t};
}
static bool is_num(value v) {
    return v.k == V_INT || v.k == V_FLOAT;
}
static double num(value v) {
    return v.k == V_INT ? (double)v.i : v.f;
}

/* ----------------------------------------------------------- bindings */

typedef enum bkind {
    B_CONST,
    B_INPUT,
    B_PARAM,
    B_LET,
    B_OUTPUT,
    B_FN,
    B_LOOPVAR,
    B_FPARAM,
    B_SHAPEVAR
} bkind;

static const char *bkind_name[] = {"const", "input",         "param",     "let",           "output",
                                   "fn",    "loop variable", "parameter", "shape variable"};

typedef struct binding {
    const char *name; /* the name */
    bkind k;          /* what defined it */
    value v;          /* current value */
    ir_loc loc;       /* definition */
} binding;

/* A scope: a small open-addressing table, freed when the scope ends. */
typedef struct scope {
    struct scope *parent; /* enclosing scope; an fn scope's parent is its file's */
    bool is_fn;           /* an fn body: outer lets are invisible through it */
    binding *tab;         /* slots (name NULL = empty) */
    int cap;              /* slots allocated (power of two) */
    int n;                /* slots used */
} scope;

struct filectx {
    char *path;     /* as opened (relative paths resolved against the importer) */
    char *real;     /* realpath, the identity of the file */
    int file;       /* diag file id */
    fe_stmt *items; /* its syntax tree */
    scope top;      /* its top-level names */
    bool done;      /* fully elaborated (an import reached again is reused) */
    bool busy;      /* being elaborated: reaching it again is a cycle */
    filectx *next;  /* list of every file read */
};

static uint32_t hash_name(const char *s) {
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static binding *scope_find(scope *s, const char *name) {
    if (!s->cap) return NULL;
    for (uint32_t i = hash_name(name) & (uint32_t)(s->cap - 1);;
         i = (i + 1) & (uint32_t)(s->cap - 1)) {
        if (!s->tab[i].name) return NULL;
        if (!strcmp(s->tab[i].name, name)) return &s->tab[i];
    }
}

static binding *scope_put(scope *s, const char *name) {
    if (2 * (s->n + 1) > s->cap) {
        int cap = s->cap ? s->cap * 2 : 8;
        binding *old = s->tab;
        int oldcap = s->cap;
        s->tab = ir_xcalloc((size_t)cap, sizeof(binding));
        s->cap = cap;
        s->n = 0;
        for (int i = 0; i < oldcap; i++)
            if (old[i].name) *scope_put(s, old[i].name) = old[i];
        free(old);
    }
    uint32_t i = hash_name(name) & (uint32_t)(s->cap - 1);
    while (s->tab[i].name)
        i = (i + 1) & (uint32_t)(s->cap - 1);
    s->tab[i].name = name;
    s->n++;
    return &s->tab[i];
}

static void scope_free(scope *s) {
    free(s->tab);
    s->tab = NULL;
    s->cap = s->n = 0;
}

/* ------------------------------------------------------- elaborator */

typedef struct callframe {
    const fe_stmt *fn; /* the fn being inlined */
    ir_loc call;       /* where it was called */
} callframe;

typedef struct elab {
    const fe_options *opt;     /* command-line options */
    ir_diag *d;                /* diagnostics */
    ir_arena *arena;           /* syntax trees and strings */
    ir_graph *g;               /* the graph being built */
    ir_weights *weights;       /* --weights, or NULL */
    filectx *files;            /* every file read */
    filectx *main;             /* the file being compiled */
    scope *cur;                /* innermost scope */
    callframe *calls;          /* active fn calls, outermost first */
    int ncalls, capcalls;      /* depth and allocation */
    bool stop;                 /* too many errors or nodes: stop elaborating */
    ir_loc pending[4];         /* call sites to note after the last error's own notes */
    const char *pending_fn[4]; /* the fns called there */
    int npending;              /* how many */
    uint64_t *seen;            /* hashes of reported errors, to report each once */
    bool dup;                  /* the last error was a repeat: drop its notes */
    int64_t iterations;        /* loop iterations elaborated so far */
    int nseen, capseen;        /* count and allocation */
} elab;

static uint64_t err_key(ir_loc loc, const char *msg) {
    uint64_t h = ((uint64_t)(uint32_t)loc.file << 32) ^ loc.begin ^ ((uint64_t)loc.end << 17);
    for (const char *s = msg; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* Reports an error once per place and message (loops and repeated fn calls
 * would repeat it), with notes for the fn calls that led there. */
static void error(elab *E, ir_loc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The call-site notes of an error come after its own notes, so they are
 * printed just before the next diagnostic or at the end. */
static void flush_calls(elab *E) {
    for (int i = 0; i < E->npending; i++)
        ir_note(E->d, E->pending[i], "in the call of '%s' here", E->pending_fn[i]);
    E->npending = 0;
}

static void error(elab *E, ir_loc loc, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    flush_calls(E);
    uint64_t k = err_key(loc, msg);
    for (int i = 0; i < E->nseen; i++)
        if (E->seen[i] == k) {
            E->dup = true;
            return;
        }
    if (E->nseen == E->capseen) {
        E->capseen = E->capseen ? E->capseen * 2 : 16;
        E->seen = ir_xrealloc(E->seen, sizeof(uint64_t) * (size_t)E->capseen);
    }
    E->seen[E->nseen++] = k;
    E->dup = false;
    ir_error(E->d, loc, "%s", msg);
    for (int i = E->ncalls - 1; i >= 0 && E->npending < 4; i--) {
        ir_loc c = E->calls[i].call;
        if (c.file == loc.file && c.begin <= loc.begin && loc.end <= c.end)
            continue; /* the call itself */
        E->pending[E->npending] = c;
        E->pending_fn[E->npending++] = E->calls[i].fn->name;
    }
    if (ir_diag_errors(E->d) >= MAX_ERRORS && !E->stop) {
        flush_calls(E);
        ir_note(E->d, IR_NOLOC, "too many errors; wsc stops here");
        E->stop = true;
    }
}

/* A note to the error just reported (dropped with a duplicate error). */
static void note(elab *E, ir_loc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void note(elab *E, ir_loc loc, const char *fmt, ...) {
    if (E->dup) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ir_note(E->d, loc, "%s", msg);
}

static bool is_builtin(const char *name);

/* Looks a name up through the scope chain. Through an fn scope only the
 * file-level consts, fns, inputs and params stay visible. */
static binding *lookup(elab *E, const char *name, bool *hidden) {
    bool crossed = false;
    if (hidden) *hidden = false;
    for (scope *s = E->cur; s; s = s->parent) {
        binding *b = scope_find(s, name);
        if (b) {
            bool file_level = s->parent == NULL;
            if (crossed && file_level && (b->k == B_LET || b->k == B_OUTPUT)) {
                if (hidden) *hidden = true;
                return NULL;
            }
            return b;
        }
        if (s->is_fn) crossed = true;
    }
    return NULL;
}

/* Defines a name in the current scope; a second definition in one scope and
 * a built-in's name are errors. */
static binding *define(elab *E, const char *name, bkind k, value v, ir_loc loc) {
    if (is_builtin(name)) {
        error(E, loc, "'%s' is a built-in function and cannot be redefined", name);
        return NULL;
    }
    binding *b = scope_find(E->cur, name);
    if (b) {
        error(E, loc, "'%s' is already defined in this scope", name);
        note(E, b->loc, "'%s' was defined here as %s %s", name,
             b->k == B_INPUT || b->k == B_OUTPUT ? "an" : "a", bkind_name[b->k]);
        return NULL;
    }
    b = scope_put(E->cur, name);
    b->k = k;
    b->v = v;
    b->loc = loc;
    return b;
}

/* ------------------------------------------------------ IR building */

static ir_ref build(elab *E, ir_op op, const ir_ref *in, int nin, const ir_attrs *a, ir_loc loc) {
    if (E->g->nnodes >= MAX_NODES) {
        if (!E->stop)
            error(E, loc,
                  "the model unrolls to more than %d operations; wsc refuses models this large",
                  MAX_NODES);
        E->stop = true;
        return IR_NONE;
    }
    ir_err e;
    ir_ref r = ir_build(E->g, op, in, nin, a, loc, &e);
    if (r == IR_NONE) {
        error(E, loc, "%s", e.msg);
        if (e.note[0]) note(E, loc, "%s", e.note);
    }
    return r;
}

static const ir_node *tnode(elab *E, value v) {
    return &E->g->nodes[v.t];
}

static bool whole(double x) {
    return isfinite(x) && x == floor(x);
}

/* A compile-time number meeting a tensor of dtype t becomes a scalar
 * constant of that dtype. */
static value to_tensor(elab *E, value v, ir_dtype t, ir_loc loc) {
    if (v.k == V_TENSOR || v.k == V_ERR) return v;
    if (v.k == V_BOOL) {
        if (t != IR_BOOL) {
            error(E, loc, "a boolean cannot meet %s %s tensor",
                  t == IR_BF16 || t == IR_BOOL ? "a" : "an", ir_dtype_name(t));
            return ERR;
        }
        return vtensor(ir_build_scalar(E->g, IR_BOOL, (double)v.i, loc));
    }
    if (!is_num(v)) {
        error(E, loc, "expected a tensor or a number here");
        return ERR;
    }
    if (t == IR_BOOL) {
        error(E, loc,
              "a number cannot meet a bool tensor (bool tensors allow only 'where' and 'equal')");
        return ERR;
    }
    if (t == IR_I32 && (!whole(num(v)) || num(v) < INT32_MIN || num(v) > INT32_MAX)) {
        error(E, loc, "%g meets an i32 tensor, so it must be a whole number in the i32 range",
              num(v));
        return ERR;
    }
    return vtensor(ir_build_scalar(E->g, t, num(v), loc));
}

/* ------------------------------------------------ compile-time math */

static value ct_arith(elab *E, int op, value a, value b, ir_loc loc) {
    if (a.k == V_INT && b.k == V_INT) {
        int64_t r;
        bool of = false;
        switch (op) {
        case '+': of = __builtin_add_overflow(a.i, b.i, &r); break;
        case '-': of = __builtin_sub_overflow(a.i, b.i, &r); break;
        case '*': of = __builtin_mul_overflow(a.i, b.i, &r); break;
        default:
            if (b.i == 0) {
                error(E, loc, "division by zero");
                return ERR;
            }
            if ((a.i == INT64_MIN && b.i == -1) || a.i % b.i) {
                error(E, loc,
                      "%lld / %lld does not divide exactly; write %lld.0 / %lld for a float",
                      (long long)a.i, (long long)b.i, (long long)a.i, (long long)b.i);
                return ERR;
            }
            r = a.i / b.i;
        }
        if (of) {
            error(E, loc, "integer overflow in a compile-time expression");
            return ERR;
        }
        return vint(r);
    }
    double x = num(a), y = num(b);
    switch (op) {
    case '+': return vfloat(x + y);
    case '-': return vfloat(x - y);
    case '*': return vfloat(x * y);
    default: return vfloat(x / y);
    }
}

/* ---------------------------------------------------------- evaluation */

static value eval(elab *E, const fe_expr *e);
static void run_stmts(elab *E, const fe_stmt *s);

static const char *kind_name(value v) {
    switch (v.k) {
    case V_INT: return "an integer";
    case V_FLOAT: return "a float";
    case V_BOOL: return "a boolean";
    case V_STR: return "a string";
    case V_LIST: return "a list";
    case V_TENSOR: return "a tensor";
    case V_DTYPE: return "a dtype";
    case V_FN: return "a function";
    default: return "an error";
    }
}

/* Evaluates e, requiring a compile-time integer. */
static bool eval_int(elab *E, const fe_expr *e, int64_t *out) {
    value v = eval(E, e);
    if (v.k == V_ERR) return false;
    if (v.k == V_FLOAT && whole(v.f) && fabs(v.f) < 9e15) v = vint((int64_t)v.f);
    if (v.k != V_INT) {
        error(E, e->loc, "expected a compile-time integer, found %s", kind_name(v));
        return false;
    }
    *out = v.i;
    return true;
}

/* Evaluates a type's dimensions; checks the limits of language.md. */
static bool eval_type(elab *E, const fe_type *t, ir_shape *s) {
    if (t->ndims > IR_MAX_RANK) {
        error(E, t->loc, "a tensor has at most %d axes, this type has %d", IR_MAX_RANK, t->ndims);
        return false;
    }
    s->rank = 0;
    bool ok = true;
    int64_t numel = 1;
    for (const fe_expr *d = t->dims; d; d = d->next) {
        int64_t v = 0;
        if (!eval_int(E, d, &v)) {
            ok = false;
            continue;
        }
        if (v < 1 || v > IR_MAX_DIM) {
            error(E, d->loc, "dimension %lld is out of range (1 to 2^31 - 1)", (long long)v);
            ok = false;
            continue;
        }
        if (numel > IR_MAX_NUMEL / v) {
            error(E, t->loc, "type has more than 2^48 elements");
            return false;
        }
        numel *= v;
        s->d[s->rank++] = v;
    }
    return ok;
}

static value binary(elab *E, int op, value a, value b, ir_loc loc, const fe_expr *ea,
                    const fe_expr *eb) {
    if (a.k == V_ERR || b.k == V_ERR) return ERR;
    if (is_num(a) && is_num(b)) {
        if (op == '@') {
            error(E, loc, "'@' needs tensors, not numbers");
            return ERR;
        }
        return ct_arith(E, op, a, b, loc);
    }
    if (a.k != V_TENSOR && b.k != V_TENSOR) {
        error(E, loc, "'%c' needs numbers or tensors, not %s and %s", op, kind_name(a),
              kind_name(b));
        return ERR;
    }
    ir_dtype t = a.k == V_TENSOR ? tnode(E, a)->dtype : tnode(E, b)->dtype;
    if (a.k != V_TENSOR) a = to_tensor(E, a, t, ea->loc);
    if (b.k != V_TENSOR) b = to_tensor(E, b, t, eb->loc);
    if (a.k == V_ERR || b.k == V_ERR) return ERR;
    ir_ref in[2] = {a.t, b.t};
    ir_op o = op == '+'   ? IR_ADD
              : op == '-' ? IR_SUB
              : op == '*' ? IR_MUL
              : op == '/' ? IR_DIV
                          : IR_MATMUL;
    ir_attrs at = {0};
    return vtensor(build(E, o, in, 2, &at, loc));
}

static value call(elab *E, const fe_expr *e);

static value eval(elab *E, const fe_expr *e) {
    if (E->stop) return ERR;
    switch (e->k) {
    case E_INT: return vint(e->i);
    case E_FLOAT: return vfloat(e->f);
    case E_INF: return vfloat(INFINITY);
    case E_BOOL: return vbool(e->i);
    case E_STR: return (value){.k = V_STR, .s = e->s};
    case E_DTYPE: return (value){.k = V_DTYPE, .i = e->i};
    case E_NAME: {
        bool hidden;
        binding *b = lookup(E, e->s, &hidden);
        if (b) return b->v;
        if (is_builtin(e->s))
            error(E, e->loc, "'%s' is a built-in function; call it with arguments", e->s);
        else if (hidden)
            error(E, e->loc,
                  "'%s' is a let name of the file; an fn body sees only its parameters, consts, "
                  "fns, inputs and params",
                  e->s);
        else
            error(E, e->loc, "undefined name '%s'", e->s);
        return ERR;
    }
    case E_LIST: {
        int n = 0;
        for (const fe_expr *x = e->items; x; x = x->next)
            n++;
        value v = {
            .k = V_LIST, .n = n, .items = ir_alloc(E->arena, sizeof(value) * (size_t)(n ? n : 1))};
        int i = 0;
        bool bad = false;
        for (const fe_expr *x = e->items; x; x = x->next) {
            v.items[i] = eval(E, x);
            bad |= v.items[i++].k == V_ERR;
        }
        return bad ? ERR : v;
    }
    case E_NEG: {
        value a = eval(E, e->a);
        switch (a.k) {
        case V_ERR: return ERR;
        case V_INT:
            if (a.i == INT64_MIN) {
                error(E, e->loc, "integer overflow in a compile-time expression");
                return ERR;
            }
            return vint(-a.i);
        case V_FLOAT: return vfloat(-a.f);
        case V_TENSOR: {
            ir_attrs at = {0};
            return vtensor(build(E, IR_NEG, &a.t, 1, &at, e->loc));
        }
        default: error(E, e->loc, "cannot negate %s", kind_name(a)); return ERR;
        }
    }
    case E_BIN: {
        value a = eval(E, e->a);
        value b = eval(E, e->b);
        return binary(E, e->op, a, b, e->loc, e->a, e->b);
    }
    case E_CALL: return call(E, e);
    case E_INDEX:
    case E_SLICE: {
        value a = eval(E, e->a);
        if (a.k == V_ERR) return ERR;
        if (a.k == V_LIST && e->k == E_INDEX) {
            int64_t i;
            if (!eval_int(E, e->b, &i)) return ERR;
            if (i < 0) i += a.n;
            if (i < 0 || i >= a.n) {
                error(E, e->b->loc, "index %lld is out of range for a list of %d items",
                      (long long)i, a.n);
                return ERR;
            }
            return a.items[i];
        }
        if (a.k != V_TENSOR) {
            error(E, e->a->loc, "only tensors can be indexed, not %s", kind_name(a));
            return ERR;
        }
        /* a copy: building nodes may move the node array */
        const ir_shape xs = tnode(E, a)->shape;
        if (xs.rank < 1) {
            error(E, e->loc, "cannot index a scalar");
            return ERR;
        }
        int64_t dim = xs.d[0];
        ir_attrs at = {0};
        if (e->k == E_INDEX) {
            int64_t i;
            if (!eval_int(E, e->b, &i)) return ERR;
            if (i < -dim || i >= dim) {
                error(E, e->b->loc, "index %lld is out of range for an axis of length %lld",
                      (long long)i, (long long)dim);
                return ERR;
            }
            if (i < 0) i += dim;
            at.axis = 0, at.start = i, at.end = i + 1;
            ir_ref s = build(E, IR_SLICE, &a.t, 1, &at, e->loc);
            if (s == IR_NONE) return ERR;
            ir_attrs rs = {0};
            rs.shape.rank = xs.rank - 1;
            for (int k = 1; k < xs.rank; k++)
                rs.shape.d[k - 1] = xs.d[k];
            return vtensor(build(E, IR_RESHAPE, &s, 1, &rs, e->loc));
        }
        int64_t lo = 0, hi = dim;
        if (e->b && !eval_int(E, e->b, &lo)) return ERR;
        if (e->c && !eval_int(E, e->c, &hi)) return ERR;
        at.axis = 0, at.start = lo, at.end = hi;
        return vtensor(build(E, IR_SLICE, &a.t, 1, &at, e->loc));
    }
    }
    return ERR;
}

/* ----------------------------------------------------------- built-ins */

/* Built-ins take tensors positionally and attributes by name only
 * (language.md); one table says which, and the handler does the rest. */
enum { AT_AXIS, AT_KEEPDIMS, AT_EPS, AT_START, AT_END, AT_APPROX, AT_N };
static const char *const attr_names[AT_N] = {"axis",  "keepdims", "eps",
                                             "start", "end",      "approximate"};

typedef struct battrs {
    value v[AT_N];    /* attribute values */
    ir_loc loc[AT_N]; /* where each was given */
    bool has[AT_N];   /* given or not */
} battrs;

typedef struct builtin builtin;
typedef value bfn(elab *E, const builtin *b, const fe_expr *e, value *pos, const ir_loc *ploc,
                  int npos, const battrs *at);

struct builtin {
    const char *name; /* as called */
    int minpos;       /* positional arguments required */
    int maxpos;       /* positional arguments allowed */
    unsigned attrs;   /* bit AT_x set: attribute x is accepted */
    bfn *fn;          /* handler */
    ir_op op;         /* the IR op, for handlers shared by several built-ins */
};

#define BIT(x) (1u << (x))

static bool attr_int(elab *E, const battrs *at, int k, int64_t *out) {
    value v = at->v[k];
    if (v.k == V_FLOAT && whole(v.f) && fabs(v.f) < 9e15) v = vint((int64_t)v.f);
    if (v.k != V_INT) {
        error(E, at->loc[k], "'%s' must be a compile-time integer, not %s", attr_names[k],
              kind_name(v));
        return false;
    }
    *out = v.i;
    return true;
}

static bool need_tensor(elab *E, value v, ir_loc loc, const char *what) {
    if (v.k == V_TENSOR) return true;
    error(E, loc, "%s must be a tensor, not %s", what, kind_name(v));
    return false;
}

static double ct_unary(ir_op op, double x) {
    switch (op) {
    case IR_ABS: return fabs(x);
    case IR_EXP: return exp(x);
    case IR_LOG: return log(x);
    case IR_SQRT: return sqrt(x);
    case IR_RSQRT: return 1.0 / sqrt(x);
    case IR_SIN: return sin(x);
    case IR_COS: return cos(x);
    case IR_TANH: return tanh(x);
    case IR_ERF: return erf(x);
    case IR_SIGMOID: return 1.0 / (1.0 + exp(-x));
    case IR_RELU: return x > 0 ? x : 0;
    case IR_SILU: return x / (1.0 + exp(-x));
    default: return 0.5 * x * (1.0 + erf(x / sqrt(2.0))); /* gelu */
    }
}

static value b_unary(elab *E, const builtin *b, const fe_expr *e, value *pos, const ir_loc *ploc,
                     int npos, const battrs *at) {
    value x = pos[0];
    ir_attrs a = {0};
    if (at->has[AT_APPROX]) {
        value v = at->v[AT_APPROX];
        if (v.k != V_STR || (strcmp(v.s, "tanh") && strcmp(v.s, "none"))) {
            error(E, at->loc[AT_APPROX], "'approximate' is \"tanh\" or \"none\"");
            return ERR;
        }
        a.approx_tanh = !strcmp(v.s, "tanh");
    }
    if (is_num(x)) {
        if ((b->op == IR_ABS || b->op == IR_RELU) && x.k == V_INT)
            return vint(b->op == IR_RELU && x.i < 0 ? 0 : x.i < 0 ? -x.i : x.i);
        double v = num(x);
        if (b->op == IR_GELU && a.approx_tanh)
            return vfloat(0.5 * v * (1.0 + tanh(sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v))));
        return vfloat(ct_unary(b->op, v));
    }
    if (!need_tensor(E, x, ploc[0], "the operand")) return ERR;
    return vtensor(build(E, b->op, &x.t, 1, &a, e->loc));
}

static value b_binary(elab *E, const builtin *b, const fe_expr *e, value *pos, const ir_loc *ploc,
                      int npos, const battrs *at) {
    value x = pos[0], y = pos[1];
    if (is_num(x) && is_num(y)) {
        double u = num(x), v = num(y);
        bool ints = x.k == V_INT && y.k == V_INT;
        switch (b->op) {
        case IR_MAXIMUM: return ints ? vint(x.i > y.i ? x.i : y.i) : vfloat(u > v ? u : v);
        case IR_MINIMUM: return ints ? vint(x.i < y.i ? x.i : y.i) : vfloat(u < v ? u : v);
        case IR_LESS: return vbool(u < v);
        case IR_GREATER: return vbool(u > v);
        case IR_EQUAL: return vbool(u == v);
        default: return vfloat(pow(u, v));
        }
    }
    if (x.k != V_TENSOR && y.k != V_TENSOR) {
        error(E, e->loc, "'%s' needs tensors or numbers, not %s and %s", b->name, kind_name(x),
              kind_name(y));
        return ERR;
    }
    ir_dtype t = x.k == V_TENSOR ? tnode(E, x)->dtype : tnode(E, y)->dtype;
    x = to_tensor(E, x, t, ploc[0]);
    y = to_tensor(E, y, t, ploc[1]);
    if (x.k == V_ERR || y.k == V_ERR) return ERR;
    ir_ref in[2] = {x.t, y.t};
    ir_attrs a = {0};
    return vtensor(build(E, b->op, in, 2, &a, e->loc));
}

static value b_where(elab *E, const builtin *b, const fe_expr *e, value *pos, const ir_loc *ploc,
                     int npos, const battrs *at) {
    value c = pos[0], x = pos[1], y = pos[2];
    if (!need_tensor(E, c, ploc[0], "the condition of 'where'")) return ERR;
    ir_dtype t = x.k == V_TENSOR                    ? tnode(E, x)->dtype
                 : y.k == V_TENSOR                  ? tnode(E, y)->dtype
                 : (x.k == V_BOOL && y.k == V_BOOL) ? IR_BOOL
                 : (x.k == V_INT && y.k == V_INT)   ? IR_I32
                                                    : IR_F32;
    x = to_tensor(E, x, t, ploc[1]);
    y = to_tensor(E, y, t, ploc[2]);
    if (x.k == V_ERR || y.k == V_ERR) return ERR;
    ir_ref in[3] = {c.t, x.t, y.t};
    ir_attrs a = {0};
    return vtensor(build(E, IR_WHERE, in, 3, &a, e->loc));
}

static value b_matmul(elab *E, const builtin *b, const fe_expr *e, value *pos, const ir_loc *ploc,
                      int npos, const battrs *at) {
    if (!need_tensor(E, pos[0], ploc[0], "the left operand of matmul") ||
        !need_tensor(E, pos[1], ploc[1], "the right operand of matmul"))
        return ERR;
    ir_ref in[2] = {pos[0].t, pos[1].t};
    ir_attrs a = {0};
    return vtensor(build(E, IR_MATMUL, in, 2, &a, e->loc));
}

/* Normalizes one axis against a rank; reports at loc. */
static bool norm_axis(elab *E, int64_t *axis, int rank, ir_loc loc) {
    if (*axis < -rank || *axis >= rank) {
        error(E, loc, "axis %lld is out of range for a tensor of rank %d", (long long)*axis, rank);
        return false;
    }
    if (*axis < 0) *axis += rank;
    return true;
}

static value b_reduce(elab *E, const builtin *b, const fe_expr *e, value *pos, const ir_loc *ploc,
                      int npos, const battrs *at) {
    value x = pos[0];
    if (!need_tensor(E, x, ploc[0], "the operand")) return ERR;
    int rank = tnode(E, x)->shape.rank;
    ir_attrs a = {0};
    if (!at->has[AT_AXIS]) {
        a.axes = rank ? (uint32_t)((1ull << rank) - 1) : 0;
    } else {
        value v = at->v[AT_AXIS];
        value one[1] = {v};
        value *list = v.k == V_LIST ? v.items : one;
        int n = v.k == V_LIST ? v.n : 1;
        if (n == 0) {
            error(E, at->loc[AT_AXIS], "the axis list is empty");
            return ERR;
        }
        for (int i = 0; i < n; i++) {
            value w = list[i];
            if (w.k != V_INT) {
                error(E, at->loc[AT_AXIS],
                      "'axis' must be an integer or a list of integers, not %s", kind_name(w));
                return ERR;
            }
            int64_t ax = w.i;
            if (!norm_axis(E, &ax, rank, at->loc[AT_AXIS])) return ERR;
            if (a.axes & (1u << ax)) {
                error(E, at->loc[AT_AXIS], "axis %lld is listed twice", (long long)ax);
                return ERR;
            }
            a.axes |= 1u << ax;
        }
    }
    if (at->has[AT_KEEPDIMS]) {
        if (at->v[AT_KEEPDIMS].k != V_BOOL) {
            error(E, at->loc[AT_KEEPDIMS], "'keepdims' must be true or false");
            return ERR;
        }
        a.keepdims = at->v[AT_KEEPDIMS].i;
    }
    return vtensor(build(E, b->op, &x.t, 1, &a, e->loc));
}

static value b_softmax(elab *E, const builtin *b, const fe_expr *e, value *pos, const ir_loc *ploc,
                       int npos, const battrs *at) {
    if (!need_tensor(E, pos[0], ploc[0], "the operand of softmax")) return ERR;
    ir_attrs a = {0};
    a.axis = -1;
    if (at->has[AT_AXIS] && !attr_int(E, at, AT_AXIS, &a.axis)) return ERR;
    if (!norm_axis(E, &a.axis, tnode(E, pos[0])->shape.rank,
                   at->has[AT_AXIS] ? at->loc[AT_AXIS] : e->loc))
        return ERR;
    return vtensor(build(E, IR_SOFTMAX, &pos[0].t, 1, &a, e->loc));
}

static value b_norm(elab *E, const builtin *b, const fe_expr *e, value *pos, const ir_loc *ploc,
                    int npos, const battrs *at) {
    ir_ref in[3];
    for (int i = 0; i < npos; i++) {
        if (!need_tensor(E, pos[i], ploc[i], i == 0 ? "the operand" : i == 1 ? "gamma" : "beta"))
            return ERR;
        in[i] = pos[i].t;
    }
    ir_attrs a = {0};
    a.eps = b->op == IR_LAYERNORM ? 1e-5 : 1e-6;
    if (at->has[AT_EPS]) {
        if (!is_num(at->v[AT_EPS])) {
            error(E, at->loc[AT_EPS], "'eps' must be a number");
            return ERR;
        }
        a.eps = num(at->v[AT_EPS]);
    }
    return vtensor(build(E, b->op, in, npos, &a, e->loc));
}

static bool int_list(elab *E, value v, ir_loc loc, const char *what, int64_t *out, int *n) {
    if (v.k != V_LIST) {
        error(E, loc, "%s must be a list of integers, not %s", what, kind_name(v));
        return false;
    }
    if (v.n > IR_MAX_RANK) {
        error(E, loc, "%s has %d entries; a tensor has at most %d axes", what, v.n, IR_MAX_RANK);
        return false;
    }
    for (int i = 0; i < v.n; i++) {
        value w = v.items[i];
        if (w.k == V_FLOAT && whole(w.f) && fabs(w.f) < 9e15) w = vint((int64_t)w.f);
        if (w.k != V_INT) {
            error(E, loc, "%s must be a list of integers; entry %d is %s", what, i, kind_name(w));
            return false;
        }
        out[i] = w.i;
    }
    *n = v.n;
    return true;
}

static value b_reshape(elab *E, const builtin *b, const fe_expr *e, value *pos, const ir_loc *ploc,
                       int npos, const battrs *at) {
    if (!need_tensor(E, pos[0], ploc[0], "the operand of reshape")) return ERR;
    ir_attrs a = {0};
    int n;
    if (!int_list(E, pos[1], ploc[1], "the shape of reshape", a.shape.d, &n)) return ERR;
    a.shape.rank = n;
    return vtensor(build(E, IR_RESHAPE, &pos[0].t, 1, &a, e->loc));
}

static value b_transpose(elab *E, const builtin *b, const fe_expr *e, value *pos,
                         const ir_loc *ploc, int npos, const battrs *at) {
    if (!need_tensor(E, pos[0], ploc[0], "the operand of transpose")) return ERR;
    int rank = tnode(E, pos[0])->shape.rank;
    ir_attrs a = {0};
    if (npos == 1) {
        for (int i = 0; i < rank; i++)
            a.perm[i] = (int8_t)(rank - 1 - i);
    } else {
        int64_t p[IR_MAX_RANK];
        int n;
        if (!int_list(E, pos[1], ploc[1], "the permutation", p, &n)) return ERR;
        if (n != rank) {
            error(E, ploc[1], "the permutation has %d entries but the tensor has %d axes", n, rank);
            return ERR;
        }
        for (int i = 0; i < n; i++) {
            if (p[i] < -rank || p[i] >= rank) {
                error(E, ploc[1], "permutation entry %lld is out of range for %d axes",
                      (long long)p[i], rank);
                return ERR;
            }
            a.perm[i] = (int8_t)(p[i] < 0 ? p[i] + rank : p[i]);
        }
    }
    return vtensor(build(E, IR_TRANSPOSE, &pos[0].t, 1, &a, e->loc));
}

static value b_slice(elab *E, const builtin *b, const fe_expr *e, value *pos, const ir_loc *ploc,
                     int npos, const battrs *at) {
    if (!need_tensor(E, pos[0], ploc[0], "the operand of slice")) return ERR;
    const ir_node *x = tnode(E, pos[0]);
    ir_attrs a = {0};
    if (at->has[AT_AXIS] && !attr_int(E, at, AT_AXIS, &a.axis)) return ERR;
    if (x->shape.rank < 1) {
        error(E, e->loc, "cannot slice a scalar");
        return ERR;
    }
    if (!norm_axis(E, &a.axis, x->shape.rank, at->has[AT_AXIS] ? at->loc[AT_AXIS] : e->loc))
        return ERR;
    a.start = 0;
    a.end = x->shape.d[a.axis];
    if (at->has[AT_START] && !attr_int(E, at, AT_START, &a.start)) return ERR;
    if (at->has[AT_END] && !attr_int(E, at, AT_END, &a.end)) return ERR;
    return vtensor(build(E, IR_SLICE, &pos[0].t, 1, &a, e->loc));
}

static value b_concat(elab *E, const builtin *b, const fe_expr *e, value *pos, const ir_loc *ploc,
                      int npos, const battrs *at) {
    value l = pos[0];
    if (l.k != V_LIST) {
        error(E, ploc[0], "concat takes a list of tensors, [a, b, ...]");
        return ERR;
    }
    if (l.n == 0) {
        error(E, ploc[0], "concat needs at least one tensor");
        return ERR;
    }
    ir_ref *in = ir_alloc(E->arena, sizeof(ir_ref) * (size_t)l.n);
    for (int i = 0; i < l.n; i++) {
        if (!need_tensor(E, l.items[i], ploc[0], "every entry of concat's list")) return ERR;
        in[i] = l.items[i].t;
    }
    ir_attrs a = {0};
    if (at->has[AT_AXIS] && !attr_int(E, at, AT_AXIS, &a.axis)) return ERR;
    return vtensor(build(E, IR_CONCAT, in, l.n, &a, e->loc));
}

static value b_dim(elab *E, const builtin *b, const fe_expr *e, value *pos, const ir_loc *ploc,
                   int npos, const battrs *at) {
    if (!need_tensor(E, pos[0], ploc[0], "the operand of dim")) return ERR;
    const ir_node *x = tnode(E, pos[0]);
    int64_t axis;
    ir_loc loc;
    if (npos == 2) {
        value v = pos[1];
        if (v.k == V_FLOAT && whole(v.f) && fabs(v.f) < 9e15) v = vint((int64_t)v.f);
        if (v.k != V_INT) {
            error(E, ploc[1], "the axis of dim must be an integer, not %s", kind_name(v));
            return ERR;
        }
        axis = v.i;
        loc = ploc[1];
    } else if (at->has[AT_AXIS]) {
        if (!attr_int(E, at, AT_AXIS, &axis)) return ERR;
        loc = at->loc[AT_AXIS];
    } else {
        error(E, e->loc, "dim needs an axis: dim(x, axis)");
        return ERR;
    }
    if (!norm_axis(E, &axis, x->shape.rank, loc)) return ERR;
    return vint(x->shape.d[axis]);
}

static value b_gather(elab *E, const builtin *b, const fe_expr *e, value *pos, const ir_loc *ploc,
                      int npos, const battrs *at) {
    if (!need_tensor(E, pos[0], ploc[0], "the table of gather") ||
        !need_tensor(E, pos[1], ploc[1], "the indices of gather"))
        return ERR;
    ir_ref in[2] = {pos[0].t, pos[1].t};
    ir_attrs a = {0};
    return vtensor(build(E, IR_GATHER, in, 2, &a, e->loc));
}

static value b_causal(elab *E, const builtin *b, const fe_expr *e, value *pos, const ir_loc *ploc,
                      int npos, const battrs *at) {
    if (!need_tensor(E, pos[0], ploc[0], "the operand of causal_mask")) return ERR;
    ir_attrs a = {0};
    return vtensor(build(E, IR_CAUSAL_MASK, &pos[0].t, 1, &a, e->loc));
}

static value b_cast(elab *E, const builtin *b, const fe_expr *e, value *pos, const ir_loc *ploc,
                    int npos, const battrs *at) {
    if (pos[1].k != V_DTYPE) {
        error(E, ploc[1], "cast needs a dtype (f32, f16, bf16, i32, bool), not %s",
              kind_name(pos[1]));
        return ERR;
    }
    value x = pos[0];
    if (is_num(x)) x = to_tensor(E, x, x.k == V_INT ? IR_I32 : IR_F32, ploc[0]);
    if (!need_tensor(E, x, ploc[0], "the operand of cast")) return ERR;
    ir_attrs a = {0};
    a.dtype = (ir_dtype)pos[1].i;
    return vtensor(build(E, IR_CAST, &x.t, 1, &a, e->loc));
}

static const builtin builtins[] = {
    {"abs", 1, 1, 0, b_unary, IR_ABS},
    {"exp", 1, 1, 0, b_unary, IR_EXP},
    {"log", 1, 1, 0, b_unary, IR_LOG},
    {"sqrt", 1, 1, 0, b_unary, IR_SQRT},
    {"rsqrt", 1, 1, 0, b_unary, IR_RSQRT},
    {"sin", 1, 1, 0, b_unary, IR_SIN},
    {"cos", 1, 1, 0, b_unary, IR_COS},
    {"tanh", 1, 1, 0, b_unary, IR_TANH},
    {"erf", 1, 1, 0, b_unary, IR_ERF},
    {"sigmoid", 1, 1, 0, b_unary, IR_SIGMOID},
    {"relu", 1, 1, 0, b_unary, IR_RELU},
    {"silu", 1, 1, 0, b_unary, IR_SILU},
    {"gelu", 1, 1, BIT(AT_APPROX), b_unary, IR_GELU},
    {"pow", 2, 2, 0, b_binary, IR_POW},
    {"maximum", 2, 2, 0, b_binary, IR_MAXIMUM},
    {"minimum", 2, 2, 0, b_binary, IR_MINIMUM},
    {"less", 2, 2, 0, b_binary, IR_LESS},
    {"greater", 2, 2, 0, b_binary, IR_GREATER},
    {"equal", 2, 2, 0, b_binary, IR_EQUAL},
    {"where", 3, 3, 0, b_where, IR_WHERE},
    {"matmul", 2, 2, 0, b_matmul, IR_MATMUL},
    {"sum", 1, 1, BIT(AT_AXIS) | BIT(AT_KEEPDIMS), b_reduce, IR_REDUCE_SUM},
    {"mean", 1, 1, BIT(AT_AXIS) | BIT(AT_KEEPDIMS), b_reduce, IR_REDUCE_MEAN},
    {"max", 1, 1, BIT(AT_AXIS) | BIT(AT_KEEPDIMS), b_reduce, IR_REDUCE_MAX},
    {"min", 1, 1, BIT(AT_AXIS) | BIT(AT_KEEPDIMS), b_reduce, IR_REDUCE_MIN},
    {"softmax", 1, 1, BIT(AT_AXIS), b_softmax, IR_SOFTMAX},
    {"layernorm", 3, 3, BIT(AT_EPS), b_norm, IR_LAYERNORM},
    {"rmsnorm", 2, 2, BIT(AT_EPS), b_norm, IR_RMSNORM},
    {"reshape", 2, 2, 0, b_reshape, IR_RESHAPE},
    {"transpose", 1, 2, 0, b_transpose, IR_TRANSPOSE},
    {"slice", 1, 1, BIT(AT_AXIS) | BIT(AT_START) | BIT(AT_END), b_slice, IR_SLICE},
    {"concat", 1, 1, BIT(AT_AXIS), b_concat, IR_CONCAT},
    {"dim", 1, 2, BIT(AT_AXIS), b_dim, IR_INPUT},
    {"gather", 2, 2, 0, b_gather, IR_GATHER},
    {"causal_mask", 1, 1, 0, b_causal, IR_CAUSAL_MASK},
    {"cast", 2, 2, 0, b_cast, IR_CAST},
};

static const builtin *find_builtin(const char *name) {
    for (size_t i = 0; i < sizeof builtins / sizeof *builtins; i++)
        if (!strcmp(builtins[i].name, name)) return &builtins[i];
    return NULL;
}

static bool is_builtin(const char *name) {
    return find_builtin(name) != NULL;
}

static value call_builtin(elab *E, const builtin *b, const fe_expr *e) {
    value pos[4];
    ir_loc ploc[4];
    int npos = 0;
    battrs at = {0};
    bool ok = true, named = false;
    for (const fe_arg *a = e->args; a; a = a->next) {
        if (!a->name) {
            if (named) {
                error(E, a->value->loc, "positional arguments must come before named ones");
                ok = false;
                continue;
            }
            if (npos >= b->maxpos) {
                error(E, a->value->loc, "too many arguments: '%s' takes %d positional argument%s%s",
                      b->name, b->maxpos, b->maxpos == 1 ? "" : "s",
                      b->attrs ? " (attributes are named, as in axis: -1)" : "");
                ok = false;
                continue;
            }
            ploc[npos] = a->value->loc;
            pos[npos++] = eval(E, a->value);
            if (pos[npos - 1].k == V_ERR) ok = false;
            continue;
        }
        named = true;
        int k = -1;
        for (int i = 0; i < AT_N; i++)
            if (!strcmp(attr_names[i], a->name)) k = i;
        if (k < 0 || !(b->attrs & BIT(k))) {
            error(E, a->name_loc, "'%s' has no attribute '%s'", b->name, a->name);
            ok = false;
            continue;
        }
        if (at.has[k]) {
            error(E, a->name_loc, "attribute '%s' is given twice", a->name);
            ok = false;
            continue;
        }
        at.has[k] = true;
        at.loc[k] = a->value->loc;
        at.v[k] = eval(E, a->value);
        if (at.v[k].k == V_ERR) ok = false;
    }
    if (ok && npos < b->minpos) {
        error(E, e->loc, "'%s' takes %d argument%s, %d given", b->name, b->minpos,
              b->minpos == 1 ? "" : "s", npos);
        return ERR;
    }
    if (!ok) return ERR;
    return b->fn(E, b, e, pos, ploc, npos, &at);
}

/* ------------------------------------------------------------ fn calls */

/* Binds the shape variables of a declared type against an actual shape,
 * then checks every dimension. A bare name that is not yet defined is a
 * shape variable, bound at its first occurrence. */
static bool bind_shape_vars(elab *E, const fe_type *t, const ir_shape *s) {
    if (t->ndims != s->rank) return false;
    int i = 0;
    for (const fe_expr *d = t->dims; d; d = d->next, i++) {
        if (d->k != E_NAME || lookup(E, d->s, NULL) || is_builtin(d->s)) continue;
        binding *b = scope_put(E->cur, d->s);
        b->k = B_SHAPEVAR;
        b->v = vint(s->d[i]);
        b->loc = d->loc;
    }
    return true;
}

static bool type_fits(elab *E, const fe_type *t, ir_dtype dt, const ir_shape *s) {
    if (t->dtype != (int)dt || t->ndims != s->rank) return false;
    int i = 0;
    for (const fe_expr *d = t->dims; d; d = d->next, i++) {
        int64_t v;
        if (!eval_int(E, d, &v)) return false;
        if (v != s->d[i]) return false;
    }
    return true;
}

/* The declared type as written, with its dimensions evaluated where they
 * can be (for messages). */
static void type_text(elab *E, const fe_type *t, char *buf, size_t n) {
    size_t len = (size_t)snprintf(buf, n, "%s[", ir_dtype_name((ir_dtype)t->dtype));
    for (const fe_expr *d = t->dims; d && len < n; d = d->next) {
        const char *sep = d == t->dims ? "" : ", ";
        if (d->k == E_NAME) {
            binding *b = lookup(E, d->s, NULL);
            if (b && b->v.k == V_INT)
                len += (size_t)snprintf(buf + len, n - len, "%s%lld", sep, (long long)b->v.i);
            else
                len += (size_t)snprintf(buf + len, n - len, "%s%s", sep, d->s);
        } else if (d->k == E_INT) {
            len += (size_t)snprintf(buf + len, n - len, "%s%lld", sep, (long long)d->i);
        } else {
            len += (size_t)snprintf(buf + len, n - len, "%s...", sep);
        }
    }
    if (len < n) snprintf(buf + len, n - len, "]");
}

static value call_fn(elab *E, const fe_expr *e, value fv) {
    const fe_stmt *fn = fv.fn;
    if (fn->active) {
        error(E, e->loc, "'%s' calls itself (recursion is not allowed: fns are inlined)", fn->name);
        note(E, fn->name_loc, "'%s' is defined here", fn->name);
        return ERR;
    }
    int np = 0;
    for (const fe_fparam *p = fn->params; p; p = p->next)
        np++;
    const fe_fparam **params = ir_alloc(E->arena, sizeof(*params) * (size_t)(np + 1));
    const fe_arg **given = ir_alloc(E->arena, sizeof(*given) * (size_t)(np + 1));
    value *vals = ir_alloc(E->arena, sizeof(value) * (size_t)(np + 1));
    int i = 0;
    for (const fe_fparam *p = fn->params; p; p = p->next)
        params[i++] = p;

    /* Match arguments: positional first, then named. */
    bool ok = true, named = false;
    int pos = 0;
    for (const fe_arg *a = e->args; a; a = a->next) {
        int k = -1;
        if (!a->name) {
            if (named) {
                error(E, a->value->loc, "positional arguments must come before named ones");
                ok = false;
                continue;
            }
            if (pos >= np) {
                error(E, a->value->loc, "too many arguments: '%s' takes %d", fn->name, np);
                note(E, fn->name_loc, "'%s' is defined here", fn->name);
                ok = false;
                continue;
            }
            k = pos++;
        } else {
            named = true;
            for (int j = 0; j < np; j++)
                if (!strcmp(params[j]->name, a->name)) k = j;
            if (k < 0) {
                error(E, a->name_loc, "'%s' has no parameter named '%s'", fn->name, a->name);
                note(E, fn->name_loc, "'%s' is defined here", fn->name);
                ok = false;
                continue;
            }
            if (given[k]) {
                error(E, a->name_loc, "argument '%s' is given twice", a->name);
                ok = false;
                continue;
            }
        }
        given[k] = a;
        vals[k] = eval(E, a->value);
        if (vals[k].k == V_ERR) ok = false;
    }
    for (int k = 0; k < np; k++)
        if (!given[k] && !params[k]->def) {
            error(E, e->loc, "missing argument '%s' of '%s'", params[k]->name, fn->name);
            note(E, params[k]->loc, "parameter '%s' is declared here", params[k]->name);
            ok = false;
        }
    if (!ok || E->stop) return ERR;

    if (E->ncalls >= MAX_CALL_DEPTH) {
        error(E, e->loc, "fn calls nest more than %d deep", MAX_CALL_DEPTH);
        E->stop = true;
        return ERR;
    }
    if (E->ncalls == E->capcalls) {
        E->capcalls = E->capcalls ? E->capcalls * 2 : 8;
        E->calls = ir_xrealloc(E->calls, sizeof(callframe) * (size_t)E->capcalls);
    }
    /* From here on, errors get a note naming this call (unless they stand
     * inside the call's own text). */
    E->calls[E->ncalls++] = (callframe){fn, e->loc};
    ((fe_stmt *)fn)->active++;
    scope sc = {.parent = &fv.fnfile->top, .is_fn = true};
    scope *saved = E->cur;
    E->cur = &sc;
    value result = ERR;

    /* int and float parameters first: tensor types may use them. */
    for (int k = 0; k < np && ok; k++) {
        const fe_fparam *p = params[k];
        if (p->kind != P_INT && p->kind != P_FLOAT) continue;
        value v = given[k] ? vals[k] : eval(E, p->def);
        ir_loc at = given[k] ? given[k]->value->loc : p->def->loc;
        if (v.k == V_ERR) {
            ok = false;
            break;
        }
        if (p->kind == P_INT && v.k == V_FLOAT && whole(v.f) && fabs(v.f) < 9e15)
            v = vint((int64_t)v.f);
        if ((p->kind == P_INT && v.k != V_INT) || (p->kind == P_FLOAT && !is_num(v))) {
            error(E, at, "parameter '%s' of '%s' takes a compile-time %s, not %s", p->name,
                  fn->name, p->kind == P_INT ? "integer" : "number", kind_name(v));
            note(E, p->loc, "parameter '%s' is declared here", p->name);
            ok = false;
            break;
        }
        if (p->kind == P_FLOAT) v = vfloat(num(v));
        define(E, p->name, B_FPARAM, v, p->loc);
        vals[k] = v;
    }
    /* Tensor parameters: bind shape variables, then check every type. */
    for (int pass = 0; pass < 2 && ok; pass++)
        for (int k = 0; k < np && ok; k++) {
            const fe_fparam *p = params[k];
            if (p->kind != P_TENSOR) continue;
            value v = given[k] ? vals[k] : (pass == 0 ? (vals[k] = eval(E, p->def)) : vals[k]);
            ir_loc at = given[k] ? given[k]->value->loc : p->def->loc;
            if (v.k == V_ERR) {
                ok = false;
                break;
            }
            if (is_num(v) && pass == 0 && p->type->ndims == 0)
                v = vals[k] = to_tensor(E, v, (ir_dtype)p->type->dtype, at);
            if (v.k != V_TENSOR) {
                error(E, at, "parameter '%s' of '%s' takes a tensor, not %s", p->name, fn->name,
                      kind_name(v));
                note(E, p->loc, "parameter '%s' is declared here", p->name);
                ok = false;
                break;
            }
            const ir_node x = *tnode(E, v); /* a copy: evaluating dims may add nodes */
            bool fits = pass == 0 ? bind_shape_vars(E, p->type, &x.shape)
                                  : type_fits(E, p->type, x.dtype, &x.shape);
            if (!fits) {
                char want[256], got[160];
                type_text(E, p->type, want, sizeof want);
                error(E, at,
                      "argument for parameter '%s' of '%s' has type %s, which does not fit %s",
                      p->name, fn->name, ir_type_str(x.dtype, &x.shape, got, sizeof got), want);
                note(E, p->loc, "parameter '%s' is declared here", p->name);
                ok = false;
            }
        }
    for (int k = 0; k < np && ok; k++) {
        const fe_fparam *p = params[k];
        if (p->kind == P_INT || p->kind == P_FLOAT) continue;
        value v = given[k] ? vals[k] : p->kind == P_TENSOR ? vals[k] : eval(E, p->def);
        if (v.k == V_ERR) {
            ok = false;
            break;
        }
        define(E, p->name, B_FPARAM, v, p->loc);
    }
    if (ok) {
        run_stmts(E, fn->body);
        result = E->stop ? ERR : eval(E, fn->ret);
        if (result.k != V_ERR && fn->type) {
            if (is_num(result) && fn->type->ndims == 0)
                result = to_tensor(E, result, (ir_dtype)fn->type->dtype, fn->ret->loc);
            char want[256], got[160];
            if (result.k != V_TENSOR) {
                error(E, fn->ret->loc, "'%s' must return a tensor, not %s", fn->name,
                      kind_name(result));
                note(E, fn->type->loc, "the result type is declared here");
                result = ERR;
            } else {
                const ir_node x = *tnode(E, result); /* a copy: evaluating dims may add nodes */
                if (!type_fits(E, fn->type, x.dtype, &x.shape)) {
                    type_text(E, fn->type, want, sizeof want);
                    error(E, fn->ret->loc, "'%s' returns %s, not the declared %s", fn->name,
                          ir_type_str(x.dtype, &x.shape, got, sizeof got), want);
                    note(E, fn->type->loc, "the result type is declared here");
                    result = ERR;
                }
            }
        }
    }
    E->ncalls--;
    ((fe_stmt *)fn)->active--;
    scope_free(&sc);
    E->cur = saved;
    return result;
}

static value call(elab *E, const fe_expr *e) {
    if (e->a->k != E_NAME) {
        error(E, e->a->loc, "only named functions can be called");
        return ERR;
    }
    const builtin *bi = find_builtin(e->a->s);
    if (bi) return call_builtin(E, bi, e);
    bool hidden;
    binding *b = lookup(E, e->a->s, &hidden);
    if (!b) {
        error(E, e->a->loc, "undefined function '%s'", e->a->s);
        return ERR;
    }
    if (b->v.k == V_ERR) return ERR;
    if (b->v.k != V_FN) {
        error(E, e->a->loc, "'%s' is %s, not a function", e->a->s, kind_name(b->v));
        return ERR;
    }
    return call_fn(E, e, b->v);
}

/* ---------------------------------------------------------- statements */

static void stmt_let(elab *E, const fe_stmt *s) {
    value v = eval(E, s->e);
    define(E, s->name, B_LET, v, s->name_loc);
}

static void stmt_assign(elab *E, const fe_stmt *s) {
    bool hidden;
    binding *b = lookup(E, s->name, &hidden);
    value v = eval(E, s->e);
    if (!b) {
        if (hidden)
            error(E, s->name_loc,
                  "'%s' is a let name of the file and cannot be rebound inside an fn", s->name);
        else
            error(E, s->name_loc, "undefined name '%s' (use 'let' to define a new name)", s->name);
        return;
    }
    if (b->k != B_LET && b->k != B_OUTPUT) {
        error(E, s->name_loc, "cannot rebind %s '%s'; only let and output names can be rebound",
              bkind_name[b->k], s->name);
        note(E, b->loc, "'%s' is defined here", s->name);
        return;
    }
    b->v = v;
}

static void stmt_for(elab *E, const fe_stmt *s) {
    int64_t lo, hi;
    bool ok = eval_int(E, s->e, &lo);
    ok = eval_int(E, s->e2, &hi) && ok;
    if (!ok) return;
    for (int64_t i = lo; i < hi && !E->stop; i++) {
        if (++E->iterations > MAX_ITERATIONS) {
            error(E, s->loc,
                  "loops unroll to more than %d iterations; wsc refuses models this large",
                  MAX_ITERATIONS);
            E->stop = true;
            break;
        }
        scope sc = {.parent = E->cur};
        E->cur = &sc;
        define(E, s->name, B_LOOPVAR, vint(i), s->name_loc);
        run_stmts(E, s->body);
        E->cur = sc.parent;
        scope_free(&sc);
    }
}

static void run_stmts(elab *E, const fe_stmt *s) {
    for (; s && !E->stop; s = s->next) {
        switch (s->k) {
        case S_LET: stmt_let(E, s); break;
        case S_ASSIGN: stmt_assign(E, s); break;
        case S_FOR: stmt_for(E, s); break;
        default: ir_internal_error("statement kind %d inside a body", (int)s->k);
        }
    }
}

/* ---------------------------------------------------------- top level */

static char *read_source(const char *path, size_t *len, char *why, size_t whylen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(why, whylen, "%s", strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = ir_xmalloc(cap);
    for (;;) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
        if (n > FE_MAX_SOURCE) {
            snprintf(why, whylen, "it is larger than %d MiB", FE_MAX_SOURCE >> 20);
            free(buf);
            fclose(f);
            return NULL;
        }
        if (n == cap) buf = ir_xrealloc(buf, cap *= 2);
    }
    if (ferror(f)) {
        snprintf(why, whylen, "%s", errno == EISDIR ? "it is a directory" : strerror(errno));
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    *len = n;
    return buf;
}

/* Reads and parses a file; NULL after reporting (at `at` when given). */
static filectx *load_file(elab *E, const char *path, ir_loc at) {
    char why[256];
    size_t len;
    char *text = read_source(path, &len, why, sizeof why);
    if (!text) {
        error(E, at, "cannot read '%s': %s", path, why);
        return NULL;
    }
    filectx *f = ir_xcalloc(1, sizeof *f);
    f->path = ir_xstrdup(path);
    char *real = realpath(path, NULL);
    f->real = real ? real : ir_xstrdup(path);
    f->file = ir_diag_add_file(E->d, path, text, len);
    free(text);
    fe_parser p = {0};
    p.arena = E->arena;
    p.diag = E->d;
    p.file = f->file;
    p.text = ir_diag_file_text(E->d, f->file, &p.len);
    int nerr = fe_parse(&p);
    f->items = p.items;
    f->next = E->files;
    E->files = f;
    if (nerr) {
        f->done = true;
        E->stop = true; /* elaborating around syntax errors would only cascade */
        return NULL;
    }
    return f;
}

static const fe_define *find_define(elab *E, const char *name) {
    for (int i = 0; i < E->opt->ndefines; i++)
        if (!strcmp(E->opt->defines[i].name, name)) return &E->opt->defines[i];
    return NULL;
}

static value parse_define(const char *s, bool *ok) {
    char *end;
    errno = 0;
    long long i = strtoll(s, &end, 10);
    *ok = true;
    if (*s && !*end && !errno) return vint(i);
    errno = 0;
    double f = strtod(s, &end);
    if (*s && !*end && !errno && isfinite(f)) return vfloat(f);
    *ok = false;
    return ERR;
}

static void item_const(elab *E, const fe_stmt *s, filectx *f) {
    const fe_define *def = f == E->main ? find_define(E, s->name) : NULL;
    value v;
    if (def) {
        bool ok;
        v = parse_define(def->value, &ok); /* checked before elaboration */
    } else {
        v = eval(E, s->e);
        if (v.k != V_ERR && !is_num(v)) {
            error(E, s->e->loc, "a const is a compile-time integer or float, not %s", kind_name(v));
            v = ERR;
        }
    }
    define(E, s->name, B_CONST, v, s->name_loc);
}

static void item_input(elab *E, const fe_stmt *s) {
    ir_shape shape;
    value v = ERR;
    if (eval_type(E, s->type, &shape)) {
        ir_node n = {0};
        n.op = IR_INPUT;
        n.dtype = (ir_dtype)s->type->dtype;
        n.shape = shape;
        n.name = s->name;
        n.loc = s->name_loc;
        v = vtensor(ir_graph_add(E->g, &n, NULL, 0));
    }
    define(E, s->name, B_INPUT, v, s->name_loc);
}

/* The initializer's numeric arguments: normal(mean, std), uniform(lo, hi). */
static bool init_args(elab *E, const fe_expr *init, double *a, double *b) {
    double v[2];
    int n = 0;
    for (const fe_arg *x = init->args; x; x = x->next) {
        if (x->name) {
            error(E, x->name_loc, "'%s' takes positional arguments", init->a->s);
            return false;
        }
        if (n == 2) {
            error(E, x->value->loc, "'%s' takes two arguments", init->a->s);
            return false;
        }
        value w = eval(E, x->value);
        if (w.k == V_ERR) return false;
        if (!is_num(w)) {
            error(E, x->value->loc, "'%s' takes numbers, not %s", init->a->s, kind_name(w));
            return false;
        }
        v[n++] = num(w);
    }
    if (n != 2) {
        error(E, init->loc, "'%s' takes two arguments", init->a->s);
        return false;
    }
    *a = v[0], *b = v[1];
    return true;
}

static char *relative_path(const char *base, const char *path) {
    if (path[0] == '/') return ir_xstrdup(path);
    const char *slash = strrchr(base, '/');
    if (!slash) return ir_xstrdup(path);
    size_t n = (size_t)(slash - base) + 1;
    char *r = ir_xmalloc(n + strlen(path) + 1);
    memcpy(r, base, n);
    strcpy(r + n, path);
    return r;
}

/* Checks that a tensor read from a weights entry or a file fits a param. */
static bool fits_param(elab *E, const fe_stmt *s, const ir_tensor *t, ir_dtype dt,
                       const ir_shape *shape, const char *from) {
    if (t->dtype == dt && ir_shape_eq(&t->shape, shape)) return true;
    char want[160], got[160];
    error(E, s->name_loc, "param '%s' is declared %s but %s holds %s", s->name,
          ir_type_str(dt, shape, want, sizeof want), from,
          ir_type_str(t->dtype, &t->shape, got, sizeof got));
    return false;
}

static void item_param(elab *E, const fe_stmt *s, filectx *f) {
    ir_shape shape;
    value v = ERR;
    ir_dtype dt = (ir_dtype)s->type->dtype;
    if (!eval_type(E, s->type, &shape)) {
        define(E, s->name, B_PARAM, v, s->name_loc);
        return;
    }
    ir_node n = {0};
    n.op = IR_PARAM;
    n.dtype = dt;
    n.shape = shape;
    n.name = s->name;
    n.loc = s->name_loc;
    n.init.seed = E->opt->seed;
    bool ok = true;
    ir_tensor *w = NULL;
    int got = E->weights ? ir_weights_get(E->weights, s->name, &w, E->d) : 0;
    if (got < 0) {
        error(E, s->name_loc, "the weights entry for param '%s' cannot be read", s->name);
        ok = false;
    } else if (got > 0) {
        char from[512];
        snprintf(from, sizeof from, "the weights entry in %s", E->opt->weights);
        if (fits_param(E, s, w, dt, &shape, from)) {
            n.init.kind = IR_INIT_DATA;
            n.value = w;
        } else {
            ir_tensor_free(w);
            ok = false;
        }
    } else if (!s->init) {
        if (E->opt->weights)
            error(E, s->name_loc, "param '%s' has no initializer and %s has no entry for it",
                  s->name, E->opt->weights);
        else
            error(E, s->name_loc,
                  "param '%s' has no initializer and no weights were given (--weights)", s->name);
        ok = false;
    } else if (s->init->k == E_NAME) {
        if (!strcmp(s->init->s, "zeros"))
            n.init.kind = IR_INIT_ZEROS;
        else if (!strcmp(s->init->s, "ones"))
            n.init.kind = IR_INIT_ONES;
        else {
            error(E, s->init->loc,
                  "unknown initializer '%s' (zeros, ones, normal(mean, std), uniform(lo, hi), "
                  "file(\"w.npy\"))",
                  s->init->s);
            ok = false;
        }
    } else {
        const char *name = s->init->a->s;
        if (!strcmp(name, "normal") || !strcmp(name, "uniform")) {
            n.init.kind = !strcmp(name, "normal") ? IR_INIT_NORMAL : IR_INIT_UNIFORM;
            ok = init_args(E, s->init, &n.init.a, &n.init.b);
            if (ok && !ir_dtype_is_float(dt)) {
                error(E, s->init->loc, "'%s' initializes floating-point params only, not %s", name,
                      ir_dtype_name(dt));
                ok = false;
            }
        } else if (!strcmp(name, "file")) {
            const fe_arg *a = s->init->args;
            value pv = a && !a->name && !a->next ? eval(E, a->value) : ERR;
            if (pv.k != V_STR) {
                if (pv.k != V_ERR || !a || a->name || a->next)
                    error(E, s->init->loc, "file takes one string: file(\"w.npy\")");
                ok = false;
            } else {
                char *path = relative_path(f->path, pv.s);
                ir_diag *quiet = ir_diag_new(NULL);
                /* bf16 is stored as '<u2', which only a bf16 reader accepts */
                ir_tensor *t = ir_npy_read(path, dt == IR_BF16 ? IR_BF16 : -1, quiet);
                if (!t) {
                    const char *msg = ir_diag_text(quiet);
                    const char *colon = strstr(msg, ": error: ");
                    char *line = ir_xstrdup(colon ? colon + 9 : msg);
                    char *nl = strchr(line, '\n');
                    if (nl) *nl = 0;
                    error(E, a->value->loc, "%s", line);
                    free(line);
                    ok = false;
                } else {
                    char from[600];
                    snprintf(from, sizeof from, "'%s'", path);
                    if (fits_param(E, s, t, dt, &shape, from)) {
                        n.init.kind = IR_INIT_DATA;
                        n.value = t;
                    } else {
                        ir_tensor_free(t);
                        ok = false;
                    }
                }
                ir_diag_free(quiet);
                free(path);
            }
        } else {
            error(E, s->init->a->loc,
                  "unknown initializer '%s' (zeros, ones, normal(mean, std), uniform(lo, hi), "
                  "file(\"w.npy\"))",
                  name);
            ok = false;
        }
    }
    if (ok)
        v = vtensor(ir_graph_add(E->g, &n, NULL, 0));
    else
        ir_tensor_free(n.value);
    define(E, s->name, B_PARAM, v, s->name_loc);
}

static void item_output(elab *E, const fe_stmt *s) {
    value v;
    ir_loc at = s->name_loc;
    if (s->e) {
        v = eval(E, s->e);
        at = s->e->loc;
        if (!define(E, s->name, B_OUTPUT, v, s->name_loc)) return;
    } else {
        binding *b = lookup(E, s->name, NULL);
        if (!b) {
            error(E, s->name_loc, "undefined name '%s'", s->name);
            return;
        }
        v = b->v;
    }
    for (int32_t i = 0; i < E->g->noutputs; i++)
        if (!strcmp(E->g->outputs[i].name, s->name)) {
            error(E, s->name_loc, "output '%s' is declared twice", s->name);
            note(E, E->g->outputs[i].loc, "the first declaration is here");
            return;
        }
    if (is_num(v)) v = to_tensor(E, v, v.k == V_INT ? IR_I32 : IR_F32, at);
    if (v.k == V_ERR) return;
    if (v.k != V_TENSOR) {
        error(E, at, "an output must be a tensor, not %s", kind_name(v));
        return;
    }
    ir_graph_add_output(E->g, s->name, v.t, s->loc);
}

static void run_file(elab *E, filectx *f);

static void item_import(elab *E, const fe_stmt *s, filectx *f) {
    char *path = relative_path(f->path, s->name);
    char *real = realpath(path, NULL);
    filectx *g = NULL;
    for (filectx *x = E->files; real && x; x = x->next)
        if (!strcmp(x->real, real)) g = x;
    free(real);
    if (g && g->busy) {
        error(E, s->loc, "import cycle: '%s' is already being imported", s->name);
        free(path);
        return;
    }
    if (!g) {
        g = load_file(E, path, s->name_loc);
        if (!g) {
            free(path);
            return;
        }
        run_file(E, g);
    }
    free(path);
    if (!g->done) return;
    /* Bring its consts and fns (its own and those it imported). A name
     * reached twice through a diamond of imports is the same definition. */
    for (int i = 0; i < g->top.cap; i++) {
        binding *b = &g->top.tab[i];
        if (!b->name || (b->k != B_CONST && b->k != B_FN)) continue;
        binding *old = scope_find(E->cur, b->name);
        if (old && old->loc.file == b->loc.file && old->loc.begin == b->loc.begin) continue;
        if (old) {
            error(E, s->loc, "'%s' from '%s' is already defined", b->name, s->name);
            note(E, old->loc, "the other definition of '%s' is here", b->name);
            continue;
        }
        *scope_put(E->cur, b->name) = *b;
    }
}

static void run_file(elab *E, filectx *f) {
    f->busy = true;
    scope *saved = E->cur;
    E->cur = &f->top;
    bool is_main = f == E->main;
    for (const fe_stmt *s = f->items; s && !E->stop; s = s->next) {
        if (!is_main && s->k != S_IMPORT && s->k != S_CONST && s->k != S_FN && s->k != S_MODEL) {
            error(E, s->loc, "an imported file holds only import, const and fn items");
            continue;
        }
        switch (s->k) {
        case S_MODEL:
            if (is_main) E->g->model = ir_strdup(E->g->arena, s->name);
            break;
        case S_IMPORT: item_import(E, s, f); break;
        case S_CONST: item_const(E, s, f); break;
        case S_INPUT: item_input(E, s); break;
        case S_PARAM: item_param(E, s, f); break;
        case S_OUTPUT: item_output(E, s); break;
        case S_FN:
            define(E, s->name, B_FN, (value){.k = V_FN, .fn = s, .fnfile = f}, s->name_loc);
            break;
        case S_LET: stmt_let(E, s); break;
        case S_ASSIGN: stmt_assign(E, s); break;
        case S_FOR: stmt_for(E, s); break;
        }
    }
    E->cur = saved;
    f->busy = false;
    f->done = true;
}

static char *file_stem(const char *path) {
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    char *s = ir_xstrdup(b);
    char *dot = strrchr(s, '.');
    if (dot && dot != s) *dot = 0;
    return s;
}

/* Checks -D names and values before anything is evaluated (usage errors). */
static bool check_defines(elab *E) {
    for (int i = 0; i < E->opt->ndefines; i++) {
        const fe_define *d = &E->opt->defines[i];
        bool found = false;
        for (const fe_stmt *s = E->main->items; s; s = s->next)
            if (s->k == S_CONST && !strcmp(s->name, d->name)) found = true;
        if (!found) {
            ir_error(E->d, IR_NOLOC, "-D %s: '%s' has no top-level const '%s'", d->name,
                     E->main->path, d->name);
            return false;
        }
        bool ok;
        parse_define(d->value, &ok);
        if (!ok) {
            ir_error(E->d, IR_NOLOC, "-D %s=%s: the value must be an integer or float literal",
                     d->name, d->value);
            return false;
        }
    }
    return true;
}

typedef struct job {
    const fe_options *o; /* what to compile */
    ir_diag *d;          /* where errors go */
    ir_graph *g;         /* result */
    int status;          /* exit status on failure */
} job;

static void *compile_job(void *arg) {
    job *j = arg;
    elab E = {0};
    E.opt = j->o;
    E.d = j->d;
    E.arena = ir_arena_new();
    j->status = IR_EXIT_INPUT;
    E.main = load_file(&E, j->o->path, IR_NOLOC);
    if (E.main && j->o->weights) {
        E.weights = ir_weights_open(j->o->weights, j->d);
        if (!E.weights) E.stop = true;
    }
    if (E.main && !E.stop) {
        if (!check_defines(&E)) {
            j->status = IR_EXIT_USAGE;
        } else {
            char *stem = file_stem(j->o->path);
            E.g = ir_graph_new(stem);
            free(stem);
            run_file(&E, E.main);
            flush_calls(&E);
            if (E.weights && !ir_diag_errors(j->d)) ir_weights_warn_unused(E.weights, j->d);
            if (!ir_diag_errors(j->d) && E.g->noutputs == 0)
                ir_warning(j->d, (ir_loc){E.main->file, 0, 0}, "the model declares no outputs");
        }
    }
    if (E.g && !ir_diag_errors(j->d) && j->status != IR_EXIT_USAGE) {
        j->g = E.g;
        j->status = IR_EXIT_OK;
    } else {
        ir_graph_free(E.g);
    }
    ir_weights_close(E.weights);
    for (filectx *f = E.files, *n; f; f = n) {
        n = f->next;
        scope_free(&f->top);
        free(f->path);
        free(f->real);
        free(f);
    }
    free(E.calls);
    free(E.seen);
    ir_arena_free(E.arena);
    return NULL;
}

/* Elaboration recurses over the syntax tree (expressions nest up to
 * FE_MAX_DEPTH levels), so it runs on a thread with a large stack of its
 * own rather than trusting the caller's. The stack is reserved virtual
 * memory: only what is touched is committed. */
ir_graph *fe_compile(const fe_options *o, ir_diag *d, int *status) {
    /* Only address space is reserved; a host that refuses 1 GiB (a small
     * ulimit -v) gets smaller stacks, then the caller's own. */
    static const size_t sizes[] = {(size_t)1 << 30, (size_t)256 << 20, (size_t)64 << 20};
    job j = {o, d, NULL, IR_EXIT_INPUT};
    bool ran = false;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0] && !ran; i++) {
        pthread_attr_t attr;
        pthread_t t;
        if (pthread_attr_init(&attr)) break;
        ran = !pthread_attr_setstacksize(&attr, sizes[i]) &&
              !pthread_create(&t, &attr, compile_job, &j);
        pthread_attr_destroy(&attr);
        if (ran && pthread_join(t, NULL)) ir_internal_error("cannot join the elaboration thread");
    }
    if (!ran) compile_job(&j);
    *status = j.status;
    return j.g;
}
