import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RuntimeReport } from '../../src/runtime/index.js';
import { ROOT, balmkit, ensureBuilt, stackLines } from './helpers.js';

const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string> };

beforeAll(() => {
  ensureBuilt();
});

describe('balmkit', () => {
  it('package.json bin points at the launcher (it builds a stale checkout, then runs dist/), which has a shebang', () => {
    expect(pkg.bin.balmkit).toBe('cli/balmkit.mjs');
    expect(fs.readFileSync(path.join(ROOT, pkg.bin.balmkit), 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    expect(fs.readFileSync(path.join(ROOT, 'dist/cli/main.js'), 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
  });

  it('`npx balmkit --version` in the checkout prints the version and nothing else (no npm config warning)', () => {
    const r = spawnSync('npx', ['balmkit', '--version'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${pkg.version}\n`);
    expect(r.stderr).toBe('');
  });

  it('npm in the checkout runs no install scripts (no CUDA download) and warns about no config key', () => {
    const r = spawnSync('npm', ['config', 'get', 'ignore-scripts'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(r.stdout.trim()).toBe('true');
    expect(r.stderr).not.toMatch(/Unknown (project|env) config/);
  });

  it('--version and -V print the package version', () => {
    for (const flag of ['--version', '-V']) {
      const r = balmkit([flag]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`${pkg.version}\n`);
      expect(r.stderr).toBe('');
    }
  });

  it('--help lists the commands with descriptions, examples and environment', () => {
    const r = balmkit(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: balmkit \[options\] \[command\]/);
    expect(r.stdout).toMatch(/^ {2}doctor \[options\] +check Node, onnxruntime/m);
    expect(r.stdout).toMatch(/^Examples:\n {2}\$ balmkit doctor/m);
    expect(r.stdout).toContain('BALMKIT_EP');
    expect(balmkit(['doctor', '--help']).stdout).toMatch(/--threads <n>/);
  });

  it('an unknown command or option exits 2 with a balmkit: message', () => {
    const cmd = balmkit(['doctr']);
    expect(cmd.code).toBe(2);
    expect(cmd.stderr).toMatch(/^balmkit: unknown command 'doctr'/);
    expect(cmd.stderr).toContain('Did you mean doctor?');
    const opt = balmkit(['doctor', '--bogus']);
    expect(opt.code).toBe(2);
    expect(opt.stderr).toMatch(/^balmkit: unknown option '--bogus'/);
  });
});

describe('balmkit doctor', () => {
  let report: RuntimeReport;
  let jsonRun: ReturnType<typeof balmkit>;

  beforeAll(() => {
    jsonRun = balmkit(['doctor', '--json']);
    report = JSON.parse(jsonRun.stdout) as RuntimeReport;
  });

  it('--json reports versions and exits 0 with nothing on stderr', () => {
    expect(jsonRun.code).toBe(0);
    expect(jsonRun.stderr).toBe(''); // not even onnxruntime's own log line about the CUDA library
    expect(report.balmkit.version).toBe(pkg.version);
    expect(report.node.version).toBe(process.version);
    expect(report.onnxruntime.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(report.onnxruntime.backends?.map((b) => b.name)).toContain('cpu');
  });

  it('tried cpu (available) and cuda, with a reason when cuda is unavailable', () => {
    expect(report.providers.map((p) => p.provider)).toEqual(['cpu', 'cuda']);
    const [cpu, cuda] = report.providers;
    expect(cpu.available).toBe(true);
    if (cuda.available) {
      expect(report.ep.resolved).toBe('cuda');
      return;
    }
    expect(report.ep).toEqual({ requested: 'auto', source: 'default', resolved: 'cpu' });
    expect(cuda.ortMessage).toMatch(/cuda/i); // ORT's own words
    expect(cuda.reason).toContain(cuda.ortMessage!);
    const libs = ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'];
    if (process.platform === 'linux' && libs.some((l) => !fs.existsSync(path.join(report.onnxruntime.binFolder, l)))) {
      // this machine: onnxruntime-node installed with its CUDA download skipped
      expect(cuda.ortMessage).toContain('Failed to load shared library');
      expect(cuda.hint).toContain('installed without its CUDA provider');
      expect(cuda.hint).toContain('ONNXRUNTIME_NODE_INSTALL=cuda12');
    }
  });

  it('reports threads and model folders', () => {
    expect(report.threads).toMatchObject({
      intraOpNumThreads: os.availableParallelism(),
      interOpNumThreads: 1,
      source: 'os.availableParallelism()',
    });
    expect(report.models).toEqual([{ source: 'package', path: path.join(ROOT, 'models'), exists: fs.existsSync(path.join(ROOT, 'models')) }]);
  });

  it('follows --threads, --ep, BALMKIT_THREADS, BALMKIT_EP and BALMKIT_MODELS', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'balmkit-models-'));
    const missing = path.join(tmp, 'nope');
    try {
      const r = balmkit(['doctor', '--json', '--threads', '3', '--ep', 'cpu'], {
        BALMKIT_MODELS: [tmp, missing].join(path.delimiter),
      });
      expect(r.code).toBe(0);
      const rep = JSON.parse(r.stdout) as RuntimeReport;
      expect(rep.threads).toMatchObject({ intraOpNumThreads: 3, source: 'option' });
      expect(rep.ep).toEqual({ requested: 'cpu', source: 'option', resolved: 'cpu' });
      expect(rep.models.map((m) => [m.source, m.path, m.exists])).toEqual([
        ['BALMKIT_MODELS', tmp, true],
        ['BALMKIT_MODELS', missing, false],
        ['package', path.join(ROOT, 'models'), fs.existsSync(path.join(ROOT, 'models'))],
      ]);

      const env = JSON.parse(balmkit(['doctor', '--json'], { BALMKIT_THREADS: '2', BALMKIT_EP: 'cuda' }).stdout) as RuntimeReport;
      expect(env.threads).toMatchObject({ intraOpNumThreads: 2, source: 'BALMKIT_THREADS' });
      const cudaOk = env.providers.find((p) => p.provider === 'cuda')!.available;
      expect(env.ep).toEqual({ requested: 'cuda', source: 'BALMKIT_EP', resolved: cudaOk ? 'cuda' : null });
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('checks for Chromium (view --screenshot needs it) and says how to install it; reports the model cache', () => {
    const missing = balmkit(['doctor'], { BALMKIT_CHROMIUM: '/nonexistent/chromium' });
    expect(missing.code).toBe(0);
    expect(missing.stdout).toMatch(/chromium +not found at \/nonexistent\/chromium \(BALMKIT_CHROMIUM\): view --screenshot needs it; install it \(Debian\/Ubuntu: apt-get install -y chromium/);
    const j = JSON.parse(balmkit(['doctor', '--json'], { BALMKIT_CHROMIUM: '/nonexistent/chromium', BALMKIT_CACHE_DIR: '/tmp/balmkit-doctor-cache' }).stdout) as {
      viewer: { chromium: string | null };
      cache: { folder: string };
    };
    expect(j.viewer.chromium).toBeNull();
    expect(j.cache.folder).toBe('/tmp/balmkit-doctor-cache');
    if (fs.existsSync('/usr/bin/chromium'))
      expect((JSON.parse(balmkit(['doctor', '--json'], { BALMKIT_CHROMIUM: undefined }).stdout) as { viewer: { chromium: string } }).viewer.chromium).toBe('/usr/bin/chromium');
  });

  it('prints a readable report with no stack trace', () => {
    const r = balmkit(['doctor']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(stackLines(r.stdout)).toEqual([]);
    expect(r.stdout).toContain(`balmkit           ${pkg.version}`);
    expect(r.stdout).toContain(`node              ${process.version}`);
    expect(r.stdout).toMatch(/^ {2}cpu +ok \(\d+ ms\)$/m);
    const cuda = report.providers[1];
    if (cuda.available) {
      expect(r.stdout).toMatch(/^ {2}cuda:0 +ok/m);
    } else {
      expect(r.stdout).toMatch(/^ {2}cuda:0 +unavailable$/m);
      expect(r.stdout).toContain(`onnxruntime: ${cuda.ortMessage}`);
      expect(r.stdout).toMatch(/sessions use +cpu \(auto: CUDA unavailable, falling back to CPU\)/);
    }
    expect(r.stdout).toMatch(/intra-op +\d+ +\(from os\.availableParallelism\(\)/);
    expect(r.stdout).toContain(path.join(ROOT, 'models'));
  });

  it('an invalid option value exits 2 and names the option, without a stack', () => {
    const cases: [string[], Record<string, string>, RegExp][] = [
      [['doctor', '--threads', 'zero'], {}, /^balmkit: --threads must be a whole number ≥ 1 \(e\.g\. --threads 4\), got "zero"\n/],
      [['doctor', '--threads', '0'], {}, /^balmkit: --threads must be a whole number ≥ 1/],
      [['doctor', '--ep', 'gpu'], {}, /^balmkit: --ep must be one of auto, cuda, cpu, got "gpu"\n/],
      [['doctor', '--device-id', '-1'], {}, /^balmkit: --device-id must be a whole number ≥ 0/],
      [['doctor'], { BALMKIT_THREADS: 'lots' }, /^balmkit: BALMKIT_THREADS must be a whole number of threads ≥ 1, got "lots"/],
      [['doctor'], { BALMKIT_EP: 'tpu' }, /^balmkit: BALMKIT_EP must be one of auto, cuda, cpu, got "tpu"\n/],
    ];
    for (const [args, env, message] of cases) {
      const r = balmkit(args, env);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(stackLines(r.stderr)).toEqual([]);
      expect(r.stdout).toBe('');
    }
  });

  it('BALMKIT_DEBUG=1 adds the stack trace', () => {
    const r = balmkit(['doctor', '--threads', 'zero'], { BALMKIT_DEBUG: '1' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^balmkit: --threads must be/);
    expect(stackLines(r.stderr).length).toBeGreaterThan(0);
  });
});
