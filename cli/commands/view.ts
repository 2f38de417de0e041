/**
 * `balmkit view`: the structure viewer. Serves the built viewer page and the given structure
 * files on 127.0.0.1 until Ctrl-C, or with `--screenshot` renders the page headlessly in the
 * system's Chromium to a PNG and exits.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { UsageError, choiceOption, intOption, parseOptions } from '../options.js';

const schema = z.strictObject({
  port: intOption(1, '--port 8080')
    .pipe(z.number().max(65535, { error: 'must be a port number ≤ 65535' }))
    .optional(),
  open: z.boolean({ error: 'takes no value' }).optional(),
  screenshot: z.string({ error: 'needs a file name' }).min(1).optional(),
  color: choiceOption(['chain', 'region', 'error'] as const).optional(),
  reference: z.string({ error: 'needs a file name' }).min(1).optional(),
  scheme: choiceOption(['imgt', 'chothia', 'kabat'] as const).optional(),
  ballAndStick: z.boolean({ error: 'takes no value' }).optional(),
  panel: z.boolean({ error: 'takes no value' }),
  width: intOption(100, '--width 1200').optional(),
  height: intOption(100, '--height 800').optional(),
});

/** Registers `view` on the program. */
export function register(program: Command): void {
  const cmd = program
    .command('view')
    .summary('show structures in the Mol* viewer (browser), or render a PNG')
    .description(
      'Serve the viewer page and the given PDB/mmCIF files (or every structure file in a folder) on ' +
        '127.0.0.1, print the URL, and keep serving until Ctrl-C. Predictions open coloured by predicted ' +
        'error; any file can be coloured by chain, and by CDR region when balmkit metadata (or a ' +
        'numbering declared with --scheme) gives the CDRs. With --screenshot, render the page in headless Chromium to a PNG instead.',
    )
    .argument('<files...>', 'structure files (.pdb, .cif, optionally .gz/.bz2) or folders of them')
    .option('--port <n>', 'port to listen on [default: a free one]')
    .option('--open', 'open the page in the default browser')
    .option('--screenshot <png>', 'render the first file headlessly to this PNG and exit (needs Chromium)')
    .option('--color <mode>', 'colouring to open with: chain, region or error [default: error for predictions, else region when known, else chain]')
    .option(
      '--reference <file>',
      'an experimental structure to superpose the prediction on (residues paired by numbering both in IMGT, whatever scheme each file uses; by sequence alignment if one has no antibody domain)',
    )
    .option('--scheme <scheme>', 'numbering of files without balmkit metadata (imgt, chothia or kabat): gives the CDRs for region colouring')
    .option('--ball-and-stick', 'show atoms and bonds over the cartoon')
    .option('--no-panel', 'the 3D view only, without the side panel')
    .option('--width <px>', 'screenshot width [default: 1200]')
    .option('--height <px>', 'screenshot height [default: 800]');
  cmd.addHelpText(
    'after',
    `
Examples:
  $ balmkit view out/                                  serve every structure in out/, Ctrl-C stops
  $ balmkit view pred.pdb --reference 1abc.pdb --open  superpose a prediction on a crystal structure
  $ balmkit view pred.pdb --screenshot pred.png --color region

Chromium for --screenshot: $BALMKIT_CHROMIUM, else /usr/bin/chromium (Debian: apt-get install -y chromium).
`,
  );
  cmd.action(async (args: string[], _raw: unknown, command: Command) => {
    const opts = parseOptions(command, schema);
    const { renderScreenshot, resolveViewFiles, serveViewer } = await import('../../src/view/index.js');
    const files = await resolveViewFiles(opts.reference !== undefined ? [...args, opts.reference] : args);
    const reference = opts.reference !== undefined ? files.length - 1 : undefined;
    if (reference !== undefined && files[reference].kind !== 'experimental') throw new UsageError(`--reference ${opts.reference}: a balmkit prediction, not an experimental structure`);
    const page = {
      ...(opts.color !== undefined ? { color: opts.color } : {}),
      ...(reference !== undefined ? { reference } : {}),
      ...(opts.scheme !== undefined ? { scheme: opts.scheme } : {}),
      ballAndStick: opts.ballAndStick === true,
      panel: opts.panel,
    };

    if (opts.screenshot !== undefined) {
      if (opts.port !== undefined || opts.open === true) throw new UsageError('--screenshot renders and exits: --port and --open do not apply');
      const out = path.resolve(opts.screenshot);
      const s = await renderScreenshot({ files, out, ...page, ...(opts.width !== undefined ? { width: opts.width } : {}), ...(opts.height !== undefined ? { height: opts.height } : {}) });
      process.stderr.write(
        `balmkit view: ${files[0].name}: ${s.atomCount} atoms, chains ${s.chains.join(', ')}, coloured by ${s.colorMode}${s.superposition ? `, superposed (Cα RMSD ${s.superposition.rmsd.toFixed(2)} Å over ${s.superposition.description})` : ''}\n`,
      );
      process.stdout.write(`${out}\n`);
      return;
    }
    if (opts.width !== undefined || opts.height !== undefined) throw new UsageError('--width and --height apply to --screenshot only');

    await serveViewer(files, { ...(opts.port !== undefined ? { port: opts.port } : {}), open: opts.open === true, page });
  });
}
