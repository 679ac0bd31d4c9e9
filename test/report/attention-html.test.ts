/**
 * The attention and patching pictures, rendered in headless Chromium (Debian's `chromium` driven
 * by `playwright-core`) and checked on the screenshot's pixels: every one of the nLayers x nHeads
 * grid panels shows query 0 -> key 0 dark and the masked corner white, the detail heatmap's cells
 * have the colour of their weight, hovering shows the value, clicking selects a head; patching
 * heatmap cells are blue where a patch restores the clean run. Skips when Chromium is absent.
 * Screenshots are left in $TMPDIR/llmdbg-attention-*.png for a person to look at.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { useTestBackend } from '../helpers/backend.js';
import { fixtureDir, golden } from '../helpers/fixtures.js';
import { loadModel, type Model } from '../../src/model/model.js';
import { attentionPatterns, headStats, type AttentionPatterns } from '../../src/methods/attention/heads.js';
import { attentionReportHtml } from '../../src/report/attention-html.js';
import { patchingReportHtml } from '../../src/report/patching-html.js';
import { activationPatching } from '../../src/methods/patching/activation.js';

const CHROMIUM = process.env['LLMDBG_CHROMIUM'] ?? '/usr/bin/chromium';

async function playwright(): Promise<any | null> {
  try {
    const spec = 'playwright-core';
    return await import(spec);
  } catch {
    return null;
  }
}
const pw = await playwright();
const skip = !existsSync(CHROMIUM) ? `Chromium not found at ${CHROMIUM} (apt-get install chromium, or set LLMDBG_CHROMIUM)` : !pw ? 'playwright-core is not installed (npm install)' : false;

/** Minimal PNG decoder (8-bit RGB/RGBA, non-interlaced): zlib-compressed, filtered scanlines. */
interface Png { width: number; height: number; channels: number; data: Uint8Array }
function decodePng(buf: Buffer): Png {
  assert.equal(buf.subarray(0, 8).toString('hex'), '89504e470d0a1a0a', 'PNG signature');
  let off = 8, width = 0, height = 0, channels = 0;
  const idat: Buffer[] = [];
  while (off < buf.length) {
    const len = buf.readUInt32BE(off);
    const type = buf.toString('ascii', off + 4, off + 8);
    const body = buf.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      assert.equal(body[8], 8, 'bit depth 8');
      channels = body[9] === 6 ? 4 : body[9] === 2 ? 3 : 0;
      assert.ok(channels > 0, `colour type ${body[9]}`);
      assert.equal(body[12], 0, 'not interlaced');
    } else if (type === 'IDAT') idat.push(body);
    else if (type === 'IEND') break;
    off += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const out = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)]!;
    const src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? out[y * stride + x - channels]! : 0;
      const b = y > 0 ? out[(y - 1) * stride + x]! : 0;
      const c = x >= channels && y > 0 ? out[(y - 1) * stride + x - channels]! : 0;
      let v = src[x]!;
      if (f === 1) v += a;
      else if (f === 2) v += b;
      else if (f === 3) v += (a + b) >> 1;
      else if (f === 4) {
        const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      out[y * stride + x] = v & 255;
    }
  }
  return { width, height, channels, data: out };
}
function pixel(img: Png, x: number, y: number): [number, number, number] {
  const i = (Math.round(y) * img.width + Math.round(x)) * img.channels;
  return [img.data[i]!, img.data[i + 1]!, img.data[i + 2]!];
}
/** The page's colour scale: white (0) -> rgb(33,102,172) (1). */
function expected(w: number): [number, number, number] {
  const t = Math.min(1, Math.max(0, w));
  return [Math.round(255 - t * 222), Math.round(255 - t * 153), Math.round(255 - t * 83)];
}
function near(a: number[], b: number[], tol: number, msg: string): void {
  assert.ok(a.every((x, i) => Math.abs(x - b[i]!) <= tol), `${msg}: got rgb(${a}) expected rgb(${b})`);
}
const luminance = (c: number[]) => 0.299 * c[0]! + 0.587 * c[1]! + 0.114 * c[2]!;

