/**
 * The viewer page: asks the server which files it offers, shows one (the `file` query parameter,
 * else the first), and keeps `window.balmkitViewer` in step with what is drawn.
 *
 * Query parameters: `file=<index>`, `color=chain|region|error`, `ref=<index>` (superpose on that
 * experimental structure), `bs=1` (ball-and-stick), `scheme=imgt` (numbering of files without
 * balmkit metadata), `panel=0` (the 3D view only), `light=flat` (no shading: pixels have exactly
 * their legend colour; for tests).
 */
import type { PluginContext } from 'molstar/lib/mol-plugin/context.js';
import { type FileAnnotation, annotate, parseResidueLabel, residueKey } from './annotation.js';
import { type LoadedStructure, type ResiduePairs, colorAt, createPlugin, loadStructure, nextDraw, onHover, resetCamera, setBallAndStick, setColorMode } from './molstar-view.js';
import { BACKGROUND_COLOR, COLOR_MODES, CDR_NAMES, type ColorMode, ERROR_BINS, type LegendEntry, REGION_COLORS, chainColors } from './palette.js';
import { renderCdrs, renderControls, renderFiles, renderInfo, renderLegend, renderSequence } from './panel.js';
import { type BalmkitRemarks, parseRemarks } from './remarks.js';
import type { BalmkitViewerState, ServedFile } from './state.js';
import { registerAnnotation } from './theme.js';

const params = new URLSearchParams(window.location.search);
const declaredScheme = params.get('scheme') ?? undefined;
let ballAndStick = params.get('bs') === '1';
if (params.get('panel') === '0') document.body.classList.add('no-panel');

/** The shown file and everything derived from it. */
interface Shown {
  file: ServedFile;
  loaded: LoadedStructure;
  remarks: BalmkitRemarks | undefined;
  annotation: FileAnnotation;
  reference: ServedFile | null;
}

let plugin: PluginContext;
let shown: Shown | null = null;
let shownBefore = false;
/** The query's colouring, applied to the first file shown; later files keep the colouring in use. */
let pendingColor: ColorMode | null = null;
const texts = new Map<number, string>();

const state: BalmkitViewerState = {
  ready: false,
  error: null,
  files: [],
  file: null,
  atomCount: 0,
  polymerGaps: 0,
  chains: [],
  colorMode: 'chain',
  availableModes: ['chain'],
  ballAndStick,
  legend: [],
  background: BACKGROUND_COLOR,
  superposition: null,
  colorAt(chain, residue) {
    const id = parseResidueLabel(residue);
    if (!shown || !id) return null;
    return colorAt(shown.loaded, chain, id.number, id.insertion);
  },
  setColorMode: (mode) => {
    // A colouring the file does not allow is refused without disturbing what is shown.
    if (shown && !state.availableModes.includes(mode)) {
      return Promise.reject(new Error(`colouring by ${mode} is not available for ${shown.file.name}: ${unavailable(shown)[mode] ?? ''}`));
    }
    return run(() => applyMode(mode));
  },
  show: (index, reference = null) => run(() => showFile(index, reference)),
};
window.balmkitViewer = state;

/** Runs a change with `ready` false, then draws and sets `ready` (or `error`). */
async function run(change: () => Promise<void>): Promise<void> {
  state.ready = false;
  try {
    await change();
    await nextDraw(plugin);
    state.error = null;
    const box = document.getElementById('error');
    if (box) box.hidden = true;
    state.ready = true;
  } catch (e) {
    fail(e);
    throw e;
  }
}

function fail(e: unknown): void {
  const message = e instanceof Error ? e.message : String(e);
  state.error = message;
  const box = document.getElementById('error');
  if (box) {
    box.textContent = message;
    box.hidden = false;
  }
}

/** What the server answers for `/api/pairs/<moving>/<fixed>`. */
interface PairsAnswer {
  method: 'numbering' | 'alignment';
  description: string;
  pairs: ResiduePairs;
}

