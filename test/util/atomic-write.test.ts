// test-backends: once (host code only: no tfjs backend is involved; see test/run.mjs)
/**
 * Crash-safe writes: basic and chunked writes, overwrite, mode, symlinks, cleanup of temp files on success
 * and failure, serialised concurrent async writes, and crash injection (a child rewriting a file in a loop
 * is SIGKILLed ~50 times; the file must always be exactly one complete version).
 * Non-goals: power-loss durability (fsync ordering cannot be observed from a test).
 */

import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import ts from 'typescript';
import { LlmdbgError } from '../../src/errors.js';
import { writeFileAtomic, writeFileAtomicSync } from '../../src/util/atomic-write.js';
import { versionContent, whichVersion } from './atomic-write-versions.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'llmdbg-aw-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => {
  const d = path.join(root, `d${n++}`);
  fs.mkdirSync(d);
  return d;
};
const ls = (d: string): string[] => fs.readdirSync(d).sort();

describe('writeFileAtomic basics', () => {
  for (const [label, write] of [
    ['sync', async (p: string, d: Parameters<typeof writeFileAtomicSync>[1], o?: { mode?: number }) => writeFileAtomicSync(p, d, o)],
    ['async', writeFileAtomic],
  ] as const) {
    it(`${label}: writes strings, bytes and chunk lists; overwrite replaces; no temp files left`, async () => {
      const d = fresh();
      const p = path.join(d, 'trace.json');
      await write(p, 'héllo');
      assert.equal(fs.readFileSync(p, 'utf8'), 'héllo');
      await write(p, new Uint8Array([1, 2, 3]));
      assert.deepEqual([...fs.readFileSync(p)], [1, 2, 3]);
      await write(p, [Buffer.from('ab'), new Uint8Array(0), Buffer.from('cd')]);
      assert.equal(fs.readFileSync(p, 'utf8'), 'abcd');
      assert.deepEqual(ls(d), ['trace.json']);
    });
    it(`${label}: mode for new files, existing mode kept on overwrite`, async () => {
      const d = fresh();
      const p = path.join(d, 'secret.json');
      await write(p, 'x', { mode: 0o600 });
      assert.equal(fs.statSync(p).mode & 0o777, 0o600);
      fs.chmodSync(p, 0o640);
      await write(p, 'y');
      assert.equal(fs.statSync(p).mode & 0o777, 0o640);
    });
    it(`${label}: a symlink's target is updated and the link is kept`, async () => {
      const d = fresh();
      fs.mkdirSync(path.join(d, 'real'));
      const target = path.join(d, 'real', 'file.json');
      fs.writeFileSync(target, 'old');
      const link = path.join(d, 'link.json');
      fs.symlinkSync(target, link);
      await write(link, 'new');
      assert.ok(fs.lstatSync(link).isSymbolicLink());
      assert.equal(fs.readFileSync(target, 'utf8'), 'new');
      assert.deepEqual(ls(path.join(d, 'real')), ['file.json']);
      assert.deepEqual(ls(d), ['link.json', 'real']);
    });
    it(`${label}: failures surface as write_failed, keep the old content and leave no temp file`, async () => {
      const d = fresh();
      const p = path.join(d, 'keep.json');
      fs.writeFileSync(p, 'original');
      const rejects = async (fn: () => Promise<unknown>, re: RegExp, code = 'write_failed'): Promise<void> => {
        await assert.rejects(fn, (e: unknown) => e instanceof LlmdbgError && e.code === code && re.test(e.message));
      };
      await rejects(() => write(path.join(d, 'missing-dir', 'x.json'), 'data'), /missing-dir.*ENOENT/);
      // the write itself throws half-way (the first chunk is written, the second is not bytes)
      await rejects(() => write(p, [Buffer.from('partial'), 42 as unknown as Uint8Array]), /keep\.json: chunk 1/, 'invalid_argument');
      assert.equal(fs.readFileSync(p, 'utf8'), 'original');
      // rename fails: the target is a directory
      fs.mkdirSync(path.join(d, 'adir'));
      await rejects(() => write(path.join(d, 'adir'), 'data'), /adir/);
      assert.deepEqual(ls(d), ['adir', 'keep.json']);
    });
  }
  it('concurrent async writes to one path are serialised: the last call wins, content intact', async () => {
    const d = fresh();
    const p = path.join(d, 'c.json');
    const contents = Array.from({ length: 25 }, (_, i) => `${i}:`.padEnd(20_000 + i * 997, String.fromCharCode(97 + (i % 26))));
    await Promise.all(contents.map((c) => writeFileAtomic(p, c)));
    assert.equal(fs.readFileSync(p, 'utf8'), contents.at(-1));
    assert.deepEqual(ls(d), ['c.json']);
    // a failing write in the queue does not block later ones
    const bad = writeFileAtomic(p, [42 as unknown as Uint8Array]);
    const good = writeFileAtomic(p, 'after');
    await assert.rejects(bad);
    await good;
    assert.equal(fs.readFileSync(p, 'utf8'), 'after');
  });
});

