// Deadlines and AbortSignals for predictions. A run that has not started
// when its caller gives up never starts (the addon checks a shared flag);
// one already running finishes, but its caller has been answered already.
import { TfServeError } from './errors';

/** An Int32 flag in shared memory: threads and the addon's scheduler threads read it. */
export function newSharedFlag(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4));
}

/** Whether the caller holding `token` gave up (no token: it cannot). */
export function isCancelled(token: Int32Array | undefined): boolean {
  return token !== undefined && Atomics.load(token, 0) !== 0;
}

function cancelRun(token: Int32Array | undefined): void {
  if (token) Atomics.store(token, 0, 1);
}

export interface CallerLimits {
  /** Answer DEADLINE_EXCEEDED once this many milliseconds have passed. */
  timeoutMs?: number;
  /** Answer CANCELLED when this aborts. */
  signal?: AbortSignal;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

function checkTimeout(timeoutMs: number | undefined): void {
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

const cancelledError = () => new TfServeError('CANCELLED', 'the request was cancelled');

/**
 * Starts `work`, with a cancel token when the caller can give up (a token is
 * only worth its allocation then), and settles with it, or rejects at once
 * when the caller's deadline passes or its signal aborts.
 */
export function callerLimited<T>(limits: CallerLimits, work: (token: Int32Array | undefined) => Promise<T>): Promise<T> {
  const { signal, timeoutMs } = limits;
  try {
    checkTimeout(timeoutMs);
  } catch (error) {
    return Promise.reject(error);
  }
  if (!signal && timeoutMs === undefined) return work(undefined);
  if (signal?.aborted) return Promise.reject(cancelledError());
  const token = newSharedFlag();
  const running = work(token);
  return new Promise<T>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    let unsubscribe: (() => void) | undefined;
    const giveUp = (error: TfServeError) => {
      cancelRun(token);
      cleanup();
      reject(error);
    };
    const cleanup = () => {
      if (timer) clearTimeout(timer);
      unsubscribe?.();
    };
    running.then(
      (value) => {
        cleanup();
        resolve(value);
      },
      (error: unknown) => {
        cleanup();
        reject(error);
      },
    );
    if (signal) unsubscribe = onAbort(signal, () => giveUp(cancelledError()));
    // setTimeout fires at once for delays past 2^31-1 ms (~24.8 days): such a deadline is no deadline.
    if (timeoutMs !== undefined && timeoutMs <= MAX_TIMER_MS) {
      timer = setTimeout(() => giveUp(new TfServeError('DEADLINE_EXCEEDED', `the request's deadline of ${timeoutMs} ms passed`)), timeoutMs);
    }
  });
}
