/* target.c - the modeled wafer: the presets of machine.md, target files
 * (`key = value` lines), --fabric, and the text of `wsc help targets`.
 *
 * One table of keys drives the parser, the writer and the help page, so a
 * parameter added to ir_target is added in one place and cannot be
 * documented with a range the parser does not enforce. */
#include "ir.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* -------------------------------------------------------------- presets */

/* Task start-up is not published; a few cycles (machine.md: "task start-up
 * cost[s] a few cycles") is what the SDK's examples suggest. */
enum { TASK_CYCLES = 3 };

static const ir_target presets[] = {
    {"wse2", 757, 996, 49152, 8, 24, 2, 1, 1, 1, 4, 2, 1, TASK_CYCLES, 850e6},
    {"wse3", 762, 1172, 49152, 8, 24, 2, 1, 1, 1, 8, 2, 1, TASK_CYCLES, 850e6},
};
enum { NPRESETS = sizeof presets / sizeof presets[0] };

/* The preset a target file starts from when it has no `base` line. */
static const char *const DEFAULT_BASE = "wse3";

bool ir_target_preset(const char *name, ir_target *t) {
    for (int i = 0; i < NPRESETS; i++) {
        if (strcmp(presets[i].name, name) != 0) continue;
        /* Zeroed first so that no byte of *t, padding included, is left
         * over from before: a target may be hashed or written bytewise. */
        memset(t, 0, sizeof *t);
        *t = presets[i];
        return true;
    }
    return false;
}

/* ----------------------------------------------------------------- keys */

typedef enum key_kind { K_NAME, K_I32, K_I64, K_HZ } key_kind;

typedef struct key {
    const char *name; /* as written in a file; equals the field name */
    key_kind kind;    /* how the value parses */
    size_t off;       /* offset of the field in ir_target */
    int64_t lo, hi;   /* inclusive range of integer keys */
    const char *help; /* meaning, for `wsc help targets` */
} key;

#define F(field) offsetof(ir_target, field)

/* Ranges are generous around the presets but keep every later product
 * (PEs x SRAM, lanes x cycles) far from overflowing 64 bits. */
static const key keys[] = {
    {"name", K_NAME, F(name), 1, 63, "the target's name (letters, digits, . _ -)"},
    {"width", K_I32, F(width), 1, 4096, "fabric width in PEs (x grows east)"},
    {"height", K_I32, F(height), 1, 4096, "fabric height in PEs (y grows south)"},
    {"sram_bytes", K_I64, F(sram_bytes), 1024, 16 << 20,
     "SRAM bytes per PE (whole 32-bit words per bank)"},
    {"sram_banks", K_I32, F(sram_banks), 1, 64, "SRAM banks per PE"},
    {"colors", K_I32, F(colors), 1, 64, "routable colours per router"},
    {"queue_depth", K_I32, F(queue_depth), 2, 8, "router input queue per colour, in wavelets"},
    {"link_wavelets", K_I32, F(link_wavelets), 1, 16, "wavelets per cycle per link and direction"},
    {"hop_cycles", K_I32, F(hop_cycles), 1, 64, "cycles for a wavelet to cross one router"},
    {"fp32_lanes", K_I32, F(fp32_lanes), 1, 64, "fp32 multiply-adds per cycle"},
    {"fp16_lanes", K_I32, F(fp16_lanes), 1, 64, "fp16 multiply-adds per cycle"},
    {"sram_reads", K_I32, F(sram_reads), 1, 16, "32-bit SRAM reads per cycle"},
    {"sram_writes", K_I32, F(sram_writes), 1, 16, "32-bit SRAM writes per cycle"},
    {"task_cycles", K_I32, F(task_cycles), 0, 1024, "cycles to start a task"},
    {"clock_hz", K_HZ, F(clock_hz), 0, 0, "clock in Hz (850e6 = 850 MHz)"},
};
enum { NKEYS = sizeof keys / sizeof keys[0] };

#undef F

