/**
 * The forward-pass debugger's public API: `start(model, ids, opts)` gives a `DebugRun`;
 * `await run.continue()`, `stepHook()`, `next('layer' | 'token')`, edits while paused, `abort()`.
 * Also the REPL interpreter, dumps and their comparison, and the model hash.
 * Non-goals: generation traces (trace.ts, replay.ts have their own API).
 */
export { DebugRun, start, type DebugOptions, type DebugResult, type PauseInfo, type Stop, type BreakHit, type EditRecord, type RunStatus } from './session.js';
export { type BreakpointSpec, type Breakpoint } from './breakpoints.js';
export { type Condition, checkCondition, evaluateCondition } from './conditions.js';
export { type WatchSpec, type WatchRecord } from './watch.js';
export { parseSlice, type SliceInput, type EditOp } from './slice.js';
export { topActivations, statsOf, sliceOf } from './inspect.js';
export { DebugRepl, type ReplOutput } from './repl.js';
export { recordDump, writeDump, loadDump, type Dump, type DumpManifest, type DumpEntry } from './dump.js';
export { compareDumps, type DumpDiff, type EntryDiff } from './dump-diff.js';
export { modelHash, sha256File, type ModelHash } from './model-hash.js';
