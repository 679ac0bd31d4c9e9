/**
 * The REPL as a person uses it: `llmdbg debug` in a real terminal (tmux), typing commands, Tab
 * completion of commands and hook names, Up-arrow history (kept across sessions), an error that
 * leaves the paused run usable, stepping to the next token and quitting.
 * Needs tmux (Debian: apt-get install -y tmux); skipped with a message when it is absent.
 * Runs the CLI from source through tsx, on its own tmux server socket.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testBackendChoice } from '../helpers/backend.js';
import { ROOT, STORIES_DIR, fixtureDir } from '../helpers/fixtures.js';

const HAVE_TMUX = spawnSync('tmux', ['-V']).status === 0;
const SOCKET = `llmdbg-test-${process.pid}`;
const tmp = mkdtempSync(join(tmpdir(), 'llmdbg-tmux-'));

function tmux(...args: string[]): string {
  const r = spawnSync('tmux', ['-L', SOCKET, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tmux ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

after(() => {
  if (HAVE_TMUX) spawnSync('tmux', ['-L', SOCKET, 'kill-server']);
  rmSync(tmp, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class Terminal {
  constructor(readonly name: string) {}

  static open(name: string, cmd: string): Terminal {
    tmux('new-session', '-d', '-s', name, '-x', '160', '-y', '50', '-c', ROOT, cmd);
    return new Terminal(name);
  }

  screen(): string {
    return tmux('capture-pane', '-p', '-J', '-S', '-500', '-t', this.name);
  }

  /** Waits until the screen matches `re` (and, with `count`, holds that many matches). */
  async waitFor(re: RegExp, timeoutMs = 60000, count = 1): Promise<string> {
    const g = new RegExp(re.source, re.flags.includes('g') ? re.flags : re.flags + 'g');
    const t0 = Date.now();
    for (;;) {
      const s = this.screen();
      if ((s.match(g) ?? []).length >= count) return s;
      if (Date.now() - t0 > timeoutMs) assert.fail(`timed out waiting for ${re} (x${count}); the screen shows:\n${s}`);
      await sleep(100);
    }
  }

  type(text: string): void {
    tmux('send-keys', '-t', this.name, '-l', text);
  }

  key(...keys: string[]): void {
    tmux('send-keys', '-t', this.name, ...keys);
  }

  /** Types a command, presses Enter and waits for the next prompt. */
  async run(text: string, prompts: number): Promise<string> {
    this.type(text);
    this.key('Enter');
    return this.waitFor(/^\(llmdbg\) /m, 60000, prompts);
  }
}

