/* npy.c - NumPy .npy files: the subset wsc reads and writes (docs/formats.md).
 *
 * A file is magic "\x93NUMPY", a version, a header length, a header that is a
 * Python dict literal, then the raw elements. Everything in a file is
 * untrusted: each check below turns one way a file can be wrong into one
 * error naming the file, and nothing is read past the bytes we were given. */
#include "ir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Element types as stored in a file; the in-memory dtype may be wider. */
typedef enum ftype { F_F4, F_F2, F_I4, F_B1, F_U2 } ftype;

static const size_t ftype_size[] = {4, 2, 4, 1, 2};

/* What the header dict says. */
typedef struct header {
    char descr[32];  /* the dtype string, e.g. "<f4" */
    bool is_list;    /* descr was a list: a structured dtype */
    bool fortran;    /* elements are in column-major order */
    ir_shape shape;  /* dimensions, validated against the limits */
    int64_t numel;   /* elements */
    size_t data_off; /* offset of the first element */
} header;

/* A cursor over the header text; err receives the first problem. */
typedef struct cursor {
    const char *p;   /* next byte */
    const char *end; /* one past the header */
    char *err;       /* message buffer, set once */
    size_t errn;     /* its size */
} cursor;

static bool fail(cursor *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(cursor *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, c->errn, fmt, ap);
    va_end(ap);
    return false;
}

static void skip_ws(cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static bool eat(cursor *c, char ch) {
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return true;
    }
    return false;
}

static bool at_word(cursor *c, const char *w) {
    size_t n = strlen(w);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n) != 0) return false;
    /* "Trueish" is not True */
    if (c->p + n < c->end &&
        (c->p[n] == '_' || (c->p[n] >= 'a' && c->p[n] <= 'z') ||
         (c->p[n] >= 'A' && c->p[n] <= 'Z') || (c->p[n] >= '0' && c->p[n] <= '9')))
        return false;
    c->p += n;
    return true;
}

/* A Python string literal without escapes (numpy never writes any). */
static bool parse_string(cursor *c, char *out, size_t n, const char *what) {
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return fail(c, "header: expected a quoted %s", what);
    char q = *c->p++;
    size_t k = 0;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\') return fail(c, "header: escapes in %s are not supported", what);
        if (k + 1 >= n) return fail(c, "header: %s is too long", what);
        out[k++] = *c->p++;
    }
    if (c->p >= c->end) return fail(c, "header: unterminated %s", what);
    c->p++;
    out[k] = 0;
    return true;
}

/* A dimension: a non-negative decimal integer (Python 2 files may add 'L'). */
static bool parse_dim(cursor *c, int64_t *out) {
    skip_ws(c);
    if (c->p < c->end && *c->p == '-') return fail(c, "header: negative dimension in shape");
    if (c->p >= c->end || *c->p < '0' || *c->p > '9')
        return fail(c, "header: expected a dimension in shape");
    int64_t v = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        v = v * 10 + (*c->p++ - '0');
        if (v > IR_MAX_DIM) return fail(c, "header: dimension exceeds the limit %lld", IR_MAX_DIM);
    }
    if (c->p < c->end && *c->p == 'L') c->p++;
    if (v == 0) return fail(c, "header: dimension 0 in shape (wsc needs every dimension >= 1)");
    *out = v;
    return true;
}

/* A Python tuple of dimensions: (), (3,), (2, 3), (2, 3,). */
static bool parse_shape(cursor *c, ir_shape *s) {
    if (!eat(c, '(')) return fail(c, "header: shape is not a tuple");
    s->rank = 0;
    if (eat(c, ')')) return true;
    for (;;) {
        int64_t dim = 0;
        if (!parse_dim(c, &dim)) return false;
        if (s->rank == IR_MAX_RANK)
            return fail(c, "header: shape has more than %d dimensions", IR_MAX_RANK);
        s->d[s->rank++] = dim;
        bool comma = eat(c, ',');
        if (eat(c, ')')) {
            /* (3) is an int in Python, not a tuple */
            if (s->rank == 1 && !comma) return fail(c, "header: shape is not a tuple");
            return true;
        }
        if (!comma) return fail(c, "header: expected ',' or ')' in shape");
    }
}

