/**
 * `balmkit predict-structure`: antibody sequences in (`--heavy`/`--light`, a FASTA file paired by
 * record name, or a CSV `name,heavy,light`), one full-atom Fv structure per antibody out (PDB or
 * mmCIF, numbered in IMGT, Chothia or Kabat, predicted error in Å in the B-factor column). A batch
 * folds every good record, reports the bad ones on stderr (record, chain, why) and exits 1 if any
 * failed.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';

import type { AntibodyInput, FoldedAntibody, FoldFailure } from '../../src/fold/predict.js';
import type { PairedBy } from '../../src/antibody/pairing.js';
import { PAIRING_HELP, TRANSLATE_HELP, progress, readAntibodies, trimmedLine } from '../input.js';
import { EXIT, UsageError, addRuntimeOptions, choiceOption, intOption, parseOptions, runtimeOf, runtimeOptionsShape } from '../options.js';
import { BadInputError } from '../../src/runtime/errors.js';

const schema = z.strictObject({
  heavy: z.string().min(1, { error: 'needs a sequence' }).optional(),
  light: z.string().min(1, { error: 'needs a sequence' }).optional(),
  name: z
    .string()
    .regex(/^[A-Za-z0-9._-]+$/, { error: 'must be letters, digits, . _ or -' })
    .optional(),
  output: z.string().min(1, { error: 'needs a folder or a file name' }).optional(),
  format: choiceOption(['pdb', 'cif'] as const).optional(),
  scheme: choiceOption(['imgt', 'chothia', 'kabat'] as const).optional(),
  model: z.string().min(1, { error: 'needs a model folder or name' }).optional(),
  recycles: intOption(0, '--recycles 1').optional(),
  translate: z.boolean().optional(),
  json: z.boolean({ error: 'takes no value' }).optional(),
  progress: z.boolean().optional(),
  view: z.boolean().optional(),
  ...runtimeOptionsShape,
});

const JSON_SCHEMA = `
JSON output (--json, on stdout; needs -o):
  { "model": string, "modelFolder": string, "scheme": "imgt"|"chothia"|"kabat", "format": "pdb"|"cif",
    "records": [ { "name": string, "file": string, "pairedBy"?: "name"|"id"|"row"|"options", "unpaired"?: string,
                   "chains": [ {"id": "H"|"L", "chainType": "H"|"K"|"L", "length": n, "trimmedBefore": n, "trimmedAfter": n} ],
                   "cdrs": [ {"name": "H3", "chain": "H", "start": "105", "end": "117", "meanError": Å} ],
                   "meanError": Å,
                   "residues": [ {"chain", "number", "insertion", "imgt", "aa", "region", "error": Å, "source"} ],
                   "relax": {"iterations", "passes", "converged", "rmsdMoved", "maxMoved"},
                   "geometry": {"bondsIdealFraction", "peptideBonds", "peptideBondsIdeal", "clashes", "dAminoAcids"},
                   "timing": {"numberMs", "buildMs", "relaxMs", "totalMs"} } ],
    "errors": [ { "name": string, "chain": "H"|"L"|null, "reason": string, "message": string } ],
    "timing": { "totalMs": number, "perAntibodyMs": number } }`;

/** Registers `predict-structure` on the program. */
export function register(program: Command): void {
  const cmd = program
    .command('predict-structure')
    .summary('predict full-atom Fv structures (PDB/mmCIF) with per-residue error from antibody sequences')
    .description(
      'Predict the structure of antibody Fvs (heavy + light), nanobodies or light chains. INPUT is a FASTA file ' +
        '(records paired by the rule below; a record left alone may be a nanobody, a light ' +
        'chain or an scFv), a CSV file (name,heavy,light), or - for stdin; or give --heavy/--light. ' +
        'One structure per antibody is written to -o DIR as NAME.pdb (or NAME.cif), or to -o FILE for one antibody, ' +
        'or to stdout for one antibody without -o. Residues are numbered in the chosen scheme with insertion codes; the ' +
        'B-factor column holds the predicted error in Å; REMARK 999 BALMKIT lines give model, sequences and CDR ranges. ' +
        'Bad records are reported and skipped; the exit code is 1 if any failed. ' +
        'The default model, balmfold-small (BALMFold: BALM-small → folding trunk → IPA structure module, 3 recycles), runs ' +
        'ONNX graphs on --ep (CUDA when available, else CPU; about 0.5 s per Fv on 2 CPU cores, --recycles 0 about 4× less ' +
        'fold time); --model fold-baseline is the template baseline (about 60 ms per Fv, no ONNX graph).',
    )
    .argument('[input]', 'FASTA or CSV file (.gz accepted), or - for stdin')
    .option('--heavy <sequence>', 'heavy chain sequence')
    .option('--light <sequence>', 'light chain sequence')
    .option('--name <name>', 'name of the --heavy/--light antibody (file name and header) [default: antibody]')
    .option('-o, --output <path>', 'folder for one file per antibody, or a .pdb/.cif file for one antibody')
    .option('--format <format>', 'pdb or cif [default: from the -o file extension, else pdb]')
    .option('--scheme <scheme>', 'residue numbering: imgt, chothia or kabat [default: imgt]')
    .option('--model <model>', 'model folder or shipped model name: balmfold-small (BALMFold, learned, the default; see models/balmfold-small/README.md) or fold-baseline (template baseline)')
    .option('--recycles <n>', "BALMFold recycling passes: fewer are faster, 0 is one pass [default: the model's own, 3 for balmfold-small]")
    .option('--translate', TRANSLATE_HELP)
    .option('--json', 'print a JSON summary on stdout (schema in --help)')
    .option('--no-progress', 'no progress bar (it is shown for batches when stderr is a terminal)')
    .option('--view', 'then open the predictions in the 3D viewer (served on 127.0.0.1 until Ctrl-C; needs -o)');
  addRuntimeOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Examples:
  $ balmkit predict-structure --heavy EVQLVESGG... --light DIQMTQSPS... -o ab.pdb
  $ balmkit predict-structure antibodies.fasta -o structures/ --scheme chothia
  $ balmkit predict-structure pairs.csv -o structures/ --format cif --json > summary.json
${PAIRING_HELP}
${JSON_SCHEMA}
`,
  );
  cmd.action(async (input: string | undefined, _raw: unknown, command: Command) => {
    const opts = parseOptions(command, schema);
    const records = readRecords(input, opts);
    if (records.length === 0) throw new UsageError(`${input}: no sequences found`);

    const target = resolveOutput(opts.output, opts.format, records.length);
    if (opts.json === true && target.kind === 'stdout') throw new UsageError('--json prints the summary on stdout: give -o for the structures');
    if (opts.view === true && target.kind === 'stdout') throw new UsageError('--view shows the written files: give -o for the structures');

    const { fold } = await import('../../src/fold/predict.js');
    const { loadFoldModel } = await import('../../src/fold/baseline-model.js');
    const { writePdb, formatPdb } = await import('../../src/io/pdb.js');
    const { writeMmcif, formatMmcif } = await import('../../src/io/mmcif.js');
    const { ModelError } = await import('../../src/fold/baseline-model.js');
    let model: ReturnType<typeof loadFoldModel>;
    try {
      model = loadFoldModel(opts.model);
    } catch (e) {
      // A model that is not there is a command-line mistake (exit 2), named by the option.
      if (e instanceof ModelError) throw new UsageError(`--model ${e.message}`);
      throw e;
    }
    if (opts.recycles !== undefined) {
      if (model.kind !== 'balmfold') throw new UsageError(`--recycles: model '${model.name}' is a ${model.kind}, which does not recycle; it applies to BALMFold models (--model balmfold-small)`);
      if (opts.recycles > 0 && model.config.recycles === 0) throw new UsageError(`--recycles ${opts.recycles}: model '${model.name}' was trained without recycling; use --recycles 0 or leave it out`);
    }
    const scheme = opts.scheme ?? 'imgt';

    const bar = progress('predicting', opts.progress === false ? 0 : records.length);
    const summaries: JsonRecord[] = [];
    const errors: FoldFailure[] = [];
    const usedNames = new Map<string, string>();
    const trimmed: string[] = [];
    /** Structures whose relaxation stopped at its iteration cap, with the largest atom move. */
    const capped: { name: string; maxMove: number }[] = [];
    const t0 = performance.now();
    for (const rec of records) {
      if (rec.problem) {
        errors.push({ name: rec.name, chain: null, reason: rec.problem.reason, message: rec.problem.message });
        bar.tick(1, rec.name);
        continue;
      }
      // One at a time, so a long batch shows progress and holds one structure in memory.
      const [outcome] = await fold(rec, { model, scheme, ...runtimeOf(opts), ...(opts.recycles !== undefined ? { recycles: opts.recycles } : {}) });
      if (!outcome.ok) {
        errors.push(outcome.failure);
        bar.tick(1, rec.name);
        continue;
      }
      const ab = outcome.antibody;
      if (ab.relax !== null && !ab.relax.converged) capped.push({ name: ab.name, maxMove: ab.relax.maxMoved });
      for (const c of ab.chains) {
        const line = trimmedLine(ab.name, c.id, c.trimmedBefore, c.trimmedAfter, c.length);
        if (line !== null && !bar.active) process.stderr.write(`${line}\n`);
        else if (line !== null) trimmed.push(line);
      }
      try {
        if (target.kind === 'stdout') {
          process.stdout.write(target.format === 'pdb' ? formatPdb(ab.structure) : formatMmcif(ab.structure, { name: ab.name }));
          summaries.push(toJson(ab, '-', rec));
        } else {
          const file = target.kind === 'file' ? target.path : path.join(target.path, `${claimName(ab.name, usedNames)}.${target.format}`);
          if (target.format === 'pdb') await writePdb(file, ab.structure);
          else await writeMmcif(file, ab.structure, { name: safeName(ab.name) });
          summaries.push(toJson(ab, file, rec));
        }
      } catch (e) {
        if (!(e instanceof BadInputError)) throw e;
        errors.push({ name: ab.name, chain: null, reason: 'cannot-write', message: `record '${ab.name}': ${e.message}` });
      }
      bar.tick(1, rec.name);
    }
    bar.done();
    for (const line of trimmed) process.stderr.write(`${line}\n`);
    const totalMs = performance.now() - t0;
    if (opts.json === true) {
      const out = {
        model: model.name,
        modelFolder: model.folder,
        scheme,
        format: target.format,
        records: summaries,
        errors,
        timing: { totalMs: round(totalMs), perAntibodyMs: round(totalMs / records.length) },
      };
      process.stdout.write(`${JSON.stringify(out, null, 1)}\n`);
    }
    for (const e of errors) process.stderr.write(`balmkit: ${e.message}\n`);
    if (capped.length > 0) process.stderr.write(`${relaxCapLine(capped, summaries.length)}\n`);
    if (target.kind !== 'stdout') {
      const where = target.kind === 'file' ? target.path : `${target.path}${path.sep}`;
      process.stderr.write(
        `balmkit: predicted ${summaries.length} of ${records.length} antibod${records.length === 1 ? 'y' : 'ies'} with ${model.name} into ${where} (${round(totalMs / records.length)} ms each)\n`,
      );
    }
    if (errors.length > 0) {
      process.stderr.write(`balmkit: ${errors.length} record(s) failed (listed above)\n`);
      process.exitCode = EXIT.failure;
    }
    if (opts.view === true && summaries.length > 0) {
      const { serveViewer } = await import('../../src/view/index.js');
      await serveViewer(
        summaries.map((x) => x.file),
        { open: true },
      );
    }
  });
}

type Options = z.output<typeof schema>;

/** The stderr line for structures whose relaxation stopped at the iteration cap (their files say so too: RELAX false). */
export function relaxCapLine(capped: readonly { name: string; maxMove: number }[], of: number): string {
  const worst = capped.reduce((a, b) => (b.maxMove > a.maxMove ? b : a));
  const names =
    capped.length <= 5
      ? capped.map((c) => c.name).join(', ')
      : `${capped
          .slice(0, 5)
          .map((c) => c.name)
          .join(', ')}, …`;
  return (
    `balmkit: ${capped.length} of ${of} structure${of === 1 ? '' : 's'} stopped at the relaxation's iteration cap before converging ` +
    `(largest atom move ${worst.maxMove.toFixed(1)} Å, ${worst.name}): ${names}; geometry is still checked (relax and geometry in --json)`
  );
}

