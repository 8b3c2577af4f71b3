/** TensorFlow's canonical status codes (but OK), carried as `error.code`. */
const STATUS_CODES = [
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'UNAUTHENTICATED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
] as const;

export type StatusCode = (typeof STATUS_CODES)[number];

const KNOWN_CODES: ReadonlySet<string> = new Set(STATUS_CODES);

/** Every error tfserve raises: TF's status name in `code`, TF's message or ours. */
export class TfServeError extends Error {
  readonly code: StatusCode;

  constructor(code: StatusCode, message: string) {
    super(message);
    this.name = 'TfServeError';
    this.code = code;
  }

  /** Wraps an error from the native addon (which carries `code`) or anything else as INTERNAL. */
  static from(error: unknown): TfServeError {
    if (error instanceof TfServeError) return error;
    if (error instanceof Error) {
      const code = (error as Error & { code?: unknown }).code;
      // Only TF status names pass through; Node's own codes (ENOENT, ERR_...) are INTERNAL.
      const wrapped = new TfServeError(typeof code === 'string' && KNOWN_CODES.has(code) ? (code as StatusCode) : 'INTERNAL', error.message);
      wrapped.stack = error.stack;
      return wrapped;
    }
    return new TfServeError('INTERNAL', String(error));
  }
}

export function invalidArgument(message: string): TfServeError {
  return new TfServeError('INVALID_ARGUMENT', message);
}
