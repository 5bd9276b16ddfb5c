#!/usr/bin/env bash
# The native kernels under the sanitizers: an ASan+UBSan build and a TSan build of native/kernels.c
# (node native/build.js --sanitize), each loaded into an uninstrumented Node with its runtime
# preloaded, run the native kernel tests (every kernel against a reference, 1/2/3 threads, training
# steps). Node's and V8's own thread handoffs are suppressed for TSan (native/tsan.supp); any report
# in the module fails the run. The normal build is restored at the end. Run after `npm run build`.
set -euo pipefail
cd "$(dirname "$0")/.."
restore() { node native/build.js --strict >/dev/null; }
trap restore EXIT
export LATEPHASE_REQUIRE_NATIVE=1

node native/build.js --sanitize address --strict
LD_PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)" \
  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  node --test --test-reporter=dot dist/test/nativeKernels.test.js
echo "sanitizers: ASan + UBSan: the native kernel tests pass, no reports"

node native/build.js --sanitize thread --strict
log=$(mktemp)
LD_PRELOAD="$(gcc -print-file-name=libtsan.so)" TSAN_OPTIONS="halt_on_error=0 report_signal_unsafe=0 suppressions=$(pwd)/native/tsan.supp" \
  node --test --test-reporter=dot dist/test/nativeKernels.test.js >"$log" 2>&1 || { cat "$log"; exit 1; }
if grep -q 'WARNING: ThreadSanitizer' "$log"; then
  cat "$log"
  echo "sanitizers: TSan reported a race in the native kernels" >&2
  exit 1
fi
echo "sanitizers: TSan: the native kernel tests pass, no races reported"
