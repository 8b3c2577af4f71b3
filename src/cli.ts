#!/usr/bin/env node
// tfserve: a drop-in tensorflow_model_server.
//   tfserve --port=8500 --rest_api_port=8501 --model_name=NAME --model_base_path=DIR
import { demoFlags, demoInstructions, writeDemoRequest } from './server/demo';
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { native } from './engine/native';
import { FlagError, type ServerFlags, helpText, inertFlagNotices, parseCommandLine } from './server/flags';
import { startServer } from './server/server';

/** Exit codes: 0 after a clean shutdown, 1 when the server cannot start, 2 for a bad command line. */
async function main(argv: string[]): Promise<number> {
  let flags: ServerFlags;
  try {
    const parsed = parseCommandLine(argv);
    if (parsed.help) {
      console.log(helpText());
      return 0;
    }
    if (parsed.flags.version) {
      // tensorflow_model_server's two lines, with tfserve's version in the first.
      const pkg = JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
      console.log(`TensorFlow ModelServer: tfserve-${pkg.version}\nTensorFlow Library: ${native.tfVersion()}`);
      return 0;
    }
    flags = parsed.flags.demo ? demoFlags(parsed.flags, parsed.given) : parsed.flags;
    for (const notice of inertFlagNotices(parsed.given, parsed.flags)) console.log(notice);
  } catch (error) {
    console.error(`tfserve: ${(error as Error).message}`);
    if (error instanceof FlagError) {
      console.error('Run tfserve --help for the flags.');
      return 2;
    }
    return 1;
  }

  const log = (line: string) => console.log(line);
  const starting = startServer(flags, { log });
  // Handlers go in before the server is up, so a signal during startup also drains and exits 0.
  let signalled = false;
  const stopped = new Promise<number>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      if (signalled) {
        console.error(`tfserve: ${signal} again, exiting without waiting`);
        process.exit(1);
      }
      signalled = true;
      log(`${signal} received: no new connections; finishing requests in flight (up to ${flags.shutdownGraceSeconds} s)`);
      starting
        .then((server) => server.shutdown(flags.shutdownGraceSeconds * 1000))
        .then(
          () => {
            log('shut down');
            resolve(0);
          },
          (error: unknown) => {
            console.error(`tfserve: shutdown failed: ${(error as Error).message}`);
            resolve(1);
          },
        );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });

  let server;
  try {
    server = await starting;
  } catch (error) {
    console.error(`tfserve: cannot start: ${(error as Error).message}`);
    return 1;
  }
  await server.loaded;
  if (flags.demo && !signalled) log(demoInstructions(server.grpcPort, server.restPort, writeDemoRequest()));
  return stopped;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`tfserve: ${(error as Error).stack ?? String(error)}`);
    process.exit(1);
  },
);