/** Transpiles the child and its imports to plain JS once, so each spawn costs a bare `node` start. */
function buildChild(): string {
  const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
  const out = path.join(root, 'child');
  const files = ['src/errors.ts', 'src/util/atomic-write.ts', 'test/util/atomic-write-child.ts', 'test/util/atomic-write-versions.ts'];
  for (const f of files) {
    const js = ts.transpileModule(fs.readFileSync(path.join(repo, f), 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    fs.mkdirSync(path.dirname(path.join(out, f)), { recursive: true });
    fs.writeFileSync(path.join(out, f.replace(/\.ts$/, '.js')), js);
  }
  fs.writeFileSync(path.join(out, 'package.json'), '{"type":"module"}');
  return path.join(out, 'test/util/atomic-write-child.js');
}

/** Spawns the child, waits for its first complete write, lets it write for a random moment, SIGKILLs it. */
function killOnce(child: string, target: string, mode: string, size: number, start: number, delayMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [child, target, mode, String(size), String(start)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    p.stderr.on('data', (b: Buffer) => (err += b.toString()));
    p.stdout.once('data', () => setTimeout(() => p.kill('SIGKILL'), delayMs));
    p.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve() : reject(new Error(`child exited ${code}: ${err}`))));
  });
}

describe('crash injection', () => {
  it('SIGKILL at random times (~50 kills): the file is always exactly one complete version', { timeout: 30_000 }, async (t) => {
    const child = buildChild();
    const size = 256 * 1024;
    const lanes = ['sync', 'async', 'sync', 'async'];
    let kills = 0;
    let rewrites = 0;
    await Promise.all(lanes.map(async (mode, lane) => {
      const d = fresh();
      const target = path.join(d, 'trace.bin');
      fs.writeFileSync(target, versionContent(0, size));
      for (let i = 0; i < 13; i++) {
        const start = (lane * 100 + i + 1) * 1_000_000;
        await killOnce(child, target, mode, size, start, Math.floor(Math.random() * 40));
        kills++;
        const k = whichVersion(fs.readFileSync(target), size);
        assert.notEqual(k, null, `lane ${lane} (${mode}) kill ${i}: torn or foreign content`);
        // the killed child completed its first write, so the file must hold one of its versions
        assert.ok(k! >= start && k! < start + 1_000_000, `lane ${lane} kill ${i}: version ${k} is not from the last child`);
        if (k! > start) rewrites++;
        // anything else in the folder is a temp file of a killed writer (see the LIMITATION in atomic-write.ts)
        for (const f of fs.readdirSync(d)) {
          if (f === 'trace.bin') continue;
          assert.match(f, /^\.trace\.bin\.\d+\.\d+\.[0-9a-f]{8}\.tmp$/);
          fs.unlinkSync(path.join(d, f));
        }
      }
    }));
    assert.ok(kills >= 50);
    t.diagnostic(`${kills} kills; ${rewrites} children were killed after more than one complete write`);
  });
});
