/**
 * `llmdbg attack`: find an input that breaks the model (hotflip, input reduction, GCG), targeted
 * (force a continuation) or untargeted (change the model's own answer). Prints the original and
 * adversarial input with the changed tokens marked, the goal probability before/after and the step
 * log; `--json` one object (the AttackResult plus run info); `--html` a page with the attribution.
 * Non-goals: the search itself (src/methods/adversarial), hardening (`llmdbg harden`).
 */
import { LlmdbgError } from '../../errors.js';
import { float, int, parse, parseIds, str, type Options } from '../args.js';
import { openSession, promptIds, runInfo } from '../context.js';
import { note, printJson, printLine, table } from '../output.js';
import { writeFileAtomicSync } from '../../util/atomic-write.js';
import type { Model } from '../../model/model.js';
import { attack } from '../../methods/adversarial/attack.js';
import { ATTACK_DEFAULTS, ATTACK_METHOD_NAMES, attackMethodsHelp, methodsWithOption, resolveAttackMethod, type MethodOption } from '../../methods/adversarial/registry.js';
import type { AttackGoal, AttackMethod, AttackRequest, AttackResult } from '../../methods/adversarial/types.js';
import { attribute } from '../../methods/attribution/attribute.js';
import { defaultReplacement } from '../../methods/attribution/baseline.js';
import type { AttributionResult } from '../../methods/attribution/types.js';
import { alignTokens, attackPage, type TokenMark } from '../../report/attack-html.js';
import type { Command } from './types.js';

/** CLI flag -> the registry option it sets; a flag is refused for methods whose registry entry lacks it. */
const FLAG_OPTIONS: Record<string, MethodOption> = {
  positions: 'positions', 'adv-prefix': 'adv', 'adv-suffix': 'adv', beam: 'beam', candidates: 'candidates', 'top-k': 'topK', batch: 'batch',
};

const HTML_ATTRIBUTION = ['integrated-gradients', 'input-x-gradient'] as const;

function checkFlags(method: AttackMethod, v: Options): void {
  for (const [flag, opt] of Object.entries(FLAG_OPTIONS)) {
    if (v[flag] === undefined) continue;
    const users = methodsWithOption(opt);
    if (!users.includes(method)) throw new LlmdbgError('invalid_argument', `--${flag} does not apply to --method ${method}`, { hint: `--${flag} is for ${users.join(', ')}` });
  }
}

/** `3,4,7`, `2-5`, or a mix (`1,3-5`), each position inside the prompt of `n` tokens; sorted, unique. */
export function parsePositions(s: string, n: number): number[] {
  const parts = s.split(/[\s,]+/).filter((p) => p.length > 0);
  if (parts.length === 0) throw new LlmdbgError('invalid_argument', '--positions is empty', { hint: 'give positions like 3,4,7 or a range like 2-5' });
  const out = new Set<number>();
  for (const p of parts) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(p);
    if (!m) throw new LlmdbgError('invalid_argument', `--positions: "${p}" is not a position or a range`, { hint: 'give positions like 3,4,7 or a range like 2-5' });
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) throw new LlmdbgError('invalid_argument', `--positions: range "${p}" is backwards`, { hint: `write it as ${b}-${a}` });
    if (b >= n) throw new LlmdbgError('invalid_argument', `--positions: ${b} is outside the prompt of ${n} tokens`, { hint: `positions go from 0 to ${n - 1}` });
    for (let i = a; i <= b; i++) out.add(i);
  }
  return [...out].sort((x, y) => x - y);
}

function idList(model: Model, v: Options, flag: string): number[] | undefined {
  const s = str(v, flag);
  if (s === undefined) return undefined;
  const ids = parseIds(s);
  const V = model.config.vocabSize;
  ids.forEach((id, i) => {
    if (id < 0 || id >= V) throw new LlmdbgError('token_out_of_range', `--${flag}: token id ${id} at position ${i} is outside the vocabulary [0, ${V})`, { hint: `ids must be integers from 0 to ${V - 1}` });
  });
  return ids;
}

function goalOption(model: Model, v: Options): AttackGoal {
  const text = str(v, 'target');
  if (text !== undefined && str(v, 'target-ids') !== undefined) throw new LlmdbgError('invalid_argument', 'give either --target or --target-ids, not both');
  let ids = idList(model, v, 'target-ids');
  if (text !== undefined) {
    ids = model.encode(text, { addSpecialTokens: false });
    if (ids.length === 0) throw new LlmdbgError('invalid_argument', `--target ${JSON.stringify(text)} has no tokens`, { hint: 'give non-empty text' });
  }
  if (ids && v['untargeted']) throw new LlmdbgError('invalid_argument', '--untargeted and --target exclude each other', { hint: 'drop --untargeted to force the target, or drop --target to change the model\'s own answer' });
  if (ids) return { kind: 'targeted', targetIds: ids };
  return { kind: 'untargeted' };
}

