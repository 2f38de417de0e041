/**
 * `balmkit doctor`: what balmkit runs on here. Versions, each execution provider tried for real
 * (a one-node session created and run on it) with ORT's answer, the provider sessions would use,
 * threads, and where models are looked up. Exits 0 whether or not CUDA works; that is a finding.
 */
import fs from 'node:fs';
import type { Command } from 'commander';
import { z } from 'zod';
import type { RuntimeReport } from '../../src/runtime/index.js';
import { addRuntimeOptions, parseOptions, runtimeOf, runtimeOptionsShape } from '../options.js';

const schema = z.strictObject({
  json: z.boolean({ error: 'takes no value' }).optional(),
  ...runtimeOptionsShape,
});

/** Registers `doctor` on the program. */
export function register(program: Command): void {
  const cmd = program
    .command('doctor')
    .summary('check Node, onnxruntime, CUDA/CPU execution providers, threads and model folders')
    .description(
      'Report what balmkit runs on: Node and onnxruntime versions, each execution provider tried by ' +
        "creating and running a one-node session on it (with onnxruntime's answer when it fails), the " +
        'provider sessions would use, thread settings, and the folders models are looked up in. ' +
        'Exits 0 even when CUDA is unavailable.',
    )
    .option('--json', 'print the report as JSON on stdout');
  addRuntimeOptions(cmd, { cache: false });
  cmd.addHelpText(
    'after',
    `
Examples:
  $ balmkit doctor
  $ balmkit doctor --json | jq '.providers[] | select(.provider == "cuda")'
  $ balmkit doctor --ep cuda --device-id 1
`,
  );
  cmd.action(async (_raw: unknown, command: Command) => {
    const opts = parseOptions(command, schema);
    const runtime = runtimeOf(opts);
    // Loaded here, not at the top, so `balmkit --help` does not load onnxruntime.
    const { diagnose, cacheDir, cacheEnabled, listCache } = await import('../../src/runtime/index.js');
    const { findChromium } = await import('../../src/view/chromium.js');
    const runtimeReport = await diagnose(runtime);
    const chromium = findChromium() ?? null;
    const entries = listCache();
    const report: DoctorReport = {
      ...runtimeReport,
      viewer: { chromium: chromium !== null && fs.existsSync(chromium) ? chromium : null, ...(chromium !== null && !fs.existsSync(chromium) ? { given: chromium } : {}) },
      cache: { folder: cacheDir(), enabled: cacheEnabled(), entries: entries.length, bytes: entries.reduce((n, e) => n + e.bytes, 0) },
    };
    process.stdout.write(opts.json === true ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
  });
}

/** `balmkit doctor --json`: the runtime report, the viewer's browser and the model cache. */
export interface DoctorReport extends RuntimeReport {
  /** Chromium for `view --screenshot` (headless) — `null` when none was found; `given` is a BALMKIT_CHROMIUM that does not exist. */
  viewer: { chromium: string | null; given?: string };
  cache: { folder: string; enabled: boolean; entries: number; bytes: number };
}

/** How to get Chromium, for the report. */
export const CHROMIUM_HINT = 'install it (Debian/Ubuntu: apt-get install -y chromium; macOS: install Google Chrome) or set BALMKIT_CHROMIUM to its executable';

/** The human-readable report. */
export function formatReport(r: DoctorReport): string {
  const lines: string[] = [];
  const row = (label: string, value: string): void => {
    lines.push(`  ${label.padEnd(18)}${value}`);
  };

  lines.push('balmkit doctor', '');
  row('balmkit', `${r.balmkit.version}  (${r.balmkit.root})`);
  row('node', `${r.node.version}  ${r.node.platform}/${r.node.arch}`);
  row('onnxruntime-node', r.onnxruntime.version);
  if (r.onnxruntime.backends === null) {
    row('ORT backends', '(this onnxruntime-node has no listSupportedBackends())');
  } else {
    const bundled = r.onnxruntime.backends.filter((b) => b.bundled).map((b) => b.name);
    const extra = r.onnxruntime.backends.filter((b) => !b.bundled).map((b) => b.name);
    row('ORT backends', [bundled.length > 0 ? `${bundled.join(', ')} (bundled)` : '', extra.length > 0 ? `${extra.join(', ')} (installed separately)` : ''].filter((s) => s !== '').join('; '));
  }
  row('ORT libraries', r.onnxruntime.binFolder);

  lines.push('', 'Execution providers (each tried by creating and running a one-node session):');
  for (const p of r.providers) {
    const name = p.provider === 'cuda' ? `cuda:${p.deviceId ?? 0}` : p.provider;
    if (p.available) {
      row(name, `ok (${Math.round(p.ms)} ms)`);
    } else {
      row(name, 'unavailable');
      row('', `onnxruntime: ${p.ortMessage ?? p.reason ?? 'unknown reason'}`);
      if (p.hint !== undefined) row('', `hint: ${p.hint}`);
    }
  }
  const source = r.ep.source === 'option' ? '--ep' : r.ep.source === 'BALMKIT_EP' ? '$BALMKIT_EP' : 'the default';
  const cudaOk = r.providers.find((p) => p.provider === 'cuda')?.available ?? false;
  const used =
    r.ep.resolved === null
      ? 'none: CUDA was asked for and is unavailable, so sessions would fail'
      : r.ep.requested === 'auto'
        ? `${r.ep.resolved} (auto: ${cudaOk ? 'CUDA works' : 'CUDA unavailable, falling back to CPU'})`
        : r.ep.resolved;
  row('sessions use', `${used}  [ep ${r.ep.requested} from ${source}]`);

  lines.push('', 'Threads:');
  const from = r.threads.source === 'option' ? '--threads' : r.threads.source === 'BALMKIT_THREADS' ? '$BALMKIT_THREADS' : 'os.availableParallelism()';
  row('intra-op', `${r.threads.intraOpNumThreads}  (from ${from}; ${r.threads.availableParallelism} CPUs available to this process, ${r.threads.cpus} on the machine)`);
  row('inter-op', `${r.threads.interOpNumThreads}  (graphs run in sequential mode)`);

  lines.push('', 'Viewer (balmkit view):');
  row('chromium', r.viewer.chromium ?? `not found${r.viewer.given ? ` at ${r.viewer.given} (BALMKIT_CHROMIUM)` : ''}: view --screenshot needs it; ${CHROMIUM_HINT}`);
  lines.push('', 'Model cache (balmkit cache):');
  row('folder', `${r.cache.folder}${r.cache.enabled ? '' : '  (off: BALMKIT_NO_CACHE=1)'}`);
  row('entries', `${r.cache.entries} (${(r.cache.bytes / 1e6).toFixed(1)} MB)`);

  lines.push('', 'Models are looked up in (in order):');
  if (!r.models.some((m) => m.source === 'BALMKIT_MODELS')) row('$BALMKIT_MODELS', 'not set');
  for (const m of r.models) {
    row(m.source === 'package' ? 'shipped' : '$BALMKIT_MODELS', `${m.path}  ${m.exists ? '(exists)' : '(missing)'}`);
  }
  lines.push('');
  return lines.join('\n');
}
