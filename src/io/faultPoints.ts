/**
 * Fault injection for the reliability tests: `LATEPHASE_FAULT=kill@<site>:<n>` kills this process
 * with SIGKILL at the n-th passing of a named site (1-based), `enospc@<site>:<n>` makes that passing
 * fail as a full disk would, `sigint@<site>:<n>` sends this process a SIGINT (as Ctrl-C would) and
 * carries on, `segv@<site>:<n>` dies of SIGSEGV as a native crash would. Sites: `bundle` (every file operation of an output-folder write), `checkpoint` (the
 * two steps of a progress-checkpoint write: before the temporary file, before its rename), `log`
 * (a resumed run's metrics-log rewrite), `verify` (the isolated verification process, before onnxruntime runs) and `step` (every training step of the CLI). Unset, a
 * site costs one comparison.
 */
const spec = /^(kill|enospc|sigint|segv)@([a-z]+):(\d+)$/.exec(process.env['LATEPHASE_FAULT'] ?? '');
let passes = 0;

export function faultPoint(site: string): void {
  if (!spec || spec[2] !== site) return;
  passes++;
  if (passes !== Number(spec[3])) return;
  if (spec[1] === 'kill') process.kill(process.pid, 'SIGKILL');
  if (spec[1] === 'segv') process.kill(process.pid, 'SIGSEGV');
  if (spec[1] === 'sigint') {
    process.kill(process.pid, 'SIGINT');
    return;
  }
  throw Object.assign(new Error(`ENOSPC: no space left on device (injected at ${site} #${passes})`), { code: 'ENOSPC' });
}
