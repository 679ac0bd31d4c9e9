/**
 * The debugger's command interpreter: one line in, text and data out (the CLI prints them; this
 * never does). Keeps breakpoints and watches across `run` restarts, as gdb does, and a history.
 * Every error comes back as one line (`ok: false`) and leaves the paused run as it was.
 * Completion offers commands, hook names and keywords. Non-goals: the terminal itself (cli/).
 */
import { LlmdbgError } from '../errors.js';
import type { Model } from '../model/model.js';
import { hookShape, resolveHooks } from '../model/hooks.js';
import { DebugRun, type DebugOptions, type Stop } from './session.js';
import { describeBreakpoint, makeBreakpoint, type BreakpointSpec } from './breakpoints.js';
import { makeWatch, watchTable, type WatchSpec } from './watch.js';
import { fmtNum, formatStats, formatValues, sliceOf, statsOf, topActivations, type HostView } from './inspect.js';
import { ALIASES, COMMAND_HELP, SLICE_HELP, parseBreak, parseScale, parseSet, parseTop } from './repl-parse.js';
import { watchReportHtml } from '../report/watch-html.js';
import { writeFileAtomic } from '../util/atomic-write.js';

export interface ReplOutput {
  ok: boolean;
  text: string;
  data?: unknown;
  error?: { code: string; message: string; hint?: string };
  /** The user asked to leave. */
  quit?: boolean;
}

const COMMANDS = Object.keys(COMMAND_HELP);

export class DebugRepl {
  run: DebugRun | null = null;
  private readonly specs = new Map<number, BreakpointSpec>();
  private nextId = 1;
  private readonly watchSpecs: WatchSpec[] = [];
  readonly history: string[] = [];

  constructor(readonly model: Model, readonly ids: readonly number[], readonly opts: Omit<DebugOptions, 'breakpoints' | 'watches'> = {}) {
    model.checkIds(ids, opts.maxNewTokens ?? 0);
  }

  private get passes(): number {
    return Math.max(1, this.opts.maxNewTokens ?? 0);
  }

