/**
 * The shipped numbering profiles: they load, hold what the model card says, and are exactly what
 * the committed build script makes from the OGRDB germlines (when ../shared/data is here).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { loadProfiles } from '../../src/antibody/index.js';
import { defaultProfilePath } from '../../src/antibody/profile.js';
import { DATA, data } from './data.js';
import { need } from '../shared-data.js';

describe('shipped numbering profiles', () => {
  it('load: heavy, kappa and lambda for human, mouse and rhesus, with their germlines', () => {
    const set = loadProfiles();
    expect(set.profiles.map((p) => p.name).sort()).toEqual(['human_H', 'human_K', 'human_L', 'mouse_H', 'mouse_K', 'mouse_L', 'rhesus_H', 'rhesus_K', 'rhesus_L'].sort());
    for (const p of set.profiles) {
      // The conserved framework anchors score highest for their residue: Cys 23, Trp 41, Cys 104.
      const best = (k: number): string => {
        let b = 0;
        for (let a = 1; a < 20; a++) if (p.emit[a * 129 + k] > p.emit[b * 129 + k]) b = a;
        return 'ACDEFGHIKLMNPQRSTVWY'[b];
      };
      expect([best(23), best(41), best(104)], p.name).toEqual(['C', 'W', 'C']);
    }
    const v = set.germlines.filter((g) => g.segment === 'V');
    expect(v.every((g) => g.codes[23] === 1)).toBe(true); // 1 = C; the build keeps only V genes with Cys 23
    // Cys 104 is germline-encoded in all but a handful of OGRDB alleles (e.g. IGLV3-2*03 has A).
    expect(v.filter((g) => g.codes[104] !== 1).length).toBeLessThan(5);
  });

  it('are what models/numbering/build-profiles.ts makes from ../shared/data/germlines', (ctx) => {
    need(ctx, data('germlines/ogrdb-human/v.imgt-gapped.fasta'));
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'balmkit-profiles-')), 'p.json.gz');
    const root = path.resolve(path.dirname(defaultProfilePath()), '..', '..');
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'models/numbering/build-profiles.ts', path.join(DATA, 'germlines'), '--out', out], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    expect(Buffer.compare(fs.readFileSync(out), fs.readFileSync(defaultProfilePath()))).toBe(0);
  });
});
