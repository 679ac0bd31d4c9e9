/**
 * llmdbg's own matrix product for the WASM backend: native/wasm/gemm.wasm (source gemm.c beside
 * it, rebuilt by tools/build-wasm-gemm.mjs, committed so that no compiler is needed), instantiated
 * on TensorFlow.js' own WASM memory so it reads operands and writes outputs where tfjs keeps them.
 * It replaces XNNPACK for BatchMatMul (src/engine/wasm-matmul.ts) because XNNPACK keeps a packed
 * copy of every right-hand operand: a model's weights would live in memory twice.
 * Non-goal: threads (the WASM backend runs on one thread in Node).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// The WebAssembly global, typed here (the project's TypeScript libs do not declare it).
type WasmMemory = { readonly buffer: ArrayBuffer };
interface WebAssemblyApi {
  Memory: abstract new (...args: never[]) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}
const WA = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;

/** The part of tfjs-backend-wasm's Emscripten module this file uses. */
export interface EmscriptenLike {
  asm?: { memory?: unknown };
  _malloc?: (bytes: number) => number;
}

type GemmFn = (aOff: number, bOff: number, cOff: number, batch: number, M: number, N: number, K: number, transA: number, transB: number, strideA: number, strideB: number) => void;

/** Where the committed module lives: the same relative path from src/engine and dist/engine. */
export const GEMM_WASM_PATH = fileURLToPath(new URL('../../native/wasm/gemm.wasm', import.meta.url));

let compiled: object | undefined;
const instances = new WeakMap<WasmMemory, GemmFn>();

/**
 * The product bound to this tfjs module's memory, or an Error saying why it cannot be had (no
 * exported memory, missing or invalid .wasm); the caller then keeps the stock kernel.
 * `gemm(a, b, c, batch, M, N, K, transA, transB, strideA, strideB)`: C[b] = op(A[b]) op(B[b]),
 * byte offsets, element strides between batch items (0 broadcasts), transA with transB unsupported.
 */
export function wasmGemm(module: EmscriptenLike): GemmFn | Error {
  const memory = module.asm?.memory;
  if (!(memory instanceof WA.Memory)) return new Error('tfjs-backend-wasm exports no memory (asm.memory) in this version');
  const have = instances.get(memory);
  if (have) return have;
  try {
    compiled ??= new WA.Module(readFileSync(GEMM_WASM_PATH));
    const instance = new WA.Instance(compiled, { env: { memory } });
    const raw = instance.exports['llmdbg_gemm'] as (...args: number[]) => void;
    const scratchBytes = (instance.exports['llmdbg_gemm_scratch_bytes'] as () => number)();
    // A panel buffer in tfjs' heap, owned by this module for the life of the process.
    const scratch = module._malloc?.(scratchBytes + 16) ?? 0;
    if (!scratch) return new Error('could not allocate the kernel scratch in the WASM heap');
    const aligned = (scratch + 15) & ~15;
    const fn: GemmFn = (a, b, c, batch, M, N, K, tA, tB, sA, sB) => raw(a, b, c, batch, M, N, K, tA, tB, sA, sB, aligned);
    instances.set(memory, fn);
    return fn;
  } catch (e) {
    return new Error(`${GEMM_WASM_PATH}: ${(e as Error).message}`);
  }
}
