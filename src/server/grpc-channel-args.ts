// --grpc_channel_arguments: "key=value,key=value" as tensorflow_model_server
// reads it (a value that parses as an integer is an integer, any other is a
// string), turned into grpc-js server options. grpc-js takes a subset of gRPC
// core's arguments; the others are reported so the CLI can say they were
// ignored instead of pretending they apply.
import type * as grpc from '@grpc/grpc-js';

import { FlagError } from './flags';

/** Arguments a grpc-js Server reads (grpc-js 1.14's server and transport). */
const SERVER_ARGUMENTS: ReadonlySet<string> = new Set([
  'grpc.enable_channelz',
  'grpc.keepalive_permit_without_calls',
  'grpc.keepalive_time_ms',
  'grpc.keepalive_timeout_ms',
  'grpc.max_concurrent_streams',
  'grpc.max_connection_age_grace_ms',
  'grpc.max_connection_age_ms',
  'grpc.max_connection_idle_ms',
  'grpc.max_receive_message_length',
  'grpc.max_send_message_length',
  'grpc.server_call_metric_recording',
  'grpc-node.max_session_memory',
]);

/** Arguments whose effect Node gives every server anyway. */
const ALWAYS_ON: Readonly<Record<string, string>> = {
  'grpc.so_reuseaddr': 'Node.js listens with SO_REUSEADDR',
};

export interface ChannelArguments {
  options: grpc.ServerOptions;
  /** "key=value" of the arguments that took effect. */
  applied: string[];
  /** "key: why" of the arguments that did not. */
  ignored: string[];
}

export function parseGrpcChannelArguments(text: string): ChannelArguments {
  const result: ChannelArguments = { options: {}, applied: [], ignored: [] };
  const values = new Map<string, string | number>();
  for (const item of text.split(',')) {
    const entry = item.trim();
    if (entry === '') continue;
    const eq = entry.indexOf('=');
    if (eq <= 0) throw new FlagError(`--grpc_channel_arguments: '${entry}' is not key=value`);
    const key = entry.slice(0, eq).trim();
    const raw = entry.slice(eq + 1).trim();
    // The last occurrence wins, as in gRPC core.
    values.set(key, /^[+-]?\d+$/.test(raw) && Number.isSafeInteger(Number(raw)) ? Number(raw) : raw);
  }
  for (const [key, value] of values) {
    if (SERVER_ARGUMENTS.has(key)) {
      if (typeof value !== 'number') throw new FlagError(`--grpc_channel_arguments: ${key} takes an integer, got '${value}'`);
      (result.options as Record<string, number>)[key] = value;
      result.applied.push(`${key}=${value}`);
    } else if (Object.hasOwn(ALWAYS_ON, key) && value !== 0) {
      result.applied.push(`${key}=${value} (${ALWAYS_ON[key]})`);
    } else {
      result.ignored.push(`${key}: not a server argument grpc-js reads`);
    }
  }
  return result;
}
