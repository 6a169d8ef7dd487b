/* graph_io.c - the IR graph as an artifact section ('IRGR'): the model
 * name, every node (op, type, operands, attributes, name, param
 * initializer, const and param data) and the outputs. docs/artifact.md
 * gives the encoding.
 *
 * The decoder trusts nothing: every count is checked against the bytes
 * left before anything is allocated, every enum and reference against its
 * range, and the result must pass ir_verify, so the rest of wsc can treat a
 * decoded graph like one the front end built. Source locations are not
 * kept (their file ids mean nothing in another process): decoded nodes
 * carry IR_NOLOC. */
#include "rt.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Bits of the attribute flags byte. */
enum { FL_KEEPDIMS = 1, FL_TA = 2, FL_TB = 4, FL_APPROX = 8, FL_ALL = 15 };

/* --------------------------------------------------------------- encoding */

static void put_shape(rt_buf *b, const ir_shape *s) {
    rt_put_u32(b, (uint32_t)s->rank);
    for (int i = 0; i < s->rank; i++)
        rt_put_i64(b, s->d[i]);
}

/* Element by element in little-endian order; in one copy on a
 * little-endian host, where the two are the same. */
static void put_data(rt_buf *b, const ir_tensor *t) {
    size_t n = ir_tensor_bytes(t);
    rt_put_u64(b, n);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    rt_put_bytes(b, t->data, n);
#else
    if (t->dtype == IR_BOOL) {
        rt_put_bytes(b, t->data, n);
    } else {
        const uint32_t *w = t->data;
        for (size_t i = 0; i < n / 4; i++)
            rt_put_u32(b, w[i]);
    }
#endif
}

static void put_node(rt_buf *b, const ir_node *n) {
    rt_put_u32(b, (uint32_t)n->op);
    rt_put_u32(b, (uint32_t)n->dtype);
    put_shape(b, &n->shape);
    rt_put_u32(b, (uint32_t)n->nin);
    for (int k = 0; k < n->nin; k++)
        rt_put_u32(b, (uint32_t)n->in[k]);
    rt_put_str(b, n->name ? n->name : "");
    const ir_attrs *a = &n->a;
    rt_put_i64(b, a->axis);
    rt_put_i64(b, a->start);
    rt_put_i64(b, a->end);
    rt_put_u32(b, a->axes);
    rt_put_u8(b, (uint8_t)((a->keepdims ? FL_KEEPDIMS : 0) | (a->ta ? FL_TA : 0) |
                           (a->tb ? FL_TB : 0) | (a->approx_tanh ? FL_APPROX : 0)));
    rt_put_f64(b, a->eps);
    for (int i = 0; i < IR_MAX_RANK; i++)
        rt_put_u8(b, (uint8_t)a->perm[i]);
    put_shape(b, &a->shape);
    rt_put_u32(b, (uint32_t)a->dtype);
    rt_put_u32(b, (uint32_t)n->init.kind);
    rt_put_f64(b, n->init.a);
    rt_put_f64(b, n->init.b);
    rt_put_u64(b, n->init.seed);
    rt_put_u8(b, n->value != NULL);
    if (n->value) {
        rt_put_u32(b, (uint32_t)n->value->dtype);
        put_shape(b, &n->value->shape);
        put_data(b, n->value);
    }
}

void rt_encode_graph(const ir_graph *g, rt_buf *b) {
    rt_put_str(b, g->model);
    rt_put_u32(b, (uint32_t)g->nnodes);
    for (int32_t i = 0; i < g->nnodes; i++)
        put_node(b, &g->nodes[i]);
    rt_put_u32(b, (uint32_t)g->noutputs);
    for (int32_t i = 0; i < g->noutputs; i++) {
        rt_put_str(b, g->outputs[i].name);
        rt_put_u32(b, (uint32_t)g->outputs[i].ref);
    }
}

/* --------------------------------------------------------------- decoding */

typedef struct decoder {
    rt_reader r;  /* over the section */
    ir_graph *g;  /* being built */
    ir_diag *d;   /* where the first problem is reported */
    int32_t node; /* index of the node being decoded, -1 outside nodes */
    bool failed;  /* a problem was reported */
} decoder;

static bool fail(decoder *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(decoder *c, const char *fmt, ...) {
    if (c->failed) return false;
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->node >= 0)
        ir_error(c->d, IR_NOLOC, "the IR graph section is invalid: node %%%d: %s", (int)c->node,
                 msg);
    else
        ir_error(c->d, IR_NOLOC, "the IR graph section is invalid: %s", msg);
    c->failed = true;
    return false;
}