function advOption(v: Options, model: Model, promptLength: number): AttackRequest['adv'] | undefined {
  const pre = str(v, 'adv-prefix');
  const suf = str(v, 'adv-suffix');
  if (pre !== undefined && suf !== undefined) throw new LlmdbgError('invalid_argument', 'give either --adv-prefix or --adv-suffix, not both');
  if (pre === undefined && suf === undefined) return undefined;
  const flag = pre !== undefined ? 'adv-prefix' : 'adv-suffix';
  const room = model.config.nCtx - promptLength - 1;
  if (room < 1) throw new LlmdbgError('prompt_too_long', `the prompt of ${promptLength} tokens leaves no room for --${flag} in the model's context of ${model.config.nCtx}`, { hint: 'shorten the prompt' });
  return { where: pre !== undefined ? 'prefix' : 'suffix', length: int(v, flag, 8, 1, room) };
}

function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? x.toExponential(3) : x.toFixed(4);
}

/** Tokens joined, runs of changed tokens wrapped: colour on a terminal, else `[-...-]` / `{+...+}`. */
function marked(pieces: string[], marks: TokenMark[], kind: 'del' | 'ins', color: boolean): string {
  const [open, close] = color ? (kind === 'del' ? ['\x1b[9;31m', '\x1b[0m'] : ['\x1b[1;42;30m', '\x1b[0m']) : kind === 'del' ? ['[-', '-]'] : ['{+', '+}'];
  let out = '';
  for (let i = 0; i < pieces.length; i++) {
    const ch = marks[i] === 'changed';
    if (ch && (i === 0 || marks[i - 1] !== 'changed')) out += open;
    out += pieces[i];
    if (ch && (i === pieces.length - 1 || marks[i + 1] !== 'changed')) out += close;
  }
  return out;
}

function goalText(r: AttackResult, model: Model): string {
  const q = (ids: readonly number[]) => JSON.stringify(model.tokenPieces(ids).join(''));
  if (r.method === 'input-reduction') return `input-reduction: remove tokens while the prediction ${q(r.original.predictionIds)} stays`;
  if (r.goal.kind === 'targeted') return `${r.method}, targeted: force ${q(r.goal.targetIds)} (ids ${r.goal.targetIds.join(',')})`;
  const a = r.goal.answerIds ?? r.original.predictionIds;
  return `${r.method}, untargeted: change the answer ${q(a.slice(0, 1))} (id ${a[0]})`;
}

function printHuman(r: AttackResult, model: Model): void {
  const color = process.stdout.isTTY === true && !process.env['NO_COLOR'];
  const m = alignTokens(r.original.ids, r.adversarial.ids);
  printLine(goalText(r, model));
  const rows = [
    ['original', marked(model.tokenPieces(r.original.ids), m.a, 'del', color), JSON.stringify(r.original.prediction), fmt(r.original.prob)],
    ['adversarial', marked(model.tokenPieces(r.adversarial.ids), m.b, 'ins', color), JSON.stringify(r.adversarial.prediction), fmt(r.adversarial.prob)],
  ];
  printLine(table(rows, ['input', 'text (changed tokens marked)', 'prediction', 'goal p']));
  printLine(`success: ${r.success ? 'yes' : 'no'} (stop: ${r.stopReason}), ${r.steps.length} steps, ${r.queries} queries, ${r.gradients} gradients, ${(r.ms / 1000).toFixed(2)} s`);
  if (r.steps.length > 0) {
    printLine();
    const tok = (id: number | null) => (id === null ? '-' : `${id} ${JSON.stringify(model.tokenPieces([id])[0] ?? '')}`);
    printLine(table(r.steps.map((s) => [s.step, s.change.kind, s.change.position, tok(s.change.fromId), tok(s.change.toId), fmt(s.loss), fmt(s.prob), s.queries, Math.round(s.ms)]),
      ['step', 'change', 'pos', 'from', 'to', 'loss', 'prob', 'queries', 'elapsed ms']));
  }
}

