"""Held-out scores of a text model trained here, for its model card: perplexity on the held-out
documents (non-overlapping windows of the full context from offset 0, the tokens each window
predicts), beside a unigram baseline on the same predicted tokens (token frequencies of the
training split, add-one smoothed); total and active parameters per token.

Run: /usr/bin/python3 models/train/evaluate-text.py --model models/text-small --corpus /tmp/text-corpus --work /tmp/text-small-work
"""
import argparse
import json
import math
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from safetensors_io import load_file  # noqa: E402
from train_text import CausalLM, evaluate, tokenize  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--work", required=True, help="where the tokenised splits are cached (train_text.py's --work)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    with open(os.path.join(args.model, "config.json")) as f:
        cfg = json.load(f)
    model = CausalLM(cfg)
    model.load_state_dict({k: v.float() for k, v in load_file(os.path.join(args.model, "model.safetensors")).items()})
    tok = os.path.join(args.model, "tokenizer.model")
    train = tokenize(args.corpus, tok, "train", args.work)
    held = tokenize(args.corpus, tok, "heldout", args.work)
    ctx = cfg["max_position_embeddings"]
    loss = evaluate(model, held, ctx)

    counts = torch.bincount(train.long(), minlength=cfg["vocab_size"]).double() + 1
    logp = (counts / counts.sum()).log()
    starts = range(0, len(held) - ctx - 1, ctx)
    targets = torch.cat([held[s + 1:s + ctx + 1].long() for s in starts])
    unigram = -logp[targets].mean().item()

    total = sum(p.numel() for p in model.parameters())
    experts = cfg.get("num_local_experts")
    if experts:
        per_expert = sum(p.numel() for n, p in model.named_parameters() if ".experts.0." in n)
        active = total - (experts - cfg["num_experts_per_tok"]) * per_expert
    else:
        active = total
    out = {"model": os.path.basename(os.path.normpath(args.model)), "heldout_tokens": int(targets.numel()),
           "heldout_loss": round(loss, 4), "heldout_perplexity": round(math.exp(loss), 3),
           "unigram_perplexity": round(math.exp(unigram), 2), "parameters_total": total, "parameters_active_per_token": active}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
