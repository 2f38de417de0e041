/**
 * The HTTP server behind `balmkit view`: the built viewer page and the given structure files, on
 * 127.0.0.1 only.
 *
 * Routing is by exact match against a table made at start (the viewer folder's files, `/api/files`
 * `/files/<index>` and `/api/pairs/<moving>/<fixed>`); no path from a request is ever joined to a folder, so `..`, encoded
 * slashes and absolute paths simply match nothing and get 404.
 */
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { packageRoot } from '../runtime/paths.js';
import { type ViewFile, type ViewFileInfo, readViewFile, viewPairs } from './files.js';

/** Options of {@link startViewServer}. */
export interface ViewServerOptions {
  /** The files to serve, as {@link resolveViewFiles} lists them. */
  files: readonly ViewFile[];
  /** Port; 0 (default) picks a free one. */
  port?: number;
  /** The built viewer folder (default: `dist/viewer` in the balmkit package). */
  viewerDir?: string;
}

/** A running server. */
export interface ViewServer {
  /** `http://127.0.0.1:<port>/` */
  url: string;
  port: number;
  /** Stops listening and ends open connections. */
  close(): Promise<void>;
}

/** The host the server binds to: loopback only, so nothing off this machine reaches the files. */
export const VIEW_HOST = '127.0.0.1';

/** Where the package build puts the viewer page. */
export function defaultViewerDir(): string {
  return path.join(packageRoot(), 'dist', 'viewer');
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
  '.woff2': 'font/woff2',
};

// The page needs only its own origin; blob: workers are how Mol* runs some computations.
const CSP =
  "default-src 'self'; script-src 'self'; worker-src 'self' blob:; img-src 'self' data: blob:; " +
  "style-src 'self' 'unsafe-inline'; connect-src 'self' blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/** Every file under `dir`, as URL path (`/assets/x.js`) → absolute path. */
function staticTable(dir: string): Map<string, string> {
  let entries: string[];
  try {
    entries = readdirSync(dir, { recursive: true, encoding: 'utf8' });
  } catch {
    throw new Error(`the viewer page is not built (${dir} is missing): run \`npm run build\` in the balmkit folder`);
  }
  const table = new Map<string, string>();
  for (const rel of entries) {
    const abs = path.join(dir, rel);
    if (CONTENT_TYPES[path.extname(rel).toLowerCase()] === undefined) continue; // only web assets
    table.set(`/${rel.split(path.sep).join('/')}`, abs);
  }
  if (!table.has('/index.html')) throw new Error(`the viewer page is not built (${dir} has no index.html): run \`npm run build\``);
  table.set('/', table.get('/index.html')!);
  return table;
}

/**
 * Starts the server on 127.0.0.1 and resolves once it listens.
 *
 * @throws Error when the viewer is not built or the port is taken.
 */
export async function startViewServer(options: ViewServerOptions): Promise<ViewServer> {
  const files = options.files;
  const table = staticTable(options.viewerDir ?? defaultViewerDir());
  const listing: ViewFileInfo[] = files.map(({ index, name, format, kind }) => ({ index, name, format, kind }));
  let port = 0;
  // Numbering both structures takes a moment: each pair of files is paired once.
  const pairCache = new Map<string, Promise<string>>();

  const send = (res: http.ServerResponse, status: number, type: string, body: string | Buffer, head: boolean): void => {
    res.writeHead(status, {
      'Content-Type': type,
      'Content-Length': Buffer.byteLength(body),
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      'Content-Security-Policy': CSP,
      'Referrer-Policy': 'no-referrer',
    });
    res.end(head ? undefined : body);
  };

  const server = http.createServer((req, res) => {
    const head = req.method === 'HEAD';
    if (req.method !== 'GET' && !head) return send(res, 405, 'text/plain; charset=utf-8', 'only GET and HEAD\n', false);
    // Another site's page could reach 127.0.0.1 through a DNS name it controls: only our host names.
    const host = req.headers.host ?? '';
    if (host !== `${VIEW_HOST}:${port}` && host !== `localhost:${port}`) return send(res, 403, 'text/plain; charset=utf-8', 'forbidden host\n', head);
    const target = (req.url ?? '').split('?')[0];
    if (target === '/api/files') return send(res, 200, 'application/json', JSON.stringify(listing), head);
    const m = /^\/files\/(0|[1-9][0-9]{0,8})$/.exec(target);
    if (m) {
      const file = files[Number(m[1])];
      if (!file) return send(res, 404, 'text/plain; charset=utf-8', 'no such file\n', head);
      readViewFile(file).then(
        (text) => send(res, 200, 'text/plain; charset=utf-8', text, head),
        (e: unknown) => send(res, 500, 'text/plain; charset=utf-8', `${file.name}: ${e instanceof Error ? e.message : String(e)}\n`, head),
      );
      return;
    }
    const pm = /^\/api\/pairs\/(0|[1-9][0-9]{0,8})\/(0|[1-9][0-9]{0,8})$/.exec(target);
    if (pm) {
      const [moving, fixed] = [files[Number(pm[1])], files[Number(pm[2])]];
      if (!moving || !fixed) return send(res, 404, 'text/plain; charset=utf-8', 'no such file\n', head);
      const key = `${moving.index}/${fixed.index}`;
      if (!pairCache.has(key))
        pairCache.set(
          key,
          viewPairs(moving, fixed).then((p) => JSON.stringify(p)),
        );
      pairCache.get(key)!.then(
        (json) => send(res, 200, 'application/json', json, head),
        (e: unknown) => send(res, 500, 'text/plain; charset=utf-8', `pairing ${moving.name} with ${fixed.name}: ${e instanceof Error ? e.message : String(e)}\n`, head),
      );
      return;
    }
    const asset = table.get(target);
    if (asset === undefined) return send(res, 404, 'text/plain; charset=utf-8', 'not found\n', head);
    let body: Buffer;
    try {
      body = readFileSync(asset);
    } catch {
      return send(res, 404, 'text/plain; charset=utf-8', 'not found\n', head);
    }
    send(res, 200, CONTENT_TYPES[path.extname(asset).toLowerCase()], body, head);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(e.code === 'EADDRINUSE' ? new Error(`port ${options.port} is in use: pick another with --port, or leave it out for a free one`) : e));
    server.listen(options.port ?? 0, VIEW_HOST, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  return {
    url: `http://${VIEW_HOST}:${port}/`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
