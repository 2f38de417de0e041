/**
 * Gates for what a test needs beyond the repository: the shared data set (../shared/data) and
 * Debian's tools. Nothing here touches the file system when a test file is collected: a gate is
 * checked when a test (or a hook) runs, so a fresh clone with no ../shared collects every suite.
 *
 * A missing requirement fails the test under CI=true (CI must have everything) and elsewhere
 * skips it with a message saying what is missing and how to get it.
 * `BALMKIT_SHARED_DATA` points the tests at another data folder (.ci/run points it at a missing
 * one to check that collection never touches it).
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeEach, type TestContext } from 'vitest';

export const SHARED_DATA = process.env.BALMKIT_SHARED_DATA ? resolve(process.env.BALMKIT_SHARED_DATA) : join(fileURLToPath(new URL('../', import.meta.url)), '..', 'shared', 'data');

/** Something a test needs; checked once, when first asked, never at collection. */
export class Gate {
  private answer: string | null | undefined;

  /** `check` returns null when the requirement is met, or what is missing and how to get it. */
  constructor(private readonly check: () => string | null) {}

  /** Whether the requirement is met; under CI=true a missing one throws (the test fails). */
  present(): boolean {
    if (this.answer === undefined) {
      this.answer = this.check();
      if (this.answer !== null && process.env.CI !== 'true') console.warn(`skipping: ${this.answer}`);
    }
    if (this.answer === null) return true;
    if (process.env.CI === 'true') throw new Error(`CI=true but ${this.answer}`);
    return false;
  }

  /** Why it is not met ('' when it is). */
  get reason(): string {
    return this.present() ? '' : (this.answer ?? '');
  }
}

/** Paths in ../shared/data, and a gate that they all exist. */
export class SharedData extends Gate {
  constructor(
    readonly what: string,
    readonly rels: string[],
  ) {
    super(() => {
      const missing = rels.map((r) => join(SHARED_DATA, r)).filter((p) => !existsSync(p));
      return missing.length === 0 ? null : `${missing.join(', ')} not found (needed by ${what}; the shared data set lives in ../shared/data beside the repository, never in it)`;
    });
  }

  /** The absolute path of a file under ../shared/data (touches nothing). */
  path(rel: string = this.rels[0]): string {
    return join(SHARED_DATA, rel);
  }

  /** The absolute paths of the gate's files, in order (touches nothing). */
  get paths(): string[] {
    return this.rels.map((r) => join(SHARED_DATA, r));
  }
}

/** A gate on files under ../shared/data. */
export function sharedData(what: string, ...rels: string[]): SharedData {
  return new SharedData(what, rels);
}

/**
 * Registers, in the enclosing `describe` (or file), a `beforeEach` that skips each test with the
 * gates' reasons when one is not met (and fails it under CI=true). A `beforeAll` of the same
 * suite should return early when `gate.present()` is false.
 */
export function requireGates(...gates: Gate[]): void {
  beforeEach((ctx) => need(ctx, ...gates));
}

/** Inside a running test: skips it with the reasons of the gates not met (fails under CI=true). */
export function need(ctx: TestContext, ...gates: Gate[]): void {
  const missing = gates.filter((g) => !g.present()).map((g) => g.reason);
  if (missing.length > 0) ctx.skip(missing.join('; '));
}