/* A truncated read is the one failure the reader notices by itself. */
static bool short_read(decoder *c) {
    return c->r.bad ? fail(c, "it ends early (truncated or corrupted)") : true;
}

static bool get_dtype(decoder *c, ir_dtype *out, const char *what) {
    uint32_t v = rt_read_u32(&c->r);
    if (!short_read(c)) return false;
    if (v >= IR_NDTYPES) return fail(c, "%s has the unknown dtype %u", what, v);
    *out = (ir_dtype)v;
    return true;
}

/* Ranks within IR_MAX_RANK, dimensions 1..IR_MAX_DIM, at most IR_MAX_NUMEL
 * elements; unused dimensions zero, as ir_shape_make leaves them. */
static bool get_shape(decoder *c, ir_shape *s, const char *what) {
    uint32_t rank = rt_read_u32(&c->r);
    if (!short_read(c)) return false;
    if (rank > IR_MAX_RANK) return fail(c, "%s has rank %u (at most %d)", what, rank, IR_MAX_RANK);
    memset(s, 0, sizeof *s);
    s->rank = (int)rank;
    for (uint32_t i = 0; i < rank; i++) {
        s->d[i] = rt_read_i64(&c->r);
        if (!short_read(c)) return false;
        if (s->d[i] < 1 || s->d[i] > IR_MAX_DIM)
            return fail(c, "%s has dimension %lld (1 to 2^31 - 1)", what, (long long)s->d[i]);
    }
    if (ir_shape_numel(s) > IR_MAX_NUMEL) return fail(c, "%s has more than 2^48 elements", what);
    return true;
}

static const char *get_str(decoder *c, const char *what) {
    const char *s = rt_read_str(&c->r, c->g->arena);
    if (!s) fail(c, "%s is malformed (a NUL byte, or a length past the end)", what);
    return s;
}

/* Float data must already be rounded to its dtype and bools must be 0 or
 * 1: the interpreter and the passes rely on both. */
static bool check_values(decoder *c, const ir_tensor *t) {
    int64_t n = ir_shape_numel(&t->shape);
    if (t->dtype == IR_BOOL) {
        const uint8_t *v = t->data;
        for (int64_t i = 0; i < n; i++)
            if (v[i] > 1) return fail(c, "bool element %lld is %u, not 0 or 1", (long long)i, v[i]);
    } else if (t->dtype == IR_F16 || t->dtype == IR_BF16) {
        const float *v = t->data;
        for (int64_t i = 0; i < n; i++) {
            float r = t->dtype == IR_F16 ? ir_round_f16(v[i]) : ir_round_bf16(v[i]);
            if (!(r == v[i] || (isnan(r) && isnan(v[i]))))
                return fail(c, "%s element %lld (%.9g) is not a %s value", ir_dtype_name(t->dtype),
                            (long long)i, v[i], ir_dtype_name(t->dtype));
        }
    }
    return true;
}

static ir_tensor *get_value(decoder *c, const ir_node *n) {
    ir_dtype dt = IR_F32;
    ir_shape s;
    char t1[160], t2[160];
    if (!get_dtype(c, &dt, "its data") || !get_shape(c, &s, "its data")) return NULL;
    if (dt != n->dtype || !ir_shape_eq(&s, &n->shape)) {
        fail(c, "it holds data of type %s, not %s", ir_type_str(dt, &s, t1, sizeof t1),
             ir_type_str(n->dtype, &n->shape, t2, sizeof t2));
        return NULL;
    }
    uint64_t nbytes = rt_read_u64(&c->r);
    if (!short_read(c)) return NULL;
    /* numel <= 2^48 and 4-byte elements: the product cannot overflow. */
    uint64_t want = (uint64_t)ir_shape_numel(&s) * ir_dtype_size(dt);
    if (nbytes != want) {
        fail(c, "its data has %llu bytes; %s needs %llu", (unsigned long long)nbytes,
             ir_type_str(dt, &s, t1, sizeof t1), (unsigned long long)want);
        return NULL;
    }
    /* The bytes are in the section before anything is allocated for them,
     * so a hostile size cannot make us allocate more than the file holds. */
    if (nbytes > rt_reader_left(&c->r)) {
        fail(c, "its data (%llu bytes) runs past the end of the section",
             (unsigned long long)nbytes);
        return NULL;
    }
    const uint8_t *src = rt_read_bytes(&c->r, (size_t)nbytes);
    ir_tensor *t = ir_tensor_new(dt, &s);
    if (!t) {
        fail(c, "its data (%llu bytes) does not fit in this host's memory",
             (unsigned long long)nbytes);
        return NULL;
    }
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (nbytes) memcpy(t->data, src, (size_t)nbytes);
#else
    if (dt == IR_BOOL) {
        if (nbytes) memcpy(t->data, src, (size_t)nbytes);
    } else {
        uint32_t *w = t->data;
        for (size_t i = 0; i < nbytes / 4; i++)
            w[i] = (uint32_t)src[4 * i] | (uint32_t)src[4 * i + 1] << 8 |
                   (uint32_t)src[4 * i + 2] << 16 | (uint32_t)src[4 * i + 3] << 24;
    }
#endif
    if (!check_values(c, t)) {
        ir_tensor_free(t);
        return NULL;
    }
    return t;
}