/* Skips a bracketed Python value (a structured dtype's field list) so the
 * error can say "structured" rather than "malformed". */
static bool skip_list(cursor *c) {
    int depth = 0;
    for (; c->p < c->end; c->p++) {
        if (*c->p == '[' || *c->p == '(')
            depth++;
        else if ((*c->p == ']' || *c->p == ')') && --depth == 0) {
            c->p++;
            return true;
        }
    }
    return fail(c, "header: unterminated list");
}

/* The header dict: exactly the keys descr, fortran_order and shape, in any
 * order, each once, with free whitespace and an optional trailing comma. */
static bool parse_dict(cursor *c, header *h) {
    bool have_descr = false, have_fortran = false, have_shape = false;
    if (!eat(c, '{')) return fail(c, "header: not a dictionary");
    for (;;) {
        if (eat(c, '}')) break;
        char key[32];
        if (!parse_string(c, key, sizeof key, "key")) return false;
        if (!eat(c, ':')) return fail(c, "header: expected ':' after '%s'", key);
        skip_ws(c);
        if (strcmp(key, "descr") == 0) {
            if (have_descr) return fail(c, "header: duplicate key 'descr'");
            have_descr = true;
            if (c->p < c->end && *c->p == '[') {
                h->is_list = true;
                if (!skip_list(c)) return false;
            } else if (!parse_string(c, h->descr, sizeof h->descr, "descr")) {
                return false;
            }
        } else if (strcmp(key, "fortran_order") == 0) {
            if (have_fortran) return fail(c, "header: duplicate key 'fortran_order'");
            have_fortran = true;
            if (at_word(c, "True"))
                h->fortran = true;
            else if (at_word(c, "False"))
                h->fortran = false;
            else
                return fail(c, "header: fortran_order is not True or False");
        } else if (strcmp(key, "shape") == 0) {
            if (have_shape) return fail(c, "header: duplicate key 'shape'");
            have_shape = true;
            if (!parse_shape(c, &h->shape)) return false;
        } else {
            return fail(c, "header: unexpected key '%s'", key);
        }
        if (eat(c, '}')) break;
        if (!eat(c, ',')) return fail(c, "header: expected ',' or '}' in the dictionary");
    }
    skip_ws(c);
    if (c->p != c->end) return fail(c, "header: unexpected text after the dictionary");
    if (!have_descr) return fail(c, "header: missing key 'descr'");
    if (!have_fortran) return fail(c, "header: missing key 'fortran_order'");
    if (!have_shape) return fail(c, "header: missing key 'shape'");
    return true;
}

