/**
 * A folder of images sorted by class (torchvision's ImageFolder layout: `root/<class>/<image>`),
 * as a streamed data set. Images (PNG, JPEG, WebP, GIF, TIFF, AVIF) are decoded once with sharp
 * (libvips, on its own threads, many in flight): EXIF orientation applied, alpha flattened on
 * white, CMYK and palette images converted, reduced to the configured channels (1: luminance, 3:
 * sRGB), and resized to the training size (`crop`: the shorter side to the size, then the centre;
 * `exact`: stretched). The uint8 pixels go to a cache file, one fixed-size record an image;
 * training then reads rows from it by index, so the set never has to fit in memory. The cache is
 * keyed by the settings and is valid while every file keeps its size and mtime (else it is
 * rebuilt). Features are the pixels / 255, [H, W, C], channels in RGB order.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ConfigError, DataError } from '../errors';
import { StreamedDataset } from './dataset';

/** What decoding takes from a file name: sharp's input formats (other files are ignored, and counted). */
const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.webp', '.gif', '.tif', '.tiff', '.avif']);
/** Bumped when decoding changes, so old caches are not reused. */
const CACHE_VERSION = 1;

export interface ImageFolderOptions {
  readonly size: readonly [number, number];
  readonly channels: 1 | 3;
  readonly resize: 'crop' | 'exact';
  /** A cache folder, or false: decode into a temporary folder removed at exit. */
  readonly cache: string | false;
  /** Unreadable images are skipped (and counted) instead of an error. */
  readonly skipUnreadable: boolean;
}

export interface ImageFile {
  readonly rel: string;
  readonly label: number;
  readonly size: number;
  readonly mtimeMs: number;
}

export interface ImageFolderScan {
  readonly root: string;
  readonly classNames: readonly string[];
  readonly files: readonly ImageFile[];
  /** Files without an image extension (left out, as torchvision's ImageFolder does). */
  readonly ignored: number;
}

/**
 * The classes (sorted sub-folder names) and image files of `root`; `classNames` (the training
 * folder's) when this is the test folder. Symlinks may not leave the root.
 */
export function scanImageFolder(root: string, classNames?: readonly string[]): ImageFolderScan {
  if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) throw new DataError(`image folder '${root}' is not a folder`);
  const realRoot = fs.realpathSync(root);
  const inside = (p: string): string => {
    const real = fs.realpathSync(p);
    if (real !== realRoot && !real.startsWith(realRoot + path.sep))
      throw new DataError(`image folder '${root}': '${path.relative(root, p)}' is a link to '${real}', outside the folder`);
    return real;
  };
  const dirs = fs
    .readdirSync(root, { withFileTypes: true })
    .filter((d) => !d.name.startsWith('.') && (d.isDirectory() || (d.isSymbolicLink() && fs.statSync(path.join(root, d.name)).isDirectory())))
    .map((d) => d.name)
    .sort();
  const names = classNames ?? dirs;
  if (!classNames) {
    if (names.length === 0) throw new DataError(`image folder '${root}' has no class sub-folders (expected ${root}/<class>/<image>)`);
    if (names.length === 1) throw new DataError(`image folder '${root}' has one class ('${names[0]}'); a classifier needs at least two`);
  } else {
    const extra = dirs.filter((d) => !classNames.includes(d));
    if (extra.length)
      throw new DataError(
        `image folder '${root}': class folder(s) ${extra.map((d) => `'${d}'`).join(', ')} not in the training classes (${classNames.join(', ')})`,
      );
  }
  const files: ImageFile[] = [];
  let ignored = 0;
  names.forEach((name, label) => {
    const dir = path.join(root, name);
    if (!fs.existsSync(dir)) return; // a test folder may lack a class
    inside(dir);
    const before = files.length;
    for (const rel of walk(dir)) {
      const full = path.join(dir, rel);
      inside(full);
      if (!IMAGE_EXTENSIONS.has(path.extname(rel).toLowerCase())) {
        ignored++;
        continue;
      }
      const st = fs.statSync(full);
      files.push({ rel: path.join(name, rel), label, size: st.size, mtimeMs: st.mtimeMs });
    }
    if (files.length === before)
      throw new DataError(`image folder '${root}': class folder '${name}' has no images (${[...IMAGE_EXTENSIONS].join(', ')})`);
  });
  return { root, classNames: names, files, ignored };
}

