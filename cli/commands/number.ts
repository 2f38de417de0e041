/**
 * `balmkit number`: number antibody chains (IMGT, Chothia or Kabat) from a FASTA file, a plain
 * sequence, or `--heavy`/`--light`. A table per chain, or `--json` (schema below). A batch numbers
 * every good record, reports the bad ones on stderr (record, chain, why) and exits 1 if any failed.
 */
import type { Command } from 'commander';
import { z } from 'zod';

import { anarciTables } from '../../src/antibody/anarci-table.js';
import type { NumberOutput } from '../../src/antibody/output.js';
import type { Scheme } from '../../src/antibody/schemes.js';
import { isOgrdbPlaceholder } from '../../src/antibody/germline.js';
import { PAIRING_HELP, TRANSLATE_HELP, numberAntibodies, readAntibodies, reportTrimmed, writeFileAtomically } from '../input.js';
import { EXIT, UsageError, choiceOption, parseOptions } from '../options.js';

const schema = z.strictObject({
  scheme: choiceOption(['imgt', 'chothia', 'kabat'] as const).optional(),
  json: z.boolean({ error: 'takes no value' }).optional(),
  format: choiceOption(['table', 'json', 'csv', 'tsv'] as const).optional(),
  heavy: z.string().optional(),
  light: z.string().optional(),
  pair: z.boolean().optional(),
  translate: z.boolean().optional(),
  output: z.string().min(1, { error: 'needs a file name' }).optional(),
});

const JSON_SCHEMA = `
JSON output (--json; zod schema: numberOutputSchema in balmkit's antibody module):
  { "scheme": "imgt" | "chothia" | "kabat",
    "records": [ { "name": string,                       // antibody (pair) or record name
                   "pairedBy"?: "name" | "id" | "row" | "options",   // how a pair's chains came together
                   "unpaired"?: string,                // why a record stands alone ("no partner", …)
                   "chains": [ { "record": string,       // FASTA record the chain came from
                                 "given": "heavy" | "light" | null,
                                 "chainType": "H" | "K" | "L",
                                 "species": string, "score": number (bits),
                                 "start": number, "end": number,   // 0-based, inclusive, in the record
                                 "length": number,                  // residues in the record
                                 "vGene": {"name","species","identity","compared",   // closest germline
                                           "placeholder"?: true} | null,    // an OGRDB label, not a gene name
                                 "jGene": {…} | null,
                                 "residues": [ {"aa": "E", "number": 1, "insertion": "", "region": "fwr1"}, … ] } ] } ],
    "errors": [ { "record": string, "chain": "heavy" | "light" | null, "reason": string, "message": string } ] }
  region: fwr1 cdr1 fwr2 cdr2 fwr3 cdr3 fwr4 under the scheme's own CDR definition.
  An scFv record gives two chains; a record that fails is in "errors" only.

CSV/TSV output (--format csv|tsv, or -o x.csv / x.tsv): ANARCI's layout (ANARCI --csv), one file
per chain type: x_H.csv for heavy chains, x_KL.csv for kappa and lambda. One row per numbered
domain; columns Id, domain_no, hmm_species, chain_type, e-value (empty: balmkit computes none),
score, seqstart_index, seqend_index (0-based), identity_species, v_gene, v_identity, j_gene,
j_identity, then one column per position in numbering order (1, 2, …, 111A, …), residue or -.`;

/** The output format: --format, else --json, else the -o file's extension, else a table. */
function outputFormat(opts: { format?: OutputFormat; json?: boolean; output?: string }): OutputFormat {
  const ext = /\.(json|csv|tsv)$/i.exec(opts.output ?? '')?.[1]?.toLowerCase() as OutputFormat | undefined;
  if (opts.json === true && opts.format !== undefined && opts.format !== 'json') throw new UsageError(`--json and --format ${opts.format} disagree: give one`);
  const format = opts.format ?? (opts.json === true ? 'json' : (ext ?? 'table'));
  if (ext !== undefined && ext !== format) throw new UsageError(`-o ${opts.output} ends in .${ext} but the format is ${format}: make them agree`);
  return format;
}

