/* test_tensor.c - tensors, f16/bf16 conversions, .npy files, weights, and the
 * initializer generator. Fixtures come from tests/data/gen_tensor_fixtures.py
 * (numpy and torch are the references); malformed files are made here. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "ir.h"

#include <fcntl.h>
#include <sched.h>
#include <ftw.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#define DATA WSC_SOURCE_DIR "/tests/data/tensor/"

static char tmpdir[] = "/tmp/wsc_test_tensor_XXXXXX";

#include "test_util.h"

/* The whole file in a malloc'd buffer of exactly its size, so that the
 * sanitizer build catches any read past the end. */
static uint8_t *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(len ? (size_t)len : 1);
    assert_int_equal(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

static uint32_t fbits(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    return u;
}

static float bitsf(uint32_t u) {
    float x;
    memcpy(&x, &u, 4);
    return x;
}

/* The values every small fixture holds at row-major element i. */
static float fixture_f(int64_t i) {
    return (float)(i - 3) * 0.375f;
}
static int32_t fixture_i(int64_t i) {
    return (int32_t)(7 * i - 20);
}
static uint8_t fixture_b(int64_t i) {
    return i % 3 == 0;
}

static const int64_t fixture_dims[5][4] = {{0}, {5}, {2, 3}, {2, 3, 4}, {2, 1, 3, 2}};

static ir_shape fixture_shape(int rank) {
    return ir_shape_make(rank, fixture_dims[rank]);
}

static ir_tensor *fixture_tensor(ir_dtype t, int rank) {
    ir_shape s = fixture_shape(rank);
    ir_tensor *x = ir_tensor_new(t, &s);
    assert_non_null(x);
    for (int64_t i = 0; i < ir_shape_numel(&s); i++) {
        if (t == IR_I32)
            ((int32_t *)x->data)[i] = fixture_i(i);
        else if (t == IR_BOOL)
            ((uint8_t *)x->data)[i] = fixture_b(i);
        else
            ((float *)x->data)[i] = fixture_f(i);
    }
    ir_tensor_round(x);
    return x;
}

static void assert_tensor_eq(const ir_tensor *a, const ir_tensor *b) {
    assert_int_equal(a->dtype, b->dtype);
    assert_true(ir_shape_eq(&a->shape, &b->shape));
    assert_memory_equal(a->data, b->data, ir_tensor_bytes(a));
}

/* Expects exactly one error whose text holds both fragments. */
static void expect_error(ir_diag *d, const char *frag1, const char *frag2) {
    const char *text = ir_diag_text(d);
    if (ir_diag_errors(d) != 1 || !strstr(text, frag1) || (frag2 && !strstr(text, frag2)))
        fail_msg("expected one error with '%s'%s%s, got %d:\n%s", frag1, frag2 ? " and " : "",
                 frag2 ? frag2 : "", ir_diag_errors(d), text);
}

/* ------------------------------------------------------------ dtypes */

static void test_dtypes(void **state) {
    (void)state;
    const char *names[] = {"f32", "f16", "bf16", "i32", "bool"};
    for (int i = 0; i < IR_NDTYPES; i++) {
        assert_string_equal(ir_dtype_name((ir_dtype)i), names[i]);
        assert_int_equal(ir_dtype_parse(names[i]), i);
    }
    assert_int_equal(ir_dtype_parse("f64"), -1);
    assert_int_equal(ir_dtype_parse("F32"), -1);
    assert_int_equal(ir_dtype_parse(""), -1);
    assert_true(ir_dtype_is_float(IR_F32) && ir_dtype_is_float(IR_F16) &&
                ir_dtype_is_float(IR_BF16));
    assert_false(ir_dtype_is_float(IR_I32) || ir_dtype_is_float(IR_BOOL));
    assert_int_equal(ir_dtype_size(IR_F32), 4);
    assert_int_equal(ir_dtype_size(IR_F16), 4); /* held as float */
    assert_int_equal(ir_dtype_size(IR_BF16), 4);
    assert_int_equal(ir_dtype_size(IR_I32), 4);
    assert_int_equal(ir_dtype_size(IR_BOOL), 1);
}

static void test_shapes(void **state) {
    (void)state;
    char buf[64];
    ir_shape s0 = ir_shape_make(0, NULL);
    assert_int_equal(ir_shape_numel(&s0), 1);
    assert_string_equal(ir_shape_str(&s0, buf, sizeof buf), "[]");
    assert_string_equal(ir_type_str(IR_F32, &s0, buf, sizeof buf), "f32[]");
    int64_t d23[] = {2, 3};
    ir_shape s = ir_shape_make(2, d23);
    assert_int_equal(ir_shape_numel(&s), 6);
    assert_string_equal(ir_shape_str(&s, buf, sizeof buf), "[2, 3]");
    assert_string_equal(ir_type_str(IR_BF16, &s, buf, sizeof buf), "bf16[2, 3]");
    /* truncation never overruns */
    char small[6];
    memset(small, 'x', sizeof small);
    ir_type_str(IR_BOOL, &s, small, 5);
    assert_int_equal(small[5], 'x');
    assert_int_equal(strlen(small), 4);
    assert_string_equal(ir_shape_str(&s, small, 3), "[2");

    ir_shape t = ir_shape_make(2, (int64_t[]){2, 3});
    assert_true(ir_shape_eq(&s, &t));
    t.d[1] = 4;
    assert_false(ir_shape_eq(&s, &t));
    assert_false(ir_shape_eq(&s, &s0));

    /* the limits: 2^48 elements fit, a little more does not */
    ir_shape big = ir_shape_make(3, (int64_t[]){1 << 16, 1 << 16, 1 << 16});
    assert_int_equal(ir_shape_numel(&big), 1LL << 48);
    big.d[2]++;
    assert_int_equal(ir_shape_numel(&big), IR_MAX_NUMEL + 1); /* saturated */
    ir_shape huge = ir_shape_make(8, (int64_t[]){IR_MAX_DIM, IR_MAX_DIM, IR_MAX_DIM, IR_MAX_DIM,
                                                 IR_MAX_DIM, IR_MAX_DIM, IR_MAX_DIM, IR_MAX_DIM});
    assert_int_equal(ir_shape_numel(&huge), IR_MAX_NUMEL + 1); /* no wrap-around */
    huge.d[7] = 0;
    assert_int_equal(ir_shape_numel(&huge), 0);
    ir_shape neg = ir_shape_make(1, (int64_t[]){-1});
    assert_int_equal(ir_shape_numel(&neg), -1);
}

static void test_tensor_new(void **state) {
    (void)state;
    ir_shape s = ir_shape_make(2, (int64_t[]){3, 5});
    for (int dt = 0; dt < IR_NDTYPES; dt++) {
        ir_tensor *t = ir_tensor_new((ir_dtype)dt, &s);
        assert_non_null(t);
        assert_int_equal(t->dtype, dt);
        assert_true(ir_shape_eq(&t->shape, &s));
        assert_int_equal(ir_tensor_bytes(t), 15 * ir_dtype_size((ir_dtype)dt));
        for (size_t i = 0; i < ir_tensor_bytes(t); i++)
            assert_int_equal(((uint8_t *)t->data)[i], 0);
        memset(t->data, 0x5a, ir_tensor_bytes(t));
        ir_tensor *c = ir_tensor_clone(t);
        assert_non_null(c);
        assert_ptr_not_equal(c->data, t->data);
        assert_tensor_eq(c, t);
        ir_tensor_free(c);
        ir_tensor_free(t);
    }
    ir_shape s0 = ir_shape_make(0, NULL);
    ir_tensor *sc = ir_tensor_new(IR_I32, &s0);
    assert_int_equal(ir_tensor_bytes(sc), 4);
    ir_tensor_free(sc);
    ir_tensor_free(NULL);
    /* sizes past the limits give NULL, not a short buffer */
    ir_shape over = ir_shape_make(3, (int64_t[]){1 << 20, 1 << 20, 1 << 20});
    assert_null(ir_tensor_new(IR_F32, &over));
}

/* ------------------------------------------------------ f16 and bf16 */

/* generated by tests/data/gen_tensor_fixtures.py --table: f32 bits, f16 bits (numpy),
 * bf16 bits (torch) */
static const uint32_t conv_table[][3] = {
    {0x00000000, 0x0000, 0x0000}, {0x80000000, 0x8000, 0x8000}, {0x3f800000, 0x3c00, 0x3f80},
    {0xbf800000, 0xbc00, 0xbf80}, {0x7f800000, 0x7c00, 0x7f80}, {0xff800000, 0xfc00, 0xff80},
    {0x477fe000, 0x7bff, 0x4780}, {0x477fe100, 0x7bff, 0x4780}, {0x477fef00, 0x7bff, 0x4780},
    {0x477fefff, 0x7bff, 0x4780}, {0x477ff000, 0x7c00, 0x4780}, {0xc77ff000, 0xfc00, 0xc780},
    {0x47800000, 0x7c00, 0x4780}, {0x501502f9, 0x7c00, 0x5015}, {0x38800000, 0x0400, 0x3880},
    {0x387fe000, 0x0400, 0x3880}, {0x33800000, 0x0001, 0x3380}, {0x33000000, 0x0000, 0x3300},
    {0x33000001, 0x0001, 0x3300}, {0x32800000, 0x0000, 0x3280}, {0x33c00000, 0x0002, 0x33c0},
    {0x34200000, 0x0002, 0x3420}, {0x34600000, 0x0004, 0x3460}, {0x387fe000, 0x0400, 0x3880},
    {0x387fd000, 0x03ff, 0x3880}, {0x3f801000, 0x3c00, 0x3f80}, {0x3f803000, 0x3c02, 0x3f80},
    {0x3f801001, 0x3c01, 0x3f80}, {0x3f808000, 0x3c04, 0x3f80}, {0x3f818000, 0x3c0c, 0x3f82},
    {0x3f808001, 0x3c04, 0x3f81}, {0x3dcccccd, 0x2e66, 0x3dcd}, {0xbdcccccd, 0xae66, 0xbdcd},
    {0x3eaaaaab, 0x3555, 0x3eab}, {0x40490fdb, 0x4248, 0x4049}, {0x45001000, 0x6800, 0x4500},
    {0x45003000, 0x6802, 0x4500}, {0x000116c2, 0x0000, 0x0001}, {0x80000001, 0x8000, 0x8000},
    {0x00800000, 0x0000, 0x0080}, {0x7f7fffff, 0x7c00, 0x7f80}, {0xff7fffff, 0xfc00, 0xff80},
    {0x7f7f0000, 0x7c00, 0x7f7f}, {0x7f7f8000, 0x7c00, 0x7f80}, {0x387fda40, 0x03ff, 0x3880},
    {0x337ffae5, 0x0001, 0x3380}, {0x7fc00000, 0x7e00, 0xffff}, {0xffc00000, 0xfe00, 0xffff},
    {0x7f800001, 0x7c01, 0xffff}, {0x7fbfffff, 0x7dff, 0xffff},
};

/* generated by tests/data/gen_tensor_fixtures.py --rng from the definition in
 * docs/formats.md, with a bit-exact Python port of its log / cos / sin:
 * {seed, name, normal?, a, b, index, f32 bits} */
static const struct rng_case {
    uint64_t seed;
    const char *name;
    bool normal;
    double a, b;
    int64_t i;
    uint32_t bits;
} rng_cases[] = {
    {0ULL, "w", true, 0.0, 1.0, 0, 0xbd579981},
    {0ULL, "w", true, 0.0, 1.0, 1, 0x3f980af1},
    {0ULL, "w", true, 0.0, 1.0, 2, 0xbea9ae13},
    {0ULL, "w", true, 0.0, 1.0, 3, 0xbfa27d00},
    {0ULL, "w", true, 0.0, 1.0, 4, 0x3f1ad5a9},
    {0ULL, "w", true, 0.0, 1.0, 5, 0x3d04d824},
    {0ULL, "w", true, 0.0, 1.0, 6, 0x3f82ab36},
    {0ULL, "w", true, 0.0, 1.0, 7, 0x3f6016ac},
    {0ULL, "w", true, 0.0, 1.0, 63, 0xbe85bde5},
    {0ULL, "w", true, 0.0, 1.0, 64, 0x3ed446ff},
    {0ULL, "w", true, 0.0, 1.0, 65, 0x3f8afaa8},
    {0ULL, "w", true, 0.0, 1.0, 262143, 0x3e97ceea},
    {0ULL, "w", true, 0.0, 1.0, 1048577, 0xbfb4ed49},
    {0ULL, "w", false, 0.0, 1.0, 0, 0x3efc8373},
    {0ULL, "w", false, 0.0, 1.0, 1, 0x3e839bcd},
    {0ULL, "w", false, 0.0, 1.0, 2, 0x3ed88475},
    {0ULL, "w", false, 0.0, 1.0, 3, 0x3f359871},
    {0ULL, "w", false, 0.0, 1.0, 4, 0x3f5518c4},
    {0ULL, "w", false, 0.0, 1.0, 5, 0x3c0bb1c9},
    {0ULL, "w", false, 0.0, 1.0, 6, 0x3ecf4b79},
    {0ULL, "w", false, 0.0, 1.0, 7, 0x3de7098c},
    {0ULL, "w", false, 0.0, 1.0, 63, 0x3f05982b},
    {0ULL, "w", false, 0.0, 1.0, 64, 0x3f024ab0},
    {0ULL, "w", false, 0.0, 1.0, 65, 0x3e448d83},
    {0ULL, "w", false, 0.0, 1.0, 262143, 0x3e4355db},
    {0ULL, "w", false, 0.0, 1.0, 1048577, 0x3f312172},
    {1ULL, "w", true, 0.0, 1.0, 0, 0x3fa654cd},
    {1ULL, "w", true, 0.0, 1.0, 1, 0x3d760cff},
    {1ULL, "w", true, 0.0, 1.0, 2, 0xbfa30b30},
    {1ULL, "w", true, 0.0, 1.0, 3, 0x3f2099af},
    {1ULL, "w", true, 0.0, 1.0, 4, 0xbfa4fcde},
    {1ULL, "w", true, 0.0, 1.0, 5, 0xbf2f42a9},
    {1ULL, "w", true, 0.0, 1.0, 6, 0xbfa4ed66},
    {1ULL, "w", true, 0.0, 1.0, 7, 0xbf8c6b70},
    {1ULL, "w", true, 0.0, 1.0, 63, 0xbb3f4d66},
    {1ULL, "w", true, 0.0, 1.0, 64, 0x3d5027ad},
    {1ULL, "w", true, 0.0, 1.0, 65, 0x3f942f70},
    {1ULL, "w", true, 0.0, 1.0, 262143, 0x3f66d1f1},
    {1ULL, "w", true, 0.0, 1.0, 1048577, 0x3e830e80},
    {0ULL, "w1", true, 0.0, 0.02, 0, 0x3c038d14},
    {0ULL, "w1", true, 0.0, 0.02, 1, 0xbc1eebe4},
    {0ULL, "w1", true, 0.0, 0.02, 2, 0x3b792a12},
    {0ULL, "w1", true, 0.0, 0.02, 3, 0xbbabcf6a},
    {0ULL, "w1", true, 0.0, 0.02, 4, 0x3d533ebe},
    {0ULL, "w1", true, 0.0, 0.02, 5, 0x3c2eaee3},
    {0ULL, "w1", true, 0.0, 0.02, 6, 0x3c8faea4},
    {0ULL, "w1", true, 0.0, 0.02, 7, 0xbc3edf6b},
    {0ULL, "w1", true, 0.0, 0.02, 63, 0xbb0feadd},
    {0ULL, "w1", true, 0.0, 0.02, 64, 0x3d254165},
    {0ULL, "w1", true, 0.0, 0.02, 65, 0x3cbe8ce9},
    {0ULL, "w1", true, 0.0, 0.02, 262143, 0x3cb7d0fc},
    {0ULL, "w1", true, 0.0, 0.02, 1048577, 0x3d1367be},
    {12345ULL, "transformer.h.11.mlp.c_proj.weight", true, 1.0, 2.0, 0, 0x3cef3a7a},
    {12345ULL, "transformer.h.11.mlp.c_proj.weight", true, 1.0, 2.0, 1, 0x3ffe3648},
    {12345ULL, "transformer.h.11.mlp.c_proj.weight", true, 1.0, 2.0, 2, 0xbf3ffd47},
    {12345ULL, "transformer.h.11.mlp.c_proj.weight", true, 1.0, 2.0, 3, 0x4090618b},
    {12345ULL, "transformer.h.11.mlp.c_proj.weight", true, 1.0, 2.0, 4, 0xbf552ac6},
    {12345ULL, "transformer.h.11.mlp.c_proj.weight", true, 1.0, 2.0, 5, 0x401d304f},
    {12345ULL, "transformer.h.11.mlp.c_proj.weight", true, 1.0, 2.0, 6, 0xbf29be24},
    {12345ULL, "transformer.h.11.mlp.c_proj.weight", true, 1.0, 2.0, 7, 0xbebc104e},
    {12345ULL, "transformer.h.11.mlp.c_proj.weight", true, 1.0, 2.0, 63, 0x3ea5f290},
    {12345ULL, "transformer.h.11.mlp.c_proj.weight", true, 1.0, 2.0, 64, 0xbfb48f7b},
    {12345ULL, "transformer.h.11.mlp.c_proj.weight", true, 1.0, 2.0, 65, 0x400cb961},
    {12345ULL, "transformer.h.11.mlp.c_proj.weight", true, 1.0, 2.0, 262143, 0xc04d2d14},
    {12345ULL, "transformer.h.11.mlp.c_proj.weight", true, 1.0, 2.0, 1048577, 0x402523c1},
    {9223372036854775813ULL, "", false, -3.0, 5.0, 0, 0xbf0b9b35},
    {9223372036854775813ULL, "", false, -3.0, 5.0, 1, 0x3f113623},
    {9223372036854775813ULL, "", false, -3.0, 5.0, 2, 0xbfb83174},
    {9223372036854775813ULL, "", false, -3.0, 5.0, 3, 0x3f549439},
    {9223372036854775813ULL, "", false, -3.0, 5.0, 4, 0x40654ee4},
    {9223372036854775813ULL, "", false, -3.0, 5.0, 5, 0x3fc29178},
    {9223372036854775813ULL, "", false, -3.0, 5.0, 6, 0x406e89ac},
    {9223372036854775813ULL, "", false, -3.0, 5.0, 7, 0xc0223bbe},
    {9223372036854775813ULL, "", false, -3.0, 5.0, 63, 0xbe889cfa},
    {9223372036854775813ULL, "", false, -3.0, 5.0, 64, 0x409db4bd},
    {9223372036854775813ULL, "", false, -3.0, 5.0, 65, 0xbf663057},
    {9223372036854775813ULL, "", false, -3.0, 5.0, 262143, 0x3f944be5},
    {9223372036854775813ULL, "", false, -3.0, 5.0, 1048577, 0x3f681f5c},
};

/* Every f16 / bf16 pattern: decoding then encoding gives it back, and the
 * decoded value rounds to itself; NaNs stay NaNs. */
static void test_f16_bf16_exhaustive(void **state) {
    (void)state;
    for (uint32_t h = 0; h < 0x10000; h++) {
        float f = ir_f16_bits_to_f32((uint16_t)h);
        bool nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
        if (nan) {
            assert_true(isnan(f));
            uint16_t back = ir_f32_to_f16_bits(f);
            assert_true((back & 0x7c00) == 0x7c00 && (back & 0x3ff));
            assert_int_equal(back & 0x8000, h & 0x8000);
        } else {
            assert_int_equal(ir_f32_to_f16_bits(f), h);
            assert_int_equal(fbits(ir_round_f16(f)), fbits(f));
        }
        float b = ir_bf16_bits_to_f32((uint16_t)h);
        assert_int_equal(fbits(b), h << 16);
        if ((h & 0x7f80) == 0x7f80 && (h & 0x7f)) {
            assert_true(isnan(b));
            assert_true(isnan(ir_round_bf16(b)));
        } else {
            assert_int_equal(ir_f32_to_bf16_bits(b), h);
        }
    }
    /* Halfway between two neighbouring finite f16 values rounds to the even
     * one (the whole positive range, subnormals included). */
    for (uint32_t h = 0; h < 0x7bff; h++) {
        double lo = ir_f16_bits_to_f32((uint16_t)h), hi = ir_f16_bits_to_f32((uint16_t)(h + 1));
        float mid = (float)((lo + hi) / 2); /* exact in f32 */
        uint16_t even = (h & 1) ? (uint16_t)(h + 1) : (uint16_t)h;
        assert_int_equal(ir_f32_to_f16_bits(mid), even);
        assert_int_equal(ir_f32_to_f16_bits(-mid), even | 0x8000);
        assert_int_equal(ir_f32_to_f16_bits(nextafterf(mid, 0)), h);
        assert_int_equal(ir_f32_to_f16_bits(nextafterf(mid, INFINITY)), h + 1);
    }
}

static bool f16_is_nan(uint32_t h) {
    return (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
}
static bool bf16_is_nan(uint32_t h) {
    return (h & 0x7f80) == 0x7f80 && (h & 0x7f);
}

static void check_conversion(uint32_t in, uint32_t want16, uint32_t wantb16) {
    float x = bitsf(in);
    uint16_t h = ir_f32_to_f16_bits(x), b = ir_f32_to_bf16_bits(x);
    if (isnan(x)) {
        if (!f16_is_nan(h) || !bf16_is_nan(b) || !f16_is_nan(want16) || !bf16_is_nan(wantb16))
            fail_msg("NaN 0x%08x: f16 0x%04x bf16 0x%04x", in, h, b);
        assert_int_equal(h & 0x8000, (in >> 16) & 0x8000); /* numpy keeps the sign */
        return;
    }
    if (h != want16) fail_msg("f16 of 0x%08x (%.9g): got 0x%04x, numpy 0x%04x", in, x, h, want16);
    if (b != wantb16)
        fail_msg("bf16 of 0x%08x (%.9g): got 0x%04x, torch 0x%04x", in, x, b, wantb16);
    assert_int_equal(fbits(ir_round_f16(x)), fbits(ir_f16_bits_to_f32((uint16_t)want16)));
    assert_int_equal(fbits(ir_round_bf16(x)), wantb16 << 16);
}

static void test_conversion_table(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof conv_table / sizeof conv_table[0]; i++)
        check_conversion(conv_table[i][0], conv_table[i][1], conv_table[i][2]);
}

/* ~9000 values (random bit patterns, the f16 exponent range, f16 and bf16
 * halfway points) with numpy's f16 and torch's bf16 bits. */
static void test_conversion_fixture(void **state) {
    (void)state;
    ir_diag *d = ir_diag_new(NULL);
    ir_tensor *in = ir_npy_read(DATA "conv_in.npy", IR_F32, d);
    ir_tensor *h = ir_npy_read(DATA "conv_f16.npy", IR_I32, d);
    ir_tensor *b = ir_npy_read(DATA "conv_bf16.npy", IR_I32, d);
    assert_int_equal(ir_diag_errors(d), 0);
    int64_t n = ir_shape_numel(&in->shape);
    assert_true(n > 5000);
    assert_int_equal(ir_shape_numel(&h->shape), n);
    assert_int_equal(ir_shape_numel(&b->shape), n);
    for (int64_t i = 0; i < n; i++)
        check_conversion(fbits(((float *)in->data)[i]), (uint32_t)((int32_t *)h->data)[i],
                         (uint32_t)((int32_t *)b->data)[i]);
    ir_tensor_free(in);
    ir_tensor_free(h);
    ir_tensor_free(b);
    ir_diag_free(d);
}

static void test_tensor_round(void **state) {
    (void)state;
    ir_shape s = ir_shape_make(1, (int64_t[]){4});
    float v[4] = {0.1f, 1.0f + 1.0f / 4096, 70000.0f, 1e-8f};
    for (int dt = IR_F32; dt <= IR_BF16; dt++) {
        ir_tensor *t = ir_tensor_new((ir_dtype)dt, &s);
        memcpy(t->data, v, sizeof v);
        ir_tensor_round(t);
        for (int i = 0; i < 4; i++) {
            float want = dt == IR_F32   ? v[i]
                         : dt == IR_F16 ? ir_round_f16(v[i])
                                        : ir_round_bf16(v[i]);
            assert_int_equal(fbits(((float *)t->data)[i]), fbits(want));
        }
        ir_tensor_free(t);
    }
    assert_true(isinf(ir_round_f16(70000.0f)));
    assert_true(ir_round_f16(0.1f) == 0.0999755859375f);
    assert_true(ir_round_bf16(0.1f) == 0.10009765625f);
    /* integer tensors are left alone */
    ir_tensor *i = ir_tensor_new(IR_I32, &s);
    ((int32_t *)i->data)[0] = 0x12345679;
    ir_tensor_round(i);
    assert_int_equal(((int32_t *)i->data)[0], 0x12345679);
    ir_tensor_free(i);
}

/* ------------------------------------------------------------- .npy */

static const char *fixture_prefix[] = {"f32", "f16", "bf16", "i32", "bool"};

static void test_npy_read_fixtures(void **state) {
    (void)state;
    for (int dt = 0; dt < IR_NDTYPES; dt++) {
        for (int rank = 0; rank <= 4; rank++) {
            char path[512];
            snprintf(path, sizeof path, DATA "%s_r%d.npy", fixture_prefix[dt], rank);
            ir_diag *d = ir_diag_new(NULL);
            ir_tensor *t = ir_npy_read(path, dt, d);
            if (!t) fail_msg("%s: %s", path, ir_diag_text(d));
            ir_tensor *want = fixture_tensor((ir_dtype)dt, rank);
            assert_tensor_eq(t, want);
            ir_tensor_free(t);
            /* any dtype is accepted, except that <u2 needs bf16 asked for */
            t = ir_npy_read(path, -1, d);
            if (dt == IR_BF16) {
                assert_null(t);
                expect_error(d, path, "read only as bf16");
            } else {
                assert_non_null(t);
                assert_tensor_eq(t, want);
                assert_int_equal(ir_diag_errors(d), 0);
            }
            ir_tensor_free(t);
            ir_tensor_free(want);
            ir_diag_free(d);
        }
    }
}

/* What we write is byte for byte what np.save writes. */
static void test_npy_write_matches_numpy(void **state) {
    (void)state;
    for (int dt = 0; dt < IR_NDTYPES; dt++) {
        for (int rank = 0; rank <= 4; rank++) {
            char path[512];
            snprintf(path, sizeof path, DATA "%s_r%d.npy", fixture_prefix[dt], rank);
            ir_diag *d = ir_diag_new(NULL);
            ir_tensor *t = fixture_tensor((ir_dtype)dt, rank);
            assert_int_equal(ir_npy_write(tmp("w.npy"), t, d), 0);
            size_t na, nb;
            uint8_t *a = slurp(tmp("w.npy"), &na), *b = slurp(path, &nb);
            if (na != nb || memcmp(a, b, na) != 0) fail_msg("%s differs from our writing", path);
            /* data starts at a multiple of 64 */
            size_t fsize = dt == IR_BOOL ? 1 : dt == IR_F16 || dt == IR_BF16 ? 2 : 4;
            assert_int_equal((na - (size_t)ir_shape_numel(&t->shape) * fsize) % 64, 0);
            free(a);
            free(b);
            ir_tensor_free(t);
            ir_diag_free(d);
        }
    }
}

/* Write then read gives the same tensor, for every dtype and rank 0..4,
 * with awkward values (signed zeros, infinities, subnormals, extremes). */
static void test_npy_roundtrip(void **state) {
    (void)state;
    const float specials[] = {-0.0f, INFINITY, -INFINITY, 1e-7f, 65504.0f, -2.5f, 3.0e38f, 1e-40f};
    for (int dt = 0; dt < IR_NDTYPES; dt++) {
        for (int rank = 0; rank <= 4; rank++) {
            ir_shape s = fixture_shape(rank);
            if (rank == 4) s.d[1] = 7;
            ir_tensor *t = ir_tensor_new((ir_dtype)dt, &s);
            int64_t n = ir_shape_numel(&s);
            for (int64_t i = 0; i < n; i++) {
                if (dt == IR_I32)
                    ((int32_t *)t->data)[i] = (int32_t)(i * 2654435761u);
                else if (dt == IR_BOOL)
                    ((uint8_t *)t->data)[i] = (i * 7) % 5 < 2;
                else
                    ((float *)t->data)[i] =
                        i < 8 ? specials[i] : (float)sin((double)i) * powf(10, (float)(i % 9) - 4);
            }
            ir_tensor_round(t);
            ir_diag *d = ir_diag_new(NULL);
            assert_int_equal(ir_npy_write(tmp("rt.npy"), t, d), 0);
            ir_tensor *r = ir_npy_read(tmp("rt.npy"), dt, d);
            assert_non_null(r);
            assert_tensor_eq(r, t);
            /* and through ir_npy_parse on the bytes */
            size_t len;
            uint8_t *b = slurp(tmp("rt.npy"), &len);
            ir_tensor *p = ir_npy_parse("mem.npy", b, len, dt, d);
            assert_non_null(p);
            assert_tensor_eq(p, t);
            assert_int_equal(ir_diag_errors(d), 0);
            free(b);
            ir_tensor_free(p);
            ir_tensor_free(r);
            ir_tensor_free(t);
            ir_diag_free(d);
        }
    }
}

static void test_npy_versions_and_fortran(void **state) {
    (void)state;
    ir_diag *d = ir_diag_new(NULL);
    ir_tensor *want = fixture_tensor(IR_F32, 2);
    for (int v = 2; v <= 3; v++) {
        char path[512];
        snprintf(path, sizeof path, DATA "v%d.npy", v);
        ir_tensor *t = ir_npy_read(path, IR_F32, d);
        assert_non_null(t);
        assert_tensor_eq(t, want);
        ir_tensor_free(t);
    }
    ir_tensor_free(want);
    /* column-major files come back row-major */
    want = fixture_tensor(IR_F32, 3);
    ir_tensor *t = ir_npy_read(DATA "fortran.npy", IR_F32, d);
    assert_non_null(t);
    assert_tensor_eq(t, want);
    ir_tensor_free(t);
    ir_tensor_free(want);
    t = ir_npy_read(DATA "fortran_i32.npy", IR_I32, d);
    assert_non_null(t);
    assert_int_equal(t->shape.rank, 2);
    assert_int_equal(t->shape.d[0], 3);
    assert_int_equal(t->shape.d[1], 5);
    for (int i = 0; i < 15; i++)
        assert_int_equal(((int32_t *)t->data)[i], fixture_i(i));
    ir_tensor_free(t);
    assert_int_equal(ir_diag_errors(d), 0);
    ir_diag_free(d);
}

static void test_npy_refused_files(void **state) {
    (void)state;
    static const struct {
        const char *file; /* fixture */
        int want;         /* dtype asked for */
        const char *frag; /* in the message */
    } cases[] = {
        {"big_endian.npy", IR_F32, "big-endian"},
        {"f64.npy", IR_F32, "dtype '<f8' is not supported"},
        {"f64.npy", -1, "dtype '<f8' is not supported"},
        {"object.npy", -1, "object arrays"},
        {"structured.npy", -1, "structured"},
        {"f32_r2.npy", IR_I32, "expected i32, found <f4"},
        {"i32_r2.npy", IR_F32, "expected f32, found <i4"},
        {"f16_r2.npy", IR_BF16, "expected bf16, found <f2"},
        {"bf16_r2.npy", IR_F32, "expected f32, found <u2"},
        {"bool_r1.npy", IR_I32, "expected i32, found |b1"},
        {"no_such_file.npy", -1, "cannot open"},
        {"weights_dir", -1, "is a directory"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, DATA "%s", cases[i].file);
        ir_diag *d = ir_diag_new(NULL);
        assert_null(ir_npy_read(path, cases[i].want, d));
        expect_error(d, path, cases[i].frag);
        ir_diag_free(d);
    }
}

/* A .npy image from a header text and a data length (bytes of value fill). */
static uint8_t *make_npy(int major, const char *hdr, size_t ndata, int fill, size_t *len) {
    size_t hl = strlen(hdr), pre = major == 1 ? 10 : 12;
    *len = pre + hl + ndata;
    uint8_t *b = malloc(*len);
    memcpy(b, "\x93NUMPY", 6);
    b[6] = (uint8_t)major;
    b[7] = 0;
    b[8] = (uint8_t)hl;
    b[9] = (uint8_t)(hl >> 8);
    if (major != 1) b[10] = b[11] = 0;
    memcpy(b + pre, hdr, hl);
    memset(b + pre + hl, fill, ndata);
    return b;
}

#define H(descr, shape) "{'descr': '" descr "', 'fortran_order': False, 'shape': " shape ", }\n"

static void test_npy_malformed(void **state) {
    (void)state;
    static const struct {
        const char *hdr; /* header text */
        size_t ndata;    /* data bytes after it */
        int fill;        /* their value */
        const char *frag;
    } cases[] = {
        {H("<f4", "(2, 3)"), 20, 0, "data is truncated"},
        {H("<f4", "(2, 3)"), 28, 0, "4 trailing bytes"},
        {H("<f4", "()"), 0, 0, "data is truncated"},
        {H("<f4", "(2, -3)"), 24, 0, "negative dimension"},
        {H("<f4", "(2147483648,)"), 4, 0, "exceeds the limit"},
        {H("<f4", "(99999999999999999999999,)"), 4, 0, "exceeds the limit"},
        {H("<f4", "(2, 0)"), 0, 0, "dimension 0"},
        {H("<f4", "(2147483647, 2147483647, 2147483647)"), 4, 0, "2^48"},
        {H("<f4", "(1, 1, 1, 1, 1, 1, 1, 1, 1)"), 4, 0, "more than 8 dimensions"},
        {H("<f4", "[2, 3]"), 24, 0, "not a tuple"},
        {H("<f4", "(6)"), 24, 0, "not a tuple"},
        {H("<f4", "(2 3)"), 24, 0, "expected ',' or ')'"},
        {H("<f4", "(2, x)"), 24, 0, "expected a dimension"},
        {H("|b1", "(4,)"), 4, 2, "bool element 0 is 2"},
        {H("<f8", "(1,)"), 8, 0, "'<f8' is not supported"},
        {H("<u1", "(1,)"), 1, 0, "'<u1' is not supported"},
        {"{'descr': '<f4', 'shape': (1,)}", 4, 0, "missing key 'fortran_order'"},
        {"{'fortran_order': False, 'shape': (1,)}", 4, 0, "missing key 'descr'"},
        {"{'descr': '<f4', 'fortran_order': False}", 4, 0, "missing key 'shape'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", 4, 0,
         "unexpected key 'x'"},
        {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", 4, 0,
         "duplicate key 'descr'"},
        {"{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,)}", 4, 0, "True or False"},
        {"{'descr': '<f4', 'fortran_order': Trueish, 'shape': (1,)}", 4, 0, "True or False"},
        {"{'descr': <f4, 'fortran_order': False, 'shape': (1,)}", 4, 0, "quoted descr"},
        {"{'descr': '<f4, 'fortran_order': False, 'shape': (1,)}", 4, 0, "header"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,)", 4, 0, "expected ',' or '}'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} junk", 4, 0, "unexpected text"},
        {"['descr', '<f4']", 4, 0, "not a dictionary"},
        {"", 4, 0, "not a dictionary"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}\x01", 4, 0, "control byte 0x01"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}\xc3\xa9", 4, 0, "non-ASCII"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len;
        uint8_t *b = make_npy(1, cases[i].hdr, cases[i].ndata, cases[i].fill, &len);
        ir_diag *d = ir_diag_new(NULL);
        ir_tensor *t = ir_npy_parse("bad.npy", b, len, -1, d);
        if (t) fail_msg("case %zu accepted: %s", i, cases[i].hdr);
        expect_error(d, "bad.npy: ", cases[i].frag);
        ir_diag_free(d);
        free(b);
    }
}

