/**
 * Checkpoint names and layouts <-> llmdbg's internal `Params`, for GPT-2 and the Llama family.
 *
 * Reading: every expected tensor is looked up by its Hugging Face name, shape-checked, transposed
 * to [in, out] where the checkpoint stores PyTorch Linear [out, in], and fused (QKV, gate|up).
 * Names left over are refused, except buffers that older checkpoints carry.
 * Writing is the exact inverse, so a trained model saves as an ordinary Hugging Face folder.
 */
import * as tf from '@tensorflow/tfjs-core';
import { LlmdbgError } from '../errors.js';
import type { ModelConfig } from '../formats/config.js';
import type { LayerParams, NormParams, Params } from './params.js';

export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

/** Where weights come from: a safetensors file, a sharded index, or memory. */
export interface TensorSource {
  names(): string[];
  read(name: string): HostTensor;
  /** Shown in error messages, e.g. the folder path. */
  label: string;
}

/** Buffers that some checkpoints carry and that hold no learned parameters. */
const IGNORED = [/\.attn\.bias$/, /\.attn\.masked_bias$/, /\.rotary_emb\.inv_freq$/];

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

class Reader {
  readonly used = new Set<string>();
  private readonly available: Set<string>;
  constructor(private readonly src: TensorSource, private readonly prefix: string) {
    this.available = new Set(src.names());
  }
  has(name: string): boolean {
    return this.available.has(this.prefix + name);
  }
  /** Reads `name` and checks its shape. */
  read(name: string, shape: number[]): HostTensor {
    const full = this.prefix + name;
    if (!this.available.has(full)) {
      throw new LlmdbgError('missing_weight', `${this.src.label}: weight "${full}" is missing`, {
        hint: 'the checkpoint does not match config.json (wrong model_type, layer count or a partial download?)',
        details: { tensor: full },
      });
    }
    const t = this.src.read(full);
    if (!sameShape(t.shape, shape)) {
      throw new LlmdbgError('weight_shape_mismatch', `${this.src.label}: weight "${full}" has shape [${t.shape}] but config.json implies [${shape}]`, {
        details: { tensor: full, expected: shape, actual: t.shape },
      });
    }
    this.used.add(full);
    return t;
  }
  leftovers(): string[] {
    return [...this.available].filter((n) => !this.used.has(n) && !IGNORED.some((re) => re.test(n)));
  }
}

function t1(h: HostTensor): tf.Tensor1D {
  return tf.tensor1d(h.data);
}
function t2(h: HostTensor): tf.Tensor2D {
  return tf.tensor2d(h.data, h.shape as [number, number]);
}

/** PyTorch Linear weights [out, in] for several projections -> one [in, sum(out)] matrix. */
function fuseLinearT(parts: HostTensor[], nIn: number): tf.Tensor2D {
  const nOut = parts.reduce((s, p) => s + p.shape[0]!, 0);
  const out = new Float32Array(nIn * nOut);
  let col = 0;
  for (const p of parts) {
    const rows = p.shape[0]!;
    for (let r = 0; r < rows; r++) {
      const src = r * nIn;
      for (let i = 0; i < nIn; i++) out[i * nOut + col + r] = p.data[src + i]!;
    }
    col += rows;
  }
  return tf.tensor2d(out, [nIn, nOut]);
}

function concat1(parts: HostTensor[]): tf.Tensor1D {
  const n = parts.reduce((s, p) => s + p.data.length, 0);
  const out = new Float32Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p.data, o);
    o += p.data.length;
  }
  return tf.tensor1d(out);
}

function detectPrefix(names: string[], candidates: string[], probe: string): string {
  for (const p of candidates) if (names.includes(p + probe)) return p;
  return candidates[0]!;
}

function finish(r: Reader, src: TensorSource): void {
  const extra = r.leftovers();
  if (extra.length > 0) {
    throw new LlmdbgError('unexpected_weight', `${src.label}: ${extra.length} weight(s) not used by the ${'model'}: ${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ', ...' : ''}`, {
      hint: 'config.json probably does not describe this checkpoint (layer count, tie_word_embeddings, biases)',
      details: { tensors: extra.slice(0, 50) },
    });
  }
}

