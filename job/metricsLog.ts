/**
 * The run's metrics log: one JSON object per line (`metrics.jsonl` in the bundle), appended as
 * training goes: a `step` record at every loss check (phase, epoch, global step, member, learning
 * rate, mean loss since the previous check, wall time) and an `epoch` record at each epoch's end
 * with the held-out metrics of the model as it stands (after T0: every member, the implicit
 * ensemble and the layerwise average).
 */
import * as fs from 'fs';
import { Model } from '../src/nn/model';
import { Dataset } from '../src/data/dataset';
import { EpochInfo, StepInfo } from '../src/train/trainer';
import { ClassMetrics, classMetrics, memberProbabilities, probabilities } from '../src/eval/metrics';
import { memberCount, selectMember } from '../src/latephase/members';
import type { LogRecord } from './plots';

export const METRICS_LOG_FILE = 'metrics.jsonl';

export class MetricsLog {
  private readonly started = Date.now();
  private lastLoss = Number.NaN;

  constructor(
    readonly file: string,
    private readonly test: Dataset,
    private readonly bins: number,
  ) {
    fs.writeFileSync(file, '');
  }

  /** Everything logged so far. */
  records(): LogRecord[] {
    return fs
      .readFileSync(this.file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as LogRecord);
  }

  private write(record: Record<string, unknown>): void {
    fs.appendFileSync(this.file, `${JSON.stringify({ ...record, seconds: (Date.now() - this.started) / 1000 })}\n`);
  }

  /** A record whenever the trainer has read a new mean loss (each loss check). */
  step(s: StepInfo, lr: number): void {
    if (Number.isNaN(s.recentLoss) || s.recentLoss === this.lastLoss) return;
    this.lastLoss = s.recentLoss;
    this.write({
      kind: 'step',
      phase: s.phase,
      epoch: s.epoch + 1,
      step: s.epoch * s.stepsPerEpoch + s.step + 1,
      member: s.member,
      lr,
      loss: s.recentLoss,
    });
  }

  epoch(e: EpochInfo, model: Model): void {
    const metrics = (probs: Float32Array): ClassMetrics => classMetrics(probs, this.test.y, this.bins);
    let test: Record<string, unknown>;
    if (e.phase === 'late' && memberCount(model) > 1) {
      const { members, ensemble } = memberProbabilities(model, this.test, 'average');
      test = { members: members.map(metrics), ensemble: metrics(ensemble), average: metrics(probabilities(model, this.test)) };
    } else {
      test = { model: metrics(probabilities(model, this.test)) };
    }
    if (memberCount(model) > 1) selectMember(model, 0); // the trainer selects per step; leave a member selected
    this.write({
      kind: 'epoch',
      phase: e.phase,
      epoch: e.epoch + 1,
      epochs: e.epochs,
      loss: e.loss,
      lrShared: e.lrShared,
      lrMember: e.lrMember,
      test,
    });
  }
}
