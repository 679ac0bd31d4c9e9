/**
 * `llmdbg attribute`: which input tokens made the model predict a token (or a whole continuation),
 * by saliency, input x gradient, integrated gradients, SmoothGrad, VarGrad or occlusion.
 * Prints shaded tokens and a score table, `--json` one result object, `--html` a page.
 */
import { LlmdbgError } from '../../errors.js';
import { float, int, parse, parseIds, str, type Options } from '../args.js';
import { openSession, promptIds, runInfo } from '../context.js';
import { note, printJson, printLine, table } from '../output.js';
import { writeFileAtomicSync } from '../../util/atomic-write.js';
import { generate } from '../../model/generate.js';
import type { Model } from '../../model/model.js';
import { attribute, DEFAULTS } from '../../methods/attribution/attribute.js';
import { METHODS, METHOD_NAMES, methodsHelp, resolveMethod, resolveNorm, resolveRule, rulesHelp, type MethodName } from '../../methods/attribution/registry.js';
import { parseBaseline } from '../../methods/attribution/baseline.js';
import { checkTokenId, singleToken } from '../../methods/attribution/objective.js';
import { fmt, renderAttribution } from '../../methods/attribution/terminal.js';
import { attributionPage } from '../../report/attribution-html.js';
import type { AttributeRequest, AttributionResult } from '../../methods/attribution/types.js';
import type { Command } from './types.js';

/** CLI flag -> the registry's option name it belongs to. */
const METHOD_FLAGS: Record<string, string> = { steps: 'steps', 'ig-rule': 'rule', baseline: 'baseline', samples: 'samples', noise: 'noise', seed: 'seed', norm: 'norm' };

function tokenOption(model: Model, v: Options, name: 'target' | 'foil'): number | undefined {
  const text = str(v, name);
  const id = str(v, `${name}-id`);
  if (text !== undefined && id !== undefined) throw new LlmdbgError('invalid_argument', `give either --${name} or --${name}-id, not both`);
  if (id !== undefined) {
    if (!/^\d+$/.test(id.trim())) throw new LlmdbgError('invalid_argument', `--${name}-id ${id} must be a token id`);
    checkTokenId(model, Number(id), `--${name}-id`);
    return Number(id);
  }
  return text === undefined ? undefined : singleToken(model, text, `--${name}`);
}

async function continuationOption(model: Model, v: Options, ids: number[]): Promise<number[] | undefined> {
  const given = ['continuation', 'continuation-ids', 'generate'].filter((k) => str(v, k) !== undefined);
  if (given.length > 1) throw new LlmdbgError('invalid_argument', `give only one of ${given.map((g) => `--${g}`).join(', ')}`);
  const text = str(v, 'continuation');
  if (text !== undefined) {
    const c = model.encode(text, { addSpecialTokens: false });
    if (c.length === 0) throw new LlmdbgError('invalid_argument', '--continuation has no tokens', { hint: 'give non-empty text' });
    return c;
  }
  if (str(v, 'continuation-ids') !== undefined) return parseIds(str(v, 'continuation-ids')!);
  if (str(v, 'generate') !== undefined) {
    const n = int(v, 'generate', 1, 1, 4096);
    return (await generate(model, ids, { maxNewTokens: n, stopAtEos: false })).generated;
  }
  return undefined;
}

function checkFlags(method: MethodName, v: Options): void {
  const allowed = METHODS[method].options as readonly string[];
  for (const [flag, opt] of Object.entries(METHOD_FLAGS)) {
    if (v[flag] !== undefined && !allowed.includes(opt)) {
      const users = METHOD_NAMES.filter((m) => (METHODS[m].options as readonly string[]).includes(opt));
      throw new LlmdbgError('invalid_argument', `--${flag} does not apply to --method ${method}`, { hint: `--${flag} is for ${users.join(', ')}` });
    }
  }
}

