/**
 * balmkit's Mol* colour theme: one theme for the three colourings (chain, region, predicted
 * error), reading the page's annotation of the file, so the colours drawn come from the same
 * tables as the legend (`palette.ts`).
 */
import { Bond, StructureElement, StructureProperties, Unit } from 'molstar/lib/mol-model/structure.js';
import type { Location } from 'molstar/lib/mol-model/location.js';
import { type ColorTheme, ColorThemeProvider } from 'molstar/lib/mol-theme/color.js';
import type { ThemeDataContext } from 'molstar/lib/mol-theme/theme.js';
import { Color } from 'molstar/lib/mol-util/color/index.js';
import { ParamDefinition as PD } from 'molstar/lib/mol-util/param-definition.js';
import { type FileAnnotation, residueKey } from './annotation.js';
import { type ColorMode, NO_DATA_COLOR, REGION_COLORS, chainColors, errorColor, hexToInt } from './palette.js';

/** Annotations of the loaded files, by the key the representation's theme parameters name. */
const annotations = new Map<string, FileAnnotation>();

/** Makes a file's annotation available to the theme under `key` (the file's index). */
export function registerAnnotation(key: string, annotation: FileAnnotation): void {
  annotations.set(key, annotation);
}

export const BalmkitColorThemeParams = {
  mode: PD.Select<ColorMode>('chain', [
    ['chain', 'Chain'],
    ['region', 'Region (CDRs / framework)'],
    ['error', 'Predicted error (Å)'],
  ]),
  file: PD.Text(''),
};
type Params = typeof BalmkitColorThemeParams;

const noData = Color(hexToInt(NO_DATA_COLOR));

/** The colour of one atom for `mode` (a residue is coloured by the atom Mol* asks about: its trace atom in a cartoon). */
function atomColor(loc: StructureElement.Location, mode: ColorMode, ann: FileAnnotation | undefined, chains: Map<string, string>): Color {
  const chain = StructureProperties.chain.auth_asym_id(loc);
  if (mode === 'chain') {
    const c = chains.get(chain);
    return c === undefined ? noData : Color(hexToInt(c));
  }
  if (mode === 'error') {
    if (!Unit.isAtomic(loc.unit)) return noData;
    return Color(hexToInt(errorColor(StructureProperties.atom.B_iso_or_equiv(loc))));
  }
  const key = residueKey(chain, StructureProperties.residue.auth_seq_id(loc), StructureProperties.residue.pdbx_PDB_ins_code(loc));
  const region = ann?.regions.get(key);
  const c = region === undefined ? undefined : REGION_COLORS[region];
  return c === undefined ? noData : Color(hexToInt(c));
}

function BalmkitColorTheme(_ctx: ThemeDataContext, props: PD.Values<Params>): ColorTheme<Params> {
  const ann = annotations.get(props.file);
  const chains = chainColors(ann?.chains ?? []);
  const loc = StructureElement.Location.create();
  const color = (location: Location): Color => {
    if (StructureElement.Location.is(location)) return atomColor(location, props.mode, ann, chains);
    if (Bond.isLocation(location)) {
      loc.structure = location.aStructure;
      loc.unit = location.aUnit;
      loc.element = location.aUnit.elements[location.aIndex]!;
      return atomColor(loc, props.mode, ann, chains);
    }
    return noData;
  };
  return {
    factory: BalmkitColorTheme,
    granularity: 'group',
    // No smoothing: a residue is drawn in exactly its legend colour, not blended with neighbours.
    preferSmoothing: false,
    color,
    props,
    description: 'balmkit: colour by chain, by CDR region, or by predicted error (Å)',
  };
}

/** The theme's provider, registered with the plugin as `balmkit`. */
export const BalmkitColorThemeProvider = ColorThemeProvider<Params, 'balmkit'>({
  name: 'balmkit',
  label: 'balmkit',
  category: 'Miscellaneous',
  factory: BalmkitColorTheme,
  getParams: () => BalmkitColorThemeParams,
  defaultValues: PD.getDefaultValues(BalmkitColorThemeParams),
  isApplicable: (ctx: ThemeDataContext) => ctx.structure !== undefined,
});