/** The residue pairs for superposing file `moving` on `fixed` (the server numbers both in one scheme). */
async function fetchPairs(moving: number, fixed: number): Promise<PairsAnswer> {
  const res = await fetch(`api/pairs/${moving}/${fixed}`);
  if (!res.ok) throw new Error(`pairing residues of files ${moving} and ${fixed}: the server answered ${res.status}: ${(await res.text()).trim()}`);
  return (await res.json()) as PairsAnswer;
}

async function fetchText(index: number): Promise<string> {
  const cached = texts.get(index);
  if (cached !== undefined) return cached;
  const res = await fetch(`files/${index}`);
  if (!res.ok) throw new Error(`file ${index}: the server answered ${res.status}`);
  const text = await res.text();
  texts.set(index, text);
  return text;
}

/** Why a colouring is unavailable for the shown file. */
function unavailable(s: Shown): Partial<Record<ColorMode, string>> {
  const why: Partial<Record<ColorMode, string>> = {};
  if (s.annotation.regionSource.kind === 'none') why.region = s.annotation.regionSource.reason;
  if (!s.annotation.hasPredictedError) {
    why.error = s.remarks ? 'this file’s B-factors are not marked as predicted errors' : 'only for balmkit predictions: the B-factors of an experimental structure mean something else';
  }
  return why;
}

function legendFor(mode: ColorMode, s: Shown): { title: string; entries: LegendEntry[] } {
  if (mode === 'error') return { title: 'Predicted error', entries: ERROR_BINS.map((b) => ({ ...b })) };
  if (mode === 'region') {
    const present = new Set(s.annotation.regions.values());
    return {
      title: 'Region',
      entries: [...CDR_NAMES.filter((n) => present.has(n)), 'framework'].map((n) => ({ label: n === 'framework' ? 'framework' : `CDR-${n}`, color: REGION_COLORS[n] })),
    };
  }
  return { title: 'Chain', entries: [...chainColors(s.loaded.chains)].map(([c, color]) => ({ label: `chain ${c}`, color })) };
}

function renderPanel(s: Shown): void {
  const why = unavailable(s);
  renderFiles(
    state.files,
    s.file.index,
    s.reference?.index ?? null,
    (i) => void state.show(i, null).catch(() => undefined),
    (r) => void state.show(s.file.index, r).catch(() => undefined),
  );
  renderControls(
    state.colorMode,
    state.availableModes,
    why,
    ballAndStick,
    (m) => void state.setColorMode(m).catch(() => undefined),
    (on) => {
      ballAndStick = on;
      state.ballAndStick = on;
      void run(() => setBallAndStick(plugin, s.loaded, on, state.colorMode)).catch(() => undefined);
    },
  );
  const legend = legendFor(state.colorMode, s);
  state.legend = legend.entries;
  renderLegend(legend.title, legend.entries);
  renderInfo(s.file, s.remarks, s.loaded.atomCount, s.loaded.chains, state.superposition && s.reference ? { name: s.reference.name, ...state.superposition } : null);
  renderCdrs(s.loaded.residues, s.annotation);
  renderSequence(s.loaded.residues, (r) => colorAt(s.loaded, r.chain, r.number, r.insertion));
}

async function applyMode(mode: ColorMode): Promise<void> {
  if (!shown) throw new Error('no structure is shown');
  if (!state.availableModes.includes(mode)) throw new Error(`colouring by ${mode} is not available for ${shown.file.name}: ${unavailable(shown)[mode] ?? ''}`);
  await setColorMode(plugin, shown.loaded, mode);
  state.colorMode = mode;
  renderPanel(shown);
}

