/* test_target.c - the machine description: the presets of machine.md,
 * target files (every key, every kind of error with its line and column),
 * --fabric, the writer's round trip and the help text. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ir.h"

#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/wsc_test_target_XXXXXX";

#include "test_util.h"

/* Every field, so a test notices a field the writer or parser forgets. */
static void assert_same_target(const ir_target *a, const ir_target *b) {
    assert_string_equal(a->name, b->name);
    assert_int_equal(a->width, b->width);
    assert_int_equal(a->height, b->height);
    assert_int_equal(a->sram_bytes, b->sram_bytes);
    assert_int_equal(a->sram_banks, b->sram_banks);
    assert_int_equal(a->colors, b->colors);
    assert_int_equal(a->queue_depth, b->queue_depth);
    assert_int_equal(a->link_wavelets, b->link_wavelets);
    assert_int_equal(a->hop_cycles, b->hop_cycles);
    assert_int_equal(a->fp32_lanes, b->fp32_lanes);
    assert_int_equal(a->fp16_lanes, b->fp16_lanes);
    assert_int_equal(a->sram_reads, b->sram_reads);
    assert_int_equal(a->sram_writes, b->sram_writes);
    assert_int_equal(a->task_cycles, b->task_cycles);
    assert_true(a->clock_hz == b->clock_hz);
}

/* Loads `text` as target file NAME; returns the result, with the messages
 * in *msgs (caller frees) and the error count in *errors. */
static bool load_text(const char *name, const char *text, ir_target *t, char **msgs, int *errors) {
    const char *path = tmp(name);
    write_file(path, text, strlen(text));
    ir_diag *d = ir_diag_new(NULL);
    bool ok = ir_target_load(path, t, d);
    if (msgs) *msgs = strdup(ir_diag_text(d));
    if (errors) *errors = ir_diag_errors(d);
    ir_diag_free(d);
    return ok;
}

/* The file must be refused with exactly one error whose text contains
 * "NAME:LINE:COL: error: " and `want`. */
static void expect_error(const char *text, int line, int col, const char *want) {
    ir_target t, before;
    assert_true(ir_target_preset("wse2", &t));
    before = t;
    char *msgs;
    int errors;
    bool ok = load_text("bad.target", text, &t, &msgs, &errors);
    char where[600];
    snprintf(where, sizeof where, "%s:%d:%d: error: ", tmp("bad.target"), line, col);
    if (ok || errors != 1 || !strstr(msgs, where) || !strstr(msgs, want))
        fail_msg("file:\n%s\nwanted one error at %d:%d containing '%s', got (%d errors):\n%s", text,
                 line, col, want, errors, msgs);
    /* A refused file leaves the target as it was. */
    assert_same_target(&t, &before);
    free(msgs);
}

/* ---------------------------------------------------------------- presets */

static void test_presets(void **state) {
    (void)state;
    ir_target t;
    assert_true(ir_target_preset("wse2", &t));
    assert_string_equal(t.name, "wse2");
    assert_int_equal(t.width, 757);
    assert_int_equal(t.height, 996);
    assert_int_equal(t.sram_bytes, 49152);
    assert_int_equal(t.sram_banks, 8);
    assert_int_equal(t.colors, 24);
    assert_int_equal(t.queue_depth, 2);
    assert_int_equal(t.link_wavelets, 1);
    assert_int_equal(t.hop_cycles, 1);
    assert_int_equal(t.fp32_lanes, 1);
    assert_int_equal(t.fp16_lanes, 4);
    assert_int_equal(t.sram_reads, 2);
    assert_int_equal(t.sram_writes, 1);
    assert_int_equal(t.task_cycles, 3);
    assert_true(t.clock_hz == 850e6);

    assert_true(ir_target_preset("wse3", &t));
    assert_string_equal(t.name, "wse3");
    assert_int_equal(t.width, 762);
    assert_int_equal(t.height, 1172);
    assert_int_equal(t.sram_bytes, 49152);
    assert_int_equal(t.sram_banks, 8);
    assert_int_equal(t.colors, 24);
    assert_int_equal(t.queue_depth, 2);
    assert_int_equal(t.fp32_lanes, 1);
    assert_int_equal(t.fp16_lanes, 8);
    assert_int_equal(t.sram_reads, 2);
    assert_int_equal(t.sram_writes, 1);
    assert_true(t.clock_hz == 850e6);

    /* The name buffer is zero past the name, so targets compare bytewise. */
    for (size_t i = strlen(t.name); i < sizeof t.name; i++)
        assert_int_equal(t.name[i], 0);

    assert_false(ir_target_preset("wse4", &t));
    assert_false(ir_target_preset("", &t));
    assert_false(ir_target_preset("WSE3", &t));
}

