/**
 * Retrains the bundled demo model from scratch (`npm run train:demo`): generates the synthetic
 * corpus and tokenizer (src/demo), trains a small Llama-architecture model with llmdbg's own
 * trainer, writes it to models/demo with its held-out evaluation suite, and prints the scores.
 *
 * Usage: npx tsx tools/train-demo.ts [--out models/demo] [--steps N] [--backend B] [--resume]
 * Deterministic: same seed, backend and thread count give the same weights.
 */
import { parseArgs } from 'node:util';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { initBackend, type BackendChoice } from '../src/engine/backend.js';
import { buildDemoData } from '../src/demo/index.js';
import { tokenizerFromJson } from '../src/formats/tokenizer.js';
import { newModelConfig } from '../src/model/init.js';
import { ExampleSource, train } from '../src/train/index.js';
import { loadModel } from '../src/model/model.js';
import { evaluateSuite, readSuite } from '../src/methods/eval/suite.js';
import { BOS_ID, EOS_ID, PAD_ID } from '../src/demo/vocab.js';

const { values: v } = parseArgs({
  options: {
    out: { type: 'string', default: 'models/demo' },
    steps: { type: 'string', default: '2400' },
    batch: { type: 'string', default: '48' },
    'seq-len': { type: 'string', default: '40' },
    lr: { type: 'string', default: '3e-3' },
    seed: { type: 'string', default: '1' },
    examples: { type: 'string', default: '120000' },
    backend: { type: 'string' },
    resume: { type: 'boolean', default: false },
    'd-model': { type: 'string', default: '128' },
    layers: { type: 'string', default: '4' },
    heads: { type: 'string', default: '4' },
    'kv-heads': { type: 'string', default: '2' },
    'answer-weight': { type: 'string', default: '5' },
    'copy-weight': { type: 'string', default: '3' },
    'mix-fact': { type: 'string', default: '0.2' },
    'mix-ioi': { type: 'string', default: '0.35' },
    'first-copy-weight': { type: 'string', default: '0.5' },
  },
});

const seed = Number(v.seed);
const out = resolve(v.out!);
const backend = await initBackend(v.backend as BackendChoice | undefined);
console.error(`backend ${backend.name} (${backend.threads} thread${backend.threads === 1 ? '' : 's'})${backend.note ? `; ${backend.note}` : ''}`);

// 1) data: corpus, tokenizer, held-out suites
const t0 = performance.now();
// more IOI and induction than the corpus default: they are the slowest behaviours to learn
const mix = { fact: Number(v['mix-fact']), ioi: Number(v['mix-ioi']), induction: 0.3, agreement: 0.1, filler: 0.05 };
const data = buildDemoData({ seed, nTrain: Number(v.examples), mix });
const tok = tokenizerFromJson(data.tokenizerJson, data.tokenizerConfig);
const seqLen = Number(v['seq-len']);
// Answer tokens weigh more in the loss: in fact and IOI texts every sentence ends with its answer
// word then ".", and those words are ~2% of the tokens; unweighted, the copy circuit IOI needs had
// not formed after 1500 steps (the model answered one fixed name).
const answerWeight = Number(v['answer-weight']);
const [period] = tok.encode('.', { addSpecialTokens: false });
// Induction texts: the first copy of a random run is unpredictable noise and the later copies are
// the signal, so they weigh less and more (a run's words are distinct: its period is where the
// first word comes back). Unweighted, the copies' loss had barely moved after 1400 steps.
const copyWeight = Number(v['copy-weight']);
const firstCopyWeight = Number(v['first-copy-weight']);
const examples = data.trainTexts.map((text, i) => {
  const ids = tok.encode(text).slice(0, seqLen + 1);
  const b = data.trainBehaviours[i]!;
  if (b === 'induction') {
    const runLen = ids.indexOf(ids[1]!, 2) - 1;
    if (runLen <= 0 || (copyWeight === 1 && firstCopyWeight === 1)) return { ids };
    return { ids, lossMask: ids.map((_, j) => (j === 0 ? 0 : j <= runLen ? firstCopyWeight : copyWeight)) };
  }
  if (answerWeight === 1 || (b !== 'fact' && b !== 'ioi')) return { ids };
  const lossMask = ids.map((_, j) => (j === 0 ? 0 : ids[j + 1] === period ? answerWeight : 1));
  return { ids, lossMask };
});
const nTokens = examples.reduce((s, e) => s + e.ids.length, 0);
console.error(`corpus: ${examples.length} texts, ${nTokens} tokens, vocabulary ${data.tokenizerJson.model.vocab ? Object.keys(data.tokenizerJson.model.vocab).length : '?'} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);

// 2) model
const vocabSize = Object.keys((data.tokenizerJson as { model: { vocab: Record<string, number> } }).model.vocab).length;
const config = newModelConfig({
  arch: 'llama', dModel: Number(v['d-model']), nLayers: Number(v.layers), nHeads: Number(v.heads), nKvHeads: Number(v['kv-heads']),
  vocabSize, nCtx: 64, tieEmbeddings: true, bosTokenId: BOS_ID, eosTokenId: EOS_ID, padTokenId: PAD_ID,
});
const enc = new TextEncoder();
const files = {
  'tokenizer.json': enc.encode(JSON.stringify(data.tokenizerJson)),
  'tokenizer_config.json': enc.encode(JSON.stringify(data.tokenizerConfig, null, 2)),
};

// 3) train
mkdirSync(out, { recursive: true });
const steps = Number(v.steps);
const result = await train({
  init: { config, seed, files },
  data: new ExampleSource(examples, { seed, mode: 'pad', padId: PAD_ID }),
  steps, batchSize: Number(v.batch), seqLen,
  lr: Number(v.lr), warmup: Math.round(steps * 0.04), minLr: Number(v.lr) / 20, weightDecay: 0.05, clip: 1, seed,
  checkpointDir: join(out, '..', '.demo-checkpoints'), checkpointEvery: 200, keepCheckpoints: 1, resume: v.resume,
  outDir: out, overwrite: true, logEvery: 50,
  onProgress: (p) => console.error(`step ${p.step}/${p.steps}  loss ${p.loss.toFixed(4)}  lr ${p.lr.toExponential(2)}  ${Math.round(p.tokensPerSec)} tok/s  ETA ${Math.round(p.etaSec)} s`),
});
console.error(`trained ${result.step} steps in ${(Number(result.info['durationMs'] ?? 0) / 1000).toFixed(0)} s, final loss ${result.finalLoss?.toFixed(4)}`);

// 4) evaluation suite next to the weights, then the scores
const lines: string[] = [];
for (const items of [data.evalSuites.fact, data.evalSuites.ioi, data.evalSuites.agreement]) for (const it of items) lines.push(JSON.stringify(it));
for (const ids of data.evalSuites.induction.sequences) lines.push(JSON.stringify({ behaviour: 'induction', ids }));
writeFileSync(join(out, 'eval-suite.jsonl'), lines.join('\n') + '\n');
const model = loadModel(out);
const scores = await evaluateSuite(model, readSuite(join(out, 'eval-suite.jsonl')));
for (const [b, x] of Object.entries(scores.byBehaviour)) console.log(`${b}: ${(100 * x.accuracy).toFixed(1)}% of ${x.n}`);
if (scores.induction) console.log(`induction: repeat loss ${(100 * scores.induction.ratio).toFixed(1)}% of first (${scores.induction.firstLoss.toFixed(3)} -> ${scores.induction.secondLoss.toFixed(3)})`);
