/**
 * Full-layer late-phase weights (kind `full`, the "late-phase deep ensemble" ablation, one named
 * layer at a time): every member owns a whole copy of the layer's tensors. `FullWeight` is also
 * what the late-phase head is made of. Convolution and dense layers are linear in their weights,
 * so the weight mean (the fold) equals the mean of member outputs; for an LSTM it is the
 * documented weight rule.
 */
import * as tf from '@tensorflow/tfjs-core';
import { plainWeight, PlainWeight, WeightRequest } from '../../nn/weight';
import { MemberWeight } from '../memberWeight';
import { parseNameList, registerLatePhaseKind, selectionMatcher } from '../kindTable';
import { LatePhaseBatchNorm } from './batchNorm';

export class FullWeight extends MemberWeight<string> {
  private readonly tensor: string;

  constructor(
    request: Pick<WeightRequest, 'layer' | 'tensor' | 'shape' | 'init' | 'decay'>,
    readonly latePhaseKind: 'full' | 'head' = 'full',
  ) {
    super(`${request.layer}.${request.tensor}`, request.shape, request.layer, {
      [request.tensor]: { init: request.init(), role: 'param', decay: request.decay },
    });
    this.tensor = request.tensor;
  }

  protected memberValue(member: Record<string, tf.Variable>): tf.Tensor {
    return member[this.tensor]!;
  }

  fold(): PlainWeight {
    const decay = this.members.params(0)[0]!.decay;
    return plainWeight(this.name, this.members.mean(this.tensor), decay);
  }
}

registerLatePhaseKind<string[]>({
  key: 'full',
  help: 'layers named by name or pattern whose every tensor is late-phase (conv, dense, LSTM, BatchNorm), e.g. full=conv2+fc1',
  priority: 30,
  parse: (v) => parseNameList('full', v),
  describe: (names) => `full(${names.join(',')})`,
  builder: (names) => {
    const chosen = selectionMatcher('full', names, 'layer');
    return {
      weight: (r) => (chosen.matches(r.layer) ? new FullWeight(r) : undefined),
      batchNorm: (name, channels, config) => (chosen.matches(name) ? new LatePhaseBatchNorm(name, channels, config) : undefined),
      finish: () => chosen.finish(),
    };
  },
});