function printHuman(r: AttributionResult, model: Model): void {
  const color = process.stdout.isTTY === true && !process.env['NO_COLOR'];
  if (r.kind === 'single') {
    const t = r.target;
    printLine(`${r.method}: target ${JSON.stringify(t.text)} (id ${t.id}, p=${t.prob.toFixed(4)}${t.source === 'top' ? ', top prediction' : ''})${t.foil ? ` minus foil ${JSON.stringify(t.foil.text)} (id ${t.foil.id}, p=${Math.exp(t.foil.logprob).toFixed(4)})` : ''}`);
  } else {
    printLine(`${r.method}: continuation ${r.target.texts.map((x) => JSON.stringify(x)).join(' ')} (${r.target.ids.length} tokens), rows = continuation tokens`);
  }
  for (const line of renderAttribution(r, color)) printLine(line);
  printLine();
  if (r.kind === 'single') {
    printLine(table(r.tokens.map((tok, i) => [i, tok.id, JSON.stringify(tok.text), fmt(r.scores[i]!)]), ['pos', 'id', 'token', 'score']));
    if (model.tokenizer && r.words.length !== r.tokens.length) {
      printLine();
      printLine(table(r.words.map((w) => [`${w.start}-${w.end - 1}`, JSON.stringify(w.text), fmt(w.score)]), ['tokens', 'word', 'score']));
    }
    if (r.completeness) {
      const c = r.completeness;
      printLine();
      printLine(`completeness: sum of scores ${fmt(c.sum)}, f(input) - f(baseline) = ${fmt(c.fInput)} - ${fmt(c.fBaseline)} = ${fmt(c.fInput - c.fBaseline)}, gap ${fmt(c.delta)} (${(100 * c.relative).toFixed(2)}%)`);
    }
  } else if (r.completeness) {
    printLine(`completeness gaps per row: ${r.completeness.map((c) => `${(100 * c.relative).toFixed(1)}%`).join(' ')}`);
  }
  for (const w of r.warnings) note(`warning: ${w}`);
  note(`${r.info.durationMs} ms, ${r.info.forwardRows} forward rows, ${r.info.backwardRows} backward rows, batches of ${r.info.batchRows}${r.kind === 'continuation' && r.info.sharedForward ? ' (one forward shared by each batch\'s backward passes)' : ''}`);
}

