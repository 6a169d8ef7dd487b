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

#define RT_TAG(a, b, c, d)                                                                         \
    ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)

typedef struct rt_writer rt_writer;
rt_writer *rt_writer_new(void);
/* Adds a section (copied). A tag is four printable ASCII characters and may
 * appear once; anything else is a bug in the caller (exit 70). */
void rt_writer_add(rt_writer *w, uint32_t tag, const void *data, size_t len);
/* Writes the file atomically (PATH.tmp, then rename), sections in the order
 * they were added. False (reported on d) when the file cannot be written;
 * PATH is then untouched and PATH.tmp removed. */
bool rt_writer_save(rt_writer *w, const char *path, uint64_t model_hash, ir_diag *d);
void rt_writer_free(rt_writer *w);

/* "PROG" for a tag (non-printable bytes as '?'), into buf; returns buf. */
char *rt_tag_str(uint32_t tag, char buf[5]);

typedef struct rt_artifact rt_artifact;
/* Opens and validates: magic, version, section table in bounds and not
 * overlapping, every checksum. Refuses (reported, exit-1 style) a
 * truncated, corrupted or foreign-version file. */
rt_artifact *rt_artifact_open(const char *path, ir_diag *d);
void rt_artifact_close(rt_artifact *a);
uint64_t rt_artifact_model_hash(const rt_artifact *a);
/* The section's bytes (64-byte aligned, valid until close), or NULL when
 * absent; *len is set either way (0 when absent). */
const void *rt_artifact_section(const rt_artifact *a, uint32_t tag, size_t *len);
/* The sections in file order: their count and the tag of the i-th. */
int rt_artifact_nsections(const rt_artifact *a);
uint32_t rt_artifact_tag(const rt_artifact *a, int i);

/* A bounds-checked reader over a section's bytes: every read fails once the
 * data runs out, so decoding untrusted sections cannot crash. Failure is
 * sticky: once `bad` is set every read returns 0 (NULL for pointers), so a
 * decoder may read a whole record and test `bad` once. Integers and doubles
 * are little-endian whatever the host. */
typedef struct rt_reader {
    const uint8_t *p;   /* next byte */
    const uint8_t *end; /* one past the last byte */
    bool bad;           /* a read ran past the end or a value was out of range */
} rt_reader;
/* A reader over len bytes at data (NULL with len 0: an empty section). */
rt_reader rt_reader_make(const void *data, size_t len);
/* Bytes not read yet (0 once bad). */
size_t rt_reader_left(const rt_reader *r);
uint8_t rt_read_u8(rt_reader *r);
uint64_t rt_read_u64(rt_reader *r);
uint32_t rt_read_u32(rt_reader *r);
int64_t rt_read_i64(rt_reader *r);
double rt_read_f64(rt_reader *r);
/* A string: u32 length and that many bytes, no NUL among them (else bad).
 * Copied into the arena; "" for length 0. */
const char *rt_read_str(rt_reader *r, ir_arena *a);
/* The next n bytes in place (not copied), or NULL when fewer are left. */
const void *rt_read_bytes(rt_reader *r, size_t n);

/* A growing byte buffer for encoding sections; starts as (rt_buf){0}. Growth
 * checks for overflow; running out of memory exits 1 as ir_xmalloc does. */
typedef struct rt_buf {
    uint8_t *data; /* bytes */
    size_t len;    /* used */
    size_t cap;    /* allocated */
} rt_buf;
void rt_put_u8(rt_buf *b, uint8_t v);
void rt_put_u64(rt_buf *b, uint64_t v);
void rt_put_u32(rt_buf *b, uint32_t v);
void rt_put_i64(rt_buf *b, int64_t v);
void rt_put_f64(rt_buf *b, double v);
/* u32 length, then the bytes without the NUL. */
void rt_put_str(rt_buf *b, const char *s);
void rt_put_bytes(rt_buf *b, const void *p, size_t n);
void rt_put_zeros(rt_buf *b, size_t n);
void rt_buf_free(rt_buf *b);

/* The IR graph of the model, with its params' initializers and data, as a
 * section ('IRGR'), so `wsc run --check` can compare with the interpreter. */
void rt_encode_graph(const ir_graph *g, rt_buf *b);
/* NULL (one error reported) when the bytes do not decode to a valid graph;
 * the decoded graph passes ir_verify and holds its attributes as inference
 * leaves them. Nodes and outputs carry IR_NOLOC. */
ir_graph *rt_decode_graph(const void *data, size_t len, ir_diag *d);

/* ------------------------------------------- the compiled program's sections */

/* 'TARG': the machine it was compiled for. */
void rt_encode_target(const ir_target *t, rt_buf *b);
bool rt_decode_target(const void *data, size_t len, ir_target *t, ir_diag *d);

/* 'KERN': kernels (with their placement) and streams. Decoding checks every
 * index against the graph and every rectangle against the target. */
void rt_encode_kgraph(const ir_kgraph *kg, rt_buf *b);
bool rt_decode_kgraph(const void *data, size_t len, const ir_graph *g, const ir_target *t,
                      ir_kgraph *kg, ir_diag *d);

/* One routed stream: a multicast tree on one colour. The hops are the
 * router configurations of that colour along the tree. */
typedef struct rt_hop {
    int32_t x, y; /* router */
    uint8_t in;   /* port the colour arrives from: 0 N, 1 E, 2 S, 3 W, 4 ramp */
    uint8_t outs; /* bit set of ports it leaves by */
} rt_hop;

