/**
 * The template baseline's data (`templates.json` in a model folder, made by
 * `models/fold-baseline/make-baseline.ts`) and model folders: `model.json` says what kind of model
 * a folder holds (`template-baseline`, or `balmfold`: weights, config, the BALM it reads and the
 * template baseline it starts from), and {@link loadFoldModel} finds and validates one by path or
 * by name.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

import { modelSearchPaths } from '../runtime/paths.js';
import { balmFoldConfigSchema, type BalmFoldConfig } from './balmfold-model.js';
import { describeZodError } from '../util/zod.js';
import { ModelError } from '../runtime/errors.js';

/** Format version of `templates.json` this code reads. */
export const BASELINE_FORMAT = 1;

/** The name of the model used when none is given: the best shipped structure model. */
export const DEFAULT_FOLD_MODEL = 'balmfold-small';

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

const baselineManifestSchema = z.object({
  name: z.string().min(1),
  kind: z.literal('template-baseline'),
  description: z.string().optional(),
  templates: z.string().min(1),
});

const balmFoldManifestSchema = z.object({
  name: z.string().min(1),
  kind: z.literal('balmfold'),
  description: z.string().optional(),
  /** The weights (safetensors, fp16 or fp32), relative to the folder. */
  weights: z.string().min(1).default('model.safetensors'),
  /** The PyTorch model's `cfg` (`config.json`), relative to the folder. */
  config: z.string().min(1).default('config.json'),
  /** The frozen BALM whose features the model reads: a BALM model name or a folder relative to this one. */
  balm: z.string().min(1).default('balm-small'),
  /** The template-baseline model whose templates give the starting frames: a model name or a relative folder. */
  templates: z.string().min(1).default('fold-baseline'),
});

const manifestSchema = z.discriminatedUnion('kind', [baselineManifestSchema, balmFoldManifestSchema]);

/** `model.json` of a structure model folder. */
export type FoldModelManifest = z.infer<typeof manifestSchema>;

/** A loaded template baseline: per-IMGT-position mean backbones, rotamers, no network. */
export interface TemplateBaselineModel {
  /** Model name (from `model.json`). */
  name: string;
  /** Folder it was loaded from. */
  folder: string;
  kind: 'template-baseline';
  templates: BaselineTemplates;
}

/**
 * A BALMFold model folder, validated: its config is parsed and its files exist; the weights are
 * read and the ONNX graph built on first use (`src/fold/predict.ts`).
 */
export interface BalmFoldModel {
  /** Model name (from `model.json`). */
  name: string;
  /** Folder it was loaded from. */
  folder: string;
  kind: 'balmfold';
  /** The weights file (absolute). */
  weightsFile: string;
  /** The config file (absolute). */
  configFile: string;
  config: BalmFoldConfig;
  /** The BALM model folder (absolute) giving the features. */
  balmFolder: string;
  /** The template-baseline model giving the starting frames and the template errors. */
  templateModel: string;
  templates: BaselineTemplates;
}

/** A loaded structure model. */
export type FoldModel = TemplateBaselineModel | BalmFoldModel;

export { ModelError };

function readJson(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ModelError(`${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function zodModelError(file: string, err: z.ZodError): ModelError {
  return new ModelError(`${file}: ${describeZodError(err)}`);
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
  const where = modelSearchPaths()
    .map((p) => p.path)
    .join(', ');
  throw new ModelError(`model '${model}': no model.json there or in ${where}; give a model folder or a shipped model name (e.g. ${DEFAULT_FOLD_MODEL})`);
}

/** A BALM folder named by a model folder's manifest: a path relative to that folder, or a model name. */
function resolveBalmFolder(balm: string, folder: string, manifestFile: string): string {
  const hasConfig = (dir: string) => fs.existsSync(path.join(dir, 'config.json'));
  if (/[\\/]/.test(balm) || balm.startsWith('.')) {
    const dir = path.resolve(folder, balm);
    if (hasConfig(dir)) return dir;
    throw new ModelError(`${manifestFile}: balm: no BALM model (config.json) in ${dir}`);
  }
  for (const p of modelSearchPaths()) {
    const dir = path.join(p.path, balm);
    if (hasConfig(dir)) return dir;
  }
  const where = modelSearchPaths()
    .map((p) => p.path)
    .join(', ');
  throw new ModelError(`${manifestFile}: balm: no BALM model '${balm}' in ${where}; give a shipped BALM name (balm-small) or a folder relative to the model`);
}

/** A model named by another model's manifest: a path relative to that folder, or a model name. */
function resolveReferencedModel(model: string, folder: string): string {
  return /[\\/]/.test(model) || model.startsWith('.') ? path.resolve(folder, model) : model;
}

function existingFile(file: string, manifestFile: string, field: string): string {
  if (!fs.existsSync(file)) throw new ModelError(`${manifestFile}: ${field}: ${file} does not exist`);
  return file;
}

const cache = new Map<string, FoldModel>();

/** Loads (and caches) a structure model folder. */
export function loadFoldModel(model: string = DEFAULT_FOLD_MODEL): FoldModel {
  const folder = resolveModelFolder(model);
  const hit = cache.get(folder);
  if (hit) return hit;
  const manifestFile = path.join(folder, 'model.json');
  const m = manifestSchema.safeParse(readJson(manifestFile));
  if (!m.success) throw zodModelError(manifestFile, m.error);
  let loaded: FoldModel;
  if (m.data.kind === 'template-baseline') {
    const templatesFile = path.join(folder, m.data.templates);
    const t = templatesSchema.safeParse(readJson(templatesFile));
    if (!t.success) throw zodModelError(templatesFile, t.error);
    loaded = { name: m.data.name, folder, kind: m.data.kind, templates: t.data };
  } else {
    const configFile = existingFile(path.join(folder, m.data.config), manifestFile, 'config');
    const weightsFile = existingFile(path.join(folder, m.data.weights), manifestFile, 'weights');
    const c = balmFoldConfigSchema.safeParse(readJson(configFile));
    if (!c.success) throw zodModelError(configFile, c.error);
    const balmFolder = resolveBalmFolder(m.data.balm, folder, manifestFile);
    let base: FoldModel;
    try {
      base = loadFoldModel(resolveReferencedModel(m.data.templates, folder));
    } catch (e) {
      if (e instanceof ModelError) throw new ModelError(`${manifestFile}: templates: ${e.message}`);
      throw e;
    }
    if (base.kind !== 'template-baseline') throw new ModelError(`${manifestFile}: templates: '${m.data.templates}' is a ${base.kind} model; name a template-baseline model (fold-baseline)`);
    loaded = { name: m.data.name, folder, kind: 'balmfold', weightsFile, configFile, config: c.data, balmFolder, templateModel: base.name, templates: base.templates };
  }
  cache.set(folder, loaded);
  return loaded;
}
