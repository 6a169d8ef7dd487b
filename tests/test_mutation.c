/* test_mutation.c - `wsc run` executes the artifact: a change to what the
 * artifact says (a route, a weight, a colour binding) changes what the run
 * does. The ex_mlp case is compiled once by the wsc binary and run for
 * baseline outputs; then each test copies every section of the artifact,
 * decodes one (routes or SRAM images), changes one thing, re-encodes it and
 * writes a new artifact (rt_writer_save recomputes the checksums), runs it,
 * and requires that the run EITHER fails with exit 1 and a `wsc: error:`
 * diagnostic OR writes outputs that differ from the baseline. A control
 * re-encodes without a change and requires identical outputs. The hostile
 * tests at the end change a PE's parameter block or program to something no
 * compiler writes: `wsc run` must refuse or run it, never crash
 * (docs/artifact.md: decoders trust nothing). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ir.h"
#include "rt.h"
#include "wse_abi.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MLP WSC_SOURCE_DIR "/tests/ref/cases/ex_mlp"
/* The smallest of these the model compiles for (placement and routing
 * change as the compiler does; the mutations do not depend on the size). */
static const char *const FABRICS[] = {"16x16", "24x24", "32x32", "48x48", "64x64"};

static char tmpdir[] = "/tmp/wsc_test_mutation_XXXXXX";

#include "test_util.h"

/* ------------------------------------------------------------ the harness */

/* The baseline artifact's sections (copied) and what the tests decode. */
typedef struct base {
    int n;             /* sections */
    uint32_t tag[16];  /* their tags, in file order */
    uint8_t *data[16]; /* their bytes (malloc'd) */
    size_t len[16];    /* their lengths */
    uint64_t hash;     /* model hash */
    ir_target t;       /* TARG */
    ir_graph *g;       /* IRGR */
    ir_kgraph kg;      /* KERN */
    int32_t nprog;     /* programs in PROG */
    ir_tensor *out[2]; /* baseline outputs: logits, probs */
} base;

static base B;
static const char *const OUTS[2] = {"logits", "probs"};

/* Runs `wsc ARGS` with its standard error in ERR; returns the exit status,
 * or 128 + the signal when it died of one. *text gets standard error. */
static int wsc(const char *args, char **text) {
    char cmd[4096], err[600];
    snprintf(err, sizeof err, "%s", tmp("stderr.txt"));
    snprintf(cmd, sizeof cmd, "%s/wsc %s >/dev/null 2>%s", WSC_BINARY_DIR, args, err);
    int status = system(cmd);
    FILE *f = fopen(err, "rb");
    char *buf = calloc(1, 1 << 16);
    if (f) {
        size_t got = fread(buf, 1, (1 << 16) - 1, f);
        buf[got] = 0;
        fclose(f);
    }
    if (text)
        *text = buf;
    else
        free(buf);
    if (status == -1) return -1;
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    /* system() runs sh: a child killed by a signal shows as 128 + signal */
    return WEXITSTATUS(status);
}

static const void *sec(uint32_t tag, size_t *len) {
    for (int i = 0; i < B.n; i++)
        if (B.tag[i] == tag) {
            *len = B.len[i];
            return B.data[i];
        }
    fail_msg("the artifact has no '%c%c%c%c' section", (char)tag, (char)(tag >> 8),
             (char)(tag >> 16), (char)(tag >> 24));
    return NULL;
}

/* Writes PATH: the baseline's sections, with `tag` replaced by bytes (and a
 * second one when tag2 is not 0). */
static void write_with(const char *path, uint32_t tag, const void *bytes, size_t len, uint32_t tag2,
                       const void *bytes2, size_t len2) {
    rt_writer *w = rt_writer_new();
    for (int i = 0; i < B.n; i++) {
        if (B.tag[i] == tag)
            rt_writer_add(w, tag, bytes, len);
        else if (tag2 && B.tag[i] == tag2)
            rt_writer_add(w, tag2, bytes2, len2);
        else
            rt_writer_add(w, B.tag[i], B.data[i], B.len[i]);
    }
    ir_diag *d = ir_diag_new(NULL);
    bool ok = rt_writer_save(w, path, B.hash, d);
    if (!ok) fail_msg("cannot write %s: %s", path, ir_diag_text(d));
    ir_diag_free(d);
    rt_writer_free(w);
}

