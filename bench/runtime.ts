/**
 * Runtime benchmark (issue 2 §8): load time, prefill, decode tokens/s, saliency (and optionally
 * integrated gradients) and peak memory of llmdbg on a GPT-2-small-shaped random model, each
 * beside a PyTorch baseline timed in the same run, with the targets (peak RSS <= 1.5 x float32
 * weight bytes + 200 MB; decode >= 10 tokens/s) marked PASS/FAIL. Decode is also stated beside its
 * memory-bandwidth bound (bench/bandwidth.ts: a copy benchmark run in the same run).
 * Every llmdbg phase runs in its own child process (bench/worker.ts) so its peak RSS is its own.
 * Non-goals: timed assertions in unit tests; tuning the runtime (see bench/profile.ts).
 *
 *   npx tsx bench/runtime.ts [--model DIR | --shape gpt2-small|smollm-135m] [--prompt-len 64] [--decode 32]
 *       [--repeats 3] [--backend wasm|cpu|native|auto] [--ig] [--ig-steps 32] [--phases load,prefill,...]
 *       [--no-torch] [--torch-threads 1,2] [--no-bandwidth] [--bandwidth-mb 512] [--json] [--out FILE.json]
 *       [--max-model [--keep-models]]
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { loadConfig, parameterCount } from '../src/formats/config.js';
import { ensureModel, SHAPES } from './make-model.js';
import { lastJson, lastLine, promptIds, runChild, runWorker, type WorkerArgs } from './common.js';
import { bandwidthBound, decodeTraffic, formatBandwidth, type BandwidthResult } from './bandwidth.js';
import { BENCH_ROOT } from './make-model.js';
import { join } from 'node:path';
import { runTorchBaseline, type TorchOutcome } from './torch.js';
import { buildRows, formatCpuTable, formatTable, parityChecks, targetsFor, type Check, type Row } from './report.js';
import { probeMaxModel } from './max-model.js';
import { PHASES, type Phase, type WorkerResult } from './worker.js';

function positiveInt(name: string, s: string | undefined, min = 1): number {
  const n = Number(s);
  if (s === undefined || !/^\d+$/.test(s) || n < min) throw new Error(`--${name} ${s} must be an integer >= ${min}`);
  return n;
}

async function main(): Promise<void> {
  const { values: v } = parseArgs({
    options: {
      model: { type: 'string' }, shape: { type: 'string', default: 'gpt2-small' }, 'prompt-len': { type: 'string', default: '64' },
      decode: { type: 'string', default: '32' }, repeats: { type: 'string', default: '3' }, backend: { type: 'string', default: 'wasm' },
      ig: { type: 'boolean' }, 'ig-steps': { type: 'string', default: '32' },
      'no-torch': { type: 'boolean' }, 'torch-threads': { type: 'string', default: '1,2' }, json: { type: 'boolean' },
      out: { type: 'string' }, phases: { type: 'string' }, 'max-model': { type: 'boolean' }, 'keep-models': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      'no-bandwidth': { type: 'boolean' }, 'bandwidth-mb': { type: 'string', default: '512' },
    },
  });
  if (v.help) {
    process.stdout.write(`${readUsage()}\n`);
    return;
  }
  const json = v.json === true;
  const log = (m: string) => process.stderr.write(`${m}\n`);
  const backend = v.backend!;
  if (!['wasm', 'cpu', 'native', 'auto'].includes(backend)) throw new Error(`--backend ${backend} must be wasm, cpu, native or auto`);
  const started = new Date();
  const t0 = performance.now();
  const machine = { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, node: process.version, loadAvgStart: loadavg() };

  if (v['max-model']) {
    const r = await probeMaxModel({ backend, keep: v['keep-models'] === true, log });
    const out = { info: { method: 'max-model-probe', parameters: { backend }, date: started.toISOString(), durationMs: performance.now() - t0, machine: { ...machine, loadAvgEnd: loadavg() } }, ...r };
    if (v.out) writeFileSync(v.out, JSON.stringify(out, null, 1) + '\n');
    if (json) process.stdout.write(JSON.stringify(out) + '\n');
    else {
      for (const p of r.probes) log(`${p.shape.padEnd(12)} ${(p.parameters / 1e6).toFixed(0).padStart(5)}M params  ${p.ok ? `OK   load ${(p.loadMs! / 1000).toFixed(1)} s, peak RSS ${p.peakRssMB!.toFixed(0)} MB, WASM heap ${p.wasmHeapMB?.toFixed(0) ?? '-'} MB` : `FAIL ${p.error}`}`);
      process.stdout.write(`largest model that loads and runs one forward on ${r.backend}: ${r.largest ?? 'none'}\n`);
    }
    return;
  }

  const promptLen = positiveInt('prompt-len', v['prompt-len']);
  const decode = positiveInt('decode', v.decode, 2);
  const repeats = positiveInt('repeats', v.repeats);
  const igSteps = positiveInt('ig-steps', v['ig-steps'], 2);
  let modelDir = v.model;
  if (!modelDir) {
    if (!SHAPES[v.shape!]) throw new Error(`--shape ${v.shape} is not one of ${Object.keys(SHAPES).join(', ')}`);
    log(`model: ${v.shape} (creating it in bench/.cache on first use)`);
    modelDir = (await ensureModel(v.shape!)).dir;
  }
  const config = loadConfig(modelDir);
  const parameters = parameterCount(config);
  if (promptLen + decode + 1 > config.nCtx) throw new Error(`--prompt-len ${promptLen} + --decode ${decode} + 1 exceeds the context of ${config.nCtx}`);
  const ids = promptIds(promptLen, config.vocabSize);
  const wa: WorkerArgs = { model: modelDir, backend, promptLen, decode, repeats, igSteps };
  const phases: Phase[] = v.phases ? (v.phases.split(',') as Phase[]) : ['load', 'prefill', 'decode', 'saliency', ...(v.ig ? (['ig'] as const) : [])];
  for (const ph of phases) if (!(PHASES as readonly string[]).includes(ph)) throw new Error(`--phases: "${ph}" is not one of ${PHASES.join(', ')}`);

  const results: Partial<Record<Phase, WorkerResult>> = {};
  const errors: Partial<Record<Phase, string>> = {};
  for (const ph of phases) {
    log(`llmdbg ${ph} (${backend})...`);
    try {
      results[ph] = await runWorker(ph, wa);
    } catch (e) {
      errors[ph] = (e as Error).message;
      log(`  failed: ${errors[ph]}`);
    }
  }

  // The bound on decode: copy bandwidth (measured now, in its own process) / bytes each token must read.
  let bandwidth: BandwidthResult | null = null;
  let bandwidthError: string | null = null;
  if (phases.includes('decode') && !v['no-bandwidth']) {
    log('copy bandwidth...');
    const r = await runChild(process.execPath, ['--import', 'tsx', join(BENCH_ROOT, 'bandwidth.ts'), '--json', '--mb', String(positiveInt('bandwidth-mb', v['bandwidth-mb']))], { cwd: join(BENCH_ROOT, '..') });
    bandwidth = r.code === 0 ? lastJson<BandwidthResult>(r.stdout) : null;
    if (!bandwidth) log(`  failed: ${(bandwidthError = `bandwidth.ts exited ${r.code ?? r.signal}: ${lastLine(r.stderr)}`)}`);
  }

  let torch: TorchOutcome;
  if (v['no-torch']) torch = { ok: false, skipped: true, reason: '--no-torch' };
  else {
    log('PyTorch baseline...');
    const threads = v['torch-threads']!.split(',').map((s) => positiveInt('torch-threads', s.trim()));
    torch = await runTorchBaseline({ model: modelDir, ids, decode, repeats, threads, igSteps, phases: phases.filter((p) => p !== 'load') });
    if (!torch.ok) log(`  PyTorch baseline ${torch.skipped ? 'skipped' : 'failed'}: ${torch.reason}`);
  }
  const tr = torch.ok ? torch.result : null;
  const targets = targetsFor(parameters);
  const rows: Row[] = buildRows(results, tr, targets, promptLen);
  const traffic = decodeTraffic(config, promptLen, decode);
  const decodeRow = rows.find((r) => r.metric === 'decode');
  const bound = bandwidth ? bandwidthBound(bandwidth.bestGBs, traffic.totalBytes) : null;
  const decodeBound = bandwidth && bound !== null
    ? {
      tokPerSec: bound, bandwidthGBs: bandwidth.bestGBs, bandwidthMethod: bandwidth.best, bytesPerToken: traffic,
      achieved: { llmdbg: decodeRow?.llmdbg != null ? decodeRow.llmdbg / bound : null, torch: decodeRow?.torchBest != null ? decodeRow.torchBest / bound : null },
    }
    : null;
  if (decodeRow && decodeBound) {
    rows.splice(rows.indexOf(decodeRow) + 1, 0, {
      metric: 'decode bound (bandwidth / bytes per token)', unit: 'tok/s', llmdbg: decodeBound.tokPerSec, torch1: decodeBound.tokPerSec, torchBest: decodeBound.tokPerSec,
      torchBestThreads: null, ratio: null, target: null, status: null, note: 'the same bound for both: every weight read once per token plus the KV cache',
    });
  }
  const checks: Check[] = tr ? parityChecks(results, tr) : [];
  const anyResult = Object.values(results)[0];
  const out = {
    info: {
      method: 'runtime-benchmark',
      parameters: { promptLen, decode, repeats, backend, igSteps: v.ig ? igSteps : null, promptSeed: 0 },
      model: { dir: modelDir, arch: config.arch, parameters, weightMB: targets.weightBytes / 2 ** 20 },
      backend: anyResult ? { name: anyResult.backend, threads: anyResult.threads } : null,
      date: started.toISOString(),
      durationMs: performance.now() - t0,
      machine: { ...machine, loadAvgEnd: loadavg() },
      memory: 'peak RSS = getrusage maxrss of the process doing the measurement (it includes the WASM heap, which never shrinks); MB = 2^20 bytes',
    },
    targets: { memoryBoundMB: targets.memoryBoundMB, decodeMinTokPerSec: targets.decodeMinTokPerSec },
    rows,
    checks,
    torch: torch.ok ? { ran: true, version: torch.result.torch, result: torch.result } : { ran: false, skipped: torch.skipped, reason: torch.reason },
    bandwidth: bandwidth ?? (bandwidthError ? { error: bandwidthError } : null),
    decodeBound,
    llmdbg: results,
    errors,
  };
  if (v.out) writeFileSync(v.out, JSON.stringify(out, null, 1) + '\n');
  if (json) {
    process.stdout.write(JSON.stringify(out) + '\n');
    return;
  }
  const p = results.prefill ?? results.load;
  const lines = [
    `llmdbg runtime benchmark, ${started.toISOString()}`,
    `model ${modelDir} (${config.arch}, ${(parameters / 1e6).toFixed(1)}M parameters, float32 weights ${(targets.weightBytes / 2 ** 20).toFixed(0)} MB)`,
    `backend ${anyResult?.backend ?? backend} (${anyResult?.threads ?? '?'} thread), prompt ${promptLen} tokens (Rng(0) ids), decode ${decode} steps, ${repeats} repeats (median)`,
    `machine ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}; load average ${machine.loadAvgStart[0]!.toFixed(2)} at start, ${loadavg()[0]!.toFixed(2)} at end`,
    torch.ok ? `PyTorch ${torch.result.torch} (same file, same ids, hand-written forward, threads ${v['torch-threads']})` : `PyTorch baseline ${torch.skipped ? 'skipped' : 'FAILED'}: ${torch.reason}`,
    '',
    formatTable(rows),
    '',
    ...(decodeBound ? [
      `decode bound: ${decodeBound.bandwidthGBs.toFixed(2)} GB/s (best copy: ${decodeBound.bandwidthMethod.method}, ${decodeBound.bandwidthMethod.threads} thr) / ${(traffic.totalBytes / 1e6).toFixed(1)} MB read per token ` +
        `(${(traffic.weightBytes / 1e6).toFixed(1)} MB float32 weights + ${(traffic.kvBytes / 1e6).toFixed(2)} MB KV cache at ${traffic.meanContext} positions on average) = ${decodeBound.tokPerSec.toFixed(2)} tok/s; ` +
        `achieved: llmdbg ${fmtPct(decodeBound.achieved.llmdbg)}, PyTorch ${fmtPct(decodeBound.achieved.torch)}`,
      formatBandwidth(bandwidth!),
      '',
    ] : bandwidthError ? [`decode bound not computed: ${bandwidthError}`, ''] : []),
    ...(rows.some((r) => r.cpu) ? ['CPU time of the same runs (user + system; less sensitive to other processes on the machine):', formatCpuTable(rows), ''] : []),
    ...(p ? [`memory after load: RSS ${p.memAfterLoad.rssMB.toFixed(0)} MB, WASM heap ${p.memAfterLoad.wasmHeapMB?.toFixed(0) ?? '-'} MB, tensors ${p.memAfterLoad.tensorMB.toFixed(0)} MB; before load ${p.memBeforeLoad.rssMB.toFixed(0)} MB`] : []),
    ...(['prefill', 'decode', 'saliency', 'ig'] as const).filter((k) => results[k]).map((k) => `  after ${k}: peak RSS ${results[k]!.memEnd.peakRssMB.toFixed(0)} MB, WASM heap ${results[k]!.memEnd.wasmHeapMB?.toFixed(0) ?? '-'} MB, leaked tensors ${results[k]!.leakedTensors}`),
    ...checks.map((c) => `parity ${c.ok ? 'OK  ' : 'FAIL'} ${c.name}: ${c.detail}`),
    ...Object.entries(errors).map(([k, e]) => `ERROR ${k}: ${e}`),
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

function fmtPct(x: number | null): string {
  return x === null ? '-' : `${(100 * x).toFixed(0)}%`;
}

function readUsage(): string {
  return 'npx tsx bench/runtime.ts [--model DIR | --shape gpt2-small|smollm-135m] [--prompt-len 64] [--decode 32] [--repeats 3]\n' +
    '    [--backend wasm|cpu|native|auto] [--ig] [--ig-steps 32] [--phases load,prefill,decode,saliency,ig]\n' +
    '    [--no-torch] [--torch-threads 1,2] [--no-bandwidth] [--bandwidth-mb 512] [--json] [--out FILE.json]\n' +
    'npx tsx bench/runtime.ts --max-model [--backend wasm] [--keep-models] [--json]   (slow: writes up to 6 GB of models)';
}

main().catch((e) => {
  process.stderr.write(`bench/runtime: ${(e as Error).message}\n`);
  process.exit(1);
});
