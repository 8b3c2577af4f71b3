// Do the contenders compute the same thing? Each one that can return its
// outputs answers the same 2-example request (lib/models.mjs makeInputData);
// the largest absolute difference from tfserve's answer, per output, goes into
// the results. The native loop is left out: it runs tfserve's own libtensorflow
// and only times its runs.
import { progress } from './progress.mjs';

export const AGREEMENT_BATCH = 2;

function maxAbsDiff(a, b) {
  if (a.length !== b.length) return `${a.length} values vs ${b.length}`;
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

/** @returns {Promise<Array<{ model, contender, maxAbsDiff?: Record<string, number|string>, error?: string }>>} */
export async function compareOutputs(model, sessions) {
  const answers = [];
  for (const { run, session } of sessions) {
    if (typeof session.outputs !== 'function') continue;
    answers.push({ contender: run.contender, outputs: await session.outputs(AGREEMENT_BATCH) });
  }
  const reference = answers.find((a) => a.contender === 'tfserve');
  if (!reference || reference.outputs.error) return [];
  const rows = [];
  for (const { contender, outputs } of answers) {
    if (contender === 'tfserve') continue;
    if (outputs.error) {
      rows.push({ model: model.id, contender, error: outputs.error });
      continue;
    }
    const diffs = {};
    for (const [alias, want] of Object.entries(reference.outputs)) {
      // tfjs-node names a single output 'output'.
      const got = outputs[alias] ?? (Object.keys(outputs).length === 1 ? Object.values(outputs)[0] : undefined);
      diffs[alias] = got === undefined ? 'missing' : maxAbsDiff(got, want);
    }
    rows.push({ model: model.id, contender, maxAbsDiff: diffs });
    progress(`  ${model.id} · ${contender} vs tfserve, max abs diff: ${Object.entries(diffs).map(([k, v]) => `${k} ${typeof v === 'number' ? v.toExponential(1) : v}`).join(', ')}`);
  }
  return rows;
}
