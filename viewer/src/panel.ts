/**
 * The side panel: files, colouring controls, legend, CDR table with mean predicted errors, and
 * the sequence coloured as the structure is. Plain DOM; every function redraws one section.
 */
import { type FileAnnotation, type ResidueRecord, regionMeans, residueKey } from './annotation.js';
import { CDR_NAMES, type ColorMode, type LegendEntry } from './palette.js';
import type { BalmkitRemarks } from './remarks.js';
import type { ServedFile } from './state.js';

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function section(id: string): HTMLElement {
  const s = document.getElementById(id);
  if (!s) throw new Error(`the page has no #${id}`);
  s.replaceChildren();
  return s;
}

/** The file list; `onPick(index)` when one is clicked. */
export function renderFiles(files: readonly ServedFile[], current: number, reference: number | null, onPick: (index: number) => void, onReference: (index: number | null) => void): void {
  const s = section('files');
  s.append(el('h2', {}, files.length > 1 ? `Files (${files.length})` : 'File'));
  const list = el('ul', { class: 'files' });
  for (const f of files) {
    const li = el('li', { 'data-index': String(f.index), class: f.index === current ? 'current' : '' });
    const b = el('button', { type: 'button' }, f.name);
    b.addEventListener('click', () => onPick(f.index));
    li.append(b, el('span', { class: `kind ${f.kind}` }, f.kind));
    list.append(li);
  }
  s.append(list);
  const refs = files.filter((f) => f.kind === 'experimental' && f.index !== current);
  if (files[current]?.kind === 'prediction' && refs.length > 0) {
    const label = el('label', {}, 'Superpose on ');
    const select = el('select', { id: 'reference' });
    select.append(el('option', { value: '' }, 'none'));
    for (const f of refs) {
      const o = el('option', { value: String(f.index) }, f.name);
      if (f.index === reference) o.selected = true;
      select.append(o);
    }
    select.addEventListener('change', () => onReference(select.value === '' ? null : Number(select.value)));
    label.append(select);
    s.append(label);
  }
}

/** Colouring radio buttons (unavailable ones disabled, with why) and the ball-and-stick switch. */
export function renderControls(
  mode: ColorMode,
  available: readonly ColorMode[],
  why: Partial<Record<ColorMode, string>>,
  ballAndStick: boolean,
  onMode: (m: ColorMode) => void,
  onBallAndStick: (on: boolean) => void,
): void {
  const s = section('controls');
  s.append(el('h2', {}, 'Colour by'));
  const labels: Record<ColorMode, string> = { chain: 'chain', region: 'region (CDRs)', error: 'predicted error' };
  for (const m of ['chain', 'region', 'error'] as const) {
    const label = el('label', { class: 'mode' });
    const input = el('input', { type: 'radio', name: 'color', value: m });
    input.checked = m === mode;
    input.disabled = !available.includes(m);
    input.addEventListener('change', () => onMode(m));
    label.append(input, ` ${labels[m]}`);
    s.append(label);
    if (input.disabled && why[m]) s.append(el('p', { class: 'note', 'data-note': m }, why[m]));
  }
  const bs = el('label', { class: 'mode' });
  const box = el('input', { type: 'checkbox', id: 'ball-and-stick' });
  box.checked = ballAndStick;
  box.addEventListener('change', () => onBallAndStick(box.checked));
  bs.append(box, ' ball-and-stick');
  s.append(bs);
}

/** The legend: a swatch and label per entry, with the entry's colour and range as data attributes. */
export function renderLegend(title: string, entries: readonly LegendEntry[]): void {
  const s = section('legend');
  s.append(el('h2', {}, title));
  const list = el('ul', { class: 'legend' });
  for (const e of entries) {
    const li = el('li', { 'data-color': e.color, 'data-label': e.label });
    if (e.min !== undefined) li.setAttribute('data-min', String(e.min));
    if (e.max !== undefined) li.setAttribute('data-max', e.max === null ? '' : String(e.max));
    const sw = el('span', { class: 'swatch' });
    sw.style.background = e.color;
    li.append(sw, el('span', {}, e.label));
    list.append(li);
  }
  s.append(list);
}

