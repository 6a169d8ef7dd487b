/* artifact.c - the .wsa container: a checksummed header, a section table
 * and 64-byte aligned sections (docs/artifact.md has the layout byte by
 * byte). One module writes it and the same module validates it, so the two
 * cannot disagree about the format.
 *
 * The layout is canonical: given the sections, there is exactly one valid
 * file. Every byte is then covered by a check (the magic, the header
 * checksum over header and table, zero padding, a checksum per section), so
 * any corruption, however small, is refused rather than silently read. */
#include "rt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

/* 12 bytes naming the format, then \r\n\x1a\n (as PNG does) so a transfer
 * that rewrites line endings or stops at ^Z breaks the magic. */
static const uint8_t MAGIC[16] = "WSCARTIFACT\0\r\n\x1a\n";

enum {
    HEADER = 48,            /* bytes of the fixed header */
    ENTRY = 32,             /* bytes of one section table entry */
    ALIGN = 64,             /* sections start on multiples of this */
    MAX_SECTIONS = 1 << 20, /* far beyond any compiler output */
    OFF_VERSION = 16,       /* u32 format version */
    OFF_COUNT = 20,         /* u32 section count */
    OFF_SIZE = 24,          /* u64 file size */
    OFF_HASH = 32,          /* u64 model hash */
    OFF_CHECK = 40,         /* u64 header checksum */
};

/* The most read from a stream (a pipe): far beyond a compiled model's
 * artifact; a mapped regular file has no such limit. */
#define RT_MAX_STREAM (4ULL << 30)

char *rt_tag_str(uint32_t tag, char buf[5]) {
    for (int i = 0; i < 4; i++) {
        unsigned c = (tag >> (8 * i)) & 0xff;
        buf[i] = c > 0x20 && c < 0x7f ? (char)c : '?';
    }
    buf[4] = 0;
    return buf;
}

/* Four printable ASCII characters, no blanks: tags print as themselves. */
static bool tag_ok(uint32_t tag) {
    for (int i = 0; i < 4; i++) {
        unsigned c = (tag >> (8 * i)) & 0xff;
        if (c <= 0x20 || c >= 0x7f) return false;
    }
    return true;
}

static uint64_t align_up(uint64_t x) {
    return (x + ALIGN - 1) & ~(uint64_t)(ALIGN - 1);
}

static uint64_t get_u32(const uint8_t *p) {
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24;
}

static uint64_t get_u64(const uint8_t *p) {
    return get_u32(p) | get_u32(p + 4) << 32;
}

/* As ir_xmalloc does: a model too big for the host is an input error. */
static _Noreturn void no_memory(void) {
    fputs("wsc: error: out of memory\n", stderr);
    exit(IR_EXIT_INPUT);
}

/* XXH64 (seed 0) of the header without its checksum field, followed by the
 * section table: one value guards every field that says where things are. */
static uint64_t header_checksum(const uint8_t *header, const uint8_t *table, size_t table_len) {
    XXH64_state_t *s = XXH64_createState();
    if (!s) no_memory();
    XXH64_reset(s, 0);
    XXH64_update(s, header, OFF_CHECK);
    XXH64_update(s, table, table_len);
    uint64_t h = XXH64_digest(s);
    XXH64_freeState(s);
    return h;
}

/* --------------------------------------------------------------- writing */

typedef struct wsec {
    uint32_t tag;  /* four characters */
    uint8_t *data; /* owned copy */
    size_t len;    /* bytes */
} wsec;

struct rt_writer {
    wsec *secs; /* in the order added (= file order) */
    int n;      /* sections added */
    int cap;    /* allocated */
};

rt_writer *rt_writer_new(void) {
    return ir_xcalloc(1, sizeof(rt_writer));
}

void rt_writer_free(rt_writer *w) {
    if (!w) return;
    for (int i = 0; i < w->n; i++)
        free(w->secs[i].data);
    free(w->secs);
    free(w);
}

