/**
 * What most commands do first: pick the backend, load the model, turn --prompt/--ids into ids,
 * and describe the run for the `info` block of JSON results.
 */
import { LlmdbgError } from '../errors.js';
import { initBackend, type BackendChoice, type BackendInfo } from '../engine/backend.js';
import { loadModel, type Model } from '../model/model.js';
import { int, modelDir, parseIds, str, type Options } from './args.js';
import { note } from './output.js';

export interface Session {
  model: Model;
  backend: BackendInfo;
  loadMs: number;
}

export async function startBackend(v: Options): Promise<BackendInfo> {
  const threads = str(v, 'threads') === undefined ? undefined : int(v, 'threads', 1, 1, 1024);
  const b = await initBackend(str(v, 'backend') as BackendChoice | undefined, threads === undefined ? {} : { threads });
  if (b.note && !v['json']) note(`note: ${b.note}`);
  return b;
}

export async function openSession(v: Options): Promise<Session> {
  const backend = await startBackend(v);
  const dir = modelDir(v);
  const t0 = performance.now();
  const model = loadModel(dir);
  return { model, backend, loadMs: performance.now() - t0 };
}

/** Exactly one of --prompt and --ids, as validated token ids. */
export function promptIds(model: Model, v: Options, extra = 0): number[] {
  const prompt = str(v, 'prompt');
  const ids = str(v, 'ids');
  if (prompt !== undefined && ids !== undefined) throw new LlmdbgError('invalid_argument', 'give either --prompt or --ids, not both');
  if (prompt === undefined && ids === undefined) throw new LlmdbgError('invalid_argument', 'no input: give --prompt TEXT or --ids 1,2,3');
  const out = prompt !== undefined ? model.encode(prompt) : parseIds(ids!);
  model.checkIds(out, extra);
  return out;
}

export function runInfo(s: Session, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    model: { dir: s.model.source.dir, arch: s.model.config.arch, fingerprint: s.model.source.fingerprint },
    backend: s.backend.name,
    threads: s.backend.threads,
    ...extra,
  };
}