  /** Runs one command line. Never throws for user errors. */
  async exec(line: string): Promise<ReplOutput> {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return { ok: true, text: '' };
    this.history.push(trimmed);
    const sp = trimmed.search(/\s/);
    const word = (sp < 0 ? trimmed : trimmed.slice(0, sp)).toLowerCase();
    const args = sp < 0 ? '' : trimmed.slice(sp + 1).trim();
    const cmd = ALIASES[word] ?? word;
    try {
      return await this.dispatch(cmd, args);
    } catch (e) {
      // an unexpected failure (a bug) is reported like any error so that the session survives it
      const err = e instanceof LlmdbgError ? e : new LlmdbgError('internal', `${(e as Error)?.message ?? String(e)}`, { hint: 'this is a bug in llmdbg; the run was stopped, `run` starts again' });
      return { ok: false, text: err.oneLine(), error: { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) } };
    }
  }

  private async dispatch(cmd: string, args: string): Promise<ReplOutput> {
    switch (cmd) {
      case 'run': return this.doRun();
      case 'continue': return this.show(await this.active().continue());
      case 'step': {
        const n = args === '' ? 1 : Number(args);
        if (!Number.isInteger(n) || n < 1) throw new LlmdbgError('invalid_argument', `step: "${args}" is not a count >= 1`, { hint: 'step, or step 5' });
        return this.show(await this.active().stepHook(n));
      }
      case 'next': {
        const unit = args === '' ? 'layer' : args;
        if (unit !== 'layer' && unit !== 'token') throw new LlmdbgError('invalid_argument', `next: "${args}" is not layer or token`, { hint: 'next, next layer, next token' });
        return this.show(await this.active().next(unit));
      }
      case 'break': return this.doBreak(args);
      case 'delete': return this.doDelete(args);
      case 'print': return this.doPrint(args);
      case 'top': return this.doTop(args);
      case 'set': {
        const { slice, op } = parseSet(args);
        return this.edited(this.paused().edit(slice === '' ? undefined : slice, op));
      }
      case 'zero': return this.edited(this.paused().zero(args === '' ? undefined : args));
      case 'scale': {
        const { slice, factor } = parseScale(args);
        return this.edited(this.paused().scale(slice === '' ? undefined : slice, factor));
      }
      case 'where': return this.doWhere();
      case 'info': return this.doInfo(args);
      case 'watch': return this.doWatch(args);
      case 'history': return { ok: true, text: this.history.map((h, i) => `${String(i + 1).padStart(4)}  ${h}`).join('\n'), data: { history: [...this.history] } };
      case 'abort': {
        if (!this.run) return { ok: true, text: 'no run to abort' };
        this.run.abort();
        this.run = null;
        return { ok: true, text: 'run aborted; breakpoints and watches are kept (`run` starts again)', data: { status: 'aborted' } };
      }
      case 'help': return this.doHelp(args);
      case 'quit': {
        this.close();
        return { ok: true, text: '', quit: true };
      }
      default: {
        const near = COMMANDS.filter((c) => c.startsWith(cmd.slice(0, 2)));
        throw new LlmdbgError('invalid_argument', `unknown command "${cmd}"${near.length ? `; did you mean ${near.join(', ')}?` : ''}`, { hint: '`help` lists the commands' });
      }
    }
  }

  /** Pauses a run that is advancing (Ctrl-C); a no-op otherwise. */
  interrupt(): void {
    this.run?.interrupt();
  }

  close(): void {
    if (this.run && this.run.status !== 'finished' && this.run.status !== 'aborted') this.run.abort();
  }

  // ---- running ----------------------------------------------------------------------------------

  private newRun(): DebugRun {
    this.close();
    const run = new DebugRun(this.model, this.ids, this.opts);
    for (const [id, spec] of this.specs) run.addBreakpoint(spec, id);
    for (const w of this.watchSpecs) run.addWatch(w);
    this.run = run;
    return run;
  }

  private async doRun(): Promise<ReplOutput> {
    return this.show(await this.newRun().continue());
  }

  /** The run to advance: the current one, or a new one when none was started; a finished run stays finished. */
  private active(): DebugRun {
    if (!this.run) return this.newRun();
    if (this.run.status === 'ready' || this.run.status === 'paused') return this.run;
    throw new LlmdbgError('not_paused', `the run has ${this.run.status === 'finished' ? 'finished' : 'been aborted'}`, { hint: '`run` starts it again' });
  }

  private paused(): DebugRun {
    if (!this.run || this.run.status !== 'paused') {
      throw new LlmdbgError('not_paused', `no paused run (${this.run ? `the run is ${this.run.status}` : 'nothing is running'})`, { hint: 'set a breakpoint and `run`, or `step`' });
    }
    return this.run;
  }

  private view(): HostView {
    return this.paused().view();
  }

  private show(stop: Stop): ReplOutput {
    if (stop.status === 'finished') {
      const r = stop.result;
      const pieces = this.model.tokenPieces(r.generated);
      const gen = r.generated.length ? `generated ${r.generated.map((id, i) => `${id} ${JSON.stringify(pieces[i])}`).join(', ')}; stop: ${r.stopReason}` : `forward pass done; top next tokens: ${r.lastTop.slice(0, 5).map((c) => `${c.id} (p=${c.prob.toFixed(3)})`).join(', ')}`;
      return { ok: true, text: `run finished: ${gen}`, data: { status: 'finished', result: r } };
    }
    if (stop.status === 'aborted') return { ok: true, text: 'run aborted', data: { status: 'aborted' } };
    const p = stop.pause;
    const lines = [`${p.reason === 'interrupt' ? 'interrupted; ' : ''}paused at ${p.hook}${p.layer === null ? '' : ` (layer ${p.layer})`}, step ${p.step}, pos ${p.positions[0] === p.positions[1] ? p.positions[0] : `${p.positions[0]}..${p.positions[1]}`}, shape [${p.shape.join(', ')}]`];
    for (const h of p.breakpoints) lines.push(`  breakpoint ${h.id}${h.detail ? `: ${h.detail}` : ''}`);
    return { ok: true, text: lines.join('\n'), data: { status: 'paused', pause: p } };
  }

  private edited(rec: { hook: string; slice: string; shape: number[]; op: { kind: string } }): ReplOutput {
    const h = statsOf(this.view());
    return { ok: true, text: `${rec.op.kind === 'scale' ? 'scaled' : 'set'} ${rec.slice || 'all'} of ${rec.hook} (${rec.shape.length ? `[${rec.shape.join(', ')}]` : 'one value'}); the edit applies when the run resumes\n  ${formatStats(h)[1] ?? ''}`, data: { edit: rec, stats: h } };
  }

  // ---- breakpoints ------------------------------------------------------------------------------

  private doBreak(args: string): ReplOutput {
    const spec = parseBreak(args);
    const id = this.nextId;
    const b = this.run && this.run.status !== 'finished' && this.run.status !== 'aborted'
      ? this.run.addBreakpoint(spec, id)
      : makeBreakpoint(id, spec, this.model.config, { promptLength: this.ids.length, passes: this.passes });
    this.specs.set(id, b.spec);
    this.nextId++;
    return { ok: true, text: `breakpoint ${id}: ${describeBreakpoint(b)} (${b.names.size} hook point${b.names.size === 1 ? '' : 's'})`, data: { breakpoint: { id, spec: b.spec, hooks: b.names.size } } };
  }

  private doDelete(args: string): ReplOutput {
    const ids = args.split(/[\s,]+/).filter((s) => s !== '');
    if (ids.length === 0) {
      const all = [...this.specs.keys()];
      this.specs.clear();
      this.run?.deleteBreakpoint();
      return { ok: true, text: all.length ? `deleted breakpoints ${all.join(', ')}` : 'no breakpoints', data: { deleted: all } };
    }
    const nums = ids.map((s) => {
      const n = Number(s);
      if (!Number.isInteger(n) || !this.specs.has(n)) throw new LlmdbgError('invalid_argument', `delete: no breakpoint "${s}"; the breakpoints are ${[...this.specs.keys()].join(', ') || 'none'}`, { hint: '`info breakpoints` lists them' });
      return n;
    });
    for (const n of nums) {
      this.specs.delete(n);
      if (this.run?.breakpoints().some((b) => b.id === n)) this.run.deleteBreakpoint(n);
    }
    return { ok: true, text: `deleted breakpoint${nums.length > 1 ? 's' : ''} ${nums.join(', ')}`, data: { deleted: nums } };
  }

  // ---- looking ----------------------------------------------------------------------------------

  private doWhere(): ReplOutput {
    const p = this.run?.pause;
    if (!p) return { ok: true, text: this.run ? `the run is ${this.run.status}` : 'not running (`run` or `step` starts)', data: { status: this.run?.status ?? 'none' } };
    const toks = this.model.tokenPieces(p.tokens);
    return {
      ok: true,
      text: [
        `${p.hook}  layer ${p.layer ?? '-'}  step ${p.step}  hook #${p.hookIndex}  ${p.edited ? '(edited)' : ''}`.trimEnd(),
        `  shape [${p.shape.join(', ')}] (${p.dims.join(', ')}), positions ${p.positions[0]}..${p.positions[1]}`,
        `  tokens in this pass: ${p.tokens.map((id, i) => `${id} ${JSON.stringify(toks[i])}`).join(', ')}`,
      ].join('\n'),
      data: { pause: p },
    };
  }

  private doPrint(args: string): ReplOutput {
    const v = this.view();
    const slice = args === '' ? undefined : args;
    const h = statsOf(v, slice);
    const lines = [`${this.run!.pause!.hook}${slice ? ` ${slice}` : ''}: shape [${h.shape.join(', ')}]`, ...formatStats(h).map((l) => `  ${l}`)];
    let values: number[] | undefined;
    if (slice) {
      const s = sliceOf(v, slice);
      lines.push(formatValues(s.shape, s.data));
      values = Array.from(s.data);
    }
    return { ok: true, text: lines.join('\n'), data: { stats: h, ...(values ? { values } : {}) } };
  }

  private doTop(args: string): ReplOutput {
    const { k, abs, slice } = parseTop(args);
    const top = topActivations(this.view(), k, { abs, ...(slice ? { slice } : {}) });
    const text = top.map((t, i) => `${String(i + 1).padStart(3)}. ${fmtNum(t.value).padStart(11)}  ${Object.entries(t.at).map(([d, x]) => `${d}=${x}`).join(' ')}`).join('\n');
    return { ok: true, text: text || '(no values)', data: { top } };
  }

  private doInfo(args: string): ReplOutput {
    const [what, pattern] = args.split(/\s+/);
    if (what === 'hooks' || what === 'hook') {
      const pts = resolveHooks(this.model.config, [pattern ?? '*']);
      const T = this.ids.length;
      const text = pts.map((h) => `${h.name.padEnd(34)} [${hookShape(this.model.config, h.site, 1, T).join(', ')}]`).join('\n');
      return { ok: true, text: `${text}\n(${pts.length} hook points; shapes for the ${T}-token prompt, one position per later step)`, data: { hooks: pts.map((h) => h.name) } };
    }
    if (what === 'breakpoints' || what === 'break' || what === 'b') {
      const live = new Map((this.run?.breakpoints() ?? []).map((b) => [b.id, b]));
      const rows = [...this.specs].map(([id, spec]) => ({ id, spec, hits: live.get(id)?.hits ?? 0 }));
      const text = rows.map((r) => `${String(r.id).padStart(3)}  ${describeBreakpoint({ id: r.id, spec: r.spec, names: new Set(), hits: r.hits, enabled: true })}  (hit ${r.hits} time${r.hits === 1 ? '' : 's'})`).join('\n');
      return { ok: true, text: text || 'no breakpoints', data: { breakpoints: rows } };
    }
    if (what === 'watches' || what === 'watch') return this.watchTableOutput();
    if (what === 'edits') {
      const edits = this.run?.edits() ?? [];
      return { ok: true, text: edits.map((e) => `step ${e.step} ${e.hook} ${e.slice || 'all'} ${e.op.kind === 'scale' ? `*= ${e.op.factor}` : `= ${e.op.values.length === 1 ? e.op.values[0] : `${e.op.values.length} values`}`}`).join('\n') || 'no edits', data: { edits } };
    }
    throw new LlmdbgError('invalid_argument', `info: unknown topic "${what ?? ''}"`, { hint: 'info hooks | info breakpoints | info watches | info edits' });
  }

  private watchTableOutput(): ReplOutput {
    const recs = this.run?.watchRecords() ?? [];
    const list = this.watchSpecs.map((w, i) => `watch ${i + 1}: ${w.hook} (${w.positions ?? 'last'} positions)`).join('\n') || 'no watches (watch HOOK adds one)';
    if (recs.length === 0) return { ok: true, text: `${list}\n(no records yet)`, data: { watches: this.watchSpecs, records: [] } };
    const t = watchTable(recs);
    const widths = t.header.map((h, j) => Math.max(h.length, ...t.rows.map((r) => r[j]!.length)));
    const fmt = (r: string[]) => r.map((c, j) => c.padEnd(widths[j]!)).join('  ').trimEnd();
    return { ok: true, text: [list, fmt(t.header), ...t.rows.map(fmt)].join('\n'), data: { watches: this.watchSpecs, records: recs } };
  }

  private async doWatch(args: string): Promise<ReplOutput> {
    const m = /^html\s+(\S.*)$/.exec(args);
    if (m) {
      const path = m[1]!.trim();
      const html = watchReportHtml(this.run?.watchRecords() ?? [], { model: this.model.source.dir, ids: [...this.ids], watches: this.watchSpecs });
      await writeFileAtomic(path, html);
      return { ok: true, text: `wrote ${path}`, data: { file: path } };
    }
    if (args === '') return this.watchTableOutput();
    const [hook, mode] = args.split(/\s+/);
    if (mode !== undefined && mode !== 'all' && mode !== 'last') throw new LlmdbgError('invalid_argument', `watch: "${mode}" is not all or last`, { hint: 'watch HOOK [all]' });
    const spec: WatchSpec = { hook: hook!, positions: mode === 'all' ? 'all' : 'last' };
    const w = makeWatch(this.watchSpecs.length + 1, spec, this.model.config); // validates the name
    if (this.run && (this.run.status === 'ready' || this.run.status === 'paused')) this.run.addWatch(spec);
    this.watchSpecs.push(spec);
    return { ok: true, text: `watch ${w.id}: ${spec.hook} (${w.names.size} hook point${w.names.size === 1 ? '' : 's'}, ${spec.positions} positions), recorded at every step`, data: { watch: w.id } };
  }

  private doHelp(args: string): ReplOutput {
    const c = ALIASES[args] ?? args;
    if (c && COMMAND_HELP[c]) return { ok: true, text: COMMAND_HELP[c]! };
    return { ok: true, text: ['commands:', ...Object.values(COMMAND_HELP).map((h) => `  ${h}`), SLICE_HELP, 'Tab completes commands and hook names; Up/Down walk the history.'].join('\n') };
  }

  // ---- completion -------------------------------------------------------------------------------

  /** readline-style completion: candidates for the last word and that word. */
  complete(line: string): [string[], string] {
    const words = line.split(/\s+/);
    const last = words[words.length - 1] ?? '';
    if (words.length <= 1) return [[...COMMANDS, 'quit'].filter((c) => c.startsWith(last)), last];
    const cmd = ALIASES[words[0]!] ?? words[0]!;
    let cands: string[] = [];
    if (cmd === 'info') cands = words.length === 2 ? ['hooks', 'breakpoints', 'watches', 'edits'] : this.model.hooks.map((h) => h.name);
    else if (cmd === 'next') cands = ['layer', 'token'];
    else if (cmd === 'break') cands = [...this.model.hooks.map((h) => h.name), 'layer', 'pos', 'step', 'if', 'hits', 'nonfinite', 'abs', 'norm', 'entropy'];
    else if (cmd === 'watch') cands = words.length === 2 ? [...this.model.hooks.map((h) => h.name), 'html'] : ['all', 'last'];
    else if (cmd === 'help') cands = COMMANDS;
    return [cands.filter((c) => c.startsWith(last)), last];
  }
}