function loadGpt2(c: ModelConfig, src: TensorSource): Params {
  const prefix = detectPrefix(src.names(), ['', 'transformer.'], 'wte.weight');
  const r = new Reader(src, prefix);
  const C = c.dModel;
  const ln = (n: string): NormParams => ({ w: t1(r.read(`${n}.weight`, [C])), b: t1(r.read(`${n}.bias`, [C])) });
  const layers: LayerParams[] = [];
  for (let i = 0; i < c.nLayers; i++) {
    const h = `h.${i}.`;
    layers.push({
      ln1: ln(`${h}ln_1`),
      // Conv1D stores [in, out] already.
      wQKV: t2(r.read(`${h}attn.c_attn.weight`, [C, 3 * C])),
      bQKV: t1(r.read(`${h}attn.c_attn.bias`, [3 * C])),
      wO: t2(r.read(`${h}attn.c_proj.weight`, [C, C])),
      bO: t1(r.read(`${h}attn.c_proj.bias`, [C])),
      ln2: ln(`${h}ln_2`),
      wIn: t2(r.read(`${h}mlp.c_fc.weight`, [C, c.dMlp])),
      bIn: t1(r.read(`${h}mlp.c_fc.bias`, [c.dMlp])),
      wOut: t2(r.read(`${h}mlp.c_proj.weight`, [c.dMlp, C])),
      bOut: t1(r.read(`${h}mlp.c_proj.bias`, [C])),
    });
  }
  const wte = t2(r.read('wte.weight', [c.vocabSize, C]));
  const wpe = t2(r.read('wpe.weight', [c.nCtx, C]));
  const lnF = ln('ln_f');
  // GPT2LMHeadModel checkpoints may also carry the (tied) head at the top level.
  const head = new Reader(src, '');
  let wU = wte;
  if (head.has('lm_head.weight')) {
    const h = head.read('lm_head.weight', [c.vocabSize, C]);
    r.used.add('lm_head.weight');
    if (!c.tieEmbeddings) wU = t2(h);
  } else if (!c.tieEmbeddings) {
    head.read('lm_head.weight', [c.vocabSize, C]); // throws missing_weight
  }
  finish(r, src);
  return { wte, wpe, layers, lnF, wU };
}

function loadLlamaFamily(c: ModelConfig, src: TensorSource): Params {
  const r = new Reader(src, '');
  const C = c.dModel;
  const qDim = c.nHeads * c.dHead;
  const kvDim = c.nKvHeads * c.dHead;
  const layers: LayerParams[] = [];
  for (let i = 0; i < c.nLayers; i++) {
    const p = `model.layers.${i}.`;
    const q = r.read(`${p}self_attn.q_proj.weight`, [qDim, C]);
    const k = r.read(`${p}self_attn.k_proj.weight`, [kvDim, C]);
    const v = r.read(`${p}self_attn.v_proj.weight`, [kvDim, C]);
    const o = r.read(`${p}self_attn.o_proj.weight`, [C, qDim]);
    const gate = r.read(`${p}mlp.gate_proj.weight`, [c.dMlp, C]);
    const up = r.read(`${p}mlp.up_proj.weight`, [c.dMlp, C]);
    const down = r.read(`${p}mlp.down_proj.weight`, [C, c.dMlp]);
    layers.push({
      ln1: { w: t1(r.read(`${p}input_layernorm.weight`, [C])) },
      wQKV: fuseLinearT([q, k, v], C),
      bQKV: c.qkvBias
        ? concat1([r.read(`${p}self_attn.q_proj.bias`, [qDim]), r.read(`${p}self_attn.k_proj.bias`, [kvDim]), r.read(`${p}self_attn.v_proj.bias`, [kvDim])])
        : undefined,
      wO: fuseLinearT([o], qDim),
      bO: c.oBias ? t1(r.read(`${p}self_attn.o_proj.bias`, [C])) : undefined,
      ln2: { w: t1(r.read(`${p}post_attention_layernorm.weight`, [C])) },
      wIn: fuseLinearT([gate, up], C),
      bIn: c.mlpBias ? concat1([r.read(`${p}mlp.gate_proj.bias`, [c.dMlp]), r.read(`${p}mlp.up_proj.bias`, [c.dMlp])]) : undefined,
      wOut: fuseLinearT([down], c.dMlp),
      bOut: c.mlpBias ? t1(r.read(`${p}mlp.down_proj.bias`, [C])) : undefined,
    });
  }
  const wte = t2(r.read('model.embed_tokens.weight', [c.vocabSize, C]));
  const lnF = { w: t1(r.read('model.norm.weight', [C])) };
  let wU = wte;
  if (!c.tieEmbeddings) wU = t2(r.read('lm_head.weight', [c.vocabSize, C]));
  else if (r.has('lm_head.weight')) r.read('lm_head.weight', [c.vocabSize, C]); // some tied checkpoints still store it
  finish(r, src);
  return { wte, layers, lnF, wU };
}

/** Builds internal parameters from a checkpoint. Tensors are created on the current backend. */
export function paramsFromCheckpoint(c: ModelConfig, src: TensorSource): Params {
  // tidy disposes every tensor created so far when loading throws: nothing stays half-loaded.
  return tf.tidy(() => (c.arch === 'gpt2' ? loadGpt2(c, src) : loadLlamaFamily(c, src)) as unknown as tf.TensorContainer) as unknown as Params;
}

/** Splits an [in, out] matrix's columns and transposes each part back to PyTorch's [out, in]. */
function unfuseLinearT(w: Float32Array, nIn: number, outs: number[]): Float32Array[] {
  const nOut = outs.reduce((a, b) => a + b, 0);
  const parts: Float32Array[] = [];
  let col = 0;
  for (const rows of outs) {
    const p = new Float32Array(rows * nIn);
    for (let r = 0; r < rows; r++) for (let i = 0; i < nIn; i++) p[r * nIn + i] = w[i * nOut + col + r]!;
    parts.push(p);
    col += rows;
  }
  return parts;
}

