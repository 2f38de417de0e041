/**
 * Pairing heavy with light records into antibodies, in two steps, with numbering deciding which
 * chain a record is (a name can be wrong, a PDB chain letter says nothing):
 *
 * (a) by name: two records pair when their names are equal after removing one chain token
 *     (`H`/`L`, `VH`/`VL`, `heavy`/`light`, `heavy_chain`/`light_chain`, delimited by `_ | : - .`)
 *     and a trailing `_contig_N`, and numbering says one is heavy and the other light (when one
 *     of the two cannot be numbered, their tokens say which is which and its error is reported
 *     against the pair)
 *     (`X_H`/`X_L`, `X|VH`/`X|VL`, OAS's `heavy_chain_B_contig_1`/`light_chain_B_contig_2`,
 *     RCSB's `12E8:H|PDBID|CHAIN|SEQUENCE`).
 * (b) by id: the records left are grouped by the name before their last delimited token (a PDB
 *     id: `1mhp` of `1mhp_X`); a group with exactly one heavy and one light record pairs.
 *
 * Every other record stands alone, with the reason. Nothing is renamed: a pair is named by what
 * its two names share (a step-(b) pair whose id already names an antibody is `id_X_Y`, its two
 * chain tokens appended, so the name is still derived from the records, never numbered).
 */
import type { FastaRecord } from './fasta.js';
import { type NumberingResult, numberOrError } from './number.js';
import type { ChainClass } from './schemes.js';

/** What numbering says a record holds: one chain, both (an scFv), or nothing numberable. */
export type RecordChain = ChainClass | 'both' | undefined;

/** How an antibody's chains came together. */
export type PairedBy = 'name' | 'id' | 'row' | 'options';

/** An antibody: heavy and light chains, or one of them (nanobody, light-only). */
export interface AntibodyRecord {
  name: string;
  heavy?: FastaRecord;
  light?: FastaRecord;
  /** A record that stands alone (no partner, an scFv, or not numberable): numbered on its own. */
  single?: FastaRecord;
  /** How the chains were paired (absent for a record standing alone). */
  pairedBy?: PairedBy;
  /** Why a single record was not paired ("no partner", "id 1abc has 2 heavy and 1 light records"). */
  unpaired?: string;
  /**
   * Why this record cannot be used (a duplicate name): commands report it as a bad record and go
   * on with the rest. Its chains are kept for the message.
   */
  problem?: { reason: 'duplicate-name' | 'bad-row'; message: string };
}

/** Counts of a batch's pairing, for the one-line summary. */
export interface PairingSummary {
  records: number;
  byName: number;
  byId: number;
  /** Records standing alone, by kind of reason. */
  single: Map<string, number>;
  duplicates: number;
}

export interface PairOptions {
  /** `false`: every record stands alone (default true). */
  pair?: boolean;
  /** What each record holds (default: number it, {@link chainOfNumbering}); a caller that numbers anyway passes its own to number once. */
  chainOf?: (record: FastaRecord) => RecordChain;
}

/** What a numbering says a record holds: its one domain's chain, 'both' for two domains, undefined for none. */
export function chainOfNumbering(result: NumberingResult | undefined): RecordChain {
  if (result === undefined || result.domains.length === 0) return undefined;
  if (result.domains.length > 1) return 'both';
  return result.domains[0].chainType === 'H' ? 'heavy' : 'light';
}

/** Numbers a record to see what it holds; a record that is not an antibody chain (or bad) holds nothing. */
function numberedChainOf(record: FastaRecord): RecordChain {
  const r = numberOrError(record.sequence, { source: { record: record.name } });
  return r instanceof Error ? undefined : chainOfNumbering(r);
}

const DELIM = /[_|:.-]/;
const CHAIN_TOKENS: Record<string, ChainClass> = {
  h: 'heavy',
  vh: 'heavy',
  heavy: 'heavy',
  heavy_chain: 'heavy',
  l: 'light',
  vl: 'light',
  light: 'light',
  light_chain: 'light',
};

/** The part of a name that identifies the molecule: RCSB's `|PDBID|CHAIN|SEQUENCE` tail and a trailing `_contig_N` removed. */
function coreName(name: string): string {
  return name.replace(/\|PDBID\|CHAIN\|SEQUENCE$/i, '').replace(/[_.-]contig[_.-]?\d+$/i, '');
}

