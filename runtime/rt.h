/* rt.h - the wafer runtime: the .wsa artifact container (written by the
 * compiler, validated on reading) and, later, the simulator of the modeled
 * wafer. */
#ifndef WSC_RT_H
#define WSC_RT_H

#include "ir.h"

/* ------------------------------------------------------- the artifact */

/* A .wsa file is a header and sections. Each section has a four-character
 * tag, a length and an XXH64 checksum; the header carries the format
 * version, the section table and the hash of the model and weights it came
 * from. Layout and rules: docs/artifact.md. */
#define RT_WSA_VERSION 1

#define RT_TAG(a, b, c, d) ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)

typedef struct rt_writer rt_writer;
rt_writer *rt_writer_new(void);
/* Adds a section (copied). A tag may appear once. */
void rt_writer_add(rt_writer *w, uint32_t tag, const void *data, size_t len);
/* Writes the file atomically (temporary file, then rename). */
bool rt_writer_save(rt_writer *w, const char *path, uint64_t model_hash, ir_diag *d);
void rt_writer_free(rt_writer *w);

typedef struct rt_artifact rt_artifact;
/* Opens and validates: magic, version, section table in bounds and not
 * overlapping, every checksum. Refuses (reported, exit-1 style) a
 * truncated, corrupted or foreign-version file. */
rt_artifact *rt_artifact_open(const char *path, ir_diag *d);
void rt_artifact_close(rt_artifact *a);
uint64_t rt_artifact_model_hash(const rt_artifact *a);
/* The section's bytes, or NULL when absent. */
const void *rt_artifact_section(const rt_artifact *a, uint32_t tag, size_t *len);
int rt_artifact_nsections(const rt_artifact *a);
uint32_t rt_artifact_tag(const rt_artifact *a, int i);

/* A bounds-checked reader over a section's bytes: every read fails once the
 * data runs out, so decoding untrusted sections cannot crash. */
typedef struct rt_reader {
    const uint8_t *p;  /* next byte */
    const uint8_t *end;/* one past the last byte */
    bool bad;          /* a read ran past the end or a value was out of range */
} rt_reader;
uint64_t rt_read_u64(rt_reader *r);
uint32_t rt_read_u32(rt_reader *r);
int64_t rt_read_i64(rt_reader *r);
double rt_read_f64(rt_reader *r);
/* A length-prefixed string, copied into the arena. */
const char *rt_read_str(rt_reader *r, ir_arena *a);
const void *rt_read_bytes(rt_reader *r, size_t n);

/* A growing byte buffer for encoding sections. */
typedef struct rt_buf {
    uint8_t *data; /* bytes */
    size_t len;    /* used */
    size_t cap;    /* allocated */
} rt_buf;
void rt_put_u64(rt_buf *b, uint64_t v);
void rt_put_u32(rt_buf *b, uint32_t v);
void rt_put_i64(rt_buf *b, int64_t v);
void rt_put_f64(rt_buf *b, double v);
void rt_put_str(rt_buf *b, const char *s);
void rt_put_bytes(rt_buf *b, const void *p, size_t n);
void rt_buf_free(rt_buf *b);

/* The IR graph of the model, with its params' initializers and data, as a
 * section ('IRGR'), so `wsc run --check` can compare with the interpreter. */
void rt_encode_graph(const ir_graph *g, rt_buf *b);
/* NULL (reported) when the bytes do not decode to a valid graph; the
 * decoded graph passes ir_verify. */
ir_graph *rt_decode_graph(const void *data, size_t len, ir_diag *d);

#endif
