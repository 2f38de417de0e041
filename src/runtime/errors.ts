/**
 * Errors raised by the runtime and for bad input. All are "expected" errors: the CLI prints their
 * message as `balmkit: <message>` without a stack trace.
 */

/**
 * A value from the input that balmkit cannot build or write (a chain id a PDB file cannot hold, a
 * residue number too wide for its columns, a residue with no atoms, a chain too long for the
 * model): the record it came from is a bad record, and a batch reports it and goes on. Bugs
 * (inconsistent array lengths inside balmkit) stay `RangeError` and are never taken for a bad
 * record.
 */
export class BadInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BadInputError';
  }
}

/**
 * A runtime option or environment variable has a value balmkit cannot use. The message names the
 * option (`threads`, `BALMKIT_EP`, …), the value given and what is accepted.
 */
export class OptionError extends Error {
  constructor(
    /** The option or environment variable at fault, e.g. `threads` or `BALMKIT_THREADS`. */
    readonly option: string,
    message: string,
  ) {
    super(message);
    this.name = 'OptionError';
  }
}

/**
 * An execution provider that was asked for explicitly (`ep: 'cuda'`) cannot be used. `reason` is
 * ORT's own message plus, when balmkit can tell, what to do about it.
 */
export class ExecutionProviderError extends Error {
  constructor(
    readonly provider: string,
    readonly reason: string,
  ) {
    super(`${provider.toUpperCase()} execution provider unavailable: ${reason}`);
    this.name = 'ExecutionProviderError';
  }
}

/**
 * A model (or model-side file: config.json, weights, a tokenizer, numbering profiles) that is
 * missing or malformed; the message names the file and what to do. Every loader throws it.
 */
export class ModelError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ModelError';
  }
}