/* Whitespace, key order, double quotes, trailing commas and Python 2's 'L'
 * are all fine. */
static void test_npy_tolerant_header(void **state) {
    (void)state;
    const char *hdrs[] = {
        "{ 'shape' : ( 2 , 3 , ) ,\t'fortran_order':False,  \"descr\":'<f4' , }   \n",
        "{'descr':'<f4','fortran_order':False,'shape':(2,3)}",
        "{'fortran_order': False, 'shape': (2L, 3L), 'descr': \"<f4\"}\r\n",
    };
    for (size_t i = 0; i < sizeof hdrs / sizeof hdrs[0]; i++) {
        for (int major = 1; major <= 3; major++) {
            size_t len;
            uint8_t *b = make_npy(major, hdrs[i], 24, 0, &len);
            ir_diag *d = ir_diag_new(NULL);
            ir_tensor *t = ir_npy_parse("ok.npy", b, len, IR_F32, d);
            if (!t) fail_msg("header %zu v%d: %s", i, major, ir_diag_text(d));
            assert_int_equal(t->shape.rank, 2);
            assert_int_equal(t->shape.d[0], 2);
            assert_int_equal(t->shape.d[1], 3);
            ir_tensor_free(t);
            ir_diag_free(d);
            free(b);
        }
    }
}

