/* weights.c - named weights from a .safetensors file or a directory of
 * NAME.npy files (docs/formats.md).
 *
 * Opening checks the whole structure of the file so that a broken file fails
 * early with one message; what only matters for one entry (a dtype wsc does
 * not read, a shape it cannot represent) is reported when that entry is
 * asked for, so a file with extra exotic entries still serves the rest. */
#include "ir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

ir_tensor *ir_npy_read_weight(const char *path, ir_diag *d); /* npy.c */

/* A header larger than this is not a real safetensors file (real ones are
 * a few hundred KB even for large models) and would only waste memory. */
#define MAX_HEADER (100u * 1024 * 1024)

/* Safetensors dtypes with their element sizes, so that sizes of entries wsc
 * cannot read are still checked at open. */
static const struct {
    const char *name; /* as in the header */
    unsigned size;    /* bytes per element */
    int dtype;        /* ir_dtype, or -1: not read by wsc */
} st_types[] = {
    {"F32", 4, IR_F32},   {"F16", 2, IR_F16}, {"BF16", 2, IR_BF16}, {"I32", 4, IR_I32},
    {"BOOL", 1, IR_BOOL}, {"F64", 8, -1},     {"I64", 8, -1},       {"I16", 2, -1},
    {"I8", 1, -1},        {"U64", 8, -1},     {"U32", 4, -1},       {"U16", 2, -1},
    {"U8", 1, -1},        {"F8_E4M3", 1, -1}, {"F8_E5M2", 1, -1},
};

typedef struct entry {
    char *name;                /* the key a param asks for (owned) */
    char *file;                /* directory entry: path of NAME.npy (owned); else NULL */
    char dtype[16];            /* safetensors dtype as stored (truncated if absurd) */
    int rank;                  /* safetensors rank as stored (may exceed IR_MAX_RANK) */
    int64_t dims[IR_MAX_RANK]; /* the first IR_MAX_RANK dimensions as stored */
    uint64_t begin, end;       /* byte range in the data area */
    bool used;                 /* some ir_weights_get asked for it */
} entry;

struct ir_weights {
    char *path;          /* as given, for messages */
    uint8_t *map;        /* the mmapped .safetensors file, or NULL */
    size_t map_len;      /* its length */
    const uint8_t *data; /* the data area after the header */
    uint64_t data_len;   /* its length */
    entry *e;            /* entries sorted by name (strcmp) */
    size_t n;            /* entry count */
};

static int by_name(const void *a, const void *b) {
    return strcmp(((const entry *)a)->name, ((const entry *)b)->name);
}

static ir_weights *new_weights(const char *path) {
    ir_weights *w = ir_xcalloc(1, sizeof *w);
    w->path = ir_xstrdup(path);
    return w;
}

void ir_weights_close(ir_weights *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n; i++) {
        free(w->e[i].name);
        free(w->e[i].file);
    }
    free(w->e);
    if (w->map) munmap(w->map, w->map_len);
    free(w->path);
    free(w);
}

static entry *add_entry(ir_weights *w, size_t *cap) {
    if (w->n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        w->e = ir_xrealloc(w->e, *cap * sizeof *w->e);
    }
    entry *e = &w->e[w->n++];
    memset(e, 0, sizeof *e);
    return e;
}

/* ------------------------------------------------------- directories */

static bool ends_with_npy(const char *s) {
    size_t n = strlen(s);
    return n > 4 && strcmp(s + n - 4, ".npy") == 0;
}

