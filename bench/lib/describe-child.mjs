// Prints the serving signature tensor names of the given models (JSON), read
// with tfserve in a process of its own.
//   node bench/lib/describe-child.mjs '<models JSON>'
const models = JSON.parse(process.argv[2]);
const { describe } = await import('../contenders/tfserve.mjs');
const result = {};
for (const model of models) result[model.id] = await describe(model);
process.stdout.write(JSON.stringify(result));