export interface NamedHostTensor extends HostTensor {
  name: string;
}

/** Internal parameters -> Hugging Face tensor names and layouts (the inverse of `paramsFromCheckpoint`). */
export async function paramsToCheckpoint(c: ModelConfig, p: Params): Promise<NamedHostTensor[]> {
  const out: NamedHostTensor[] = [];
  const put = (name: string, shape: number[], data: Float32Array) => out.push({ name, shape, data });
  const read = async (t: tf.Tensor) => new Float32Array(await t.data());
  const C = c.dModel;
  if (c.arch === 'gpt2') {
    put('wte.weight', [c.vocabSize, C], await read(p.wte));
    put('wpe.weight', [c.nCtx, C], await read(p.wpe!));
    for (let i = 0; i < c.nLayers; i++) {
      const l = p.layers[i]!;
      const h = `h.${i}.`;
      put(`${h}ln_1.weight`, [C], await read(l.ln1.w));
      put(`${h}ln_1.bias`, [C], await read(l.ln1.b!));
      put(`${h}attn.c_attn.weight`, [C, 3 * C], await read(l.wQKV));
      put(`${h}attn.c_attn.bias`, [3 * C], await read(l.bQKV!));
      put(`${h}attn.c_proj.weight`, [C, C], await read(l.wO));
      put(`${h}attn.c_proj.bias`, [C], await read(l.bO!));
      put(`${h}ln_2.weight`, [C], await read(l.ln2.w));
      put(`${h}ln_2.bias`, [C], await read(l.ln2.b!));
      put(`${h}mlp.c_fc.weight`, [C, c.dMlp], await read(l.wIn));
      put(`${h}mlp.c_fc.bias`, [c.dMlp], await read(l.bIn!));
      put(`${h}mlp.c_proj.weight`, [c.dMlp, C], await read(l.wOut));
      put(`${h}mlp.c_proj.bias`, [C], await read(l.bOut!));
    }
    put('ln_f.weight', [C], await read(p.lnF.w));
    put('ln_f.bias', [C], await read(p.lnF.b!));
    if (!c.tieEmbeddings) put('lm_head.weight', [c.vocabSize, C], await read(p.wU));
    return out;
  }
  const qDim = c.nHeads * c.dHead;
  const kvDim = c.nKvHeads * c.dHead;
  put('model.embed_tokens.weight', [c.vocabSize, C], await read(p.wte));
  for (let i = 0; i < c.nLayers; i++) {
    const l = p.layers[i]!;
    const pre = `model.layers.${i}.`;
    const [q, k, v] = unfuseLinearT(await read(l.wQKV), C, [qDim, kvDim, kvDim]);
    put(`${pre}self_attn.q_proj.weight`, [qDim, C], q!);
    put(`${pre}self_attn.k_proj.weight`, [kvDim, C], k!);
    put(`${pre}self_attn.v_proj.weight`, [kvDim, C], v!);
    if (l.bQKV) {
      const b = await read(l.bQKV);
      put(`${pre}self_attn.q_proj.bias`, [qDim], b.slice(0, qDim));
      put(`${pre}self_attn.k_proj.bias`, [kvDim], b.slice(qDim, qDim + kvDim));
      put(`${pre}self_attn.v_proj.bias`, [kvDim], b.slice(qDim + kvDim));
    }
    put(`${pre}self_attn.o_proj.weight`, [C, qDim], unfuseLinearT(await read(l.wO), qDim, [C])[0]!);
    if (l.bO) put(`${pre}self_attn.o_proj.bias`, [C], await read(l.bO));
    const [gate, up] = unfuseLinearT(await read(l.wIn), C, [c.dMlp, c.dMlp]);
    put(`${pre}mlp.gate_proj.weight`, [c.dMlp, C], gate!);
    put(`${pre}mlp.up_proj.weight`, [c.dMlp, C], up!);
    if (l.bIn) {
      const b = await read(l.bIn);
      put(`${pre}mlp.gate_proj.bias`, [c.dMlp], b.slice(0, c.dMlp));
      put(`${pre}mlp.up_proj.bias`, [c.dMlp], b.slice(c.dMlp));
    }
    put(`${pre}mlp.down_proj.weight`, [C, c.dMlp], unfuseLinearT(await read(l.wOut), c.dMlp, [C])[0]!);
    if (l.bOut) put(`${pre}mlp.down_proj.bias`, [C], await read(l.bOut));
    put(`${pre}input_layernorm.weight`, [C], await read(l.ln1.w));
    put(`${pre}post_attention_layernorm.weight`, [C], await read(l.ln2.w));
  }
  put('model.norm.weight', [C], await read(p.lnF.w));
  if (!c.tieEmbeddings) put('lm_head.weight', [c.vocabSize, C], await read(p.wU));
  return out;
}
