/** checkLayer cases of the `rank1` kind (run by layers.test.ts). */
import { kindCase } from '../kindCase';

export const CASES = [
  kindCase('rank-1 dense', { rank1: true }, (f) => f.dense('r1d', 6, 4), [6]),
  kindCase('rank-1 conv2d strided, no bias', { rank1: true }, (f) => f.conv('r1c', 3, 4, { kernelSize: 3, stride: 2, bias: false }), [5, 5, 3]),
  kindCase('rank-1 lstm', { rank1: true }, (f) => f.lstm('r1l', 3, 4), [5, 3], { gradientTolerance: 5e-3 }),
];