type OutputFormat = 'table' | 'json' | 'csv' | 'tsv';

/** Registers `number` on the program. */
export function register(program: Command): void {
  const cmd = program
    .command('number')
    .summary('number antibody chains (IMGT, Chothia, Kabat): regions, chain type, species, germlines')
    .description(
      'Number antibody variable domains with the profiles shipped in balmkit (no HMMER needed). ' +
        'INPUT is a FASTA or CSV file (.gz accepted), a plain sequence, or - for stdin; or give --heavy/--light. ' +
        'FASTA records are paired by name, then by PDB id, with numbering saying which is heavy (rule below). ' +
        'Constant domains, leaders and tags are trimmed (reported); an scFv gives both domains. ' +
        'Chains that are not antibody variable domains (TCRs, other proteins) are reported with their best score.',
    )
    .argument('[input]', 'FASTA or CSV file, plain sequence, or - for stdin')
    .option('--scheme <scheme>', 'numbering scheme: imgt, chothia or kabat [default: imgt]')
    .option('--heavy <sequence>', 'a heavy chain sequence (must number as heavy)')
    .option('--light <sequence>', 'a light chain sequence (must number as kappa or lambda)')
    .option('--no-pair', 'number every record on its own (no pairing)')
    .option('--translate', TRANSLATE_HELP)
    .option('--format <format>', "table, json, csv or tsv (ANARCI's CSV layout) [default: from -o's extension, else table]")
    .option('--json', 'print JSON (schema in --help); the same as --format json')
    .option('-o, --output <file>', 'write to a file (atomically) instead of stdout; x.csv writes x_H.csv and x_KL.csv');
  cmd.addHelpText(
    'after',
    `
Examples:
  $ balmkit number EVQLVESGGGLVQPGGSLRLSCAASGFTFSSYAMSWVRQAPGKGLEWVS...
  $ balmkit number antibodies.fasta --scheme chothia
  $ balmkit number --heavy EVQLVES... --light DIQMTQS... --json
  $ balmkit number chains.fasta.gz --json --no-pair -o numbered.json
  $ balmkit number antibodies.fasta -o numbered.csv      # numbered_H.csv, numbered_KL.csv (ANARCI's layout)
${PAIRING_HELP}
${JSON_SCHEMA}
`,
  );
  cmd.action(async (input: string | undefined, _raw: unknown, command: Command) => {
    const opts = parseOptions(command, schema);
    const scheme: Scheme = opts.scheme ?? 'imgt';
    const format = outputFormat(opts);
    const { domainToJson } = await import('../../src/antibody/output.js');
    const antibodies = readAntibodies(input, opts, 'number');
    const { chains, errors } = numberAntibodies(antibodies, scheme);
    if (format !== 'table') reportTrimmed(chains); // the table says it in place
    const byName = new Map(antibodies.filter((ab) => ab.problem === undefined).map((ab) => [ab.name, ab]));
    const out: NumberOutput['records'] = [];
    for (const c of chains) {
      const json = domainToJson(c.record, c.given, c.domain, c.length);
      const last = out[out.length - 1];
      if (last && last.name === c.antibody) last.chains.push(json);
      else {
        const ab = byName.get(c.antibody);
        out.push({ name: c.antibody, ...(ab?.pairedBy ? { pairedBy: ab.pairedBy } : {}), ...(ab?.unpaired ? { unpaired: ab.unpaired } : {}), chains: [json] });
      }
    }
    const doc: NumberOutput = { scheme, records: out, errors };
    if (format === 'csv' || format === 'tsv') writeAnarciTables(doc, format, opts.output);
    else {
      const text = format === 'json' ? `${JSON.stringify(doc, null, 1)}\n` : formatTable(scheme, out);
      if (opts.output !== undefined) writeFileAtomically(opts.output, text);
      else process.stdout.write(text);
    }
    for (const e of errors) process.stderr.write(`balmkit: ${e.message}\n`);
    const chainsDone = out.reduce((n, r) => n + r.chains.length, 0);
    if (errors.length > 0) {
      process.stderr.write(`balmkit: numbered ${chainsDone} domain(s); ${errors.length} chain(s) failed (listed above)\n`);
      process.exitCode = EXIT.failure;
    }
  });
}

