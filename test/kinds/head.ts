/** checkLayer cases of the `head` kind (run by layers.test.ts). */
import { kindCase } from '../kindCase';

export const CASES = [kindCase('late-phase head', { head: true }, (f) => f.head('head', 6, 4), [6])];
