"""Fixtures for BALM's official-format compatibility test (test/balm/official.test.ts).

    /usr/bin/python3 models/reference/make_balm_fixtures.py

Writes test/fixtures/balm/:
  official-bin/{config.json, pytorch_model.bin}  a random small BALM saved the way
                                                 BALMForMaskedLM.save_pretrained lays out a .bin
                                                 checkpoint (tied decoder weight included, buffers
                                                 position_ids and rotary inv_freq included)
  official-safetensors/{config.json, model.safetensors}  the same weights as safetensors, without
                                                 the tied `lm_head.decoder.weight` (as HF drops it)
  chains.json      10 chains: sequence, IMGT numbering [[number, insertion], ...], masked indices
  expected.safetensors  input ids, position ids, attention mask (the official recipe, length 168)
                        and the reference's logits, pooled embeddings (mean, <cls>) of the
                        unmasked chains and the pseudo-log-likelihood of chains 0 and 5, in float64
"""
import json
import os
import random
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "models", "train"))

from balm import MASK, BalmForMaskedLM, encode, esm_config, save_pretrained  # noqa: E402
from safetensors_io import save_file  # noqa: E402

OUT = os.path.join(ROOT, "test", "fixtures", "balm")
AA = "ACDEFGHIKLMNPQRSTVWY"


def numbering(rng: random.Random, *, start=1, cdr1_ins=0, cdr2_ins=0, n111=0, n112=0, drop=0):
    """A plausible IMGT numbering: 1..128 with CDR gaps and symmetric CDR insertions."""
    nums = [(n, " ") for n in range(start, 129)]
    cdr_positions = [n for n in list(range(27, 39)) + list(range(56, 66)) + list(range(105, 118)) if n >= start]
    for n in rng.sample(cdr_positions, drop):
        nums.remove((n, " "))
    out = []
    for n, i in nums:
        out.append((n, i))
        if n == 32:
            out += [(32, chr(ord("A") + k)) for k in range(cdr1_ins)]
        if n == 60:
            out += [(60, chr(ord("A") + k)) for k in range(cdr2_ins)]
        if n == 111:
            out += [(111, chr(ord("A") + k)) for k in range(n111)]
    if n112:
        at = next(k for k, (n, _) in enumerate(out) if n == 112)
        out[at:at] = [(112, chr(ord("A") + k)) for k in reversed(range(n112))]
    return out


def main() -> None:
    torch.manual_seed(7)
    rng = random.Random(7)
    torch.set_num_threads(2)
    config = esm_config()
    model = BalmForMaskedLM(config)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("LayerNorm.weight") or name.endswith("layer_norm.weight") or "emb_layer_norm_after.weight" in name:
                p.copy_(1 + 0.1 * torch.randn_like(p))
            elif p.dim() == 1:
                p.copy_(0.05 * torch.randn_like(p))
            elif "embeddings" in name:
                p.copy_(torch.randn_like(p))
            else:
                p.copy_(torch.randn_like(p) / p.shape[1] ** 0.5)
    model.eval()

    specs = [
        dict(),  # plain 1..128, position 1 present (lands on the padding row)
        dict(drop=6),
        dict(n111=2, n112=2),
        dict(n111=5, n112=6),  # 111A-E, 112F-A: every mapped code
        dict(n111=7, n112=8, cdr1_ins=1),  # 111F, 111G -> 133; 112G, 112H -> 134
        dict(start=3, cdr2_ins=2, n111=1, n112=1),  # no position 1
        dict(n111=3, n112=2, drop=3),
        dict(n111=20, n112=20, cdr1_ins=2),  # 170 residues: truncated at 168
        dict(cdr1_ins=2, cdr2_ins=1, n111=4, n112=4, drop=2),
        dict(start=2, n111=1),
    ]
    chains = []
    for k, s in enumerate(specs):
        num = numbering(rng, **s)
        seq = "".join(rng.choice(AA) for _ in num)
        masked = sorted(rng.sample(range(len(num)), 3)) if k in (1, 4, 8) else []
        chains.append({"sequence": seq, "numbering": [[n, i] for n, i in num], "masked": masked})

    ids, pos, mask = [], [], []
    for c in chains:
        i, p, m = encode(c["sequence"], [(n, ins) for n, ins in c["numbering"]])
        for j in c["masked"]:
            if j + 1 < len(i) - 1:
                i[j + 1] = MASK
        ids.append(i)
        pos.append(p)
        mask.append(m)
    ids_t, pos_t, mask_t = torch.tensor(ids), torch.tensor(pos), torch.tensor(mask)

    with torch.no_grad():
        model64 = BalmForMaskedLM(config).double()
        model64.load_state_dict({k: v.double() if v.is_floating_point() else v for k, v in model.state_dict().items()})
        logits, hidden = model64(ids_t, pos_t, mask_t)
        logits32, _ = model(ids_t, pos_t, mask_t)
        # pooled embeddings over the unmasked chains: mean of residue rows, and <cls>
        plain = [encode(c["sequence"], [(n, ins) for n, ins in c["numbering"]]) for c in chains]
        p_ids, p_pos, p_mask = (torch.tensor([p[k] for p in plain]) for k in range(3))
        _, h = model64(p_ids, p_pos, p_mask)
        mean_emb = torch.stack([h[b, 1 : int(p_mask[b].sum()) - 1].mean(0) for b in range(len(chains))])
        cls_emb = h[:, 0]
        # pseudo-log-likelihood of chains 0 and 5: each residue masked in turn
        plls = {}
        for b in (0, 5):
            n = int(p_mask[b].sum()) - 2
            batch = p_ids[b].repeat(n, 1)
            batch[torch.arange(n), torch.arange(n) + 1] = MASK
            lg, _ = model64(batch, p_pos[b].repeat(n, 1), p_mask[b].repeat(n, 1))
            lp = torch.log_softmax(lg, dim=-1)
            plls[f"pll.{b}"] = lp[torch.arange(n), torch.arange(n) + 1, p_ids[b, 1 : n + 1]].float()
    print(f"float32 vs float64 reference, max |logit diff|: {(logits32.double() - logits).abs().max().item():.2e}")

    save_pretrained(model, os.path.join(OUT, "official-bin"))
    st_dir = os.path.join(OUT, "official-safetensors")
    os.makedirs(st_dir, exist_ok=True)
    state = {k: v for k, v in model.state_dict().items() if k != "lm_head.decoder.weight"}
    save_file(state, os.path.join(st_dir, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(st_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write("\n")
    with open(os.path.join(OUT, "chains.json"), "w") as f:
        f.write("[\n" + ",\n".join(json.dumps(c, separators=(",", ":")) for c in chains) + "\n]")
        f.write("\n")
    save_file(
        {
            "input_ids": ids_t,
            "position_ids": pos_t,
            "attention_mask": mask_t,
            "logits": logits.float(),
            "mean_embedding": mean_emb.float(),
            "cls_embedding": cls_emb.float(),
            **plls,
        },
        os.path.join(OUT, "expected.safetensors"),
    )
    print(f"wrote {OUT}: {len(chains)} chains, lengths {[len(c['sequence']) for c in chains]}")


if __name__ == "__main__":
    main()