/* ------------------------------------------------------------ target files */

static void test_load_valid(void **state) {
    (void)state;
    ir_target t, want;
    char *msgs;
    int errors;
    /* Comments (whole-line and trailing), blank lines, blanks around '=',
     * tabs and CRLF line ends, and a last line without a newline. */
    const char *text = "# a bigger wse2\n"
                       "\n"
                       "base = wse2   # the preset to start from\r\n"
                       "  width=100\n"
                       "\theight =\t50\t\n"
                       "sram_bytes = 98304\n"
                       "colors = 32 # more colours\n"
                       "clock_hz = 1.1e9\n"
                       "   \n"
                       "task_cycles = 0";
    assert_true(load_text("big.target", text, &t, &msgs, &errors));
    assert_int_equal(errors, 0);
    assert_string_equal(msgs, "");
    free(msgs);
    assert_true(ir_target_preset("wse2", &want));
    snprintf(want.name, sizeof want.name, "big"); /* named after the file */
    want.width = 100;
    want.height = 50;
    want.sram_bytes = 98304;
    want.colors = 32;
    want.clock_hz = 1.1e9;
    want.task_cycles = 0;
    assert_same_target(&t, &want);

    /* No base: wse3; every key with its own value. */
    text = "name = my-wafer_1.0\nwidth = 4096\nheight = 1\nsram_bytes = 1024\nsram_banks = 64\n"
           "colors = 64\nqueue_depth = 8\nlink_wavelets = 16\nhop_cycles = 64\nfp32_lanes = 64\n"
           "fp16_lanes = 2\nsram_reads = 16\nsram_writes = 16\ntask_cycles = 1024\n"
           "clock_hz = 1000000000000\n";
    assert_true(load_text("all.target", text, &t, NULL, NULL));
    want = (ir_target){"my-wafer_1.0", 4096, 1, 1024, 64, 64, 8, 16, 64, 64, 2, 16, 16, 1024, 1e12};
    assert_same_target(&t, &want);

    /* The lower ends of every range. */
    text = "width = 1\nheight = 1\nsram_bytes = 1024\nsram_banks = 1\ncolors = 1\n"
           "queue_depth = 2\nlink_wavelets = 1\nhop_cycles = 1\nfp32_lanes = 1\nfp16_lanes = 1\n"
           "sram_reads = 1\nsram_writes = 1\ntask_cycles = 0\nclock_hz = 1000\n";
    assert_true(load_text("low.target", text, &t, NULL, NULL));
    assert_int_equal(t.width, 1);
    assert_int_equal(t.sram_banks, 1);
    assert_true(t.clock_hz == 1000);
    assert_string_equal(t.name, "low");

    /* An empty file is the default preset under the file's name; +N is N. */
    assert_true(load_text("empty.target", "", &t, NULL, NULL));
    assert_true(ir_target_preset("wse3", &want));
    snprintf(want.name, sizeof want.name, "empty");
    assert_same_target(&t, &want);
    assert_true(load_text("plus.target", "width = +12\n# only a comment", &t, NULL, NULL));
    assert_int_equal(t.width, 12);
    assert_true(load_text("clock.target", "clock_hz = 850000000\n", &t, NULL, NULL));
    assert_true(t.clock_hz == 850e6);
    assert_true(load_text("base3.target", "base = wse3\nname = x\n", &t, NULL, NULL));
    assert_string_equal(t.name, "x");
    assert_int_equal(t.width, 762);

    /* A stem with characters a name cannot hold is sanitized. */
    assert_true(load_text("my wafer+.cfg", "", &t, NULL, NULL));
    assert_string_equal(t.name, "my_wafer_");
}

