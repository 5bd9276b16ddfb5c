/**
 * `verifyOnnxFile` in a child process, for models we did not write: a native crash inside
 * onnxruntime-node (a SIGSEGV on a graph it mishandles) ends the child, not the caller, and comes
 * back as a named VerificationError with the signal. Typed errors keep their type across the
 * process boundary.
 */
import * as path from 'path';
import { fork } from 'child_process';
import { NAMED_ERRORS, VerificationError } from '../../src/errors';
import type { FileVerificationReport, VerifyFileOptions } from './verifyFile';
import { readOnnxModel } from '../../src/onnx/readOnnx';

/** What the child sends back: the report, or the error that stopped it. */
export type VerifyChildReply = { kind: 'report'; report: FileVerificationReport } | { kind: 'error'; name: string; message: string; stack?: string };

export async function verifyOnnxFileIsolated(file: string, opts: VerifyFileOptions = {}): Promise<FileVerificationReport> {
  // A file that cannot be read safely fails here, without a process: only onnxruntime runs apart.
  readOnnxModel(file, { maxBytes: opts.maxBytes });
  const child = fork(path.join(__dirname, 'verifyChild.js'), [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    let reply: VerifyChildReply | null = null;
    child.on('message', (m: VerifyChildReply) => (reply = m));
    child.on('error', (err) => reject(new VerificationError(`could not start the verification process: ${err.message}`)));
    child.on('exit', (code, signal) => {
      const r = reply as VerifyChildReply | null;
      if (r?.kind === 'report') return resolve(r.report);
      if (r?.kind === 'error') {
        const Typed = NAMED_ERRORS[r.name];
        // Not one of ours: a bug, which keeps its stack for the report.
        return reject(Typed ? new Typed(r.message) : Object.assign(new Error(r.message), { name: r.name, stack: r.stack }));
      }
      reject(
        new VerificationError(
          `onnxruntime-node crashed (${signal ?? `exit code ${code}`}) while verifying '${file}': the model is not safe to run with this onnxruntime build; nothing else was affected`,
        ),
      );
    });
    child.send({ file, opts });
  });
}