/** Where structures go: stdout (one antibody, no -o), one file, or a folder. */
type Target = { kind: 'stdout'; format: 'pdb' | 'cif' } | { kind: 'file' | 'dir'; path: string; format: 'pdb' | 'cif' };

function resolveOutput(output: string | undefined, format: 'pdb' | 'cif' | undefined, count: number): Target {
  if (output === undefined) {
    if (count > 1) throw new UsageError(`${count} antibodies: give -o DIR for one file each`);
    return { kind: 'stdout', format: format ?? 'pdb' };
  }
  const ext = /\.(pdb|cif)$/i.exec(output)?.[1]?.toLowerCase() as 'pdb' | 'cif' | undefined;
  if (ext !== undefined && !(fs.existsSync(output) && fs.statSync(output).isDirectory())) {
    if (count > 1) throw new UsageError(`-o ${output} is one file, but the input has ${count} antibodies: give a folder`);
    if (format !== undefined && format !== ext) throw new UsageError(`-o ${output} ends in .${ext} but --format is ${format}: make them agree`);
    const dir = path.dirname(path.resolve(output));
    if (!fs.existsSync(dir)) throw new UsageError(`-o ${output}: folder ${dir} does not exist`);
    return { kind: 'file', path: output, format: ext };
  }
  if (fs.existsSync(output) && !fs.statSync(output).isDirectory()) throw new UsageError(`-o ${output} is a file; give a folder, or a name ending in .pdb or .cif`);
  fs.mkdirSync(output, { recursive: true });
  return { kind: 'dir', path: output, format: format ?? 'pdb' };
}

