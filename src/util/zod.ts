/**
 * The one place a zod validation error becomes words: its first issue's path (dotted, or
 * `(top level)`) and message. Loaders put the file in front; the CLI puts the option's flag.
 */
import type { z } from 'zod';

export interface ZodProblem {
  /** The issue's path, dotted (`profiles.0.emit`), or '' at the top level. */
  path: string;
  message: string;
  issue: z.core.$ZodIssue;
}

export function zodProblem(err: z.ZodError): ZodProblem {
  const issue = err.issues[0];
  return { path: issue.path.map(String).join('.'), message: issue.message, issue };
}

/** `<path>: <message>` (`(top level)` for the root), for a loader's error message. */
export function describeZodError(err: z.ZodError): string {
  const p = zodProblem(err);
  return `${p.path || '(top level)'}: ${p.message}`;
}
