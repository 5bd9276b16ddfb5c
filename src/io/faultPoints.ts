/**
 * Fault injection for the reliability tests: `LATEPHASE_FAULT=kill@<site>:<n>` kills this process
 * with SIGKILL at the n-th passing of a named site (1-based), `enospc@<site>:<n>` makes that passing
 * fail as a full disk would, `sigint@<site>:<n>` sends this process a SIGINT (as Ctrl-C would) and
 * carries on, `segv@<site>:<n>` dies of SIGSEGV as a native crash would. Sites: `bundle` (every file operation of an output-folder write), `checkpoint` (the
 * two steps of a progress-checkpoint write: before the temporary file, before its rename), `log`
 * (a resumed run's metrics-log rewrite), `verify` (the isolated verification process, before onnxruntime runs) and `step` (every training step of the CLI). Unset, a
 * site costs one comparison.
 */
const parse = (text: string): RegExpExecArray | null => /^(kill|enospc|sigint|segv)@([a-z]+):(\d+)$/.exec(text);
let spec = parse(process.env['LATEPHASE_FAULT'] ?? '');
let passes = 0;

/** Arm a fault in this process, as LATEPHASE_FAULT would (undefined disarms); the pass count starts over. For in-process tests. */
export function injectFault(text: string | undefined): void {
  spec = text === undefined ? null : parse(text);
  if (text !== undefined && !spec) throw new Error(`fault spec '${text}' is not <kill|enospc|sigint|segv>@<site>:<n>`);
  passes = 0;
}

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
