#!/usr/bin/env node
// Runs every test file under test/ (files named *.test.ts) with Node's test runner through tsx.
// Usage: node test/run.mjs [substring ...] to run only files whose path contains a substring.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const testDir = join(root, 'test');
const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== 'fixtures') walk(p);
    } else if (name.endsWith('.test.ts')) files.push(relative(root, p));
  }
})(testDir);
const filters = process.argv.slice(2);
const chosen = filters.length ? files.filter((f) => filters.some((s) => f.includes(s))) : files;
if (chosen.length === 0) {
  console.error(`no test files match ${filters.join(', ')}`);
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...chosen], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
