#!/bin/sh
# The server's request parsing on the request fuzzer's corpus
# (tests/fuzz/fuzz_request.c replayed without libFuzzer): every seed parses
# or fails with a 4xx message, within its limits, without leaking.
# `make fuzz-request` fuzzes for real (clang, libFuzzer).
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
bin=$BUILD/tools/fuzz_request
[ -x "$bin" ] || { echo "FAIL: $bin not built (make test builds it)"; exit 1; }
n=$(ls tests/fuzz/corpus/request | wc -l)
[ "$n" -ge 10 ] || { echo "FAIL: only $n seeds"; exit 1; }
"$bin" tests/fuzz/corpus/request || { echo "FAIL: a seed failed the harness's checks"; exit 1; }
