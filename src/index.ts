/**
 * The public library API of llmdbg: the only module other packages should import.
 */
export { LlmdbgError, ERROR_CODES, type ErrorCode } from './errors.js';
export { initBackend, backendInfo, BACKENDS, type BackendChoice, type BackendInfo } from './engine/backend.js';
export { Rng, type RngState } from './engine/rng.js';
export { DIMS } from './engine/dims.js';
export { loadConfig, parseConfig, ARCHITECTURES, type ModelConfig, type Architecture } from './formats/config.js';
export { loadTokenizer, tokenizerFromJson, type TextTokenizer } from './formats/tokenizer.js';
export { openSafetensors, type SafetensorsFile, type TensorStore } from './formats/safetensors.js';
export { openSafetensorsIndex } from './formats/safetensors-index.js';
export { writeSafetensors, writeSafetensorsSync } from './formats/safetensors-write.js';
export { Model, loadModel, type RunOptions, type RunResult, type HostTensor } from './model/model.js';
export { SITES, hookPoints, resolveHooks, hookShape, type Site, type HookFn, type HookPoint, type HookContext } from './model/hooks.js';
export { forwardSteps, runForward, type KVCache, type ForwardInput, type ForwardOutput } from './model/forward.js';
export type { HookEvent } from './model/visit.js';
export { generate, type GenerateOptions, type GenerationResult, type GenerationStep } from './model/generate.js';
export { chooseToken, type SamplingOptions } from './model/sampling.js';
export { readTrace, TraceWriter, type Trace } from './debugger/trace.js';
export { replayTrace, diffTraces, type ReplayReport, type TraceDiff } from './debugger/replay.js';
export * as attribution from './methods/attribution/index.js';
export * as gradients from './methods/gradients/index.js';
export * as training from './train/index.js';
export { saveModel } from './model/save.js';
export { initParams, newModelConfig } from './model/init.js';
export { evaluateSuite, readSuite } from './methods/eval/suite.js';
