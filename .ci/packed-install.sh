#!/usr/bin/env bash
# Packs latephase, installs the tarball into a fresh project without network, and runs the
# README's API example there unchanged. Run after a build.
# The install itself is offline (npm --offline, inside a network namespace with no network where
# `unshare` is available); npm's cache is warmed first by the same install, online, in a
# throwaway project. Install scripts are off, as the README's recipe for consumers says.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The prebuilt native binaries the package ships (prepack makes them too, but this repository's
# .npmrc turns scripts off, so a release packs after this same command).
node native/build.js --prebuild --strict
tarball=$(npm pack --silent --pack-destination "$work" | tail -n 1)
tar -tzf "$work/$tarball" > "$work/contents"
grep -q 'package/prebuilds/linux-x64/latephase_native.v3.node' "$work/contents"
grep -q 'package/native/kernels/napi.c' "$work/contents"
mkdir "$work/consumer"
cd "$work/consumer"
printf '{ "name": "latephase-consumer", "version": "1.0.0", "private": true }\n' > package.json
# Warm the cache with the same install, online, in a throwaway project.
mkdir "$work/warm" && cp package.json "$work/warm/"
(cd "$work/warm" && npm install --ignore-scripts --no-audit --no-fund "$work/$tarball" >/dev/null)
package_json=$(cat package.json)
offline=(npm install --offline --ignore-scripts --no-audit --no-fund "$work/$tarball")
if unshare -n true 2>/dev/null; then
  unshare -n "${offline[@]}" >/dev/null
  echo "packed install: installed with no network (network namespace)"
else
  "${offline[@]}" >/dev/null
  echo "packed install: installed with npm --offline (unshare unavailable)"
fi
test "$(cat package.json)" != "$package_json"  # the dependency was recorded
# The native kernels come prebuilt in the package: no compiler, Node headers or install script
# (CC points nowhere), chosen for this CPU's instruction-set level.
CC=/nonexistent node -e "const l = require('latephase'); const i = require('latephase/internal'); l.selectBackend('wasm').then((b) => { const d = i.describeBackend(b); if (!/on native kernels \(.*prebuilt x86-64-v/.test(d)) throw new Error('prebuilt native kernels not in use: ' + d); console.log('packed install: ' + d); });"
node "$root/dist/test/readmeExample.js" "$work/consumer"
LATEPHASE_BACKEND=wasm node readme-example.js
test -f out/tiny/model.onnx && test -f out/tiny/manifest.json
node -e "const m = require('./out/tiny/manifest.json'); if (!m.verification.pass) throw new Error('verification did not pass');"
node -e "require('latephase/internal'); require('latephase/package.json');"
# On a platform without a prebuilt binary the consumer builds them: the same command works here.
built=$(npx latephase build-native)
grep -q 'on native kernels (.*built here, -march=native' <<<"$built"
echo "packed install: $built"
echo "packed install: the README example ran in a fresh offline project ($tarball)"
