/**
 * Ctrl-C and TERM. While a job trains, the first signal asks it to stop after the current
 * minibatch with a progress checkpoint it can resume from; a second signal, or one at any other
 * time, exits at once. Either way the output folder keeps its previous content (it is replaced
 * only by a complete bundle).
 */
import { JobOptions } from '../job/trainJob';

const EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;
type StopSignal = keyof typeof EXIT_CODES;

let received: StopSignal | null = null;
let training = false;

export function installSignalHandlers(): void {
  for (const signal of Object.keys(EXIT_CODES) as StopSignal[]) {
    process.on(signal, () => {
      if (training && !received) {
        received = signal;
        console.error(`\nlatephase: ${signal}: stopping after this minibatch to save progress (${signal} again quits at once)`);
        return;
      }
      console.error(`\nlatephase: interrupted (${signal}); the output folder keeps its previous content`);
      process.exit(EXIT_CODES[signal]); // 'exit' handlers still run: the output folder's lock is released
    });
  }
}

/** The job options that let a signal stop training at a resumable point. */
export const STOP_ON_SIGNAL: Pick<JobOptions, 'stopRequested' | 'onPhase'> = {
  stopRequested: () => received !== null,
  onPhase: (phase) => {
    training = phase === 'training';
  },
};

/** The shell's exit code for the signal that stopped the run. */
export function stopExitCode(): number {
  return EXIT_CODES[received ?? 'SIGINT'];
}