static int32_t *i32_field(ir_target *t, const key *k) {
    return (int32_t *)((char *)t + k->off);
}
static int64_t *i64_field(ir_target *t, const key *k) {
    return (int64_t *)((char *)t + k->off);
}
static double *f64_field(ir_target *t, const key *k) {
    return (double *)((char *)t + k->off);
}

static const key *key_lookup(const char *s, size_t n) {
    for (int i = 0; i < NKEYS; i++)
        if (strlen(keys[i].name) == n && memcmp(keys[i].name, s, n) == 0) return &keys[i];
    return NULL;
}

static bool name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

/* --------------------------------------------------------------- parsing */

/* A target file is a few hundred bytes; anything much larger is not one,
 * and the limit keeps every offset within the diagnostics' 32 bits. */
enum { MAX_FILE = 1 << 20 };

/* One target file being parsed. */
typedef struct parser {
    ir_diag *d;         /* where errors go */
    int file;           /* the file's id in d */
    const char *text;   /* its bytes (d's copy) */
    ir_target t;        /* the target being built */
    ir_loc seen[NKEYS]; /* where each key was set (file < 0: not yet) */
    ir_loc base_loc;    /* the `base` line's key, or file < 0 */
    bool any_key;       /* a key other than base was set */
    int errors;         /* errors reported on this file */
} parser;

static ir_loc span(const parser *p, size_t b, size_t e) {
    return (ir_loc){p->file, (uint32_t)b, (uint32_t)e};
}

static void err(parser *p, size_t b, size_t e, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void err(parser *p, size_t b, size_t e, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    ir_verror(p->d, span(p, b, e), fmt, ap);
    va_end(ap);
    p->errors++;
}

static bool blank(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* An integer in decimal with an optional sign; *over is set when it does not
 * fit in 64 bits, so the message can still say "out of range". */
static bool parse_integer(const char *s, size_t n, int64_t *out, bool *over) {
    size_t i = 0;
    bool neg = false;
    *over = false;
    if (i < n && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
    if (i == n) return false;
    uint64_t v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        unsigned dgt = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - dgt) / 10 || v * 10 + dgt > (uint64_t)INT64_MAX)
            *over = true;
        else
            v = v * 10 + dgt;
    }
    *out = neg ? -(int64_t)v : (int64_t)v;
    return true;
}

/* A decimal number (digits, an optional fraction and exponent): strtod
 * alone would also take hex, "inf", "nan" and leading blanks. */
static bool parse_number(const char *s, size_t n, double *out) {
    size_t i = 0, digits = 0;
    if (i < n && (s[i] == '+' || s[i] == '-')) i++;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++, digits++;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++, digits++;
    }
    if (digits == 0) return false;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) i++;
        size_t ed = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++, ed++;
        if (ed == 0) return false;
    }
    if (i != n || n > 64) return false;
    char buf[72];
    memcpy(buf, s, n);
    buf[n] = 0;
    *out = strtod(buf, NULL);
    return true;
}

static void set_value(parser *p, const key *k, size_t vb, size_t ve) {
    const char *v = p->text + vb;
    size_t n = ve - vb;
    switch (k->kind) {
    case K_NAME: {
        for (size_t i = 0; i < n; i++)
            if (!name_char(v[i])) {
                err(p, vb + i, vb + i + 1,
                    "a target name holds letters, digits, '.', '_' and '-' only");
                return;
            }
        if (n > (size_t)k->hi) {
            err(p, vb, ve, "the target name is %zu characters long; at most %d are allowed", n,
                (int)k->hi);
            return;
        }
        memset(p->t.name, 0, sizeof p->t.name);
        memcpy(p->t.name, v, n);
        return;
    }
    case K_I32:
    case K_I64: {
        int64_t x;
        bool over;
        if (!parse_integer(v, n, &x, &over)) {
            err(p, vb, ve, "'%s' expects an integer, not '%.*s'", k->name, (int)n, v);
            return;
        }
        if (over || x < k->lo || x > k->hi) {
            err(p, vb, ve, "'%s' must be from %lld to %lld, not %.*s", k->name, (long long)k->lo,
                (long long)k->hi, (int)n, v);
            return;
        }
        if (k->kind == K_I32)
            *i32_field(&p->t, k) = (int32_t)x;
        else
            *i64_field(&p->t, k) = x;
        return;
    }
    case K_HZ: {
        double x;
        if (!parse_number(v, n, &x)) {
            err(p, vb, ve, "'%s' expects a number such as 850e6, not '%.*s'", k->name, (int)n, v);
            return;
        }
        if (!(x >= IR_MIN_CLOCK_HZ) || !(x <= IR_MAX_CLOCK_HZ)) {
            err(p, vb, ve, "'%s' must be at least 1e3 (1 kHz) and at most 1e12, not %.*s", k->name,
                (int)n, v);
            return;
        }
        *f64_field(&p->t, k) = x;
        return;
    }
    }
}