static void test_npy_bad_prefix(void **state) {
    (void)state;
    static const struct {
        const char *bytes;
        size_t len;
        const char *frag;
    } cases[] = {
        {"", 0, "empty file"},
        {"PK\x03\x04junkjunkjunk", 16, "bad magic"},
        {"\x93NUMPZ\x01\x00\x10\x00", 10, "bad magic"},
        {"\x93NUM", 4, "truncated header"},
        {"\x93NUMPY\x01", 7, "truncated header"},
        {"\x93NUMPY\x01\x00\x7f", 9, "truncated header"},
        {"\x93NUMPY\x02\x00\x10\x00", 10, "truncated header"},
        {"\x93NUMPY\x04\x00\x10\x00\x00\x00", 12, "version 4.0"},
        {"\x93NUMPY\x01\x01\x10\x00", 10, "version 1.1"},
        {"\x93NUMPY\x01\x00\xff\xff{}", 12, "header length 65535 runs past the end"},
        {"\x93NUMPY\x02\x00\xff\xff\xff\xff{}", 14, "header length 4294967295 runs past"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t *b = malloc(cases[i].len ? cases[i].len : 1);
        memcpy(b, cases[i].bytes, cases[i].len);
        ir_diag *d = ir_diag_new(NULL);
        assert_null(ir_npy_parse("x.npy", cases[i].len ? b : NULL, cases[i].len, -1, d));
        expect_error(d, "x.npy: ", cases[i].frag);
        ir_diag_free(d);
        free(b);
    }
    /* an empty file on disk */
    write_file(tmp("empty.npy"), "", 0);
    ir_diag *d = ir_diag_new(NULL);
    assert_null(ir_npy_read(tmp("empty.npy"), -1, d));
    expect_error(d, tmp("empty.npy"), "empty file");
    ir_diag_free(d);
}

/* Every prefix of a valid file is refused, and random corruption of a valid
 * file never crashes or reads out of bounds (the sanitizer build watches). */
static void test_npy_truncation_and_corruption(void **state) {
    (void)state;
    size_t len;
    uint8_t *good = slurp(DATA "f32_r3.npy", &len);
    for (size_t n = 0; n < len; n++) {
        uint8_t *b = malloc(n ? n : 1);
        memcpy(b, good, n);
        ir_diag *d = ir_diag_new(NULL);
        assert_null(ir_npy_parse("p.npy", b, n, -1, d));
        assert_int_equal(ir_diag_errors(d), 1);
        ir_diag_free(d);
        free(b);
    }
    uint64_t r = 42;
    for (int iter = 0; iter < 20000; iter++) {
        uint8_t *b = malloc(len);
        memcpy(b, good, len);
        int flips = 1 + iter % 3;
        for (int k = 0; k < flips; k++) {
            r = r * 6364136223846793005ULL + 1442695040888963407ULL;
            size_t at = (size_t)(r >> 33) % 128; /* the prefix and header */
            b[at] = (uint8_t)(r >> 20);
        }
        ir_diag *d = ir_diag_new(NULL);
        ir_tensor *t = ir_npy_parse("c.npy", b, len, -1, d);
        if (t) {
            assert_int_equal(ir_diag_errors(d), 0);
            assert_true(ir_tensor_bytes(t) <= len);
        } else {
            assert_int_equal(ir_diag_errors(d), 1);
        }
        ir_tensor_free(t);
        ir_diag_free(d);
        free(b);
    }
    free(good);
}

/* A pipe has no size: the reader falls back to reading it whole. */
static void test_npy_read_pipe(void **state) {
    (void)state;
    size_t len;
    uint8_t *b = slurp(DATA "i32_r3.npy", &len);
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    assert_int_equal(write(fd[1], b, len), (ssize_t)len);
    close(fd[1]);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd[0]);
    ir_diag *d = ir_diag_new(NULL);
    ir_tensor *t = ir_npy_read(path, IR_I32, d);
    close(fd[0]);
    if (!t) fail_msg("%s", ir_diag_text(d));
    ir_tensor *want = fixture_tensor(IR_I32, 3);
    assert_tensor_eq(t, want);
    ir_tensor_free(want);
    ir_tensor_free(t);
    ir_diag_free(d);
    free(b);
}

