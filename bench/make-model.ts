/**
 * Writes benchmark models: Hugging Face folders (config.json + model.safetensors, F32) with seeded
 * random weights in the shapes of GPT-2 small/medium/large/xl (and two larger probe shapes) and SmolLM-135M (Llama, GQA 9/3, tied).
 * Init like GPT-2's: weights normal(0, 0.02), norm weights 1, biases 0. Each tensor has its own
 * generator seeded by "<seed>:<tensor name>", so the bytes are identical on every run.
 * Non-goals: realistic weights (outputs are noise), tokenizers (the benchmarks pass ids).
 *
 *   npx tsx bench/make-model.ts [--shape gpt2-small] [--out DIR] [--seed 0] [--force]
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { endianness } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Rng } from '../src/engine/rng.js';
import { serializeSafetensors, type TensorToWrite } from '../src/formats/safetensors-write.js';

export interface Gpt2Shape { family: 'gpt2'; nLayer: number; nEmbd: number; nHead: number; vocab: number; nPositions: number }
export interface LlamaShape { family: 'llama'; nLayer: number; hidden: number; nHead: number; nKvHead: number; intermediate: number; vocab: number; maxPositions: number }
export type BenchShape = Gpt2Shape | LlamaShape;

const GPT2 = (nLayer: number, nEmbd: number, nHead: number): Gpt2Shape => ({ family: 'gpt2', nLayer, nEmbd, nHead, vocab: 50257, nPositions: 1024 });

/** Named shapes; the GPT-2 ones follow the released checkpoints' configs. */
export const SHAPES: Record<string, BenchShape> = {
  'gpt2-small': GPT2(12, 768, 12), // 124M
  'gpt2-medium': GPT2(24, 1024, 16), // 355M
  'gpt2-large': GPT2(36, 1280, 20), // 774M
  'gpt2-xl': GPT2(48, 1600, 25), // 1.56B
  // Larger GPT-2-shaped models (no released checkpoint) for the max-model probe on the native backend.
  'gpt2-2.7b': GPT2(32, 2560, 32), // 2.65B, 10.6 GB float32
  'gpt2-4.7b': GPT2(40, 3072, 32), // 4.69B, 18.8 GB float32
  'smollm-135m': { family: 'llama', nLayer: 30, hidden: 576, nHead: 9, nKvHead: 3, intermediate: 1536, vocab: 49152, maxPositions: 2048 },
};

export const BENCH_ROOT = fileURLToPath(new URL('.', import.meta.url));
export const CACHE_DIR = join(BENCH_ROOT, '.cache');
/** Format version of what this file writes; bump it when the bytes change. */
const FORMAT = 1;

export function defaultModelDir(shape: string, seed = 0): string {
  return join(CACHE_DIR, `${shape}-random${seed === 0 ? '' : `-s${seed}`}`);
}

interface Spec { name: string; shape: number[]; init: 'normal' | 'ones' | 'zeros' }

function gpt2Specs(s: Gpt2Shape): Spec[] {
  const C = s.nEmbd, M = 4 * C;
  const out: Spec[] = [{ name: 'wte.weight', shape: [s.vocab, C], init: 'normal' }, { name: 'wpe.weight', shape: [s.nPositions, C], init: 'normal' }];
  for (let i = 0; i < s.nLayer; i++) {
    const h = `h.${i}.`;
    out.push(
      { name: `${h}ln_1.weight`, shape: [C], init: 'ones' }, { name: `${h}ln_1.bias`, shape: [C], init: 'zeros' },
      { name: `${h}attn.c_attn.weight`, shape: [C, 3 * C], init: 'normal' }, { name: `${h}attn.c_attn.bias`, shape: [3 * C], init: 'zeros' },
      { name: `${h}attn.c_proj.weight`, shape: [C, C], init: 'normal' }, { name: `${h}attn.c_proj.bias`, shape: [C], init: 'zeros' },
      { name: `${h}ln_2.weight`, shape: [C], init: 'ones' }, { name: `${h}ln_2.bias`, shape: [C], init: 'zeros' },
      { name: `${h}mlp.c_fc.weight`, shape: [C, M], init: 'normal' }, { name: `${h}mlp.c_fc.bias`, shape: [M], init: 'zeros' },
      { name: `${h}mlp.c_proj.weight`, shape: [M, C], init: 'normal' }, { name: `${h}mlp.c_proj.bias`, shape: [C], init: 'zeros' },
    );
  }
  out.push({ name: 'ln_f.weight', shape: [C], init: 'ones' }, { name: 'ln_f.bias', shape: [C], init: 'zeros' });
  return out;
}