/** The tokens of a name with their character spans (delimiters between them). */
function tokenize(name: string): { text: string; start: number; end: number }[] {
  const out: { text: string; start: number; end: number }[] = [];
  let start = 0;
  for (let i = 0; i <= name.length; i++) {
    if (i === name.length || DELIM.test(name[i])) {
      out.push({ text: name.slice(start, i), start, end: i });
      start = i + 1;
    }
  }
  return out;
}

/**
 * The name with one chain token removed (the last one; `heavy_chain` counts as one token), and
 * the chain the token names; undefined when the name has no chain token beside other text.
 */
export function nameWithoutChainToken(name: string): { key: string; token: ChainClass } | undefined {
  const core = coreName(name);
  const tokens = tokenize(core);
  for (let i = tokens.length - 1; i >= 0; i--) {
    for (const span of [2, 1]) {
      if (i + span > tokens.length || (span === 2 && core[tokens[i].end] !== '_')) continue;
      const token =
        CHAIN_TOKENS[
          tokens
            .slice(i, i + span)
            .map((t) => t.text)
            .join('_')
            .toLowerCase()
        ];
      if (token === undefined) continue;
      // Drop the token with the delimiter that joined it to the rest.
      const from = i > 0 ? tokens[i - 1].end : tokens[i].start;
      const to = i > 0 ? tokens[i + span - 1].end : Math.min(core.length, tokens[i + span - 1].end + 1);
      const key = core.slice(0, from) + core.slice(to);
      if (key.replace(/[_|:.-]/g, '') !== '') return { key, token };
    }
  }
  return undefined;
}