static void test_npy_write_error(void **state) {
    (void)state;
    ir_tensor *t = fixture_tensor(IR_F32, 1);
    ir_diag *d = ir_diag_new(NULL);
    assert_int_equal(ir_npy_write(tmp("no/such/dir/x.npy"), t, d), -1);
    expect_error(d, "no/such/dir/x.npy", "cannot write");
    ir_diag_free(d);
    ir_tensor_free(t);
}

/* ------------------------------------------------------- safetensors */

static void check_values(const ir_tensor *t, ir_dtype dt, int rank, const int64_t *dims) {
    assert_int_equal(t->dtype, dt);
    ir_shape s = ir_shape_make(rank, dims);
    assert_true(ir_shape_eq(&t->shape, &s));
    for (int64_t i = 0; i < ir_shape_numel(&s); i++) {
        if (dt == IR_I32)
            assert_int_equal(((int32_t *)t->data)[i], fixture_i(i));
        else if (dt == IR_BOOL)
            assert_int_equal(((uint8_t *)t->data)[i], fixture_b(i));
        else
            assert_true(((float *)t->data)[i] == fixture_f(i));
    }
}

static void test_safetensors_valid(void **state) {
    (void)state;
    ir_diag *d = ir_diag_new(NULL);
    const char *path = DATA "valid.safetensors";
    ir_weights *w = ir_weights_open(path, d);
    if (!w) fail_msg("%s", ir_diag_text(d));
    ir_tensor *t;
    assert_int_equal(ir_weights_get(w, "a", &t, d), 1);
    check_values(t, IR_F32, 2, (int64_t[]){2, 3});
    ir_tensor_free(t);
    assert_int_equal(ir_weights_get(w, "h", &t, d), 1);
    check_values(t, IR_F16, 1, (int64_t[]){4});
    ir_tensor_free(t);
    assert_int_equal(ir_weights_get(w, "b16", &t, d), 1);
    check_values(t, IR_BF16, 2, (int64_t[]){2, 2});
    ir_tensor_free(t);
    assert_int_equal(ir_weights_get(w, "i", &t, d), 1);
    check_values(t, IR_I32, 1, (int64_t[]){3});
    ir_tensor_free(t);
    assert_int_equal(ir_weights_get(w, "m", &t, d), 1);
    check_values(t, IR_BOOL, 2, (int64_t[]){2, 2});
    ir_tensor_free(t);
    assert_int_equal(ir_weights_get(w, "s", &t, d), 1);
    check_values(t, IR_F32, 0, NULL);
    ir_tensor_free(t);
    /* asked twice: a fresh copy each time */
    ir_tensor *t2;
    assert_int_equal(ir_weights_get(w, "a", &t, d), 1);
    assert_int_equal(ir_weights_get(w, "a", &t2, d), 1);
    assert_ptr_not_equal(t->data, t2->data);
    assert_tensor_eq(t, t2);
    ir_tensor_free(t);
    ir_tensor_free(t2);
    assert_int_equal(ir_diag_errors(d), 0);

    t = (ir_tensor *)1;
    assert_int_equal(ir_weights_get(w, "nope", &t, d), 0);
    assert_null(t);
    assert_int_equal(ir_weights_get(w, "__metadata__", &t, d), 0);
    assert_int_equal(ir_weights_get(w, "", &t, d), 0);
    assert_int_equal(ir_diag_errors(d), 0);
    ir_diag_free(d);

    static const struct {
        const char *name, *frag;
    } bad[] = {
        {"d", "weight 'd' has dtype F64, which wsc does not read"},
        {"l", "weight 'l' has dtype I64, which wsc does not read"},
        {"q", "weight 'q' has dtype F8_E4M3, which wsc does not read"},
        {"z", "weight 'z' has shape [0, 3], which wsc cannot represent"},
        {"r9", "weight 'r9' has shape of rank > 8"},
        {"badbool", "bool element 1 is 7"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        d = ir_diag_new(NULL);
        t = (ir_tensor *)1;
        assert_int_equal(ir_weights_get(w, bad[i].name, &t, d), -1);
        assert_null(t);
        expect_error(d, path, bad[i].frag);
        ir_diag_free(d);
    }
    /* everything was asked for: nothing unused */
    d = ir_diag_new(NULL);
    ir_weights_warn_unused(w, d);
    assert_int_equal(ir_diag_warnings(d), 0);
    ir_diag_free(d);
    ir_weights_close(w);
}

/* A safetensors image: 8-byte length, header text, then ndata bytes. */
static void write_st(const char *path, uint64_t hlen, const char *hdr, size_t ndata) {
    size_t hl = strlen(hdr);
    uint8_t *b = calloc(1, 8 + hl + ndata + 1);
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(hlen >> (8 * i));
    memcpy(b + 8, hdr, hl);
    write_file(path, b, 8 + hl + ndata);
    free(b);
}

static void test_safetensors_malformed(void **state) {
    (void)state;
    static const struct {
        long long hlen;   /* -1: the header text's length */
        const char *hdr;  /* header text */
        size_t ndata;     /* data bytes */
        const char *frag; /* in the message */
    } cases[] = {
        {-1, "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}", 8,
         "not valid JSON"},
        {-1, "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}} x", 8,
         "not valid JSON"},
        {-1, "", 0, "not valid JSON"},
        {-1, "[1, 2]", 0, "not a JSON object"},
        {-1, "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 12]}}", 8,
         "'a' has data_offsets [0, 12] past the end of the data (8 bytes)"},
        {-1, "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [8, 4]}}", 8,
         "malformed data_offsets"},
        {-1, "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [-4, 4]}}", 8,
         "malformed data_offsets"},
        {-1, "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0]}}", 8,
         "malformed data_offsets"},
        {-1, "{\"a\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [0, 8]}}", 8,
         "has 8 bytes of data but its shape and dtype F32 need 12"},
        {-1, "{\"a\": {\"dtype\": \"F16\", \"shape\": [2, 2], \"data_offsets\": [0, 4]}}", 8,
         "need 8"},
        {-1,
         "{\"a\": {\"dtype\": \"F32\", \"shape\": [4294967296, 4294967296], "
         "\"data_offsets\": [0, 0]}}",
         8, "overflows"},
        {-1, "{\"a\": {\"dtype\": \"F32\", \"shape\": [2, -1], \"data_offsets\": [0, 8]}}", 8,
         "not a non-negative integer"},
        {-1, "{\"a\": {\"dtype\": \"F32\", \"shape\": [2.0], \"data_offsets\": [0, 8]}}", 8,
         "not a non-negative integer"},
        {-1, "{\"a\": {\"dtype\": \"F32\", \"shape\": 2, \"data_offsets\": [0, 8]}}", 8,
         "shape that is not a list"},
        {-1, "{\"a\": {\"dtype\": 7, \"shape\": [2], \"data_offsets\": [0, 8]}}", 8,
         "dtype that is not a string"},
        {-1, "{\"a\": {\"shape\": [2], \"data_offsets\": [0, 8]}}", 8, "'a' lacks dtype"},
        {-1, "{\"a\": {\"dtype\": \"F32\", \"data_offsets\": [0, 8]}}", 8, "'a' lacks shape"},
        {-1, "{\"a\": {\"dtype\": \"F32\", \"shape\": [2]}}", 8, "'a' lacks data_offsets"},
        {-1, "{\"a\": [1, 2]}", 8, "'a' is not an object"},
        {-1,
         "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}, "
         "\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}",
         8, "duplicate"},
        {1000, "{}", 0, "header length 1000 is past the end of the file"},
        {1LL << 62, "{}", 0, "past the end of the file"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *p = tmp("bad.safetensors");
        write_st(p, cases[i].hlen < 0 ? strlen(cases[i].hdr) : (uint64_t)cases[i].hlen,
                 cases[i].hdr, cases[i].ndata);
        ir_diag *d = ir_diag_new(NULL);
        ir_weights *w = ir_weights_open(p, d);
        if (w) fail_msg("case %zu accepted: %s", i, cases[i].hdr);
        expect_error(d, p, cases[i].frag);
        ir_diag_free(d);
    }

    /* too short for the length field */
    write_file(tmp("short.safetensors"), "\x10\x00\x00", 3);
    ir_diag *d = ir_diag_new(NULL);
    assert_null(ir_weights_open(tmp("short.safetensors"), d));
    expect_error(d, tmp("short.safetensors"), "truncated");
    ir_diag_free(d);

    /* a header length under the file size but over the 100 MB sanity limit
     * (a sparse file, so this costs no disk) */
    const char *big = tmp("big.safetensors");
    write_st(big, 150u << 20, "{}", 0);
    assert_int_equal(truncate(big, (off_t)(200u << 20)), 0);
    d = ir_diag_new(NULL);
    assert_null(ir_weights_open(big, d));
    expect_error(d, big, "is too large");
    ir_diag_free(d);
    remove(big);

    /* a .npy file given as weights */
    d = ir_diag_new(NULL);
    assert_null(ir_weights_open(DATA "f32_r2.npy", d));
    expect_error(d, "f32_r2.npy", "is a .npy file");
    ir_diag_free(d);

    d = ir_diag_new(NULL);
    assert_null(ir_weights_open(tmp("missing.safetensors"), d));
    expect_error(d, "missing.safetensors", "cannot open weights");
    ir_diag_free(d);

    d = ir_diag_new(NULL);
    assert_null(ir_weights_open("/dev/null", d));
    expect_error(d, "/dev/null", "neither");
    ir_diag_free(d);

    /* an empty but valid file; an unknown dtype passes open and fails get */
    write_st(tmp("e.safetensors"), 2, "{}", 0);
    d = ir_diag_new(NULL);
    ir_weights *w = ir_weights_open(tmp("e.safetensors"), d);
    assert_non_null(w);
    ir_tensor *t;
    assert_int_equal(ir_weights_get(w, "a", &t, d), 0);
    ir_weights_warn_unused(w, d);
    assert_int_equal(ir_diag_errors(d) + ir_diag_warnings(d), 0);
    ir_weights_close(w);
    write_st(tmp("u.safetensors"), 0,
             "{\"x\": {\"dtype\": \"F4_NEW\", \"shape\": [3], \"data_offsets\": [0, 2]}, "
             "\"__metadata__\": {\"k\": \"v\"}}",
             2);
    /* the length field was 0 above: rewrite with the right one */
    const char *uh = "{\"x\": {\"dtype\": \"F4_NEW\", \"shape\": [3], \"data_offsets\": [0, 2]}, "
                     "\"__metadata__\": {\"k\": \"v\"}}";
    write_st(tmp("u.safetensors"), strlen(uh), uh, 2);
    w = ir_weights_open(tmp("u.safetensors"), d);
    if (!w) fail_msg("%s", ir_diag_text(d));
    assert_int_equal(ir_weights_get(w, "x", &t, d), -1);
    expect_error(d, "u.safetensors", "weight 'x' has dtype F4_NEW, which wsc does not read");
    ir_weights_close(w);
    ir_diag_free(d);
}

/* Every truncation of a valid file is refused or, where the cut leaves a
 * consistent file, accepted, and never read past the end. */
static void test_safetensors_truncations(void **state) {
    (void)state;
    size_t len;
    uint8_t *good = slurp(DATA "valid.safetensors", &len);
    for (size_t n = 0; n < len; n++) {
        write_file(tmp("cut.safetensors"), good, n);
        ir_diag *d = ir_diag_new(NULL);
        ir_weights *w = ir_weights_open(tmp("cut.safetensors"), d);
        assert_null(w);
        assert_int_equal(ir_diag_errors(d), 1);
        ir_diag_free(d);
    }
    free(good);
}

static void test_weights_directory(void **state) {
    (void)state;
    const char *dir = DATA "weights_dir";
    ir_diag *d = ir_diag_new(NULL);
    ir_weights *w = ir_weights_open(dir, d);
    if (!w) fail_msg("%s", ir_diag_text(d));
    ir_tensor *t;
    assert_int_equal(ir_weights_get(w, "a", &t, d), 1);
    check_values(t, IR_F32, 2, (int64_t[]){2, 3});
    ir_tensor_free(t);
    /* bf16 weights are stored as <u2 */
    assert_int_equal(ir_weights_get(w, "c", &t, d), 1);
    check_values(t, IR_BF16, 1, (int64_t[]){4});
    ir_tensor_free(t);
    /* not weights: other extensions, hidden files, the bare name */
    assert_int_equal(ir_weights_get(w, "notes", &t, d), 0);
    assert_int_equal(ir_weights_get(w, "notes.txt", &t, d), 0);
    assert_int_equal(ir_weights_get(w, ".hidden", &t, d), 0);
    assert_int_equal(ir_weights_get(w, "a.npy", &t, d), 0);
    assert_int_equal(ir_diag_errors(d), 0);
    /* a broken file fails when asked for, naming the file */
    assert_int_equal(ir_weights_get(w, "bad", &t, d), -1);
    assert_null(t);
    expect_error(d, "weights_dir/bad.npy: ", "header");
    ir_diag_free(d);
    d = ir_diag_new(NULL);
    ir_weights_warn_unused(w, d);
    assert_int_equal(ir_diag_warnings(d), 1);
    assert_non_null(strstr(ir_diag_text(d), "weights_dir: weight 'b' is not used by any param"));
    ir_diag_free(d);
    ir_weights_close(w);

    /* an empty directory is an empty set */
    mkdir(tmp("emptydir"), 0700);
    d = ir_diag_new(NULL);
    w = ir_weights_open(tmp("emptydir"), d);
    assert_non_null(w);
    assert_int_equal(ir_weights_get(w, "a", &t, d), 0);
    ir_weights_close(w);
    ir_diag_free(d);
}

static void test_warn_unused(void **state) {
    (void)state;
    ir_diag *d = ir_diag_new(NULL);
    const char *path = DATA "valid.safetensors";
    ir_weights *w = ir_weights_open(path, d);
    ir_tensor *t;
    assert_int_equal(ir_weights_get(w, "h", &t, d), 1);
    ir_tensor_free(t);
    assert_int_equal(ir_weights_get(w, "d", &t, d), -1); /* unreadable still counts as asked */
    ir_weights_get(w, "missing", &t, d);
    ir_diag_free(d);
    d = ir_diag_new(NULL);
    ir_weights_warn_unused(w, d);
    /* sorted by name (bytewise), __metadata__ never listed */
    const char *order[] = {"a", "b16", "badbool", "i", "l", "m", "q", "r9", "s", "z"};
    assert_int_equal(ir_diag_warnings(d), 10);
    assert_int_equal(ir_diag_errors(d), 0);
    const char *text = ir_diag_text(d), *at = text;
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        char want[512];
        snprintf(want, sizeof want, "warning: %s: weight '%s' is not used by any param\n", path,
                 order[i]);
        const char *p = strstr(at, want);
        if (!p) fail_msg("missing or out of order: %s in\n%s", want, text);
        at = p + strlen(want);
    }
    assert_null(strstr(text, "__metadata__"));
    assert_null(strstr(text, "'h'"));
    assert_null(strstr(text, "'d'"));
    ir_diag_free(d);
    ir_weights_close(w);
}

/* --------------------------------------------------------- generator */

static ir_tensor *filled(ir_dtype dt, int64_t n, uint64_t seed, const char *name, bool normal,
                         double a, double b) {
    ir_shape s = ir_shape_make(1, &n);
    ir_tensor *t = ir_tensor_new(dt, &s);
    assert_non_null(t);
    if (normal)
        ir_fill_normal(t, seed, name, a, b);
    else
        ir_fill_uniform(t, seed, name, a, b);
    return t;
}

/* Values computed in Python from the definition in docs/formats.md, with a
 * port of wsc's own log / cos / sin (Python's floats round as C's doubles
 * do): ours must agree to the last bit. */
static void test_rng_golden(void **state) {
    (void)state;
    int n = (int)(sizeof rng_cases / sizeof rng_cases[0]);
    for (int i = 0; i < n; i++) {
        const struct rng_case *c = &rng_cases[i];
        ir_tensor *t = filled(IR_F32, c->i + 1, c->seed, c->name, c->normal, c->a, c->b);
        uint32_t got = fbits(((float *)t->data)[c->i]);
        if (got != c->bits)
            fail_msg("case %d (%s, seed %llu, i %lld): got 0x%08x, want 0x%08x", i, c->name,
                     (unsigned long long)c->seed, (long long)c->i, got, c->bits);
        ir_tensor_free(t);
    }
}

/* The definition, written again here with libm, on a large tensor whose
 * fill runs on several threads: the thread split must not matter. */
static double ref_unit(uint64_t key, uint64_t c) {
    uint64_t z = key + (c + 1) * 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return ((double)(z >> 12) + 0.5) * 0x1p-52;
}

static void test_rng_matches_definition(void **state) {
    (void)state;
    const int64_t n = 3 << 20;
    const char *name = "blocks.3.attn.w_qkv";
    ir_tensor *t = filled(IR_F32, n, 7, name, true, 0.5, 0.25);
    ir_tensor *u = filled(IR_F32, n, 7, name, false, -2.0, 6.0);
    uint64_t key = XXH64(name, strlen(name), 7);
    int64_t off = 0;
    for (int64_t i = 0; i < n; i++) {
        /* elements 2p and 2p + 1: the cosine and the sine of pair p */
        uint64_t p = (uint64_t)i / 2;
        double u1 = ref_unit(key, 2 * p), u2 = ref_unit(key, 2 * p + 1);
        double r = sqrt(-2.0 * log(u1));
        double zv = i & 1 ? r * sin(2 * M_PI * u2) : r * cos(2 * M_PI * u2);
        float want = (float)(0.5 + 0.25 * zv);
        float got = ((float *)t->data)[i];
        if (got != want) {
            off++;
            if (!(fabsf(got - want) <= fabsf(want) * 2.5e-7f))
                fail_msg("normal element %lld: got %.9g, want %.9g", (long long)i, got, want);
        }
        float uw = (float)(-2.0 + 8.0 * ref_unit(key, (uint64_t)i));
        if (((float *)u->data)[i] != uw)
            fail_msg("uniform element %lld: got %.9g, want %.9g", (long long)i,
                     ((float *)u->data)[i], uw);
    }
    /* libm and our log/cos differ in the last bit of a double now and then;
     * that shows in the float only next to a rounding boundary */
    assert_true(off <= n / 10000);
    ir_tensor_free(t);
    ir_tensor_free(u);
}

static void test_rng_determinism(void **state) {
    (void)state;
    const int64_t n = 5000;
    ir_tensor *a = filled(IR_F32, n, 0, "w", true, 0, 1);
    ir_tensor *b = filled(IR_F32, n, 0, "w", true, 0, 1);
    assert_tensor_eq(a, b); /* same name, same stream */
    ir_tensor *c = filled(IR_F32, n, 0, "w2", true, 0, 1);
    ir_tensor *e = filled(IR_F32, n, 1, "w", true, 0, 1);
    int same_c = 0, same_e = 0;
    for (int64_t i = 0; i < n; i++) {
        same_c += ((float *)a->data)[i] == ((float *)c->data)[i];
        same_e += ((float *)a->data)[i] == ((float *)e->data)[i];
    }
    assert_true(same_c < 5); /* another name or seed: another stream */
    assert_true(same_e < 5);
    /* element i depends on i alone: a shorter or reshaped tensor is a prefix */
    ir_tensor *p = filled(IR_F32, 100, 0, "w", true, 0, 1);
    assert_memory_equal(p->data, a->data, 100 * sizeof(float));
    ir_shape s2 = ir_shape_make(2, (int64_t[]){50, 100});
    ir_tensor *q = ir_tensor_new(IR_F32, &s2);
    ir_fill_normal(q, 0, "w", 0, 1);
    assert_memory_equal(q->data, a->data, 5000 * sizeof(float));
    /* a NULL name is the empty name */
    ir_tensor *z1 = filled(IR_F32, 10, 3, NULL, false, 0, 1),
              *z2 = filled(IR_F32, 10, 3, "", false, 0, 1);
    assert_tensor_eq(z1, z2);
    ir_tensor_free(z1);
    ir_tensor_free(z2);
    ir_tensor_free(q);
    ir_tensor_free(p);
    ir_tensor_free(a);
    ir_tensor_free(b);
    ir_tensor_free(c);
    ir_tensor_free(e);
}

/* The thread split must not matter: a fill limited to one CPU (so run on one
 * thread) gives the same bits as one free to use all of them, for sizes that
 * split inside a pair or a block, for every dtype path; and a tensor of odd
 * length is a prefix of a longer one (its last pair is cut in half). */
static void test_rng_threads(void **state) {
    (void)state;
    const int64_t sizes[] = {(1 << 20) + 37, (3 << 19) + 1, 999999};
    cpu_set_t all, one;
    bool pinned = sched_getaffinity(0, sizeof all, &all) == 0 && CPU_COUNT(&all) > 1;
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        for (int normal = 0; normal < 2; normal++) {
            ir_dtype dts[] = {IR_F32, IR_BF16, IR_I32};
            for (int d = 0; d < 3; d++) {
                double a = dts[d] == IR_I32 ? 0 : 0.25, b = dts[d] == IR_I32 ? 50 : 2;
                ir_tensor *x = filled(dts[d], sizes[k], 11, "th", normal, a, b);
                if (pinned) {
                    CPU_ZERO(&one);
                    for (int c = 0; c < CPU_SETSIZE; c++)
                        if (CPU_ISSET(c, &all)) {
                            CPU_SET(c, &one);
                            break;
                        }
                    assert_int_equal(sched_setaffinity(0, sizeof one, &one), 0);
                }
                ir_tensor *y = filled(dts[d], sizes[k], 11, "th", normal, a, b);
                if (pinned) assert_int_equal(sched_setaffinity(0, sizeof all, &all), 0);
                assert_tensor_eq(x, y);
                ir_tensor_free(x);
                ir_tensor_free(y);
            }
        }
    }
    ir_tensor *l = filled(IR_F32, 1000, 2, "odd", true, 0, 1);
    for (int64_t n = 1; n < 140; n += 2) {
        ir_tensor *s = filled(IR_F32, n, 2, "odd", true, 0, 1);
        assert_memory_equal(s->data, l->data, (size_t)n * sizeof(float));
        ir_tensor_free(s);
    }
    ir_tensor_free(l);
}