static void test_load_errors(void **state) {
    (void)state;
    /* Lines that are not key = value. */
    expect_error("width = 10\njust words\n", 2, 1, "expected 'key = value'");
    expect_error("   = 5\n", 1, 4, "a key is missing before '='");
    expect_error("width =   # nothing\n", 1, 7, "'width' needs a value");
    expect_error("base =\n", 1, 6, "'base' needs a value");
    /* Keys. */
    expect_error("\n\n  wdith = 10\n", 3, 3, "unknown key 'wdith'");
    expect_error("width = 10\n\nwidth = 20\n", 3, 1, "'width' is set twice");
    expect_error("width = 10\nbase = wse2\n", 2, 1, "'base' must come before every other key");
    expect_error("base = wse2\nbase = wse3\n", 2, 1, "'base' is set twice");
    expect_error("base = wse4\n", 1, 8, "unknown base 'wse4' (expected wse2 or wse3)");
    expect_error("base = a-very-long-name-for-a-base\n", 1, 8, "unknown base");
    /* Integers: malformed and out of range, at the value's column. */
    expect_error("height = 12x\n", 1, 10, "'height' expects an integer, not '12x'");
    expect_error("height = 1 2\n", 1, 10, "expects an integer");
    expect_error("height = 0x10\n", 1, 10, "expects an integer");
    expect_error("height = -\n", 1, 10, "expects an integer");
    expect_error("height = 1.5\n", 1, 10, "expects an integer");
    expect_error("width = 0\n", 1, 9, "'width' must be from 1 to 4096, not 0");
    expect_error("width = 4097\n", 1, 9, "'width' must be from 1 to 4096, not 4097");
    expect_error("width = -3\n", 1, 9, "must be from 1 to 4096, not -3");
    expect_error("width = 99999999999999999999999\n", 1, 9, "must be from 1 to 4096");
    expect_error("height = 4097\n", 1, 10, "from 1 to 4096");
    expect_error("sram_bytes = 1020\n", 1, 14, "'sram_bytes' must be from 1024 to 16777216");
    expect_error("sram_bytes = 16777220\n", 1, 14, "from 1024 to 16777216");
    expect_error("sram_banks = 65\n", 1, 14, "from 1 to 64");
    expect_error("colors = 0\n", 1, 10, "'colors' must be from 1 to 64");
    expect_error("colors = 65\n", 1, 10, "from 1 to 64");
    expect_error("queue_depth = 1\n", 1, 15, "'queue_depth' must be from 2 to 8");
    expect_error("queue_depth = 9\n", 1, 15, "from 2 to 8");
    expect_error("link_wavelets = 0\n", 1, 17, "from 1 to 16");
    expect_error("hop_cycles = 65\n", 1, 14, "from 1 to 64");
    expect_error("fp32_lanes = 0\n", 1, 14, "'fp32_lanes' must be from 1 to 64");
    expect_error("fp16_lanes = 65\n", 1, 14, "from 1 to 64");
    expect_error("sram_reads = 17\n", 1, 14, "from 1 to 16");
    expect_error("sram_writes = 0\n", 1, 15, "from 1 to 16");
    expect_error("task_cycles = -1\n", 1, 15, "from 0 to 1024");
    expect_error("task_cycles = 1025\n", 1, 15, "from 0 to 1024");
    /* The clock. */
    expect_error("clock_hz = 0\n", 1, 12,
                 "'clock_hz' must be at least 1e3 (1 kHz) and at most 1e12, not 0");
    expect_error("clock_hz = -5e8\n", 1, 12, "must be at least 1e3");
    /* so tiny that cycles / clock_hz would be infinite */
    expect_error("clock_hz = 4.9e-324\n", 1, 12, "must be at least 1e3");
    expect_error("clock_hz = 999.9\n", 1, 12, "must be at least 1e3");
    expect_error("clock_hz = 1.5e12\n", 1, 12, "at most 1e12");
    expect_error("clock_hz = 1e999\n", 1, 12, "at most 1e12");
    expect_error("clock_hz = inf\n", 1, 12, "expects a number");
    expect_error("clock_hz = nan\n", 1, 12, "expects a number");
    expect_error("clock_hz = 0x10\n", 1, 12, "expects a number");
    expect_error("clock_hz = 850 MHz\n", 1, 12, "expects a number such as 850e6, not '850 MHz'");
    expect_error("clock_hz = 1e\n", 1, 12, "expects a number");
    expect_error("clock_hz = .\n", 1, 12, "expects a number");
    /* Names. */
    expect_error("name = my wafer\n", 1, 10, "letters, digits, '.', '_' and '-' only");
    expect_error("name = \"q\"\n", 1, 8, "letters, digits");
    expect_error("name = "
                 "a234567890123456789012345678901234567890123456789012345678901234\n",
                 1, 8, "64 characters long; at most 63");
    /* Keys that must agree. */
    expect_error("sram_bytes = 1026\n", 1, 1, "'sram_bytes' must be a multiple of 4");
    expect_error("sram_banks = 7\n", 1, 1, "49152 bytes of SRAM do not split into 7 banks");
    expect_error("sram_bytes = 2048\nsram_banks = 3\n", 2, 1, "do not split into 3 banks");
    /* A NUL byte is just a character that does not belong. */
    ir_target t;
    char *msgs;
    int errors;
    const char nul[] = "width = 1\0\n";
    write_file(tmp("nul.target"), nul, sizeof nul - 1);
    ir_diag *d = ir_diag_new(NULL);
    assert_false(ir_target_load(tmp("nul.target"), &t, d));
    assert_non_null(strstr(ir_diag_text(d), "nul.target:1:9: error: 'width' expects an integer"));
    ir_diag_free(d);

    /* Every broken line is reported in one run, each at its own line; the
     * note on a repeated key points at its first line. */
    assert_false(load_text("many.target", "width = 0\nfoo = 1\nwidth = 2\ncolors = x\n", &t, &msgs,
                           &errors));
    assert_int_equal(errors, 4);
    assert_non_null(strstr(msgs, "many.target:1:9: error:"));
    assert_non_null(strstr(msgs, "many.target:2:1: error: unknown key 'foo'"));
    assert_non_null(strstr(msgs, "note: the keys are base, name, width, height"));
    assert_non_null(strstr(msgs, "many.target:3:1: error: 'width' is set twice"));
    assert_non_null(strstr(msgs, "many.target:1:1: note: it was first set here"));
    assert_non_null(strstr(msgs, "many.target:4:10: error:"));
    /* The source line and a caret under the span, as for model files. */
    assert_non_null(strstr(msgs, "    4 | colors = x\n      |          ^\n"));
    free(msgs);
}