static ir_weights *open_dir(const char *path, ir_diag *d) {
    DIR *dir = opendir(path);
    if (!dir) {
        ir_error(d, IR_NOLOC, "%s: cannot open directory: %s", path, strerror(errno));
        return NULL;
    }
    ir_weights *w = new_weights(path);
    size_t cap = 0;
    struct dirent *de;
    while ((de = readdir(dir))) {
        /* Hidden files are editor and OS droppings, not weights. */
        if (de->d_name[0] == '.' || !ends_with_npy(de->d_name)) continue;
        size_t plen = strlen(path), nlen = strlen(de->d_name);
        char *file = ir_xmalloc(plen + nlen + 2);
        memcpy(file, path, plen);
        file[plen] = '/';
        memcpy(file + plen + 1, de->d_name, nlen + 1);
        struct stat st;
        if (stat(file, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(file);
            continue;
        }
        entry *e = add_entry(w, &cap);
        e->file = file;
        e->name = ir_xmalloc(nlen - 3);
        memcpy(e->name, de->d_name, nlen - 4);
        e->name[nlen - 4] = 0;
    }
    closedir(dir);
    if (w->n) qsort(w->e, w->n, sizeof *w->e, by_name);
    return w;
}

/* ------------------------------------------------------- safetensors */

static uint64_t le64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static int st_type(const char *s) {
    for (size_t i = 0; i < sizeof st_types / sizeof st_types[0]; i++)
        if (strcmp(s, st_types[i].name) == 0) return (int)i;
    return -1;
}

/* A JSON integer in [0, max], else false. */
static bool json_u64(const json_t *v, uint64_t max, uint64_t *out) {
    if (!json_is_integer(v)) return false;
    json_int_t i = json_integer_value(v);
    if (i < 0 || (uint64_t)i > max) return false;
    *out = (uint64_t)i;
    return true;
}

/* Checks one header entry and fills e; on failure writes why to err. */
static bool parse_entry(json_t *v, uint64_t data_len, entry *e, char *err, size_t errn) {
    if (!json_is_object(v)) return snprintf(err, errn, "is not an object"), false;
    json_t *dt = json_object_get(v, "dtype"), *shape = json_object_get(v, "shape"),
           *offs = json_object_get(v, "data_offsets");
    if (!dt || !shape || !offs)
        return snprintf(err, errn, "lacks %s",
                        !dt      ? "dtype"
                        : !shape ? "shape"
                                 : "data_offsets"),
               false;
    if (!json_is_string(dt)) return snprintf(err, errn, "has a dtype that is not a string"), false;
    snprintf(e->dtype, sizeof e->dtype, "%s", json_string_value(dt));
    if (!json_is_array(shape)) return snprintf(err, errn, "has a shape that is not a list"), false;
    if (!json_is_array(offs) || json_array_size(offs) != 2 ||
        !json_u64(json_array_get(offs, 0), UINT64_MAX / 2, &e->begin) ||
        !json_u64(json_array_get(offs, 1), UINT64_MAX / 2, &e->end) || e->begin > e->end)
        return snprintf(err, errn, "has malformed data_offsets (want [BEGIN, END])"), false;
    if (e->end > data_len)
        return snprintf(err, errn,
                        "has data_offsets [%llu, %llu] past the end of the data (%llu bytes)",
                        (unsigned long long)e->begin, (unsigned long long)e->end,
                        (unsigned long long)data_len),
               false;
    size_t rank = json_array_size(shape);
    if (rank > 64) return snprintf(err, errn, "has %zu dimensions", rank), false;
    e->rank = (int)rank;
    /* Counted in 64 bits with an overflow check: a lying shape must not wrap
     * around to match the byte range. */
    uint64_t numel = 1;
    bool overflow = false, zero = false;
    for (size_t i = 0; i < rank; i++) {
        uint64_t dim;
        if (!json_u64(json_array_get(shape, i), INT64_MAX, &dim))
            return snprintf(err, errn, "has a shape entry that is not a non-negative integer"),
                   false;
        if (i < IR_MAX_RANK) e->dims[i] = (int64_t)dim;
        if (dim == 0)
            zero = true;
        else if (numel > UINT64_MAX / 16 / dim)
            overflow = true;
        numel *= dim;
    }
    int k = st_type(e->dtype);
    if (zero)
        numel = 0;
    else if (overflow)
        return snprintf(err, errn, "has a shape whose size overflows"), false;
    /* Unknown dtypes (new ones appear) cannot be size-checked; they fail
     * when asked for. */
    if (k >= 0 && numel * st_types[k].size != e->end - e->begin)
        return snprintf(err, errn, "has %llu bytes of data but its shape and dtype %s need %llu",
                        (unsigned long long)(e->end - e->begin), e->dtype,
                        (unsigned long long)(numel * st_types[k].size)),
               false;
    return true;
}

static ir_weights *open_safetensors(const char *path, int fd, size_t len, ir_diag *d) {
    if (len < 8) {
        ir_error(d, IR_NOLOC, "%s: truncated: %zu bytes is too short for a safetensors file", path,
                 len);
        return NULL;
    }
    uint8_t *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
        ir_error(d, IR_NOLOC, "%s: cannot map: %s", path, strerror(errno));
        return NULL;
    }
    if (memcmp(map, "\x93NUMPY", 6) == 0) {
        ir_error(d, IR_NOLOC,
                 "%s: is a .npy file; weights are a .safetensors file or a directory of "
                 "NAME.npy files",
                 path);
        munmap(map, len);
        return NULL;
    }
    uint64_t hlen = le64(map);
    if (hlen > MAX_HEADER || hlen > len - 8) {
        ir_error(d, IR_NOLOC, "%s: header length %llu is %s (the file has %zu bytes)", path,
                 (unsigned long long)hlen,
                 hlen > len - 8 ? "past the end of the file" : "too large", len);
        munmap(map, len);
        return NULL;
    }
    ir_weights *w = new_weights(path);
    w->map = map;
    w->map_len = len;
    w->data = map + 8 + hlen;
    w->data_len = len - 8 - hlen;
    json_error_t jerr;
    json_t *root = json_loadb((const char *)map + 8, hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        ir_error(d, IR_NOLOC, "%s: header is not valid JSON: %s (at byte %d of the header)", path,
                 jerr.text, jerr.position);
        ir_weights_close(w);
        return NULL;
    }
    if (!json_is_object(root)) {
        ir_error(d, IR_NOLOC, "%s: header is not a JSON object", path);
        json_decref(root);
        ir_weights_close(w);
        return NULL;
    }
    size_t cap = 0;
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (strcmp(key, "__metadata__") == 0) continue;
        entry *e = add_entry(w, &cap);
        char err[200];
        if (!parse_entry(v, w->data_len, e, err, sizeof err)) {
            ir_error(d, IR_NOLOC, "%s: header entry '%s' %s", path, key, err);
            w->n--; /* e owns nothing yet */
            json_decref(root);
            ir_weights_close(w);
            return NULL;
        }
        e->name = ir_xstrdup(key);
    }
    json_decref(root);
    if (w->n) qsort(w->e, w->n, sizeof *w->e, by_name);
    return w;
}