static void note_keys(parser *p, ir_loc at) {
    char list[512];
    size_t len = (size_t)snprintf(list, sizeof list, "base");
    for (int i = 0; i < NKEYS && len < sizeof list; i++)
        len += (size_t)snprintf(list + len, sizeof list - len, ", %s", keys[i].name);
    ir_note(p->d, at, "the keys are %s ('wsc help targets')", list);
}

static void base_line(parser *p, size_t kb, size_t ke, size_t vb, size_t ve) {
    if (p->base_loc.file >= 0) {
        err(p, kb, ke, "'base' is set twice");
        ir_note(p->d, p->base_loc, "it was first set here");
        return;
    }
    p->base_loc = span(p, kb, ke);
    if (p->any_key) {
        err(p, kb, ke, "'base' must come before every other key");
        return;
    }
    char name[16] = "";
    size_t n = ve - vb;
    if (n < sizeof name) memcpy(name, p->text + vb, n);
    ir_target t;
    if (n >= sizeof name || !ir_target_preset(name, &t)) {
        err(p, vb, ve, "unknown base '%.*s' (expected wse2 or wse3)", (int)(n > 64 ? 64 : n),
            p->text + vb);
        return;
    }
    /* The file's own name (already in p->t) outlives the base. */
    memcpy(t.name, p->t.name, sizeof t.name);
    p->t = t;
}

/* One line [b, e) without its newline. */
static void parse_line(parser *p, size_t b, size_t e) {
    const char *s = p->text;
    for (size_t i = b; i < e; i++)
        if (s[i] == '#') {
            e = i;
            break;
        }
    while (b < e && blank(s[b]))
        b++;
    while (e > b && blank(s[e - 1]))
        e--;
    if (b == e) return;
    const char *eq = memchr(s + b, '=', e - b);
    if (!eq) {
        err(p, b, e, "expected 'key = value', e.g. 'width = 32'");
        return;
    }
    size_t q = (size_t)(eq - s), kb = b, ke = q, vb = q + 1, ve = e;
    while (ke > kb && blank(s[ke - 1]))
        ke--;
    while (vb < ve && blank(s[vb]))
        vb++;
    if (kb == ke) {
        err(p, q, q + 1, "a key is missing before '='");
        return;
    }
    if (ke - kb == 4 && memcmp(s + kb, "base", 4) == 0) {
        if (vb == ve) {
            err(p, q, q + 1, "'base' needs a value (wse2 or wse3)");
            return;
        }
        base_line(p, kb, ke, vb, ve);
        return;
    }
    const key *k = key_lookup(s + kb, ke - kb);
    if (!k) {
        err(p, kb, ke, "unknown key '%.*s'", (int)(ke - kb > 64 ? 64 : ke - kb), s + kb);
        note_keys(p, span(p, kb, ke));
        return;
    }
    p->any_key = true;
    ir_loc *seen = &p->seen[k - keys];
    if (seen->file >= 0) {
        err(p, kb, ke, "'%s' is set twice", k->name);
        ir_note(p->d, *seen, "it was first set here");
        return;
    }
    *seen = span(p, kb, ke);
    if (vb == ve) {
        err(p, q, q + 1, "'%s' needs a value", k->name);
        return;
    }
    set_value(p, k, vb, ve);
}

