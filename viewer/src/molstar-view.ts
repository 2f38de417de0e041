/**
 * The Mol* side of the page: a plugin without Mol*'s own UI (the page draws its own panel),
 * loading a file's text into cartoon (+ optional ball-and-stick) representations coloured by the
 * balmkit theme, reading back the colours the theme gives, and superposing structures.
 */
import { type Mat4, Vec3 } from 'molstar/lib/mol-math/linear-algebra.js';
import { MinimizeRmsd } from 'molstar/lib/mol-math/linear-algebra/3d/minimize-rmsd.js';
import { type Structure, StructureElement, StructureProperties, Unit } from 'molstar/lib/mol-model/structure.js';
import type { PluginStateObject } from 'molstar/lib/mol-plugin-state/objects.js';
import { StateTransforms } from 'molstar/lib/mol-plugin-state/transforms.js';
import { PluginCommands } from 'molstar/lib/mol-plugin/commands.js';
import { PluginContext } from 'molstar/lib/mol-plugin/context.js';
import { DefaultPluginSpec } from 'molstar/lib/mol-plugin/spec.js';
import { StateObjectRef, type StateObjectSelector } from 'molstar/lib/mol-state/index.js';
import { createStructureRepresentationParams } from 'molstar/lib/mol-plugin-state/helpers/structure-representation-params.js';
import { Color } from 'molstar/lib/mol-util/color/index.js';
import { type ResidueRecord, oneLetter, residueKey } from './annotation.js';
import { BACKGROUND_COLOR, type ColorMode, hexToInt, intToHex } from './palette.js';
import { BalmkitColorThemeProvider } from './theme.js';

type StructureSelector = StateObjectSelector<PluginStateObject.Molecule.Structure>;
type ReprSelector = StateObjectSelector<PluginStateObject.Molecule.Structure.Representation3D>;

/** A structure on screen. */
export interface LoadedStructure {
  /** Key of its annotation for the colour theme (the file index). */
  key: string;
  structure: StructureSelector;
  /** Its cartoon (and ball-and-stick, when shown) representations. */
  representations: ReprSelector[];
  /** The polymer component's state ref (null when the file has no polymer). */
  polymer: string | null;
  /** The polymer's ball-and-stick representation, when shown. */
  ballAndStick: ReprSelector | null;
  /** Residues in file order. */
  residues: ResidueRecord[];
  atomCount: number;
  /** Chain ids (author) in file order. */
  chains: string[];
  /**
   * Gaps Mol* found in the polymer (what it draws as dashed "missing residue" lines): pairs of
   * elements in each unit's `gapElements`.
   */
  polymerGaps: number;
}

/**
 * Creates the plugin in `container` with a white background and no Mol* controls. `flat` draws
 * without lighting, fog or post-processing, so every pixel of a residue has exactly its theme
 * colour (tests compare screenshot pixels with the legend this way).
 */
export async function createPlugin(container: HTMLDivElement, flat = false): Promise<PluginContext> {
  const plugin = new PluginContext(DefaultPluginSpec());
  await plugin.init();
  if (!(await plugin.mountAsync(container))) throw new Error('WebGL is not available in this browser: Mol* cannot draw');
  plugin.canvas3d?.setProps({
    renderer: { backgroundColor: Color(hexToInt(BACKGROUND_COLOR)) },
    // Frames of a camera animation would make screenshots depend on timing.
    trackball: { animate: { name: 'off', params: {} } },
  });
  if (flat) {
    plugin.canvas3d?.setProps({
      renderer: { ambientIntensity: 1, light: [] },
      cameraFog: { name: 'off', params: {} },
      postprocessing: { occlusion: { name: 'off', params: {} }, shadow: { name: 'off', params: {} }, outline: { name: 'off', params: {} } },
      // Temporal anti-aliasing keeps redrawing after each change (slow on a CPU renderer) and blends edges.
      multiSample: { mode: 'off' },
    });
  }
  plugin.representation.structure.themes.colorThemeRegistry.add(BalmkitColorThemeProvider);
  return plugin;
}

/** The structure object (data) behind a selector. */
function structureData(sel: StructureSelector): Structure {
  const s = sel.cell?.obj?.data;
  if (!s) throw new Error('the structure was not built');
  return s;
}

