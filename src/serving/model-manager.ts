// Which model versions are served: TF Serving's base_path/<version>/ layout,
// version policies, labels, polling for new and removed versions, hot config
// reloads, warmup and per-version status.
//
// Transitions keep serving: new versions load before old ones unload (an old
// version is dropped only once some wanted version is AVAILABLE, TF Serving's
// availability-preserving policy), an unloading version is handed to no new
// request and is freed once its last lease is released, and a version that
// fails to load is reported in status and otherwise ignored.
import { EventEmitter } from 'node:events';
import path from 'node:path';

import { TfServeError, type StatusCode } from '../engine/errors';
import type { LoadOptions } from '../engine/model';
import { listVersions } from '../engine/model-dir';
import type { Device } from '../engine/native';
import type { Servable, ServableLoader } from '../engine/servable';
import { getOwn } from './own';

export interface ModelConfig {
  name: string;
  basePath: string;
  /** 'tensorflow' */
  modelPlatform: string;
  versionPolicy: { kind: 'latest'; numVersions: number } | { kind: 'all' } | { kind: 'specific'; versions: number[] };
  versionLabels: Record<string, number>;
}

export interface ManagerOptions {
  loader: ServableLoader;
  /** Session options, batching: passed to every load. */
  loadOptions?: LoadOptions;
  /** Seconds between scans of the base paths; 0 = scan once. */
  fileSystemPollWaitSeconds: number;
  /**
   * Runs before a loaded version serves (the server passes runWarmup from
   * warmup.ts when --enable_model_warmup); its failure fails the load.
   * Injected rather than imported: warmup replays requests through the
   * inference layer, which itself sits on the manager.
   */
  warmup?: (servable: Servable, name: string) => Promise<unknown>;
  allowVersionLabelsForUnavailableModels: boolean;
  /**
   * A version that fails to load is retried on later scans, at most this many
   * times (a version directory copied in place may be read before it is
   * complete). TF Serving's --max_num_load_retries; default 5.
   */
  maxLoadRetries?: number;
  /** Seconds between those retries (TF Serving's --load_retry_interval_micros); default 60. */
  loadRetryIntervalSeconds?: number;
  /** TF Serving's --enable_signature_method_name_check, carried by every lease; default false. */
  signatureMethodNameCheck?: boolean;
}

export type VersionState = 'LOADING' | 'AVAILABLE' | 'UNLOADING' | 'END';

export interface VersionStatus {
  version: number;
  state: VersionState;
  error: { code: 'OK' | StatusCode; message: string };
}

/** What the manager emits as 'load' once a version's load attempt settled. */
export interface LoadEvent {
  name: string;
  version: number;
  seconds: number;
  error?: TfServeError;
  /** After a successful load: the devices the version's session sees. */
  devices?: readonly Device[];
}

export interface Lease {
  servable: Servable;
  name: string;
  version: number;
  methodNameCheck: boolean;
  release(): void;
}

export interface ServableSpec {
  name: string;
  version?: number;
  versionLabel?: string;
}

interface VersionEntry {
  version: number;
  state: VersionState;
  error: VersionStatus['error'];
  servable: Servable | null;
  leases: number;
  /** Settles when an unload that waits for leases is done. */
  unloaded: Promise<void> | null;
  releaseWaiter: (() => void) | null;
  /** Failed load attempts so far, and when the next may start (ms since epoch). */
  failures: number;
  retryAt: number;
}

interface ModelEntry {
  config: ModelConfig;
  versions: Map<number, VersionEntry>;
  /** Why the last scan found nothing to serve (missing base path...). */
  scanError: TfServeError | null;
  scanning: Promise<void> | null;
  rescan: boolean;
  removed: boolean;
}

const OK: VersionStatus['error'] = { code: 'OK', message: '' };

function wantedVersions(config: ModelConfig, onDisk: number[]): Set<number> {
  const policy = config.versionPolicy;
  switch (policy.kind) {
    case 'all':
      return new Set(onDisk);
    case 'specific':
      return new Set(onDisk.filter((v) => policy.versions.includes(v)));
    case 'latest':
      return new Set(onDisk.slice(-Math.max(1, policy.numVersions)));
  }
}

