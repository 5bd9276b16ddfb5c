/**
 * A model recipe: how to build a model again from nothing but data (a module path, an exported
 * builder and its arguments). Another thread cannot receive a Model object, so data-parallel
 * training rebuilds the model from its recipe in every worker and then checks that the copy has the
 * same tensors (names and shapes) as the original.
 */
import { Model } from './model';
import { ConfigError } from '../errors';
import { uniqueByVariable } from './layer';

export interface ModelRecipe {
  /** Absolute path (or package name) of a CommonJS module, as `require` takes it. */
  readonly module: string;
  /** The module's export that builds the model: `(...args) => Model`. */
  readonly exportName: string;
  /** Arguments for the builder; must survive structured cloning (plain data). */
  readonly args: readonly unknown[];
}

export function describeRecipe(r: ModelRecipe): string {
  return `${r.module}#${r.exportName}`;
}

/** Build the model a recipe describes; ConfigError naming the recipe when it cannot. */
export function buildFromRecipe(recipe: ModelRecipe): Model {
  let exports: Record<string, unknown>;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the module is data (a recipe)
    exports = require(recipe.module) as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError(`model recipe ${describeRecipe(recipe)}: cannot load the module (${(err as Error).message.split('\n')[0]})`);
  }
  const builder = exports[recipe.exportName];
  if (typeof builder !== 'function')
    throw new ConfigError(`model recipe ${describeRecipe(recipe)}: the module exports no function '${recipe.exportName}'`);
  const model: unknown = builder(...recipe.args);
  if (!(model instanceof Model)) throw new ConfigError(`model recipe ${describeRecipe(recipe)}: the builder did not return a Model`);
  return model;
}

/** Every parameter and state tensor as `name [shape]`, in model order: equal signatures mean the same tensors. */
export function modelSignature(model: Model): string[] {
  return uniqueByVariable([...model.params(), ...model.net.state()]).map((t) => `${t.name} [${t.variable.shape.join(', ')}]`);
}

/** ConfigError naming the first tensor where `copy` differs from `original`. */
export function checkSameSignature(original: readonly string[], copy: readonly string[], what: string): void {
  const n = Math.max(original.length, copy.length);
  for (let i = 0; i < n; i++) {
    if (original[i] !== copy[i]) {
      throw new ConfigError(
        `${what} does not match the model being trained: tensor ${i} is ${copy[i] ?? '(missing)'} there, ${original[i] ?? '(missing)'} here`,
      );
    }
  }
}