/** The token the page attributes the adversarial input toward, and an optional foil. */
function attributionGoal(r: AttackResult): { target: number; foil?: number } | null {
  if (r.goal.kind === 'targeted') return r.goal.targetIds[0] === undefined ? null : { target: r.goal.targetIds[0] };
  const answer = (r.goal.kind === 'untargeted' ? r.goal.answerIds : undefined)?.[0] ?? r.original.predictionIds[0];
  if (answer === undefined) return null;
  if (r.method === 'input-reduction') return { target: answer };
  const now = r.adversarial.predictionIds[0];
  // Untargeted: what makes the model prefer its new answer over the old one.
  return now !== undefined && now !== answer ? { target: now, foil: answer } : { target: answer };
}

async function writeHtml(path: string, r: AttackResult, model: Model, method: (typeof HTML_ATTRIBUTION)[number]): Promise<void> {
  const g = attributionGoal(r);
  let attribution: AttributionResult | null = null;
  let why = 'the attack has no goal token';
  if (g) {
    try {
      // A zero baseline sits on RMSNorm's singularity when no position embeddings are added (the
      // attribution library warns); a pad/unk/eos token baseline is meaningful there.
      const tokenBaseline = method === 'integrated-gradients' && model.config.positional === 'rotary' && model.config.norm === 'rmsnorm';
      const baseline = tokenBaseline ? defaultReplacement(model) : undefined;
      attribution = await attribute(model, { ids: r.adversarial.ids, method, target: g.target, ...(g.foil !== undefined ? { foil: g.foil } : {}), ...(baseline ? { baseline } : {}) });
    } catch (e) {
      if (!(e instanceof LlmdbgError)) throw e;
      why = `attribution failed: ${e.oneLine()}`;
    }
  }
  writeFileAtomicSync(path, attackPage(r, { pieces: (ids) => model.tokenPieces(ids), attribution, attributionNote: why }));
}