static uint32_t le16(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static const char magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

/* Reads the prefix and header; on failure writes the reason to err. */
static bool read_header(const uint8_t *b, size_t len, header *h, char *err, size_t errn) {
    cursor c = {NULL, NULL, err, errn};
    memset(h, 0, sizeof *h);
    if (len == 0) return fail(&c, "empty file, not a .npy file");
    size_t m = len < sizeof magic ? len : sizeof magic;
    if (memcmp(b, magic, m) != 0) return fail(&c, "not a .npy file (bad magic)");
    if (len < 10) return fail(&c, "truncated header (the file has %zu bytes)", len);
    unsigned major = b[6], minor = b[7];
    if (major < 1 || major > 3 || minor != 0)
        return fail(&c, "unsupported .npy format version %u.%u (wsc reads 1.0, 2.0, 3.0)", major,
                    minor);
    size_t prefix = major == 1 ? 10 : 12;
    if (len < prefix) return fail(&c, "truncated header (the file has %zu bytes)", len);
    size_t hlen = major == 1 ? le16(b + 8) : le32(b + 8);
    if (hlen > len - prefix)
        return fail(&c, "header length %zu runs past the end of the file (%zu bytes)", hlen, len);
    for (size_t i = 0; i < hlen; i++) {
        uint8_t ch = b[prefix + i];
        if ((ch < 0x20 && ch != '\n' && ch != '\r' && ch != '\t') || ch > 0x7e)
            return fail(&c, "header has a non-ASCII or control byte 0x%02x at offset %zu", ch,
                        prefix + i);
    }
    c.p = (const char *)b + prefix;
    c.end = c.p + hlen;
    if (!parse_dict(&c, h)) return false;
    h->data_off = prefix + hlen;
    h->numel = ir_shape_numel(&h->shape);
    if (h->numel > IR_MAX_NUMEL) return fail(&c, "shape has more than 2^48 elements");
    return true;
}

/* The file type for a descr, or -1 with the reason in err. */
static int descr_ftype(const header *h, int want, bool u2_is_bf16, char *err, size_t errn) {
    cursor c = {NULL, NULL, err, errn};
    const char *s = h->descr;
    if (h->is_list) return fail(&c, "structured arrays are not supported"), -1;
    int f = strcmp(s, "<f4") == 0   ? F_F4
            : strcmp(s, "<f2") == 0 ? F_F2
            : strcmp(s, "<i4") == 0 ? F_I4
            : strcmp(s, "|b1") == 0 ? F_B1
            : strcmp(s, "<u2") == 0 ? F_U2
                                    : -1;
    if (f < 0) {
        if (strchr(s, 'O'))
            fail(&c, "object arrays are not supported");
        else if (s[0] == '>')
            fail(&c, "big-endian data ('%s') is not supported; save it little-endian", s);
        else
            fail(&c, "dtype '%s' is not supported (wsc reads <f4, <f2, <i4, |b1, and <u2 as bf16)",
                 s);
        return -1;
    }
    static const ir_dtype mem[] = {IR_F32, IR_F16, IR_I32, IR_BOOL, IR_BF16};
    if (f == F_U2 && want != IR_BF16 && !(want < 0 && u2_is_bf16)) {
        if (want >= 0)
            fail(&c, "expected %s, found <u2", ir_dtype_name((ir_dtype)want));
        else
            fail(&c, "dtype '<u2' is read only as bf16, where a bf16 tensor is expected");
        return -1;
    }
    if (want >= 0 && (int)mem[f] != want) {
        fail(&c, "expected %s, found %s (%s)", ir_dtype_name((ir_dtype)want), s,
             ir_dtype_name(mem[f]));
        return -1;
    }
    return f;
}

/* Reorders a column-major buffer into row-major: output element at index
 * (i0, .., ik) comes from sum_j ij * stride_j with stride_0 = 1. */
static void *from_fortran(const void *src, const ir_shape *s, size_t esize) {
    int64_t n = ir_shape_numel(s);
    uint8_t *dst = malloc((size_t)n * esize);
    if (!dst) return NULL;
    int64_t stride[IR_MAX_RANK], idx[IR_MAX_RANK] = {0};
    int64_t st = 1;
    for (int k = 0; k < s->rank; k++) {
        stride[k] = st;
        st *= s->d[k];
    }
    int64_t off = 0; /* source element of the current index */
    for (int64_t e = 0; e < n; e++) {
        memcpy(dst + (size_t)e * esize, (const uint8_t *)src + (size_t)off * esize, esize);
        for (int k = s->rank - 1; k >= 0; k--) { /* row-major odometer */
            off += stride[k];
            if (++idx[k] < s->d[k]) break;
            off -= stride[k] * s->d[k];
            idx[k] = 0;
        }
    }
    return dst;
}

static ir_tensor *parse(const char *path, const uint8_t *b, size_t len, int want, bool u2_is_bf16,
                        ir_diag *d) {
    char err[256];
    header h;
    if (!read_header(b, len, &h, err, sizeof err)) {
        ir_error(d, IR_NOLOC, "%s: %s", path, err);
        return NULL;
    }
    int f = descr_ftype(&h, want, u2_is_bf16, err, sizeof err);
    if (f < 0) {
        ir_error(d, IR_NOLOC, "%s: %s", path, err);
        return NULL;
    }
    /* numel <= 2^48 and item sizes <= 4: no overflow in 64 bits */
    uint64_t need = (uint64_t)h.numel * ftype_size[f], have = len - h.data_off;
    char shp[160];
    if (have != need) {
        ir_shape_str(&h.shape, shp, sizeof shp);
        if (have < need)
            ir_error(d, IR_NOLOC,
                     "%s: data is truncated: shape %s of %s needs %llu bytes, the file has %llu",
                     path, shp, h.descr, (unsigned long long)need, (unsigned long long)have);
        else
            ir_error(d, IR_NOLOC, "%s: %llu trailing bytes after the data of shape %s", path,
                     (unsigned long long)(have - need), shp);
        return NULL;
    }
    static const ir_dtype mem[] = {IR_F32, IR_F16, IR_I32, IR_BOOL, IR_BF16};
    ir_tensor *t = ir_tensor_new(mem[f], &h.shape);
    if (!t) {
        ir_error(d, IR_NOLOC, "%s: out of memory for %lld elements", path, (long long)h.numel);
        return NULL;
    }
    const uint8_t *p = b + h.data_off;
    int64_t n = h.numel;
    switch ((ftype)f) {
    case F_F4:
    case F_I4:
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        memcpy(t->data, p, (size_t)need);
#else
        for (int64_t i = 0; i < n; i++) {
            uint32_t v = le32(p + 4 * i);
            memcpy((uint8_t *)t->data + 4 * i, &v, 4);
        }
#endif
        break;
    case F_F2:
        for (int64_t i = 0; i < n; i++)
            ((float *)t->data)[i] = ir_f16_bits_to_f32((uint16_t)le16(p + 2 * i));
        break;
    case F_U2:
        for (int64_t i = 0; i < n; i++)
            ((float *)t->data)[i] = ir_bf16_bits_to_f32((uint16_t)le16(p + 2 * i));
        break;
    case F_B1:
        for (int64_t i = 0; i < n; i++) {
            if (p[i] > 1) {
                ir_error(d, IR_NOLOC, "%s: bool element %lld is %u; a bool must be 0 or 1", path,
                         (long long)i, p[i]);
                ir_tensor_free(t);
                return NULL;
            }
        }
        memcpy(t->data, p, (size_t)n);
        break;
    }
    if (h.fortran && h.shape.rank > 1) {
        void *row = from_fortran(t->data, &h.shape, ir_dtype_size(t->dtype));
        if (!row) {
            ir_error(d, IR_NOLOC, "%s: out of memory for %lld elements", path, (long long)n);
            ir_tensor_free(t);
            return NULL;
        }
        free(t->data);
        t->data = row;
    }
    return t;
}

ir_tensor *ir_npy_parse(const char *path, const void *bytes, size_t len, int want, ir_diag *d) {
    return parse(path, bytes, len, want, false, d);
}

enum {
    STREAM_HEADER_MAX = 1 << 20, /* header bytes read from a stream; real headers are < 10 kB */
    STREAM_SLACK = 1 << 20,      /* bytes read past the data the header announces */
};

/* How many bytes of a stream to read at most, given its first n bytes:
 * SIZE_MAX while the header is incomplete; n when they are already wrong (the
 * parser reports why); else the header's data size plus some slack, so
 * trailing bytes are still seen. An endless stream (/dev/zero, a pipe that
 * never closes) is thus read no further than its header allows, and no
 * header allows more than the largest tensor wsc accepts (2^48 elements). */
static size_t stream_limit(const uint8_t *b, size_t n) {
    if (n == 0) return SIZE_MAX;
    if (memcmp(b, magic, n < sizeof magic ? n : sizeof magic) != 0) return n;
    if (n < 12) return SIZE_MAX;
    unsigned major = b[6];
    if (major < 1 || major > 3) return n;
    size_t prefix = major == 1 ? 10 : 12;
    size_t hlen = major == 1 ? le16(b + 8) : le32(b + 8);
    if (hlen > STREAM_HEADER_MAX) return n;
    if (n < prefix + hlen) return SIZE_MAX;
    header h;
    char err[256];
    if (!read_header(b, n, &h, err, sizeof err)) return n;
    int f = descr_ftype(&h, -1, true, err, sizeof err);
    if (f < 0) return n;
    uint64_t want = h.data_off + (uint64_t)h.numel * ftype_size[f] + STREAM_SLACK;
    return want > SIZE_MAX ? SIZE_MAX : (size_t)want;
}

/* Reads a non-regular file (a pipe) into memory: as much as its header
 * says it holds (stream_limit). */
static uint8_t *read_all(int fd, size_t *len) {
    size_t cap = 1 << 16, n = 0;
    uint8_t *b = malloc(cap);
    if (!b) return NULL;
    for (;;) {
        if (n == cap) {
            uint8_t *nb = cap > SIZE_MAX / 2 ? NULL : realloc(b, cap * 2);
            if (!nb) {
                free(b);
                errno = ENOMEM;
                return NULL;
            }
            b = nb;
            cap *= 2;
        }
        ssize_t k = read(fd, b + n, cap - n);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            free(b);
            return NULL;
        }
        if (k == 0) break;
        n += (size_t)k;
        if (n >= stream_limit(b, n)) break;
    }
    *len = n;
    return b;
}

