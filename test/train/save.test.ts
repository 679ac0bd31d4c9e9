/**
 * Saving and initialising models: saveModel then loadModel gives bit-identical logits for every
 * layout family (GPT-2 with the `transformer.` prefix, Llama untied, tied with biases and
 * head_dim, Qwen2 biases, BF16 weights); tokenizer files travel with the model; an existing
 * model folder is not overwritten by accident. initParams is deterministic in the seed with the
 * documented statistics.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { useTestBackend } from '../helpers/backend.js';
import { fixtureDir, golden } from '../helpers/fixtures.js';
import { loadModel } from '../../src/model/model.js';
import { saveModel } from '../../src/model/save.js';
import { initParams, newModelConfig } from '../../src/model/init.js';
import { disposeParams, flattenParams } from '../../src/model/params.js';
import { buildTokenizerConfig, buildTokenizerJson, buildVocabulary, EOS_ID } from '../../src/demo/index.js';
import { LlmdbgError } from '../../src/errors.js';

const root = mkdtempSync(join(tmpdir(), 'llmdbg-save-'));
after(() => rmSync(root, { recursive: true, force: true }));
before(async () => {
  await useTestBackend();
});

describe('saveModel -> loadModel', () => {
  for (const name of ['gpt2-prefixed', 'llama-tiny', 'llama-tied-headdim', 'qwen2-tiny', 'llama-bf16']) {
    it(`${name}: identical logits after a round trip`, async () => {
      const m = loadModel(fixtureDir(name));
      const dir = join(root, name);
      const files = await saveModel(m, dir);
      assert.deepEqual(files.at(-1), 'config.json', 'config.json is written last');
      assert.deepEqual(readdirSync(dir).sort(), ['config.json', 'model.safetensors']);
      const back = loadModel(dir);
      const ids = golden(name).ids[0]!;
      const [a, b] = [await m.logits(ids), await back.logits(ids)];
      assert.deepEqual(b.data, a.data);
      const raw = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
      assert.equal(raw.torch_dtype, 'float32');
      assert.equal(raw.model_type, m.config.arch);
      m.dispose();
      back.dispose();
    });
  }

  it('tokenizer files are written and loaded back; an existing model folder needs overwrite', async () => {
    const vocab = buildVocabulary();
    const config = newModelConfig({ arch: 'llama', dModel: 16, nLayers: 1, nHeads: 2, vocabSize: vocab.tokens.length, nCtx: 32, eosTokenId: EOS_ID, bosTokenId: 1 });
    const params = initParams(config, 7);
    const dir = join(root, 'with-tokenizer');
    await saveModel({ config, params, files: { 'tokenizer.json': buildTokenizerJson(vocab), 'tokenizer_config.json': buildTokenizerConfig() } }, dir);
    const m = loadModel(dir);
    assert.ok(m.tokenizer, 'tokenizer loads');
    const text = m.decode([40, 41, 42]);
    assert.deepEqual(m.encode(text), [1, 40, 41, 42], `BOS added, "${text}" round-trips`);
    await assert.rejects(saveModel({ config, params }, dir), (e: unknown) => e instanceof LlmdbgError && e.code === 'invalid_argument' && /already holds a model/.test(e.message));
    writeFileSync(join(dir, 'notes.txt'), 'kept');
    await saveModel({ config, params }, dir, { overwrite: true });
    assert.ok(readdirSync(dir).includes('notes.txt'));
    m.dispose();
    disposeParams(params);
  });
});

describe('initParams', () => {
  it('deterministic in the seed; normal(0, 0.02), residual projections scaled, norms at 1, biases 0', () => {
    const before = tf.memory().numTensors;
    for (const arch of ['gpt2', 'llama'] as const) {
      const c = newModelConfig({ arch, dModel: 64, nLayers: 4, nHeads: 4, vocabSize: 300, nCtx: 32 });
      const [a, b, d] = [initParams(c, 1), initParams(c, 1), initParams(c, 2)];
      const fa = flattenParams(a), fb = flattenParams(b), fd = flattenParams(d);
      for (const [n, t] of fa) assert.deepEqual(t.dataSync(), fb.get(n)!.dataSync(), `${arch} ${n} same seed`);
      assert.notDeepEqual(fa.get('wte')!.dataSync(), fd.get('wte')!.dataSync());
      const stats = (n: string) => {
        const x = Array.from(fa.get(n)!.dataSync() as Float32Array);
        const mean = x.reduce((s, v) => s + v, 0) / x.length;
        return { mean, std: Math.sqrt(x.reduce((s, v) => s + (v - mean) ** 2, 0) / x.length) };
      };
      const w = stats('wte');
      assert.ok(Math.abs(w.mean) < 1e-3 && Math.abs(w.std - 0.02) < 1e-3, `${arch} wte std ${w.std}`);
      const o = stats('layers.0.wOut');
      assert.ok(Math.abs(o.std - 0.02 / Math.sqrt(8)) < 5e-4, `${arch} wOut std ${o.std}`);
      assert.ok(fa.get('layers.2.ln2.w')!.dataSync().every((v) => v === 1));
      if (arch === 'gpt2') assert.ok(fa.get('layers.1.bQKV')!.dataSync().every((v) => v === 0));
      assert.equal(a.wU === a.wte, c.tieEmbeddings);
      for (const p of [a, b, d]) disposeParams(p);
    }
    assert.equal(tf.memory().numTensors, before);
  });
});
