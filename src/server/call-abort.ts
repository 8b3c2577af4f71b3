// A call's "give up" switch, made only in the form a handler asks for: an
// AbortController costs ~10 µs to build (measured on the 2-core machine),
// more than the rest of a hot-path request's own work on the main thread,
// and most calls are never cancelled. The hot path needs only the shared
// cancel flag the engine's threads read; other handlers take a signal.
import { newSharedFlag } from '../engine/cancellation';

export class CallAbort {
  private controller: AbortController | null = null;
  private flag: Int32Array | null = null;
  private given = false;

  /** True once abort() was called. */
  get aborted(): boolean {
    return this.given;
  }

  /** An AbortSignal that aborts with the call (made on first use). */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.given) this.controller.abort();
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

  abort(): void {
    if (this.given) return;
    this.given = true;
    if (this.flag) Atomics.store(this.flag, 0, 1);
    this.controller?.abort();
  }
}
