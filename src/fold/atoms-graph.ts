/**
 * Frames + torsions → all heavy atoms as ONNX graph code (AF2 Alg. 24), so a structure module
 * emits atoms inside its graph. Same math as the TypeScript reference `atoms.ts`, on 4×4
 * homogeneous matrices so each step is one MatMul:
 *   local^f = T_lit^f · rotX(α^f),  rotX = A + cos·B + sin·C   (A, B, C constant 4×4 patterns)
 *   chi2..4 chain: G^chiK = G^chi(K−1) · local^chiK
 *   global^f = [R | t] · G^f  (3×4 · 4×4 = 3×4),  x = global^group(atom) · (x_lit, 1)
 */
import { GraphBuilder, type Value, op, serializeModel } from '../onnx/index.js';
import { ATOMS_PER_RESIDUE, NUM_GROUPS, NUM_RESTYPES } from './residue-constants.js';
import { ATOM14_GROUP, ATOM14_MASK, ATOM14_POSITION, DEFAULT_FRAMES } from './rigid-groups.js';
import { NUM_TORSIONS } from './atoms.js';

/** Inputs of {@link emitAtomsFromFrames}; `...` is any number of leading dims (e.g. [batch, res]). */
export interface AtomsGraphInputs {
  /** int64 [...]: residue types (0..19). */
  aatype: Value;
  /** float32 [..., 3, 3]: backbone rotations. */
  rotations: Value;
  /** float32 [..., 3]: backbone translations (Å). */
  translations: Value;
  /** float32 [..., 7, 2]: torsions as (sin, cos), normalised inside the graph. */
  torsions: Value;
}

/** Outputs of {@link emitAtomsFromFrames}. */
export interface AtomsGraphOutputs {
  /** float32 [..., 14, 3]: heavy atoms in the atom14 layout (0 in empty slots). */
  positions: Value;
  /** float32 [..., 14]: 1 where the slot holds an atom. */
  mask: Value;
  /** float32 [..., 8, 3, 4]: global frame [R | t] of each rigid group. */
  groupFrames: Value;
}

/** Default frames of groups 1..7 as 4×4 matrices [20, 7, 4, 4]. */
function defaultFrames4x4(): Float32Array {
  const out = new Float32Array(NUM_RESTYPES * (NUM_GROUPS - 1) * 16);
  for (let r = 0; r < NUM_RESTYPES; r++) {
    for (let g = 1; g < NUM_GROUPS; g++) {
      const src = (r * NUM_GROUPS + g) * 12;
      const dst = (r * (NUM_GROUPS - 1) + g - 1) * 16;
      for (let k = 0; k < 12; k++) out[dst + k] = DEFAULT_FRAMES[src + k]!;
      out[dst + 15] = 1;
    }
  }
  return out;
}

/** One-hot of each atom14 slot's group [20, 14, 8]. */
function groupOneHot(): Float32Array {
  const out = new Float32Array(NUM_RESTYPES * ATOMS_PER_RESIDUE * NUM_GROUPS);
  for (let k = 0; k < NUM_RESTYPES * ATOMS_PER_RESIDUE; k++) if (ATOM14_MASK[k]) out[k * NUM_GROUPS + ATOM14_GROUP[k]] = 1;
  return out;
}

/** Homogeneous ideal positions [20, 14, 4] (w = 1). */
function homogeneousPositions(): Float32Array {
  const out = new Float32Array(NUM_RESTYPES * ATOMS_PER_RESIDUE * 4);
  for (let k = 0; k < NUM_RESTYPES * ATOMS_PER_RESIDUE; k++) {
    out.set([ATOM14_POSITION[k * 3], ATOM14_POSITION[k * 3 + 1], ATOM14_POSITION[k * 3 + 2], 1], k * 4);
  }
  return out;
}

/**
 * Adds frames + torsions → atoms to graph `g` (under the scope `atoms`). The residue tables
 * become initializers named `fold.atoms.*` (one set per graph).
 */