static void test_load_unreadable(void **state) {
    (void)state;
    ir_target t;
    ir_diag *d = ir_diag_new(NULL);
    assert_false(ir_target_load(tmp("missing.target"), &t, d));
    assert_non_null(strstr(ir_diag_text(d), "cannot read target file"));
    assert_non_null(strstr(ir_diag_text(d), "No such file or directory"));
    ir_diag_free(d);

    assert_int_equal(mkdir(tmp("dir.target"), 0755), 0);
    d = ir_diag_new(NULL);
    assert_false(ir_target_load(tmp("dir.target"), &t, d));
    assert_non_null(strstr(ir_diag_text(d), "cannot read target file"));
    ir_diag_free(d);

    /* A big file is refused before it is parsed. */
    size_t n = (1 << 20) + 10;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, '#', n);
    write_file(tmp("big.target"), big, n);
    free(big);
    d = ir_diag_new(NULL);
    assert_false(ir_target_load(tmp("big.target"), &t, d));
    assert_non_null(strstr(ir_diag_text(d), "it is not a target file"));
    ir_diag_free(d);
}

/* Binary garbage and mutated files never crash and are never silently
 * accepted with a broken value: whatever loads passes the range checks. */
static void test_load_garbage(void **state) {
    (void)state;
    uint64_t s = 99;
    char buf[512];
    for (int round = 0; round < 300; round++) {
        size_t n = (size_t)(round * 7 % 500);
        for (size_t i = 0; i < n; i++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            /* Mostly text that looks like keys, some raw bytes. */
            static const char alphabet[] = "width=12 \n#colorsbase_wse3.-+e9x\t\r";
            buf[i] = round % 3 ? alphabet[(s >> 33) % (sizeof alphabet - 1)] : (char)(s >> 56);
        }
        write_file(tmp("garbage.target"), buf, n);
        ir_diag *d = ir_diag_new(NULL);
        ir_target t;
        if (ir_target_load(tmp("garbage.target"), &t, d)) {
            assert_int_equal(ir_diag_errors(d), 0);
            assert_true(t.width >= 1 && t.width <= 4096);
            assert_true(t.colors >= 1 && t.colors <= 64);
            assert_true(t.clock_hz >= 1e3 && t.clock_hz <= 1e12);
        } else {
            assert_true(ir_diag_errors(d) > 0);
        }
        ir_diag_free(d);
    }
}

/* ---------------------------------------------------------------- fabric */