export const attackCommand: Command = {
  name: 'attack',
  summary: 'find inputs that break the model: hotflip, input reduction, GCG (targeted or untargeted)',
  usage: `llmdbg attack [--model DIR] --method hotflip|input-reduction|gcg (--prompt TEXT | --ids 1,2,3)
              [--target TEXT | --target-ids 1,2 | --untargeted] [--positions 3,4,7 | --positions 2-5]
              [--adv-prefix N | --adv-suffix N] [--steps N] [--max-queries N] [--time-limit SEC]
              [--beam N] [--candidates N] [--top-k N] [--batch N] [--allow-special] [--any-bytes]
              [--deny-ids 1,2] [--seed S] [--memory-mb MB] [--html FILE] [--html-attribution M] [--json]
  Methods (--method):
${attackMethodsHelp('    ')}
  Goal: --target forces greedy decoding to produce the target; without it the attack is untargeted
  (the model's own next token must change). input-reduction removes tokens while the prediction stays
  (its --target must be the model's own greedy continuation: a longer prediction to keep).
  Constraints: --positions that may change (hotflip) or be removed (input-reduction); --adv-prefix /
  --adv-suffix N adds N adversarial tokens the attack changes (gcg: a suffix of ${ATTACK_DEFAULTS.adv.length} by default).
  Search: hotflip --beam (default ${ATTACK_DEFAULTS.beam}) --candidates per beam (${ATTACK_DEFAULTS.candidates}); gcg --top-k tokens per
  position (${ATTACK_DEFAULTS.topK}) --batch candidates per step (${ATTACK_DEFAULTS.batch}); --seed (${ATTACK_DEFAULTS.seed});
  --memory-mb caps one batch of candidate rows (default ${ATTACK_DEFAULTS.memoryMB}; larger batches are split).
  Vocabulary: special tokens and non-printable tokens are never inserted unless --allow-special /
  --any-bytes; --deny-ids excludes more. Budgets: --steps, --max-queries (forward evaluations, per
  sequence), --time-limit (seconds; the best input so far is returned). Ctrl-C stops early the same way.
  --json prints the AttackResult {method, goal, original, adversarial, success, stopReason, queries,
  gradients, ms, steps, info}. --html FILE writes a page with the attribution of the adversarial input
  toward the goal token (--html-attribution integrated-gradients (default) or input-x-gradient).`,
  async run(argv) {
    const { values: v } = parse(argv, {
      method: { type: 'string' }, target: { type: 'string' }, 'target-ids': { type: 'string' }, untargeted: { type: 'boolean' },
      positions: { type: 'string' }, 'adv-prefix': { type: 'string' }, 'adv-suffix': { type: 'string' },
      steps: { type: 'string' }, 'max-queries': { type: 'string' }, 'time-limit': { type: 'string' },
      beam: { type: 'string' }, candidates: { type: 'string' }, 'top-k': { type: 'string' }, batch: { type: 'string' },
      'allow-special': { type: 'boolean' }, 'any-bytes': { type: 'boolean' }, 'deny-ids': { type: 'string' },
      seed: { type: 'string' }, 'memory-mb': { type: 'string' }, html: { type: 'string' }, 'html-attribution': { type: 'string' },
    }, 'attack');
    const methodName = str(v, 'method');
    if (methodName === undefined) throw new LlmdbgError('invalid_argument', 'attack: no --method given', { hint: `choose one of ${ATTACK_METHOD_NAMES.join(', ')}` });
    const method = resolveAttackMethod(methodName);
    checkFlags(method, v);
    const htmlMethod = (str(v, 'html-attribution') ?? 'integrated-gradients') as (typeof HTML_ATTRIBUTION)[number];
    if (!HTML_ATTRIBUTION.includes(htmlMethod)) throw new LlmdbgError('unknown_method', `--html-attribution ${htmlMethod} is not one of ${HTML_ATTRIBUTION.join(', ')}`, { hint: 'the page shows integrated-gradients or input-x-gradient' });
    if (str(v, 'html-attribution') !== undefined && str(v, 'html') === undefined) throw new LlmdbgError('invalid_argument', '--html-attribution needs --html FILE');
    const steps = str(v, 'steps') === undefined ? undefined : int(v, 'steps', 1, 1, 1_000_000);
    const maxQueries = str(v, 'max-queries') === undefined ? undefined : int(v, 'max-queries', 1, 1, Number.MAX_SAFE_INTEGER);
    const seconds = float(v, 'time-limit', undefined);
    if (seconds !== undefined && !(seconds > 0)) throw new LlmdbgError('invalid_argument', `--time-limit ${seconds} must be a positive number of seconds`);
    const opt = (flag: string, max = 1_000_000) => (str(v, flag) === undefined ? undefined : int(v, flag, 1, 1, max));
    const beam = opt('beam');
    const candidates = opt('candidates');
    const topK = opt('top-k');
    const batch = opt('batch');
    const seed = str(v, 'seed') === undefined ? undefined : int(v, 'seed', 0, 0, 2 ** 32 - 1);
    const memoryMB = float(v, 'memory-mb', undefined);
    if (memoryMB !== undefined && !(memoryMB > 0)) throw new LlmdbgError('invalid_argument', `--memory-mb ${memoryMB} must be positive`);

    const s = await openSession(v);
    // The weights are released on the way out, so the command can also run inside a process (tests).
    try {
      const ids = promptIds(s.model, v);
      const goal = goalOption(s.model, v);
      const positions = str(v, 'positions') === undefined ? undefined : parsePositions(str(v, 'positions')!, ids.length);
      const adv = advOption(v, s.model, ids.length);
      const deny = idList(s.model, v, 'deny-ids');
      const quiet = v['json'] === true;
      const controller = new AbortController();
      const onSigint = () => controller.abort();
      process.once('SIGINT', onSigint);
      const req: AttackRequest = {
        method, ids, goal, signal: controller.signal,
        ...(positions ? { positions } : {}), ...(adv ? { adv } : {}),
        vocab: { allowSpecial: v['allow-special'] === true, printableOnly: v['any-bytes'] !== true, ...(deny ? { deny } : {}) },
        budget: { ...(steps !== undefined ? { maxSteps: steps } : {}), ...(maxQueries !== undefined ? { maxQueries } : {}), ...(seconds !== undefined ? { maxTimeMs: seconds * 1000 } : {}) },
        ...(beam !== undefined ? { beam } : {}), ...(candidates !== undefined ? { candidates } : {}),
        ...(topK !== undefined ? { topK } : {}), ...(batch !== undefined ? { batch } : {}), ...(seed !== undefined ? { seed } : {}),
        ...(memoryMB !== undefined ? { memoryMB } : {}),
        ...(quiet ? {} : { onProgress: (p) => note(`step ${p.step}/${p.maxSteps}  queries ${p.queries}  p=${fmt(p.prob)}`) }),
      };
      let r: AttackResult;
      try {
        r = await attack(s.model, req);
      } finally {
        process.removeListener('SIGINT', onSigint);
      }
      const html = str(v, 'html');
      if (html) await writeHtml(html, r, s.model, htmlMethod);
      if (quiet) {
        printJson({ ...r, info: { ...r.info, ...runInfo(s, { html: html ?? null, loadMs: Math.round(s.loadMs) }) } });
      } else {
        printHuman(r, s.model);
        if (html) note(`wrote ${html}`);
      }
    } finally {
      s.model.dispose();
    }
  },
};
