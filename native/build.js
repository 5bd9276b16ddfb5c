#!/usr/bin/env node
/**
 * Builds latephase's optional native kernels (native/kernels.c), an N-API module (one binary serves
 * every Node >= 20). Two kinds of build:
 *
 * - `node native/build.js [--require] [--strict] [--nodedir DIR]` (run by `npm run build`, and by
 *   `npx latephase build-native` on a platform without a prebuilt binary): for this machine, with
 *   -march=native, so it is only loaded on a CPU with the same model and instruction-set flags as
 *   the one that built it (cpuKey, stored beside it): a copied build directory falls back instead of
 *   dying on an illegal instruction.
 * - `node native/build.js --prebuild` (run by `npm pack` through `prepack`): for every x86-64
 *   instruction-set level (v2: SSE4.2; v3: AVX2 + FMA; v4: AVX-512) into prebuilds/<platform>-<arch>/,
 *   shipped in the package; the loader picks the best level this CPU has (src/backend/nativeKernels.ts).
 *
 * The library works without any of them (the onnxruntime formulations run instead, and the backend
 * report says why), so a missing compiler or missing Node headers only print a notice, unless
 * --require (CI) makes them an error. Warnings are on but not fatal (a newer compiler's new
 * warning must not turn a user's build into a fallback); --strict (CI, lint) makes them fatal.
 */
'use strict';
const { spawnSync } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');

const ROOT = path.join(__dirname, '..');
const OUT_DIR = path.join(ROOT, 'dist', 'native');
const MODULE_FILE = path.join(OUT_DIR, 'latephase_native.node');
const INFO_FILE = path.join(OUT_DIR, 'build-info.json');
const PREBUILD_DIR = path.join(ROOT, 'prebuilds', `${process.platform}-${process.arch}`);

/**
 * x86-64 micro-architecture levels (the psABI's), each with the /proc/cpuinfo flags it needs: the
 * prebuilt binaries' -march and what the loader checks before choosing one.
 */
const ISA_LEVELS = {
  v2: { march: 'x86-64-v2', flags: ['cx16', 'lahf_lm', 'popcnt', 'sse4_1', 'sse4_2', 'ssse3'] },
  // (LZCNT, also v3, is left out: virtual machines hide its flag, and every AVX2 CPU has it)
  v3: { march: 'x86-64-v3', flags: ['avx', 'avx2', 'bmi1', 'bmi2', 'f16c', 'fma', 'movbe'] },
  v4: { march: 'x86-64-v4', flags: ['avx512f', 'avx512bw', 'avx512cd', 'avx512dq', 'avx512vl'] },
};
const LEVEL_ORDER = ['v2', 'v3', 'v4'];

/** The CPU's instruction-set flags (`flags` on x86, `Features` on arm64), empty where /proc is absent. */
function cpuFlags() {
  try {
    const text = fs.readFileSync('/proc/cpuinfo', 'utf8');
    return (/^(?:flags|Features)\s*:(.*)$/m.exec(text)?.[1] ?? '').trim().split(/\s+/).filter(Boolean);
  } catch {
    return [];
  }
}

/** The x86-64 levels this CPU runs, lowest first (each level includes the ones below). */
function supportedLevels(flags = cpuFlags()) {
  if (process.arch !== 'x64') return [];
  const have = new Set(flags);
  const out = [];
  for (const level of LEVEL_ORDER) {
    if (!ISA_LEVELS[level].flags.every((f) => have.has(f))) break;
    out.push(level);
  }
  return out;
}

/** This CPU's model and instruction-set flags, hashed: what a -march=native build depends on. */
function cpuKey() {
  const model = os.cpus()[0]?.model ?? 'unknown';
  return crypto
    .createHash('sha256')
    .update(`${process.arch}\n${model}\n${cpuFlags().join(' ')}`)
    .digest('hex')
    .slice(0, 16);
}

/** Where node_api.h is: --nodedir / npm_config_nodedir, LATEPHASE_NODE_INCLUDE, beside Node, Node's prefix, node-gyp's cache. */
function nodeIncludeDir(nodedir) {
  const version = process.version.slice(1);
  const prefix = process.config?.variables?.node_prefix;
  const candidates = [
    nodedir && path.join(nodedir, 'include', 'node'),
    process.env.npm_config_nodedir && path.join(process.env.npm_config_nodedir, 'include', 'node'),
    process.env.LATEPHASE_NODE_INCLUDE,
    path.join(path.dirname(process.execPath), '..', 'include', 'node'),
    prefix && path.join(prefix, 'include', 'node'),
    path.join(os.homedir(), '.cache', 'node-gyp', version, 'include', 'node'),
    path.join(os.homedir(), 'Library', 'Caches', 'node-gyp', version, 'include', 'node'),
  ];
  return candidates.find((dir) => dir && fs.existsSync(path.join(dir, 'node_api.h')));
}

