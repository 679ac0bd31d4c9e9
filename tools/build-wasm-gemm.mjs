#!/usr/bin/env node
// Dev-only: rebuilds native/wasm/gemm.wasm from native/wasm/gemm.c (needs clang and wasm-ld with
// the wasm32 target; Debian/Ubuntu: apt-get install clang lld). The .wasm is committed, so users
// and CI never run this; test/engine/wasm-gemm.test.ts checks that the committed file matches
// a fresh build when clang is present.
//   node tools/build-wasm-gemm.mjs [--check] [--out FILE]
import { execFileSync } from 'node:child_process';
import { readFileSync, renameSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'native/wasm/gemm.c');
const committed = join(root, 'native/wasm/gemm.wasm');
const args = process.argv.slice(2);
const check = args.includes('--check');
const outArg = args.indexOf('--out') >= 0 ? args[args.indexOf('--out') + 1] : undefined;

const work = mkdtempSync(join(tmpdir(), 'llmdbg-wasm-gemm-'));
const tmp = join(work, 'gemm.wasm');
const clang = process.env.CLANG ?? 'clang';
try {
  execFileSync(clang, [
    '--target=wasm32', '-O3', '-msimd128', '-nostdlib', '-ffreestanding', '-fno-builtin',
    '-Wall', '-Wextra', '-Werror',
    // No entry point, no exported memory: the module imports tfjs' memory and must own none of it.
    '-Wl,--no-entry', '-Wl,--import-memory', '-Wl,--strip-all', '-Wl,-z,stack-size=0',
    '-o', tmp, src,
  ], { stdio: ['ignore', 'inherit', 'inherit'] });
  const built = readFileSync(tmp);
  if (check) {
    const same = Buffer.compare(built, readFileSync(committed)) === 0;
    console.log(same ? 'native/wasm/gemm.wasm matches its source' : 'native/wasm/gemm.wasm differs from a fresh build of gemm.c: run node tools/build-wasm-gemm.mjs');
    process.exitCode = same ? 0 : 1;
  } else {
    const out = outArg ?? committed;
    writeFileSync(out + '.partial', built);
    renameSync(out + '.partial', out);
    console.log(`wrote ${out} (${built.length} bytes)`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
