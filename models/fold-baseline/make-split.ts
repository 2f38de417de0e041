/**
 * The leakage-free split of the Rosetta antibody Fv set for balmkit's structure models.
 *
 *   node --import tsx models/fold-baseline/make-split.ts [--data ../shared/data] [--out models/fold-baseline/split.json]
 *
 * test        the RAB-49 benchmark entries present in rosetta-fv (41)
 * removed     every other entry that shares with a test entry
 *               - the CDR set H1–L3 (identical sequences), or
 *               - CDR-H3 (identical sequence), or
 *               - ≥ 95% Fv sequence identity (residues at the same IMGT position, over the longer Fv);
 *             CDRs by two definitions, both applied: the CDR columns of `rosetta-fv.info` (Rosetta's
 *             curation) and IMGT CDRs from balmkit's numbering of the observed residues;
 *             and every ABodyBuilder2 / NanoBodyBuilder2 test id (other benchmarks report on them),
 *             and entries balmkit cannot number (no variable-domain chain).
 * validation  a seeded random 5% of the rest, drawn by clusters: entries linked by the same three
 *             rules are one cluster and stay on one side, so no validation entry has a near
 *             duplicate in training
 * train       the remainder
 */
import fs from 'node:fs';
import path from 'node:path';

import { loadRosettaEntries, type Entry } from './rosetta-entries.js';
import { mulberry32 } from '../../src/util/random.js';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string): string => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
};
const data = path.resolve(opt('--data', path.join('..', 'shared', 'data')));
const outFile = path.resolve(opt('--out', path.join('models', 'fold-baseline', 'split.json')));
const SEED = 20240806;
const VALIDATION_FRACTION = 0.05;
const IDENTITY_LIMIT = 0.95;

/** Deterministic pseudo-random numbers (mulberry32). */
const rng = mulberry32;

/** CDR sequences by the Rosetta curation (`rosetta-fv.info`: pdb … h1 h2 h3 l1 l2 l3 frh frl). */
function readInfoCdrs(file: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const f = line.trim().split(/\s+/);
    if (f.length < 12) continue;
    const [h1, h2, h3, l1, l2, l3] = f.slice(6, 12);
    out.set(
      f[0]!.toLowerCase(),
      [h1!, h2!, h3!, l1!, l2!, l3!].map((s) => (s === '-' ? '' : s)),
    );
  }
  return out;
}

/** IMGT CDR sequences (H1…L3, '' for a chain not there) from balmkit's numbering. */
function imgtCdrs(e: Entry): string[] {
  const out = ['', '', '', '', '', ''];
  for (const c of e.chains) {
    const base = c.chainType === 'H' ? 0 : 3;
    c.imgtRegion.forEach((r, i) => {
      const k = r === 'cdr1' ? 0 : r === 'cdr2' ? 1 : r === 'cdr3' ? 2 : -1;
      if (k >= 0) out[base + k] += c.sequence[i]!;
    });
  }
  return out;
}

/** Residue at each IMGT position, per chain class, for identity. */
function imgtResidues(e: Entry): Map<string, string> {
  const m = new Map<string, string>();
  for (const c of e.chains) {
    const cls = c.chainType === 'H' ? 'H' : 'L';
    c.imgt.forEach((id, i) => id !== '' && m.set(`${cls}${id}`, c.sequence[i]!));
  }
  return m;
}

function fvIdentity(a: Map<string, string>, b: Map<string, string>): number {
  let same = 0;
  for (const [k, v] of a) if (b.get(k) === v) same++;
  return same / Math.max(a.size, b.size, 1);
}

function readIdColumn(file: string, keep: (set: string) => boolean): Set<string> {
  const ids = new Set<string>();
  for (const line of fs.readFileSync(file, 'utf8').split('\n').slice(1)) {
    const [id, set] = line.trim().split(',');
    if (id && set && keep(set.trim())) ids.add(id.trim().toLowerCase());
  }
  return ids;
}

