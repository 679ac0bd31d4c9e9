/**
 * Parsing the debugger's command language into data: breakpoint specs (`break HOOK layer 2 pos 5
 * step 1 if entropy < 0.3 hits 2`), edits (`set [0, 3, :] = 0`, `set [..., 4] *= 2`), numbers
 * (including nan, inf, -inf). Nothing is evaluated: a condition is one of four fixed forms.
 * Non-goals: expressions, variables, shell escapes.
 */
import { LlmdbgError } from '../errors.js';
import type { BreakpointSpec } from './breakpoints.js';
import type { Condition } from './conditions.js';
import type { EditOp } from './slice.js';

function bad(msg: string, hint: string): LlmdbgError {
  return new LlmdbgError('invalid_argument', msg, { hint });
}

/** A number, also `nan`, `inf`, `+inf`, `-inf` (any case). */
export function parseNumber(s: string, what: string): number {
  const t = s.trim().toLowerCase();
  if (t === 'nan') return NaN;
  if (t === 'inf' || t === '+inf' || t === 'infinity') return Infinity;
  if (t === '-inf' || t === '-infinity') return -Infinity;
  const n = Number(t);
  if (t === '' || !Number.isFinite(n)) throw bad(`${what}: "${s}" is not a number`, 'numbers like 0, -1.5, 2e-3, nan, inf and -inf are accepted');
  return n;
}

function parseIntArg(s: string | undefined, what: string): number {
  if (s === undefined || !/^\d+$/.test(s)) throw bad(`break: ${what} needs a non-negative integer, got ${s === undefined ? 'nothing' : `"${s}"`}`, `e.g. break blocks.*.hook_resid_post ${what} 2`);
  return Number(s);
}

const BREAK_HINT = 'break [HOOK] [layer L] [pos P] [step S] [if nonfinite | abs > X | norm > X | entropy < X] [hits N]';
const KEYWORDS = new Set(['layer', 'pos', 'position', 'step', 'if', 'hits']);

function parseCondition(words: string[]): Condition {
  const text = words.join(' ').replace(/\s+/g, ' ').trim();
  if (/^(nonfinite|nan|inf|naninf)$/i.test(text)) return { kind: 'nonfinite' };
  const m = /^(abs|norm|entropy)\s*([<>])\s*(\S+)$/i.exec(text);
  if (!m) throw bad(`break: cannot read the condition "${text}"`, 'conditions: nonfinite, abs > X, norm > X, entropy < X');
  const what = m[1]!.toLowerCase();
  const op = m[2]!;
  const threshold = parseNumber(m[3]!, `condition ${what}`);
  if (what === 'entropy') {
    if (op !== '<') throw bad('break: entropy conditions are "entropy < X" (low entropy = focused attention)', 'e.g. break if entropy < 0.3');
    return { kind: 'entropy_below', threshold };
  }
  if (op !== '>') throw bad(`break: ${what} conditions are "${what} > X"`, `e.g. break if ${what} > 100`);
  return { kind: what === 'abs' ? 'abs_above' : 'norm_above', threshold };
}

/** `HOOK layer L pos P step S if COND hits N`, every part optional, in any order after HOOK. */
export function parseBreak(args: string): BreakpointSpec {
  const words = args.replace(/([<>])/g, ' $1 ').split(/\s+/).filter((w) => w !== '');
  const spec: BreakpointSpec = {};
  let i = 0;
  if (words[0] !== undefined && !KEYWORDS.has(words[0])) spec.hook = words[i++];
  while (i < words.length) {
    const w = words[i++]!;
    if (w === 'layer') spec.layer = parseIntArg(words[i++], 'layer');
    else if (w === 'pos' || w === 'position') spec.position = parseIntArg(words[i++], 'pos');
    else if (w === 'step') spec.step = parseIntArg(words[i++], 'step');
    else if (w === 'hits') spec.hitCount = parseIntArg(words[i++], 'hits');
    else if (w === 'if') {
      const cond: string[] = [];
      while (i < words.length && !KEYWORDS.has(words[i]!)) cond.push(words[i++]!);
      spec.condition = parseCondition(cond);
    } else throw bad(`break: unexpected "${w}"`, BREAK_HINT);
  }
  return spec;
}

