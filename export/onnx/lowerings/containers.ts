import { Sequential } from '../../../src/nn/sequential';
import { Residual } from '../../../src/nn/residual';
import { Lowering, output } from '../lowering';

export const lowerSequential: Lowering<Sequential> = (layer, input, ctx) => layer.layers.reduce((value, child) => ctx.lower(child, value), input);

export const lowerResidual: Lowering<Residual> = (layer, input, ctx) => {
  const main = ctx.lower(layer.main, input);
  const skip = layer.shortcut ? ctx.lower(layer.shortcut, input) : input;
  return output(layer, input, ctx.graph.node('Add', [main.name, skip.name], layer.name));
};