/* Runs the artifact at PATH into folder OUT; returns the status, with the
 * diagnostic in *text. */
static int run_artifact(const char *path, const char *out, char **text) {
    char args[2048];
    snprintf(args, sizeof args, "run %s -i x=%s/inputs/x.npy -o %s --threads 2", path, MLP, out);
    return wsc(args, text);
}

/* 1 when the outputs in OUT equal the baseline's bit for bit, 0 when one
 * differs (or is missing or of another type). */
static int same_outputs(const char *out) {
    int same = 1;
    for (int k = 0; k < 2; k++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s.npy", out, OUTS[k]);
        ir_diag *d = ir_diag_new(NULL);
        ir_tensor *t = ir_npy_read(path, -1, d);
        ir_diag_free(d);
        if (!t || t->dtype != B.out[k]->dtype || !ir_shape_eq(&t->shape, &B.out[k]->shape) ||
            memcmp(t->data, B.out[k]->data, ir_tensor_bytes(t)))
            same = 0;
        ir_tensor_free(t);
    }
    return same;
}

/* The contract of every mutation: the run refuses it (exit 1 with a
 * diagnostic) or computes something else; with must_run, only the latter. */
static void expect_effect_run(const char *label, const char *path, bool must_run) {
    char out[600], *text;
    snprintf(out, sizeof out, "%s.out", path);
    int status = run_artifact(path, out, &text);
    if (status == 1 && !must_run) {
        if (!strstr(text, "wsc: error:"))
            fail_msg("%s: exit 1 without a diagnostic:\n%s", label, text);
        print_message("  %s: refused: %s", label, text);
    } else if (status == 0) {
        if (same_outputs(out))
            fail_msg("%s: the run ignored the change: the outputs equal the baseline's", label);
        print_message("  %s: ran, outputs differ from the baseline\n", label);
    } else {
        fail_msg("%s: exit %d (want %s0 with other outputs):\n%s", label, status,
                 must_run ? "" : "1 with a diagnostic, or ", text);
    }
    free(text);
}

static void expect_effect(const char *label, const char *path) {
    expect_effect_run(label, path, false);
}

/* Hostile artifacts: exit 0 or exit 1 with a diagnostic; never a crash.
 * Returns false (and prints why) on a crash, so a test can try them all. */
static bool expect_no_crash(const char *label, const char *path) {
    char out[600], *text;
    snprintf(out, sizeof out, "%s.out", path);
    int status = run_artifact(path, out, &text);
    bool ok = !((status != 0 && status != 1) || (status == 1 && !strstr(text, "wsc: error:")) ||
                strstr(text, "Sanitizer") || strstr(text, "runtime error:"));
    if (!ok)
        print_error("%s: exit %d (want 0, or 1 with a diagnostic; a crash is a bug):\n%.1500s\n",
                    label, status, text);
    else
        print_message("  %s: exit %d\n", label, status);
    free(text);
    return ok;
}

static int setup(void **state) {
    if (setup_all(state)) return -1;
    char args[2048], *text = NULL;
    int status = -1;
    for (size_t f = 0; f < sizeof FABRICS / sizeof *FABRICS && status; f++) {
        free(text);
        snprintf(args, sizeof args,
                 "compile %s/model.wsm --weights %s/weights.safetensors --fabric %s -o %s", MLP,
                 MLP, FABRICS[f], tmp("base.wsa"));
        status = wsc(args, &text);
        if (!status) print_message("  ex_mlp compiled at --fabric %s\n", FABRICS[f]);
    }
    if (status) {
        fprintf(stderr, "wsc %s: exit %d\n%s", args, status, text);
        free(text);
        return -1;
    }
    free(text);
    if (run_artifact(tmp("base.wsa"), tmp("base.out"), &text)) {
        fprintf(stderr, "wsc run of the baseline failed:\n%s", text);
        free(text);
        return -1;
    }
    free(text);
    ir_diag *d = ir_diag_new(stderr);
    for (int k = 0; k < 2; k++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s.npy", tmp("base.out"), OUTS[k]);
        if (!(B.out[k] = ir_npy_read(path, -1, d))) return -1;
    }
    rt_artifact *a = rt_artifact_open(tmp("base.wsa"), d);
    if (!a) return -1;
    B.n = rt_artifact_nsections(a);
    if (B.n > 16) return -1;
    B.hash = rt_artifact_model_hash(a);
    for (int i = 0; i < B.n; i++) {
        B.tag[i] = rt_artifact_tag(a, i);
        const void *p = rt_artifact_section(a, B.tag[i], &B.len[i]);
        B.data[i] = malloc(B.len[i] + 1);
        if (B.len[i]) memcpy(B.data[i], p, B.len[i]);
    }
    rt_artifact_close(a);
    bool ok = true;
    for (int i = 0; i < B.n; i++) {
        if (B.tag[i] == RT_SEC_TARGET) ok &= rt_decode_target(B.data[i], B.len[i], &B.t, d);
        if (B.tag[i] == RT_SEC_GRAPH) ok &= (B.g = rt_decode_graph(B.data[i], B.len[i], d)) != NULL;
        if (B.tag[i] == RT_SEC_PROGS && B.len[i] >= 4) memcpy(&B.nprog, B.data[i], 4);
    }
    for (int i = 0; ok && i < B.n; i++)
        if (B.tag[i] == RT_SEC_KERNELS)
            ok = rt_decode_kgraph(B.data[i], B.len[i], B.g, &B.t, &B.kg, d);
    ir_diag_free(d);
    return ok && B.g && B.kg.nk > 0 && B.nprog > 0 ? 0 : -1;
}

