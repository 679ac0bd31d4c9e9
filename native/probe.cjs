// probe.cjs — find a CBLAS at build time for native/binding.gyp and tools/build-native.mjs.
//
// Purpose: one place that decides which BLAS the addon links against.
//   node probe.cjs json     -> {"ok":true,"blas":"openblas","cflags":[..],"libs":[..],"defines":[..]}
//   node probe.cjs cflags|libs|defines -> space-separated list for gyp's <!@(...)
// Search order: macOS -> Accelerate; else pkg-config openblas; else well-known
// include/lib directories (Debian multiarch, Fedora, Homebrew, /usr/local).
// LLMDBG_BLAS=none makes the probe fail (to exercise the WASM fallback).
// Non-goals: MKL/BLIS selection, Windows (reported as unsupported, so the
// install falls back to WASM).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

function sh(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

function findHeader(dirs) {
  for (const d of dirs) if (d && fs.existsSync(path.join(d, 'cblas.h'))) return d;
  return null;
}

function hasLib(dir) {
  return ['libopenblas.so', 'libopenblas.dylib', 'libopenblas.a'].some((f) => fs.existsSync(path.join(dir, f)));
}

function probe() {
  if (process.env.LLMDBG_BLAS === 'none') return { ok: false, reason: 'LLMDBG_BLAS=none' };
  if (process.platform === 'darwin') {
    // binding.gyp links the framework itself (link_settings, OS=='mac').
    return { ok: true, blas: 'accelerate', cflags: [], libs: [], defines: ['LLMDBG_ACCELERATE=1'] };
  }
  if (process.platform === 'win32') return { ok: false, reason: 'Windows is not supported by the native backend' };

  const incDirs = [];
  const libDirs = [];
  const pc = sh('pkg-config', ['--cflags-only-I', '--libs-only-L', 'openblas']);
  if (pc) {
    for (const tok of pc.split(/\s+/)) {
      if (tok.startsWith('-I')) incDirs.push(tok.slice(2).replace(/\/$/, ''));
      if (tok.startsWith('-L')) libDirs.push(tok.slice(2).replace(/\/$/, ''));
    }
  }
  const multi = sh('gcc', ['-print-multiarch']) || `${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`;
  incDirs.push(
    `/usr/include/${multi}/openblas-pthread`, `/usr/include/${multi}/openblas-openmp`,
    `/usr/include/${multi}`, '/usr/include/openblas', '/usr/include',
    '/usr/local/include', '/usr/local/include/openblas',
    '/opt/homebrew/opt/openblas/include', '/usr/local/opt/openblas/include',
  );
  libDirs.push(
    `/usr/lib/${multi}/openblas-pthread`, `/usr/lib/${multi}/openblas-openmp`, `/usr/lib/${multi}`,
    '/usr/lib64', '/usr/lib', '/usr/local/lib', '/opt/homebrew/opt/openblas/lib', '/usr/local/opt/openblas/lib',
  );
  const inc = findHeader(incDirs);
  const lib = libDirs.find((d) => fs.existsSync(d) && hasLib(d));
  if (!inc) return { ok: false, reason: 'cblas.h not found (OpenBLAS development headers missing)' };
  if (!lib) return { ok: false, reason: 'libopenblas not found' };
  return {
    ok: true, blas: 'openblas',
    cflags: [`-I${inc}`],
    libs: [`-L${lib}`, `-Wl,-rpath,${lib}`, '-lopenblas'],
    defines: ['LLMDBG_OPENBLAS=1'],
  };
}

module.exports = { probe };

if (require.main === module) {
  const r = probe();
  const mode = process.argv[2] || 'json';
  if (mode === 'json') {
    process.stdout.write(JSON.stringify(r) + '\n');
  } else if (!r.ok) {
    // A failing <!@(...) command makes gyp, and so the build, fail loudly.
    process.stderr.write(`llmdbg probe: ${r.reason}\n`);
    process.exit(1);
  } else {
    process.stdout.write((r[mode] || []).join(' ') + '\n');
  }
}
