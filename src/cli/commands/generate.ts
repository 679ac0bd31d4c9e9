/**
 * `llmdbg generate`: continue a prompt (greedy or sampled), optionally recording a trace.
 */
import { float, int, parse, str } from '../args.js';
import { openSession, promptIds, runInfo } from '../context.js';
import { note, printJson, printLine } from '../output.js';
import { generate, resolveSampling } from '../../model/generate.js';
import { TraceWriter } from '../../debugger/trace.js';
import type { Command } from './types.js';

export const generateCommand: Command = {
  name: 'generate',
  summary: 'continue a prompt (greedy, temperature, top-k, top-p), optionally recording a trace',
  usage: `llmdbg generate [--model DIR] (--prompt TEXT | --ids 1,2,3) [--max-new-tokens N] [--temperature T]
                [--top-k K] [--top-p P] [--seed S] [--no-stop] [--trace FILE] [--json]
  Greedy unless --temperature > 0 (or --top-k/--top-p, which imply temperature 1).
  --trace FILE records every step (chosen id, probability, top candidates, generator state);
  check it later with \`llmdbg replay FILE\` and compare two with \`llmdbg diff A B\`.`,
  async run(argv) {
    const { values: v } = parse(argv, {
      'max-new-tokens': { type: 'string' }, temperature: { type: 'string' }, 'top-k': { type: 'string' },
      'top-p': { type: 'string' }, seed: { type: 'string' }, trace: { type: 'string' }, 'no-stop': { type: 'boolean' },
    }, 'generate');
    const maxNewTokens = int(v, 'max-new-tokens', 20, 1, 1_000_000);
    const seed = int(v, 'seed', 0, 0, 2 ** 32 - 1);
    const opts = {
      maxNewTokens, seed, stopAtEos: !v['no-stop'], topCandidates: 10,
      ...(float(v, 'temperature', undefined) !== undefined ? { temperature: float(v, 'temperature', 0)! } : {}),
      ...(str(v, 'top-k') !== undefined ? { topK: int(v, 'top-k', 0) } : {}),
      ...(str(v, 'top-p') !== undefined ? { topP: float(v, 'top-p', 1)! } : {}),
    };
    const sampling = resolveSampling(opts);
    const s = await openSession(v);
    const ids = promptIds(s.model, v, maxNewTokens);
    const tracePath = str(v, 'trace');
    const writer = tracePath
      ? new TraceWriter(tracePath, {
          format: 'llmdbg-trace', version: 1,
          model: { dir: s.model.source.dir, arch: s.model.config.arch, fingerprint: s.model.source.fingerprint },
          backend: s.backend.name, promptIds: ids,
          options: { ...sampling, seed, maxNewTokens, stopAtEos: opts.stopAtEos, topCandidates: opts.topCandidates },
        })
      : null;
    const t0 = performance.now();
    // stream the text as it is generated (human mode only)
    const all = [...ids];
    let shown = s.model.tokenizer ? s.model.decode(ids) : ids.join(' ');
    if (!v['json']) process.stdout.write(shown + (s.model.tokenizer ? '' : ' |'));
    let res;
    try {
      res = await generate(s.model, ids, opts, (step) => {
        writer?.step(step);
        all.push(step.id);
        if (v['json']) return;
        if (!s.model.tokenizer) return void process.stdout.write(` ${step.id}`);
        const full = s.model.decode(all);
        process.stdout.write(full.startsWith(shown) ? full.slice(shown.length) : `[${step.id}]`);
        shown = full;
      });
    } catch (e) {
      writer?.abandon();
      throw e;
    }
    writer?.finish({ stopReason: res.stopReason, ids: res.ids });
    const ms = performance.now() - t0;
    const text = s.model.tokenizer ? s.model.decode(res.ids) : null;
    const genPieces = s.model.tokenPieces(res.ids).slice(ids.length);
    if (v['json']) {
      printJson({
        ids: res.ids, generated: res.generated, text,
        steps: res.steps.map((st, i) => ({ id: st.id, token: genPieces[i], prob: st.prob })),
        stopReason: res.stopReason,
        info: runInfo(s, { sampling, seed, maxNewTokens, durationMs: Math.round(ms), trace: tracePath ?? null }),
      });
      return;
    }
    printLine();
    printLine();
    for (let i = 0; i < res.steps.length; i++) {
      const st = res.steps[i]!;
      printLine(`  ${String(i).padStart(3)}  ${String(st.id).padStart(6)}  p=${st.prob.toFixed(4)}  ${JSON.stringify(genPieces[i])}`);
    }
    note(`${res.generated.length} tokens in ${ms.toFixed(0)} ms (${((res.generated.length / ms) * 1000).toFixed(1)} tokens/s, ${s.backend.name}), stop: ${res.stopReason}${tracePath ? `, trace: ${tracePath}` : ''}`);
  },
};