async function showFile(index: number, referenceIndex: number | null): Promise<void> {
  const file = state.files[index];
  if (!file) throw new Error(`there is no file ${index} (the server offers ${state.files.length})`);
  const reference = referenceIndex === null ? null : (state.files[referenceIndex] ?? null);
  if (referenceIndex !== null && !reference) throw new Error(`there is no reference file ${referenceIndex}`);
  const text = await fetchText(index);
  const remarks = parseRemarks(text);
  await plugin.clear();
  let refLoaded: LoadedStructure | undefined;
  let pairing: PairsAnswer | undefined;
  if (reference) {
    pairing = await fetchPairs(index, reference.index);
    refLoaded = (
      await loadStructure(plugin, {
        text: await fetchText(reference.index),
        format: reference.format,
        label: reference.name,
        key: `ref${reference.index}`,
        mode: 'chain',
        ballAndStick: false,
        uniformColor: '#b5b5b5',
      })
    ).loaded;
  }
  const key = String(index);
  const made: { annotation?: FileAnnotation } = {};
  const { loaded, superposition } = await loadStructure(plugin, {
    text,
    format: file.format,
    label: file.name,
    key,
    mode: 'chain',
    ballAndStick,
    ...(refLoaded && pairing ? { superposeOn: { loaded: refLoaded, pairs: pairing.pairs } } : {}),
    beforeDraw: (residues) => {
      made.annotation = annotate(residues, remarks, declaredScheme);
      registerAnnotation(key, made.annotation);
    },
  });
  const annotation = made.annotation;
  if (!annotation) throw new Error(`${file.name}: no residues were read`);
  shown = { file, loaded, remarks, annotation, reference };
  state.file = index;
  state.atomCount = loaded.atomCount;
  state.polymerGaps = loaded.polymerGaps;
  state.chains = loaded.chains;
  state.availableModes = COLOR_MODES.filter((m) => m === 'chain' || (m === 'region' ? annotation.regionSource.kind !== 'none' : annotation.hasPredictedError));
  state.superposition = superposition && reference && pairing ? { reference: reference.index, ...superposition, method: pairing.method, description: pairing.description } : null;
  const mode: ColorMode = pendingColor ?? (shownBefore && state.availableModes.includes(state.colorMode) ? state.colorMode : defaultMode(state.availableModes));
  pendingColor = null;
  shownBefore = true;
  state.colorMode = 'chain';
  await applyMode(mode);
  await resetCamera(plugin, loaded, annotation.regions);
}

/** Predictions open coloured by error, other structures by region when CDRs are known. */
function defaultMode(available: readonly ColorMode[]): ColorMode {
  return available.includes('error') ? 'error' : available.includes('region') ? 'region' : 'chain';
}

async function start(): Promise<void> {
  const colorParam = params.get('color');
  if (colorParam !== null) {
    if (!(COLOR_MODES as readonly string[]).includes(colorParam)) throw new Error(`color=${colorParam}: use chain, region or error`);
    pendingColor = colorParam as ColorMode;
  }
  const res = await fetch('api/files');
  if (!res.ok) throw new Error(`the server answered ${res.status} for the file list`);
  state.files = (await res.json()) as ServedFile[];
  if (state.files.length === 0) throw new Error('the server offers no files');
  const viewport = document.getElementById('viewport') as HTMLDivElement;
  plugin = await createPlugin(viewport, params.get('light') === 'flat');
  const hover = document.getElementById('hover')!;
  onHover(plugin, (r) => {
    if (!r || !shown) {
      hover.hidden = true;
      return;
    }
    const region = shown.annotation.regions.get(residueKey(r.chain, r.number, r.insertion));
    const error = shown.annotation.hasPredictedError ? `, predicted error ${r.bFactor.toFixed(2)} Å` : '';
    hover.textContent = `${r.name} ${r.chain}${r.number}${r.insertion}${region && region !== 'framework' ? ` (CDR-${region})` : ''}${error}`;
    hover.hidden = false;
  });
  const index = Number(params.get('file') ?? '0');
  const ref = params.get('ref');
  await state.show(Number.isInteger(index) ? index : 0, ref === null || ref === '' ? null : Number(ref));
}

start().catch(fail);