/** Regular files under `dir`, relative, sorted (sub-folders included, hidden entries left out). */
function walk(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(dir, prefix), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (e.name.startsWith('.')) continue;
    const rel = path.join(prefix, e.name);
    const st = fs.statSync(path.join(dir, rel));
    if (st.isDirectory()) out.push(...walk(dir, rel));
    else if (st.isFile()) out.push(rel);
  }
  return out;
}

interface CacheIndex {
  readonly version: number;
  readonly settings: string;
  readonly pixels: string;
  readonly files: ReadonlyArray<Pick<ImageFile, 'rel' | 'size' | 'mtimeMs'>>;
  /** Indices (into files) of images that could not be decoded (skipUnreadable). */
  readonly skipped: readonly number[];
}

export interface DecodedImages {
  readonly data: StreamedDataset;
  /** Images decoded now (0 when the cache was valid). */
  readonly decoded: number;
  readonly seconds: number;
  /** Unreadable images left out (skipUnreadable), relative to the root. */
  readonly skipped: readonly string[];
  readonly cacheDir: string;
}

type SharpModule = typeof import('sharp');

function loadSharp(): SharpModule {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only for image folders
    return require('sharp') as SharpModule;
  } catch (err) {
    throw new ConfigError(
      `image folders need sharp, which failed to load on this platform (${(err as Error).message.split('\n')[0]}); reinstall it: npm install sharp`,
    );
  }
}

/** The images of `scan` as a data set, decoded into the cache unless it is valid for every file. */
export async function decodeImageFolder(scan: ImageFolderScan, opts: ImageFolderOptions): Promise<DecodedImages> {
  const [h, w] = opts.size;
  const c = opts.channels;
  const settings = JSON.stringify({ root: fs.realpathSync(scan.root), h, w, c, resize: opts.resize, v: CACHE_VERSION });
  const dir = cacheDir(opts.cache, settings);
  const started = Date.now();
  let index = readIndex(dir, settings, scan);
  let decoded = 0;
  if (!index) {
    index = await decodeAll(scan, opts, dir, settings);
    decoded = scan.files.length - index.skipped.length;
  }
  if (index.skipped.length && !opts.skipUnreadable)
    throw new DataError(`image folder '${scan.root}': '${scan.files[index.skipped[0]!]!.rel}' cannot be decoded (the cache recorded it)`);
  const record = h * w * c;
  const skipped = new Set(index.skipped);
  const kept = scan.files.map((_, i) => i).filter((i) => !skipped.has(i));
  const pixels = path.join(dir, index.pixels);
  return {
    data: {
      y: Int32Array.from(kept, (i) => scan.files[i]!.label),
      featureShape: [h, w, c],
      classes: scan.classNames.length,
      readRows: (rows) => readPixelRows(pixels, rows, kept, record),
    },
    decoded,
    seconds: (Date.now() - started) / 1000,
    skipped: index.skipped.map((i) => scan.files[i]!.rel),
    cacheDir: dir,
  };
}

function readPixelRows(file: string, rows: ArrayLike<number>, kept: readonly number[], record: number): Float32Array {
  const out = new Float32Array(rows.length * record);
  const buf = Buffer.alloc(record);
  const fd = fs.openSync(file, 'r');
  try {
    for (let i = 0; i < rows.length; i++) {
      const at = kept[rows[i]!];
      if (at === undefined) throw new DataError(`image row ${rows[i]} outside 0..${kept.length - 1}`);
      if (fs.readSync(fd, buf, 0, record, at * record) !== record)
        throw new DataError(`image cache '${file}' is truncated; delete it to decode again`);
      for (let j = 0; j < record; j++) out[i * record + j] = buf[j]! / 255;
    }
  } finally {
    fs.closeSync(fd);
  }
  return out;
}

