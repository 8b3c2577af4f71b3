// Deadlines and AbortSignals for predictions. A run that has not started
// when its caller gives up never starts (the addon checks a shared flag);
// one already running finishes, but its caller has been answered already.
import { TfServeError } from './errors';

/** A flag the addon reads from its scheduler threads; shareable with worker threads. */
export function newCancelToken(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4));
}

export function cancelRun(token: Int32Array | undefined): void {
  if (token) Atomics.store(token, 0, 1);
}

export interface CallerLimits {
  /** Answer DEADLINE_EXCEEDED once this many milliseconds have passed. */
  timeoutMs?: number;
  /** Answer CANCELLED when this aborts. */
  signal?: AbortSignal;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

/** A token is only worth its allocation when the caller can give up. */
export function needsCancelToken(limits: CallerLimits): boolean {
  return limits.signal !== undefined || limits.timeoutMs !== undefined;
}

export function checkTimeout(timeoutMs: number | undefined): void {
  if (timeoutMs !== undefined && !(Number.isFinite(timeoutMs) && timeoutMs >= 0)) {
    throw new TfServeError('INVALID_ARGUMENT', `timeoutMs must be a non-negative number, got ${timeoutMs}`);
  }
}

// One 'abort' listener per signal, whatever the number of requests sharing
// it (a signal that cancels a whole batch of requests is common, and Node
// warns past 10 listeners on one EventTarget).
const waiters = new WeakMap<AbortSignal, Set<() => void>>();

function onAbort(signal: AbortSignal, callback: () => void): () => void {
  let set = waiters.get(signal);
  if (!set) {
    const callbacks = new Set<() => void>();
    set = callbacks;
    waiters.set(signal, callbacks);
    signal.addEventListener('abort', () => {
      waiters.delete(signal);
      for (const call of callbacks) call();
    }, { once: true });
  }
  set.add(callback);
  return () => set!.delete(callback);
}

/** Settles with `work`, or rejects at once when the caller's deadline passes or its signal aborts. */
export function withCallerLimits<T>(work: Promise<T>, token: Int32Array | undefined, limits: CallerLimits): Promise<T> {
  const { signal, timeoutMs } = limits;
  if (!signal && timeoutMs === undefined) return work;
  return new Promise<T>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    let unsubscribe: (() => void) | undefined;
    const giveUp = (error: TfServeError) => {
      cancelRun(token);
      cleanup();
      reject(error);
    };
    const cancelled = () => giveUp(new TfServeError('CANCELLED', 'the request was cancelled'));
    const cleanup = () => {
      if (timer) clearTimeout(timer);
      unsubscribe?.();
    };
    work.then(
      (value) => {
        cleanup();
        resolve(value);
      },
      (error: unknown) => {
        cleanup();
        reject(error);
      },
    );
    if (signal?.aborted) return cancelled();
    if (signal) unsubscribe = onAbort(signal, cancelled);
    // setTimeout fires at once for delays past 2^31-1 ms (~24.8 days): such a deadline is no deadline.
    if (timeoutMs !== undefined && timeoutMs <= MAX_TIMER_MS) {
      timer = setTimeout(() => giveUp(new TfServeError('DEADLINE_EXCEEDED', `the request's deadline of ${timeoutMs} ms passed`)), timeoutMs);
    }
  });
}
