/* tensor.c - dtypes, shapes, dense tensors, and f16/bf16 rounding.
 *
 * f16 and bf16 tensors are float arrays whose values are already rounded to
 * their dtype; the conversions below are bit-exact with NumPy (f16) and
 * PyTorch (bf16): round to nearest, ties to even, subnormals kept, overflow
 * to infinity, NaN kept as a quiet NaN of the same sign. */
#include "ir.h"

#include <stdlib.h>
#include <string.h>

static const char *const dtype_names[IR_NDTYPES] = {"f32", "f16", "bf16", "i32", "bool"};

const char *ir_dtype_name(ir_dtype t) {
    /* A diagnostic about a corrupted node should still print something. */
    return (unsigned)t < IR_NDTYPES ? dtype_names[t] : "?";
}

int ir_dtype_parse(const char *s) {
    if (!s) return -1;
    for (int i = 0; i < IR_NDTYPES; i++)
        if (strcmp(s, dtype_names[i]) == 0) return i;
    return -1;
}

bool ir_dtype_is_float(ir_dtype t) {
    return t == IR_F32 || t == IR_F16 || t == IR_BF16;
}

size_t ir_dtype_size(ir_dtype t) {
    switch (t) {
    case IR_F32:
    case IR_F16:
    case IR_BF16:
    case IR_I32: return 4;
    case IR_BOOL: return 1;
    default: ir_internal_error("ir_dtype_size: bad dtype %d", (int)t);
    }
}

/* The product saturates at IR_MAX_NUMEL + 1, so "numel > IR_MAX_NUMEL" is
 * the limit check and a product of eight huge dimensions cannot wrap around
 * into a small count (and a short allocation). A malformed shape (rank out of
 * range, a negative dimension) gives -1. Zero dimensions count 0 elements
 * although the language forbids them. */
int64_t ir_shape_numel(const ir_shape *s) {
    if (s->rank < 0 || s->rank > IR_MAX_RANK) return -1;
    int64_t n = 1;
    bool over = false;
    for (int i = 0; i < s->rank; i++) {
        int64_t d = s->d[i];
        if (d < 0) return -1;
        if (d == 0) return 0; /* even after a huge prefix */
        if (n > IR_MAX_NUMEL / d)
            over = true;
        else
            n *= d;
    }
    return over || n > IR_MAX_NUMEL ? IR_MAX_NUMEL + 1 : n;
}

bool ir_shape_eq(const ir_shape *a, const ir_shape *b) {
    if (a->rank != b->rank) return false;
    for (int i = 0; i < a->rank; i++)
        if (a->d[i] != b->d[i]) return false;
    return true;
}

ir_shape ir_shape_make(int rank, const int64_t *dims) {
    if (rank < 0 || rank > IR_MAX_RANK) ir_internal_error("ir_shape_make: rank %d", rank);
    ir_shape s;
    memset(&s, 0, sizeof s); /* unused dims stay 0 so shapes compare and hash bytewise */
    s.rank = rank;
    for (int i = 0; i < rank; i++)
        s.d[i] = dims[i];
    return s;
}

/* Appends to buf without ever overrunning it; the result is truncated when n
 * is too small, which only costs a shorter message. */
static size_t append(char *buf, size_t n, size_t at, const char *sep, const char *text) {
    if (at >= n) return at;
    int k = snprintf(buf + at, n - at, "%s%s", sep, text);
    if (k < 0) return at;
    return at + (size_t)k < n ? at + (size_t)k : n;
}

char *ir_shape_str(const ir_shape *s, char *buf, size_t n) {
    if (n == 0) return buf;
    size_t at = append(buf, n, 0, "", "[");
    for (int i = 0; i < s->rank && i < IR_MAX_RANK; i++) {
        char num[24];
        snprintf(num, sizeof num, "%lld", (long long)s->d[i]);
        at = append(buf, n, at, i ? ", " : "", num);
    }
    append(buf, n, at, "", "]");
    return buf;
}

char *ir_type_str(ir_dtype t, const ir_shape *s, char *buf, size_t n) {
    if (n == 0) return buf;
    int k = snprintf(buf, n, "%s", ir_dtype_name(t));
    if (k >= 0 && (size_t)k < n) ir_shape_str(s, buf + k, n - (size_t)k);
    return buf;
}