static void test_fabric(void **state) {
    (void)state;
    ir_target t;
    assert_true(ir_target_preset("wse3", &t));
    ir_diag *d = ir_diag_new(NULL);
    assert_true(ir_target_set_fabric(&t, 32, 32, d));
    assert_int_equal(t.width, 32);
    assert_int_equal(t.height, 32);
    assert_string_equal(t.name, "wse3");
    assert_int_equal(t.fp16_lanes, 8); /* the rest of the machine is kept */
    assert_int_equal(ir_diag_errors(d), 0);

    assert_true(ir_target_preset("wse3", &t));
    assert_true(ir_target_set_fabric(&t, 762, 1172, d)); /* the whole wafer */
    assert_true(ir_target_set_fabric(&t, 1, 1, d));
    ir_diag_free(d);

    /* Too wide, too tall, empty: refused naming both sizes; t unchanged. */
    const int32_t bad[][2] = {{763, 10}, {10, 1173}, {0, 5}, {5, 0}, {-1, 5}, {100000, 100000}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_true(ir_target_preset("wse2", &t));
        d = ir_diag_new(NULL);
        assert_false(ir_target_set_fabric(&t, bad[i][0], bad[i][1], d));
        char want[128];
        snprintf(want, sizeof want, "--fabric %dx%d does not fit the wse2 fabric (757x996)",
                 bad[i][0], bad[i][1]);
        assert_non_null(strstr(ir_diag_text(d), want));
        assert_int_equal(t.width, 757);
        assert_int_equal(t.height, 996);
        ir_diag_free(d);
    }
    /* A smaller fabric is the new limit. */
    assert_true(ir_target_preset("wse2", &t));
    d = ir_diag_new(NULL);
    assert_true(ir_target_set_fabric(&t, 40, 30, d));
    assert_false(ir_target_set_fabric(&t, 41, 30, d));
    assert_non_null(strstr(ir_diag_text(d), "(40x30)"));
    ir_diag_free(d);
}

/* ------------------------------------------------------- round trip, help */

static void round_trip(const ir_target *t) {
    const char *path = tmp("rt.target");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    ir_target_write(t, f);
    assert_int_equal(fclose(f), 0);
    ir_target back;
    ir_diag *d = ir_diag_new(NULL);
    if (!ir_target_load(path, &back, d)) fail_msg("%s", ir_diag_text(d));
    ir_diag_free(d);
    assert_same_target(&back, t);
}

static void test_round_trip(void **state) {
    (void)state;
    ir_target t;
    assert_true(ir_target_preset("wse2", &t));
    round_trip(&t);
    assert_true(ir_target_preset("wse3", &t));
    round_trip(&t);
    ir_diag *d = ir_diag_new(NULL);
    assert_true(ir_target_set_fabric(&t, 32, 16, d));
    ir_diag_free(d);
    round_trip(&t);
    /* Values a short %g would not give back exactly. */
    t = (ir_target){"odd.one", 3, 4096, 16777216,           4, 7, 5, 3, 9, 2, 33,
                    3,         2, 17,   123456789.123456789};
    round_trip(&t);
    t.clock_hz = 1000.1;
    round_trip(&t);
    t.clock_hz = 1e12;
    round_trip(&t);

    /* Every key is written, one per line. */
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    ir_target_write(&t, f);
    fclose(f);
    const char *want[] = {
        "\nname = odd.one\n",        "\nwidth = 3\n",         "\nheight = 4096\n",
        "\nsram_bytes = 16777216\n", "\nsram_banks = 4\n",    "\ncolors = 7\n",
        "\nqueue_depth = 5\n",       "\nlink_wavelets = 3\n", "\nhop_cycles = 9\n",
        "\nfp32_lanes = 2\n",        "\nfp16_lanes = 33\n",   "\nsram_reads = 3\n",
        "\nsram_writes = 2\n",       "\ntask_cycles = 17\n",  "\nclock_hz = 1000000000000\n"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(text, want[i])) fail_msg("'%s' missing from:\n%s", want[i], text);
    free(text);
}