describe('attention and patching pictures in Chromium', { skip }, () => {
  let ctx: any;
  let page: any;
  let dir: string;
  let model: Model;
  let pats: AttentionPatterns;
  before(async () => {
    await useTestBackend();
    dir = mkdtempSync(join(tmpdir(), 'llmdbg-chromium-'));
    ctx = await pw.chromium.launchPersistentContext(dir, {
      executablePath: CHROMIUM, headless: true, viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = ctx.pages()[0] ?? (await ctx.newPage());
    model = loadModel(fixtureDir('gpt2-tiny'));
    pats = await attentionPatterns(model, golden('gpt2-tiny').ids[0]!);
  });
  after(async () => {
    await ctx?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function shot(name: string): Promise<Png> {
    const buf: Buffer = await page.screenshot({ fullPage: true });
    writeFileSync(join(tmpdir(), `llmdbg-attention-${name}.png`), buf);
    return decodePng(buf);
  }
  const boxes = (sel: string) => page.$$eval(sel, (els: Element[]) => els.map((e) => { const r = e.getBoundingClientRect(); return [r.left + window.scrollX, r.top + window.scrollY, r.width, r.height]; }));
  const w = (l: number, h: number, q: number, k: number) => pats.layers[l]![(h * pats.T + q) * pats.T + k]!;

  it('grid: nLayers x nHeads panels, each with query 0 -> key 0 dark and the masked corner white', async () => {
    const stats = await headStats(model, pats.ids, { patterns: pats, repLength: 6, repBatch: 2 });
    const html = attentionReportHtml({ title: 'gpt2-tiny attention', patterns: pats, stats, selected: { layer: 1, head: 3 } });
    writeFileSync(join(tmpdir(), 'llmdbg-attention.html'), html);
    await page.setContent(html);
    await page.waitForSelector('body[data-ready="1"]');
    const img = await shot('grid');
    const T = pats.T;
    const panels: number[][] = await boxes('.head canvas');
    const { nLayers, nHeads } = model.config;
    assert.equal(panels.length, nLayers * nHeads);
    panels.forEach(([x, y, wd], i) => {
      const cell = wd! / T;
      const l = Math.floor(i / nHeads), h = i % nHeads;
      near(pixel(img, x! + cell / 2, y! + cell / 2), expected(1), 2, `L${l}H${h} cell (0,0)`);
      near(pixel(img, x! + (T - 0.5) * cell, y! + cell / 2), [255, 255, 255], 0, `L${l}H${h} masked (0,${T - 1})`);
      near(pixel(img, x! + 1.5 * cell, y! + 2.5 * cell), expected(w(l, h, 2, 1)), 3, `L${l}H${h} cell (2,1)`);
    });
    // ranked tables are there, one per score
    assert.equal(await page.$$eval('.tables table', (t: Element[]) => t.length), Object.keys(stats.rankings).length);
  });

  it('detail heatmap: cells have the colour of their weight, masked cells are white, hover shows the value', async () => {
    const img = await shot('detail');
    const [[x, y, wd]] = await boxes('#detail');
    const T = pats.T, cell = wd / T;
    let best = [1, 0];
    for (let q = 1; q < T; q++) for (let k = 0; k <= q; k++) if (w(1, 3, q, k) > w(1, 3, best[0]!, best[1]!)) best = [q, k];
    const strong = pixel(img, x + (best[1]! + 0.5) * cell, y + (best[0]! + 0.5) * cell);
    near(strong, expected(w(1, 3, best[0]!, best[1]!)), 2, 'strongest cell');
    assert.ok(luminance(strong) < 200, `strongest cell is dark (luminance ${luminance(strong)})`);
    for (let q = 0; q < T; q++) for (let k = q + 1; k < T; k++) near(pixel(img, x + (k + 0.5) * cell, y + (q + 0.5) * cell), [255, 255, 255], 0, `masked (${q},${k})`);
    for (let q = 0; q < T; q++) for (let k = 0; k <= q; k++) near(pixel(img, x + (k + 0.5) * cell, y + (q + 0.5) * cell), expected(w(1, 3, q, k)), 3, `cell (${q},${k})`);
    await page.mouse.move(x + 1.5 * cell, y + 3.5 * cell);
    const tip: string = await page.$eval('#tip', (e: HTMLElement) => e.textContent);
    assert.ok(tip.includes(`L1H3  query 3`) && tip.includes('key 1') && tip.includes(w(1, 3, 3, 1).toFixed(4)), tip);
    assert.equal(await page.$eval('#sel-name', (e: HTMLElement) => e.textContent), 'L1H3');
    // line view: one line per weight >= 0.01, opacity = weight
    let n = 0;
    for (let q = 0; q < T; q++) for (let k = 0; k <= q; k++) if (Math.round(w(1, 3, q, k) * 1e4) / 1e4 >= 0.01) n++;
    assert.equal(await page.$$eval('#lines line', (l: Element[]) => l.length), n);
    const op = Number(await page.$eval(`#lines line[data-q="${best[0]}"][data-k="${best[1]}"]`, (e: Element) => e.getAttribute('stroke-opacity')));
    assert.ok(Math.abs(op - w(1, 3, best[0]!, best[1]!)) < 1e-3);
  });

  it('clicking a grid panel selects that head', async () => {
    await page.click('.head[data-layer="0"][data-head="2"]');
    assert.equal(await page.$eval('#sel-name', (e: HTMLElement) => e.textContent), 'L0H2');
    const img = await shot('selected');
    const [[x, y, wd]] = await boxes('#detail');
    const cell = wd / pats.T;
    for (let q = 0; q < pats.T; q++) near(pixel(img, x + 0.5 * cell, y + (q + 0.5) * cell), expected(w(0, 2, q, 0)), 3, `L0H2 (${q},0)`);
  });

  it('patching heatmap: restored cells are blue, unaffected cells white, undefined cells grey', async () => {
    const g = golden('gpt2-tiny').patching!;
    const r = await activationPatching(model, g.clean_ids[0]!, g.corrupt_ids[0]!, { kind: 'resid_pre' });
    const same = await activationPatching(model, g.clean_ids[0]!, g.clean_ids[0]!, { kind: 'resid_pre' });
    const html = patchingReportHtml('patching', [
      { title: 'resid_pre', metric: 'logit difference', rows: r.rows, cols: r.cols, colTokens: r.tokens.clean, values: r.values, recovered: r.recovered },
      { title: 'identical prompts', metric: 'logit difference', rows: same.rows, cols: same.cols, values: same.values, recovered: same.recovered },
    ]);
    await page.setContent(html);
    const img = await shot('patching');
    const cells: number[][] = await boxes('section.heatmap[data-index="0"] td.cell');
    assert.equal(cells.length, r.rows.length * r.cols.length);
    const T = r.cols.length;
    cells.forEach(([x, y, wd, ht], i) => {
      const rec = r.recovered[Math.floor(i / T)]![i % T]!;
      const c = pixel(img, x! + wd! / 2, y! + ht! / 2);
      if (Math.abs(rec - 1) < 1e-3) near(c, [33, 102, 172], 2, `cell ${i} restored`);
      if (Math.abs(rec) < 1e-3) near(c, [255, 255, 255], 1, `cell ${i} unaffected`);
    });
    assert.ok(r.recovered.flat().some((v) => Math.abs(v! - 1) < 1e-3) && r.recovered.flat().some((v) => Math.abs(v!) < 1e-3), 'both kinds of cells exist');
    const grey: number[][] = await boxes('section.heatmap[data-index="1"] td.cell');
    for (const [x, y, wd, ht] of grey) near(pixel(img, x! + wd! / 2, y! + ht! / 2), [200, 200, 200], 1, 'undefined cell');
  });
});
