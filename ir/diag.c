/* diag.c - the one diagnostics engine. Locations are byte offsets into
 * registered files; line and column are computed only when printing, from a
 * line table built on first use. Output follows the clang layout:
 *
 *   m.wsm:2:16: error: undefined name 'scale'
 *       2 | output y = x * scale;
 *         |                ^~~~~
 */
#include "ir.h"

#include <stdlib.h>
#include <string.h>

typedef struct srcfile {
    char *path;      /* as given */
    char *text;      /* copy of the contents */
    size_t len;      /* bytes in text */
    uint32_t *lines; /* offsets of line starts, built lazily */
    int32_t nlines;  /* entries in lines */
} srcfile;

struct ir_diag {
    FILE *out;       /* where messages go, or NULL */
    srcfile *files;  /* registered files */
    int nfiles;      /* count */
    int errors;      /* errors reported */
    int warnings;    /* warnings reported */
    bool muted;      /* the last error was past the limit: drop its notes */
    ir_loc last;     /* span of the last error or warning */
    char *buf;       /* everything printed */
    size_t len, cap; /* used and allocated bytes of buf */
};

/* Past this many errors more would only be noise (and a garbage file can
 * produce one per byte). */
enum { MAX_ERRORS = 50 };

ir_diag *ir_diag_new(FILE *out) {
    ir_diag *d = ir_xcalloc(1, sizeof *d);
    d->out = out;
    return d;
}

void ir_diag_free(ir_diag *d) {
    if (!d) return;
    for (int i = 0; i < d->nfiles; i++) {
        free(d->files[i].path);
        free(d->files[i].text);
        free(d->files[i].lines);
    }
    free(d->files);
    free(d->buf);
    free(d);
}

int ir_diag_add_file(ir_diag *d, const char *path, const char *text, size_t len) {
    d->files = ir_xrealloc(d->files, sizeof(srcfile) * (size_t)(d->nfiles + 1));
    srcfile *f = &d->files[d->nfiles];
    memset(f, 0, sizeof *f);
    f->path = ir_xstrdup(path);
    f->text = ir_xmalloc(len + 1);
    memcpy(f->text, text, len);
    f->text[len] = 0;
    f->len = len;
    return d->nfiles++;
}

const char *ir_diag_file_path(const ir_diag *d, int file) {
    return file >= 0 && file < d->nfiles ? d->files[file].path : "?";
}

const char *ir_diag_file_text(const ir_diag *d, int file, size_t *len) {
    if (file < 0 || file >= d->nfiles) return NULL;
    if (len) *len = d->files[file].len;
    return d->files[file].text;
}

static void build_lines(srcfile *f) {
    size_t n = 1;
    for (size_t i = 0; i < f->len; i++)
        n += f->text[i] == '\n';
    f->lines = ir_xmalloc(n * sizeof *f->lines);
    f->nlines = 0;
    f->lines[f->nlines++] = 0;
    for (size_t i = 0; i < f->len; i++)
        if (f->text[i] == '\n') f->lines[f->nlines++] = (uint32_t)(i + 1);
}

