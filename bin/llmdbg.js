#!/usr/bin/env node
// Entry point of the `llmdbg` command: runs the compiled CLI from dist/ (built by `npm ci`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/cli/bin.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('error[not_built]: llmdbg is not built (dist/ is missing) (run `npm ci` or `npm run build` in the llmdbg folder)\n');
  process.exit(1);
}
await import(entry.href);
