/** A model file of either kind the importers read: a tfjs model.json, or an ONNX file. */
import { importOnnx, ImportedModel, ImportOptions } from './onnx/importOnnx';
import { importTfjs } from './tfjs/importTfjs';

export function isTfjsModelFile(file: string): boolean {
  return file.toLowerCase().endsWith('.json');
}

export function importModelFile(file: string, opts: ImportOptions = {}): ImportedModel {
  return isTfjsModelFile(file) ? importTfjs(file, opts) : importOnnx(file, opts);
}
