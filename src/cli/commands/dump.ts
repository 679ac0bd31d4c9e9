/**
 * `llmdbg dump`: write chosen hook tensors of a run (safetensors + manifest), show a dump, or
 * compare two dumps (`dump diff A B`) to find the first hook point where they part.
 */
import { LlmdbgError } from '../../errors.js';
import { float, int, parse, str } from '../args.js';
import { openSession, promptIds } from '../context.js';
import { note, printJson, printLine, table } from '../output.js';
import { loadDump, recordDump, writeDump } from '../../debugger/dump.js';
import { compareDumps, type EntryDiff } from '../../debugger/dump-diff.js';
import type { Command } from './types.js';

const USAGE = `llmdbg dump [--model DIR] (--prompt TEXT | --ids 1,2,3) --out DIR [--hook PATTERN ...]
            [--max-new-tokens N] [--temperature T] [--top-k K] [--top-p P] [--seed S] [--json]
llmdbg dump show DIR [--json]
llmdbg dump diff A B [--atol X] [--rtol X] [--all] [--json]
  A dump is a folder: tensors.safetensors (F32, named HOOK@STEP) and manifest.json (hook names,
  shapes, model sha256, ids, seed, sampling), both written crash-safely, manifest last.
  --hook defaults to every hook point; --max-new-tokens N also dumps the N-1 decoding passes.
  diff compares in execution order and names the first hook point where |a - b| > atol + rtol |b|
  (defaults 1e-5, 1e-5): where two runs, two checkpoints or two backends part.`;

function fmt(x: number | null): string {
  return x === null ? '-' : x === 0 ? '0' : x.toExponential(2);
}

async function diff(positionals: string[], v: Record<string, unknown>): Promise<void> {
  if (positionals.length !== 3) throw new LlmdbgError('invalid_argument', 'dump diff: give two dump folders', { hint: 'llmdbg dump diff run-a run-b' });
  const atol = float(v as never, 'atol', 1e-5)!;
  const rtol = float(v as never, 'rtol', 1e-5)!;
  if (atol < 0 || rtol < 0) throw new LlmdbgError('invalid_argument', `--atol ${atol} and --rtol ${rtol} must be >= 0`);
  const a = await loadDump(positionals[1]!);
  const b = await loadDump(positionals[2]!);
  try {
    const d = compareDumps(a, b, { atol, rtol });
    if (v['json']) return printJson(d);
    printLine(`model ${d.sameModel ? 'same' : 'DIFFERENT'} (${a.manifest.model.sha256.slice(0, 12)} / ${b.manifest.model.sha256.slice(0, 12)}), ids ${d.sameIds ? 'same' : 'DIFFERENT'}, backends ${a.manifest.backend ?? '?'} / ${b.manifest.backend ?? '?'}`);
    const f = d.firstDifference;
    if (!f) printLine(`no difference beyond atol ${atol}, rtol ${rtol} in ${d.entries.length} tensors (largest |a - b| ${fmt(Math.max(0, ...d.entries.map((e) => e.maxAbsDiff ?? 0)))})`);
    else printLine(`first difference: ${f.hook} (step ${f.step}${f.layer === null ? '' : `, layer ${f.layer}`}): ${describe(f)}`);
    const shown = v['all'] || !f ? d.entries : d.entries.slice(0, d.entries.indexOf(f) + 1);
    printLine(table(shown.map((e) => [e.key, e.status, fmt(e.maxAbsDiff), e.badCount]), ['tensor', 'status', 'max |a-b|', 'beyond tol']));
    if (shown.length < d.entries.length) note(`(${d.entries.length - shown.length} later tensors not shown; --all shows them)`);
  } finally {
    a.close();
    b.close();
  }
}

function describe(e: EntryDiff): string {
  if (e.status === 'shape') return 'the shapes differ';
  if (e.status === 'only_a' || e.status === 'only_b') return `present only in ${e.status === 'only_a' ? 'A' : 'B'}`;
  return `max |a - b| ${fmt(e.maxAbsDiff)}, ${e.badCount} element${e.badCount === 1 ? '' : 's'} beyond tolerance${e.worst ? ` (worst at flat index ${e.worst.index}: ${e.worst.a} vs ${e.worst.b})` : ''}`;
}

async function showDump(positionals: string[], v: Record<string, unknown>): Promise<void> {
  if (positionals.length !== 2) throw new LlmdbgError('invalid_argument', 'dump show: give one dump folder', { hint: 'llmdbg dump show run-a' });
  const d = await loadDump(positionals[1]!);
  try {
    if (v['json']) return printJson({ dir: d.dir, manifest: d.manifest });
    const m = d.manifest;
    printLine(`${d.dir}: ${m.tensors.length} tensors, model ${m.model.arch} sha256 ${m.model.sha256}, backend ${m.backend ?? '?'}`);
    printLine(`ids ${m.ids.join(' ')}${m.generated.length ? ` + generated ${m.generated.join(' ')}` : ''}; seed ${m.seed}; written ${m.createdAt}`);
    printLine(table(m.tensors.map((e) => [e.key, `[${e.shape.join(', ')}]`, e.posOffset]), ['tensor', 'shape', 'first pos']));
  } finally {
    d.close();
  }
}

export const dumpCommand: Command = {
  name: 'dump',
  summary: 'write hook tensors of a run (safetensors + manifest); `dump diff A B` finds where two runs part',
  usage: USAGE,
  async run(argv) {
    const { values: v, positionals } = parse(argv, {
      out: { type: 'string' }, hook: { type: 'string', multiple: true }, 'max-new-tokens': { type: 'string' }, temperature: { type: 'string' },
      'top-k': { type: 'string' }, 'top-p': { type: 'string' }, seed: { type: 'string' }, atol: { type: 'string' }, rtol: { type: 'string' }, all: { type: 'boolean' },
    }, 'dump');
    if (positionals[0] === 'diff') return diff(positionals, v);
    if (positionals[0] === 'show') return showDump(positionals, v);
    if (positionals.length > 0) throw new LlmdbgError('invalid_argument', `dump: unexpected "${positionals[0]}"`, { hint: 'llmdbg dump --out DIR ..., llmdbg dump show DIR, or llmdbg dump diff A B' });
    const out = str(v, 'out');
    if (out === undefined) throw new LlmdbgError('invalid_argument', 'dump: give --out DIR (the dump folder to write)', { hint: USAGE.split('\n')[0] });
    const maxNewTokens = int(v, 'max-new-tokens', 0, 0, 1_000_000);
    const s = await openSession(v);
    const ids = promptIds(s.model, v, maxNewTokens);
    const rec = await recordDump(s.model, ids, {
      hooks: (v['hook'] as string[] | undefined) ?? ['*'], maxNewTokens, backend: s.backend.name, seed: int(v, 'seed', 0, 0, 2 ** 32 - 1),
      ...(float(v, 'temperature', undefined) !== undefined ? { temperature: float(v, 'temperature', 0)! } : {}),
      ...(str(v, 'top-k') !== undefined ? { topK: int(v, 'top-k', 0) } : {}),
      ...(str(v, 'top-p') !== undefined ? { topP: float(v, 'top-p', 1)! } : {}),
    });
    const m = await writeDump(out, rec);
    if (v['json']) return printJson({ dir: out, manifest: m });
    printLine(`wrote ${out}: ${m.tensors.length} tensors (${m.tensorsFile.bytes} bytes), model sha256 ${m.model.sha256.slice(0, 16)}..., ids ${m.ids.join(' ')}${m.generated.length ? ` + ${m.generated.join(' ')}` : ''}`);
  },
};
