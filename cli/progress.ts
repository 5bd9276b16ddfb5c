/** Training progress with ETA on stderr: a redrawn bar on a terminal, one line per epoch otherwise. */
import { StepInfo } from '../src/train/trainer';

function clock(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

export class ProgressBar {
  private readonly started = Date.now();
  private lastDraw = 0;
  /** Minibatches already done when this bar first saw the run (a resumed run): the ETA counts only this process's pace. */
  private firstDone: number | null = null;

  constructor(
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly width = 28,
  ) {}

  update(s: StepInfo): void {
    const total = s.epochs * s.stepsPerEpoch;
    const done = s.epoch * s.stepsPerEpoch + s.step + 1;
    const elapsed = (Date.now() - this.started) / 1000;
    this.firstDone ??= done - 1;
    const eta = (elapsed / Math.max(done - this.firstDone, 1)) * (total - done);
    const fill = Math.round((done / total) * this.width);
    const phase = s.phase === 'late' ? `late phase, member ${s.member}` : 'plain';
    const loss = Number.isNaN(s.recentLoss) ? '-' : s.recentLoss.toFixed(4);
    const line = `epoch ${s.epoch + 1}/${s.epochs} [${'#'.repeat(fill)}${'.'.repeat(this.width - fill)}] ${Math.floor((100 * done) / total)}% ${phase} loss ${loss} elapsed ${clock(elapsed)} ETA ${clock(eta)}`;
    const endOfEpoch = s.step === s.stepsPerEpoch - 1;
    if (this.stream.isTTY) {
      if (endOfEpoch || Date.now() - this.lastDraw > 200) {
        this.stream.write(`\r\x1b[2K${line}`);
        this.lastDraw = Date.now();
      }
      if (done === total) this.stream.write('\n');
    } else if (endOfEpoch) {
      this.stream.write(`${line}\n`);
    }
  }
}