static void moments(const ir_tensor *t, double *mean, double *std) {
    int64_t n = ir_shape_numel(&t->shape);
    double s = 0, s2 = 0;
    for (int64_t i = 0; i < n; i++) {
        double v = t->dtype == IR_I32 ? ((int32_t *)t->data)[i] : ((float *)t->data)[i];
        s += v;
        s2 += v * v;
    }
    *mean = s / (double)n;
    *std = sqrt(s2 / (double)n - *mean * *mean);
}

static void test_rng_statistics(void **state) {
    (void)state;
    const int64_t n = 100000;
    double m, sd;
    ir_tensor *t = filled(IR_F32, n, 0, "stats", true, 0, 1);
    moments(t, &m, &sd);
    /* standard error of the mean: 1/sqrt(n) = 0.0032; of the std: 0.0022 */
    assert_true(fabs(m) < 0.015);
    assert_true(fabs(sd - 1) < 0.01);
    /* the shape of a normal: 68.27% within one sigma, 95.45% within two */
    int64_t in1 = 0, in2 = 0;
    for (int64_t i = 0; i < n; i++) {
        double v = fabs(((float *)t->data)[i]);
        in1 += v < 1;
        in2 += v < 2;
    }
    assert_true(fabs((double)in1 / n - 0.6827) < 0.006);
    assert_true(fabs((double)in2 / n - 0.9545) < 0.004);
    ir_tensor_free(t);

    t = filled(IR_F32, n, 9, "scaled", true, 2.0, 3.0);
    moments(t, &m, &sd);
    assert_true(fabs(m - 2) < 0.045);
    assert_true(fabs(sd - 3) < 0.03);
    ir_tensor_free(t);

    t = filled(IR_F32, n, 0, "u", false, -1.5, 2.5);
    moments(t, &m, &sd);
    assert_true(fabs(m - 0.5) < 0.02);
    assert_true(fabs(sd - 4 / sqrt(12)) < 0.01);
    int64_t bins[8] = {0};
    for (int64_t i = 0; i < n; i++) {
        float v = ((float *)t->data)[i];
        assert_true(v >= -1.5f && v <= 2.5f);
        bins[(int)((v + 1.5f) * 2) & 7]++;
    }
    for (int k = 0; k < 8; k++)
        assert_true(llabs(bins[k] - n / 8) < 600); /* ~5 sigma */
    ir_tensor_free(t);
}

