/* test_runtime.c - the runtime's artifact layer: the byte encoders and the
 * bounds-checked reader, the .wsa container (layout byte by byte, every
 * class of corruption, every single-byte flip and every truncation), and
 * the IR graph section (round trips of front-end graphs, hostile
 * encodings). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fe.h"
#include "ir.h"
#include "pass.h"
#include "rt.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>

#define CASES WSC_SOURCE_DIR "/tests/ref/cases"

static char tmpdir[] = "/tmp/wsc_test_runtime_XXXXXX";

#include "test_util.h"

/* The whole file in a buffer of exactly its size (the sanitizer build
 * catches any read past the end). */
static uint8_t *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(len ? (size_t)len : 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

static bool exists(const char *path) {
    return access(path, F_OK) == 0;
}

static uint64_t le(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void set_le(uint8_t *p, uint64_t v, int n) {
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* ------------------------------------------------------------- encoders */

static void test_encode_layout(void **state) {
    (void)state;
    rt_buf b = {0};
    rt_put_u8(&b, 0xab);
    rt_put_u32(&b, 0x01020304u);
    rt_put_u64(&b, 0x1122334455667788ull);
    rt_put_i64(&b, -2);
    rt_put_f64(&b, 1.0);
    rt_put_str(&b, "hi");
    rt_put_str(&b, "");
    rt_put_bytes(&b, "xyz", 3);
    rt_put_bytes(&b, NULL, 0);
    rt_put_zeros(&b, 2);
    static const uint8_t want[] = {
        0xab, 4,    3,    2,    1,    0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0xfe, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff,             /* -2 */
        0,    0,    0,    0,    0,    0,    0xf0, 0x3f, /* 1.0 */
        2,    0,    0,    0,    'h',  'i',  0,    0,    0,    0,    'x',  'y',  'z',  0,    0};
    assert_int_equal(b.len, sizeof want);
    assert_memory_equal(b.data, want, sizeof want);

    rt_reader r = rt_reader_make(b.data, b.len);
    ir_arena *a = ir_arena_new();
    assert_int_equal(rt_read_u8(&r), 0xab);
    assert_int_equal(rt_read_u32(&r), 0x01020304u);
    assert_true(rt_read_u64(&r) == 0x1122334455667788ull);
    assert_true(rt_read_i64(&r) == -2);
    assert_true(rt_read_f64(&r) == 1.0);
    assert_string_equal(rt_read_str(&r, a), "hi");
    assert_string_equal(rt_read_str(&r, a), "");
    assert_memory_equal(rt_read_bytes(&r, 3), "xyz", 3);
    assert_int_equal(rt_reader_left(&r), 2);
    assert_non_null(rt_read_bytes(&r, 0));
    assert_non_null(rt_read_bytes(&r, 2));
    assert_int_equal(rt_reader_left(&r), 0);
    assert_false(r.bad);
    ir_arena_free(a);
    rt_buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
}

static void test_encode_values(void **state) {
    (void)state;
    /* Doubles go bit for bit: -0.0, NaN payloads, infinities, subnormals. */
    const double dv[] = {0.0, -0.0, 1e-310, -INFINITY, INFINITY, 3.141592653589793, -1e300};
    rt_buf b = {0};
    for (size_t i = 0; i < sizeof dv / sizeof dv[0]; i++)
        rt_put_f64(&b, dv[i]);
    uint64_t nan_bits = 0x7ff4000000000123ull;
    double nan;
    memcpy(&nan, &nan_bits, sizeof nan);
    rt_put_f64(&b, nan);
    const int64_t iv[] = {INT64_MIN, -1, 0, 1, INT64_MAX};
    for (size_t i = 0; i < sizeof iv / sizeof iv[0]; i++)
        rt_put_i64(&b, iv[i]);
    rt_put_u32(&b, UINT32_MAX);
    rt_put_u64(&b, UINT64_MAX);
    rt_reader r = rt_reader_make(b.data, b.len);
    for (size_t i = 0; i < sizeof dv / sizeof dv[0]; i++) {
        double x = rt_read_f64(&r);
        assert_memory_equal(&x, &dv[i], sizeof x);
    }
    double x = rt_read_f64(&r);
    assert_memory_equal(&x, &nan_bits, sizeof x);
    for (size_t i = 0; i < sizeof iv / sizeof iv[0]; i++)
        assert_true(rt_read_i64(&r) == iv[i]);
    assert_true(rt_read_u32(&r) == UINT32_MAX);
    assert_true(rt_read_u64(&r) == UINT64_MAX);
    assert_false(r.bad);
    assert_int_equal(rt_reader_left(&r), 0);
    rt_buf_free(&b);

    /* Growth across many small and some large appends keeps every byte. */
    for (int i = 0; i < 100000; i++)
        rt_put_u32(&b, (uint32_t)i * 2654435761u);
    uint8_t *big = malloc(1 << 20);
    assert_non_null(big);
    for (int i = 0; i < 1 << 20; i++)
        big[i] = (uint8_t)(i * 7);
    rt_put_bytes(&b, big, 1 << 20);
    assert_int_equal(b.len, 400000 + (1 << 20));
    assert_true(b.cap >= b.len);
    r = rt_reader_make(b.data, b.len);
    for (int i = 0; i < 100000; i++)
        assert_int_equal(rt_read_u32(&r), (uint32_t)i * 2654435761u);
    assert_memory_equal(rt_read_bytes(&r, 1 << 20), big, 1 << 20);
    free(big);
    rt_buf_free(&b);
}

static void test_reader_bounds(void **state) {
    (void)state;
    ir_arena *a = ir_arena_new();
    const uint8_t bytes[] = {1, 2, 3, 4, 5, 6, 7};
    /* Too few bytes for a u64: fails without reading, and stays failed
     * even for reads that would fit. */
    rt_reader r = rt_reader_make(bytes, sizeof bytes);
    assert_int_equal(rt_read_u64(&r), 0);
    assert_true(r.bad);
    assert_int_equal(rt_read_u8(&r), 0);
    assert_int_equal(rt_read_u32(&r), 0);
    assert_true(rt_read_f64(&r) == 0);
    assert_null(rt_read_bytes(&r, 0));
    assert_null(rt_read_str(&r, a));
    assert_int_equal(rt_reader_left(&r), 0);

    /* A read that ends exactly at the end succeeds; one byte more fails. */
    r = rt_reader_make(bytes, sizeof bytes);
    assert_int_equal(rt_read_u32(&r), 0x04030201u);
    assert_non_null(rt_read_bytes(&r, 3));
    assert_false(r.bad);
    assert_int_equal(rt_read_u8(&r), 0);
    assert_true(r.bad);

    /* Huge lengths cannot wrap the pointer arithmetic. */
    r = rt_reader_make(bytes, sizeof bytes);
    assert_null(rt_read_bytes(&r, SIZE_MAX));
    assert_true(r.bad);

    /* Strings: a length past the end, an embedded NUL, the exact fit. */
    const uint8_t past[] = {5, 0, 0, 0, 'a', 'b'};
    r = rt_reader_make(past, sizeof past);
    assert_null(rt_read_str(&r, a));
    assert_true(r.bad);
    const uint8_t huge[] = {0xff, 0xff, 0xff, 0xff, 'a'};
    r = rt_reader_make(huge, sizeof huge);
    assert_null(rt_read_str(&r, a));
    const uint8_t nul[] = {3, 0, 0, 0, 'a', 0, 'b', 9};
    r = rt_reader_make(nul, sizeof nul);
    assert_null(rt_read_str(&r, a));
    assert_true(r.bad);
    assert_int_equal(rt_read_u8(&r), 0); /* sticky: the 9 is not read */
    const uint8_t fit[] = {2, 0, 0, 0, 'o', 'k'};
    r = rt_reader_make(fit, sizeof fit);
    assert_string_equal(rt_read_str(&r, a), "ok");
    assert_false(r.bad);
    const uint8_t shortlen[] = {2, 0, 0};
    r = rt_reader_make(shortlen, sizeof shortlen);
    assert_null(rt_read_str(&r, a));

    /* An empty section (NULL, 0) reads nothing but is not bad by itself. */
    r = rt_reader_make(NULL, 0);
    assert_false(r.bad);
    assert_int_equal(rt_reader_left(&r), 0);
    assert_non_null(rt_read_bytes(&r, 0));
    assert_int_equal(rt_read_u8(&r), 0);
    assert_true(r.bad);
    ir_arena_free(a);
}

/* ------------------------------------------------------------ container */

#define T_TARG RT_TAG('T', 'A', 'R', 'G')
#define T_PROG RT_TAG('P', 'R', 'O', 'G')
#define T_EMPT RT_TAG('E', 'M', 'P', 'T')
#define T_IRGR RT_TAG('I', 'R', 'G', 'R')

static const uint64_t HASH = 0x0123456789abcdefull;

/* A small artifact of four sections (one empty); its bytes. */
static uint8_t *small_artifact(size_t *n) {
    rt_writer *w = rt_writer_new();
    const char *targ = "name = wse3\nwidth = 32\n";
    uint8_t prog[100];
    for (int i = 0; i < 100; i++)
        prog[i] = (uint8_t)(i * 37 + 1);
    rt_writer_add(w, T_TARG, targ, strlen(targ));
    rt_writer_add(w, T_EMPT, NULL, 0);
    rt_writer_add(w, T_PROG, prog, sizeof prog);
    rt_writer_add(w, T_IRGR, "abc", 3);
    ir_diag *d = ir_diag_new(NULL);
    assert_true(rt_writer_save(w, tmp("small.wsa"), HASH, d));
    assert_int_equal(ir_diag_errors(d), 0);
    ir_diag_free(d);
    rt_writer_free(w);
    return slurp(tmp("small.wsa"), n);
}

/* Recomputes the header checksum after a test edits the header or table,
 * as docs/artifact.md defines it, so the edit reaches the later checks. */
static void reseal(uint8_t *f) {
    uint32_t count = (uint32_t)le(f + 20, 4);
    XXH64_state_t *s = XXH64_createState();
    XXH64_reset(s, 0);
    XXH64_update(s, f, 40);
    XXH64_update(s, f + 48, (size_t)count * 32);
    set_le(f + 40, XXH64_digest(s), 8);
    XXH64_freeState(s);
}

/* Opens bytes written to a file; returns the artifact (caller closes) or
 * NULL, with the messages in *msg (caller frees) and the error count. */
static rt_artifact *open_bytes(const uint8_t *bytes, size_t n, char **msg, int *errors) {
    const char *path = tmp("try.wsa");
    write_file(path, bytes, n);
    ir_diag *d = ir_diag_new(NULL);
    rt_artifact *a = rt_artifact_open(path, d);
    if (msg) *msg = strdup(ir_diag_text(d));
    if (errors) *errors = ir_diag_errors(d);
    ir_diag_free(d);
    return a;
}

/* The bytes must be refused with one error containing `want`. */
static void expect_refused(const uint8_t *bytes, size_t n, const char *want) {
    char *msg;
    int errors;
    rt_artifact *a = open_bytes(bytes, n, &msg, &errors);
    if (a || errors != 1 || !strstr(msg, want))
        fail_msg("wanted a refusal with '%s'; got %s, %d errors: %s", want,
                 a ? "an artifact" : "NULL", errors, msg);
    free(msg);
}

static void test_container_layout(void **state) {
    (void)state;
    size_t n;
    uint8_t *f = small_artifact(&n);
    /* Header: magic, version, count, file size, model hash, checksum. */
    assert_memory_equal(f, "WSCARTIFACT\0\r\n\x1a\n", 16);
    assert_int_equal(le(f + 16, 4), RT_WSA_VERSION);
    assert_int_equal(le(f + 20, 4), 4);
    assert_int_equal(le(f + 24, 8), n);
    assert_true(le(f + 32, 8) == HASH);
    /* The table: 48 + 4 * 32 = 176 bytes; sections at the next multiples
     * of 64: TARG 192 (23 bytes), EMPT 256 (0), PROG 256 (100), IRGR 384. */
    const uint32_t tags[] = {T_TARG, T_EMPT, T_PROG, T_IRGR};
    const uint64_t offs[] = {192, 256, 256, 384}, lens[] = {23, 0, 100, 3};
    for (int i = 0; i < 4; i++) {
        const uint8_t *e = f + 48 + 32 * i;
        assert_int_equal(le(e, 4), tags[i]);
        assert_int_equal(le(e + 4, 4), 0);
        assert_int_equal(le(e + 8, 8), offs[i]);
        assert_int_equal(le(e + 16, 8), lens[i]);
        assert_true(le(e + 24, 8) == XXH64(f + offs[i], lens[i], 0));
    }
    assert_int_equal(n, 387);
    for (size_t i = 176; i < 192; i++)
        assert_int_equal(f[i], 0);
    assert_memory_equal(f + 192, "name = wse3\n", 12);
    /* The header checksum as documented (reseal recomputes it). */
    uint64_t stored = le(f + 40, 8);
    reseal(f);
    assert_true(le(f + 40, 8) == stored);

    /* Reading it back. */
    ir_diag *d = ir_diag_new(NULL);
    rt_artifact *a = rt_artifact_open(tmp("small.wsa"), d);
    assert_non_null(a);
    assert_int_equal(ir_diag_errors(d), 0);
    assert_true(rt_artifact_model_hash(a) == HASH);
    assert_int_equal(rt_artifact_nsections(a), 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(rt_artifact_tag(a, i), tags[i]);
    size_t len;
    const uint8_t *p = rt_artifact_section(a, T_PROG, &len);
    assert_non_null(p);
    assert_int_equal(len, 100);
    assert_int_equal((uintptr_t)p % 64, 0);
    for (int i = 0; i < 100; i++)
        assert_int_equal(p[i], (uint8_t)(i * 37 + 1));
    p = rt_artifact_section(a, T_EMPT, &len);
    assert_non_null(p); /* present, empty */
    assert_int_equal(len, 0);
    len = 99;
    assert_null(rt_artifact_section(a, RT_TAG('N', 'O', 'N', 'E'), &len));
    assert_int_equal(len, 0);
    char tb[5];
    assert_string_equal(rt_tag_str(T_PROG, tb), "PROG");
    assert_string_equal(rt_tag_str(0x00414141u, tb), "AAA?");
    rt_artifact_close(a);
    ir_diag_free(d);
    free(f);
}

static void test_container_empty_and_many(void **state) {
    (void)state;
    /* No sections at all: just the header. */
    rt_writer *w = rt_writer_new();
    ir_diag *d = ir_diag_new(NULL);
    assert_true(rt_writer_save(w, tmp("none.wsa"), 0, d));
    rt_writer_free(w);
    size_t n;
    uint8_t *f = slurp(tmp("none.wsa"), &n);
    assert_int_equal(n, 48);
    free(f);
    rt_artifact *a = rt_artifact_open(tmp("none.wsa"), d);
    assert_non_null(a);
    assert_int_equal(rt_artifact_nsections(a), 0);
    assert_true(rt_artifact_model_hash(a) == 0);
    assert_null(rt_artifact_section(a, T_PROG, NULL));
    rt_artifact_close(a);

    /* Many sections of every length from 0 to 129 and one large one. */
    enum { MANY = 300 };
    w = rt_writer_new();
    uint8_t buf[130];
    for (int i = 0; i < MANY; i++) {
        for (int k = 0; k < 130; k++)
            buf[k] = (uint8_t)(i + k);
        rt_writer_add(w, RT_TAG('S', '0' + i / 100, '0' + i / 10 % 10, '0' + i % 10), buf,
                      (size_t)(i % 130));
    }
    size_t bign = 5u << 20;
    uint8_t *big = malloc(bign);
    assert_non_null(big);
    for (size_t k = 0; k < bign; k++)
        big[k] = (uint8_t)(k * 131 >> 3);
    rt_writer_add(w, RT_TAG('B', 'I', 'G', '!'), big, bign);
    assert_true(rt_writer_save(w, tmp("many.wsa"), ~0ull, d));
    rt_writer_free(w);
    a = rt_artifact_open(tmp("many.wsa"), d);
    assert_non_null(a);
    assert_int_equal(rt_artifact_nsections(a), MANY + 1);
    assert_true(rt_artifact_model_hash(a) == ~0ull);
    for (int i = 0; i < MANY; i++) {
        uint32_t tag = RT_TAG('S', '0' + i / 100, '0' + i / 10 % 10, '0' + i % 10);
        assert_int_equal(rt_artifact_tag(a, i), tag);
        size_t len;
        const uint8_t *p = rt_artifact_section(a, tag, &len);
        assert_non_null(p);
        assert_int_equal(len, (size_t)(i % 130));
        assert_int_equal((uintptr_t)p % 64, 0);
        for (size_t k = 0; k < len; k++)
            assert_int_equal(p[k], (uint8_t)(i + (int)k));
    }
    size_t len;
    const uint8_t *p = rt_artifact_section(a, RT_TAG('B', 'I', 'G', '!'), &len);
    assert_int_equal(len, bign);
    assert_memory_equal(p, big, bign);
    rt_artifact_close(a);
    free(big);
    assert_int_equal(ir_diag_errors(d), 0);
    ir_diag_free(d);
}

static void test_container_foreign(void **state) {
    (void)state;
    size_t n;
    uint8_t *f = small_artifact(&n);
    /* Not an artifact at all. */
    const char *text = "model m;\ninput x: f32[2];\noutput y = x;\n";
    expect_refused((const uint8_t *)text, strlen(text), "not a wsc artifact");
    expect_refused((const uint8_t *)"WSC", 3, "truncated: the file has 3 bytes");
    expect_refused((const uint8_t *)"WSX", 3, "not a wsc artifact");
    expect_refused(f, 0, "truncated: the file has 0 bytes");
    /* The magic with the line ends of a text-mode transfer. */
    uint8_t *g = malloc(n + 1);
    memcpy(g, f, 12);
    memcpy(g + 12, "\n\x1a\n", 3);
    memcpy(g + 15, f + 16, n - 16);
    expect_refused(g, n - 1, "not a wsc artifact");
    /* Another format version, whether older or newer. */
    memcpy(g, f, n);
    set_le(g + 16, 2, 4);
    expect_refused(g, n, "artifact format version 2; this wsc reads version 1");
    set_le(g + 16, 0, 4);
    expect_refused(g, n, "artifact format version 0; this wsc reads version 1");
    /* Another version is named even when the rest would not fit. */
    expect_refused(g, 24, "artifact format version 0");
    free(g);
    free(f);
}

static void test_container_corruption(void **state) {
    (void)state;
    size_t n;
    uint8_t *f = small_artifact(&n);
    uint8_t *g = malloc(n + 128);
    assert_non_null(g);
#define FRESH() memcpy(g, f, n)
    /* Header fields under the checksum. */
    FRESH();
    g[33] ^= 1; /* model hash */
    expect_refused(g, n, "the header is corrupted (checksum mismatch)");
    FRESH();
    g[42] ^= 0x80; /* the checksum itself */
    expect_refused(g, n, "the header is corrupted (checksum mismatch)");
    FRESH();
    g[48 + 32 * 2 + 16] ^= 4; /* a length in the table */
    expect_refused(g, n, "the header is corrupted (checksum mismatch)");
    /* Section bytes, padding, trailing bytes. */
    FRESH();
    g[256 + 50] ^= 0x10;
    expect_refused(g, n, "section 'PROG' is corrupted (checksum mismatch)");
    FRESH();
    g[n - 1] = 'X';
    expect_refused(g, n, "section 'IRGR' is corrupted (checksum mismatch)");
    FRESH();
    g[180] = 1;
    expect_refused(g, n, "the padding before section 'TARG' is not zero");
    FRESH();
    g[n] = 0;
    expect_refused(g, n + 1, "corrupted: 1 bytes follow the end of the artifact (387 bytes)");

    /* Tables that pass the header checksum but break a rule. */
    uint8_t *e1 = g + 48 + 32, *e2 = g + 48 + 64, *e3 = g + 48 + 96;
    FRESH();
    set_le(e3 + 16, 4, 8); /* IRGR one byte longer than the file */
    reseal(g);
    expect_refused(g, n,
                   "section 'IRGR' (4 bytes at offset 384) lies outside the file (387 bytes)");
    FRESH();
    set_le(e3 + 8, UINT64_MAX - 63, 8); /* offset + length wraps around */
    reseal(g);
    expect_refused(g, n, "section 'IRGR'");
    FRESH();
    set_le(e2 + 8, 192, 8); /* PROG on top of TARG */
    reseal(g);
    expect_refused(g, n, "sections 'EMPT' and 'PROG' overlap");
    FRESH();
    set_le(e3, T_PROG, 4);
    reseal(g);
    expect_refused(g, n, "section 'PROG' appears twice");
    FRESH();
    set_le(e2 + 8, 260, 8);
    reseal(g);
    expect_refused(g, n, "section 'PROG' is not 64-byte aligned (offset 260)");
    FRESH();
    set_le(e1 + 8, 128, 8);
    reseal(g);
    expect_refused(g, n, "section 'EMPT' overlaps the section table");
    FRESH();
    set_le(e1 + 4, 1, 4);
    reseal(g);
    expect_refused(g, n, "the reserved field of section 'EMPT' is not 0");
    FRESH();
    set_le(e1, 0x00505050u, 4);
    reseal(g);
    expect_refused(g, n, "section 1 has the tag 0x00505050, not 4 characters");
    FRESH();
    set_le(g + 20, 1000, 4); /* a table longer than the file */
    expect_refused(g, n, "a section table of 1000 entries does not fit in 387 bytes");
    /* Sections in order and in bounds, but not where the layout puts them:
     * IRGR moved 64 bytes on (the file grown to match). */
    FRESH();
    memmove(g + 448, g + 384, 3);
    memset(g + 384, 0, 64);
    set_le(e3 + 8, 448, 8);
    set_le(g + 24, n + 64, 8);
    reseal(g);
    expect_refused(g, n + 64, "section 'IRGR' is at offset 448, not 384");
    /* A byte after the last section that the header counts. */
    FRESH();
    g[n] = 0;
    set_le(g + 24, n + 1, 8);
    reseal(g);
    expect_refused(g, n + 1, "corrupted: 1 bytes after the last section");
    /* The sealed original opens: the edits above are what was refused. */
    FRESH();
    reseal(g);
    rt_artifact *a = open_bytes(g, n, NULL, NULL);
    assert_non_null(a);
    rt_artifact_close(a);
#undef FRESH
    free(g);
    free(f);
}

/* Every single-byte change and every truncation is refused with one
 * diagnostic; only the untouched file opens. */
static void test_container_every_byte(void **state) {
    (void)state;
    size_t n;
    uint8_t *f = small_artifact(&n);
    uint8_t *g = malloc(n);
    const uint8_t masks[] = {0x01, 0x80, 0xff};
    for (size_t i = 0; i < n; i++)
        for (size_t m = 0; m < sizeof masks; m++) {
            memcpy(g, f, n);
            g[i] ^= masks[m];
            char *msg;
            int errors;
            rt_artifact *a = open_bytes(g, n, &msg, &errors);
            if (a || errors != 1 || !strstr(msg, tmp("try.wsa")))
                fail_msg("byte %zu ^ 0x%02x: %s (%d errors) %s", i, masks[m],
                         a ? "accepted" : "refused", errors, msg);
            free(msg);
        }
    for (size_t len = 0; len < n; len++) {
        char *msg;
        int errors;
        rt_artifact *a = open_bytes(f, len, &msg, &errors);
        if (a || errors != 1 || !strstr(msg, "truncated"))
            fail_msg("cut at %zu: %s (%d errors) %s", len, a ? "accepted" : "refused", errors, msg);
        free(msg);
    }
    rt_artifact *a = open_bytes(f, n, NULL, NULL);
    assert_non_null(a);
    rt_artifact_close(a);
    free(g);
    free(f);
}

static void test_container_files(void **state) {
    (void)state;
    ir_diag *d = ir_diag_new(NULL);
    /* Missing file, directory. */
    assert_null(rt_artifact_open(tmp("missing.wsa"), d));
    assert_non_null(strstr(ir_diag_text(d), "cannot read"));
    assert_non_null(strstr(ir_diag_text(d), "No such file or directory"));
    ir_diag_free(d);
    d = ir_diag_new(NULL);
    assert_int_equal(mkdir(tmp("adir"), 0755), 0);
    assert_null(rt_artifact_open(tmp("adir"), d));
    assert_non_null(strstr(ir_diag_text(d), "Is a directory"));
    ir_diag_free(d);

    /* A pipe cannot be mapped: it is read instead, with the same checks. */
    size_t n;
    uint8_t *f = small_artifact(&n);
    const char *fifo = tmp("fifo.wsa");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    for (int cut = 0; cut < 2; cut++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            int fd = open(fifo, O_WRONLY);
            size_t len = cut ? n - 10 : n;
            _exit(fd >= 0 && write(fd, f, len) == (ssize_t)len ? 0 : 1);
        }
        d = ir_diag_new(NULL);
        rt_artifact *a = rt_artifact_open(fifo, d);
        int status;
        waitpid(pid, &status, 0);
        if (cut) {
            assert_null(a);
            assert_non_null(strstr(ir_diag_text(d), "truncated"));
        } else {
            assert_non_null(a);
            size_t len;
            const uint8_t *p = rt_artifact_section(a, T_PROG, &len);
            assert_int_equal(len, 100);
            assert_int_equal((uintptr_t)p % 64, 0);
            assert_memory_equal(p, f + 256, 100);
            rt_artifact_close(a);
        }
        ir_diag_free(d);
    }
    free(f);

    /* Replacing an artifact: the new one wins and no temporary is left. */
    rt_writer *w = rt_writer_new();
    rt_writer_add(w, T_PROG, "new", 3);
    d = ir_diag_new(NULL);
    assert_true(rt_writer_save(w, tmp("small.wsa"), 5, d));
    rt_writer_free(w);
    assert_false(exists(tmp("small.wsa.tmp")));
    rt_artifact *a = rt_artifact_open(tmp("small.wsa"), d);
    assert_non_null(a);
    assert_int_equal(rt_artifact_nsections(a), 1);
    assert_true(rt_artifact_model_hash(a) == 5);
    rt_artifact_close(a);
    ir_diag_free(d);
}

static void test_writer_errors(void **state) {
    (void)state;
    size_t n0;
    uint8_t *f0 = small_artifact(&n0);
    rt_writer *w = rt_writer_new();
    rt_writer_add(w, T_PROG, "0123456789", 10);
    /* A folder that does not exist. */
    ir_diag *d = ir_diag_new(NULL);
    assert_false(rt_writer_save(w, tmp("no/such/dir/x.wsa"), 1, d));
    assert_non_null(strstr(ir_diag_text(d), "cannot write"));
    assert_non_null(strstr(ir_diag_text(d), "no/such/dir/x.wsa"));
    assert_non_null(strstr(ir_diag_text(d), "No such file or directory"));
    ir_diag_free(d);
    /* The path is a folder: the rename fails and the temporary goes. */
    assert_int_equal(mkdir(tmp("isdir.wsa"), 0755), 0);
    d = ir_diag_new(NULL);
    assert_false(rt_writer_save(w, tmp("isdir.wsa"), 1, d));
    assert_non_null(strstr(ir_diag_text(d), "cannot write"));
    assert_false(exists(tmp("isdir.wsa.tmp")));
    ir_diag_free(d);

    /* A full disk, made with a file size limit in a child process: the
     * save fails, the old artifact is untouched, no temporary is left. */
    size_t bign = 1 << 20;
    uint8_t *big = calloc(1, bign);
    rt_writer_add(w, RT_TAG('B', 'I', 'G', '!'), big, bign);
    free(big);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {65536, 65536};
        setrlimit(RLIMIT_FSIZE, &rl);
        ir_diag *cd = ir_diag_new(NULL);
        bool ok = rt_writer_save(w, tmp("small.wsa"), 1, cd);
        bool said =
            strstr(ir_diag_text(cd), "cannot write") && strstr(ir_diag_text(cd), "File too large");
        _exit(ok ? 1 : !said ? 2 : exists(tmp("small.wsa.tmp")) ? 3 : 0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    size_t n1;
    uint8_t *f1 = slurp(tmp("small.wsa"), &n1);
    assert_int_equal(n1, n0);
    assert_memory_equal(f1, f0, n0);
    free(f1);
    free(f0);
    rt_writer_free(w);
}

/* Misuse of the writer is a bug in the compiler: exit 70. */
static void expect_internal_error(int which) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 2);
        rt_writer *w = rt_writer_new();
        if (which == 0) {
            rt_writer_add(w, T_PROG, "a", 1);
            rt_writer_add(w, T_PROG, "b", 1);
        } else if (which == 1) {
            rt_writer_add(w, RT_TAG('A', ' ', 'B', 'C'), "a", 1);
        } else {
            rt_writer_add(w, 0, "a", 1);
        }
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), IR_EXIT_INTERNAL);
}

