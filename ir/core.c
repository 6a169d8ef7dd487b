/* core.c - allocation that cannot fail, arenas, internal errors. */
#include "ir.h"

#include <stdlib.h>
#include <string.h>

void ir_internal_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("wsc: internal error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n(this is a bug in wsc; please report it with the input that caused it)\n", stderr);
    va_end(ap);
    exit(IR_EXIT_INTERNAL);
}

/* Running out of memory means the model is too large for this host: that is
 * a property of the input, so it exits 1 with a message, not 70. */
static void out_of_memory(size_t n) {
    fprintf(stderr, "wsc: error: out of memory (allocating %zu bytes)\n", n);
    exit(IR_EXIT_INPUT);
}

void *ir_xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) out_of_memory(n);
    return p;
}

void *ir_xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) out_of_memory(n * size);
    return p;
}

void *ir_xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) out_of_memory(n);
    return q;
}

char *ir_xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    return memcpy(ir_xmalloc(n), s, n);
}

/* Arenas are a list of chunks; a request larger than a chunk gets its own. */
typedef struct chunk {
    struct chunk *next; /* older chunk */
    size_t used;        /* bytes handed out */
    size_t size;        /* bytes in data */
    _Alignas(16) unsigned char data[];
} chunk;

struct ir_arena {
    chunk *head; /* current chunk, newest first */
};

enum { CHUNK = 64 * 1024 };

ir_arena *ir_arena_new(void) {
    return ir_xcalloc(1, sizeof(ir_arena));
}

void ir_arena_free(ir_arena *a) {
    if (!a) return;
    for (chunk *c = a->head, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    free(a);
}

void *ir_alloc(ir_arena *a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    chunk *c = a->head;
    if (!c || c->size - c->used < n) {
        size_t size = n > CHUNK / 4 ? n : CHUNK;
        c = ir_xmalloc(sizeof(chunk) + size);
        c->size = size;
        c->used = 0;
        /* A big one-off allocation goes behind the current chunk so the
         * current chunk's free space is not wasted. */
        if (a->head && size != CHUNK) {
            c->next = a->head->next;
            a->head->next = c;
        } else {
            c->next = a->head;
            a->head = c;
        }
    }
    void *p = c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

char *ir_strndup(ir_arena *a, const char *s, size_t n) {
    char *p = ir_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

char *ir_strdup(ir_arena *a, const char *s) {
    return ir_strndup(a, s, strlen(s));
}

char *ir_sprintf(ir_arena *a, const char *fmt, ...) {
    va_list ap, aq;
    va_start(ap, fmt);
    va_copy(aq, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = ir_alloc(a, (size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, aq);
    va_end(aq);
    return p;
}
