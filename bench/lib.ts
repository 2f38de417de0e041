/**
 * What every benchmark shares: the other side as a child process answering one JSON line per
 * command, and statistics (medians, spread) printed the same way.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export function median(xs: readonly number[]): number {
  return quantile(xs, 0.5);
}

export function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (pos - lo);
}

/** `name  median … ms  IQR a–b  min  max` for a list of timings in ms. */
export function timingRow(name: string, xs: readonly number[], width = 26): string {
  return `${name.padEnd(width)} median ${median(xs).toFixed(1).padStart(8)} ms   IQR ${quantile(xs, 0.25).toFixed(1)}–${quantile(xs, 0.75).toFixed(1)}   min ${Math.min(...xs).toFixed(1)}   max ${Math.max(...xs).toFixed(1)}`;
}

/** A process that prints one JSON object per line: first a ready line, then one per command. */
export class JsonLineProcess {
  private readonly proc;
  private readonly lines: AsyncIterableIterator<string>;

  constructor(
    readonly command: string,
    args: readonly string[],
  ) {
    this.proc = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    this.lines = createInterface({ input: this.proc.stdout })[Symbol.asyncIterator]();
  }

  async read(): Promise<Record<string, unknown>> {
    const { value, done } = await this.lines.next();
    if (done) throw new Error(`${this.command} exited early (see its stderr above)`);
    const msg = JSON.parse(value) as Record<string, unknown>;
    if (msg.error) throw new Error(`${this.command}: ${String(msg.error)}`);
    return msg;
  }

  async send(cmd: string): Promise<Record<string, unknown>> {
    this.proc.stdin.write(`${cmd}\n`);
    return this.read();
  }

  quit(): void {
    this.proc.stdin.end('quit\n');
  }
}

/** Run a command to completion (e.g. a script that writes benchmark weights). */
export function runToEnd(command: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} exited with ${code}`))));
  });
}

/** `--name value` pairs of the command line as a map (`--iters 5` → iters: "5"). */
export function flagArgs(argv: readonly string[] = process.argv.slice(2)): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i + 1 < argv.length; i += 2) out.set(argv[i].replace(/^--/, ''), argv[i + 1]);
  return out;
}