/** `SLICE = V[, V...]` or `SLICE *= F` (SLICE may be empty: the whole tensor). */
export function parseSet(args: string): { slice: string; op: EditOp } {
  // the operator is `*=`, or an `=` not glued to a dimension name (`pos=3` belongs to the slice)
  const t = args.trim();
  const star = t.indexOf('*=');
  const eq = star >= 0 ? star : [...t].findIndex((c, i) => c === '=' && !/[A-Za-z_]/.test(t[i - 1] ?? ''));
  const m = eq < 0 ? null : [t, t.slice(0, eq), star >= 0 ? '*=' : '=', t.slice(eq + (star >= 0 ? 2 : 1))];
  if (!m || m[3]!.trim() === '') throw bad(`set: cannot read "${args}"`, 'set [0, 3, :] = 0   or   set [0, 3, :] = 1, 2, 3   or   set [..., 5] *= 2');
  const slice = m[1]!.trim();
  if (m[2] === '*=') return { slice, op: { kind: 'scale', factor: parseNumber(m[3]!, 'set *=') } };
  const values = m[3]!.replace(/^\[|\]$/g, '').split(/[\s,]+/).filter((v) => v !== '').map((v) => parseNumber(v, 'set'));
  return { slice, op: { kind: 'set', values } };
}

/** `[K] [abs] [SLICE]` for `top`. */
export function parseTop(args: string): { k: number; abs: boolean; slice: string } {
  let rest = args.trim();
  let k = 10;
  let abs = false;
  for (;;) {
    const m = /^(\d+|abs)(\s+|$)/.exec(rest);
    if (!m) break;
    if (m[1] === 'abs') abs = true;
    else k = Number(m[1]);
    rest = rest.slice(m[0].length);
  }
  if (k < 1) throw bad('top: K must be at least 1', 'e.g. top 5 pos=3');
  return { k, abs, slice: rest.trim() };
}

/** `[SLICE] F` for `scale`: the last word is the factor. */
export function parseScale(args: string): { slice: string; factor: number } {
  const m = /^(.*?)\s*(\S+)$/.exec(args.trim());
  if (!m) throw bad('scale: give a factor', 'e.g. scale [0, 3, :] 0.5');
  return { slice: m[1]!.trim(), factor: parseNumber(m[2]!, 'scale') };
}

export const COMMAND_HELP: Record<string, string> = {
  run: 'run                       start (or restart) the run; stops at the first breakpoint',
  continue: 'continue | c              run to the next breakpoint or the end',
  step: 'step [N] | s              pause at the next hook point (or the N-th next)',
  next: 'next [layer|token] | n    pause at the first hook point of the next layer (default) or token',
  break: `break ... | b             ${BREAK_HINT}`,
  delete: 'delete [ID ...] | d       delete breakpoints (all when no id)',
  print: 'print [SLICE] | p         statistics of the tensor at hand (and values of a slice)',
  top: 'top [K] [abs] [SLICE]     the K largest activations (by |x| with abs)',
  set: 'set SLICE = V[,V...] | set SLICE *= F   edit the tensor at hand (applies for the rest of the run)',
  zero: 'zero [SLICE]              set a slice (default all) to 0',
  scale: 'scale [SLICE] F           multiply a slice by F',
  where: 'where | w                 where the run is paused: hook, layer, positions, step, shape',
  info: 'info hooks [PATTERN] | info breakpoints | info watches | info edits',
  watch: 'watch HOOK [all] | watch | watch html FILE   record statistics at every step / show them / save a chart',
  history: 'history                   the commands given so far',
  abort: 'abort                     stop the run (breakpoints and watches are kept)',
  help: 'help [COMMAND]            this text',
  quit: 'quit | q                  leave the debugger',
};

export const SLICE_HELP = 'SLICE: [0, 3, :]  [:, :, 2:5]  [..., -1]  or by name: pos=3 head=1 (indices into the tensor at hand)';

export const ALIASES: Record<string, string> = { c: 'continue', cont: 'continue', s: 'step', n: 'next', b: 'break', d: 'delete', p: 'print', w: 'where', bt: 'where', q: 'quit', exit: 'quit', r: 'run', h: 'help', i: 'info' };
