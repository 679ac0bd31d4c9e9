/**
 * `llmdbg demo` (what `npm start` runs): the bundled demo model on a few prompts covering its
 * known behaviours, with each generated token's probability and the held-out scores, written to
 * one self-contained HTML report whose path it prints.
 */
import { join, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { parse, str } from '../args.js';
import { openSession, runInfo } from '../context.js';
import { note, printJson, printLine } from '../output.js';
import { generate } from '../../model/generate.js';
import { evaluateSuite, readSuite, type SuiteItem } from '../../methods/eval/suite.js';
import { writeFileAtomic } from '../../util/atomic-write.js';
import { escapeHtml, page } from '../../report/html.js';
import { GENERATION_CSS, generationHtml } from '../../report/generation-html.js';
import type { Model } from '../../model/model.js';
import { attribute } from '../../methods/attribution/attribute.js';
import { attributionFragment } from '../../report/attribution-html.js';
import { attentionPatterns, headStats } from '../../methods/attention/heads.js';
import { attentionReportHtml } from '../../report/attention-html.js';
import type { Command } from './types.js';

interface DemoPrompt {
  behaviour: string;
  prompt: string;
  expected?: string;
}

/** One prompt per behaviour from the model's suite (held-out items), else fixed examples. */
function demoPrompts(model: Model, items: SuiteItem[] | null): DemoPrompt[] {
  const out: DemoPrompt[] = [];
  const seen = new Set<string>();
  for (const it of items ?? []) {
    if (seen.has(it.behaviour)) continue;
    if (it.behaviour === 'induction') {
      const half = it.ids!.slice(0, it.ids!.length / 2);
      const text = model.decode([...half, ...half.slice(0, 3)]);
      out.push({ behaviour: 'induction', prompt: text, expected: model.decode([half[3]!]) });
    } else if (it.prompt !== undefined) out.push({ behaviour: it.behaviour, prompt: it.prompt, ...(it.expected ? { expected: it.expected } : {}) });
    seen.add(it.behaviour);
  }
  return out;
}

export const demoCommand: Command = {
  name: 'demo',
  summary: 'run the bundled demo model on prompts that show its behaviours; write an HTML report',
  usage: `llmdbg demo [--model DIR] [--out FILE.html] [--json]
  Uses the bundled demo model unless --model is given. Writes llmdbg-demo.html (or --out).`,
  async run(argv) {
    const { values: v } = parse(argv, { out: { type: 'string' } }, 'demo');
    const t0 = performance.now();
    const s = await openSession(v);
    const m = s.model;
    const suitePath = join(m.source.dir, 'eval-suite.jsonl');
    const items = existsSync(suitePath) ? readSuite(suitePath) : null;
    const prompts = demoPrompts(m, items);
    const sections: string[] = [];
    const results: unknown[] = [];

    // 1) generations with per-token probabilities
    const gens: string[] = [];
    for (const p of prompts) {
      const ids = m.encode(p.prompt);
      const res = await generate(m, ids, { maxNewTokens: 8, topCandidates: 5 });
      const pieces = m.tokenPieces(res.ids).slice(ids.length);
      const tokens = res.steps.map((st, i) => ({ text: pieces[i]!, prob: st.prob, top: st.top.map((c) => ({ text: m.tokenPieces([c.id])[0]!, prob: c.prob })) }));
      results.push({ behaviour: p.behaviour, prompt: p.prompt, expected: p.expected ?? null, generated: pieces.join(''), tokens: tokens.map((t) => ({ text: t.text, prob: t.prob })) });
      gens.push(`<h3>${escapeHtml(p.behaviour)}</h3>${p.expected ? `<div class="meta">expected next word: ${escapeHtml(JSON.stringify(p.expected))}</div>` : ''}${generationHtml(m.decode(ids), tokens)}`);
      if (!v['json']) printLine(`[${p.behaviour}] ${m.decode(ids)}\x1b[1m${pieces.join('')}\x1b[0m  (${tokens.map((t) => t.prob.toFixed(2)).join(' ')})`);
    }
    sections.push(`<section><h2>Generations</h2><div class="meta">Greedy continuations; each token is shaded by its probability (hover for the alternatives).</div>${gens.join('')}</section>`);

    // 2) which prompt tokens drove each behaviour's first generated token (integrated gradients)
    const attributions: string[] = [];
    for (const p of prompts.filter((x) => x.behaviour !== 'induction')) {
      const ids = m.encode(p.prompt);
      const pad = m.config.padTokenId;
      const r = await attribute(m, { ids, method: 'integrated-gradients', steps: 32, ...(pad !== null ? { baseline: { kind: 'token', id: pad, name: 'pad' } } : {}) });
      attributions.push(attributionFragment(r, `${p.behaviour}: integrated gradients (32 steps, ${pad !== null ? 'pad' : 'zero'} baseline)`));
    }
    if (attributions.length > 0) sections.push(`<section><h2>Input attribution</h2><div class="meta">How much each prompt token contributed to the log-probability of the predicted next token.</div>${attributions.join('')}</section>`);

    // 3) every attention head on the induction prompt (the full interactive view, embedded)
    const ind = prompts.find((x) => x.behaviour === 'induction') ?? prompts[0];
    if (ind) {
      const ids = m.encode(ind.prompt);
      const patterns = await attentionPatterns(m, ids);
      const stats = await headStats(m, ids, { patterns });
      const top = stats.rankings['rep.induction']?.[0];
      const view = attentionReportHtml({ title: `Attention on the ${ind.behaviour} prompt`, patterns, stats, selected: top ? { layer: top.layer, head: top.head } : { layer: 0, head: 0 }, topHeads: 5 });
      sections.push(`<section><h2>Attention</h2><div class="meta">Every head on the ${escapeHtml(ind.behaviour)} prompt; the head with the highest induction score on repeated random sequences is selected. Click a head to inspect it.</div><iframe class="embed" title="attention" sandbox="allow-scripts" srcdoc="${escapeHtml(view)}"></iframe></section>`);
    }

    // 4) held-out scores
    let scores = null;
    if (items) {
      scores = await evaluateSuite(m, items);
      const rows = Object.entries(scores.byBehaviour).map(([b, x]) => `<tr><td>${escapeHtml(b)}</td><td class="num">${x.n}</td><td class="num">${(100 * x.accuracy).toFixed(1)}%</td></tr>`);
      const ind = scores.induction ? `<p>Induction: loss on a repeated random sequence falls from ${scores.induction.firstLoss.toFixed(3)} to ${scores.induction.secondLoss.toFixed(3)} nats (${(100 * scores.induction.ratio).toFixed(1)}% of the first occurrence).</p>` : '';
      sections.push(`<section><h2>Held-out scores</h2><table><tr><th>behaviour</th><th class="num">items</th><th class="num">top-1</th></tr>${rows.join('')}</table>${ind}</section>`);
      if (!v['json']) {
        printLine(Object.entries(scores.byBehaviour).map(([b, x]) => `${b} ${(100 * x.accuracy).toFixed(1)}%`).join(', ') + (scores.induction ? `, induction loss ratio ${(100 * scores.induction.ratio).toFixed(1)}%` : ''));
      }
    }

    const out = resolve(str(v, 'out') ?? 'llmdbg-demo.html');
    const c = m.config;
    const html = page('llmdbg demo', sections.join('\n'), {
      css: GENERATION_CSS + ' iframe.embed { width: 100%; height: 1400px; border: 1px solid #d9dee7; border-radius: 6px; }',
      subtitle: `${m.source.dir}: ${c.arch}, ${(m.nParams / 1e6).toFixed(2)}M parameters, ${c.nLayers} layers x ${c.nHeads} heads; backend ${s.backend.name}`,
    });
    await writeFileAtomic(out, html);
    const durationMs = Math.round(performance.now() - t0);
    if (v['json']) return printJson({ report: out, prompts: results, scores, info: runInfo(s, { durationMs }) });
    printLine(`report: ${out}`);
    note(`done in ${(durationMs / 1000).toFixed(1)} s`);
  },
};
