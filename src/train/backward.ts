/**
 * Reverse-mode gradients over tfjs's tape that free memory as the pass goes. tfjs 4.22's
 * `engine.gradients` keeps every intermediate gradient and every tensor a kernel saved for its
 * backward until the whole pass ends, so the pass peaks at all activations plus all activation
 * gradients. Here, walking the tape backwards, a node's output gradients are disposed as soon as
 * the node has consumed them, and the tensors it saved as soon as its gradient has run
 * (bench/README.md#memory). The same gradient functions run in the same order as in
 * `tf.variableGrads`, so the results are bit-identical (test/backward.test.ts).
 *
 * This drives tfjs's recording through the engine's own tape methods (no change to tfjs):
 * `EngineTape` names exactly what it uses, and `tapeEngine()` checks they are there.
 */
import * as tf from '@tensorflow/tfjs-core';

type GradientThunks = Record<string, () => tf.Tensor>;

/** A recorded kernel call, as tfjs 4.22's tape keeps it. */
interface TapeNode {
  readonly id: number;
  readonly kernelName: string;
  readonly inputs: Record<string, tf.Tensor>;
  readonly outputs: tf.Tensor[];
  readonly gradient?: ((dys: Array<tf.Tensor | null>) => GradientThunks) | null;
  saved?: tf.Tensor[];
}

/** The parts of tfjs's Engine the driver uses. */
interface EngineTape {
  readonly state: { activeTape: TapeNode[] | null; gradientDepth: number };
  startTape(): void;
  endTape(): void;
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  tidy<T extends tf.TensorContainer>(name: string, f: () => T): T;
}

function tapeEngine(): EngineTape {
  const engine = tf.engine() as unknown as Partial<EngineTape>;
  for (const method of ['startTape', 'endTape', 'scopedRun', 'tidy'] as const) {
    if (typeof engine[method] !== 'function') throw new Error(`backward: tfjs engine has no ${method}() (tfjs-core ${tf.version_core})`);
  }
  if (typeof engine.state !== 'object' || engine.state === null)
    throw new Error(`backward: tfjs engine has no tape state (tfjs-core ${tf.version_core})`);
  return engine as EngineTape;
}

/**
 * The nodes on a path from `xs` to `y`, in tape order, each with its inputs narrowed to those that
 * depend on `xs` (no gradient is computed for the rest: e.g. a first layer's data gradient).
 */
function nodesFromXsToY(tape: readonly TapeNode[], xs: readonly tf.Tensor[], y: tf.Tensor): TapeNode[] {
  const fromXs = new Set(xs.map((x) => x.id));
  const reached = tape.map((node) => {
    const hit = Object.values(node.inputs).some((t) => fromXs.has(t.id));
    if (hit) for (const o of node.outputs) fromXs.add(o.id);
    return hit;
  });
  const toY = new Set([y.id]);
  const leads = new Array<boolean>(tape.length).fill(false);
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i]!;
    if (!node.outputs.some((o) => toY.has(o.id))) continue;
    leads[i] = true;
    for (const t of Object.values(node.inputs)) toY.add(t.id);
  }
  return tape.flatMap((node, i) => {
    if (!reached[i] || !leads[i]) return [];
    const inputs = Object.fromEntries(Object.entries(node.inputs).filter(([, t]) => fromXs.has(t.id)));
    return [{ ...node, inputs }];
  });
}

/**
 * Walk `path` backwards from dy = 1 at `y`, freeing each gradient and saved tensor once used; returns
 * the gradients of `xs`. Every tensor the map holds is its own object (a gradient function may
 * hand back its dy, a saved tensor or a held gradient: those are cloned, which shares the data), so
 * disposing a consumed entry never frees a tensor something else still holds.
 */
function backpropagate(path: readonly TapeNode[], y: tf.Tensor, xs: readonly tf.Tensor[]): tf.Tensor[] {
  const keep = new Set(xs.map((x) => x.id));
  const grads = new Map<number, tf.Tensor>([[y.id, tf.onesLike(y)]]);
  const held = new Set<tf.Tensor>(grads.values());
  const put = (id: number, t: tf.Tensor): void => {
    grads.set(id, t);
    held.add(t);
  };
  const take = (id: number): tf.Tensor | undefined => {
    const t = grads.get(id);
    if (t) held.delete(t);
    grads.delete(id);
    return t;
  };
  for (let i = path.length - 1; i >= 0; i--) {
    const node = path[i]!;
    if (!node.gradient) throw new Error(`backward: no gradient function for ${node.kernelName}`);
    const saved = new Set(node.saved ?? []);
    const thunks = node.gradient(node.outputs.map((o) => grads.get(o.id) ?? null));
    for (const [name, x] of Object.entries(node.inputs)) {
      const thunk = thunks[name];
      if (!thunk) throw new Error(`backward: ${node.kernelName} gives no gradient for its input '${name}'`);
      let dx = tf.tidy(thunk);
      if (dx.dtype !== 'float32' || !tf.util.arraysEqual(dx.shape, x.shape))
        throw new Error(`backward: ${node.kernelName}'s gradient for '${name}' is ${dx.dtype} [${dx.shape}], expected float32 [${x.shape}]`);
      if (held.has(dx) || saved.has(dx) || xs.includes(dx)) dx = tf.clone(dx);
      const before = take(x.id);
      put(x.id, before ? tf.add(before, dx) : dx);
      if (before) tf.dispose([before, dx]);
    }
    // Consumed: this node produced its outputs, so no earlier node adds to their gradients.
    for (const o of node.outputs) if (!keep.has(o.id)) take(o.id)?.dispose();
    tf.dispose(node.saved ?? []);
    node.saved = [];
  }
  return xs.map((x) => grads.get(x.id) ?? tf.zerosLike(x));
}

/**
 * `f()` and the gradients of its scalar value with respect to `xs` (variables or tensors `f` reads),
 * like `tf.variableGrads` with an explicit list, freeing memory during the backward pass.
 */
export function valueAndGradients(f: () => tf.Scalar, xs: readonly tf.Tensor[]): { value: tf.Scalar; grads: tf.Tensor[] } {
  const engine = tapeEngine();
  const y = engine.scopedRun(
    () => engine.startTape(),
    () => engine.endTape(),
    () => engine.tidy('forward', f),
  );
  if (!(y instanceof tf.Tensor) || y.rank !== 0) throw new Error('backward: f() must return a scalar tensor');
  const tape = engine.state.activeTape ?? [];
  try {
    const grads = engine.tidy('backward', () => backpropagate(nodesFromXsToY(tape, xs, y), y, xs));
    return { value: y, grads };
  } finally {
    if (engine.state.gradientDepth === 0) {
      for (const node of tape) tf.dispose(node.saved ?? []);
      engine.state.activeTape = null;
    }
  }
}
