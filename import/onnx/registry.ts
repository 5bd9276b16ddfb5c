/**
 * The one table of ONNX operators the importer converts (the mirror of export/onnx/registry.ts):
 * one converter per operator; constant-only nodes of the operators in CONSTANT_FOLDS are computed
 * at import instead (Shape always: shapes are known), and a final Softmax is taken off (the model
 * ends in logits). Adding an operator = one converter + one line here.
 */
import { Converter } from './converter';
import { convertConv } from './converters/conv';
import { convertBatchNormalization } from './converters/batchNorm';
import {
  convertClip,
  convertHardSigmoid,
  convertHardSwish,
  convertIdentity,
  convertLeakyRelu,
  convertRelu,
  convertSigmoid,
  convertTanh,
} from './converters/activation';
import { convertAveragePool, convertGlobalAveragePool, convertMaxPool } from './converters/pooling';
import { convertFlatten, convertReshape, convertTranspose } from './converters/reshape';
import { convertGemm, convertMatMul } from './converters/gemm';
import { convertAdd, convertConcat, convertDiv, convertMul, convertSub } from './converters/elementwise';
import { convertPad } from './converters/pad';
import { CONSTANT_FOLDS } from './converters/constants';

export const CONVERTERS: Readonly<Record<string, Converter>> = {
  Conv: convertConv,
  BatchNormalization: convertBatchNormalization,
  Relu: convertRelu,
  Clip: convertClip,
  LeakyRelu: convertLeakyRelu,
  Sigmoid: convertSigmoid,
  Tanh: convertTanh,
  HardSigmoid: convertHardSigmoid,
  HardSwish: convertHardSwish,
  MaxPool: convertMaxPool,
  AveragePool: convertAveragePool,
  GlobalAveragePool: convertGlobalAveragePool,
  Flatten: convertFlatten,
  Reshape: convertReshape,
  Transpose: convertTranspose,
  Gemm: convertGemm,
  MatMul: convertMatMul,
  Add: convertAdd,
  Sub: convertSub,
  Mul: convertMul,
  Div: convertDiv,
  Concat: convertConcat,
  Pad: convertPad,
  Identity: convertIdentity,
  Dropout: convertIdentity,
};

/** Every operator a model may use: converted, or folded when its inputs are constants. */
export function supportedOperators(): string[] {
  return [...new Set([...Object.keys(CONVERTERS), ...Object.keys(CONSTANT_FOLDS), 'Shape', 'Softmax'])].sort();
}

/** The opsets the converters are written against (ONNX 1.6 to 1.16's default domain). */
export const MIN_OPSET = 11;
export const MAX_OPSET = 21;