/** What the file says about itself, and the superposition. */
export function renderInfo(
  file: ServedFile,
  remarks: BalmkitRemarks | undefined,
  atomCount: number,
  chains: readonly string[],
  superposition: { name: string; rmsd: number; pairs: number; description: string } | null,
): void {
  const s = section('info');
  const dl = el('dl');
  const row = (k: string, v: string): void => {
    dl.append(el('dt', {}, k), el('dd', {}, v));
  };
  row('file', file.name);
  if (remarks) {
    row('model', remarks.model || '?');
    row('balmkit', remarks.version || '?');
    row('numbering', remarks.scheme || '?');
  } else {
    row('kind', 'experimental (B-factors are not predicted errors)');
  }
  row('atoms', String(atomCount));
  row('chains', chains.join(', '));
  if (superposition) {
    row('superposed on', `${superposition.name}: Cα RMSD ${superposition.rmsd.toFixed(2)} Å over ${superposition.pairs} residues`);
    row('residues paired', superposition.description);
  }
  s.append(dl);
}

/** CDR table: range, length and (for predictions) mean predicted error, plus the framework's. */
export function renderCdrs(residues: readonly ResidueRecord[], ann: FileAnnotation): void {
  const s = section('cdrs');
  s.append(el('h2', {}, 'CDRs'));
  if (ann.regionSource.kind === 'none') {
    s.append(el('p', { class: 'note' }, ann.regionSource.reason));
    return;
  }
  const means = regionMeans(residues, ann);
  const table = el('table');
  const head = el('tr');
  for (const h of ['CDR', 'residues', 'length', ...(ann.hasPredictedError ? ['mean error'] : [])]) head.append(el('th', {}, h));
  table.append(head);
  for (const name of [...CDR_NAMES, 'framework']) {
    const members = residues.filter((r) => ann.regions.get(residueKey(r.chain, r.number, r.insertion)) === name);
    if (members.length === 0) continue;
    const tr = el('tr', { 'data-region': name });
    const first = members[0];
    const last = members[members.length - 1];
    tr.append(el('td', {}, name), el('td', {}, name === 'framework' ? '' : `${first.chain}${first.number}${first.insertion}–${last.number}${last.insertion}`), el('td', {}, String(members.length)));
    if (ann.hasPredictedError) tr.append(el('td', { class: 'num' }, `${means.get(name)!.mean.toFixed(2)} Å`));
    table.append(tr);
  }
  s.append(table);
  s.append(
    el('p', { class: 'note' }, ann.regionSource.kind === 'remarks' ? 'CDR ranges from the file’s balmkit metadata.' : `CDRs by the ${ann.regionSource.scheme} definition of the declared numbering.`),
  );
}

/** Each chain's sequence, one letter per residue, coloured as the structure. */
export function renderSequence(residues: readonly ResidueRecord[], colorOf: (r: ResidueRecord) => string | null): void {
  const s = section('sequence');
  s.append(el('h2', {}, 'Sequence'));
  for (const chain of [...new Set(residues.map((r) => r.chain))]) {
    const line = el('div', { class: 'chain' });
    line.append(el('span', { class: 'chain-id' }, chain));
    const seq = el('span', { class: 'seq' });
    for (const r of residues) {
      if (r.chain !== chain || r.letter === 'X') continue;
      const span = el('span', { title: `${r.name} ${r.chain}${r.number}${r.insertion}  B ${r.bFactor.toFixed(2)}` }, r.letter);
      const c = colorOf(r);
      if (c) span.style.background = c;
      seq.append(span);
    }
    line.append(seq);
    s.append(line);
  }
}
