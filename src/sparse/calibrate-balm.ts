/** Loki calibration on BALM: keys of every layer over numbered antibody chains. */
import { Balm, type BalmLoadOptions, type NumberedChain, encodeChain } from '../balm/index.js';
import { fullAttention } from '../nn/attention.js';
import { type KeyStage, KeyStatistics, capturingAttention, keyOutputName } from './calibrate.js';

export interface BalmCalibrationOptions extends Omit<BalmLoadOptions, 'attention'> {
  stage?: KeyStage;
  batchSize?: number;
}

/** Key second moments of every BALM layer over `chains` (real tokens only, `<cls>`/`<eos>` included). */
export async function collectBalmKeys(modelDir: string, chains: readonly NumberedChain[], options: BalmCalibrationOptions = {}): Promise<KeyStatistics> {
  const stage = options.stage ?? 'post-rotary';
  const balm = await Balm.load(modelDir, { ...options, attention: (layer) => capturingAttention(fullAttention(), layer, [stage]) });
  try {
    const c = balm.config;
    const heads = c.num_attention_heads;
    const stats = new KeyStatistics(c.num_hidden_layers, heads, c.hidden_size / heads);
    const batchSize = options.batchSize ?? 32;
    for (let start = 0; start < chains.length; start += batchSize) {
      const part = chains.slice(start, start + batchSize).map((x) => encodeChain(x.sequence, x.numbering));
      const { batch, outputs } = await balm.run(part);
      for (let layer = 0; layer < c.num_hidden_layers; layer++) {
        stats.add(
          layer,
          outputs[keyOutputName(layer, stage)].data as Float32Array,
          Array.from(batch.attentionMask, (m) => m === 1n),
        );
      }
    }
    return stats;
  } finally {
    await balm.release();
  }
}
