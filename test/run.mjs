#!/usr/bin/env node
// Runs every test file under test/ (files named *.test.ts) with Node's test runner through tsx, once per
// backend: WASM, then the native addon when it is built (a missing addon is one line locally, a failure
// in CI). A file whose header holds the line `// test-backends: once` (backend-independent, or it picks
// its own backends) runs in the first pass only. Non-goals: timing tests, choosing tests by tag.
//
//   node test/run.mjs [--backend wasm|native|cpu|all|a,b] [--parallel] [--concurrency N] [--reporter spec|tap]
//                     [--timings] [substring ...]
//
// LLMDBG_TEST_BACKEND=<name> without --backend runs that backend only. --parallel runs the passes at the
// same time (each with --test-concurrency=1, output lines prefixed by the backend). CI=1 (set by .ci/run)
// makes a missing native addon a failure. --timings runs one process per file and lists the slowest
// files (wall time, startup included; output shown for failing files only). Exit status is non-zero
// when any pass fails.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));
const KNOWN = ['wasm', 'native', 'cpu'];
const ONCE = /^\/\/ test-backends: once\b/m;

const { values: opt, positionals: filters } = parseArgs({
  allowPositionals: true,
  options: {
    backend: { type: 'string' },
    parallel: { type: 'boolean', default: process.env['LLMDBG_TEST_PARALLEL'] === '1' },
    concurrency: { type: 'string' },
    reporter: { type: 'string', default: 'spec' },
    timings: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' },
  },
});
if (opt.help) {
  process.stdout.write(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 14).map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n');
  process.exit(0);
}
const inCi = !!process.env['CI'] && !['0', 'false'].includes(process.env['CI']);

// Which backends, and whether the user asked for them explicitly.
const envBackend = process.env['LLMDBG_TEST_BACKEND'];
const requested = opt.backend ?? envBackend ?? 'all';
const explicit = requested !== 'all';
const backends = requested === 'all' ? ['wasm', 'native'] : [...new Set(requested.split(',').map((s) => s.trim()))];
for (const b of backends) {
  if (!KNOWN.includes(b)) fail(`unknown backend "${b}": choose wasm, native, cpu or all (--backend or LLMDBG_TEST_BACKEND)`);
}
if (!['spec', 'tap', 'dot'].includes(opt.reporter)) fail(`--reporter ${opt.reporter}: choose spec, tap or dot`);

const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== 'fixtures') walk(p);
    } else if (name.endsWith('.test.ts')) files.push(relative(root, p));
  }
})(join(root, 'test'));
const chosen = filters.length ? files.filter((f) => filters.some((s) => f.includes(s))) : files;
if (chosen.length === 0) fail(`no test files match ${filters.join(', ')}`);
const once = new Set(chosen.filter((f) => ONCE.test(readFileSync(join(root, f), 'utf8').slice(0, 4000))));

/** Loads the addon in a throw-away process (so this one never holds OpenBLAS threads). */
function nativeStatus() {
  const p = process.env['LLMDBG_NATIVE_PATH'] || join(root, 'native', 'build', 'Release', 'llmdbg_native.node');
  if (!existsSync(p)) return { ok: false, reason: `the native addon is not built (${p.startsWith(root) ? relative(root, p) : p} is missing)` };
  const r = spawnSync(process.execPath, ['-e', `const i = require(${JSON.stringify(p)}).info(); console.log(i.blas + ', ' + i.threads + ' threads')`], { encoding: 'utf8' });
  if (r.status !== 0) return { ok: false, reason: `the native addon does not load (${(r.stderr.split('\n').find((l) => /Error/.test(l)) ?? r.stderr.trim().split('\n')[0] ?? '').trim()})` };
  return { ok: true, detail: r.stdout.trim() };
}

/** Summary lines per backend, printed in the order of `backends`. */
const summaries = new Map(backends.map((b) => [b, []]));
let failed = false;
const plan = [];
for (const b of backends) {
  if (b === 'native') {
    const s = nativeStatus();
    if (!s.ok) {
      const how = 'build it with: apt-get install libopenblas-dev && npm rebuild';
      const why = `${s.reason}; ${how}`;
      if (explicit || inCi) {
        process.stderr.write(`test/run: native backend: ${why}\n`);
        summaries.get('native').push(`[native] NOT RUN: ${s.reason}`);
        failed = true;
      } else {
        process.stderr.write(`test/run: skipping the native backend: ${why} (in CI this fails)\n`);
        summaries.get('native').push(`[native] skipped: ${s.reason}`);
      }
      continue;
    }
  }
  const list = plan.length === 0 ? chosen : chosen.filter((f) => !once.has(f));
  if (list.length === 0) {
    summaries.get(b).push(`[${b}] no files: the ${once.size} chosen file(s) declare "test-backends: once" and ran on ${plan[0]?.backend}`);
    continue;
  }
  plan.push({ backend: b, files: list });
}

