/** Learning-rate schedules, stepped once per epoch (as in the authors' code). */
import { ConfigError } from '../errors';

export type Schedule =
  | { readonly kind: 'constant' }
  /** The authors' 'annealing': constant until `start`, linear to `endLr` at `end`, then constant (epochs). */
  | { readonly kind: 'annealing'; readonly start: number; readonly end: number; readonly endLr: number }
  /** Cosine from the base rate at epoch 0 to `minLr` at `total` epochs (default: all the run's epochs). */
  | { readonly kind: 'cosine'; readonly total?: number; readonly minLr: number };

export function checkSchedule(s: Schedule): void {
  if (s.kind === 'annealing' && !(s.end > s.start && s.start >= 0))
    throw new ConfigError(`schedule.annealing needs 0 <= start < end, got start ${s.start}, end ${s.end}`);
  if (s.kind === 'cosine' && s.total !== undefined && !(s.total > 0)) throw new ConfigError(`schedule.cosine.total must be > 0, got ${s.total}`);
}

/** Learning rate during (0-based) `epoch` of `epochs` for base rate `base`. */
export function learningRate(base: number, s: Schedule, epoch: number, epochs: number): number {
  switch (s.kind) {
    case 'constant':
      return base;
    case 'annealing': {
      if (epoch <= s.start) return base;
      if (epoch >= s.end) return s.endLr;
      const t = (epoch - s.start) / (s.end - s.start);
      return base + t * (s.endLr - base);
    }
    case 'cosine': {
      const t = Math.min(epoch / (s.total ?? epochs), 1);
      return s.minLr + 0.5 * (base - s.minLr) * (1 + Math.cos(Math.PI * t));
    }
  }
}
