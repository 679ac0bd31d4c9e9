/**
 * Load-time weight scan and weight-borne non-finite values: a NaN or an infinity written into one
 * weight of a copy of a fixture model shows up in the scan under the checkpoint's name, and
 * `firstNonFinite` names the first hook point that consumes that weight. Subnormals are judged
 * against the stored dtype (checked against a count from the raw F16 bits).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useTestBackend } from '../helpers/backend.js';
import { fixtureDir, golden } from '../helpers/fixtures.js';
import { loadModel } from '../../src/model/model.js';
import { openSafetensors } from '../../src/formats/safetensors.js';
import { writeSafetensorsSync } from '../../src/formats/safetensors-write.js';
import { healthRun, scanTensor, scanWeights } from '../../src/methods/health/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'llmdbg-health-'));
before(async () => {
  await useTestBackend();
});
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Copies fixture `name` to a temp folder with `edit` applied to the tensor `tensor` (data widened to f32, rewritten in its dtype). */
function corruptCopy(name: string, tensor: string, edit: (d: Float32Array) => void): string {
  const dir = mkdtempSync(join(tmp, `${name}-`));
  copyFileSync(join(fixtureDir(name), 'config.json'), join(dir, 'config.json'));
  const f = openSafetensors(join(fixtureDir(name), 'model.safetensors'));
  try {
    const list = f.names().map((n) => {
      const t = f.read(n);
      if (n === tensor) edit(t.data);
      return { name: n, dtype: t.dtype, shape: t.shape, data: t.data };
    });
    writeSafetensorsSync(join(dir, 'model.safetensors'), list);
  } finally {
    f.close();
  }
  return dir;
}

describe('health: weight scan', () => {
  it('a clean fixture has no non-finite or subnormal weights', () => {
    const s = scanWeights(fixtureDir('llama-tiny'));
    assert.equal(s.nonFinite.length, 0);
    assert.equal(s.totals.tensors, openSafetensors(join(fixtureDir('llama-tiny'), 'model.safetensors')).names().length);
  });

  it('sharded checkpoints are scanned across shards', () => {
    const s = scanWeights(fixtureDir('llama-sharded'));
    assert.ok(s.totals.tensors > 0 && s.nonFinite.length === 0);
  });

  it('subnormal is judged against the stored dtype', () => {
    const v = [1e-5, -3e-6, 1e-3, 0, 1e-39];
    assert.equal(scanTensor('w', 'F16', [5], v).subnormalCount, 3, 'below 2^-14 in float16 (1e-39 included)');
    assert.equal(scanTensor('w', 'F32', [5], v).subnormalCount, 1, 'only 1e-39 is below 2^-126');
    assert.equal(scanTensor('w', 'F32', [5], v).zeroCount, 1);
  });

  it('F16 subnormals in a checkpoint match a count from the raw bits', () => {
    const name = 'model.layers.0.mlp.down_proj.weight';
    const dir = corruptCopy('qwen2-f16', name, (d) => {
      d[0] = 3e-5;
      d[1] = -1e-6;
      d[2] = 6e-8;
    });
    const s = scanWeights(dir);
    const f = openSafetensors(join(dir, 'model.safetensors'));
    const raw = f.raw(name);
    f.close();
    let sub = 0;
    for (let i = 0; i < raw.length; i += 2) {
      const bits = raw[i]! | (raw[i + 1]! << 8);
      if ((bits & 0x7c00) === 0 && (bits & 0x3ff) !== 0) sub++;
    }
    const t = s.tensors.find((x) => x.name === name)!;
    assert.ok(sub >= 3);
    assert.equal(t.subnormalCount, sub);
    assert.ok(s.subnormal.includes(name));
  });
});

describe('health: a non-finite weight is found at its first consumer', () => {
  it('GPT-2: NaN in c_attn.weight[0, 0] (a query column) -> blocks.0.attn.hook_q', () => {
    const dir = corruptCopy('gpt2-tiny', 'h.0.attn.c_attn.weight', (d) => {
      d[0] = NaN;
    });
    const scan = scanWeights(dir);
    assert.deepEqual(scan.nonFinite, ['h.0.attn.c_attn.weight']);
    assert.equal(scan.tensors.find((t) => t.name === 'h.0.attn.c_attn.weight')!.nanCount, 1);
    const m = loadModel(dir);
    const rep = healthRun(m, golden('gpt2-tiny').ids[0]!, { mode: 'finite' });
    assert.equal(rep.firstNonFinite!.hook, 'blocks.0.attn.hook_q');
    assert.equal(rep.firstNonFinite!.nanCount, 8, 'query column 0 at each of the 8 positions');
    assert.equal(rep.rows.find((r) => r.hook === 'blocks.0.attn.hook_k')!.nanCount, 0, 'keys do not read that column');
    m.dispose();
  });

  it('Llama: +Inf in up_proj of layer 1 -> blocks.1.mlp.hook_pre_linear (the gate is clean)', () => {
    const dir = corruptCopy('llama-tiny', 'model.layers.1.mlp.up_proj.weight', (d) => {
      d[5] = Infinity;
    });
    const scan = scanWeights(dir);
    assert.deepEqual(scan.nonFinite, ['model.layers.1.mlp.up_proj.weight']);
    assert.equal(scan.totals.infCount, 1);
    const m = loadModel(dir);
    const rep = healthRun(m, golden('llama-tiny').ids[0]!, { mode: 'full' });
    assert.equal(rep.firstNonFinite!.hook, 'blocks.1.mlp.hook_pre_linear');
    assert.equal(rep.firstNonFinite!.layer, 1);
    assert.equal(rep.rows.find((r) => r.hook === 'blocks.1.mlp.hook_pre')!.nanCount, 0);
    m.dispose();
  });
});
