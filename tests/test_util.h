/* test_util.h - a scratch folder for the cmocka tests that write files.
 * A test file defines `static char tmpdir[] = "/tmp/wsc_test_NAME_XXXXXX";`
 * before including this header, and passes setup_all / teardown_all to
 * cmocka_run_group_tests. */
#ifndef WSC_TEST_UTIL_H
#define WSC_TEST_UTIL_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

/* A path inside the scratch folder (a rotation of static buffers, so that a
 * few may be live at once). */
static inline const char *tmp(const char *name) {
    static char bufs[4][512];
    static int k;
    char *b = bufs[k++ & 3];
    snprintf(b, sizeof bufs[0], "%s/%s", tmpdir, name);
    return b;
}

static inline int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

static inline int setup_all(void **state) {
    (void)state;
    return mkdtemp(tmpdir) ? 0 : -1;
}

static inline int teardown_all(void **state) {
    (void)state;
    return nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Writes n bytes to path, failing the test on any error. */
static inline void write_file(const char *path, const void *bytes, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

#endif