static int teardown(void **state) {
    for (int k = 0; k < 2; k++)
        ir_tensor_free(B.out[k]);
    for (int i = 0; i < B.n; i++)
        free(B.data[i]);
    if (B.g) ir_kgraph_free(&B.kg);
    ir_graph_free(B.g);
    return teardown_all(state);
}

/* ----------------------------------------------------------------- routes */

static void decode_routes(rt_routes *r) {
    size_t len;
    const void *p = sec(RT_SEC_ROUTES, &len);
    ir_diag *d = ir_diag_new(stderr);
    assert_true(rt_decode_routes(p, len, &B.t, B.kg.nk, r, d));
    ir_diag_free(d);
    assert_true(r->n > 0);
}

/* Encodes r into the artifact PATH in place of the baseline's routes. */
static void write_routes(const char *path, const rt_routes *r) {
    rt_buf b = {0};
    rt_encode_routes(r, &b);
    write_with(path, RT_SEC_ROUTES, b.data, b.len, 0, NULL, 0);
    rt_buf_free(&b);
}

/* The first net that carries a kernel-graph stream (a real data path). */
static int stream_net(const rt_routes *r) {
    for (int32_t i = 0; i < r->n; i++)
        if (r->nets[i].role == RT_NET_STREAM && r->nets[i].nhops >= 3) return i;
    for (int32_t i = 0; i < r->n; i++)
        if (r->nets[i].nhops >= 1) return i;
    fail_msg("no net with hops");
    return -1;
}

static void test_control(void **state) {
    (void)state;
    rt_routes r;
    decode_routes(&r);
    rt_buf b = {0};
    rt_encode_routes(&r, &b);
    size_t len;
    const void *orig = sec(RT_SEC_ROUTES, &len);
    /* the encoders are deterministic: decode + encode gives the same bytes */
    assert_int_equal(b.len, len);
    assert_memory_equal(b.data, orig, len);
    rt_routes_free(&r);

    size_t sl, il;
    const void *sp = sec(RT_SEC_SRAM, &sl), *ip = sec(RT_SEC_IOMAP, &il);
    rt_images im;
    ir_diag *d = ir_diag_new(stderr);
    assert_true(rt_decode_images(sp, sl, ip, il, &B.t, B.kg.nk, B.nprog, &im, d));
    ir_diag_free(d);
    rt_buf s = {0}, io = {0};
    rt_encode_images(&im, &s, &io);
    assert_int_equal(s.len, sl);
    assert_memory_equal(s.data, sp, sl);
    assert_int_equal(io.len, il);
    assert_memory_equal(io.data, ip, il);
    rt_images_free(&im);

    /* the re-encoded artifact (new writer, new checksums) runs identically */
    write_with(tmp("control.wsa"), RT_SEC_ROUTES, b.data, b.len, RT_SEC_SRAM, s.data, s.len);
    rt_buf_free(&b);
    rt_buf_free(&s);
    rt_buf_free(&io);
    char *text;
    assert_int_equal(run_artifact(tmp("control.wsa"), tmp("control.out"), &text), 0);
    free(text);
    assert_true(same_outputs(tmp("control.out")));
}

