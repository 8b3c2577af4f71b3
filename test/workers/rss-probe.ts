// Prints the process RSS after an Engine with N workers (argv[2]) loaded a
// model (argv[3]) and every worker predicted with it.
import { Engine, addon } from '../../src';

async function main(): Promise<void> {
  const workers = Number(process.argv[2]);
  const engine = await Engine.create({ workers });
  const model = await engine.load(process.argv[3]!);
  const x = new Float32Array(4096).fill(0.5);
  // Enough concurrent requests that every worker picks some up and loads.
  for (let round = 0; round < 5; round++) {
    await Promise.all(Array.from({ length: 8 * Math.max(1, workers) }, () => model.predict({ x: { shape: [1, 4096], data: x } })));
  }
  const report = { rss: process.memoryUsage().rss, liveSessions: addon.liveSessions(), threads: engine.threads.length };
  process.stdout.write(`${JSON.stringify(report)}\n`);
  await engine.close();
}

main().catch((error: Error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exit(1);
});
