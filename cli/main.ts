#!/usr/bin/env node
/**
 * The `latephase` command line: the command table (commands.ts) dispatched, errors turned into
 * exit codes: 0 ok, 1 unexpected error (with its stack), 2 bad input/config, 3 verification
 * failed, 130 interrupted.
 */
import * as fs from 'fs';
import * as path from 'path';
import { ConfigError, LatePhaseError, TrainingInterrupted, VerificationError } from '../src/errors';
import { installSignalHandlers, stopExitCode } from './signals';
import { COMMANDS, commandHelp, overview, runCommand } from './commands';

/** The version in the package's own package.json (dist/cli/ sits two folders below it). */
function packageVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
}

function exitCodeFor(err: unknown): number {
  if (err instanceof TrainingInterrupted) return stopExitCode();
  if (err instanceof VerificationError) return 3;
  if (err instanceof LatePhaseError) return 2;
  return 1;
}

export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    const about = name === 'help' && rest[0] ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
    console.log(about ? commandHelp(about) : overview());
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-v') {
    console.log(`latephase ${packageVersion()}`);
    return 0;
  }
  try {
    const command = COMMANDS.find((c) => c.name === name);
    if (!command) throw new ConfigError(`unknown command '${name}'; expected ${COMMANDS.map((c) => c.name).join(', ')} (see latephase --help)`);
    if (rest.includes('--help') || rest.includes('-h')) {
      console.log(commandHelp(command));
      return 0;
    }
    return await runCommand(command, rest);
  } catch (err) {
    const errName = err instanceof Error ? err.name : 'Error';
    const message = err instanceof Error ? err.message : String(err);
    console.error(`latephase: ${errName}: ${message}`);
    if (!(err instanceof LatePhaseError) && err instanceof Error && err.stack) console.error(err.stack);
    return exitCodeFor(err);
  }
}

if (require.main === module) {
  installSignalHandlers();
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