describe('debug REPL in a terminal (tmux)', { skip: HAVE_TMUX ? false : 'tmux is not installed (apt-get install -y tmux): terminal REPL test skipped' }, () => {
  const hist = join(tmp, 'history');
  const cmd = `LLMDBG_HISTORY=${hist} ${process.execPath} --import tsx test/debugger/run-cli.ts debug --model ${fixtureDir('gpt2-tiny')} --ids 0,51,14 --max-new-tokens 2 --backend ${testBackendChoice()}; echo "exited with $?"; sleep 60`;

  it('completion, breakpoints, an error, history recall, next token and quit', async () => {
    const t = Terminal.open('s1', cmd);
    await t.waitFor(/`help` lists the commands[^\n]*\n\(llmdbg\) /);
    let n = 1;

    // Tab completes a command topic, then a hook name
    t.type('info ho');
    t.key('Tab');
    await t.waitFor(/^\(llmdbg\) info hooks$/m);
    t.key('Enter');
    let s = await t.waitFor(/^\(llmdbg\) /m, 60000, ++n);
    assert.match(s, /blocks\.1\.attn\.hook_pattern +\[1, 4, 3, 3\]/);
    assert.match(s, /\(33 hook points; shapes for the 3-token prompt/);

    t.type('break blocks.1.attn.hook_pa');
    t.key('Tab');
    await t.waitFor(/^\(llmdbg\) break blocks\.1\.attn\.hook_pattern$/m);
    s = await t.run(' if entropy < 0.5', ++n);
    assert.match(s, /breakpoint 1: blocks\.1\.attn\.hook_pattern if entropy < 0\.5 \(1 hook point\)/);

    s = await t.run('run', ++n);
    assert.match(s, /paused at blocks\.1\.attn\.hook_pattern \(layer 1\), step 0, pos 0\.\.2, shape \[1, 4, 3, 3\]\n {2}breakpoint 1: entropy 0 < 0\.5 at head 0, pos 0/);

    // a bad edit: one line, and the run is still paused where it was
    s = await t.run('set [0, 0, 9] = 1', ++n);
    assert.match(s, /^error\[invalid_slice\]: slice: index 9 is out of range for axis 2 \(pos\) of size 3 \(valid: 0\.\.2 or -3\.\.-1\) \(indices count from 0; negative ones from the end\)$/m);
    s = await t.run('where', ++n);
    assert.match(s, /blocks\.1\.attn\.hook_pattern {2}layer 1 {2}step 0 {2}hook #23\n {2}shape \[1, 4, 3, 3\] \(batch, head, pos, key_pos\), positions 0\.\.2/);

    // Up, Up recalls the bad edit; running it again gives the same error
    t.key('Up');
    await t.waitFor(/^\(llmdbg\) where$/m, 10000, 2);
    t.key('Up');
    await t.waitFor(/^\(llmdbg\) set \[0, 0, 9\] = 1$/m, 10000, 2);
    t.key('Enter');
    s = await t.waitFor(/^\(llmdbg\) /m, 60000, ++n);
    assert.equal((s.match(/^error\[invalid_slice\]/gm) ?? []).length, 2);

    // a good edit, then the next token
    s = await t.run('zero head=2', ++n);
    assert.match(s, /^set head=2 of blocks\.1\.attn\.hook_pattern \(\[1, 3, 3\]\); the edit applies when the run resumes/m);
    s = await t.run('delete', ++n);
    s = await t.run('next token', ++n);
    assert.match(s, /paused at hook_embed, step 1, pos 3, shape \[1, 1, 32\]/);
    s = await t.run('continue', ++n);
    assert.match(s, /run finished: generated \d+ "\[\d+\]", \d+ "\[\d+\]"; stop: max_new_tokens/);
    t.type('quit');
    t.key('Enter');
    await t.waitFor(/^exited with 0$/m);

    const saved = readFileSync(hist, 'utf8').trim().split('\n');
    assert.deepEqual(saved.slice(0, 3), ['info hooks', 'break blocks.1.attn.hook_pattern if entropy < 0.5', 'run']);
    assert.equal(saved[saved.length - 1], 'quit');
  });

  it('Ctrl-C pauses a long run (stories260K, 500 tokens) and the session goes on', { skip: existsSync(STORIES_DIR) ? false : `${STORIES_DIR} is missing` }, async () => {
    const t = Terminal.open('s3', `LLMDBG_HISTORY=${join(tmp, 'h3')} ${process.execPath} --import tsx test/debugger/run-cli.ts debug --model ${STORIES_DIR} --ids 1,400,30 --max-new-tokens 500 --backend ${testBackendChoice()}; echo "exited with $?"; sleep 60`);
    await t.waitFor(/`help` lists the commands[^\n]*\n\(llmdbg\) /);
    t.type('run');
    t.key('Enter');
    // The whole run takes ~1.5 s on the native backend: interrupt early (starting a run is instant).
    await sleep(300);
    t.key('C-c');
    const s = await t.waitFor(/^\(llmdbg\) /m, 60000, 2);
    assert.match(s, /^interrupted; paused at \S+.*, step \d+, pos/m);
    const step = Number(/^interrupted; paused at .*, step (\d+)/m.exec(s)![1]);
    assert.ok(step < 499, `interrupted before the end (step ${step})`);
    t.type('where');
    t.key('Enter');
    await t.waitFor(/tokens in this pass/);
    t.type('quit');
    t.key('Enter');
    await t.waitFor(/^exited with 0$/m);
  });

  it('history persists across sessions (read from $LLMDBG_HISTORY, newest first)', async () => {
    const h = join(tmp, 'h2');
    writeFileSync(h, 'break hook_embed\nwhere\n');
    const t = Terminal.open('s2', cmd.replace(`LLMDBG_HISTORY=${hist}`, `LLMDBG_HISTORY=${h}`));
    await t.waitFor(/`help` lists the commands[^\n]*\n\(llmdbg\) /);
    t.key('Up');
    await t.waitFor(/^\(llmdbg\) where$/m, 10000);
    t.key('Up');
    await t.waitFor(/^\(llmdbg\) break hook_embed$/m, 10000);
    t.key('Enter');
    await t.waitFor(/^breakpoint 1: hook_embed \(1 hook point\)$/m);
    await t.run('quit', 2);
    await t.waitFor(/^exited with 0$/m);
    assert.deepEqual(readFileSync(h, 'utf8').trim().split('\n'), ['break hook_embed', 'where', 'break hook_embed', 'quit']);
  });
});
