/**
 * Base for late-phase kinds that are layers of their own (BatchNorm): a member computes the
 * layer's output with its tensors, and selection 'average' is the mean of the members' outputs.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ForwardContext, Layer } from '../nn/layer';
import { ConfigError } from '../errors';
import { FoldOptions, LatePhaseLayer } from './latePhaseLayer';
import { MemberTensorSpec } from './memberSet';
import { MemberUnit } from './memberUnit';

export abstract class MemberLayer<N extends string> extends MemberUnit<N> implements LatePhaseLayer {
  abstract readonly kind: string;

  protected constructor(name: string, specs: Record<N, MemberTensorSpec>) {
    super(name, name, specs);
  }

  abstract outputShape(input: readonly number[]): number[];
  abstract fold(options: FoldOptions): Layer;

  /** Member k alone: the kind's fold over a member set holding only k. */
  foldMember(k: number, options: FoldOptions): Layer {
    return this.members.withOnly(k, () => this.fold(options));
  }
  /** The layer's output computed with one member's tensors. */
  protected abstract forwardMember(x: tf.Tensor, member: Record<N, tf.Variable>, ctx: ForwardContext): tf.Tensor;

  /** With a member selected, that member computes; with 'average', the mean of all members' eval outputs. */
  forward(x: tf.Tensor, ctx: ForwardContext): tf.Tensor {
    if (this.members.selected !== 'average') return this.forwardMember(x, this.members.active(), ctx);
    if (ctx.training) throw new ConfigError(`late-phase layer '${this.name}': select a member before training (selection is 'average')`);
    return this.averageOver((m) => this.forwardMember(x, m, ctx));
  }

  children(): readonly Layer[] {
    return [];
  }
  clone(): Layer {
    throw new ConfigError(`late-phase layer '${this.name}' cannot be cloned; fold it first (foldMembers)`);
  }
}