/** Residues of a structure in file order, with the CA's B-factor (else the first atom's). */
function readResidues(structure: Structure): ResidueRecord[] {
  const model = structure.models[0];
  if (!model) return [];
  const h = model.atomicHierarchy;
  const bf = model.atomicConformation.B_iso_or_equiv;
  const out: ResidueRecord[] = [];
  const { offsets } = h.residueAtomSegments;
  for (let r = 0; r < h.residues._rowCount; r++) {
    const first = offsets[r];
    const last = offsets[r + 1];
    let atom = first;
    for (let a = first; a < last; a++) if (h.atoms.auth_atom_id.value(a) === 'CA') atom = a;
    const chainIndex = h.chainAtomSegments.index[first];
    const name = h.atoms.auth_comp_id.value(first);
    out.push({
      chain: h.chains.auth_asym_id.value(chainIndex),
      number: h.residues.auth_seq_id.value(r),
      insertion: h.residues.pdbx_PDB_ins_code.value(r).trim(),
      name,
      letter: oneLetter(name),
      bFactor: bf.value(atom),
    });
  }
  return out;
}

/** Options of {@link loadStructure}. */
export interface LoadOptions {
  text: string;
  format: 'pdb' | 'mmcif';
  label: string;
  key: string;
  mode: ColorMode;
  ballAndStick: boolean;
  /** Superpose onto this structure, by the CA atoms of these residue pairs (the server numbers both files in one scheme). */
  superposeOn?: { loaded: LoadedStructure; pairs: ResiduePairs };
  /** Colour everything one colour (a reference structure under a prediction). */
  uniformColor?: string;
  /**
   * Called with the residues once the structure is read and before anything is drawn, so the
   * colour theme's data (the annotation) is in place when the representations are made: Mol*
   * does not recolour a representation whose theme parameters did not change.
   */
  beforeDraw?: (residues: ResidueRecord[]) => void;
}

/** Residue pairs [moving, fixed], each [chain, number, insertion] (`/api/pairs`). */
export type ResiduePairs = readonly (readonly [readonly [string, number, string], readonly [string, number, string]])[];

/** Result of superposing one structure on another. */
export interface Superposition {
  rmsd: number;
  /** CA pairs used (pairs whose residues both have a CA). */
  pairs: number;
}

/** Parses a file's text and shows it. Returns what is on screen, and the superposition when asked for. */
export async function loadStructure(plugin: PluginContext, o: LoadOptions): Promise<{ loaded: LoadedStructure; superposition?: Superposition }> {
  const data = await plugin.builders.data.rawData({ data: o.text, label: o.label });
  const trajectory = await plugin.builders.structure.parseTrajectory(data, o.format);
  const model = await plugin.builders.structure.createModel(trajectory);
  let structure: StructureSelector = await plugin.builders.structure.createStructure(model, { name: 'model', params: {} });
  let superposition: Superposition | undefined;
  if (o.superposeOn) {
    const fit = fitCa(structureData(structure), structureData(o.superposeOn.loaded.structure), o.superposeOn.pairs);
    superposition = { rmsd: fit.rmsd, pairs: fit.pairs };
    structure = await plugin
      .build()
      .to(structure)
      .apply(StateTransforms.Model.TransformStructureConformation, { transform: { name: 'matrix', params: { data: fit.transform, transpose: false } } })
      .commit();
  }
  const s = structureData(structure);
  const residues = readResidues(s);
  o.beforeDraw?.(residues);
  const loaded: LoadedStructure = {
    key: o.key,
    structure,
    representations: [],
    polymer: null,
    ballAndStick: null,
    residues,
    atomCount: s.elementCount,
    chains: [...new Set(residues.map((r) => r.chain))],
    polymerGaps: s.units.reduce((n, u) => n + (Unit.isAtomic(u) ? u.gapElements.length / 2 : 0), 0),
  };
  const polymer = await plugin.builders.structure.tryCreateComponentStatic(structure, 'polymer');
  const ligand = await plugin.builders.structure.tryCreateComponentStatic(structure, 'ligand');
  const theme: ReprTheme = o.uniformColor !== undefined ? { name: 'uniform', params: { value: Color(hexToInt(o.uniformColor)) } } : balmkitTheme(o.mode, o.key);
  if (polymer) {
    loaded.polymer = polymer.ref;
    loaded.representations.push(await addRepresentation(plugin, polymer, 'cartoon', theme));
  }
  if (ligand) loaded.representations.push(await addRepresentation(plugin, ligand, 'ball-and-stick', theme));
  if (o.ballAndStick && polymer) {
    loaded.ballAndStick = await addRepresentation(plugin, polymer, 'ball-and-stick', theme);
    loaded.representations.push(loaded.ballAndStick);
  }
  return { loaded, ...(superposition ? { superposition } : {}) };
}

/** A colour theme as a representation's parameters name it. */
interface ReprTheme {
  name: string;
  params: Record<string, unknown>;
}

function balmkitTheme(mode: ColorMode, key: string): ReprTheme {
  return { name: BalmkitColorThemeProvider.name, params: { mode, file: key } };
}

/**
 * Adds a representation of a component. Mol*'s typed builder takes only built-in theme names, so
 * the parameters are made for a built-in theme and the colour theme is then set by name.
 */