static void add(rt_writer *w, uint32_t tag, uint8_t *data, size_t len) {
    char t[5];
    if (!tag_ok(tag))
        ir_internal_error("artifact section tag 0x%08x is not 4 printable characters", tag);
    for (int i = 0; i < w->n; i++)
        if (w->secs[i].tag == tag)
            ir_internal_error("artifact section '%s' added twice", rt_tag_str(tag, t));
    if (w->n == MAX_SECTIONS) ir_internal_error("more than %d artifact sections", MAX_SECTIONS);
    if (w->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 8;
        w->secs = ir_xrealloc(w->secs, sizeof(wsec) * (size_t)w->cap);
    }
    w->secs[w->n++] = (wsec){tag, data, len};
}

void rt_writer_add(rt_writer *w, uint32_t tag, const void *data, size_t len) {
    uint8_t *copy = ir_xmalloc(len);
    if (len) memcpy(copy, data, len);
    add(w, tag, copy, len);
}

void rt_writer_take(rt_writer *w, uint32_t tag, rt_buf *b) {
    add(w, tag, b->data ? b->data : ir_xmalloc(0), b->len);
    *b = (rt_buf){0};
}

static void put_at(uint8_t *p, uint64_t v, int n) {
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* write(2) until done; false with errno set on failure. */
static bool write_all(int fd, const void *p, size_t n) {
    const uint8_t *b = p;
    while (n) {
        ssize_t k = write(fd, b, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            if (k == 0) errno = EIO;
            return false;
        }
        b += k;
        n -= (size_t)k;
    }
    return true;
}

bool rt_writer_save(rt_writer *w, const char *path, uint64_t model_hash, ir_diag *d) {
    size_t table_len = (size_t)w->n * ENTRY;
    uint8_t *head = ir_xcalloc(1, HEADER + table_len);
    uint8_t *table = head + HEADER;
    uint64_t at = HEADER + table_len;
    for (int i = 0; i < w->n; i++) {
        at = align_up(at);
        uint8_t *e = table + (size_t)i * ENTRY;
        put_at(e, w->secs[i].tag, 4);
        put_at(e + 4, 0, 4);
        put_at(e + 8, at, 8);
        put_at(e + 16, w->secs[i].len, 8);
        put_at(e + 24, XXH64(w->secs[i].data, w->secs[i].len, 0), 8);
        at += w->secs[i].len;
    }
    memcpy(head, MAGIC, sizeof MAGIC);
    put_at(head + OFF_VERSION, RT_WSA_VERSION, 4);
    put_at(head + OFF_COUNT, (uint64_t)w->n, 4);
    put_at(head + OFF_SIZE, at, 8);
    put_at(head + OFF_HASH, model_hash, 8);
    put_at(head + OFF_CHECK, header_checksum(head, table, table_len), 8);

    /* Only a regular file (or nothing) may be replaced: renaming over a
     * device, FIFO or directory would destroy it (as root, -o /dev/null would
     * turn the device into a file). */
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        ir_error(d, IR_NOLOC, "cannot write '%s': it is not a regular file", path);
        free(head);
        return false;
    }
    /* A reader never sees a half-written artifact: the bytes go to a fresh
     * temporary in PATH's directory (mkstemp, so a name planted in advance,
     * e.g. a symlink, is never followed) and only a complete file is renamed
     * over PATH. No fsync, as cc and ld do none: surviving a power cut is
     * not worth seconds of waiting for the disk on every gigabyte-sized
     * compile (docs/artifact.md). */
    const char *slash = strrchr(path, '/');
    size_t dlen = slash ? (size_t)(slash - path) + 1 : 0;
    static const char suffix[] = ".wsa-XXXXXX";
    char *tmp = ir_xmalloc(dlen + sizeof suffix);
    memcpy(tmp, path, dlen);
    memcpy(tmp + dlen, suffix, sizeof suffix);
    static const uint8_t zeros[ALIGN];
    bool ok = false, renaming = false;
    int fd = mkstemp(tmp);
    if (fd >= 0) {
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        /* mkstemp creates the file 0600; an artifact is an ordinary output,
         * so give it the mode open(..., 0666) would have (umask applied). */
        mode_t mask = umask(0);
        umask(mask);
        ok = fchmod(fd, 0666 & ~mask) == 0;
        ok = ok && write_all(fd, head, HEADER + table_len);
        uint64_t pos = HEADER + table_len;
        for (int i = 0; ok && i < w->n; i++) {
            ok = write_all(fd, zeros, (size_t)(align_up(pos) - pos));
            ok = ok && write_all(fd, w->secs[i].data, w->secs[i].len);
            pos = align_up(pos) + w->secs[i].len;
        }
        int err = errno;
        /* close can be where a full disk (NFS) or a quota shows up. */
        if (close(fd) != 0 && ok) ok = false, err = errno;
        errno = err;
        if (ok) {
            renaming = true;
            ok = rename(tmp, path) == 0;
        }
    }
    if (!ok) {
        int err = errno;
        if (renaming)
            ir_error(d, IR_NOLOC, "cannot write '%s' (renaming '%s' to it): %s", path, tmp,
                     strerror(err));
        else
            ir_error(d, IR_NOLOC, "cannot write '%s': %s", path, strerror(err));
        if (fd >= 0) unlink(tmp);
    }
    free(tmp);
    free(head);
    return ok;
}