/** The name before its last delimited token (`1mhp` of `1mhp_X`), and that token; undefined without a delimiter. */
export function idOf(name: string): { id: string; token: string } | undefined {
  const core = coreName(name);
  const m = /^(.+)[_|:.-]([^_|:.-]+)$/.exec(core);
  return m === null ? undefined : { id: m[1], token: m[2] };
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * Groups records into antibodies by the two-step rule above. Order follows each antibody's first
 * record. A record whose name repeats an earlier one becomes an antibody with a `problem`, so a
 * batch reports it and processes the rest; nothing is renamed.
 */
export function pairRecords(records: readonly FastaRecord[], options: PairOptions = {}): { antibodies: AntibodyRecord[]; summary: PairingSummary } {
  const summary: PairingSummary = { records: records.length, byName: 0, byId: 0, single: new Map(), duplicates: 0 };
  const seen = new Map<string, FastaRecord>();
  const unique: FastaRecord[] = [];
  /** Antibody of each record's position in `records`, filled step by step. */
  const slot = new Map<FastaRecord, AntibodyRecord>();
  const extra: [number, AntibodyRecord][] = [];
  records.forEach((r, k) => {
    const earlier = seen.get(r.name);
    if (earlier !== undefined) {
      summary.duplicates++;
      extra.push([
        k,
        {
          name: r.name,
          single: r,
          problem: { reason: 'duplicate-name', message: `record '${r.name}' (line ${r.line}): the same name as an earlier record (line ${earlier.line}); record names must be unique: rename one` },
        },
      ]);
      return;
    }
    seen.set(r.name, r);
    unique.push(r);
  });
  const canPair = options.pair !== false;
  const chainOf = options.chainOf ?? numberedChainOf;
  const chain = new Map<FastaRecord, RecordChain>();
  if (canPair) for (const r of unique) chain.set(r, chainOf(r));
  const names = new Set(unique.map((r) => r.name));
  /** A record left alone; `kind` is its reason without the particulars, for the summary. */
  const single = (r: FastaRecord, reason: string, kind = reason) => {
    slot.set(r, { name: r.name, single: r, unpaired: reason });
    summary.single.set(kind, (summary.single.get(kind) ?? 0) + 1);
  };
  const pairUp = (name: string, heavy: FastaRecord, light: FastaRecord, by: PairedBy) => {
    const ab: AntibodyRecord = { name, heavy, light, pairedBy: by };
    slot.set(heavy, ab);
    slot.set(light, ab);
    names.add(name);
    if (by === 'name') summary.byName++;
    else summary.byId++;
  };
  const split = (group: readonly FastaRecord[]) => ({
    heavy: group.filter((r) => chain.get(r) === 'heavy'),
    light: group.filter((r) => chain.get(r) === 'light'),
  });

  if (canPair) {
    // (a) by name
    const byKey = new Map<string, { record: FastaRecord; token: ChainClass }[]>();
    for (const r of unique) {
      const c = chain.get(r);
      if (c === 'both') continue;
      const k = nameWithoutChainToken(r.name);
      if (k === undefined) continue;
      byKey.set(k.key, [...(byKey.get(k.key) ?? []), { record: r, token: k.token }]);
    }
    for (const [key, group] of byKey) {
      const { heavy, light } = split(group.map((g) => g.record));
      // The key is a new name unless a record already has it (then the pair keeps both names).
      const name = (h: FastaRecord, l: FastaRecord) => (names.has(key) ? `${h.name}+${l.name}` : key);
      if (heavy.length === 1 && light.length === 1 && group.length === 2) pairUp(name(heavy[0], light[0]), heavy[0], light[0], 'name');
      else if (group.length === 2 && group[0].token !== group[1].token && group.some((g) => chain.get(g.record) === undefined)) {
        // X_H + X_L where one fails to number (a typo, a bad letter): still the pair its names
        // say, so the error is reported against the antibody instead of the other chain being
        // predicted alone. The chains are taken from the names; numbering checks them.
        const [h, l] = group[0].token === 'heavy' ? [group[0].record, group[1].record] : [group[1].record, group[0].record];
        pairUp(name(h, l), h, l, 'name');
      }
    }
    // (b) by id, among the records left
    const byId = new Map<string, FastaRecord[]>();
    for (const r of unique) {
      if (slot.has(r)) continue;
      const id = idOf(r.name);
      if (id !== undefined) byId.set(id.id, [...(byId.get(id.id) ?? []), r]);
    }
    for (const [id, group] of byId) {
      const { heavy, light } = split(group);
      if (heavy.length === 1 && light.length === 1) {
        const name = names.has(id) ? `${id}_${idOf(heavy[0].name)!.token}_${idOf(light[0].name)!.token}` : id;
        pairUp(name, heavy[0], light[0], 'id');
      } else if (heavy.length + light.length > 1) {
        const reason = `id ${id} has ${plural(heavy.length, 'heavy record')} and ${plural(light.length, 'light record')} left to pair`;
        const kind = 'their id has not one heavy and one light record';
        for (const r of group) {
          if (slot.has(r)) continue;
          const c = chain.get(r);
          if (c === undefined) single(r, 'not numbered as an antibody chain');
          else if (c === 'both') single(r, 'holds two domains (scFv)');
          else single(r, reason, kind);
        }
      }
    }
  }
  for (const r of unique) {
    if (slot.has(r)) continue;
    const c = chain.get(r);
    single(r, !canPair ? 'pairing off' : c === undefined ? 'not numbered as an antibody chain' : c === 'both' ? 'holds two domains (scFv)' : 'no partner');
  }

  // Output order: each antibody at its first record; duplicates where they stood.
  const antibodies: AntibodyRecord[] = [];
  const placed = new Set<AntibodyRecord>();
  let e = 0;
  records.forEach((r, k) => {
    while (e < extra.length && extra[e][0] === k) antibodies.push(extra[e++][1]);
    const ab = seen.get(r.name) === r ? slot.get(r) : undefined;
    if (ab !== undefined && !placed.has(ab)) {
      placed.add(ab);
      antibodies.push(ab);
    }
  });
  return { antibodies, summary };
}

/** The one stderr line that says how a batch was paired. */
export function pairingLine(s: PairingSummary): string {
  const pairs = s.byName + s.byId;
  const parts = [`${plural(pairs, 'pair')} (${s.byName} by name, ${s.byId} by id)`];
  const alone = [...s.single.values()].reduce((a, b) => a + b, 0);
  if (alone > 0) {
    const why = [...s.single].sort((a, b) => b[1] - a[1]).map(([reason, n]) => `${n} ${reason}`);
    parts.push(`${plural(alone, 'record')} alone (${why.join('; ')})`);
  }
  if (s.duplicates > 0) parts.push(`${plural(s.duplicates, 'repeated name')} (reported below)`);
  return `balmkit: pairing ${plural(s.records, 'record')}: ${parts.join(', ')}`;
}