async function addRepresentation(plugin: PluginContext, component: StateObjectRef<PluginStateObject.Molecule.Structure>, type: 'cartoon' | 'ball-and-stick', theme: ReprTheme): Promise<ReprSelector> {
  const structure = StateObjectRef.resolveAndCheck(plugin.state.data, component)?.obj?.data;
  const params = createStructureRepresentationParams(plugin, structure, { type, color: 'uniform' });
  return plugin
    .build()
    .to(component)
    .apply(StateTransforms.Representation.StructureRepresentation3D, { ...params, colorTheme: theme })
    .commit();
}

/** CA positions by residue key. */
function caPositions(structure: Structure): Map<string, [number, number, number]> {
  const out = new Map<string, [number, number, number]>();
  const loc = StructureElement.Location.create(structure);
  for (const unit of structure.units) {
    if (!Unit.isAtomic(unit)) continue;
    loc.unit = unit;
    for (let i = 0; i < unit.elements.length; i++) {
      loc.element = unit.elements[i]!;
      if (StructureProperties.atom.auth_atom_id(loc) !== 'CA') continue;
      const key = residueKey(StructureProperties.chain.auth_asym_id(loc), StructureProperties.residue.auth_seq_id(loc), StructureProperties.residue.pdbx_PDB_ins_code(loc));
      if (!out.has(key)) out.set(key, [StructureProperties.atom.x(loc), StructureProperties.atom.y(loc), StructureProperties.atom.z(loc)]);
    }
  }
  return out;
}

/**
 * The rigid motion that best puts `moving`'s CA atoms on `fixed`'s (Kabsch, via Mol*'s
 * MinimizeRmsd), over the given residue pairs.
 *
 * @throws Error when fewer than 3 pairs have a CA in both structures.
 */
export function fitCa(moving: Structure, fixed: Structure, pairs: ResiduePairs): { transform: Mat4; rmsd: number; pairs: number } {
  const a = caPositions(fixed);
  const b = caPositions(moving);
  const used = pairs.map(([m, f]) => [residueKey(m[0], m[1], m[2]), residueKey(f[0], f[1], f[2])] as const).filter(([m, f]) => b.has(m) && a.has(f));
  if (used.length < 3) throw new Error(`only ${used.length} residues pair up between the two structures (by numbering both, or by sequence alignment): too few to superpose`);
  const A = MinimizeRmsd.Positions.empty(used.length);
  const B = MinimizeRmsd.Positions.empty(used.length);
  used.forEach(([mk, fk], i) => {
    const p = a.get(fk)!;
    const q = b.get(mk)!;
    [A.x[i], A.y[i], A.z[i]] = p;
    [B.x[i], B.y[i], B.z[i]] = q;
  });
  const r = MinimizeRmsd.compute({ a: A, b: B });
  return { transform: r.bTransform, rmsd: r.rmsd, pairs: used.length };
}

/** Recolours a loaded structure's representations. */
export async function setColorMode(plugin: PluginContext, loaded: LoadedStructure, mode: ColorMode): Promise<void> {
  const b = plugin.build();
  for (const r of loaded.representations) {
    b.to(r).update((old) => ({ ...old, colorTheme: balmkitTheme(mode, loaded.key) }));
  }
  await b.commit();
}

/** Adds or removes the ball-and-stick representation of the polymer. */
export async function setBallAndStick(plugin: PluginContext, loaded: LoadedStructure, on: boolean, mode: ColorMode): Promise<void> {
  if (on && loaded.ballAndStick === null && loaded.polymer !== null) {
    loaded.ballAndStick = await addRepresentation(plugin, loaded.polymer, 'ball-and-stick', balmkitTheme(mode, loaded.key));
    loaded.representations.push(loaded.ballAndStick);
  } else if (!on && loaded.ballAndStick !== null) {
    const bs = loaded.ballAndStick;
    await plugin.build().delete(bs.ref).commit();
    loaded.representations = loaded.representations.filter((r) => r !== bs);
    loaded.ballAndStick = null;
  }
}

/**
 * The colour Mol*'s theme gives residue `number`+`insertion` of `chain` (its CA, else its first
 * atom) in the loaded structure's first representation: `#rrggbb`, or null when there is no such
 * residue.
 */
