/**
 * The run's metrics log: one JSON object per line (`metrics.jsonl` in the bundle), appended as
 * training goes: a `step` record at every loss check (phase, epoch, global step, member, learning
 * rate, mean loss since the previous check, wall time) and an `epoch` record at each epoch's end
 * with the held-out metrics of the model as it stands (after T0: every member, the implicit
 * ensemble and the layerwise average).
 */
import * as fs from 'fs';
import { Model } from '../src/nn/model';
import { Examples } from '../src/data/dataset';
import { EpochInfo, StepInfo } from '../src/train/trainer';
import { ClassMetrics, classMetrics, memberProbabilities, probabilities } from '../src/eval/metrics';
import { memberCount, selectMember } from '../src/latephase/members';
import type { LogRecord } from './plots';
import { DataError } from '../src/errors';
import { writeFileAtomic } from '../src/io/atomicWrite';

function readLines(file: string): string[] {
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
}

export class MetricsLog {
  private readonly started: number;
  private count = 0;

  /**
   * A new log at `file`, or with `keepLines` the log of a resumed run cut back to the records it
   * had at its checkpoint (later ones are repeated by the resumed run); wall times continue.
   */
  constructor(
    readonly file: string,
    private readonly test: Examples,
    private readonly bins: number,
    keepLines?: number,
  ) {
    let elapsed = 0;
    if (keepLines === undefined) fs.writeFileSync(file, '');
    else {
      const kept = readLines(file).slice(0, keepLines);
      if (kept.length < keepLines) throw new DataError(`metrics log ${file} has ${kept.length} records, the checkpoint counted ${keepLines}`);
      writeFileAtomic(file, kept.map((l) => `${l}\n`).join(''), undefined, 'log');
      const last = kept.length ? (JSON.parse(kept[kept.length - 1]!) as { seconds?: number }) : {};
      elapsed = last.seconds ?? 0;
      this.count = kept.length;
    }
    this.started = Date.now() - elapsed * 1000;
  }

  /** Records written so far (a checkpoint stores it, so a resumed run can cut the log back). */
  get lines(): number {
    return this.count;
  }

  /** Everything logged so far. */
  records(): LogRecord[] {
    return readLines(this.file).map((line) => JSON.parse(line) as LogRecord);
  }

  private write(record: Record<string, unknown>): void {
    fs.appendFileSync(this.file, `${JSON.stringify({ ...record, seconds: (Date.now() - this.started) / 1000 })}\n`);
    this.count++;
  }

  /** A record whenever the trainer has read a new mean loss (each loss check). */
  step(s: StepInfo, lr: number): void {
    if (!s.lossChecked) return;
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
