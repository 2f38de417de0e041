/**
 * Serving until Ctrl-C: what `balmkit view` does without `--screenshot`, and what
 * `predict-structure --view` calls with the files it wrote.
 */
import { spawn } from 'node:child_process';
import { type ViewFile, resolveViewFiles } from './files.js';
import { type ViewPageOptions, viewPageUrl } from './screenshot.js';
import { startViewServer } from './server.js';

/** Options of {@link serveViewer}. */
export interface ServeViewerOptions {
  /** Port; default a free one. */
  port?: number;
  /** Open the page in the desktop's default browser. */
  open?: boolean;
  /** Settings of the page (colouring, reference, …) put in the printed URL. */
  page?: ViewPageOptions;
  /** Where the file list and messages go (default stderr); the URL goes to stdout. */
  log?: (line: string) => void;
  /** Resolves to stop serving (default: the first SIGINT or SIGTERM, i.e. Ctrl-C). */
  until?: Promise<void>;
}

/**
 * Serves `files` (paths of structure files or folders, or files already resolved) on 127.0.0.1,
 * prints the page URL on stdout, optionally opens it, and resolves once stopped (Ctrl-C).
 */
export async function serveViewer(files: readonly string[] | readonly ViewFile[], o: ServeViewerOptions = {}): Promise<void> {
  const log = o.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const list = typeof files[0] === 'string' || files.length === 0 ? await resolveViewFiles(files as readonly string[]) : (files as readonly ViewFile[]);
  const server = await startViewServer({ files: list, ...(o.port !== undefined ? { port: o.port } : {}) });
  const url = viewPageUrl(server.url, o.page);
  for (const f of list) log(`  /files/${f.index}  ${f.name}  (${f.kind}, ${f.asMmcif ? 'pdb, served as mmCIF' : f.format})`);
  log(`balmkit view: serving ${list.length} file${list.length === 1 ? '' : 's'} on 127.0.0.1:${server.port}; Ctrl-C stops`);
  process.stdout.write(`${url}\n`);
  if (o.open === true) openBrowser(url, log);
  await (o.until ?? interrupted());
  await server.close();
  log('balmkit view: stopped');
}

/** Resolves on the first SIGINT or SIGTERM (and stops listening for them). */
function interrupted(): Promise<void> {
  return new Promise((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/** Opens `url` in the desktop's default browser; a failure is said, not fatal (the URL is printed). */
function openBrowser(url: string, log: (line: string) => void): void {
  const [cmd, args]: [string, string[]] = process.platform === 'darwin' ? ['open', [url]] : process.platform === 'win32' ? ['cmd', ['/c', 'start', '', url]] : ['xdg-open', [url]];
  const child = spawn(cmd, args, { stdio: 'ignore', detached: true });
  child.on('error', (e) => log(`balmkit view: could not open a browser (${e.message}); open ${url} yourself`));
  child.unref();
}