static void test_writer_misuse(void **state) {
    (void)state;
    for (int i = 0; i < 3; i++)
        expect_internal_error(i);
}

/* ------------------------------------------------------------ the graph */

static char *print_graph(const ir_graph *g) {
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    ir_print(g, f);
    fclose(f);
    return text;
}

static ir_graph *compile(const char *path, const char *weights) {
    fe_options o = {path, NULL, 0, weights, 7};
    ir_diag *d = ir_diag_new(NULL);
    int status;
    ir_graph *g = fe_compile(&o, d, &status);
    if (!g) fail_msg("%s does not compile: %s", path, ir_diag_text(d));
    ir_diag_free(d);
    return g;
}

/* What ir_print does not show must survive too. */
static void assert_same_nodes(const ir_graph *a, const ir_graph *b) {
    assert_string_equal(a->model, b->model);
    assert_int_equal(a->nnodes, b->nnodes);
    assert_int_equal(a->noutputs, b->noutputs);
    for (int32_t i = 0; i < a->nnodes; i++) {
        const ir_node *x = &a->nodes[i], *y = &b->nodes[i];
        assert_int_equal(x->op, y->op);
        assert_int_equal(x->dtype, y->dtype);
        assert_true(ir_shape_eq(&x->shape, &y->shape));
        assert_int_equal(x->nin, y->nin);
        for (int k = 0; k < x->nin; k++)
            assert_int_equal(x->in[k], y->in[k]);
        assert_true((x->name == NULL) == (y->name == NULL));
        if (x->name) assert_string_equal(x->name, y->name);
        const ir_attrs *p = &x->a, *q = &y->a;
        assert_true(p->axis == q->axis && p->start == q->start && p->end == q->end);
        assert_true(p->axes == q->axes && p->keepdims == q->keepdims);
        assert_true(p->ta == q->ta && p->tb == q->tb && p->approx_tanh == q->approx_tanh);
        assert_memory_equal(&p->eps, &q->eps, sizeof p->eps);
        assert_memory_equal(p->perm, q->perm, sizeof p->perm);
        assert_true(ir_shape_eq(&p->shape, &q->shape));
        assert_int_equal(p->dtype, q->dtype);
        assert_int_equal(x->init.kind, y->init.kind);
        assert_memory_equal(&x->init.a, &y->init.a, sizeof x->init.a);
        assert_memory_equal(&x->init.b, &y->init.b, sizeof x->init.b);
        assert_true(x->init.seed == y->init.seed);
        assert_int_equal(y->loc.file, -1);
        assert_true((x->value == NULL) == (y->value == NULL));
        if (x->value) {
            assert_int_equal(ir_tensor_bytes(x->value), ir_tensor_bytes(y->value));
            assert_memory_equal(x->value->data, y->value->data, ir_tensor_bytes(x->value));
        }
    }
    for (int32_t i = 0; i < a->noutputs; i++) {
        assert_string_equal(a->outputs[i].name, b->outputs[i].name);
        assert_int_equal(a->outputs[i].ref, b->outputs[i].ref);
    }
}