ir_weights *ir_weights_open(const char *path, ir_diag *d) {
    /* O_NONBLOCK: a FIFO (refused below) must not hang the open waiting
     * for a writer; regular files are mapped, which ignores the flag. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        ir_error(d, IR_NOLOC, "%s: cannot open weights: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        return NULL;
    }
    ir_weights *w;
    if (S_ISDIR(st.st_mode))
        w = open_dir(path, d);
    else if (S_ISREG(st.st_mode))
        w = open_safetensors(path, fd, (size_t)st.st_size, d);
    else {
        ir_error(d, IR_NOLOC, "%s: weights are neither a .safetensors file nor a directory", path);
        w = NULL;
    }
    close(fd); /* a mapping outlives its descriptor */
    return w;
}

/* ------------------------------------------------------------ lookups */

static int load_entry(ir_weights *w, const entry *e, ir_tensor **out, ir_diag *d) {
    int k = st_type(e->dtype);
    if (k < 0 || st_types[k].dtype < 0) {
        ir_error(d, IR_NOLOC, "%s: weight '%s' has dtype %s, which wsc does not read", w->path,
                 e->name, e->dtype);
        return -1;
    }
    ir_shape s;
    memset(&s, 0, sizeof s);
    bool fits = e->rank <= IR_MAX_RANK;
    if (fits) {
        s.rank = e->rank;
        for (int i = 0; i < e->rank; i++) {
            s.d[i] = e->dims[i];
            fits = fits && e->dims[i] >= 1 && e->dims[i] <= IR_MAX_DIM;
        }
        fits = fits && ir_shape_numel(&s) <= IR_MAX_NUMEL;
    }
    if (!fits) {
        char shp[160] = "of rank > 8";
        if (e->rank <= IR_MAX_RANK) ir_shape_str(&s, shp, sizeof shp);
        ir_error(d, IR_NOLOC,
                 "%s: weight '%s' has shape %s, which wsc cannot represent (rank <= %d, every "
                 "dimension 1..2^31-1, at most 2^48 elements)",
                 w->path, e->name, shp, IR_MAX_RANK);
        return -1;
    }
    ir_dtype dt = (ir_dtype)st_types[k].dtype;
    ir_tensor *t = ir_tensor_new(dt, &s);
    if (!t) {
        ir_error(d, IR_NOLOC, "%s: out of memory loading weight '%s'", w->path, e->name);
        return -1;
    }
    const uint8_t *p = w->data + e->begin;
    int64_t n = ir_shape_numel(&s);
    float *f = t->data;
    switch (dt) {
    case IR_F32:
    case IR_I32:
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        memcpy(t->data, p, (size_t)n * 4);
#else
        for (int64_t i = 0; i < n; i++) {
            uint32_t u = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 |
                         (uint32_t)p[4 * i + 2] << 16 | (uint32_t)p[4 * i + 3] << 24;
            memcpy((uint8_t *)t->data + 4 * i, &u, 4);
        }
#endif
        break;
    case IR_F16:
        for (int64_t i = 0; i < n; i++)
            f[i] = ir_f16_bits_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
        break;
    case IR_BF16:
        for (int64_t i = 0; i < n; i++)
            f[i] = ir_bf16_bits_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
        break;
    case IR_BOOL:
        for (int64_t i = 0; i < n; i++) {
            if (p[i] > 1) {
                ir_error(d, IR_NOLOC,
                         "%s: weight '%s': bool element %lld is %u; a bool must be 0 or 1", w->path,
                         e->name, (long long)i, p[i]);
                ir_tensor_free(t);
                return -1;
            }
        }
        memcpy(t->data, p, (size_t)n);
        break;
    default: ir_internal_error("load_entry: dtype %d", (int)dt);
    }
    *out = t;
    return 1;
}

int ir_weights_get(ir_weights *w, const char *name, ir_tensor **out, ir_diag *d) {
    *out = NULL;
    entry key = {.name = (char *)name};
    entry *e = w->n ? bsearch(&key, w->e, w->n, sizeof *w->e, by_name) : NULL;
    if (!e) return 0;
    e->used = true; /* even if unreadable: the error already speaks for it */
    if (e->file) {
        *out = ir_npy_read_weight(e->file, d);
        return *out ? 1 : -1;
    }
    return load_entry(w, e, out, d);
}

void ir_weights_warn_unused(ir_weights *w, ir_diag *d) {
    for (size_t i = 0; i < w->n; i++) /* sorted by name: a stable order */
        if (!w->e[i].used)
            ir_warning(d, IR_NOLOC, "%s: weight '%s' is not used by any param", w->path,
                       w->e[i].name);
}