/** Compile kernels.c into `file` with `march`; returns null on success, else the reason. */
function compile(file, march, opts) {
  const include = nodeIncludeDir(opts.nodedir);
  if (!include)
    return `Node's C headers (node_api.h) not found (looked beside ${process.execPath}, in Node's prefix and node-gyp's cache); pass --nodedir <node source or headers> or set LATEPHASE_NODE_INCLUDE`;
  const cc = process.env.CC || 'cc';
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  const sanitize = opts.sanitize
    ? [`-fsanitize=${opts.sanitize === 'thread' ? 'thread' : 'address,undefined'}`, '-fno-omit-frame-pointer', '-g']
    : [];
  const args = [
    '-O3',
    `-march=${march}`,
    ...(march === 'native' ? [] : ['-mtune=generic']),
    ...sanitize,
    '-shared',
    '-fPIC',
    '-pthread',
    '-std=gnu11',
  ];
  // -Wno-psabi: the 16-float vectors pass between static inline functions only, never across an ABI boundary
  args.push('-Wall', '-Wextra', '-Wno-psabi', ...(opts.strict ? ['-Werror'] : []));
  args.push('-I', include, '-DNODE_GYP_MODULE_NAME=latephase_native', path.join(__dirname, 'kernels.c'), '-o', tmp, '-lm');
  const r = spawnSync(cc, args, { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    fs.rmSync(tmp, { force: true });
    return `${cc} failed: ${(r.error?.message ?? r.stderr).trim().split('\n').slice(0, 5).join('\n')}`;
  }
  if (r.stderr.trim()) console.error(`latephase: ${cc} warned (not fatal):\n${r.stderr.trim().split('\n').slice(0, 8).join('\n')}`);
  fs.renameSync(tmp, file);
  return null;
}

/** The build for this machine (-march=native); returns null on success, else the reason. */
function build(opts = {}) {
  const reason = compile(MODULE_FILE, 'native', opts);
  if (reason === null)
    fs.writeFileSync(INFO_FILE, JSON.stringify({ cpuKey: cpuKey(), cc: process.env.CC || 'cc', builtAt: new Date().toISOString() }) + '\n');
  return reason;
}

/** The prebuilt binary of `level` in this package (it may not exist). */
function prebuiltFile(level) {
  return path.join(PREBUILD_DIR, `latephase_native.${level}.node`);
}

/** Every x86-64 level's binary into prebuilds/; returns null on success, else the reason. */
function prebuild(opts = {}) {
  if (process.arch !== 'x64')
    return `prebuilt binaries are made for x64 only (this is ${process.arch}); build from source with \`npx latephase build-native\``;
  for (const level of LEVEL_ORDER) {
    const reason = compile(prebuiltFile(level), ISA_LEVELS[level].march, opts);
    if (reason) return `${level}: ${reason}`;
  }
  return null;
}

function argValue(name) {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

if (require.main === module) {
  // --sanitize address|thread: an ASan+UBSan or TSan build for this machine (.ci/sanitizers.sh runs the native tests on it)
  const opts = { strict: process.argv.includes('--strict'), nodedir: argValue('--nodedir'), sanitize: argValue('--sanitize') };
  const pre = process.argv.includes('--prebuild');
  const reason = pre ? prebuild(opts) : build(opts);
  const what = pre
    ? `prebuilt binaries (${path.relative(ROOT, PREBUILD_DIR)}: ${LEVEL_ORDER.join(', ')})`
    : `native kernels built (${path.relative(ROOT, MODULE_FILE)})`;
  if (reason === null) console.log(`latephase: ${what}`);
  else if (process.argv.includes('--require') || pre) {
    console.error(`latephase: native kernels could not be built: ${reason}`);
    process.exitCode = 1;
  } else console.log(`latephase: native kernels not built (${reason}); the onnxruntime formulations run instead`);
}

module.exports = { cpuKey, cpuFlags, supportedLevels, prebuiltFile, nodeIncludeDir, build, MODULE_FILE, INFO_FILE, LEVEL_ORDER };
