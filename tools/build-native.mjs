#!/usr/bin/env node
// build-native.mjs — npm "install" hook: build the optional native backend.
//
// Purpose: run `node-gyp rebuild --directory native` when a C++ compiler and
// a BLAS are available, producing native/build/Release/llmdbg_native.node.
// Never exits non-zero: on any failure it prints ONE line with the reason and
// the fix, and llmdbg falls back to its WASM backend at runtime. The full
// compiler log is kept in native/build/build-native.log.
// Honours LLMDBG_SKIP_NATIVE=1. Non-goals: prebuilt binaries, Windows.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = path.join(root, 'native');
const FIX =
  process.platform === 'darwin'
    ? 'xcode-select --install && npm rebuild llmdbg (in a checkout: npm rebuild)'
    : 'apt-get install -y g++ make python3 libopenblas-dev && npm rebuild llmdbg (in a checkout: npm rebuild)';

function done(msg) {
  console.log(msg);
  process.exit(0);
}

function main() {
  if (process.env.LLMDBG_SKIP_NATIVE === '1') done('llmdbg: native backend skipped (LLMDBG_SKIP_NATIVE=1); using WASM.');
  if (!fs.existsSync(path.join(nativeDir, 'binding.gyp'))) done('llmdbg: native sources missing; using WASM.');

  const require = createRequire(import.meta.url);
  const { probe } = require(path.join(nativeDir, 'probe.cjs'));
  const p = probe();
  if (!p.ok) done(`llmdbg: native backend not built (${p.reason}); using WASM. For the fast path: ${FIX}`);

  const gyp = findNodeGyp();
  if (!gyp) done(`llmdbg: native backend not built (node-gyp not found); using WASM. For the fast path: ${FIX}`);

  const args = [...gyp.args, 'rebuild', '--directory', nativeDir];
  // Offline-friendly: use the running Node's headers when npm did not say where they are.
  if (!process.env.npm_config_nodedir) {
    const prefix = path.resolve(path.dirname(process.execPath), '..');
    if (fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);
  }
  const r = spawnSync(gyp.cmd, args, { cwd: nativeDir, encoding: 'utf8', env: process.env, maxBuffer: 64 << 20 });
  const log = `${r.stdout ?? ''}\n${r.stderr ?? ''}${r.error ? `\n${r.error}` : ''}`;
  try {
    fs.mkdirSync(path.join(nativeDir, 'build'), { recursive: true });
    fs.writeFileSync(path.join(nativeDir, 'build', 'build-native.log'), log);
  } catch {
    /* best effort */
  }
  const out = path.join(nativeDir, 'build', 'Release', 'llmdbg_native.node');
  if (r.status === 0 && fs.existsSync(out)) done(`llmdbg: native backend built (${p.blas}).`);
  const why =
    log.split('\n').find((l) => /error:|not found|No such file|command not found|ENOENT/i.test(l))?.trim() ??
    `node-gyp exited with ${r.status ?? r.signal}`;
  done(`llmdbg: native backend not built (${why.slice(0, 200)}); using WASM. For the fast path: ${FIX}`);
}

function findNodeGyp() {
  const env = process.env.npm_config_node_gyp;
  if (env && fs.existsSync(env)) return { cmd: process.execPath, args: [env] };
  const bundled = path.resolve(
    path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js',
  );
  if (fs.existsSync(bundled)) return { cmd: process.execPath, args: [bundled] };
  const which = spawnSync(process.platform === 'win32' ? 'where' : 'which', ['node-gyp'], { encoding: 'utf8' });
  if (which.status === 0 && which.stdout.trim()) return { cmd: which.stdout.trim().split('\n')[0], args: [] };
  return null;
}

try {
  main();
} catch (e) {
  done(`llmdbg: native backend not built (${String(e?.message ?? e).split('\n')[0]}); using WASM. For the fast path: ${FIX}`);
}