/* --------------------------------------------------------------- reading */

typedef struct rsec {
    uint32_t tag; /* four characters */
    uint64_t off; /* from the start of the file */
    uint64_t len; /* bytes */
    uint64_t sum; /* XXH64 of the bytes */
} rsec;

struct rt_artifact {
    uint8_t *bytes;      /* the whole file: mapped, or read into memory */
    size_t size;         /* its length */
    bool mapped;         /* bytes come from mmap (else malloc) */
    uint64_t model_hash; /* from the header */
    rsec *secs;          /* in file order */
    int n;               /* count */
};

void rt_artifact_close(rt_artifact *a) {
    if (!a) return;
    if (a->mapped)
        munmap(a->bytes, a->size);
    else
        free(a->bytes);
    free(a->secs);
    free(a);
}

/* A buffer aligned like the page a mapping starts on, so section data
 * (64-byte aligned in the file) is 64-byte aligned in memory either way. */
static uint8_t *aligned(size_t n) {
    void *p;
    if (posix_memalign(&p, ALIGN, n ? n : 1) != 0) no_memory();
    return p;
}

/* Bytes read past the size a stream's header announces, so that trailing
 * garbage is still seen (and reported) without reading an endless stream. */
enum { STREAM_SLACK = 1 << 20 };

/* How many bytes of a stream to read at most, given its first n: all of it
 * while the header is incomplete, no more when the magic is already wrong
 * (validate says so), else the size the header gives plus STREAM_SLACK. */
static uint64_t stream_limit(const uint8_t *b, size_t n) {
    if (memcmp(b, MAGIC, n < sizeof MAGIC ? n : sizeof MAGIC) != 0) return n;
    if (n < OFF_SIZE + 8) return UINT64_MAX;
    uint64_t fsize = get_u64(b + OFF_SIZE);
    return fsize > UINT64_MAX - STREAM_SLACK ? UINT64_MAX : fsize + STREAM_SLACK;
}

/* Reads a file that cannot be mapped (a pipe, a device, an empty file):
 * no further than its header allows, and never more than RT_MAX_STREAM
 * bytes (errno EFBIG), so /dev/zero or an endless pipe cannot exhaust the
 * host's memory. */
static bool read_whole(int fd, uint8_t **out, size_t *len) {
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = ir_xmalloc(cap);
    for (;;) {
        if (n == cap) buf = ir_xrealloc(buf, cap *= 2);
        ssize_t k = read(fd, buf + n, cap - n);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            free(buf);
            return false;
        }
        if (k == 0) break;
        n += (size_t)k;
        if ((uint64_t)n > RT_MAX_STREAM) {
            free(buf);
            errno = EFBIG;
            return false;
        }
        if (n >= stream_limit(buf, n)) break;
    }
    *out = aligned(n);
    if (n) memcpy(*out, buf, n);
    free(buf);
    *len = n;
    return true;
}