const entries = await loadRosettaEntries(data);
const info = readInfoCdrs(path.join(data, 'antibody-structures', 'rosetta-fv.info'));
const rab = fs
  .readFileSync(path.join(data, 'benchmark-lists', 'rab49-test-set.txt'), 'utf8')
  .split('\n')
  .map((s) => s.trim().toLowerCase())
  .filter((s) => /^\w{4}$/.test(s));
const abb2Test = readIdColumn(path.join(data, 'benchmark-lists', 'abodybuilder2-antibody-split.csv'), (s) => s === 'test');
const nbb2Test = readIdColumn(path.join(data, 'benchmark-lists', 'nanobodybuilder2-nanobody-split.csv'), (s) => s === 'test');

const byId = new Map(entries.map((e) => [e.id, e]));
const test = rab.filter((id) => byId.has(id)).sort();
const testSet = new Set(test);

interface Keys {
  infoSet: string | null;
  imgtSet: string | null;
  infoH3: string;
  imgtH3: string;
  residues: Map<string, string>;
}
const keysOf = (e: Entry): Keys => {
  const inf = info.get(e.id);
  const im = imgtCdrs(e);
  return {
    // A "set" is only defined when all six CDRs are there.
    infoSet: inf && inf.every((s) => s !== '') ? inf.join('/') : null,
    imgtSet: im.every((s) => s !== '') ? im.join('/') : null,
    infoH3: inf?.[2] ?? '',
    imgtH3: im[2]!,
    residues: imgtResidues(e),
  };
};
const keys = new Map(entries.map((e) => [e.id, keysOf(e)]));

const removed: Record<string, string[]> = {};
const remove = (id: string, why: string) => {
  if (!(removed[id] ??= []).includes(why)) removed[id]!.push(why);
};
const testSameCdrSet = new Set<string>();
for (const e of entries) {
  if (testSet.has(e.id)) continue;
  if (e.chains.length === 0) {
    remove(e.id, 'no chain numbered as an antibody variable domain');
    continue;
  }
  if (abb2Test.has(e.id)) remove(e.id, 'ABodyBuilder2 test id');
  if (nbb2Test.has(e.id)) remove(e.id, 'NanoBodyBuilder2 test id');
  const k = keys.get(e.id)!;
  for (const t of test) {
    const kt = keys.get(t)!;
    if ((k.infoSet !== null && k.infoSet === kt.infoSet) || (k.imgtSet !== null && k.imgtSet === kt.imgtSet)) {
      remove(e.id, `CDR set of ${t}`);
      testSameCdrSet.add(t);
    }
    if ((k.infoH3 !== '' && k.infoH3 === kt.infoH3) || (k.imgtH3 !== '' && k.imgtH3 === kt.imgtH3)) remove(e.id, `CDR-H3 of ${t}`);
    const idn = fvIdentity(k.residues, kt.residues);
    if (idn >= IDENTITY_LIMIT) remove(e.id, `Fv ${(idn * 100).toFixed(1)}% identical to ${t}`);
  }
}

const rest = entries
  .map((e) => e.id)
  .filter((id) => !testSet.has(id) && removed[id] === undefined)
  .sort();
