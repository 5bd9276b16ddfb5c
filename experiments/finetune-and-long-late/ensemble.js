#!/usr/bin/env node
/**
 * The deep ensemble of finished runs' bundles, as `latephase compare` measures its `ensemble` row
 * (mean softmax of their model.onnx on the config's test set; OOD AUROC of the predictive entropy):
 * PLAN.md's Q2 reference, the ensemble of the three seeds' base models.
 *
 *   node experiments/finetune-and-long-late/ensemble.js <config.json> <bundle dir>...
 *
 * Needs `npm run build`. Prints one JSON object.
 */
'use strict';
const { resolveConfig, loadConfigFile } = require('../../dist/src/config/resolve');
const { planRun } = require('../../dist/job/runPlan');
const { deepEnsemble } = require('../../dist/job/compareJob');

async function main() {
  const [config, ...dirs] = process.argv.slice(2);
  if (!config || dirs.length < 2) throw new Error('usage: ensemble.js <config.json> <bundle dir> <bundle dir>...');
  const plan = planRun(resolveConfig(loadConfigFile(config), config));
  const m = await deepEnsemble(dirs, plan);
  console.log(JSON.stringify({ bundles: dirs, ...m }, null, 2));
}

main().catch((err) => {
  console.error(err.message);
  process.exit(1);
});