const concurrency = opt.concurrency ?? (opt.parallel && plan.length > 1 ? '1' : '2');
const tmp = mkdtempSync(join(tmpdir(), 'llmdbg-test-'));
const t0 = Date.now();
try {
  if (opt.timings) {
    for (const p of plan) record(await timePass(p));
  } else if (opt.parallel && plan.length > 1) {
    const results = await Promise.all(plan.map((p) => runPass(p, true)));
    results.forEach((r) => record(r));
  } else {
    for (const p of plan) {
      process.stdout.write(`\n=== ${p.backend} backend: ${p.files.length} test file(s)${p === plan[0] && plan.length > 1 && once.size ? ` (${once.size} declared "once" run here only)` : ''} ===\n`);
      record(await runPass(p, false));
    }
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
process.stdout.write(`\n${[...summaries.values()].flat().join('\n')}\n${plan.length > 1 ? `all passes: ${((Date.now() - t0) / 1000).toFixed(0)} s${opt.parallel ? ' (in parallel)' : ''}\n` : ''}`);
process.exit(failed ? 1 : 0);

function fail(msg) {
  process.stderr.write(`test/run: ${msg}\n`);
  process.exit(1);
}

/** One `node --test` process over the pass's files; a TAP copy goes to a file for the summary. */
function runPass(p, prefixed) {
  const tap = join(tmp, `${p.backend}.tap`);
  const args = ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, `--test-reporter=${opt.reporter}`, '--test-reporter-destination=stdout', '--test-reporter=tap', `--test-reporter-destination=${tap}`, ...p.files];
  const env = { ...process.env, LLMDBG_TEST_BACKEND: p.backend, LLMDBG_BACKEND: p.backend };
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: root, env, stdio: prefixed ? ['ignore', 'pipe', 'pipe'] : 'inherit' });
    if (prefixed) {
      for (const [from, to] of [[child.stdout, process.stdout], [child.stderr, process.stderr]]) {
        let rest = '';
        from.on('data', (d) => {
          const lines = (rest + d.toString()).split('\n');
          rest = lines.pop();
          if (lines.length) to.write(lines.map((l) => `[${p.backend}] ${l}\n`).join(''));
        });
        from.on('end', () => rest && to.write(`[${p.backend}] ${rest}\n`));
      }
    }
    child.on('close', (code, signal) => resolve({ ...p, code, signal, tap, seconds: (Date.now() - started) / 1000 }));
  });
}

/** --timings: one `node --test` per file, `concurrency` at a time; the pass's TAP counts are summed. */
async function timePass(p) {
  const started = Date.now();
  const queue = [...p.files];
  const rows = [];
  let code = 0;
  const totals = {};
  async function worker() {
    for (let f = queue.shift(); f !== undefined; f = queue.shift()) {
      const tap = join(tmp, `${p.backend}-${rows.length}-${f.replace(/\W/g, '_')}.tap`);
      const t = Date.now();
      const r = await new Promise((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=tap', `--test-reporter-destination=${tap}`, f], {
          cwd: root, env: { ...process.env, LLMDBG_TEST_BACKEND: p.backend, LLMDBG_BACKEND: p.backend }, stdio: ['ignore', 'ignore', 'pipe'],
        });
        let err = '';
        child.stderr.on('data', (d) => (err += d));
        child.on('close', (c, sig) => resolve({ code: c ?? sig, err }));
      });
      const text = existsSync(tap) ? readFileSync(tap, 'utf8') : '';
      for (const k of ['tests', 'pass', 'fail', 'cancelled', 'skipped', 'todo']) totals[k] = (totals[k] ?? 0) + Number(text.match(new RegExp(`^# ${k} (\\d+)$`, 'm'))?.[1] ?? 0);
      rows.push({ file: f, seconds: (Date.now() - t) / 1000, ok: r.code === 0 });
      if (r.code !== 0) {
        code = 1;
        process.stdout.write(`[${p.backend}] FAIL ${f} (exit ${r.code})\n${text}${r.err}\n`);
      }
    }
  }
  process.stdout.write(`\n=== ${p.backend} backend: ${p.files.length} test file(s), one process each, ${concurrency} at a time ===\n`);
  await Promise.all(Array.from({ length: Number(concurrency) }, worker));
  rows.sort((a, b) => b.seconds - a.seconds);
  const sum = rows.reduce((a, r) => a + r.seconds, 0);
  process.stdout.write(`slowest files (wall s; sum over files ${sum.toFixed(0)} s):\n${rows.slice(0, 20).map((r) => `  ${r.seconds.toFixed(1).padStart(6)}  ${r.file}${r.ok ? '' : '  FAILED'}`).join('\n')}\n`);
  const tap = join(tmp, `${p.backend}.tap`);
  writeFileSync(tap, Object.entries(totals).map(([k, v]) => `# ${k} ${v}`).join('\n') + '\n');
  return { ...p, code, signal: null, tap, seconds: (Date.now() - started) / 1000 };
}

/** Counts from the TAP summary (`# pass N` ...) and the names of failing tests. */
function record(r) {
  let text = '';
  try {
    text = readFileSync(r.tap, 'utf8');
  } catch {
    /* the runner died before writing */
  }
  const count = (k) => Number(text.match(new RegExp(`^# ${k} (\\d+)$`, 'm'))?.[1] ?? NaN);
  const failures = [...text.matchAll(/^( *)not ok \d+ - (.*)$/gm)].map((m) => `    ${m[1]}${m[2]}`);
  const ok = r.code === 0;
  if (!ok) failed = true;
  const counts = Number.isNaN(count('tests')) ? 'no TAP summary' : `${count('tests')} tests: ${count('pass')} pass, ${count('fail')} fail, ${count('cancelled')} cancelled, ${count('skipped')} skipped, ${count('todo')} todo`;
  summaries.get(r.backend).push(`[${r.backend}] ${ok ? 'PASS' : 'FAIL'} ${counts} (${r.files.length} file(s), ${r.seconds.toFixed(0)} s${ok ? '' : `, exit ${r.code ?? r.signal}`})`);
  if (failures.length) summaries.get(r.backend).push(`[${r.backend}] failing:`, ...failures.slice(0, 30), ...(failures.length > 30 ? [`    ... and ${failures.length - 30} more`] : []));
}
