/**
 * `llmdbg train`: fine-tune a model folder on a text or JSONL file and write a new model folder.
 * Bad lines are reported with their line numbers; progress is one line per interval on stderr;
 * Ctrl-C stops after the current step with a checkpoint that `--resume` continues exactly.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { LlmdbgError } from '../../errors.js';
import { float, int, parse, str } from '../args.js';
import { openSession, runInfo } from '../context.js';
import { note, printJson, printLine } from '../output.js';
import { badLinesError, readDataset, toExamples, type BadLine } from '../../train/dataset-file.js';
import { ExampleSource } from '../../train/data.js';
import { disposeParams } from '../../model/params.js';
import { train, type TrainProgress } from '../../train/trainer.js';
import { findLatestCheckpoint } from '../../train/checkpoint.js';
import type { Command } from './types.js';

export function formatDuration(sec: number): string {
  if (!Number.isFinite(sec)) return '?';
  const s = Math.round(sec);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** The progress line printed once per interval. */
export function progressLine(p: TrainProgress): string {
  const w = String(p.steps).length;
  return `step ${String(p.step).padStart(w)}/${p.steps}  loss ${p.loss.toFixed(4)}  lr ${p.lr.toExponential(2)}  grad ${p.gradNorm.toFixed(2)}  ${Math.round(p.tokensPerSec)} tok/s  ETA ${formatDuration(p.etaSec)}`;
}