function sameConfig(a: ModelConfig, b: ModelConfig): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export class ModelManager extends EventEmitter {
  private readonly options: ManagerOptions;
  private readonly models = new Map<string, ModelEntry>();
  /** Models taken out of the config whose versions are still unloading. */
  private readonly retiring = new Set<Promise<void>>();
  private pollTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(options: ManagerOptions) {
    super();
    this.options = options;
  }

  /**
   * Serves exactly these models: adds new ones, drops removed ones (after
   * their in-flight requests), applies changed policies and labels. Resolves
   * once every model's first load attempt settled.
   */
  async setConfig(models: ModelConfig[]): Promise<void> {
    if (this.closed) throw new TfServeError('FAILED_PRECONDITION', 'the model manager is closed');
    const names = new Set<string>();
    for (const model of models) {
      if (names.has(model.name)) throw new TfServeError('INVALID_ARGUMENT', `model name '${model.name}' appears more than once in the config`);
      names.add(model.name);
    }
    for (const [name, entry] of this.models) {
      if (!names.has(name)) this.retire(entry);
    }
    const labelsToCheck: Array<[ModelEntry, Record<string, number>]> = [];
    const scans: Promise<void>[] = [];
    for (const config of models) {
      const labels = config.versionLabels;
      const basePath = path.resolve(config.basePath);
      let entry = this.models.get(config.name);
      // Version numbers under another base path are other models: the old one is removed, a new one added.
      if (entry && entry.config.basePath !== basePath) {
        this.retire(entry);
        entry = undefined;
      }
      const resolvedConfig = { ...config, basePath, versionLabels: entry?.config.versionLabels ?? {} };
      if (!entry) {
        entry = { config: resolvedConfig, versions: new Map(), scanError: null, scanning: null, rescan: false, removed: false };
        this.models.set(config.name, entry);
      } else if (!sameConfig(entry.config, resolvedConfig)) {
        entry.config = resolvedConfig;
      }
      labelsToCheck.push([entry, labels]);
      scans.push(this.scan(entry));
    }
    await Promise.all(scans);
    const problems: string[] = [];
    for (const [entry, labels] of labelsToCheck) {
      const problem = this.labelProblem(entry, labels);
      if (problem) problems.push(problem);
      else entry.config = { ...entry.config, versionLabels: ownLabels(labels) };
    }
    this.schedulePoll();
    if (problems.length > 0) throw new TfServeError('FAILED_PRECONDITION', problems.join('; '));
  }

  /** Takes a model out of service: no new scan or lease; its versions unload once their leases are released. */
  private retire(entry: ModelEntry): void {
    entry.removed = true;
    this.models.delete(entry.config.name);
    const retired = this.unloadAll(entry).finally(() => this.retiring.delete(retired));
    this.retiring.add(retired);
  }

  private labelProblem(entry: ModelEntry, labels: Record<string, number>): string | null {
    if (this.options.allowVersionLabelsForUnavailableModels) return null;
    for (const [label, version] of Object.entries(labels)) {
      // A label already pointing at this version may stay while it reloads.
      if (getOwn(entry.config.versionLabels, label) === version) continue;
      if (entry.versions.get(version)?.state !== 'AVAILABLE') {
        return `cannot assign label '${label}' to version ${version} of model '${entry.config.name}': that version is not available (use --allow_version_labels_for_unavailable_models to allow it)`;
      }
    }
    return null;
  }

  private schedulePoll(): void {
    if (this.pollTimer || this.closed || !(this.options.fileSystemPollWaitSeconds > 0)) return;
    this.pollTimer = setTimeout(() => {
      this.pollTimer = null;
      for (const entry of this.models.values()) void this.scan(entry);
      this.schedulePoll();
    }, this.options.fileSystemPollWaitSeconds * 1000);
    this.pollTimer.unref();
  }

  /** One scan per model at a time; a scan requested meanwhile runs right after. */
  private scan(entry: ModelEntry): Promise<void> {
    if (entry.scanning) {
      entry.rescan = true;
      return entry.scanning;
    }
    const run = async (): Promise<void> => {
      do {
        entry.rescan = false;
        await this.reconcile(entry);
      } while (entry.rescan && !entry.removed && !this.closed);
    };
    entry.scanning = run().finally(() => {
      entry.scanning = null;
    });
    return entry.scanning;
  }

  private async reconcile(entry: ModelEntry): Promise<void> {
    if (entry.removed || this.closed) return;
    const { config } = entry;
    let onDisk: number[];
    try {
      onDisk = await listVersions(config.basePath);
      entry.scanError = onDisk.length === 0 ? new TfServeError('NOT_FOUND', `no versions of model '${config.name}' found under base path ${config.basePath}`) : null;
    } catch (error) {
      // An unreadable base path changes nothing that is being served.
      entry.scanError = TfServeError.from(error);
      return;
    }
    // A failed version whose directory went away may be retried if it comes back.
    for (const [version, v] of entry.versions) {
      if (v.state === 'END' && !onDisk.includes(version)) entry.versions.delete(version);
    }
    const wanted = wantedVersions(config, onDisk);
    const loads: Promise<void>[] = [];
    for (const version of wanted) {
      const existing = entry.versions.get(version);
      if (existing && existing.state !== 'END') continue;
      if (existing && existing.error.code !== 'OK') {
        if (existing.failures > (this.options.maxLoadRetries ?? 5) || Date.now() < existing.retryAt) continue;
        if (this.options.fileSystemPollWaitSeconds <= 0) continue; // scanned once: nothing comes back to retry it
      }
      loads.push(this.load(entry, version, existing?.failures ?? 0));
    }
    await Promise.all(loads);
    if (entry.removed || this.closed) return;
    const wantedAvailable = [...wanted].some((v) => entry.versions.get(v)?.state === 'AVAILABLE');
    if (!wantedAvailable && wanted.size > 0) return; // keep what serves until a wanted version does
    // Unloads wait for in-flight requests; scans (and setConfig) do not wait for them.
    for (const v of entry.versions.values()) {
      if (!wanted.has(v.version) && (v.state === 'AVAILABLE' || v.state === 'LOADING')) void this.unload(entry, v);
    }
  }

  private async load(entry: ModelEntry, version: number, failures: number): Promise<void> {
    const { name, basePath } = entry.config;
    const v: VersionEntry = { version, state: 'LOADING', error: OK, servable: null, leases: 0, unloaded: null, releaseWaiter: null, failures, retryAt: 0 };
    entry.versions.set(version, v);
    const started = process.hrtime.bigint();
    try {
      const servable = await this.options.loader(basePath, { ...this.options.loadOptions, version }, name);
      v.servable = servable;
      if (this.options.warmup) await this.options.warmup(servable, name);
      if (entry.removed || this.closed || v.state !== 'LOADING') {
        await this.unload(entry, v);
        return;
      }
      v.state = 'AVAILABLE';
      this.emit('load', { name, version, seconds: Number(process.hrtime.bigint() - started) / 1e9, devices: servable.devices } satisfies LoadEvent);
    } catch (error) {
      const failure = TfServeError.from(error);
      if (v.servable) await v.servable.unload().catch(() => undefined);
      v.servable = null;
      v.state = 'END';
      v.error = { code: failure.code, message: failure.message };
      v.failures = failures + 1;
      v.retryAt = Date.now() + (this.options.loadRetryIntervalSeconds ?? 60) * 1000;
      this.emit('load', { name, version, seconds: Number(process.hrtime.bigint() - started) / 1e9, error: failure } satisfies LoadEvent);
    }
  }

  /** Stops handing the version out; frees it once its leases are released. */
  private unload(entry: ModelEntry, v: VersionEntry): Promise<void> {
    if (v.unloaded) return v.unloaded;
    v.state = 'UNLOADING';
    v.unloaded = (async () => {
      if (v.leases > 0) await new Promise<void>((resolve) => (v.releaseWaiter = resolve));
      const servable = v.servable;
      v.servable = null;
      if (servable) await servable.unload().catch(() => undefined);
      v.state = 'END';
      this.emit('unload', { name: entry.config.name, version: v.version });
    })();
    return v.unloaded;
  }

  private async unloadAll(entry: ModelEntry): Promise<void> {
    if (entry.scanning) await entry.scanning;
    await Promise.all([...entry.versions.values()].filter((v) => v.state !== 'END' || v.unloaded).map((v) => this.unload(entry, v)));
  }

  /** A lease on the version a request asks for: the given version, the label's, or the highest available. */
  acquire(spec: ServableSpec): Lease {
    const entry = this.models.get(spec.name);
    if (!entry || this.closed) throw new TfServeError('NOT_FOUND', `Servable not found for request: ${describeRequest(spec)}: no model named '${spec.name}' is configured`);
    const version = versionOfSpec(entry, spec, true);
    let v: VersionEntry | undefined;
    if (version === undefined) {
      for (const candidate of entry.versions.values()) {
        if (candidate.state === 'AVAILABLE' && (!v || candidate.version > v.version)) v = candidate;
      }
      if (!v) {
        const loading = [...entry.versions.values()].some((c) => c.state === 'LOADING');
        if (loading) throw new TfServeError('UNAVAILABLE', `model '${spec.name}' is still loading: no version is available yet`);
        const why = entry.scanError ? `: ${entry.scanError.message}` : '';
        throw new TfServeError('NOT_FOUND', `Servable not found for request: ${describeRequest(spec)}: no version of '${spec.name}' is available${why}`);
      }
    } else {
      v = entry.versions.get(version);
      if (v?.state === 'LOADING') throw new TfServeError('UNAVAILABLE', `version ${version} of model '${spec.name}' is still loading`);
      if (!v || v.state !== 'AVAILABLE') {
        const available = [...entry.versions.values()].filter((c) => c.state === 'AVAILABLE').map((c) => c.version);
        throw new TfServeError(
          'NOT_FOUND',
          `Servable not found for request: ${describeRequest({ ...spec, version })}: version ${version} of '${spec.name}' is not available (available: ${available.length ? available.join(', ') : 'none'})`,
        );
      }
    }
    const leased = v;
    leased.leases++;
    let released = false;
    return {
      servable: leased.servable!,
      name: spec.name,
      version: leased.version,
      methodNameCheck: this.options.signatureMethodNameCheck ?? false,
      release: () => {
        if (released) return;
        released = true;
        leased.leases--;
        if (leased.leases === 0 && leased.releaseWaiter) {
          const wake = leased.releaseWaiter;
          leased.releaseWaiter = null;
          wake();
        }
      },
    };
  }

  /** Status of every known version of a model (highest first), or of one version, by number or label. */
  status(name: string, version?: number, versionLabel?: string): VersionStatus[] {
    const entry = this.models.get(name);
    if (!entry) throw new TfServeError('NOT_FOUND', `Could not find any versions of model ${name}: it is not configured`);
    version = versionOfSpec(entry, { name, version, versionLabel }, false);
    const all = [...entry.versions.values()].sort((a, b) => b.version - a.version).map((v) => ({ version: v.version, state: v.state, error: { ...v.error } }));
    if (version !== undefined) {
      const one = all.filter((s) => s.version === version);
      if (one.length === 0) throw new TfServeError('NOT_FOUND', `Could not find version ${version} of model ${name}`);
      return one;
    }
    if (all.length === 0) {
      const why = entry.scanError ? `: ${entry.scanError.message}` : '';
      throw new TfServeError('NOT_FOUND', `Could not find any versions of model ${name}${why}`);
    }
    return all;
  }

  modelNames(): string[] {
    return [...this.models.keys()].sort();
  }

  /** Every configured model has an AVAILABLE version. */
  isReady(): boolean {
    for (const entry of this.models.values()) {
      if (![...entry.versions.values()].some((v) => v.state === 'AVAILABLE')) return false;
    }
    return true;
  }

  /** Stops polling; unloads every version once its leases are released. */
  async close(): Promise<void> {
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.pollTimer = null;
    this.closed = true;
    await Promise.all([...this.models.values()].map((entry) => this.unloadAll(entry)));
    await Promise.all([...this.retiring]);
  }
}

/**
 * The version a spec names: its label's, else its number (undefined = the
 * latest). `listLabels` adds the model's labels to the unknown-label error.
 */
function versionOfSpec(entry: ModelEntry, spec: ServableSpec, listLabels: boolean): number | undefined {
  if (spec.versionLabel === undefined || spec.versionLabel === '') return spec.version;
  // Own keys only: 'constructor' or '__proto__' is a label like any other.
  const version = getOwn(entry.config.versionLabels, spec.versionLabel);
  if (version !== undefined) return version;
  const known = Object.keys(entry.config.versionLabels);
  const labels = listLabels ? ` (labels: ${known.length ? known.join(', ') : 'none'})` : '';
  throw new TfServeError('INVALID_ARGUMENT', `Unrecognized servable version label: ${spec.versionLabel} for model '${spec.name}'${labels}`);
}

/** A copy of labels (own keys, '__proto__' included). */
function ownLabels(labels: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(labels));
}

function describeRequest(spec: ServableSpec): string {
  return spec.version === undefined ? `Latest(${spec.name})` : `Specific(${spec.name}, ${spec.version})`;
}
