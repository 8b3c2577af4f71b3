// A request's "give up" switch (gRPC calls, REST requests), made only in
// the form a handler asks for: an AbortController costs ~10 µs to build
// (measured on the 2-core machine), a good part of a hot-path request's
// main-thread work, and most requests are never given up. The hot path
// needs only the shared cancel flag the engine's threads read; other
// handlers (and REST's deadline) take a signal.
import { newSharedFlag } from '../engine/cancellation';

export class CallAbort {
  private controller: AbortController | null = null;
  private flag: Int32Array | null = null;
  private given = false;
  private why: unknown = undefined;

  /** True once abort() was called. */
  get aborted(): boolean {
    return this.given;
  }

  /** An AbortSignal that aborts with the call (made on first use). */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.given) this.controller.abort(this.why);
    }
    return this.controller.signal;
  }

  /** A shared Int32 flag set to 1 with the call (made on first use): runs that have not started never start. */
  get cancelFlag(): Int32Array {
    if (!this.flag) {
      this.flag = newSharedFlag();
      if (this.given) Atomics.store(this.flag, 0, 1);
    }
    return this.flag;
  }

  /** Gives the call up; `reason` becomes the signal's reason (an AbortError by default). */
  abort(reason?: unknown): void {
    if (this.given) return;
    this.given = true;
    this.why = reason;
    if (this.flag) Atomics.store(this.flag, 0, 1);
    this.controller?.abort(reason);
  }
}