/* Index of the line holding off (binary search over line starts). */
static int32_t line_of(srcfile *f, uint32_t off) {
    if (!f->lines) build_lines(f);
    int32_t lo = 0, hi = f->nlines - 1;
    while (lo < hi) {
        int32_t mid = lo + (hi - lo + 1) / 2;
        if (f->lines[mid] <= off)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

void ir_diag_linecol(const ir_diag *d, int file, uint32_t off, int *line, int *col) {
    if (file < 0 || file >= d->nfiles) {
        *line = *col = 0;
        return;
    }
    srcfile *f = &d->files[file];
    if (off > f->len) off = (uint32_t)f->len;
    int32_t l = line_of(f, off);
    *line = l + 1;
    *col = (int)(off - f->lines[l]) + 1;
}

static void emit(ir_diag *d, const char *s, size_t n) {
    if (d->len + n + 1 > d->cap) {
        d->cap = (d->len + n + 1) * 2;
        d->buf = ir_xrealloc(d->buf, d->cap);
    }
    memcpy(d->buf + d->len, s, n);
    d->len += n;
    d->buf[d->len] = 0;
    if (d->out) fwrite(s, 1, n, d->out);
}

static void emitf(ir_diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emitf(ir_diag *d, const char *fmt, ...) {
    char small[512];
    va_list ap, aq;
    va_start(ap, fmt);
    va_copy(aq, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if ((size_t)n < sizeof small) {
        emit(d, small, (size_t)n);
    } else {
        char *big = ir_xmalloc((size_t)n + 1);
        vsnprintf(big, (size_t)n + 1, fmt, aq);
        emit(d, big, (size_t)n);
        free(big);
    }
    va_end(aq);
}

/* The source line and a caret line under [begin, end) (clipped to the line).
 * Control bytes print as '?' so binary garbage cannot upset a terminal; tabs
 * are kept in both lines so the caret stays aligned. */
static void show_source(ir_diag *d, srcfile *f, ir_loc loc) {
    uint32_t begin = loc.begin > f->len ? (uint32_t)f->len : loc.begin;
    int32_t l = line_of(f, begin);
    uint32_t ls = f->lines[l], le = ls;
    while (le < f->len && f->text[le] != '\n')
        le++;
    if (le > ls && f->text[le - 1] == '\r') le--;
    /* Very long lines (minified or garbage input) are cut around the span. */
    uint32_t from = ls, to = le;
    if (to - from > 200) {
        from = begin > ls + 60 ? begin - 60 : ls;
        to = from + 200 < le ? from + 200 : le;
    }
    char gutter[32];
    int gw = snprintf(gutter, sizeof gutter, "%5d", l + 1);
    emitf(d, "%s | ", gutter);
    char *line = ir_xmalloc(to - from + 2);
    for (uint32_t i = from; i < to; i++) {
        unsigned char c = (unsigned char)f->text[i];
        line[i - from] = (c < 0x20 && c != '\t') || c == 0x7f ? '?' : (char)c;
    }
    line[to - from] = '\n';
    emit(d, line, to - from + 1);
    emitf(d, "%*s | ", gw, "");
    uint32_t end = loc.end > begin ? loc.end : begin + 1;
    if (end > to) end = to > begin ? to : begin + 1;
    size_t n = 0;
    for (uint32_t i = from; i < begin && i < to; i++)
        line[n++] = f->text[i] == '\t' ? '\t' : ' ';
    emit(d, line, n);
    free(line);
    emit(d, "^", 1);
    for (uint32_t i = begin + 1; i < end; i++)
        emit(d, "~", 1);
    emit(d, "\n", 1);
}

static void report(ir_diag *d, const char *kind, ir_loc loc, const char *fmt, va_list ap,
                   bool snippet) {
    if (loc.file >= 0 && loc.file < d->nfiles) {
        int line, col;
        ir_diag_linecol(d, loc.file, loc.begin, &line, &col);
        emitf(d, "%s:%d:%d: %s: ", d->files[loc.file].path, line, col, kind);
    } else {
        emitf(d, "wsc: %s: ", kind);
    }
    char small[1024];
    va_list aq;
    va_copy(aq, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    if (n >= 0 && (size_t)n >= sizeof small) {
        char *big = ir_xmalloc((size_t)n + 1);
        vsnprintf(big, (size_t)n + 1, fmt, aq);
        emit(d, big, (size_t)n);
        free(big);
    } else if (n > 0) {
        emit(d, small, (size_t)n);
    }
    va_end(aq);
    emit(d, "\n", 1);
    if (snippet && loc.file >= 0 && loc.file < d->nfiles) show_source(d, &d->files[loc.file], loc);
}

void ir_verror(ir_diag *d, ir_loc loc, const char *fmt, va_list ap) {
    d->errors++;
    d->muted = d->errors > MAX_ERRORS;
    if (d->errors == MAX_ERRORS + 1)
        emitf(d, "wsc: error: too many errors; the rest are not shown\n");
    if (d->muted) return;
    d->last = loc;
    report(d, "error", loc, fmt, ap, true);
}

void ir_error(ir_diag *d, ir_loc loc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    ir_verror(d, loc, fmt, ap);
    va_end(ap);
}

void ir_warning(ir_diag *d, ir_loc loc, const char *fmt, ...) {
    d->warnings++;
    d->muted = d->warnings > MAX_ERRORS * 4;
    if (d->muted) return;
    va_list ap;
    va_start(ap, fmt);
    d->last = loc;
    report(d, "warning", loc, fmt, ap, true);
    va_end(ap);
}

void ir_note(ir_diag *d, ir_loc loc, const char *fmt, ...) {
    if (d->muted) return;
    va_list ap;
    va_start(ap, fmt);
    /* A note on the very span just shown needs no second picture. */
    bool same = loc.file == d->last.file && loc.begin == d->last.begin && loc.end == d->last.end;
    report(d, "note", loc, fmt, ap, !same);
    va_end(ap);
}

int ir_diag_errors(const ir_diag *d) {
    return d->errors;
}
int ir_diag_warnings(const ir_diag *d) {
    return d->warnings;
}
const char *ir_diag_text(const ir_diag *d) {
    return d->buf ? d->buf : "";
}