function llamaSpecs(s: LlamaShape): Spec[] {
  const C = s.hidden, D = C / s.nHead, M = s.intermediate;
  const out: Spec[] = [{ name: 'model.embed_tokens.weight', shape: [s.vocab, C], init: 'normal' }];
  for (let i = 0; i < s.nLayer; i++) {
    const p = `model.layers.${i}.`;
    out.push(
      { name: `${p}input_layernorm.weight`, shape: [C], init: 'ones' },
      { name: `${p}self_attn.q_proj.weight`, shape: [s.nHead * D, C], init: 'normal' },
      { name: `${p}self_attn.k_proj.weight`, shape: [s.nKvHead * D, C], init: 'normal' },
      { name: `${p}self_attn.v_proj.weight`, shape: [s.nKvHead * D, C], init: 'normal' },
      { name: `${p}self_attn.o_proj.weight`, shape: [C, s.nHead * D], init: 'normal' },
      { name: `${p}post_attention_layernorm.weight`, shape: [C], init: 'ones' },
      { name: `${p}mlp.gate_proj.weight`, shape: [M, C], init: 'normal' },
      { name: `${p}mlp.up_proj.weight`, shape: [M, C], init: 'normal' },
      { name: `${p}mlp.down_proj.weight`, shape: [C, M], init: 'normal' },
    );
  }
  out.push({ name: 'model.norm.weight', shape: [C], init: 'ones' });
  return out;
}

export function tensorSpecs(s: BenchShape): Spec[] {
  return s.family === 'gpt2' ? gpt2Specs(s) : llamaSpecs(s);
}

export function parameterCountOf(s: BenchShape): number {
  return tensorSpecs(s).reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);
}

export function configJson(s: BenchShape): Record<string, unknown> {
  if (s.family === 'gpt2') {
    return {
      architectures: ['GPT2LMHeadModel'], model_type: 'gpt2', activation_function: 'gelu_new',
      n_layer: s.nLayer, n_embd: s.nEmbd, n_head: s.nHead, n_inner: null, n_positions: s.nPositions, n_ctx: s.nPositions,
      vocab_size: s.vocab, layer_norm_epsilon: 1e-5, initializer_range: 0.02, bos_token_id: 50256, eos_token_id: 50256,
      tie_word_embeddings: true, torch_dtype: 'float32',
    };
  }
  return {
    architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_act: 'silu',
    hidden_size: s.hidden, intermediate_size: s.intermediate, num_hidden_layers: s.nLayer,
    num_attention_heads: s.nHead, num_key_value_heads: s.nKvHead, vocab_size: s.vocab,
    max_position_embeddings: s.maxPositions, rms_norm_eps: 1e-5, rope_theta: 10000.0, rope_scaling: null,
    attention_bias: false, mlp_bias: false, tie_word_embeddings: true, initializer_range: 0.02,
    bos_token_id: 1, eos_token_id: 2, torch_dtype: 'float32',
  };
}

const TWO_PI = 2 * Math.PI;
const INV_2_32 = 1 / 4294967296;

/** n values of normal(0, std) by Box-Muller on the seeded generator (Math.log/cos/sin are fdlibm ports in V8: reproducible). */
function normals(rng: Rng, n: number, std: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u1 = (rng.next() + 1) * INV_2_32; // (0, 1]
    const u2 = rng.next() * INV_2_32; // [0, 1)
    const r = std * Math.sqrt(-2 * Math.log(u1));
    out[i] = r * Math.cos(TWO_PI * u2);
    if (i + 1 < n) out[i + 1] = r * Math.sin(TWO_PI * u2);
  }
  return out;
}

function tensorData(spec: Spec, seed: number): Float32Array {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  if (spec.init === 'ones') return new Float32Array(n).fill(1);
  if (spec.init === 'zeros') return new Float32Array(n);
  return normals(new Rng(`${seed}:${spec.name}`), n, 0.02);
}

