/**
 * An output folder written as one transaction. The folder the user names (`out/mnist-cnn`) is a
 * symbolic link to a complete version beside it (`out/.mnist-cnn.<id>`); a run stages its files
 * in a fresh version folder and then replaces the link in one rename, so a SIGKILL at any instant
 * leaves the folder entirely old or entirely new, and readers never see a mix. An advisory lock
 * (`out/.mnist-cnn.lock`) refuses a second run into the same folder; versions left by a killed
 * run are removed by the next run that holds the lock. Everything a run will need (a writable
 * parent, no special file system, nothing in the way) is checked by `open`, before any work.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ConfigError, WriteError } from '../errors';
import { faultPoint } from './faultPoints';
import { syncDirectory } from './atomicWrite';

/** File systems that are not storage (statfs magic numbers): writing there hangs or means nothing. */
const SPECIAL_FILE_SYSTEMS: Readonly<Record<number, string>> = {
  0x9fa0: 'proc',
  0x62656572: 'sysfs',
  0x1cd1: 'devpts',
  0x27e0eb: 'cgroup',
  0x63677270: 'cgroup2',
  0x64626720: 'debugfs',
  0x73636673: 'securityfs',
  0x74726163: 'tracefs',
  0xf97cff8c: 'selinuxfs',
};