export const trainCommand: Command = {
  name: 'train',
  summary: 'fine-tune a model on a text or JSONL file and write a new model folder',
  usage: `llmdbg train [--model DIR] --data FILE --out DIR [--steps N] [--batch-size B] [--micro-batch M] [--seq-len T]
                [--lr X] [--warmup N] [--min-lr X] [--weight-decay X] [--clip X|none] [--seed S]
                [--mode pack|pad] [--no-eos] [--checkpoint-every N] [--resume] [--keep-checkpoints]
                [--skip-bad-lines] [--overwrite] [--log-every N] [--json]
  --data: .txt = one example per non-empty line; .jsonl = one object per line, {"text": ...},
  {"prompt": ..., "completion": ...} (loss on the completion only) or {"ids": [...]}.
  Defaults: one epoch of steps, batch 8, seq-len min(128, context), lr 1e-4, warmup steps/10,
  min-lr lr/10, weight decay 0.1, clip 1, seed 0; --mode pack (examples concatenated into rows)
  unless the data has prompt/completion pairs (then pad: one example per row). EOS is appended
  when the model has an eos_token_id. Checkpoints go to OUT/checkpoints (every 100 steps and on
  Ctrl-C); they are removed after success unless --keep-checkpoints. --resume continues the
  newest checkpoint with the same options, to exactly the weights of an uninterrupted run;
  --overwrite replaces a model in OUT and discards old checkpoints.
  --micro-batch M runs the batch in passes of M rows (same gradient, less memory).`,
  async run(argv) {
    const { values: v } = parse(argv, {
      data: { type: 'string' }, out: { type: 'string' }, format: { type: 'string' }, steps: { type: 'string' },
      'batch-size': { type: 'string' }, 'micro-batch': { type: 'string' }, 'seq-len': { type: 'string' }, lr: { type: 'string' }, warmup: { type: 'string' },
      'min-lr': { type: 'string' }, 'weight-decay': { type: 'string' }, clip: { type: 'string' }, seed: { type: 'string' },
      mode: { type: 'string' }, 'no-eos': { type: 'boolean' }, 'checkpoint-every': { type: 'string' }, resume: { type: 'boolean' },
      'keep-checkpoints': { type: 'boolean' }, 'skip-bad-lines': { type: 'boolean' }, overwrite: { type: 'boolean' }, 'log-every': { type: 'string' },
    }, 'train');
    const dataPath = str(v, 'data');
    const out = str(v, 'out');
    if (dataPath === undefined) throw new LlmdbgError('invalid_argument', 'train: --data FILE is required', { hint: 'a .txt file (one example per line) or a .jsonl file' });
    if (out === undefined) throw new LlmdbgError('invalid_argument', 'train: --out DIR is required', { hint: 'the folder the trained model is written to' });
    const format = str(v, 'format');
    if (format !== undefined && format !== 'text' && format !== 'jsonl') throw new LlmdbgError('invalid_argument', `--format ${format} must be text or jsonl`);
    const mode = str(v, 'mode');
    if (mode !== undefined && mode !== 'pack' && mode !== 'pad') throw new LlmdbgError('invalid_argument', `--mode ${mode} must be pack or pad`);
    const clipArg = str(v, 'clip');
    const clip = clipArg === 'none' ? null : float(v, 'clip', 1)!;
    const ds = readDataset(dataPath, format as 'text' | 'jsonl' | undefined);
    // Malformed lines are known before the model loads: fail fast.
    if (ds.bad.length > 0 && !v['skip-bad-lines']) throw badLinesError(dataPath, ds.bad);

    const s = await openSession(v);
    const c = s.model.config;
    const eosId = v['no-eos'] ? null : (c.eosTokenIds[0] ?? null);
    const tok = s.model.tokenizer ? { encode: (t: string, o?: { addSpecialTokens?: boolean }) => s.model.encode(t, o) } : null;
    const { examples, bad: tokBad } = toExamples(ds.records, tok, { eosId, vocabSize: c.vocabSize });
    const bad: BadLine[] = [...ds.bad, ...tokBad].sort((a, b) => a.line - b.line);
    if (bad.length > 0) {
      if (!v['skip-bad-lines']) throw badLinesError(dataPath, bad);
      if (!v['json']) for (const b of bad.slice(0, 20)) note(`skipped ${dataPath}:${b.line}: ${b.reason}`);
      if (!v['json'] && bad.length > 20) note(`... and ${bad.length - 20} more bad lines`);
    }
    if (examples.length === 0) throw new LlmdbgError('invalid_dataset', `${dataPath}: no usable examples`, { hint: 'check the file format (see `llmdbg train --help`)' });

    const hasPairs = ds.records.some((r) => r.kind === 'pair');
    const rowMode = (mode as 'pack' | 'pad' | undefined) ?? (hasPairs ? 'pad' : 'pack');
    const seed = int(v, 'seed', 0, 0, 2 ** 32 - 1);
    const source = new ExampleSource(examples, { seed, mode: rowMode, padId: c.padTokenId ?? eosId ?? 0 });
    const B = int(v, 'batch-size', 8, 1, 4096);
    const T = int(v, 'seq-len', Math.min(128, c.nCtx), 2, c.nCtx);
    const tokens = examples.reduce((a, e) => a + e.ids.length, 0);
    const epochSteps = rowMode === 'pack' ? Math.ceil(tokens / (B * T)) : Math.ceil(examples.length / B);
    const steps = int(v, 'steps', Math.max(1, epochSteps), 1);
    const lr = float(v, 'lr', 1e-4)!;
    const ckptDir = join(out, 'checkpoints');
    if (v['resume'] && !v['json']) {
      const latest = findLatestCheckpoint(ckptDir);
      note(latest ? `resuming from ${latest}` : `note: no checkpoint in ${ckptDir}; training from the start`);
    }
    const ac = new AbortController();
    const onSigint = () => {
      note('interrupt: finishing the current step and writing a checkpoint (Ctrl-C again to kill)');
      process.removeListener('SIGINT', onSigint);
      ac.abort();
    };
    process.on('SIGINT', onSigint);
    let r;
    try {
      r = await train({
        model: s.model, data: source, steps, batchSize: B, microBatch: int(v, 'micro-batch', B, 1, B), seqLen: T, lr,
        warmup: int(v, 'warmup', Math.floor(steps / 10), 0, steps), minLr: float(v, 'min-lr', lr / 10)!,
        weightDecay: float(v, 'weight-decay', 0.1)!, clip, seed,
        checkpointDir: ckptDir, checkpointEvery: int(v, 'checkpoint-every', 100, 0), resume: Boolean(v['resume']),
        outDir: out, overwrite: Boolean(v['overwrite']), logEvery: int(v, 'log-every', 10, 1), signal: ac.signal,
        onProgress: (p) => note(progressLine(p)),
      });
    } finally {
      process.removeListener('SIGINT', onSigint);
    }
    disposeParams(r.params);
    if (r.stopReason === 'done' && !v['keep-checkpoints']) rmSync(ckptDir, { recursive: true, force: true });
    const result = {
      out: r.outDir, stopReason: r.stopReason, step: r.step, steps, finalLoss: r.finalLoss, history: r.history,
      checkpoint: r.stopReason === 'done' && !v['keep-checkpoints'] ? null : r.checkpoint, resumedFrom: r.resumedFrom,
      data: { file: dataPath, format: ds.format, mode: rowMode, examples: examples.length, tokens, badLines: bad },
      info: runInfo(s, { ...r.info }),
    };
    if (r.stopReason === 'aborted') process.exitCode = 130;
    if (v['json']) return printJson(result);
    if (r.stopReason === 'aborted') {
      printLine(`interrupted at step ${r.step}/${steps}; checkpoint ${r.checkpoint}; run the same command with --resume to continue`);
      return;
    }
    printLine(`saved ${out} after ${r.step} steps (final loss ${r.finalLoss?.toFixed(4)}, ${examples.length} examples, ${bad.length} bad lines skipped)`);
  },
};