export function emitAtomsFromFrames(g: GraphBuilder, inputs: AtomsGraphInputs): AtomsGraphOutputs {
  return g.scope('atoms', () => {
    const table = (name: string, dims: number[], data: Float32Array) => (g.has(name) ? g.get(name) : g.initializer(name, { dtype: 'float32', dims, data }));
    const lit = table('fold.atoms.default_frames', [NUM_RESTYPES, NUM_GROUPS - 1, 4, 4], defaultFrames4x4());
    const oneHot = table('fold.atoms.group_one_hot', [NUM_RESTYPES, ATOMS_PER_RESIDUE, NUM_GROUPS], groupOneHot());
    const litPos = table('fold.atoms.positions', [NUM_RESTYPES, ATOMS_PER_RESIDUE, 4], homogeneousPositions());
    const maskTable = table('fold.atoms.mask', [NUM_RESTYPES, ATOMS_PER_RESIDUE], Float32Array.from(ATOM14_MASK));

    // Flatten leading dims to one residue axis M.
    const aatype = op.reshape(inputs.aatype, [-1]);
    const R = op.reshape(inputs.rotations, [-1, 3, 3]);
    const t = op.reshape(inputs.translations, [-1, 3, 1]);
    const backbone = op.unsqueeze(op.concat([R, t], 2), [1]); // [M, 1, 3, 4]

    // Normalise (sin, cos): α / sqrt(max(|α|², ε)).
    const tors = op.reshape(inputs.torsions, [-1, NUM_TORSIONS, 2]);
    const norm = op.sqrt(op.max(op.reduceSum(op.mul(tors, tors), [2], true), 1e-12));
    const unit = op.div(tors, norm);
    const [sin, cos] = op.split(op.unsqueeze(unit, [3]), 2, [1, 1]); // each [M, 7, 1, 1]

    // rotX(α) = A + cos·B + sin·C.
    const A = op.constant(g, 'float32', [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], [4, 4]);
    const B = op.constant(g, 'float32', [0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0], [4, 4]);
    const C = op.constant(g, 'float32', [0, 0, 0, 0, 0, 0, -1, 0, 0, 1, 0, 0, 0, 0, 0, 0], [4, 4]);
    const rot = op.add(A, op.add(op.mul(cos, B), op.mul(sin, C))); // [M, 7, 4, 4]
    const local = op.matMul(op.gather(lit, aatype, 0), rot); // [M, 7, 4, 4]

    // Groups 1..4 hang off the backbone; chi2..4 chain off the previous chi group.
    const l = op.split(local, 1, { parts: NUM_GROUPS - 1 }); // 7 × [M, 1, 4, 4]
    const chi2 = op.matMul(l[3], l[4]);
    const chi3 = op.matMul(chi2, l[5]);
    const chi4 = op.matMul(chi3, l[6]);
    const relative = op.concat([l[0], l[1], l[2], l[3], chi2, chi3, chi4], 1); // [M, 7, 4, 4]
    const groupFrames = op.concat([backbone, op.matMul(backbone, relative)], 1); // [M, 8, 3, 4]

    // Each atom takes its group's frame: one-hot [M, 14, 8] · frames [M, 8, 12].
    const atomFrames = op.reshape(op.matMul(op.gather(oneHot, aatype, 0), op.reshape(groupFrames, [0, NUM_GROUPS, 12])), [0, ATOMS_PER_RESIDUE, 3, 4]);
    const local4 = op.unsqueeze(op.gather(litPos, aatype, 0), [3]); // [M, 14, 4, 1]
    const mask = op.gather(maskTable, aatype, 0); // [M, 14]
    const xyz = op.mul(op.squeeze(op.matMul(atomFrames, local4), [3]), op.unsqueeze(mask, [2])); // [M, 14, 3]

    // Restore the leading dims.
    const lead = op.shape(inputs.aatype);
    return {
      positions: op.reshape(xyz, op.concat([lead, op.ints(g, [ATOMS_PER_RESIDUE, 3])], 0)),
      mask: op.reshape(mask, op.concat([lead, op.ints(g, [ATOMS_PER_RESIDUE])], 0)),
      groupFrames: op.reshape(groupFrames, op.concat([lead, op.ints(g, [NUM_GROUPS, 3, 4])], 0)),
    };
  });
}

/**
 * A standalone graph: inputs `aatype` int64 [n], `rotations` [n,3,3], `translations` [n,3],
 * `torsions` [n,7,2]; outputs `positions` [n,14,3], `mask` [n,14], `group_frames` [n,8,3,4].
 * Returns the serialized model.
 */
export function buildAtomsGraph(): Uint8Array {
  const g = new GraphBuilder('fold_atoms_from_frames');
  const out = emitAtomsFromFrames(g, {
    aatype: g.input('aatype', 'int64', ['n']),
    rotations: g.input('rotations', 'float32', ['n', 3, 3]),
    translations: g.input('translations', 'float32', ['n', 3]),
    torsions: g.input('torsions', 'float32', ['n', NUM_TORSIONS, 2]),
  });
  g.output(out.positions, 'positions');
  g.output(out.mask, 'mask');
  g.output(out.groupFrames, 'group_frames');
  return serializeModel(g);
}
