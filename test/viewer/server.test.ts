/**
 * `balmkit view`'s server: only the given files, by index; the viewer folder's own files; nothing
 * else, however the path is spelled; loopback only; our host names only. Uses a stand-in viewer
 * folder so these tests need no build.
 */
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/program.js';
import { formatMmcif } from '../../src/io/mmcif.js';
import { parsePdb } from '../../src/io/pdb.js';
import { detectFormat, resolveViewFiles } from '../../src/view/files.js';
import { type ViewServer, startViewServer } from '../../src/view/server.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const fixtures = path.join(root, 'test/fixtures/viewer');
const PRED = path.join(fixtures, 'fv-1a14-prediction.pdb');
const MOVED = path.join(fixtures, 'fv-1a14-moved.pdb.gz');
const packageJson = readFileSync(path.join(root, 'package.json'), 'utf8');

/** A raw GET: the path goes on the request line exactly as given (no URL normalisation). */
function get(port: number, target: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: target, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('view files', () => {
  it('lists files and folders, tells format and kind, refuses what is missing', async () => {
    const files = await resolveViewFiles([fixtures]);
    expect(files.map((f) => f.name)).toEqual(['fv-1a14-moved.pdb.gz', 'fv-1a14-prediction.pdb']);
    expect(files.map((f) => f.kind)).toEqual(['experimental', 'prediction']);
    // A balmkit prediction in PDB is served as mmCIF (sequential label_seq_id: no gap dashes at IMGT's numbering gaps).
    expect(files.map((f) => f.format)).toEqual(['pdb', 'mmcif']);
    expect(detectFormat('# c\ndata_1ABC\n_atom_site.id 1\n')).toBe('mmcif');
    await expect(resolveViewFiles([path.join(fixtures, 'nope.pdb')])).rejects.toThrow(/nope\.pdb: no such file or folder/);
    const empty = mkdtempSync(path.join(os.tmpdir(), 'balmkit-view-empty-'));
    await expect(resolveViewFiles([empty])).rejects.toThrow(/has no \.pdb/);
  });
});

describe('view server', () => {
  let server: ViewServer;
  let viewerDir: string;

  beforeAll(async () => {
    viewerDir = mkdtempSync(path.join(os.tmpdir(), 'balmkit-viewer-'));
    writeFileSync(path.join(viewerDir, 'index.html'), '<!doctype html><title>viewer</title>');
    mkdirSync(path.join(viewerDir, 'assets'));
    writeFileSync(path.join(viewerDir, 'assets', 'app.js'), 'console.log(1)');
    // A file that is in the folder but not a web asset type: not served.
    writeFileSync(path.join(viewerDir, 'notes.txt'), 'secret');
    server = await startViewServer({ files: await resolveViewFiles([PRED, MOVED]), viewerDir });
  });
  afterAll(async () => {
    await server.close();
  });

  it('listens on 127.0.0.1 at a free port and serves the page and its assets', async () => {
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/`);
    expect(server.port).toBeGreaterThan(0);
    const page = await get(server.port, '/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.headers['content-security-policy']).toMatch(/default-src 'self'/);
    expect((await get(server.port, '/assets/app.js')).body).toBe('console.log(1)');
    expect((await get(server.port, '/index.html?x=1')).status).toBe(200);
  });

  it('serves the files by index, decompressed, and lists them without paths', async () => {
    const list = JSON.parse((await get(server.port, '/api/files')).body) as { index: number; name: string; kind: string }[];
    expect(list).toEqual([
      { index: 0, name: 'fv-1a14-prediction.pdb', format: 'mmcif', kind: 'prediction' },
      { index: 1, name: 'fv-1a14-moved.pdb.gz', format: 'pdb', kind: 'experimental' },
    ]);
    expect(JSON.stringify(list)).not.toContain(fixtures);
    // The prediction, as balmkit's mmCIF of the same structure (metadata included).
    const served = (await get(server.port, '/files/0')).body;
    expect(served).toBe(formatMmcif(parsePdb(readFileSync(PRED, 'utf8')), { name: 'fv-1a14-prediction' }));
    expect(served).toMatch(/^_balmkit_remark\.text/m);
    expect((await get(server.port, '/files/1')).body).toBe(gunzipSync(readFileSync(MOVED)).toString('utf8'));
    const head = await get(server.port, '/files/0', {}, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
  });

  it('refuses traversal, absolute paths, out-of-range and malformed indices', async () => {
    const refused = [
      '/../package.json',
      '/../../package.json',
      '/files/../../package.json',
      '/files/../package.json',
      '/%2e%2e/package.json',
      '/%2E%2E%2Fpackage.json',
      '/assets/../../package.json',
      '/assets/..%2f..%2fpackage.json',
      '/files/..%2F..%2Fpackage.json',
      '/files/99',
      '/files/2',
      '/files/-1',
      '/files/01',
      '/files/1.0',
      '/files/0x1',
      '/files/1e0',
      '/files/%31',
      '/files/',
      '/files',
      '/notes.txt',
      '/etc/passwd',
      '//etc/passwd',
      `/${root}/package.json`,
      path.join(root, 'package.json'),
      PRED,
      `/files/${PRED}`,
      `/files//${PRED}`,
      '/files/0/../../package.json',
      '/package.json',
      `http://127.0.0.1:${server.port}/../package.json`,
    ];
    for (const target of refused) {
      const r = await get(server.port, target);
      expect({ target, status: r.status }).toEqual({ target, status: 404 });
      expect(r.body).not.toContain('"name": "balmkit"');
      expect(r.body).not.toContain(packageJson.slice(0, 40));
      expect(r.body).not.toContain('ATOM  ');
    }
  });

  it('answers only for its own host names, and only GET/HEAD', async () => {
    expect((await get(server.port, '/files/0', { Host: 'evil.example' })).status).toBe(403);
    expect((await get(server.port, '/files/0', { Host: `localhost:${server.port}` })).status).toBe(200);
    expect((await get(server.port, '/files/0', {}, 'POST')).status).toBe(405);
  });

  it('says when the port is taken', async () => {
    await expect(startViewServer({ files: [], viewerDir, port: server.port })).rejects.toThrow(new RegExp(`port ${server.port} is in use`));
  });

  it('says when the viewer is not built', async () => {
    await expect(startViewServer({ files: [], viewerDir: path.join(viewerDir, 'missing') })).rejects.toThrow(/not built.*npm run build/);
  });
});