interface LockInfo {
  readonly pid: number;
  readonly host: string;
  readonly started: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The nearest existing ancestor of `p` (p itself if it exists). */
function existingAncestor(p: string): string {
  let dir = p;
  while (!fs.existsSync(dir) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

/** A file system call whose failure becomes a WriteError naming the path. */
function io<T>(what: string, target: string, op: () => T): T {
  try {
    faultPoint('bundle');
    return op();
  } catch (err) {
    if (err instanceof WriteError) throw err;
    throw new WriteError(`cannot ${what} ${target}: ${(err as Error).message}`, { cause: err });
  }
}

export class OutputFolder {
  private locked = false;
  /** Releases the lock when the process exits by process.exit (a signal handler), not only through close(). */
  private readonly onExit = (): void => this.close();

  private constructor(
    /** The folder the user named (absolute). */
    readonly target: string,
    private readonly parent: string,
    private readonly base: string,
  ) {}

  /**
   * Check the target, create its parent and take the lock, before any training: a bad path is a
   * ConfigError now, not a stack trace after hours. `log` receives what was cleaned up or taken over.
   */
  static open(target: string, log: (line: string) => void = () => undefined): OutputFolder {
    if (!target.trim()) throw new ConfigError('the output folder must be a non-empty path');
    const abs = path.resolve(target);
    const base = path.basename(abs);
    if (!base || base === '.' || base === '..') throw new ConfigError(`output folder '${target}' has no name of its own`);
    // A version, work or link folder of another output folder: writing there would make a link
    // inside a version (a chain of links), or a bundle inside a folder the next publish removes.
    const parent = path.dirname(abs);
    const anchor = existingAncestor(parent);
    // (Through links too: `out/x/sub` where out/x links to a version.)
    const internal = [...abs.split(path.sep), ...fs.realpathSync(anchor).split(path.sep)].find((part) =>
      /^\..+\.(v-.+|run|lock|link-.+)$/.test(part),
    );
    if (internal)
      throw new ConfigError(
        `output folder '${abs}' is inside '${internal}', latephase's own ${internal.endsWith('.run') ? 'work folder' : internal.endsWith('.lock') ? 'lock' : 'version folder'} of another output folder; give that output folder itself (the link beside it) or another path`,
      );
    const kind = SPECIAL_FILE_SYSTEMS[fs.statfsSync(anchor).type];
    if (kind) throw new ConfigError(`output folder '${abs}' is on the ${kind} file system, which does not store files; choose another --out`);
    if (!fs.statSync(anchor).isDirectory()) throw new ConfigError(`output folder '${abs}': '${anchor}' is a file, not a folder`);
    try {
      fs.mkdirSync(parent, { recursive: true });
    } catch (err) {
      throw new ConfigError(`output folder '${abs}': cannot create '${parent}' (${(err as Error).message})`);
    }
    const folder = new OutputFolder(abs, parent, base);
    folder.checkTarget();
    folder.lock(log);
    folder.recoverInterruptedPublish(log);
    folder.removeLeftovers(log);
    return folder;
  }

  private get lockFile(): string {
    return path.join(this.parent, `.${this.base}.lock`);
  }

  private versionPrefix(): string {
    return `.${this.base}.v-`;
  }

  /** The target must be ours to replace: absent, an empty folder, a latephase bundle, or our link. */
  private checkTarget(): void {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(this.target);
    } catch {
      return;
    }
    if (st.isSymbolicLink()) {
      const to = fs.readlinkSync(this.target);
      if (!to.startsWith(this.versionPrefix()))
        throw new ConfigError(`output folder '${this.target}' is a link to '${to}', not one of latephase's versions; refusing to replace it`);
      return;
    }
    if (!st.isDirectory()) throw new ConfigError(`output folder '${this.target}' exists and is a file, not a folder`);
    const entries = fs.readdirSync(this.target);
    if (entries.length && !entries.includes('manifest.json'))
      throw new ConfigError(
        `output folder '${this.target}' is not empty and holds no latephase bundle; refusing to replace it (choose another --out)`,
      );
  }

  private lock(log: (line: string) => void): void {
    const mine: LockInfo = { pid: process.pid, host: os.hostname(), started: new Date().toISOString() };
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        fs.writeFileSync(this.lockFile, `${JSON.stringify(mine)}\n`, { flag: 'wx' });
        this.locked = true;
        process.once('exit', this.onExit);
        return;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'EEXIST') throw new ConfigError(`output folder '${this.target}': cannot write in '${this.parent}' (${(err as Error).message})`);
      }
      const holder = this.readLock();
      if (holder && holder.host === mine.host && alive(holder.pid))
        throw new ConfigError(
          `output folder '${this.target}' is in use by process ${holder.pid} (started ${holder.started}); wait for it to finish or choose another --out`,
        );
      if (holder && holder.host !== mine.host)
        throw new ConfigError(
          `output folder '${this.target}' is locked by process ${holder.pid} on ${holder.host}; remove '${this.lockFile}' if that run is gone`,
        );
      log(`output folder: removed a stale lock (${holder ? `process ${holder.pid} is gone` : 'unreadable lock file'})`);
      fs.rmSync(this.lockFile, { force: true });
    }
    throw new ConfigError(`output folder '${this.target}': could not take the lock '${this.lockFile}'`);
  }

  private readLock(): LockInfo | null {
    try {
      const info = JSON.parse(fs.readFileSync(this.lockFile, 'utf8')) as Partial<LockInfo>;
      return typeof info.pid === 'number' && typeof info.host === 'string' ? (info as LockInfo) : null;
    } catch {
      return null;
    }
  }

  /** The version the target points at (null: none, or a plain folder). */
  private liveVersion(): string | null {
    try {
      return fs.readlinkSync(this.target);
    } catch {
      return null;
    }
  }

  /** Versions and links a killed run left behind (never the live one). */
  private removeLeftovers(log: (line: string) => void): void {
    const live = this.liveVersion();
    const stale = fs
      .readdirSync(this.parent)
      .filter((f) => (f.startsWith(this.versionPrefix()) || f.startsWith(`.${this.base}.link-`)) && f !== live);
    for (const f of stale) fs.rmSync(path.join(this.parent, f), { recursive: true, force: true });
    if (stale.length) log(`output folder: removed ${stale.length} incomplete version(s) left by an interrupted run`);
  }

  /**
   * Where an unfinished run keeps its progress (`.name.run` beside the target: progress checkpoint,
   * growing metrics log). Unlike staged versions it survives a killed run, so the run can resume;
   * the run removes it when it completes.
   */
  get workDir(): string {
    return OutputFolder.workDirOf(this.target);
  }

  static workDirOf(target: string): string {
    const abs = path.resolve(target);
    return path.join(path.dirname(abs), `.${path.basename(abs)}.run`);
  }

  clearWork(): void {
    fs.rmSync(this.workDir, { recursive: true, force: true });
  }

  /** Remove the work folder unless it holds `progress` (what a resume needs): a run that failed before its first checkpoint leaves nothing behind. */
  clearWorkWithout(progress: string): void {
    if (!fs.existsSync(path.join(this.workDir, progress))) this.clearWork();
  }

  /** A fresh, empty version folder to write the run's files into; nothing is visible until `publish`. */
  stage(): string {
    const dir = path.join(this.parent, `${this.versionPrefix()}${Date.now().toString(36)}-${crypto.randomBytes(4).toString('hex')}`);
    io('create', dir, () => fs.mkdirSync(dir));
    return dir;
  }

  /** Make `staged` the folder's content in one rename; the previous version is removed after. */
  publish(staged: string): void {
    if (!this.locked) throw new ConfigError(`output folder '${this.target}' is not locked by this run`);
    syncDirectory(staged);
    const previous = this.liveVersion();
    const link = path.join(this.parent, `.${this.base}.link-${crypto.randomBytes(4).toString('hex')}`);
    io('link', link, () => fs.symlinkSync(path.basename(staged), link));
    const aside = fs.lstatSync(this.target, { throwIfNoEntry: false })?.isDirectory() ? this.moveAsidePlainFolder() : null;
    io('replace', this.target, () => fs.renameSync(link, this.target));
    syncDirectory(this.parent);
    // Published: from here nothing may fail the run. An old version that cannot be removed now is
    // a leftover the next run removes.
    for (const old of [previous && path.join(this.parent, previous), aside]) {
      try {
        if (old) io('remove', old, () => fs.rmSync(old, { recursive: true, force: true }));
      } catch {
        // left for the next run's clean-up
      }
    }
  }

  /**
   * A plain folder (an empty one, or a bundle from before versioned folders) cannot be replaced by
   * a link in one rename: it is moved aside first. This first conversion is the one window in
   * which the target is absent; `open` completes a publish interrupted there (roll forward).
   */
  private moveAsidePlainFolder(): string {
    const aside = path.join(this.parent, `${this.versionPrefix()}retired-${crypto.randomBytes(4).toString('hex')}`);
    io('move aside', this.target, () => fs.renameSync(this.target, aside));
    return aside;
  }

  /** A run killed between moving a plain folder aside and renaming its link in: finish that publish. */
  private recoverInterruptedPublish(log: (line: string) => void): void {
    if (fs.lstatSync(this.target, { throwIfNoEntry: false })) return;
    for (const f of fs.readdirSync(this.parent).filter((n) => n.startsWith(`.${this.base}.link-`))) {
      const link = path.join(this.parent, f);
      if (!fs.existsSync(link)) continue; // a dangling link: its version was never completed
      fs.renameSync(link, this.target);
      log(`output folder: completed a publish that an interrupted run left half done`);
      return;
    }
  }

  /** Remove a staged version that will not be published (the run failed); never the live one. */
  discard(staged: string): void {
    if (this.liveVersion() === path.basename(staged)) return; // published already: never remove the live version
    fs.rmSync(staged, { recursive: true, force: true });
  }

  close(): void {
    if (!this.locked) return;
    fs.rmSync(this.lockFile, { force: true });
    this.locked = false;
    process.removeListener('exit', this.onExit);
  }
}