/* Encode, decode, compare; the decoded graph encodes to the same bytes. */
static void round_trip(const ir_graph *g, const char *what) {
    rt_buf b = {0};
    rt_encode_graph(g, &b);
    ir_diag *d = ir_diag_new(NULL);
    ir_graph *h = rt_decode_graph(b.data, b.len, d);
    if (!h) fail_msg("%s does not decode: %s", what, ir_diag_text(d));
    ir_diag_free(d);
    char *t1 = print_graph(g), *t2 = print_graph(h);
    if (strcmp(t1, t2) != 0) fail_msg("%s: printed IR differs:\n%s\n---\n%s", what, t1, t2);
    assert_same_nodes(g, h);
    rt_buf c = {0};
    rt_encode_graph(h, &c);
    assert_int_equal(b.len, c.len);
    assert_memory_equal(b.data, c.data, b.len);
    free(t1);
    free(t2);
    rt_buf_free(&b);
    rt_buf_free(&c);
    ir_graph_free(h);
}

/* The graph straight from the front end and after the pass pipeline (whose
 * constant folding makes consts of every dtype). */
static void round_trip_file(const char *path, const char *weights) {
    ir_graph *g = compile(path, weights);
    round_trip(g, path);
    ir_diag *d = ir_diag_new(NULL);
    pass_options o = {NULL, NULL, NULL, true};
    if (!pass_run_pipeline(&g, &o, d)) fail_msg("%s: %s", path, ir_diag_text(d));
    ir_diag_free(d);
    round_trip(g, path);
    ir_graph_free(g);
}

