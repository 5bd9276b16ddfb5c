/** checkLayer cases of the `batchNorm` kind (run by layers.test.ts). */
import { kindCase } from '../kindCase';

export const CASES = [kindCase('late-phase batchnorm', { batchNorm: true }, (f) => f.batchNorm('bn', 3), [4, 4, 3])];
