/**
 * Dumps: the tensors written equal the PyTorch golden activations, the model hash equals
 * `sha256sum`, a torn or edited dump is refused, and `compareDumps` names the first hook point where
 * two runs part: a perturbed weight (two checkpoints) and an injected activation edit (two runs).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, readdirSync, writeFileSync, readFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs-core';
import { useTestBackend } from '../helpers/backend.js';
import { assertClose } from '../helpers/close.js';
import { fixtureDir, golden } from '../helpers/fixtures.js';
import { loadModel, type Model } from '../../src/model/model.js';
import { openSafetensors } from '../../src/formats/safetensors.js';
import { writeSafetensorsSync } from '../../src/formats/safetensors-write.js';
import { loadDump, recordDump, writeDump, type Dump } from '../../src/debugger/dump.js';
import { compareDumps } from '../../src/debugger/dump-diff.js';
import { modelHash } from '../../src/debugger/model-hash.js';

const tmp = mkdtempSync(join(tmpdir(), 'llmdbg-dump-'));
before(async () => {
  await useTestBackend();
});
after(() => rmSync(tmp, { recursive: true, force: true }));

function sha256sum(path: string): string | null {
  const r = spawnSync('sha256sum', [path], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.split(/\s+/)[0]! : null;
}

async function dumpOf(model: Model, ids: number[], name: string, opts: Parameters<typeof recordDump>[2] = {}): Promise<Dump> {
  const dir = join(tmp, name);
  await writeDump(dir, await recordDump(model, ids, opts));
  return loadDump(dir);
}

describe('dumps', () => {
  const g = golden('llama-tiny');
  let model: Model;
  before(() => {
    model = loadModel(fixtureDir('llama-tiny'));
  });

  it('model hash: one file is exactly sha256sum; shards hash their sha256sum lines', async () => {
    const single = await modelHash(fixtureDir('llama-tiny'));
    const ref = sha256sum(join(fixtureDir('llama-tiny'), 'model.safetensors')) ?? createHash('sha256').update(readFileSync(join(fixtureDir('llama-tiny'), 'model.safetensors'))).digest('hex');
    assert.equal(single.sha256, ref);
    const dir = fixtureDir('llama-sharded');
    const files = readdirSync(dir).filter((f) => f.endsWith('.safetensors') || f.endsWith('.index.json')).sort();
    const lines = files.map((f) => `${createHash('sha256').update(readFileSync(join(dir, f))).digest('hex')}  ${f}\n`).join('');
    const sharded = await modelHash(dir);
    assert.equal(sharded.sha256, createHash('sha256').update(lines).digest('hex'));
    assert.equal(sharded.files.length, 3);
  });

  it('a forward dump holds every hook point, equal to the PyTorch activations, with its manifest', async () => {
    const n0 = tf.memory().numTensors;
    const d = await dumpOf(model, g.ids[0]!, 'fwd', { seed: 5 });
    assert.equal(tf.memory().numTensors, n0);
    try {
      const m = d.manifest;
      assert.deepEqual(m.tensors.map((e) => e.hook), model.hooks.map((h) => h.name));
      assert.deepEqual(m.ids, g.ids[0]);
      assert.equal(m.seed, 5);
      assert.equal(m.model.sha256, (await modelHash(fixtureDir('llama-tiny'))).sha256);
      for (const e of m.tensors) {
        const t = d.read(e.key);
        assert.deepEqual(t.shape, g.hooks[e.hook]!.shape);
        assertClose(e.key, t.data, g.hooks[e.hook]!.data);
      }
    } finally {
      d.close();
    }
  });

  it('a generation dump has one entry per hook and pass, with the positions of each step', async () => {
    const d = await dumpOf(model, g.greedy.prompt, 'gen', { hooks: ['blocks.1.hook_resid_post'], maxNewTokens: 4 });
    try {
      const P = g.greedy.prompt.length;
      assert.deepEqual(d.manifest.tensors.map((e) => [e.key, e.posOffset, e.shape[1]]), [
        ['blocks.1.hook_resid_post@0', 0, P], ['blocks.1.hook_resid_post@1', P, 1], ['blocks.1.hook_resid_post@2', P + 1, 1], ['blocks.1.hook_resid_post@3', P + 2, 1],
      ]);
      assert.deepEqual(d.manifest.generated, g.greedy.ids.slice(P, P + 4));
    } finally {
      d.close();
    }
  });

  it('two checkpoints: a perturbed down_proj of layer 1 first shows at blocks.1.hook_mlp_out', async () => {
    const dir = mkdtempSync(join(tmp, 'ckpt-'));
    copyFileSync(join(fixtureDir('llama-tiny'), 'config.json'), join(dir, 'config.json'));
    const f = openSafetensors(join(fixtureDir('llama-tiny'), 'model.safetensors'));
    writeSafetensorsSync(join(dir, 'model.safetensors'), f.names().map((n) => {
      const t = f.read(n);
      if (n === 'model.layers.1.mlp.down_proj.weight') t.data[3] += 0.05;
      return { name: n, dtype: t.dtype, shape: t.shape, data: t.data };
    }));
    f.close();
    const other = loadModel(dir);
    const a = await dumpOf(model, g.ids[0]!, 'ckpt-a');
    const b = await dumpOf(other, g.ids[0]!, 'ckpt-b');
    const d = compareDumps(a, b, { atol: 1e-6, rtol: 1e-6 });
    assert.equal(d.sameModel, false);
    assert.equal(d.firstDifference!.hook, 'blocks.1.hook_mlp_out');
    const i = d.entries.indexOf(d.firstDifference!);
    assert.ok(d.entries.slice(0, i).every((e) => e.status === 'same' && e.maxAbsDiff === 0), 'bit-identical before the weight is used');
    assert.ok(d.firstDifference!.maxAbsDiff! > 1e-3);
    a.close();
    b.close();
    other.dispose();
  });

  it('two runs: an injected edit is named, identical runs have no difference', async () => {
    const a = await dumpOf(model, g.ids[0]!, 'run-a');
    const same = await dumpOf(model, g.ids[0]!, 'run-same');
    assert.equal(compareDumps(a, same).firstDifference, null);
    const b = await dumpOf(model, g.ids[0]!, 'run-b', { inject: { 'blocks.0.attn.hook_v': (x) => tf.mul(x, 1.001) } });
    const d = compareDumps(a, b);
    assert.equal(d.firstDifference!.key, 'blocks.0.attn.hook_v@0');
    assert.equal(d.sameModel, true);
    // with a loose tolerance the small edit is within bounds everywhere
    assert.equal(compareDumps(a, b, { atol: 1, rtol: 0 }).firstDifference, null);
    for (const x of [a, same, b]) x.close();
  });

  it('a torn or edited dump is refused with one line; a folder without manifest is not a dump', async () => {
    const d = await dumpOf(model, g.ids[0]!, 'torn', { hooks: ['hook_embed'] });
    d.close();
    const path = join(tmp, 'torn', 'tensors.safetensors');
    const bytes = readFileSync(path);
    bytes[bytes.length - 1] ^= 0xff;
    writeFileSync(path, bytes);
    await assert.rejects(loadDump(join(tmp, 'torn')), (e: Error & { code?: string }) => e.code === 'dump_invalid' && /does not match its manifest/.test(e.message));
    unlinkSync(join(tmp, 'torn', 'manifest.json'));
    await assert.rejects(loadDump(join(tmp, 'torn')), /no manifest.json/);
  });
});