static void test_graph_round_trip_cases(void **state) {
    (void)state;
    DIR *dir = opendir(CASES);
    assert_non_null(dir);
    int count = 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (e->d_name[0] == '.') continue;
        char model[1024], weights[1024];
        snprintf(model, sizeof model, "%s/%s/model.wsm", CASES, e->d_name);
        snprintf(weights, sizeof weights, "%s/%s/weights.safetensors", CASES, e->d_name);
        if (!exists(model)) continue;
        round_trip_file(model, exists(weights) ? weights : NULL);
        count++;
    }
    closedir(dir);
    assert_true(count >= 25);
}

/* The examples, with an initializer added to every param that has none
 * so that they compile without weights files. */
static void test_graph_round_trip_examples(void **state) {
    (void)state;
    const char *names[] = {"mlp", "gpt2", "llama", "gpt2_small"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char src[512];
        snprintf(src, sizeof src, "%s/examples/%s.wsm", WSC_SOURCE_DIR, names[i]);
        size_t n;
        uint8_t *text = slurp(src, &n);
        char *out = malloc(2 * n + 4096);
        size_t k = 0;
        for (size_t p = 0; p < n;) {
            bool decl = p + 6 <= n && memcmp(text + p, "param ", 6) == 0 &&
                        (p == 0 || text[p - 1] == '\n' || text[p - 1] == ' ');
            if (!decl) {
                out[k++] = (char)text[p++];
                continue;
            }
            const uint8_t *semi = memchr(text + p, ';', n - p);
            assert_non_null(semi);
            size_t end = (size_t)(semi - text);
            bool has_init = memchr(text + p, '=', end - p) != NULL;
            memcpy(out + k, text + p, end - p);
            k += end - p;
            if (!has_init) k += (size_t)sprintf(out + k, " = normal(0.0, 0.02)");
            p = end;
        }
        char dst[64];
        snprintf(dst, sizeof dst, "%s.wsm", names[i]);
        write_file(tmp(dst), out, k);
        round_trip_file(tmp(dst), NULL);
        free(out);
        free(text);
    }
}

