/** The late-phase kinds' test cases, listed (one module per kind); a test checks that this list and the folder agree. */
import { CASES as batchNorm } from './batchNorm';
import { CASES as full } from './full';
import { CASES as head } from './head';
import { CASES as rank1 } from './rank1';
import { CASES as templates } from './templates';
import type { LayerCase } from '../layerCases';

export const LATE_PHASE_CASES: readonly LayerCase[] = [...batchNorm, ...full, ...head, ...rank1, ...templates];
