// A front-door thread's servers listen on the thread's own descriptor of a
// socket the main thread bound (front-doors.ts): node:net adopts it.
import type net from 'node:net';

/** Resolves once `server` listens on descriptor `fd`; rejects with the listen error. */
export function adoptSocket(server: net.Server, fd: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ fd }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