static bool load(const char *path, rt_artifact *a, ir_diag *d) {
    /* A named FIFO is opened blocking, as cat would: its writer may open it
     * after us (tests do), and a non-blocking open would read an early EOF. */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        ir_error(d, IR_NOLOC, "cannot read '%s': %s", path, strerror(errno));
        return false;
    }
    struct stat st;
    int err = fstat(fd, &st) != 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : 0;
    if (err) {
        ir_error(d, IR_NOLOC, "cannot read '%s': %s", path, strerror(err));
        close(fd);
        return false;
    }
    /* Mapping keeps big artifacts (weights in SRAM images) out of the heap.
     * The compiler replaces an artifact by rename, never in place, so the
     * mapped file does not shrink under us. */
    if (S_ISREG(st.st_mode) && st.st_size > 0 && (uint64_t)st.st_size <= SIZE_MAX) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p != MAP_FAILED) {
            a->bytes = p;
            a->size = (size_t)st.st_size;
            a->mapped = true;
            close(fd);
            return true;
        }
    }
    bool ok = read_whole(fd, &a->bytes, &a->size);
    if (!ok && errno == EFBIG)
        ir_error(d, IR_NOLOC, "cannot read '%s': it is larger than %d GiB", path,
                 (int)(RT_MAX_STREAM >> 30));
    else if (!ok)
        ir_error(d, IR_NOLOC, "cannot read '%s': %s", path, strerror(errno));
    close(fd);
    return ok;
}