/** The antibodies of the input: --heavy/--light, a CSV file, or a FASTA file (paired as every command pairs). */
function readRecords(input: string | undefined, opts: Options): InputRecord[] {
  if (opts.name !== undefined && opts.heavy === undefined && opts.light === undefined) {
    throw new UsageError('--name names a --heavy/--light antibody; records in a file keep their own names');
  }
  return readAntibodies(input, opts, 'predict-structure').map((ab) => ({
    name: ab.pairedBy === 'options' || (ab.name === 'antibody' && input === undefined) ? (opts.name ?? ab.name) : ab.name,
    ...(ab.heavy ? { heavy: ab.heavy.sequence } : {}),
    ...(ab.light ? { light: ab.light.sequence } : {}),
    ...(ab.single ? { sequence: ab.single.sequence } : {}),
    ...(ab.problem ? { problem: ab.problem } : {}),
    ...(ab.pairedBy ? { pairedBy: ab.pairedBy } : {}),
    ...(ab.unpaired ? { unpaired: ab.unpaired } : {}),
  }));
}

/** A record name as a file name: characters other than letters, digits, `.`, `_`, `-` become `_`. */
function safeName(name: string): string {
  const s = name.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_');
  return s === '' ? 'antibody' : s.slice(0, 120);
}

/** The file name of a record, claimed; a name another record's file already has is refused, never changed. */
function claimName(record: string, used: Map<string, string>): string {
  const name = safeName(record);
  const other = used.get(name.toLowerCase());
  if (other !== undefined)
    throw new BadInputError(`its file name ${name} is already that of record '${other}' (names differing only in case or in characters other than letters, digits, . _ -); rename one`);
  used.set(name.toLowerCase(), record);
  return name;
}