static bool get_attrs(decoder *c, ir_attrs *a) {
    rt_reader *r = &c->r;
    a->axis = rt_read_i64(r);
    a->start = rt_read_i64(r);
    a->end = rt_read_i64(r);
    a->axes = rt_read_u32(r);
    uint8_t fl = rt_read_u8(r);
    a->eps = rt_read_f64(r);
    for (int i = 0; i < IR_MAX_RANK; i++)
        a->perm[i] = (int8_t)rt_read_u8(r);
    if (!short_read(c)) return false;
    if (fl & ~FL_ALL) return fail(c, "unknown attribute flags 0x%02x", fl);
    a->keepdims = fl & FL_KEEPDIMS;
    a->ta = fl & FL_TA;
    a->tb = fl & FL_TB;
    a->approx_tanh = fl & FL_APPROX;
    for (int i = 0; i < IR_MAX_RANK; i++)
        if (a->perm[i] < 0 || a->perm[i] >= IR_MAX_RANK)
            return fail(c, "permutation entry %d is %d", i, a->perm[i]);
    return get_shape(c, &a->shape, "its shape attribute") &&
           get_dtype(c, &a->dtype, "its dtype attribute");
}

static bool get_init(decoder *c, ir_init *in) {
    uint32_t kind = rt_read_u32(&c->r);
    in->a = rt_read_f64(&c->r);
    in->b = rt_read_f64(&c->r);
    in->seed = rt_read_u64(&c->r);
    if (!short_read(c)) return false;
    if (kind > IR_INIT_DATA) return fail(c, "unknown initializer kind %u", kind);
    in->kind = (ir_init_kind)kind;
    return true;
}