export function colorAt(loaded: LoadedStructure, chain: string, number: number, insertion: string): string | null {
  const repr = loaded.representations[0]?.cell?.obj?.data.repr;
  if (!repr) return null;
  const structure = structureData(loaded.structure);
  const loc = StructureElement.Location.create(structure);
  let found: number | undefined;
  for (const unit of structure.units) {
    loc.unit = unit;
    for (let i = 0; i < unit.elements.length; i++) {
      loc.element = unit.elements[i]!;
      if (StructureProperties.chain.auth_asym_id(loc) !== chain) continue;
      if (StructureProperties.residue.auth_seq_id(loc) !== number || StructureProperties.residue.pdbx_PDB_ins_code(loc).trim() !== insertion) continue;
      if (found === undefined || StructureProperties.atom.auth_atom_id(loc) === 'CA') found = i;
      if (StructureProperties.atom.auth_atom_id(loc) === 'CA') break;
    }
    if (found !== undefined) {
      loc.element = unit.elements[found]!;
      const theme = repr.theme.color;
      return 'color' in theme ? intToHex(theme.color(loc, false)) : null;
    }
  }
  return null;
}

/** The residue under the mouse (its atom's chain, number, name and B-factor). */
export interface HoveredResidue {
  chain: string;
  number: number;
  insertion: string;
  name: string;
  bFactor: number;
}

/** Calls `on` with the residue under the mouse whenever it changes (null when none). */
export function onHover(plugin: PluginContext, on: (r: HoveredResidue | null) => void): void {
  plugin.behaviors.interaction.hover.subscribe((e) => {
    const loci = e.current.loci;
    const loc = StructureElement.Loci.is(loci) ? StructureElement.Loci.getFirstLocation(loci) : undefined;
    if (!loc) return on(null);
    on({
      chain: StructureProperties.chain.auth_asym_id(loc),
      number: StructureProperties.residue.auth_seq_id(loc),
      insertion: StructureProperties.residue.pdbx_PDB_ins_code(loc).trim(),
      name: StructureProperties.atom.auth_comp_id(loc),
      bFactor: StructureProperties.atom.B_iso_or_equiv(loc),
    });
  });
}

/**
 * Points the camera at everything, at once (no animation). Given the residues' regions, it shows
 * the Fv from the side with its CDRs at the top and the two chains left and right, the view in
 * which loop shapes are judged; otherwise Mol*'s default view.
 */
export async function resetCamera(plugin: PluginContext, loaded?: LoadedStructure, regions?: ReadonlyMap<string, string>): Promise<void> {
  await PluginCommands.Camera.Reset(plugin, { durationMs: 0 });
  const camera = plugin.canvas3d?.camera;
  if (!camera || !loaded || !regions || regions.size === 0) return;
  const ca = caPositions(structureData(loaded.structure));
  const mean = (keep: (key: string) => boolean): Vec3 | undefined => {
    const sum = Vec3.zero();
    let n = 0;
    for (const [k, p] of ca) {
      if (!keep(k)) continue;
      Vec3.add(sum, sum, Vec3.create(p[0], p[1], p[2]));
      n++;
    }
    return n === 0 ? undefined : Vec3.scale(sum, sum, 1 / n);
  };
  const isCdr = (k: string): boolean => {
    const r = regions.get(k);
    return r !== undefined && r !== 'framework';
  };
  const all = mean(() => true);
  const cdr = mean(isCdr);
  const [c1, c2] = loaded.chains;
  const a = c1 === undefined ? undefined : mean((k) => k.startsWith(`${c1}:`));
  const b = c2 === undefined ? undefined : mean((k) => k.startsWith(`${c2}:`));
  if (!all || !cdr) return;
  const up = Vec3.normalize(Vec3(), Vec3.sub(Vec3(), cdr, all));
  // Across: from the second chain to the first, made perpendicular to `up`; the camera looks along up × across.
  const across = a && b ? Vec3.sub(Vec3(), a, b) : Vec3.create(1, 0, 0);
  Vec3.normalize(across, Vec3.sub(across, across, Vec3.scale(Vec3(), up, Vec3.dot(across, up))));
  const dir = Vec3.normalize(Vec3(), Vec3.cross(Vec3(), up, across));
  const radius = structureData(loaded.structure).boundary.sphere.radius;
  // getFocus gives the distance that fits the radius; it only picks signs for `up` and the
  // direction, so both are set here exactly.
  const focus = camera.getFocus(all, radius);
  const distance = Vec3.distance(focus.position!, all);
  camera.setState({ ...focus, up, position: Vec3.scaleAndAdd(Vec3(), all, dir, -distance) }, 0);
}

/** Resolves after the canvas has drawn a new frame. */
export function nextDraw(plugin: PluginContext): Promise<void> {
  const canvas = plugin.canvas3d;
  if (!canvas) return Promise.resolve();
  return new Promise((resolve) => {
    let first = true; // a BehaviorSubject replays its last value on subscribe
    const sub = canvas.didDraw.subscribe(() => {
      if (first) {
        first = false;
        return;
      }
      sub.unsubscribe();
      resolve();
    });
    canvas.requestDraw();
  });
}