// Validation by clusters: entries linked by the same rules (identical CDR set or CDR-H3, Fv ≥ 95%
// identical) fall on the same side, so validation measures generalisation as the test set does
// instead of rewarding a copy of a near-duplicate in training.
const parent = new Map(rest.map((id) => [id, id]));
const find = (x: string): string => {
  let r = x;
  while (parent.get(r) !== r) r = parent.get(r)!;
  parent.set(x, r);
  return r;
};
const union = (a: string, b: string) => {
  const [ra, rb] = [find(a), find(b)];
  if (ra !== rb) parent.set(ra < rb ? rb : ra, ra < rb ? ra : rb);
};
const linkBy = (keyOf: (k: Keys) => (string | null)[]) => {
  const first = new Map<string, string>();
  for (const id of rest) {
    for (const key of keyOf(keys.get(id)!)) {
      if (key === null || key === '') continue;
      const f = first.get(key);
      if (f === undefined) first.set(key, id);
      else union(f, id);
    }
  }
};
linkBy((k) => [k.infoSet && `set:${k.infoSet}`, k.imgtSet && `set:${k.imgtSet}`]);
linkBy((k) => [k.infoH3 && `h3:${k.infoH3}`, k.imgtH3 && `h3:${k.imgtH3}`]);
for (let i = 0; i < rest.length; i++) {
  const a = keys.get(rest[i]!)!.residues;
  for (let j = i + 1; j < rest.length; j++) {
    const b = keys.get(rest[j]!)!.residues;
    // Identity ≥ 0.95 needs sizes within 5% of each other: skip the rest cheaply.
    if (Math.min(a.size, b.size) < IDENTITY_LIMIT * Math.max(a.size, b.size)) continue;
    if (find(rest[i]!) === find(rest[j]!)) continue;
    if (fvIdentity(a, b) >= IDENTITY_LIMIT) union(rest[i]!, rest[j]!);
  }
}
const clusters = new Map<string, string[]>();
for (const id of rest) (clusters.get(find(id)) ?? clusters.set(find(id), []).get(find(id))!).push(id);
const order = [...clusters.values()].sort((a, b) => (a[0]! < b[0]! ? -1 : 1));
const rand = rng(SEED);
for (let i = order.length - 1; i > 0; i--) {
  const j = Math.floor(rand() * (i + 1));
  [order[i], order[j]] = [order[j]!, order[i]!];
}
const nVal = Math.round(rest.length * VALIDATION_FRACTION);
const picked: string[] = [];
for (const c of order) {
  if (picked.length >= nVal) break;
  // A cluster that would overshoot the 5% by more than a couple of entries is left to training.
  if (picked.length + c.length > nVal + 2) continue;
  picked.push(...c);
}
const validation = picked.sort();
const valSet = new Set(validation);
const train = rest.filter((id) => !valSet.has(id));

const count = (pred: (why: string) => boolean) => Object.values(removed).filter((w) => w.some(pred)).length;
const split = {
  description: 'Leakage-free split of rosetta-fv for balmkit structure models; made by models/fold-baseline/make-split.ts (rules in its header comment).',
  source: 'RosettaCommons/tools @14c1d16 antibody/antibody_database (rosetta-fv), RAB-49 (Graylab/deepH3-distances-orientations @a62bfef), ImmuneBuilder @0df4e2a split lists',
  seed: SEED,
  rules: {
    test: 'RAB-49 ids present in rosetta-fv',
    cdrDefinitions: ['rosetta-fv.info CDR columns', 'IMGT CDRs from balmkit numbering of the observed residues'],
    removeIfSharedWithTest: ['identical CDR set H1-L3', 'identical CDR-H3', `Fv identity >= ${IDENTITY_LIMIT} (same residue at the same IMGT position / longer Fv)`],
    alsoRemoved: ['ABodyBuilder2 antibody test ids', 'NanoBodyBuilder2 nanobody test ids', 'entries with no numbered variable-domain chain'],
    validation: `seeded random ${VALIDATION_FRACTION * 100}% of the rest, drawn by whole clusters (entries linked by the same three rules stay on one side)`,
  },
  counts: {
    rosettaFv: entries.length,
    rab49: rab.length,
    test: test.length,
    testWithIdenticalCdrSetElsewhere: testSameCdrSet.size,
    removed: Object.keys(removed).length,
    removedIdenticalCdrSet: count((w) => w.startsWith('CDR set')),
    removedIdenticalH3: count((w) => w.startsWith('CDR-H3')),
    removedFvIdentity: count((w) => w.startsWith('Fv ')),
    removedBenchmarkTestIds: count((w) => w.endsWith('test id')),
    removedUnnumbered: count((w) => w.startsWith('no chain')),
    clustersOfRest: clusters.size,
    validation: validation.length,
    train: train.length,
  },
  test,
  validation,
  train,
  removed,
};
const tmp = `${outFile}.${process.pid}.tmp`;
fs.writeFileSync(tmp, `${JSON.stringify(split, null, 1)}\n`);
fs.renameSync(tmp, outFile);
process.stderr.write(`${JSON.stringify(split.counts, null, 1)}\nwrote ${outFile}\n`);