static bool get_node(decoder *c) {
    rt_reader *r = &c->r;
    ir_node n;
    memset(&n, 0, sizeof n);
    n.loc = IR_NOLOC;
    uint32_t op = rt_read_u32(r);
    if (!short_read(c)) return false;
    if (op >= IR_NOPS) return fail(c, "unknown op %u", op);
    n.op = (ir_op)op;
    const ir_opinfo *info = &ir_ops[n.op];
    if (!get_dtype(c, &n.dtype, "it") || !get_shape(c, &n.shape, "it")) return false;
    uint32_t nin = rt_read_u32(r);
    if (!short_read(c)) return false;
    if (info->nin >= 0 ? nin != (uint32_t)info->nin : nin < 1)
        return fail(c, "'%s' with %u operands", info->name, nin);
    if (nin > rt_reader_left(r) / 4) return fail(c, "%u operands run past the end", nin);
    ir_ref *in = nin ? ir_xmalloc(sizeof(ir_ref) * nin) : NULL;
    for (uint32_t k = 0; k < nin; k++) {
        uint32_t v = rt_read_u32(r);
        if (v >= (uint32_t)c->node) {
            free(in);
            return fail(c, "operand %u is %%%u, not an earlier node", k, v);
        }
        in[k] = (ir_ref)v;
    }
    const char *name = get_str(c, "its name");
    bool ok = name && get_attrs(c, &n.a) && get_init(c, &n.init);
    n.name = name && *name ? name : NULL;
    if (ok && (n.op == IR_INPUT || n.op == IR_PARAM) && !n.name)
        ok = fail(c, "'%s' without a name", info->name);
    uint8_t has = ok ? rt_read_u8(r) : 0;
    if (ok && (!short_read(c) || has > 1)) ok = fail(c, "bad data flag %u", has);
    if (ok && has && n.op != IR_CONST && n.op != IR_PARAM)
        ok = fail(c, "'%s' carries data", info->name);
    if (ok && !has && n.op == IR_CONST) ok = fail(c, "a const without a value");
    if (ok && !has && n.op == IR_PARAM && n.init.kind == IR_INIT_DATA)
        ok = fail(c, "param '%s' is initialized from data it does not carry", n.name);
    if (ok && has) ok = (n.value = get_value(c, &n)) != NULL;
    if (ok) ir_graph_add(c->g, &n, in, (int)nin);
    free(in);
    return ok;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Inputs are fed and outputs written by name: two of one name would make
 * `wsc run` ambiguous. */
static bool unique_names(decoder *c, const char **names, int32_t n, const char *what) {
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    for (int32_t i = 1; i < n; i++)
        if (strcmp(names[i], names[i - 1]) == 0)
            return fail(c, "two %s are named '%s'", what, names[i]);
    return true;
}

static bool get_graph(decoder *c) {
    rt_reader *r = &c->r;
    uint32_t nnodes = rt_read_u32(r);
    if (!short_read(c)) return false;
    if (nnodes > INT32_MAX) return fail(c, "%u nodes", nnodes);
    for (uint32_t i = 0; i < nnodes; i++) {
        c->node = (int32_t)i;
        if (!get_node(c)) return false;
    }
    c->node = -1;
    uint32_t nout = rt_read_u32(r);
    if (!short_read(c)) return false;
    /* A name and a ref take at least 8 bytes: bounds the array below. */
    if (nout > rt_reader_left(r) / 8) return fail(c, "%u outputs run past the end", nout);
    const char **names = ir_xmalloc(sizeof(char *) * (nout + (size_t)c->g->nnodes + 1));
    bool ok = true;
    for (uint32_t i = 0; ok && i < nout; i++) {
        const char *name = get_str(c, "an output name");
        uint32_t ref = rt_read_u32(r);
        if (!name || !short_read(c))
            ok = false;
        else if (!*name)
            ok = fail(c, "output %u has no name", i);
        else if (ref >= nnodes)
            ok = fail(c, "output '%s' is %%%u, not a node", name, ref);
        else {
            ir_graph_add_output(c->g, name, (ir_ref)ref, IR_NOLOC);
            names[i] = name;
        }
    }
    ok = ok && unique_names(c, names, (int32_t)nout, "outputs");
    int32_t ninputs = 0;
    for (int32_t i = 0; ok && i < c->g->nnodes; i++)
        if (c->g->nodes[i].op == IR_INPUT) names[ninputs++] = c->g->nodes[i].name;
    ok = ok && unique_names(c, names, ninputs, "inputs");
    free(names);
    if (ok && rt_reader_left(r))
        ok = fail(c, "%zu bytes follow the end of the graph", rt_reader_left(r));
    return ok;
}

/* ir_verify compares only types; the interpreter and the passes also
 * trust that attributes are as inference leaves them (axes and slice
 * bounds normalized, unused perm entries zero). A slice stored as
 * [-100:100] has the type of [0:4] but would index out of bounds. */
static bool attrs_normal(const ir_graph *g, ir_diag *d) {
    for (int32_t i = 0; i < g->nnodes; i++) {
        const ir_node *n = &g->nodes[i];
        if (ir_ops[n->op].kind == IR_K_SOURCE) continue;
        ir_node copy = *n;
        ir_err e;
        if (!ir_infer(g, &copy, &e) || !ir_attrs_equal(n->op, &copy.a, &n->a)) {
            ir_error(d, IR_NOLOC,
                     "the IR graph section is invalid: node %%%d: the attributes of '%s' are not "
                     "in normal form",
                     (int)i, ir_ops[n->op].name);
            return false;
        }
    }
    return true;
}

ir_graph *rt_decode_graph(const void *data, size_t len, ir_diag *d) {
    decoder c = {rt_reader_make(data, len), NULL, d, -1, false};
    ir_graph *g = ir_graph_new("model");
    c.g = g;
    const char *model = get_str(&c, "the model name");
    if (model) g->model = model;
    if (!model || !get_graph(&c)) {
        ir_graph_free(g);
        return NULL;
    }
    /* The type rules last: a graph of well-formed nodes may still be one the
     * builder could never have made. */
    ir_diag *quiet = ir_diag_new(NULL);
    bool ok = ir_verify(g, quiet);
    if (!ok) {
        const char *msg = ir_diag_text(quiet);
        const char *p = strstr(msg, "IR verifier: ");
        p = p ? p + 13 : msg;
        ir_error(d, IR_NOLOC, "the IR graph section is invalid: %.*s", (int)strcspn(p, "\n"), p);
    }
    ir_diag_free(quiet);
    if (ok) ok = attrs_normal(g, d);
    if (!ok) {
        ir_graph_free(g);
        return NULL;
    }
    return g;
}