/* Rules that tie two keys together, reported at the key the file set last
 * (or at the first line when the conflict comes from the base). */
static void check_consistency(parser *p) {
    const key *bytes = key_lookup("sram_bytes", 10), *banks = key_lookup("sram_banks", 10);
    ir_loc lb = p->seen[bytes - keys], lk = p->seen[banks - keys];
    ir_loc at = lk.file >= 0 && (lb.file < 0 || lk.begin > lb.begin) ? lk : lb;
    if (at.file < 0) at = span(p, 0, 0);
    if (p->t.sram_bytes % 4 != 0) {
        ir_error(p->d, lb.file >= 0 ? lb : at,
                 "'sram_bytes' must be a multiple of 4 (32-bit words), not %lld",
                 (long long)p->t.sram_bytes);
        p->errors++;
    } else if (p->t.sram_bytes % ((int64_t)p->t.sram_banks * 4) != 0) {
        ir_error(p->d, at, "%lld bytes of SRAM do not split into %d banks of whole 32-bit words",
                 (long long)p->t.sram_bytes, p->t.sram_banks);
        p->errors++;
    }
}

/* The file's stem as a valid name: what a target without a `name` key is
 * called. */
static void stem_name(const char *path, char *out, size_t n) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t len = strcspn(base, ".");
    if (len == 0) len = strlen(base);
    if (len > n - 1) len = n - 1;
    memset(out, 0, n);
    for (size_t i = 0; i < len; i++)
        out[i] = name_char(base[i]) ? base[i] : '_';
    if (len == 0) snprintf(out, n, "custom");
}