/* A graph with data of every dtype, a file() param, weights and consts. */
static ir_graph *rich_graph(void) {
    ir_graph *g = compile(CASES "/param_file/model.wsm", CASES "/param_file/weights.safetensors");
    ir_graph *h = compile(CASES "/dtypes_misc/model.wsm", NULL);
    ir_diag *d = ir_diag_new(NULL);
    pass_options o = {NULL, NULL, NULL, true};
    assert_true(pass_run_pipeline(&h, &o, d));
    ir_diag_free(d);
    /* Append h's nodes to g, shifting operand refs, plus f16, bf16 and bool
     * consts. */
    int32_t base = g->nnodes;
    for (int32_t i = 0; i < h->nnodes; i++) {
        ir_node n = h->nodes[i];
        ir_ref in[8];
        assert_true(n.nin <= 8);
        for (int k = 0; k < n.nin; k++)
            in[k] = n.in[k] + base;
        /* Both models have an input x. */
        if (n.name) n.name = ir_sprintf(g->arena, "h_%s", n.name);
        n.value = n.value ? ir_tensor_clone(n.value) : NULL;
        ir_graph_add(g, &n, in, n.nin);
    }
    for (int32_t i = 0; i < h->noutputs; i++)
        ir_graph_add_output(g, ir_sprintf(g->arena, "h_%s", h->outputs[i].name),
                            h->outputs[i].ref + base, IR_NOLOC);
    ir_graph_free(h);
    const ir_dtype dts[] = {IR_F16, IR_BF16, IR_BOOL, IR_I32};
    for (size_t k = 0; k < 4; k++) {
        ir_shape s = ir_shape_make(2, (int64_t[]){2, 3});
        ir_tensor *t = ir_tensor_new(dts[k], &s);
        for (int i = 0; i < 6; i++) {
            if (dts[k] == IR_BOOL)
                ((uint8_t *)t->data)[i] = i & 1;
            else if (dts[k] == IR_I32)
                ((int32_t *)t->data)[i] = -i * 1000;
            else
                ((float *)t->data)[i] = 0.1f * (float)i - 0.25f;
        }
        ir_tensor_round(t);
        char name[8];
        snprintf(name, sizeof name, "c%zu", k);
        ir_graph_add_output(g, name, ir_build_const(g, t, IR_NOLOC), IR_NOLOC);
    }
    return g;
}

