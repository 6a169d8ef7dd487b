/* fuzz_parser.c - libFuzzer target for the WSM scanner and parser: any byte
 * string must be parsed or refused with diagnostics, never crash or hang.
 * Build with `make fuzz` (clang, -DWSC_FUZZ=ON). */
#include "fe.h"
#include "ir.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* A NULL stream still formats every message (kept in memory), so the
     * location and caret code runs on the garbage too. */
    ir_diag *d = ir_diag_new(NULL);
    fe_parse_only("fuzz.wsm", (const char *)data, size, d);
    ir_diag_free(d);
    return 0;
}