static ir_tensor *read_file(const char *path, int want, bool u2_is_bf16, ir_diag *d) {
    /* A named FIFO is opened blocking, as cat would: its writer may open it
     * after us, and a non-blocking open would read an early EOF. */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        ir_error(d, IR_NOLOC, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        ir_error(d, IR_NOLOC, "%s: cannot open: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    if (S_ISDIR(st.st_mode)) {
        ir_error(d, IR_NOLOC, "%s: is a directory, not a .npy file", path);
        close(fd);
        return NULL;
    }
    ir_tensor *t = NULL;
    /* mmap lets a 500 MB weight go from the page cache to the tensor in one
     * copy; pipes have no size and are read whole. */
    if (S_ISREG(st.st_mode) && st.st_size > 0) {
        size_t len = (size_t)st.st_size;
        void *m = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m != MAP_FAILED) {
            madvise(m, len, MADV_SEQUENTIAL);
            t = parse(path, m, len, want, u2_is_bf16, d);
            munmap(m, len);
            close(fd);
            return t;
        }
    }
    size_t len = 0;
    uint8_t *b = read_all(fd, &len);
    if (!b)
        ir_error(d, IR_NOLOC, "%s: cannot read: %s", path, strerror(errno));
    else
        t = parse(path, b, len, want, u2_is_bf16, d);
    free(b);
    close(fd);
    return t;
}