/** ANARCI's tables: x_H.csv and x_KL.csv beside -o x.csv, or the one table on stdout. */
function writeAnarciTables(doc: NumberOutput, format: 'csv' | 'tsv', output: string | undefined): void {
  const tables = anarciTables(doc, format === 'csv' ? ',' : '\t');
  if (output === undefined) {
    if (tables.size > 1) throw new UsageError(`--format ${format}: heavy and light chains make two tables (as ANARCI's x_H.csv and x_KL.csv); give -o x.${format}`);
    for (const t of tables.values()) process.stdout.write(t.text);
    return;
  }
  const base = output.replace(new RegExp(`\\.${format}$`, 'i'), '');
  const written: string[] = [];
  for (const [kind, t] of tables) {
    const file = `${base}_${kind}.${format}`;
    writeFileAtomically(file, t.text);
    written.push(`${file} (${t.chains} chain${t.chains === 1 ? '' : 's'})`);
  }
  process.stderr.write(`balmkit: wrote ${written.length > 0 ? written.join(', ') : 'no table (no chain numbered)'}\n`);
}

const CHAIN_NAMES: Record<string, string> = { H: 'heavy', K: 'kappa', L: 'lambda' };

/** The human-readable output: per chain a header, its regions, and its residues in rows. */
export function formatTable(scheme: Scheme, records: NumberOutput['records']): string {
  const lines: string[] = [];
  for (const rec of records) {
    for (const c of rec.chains) {
      // Germlines are the closest match in balmkit's germline set, not a statement of origin
      // (a humanized antibody's closest light-chain gene may be a rhesus one).
      const gene = (seg: string, g: NonNullable<typeof c.vGene> | null) =>
        g ? `${seg} ${g.species} ${g.name}${isOgrdbPlaceholder(g.name) ? ' (an OGRDB label for an unnamed gene)' : ''} ${Math.round(g.identity * 100)}%` : `${seg} none`;
      const v = gene('V', c.vGene);
      const j = gene('J', c.jGene);
      const trim = c.start > 0 || c.end < c.length - 1 ? `, trimmed ${c.start} before and ${c.length - 1 - c.end} after` : '';
      lines.push(`${c.record}  ${CHAIN_NAMES[c.chainType]} (${c.chainType}), score ${c.score} bits; closest germlines: ${v}, ${j}`);
      lines.push(`  residues ${c.start + 1}-${c.end + 1} of ${c.length}${trim}; ${scheme} numbering`);
      const regions: [string, string, string][] = [];
      for (const r of c.residues) {
        const lab = `${r.number}${r.insertion}`;
        const last = regions[regions.length - 1];
        if (last && last[0] === r.region) {
          last[1] = last[1].split('-')[0] + '-' + lab;
          last[2] += r.aa;
        } else regions.push([r.region, lab, r.aa]);
      }
      for (const [name, span, aa] of regions) lines.push(`  ${name.padEnd(5)} ${span.padEnd(10)} ${aa}`);
      const cells = c.residues.map((r) => `${r.number}${r.insertion}`.padStart(5) + ` ${r.aa}`);
      for (let i = 0; i < cells.length; i += 12) lines.push(`  ${cells.slice(i, i + 12).join(' ')}`);
      lines.push('');
    }
  }
  return lines.join('\n');
}