static bool bad(ir_diag *d, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool bad(ir_diag *d, const char *path, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ir_error(d, IR_NOLOC, "%s: %s", path, msg);
    return false;
}

static int cmp_tag(const void *x, const void *y) {
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    return a < b ? -1 : a > b;
}

/* Every rule of docs/artifact.md, cheapest first, so the message names the
 * most basic thing that is wrong. */
static bool validate(rt_artifact *a, const char *path, ir_diag *d) {
    const uint8_t *f = a->bytes;
    size_t size = a->size;
    char t1[5], t2[5];
    if (size < sizeof MAGIC) {
        if (memcmp(f, MAGIC, size) == 0)
            return bad(d, path, "truncated: the file has %zu bytes, the header alone needs %d",
                       size, HEADER);
        return bad(d, path, "not a wsc artifact (no WSCARTIFACT magic at the start)");
    }
    if (memcmp(f, MAGIC, sizeof MAGIC) != 0)
        return bad(d, path, "not a wsc artifact (no WSCARTIFACT magic at the start)");
    if (size < OFF_VERSION + 4)
        return bad(d, path, "truncated: the file has %zu bytes, the header alone needs %d", size,
                   HEADER);
    uint64_t version = get_u32(f + OFF_VERSION);
    if (version != RT_WSA_VERSION)
        return bad(d, path, "artifact format version %llu; this wsc reads version %d",
                   (unsigned long long)version, RT_WSA_VERSION);
    if (size < HEADER)
        return bad(d, path, "truncated: the file has %zu bytes, the header alone needs %d", size,
                   HEADER);
    uint64_t n = get_u32(f + OFF_COUNT), fsize = get_u64(f + OFF_SIZE);
    uint64_t table_end = HEADER + n * ENTRY;
    bool checked = false;
    if (table_end <= size) {
        if (header_checksum(f, f + HEADER, (size_t)(n * ENTRY)) != get_u64(f + OFF_CHECK))
            return bad(d, path, "the header is corrupted (checksum mismatch)");
        checked = true;
    }
    if (fsize > size)
        return bad(d, path, "truncated: the file has %zu bytes; its header says %llu", size,
                   (unsigned long long)fsize);
    if (fsize < size)
        return bad(d, path, "corrupted: %llu bytes follow the end of the artifact (%llu bytes)",
                   (unsigned long long)(size - fsize), (unsigned long long)fsize);
    if (!checked)
        return bad(d, path, "corrupted: a section table of %llu entries does not fit in %zu bytes",
                   (unsigned long long)n, size);
    if (n > MAX_SECTIONS)
        return bad(d, path, "corrupted: %llu sections (at most %d)", (unsigned long long)n,
                   MAX_SECTIONS);

    a->n = (int)n;
    a->secs = ir_xmalloc(sizeof(rsec) * (n ? n : 1));
    for (uint64_t i = 0; i < n; i++) {
        const uint8_t *e = f + HEADER + i * ENTRY;
        rsec *s = &a->secs[i];
        *s = (rsec){(uint32_t)get_u32(e), get_u64(e + 8), get_u64(e + 16), get_u64(e + 24)};
        if (!tag_ok(s->tag))
            return bad(d, path, "corrupted: section %llu has the tag 0x%08x, not 4 characters",
                       (unsigned long long)i, s->tag);
        rt_tag_str(s->tag, t1);
        if (get_u32(e + 4) != 0)
            return bad(d, path, "corrupted: the reserved field of section '%s' is not 0", t1);
        if (s->off > fsize || s->len > fsize - s->off)
            return bad(d, path,
                       "corrupted: section '%s' (%llu bytes at offset %llu) lies outside the "
                       "file (%llu bytes)",
                       t1, (unsigned long long)s->len, (unsigned long long)s->off,
                       (unsigned long long)fsize);
        if (s->off < table_end)
            return bad(d, path, "corrupted: section '%s' overlaps the section table", t1);
        if (s->off % ALIGN)
            return bad(d, path, "corrupted: section '%s' is not %d-byte aligned (offset %llu)", t1,
                       ALIGN, (unsigned long long)s->off);
        if (i > 0 && s->off < a->secs[i - 1].off + a->secs[i - 1].len)
            return bad(d, path, "corrupted: sections '%s' and '%s' overlap",
                       rt_tag_str(a->secs[i - 1].tag, t2), t1);
    }
    if (n > 1) {
        uint32_t *tags = ir_xmalloc(sizeof(uint32_t) * n);
        for (uint64_t i = 0; i < n; i++)
            tags[i] = a->secs[i].tag;
        qsort(tags, n, sizeof *tags, cmp_tag);
        uint32_t dup = 0;
        bool found = false;
        for (uint64_t i = 1; i < n && !found; i++)
            if (tags[i] == tags[i - 1]) dup = tags[i], found = true;
        free(tags);
        if (found)
            return bad(d, path, "corrupted: section '%s' appears twice", rt_tag_str(dup, t1));
    }
    /* Canonical placement: each section right after the previous one, at
     * the next multiple of 64, with zero padding, and nothing after the
     * last. */
    uint64_t pos = table_end;
    for (uint64_t i = 0; i < n; i++) {
        const rsec *s = &a->secs[i];
        rt_tag_str(s->tag, t1);
        if (s->off != align_up(pos))
            return bad(d, path, "corrupted: section '%s' is at offset %llu, not %llu", t1,
                       (unsigned long long)s->off, (unsigned long long)align_up(pos));
        for (uint64_t k = pos; k < s->off; k++)
            if (f[k])
                return bad(d, path, "corrupted: the padding before section '%s' is not zero", t1);
        pos = s->off + s->len;
    }
    if (pos != fsize)
        return bad(d, path, "corrupted: %llu bytes after the last section",
                   (unsigned long long)(fsize - pos));
    for (uint64_t i = 0; i < n; i++) {
        const rsec *s = &a->secs[i];
        if (XXH64(f + s->off, (size_t)s->len, 0) != s->sum)
            return bad(d, path, "section '%s' is corrupted (checksum mismatch)",
                       rt_tag_str(s->tag, t1));
    }
    a->model_hash = get_u64(f + OFF_HASH);
    return true;
}

rt_artifact *rt_artifact_open(const char *path, ir_diag *d) {
    rt_artifact *a = ir_xcalloc(1, sizeof *a);
    if (!load(path, a, d) || !validate(a, path, d)) {
        rt_artifact_close(a);
        return NULL;
    }
    return a;
}

uint64_t rt_artifact_model_hash(const rt_artifact *a) {
    return a->model_hash;
}

int rt_artifact_nsections(const rt_artifact *a) {
    return a->n;
}

uint32_t rt_artifact_tag(const rt_artifact *a, int i) {
    if (i < 0 || i >= a->n) ir_internal_error("artifact section index %d of %d", i, a->n);
    return a->secs[i].tag;
}

const void *rt_artifact_section(const rt_artifact *a, uint32_t tag, size_t *len) {
    for (int i = 0; i < a->n; i++)
        if (a->secs[i].tag == tag) {
            if (len) *len = (size_t)a->secs[i].len;
            return a->bytes + a->secs[i].off;
        }
    if (len) *len = 0;
    return NULL;
}
