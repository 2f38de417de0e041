/**
 * The template baseline's data (`templates.json` in a model folder, made by
 * `models/fold-baseline/make-baseline.ts`) and model folders: `model.json` says what kind of model
 * a folder holds, and {@link loadFoldModel} finds and validates one by path or by name.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

import { modelSearchPaths } from '../runtime/paths.js';

/** Format version of `templates.json` this code reads. */
export const BASELINE_FORMAT = 1;

/** The name of the model used when none is given: the best shipped structure model. */
export const DEFAULT_FOLD_MODEL = 'fold-baseline';

/** Mean backbone of one IMGT slot in the common Fv frame. */
export interface SlotTemplate {
  /** N, CA, C, O: 12 numbers (Å). */
  backbone: number[];
  /** Root-mean-square distance of the training atoms from the mean (Å): the predicted error. */
  spread: number;
  /** Training residues averaged. */
  samples: number;
}

/** A rotamer: chi angles in degrees, how common it was, and on how many samples. */
export interface RotamerTemplate {
  chi: number[];
  fraction: number;
  samples: number;
}

/** The whole `templates.json`. */
export interface BaselineTemplates {
  format: number;
  description: string;
  training: Record<string, string | number>;
  /** Chain type (H, K, L) → IMGT id (`23`) → slot. */
  framework: Record<string, Record<string, SlotTemplate>>;
  /**
   * Chain type → CDR (`cdr1` … `cdr3`, IMGT) → length → slots in sequence order with their IMGT
   * ids, and whether they are the mean of the training loops or the medoid loop (where the mean
   * collapsed).
   */
  cdrs: Record<string, Record<string, Record<string, { ids: string[]; slots: SlotTemplate[]; template?: 'mean' | 'medoid' }>>>;
  /** Most common rotamer per residue name (`ARG`), and per `chainType:imgtId:aa` where it differs. */
  rotamers: { byType: Record<string, RotamerTemplate>; byPosition: Record<string, RotamerTemplate> };
}

const slot = z.object({ backbone: z.array(z.number()).length(12), spread: z.number().nonnegative(), samples: z.number().int().positive() });
const rotamer = z.object({ chi: z.array(z.number()).max(4), fraction: z.number(), samples: z.number().int() });
const templatesSchema = z.object({
  format: z.literal(BASELINE_FORMAT),
  description: z.string(),
  training: z.record(z.string(), z.union([z.string(), z.number()])),
  framework: z.record(z.string(), z.record(z.string(), slot)),
  cdrs: z.record(z.string(), z.record(z.string(), z.record(z.string(), z.object({ ids: z.array(z.string()), slots: z.array(slot), template: z.enum(['mean', 'medoid']).optional() })))),
  rotamers: z.object({ byType: z.record(z.string(), rotamer), byPosition: z.record(z.string(), rotamer) }),
});

const manifestSchema = z.object({
  name: z.string().min(1),
  kind: z.literal('template-baseline'),
  description: z.string().optional(),
  templates: z.string().min(1),
});

/** `model.json` of a structure model folder. */
export type FoldModelManifest = z.infer<typeof manifestSchema>;

/** A loaded structure model. */
export interface FoldModel {
  /** Model name (from `model.json`). */
  name: string;
  /** Folder it was loaded from. */
  folder: string;
  kind: 'template-baseline';
  templates: BaselineTemplates;
}

/** A model folder that is missing or malformed; the message says which file and what to do. */
export class ModelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelError';
  }
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ModelError(`${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function zodProblem(file: string, err: z.ZodError): ModelError {
  const i = err.issues[0]!;
  return new ModelError(`${file}: ${i.path.join('.') || '(top level)'}: ${i.message}`);
}

/**
 * The folder of a model given as a path (anything with a `/` or `.`, or an existing folder) or as
 * a name looked up in `$BALMKIT_MODELS` and then balmkit's shipped `models/`.
 */
export function resolveModelFolder(model: string = DEFAULT_FOLD_MODEL): string {
  if (fs.existsSync(path.join(model, 'model.json'))) return path.resolve(model);
  if (!/[\\/]/.test(model) && !model.startsWith('.')) {
    for (const p of modelSearchPaths()) {
      const dir = path.join(p.path, model);
      if (fs.existsSync(path.join(dir, 'model.json'))) return dir;
    }
  }
  const where = modelSearchPaths().map((p) => p.path).join(', ');
  throw new ModelError(`model '${model}': no model.json there or in ${where}; give a model folder or a shipped model name (e.g. ${DEFAULT_FOLD_MODEL})`);
}

const cache = new Map<string, FoldModel>();

/** Loads (and caches) a structure model folder. */
export function loadFoldModel(model: string = DEFAULT_FOLD_MODEL): FoldModel {
  const folder = resolveModelFolder(model);
  const hit = cache.get(folder);
  if (hit) return hit;
  const manifestFile = path.join(folder, 'model.json');
  const m = manifestSchema.safeParse(readJson(manifestFile));
  if (!m.success) throw zodProblem(manifestFile, m.error);
  const templatesFile = path.join(folder, m.data.templates);
  const t = templatesSchema.safeParse(readJson(templatesFile));
  if (!t.success) throw zodProblem(templatesFile, t.error);
  const loaded: FoldModel = { name: m.data.name, folder, kind: m.data.kind, templates: t.data };
  cache.set(folder, loaded);
  return loaded;
}
