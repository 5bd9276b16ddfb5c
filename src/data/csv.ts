/**
 * A CSV file as a data set (RFC 4180: a header row, `,` separated, `"` quoted cells with `""` for a
 * quote, quoted commas and line breaks, CRLF or LF, a UTF-8 BOM ignored). The label column is named;
 * features are the named columns or every other one, numeric only. The file is read in 1 MiB
 * pieces and no record may exceed MAX_RECORD bytes, so a binary or one-line 2 GB file is an error
 * at once, not an out-of-memory. Every problem names file, line and column.
 */
import * as fs from 'fs';
import { DataError } from '../errors';
import { Dataset } from './dataset';

/** A record longer than this is not a CSV row anyone meant. */
export const MAX_RECORD = 4 << 20;

export interface CsvOptions {
  /** The label column's name. */
  readonly label: string;
  /** Feature columns by name (default: every column but the label). */
  readonly features?: readonly string[];
  /** A missing (empty) feature cell: 'error' (default) or 'skip' the row (counted). */
  readonly missing?: 'error' | 'skip';
  /** The class names, when another file fixed them (a test file reads the training file's). */
  readonly classNames?: readonly string[];
}

export interface CsvData {
  readonly data: Dataset;
  /** Class names by index: the sorted distinct label values, or '0'..'C-1' for integer labels. */
  readonly classNames: readonly string[];
  readonly featureNames: readonly string[];
  /** Rows skipped for a missing value (missing: 'skip'). */
  readonly skipped: number;
}

/** Records of `file`, each with the line it starts on; calls `onRecord` per record (header first). */
function readRecords(file: string, onRecord: (cells: string[], line: number) => void): void {
  const fd = fs.openSync(file, 'r');
  const chunk = Buffer.alloc(1 << 20);
  const decoder = new TextDecoder('utf-8', { fatal: false });
  let cells: string[] = [];
  let cell = '';
  let quoted = false;
  let afterQuote = false;
  let line = 1;
  let recordLine = 1;
  let recordBytes = 0;
  let first = true;
  let any = false;
  let held = '';
  const endCell = (): void => {
    cells.push(cell);
    cell = '';
    afterQuote = false;
  };
  const endRecord = (): void => {
    endCell();
    if (!(cells.length === 1 && cells[0] === '')) onRecord(cells, recordLine); // blank lines are not records
    cells = [];
    recordBytes = 0;
    recordLine = line;
  };
  try {
    for (;;) {
      const got = fs.readSync(fd, chunk, 0, chunk.length, null);
      let text = held + (got ? decoder.decode(chunk.subarray(0, got), { stream: true }) : '');
      held = '';
      if (!text) break;
      // a quote at a piece's end may be the first of a doubled "" pair: it waits for the next piece
      if (got && text.endsWith('"')) {
        held = '"';
        text = text.slice(0, -1);
      }
      if (first) {
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
        first = false;
      }
      for (let i = 0; i < text.length; i++) {
        const ch = text[i]!;
        any = true;
        if (++recordBytes > MAX_RECORD)
          throw new DataError(`'${file}' line ${recordLine}: a record longer than ${MAX_RECORD >> 20} MiB; is this a CSV file?`);
        if (quoted) {
          if (ch === '"' && text[i + 1] === '"') {
            cell += '"';
            i++;
          } else if (ch === '"') {
            quoted = false;
            afterQuote = true;
          } else {
            if (ch === '\n') line++;
            cell += ch;
          }
        } else if (ch === '"' && cell === '' && !afterQuote) quoted = true;
        else if (ch === ',') endCell();
        else if (ch === '\n') {
          line++;
          endRecord();
        } else if (ch === '\r') continue;
        else if (afterQuote) throw new DataError(`'${file}' line ${line}: text after a closing quote in cell ${cells.length + 1}`);
        else cell += ch;
      }
    }
    if (quoted) throw new DataError(`'${file}' line ${recordLine}: a quote opened here is never closed`);
    if (any && (cell !== '' || cells.length)) endRecord();
  } finally {
    fs.closeSync(fd);
  }
}

export function readCsv(file: string, opts: CsvOptions): CsvData {
  let header: string[] | null = null;
  let labelAt = -1;
  let featureAt: number[] = [];
  const values: number[] = [];
  const rawLabels: string[] = [];
  let skipped = 0;
  readRecords(file, (cells, line) => {
    if (!header) {
      header = cells.map((c) => c.trim());
      labelAt = header.indexOf(opts.label);
      if (labelAt < 0) throw new DataError(`'${file}': no label column '${opts.label}' in the header (${header.join(', ')})`);
      const names = opts.features ?? header.filter((_, i) => i !== labelAt);
      featureAt = names.map((n) => {
        const at = header!.indexOf(n);
        if (at < 0) throw new DataError(`'${file}': no feature column '${n}' in the header (${header!.join(', ')})`);
        return at;
      });
      if (!featureAt.length) throw new DataError(`'${file}': no feature columns besides the label '${opts.label}'`);
      return;
    }
    if (cells.length !== header.length) throw new DataError(`'${file}' line ${line}: ${cells.length} cells, the header has ${header.length}`);
    const row: number[] = [];
    for (const at of featureAt) {
      const text = cells[at]!.trim();
      if (text === '') {
        if (opts.missing === 'skip') {
          skipped++;
          return;
        }
        throw new DataError(`'${file}' line ${line}, column '${header[at]}': missing value (data.missing: 'skip' drops such rows, counted)`);
      }
      const v = Number(text);
      if (!Number.isFinite(v)) throw new DataError(`'${file}' line ${line}, column '${header[at]}': '${text.slice(0, 40)}' is not a number`);
      row.push(v);
    }
    const label = cells[labelAt]!.trim();
    if (label === '') throw new DataError(`'${file}' line ${line}, column '${opts.label}': missing label`);
    values.push(...row);
    rawLabels.push(label);
  });
  if (!header) throw new DataError(`'${file}': empty file (a header row and data rows expected)`);
  if (!rawLabels.length) throw new DataError(`'${file}': a header only, no data rows${skipped ? ` (${skipped} skipped for missing values)` : ''}`);
  const classNames = opts.classNames ?? classNamesOf(rawLabels);
  const index = new Map(classNames.map((n, i) => [n, i]));
  const y = Int32Array.from(rawLabels, (l, i) => {
    const k = index.get(l) ?? index.get(String(Number(l)));
    if (k === undefined)
      throw new DataError(`'${file}' data row ${i + 1}: label '${l}' is not one of the classes (${classNames.slice(0, 10).join(', ')})`);
    return k;
  });
  const featureNames = featureAt.map((at) => header![at]!);
  return {
    data: { x: Float32Array.from(values), y, featureShape: [featureNames.length], classes: classNames.length },
    classNames,
    featureNames,
    skipped,
  };
}

/** Integer labels 0..C-1 keep their values (names '0'..'C-1'); anything else: the sorted distinct values. */
function classNamesOf(labels: readonly string[]): string[] {
  const distinct = [...new Set(labels)];
  if (distinct.every((l) => /^\d+$/.test(l))) {
    const max = distinct.reduce((m, l) => Math.max(m, Number(l)), 0);
    return Array.from({ length: max + 1 }, (_, i) => String(i));
  }
  return distinct.sort();
}
