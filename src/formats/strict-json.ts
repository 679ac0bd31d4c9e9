/**
 * A minimal strict JSON (RFC 8259) parser for untrusted file headers.
 *
 * Unlike `JSON.parse` it reports duplicate object keys, keeps numbers as their raw text (so callers can
 * reject integers above 2^53 instead of silently rounding them), stores objects in `Map`s (a key named
 * `__proto__` is just a key), rejects lone surrogate escapes and bounds nesting depth.
 * Non-goals: speed records, streaming, reviving values into plain JS objects.
 */

export type JsonValue =
  | { readonly kind: 'object'; readonly entries: Map<string, JsonValue>; readonly pos: number }
  | { readonly kind: 'array'; readonly items: JsonValue[]; readonly pos: number }
  | { readonly kind: 'string'; readonly value: string; readonly pos: number }
  | { readonly kind: 'number'; readonly raw: string; readonly pos: number }
  | { readonly kind: 'bool'; readonly value: boolean; readonly pos: number }
  | { readonly kind: 'null'; readonly pos: number };

export type StrictJsonErrorKind = 'syntax' | 'duplicate_key' | 'too_deep' | 'trailing';

/** Thrown by `parseStrictJson`; callers translate it into an `LlmdbgError` that names their file. */
export class StrictJsonError extends Error {
  constructor(
    readonly kind: StrictJsonErrorKind,
    message: string,
    /** Character index in the input where the problem was found. */
    readonly pos: number,
    /** For `duplicate_key`: the repeated key and the keys of the enclosing objects, outermost first. */
    readonly key?: string,
    readonly path?: readonly string[],
  ) {
    super(message);
    this.name = 'StrictJsonError';
  }
}

const NUMBER_RE = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

export function describeChar(text: string, pos: number): string {
  if (pos >= text.length) return 'end of input';
  const c = text.codePointAt(pos)!;
  const hex = `U+${c.toString(16).toUpperCase().padStart(4, '0')}`;
  return c >= 0x20 && c !== 0x7f ? `'${String.fromCodePoint(c)}' (${hex})` : hex;
}

/** Parses `text` as exactly one JSON value surrounded by optional JSON whitespace (space, tab, CR, LF). */
export function parseStrictJson(text: string, opts: { maxDepth?: number } = {}): JsonValue {
  const maxDepth = opts.maxDepth ?? 64;
  let i = 0;
  const keyPath: string[] = [];

  const fail = (kind: StrictJsonErrorKind, msg: string, at = i): never => {
    throw new StrictJsonError(kind, `${msg} at character ${at}`, at);
  };
  const ws = (): void => {
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else return;
    }
  };
  const hex4 = (at: number): number => {
    const h = text.slice(at, at + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(h)) fail('syntax', 'invalid \\u escape', at);
    return parseInt(h, 16);
  };
  const str = (): string => {
    // Precondition: text[i] === '"'.
    i++;
    let out = '';
    let start = i;
    for (;;) {
      if (i >= text.length) fail('syntax', 'unterminated string');
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        out += text.slice(start, i);
        i++;
        return out;
      }
      if (c < 0x20) fail('syntax', `unescaped control character ${describeChar(text, i)} in string`);
      if (c !== 0x5c) {
        i++;
        continue;
      }
      out += text.slice(start, i);
      const e = text[i + 1];
      if (e === 'u') {
        const u = hex4(i + 2);
        i += 6;
        if (u >= 0xdc00 && u <= 0xdfff) fail('syntax', 'lone low surrogate escape', i - 6);
        if (u >= 0xd800 && u <= 0xdbff) {
          if (text[i] !== '\\' || text[i + 1] !== 'u') fail('syntax', 'lone high surrogate escape', i - 6);
          const lo = hex4(i + 2);
          if (lo < 0xdc00 || lo > 0xdfff) fail('syntax', 'lone high surrogate escape', i - 6);
          out += String.fromCharCode(u, lo);
          i += 6;
        } else {
          out += String.fromCharCode(u);
        }
      } else if (e !== undefined && Object.hasOwn(ESCAPES, e)) {
        out += ESCAPES[e]!;
        i += 2;
      } else {
        fail('syntax', 'invalid escape sequence');
      }
      start = i;
    }
  };
  const value = (depth: number): JsonValue => {
    ws();
    const pos = i;
    const c = text[i];
    if (c === '{' || c === '[') {
      if (depth >= maxDepth) fail('too_deep', `nesting deeper than ${maxDepth} levels`);
      i++;
      ws();
      if (c === '[') {
        const items: JsonValue[] = [];
        if (text[i] === ']') {
          i++;
          return { kind: 'array', items, pos };
        }
        for (;;) {
          items.push(value(depth + 1));
          ws();
          if (text[i] === ',') i++;
          else if (text[i] === ']') {
            i++;
            return { kind: 'array', items, pos };
          } else fail('syntax', `expected ',' or ']' but found ${describeChar(text, i)}`);
        }
      }
      const entries = new Map<string, JsonValue>();
      if (text[i] === '}') {
        i++;
        return { kind: 'object', entries, pos };
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('syntax', `expected a string key but found ${describeChar(text, i)}`);
        const keyPos = i;
        const key = str();
        if (entries.has(key)) {
          throw new StrictJsonError('duplicate_key', `duplicate key ${JSON.stringify(key)} at character ${keyPos}`, keyPos, key, [...keyPath]);
        }
        ws();
        if (text[i] !== ':') fail('syntax', `expected ':' but found ${describeChar(text, i)}`);
        i++;
        keyPath.push(key);
        entries.set(key, value(depth + 1));
        keyPath.pop();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') {
          i++;
          return { kind: 'object', entries, pos };
        } else fail('syntax', `expected ',' or '}' but found ${describeChar(text, i)}`);
      }
    }
    if (c === '"') return { kind: 'string', value: str(), pos };
    if (text.startsWith('true', i)) {
      i += 4;
      return { kind: 'bool', value: true, pos };
    }
    if (text.startsWith('false', i)) {
      i += 5;
      return { kind: 'bool', value: false, pos };
    }
    if (text.startsWith('null', i)) {
      i += 4;
      return { kind: 'null', pos };
    }
    NUMBER_RE.lastIndex = i;
    const m = NUMBER_RE.exec(text);
    if (m) {
      i += m[0].length;
      return { kind: 'number', raw: m[0], pos };
    }
    return fail('syntax', `expected a value but found ${describeChar(text, i)}`);
  };

  const root = value(0);
  ws();
  if (i < text.length) fail('trailing', `unexpected ${describeChar(text, i)} after the JSON value (only spaces, tabs, CR and LF may follow)`);
  return root;
}
