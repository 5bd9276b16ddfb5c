#!/usr/bin/env node
/**
 * Builds latephase's optional native kernels (native/kernels.c) for this machine:
 * `node native/build.js [--require]` (run by `npm run build`). The library works without them
 * (the onnxruntime formulations run instead, and the backend report says why), so a missing
 * compiler or missing Node headers only print a notice, unless --require (CI) makes them an error.
 *
 * The module is compiled with -march=native, so it is only loaded on a CPU with the same model and
 * instruction-set flags as the one that built it (cpuKey, stored beside it): a copied build
 * directory falls back instead of dying on an illegal instruction.
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

/** This CPU's model and instruction-set flags, hashed: what a -march=native build depends on. */
function cpuKey() {
  let flags = '';
  try {
    flags = /^flags\s*:(.*)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? '';
  } catch {
    // no /proc (not Linux): the model name and architecture only
  }
  const model = os.cpus()[0]?.model ?? 'unknown';
  return crypto.createHash('sha256').update(`${process.arch}\n${model}\n${flags}`).digest('hex').slice(0, 16);
}

function nodeIncludeDir() {
  const candidates = [process.env.LATEPHASE_NODE_INCLUDE, path.join(path.dirname(process.execPath), '..', 'include', 'node')];
  return candidates.find((dir) => dir && fs.existsSync(path.join(dir, 'node_api.h')));
}

/** Compile; returns null on success, else the reason. */
function build() {
  const include = nodeIncludeDir();
  if (!include) return `Node's C headers (node_api.h) not found next to ${process.execPath}; set LATEPHASE_NODE_INCLUDE`;
  const cc = process.env.CC || 'cc';
  fs.mkdirSync(OUT_DIR, { recursive: true });
  const tmp = `${MODULE_FILE}.${process.pid}.tmp`;
  const args = ['-O3', '-march=native', '-shared', '-fPIC', '-pthread', '-std=gnu11', '-Wall', '-Wextra', '-Werror'];
  args.push('-I', include, '-DNODE_GYP_MODULE_NAME=latephase_native', path.join(__dirname, 'kernels.c'), '-o', tmp, '-lm');
  const r = spawnSync(cc, args, { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    fs.rmSync(tmp, { force: true });
    return `${cc} failed: ${(r.error?.message ?? r.stderr).trim().split('\n').slice(0, 5).join('\n')}`;
  }
  fs.renameSync(tmp, MODULE_FILE);
  fs.writeFileSync(INFO_FILE, JSON.stringify({ cpuKey: cpuKey(), cc, builtAt: new Date().toISOString() }) + '\n');
  return null;
}

if (require.main === module) {
  const reason = build();
  if (reason === null) console.log(`latephase: native kernels built (${path.relative(ROOT, MODULE_FILE)})`);
  else if (process.argv.includes('--require')) {
    console.error(`latephase: native kernels could not be built: ${reason}`);
    process.exitCode = 1;
  } else console.log(`latephase: native kernels not built (${reason}); the onnxruntime formulations run instead`);
}

module.exports = { cpuKey, MODULE_FILE, INFO_FILE };