/* Reads at most MAX_FILE + 1 bytes: a longer file is refused anyway. */
static char *slurp(const char *path, size_t *len, ir_diag *d) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        ir_error(d, IR_NOLOC, "cannot read target file '%s': %s", path, strerror(errno));
        return NULL;
    }
    char *buf = ir_xmalloc(MAX_FILE + 1);
    size_t n = fread(buf, 1, MAX_FILE + 1, f);
    int bad = ferror(f) ? errno : 0;
    fclose(f);
    if (bad) {
        ir_error(d, IR_NOLOC, "cannot read target file '%s': %s", path, strerror(bad));
        free(buf);
        return NULL;
    }
    if (n > MAX_FILE) {
        ir_error(d, IR_NOLOC, "target file '%s' is larger than %d bytes; it is not a target file",
                 path, MAX_FILE);
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

bool ir_target_load(const char *path, ir_target *t, ir_diag *d) {
    size_t len;
    char *buf = slurp(path, &len, d);
    if (!buf) return false;
    parser p;
    memset(&p, 0, sizeof p);
    p.d = d;
    p.file = ir_diag_add_file(d, path, buf, len);
    free(buf);
    p.text = ir_diag_file_text(d, p.file, NULL);
    p.base_loc = IR_NOLOC;
    for (int i = 0; i < NKEYS; i++)
        p.seen[i] = IR_NOLOC;
    if (!ir_target_preset(DEFAULT_BASE, &p.t)) ir_internal_error("no preset '%s'", DEFAULT_BASE);
    stem_name(path, p.t.name, sizeof p.t.name);
    for (size_t b = 0; b <= len;) {
        const char *nl = memchr(p.text + b, '\n', len - b);
        size_t e = nl ? (size_t)(nl - p.text) : len;
        parse_line(&p, b, e);
        b = e + 1;
    }
    if (p.errors == 0) check_consistency(&p);
    if (p.errors) return false;
    *t = p.t;
    return true;
}

/* ---------------------------------------------------------------- fabric */

bool ir_target_set_fabric(ir_target *t, int32_t w, int32_t h, ir_diag *d) {
    if (w < 1 || h < 1 || w > t->width || h > t->height) {
        ir_error(d, IR_NOLOC, "--fabric %dx%d does not fit the %s fabric (%dx%d)", (int)w, (int)h,
                 t->name, (int)t->width, (int)t->height);
        return false;
    }
    t->width = w;
    t->height = h;
    return true;
}

/* ------------------------------------------------------- writing and help */

static void write_value(const ir_target *t, const key *k, FILE *out) {
    ir_target *m = (ir_target *)t; /* the accessors do not write */
    switch (k->kind) {
    case K_NAME: fprintf(out, "%s", t->name); break;
    case K_I32: fprintf(out, "%d", (int)*i32_field(m, k)); break;
    case K_I64: fprintf(out, "%lld", (long long)*i64_field(m, k)); break;
    /* %.17g reads back to the same double. */
    case K_HZ: fprintf(out, "%.17g", *f64_field(m, k)); break;
    }
}

void ir_target_write(const ir_target *t, FILE *out) {
    fputs("# wsc target file: every parameter of the machine ('wsc help targets')\n", out);
    for (int i = 0; i < NKEYS; i++) {
        fprintf(out, "%s = ", keys[i].name);
        write_value(t, &keys[i], out);
        fputc('\n', out);
    }
}

void ir_target_help(FILE *out) {
    fputs("Targets: the machine 'wsc compile' compiles for.\n\n"
          "The modeled wafer is a 2-D mesh of processing elements (PEs), each with private\n"
          "SRAM, a core that runs data-triggered tasks, and a router that moves 32-bit\n"
          "wavelets to its four neighbours on coloured channels; there is no shared memory.\n\n"
          "presets (--target wse2|wse3; the default is wse3):\n",
          out);
    fprintf(out, "  %-14s", "key");
    for (int p = 0; p < NPRESETS; p++)
        fprintf(out, p + 1 < NPRESETS ? " %-11s" : " %s", presets[p].name);
    fputc('\n', out);
    for (int i = 0; i < NKEYS; i++) {
        if (keys[i].kind == K_NAME) continue;
        fprintf(out, "  %-14s", keys[i].name);
        for (int p = 0; p < NPRESETS; p++) {
            char *val = NULL;
            size_t n = 0;
            FILE *f = open_memstream(&val, &n);
            if (!f) ir_internal_error("open_memstream: %s", strerror(errno));
            write_value(&presets[p], &keys[i], f);
            fclose(f);
            fprintf(out, p + 1 < NPRESETS ? " %-11s" : " %s", val);
            free(val);
        }
        fputc('\n', out);
    }
    fputs("\n--fabric WxH compiles for the W x H rectangle at the north-west corner of the\n"
          "target's fabric (1 <= W <= width, 1 <= H <= height); tests use 32x32.\n\n"
          "--target FILE reads a target file: one 'key = value' per line; '#' starts a\n"
          "comment; blank lines are ignored. The file starts from the preset named by an\n"
          "optional first line 'base = wse2' or 'base = wse3' (default wse3) and changes\n"
          "the keys it sets, each at most once. Integers are decimal. A target without a\n"
          "'name' key is named after the file. An unknown key, a repeated key, a value\n"
          "out of range or a line that is not 'key = value' is an error at its\n"
          "FILE:LINE:COL (exit status 1).\n\n"
          "keys:\n"
          "  base           wse2 or wse3: the preset the file starts from (first line)\n",
          out);
    for (int i = 0; i < NKEYS; i++) {
        const key *k = &keys[i];
        char range[48];
        if (k->kind == K_I32 || k->kind == K_I64)
            snprintf(range, sizeof range, "%lld..%lld", (long long)k->lo, (long long)k->hi);
        else if (k->kind == K_NAME)
            snprintf(range, sizeof range, "1..%lld chars", (long long)k->hi);
        else
            snprintf(range, sizeof range, "(0, 1e12]");
        fprintf(out, "  %-14s %-15s %s\n", k->name, range, k->help);
    }
    fputs("\nexample (a wse2 with twice the SRAM and 32 colours):\n"
          "  # my-wafer.target\n"
          "  base = wse2\n"
          "  name = wse2-big\n"
          "  sram_bytes = 98304   # 96 KiB\n"
          "  colors = 32\n"
          "  clock_hz = 1.1e9\n",
          out);
}