/**
 * The file writeSafetensors would write, generated one tensor at a time so that models larger than
 * memory can be written (the 4.7B probe shape is 18.8 GB). The header comes from the library's own
 * serializer, given placeholder views of one zero buffer as long as the largest tensor; the tensors
 * follow in the header's offset order. Temp file + rename (no fsync: benchmark files).
 */
function writeStreaming(path: string, specs: Spec[], seed: number, metadata: Record<string, string>): void {
  const numel = (spec: Spec) => spec.shape.reduce((a, b) => a * b, 1);
  const zeros = new Uint8Array(Math.max(...specs.map(numel)) * 4);
  const placeholders: TensorToWrite[] = specs.map((spec) => ({ name: spec.name, dtype: 'F32', shape: spec.shape, bytes: zeros.subarray(0, numel(spec) * 4) }));
  const head = serializeSafetensors(placeholders, metadata, path)[0]!;
  const header = JSON.parse(Buffer.from(head.subarray(8)).toString('utf8')) as Record<string, { data_offsets?: [number, number] }>;
  const byName = new Map(specs.map((spec) => [spec.name, spec]));
  const order = Object.keys(header).filter((k) => k !== '__metadata__').sort((a, b) => header[a]!.data_offsets![0] - header[b]!.data_offsets![0]);
  const tmp = `${path}.partial`;
  const fd = openSync(tmp, 'w');
  try {
    writeAll(fd, head);
    for (const name of order) {
      const data = tensorData(byName.get(name)!, seed);
      writeAll(fd, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    }
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

function writeAll(fd: number, bytes: Uint8Array): void {
  for (let off = 0; off < bytes.byteLength; ) off += writeSync(fd, bytes, off, Math.min(bytes.byteLength - off, 1 << 30));
}

export interface MadeModel { dir: string; shape: string; parameters: number; weightBytes: number; created: boolean; ms: number }

/** Writes the folder unless an identical one (same shape, seed and format) is already there. */
export async function ensureModel(shapeName: string, opts: { dir?: string; seed?: number; force?: boolean } = {}): Promise<MadeModel> {
  const shape = SHAPES[shapeName];
  if (!shape) throw new Error(`unknown shape "${shapeName}"; known: ${Object.keys(SHAPES).join(', ')}`);
  if (endianness() !== 'LE') throw new Error('make-model writes float32 bytes directly and needs a little-endian machine');
  const seed = opts.seed ?? 0;
  const dir = opts.dir ?? defaultModelDir(shapeName, seed);
  const parameters = parameterCountOf(shape);
  const stamp = { shape: shapeName, seed, format: FORMAT, parameters };
  const stampPath = join(dir, 'bench-model.json');
  const t0 = performance.now();
  if (!opts.force && existsSync(stampPath) && existsSync(join(dir, 'model.safetensors'))) {
    const old = JSON.parse(readFileSync(stampPath, 'utf8')) as typeof stamp;
    if (old.shape === shapeName && old.seed === seed && old.format === FORMAT) return { dir, shape: shapeName, parameters, weightBytes: parameters * 4, created: false, ms: 0 };
  }
  mkdirSync(dir, { recursive: true });
  rmSync(stampPath, { force: true });
  writeStreaming(join(dir, 'model.safetensors'), tensorSpecs(shape), seed, { format: 'pt', llmdbg_bench: `${shapeName} seed ${seed}` });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(configJson(shape), null, 2) + '\n');
  writeFileSync(stampPath, JSON.stringify(stamp) + '\n');
  return { dir, shape: shapeName, parameters, weightBytes: parameters * 4, created: true, ms: performance.now() - t0 };
}

async function main(): Promise<void> {
  const { values: v } = parseArgs({ options: { shape: { type: 'string', default: 'gpt2-small' }, out: { type: 'string' }, seed: { type: 'string', default: '0' }, force: { type: 'boolean' } } });
  const seed = Number(v.seed);
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`--seed ${v.seed} must be a non-negative integer`);
  const r = await ensureModel(v.shape!, { ...(v.out ? { dir: v.out } : {}), seed, force: v.force === true });
  process.stdout.write(JSON.stringify(r) + '\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((e) => {
    process.stderr.write(`make-model: ${(e as Error).message}\n`);
    process.exit(1);
  });
}
