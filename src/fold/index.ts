/**
 * balmkit fold: residue geometry as data (AF2 rigid groups, Engh–Huber ideals), frames + torsions
 * → all heavy atoms (TypeScript reference and ONNX graph code), backbone building from
 * (phi, psi, omega), a gradient relaxation that idealises bonds and removes clashes, the template
 * baseline, and BALMFold (BALM features → trunk → IPA structure module → atoms, as an ONNX graph).
 */
export {
  ATOM14_NAMES,
  ATOMS_PER_RESIDUE,
  CHI_ANGLE_ATOMS,
  CHI_PI_PERIODIC,
  GROUP,
  NUM_GROUPS,
  NUM_RESTYPES,
  RESNAMES,
  RESTYPES,
  RIGID_GROUP_ATOMS,
  VAN_DER_WAALS_RADIUS,
  elementOfAtomName,
  resnameIndex,
  restypeIndex,
  type AminoAcid,
  type GroupAtom,
} from './residue-constants.js';
export { IDEAL_ANGLES, IDEAL_BONDS, PEPTIDE, PEPTIDE_BOND_LENGTH, type IdealAngle, type IdealBond } from './stereochemistry.js';
export { ATOM14_GROUP, ATOM14_MASK, ATOM14_POSITION, CHI_COUNT, DEFAULT_FRAMES } from './rigid-groups.js';
export { type Rigid, type Vec3, angleDegrees, applyRigid, composeRigid, dihedral, distance, identityRigid, invertRigid, rigidFrom, rigidFromThreePoints, rotX, rotationError } from './rigid.js';
export { NUM_TORSIONS, TORSION, atomPosition, atomsFromFrames, backboneFrames, torsionsFromAtoms, type Atom14, type AtomsFromFrames, type FramesAndTorsions } from './atoms.js';
export { buildAtomsGraph, emitAtomsFromFrames, type AtomsGraphInputs, type AtomsGraphOutputs } from './atoms-graph.js';
export { buildBackbone, buildChain, placeAtom, torsionArray, type Backbone, type BackboneTorsions } from './backbone.js';
export { atom14ToChains, structureToAtom14, type Atom14FromStructure, type ChainLayout } from './to-structure.js';
export {
  BOND_TOLERANCE,
  CLASH_DISTANCE,
  CLASH_DISTANCE_POLAR,
  IDEAL_CHIRAL_VOLUME,
  bondTerms,
  checkGeometry,
  chiralVolume,
  findClashes,
  neighborPairs,
  type BondTerm,
  type ChainStarts,
  type Clash,
  type GeometryReport,
} from './validate.js';
export { DEFAULT_WEIGHTS, RelaxEnergy, relax, totalEnergy, type BondViolation, type RelaxOptions, type RelaxReport, type RelaxWeights, type TermEnergies } from './relax.js';
export { fold, PREDICTION_RELAX, type AntibodyInput, type FoldedAntibody, type FoldedResidue, type FoldFailure, type FoldOptions, type FoldOutcome } from './predict.js';
export {
  BASELINE_FORMAT,
  DEFAULT_FOLD_MODEL,
  ModelError,
  loadFoldModel,
  resolveModelFolder,
  type BalmFoldModel,
  type BaselineTemplates,
  type FoldModel,
  type FoldModelManifest,
  type RotamerTemplate,
  type SlotTemplate,
  type TemplateBaselineModel,
} from './baseline-model.js';
export { BALMFOLD_INPUTS, BALMFOLD_OUTPUTS, NM, balmFoldConfigSchema, buildBalmFoldGraph, runBalmFold, type BalmFoldConfig, type BalmFoldOutputs } from './balmfold-model.js';
export { balmFoldInputs, type BalmFoldInputs } from './balmfold-input.js';
export { INTERPOLATED_PENALTY, UNSEEN_LENGTH_PENALTY, rotamerFor, templateModel, type TemplateChainInput, type TemplateModel, type TemplateSource } from './baseline.js';
export { kabsch, rmsd, transformPoint, transformPoints, type Superposition } from './superpose.js';
export { numberStructure, observedResidues, readNumberedStructure, readStructureFile, type NumberedChain, type NumberedStructure } from './dataset.js';
