/**
 * Independent validation with Debian's python3-onnx (never a runtime dependency): every parity
 * model, an implicit-ensemble graph and the deployment variants (BatchNorm folded, fp16 weights,
 * external data) are exported and passed through onnx.checker (full check) and strict shape inference by
 * .ci/check_onnx.py. Skipped where python3-onnx is absent, unless LATEPHASE_REQUIRE_ONNX_CHECKER=1
 * (set by CI), in which case its absence fails the test.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { exportOnnx } from '../export/onnx/exportOnnx';
import { mnistCnn } from '../models/mnistCnn';
import { charLstm } from '../models/charLstm';
import { foldMember, foldMembers } from '../src/latephase/fold';
import { exportEnsemble } from '../export/onnx/exportEnsemble';
import { splitExternalData, writeModelFiles } from '../export/onnx/passes/externalData';
import { releaseMembers } from '../src/latephase/members';
import { FOLDED_CASES, warmStatistics } from './parityModels';
import { LAYER_CASES } from './layerCases';
import { Model } from '../src/nn/model';
import { latePhaseUnits } from '../src/latephase/members';
import { useBackend } from './helpers';

const PYTHON = '/usr/bin/python3';
const CHECKER = path.join(__dirname, '..', '..', '.ci', 'check_onnx.py');
const required = process.env['LATEPHASE_REQUIRE_ONNX_CHECKER'] === '1';
const available = fs.existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'from onnx import checker'], { encoding: 'utf8' }).status === 0; // (libonnx-testdata alone makes a bare 'import onnx' succeed)

before(async () => {
  await useBackend('wasm');
});

test(
  'exported models pass onnx.checker full check and strict shape inference',
  { skip: !available && !required ? 'python3-onnx not installed (apt-get install python3-onnx)' : false },
  () => {
    assert.ok(available, `LATEPHASE_REQUIRE_ONNX_CHECKER=1 but ${PYTHON} cannot import onnx`);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latephase-onnx-'));
    const layerModels = LAYER_CASES.map((c): [string, Model] => {
      const model = new Model(c.name.replace(/\W+/g, '_'), c.make(), c.shape);
      if (!latePhaseUnits(model).length) return [c.name, model];
      releaseMembers(model, 2, 0.3, 1);
      const plain = foldMembers(model);
      model.dispose();
      return [c.name, plain];
    });
    const models: Array<readonly [string, Model]> = [...layerModels, ...FOLDED_CASES.map(([name, make]) => [name, make()] as const)];
    const cnn = mnistCnn({ seed: 1 }); // the npm start architecture at full width
    releaseMembers(cnn, 4, 0, 2);
    warmStatistics(cnn, 4);
    for (const mode of ['exact', 'mean'] as const) models.push([`mnist cnn ${mode} fold`, foldMembers(cnn, { batchNorm: mode })]);
    // The implicit-ensemble graph (all members, LogSoftmax / ReduceLogSumExp / entropy / MI).
    const members = [0, 1, 2, 3].map((k) => foldMember(cnn, k));
    fs.writeFileSync(path.join(dir, 'mnist_cnn_ensemble.onnx'), exportEnsemble(members, { memberProbabilities: true }).bytes);
    members.forEach((m) => m.dispose());
    // Deployment variants of the CNN: BatchNorm folded, fp16 weights, external data.
    const plainCnn = foldMembers(cnn);
    fs.writeFileSync(path.join(dir, 'mnist_cnn_bn_folded.onnx'), exportOnnx(plainCnn, { foldBatchNorm: true }).bytes);
    fs.writeFileSync(path.join(dir, 'mnist_cnn_fp16.onnx'), exportOnnx(plainCnn, { foldBatchNorm: true, weights: 'fp16' }).bytes);
    const split = splitExternalData(exportOnnx(plainCnn).bytes, 1024, 'mnist_cnn_external.onnx.data');
    writeModelFiles(dir, 'mnist_cnn_external.onnx', split.model, split.external);
    plainCnn.dispose();
    const extra = 4;
    const lm = charLstm({ vocab: 12, seqLen: 6, embed: 4, hidden: 5 }); // Gather, LSTM, Squeeze, MatMul
    releaseMembers(lm, 3, 0.2, 1);
    models.push(['char lstm rank-1 fold', foldMembers(lm)]);
    lm.dispose();
    for (const [name, model] of models) {
      warmStatistics(model, 1, LAYER_CASES.find((c) => c.name === name)?.opts?.vocab);
      fs.writeFileSync(path.join(dir, `${name.replace(/[^a-z0-9]+/gi, '_')}.onnx`), exportOnnx(model).bytes);
      model.dispose();
    }
    cnn.dispose();
    const r = spawnSync(PYTHON, [CHECKER, dir], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, new RegExp(`all ${models.length + extra} exported models pass`));
    fs.rmSync(dir, { recursive: true, force: true });
  },
);