/* A net moved to another valid colour, one free at every router it crosses:
 * the routers are consistent, but the PEs still send and listen on the old
 * one. */
static void test_route_color(void **state) {
    (void)state;
    rt_routes r;
    decode_routes(&r);
    int i = stream_net(&r);
    rt_net *n = &r.nets[i];
    int32_t color = -1;
    for (int32_t c = 0; c < B.t.colors && color < 0; c++) {
        if (c == n->color) continue;
        bool used = false;
        for (int32_t j = 0; j < r.n && !used; j++)
            if (r.nets[j].color == c)
                for (int32_t h = 0; h < r.nets[j].nhops && !used; h++)
                    for (int32_t k = 0; k < n->nhops && !used; k++)
                        used = r.nets[j].hops[h].x == n->hops[k].x &&
                               r.nets[j].hops[h].y == n->hops[k].y;
        if (!used) color = c;
    }
    if (color < 0) color = (n->color + 1) % B.t.colors;
    print_message("  net %d (%d hops): colour %d -> %d\n", i, n->nhops, n->color, color);
    n->color = color;
    write_routes(tmp("color.wsa"), &r);
    rt_routes_free(&r);
    expect_effect("a net's colour changed", tmp("color.wsa"));
}

/* One output port of one hop dropped: a branch of a multicast tree (or the
 * only way on) is cut. */
static void test_route_drop_port(void **state) {
    (void)state;
    rt_routes r;
    decode_routes(&r);
    rt_hop *hop = NULL;
    /* a multicast hop if there is one, so that the tree stays non-empty */
    for (int32_t i = 0; i < r.n && !hop; i++)
        for (int32_t h = 0; h < r.nets[i].nhops && !hop; h++)
            if (__builtin_popcount(r.nets[i].hops[h].outs) >= 2) hop = &r.nets[i].hops[h];
    if (!hop) hop = &r.nets[stream_net(&r)].hops[0];
    uint8_t before = hop->outs;
    hop->outs &= (uint8_t)(hop->outs - 1); /* the lowest port */
    print_message("  hop (%d,%d): outs 0x%x -> 0x%x\n", hop->x, hop->y, before, hop->outs);
    write_routes(tmp("port.wsa"), &r);
    rt_routes_free(&r);
    expect_effect("a hop's output port dropped", tmp("port.wsa"));
}

/* One hop told to accept its colour from another port. */
static void test_route_in_port(void **state) {
    (void)state;
    rt_routes r;
    decode_routes(&r);
    rt_net *n = &r.nets[stream_net(&r)];
    rt_hop *hop = &n->hops[n->nhops / 2];
    uint8_t before = hop->in;
    /* another link port that is not one it sends on */
    for (uint8_t p = 0; p < 4; p++)
        if (p != before && !(hop->outs >> p & 1)) {
            hop->in = p;
            break;
        }
    assert_int_not_equal(hop->in, before);
    print_message("  hop (%d,%d): in port %d -> %d\n", hop->x, hop->y, before, hop->in);
    write_routes(tmp("in.wsa"), &r);
    rt_routes_free(&r);
    expect_effect("a hop's input port changed", tmp("in.wsa"));
}

/* ------------------------------------------------------------ SRAM images */

typedef struct images {
    rt_images im;
    uint8_t *copy[4096]; /* segments copied for writing, freed at the end */
    int ncopy;
} images;

static void decode_images(images *I) {
    size_t sl, il;
    const void *sp = sec(RT_SEC_SRAM, &sl), *ip = sec(RT_SEC_IOMAP, &il);
    ir_diag *d = ir_diag_new(stderr);
    assert_true(rt_decode_images(sp, sl, ip, il, &B.t, B.kg.nk, B.nprog, &I->im, d));
    ir_diag_free(d);
    I->ncopy = 0;
}

/* PE p's parameter block, as a writable copy of its first segment; NULL when
 * it has none (a PE without a program). */