export const attributeCommand: Command = {
  name: 'attribute',
  summary: 'which input tokens made the model say this: saliency, integrated gradients, SmoothGrad, occlusion...',
  usage: `llmdbg attribute [--model DIR] (--prompt TEXT | --ids 1,2,3) --method M
                 [--target TEXT | --target-id N] [--foil TEXT | --foil-id N]
                 [--continuation TEXT | --continuation-ids 1,2 | --generate N]
                 [--steps N] [--ig-rule R] [--baseline B] [--samples N] [--noise S] [--seed N]
                 [--norm l2|l1] [--memory-mb MB] [--html FILE] [--json]
  Methods (--method):
${methodsHelp('    ')}
  Target: log p(target) at the last position; default the model's top prediction. --foil makes it
  log p(target) - log p(foil). --continuation attributes every continuation token to every earlier
  token (a source x generated matrix); --generate N first continues the prompt greedily.
  Integrated gradients: --steps N gradient evaluations (default ${DEFAULTS.steps}), --ig-rule (default ${DEFAULTS.rule}):
${rulesHelp('    ')}
  --baseline: zero (default for IG), pad, unk, eos, bos, a token id, or ids:1,2,3 (one per
  position); for occlusion it is the replacement (default pad, else unk, else eos, else zero).
  SmoothGrad/VarGrad: --samples (default ${DEFAULTS.samples}), --noise relative to the std of the embedding
  matrix (default ${DEFAULTS.noise}), --seed (default ${DEFAULTS.seed}).
  --json prints {method, target, tokens, scores, delta, info} (+ kind, words, completeness,
  warnings); a continuation's scores are rows of P+g numbers. --html FILE writes a page.`,
  async run(argv) {
    const { values: v } = parse(argv, {
      method: { type: 'string' }, target: { type: 'string' }, 'target-id': { type: 'string' }, foil: { type: 'string' }, 'foil-id': { type: 'string' },
      continuation: { type: 'string' }, 'continuation-ids': { type: 'string' }, generate: { type: 'string' },
      steps: { type: 'string' }, 'ig-rule': { type: 'string' }, baseline: { type: 'string' }, samples: { type: 'string' }, noise: { type: 'string' },
      seed: { type: 'string' }, norm: { type: 'string' }, 'memory-mb': { type: 'string' }, html: { type: 'string' },
    }, 'attribute');
    const methodName = str(v, 'method');
    if (methodName === undefined) throw new LlmdbgError('invalid_argument', 'attribute: no --method given', { hint: `choose one of ${METHOD_NAMES.join(', ')}` });
    const method = resolveMethod(methodName);
    checkFlags(method, v);
    const rule = str(v, 'ig-rule') === undefined ? undefined : resolveRule(str(v, 'ig-rule')!);
    const norm = str(v, 'norm') === undefined ? undefined : resolveNorm(str(v, 'norm')!);
    const steps = str(v, 'steps') === undefined ? undefined : int(v, 'steps', DEFAULTS.steps, 1, 100_000);
    const samples = str(v, 'samples') === undefined ? undefined : int(v, 'samples', DEFAULTS.samples, 1, 100_000);
    const seed = str(v, 'seed') === undefined ? undefined : int(v, 'seed', 0, 0, 2 ** 32 - 1);
    const noise = float(v, 'noise', undefined);
    const memoryMB = float(v, 'memory-mb', undefined);
    if (memoryMB !== undefined && !(memoryMB > 0)) throw new LlmdbgError('invalid_argument', `--memory-mb ${memoryMB} must be positive`);
    const s = await openSession(v);
    const ids = promptIds(s.model, v);
    const continuation = await continuationOption(s.model, v, ids);
    const target = tokenOption(s.model, v, 'target');
    const foil = tokenOption(s.model, v, 'foil');
    const sourceLength = continuation ? ids.length + continuation.length - 1 : ids.length;
    const baseline = str(v, 'baseline') === undefined ? undefined : parseBaseline(s.model, str(v, 'baseline')!, sourceLength);
    const progress = !v['json'] && process.stderr.isTTY;
    const req: AttributeRequest = {
      ids, method,
      ...(target !== undefined ? { target } : {}), ...(foil !== undefined ? { foil } : {}), ...(continuation ? { continuation } : {}),
      ...(rule ? { rule } : {}), ...(norm ? { norm } : {}), ...(steps !== undefined ? { steps } : {}), ...(samples !== undefined ? { samples } : {}),
      ...(seed !== undefined ? { seed } : {}), ...(noise !== undefined ? { noise } : {}), ...(memoryMB !== undefined ? { memoryMB } : {}),
      ...(baseline ? { baseline } : {}),
      ...(progress ? { onProgress: (p) => process.stderr.write(`\r${p.phase} ${p.done}/${p.total}`) } : {}),
    };
    const r = await attribute(s.model, req);
    if (progress) process.stderr.write('\r\x1b[K');
    const html = str(v, 'html');
    if (html) writeFileAtomicSync(html, attributionPage(r));
    if (v['json']) {
      printJson({
        method: r.method, kind: r.kind, target: r.target, tokens: r.tokens, scores: r.scores, delta: r.delta,
        words: r.words, completeness: r.completeness, warnings: r.warnings,
        info: { ...r.info, ...runInfo(s, { html: html ?? null }) },
      });
      return;
    }
    printHuman(r, s.model);
    if (html) note(`wrote ${html}`);
  },
};
