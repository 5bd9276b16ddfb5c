/** The child process of verifyIsolated.ts: one verification, its report or error sent back, then exit. */
import { verifyOnnxFile, VerifyFileOptions } from './verifyFile';
import { faultPoint } from '../../src/io/faultPoints';
import type { VerifyChildReply } from './verifyIsolated';

process.once('message', (msg: { file: string; opts: VerifyFileOptions }) => {
  faultPoint('verify');
  verifyOnnxFile(msg.file, msg.opts)
    .then((report): VerifyChildReply => ({ kind: 'report', report }))
    .catch((err: unknown): VerifyChildReply => {
      const e = err instanceof Error ? err : new Error(String(err));
      return { kind: 'error', name: e.name, message: e.message, ...(e.stack && { stack: e.stack }) };
    })
    .then((reply) => process.send!(reply, () => process.disconnect()));
});