static wse_params *params(images *I, rt_pe_image *p) {
    if (p->nseg < 1 || p->seg[0].off != 0 || p->seg[0].len < sizeof(wse_params)) return NULL;
    assert_true(I->ncopy < 4096);
    uint8_t *c = malloc(p->seg[0].len);
    memcpy(c, p->seg[0].data, p->seg[0].len);
    p->seg[0].data = c;
    I->copy[I->ncopy++] = c;
    return (wse_params *)(void *)c;
}

static void write_images(const char *path, images *I) {
    rt_buf s = {0}, io = {0};
    rt_encode_images(&I->im, &s, &io);
    write_with(path, RT_SEC_SRAM, s.data, s.len, RT_SEC_IOMAP, io.data, io.len);
    rt_buf_free(&s);
    rt_buf_free(&io);
    rt_images_free(&I->im);
    for (int i = 0; i < I->ncopy; i++)
        free(I->copy[i]);
}

/* The first PE whose kernel has kind `kind` and a parameter block. */
static rt_pe_image *pe_of_kind(images *I, ir_kkind kind) {
    for (int32_t i = 0; i < I->im.npe; i++) {
        rt_pe_image *p = &I->im.pe[i];
        if (B.kg.k[p->kernel].kind == kind && p->nseg >= 1 && p->seg[0].off == 0 &&
            p->seg[0].len >= sizeof(wse_params))
            return p;
    }
    return NULL;
}

/* One weight of a gemv PE's block changed: the outputs must change. */
static void test_sram_weight(void **state) {
    (void)state;
    images *I = calloc(1, sizeof *I);
    decode_images(I);
    rt_pe_image *p = pe_of_kind(I, IR_KK_GEMV);
    assert_non_null(p);
    wse_params *P = params(I, p);
    assert_int_equal(P->head.kind, WSE_KIND_GEMV);
    assert_true(P->k >= 1 && P->n >= 1);
    assert_true(P->off_w != WSE_NONE);
    /* the weights are in a data segment of their own or after the block */
    rt_seg *g = NULL;
    for (int32_t s = 0; s < p->nseg && !g; s++)
        if (p->seg[s].off <= P->off_w && P->off_w + 4 <= p->seg[s].off + p->seg[s].len)
            g = &p->seg[s];
    assert_non_null(g);
    uint8_t *at = (uint8_t *)P + P->off_w;
    if (g != &p->seg[0]) {
        assert_true(I->ncopy < 4096);
        uint8_t *c = malloc(g->len);
        memcpy(c, g->data, g->len);
        g->data = c;
        I->copy[I->ncopy++] = c;
        at = c + (P->off_w - g->off);
    }
    float w;
    memcpy(&w, at, 4);
    float nw = w * -3.0f + 1.0f;
    memcpy(at, &nw, 4);
    print_message("  gemv PE (%d,%d) of '%s': W[0][0] %g -> %g\n", p->x, p->y,
                  B.kg.k[p->kernel].name, w, nw);
    write_images(tmp("weight.wsa"), I);
    free(I);
    /* a weight is data: the run goes through and computes something else */
    expect_effect_run("a gemv weight changed", tmp("weight.wsa"), true);
}

/* A data task of a PE bound to another colour (one the PE does not bind). */
static void test_sram_task_color(void **state) {
    (void)state;
    images *I = calloc(1, sizeof *I);
    decode_images(I);
    rt_pe_image *p = pe_of_kind(I, IR_KK_GEMV);
    assert_non_null(p);
    wse_params *P = params(I, p);
    int t = -1;
    for (int k = 0; k < WSE_MAX_TASKS && t < 0; k++)
        if (P->head.task_color[k] != WSE_NO_COLOR) t = k;
    assert_true(t >= 0);
    uint32_t before = P->head.task_color[t], color = WSE_NO_COLOR;
    for (uint32_t c = 0; c < (uint32_t)B.t.colors && color == WSE_NO_COLOR; c++) {
        bool bound = false;
        for (int k = 0; k < WSE_MAX_TASKS; k++)
            bound |= P->head.task_color[k] == c;
        if (!bound) color = c;
    }
    assert_true(color != WSE_NO_COLOR);
    P->head.task_color[t] = color;
    print_message("  PE (%d,%d) of '%s': data task %d colour %u -> %u\n", p->x, p->y,
                  B.kg.k[p->kernel].name, t, before, color);
    write_images(tmp("task.wsa"), I);
    free(I);
    expect_effect("a data task's colour changed", tmp("task.wsa"));
}

