/** checkLayer cases of the `templates` kind (run by layers.test.ts). */
import { kindCase } from '../kindCase';

export const CASES = [
  kindCase('template conv2d', { templates: 3 }, (f) => f.conv('tc', 3, 4, { kernelSize: 3 }), [5, 5, 3]),
  kindCase('template dense', { templates: 4 }, (f) => f.dense('td', 6, 4), [6]),
];