/** A record of the input, how it was paired, and why it cannot be used (a repeated name) when it cannot. */
type InputRecord = AntibodyInput & { problem?: { reason: string; message: string }; pairedBy?: PairedBy; unpaired?: string };

const round = (x: number) => Math.round(x * 10) / 10;

interface JsonRecord {
  name: string;
  file: string;
  pairedBy?: PairedBy;
  unpaired?: string;
  chains: FoldedAntibody['chains'];
  cdrs: { name: string; chain: string; start: string; end: string; meanError: number }[];
  meanError: number;
  residues: FoldedAntibody['residues'];
  relax: FoldedAntibody['relax'];
  geometry: FoldedAntibody['geometry'];
  timing: FoldedAntibody['timing'];
}

function toJson(ab: FoldedAntibody, file: string, rec: InputRecord): JsonRecord {
  const id = (r: { number: number; insertion: string }) => `${r.number}${r.insertion}`;
  return {
    name: ab.name,
    file,
    ...(rec.pairedBy ? { pairedBy: rec.pairedBy } : {}),
    ...(rec.unpaired ? { unpaired: rec.unpaired } : {}),
    chains: ab.chains,
    cdrs: ab.cdrs.map((c) => ({ name: c.name, chain: c.chain, start: id(c.start), end: id(c.end), meanError: c.meanError })),
    meanError: Math.round((ab.residues.reduce((s, r) => s + r.error, 0) / ab.residues.length) * 100) / 100,
    residues: ab.residues,
    relax: ab.relax && { ...ab.relax, rmsdMoved: Math.round(ab.relax.rmsdMoved * 1000) / 1000, maxMoved: Math.round(ab.relax.maxMoved * 1000) / 1000 },
    geometry: ab.geometry,
    timing: { numberMs: round(ab.timing.numberMs), buildMs: round(ab.timing.buildMs), relaxMs: round(ab.timing.relaxMs), totalMs: round(ab.timing.totalMs) },
  };
}
