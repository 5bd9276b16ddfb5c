#!/usr/bin/env bash
# The native kernels on CPUs we do not have: native/test/harness.c (every kernel, hashes of the
# output bits, on 1 and 3 threads) built per x86-64 level, run on this CPU and under qemu-user's
# emulated Nehalem (v2 only) and Haswell (v3, no AVX-512). Checked: the level CPUID reports under
# each CPU (what the loader's choice rests on), every level prints the same hashes on every CPU that
# runs it, v3 and v4 print the same hashes as each other, 1 and 3 threads agree, and a binary above
# the CPU's level dies on an illegal instruction (so the dispatch is what keeps it safe).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v qemu-x86_64 >/dev/null || { echo "native-isa: qemu-x86_64 not installed (apt-get install qemu-user)" >&2; exit 1; }
include=$(node -e "const b = require('./native/build.js'); console.log(b.nodeIncludeDir() || '')")
[ -n "$include" ] || { echo "native-isa: Node's headers not found" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for level in v2 v3 v4; do
  cc -O3 -march=x86-64-$level -mtune=generic -pthread -std=gnu11 -Wall -Wno-unused-function -Wno-psabi -I "$include" \
    native/test/harness.c -o "$work/harness-$level" -lm
done
host_levels=$(node -e "console.log(require('./native/build.js').supportedLevels().join(' '))")
run() { # cpu level -> the harness's output (cpu "host": this CPU)
  if [ "$1" = host ]; then "$work/harness-$2"; else qemu-x86_64 -cpu "$1" "$work/harness-$2" 2>/dev/null; fi
}
same() { [ "$(sed 1d <<<"$1")" = "$(sed 1d <<<"$2")" ]; }
threads_agree() { # the lines after "threads 1" equal those after "threads 3"
  [ "$(sed -n '/^threads 1$/,/^threads 3$/{/^threads/d;p}' <<<"$1")" = "$(sed -n '/^threads 3$/,${/^threads/d;p}' <<<"$1")" ]
}
declare -A ref
for level in $host_levels; do
  ref[$level]=$(run host "$level")
  threads_agree "${ref[$level]}" || { echo "native-isa: $level: 1 and 3 threads differ on this CPU" >&2; exit 1; }
done
if [ -n "${ref[v4]:-}" ] && ! same "${ref[v3]}" "${ref[v4]}"; then echo "native-isa: v3 and v4 differ" >&2; exit 1; fi
for spec in "Nehalem v2" "Haswell v3"; do
  read -r cpu top <<<"$spec"
  out=$(run "$cpu" v2)
  [ "$(head -1 <<<"$out")" = "cpu level $top" ] || { echo "native-isa: under $cpu CPUID says '$(head -1 <<<"$out")', expected $top" >&2; exit 1; }
  for level in v2 v3; do
    if [[ "$level" > "$top" ]]; then
      if run "$cpu" "$level" >/dev/null 2>&1; then echo "native-isa: $level ran under $cpu" >&2; exit 1; fi
      continue
    fi
    got=$(run "$cpu" "$level")
    same "$got" "${ref[$level]}" || { echo "native-isa: $level under $cpu differs from this CPU" >&2; exit 1; }
  done
  if run "$cpu" v4 >/dev/null 2>&1; then echo "native-isa: v4 ran under $cpu" >&2; exit 1; fi
  echo "native-isa: under qemu $cpu: CPUID level $top; levels up to $top give this CPU's bits; higher ones are illegal there"
done
echo "native-isa: this CPU ($host_levels): v3 and v4 the same bits; 1 and 3 threads agree"
