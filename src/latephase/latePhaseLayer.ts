/**
 * The one interface every late-phase weight kind implements (BatchNorm, head, and later rank-1,
 * template bank, full layer). Trainer, folding and reporting talk to this interface only.
 */
import { Layer, NamedVariable, Param } from '../nn/layer';
import { Rng } from '../nn/rng';

/** Which member a late-phase layer computes with: member k, or the layerwise average of all members. */
export type MemberSelection = number | 'average';

/**
 * How each kind turns its K members into plain weights. Each kind reads its own field.
 * - batchNorm 'exact' (default): the mean of the K members' eval-mode outputs, which is one
 *   per-channel affine map; 'mean': the paper's parameter mean (mean gamma, beta and statistics).
 */
export interface FoldOptions {
  readonly batchNorm?: 'exact' | 'mean';
  /**
   * rank-1 'mean' (default): the paper's parameter mean W o (mean r)(mean s)^T; 'product': the exact
   * mean of the member weights mean_k W o (r_k s_k^T), which equals the mean of member outputs.
   */
  readonly rank1?: 'mean' | 'product';
}

export interface LatePhaseLayer extends Layer {
  readonly latePhase: true;
  /** Human-readable kind, e.g. 'batchnorm', 'head'. */
  readonly latePhaseKind: string;
  /** 1 before release (the tied copy), K after. */
  memberCount(): number;
  /** Release: copy the tied member K times and perturb each copy with N(0, (sigma0 * RMS(p))^2). */
  replicate(k: number, sigma0: number, rng: Rng): void;
  select(member: MemberSelection): void;
  /** Tensors shared by all members (e.g. a rank-1 layer's base weight); empty for BatchNorm and head. */
  sharedParams(): Param[];
  /** Member k's own trainable tensors. */
  memberParams(k: number): Param[];
  /** Member k's own non-trainable tensors (running statistics): what a train-mode step of member k may change. */
  memberState(k: number): NamedVariable[];
  /** A plain layer computing this layer's average over members, per `options`. */
  fold(options: FoldOptions): Layer;
}

export function isLatePhase(layer: Layer): layer is LatePhaseLayer {
  return (layer as Partial<LatePhaseLayer>).latePhase === true;
}
