"""Parity fixture of the shipped balm-small: the PyTorch training model's logits on 20 held-out chains.

    /usr/bin/python3 models/train/make-balm-parity.py --data /tmp/balm-data.jsonl

Loads models/balm-small (config.json + model.safetensors, float16 → float32) into the training
model (models/reference/balm.py, the official architecture), takes the first 20 held-out
("valid") chains of DATA, and writes test/fixtures/balm/balm-small-heldout.safetensors: their
token ids, position ids, attention mask (padded to the longest) and float32 logits, with a hash
of the weights it was made from. Re-run it whenever balm-small's weights change (the test says so).
"""
import argparse
import hashlib
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "models", "reference"))
sys.path.insert(0, HERE)

from balm import BalmForMaskedLM, encode  # noqa: E402
from safetensors_io import load_file, save_file  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/tmp/balm-data.jsonl")
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "balm-small"))
    ap.add_argument("--out", default=os.path.join(ROOT, "test", "fixtures", "balm", "balm-small-heldout.safetensors"))
    ap.add_argument("--count", type=int, default=20)
    args = ap.parse_args()
    torch.set_num_threads(2)

    with open(os.path.join(args.model, "config.json")) as f:
        config = json.load(f)
    weights_path = os.path.join(args.model, "model.safetensors")
    with open(weights_path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    model = BalmForMaskedLM(config)
    sd = {k: v.float() for k, v in load_file(weights_path).items()}
    missing, unexpected = model.load_state_dict(sd, strict=False)
    missing = [k for k in missing if k not in ("lm_head.decoder.weight", "esm.embeddings.position_ids") and not k.endswith("inv_freq")]
    if missing or unexpected:
        raise SystemExit(f"{weights_path}: missing {missing}, unexpected {unexpected}")
    model.lm_head.decoder.weight = model.esm.embeddings.word_embeddings.weight
    model.eval()

    chains = []
    with open(args.data) as f:
        for line in f:
            r = json.loads(line)
            if r["split"] == "valid":
                chains.append(r)
            if len(chains) == args.count:
                break
    length = max(min(len(c["sequence"]), 166) + 2 for c in chains)
    rows = [encode(c["sequence"], [(n, i) for n, i in c["numbering"]], length=length) for c in chains]
    ids, pos, mask = (torch.tensor([r[k] for r in rows]) for k in range(3))
    with torch.no_grad():
        logits, _ = model(ids, pos, mask)
    save_file(
        {"input_ids": ids, "position_ids": pos, "attention_mask": mask, "logits": logits.float()},
        args.out,
        metadata={"weights_sha256": digest, "chains": json.dumps([{"id": c["id"], "chain": c["chain"]} for c in chains])},
    )
    print(f"wrote {args.out}: {len(chains)} held-out chains, length {length}, weights {digest[:12]}")


if __name__ == "__main__":
    main()
