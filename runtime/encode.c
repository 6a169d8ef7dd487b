/* encode.c - the byte encoders and decoders every artifact section uses:
 * little-endian fixed-width integers and doubles, length-prefixed strings
 * and raw bytes. Decoding is bounds-checked and sticky: after the first
 * failure every read returns 0 (or NULL), so a decoder may read a whole
 * record and test `bad` once, and hostile bytes cannot make it read past
 * the end. */
#include "rt.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- encoding */

/* A section larger than the address space cannot be built; no model gets
 * near it, so this is reported like running out of memory. */
static _Noreturn void too_large(size_t len, size_t n) {
    fprintf(stderr, "wsc: error: out of memory (a section of %zu + %zu bytes)\n", len, n);
    exit(IR_EXIT_INPUT);
}

/* Room for n more bytes; returns where they go. */
static uint8_t *grow(rt_buf *b, size_t n) {
    if (n > SIZE_MAX - b->len) too_large(b->len, n);
    size_t need = b->len + n;
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < need)
            cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        b->data = ir_xrealloc(b->data, cap);
        b->cap = cap;
    }
    uint8_t *p = b->data + b->len;
    b->len = need;
    return p;
}

static void put_le(rt_buf *b, uint64_t v, int n) {
    uint8_t *p = grow(b, (size_t)n);
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

void rt_put_u8(rt_buf *b, uint8_t v) {
    put_le(b, v, 1);
}
void rt_put_u32(rt_buf *b, uint32_t v) {
    put_le(b, v, 4);
}
void rt_put_u64(rt_buf *b, uint64_t v) {
    put_le(b, v, 8);
}
void rt_put_i64(rt_buf *b, int64_t v) {
    put_le(b, (uint64_t)v, 8);
}

void rt_put_f64(rt_buf *b, double v) {
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    put_le(b, bits, 8);
}

void rt_put_str(rt_buf *b, const char *s) {
    size_t n = strlen(s);
    if (n > UINT32_MAX) too_large(b->len, n);
    rt_put_u32(b, (uint32_t)n);
    rt_put_bytes(b, s, n);
}

void rt_put_bytes(rt_buf *b, const void *p, size_t n) {
    if (n == 0) return; /* p may be NULL then */
    memcpy(grow(b, n), p, n);
}

void rt_put_zeros(rt_buf *b, size_t n) {
    if (n) memset(grow(b, n), 0, n);
}

void rt_buf_free(rt_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* ------------------------------------------------------------- decoding */

rt_reader rt_reader_make(const void *data, size_t len) {
    /* A NULL buffer is an empty section, not a bad one; pointing it at a
     * real byte keeps the pointer arithmetic below defined. */
    static const uint8_t empty[1];
    const uint8_t *p = data ? data : empty;
    return (rt_reader){p, p + (data ? len : 0), false};
}

size_t rt_reader_left(const rt_reader *r) {
    return r->bad ? 0 : (size_t)(r->end - r->p);
}

/* The next n bytes, or NULL (and bad) when fewer are left. */
static const uint8_t *take(rt_reader *r, size_t n) {
    if (r->bad || !r->p || (size_t)(r->end - r->p) < n) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    return p;
}

static uint64_t get_le(rt_reader *r, int n) {
    const uint8_t *p = take(r, (size_t)n);
    if (!p) return 0;
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

uint8_t rt_read_u8(rt_reader *r) {
    return (uint8_t)get_le(r, 1);
}
uint32_t rt_read_u32(rt_reader *r) {
    return (uint32_t)get_le(r, 4);
}
uint64_t rt_read_u64(rt_reader *r) {
    return get_le(r, 8);
}
int64_t rt_read_i64(rt_reader *r) {
    return (int64_t)get_le(r, 8);
}

double rt_read_f64(rt_reader *r) {
    uint64_t bits = get_le(r, 8);
    double v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

const void *rt_read_bytes(rt_reader *r, size_t n) {
    return take(r, n);
}

const char *rt_read_str(rt_reader *r, ir_arena *a) {
    uint32_t n = rt_read_u32(r);
    const char *s = rt_read_bytes(r, n);
    if (!s) return NULL;
    /* An embedded NUL would silently shorten the string. */
    if (memchr(s, 0, n)) {
        r->bad = true;
        return NULL;
    }
    return ir_strndup(a, s, n);
}
