/**
 * A size check for the zoo's scalable architectures (WRN, ResNet), run before any tensor exists:
 * a name such as `wrn-10000-100` would otherwise allocate until the wasm heap runs out.
 */
import { ConfigError } from '../src/errors';

/**
 * The most parameters a zoo model may have: float32 weights plus momentum and the gradients of a
 * step are about 3x this in bytes x 4, which must fit tfjs's wasm heap (4 GiB) with room for
 * activations. WRN-28-10, the paper's largest, has 36.5M.
 */
const MAX_ZOO_PARAMETERS = 200_000_000;

/** The most residual blocks (checked before their shapes are listed): WRN-1000-k has 498. */
const MAX_ZOO_BLOCKS = 3000;

/** ConfigError for a depth whose block count alone is beyond reason (before anything is listed or built). */
export function checkBlockCount(name: string, blocks: number): void {
  if (blocks > MAX_ZOO_BLOCKS)
    throw new ConfigError(
      `model '${name}' would have ${blocks} residual blocks, more than the ${MAX_ZOO_BLOCKS} this zoo builds; choose a smaller depth`,
    );
}

/** One residual block: two 3x3 convolutions, a 1x1 projection where the shape changes. */
interface BlockShape {
  readonly inC: number;
  readonly outC: number;
  readonly stride: number;
}

/** ConfigError before building when the blocks' convolutions alone exceed MAX_ZOO_PARAMETERS. */
export function checkZooSize(name: string, blocks: readonly BlockShape[]): void {
  let parameters = 0;
  for (const b of blocks) parameters += 9 * (b.inC * b.outC + b.outC * b.outC) + (b.inC !== b.outC || b.stride !== 1 ? b.inC * b.outC : 0);
  if (parameters > MAX_ZOO_PARAMETERS)
    throw new ConfigError(
      `model '${name}' would have about ${(parameters / 1e6).toFixed(0)}M parameters (${blocks.length} residual blocks), more than the ${MAX_ZOO_PARAMETERS / 1e6}M that fit in training memory; choose a smaller depth or width`,
    );
}