static void test_graph_round_trip_rich(void **state) {
    (void)state;
    ir_graph *g = rich_graph();
    ir_diag *d = ir_diag_new(NULL);
    assert_true(ir_verify(g, d));
    ir_diag_free(d);
    round_trip(g, "rich graph");

    /* Through an artifact, as `wsc run` will read it. */
    rt_buf b = {0};
    rt_encode_graph(g, &b);
    rt_writer *w = rt_writer_new();
    rt_writer_add(w, T_IRGR, b.data, b.len);
    d = ir_diag_new(NULL);
    assert_true(rt_writer_save(w, tmp("graph.wsa"), 42, d));
    rt_writer_free(w);
    rt_artifact *a = rt_artifact_open(tmp("graph.wsa"), d);
    assert_non_null(a);
    size_t len;
    const void *p = rt_artifact_section(a, T_IRGR, &len);
    ir_graph *h = rt_decode_graph(p, len, d);
    assert_non_null(h);
    assert_same_nodes(g, h);
    ir_graph_free(h);
    rt_artifact_close(a);
    ir_diag_free(d);
    rt_buf_free(&b);
    ir_graph_free(g);
}

/* Decodes bytes that must be refused with one error containing `want`. */
static void expect_bad_bytes(const void *bytes, size_t n, const char *want) {
    ir_diag *d = ir_diag_new(NULL);
    ir_graph *g = rt_decode_graph(bytes, n, d);
    if (g || ir_diag_errors(d) != 1 || !strstr(ir_diag_text(d), want))
        fail_msg("wanted a refusal with '%s'; got %s: %s", want, g ? "a graph" : "NULL",
                 ir_diag_text(d));
    ir_diag_free(d);
}

static void expect_bad_graph(ir_graph *g, const char *want) {
    rt_buf b = {0};
    rt_encode_graph(g, &b);
    expect_bad_bytes(b.data, b.len, want);
    rt_buf_free(&b);
    ir_graph_free(g);
}

static ir_ref add_input(ir_graph *g, const char *name, ir_dtype t, int rank, int64_t d0) {
    ir_node n = {0};
    n.op = IR_INPUT;
    n.dtype = t;
    n.shape = ir_shape_make(rank, (int64_t[]){d0, d0, d0});
    n.name = name;
    n.loc = IR_NOLOC;
    return ir_graph_add(g, &n, NULL, 0);
}

static ir_ref add_op(ir_graph *g, ir_op op, ir_ref a, ir_ref b) {
    ir_err e;
    ir_ref in[2] = {a, b};
    ir_ref r = ir_build(g, op, in, ir_ops[op].nin, NULL, IR_NOLOC, &e);
    assert_int_not_equal(r, IR_NONE);
    return r;
}