ir_tensor *ir_tensor_new(ir_dtype t, const ir_shape *s) {
    if ((unsigned)t >= IR_NDTYPES) return NULL;
    int64_t numel = ir_shape_numel(s);
    if (numel < 0 || numel > IR_MAX_NUMEL) return NULL;
    size_t esize = ir_dtype_size(t);
    if ((uint64_t)numel > SIZE_MAX / esize) return NULL;
    size_t bytes = (size_t)numel * esize;
    ir_tensor *r = malloc(sizeof *r);
    if (!r) return NULL;
    /* calloc gives fresh zero pages for big tensors without touching them. */
    r->data = calloc(bytes ? bytes : 1, 1);
    if (!r->data) {
        free(r);
        return NULL;
    }
    r->dtype = t;
    r->shape = ir_shape_make(s->rank, s->d);
    return r;
}

void ir_tensor_free(ir_tensor *t) {
    if (!t) return;
    free(t->data);
    free(t);
}

size_t ir_tensor_bytes(const ir_tensor *t) {
    return (size_t)ir_shape_numel(&t->shape) * ir_dtype_size(t->dtype);
}

ir_tensor *ir_tensor_clone(const ir_tensor *t) {
    if (!t) return NULL;
    ir_tensor *r = ir_tensor_new(t->dtype, &t->shape);
    if (r) memcpy(r->data, t->data, ir_tensor_bytes(t));
    return r;
}

/* ------------------------------------------------------- f16 and bf16 */

static uint32_t float_bits(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static float bits_float(uint32_t u) {
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

uint16_t ir_f32_to_f16_bits(float x) {
    uint32_t u = float_bits(x);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    uint32_t a = u & 0x7fffffff;
    if (a > 0x7f800000) /* NaN: quiet it, keep the top payload bits */
        return (uint16_t)(sign | 0x7e00 | ((a >> 13) & 0x3ff));
    if (a >= 0x477ff000) /* >= 65520, halfway past the largest f16 (65504) */
        return sign | 0x7c00;
    if (a >= 0x38800000) { /* normal in f16: rebias, round 13 bits away */
        uint32_t v = a - (112u << 23);
        v += 0xfff + ((v >> 13) & 1); /* a carry into the exponent is right */
        return (uint16_t)(sign | (v >> 13));
    }
    if (a <= 0x33000000) /* <= 2^-25, half the smallest subnormal: ties to 0 */
        return sign;
    /* Subnormal: value / 2^-24 = mantissa * 2^(e - 126), e in 102..112. */
    uint32_t e = a >> 23, m = (a & 0x7fffff) | 0x800000;
    uint32_t shift = 126 - e; /* 14..24 */
    uint32_t q = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1))) q++; /* may become 0x400: min normal */
    return (uint16_t)(sign | q);
}

float ir_f16_bits_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t e = (h >> 10) & 0x1f, m = h & 0x3ff;
    if (e == 0x1f) return bits_float(sign | 0x7f800000 | (m << 13));
    if (e == 0) {
        float v = (float)m * 0x1p-24f; /* exact: m < 2^10 */
        return sign ? -v : v;
    }
    return bits_float(sign | ((e + 112) << 23) | (m << 13));
}

uint16_t ir_f32_to_bf16_bits(float x) {
    uint32_t u = float_bits(x);
    if ((u & 0x7fffffff) > 0x7f800000) /* NaN: truncation could make it Inf */
        return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fff + ((u >> 16) & 1); /* overflow into Inf is the right rounding */
    return (uint16_t)(u >> 16);
}

float ir_bf16_bits_to_f32(uint16_t h) {
    return bits_float((uint32_t)h << 16);
}

float ir_round_f16(float x) {
    return ir_f16_bits_to_f32(ir_f32_to_f16_bits(x));
}

float ir_round_bf16(float x) {
    return ir_bf16_bits_to_f32(ir_f32_to_bf16_bits(x));
}

void ir_tensor_round(ir_tensor *t) {
    if (t->dtype != IR_F16 && t->dtype != IR_BF16) return;
    float *p = t->data;
    int64_t n = ir_shape_numel(&t->shape);
    if (t->dtype == IR_F16)
        for (int64_t i = 0; i < n; i++)
            p[i] = ir_round_f16(p[i]);
    else
        for (int64_t i = 0; i < n; i++)
            p[i] = ir_round_bf16(p[i]);
}
