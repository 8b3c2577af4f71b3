// A REST server's graceful close, wherever it runs (rest.ts, a front-door
// thread's rest-door.ts): stop listening, answer what is in flight or
// arrives on connections already open, then drop the connections.
import http from 'node:http';
import net from 'node:net';

/** While draining, how long no new request must arrive (with none in flight) before connections are dropped. */
const QUIET_MS = 50;
const POLL_MS = 10;

/** What a server tells its drain: requests in flight, and when the last one arrived. */
export class RequestBook {
  readonly inFlight = new Set<Promise<void>>();
  lastRequestAt = 0;
  draining = false;

  /** Counts `task` (one request's handling) until it settles. */
  track(task: Promise<void>): void {
    this.lastRequestAt = Date.now();
    this.inFlight.add(task);
    const forget = () => this.inFlight.delete(task);
    task.then(forget, forget);
  }
}

/** Drains `server` for up to graceMs (book.draining makes answers ask for Connection: close), then closes it. */
export async function drain(server: http.Server, book: RequestBook, graceMs: number): Promise<void> {
  book.draining = true;
  const drainStart = Date.now();
  const deadline = drainStart + graceMs;
  // Connections and requests the kernel already holds are taken in before the listener closes.
  await new Promise((done) => setImmediate(done));
  // net.Server's close stops listening without dropping idle keep-alive connections,
  // on which a request may already be under way.
  const closed = new Promise<void>((done) => net.Server.prototype.close.call(server, () => done()));
  while (Date.now() < deadline) {
    const quietFor = Date.now() - Math.max(book.lastRequestAt, drainStart);
    if (book.inFlight.size === 0 && quietFor >= QUIET_MS) break;
    await new Promise((done) => setTimeout(done, Math.min(POLL_MS, Math.max(1, deadline - Date.now()))));
  }
  // Every request is answered (or the grace is over): drop the connections left.
  server.closeAllConnections();
  await closed;
}