static ir_graph *small_graph(void) {
    ir_graph *g = ir_graph_new("m");
    ir_ref x = add_input(g, "x", IR_F32, 1, 4);
    ir_ref y = add_op(g, IR_ADD, x, x);
    ir_graph_add_output(g, "y", y, IR_NOLOC);
    return g;
}

static ir_tensor *tensor(ir_dtype t, int64_t n) {
    ir_shape s = ir_shape_make(1, (int64_t[]){n});
    return ir_tensor_new(t, &s);
}

static void test_graph_hostile(void **state) {
    (void)state;
    ir_graph *g = small_graph();
    round_trip(g, "small graph");
    ir_graph_free(g);

    g = small_graph();
    g->nodes[1].op = (ir_op)(IR_NOPS + 3);
    expect_bad_graph(g, "node %1: unknown op");
    g = small_graph();
    g->nodes[0].dtype = (ir_dtype)9;
    expect_bad_graph(g, "node %0: it has the unknown dtype 9");
    g = small_graph();
    g->nodes[1].in[1] = 1;
    expect_bad_graph(g, "node %1: operand 1 is %1, not an earlier node");
    g = small_graph();
    g->nodes[1].in[0] = -1;
    expect_bad_graph(g, "not an earlier node");
    g = small_graph();
    g->nodes[0].name = NULL;
    expect_bad_graph(g, "node %0: 'input' without a name");
    g = small_graph();
    g->nodes[0].name = "";
    expect_bad_graph(g, "'input' without a name");
    g = small_graph();
    add_input(g, "x", IR_F32, 1, 4);
    expect_bad_graph(g, "two inputs are named 'x'");
    g = small_graph();
    ir_graph_add_output(g, "y", 0, IR_NOLOC);
    expect_bad_graph(g, "two outputs are named 'y'");
    g = small_graph();
    g->outputs[0].name = "";
    expect_bad_graph(g, "output 0 has no name");
    g = small_graph();
    g->outputs[0].ref = 2;
    expect_bad_graph(g, "output 'y' is %2, not a node");
    g = small_graph();
    g->nodes[0].shape.d[0] = 0;
    expect_bad_graph(g, "node %0: it has dimension 0");
    g = small_graph();
    g->nodes[0].shape.d[0] = IR_MAX_DIM + 1;
    expect_bad_graph(g, "it has dimension 2147483648");
    g = small_graph();
    g->nodes[0].shape = ir_shape_make(6, (int64_t[]){1 << 20, 1 << 20, 1 << 20, 2, 2, 2});
    expect_bad_graph(g, "more than 2^48 elements");
    g = small_graph(); /* the type rule: add of f32[4] recorded as f32[5] */
    g->nodes[1].shape.d[0] = 5;
    expect_bad_graph(g, "%1 (add) is recorded as f32[5] but its operands give f32[4]");
    g = small_graph();
    g->nodes[1].a.perm[3] = -1;
    expect_bad_graph(g, "permutation entry 3 is -1");
    g = small_graph();
    g->nodes[1].a.dtype = (ir_dtype)7;
    expect_bad_graph(g, "its dtype attribute has the unknown dtype 7");
    g = small_graph();
    g->nodes[1].a.shape.rank = 1;
    g->nodes[1].a.shape.d[0] = -1;
    expect_bad_graph(g, "its shape attribute has dimension -1");
    g = small_graph();
    g->nodes[1].init.kind = (ir_init_kind)9;
    expect_bad_graph(g, "unknown initializer kind 9");
    g = small_graph();
    g->nodes[1].value = tensor(IR_F32, 4);
    expect_bad_graph(g, "'add' carries data");

    /* Attributes with the right type but not as inference leaves them. */
    const struct {
        ir_op op;  /* a one-operand op on f32[4] */
        int field; /* 0 axis, 1 start, 2 perm[5] */
        int64_t v; /* the value stored instead of the normalized one */
    } unnorm[] = {{IR_SLICE, 1, -4}, {IR_SLICE, 0, -1}, {IR_SOFTMAX, 0, -1}, {IR_TRANSPOSE, 2, 3}};
    for (size_t i = 0; i < sizeof unnorm / sizeof unnorm[0]; i++) {
        g = ir_graph_new("m");
        ir_ref x = add_input(g, "x", IR_F32, 1, 4);
        ir_attrs at = {0};
        at.end = 4;
        ir_err e;
        ir_ref y = ir_build(g, unnorm[i].op, &x, 1, &at, IR_NOLOC, &e);
        assert_int_not_equal(y, IR_NONE);
        ir_graph_add_output(g, "y", y, IR_NOLOC);
        round_trip(g, "normalized attributes");
        ir_attrs *a = &g->nodes[y].a;
        if (unnorm[i].field == 0) a->axis = unnorm[i].v;
        if (unnorm[i].field == 1) a->start = unnorm[i].v;
        if (unnorm[i].field == 2) a->perm[5] = (int8_t)unnorm[i].v;
        expect_bad_graph(g, "node %1: the attributes of");
    }

    /* Consts and params and their data. */
    g = small_graph();
    ir_build_const(g, tensor(IR_F32, 3), IR_NOLOC);
    round_trip(g, "const");
    ir_tensor_free(g->nodes[2].value);
    g->nodes[2].value = NULL;
    expect_bad_graph(g, "node %2: a const without a value");
    g = small_graph();
    ir_build_const(g, tensor(IR_F32, 3), IR_NOLOC);
    g->nodes[2].shape.d[0] = 4;
    expect_bad_graph(g, "node %2: it holds data of type f32[3], not f32[4]");
    g = small_graph();
    ir_build_const(g, tensor(IR_BOOL, 3), IR_NOLOC);
    ((uint8_t *)g->nodes[2].value->data)[1] = 2;
    expect_bad_graph(g, "bool element 1 is 2, not 0 or 1");
    g = small_graph();
    ir_build_const(g, tensor(IR_F16, 3), IR_NOLOC);
    ((float *)g->nodes[2].value->data)[2] = 1.0001f;
    expect_bad_graph(g, "f16 element 2 (1.00010002) is not a f16 value");
    g = small_graph();
    ir_build_const(g, tensor(IR_BF16, 3), IR_NOLOC);
    ((float *)g->nodes[2].value->data)[0] = 1.001f;
    expect_bad_graph(g, "bf16 element 0");
    g = small_graph();
    {
        ir_node n = {0};
        n.op = IR_PARAM;
        n.dtype = IR_F32;
        n.shape = ir_shape_make(1, (int64_t[]){3});
        n.name = "w";
        n.loc = IR_NOLOC;
        n.init.kind = IR_INIT_DATA;
        ir_graph_add(g, &n, NULL, 0);
    }
    expect_bad_graph(g, "param 'w' is initialized from data it does not carry");

    /* Byte-level edits the encoder cannot make. Small graph layout: model
     * "m" (5 bytes), node count (4), node 0: op, dtype, rank at 17. */
    g = small_graph();
    rt_buf b = {0};
    rt_encode_graph(g, &b);
    uint8_t *c = malloc(b.len + 1);
    memcpy(c, b.data, b.len);
    set_le(c + 17, 9, 4);
    expect_bad_bytes(c, b.len, "node %0: it has rank 9 (at most 8)");
    memcpy(c, b.data, b.len);
    c[4] = 0; /* a NUL in the model name */
    expect_bad_bytes(c, b.len, "the model name is malformed");
    memcpy(c, b.data, b.len);
    set_le(c, 1000, 4);
    expect_bad_bytes(c, b.len, "the model name is malformed");
    memcpy(c, b.data, b.len);
    set_le(c + 5, 0xffffffffu, 4);
    expect_bad_bytes(c, b.len, "4294967295 nodes");
    memcpy(c, b.data, b.len);
    set_le(c + 5, 1000000, 4); /* node %2 is read from the outputs' bytes */
    expect_bad_bytes(c, b.len, "node %2: ");
    memcpy(c, b.data, b.len);
    c[b.len] = 0;
    expect_bad_bytes(c, b.len + 1, "1 bytes follow the end of the graph");
    memcpy(c, b.data, b.len);
    set_le(c + b.len - 4 - 4 - 1 - 4, 0x7fffffff, 4); /* the output count */
    expect_bad_bytes(c, b.len, "2147483647 outputs run past the end");
    expect_bad_bytes(NULL, 0, "the model name is malformed");
    expect_bad_bytes(b.data, 9, "ends early");
    free(c);
    rt_buf_free(&b);
    ir_graph_free(g);

    /* A variadic op with a huge operand count. */
    g = small_graph();
    {
        ir_err e;
        ir_ref in[2] = {0, 0};
        ir_attrs at = {0};
        assert_int_not_equal(ir_build(g, IR_CONCAT, in, 2, &at, IR_NOLOC, &e), IR_NONE);
    }
    rt_encode_graph(g, &b);
    /* The concat is the last node: its nin follows op, dtype and the rank-1
     * shape, 4 + 4 + 4 + 8 bytes after its start. Find it by searching for
     * its op and operand count. */
    bool patched = false;
    for (size_t i = 0; i + 28 <= b.len && !patched; i++)
        if (le(b.data + i, 4) == IR_CONCAT && le(b.data + i + 20, 4) == 2 &&
            le(b.data + i + 24, 4) == 0) {
            set_le(b.data + i + 20, 0x7fffffff, 4);
            patched = true;
        }
    assert_true(patched);
    expect_bad_bytes(b.data, b.len, "2147483647 operands run past the end");
    rt_buf_free(&b);
    ir_graph_free(g);
}