/** The cache folder for these settings: under `cache`, or a temporary one removed at exit. */
function cacheDir(cache: string | false, settings: string): string {
  if (cache === false) {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'latephase-images-'));
    process.once('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));
    return tmp;
  }
  const dir = path.join(cache, crypto.createHash('sha256').update(settings).digest('hex').slice(0, 16));
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** The default cache: $XDG_CACHE_HOME/latephase/images, else ~/.cache/latephase/images. */
export function defaultImageCache(): string {
  return path.join(process.env['XDG_CACHE_HOME'] || path.join(os.homedir(), '.cache'), 'latephase', 'images');
}

function readIndex(dir: string, settings: string, scan: ImageFolderScan): CacheIndex | null {
  try {
    const index = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8')) as CacheIndex;
    const same =
      index.version === CACHE_VERSION &&
      index.settings === settings &&
      index.files.length === scan.files.length &&
      index.files.every((f, i) => f.rel === scan.files[i]!.rel && f.size === scan.files[i]!.size && f.mtimeMs === scan.files[i]!.mtimeMs) &&
      fs.existsSync(path.join(dir, index.pixels));
    return same ? index : null;
  } catch {
    return null;
  }
}

/** Decode every image into a new pixels file (many in flight on sharp's threads), then publish its index (written last). */
async function decodeAll(scan: ImageFolderScan, opts: ImageFolderOptions, dir: string, settings: string): Promise<CacheIndex> {
  const sharp = loadSharp();
  const [h, w] = opts.size;
  const record = h * w * opts.channels;
  const pixels = `pixels-${crypto.randomBytes(6).toString('hex')}.u8`;
  const fd = fs.openSync(path.join(dir, pixels), 'w');
  const skipped: number[] = [];
  let next = 0;
  const decodeNext = async (): Promise<void> => {
    while (next < scan.files.length) {
      const i = next++;
      const file = scan.files[i]!;
      let raw: Buffer;
      try {
        raw = await decodeOne(sharp, path.join(scan.root, file.rel), opts);
      } catch (err) {
        if (!opts.skipUnreadable) throw new DataError(`image folder '${scan.root}': '${file.rel}' ${(err as Error).message}`);
        skipped.push(i);
        continue;
      }
      if (raw.length !== record) throw new DataError(`image folder '${scan.root}': '${file.rel}' decoded to ${raw.length} bytes, expected ${record}`);
      fs.writeSync(fd, raw, 0, record, i * record);
    }
  };
  try {
    const inFlight = Math.max(2, 2 * os.cpus().length);
    await Promise.all(Array.from({ length: inFlight }, decodeNext));
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(path.join(dir, pixels), { force: true });
    throw err;
  }
  fs.closeSync(fd);
  const index: CacheIndex = {
    version: CACHE_VERSION,
    settings,
    pixels,
    files: scan.files.map(({ rel, size, mtimeMs }) => ({ rel, size, mtimeMs })),
    skipped: skipped.sort((a, b) => a - b),
  };
  const tmp = path.join(dir, 'index.json.tmp');
  fs.writeFileSync(tmp, JSON.stringify(index));
  fs.renameSync(tmp, path.join(dir, 'index.json'));
  for (const f of fs.readdirSync(dir)) if (f.startsWith('pixels-') && f !== pixels) fs.rmSync(path.join(dir, f), { force: true });
  return index;
}

/** One image as uint8 [h, w, channels]; throws a short reason when it cannot be decoded. */
async function decodeOne(sharp: SharpModule, file: string, opts: ImageFolderOptions): Promise<Buffer> {
  if (fs.statSync(file).size === 0) throw new Error('is an empty file');
  const [h, w] = opts.size;
  let img = sharp(file, { failOn: 'truncated' }).rotate(); // rotate(): EXIF orientation
  img = img.resize(w, h, opts.resize === 'crop' ? { fit: 'cover', position: 'centre' } : { fit: 'fill' });
  img = img.flatten({ background: '#ffffff' });
  img = opts.channels === 1 ? img.toColourspace('b-w') : img.toColourspace('srgb');
  try {
    const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== opts.channels) throw new Error(`decoded to ${info.channels} channels, expected ${opts.channels}`);
    return data;
  } catch (err) {
    throw new Error(`cannot be decoded as an image (${(err as Error).message.split('\n')[0]})`);
  }
}
