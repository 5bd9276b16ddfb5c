/** checkLayer cases of the `full` kind (run by layers.test.ts). */
import { kindCase } from '../kindCase';

export const CASES = [
  kindCase('full conv2d', { full: ['fc'] }, (f) => f.conv('fc', 3, 4, { kernelSize: 3 }), [5, 5, 3]),
  kindCase('full lstm', { full: ['fl'] }, (f) => f.lstm('fl', 3, 4), [5, 3], { gradientTolerance: 5e-3 }),
];
