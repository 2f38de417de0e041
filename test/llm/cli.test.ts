/**
 * `balmkit llm generate` and `balmkit llm perplexity`, run in-process through the CLI's `main`,
 * against run.c's numbers for the llama2.c aidreams260K model: the greedy continuation run.c
 * printed, and the perplexity computed from run.c's own teacher-forced logits.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test, vi } from 'vitest';
import { main } from '../../cli/program.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { Llama2cTokenizer } from '../../src/llm/index.js';
import { AIDREAMS, TOK512, fixture, SHARED_LM } from './helpers.js';
import { requireGates } from '../shared-data.js';

const dir = mkdtempSync(join(tmpdir(), 'balmkit-llm-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((stdout += String(s)), true));
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((stderr += String(s)), true));
  try {
    const code = await main(['node', 'balmkit', ...args]);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

const model = ['--model', AIDREAMS, '--tokenizer', TOK512, '--ep', 'cpu', '--threads', '2'];

describe('balmkit llm (CLI)', () => {
  requireGates(SHARED_LM);
  const runc = JSON.parse(readFileSync(fixture('llama2c_runc.json'), 'utf8')) as {
    greedy: { prompt: string; text: string }[];
    logits: { text: string; rows: number; tensor: string }[];
  };

  test('generate prints the greedy continuation run.c printed', async () => {
    const g = runc.greedy[0];
    const r = await run(['llm', 'generate', ...model, '--prompt', g.prompt, '--max-tokens', '100', '--temperature', '0']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${g.text}\n`);
  });

  test('generate --json', async () => {
    const r = await run(['llm', 'generate', ...model, '--prompt', 'The dream', '--max-tokens', '5', '--temperature', '0.9', '--seed', '3', '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as { tokens: number[]; finish_reason: string };
    expect(j.tokens).toHaveLength(5);
    expect(j.finish_reason).toBe('length');
  });

  test("perplexity equals exp(mean NLL) from run.c's logits (BOS prepended, every text token scored)", async () => {
    const item = runc.logits[1];
    const logits = readSafetensors(fixture('llama2c_runc_logits.safetensors')).tensors.get(item.tensor)!.data as Float32Array;
    const ids = Llama2cTokenizer.fromFile(TOK512, 512).encode(item.text);
    let nll = 0;
    for (let p = 0; p + 1 < ids.length; p++) {
      const row = Array.from(logits.subarray(p * 512, (p + 1) * 512));
      const max = Math.max(...row);
      const lse = max + Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
      nll -= row[ids[p + 1]] - lse;
    }
    const want = Math.exp(nll / (ids.length - 1));
    const file = join(dir, 'text.txt');
    writeFileSync(file, item.text);
    const r = await run(['llm', 'perplexity', ...model, file, '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as { perplexity: number; tokens: number };
    expect(j.tokens).toBe(ids.length - 1);
    expect(Math.abs(j.perplexity - want) / want).toBeLessThan(1e-4);
    const plain = await run(['llm', 'perplexity', ...model, file]);
    expect(plain.stdout).toBe(`${j.perplexity.toFixed(4)}\n`);
  });

  test('a text longer than the context is scored with a sliding window', async () => {
    const file = join(dir, 'long.txt');
    writeFileSync(
      file,
      runc.logits
        .map((l) => l.text)
        .join(' ')
        .repeat(4),
    );
    const r = await run(['llm', 'perplexity', ...model, file, '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as { perplexity: number; tokens: number };
    const n = Llama2cTokenizer.fromFile(TOK512, 512).encode(readFileSync(file, 'utf8')).length;
    expect(n).toBeGreaterThan(128);
    expect(j.tokens).toBe(n - 1);
    expect(j.perplexity).toBeGreaterThan(1);
    expect(Number.isFinite(j.perplexity)).toBe(true);
  });

  test('bad options exit 2 naming the option', async () => {
    const r = await run(['llm', 'generate', ...model, '--prompt', 'x', '--temperature', 'hot']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--temperature must be a number from 0 to 2/);
    const m = await run(['llm', 'perplexity', '--model', join(dir, 'nope'), join(dir, 'text.txt')]);
    expect(m.code).toBe(1);
    expect(m.stderr).toMatch(/nope: no such file or folder/);
  });
});
