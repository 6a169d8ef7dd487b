#!/usr/bin/env bash
# A short libFuzzer run of the parser. It builds nothing: `make fuzz` builds
# the target, and this test runs it only when FUZZ_BIN names it, as
#   FUZZ_BIN=$PWD/build-fuzz/fuzz_parser ctest --test-dir build -R fuzz_smoke
# Otherwise (every ordinary ctest run) it is skipped.
# usage: test_fuzz_smoke.sh WSC   (WSC is unused; ctest passes it to every e2e test)
set -euo pipefail

if [ -z "${FUZZ_BIN:-}" ]; then
    echo "skipped: set FUZZ_BIN to a fuzz_parser binary (make fuzz builds one) to run it"
    exit 0
fi
if [ ! -x "$FUZZ_BIN" ]; then
    echo "FUZZ_BIN=$FUZZ_BIN is not an executable" >&2
    exit 1
fi

seconds=${FUZZ_SECONDS:-20}
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
# Seeds: every model in the tree, so mutations start from valid WSM. Many
# are called model.wsm, hence the numbered copies.
n=0
while IFS= read -r f; do
    cp "$f" "$corpus/seed$n.wsm"
    n=$((n + 1))
done < <(find examples tests ../shared/conformance -name '*.wsm' 2>/dev/null)

"$FUZZ_BIN" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "$corpus"
