// test-backends: once (host code only: no tfjs backend is involved; see test/run.mjs)
/**
 * The README stays true to the code: every hook site and every CLI command is documented, and the
 * quickstart names the three npm commands.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './helpers/fixtures.js';
import { SITES } from '../src/model/hooks.js';
import { COMMANDS } from '../src/cli/commands/index.js';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

it('README lists every hook site', () => {
  for (const site of Object.keys(SITES)) assert.ok(readme.includes(`${site}\``), `README does not list ${site}`);
});

it('README documents every CLI command and the quickstart', () => {
  for (const c of COMMANDS) assert.ok(readme.includes(`llmdbg ${c.name}`), `README does not document \`llmdbg ${c.name}\``);
  for (const cmd of ['npm ci', 'npm start', 'npm test']) assert.ok(readme.includes(cmd), cmd);
});