ir_tensor *ir_npy_read(const char *path, int want, ir_diag *d) {
    return read_file(path, want, false, d);
}

/* Used by weights.c for directories of NAME.npy files: there the caller does
 * not know the param's dtype yet, and '<u2' can only mean bf16 in wsc. Not in
 * ir.h because nothing else should read '<u2' without asking for bf16. */
ir_tensor *ir_npy_read_weight(const char *path, ir_diag *d);
ir_tensor *ir_npy_read_weight(const char *path, ir_diag *d) {
    return read_file(path, -1, true, d);
}

/* ------------------------------------------------------------- writing */

static void put_le16(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* The header exactly as numpy's np.save writes it (format 1.0), so files
 * compare equal byte for byte: the dict's repr, spaces, a newline, padded so
 * that the data starts at a multiple of 64. */
static size_t make_header(const ir_tensor *t, char *out, size_t n) {
    static const char *const descr[] = {"<f4", "<f2", "<u2", "<i4", "|b1"};
    char shape[256];
    size_t k = 0;
    k += (size_t)snprintf(shape + k, sizeof shape - k, "(");
    for (int i = 0; i < t->shape.rank; i++)
        k += (size_t)snprintf(shape + k, sizeof shape - k, i ? ", %lld" : "%lld",
                              (long long)t->shape.d[i]);
    snprintf(shape + k, sizeof shape - k, t->shape.rank == 1 ? ",)" : ")");
    int len = snprintf(out + 10, n - 10, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                       descr[t->dtype], shape);
    size_t hlen = (size_t)len + 1; /* the newline */
    size_t pad = 64 - (10 + hlen) % 64;
    memset(out + 10 + len, ' ', pad);
    out[10 + (size_t)len + pad] = '\n';
    hlen += pad;
    memcpy(out, magic, sizeof magic);
    out[6] = 1;
    out[7] = 0;
    put_le16((uint8_t *)out + 8, (uint32_t)hlen);
    return 10 + hlen;
}

static size_t encode(const ir_tensor *t, int64_t from, int64_t count, uint8_t *buf) {
    const float *f = t->data;
    const int32_t *iv = t->data;
    const uint8_t *bv = t->data;
    switch (t->dtype) {
    case IR_F32:
        for (int64_t i = 0; i < count; i++) {
            uint32_t u;
            memcpy(&u, &f[from + i], 4);
            put_le32(buf + 4 * i, u);
        }
        return (size_t)count * 4;
    case IR_I32:
        for (int64_t i = 0; i < count; i++)
            put_le32(buf + 4 * i, (uint32_t)iv[from + i]);
        return (size_t)count * 4;
    case IR_F16:
        for (int64_t i = 0; i < count; i++)
            put_le16(buf + 2 * i, ir_f32_to_f16_bits(f[from + i]));
        return (size_t)count * 2;
    case IR_BF16:
        for (int64_t i = 0; i < count; i++)
            put_le16(buf + 2 * i, ir_f32_to_bf16_bits(f[from + i]));
        return (size_t)count * 2;
    case IR_BOOL:
        for (int64_t i = 0; i < count; i++)
            buf[i] = bv[from + i] != 0;
        return (size_t)count;
    default: ir_internal_error("ir_npy_write: bad dtype %d", (int)t->dtype);
    }
}

int ir_npy_write(const char *path, const ir_tensor *t, ir_diag *d) {
    int64_t n = ir_shape_numel(&t->shape);
    if ((unsigned)t->dtype >= IR_NDTYPES || n < 0 || n > IR_MAX_NUMEL)
        ir_internal_error("ir_npy_write: invalid tensor for %s", path);
    FILE *f = fopen(path, "wb");
    if (!f) {
        ir_error(d, IR_NOLOC, "%s: cannot write: %s", path, strerror(errno));
        return -1;
    }
    char head[512];
    size_t hn = make_header(t, head, sizeof head);
    bool ok = fwrite(head, 1, hn, f) == hn;
    enum { CHUNK = 1 << 16 };
    uint8_t *buf = ir_xmalloc(CHUNK * 4);
    for (int64_t at = 0; ok && at < n; at += CHUNK) {
        int64_t count = n - at < CHUNK ? n - at : CHUNK;
        size_t bytes = encode(t, at, count, buf);
        ok = fwrite(buf, 1, bytes, f) == bytes;
    }
    free(buf);
    int err = ok ? 0 : errno;
    if (fclose(f) != 0 && ok) {
        ok = false;
        err = errno;
    }
    if (!ok) {
        ir_error(d, IR_NOLOC, "%s: write failed: %s", path, strerror(err ? err : EIO));
        remove(path); /* a half-written file would only mislead later */
        return -1;
    }
    return 0;
}
