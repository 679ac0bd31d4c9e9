/**
 * One error type for the whole library: `LlmdbgError` with a stable `code`.
 *
 * The CLI prints `error[<code>]: <message>` plus the hint on one line and exits non-zero; the
 * library throws and never prints. Messages name the offending value and the way out.
 * Codes are part of the public contract: add new ones, never rename old ones.
 */

export const ERROR_CODES = [
  // files and formats
  'file_not_found',
  'safetensors_header_too_small',
  'safetensors_header_too_large',
  'safetensors_invalid_header_length',
  'safetensors_invalid_header',
  'safetensors_invalid_offset',
  'safetensors_invalid_info',
  'safetensors_overflow',
  'safetensors_incomplete_buffer',
  'safetensors_duplicate_name',
  'safetensors_unsupported_dtype',
  'tensor_not_found',
  'unsafe_format',
  'invalid_config',
  'unsupported_config',
  'missing_weight',
  'unexpected_weight',
  'weight_shape_mismatch',
  'tokenizer_error',
  'no_tokenizer',
  // inputs
  'invalid_argument',
  'token_out_of_range',
  'prompt_too_long',
  'empty_prompt',
  'unknown_hook',
  'hook_shape_mismatch',
  'unknown_method',
  'trace_invalid',
  // runtime
  'backend_unavailable',
  'no_model',
  'aborted',
  'internal',
  // appended: formats and files
  'safetensors_invalid_index',
  'write_failed',
  // appended: attention debugging (interventions, patching)
  'invalid_spec',
  'prompt_length_mismatch',
  // appended: forward-pass debugger (breakpoints, edits, dumps)
  'invalid_condition',
  'invalid_slice',
  'not_paused',
  'dump_invalid',
  // appended: trainer (datasets, checkpoints)
  'invalid_dataset',
  'invalid_checkpoint',
  'training_diverged',
  // appended: runtime limits
  'model_too_large',
  // appended: adversarial attacks and hardening
  'invalid_goal',
  'empty_vocabulary',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export class LlmdbgError extends Error {
  readonly code: ErrorCode;
  /** What the user can do about it; printed after the message. */
  readonly hint?: string;
  /** Structured details (file, tensor, value...) for JSON consumers. */
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, opts: { hint?: string; details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'LlmdbgError';
    this.code = code;
    this.hint = opts.hint;
    this.details = opts.details;
  }

  /** The one-line form the CLI prints. */
  oneLine(): string {
    const msg = this.message.replace(/\s*\n\s*/g, ' ');
    return `error[${this.code}]: ${msg}${this.hint ? ` (${this.hint.replace(/\s*\n\s*/g, ' ')})` : ''}`;
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, hint: this.hint, ...(this.details ? { details: this.details } : {}) };
  }
}

/** Throws `LlmdbgError(code, msg())` unless `cond`; the message is built only on failure. */
export function check(cond: unknown, code: ErrorCode, msg: () => string, hint?: string): asserts cond {
  if (!cond) throw new LlmdbgError(code, msg(), hint === undefined ? {} : { hint });
}

/** Levenshtein distance, for "did you mean" suggestions. */
export function editDistance(a: string, b: string): number {
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/** The `n` candidates closest to `name`, closest first. */
export function closest(name: string, candidates: Iterable<string>, n = 3): string[] {
  return [...candidates]
    .map((c) => ({ c, d: editDistance(name, c) }))
    .sort((x, y) => x.d - y.d || x.c.localeCompare(y.c))
    .slice(0, n)
    .map((x) => x.c);
}