/* Runs a decoded graph on zero inputs: what decodes must also execute
 * (under the sanitizer build: without a bad memory access). Graphs whose
 * change made a source huge are skipped, not to exhaust memory. */
static void run_decoded(const ir_graph *g) {
    int32_t ninputs = 0;
    for (int32_t i = 0; i < g->nnodes; i++) {
        const ir_node *n = &g->nodes[i];
        if (ir_ops[n->op].kind == IR_K_SOURCE && ir_shape_numel(&n->shape) > (1 << 16)) return;
        ninputs += n->op == IR_INPUT;
    }
    ir_tensor **in = calloc((size_t)ninputs + 1, sizeof *in);
    ir_tensor **out = calloc((size_t)g->noutputs + 1, sizeof *out);
    int k = 0;
    for (int32_t i = 0; i < g->nnodes; i++)
        if (g->nodes[i].op == IR_INPUT)
            in[k++] = ir_tensor_new(g->nodes[i].dtype, &g->nodes[i].shape);
    ir_diag *d = ir_diag_new(NULL);
    if (ir_eval(g, in, out, 1, d) == 0)
        for (int32_t i = 0; i < g->noutputs; i++)
            ir_tensor_free(out[i]);
    ir_diag_free(d);
    for (int i = 0; i < ninputs; i++)
        ir_tensor_free(in[i]);
    free(in);
    free(out);
}

/* Every byte of a real encoding changed three ways, and every truncation:
 * never a crash; a refusal with one error, or a graph that verifies (a
 * changed weight is still a valid graph: the container's checksums are
 * what catch that). */
static void test_graph_every_byte(void **state) {
    (void)state;
    ir_graph *g = rich_graph();
    rt_buf b = {0};
    rt_encode_graph(g, &b);
    ir_graph_free(g);
    uint8_t *c = malloc(b.len);
    const uint8_t masks[] = {0x01, 0x80, 0xff};
    int refused = 0, accepted = 0;
    for (size_t i = 0; i < b.len; i++)
        for (size_t m = 0; m < sizeof masks; m++) {
            memcpy(c, b.data, b.len);
            c[i] ^= masks[m];
            ir_diag *d = ir_diag_new(NULL);
            ir_graph *h = rt_decode_graph(c, b.len, d);
            if (h) {
                assert_int_equal(ir_diag_errors(d), 0);
                ir_diag *v = ir_diag_new(NULL);
                assert_true(ir_verify(h, v));
                ir_diag_free(v);
                run_decoded(h);
                ir_graph_free(h);
                accepted++;
            } else {
                assert_int_equal(ir_diag_errors(d), 1);
                refused++;
            }
            ir_diag_free(d);
        }
    /* Most changes hit structure, not payload. */
    assert_true(refused > accepted);
    assert_true(accepted > 0);
    for (size_t len = 0; len < b.len; len++) {
        ir_diag *d = ir_diag_new(NULL);
        /* An exact-size copy, so reading past it is caught by the sanitizer. */
        uint8_t *cut = malloc(len ? len : 1);
        memcpy(cut, b.data, len);
        ir_graph *h = rt_decode_graph(cut, len, d);
        if (h) fail_msg("a graph cut at %zu of %zu bytes decoded", len, b.len);
        assert_int_equal(ir_diag_errors(d), 1);
        free(cut);
        ir_diag_free(d);
    }
    free(c);
    rt_buf_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_layout),
        cmocka_unit_test(test_encode_values),
        cmocka_unit_test(test_reader_bounds),
        cmocka_unit_test(test_container_layout),
        cmocka_unit_test(test_container_empty_and_many),
        cmocka_unit_test(test_container_foreign),
        cmocka_unit_test(test_container_corruption),
        cmocka_unit_test(test_container_every_byte),
        cmocka_unit_test(test_container_files),
        cmocka_unit_test(test_writer_errors),
        cmocka_unit_test(test_writer_misuse),
        cmocka_unit_test(test_graph_round_trip_cases),
        cmocka_unit_test(test_graph_round_trip_examples),
        cmocka_unit_test(test_graph_round_trip_rich),
        cmocka_unit_test(test_graph_hostile),
        cmocka_unit_test(test_graph_every_byte),
    };
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