/** What `f` writes to stderr (captured, not shown). */
async function stderrOf(f: () => Promise<void>): Promise<string[]> {
  const err: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = (s: string) => {
    err.push(String(s));
    return true;
  };
  try {
    await f();
  } finally {
    process.stderr.write = write;
  }
  return err;
}

describe('balmkit view options', () => {
  it('rejects bad values with exit code 2', async () => {
    const err = await stderrOf(async () => {
      expect(await main(['node', 'balmkit', 'view', PRED, '--color', 'purple'])).toBe(2);
      expect(await main(['node', 'balmkit', 'view', PRED, '--port', '70000'])).toBe(2);
      expect(await main(['node', 'balmkit', 'view', PRED, '--reference', PRED])).toBe(2);
    });
    expect(err.join('')).toMatch(/--color must be one of chain, region, error, got "purple"/);
    expect(err.join('')).toMatch(/--port must be a port number ≤ 65535/);
    expect(err.join('')).toMatch(/--reference .*a balmkit prediction, not an experimental structure/);
  });

  it('a FASTA file is refused with exit code 2, saying how to make a structure of it (no JavaScript error)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'balmkit-view-fasta-'));
    const fasta = path.join(dir, 'ab.fasta');
    writeFileSync(fasta, '>ab_H\nEVQLVESGGGLVQPGGSLRLSCAASGFNIKDTYIHWVRQAPGKGLEWVA\n');
    const err = await stderrOf(async () => {
      expect(await main(['node', 'balmkit', 'view', fasta, '--screenshot', path.join(dir, 'x.png')])).toBe(2);
    });
    rmSync(dir, { recursive: true, force: true });
    expect(err.join('')).toMatch(/ab\.fasta: it is a FASTA file of sequences, not a structure: predict structures first \(balmkit predict-structure .*ab\.fasta -o structures\//);
    expect(err.join('')).not.toMatch(/Cannot read properties|TypeError/);
  });
});
