// TF's own ceiling: the same SavedModel run by TF_SessionRun in a C++ loop
// (bench/native/tf_loop.cc), one process per cell. A sweep cell with N
// callers is N threads each running single-example requests; no batching,
// no JavaScript. Same start/runCell/stop shape as lib/js-contender.mjs.
import { runNativeLoop } from '../lib/native-loop.mjs';
import { exportDir } from '../lib/models.mjs';

export class NativeContender {
  /** `tensorflow`: the version of the libtensorflow tf_loop was built against (buildNativeLoop()). */
  constructor(model, signature, plan, tensorflow) {
    this.name = 'native';
    this.model = model;
    this.signature = signature;
    this.plan = plan;
    this.tensorflow = tensorflow;
  }

  async start() {
    return { api: 'TF_LoadSessionFromSavedModel + TF_SessionRun', tensorflow: this.tensorflow, batching: false };
  }

  async runCell(spec) {
    const { scenario, batch, concurrency } = spec;
    try {
      const report = await runNativeLoop({
        exportDir: exportDir(this.model),
        inputTensor: this.signature.inputTensor,
        exampleShape: this.model.exampleShape,
        outputTensors: this.signature.outputTensors,
        batch,
        threads: concurrency,
        seconds: this.plan.seconds,
        warmupSeconds: scenario === 'batch' ? 0 : this.plan.warmupSeconds,
        minCalls: scenario === 'batch' ? 2 : 3,
        // Sequential cells: the intra-op threads tfserve's sequential cells use.
        intraOp: scenario === 'latency' ? this.plan.latencySession?.intraOpThreads : undefined,
      });
      return {
        ...spec,
        calls: report.calls,
        seconds: Math.round(report.seconds * 1000) / 1000,
        examplesPerSecond: Math.round(report.examplesPerSecond * 10) / 10,
        latencyUs: report.latencyUs,
      };
    } catch (error) {
      return { ...spec, error: error.message };
    }
  }

  async stop() {}
}
