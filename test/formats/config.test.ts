// test-backends: once (host code only: no tfjs backend is involved; see test/run.mjs)
/**
 * config.json normalisation: each family's defaults and fields, and refusals that name the field
 * and its value for everything the runtime does not implement.
 */
import { it, describe } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/formats/config.js';
import { LlmdbgError } from '../../src/errors.js';

const llama = { model_type: 'llama', hidden_size: 64, intermediate_size: 172, num_hidden_layers: 2, num_attention_heads: 8, num_key_value_heads: 4, vocab_size: 100 };
const gpt2 = { model_type: 'gpt2', n_embd: 32, n_layer: 2, n_head: 4, vocab_size: 50, n_positions: 16 };

function refused(raw: object, code: string, ...parts: RegExp[]): void {
  assert.throws(() => parseConfig(raw), (e: unknown) => {
    assert.ok(e instanceof LlmdbgError, String(e));
    assert.equal(e.code, code);
    for (const p of parts) assert.match(e.message, p);
    return true;
  });
}

describe('config', () => {
  it('GPT-2 defaults: n_inner 4C, gelu_new, tied, learned positions, biases', () => {
    const c = parseConfig(gpt2);
    assert.equal(c.dMlp, 128);
    assert.equal(c.act, 'gelu_new');
    assert.equal(c.tieEmbeddings, true);
    assert.equal(c.positional, 'learned');
    assert.equal(c.nCtx, 16);
    assert.equal(c.dHead, 8);
    assert.deepEqual([c.qkvBias, c.oBias, c.mlpBias, c.norm], [true, true, true, 'layernorm']);
  });

  it('Llama family: GQA, head_dim, rope_theta, eps and bias flags', () => {
    const c = parseConfig({ ...llama, head_dim: 16, rope_theta: 500000, rms_norm_eps: 1e-6, attention_bias: true, mlp_bias: true, tie_word_embeddings: true });
    assert.deepEqual([c.nHeads, c.nKvHeads, c.dHead, c.ropeTheta, c.normEps], [8, 4, 16, 500000, 1e-6]);
    assert.deepEqual([c.qkvBias, c.oBias, c.mlpBias, c.tieEmbeddings, c.gatedMlp], [true, true, true, true, true]);
    const q = parseConfig({ ...llama, model_type: 'qwen2', use_sliding_window: false, sliding_window: 4096 });
    assert.deepEqual([q.qkvBias, q.oBias, q.mlpBias, q.slidingWindow], [true, false, false, null]);
    const m = parseConfig({ ...llama, model_type: 'mistral', sliding_window: 4096 });
    assert.equal(m.slidingWindow, 4096);
  });

  it('refuses unknown architectures, rope scaling, per-layer windows, odd activations by name and value', () => {
    refused({ ...llama, model_type: 'falcon' }, 'unsupported_config', /model_type/, /falcon/);
    refused({ ...llama, rope_scaling: { rope_type: 'llama3', factor: 8 } }, 'unsupported_config', /rope_scaling/, /llama3/);
    refused({ ...llama, model_type: 'qwen2', use_sliding_window: true, sliding_window: 4096, max_window_layers: 1 }, 'unsupported_config', /use_sliding_window/);
    refused({ ...llama, hidden_act: 'mish' }, 'unsupported_config', /hidden_act/, /mish/);
    refused({ ...gpt2, scale_attn_by_inverse_layer_idx: true }, 'unsupported_config', /scale_attn_by_inverse_layer_idx/);
    refused({ ...llama, partial_rotary_factor: 0.5 }, 'unsupported_config', /partial_rotary_factor/);
  });

  it('rejects malformed values with invalid_config', () => {
    refused({ ...llama, num_key_value_heads: 3 }, 'invalid_config', /num_key_value_heads = 3/);
    refused({ ...llama, hidden_size: 'big' }, 'invalid_config', /hidden_size/);
    refused({ ...llama, num_hidden_layers: undefined }, 'invalid_config', /num_hidden_layers/);
    refused({ ...gpt2, n_embd: 30 }, 'invalid_config', /n_embd = 30/);
    refused({}, 'invalid_config', /model_type/);
    assert.throws(() => parseConfig([1, 2]), /expected a JSON object/);
  });
});