static void test_rng_dtypes(void **state) {
    (void)state;
    const int64_t n = 20000;
    ir_tensor *f = filled(IR_F32, n, 5, "p", true, 0.1, 2);
    ir_tensor *h = filled(IR_F16, n, 5, "p", true, 0.1, 2);
    ir_tensor *b = filled(IR_BF16, n, 5, "p", true, 0.1, 2);
    for (int64_t i = 0; i < n; i++) {
        float v = ((float *)f->data)[i];
        assert_int_equal(fbits(((float *)h->data)[i]), fbits(ir_round_f16(v)));
        assert_int_equal(fbits(((float *)b->data)[i]), fbits(ir_round_bf16(v)));
    }
    ir_tensor_free(f);
    ir_tensor_free(h);
    ir_tensor_free(b);
    /* integers: rounded to nearest; uniform(-5, 5) reaches both ends */
    ir_tensor *u = filled(IR_I32, n, 5, "ids", false, -5, 5);
    int seen[11] = {0};
    for (int64_t i = 0; i < n; i++) {
        int32_t v = ((int32_t *)u->data)[i];
        assert_true(v >= -5 && v <= 5);
        seen[v + 5]++;
    }
    for (int k = 0; k < 11; k++)
        assert_true(seen[k] > 0);
    assert_true(seen[0] < seen[1] && seen[10] < seen[9]); /* the ends get half a bin */
    ir_tensor_free(u);
    ir_tensor *g = filled(IR_I32, n, 5, "ids", true, 100, 10);
    double m, sd;
    moments(g, &m, &sd);
    assert_true(fabs(m - 100) < 0.5);
    assert_true(fabs(sd - 10) < 0.3);
    ir_tensor_free(g);
    ir_tensor *s = filled(IR_I32, 4, 5, "big", false, 1e12, 2e12); /* saturates */
    for (int i = 0; i < 4; i++)
        assert_int_equal(((int32_t *)s->data)[i], INT32_MAX);
    ir_tensor_free(s);
    /* a scalar gets element 0 */
    ir_shape s0 = ir_shape_make(0, NULL);
    ir_tensor *sc = ir_tensor_new(IR_F32, &s0);
    ir_fill_normal(sc, 0, "w", 0, 1);
    assert_int_equal(fbits(*(float *)sc->data), rng_cases[0].bits);
    ir_tensor_free(sc);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dtypes),
        cmocka_unit_test(test_shapes),
        cmocka_unit_test(test_tensor_new),
        cmocka_unit_test(test_f16_bf16_exhaustive),
        cmocka_unit_test(test_conversion_table),
        cmocka_unit_test(test_conversion_fixture),
        cmocka_unit_test(test_tensor_round),
        cmocka_unit_test(test_npy_read_fixtures),
        cmocka_unit_test(test_npy_write_matches_numpy),
        cmocka_unit_test(test_npy_roundtrip),
        cmocka_unit_test(test_npy_versions_and_fortran),
        cmocka_unit_test(test_npy_refused_files),
        cmocka_unit_test(test_npy_malformed),
        cmocka_unit_test(test_npy_tolerant_header),
        cmocka_unit_test(test_npy_bad_prefix),
        cmocka_unit_test(test_npy_truncation_and_corruption),
        cmocka_unit_test(test_npy_read_pipe),
        cmocka_unit_test(test_npy_write_error),
        cmocka_unit_test(test_safetensors_valid),
        cmocka_unit_test(test_safetensors_malformed),
        cmocka_unit_test(test_safetensors_truncations),
        cmocka_unit_test(test_weights_directory),
        cmocka_unit_test(test_warn_unused),
        cmocka_unit_test(test_rng_golden),
        cmocka_unit_test(test_rng_matches_definition),
        cmocka_unit_test(test_rng_determinism),
        cmocka_unit_test(test_rng_threads),
        cmocka_unit_test(test_rng_statistics),
        cmocka_unit_test(test_rng_dtypes),
    };
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
