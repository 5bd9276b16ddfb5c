/**
 * The one interface every late-phase kind implements, whether it is a layer of its own
 * (BatchNorm, whose members also own running statistics) or a weight that a plain layer reads
 * (head, full, rank-1, template coefficients). Trainer, folding and reporting talk to this
 * interface only.
 */
import { Layer, NamedVariable, Param } from '../nn/layer';
import { Rng } from '../nn/rng';
import { Weight } from '../nn/weight';

/** Which member a late-phase unit computes with: member k, or the average over members. */
export type MemberSelection = number | 'average';

/**
 * How each kind turns its K members into plain weights, keyed by the kind's fold option name
 * (`batchNorm: 'exact' | 'mean'`, `rank1: 'mean' | 'product'`, ...). Each kind declares its key
 * and values in its registration; `foldMembers` rejects unknown keys and values.
 */
export type FoldOptions = Readonly<Record<string, string>>;

export interface LatePhaseUnit {
  readonly latePhase: true;
  /** The layer or weight name. */
  readonly name: string;
  /** The kind's name, e.g. 'batchnorm', 'head', 'rank1'. */
  readonly latePhaseKind: string;
  /** 1 before release (the tied copy), K after. */
  memberCount(): number;
  /** Release: copy the tied member K times and perturb each copy with N(0, (sigma0 * RMS(p))^2). */
  replicate(k: number, sigma0: number, rng: Rng): void;
  select(member: MemberSelection): void;
  /** Tensors shared by all members (e.g. a rank-1 weight's base matrix); empty for BatchNorm and head. */
  sharedParams(): Param[];
  /** Member k's own trainable tensors. */
  memberParams(k: number): Param[];
  /** Member k's own non-trainable tensors (running statistics): what a train-mode step of member k may change. */
  memberState(k: number): NamedVariable[];
}

/** A late-phase kind that is a layer of its own. */
export interface LatePhaseLayer extends Layer, LatePhaseUnit {
  /** A plain layer computing this layer's average over members, per `options`. */
  fold(options: FoldOptions): Layer;
  /** A plain layer computing member k alone (the implicit-ensemble export's members). */
  foldMember(k: number, options: FoldOptions): Layer;
}

/** A late-phase kind that supplies a plain layer's weight. */
export interface LatePhaseWeight extends Weight, LatePhaseUnit {
  /** A plain weight: the kind's average over members, per `options`. */
  fold(options: FoldOptions): Weight;
  /** A plain weight: member k's alone. */
  foldMember(k: number, options: FoldOptions): Weight;
}

export function isLatePhase(x: Layer | Weight): x is LatePhaseLayer | LatePhaseWeight {
  return (x as Partial<LatePhaseUnit>).latePhase === true;
}