/* A PE's output lane moved to another colour. */
static void test_sram_color_out(void **state) {
    (void)state;
    images *I = calloc(1, sizeof *I);
    decode_images(I);
    rt_pe_image *p = NULL;
    wse_params *P = NULL;
    /* a map PE if there is one, else any PE that sends */
    ir_kkind order[] = {IR_KK_MAP, IR_KK_ROW, IR_KK_GEMV, IR_KK_INPUT};
    for (int o = 0; o < 4 && !P; o++)
        for (int32_t i = 0; i < I->im.npe && !P; i++) {
            rt_pe_image *q = &I->im.pe[i];
            if (B.kg.k[q->kernel].kind != order[o] || q->nseg < 1 || q->seg[0].off ||
                q->seg[0].len < sizeof(wse_params))
                continue;
            wse_params head;
            memcpy(&head, q->seg[0].data, sizeof head);
            if (head.head.color_out != WSE_NO_COLOR) p = q, P = params(I, q);
        }
    assert_non_null(P);
    uint32_t before = P->head.color_out;
    P->head.color_out = (before + 1) % (uint32_t)B.t.colors;
    print_message("  PE (%d,%d) of '%s': color_out %u -> %u\n", p->x, p->y, B.kg.k[p->kernel].name,
                  before, P->head.color_out);
    write_images(tmp("out.wsa"), I);
    free(I);
    expect_effect("a PE's color_out changed", tmp("out.wsa"));
}

/* ------------------------------------------------------ hostile artifacts */

/* Parameter blocks whose offsets or sizes point past the PE's SRAM. */
static void test_hostile_param_offsets(void **state) {
    (void)state;
    static const struct {
        const char *field;
        size_t off;
        uint32_t value;
    } cases[] = {
        {"n", offsetof(wse_params, n), 0xffffffffu},
        {"off_v", offsetof(wse_params, off_v), 0x7ffffff0u},
        {"src[0].off_buf", offsetof(wse_params, src[0].off_buf), 0x7ffffff0u},
        {"src[0].off_cnt", offsetof(wse_params, src[0].off_cnt), 49152},
        {"nsrc", offsetof(wse_params, nsrc), 0xffffffffu},
    };
    int crashes = 0;
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        images *I = calloc(1, sizeof *I);
        decode_images(I);
        rt_pe_image *p = pe_of_kind(I, IR_KK_GEMV);
        assert_non_null(p);
        uint8_t *P = (uint8_t *)params(I, p);
        memcpy(P + cases[c].off, &cases[c].value, 4);
        char path[600], label[200];
        snprintf(path, sizeof path, "%s/hostile%zu.wsa", tmpdir, c);
        snprintf(label, sizeof label, "gemv PE (%d,%d): parameter %s = 0x%x", p->x, p->y,
                 cases[c].field, cases[c].value);
        write_images(path, I);
        free(I);
        crashes += !expect_no_crash(label, path);
    }
    if (crashes) fail_msg("%d hostile parameter blocks crashed wsc run", crashes);
}

/* A PE given the program of another kernel kind. */
static void test_hostile_program(void **state) {
    (void)state;
    int crashes = 0;
    for (int32_t q = 0; q < B.nprog; q++) {
        images *I = calloc(1, sizeof *I);
        decode_images(I);
        rt_pe_image *p = pe_of_kind(I, IR_KK_INPUT);
        assert_non_null(p);
        if (p->program == q) {
            rt_images_free(&I->im);
            free(I);
            continue;
        }
        char path[600], label[200];
        snprintf(path, sizeof path, "%s/program%d.wsa", tmpdir, q);
        snprintf(label, sizeof label, "input PE (%d,%d): program %d -> %d", p->x, p->y, p->program,
                 q);
        p->program = q;
        write_images(path, I);
        free(I);
        crashes += !expect_no_crash(label, path);
    }
    if (crashes) fail_msg("%d programs of another kernel crashed wsc run", crashes);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_control),         cmocka_unit_test(test_route_color),
        cmocka_unit_test(test_route_drop_port), cmocka_unit_test(test_route_in_port),
        cmocka_unit_test(test_sram_weight),     cmocka_unit_test(test_sram_task_color),
        cmocka_unit_test(test_sram_color_out),  cmocka_unit_test(test_hostile_param_offsets),
        cmocka_unit_test(test_hostile_program),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
