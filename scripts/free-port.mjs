// A free TCP port on 127.0.0.1, for the servers the scripts and the bench start.
import net from 'node:net';

/** @returns {Promise<number>} a port nothing listens on (the OS's pick, released again) */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Two distinct free ports (gRPC and REST). */
export async function freePortPair() {
  const first = await freePort();
  let second = await freePort();
  while (second === first) second = await freePort();
  return [first, second];
}