/* What a net carries (placer/pl.h's pl_role, same numbers). */
enum { RT_NET_STREAM, RT_NET_RELAY, RT_NET_SOUTH, RT_NET_EAST, RT_NET_BCAST };

typedef struct rt_net {
    int32_t kernel;   /* the kernel it feeds (its destination) */
    int32_t stream;   /* the kernel-graph stream it carries, or -1 inside a kernel */
    int32_t color;    /* colour */
    int32_t role;     /* RT_NET_* */
    int32_t producer; /* the kernel whose PE sends it */
    int64_t np;       /* streams and relays: the producer's row length */
    int64_t lo, hi;   /* streams and relays: producer columns carried per row */
    int32_t sx, sy;   /* source PE */
    double load;      /* wavelets per cycle on each link it crosses */
    int32_t nsinks;   /* destination PEs */
    int32_t *kx;      /* their x (arena) */
    int32_t *ky;      /* their y (arena) */
    int32_t nhops;    /* router configurations */
    rt_hop *hops;     /* (arena) */
} rt_net;

typedef struct rt_routes {
    ir_arena *arena;      /* sink and hop arrays */
    rt_net *nets;         /* the nets (arena) */
    int32_t n;            /* count */
    double period;        /* cycles per pass, compute and streams considered */
    double max_link_load; /* busiest link, wavelets per cycle */
    int32_t max_colors;   /* most colours at one router */
    double mean_colors;   /* mean colours per router in use */
} rt_routes;

/* 'ROUT': the nets and their routes. Decoding checks coordinates, ports and
 * colours against the target. */
void rt_encode_routes(const rt_routes *r, rt_buf *b);
bool rt_decode_routes(const void *data, size_t len, const ir_target *t, int32_t nkernels,
                      rt_routes *r, ir_diag *d);
void rt_routes_free(rt_routes *r);

/* ------------------------------------- SRAM images and the host I/O map */

/* One PE's initial SRAM: the bytes that are not zero, as segments (its
 * parameter block, weights and resident operands; buffers start zeroed). */
typedef struct rt_seg {
    uint32_t off;        /* SRAM offset */
    uint32_t len;        /* bytes */
    const uint8_t *data; /* the bytes (arena, or in the artifact when decoded) */
} rt_seg;

typedef struct rt_pe_image {
    int32_t x, y;    /* PE */
    int32_t kernel;  /* the kernel it belongs to */
    int32_t program; /* index into the PROG section's programs */
    uint32_t used;   /* SRAM bytes it uses (segments and buffers) */
    int32_t nseg;    /* segments */
    rt_seg *seg;     /* (arena) */
} rt_pe_image;

/* Where a host tensor enters or leaves the fabric: lane i is the edge row
 * y, on colour `color`, carrying columns [c0, c1) of every row in order. */
typedef struct rt_host_lane {
    int32_t x, y;   /* the edge PE (x = 0 for inputs, width - 1 for outputs) */
    int32_t color;  /* colour on the edge link */
    int64_t c0, c1; /* columns of each row */
} rt_host_lane;

typedef struct rt_host_io {
    const char *name;    /* the graph input's or output's name (arena) */
    ir_dtype dtype;      /* element type */
    ir_shape shape;      /* shape */
    int32_t nlanes;      /* edge rows used */
    rt_host_lane *lanes; /* (arena) */
} rt_host_io;

typedef struct rt_images {
    ir_arena *arena; /* everything below */
    rt_pe_image *pe; /* PEs with a program, in kernel order */
    int32_t npe;     /* count */
    rt_host_io *in;  /* graph inputs, in the graph's order */
    int32_t nin;     /* count */
    rt_host_io *out; /* graph outputs, in the graph's order */
    int32_t nout;    /* count */
} rt_images;

/* 'SRAM' and 'IOMP' (docs/artifact.md). Decoding checks every PE, offset,
 * length, program and lane against the target; segments then point into
 * the section's bytes, which must outlive *im. */
void rt_encode_images(const rt_images *im, rt_buf *sram, rt_buf *iomp);
bool rt_decode_images(const void *sram, size_t slen, const void *iomp, size_t ilen,
                      const ir_target *t, int32_t nkernels, int32_t nprograms, rt_images *im,
                      ir_diag *d);
void rt_images_free(rt_images *im);

/* Checks a PE's parameter block (runtime/wse_abi.h) before its program runs
 * on it: version, kind against its program's, every count against its
 * limit and every offset and extent inside SRAM, so no artifact, however
 * crafted, makes a program read or write outside its PE. False with *why
 * (static text) when something is out of range. */
bool rt_check_params(const uint8_t *sram, uint32_t len, uint64_t sram_bytes, uint32_t kind,
                     int32_t colors, const char **why);

#define RT_SEC_TARGET  RT_TAG('T', 'A', 'R', 'G')
#define RT_SEC_GRAPH   RT_TAG('I', 'R', 'G', 'R')
#define RT_SEC_KERNELS RT_TAG('K', 'E', 'R', 'N')
#define RT_SEC_ROUTES  RT_TAG('R', 'O', 'U', 'T')
#define RT_SEC_PROGS   RT_TAG('P', 'R', 'O', 'G')
#define RT_SEC_SRAM    RT_TAG('S', 'R', 'A', 'M')
#define RT_SEC_IOMAP   RT_TAG('I', 'O', 'M', 'P')

#endif