static void test_help(void **state) {
    (void)state;
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    ir_target_help(f);
    fclose(f);
    const char *want[] = {
        "wse2",       "wse3",           "757",        "996",          "762",           "1172",
        "49152",      "850000000",      "base",       "name",         "width",         "height",
        "sram_bytes", "sram_banks",     "colors",     "queue_depth",  "link_wavelets", "hop_cycles",
        "fp32_lanes", "fp16_lanes",     "sram_reads", "sram_writes",  "task_cycles",   "clock_hz",
        "1..4096",    "1024..16777216", "2..8",       "--fabric WxH", "--target FILE", "example",
        "base = wse2"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(text, want[i])) fail_msg("'%s' missing from the help:\n%s", want[i], text);
    /* The example in the help is a valid target file. */
    const char *ex = strstr(text, "  # my-wafer.target\n");
    assert_non_null(ex);
    char file[1024] = "";
    for (const char *line = ex; *line == ' ' && strlen(file) < 900;) {
        const char *nl = strchr(line, '\n');
        strncat(file, line + 2, (size_t)(nl - line - 1));
        line = nl + 1;
    }
    ir_target t;
    char *msgs;
    assert_true(load_text("example.target", file, &t, &msgs, NULL));
    assert_string_equal(msgs, "");
    assert_string_equal(t.name, "wse2-big");
    assert_int_equal(t.sram_bytes, 98304);
    assert_int_equal(t.width, 757);
    free(msgs);
    free(text);
}

/* ------------------------------------------------------------ the driver */

/* Runs `wsc ARGS` with standard output and error in files; returns the exit
 * status, with the error text in *err (caller frees). */
static int run_wsc(const char *args, char **err) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s/wsc %s >%s 2>%s", WSC_BINARY_DIR, args, tmp("out.txt"),
             tmp("err.txt"));
    int status = system(cmd);
    assert_true(WIFEXITED(status));
    FILE *f = fopen(tmp("err.txt"), "rb");
    assert_non_null(f);
    char *text = calloc(1, 1 << 16);
    fread(text, 1, (1 << 16) - 1, f);
    fclose(f);
    *err = text;
    return WEXITSTATUS(status);
}

static void expect_wsc(const char *args, int status, const char *want) {
    char *err;
    int got = run_wsc(args, &err);
    if (got != status || !strstr(err, want))
        fail_msg("wsc %s: wanted status %d and '%s'; got %d:\n%s", args, status, want, got, err);
    free(err);
}

/* --target and --fabric as the driver takes them: a bad target file is an
 * input error at its line, a bad form or a fabric too large a usage error. */
static void test_driver(void **state) {
    (void)state;
    const char *model = "model m;\ninput x: f32[2];\noutput y = x;\n";
    write_file(tmp("m.wsm"), model, strlen(model));
    write_file(tmp("bad.target"), "base = wse2\nwidth = 5000\n", 26);
    write_file(tmp("good.target"), "width = 20\n", 11);
    char args[2048];
    snprintf(args, sizeof args, "check %s --target %s", tmp("m.wsm"), tmp("bad.target"));
    expect_wsc(args, 1, "bad.target:2:9: error: 'width' must be from 1 to 4096, not 5000");
    snprintf(args, sizeof args, "check %s --target wse2 --fabric 800x10", tmp("m.wsm"));
    expect_wsc(args, 2, "--fabric 800x10 does not fit the wse2 fabric (757x996)");
    snprintf(args, sizeof args, "check %s --target %s --fabric 21x5", tmp("m.wsm"),
             tmp("good.target"));
    expect_wsc(args, 2, "--fabric 21x5 does not fit the good fabric (20x1172)");
    snprintf(args, sizeof args, "check %s --target %s --fabric 20x5", tmp("m.wsm"),
             tmp("good.target"));
    expect_wsc(args, 0, "");
    snprintf(args, sizeof args, "eval %s --target wse3 --fabric 32x32 -i x=%s -o %s", tmp("m.wsm"),
             tmp("nothing.npy"), tmp("o"));
    expect_wsc(args, 1, "nothing.npy"); /* the target is fine; the input is missing */
    snprintf(args, sizeof args, "check %s --target %s", tmp("m.wsm"), tmp("none.target"));
    expect_wsc(args, 2, "unknown target");
    snprintf(args, sizeof args, "check %s --fabric 32", tmp("m.wsm"));
    expect_wsc(args, 2, "bad --fabric '32'");
    expect_wsc("help targets", 0, "");
    FILE *f = fopen(tmp("out.txt"), "r");
    char line[256];
    bool keys = false;
    while (fgets(line, sizeof line, f))
        keys |= strncmp(line, "  clock_hz ", 11) == 0;
    fclose(f);
    assert_true(keys);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_presets),      cmocka_unit_test(test_load_valid),
        cmocka_unit_test(test_load_errors),  cmocka_unit_test(test_load_unreadable),
        cmocka_unit_test(test_load_garbage), cmocka_unit_test(test_fabric),
        cmocka_unit_test(test_round_trip),   cmocka_unit_test(test_help),
        cmocka_unit_test(test_driver),
    };
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
