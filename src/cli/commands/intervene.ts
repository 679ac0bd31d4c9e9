/**
 * `llmdbg intervene`: run a prompt clean and with an intervention spec (a JSON file, or
 * `--ablate L0H1,...` for head ablation) and compare: top next tokens, the target's logit,
 * KL divergence and both greedy continuations.
 */
import { readFileSync } from 'node:fs';
import { LlmdbgError } from '../../errors.js';
import { int, parse, str } from '../args.js';
import { openSession, promptIds, runInfo } from '../context.js';
import { printJson, printLine, table } from '../output.js';
import { headAblationSpec, validateSpec, EDIT_HOOKS, EDIT_OPS } from '../../methods/interventions/spec.js';
import { compileIntervention } from '../../methods/interventions/apply.js';
import { compareIntervention } from '../../methods/interventions/compare.js';
import { tokenArg } from './patch.js';
import type { Command } from './types.js';

function readSpec(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new LlmdbgError('file_not_found', `--spec ${path}: cannot read the file`, { hint: 'give the path of an intervention spec (JSON)' });
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new LlmdbgError('invalid_spec', `--spec ${path} is not valid JSON: ${(e as Error).message}`);
  }
}

/** `L0H1,L2H3` -> heads. */
function parseHeads(s: string): { layer: number; head: number }[] {
  return s.split(',').map((x) => x.trim()).filter(Boolean).map((x) => {
    const m = /^L(\d+)H(\d+)$/i.exec(x);
    if (!m) throw new LlmdbgError('invalid_argument', `--ablate: "${x}" is not a head like L0H1`, { hint: 'e.g. --ablate L0H1,L2H3' });
    return { layer: Number(m[1]), head: Number(m[2]) };
  });
}

export const interveneCommand: Command = {
  name: 'intervene',
  summary: 'edit activations (heads, patterns, MLP, residual) from a JSON spec and compare with the clean run',
  usage: `llmdbg intervene [--model DIR] (--prompt TEXT | --ids 1,2,3) (--spec FILE | --ablate L0H1,...)
                 [--target TOKEN] [--foil TOKEN] [--top N] [--max-new-tokens N] [--json]
  Spec: {"name": "...", "reference": {"prompts": [...]}, "edits": [{"hook": H, "layers": [..],
  "heads": [..], "positions": [..], "keys": [..], "op": OP, "value": X, "renormalize": true}]}
  hooks: ${Object.keys(EDIT_HOOKS).join(', ')}; ops: ${EDIT_OPS.join(', ')}.
  Omitted lists mean "all"; negative positions count from the prompt end; keys only for scores and
  pattern; mean replaces with the mean over every token of the reference prompts.
  Example (zero-ablate head 1 of layer 0): {"edits": [{"hook": "z", "layers": [0], "heads": [1], "op": "zero"}]}`,
  async run(argv) {
    const { values: v } = parse(argv, { spec: { type: 'string' }, ablate: { type: 'string' }, target: { type: 'string' }, foil: { type: 'string' }, top: { type: 'string' }, 'max-new-tokens': { type: 'string' } }, 'intervene');
    const specPath = str(v, 'spec');
    const ablate = str(v, 'ablate');
    if ((specPath === undefined) === (ablate === undefined)) throw new LlmdbgError('invalid_argument', 'give exactly one of --spec FILE and --ablate L0H1,...');
    const raw = specPath !== undefined ? readSpec(specPath) : headAblationSpec(parseHeads(ablate!));
    const maxNew = int(v, 'max-new-tokens', 10, 0, 10_000);
    const s = await openSession(v);
    const spec = validateSpec(raw, s.model.config);
    const ids = promptIds(s.model, v, maxNew);
    const target = tokenArg(s.model, v, 'target');
    const foil = tokenArg(s.model, v, 'foil');
    const iv = await compileIntervention(s.model, spec, ids.length);
    let r;
    try {
      r = await compareIntervention(s.model, ids, iv, { topK: int(v, 'top', 10, 1, 1000), maxNewTokens: maxNew, ...(target !== undefined ? { target } : {}), ...(foil !== undefined ? { foil } : {}) });
    } finally {
      iv.dispose();
    }
    if (v['json']) return printJson({ spec, ...r, run: runInfo(s, { specFile: specPath ?? null }) });
    printLine(`intervention: ${spec.name ?? specPath} (${spec.edits.length} edit${spec.edits.length === 1 ? '' : 's'} on ${iv.targets.length} hook point${iv.targets.length === 1 ? '' : 's'})`);
    const n = Math.max(r.clean.top.length, r.edited.top.length);
    printLine(table(Array.from({ length: n }, (_, i) => {
      const a = r.clean.top[i], b = r.edited.top[i];
      return [i + 1, a ? JSON.stringify(a.token) : '', a ? a.prob.toFixed(4) : '', b ? JSON.stringify(b.token) : '', b ? b.prob.toFixed(4) : ''];
    }), ['#', 'clean', 'p', 'edited', 'p']));
    printLine(`target ${JSON.stringify(r.target.token)} (${r.target.id}): logit ${r.target.cleanLogit.toFixed(4)} -> ${r.target.editedLogit.toFixed(4)} (${r.target.logitDelta >= 0 ? '+' : ''}${r.target.logitDelta.toFixed(4)}), p ${r.target.cleanProb.toFixed(4)} -> ${r.target.editedProb.toFixed(4)}`);
    if (r.foil) printLine(`logit difference vs ${JSON.stringify(r.foil.token)}: ${r.foil.cleanLogitDiff.toFixed(4)} -> ${r.foil.editedLogitDiff.toFixed(4)}`);
    printLine(`KL(clean || edited) = ${r.kl.toExponential(4)} nats; max |logit change| = ${r.maxAbsLogitChange.toFixed(4)}`);
    const cont = (c: { continuation: number[]; text: string | null }) => (c.text !== null ? JSON.stringify(c.text) : c.continuation.join(' '));
    printLine(`clean continuation:  ${cont(r.clean)}`);
    printLine(`edited continuation: ${cont(r.edited)}`);
  },
};
