"""Train balm-small, balmkit's default BALM, with the official architecture (models/reference/balm.py).

    /usr/bin/python3 models/train/train_balm.py --data DATA.jsonl --out models/balm-small \
        [--minutes 60] [--resume]

DATA.jsonl is written by `models/train/prepare-balm-data.ts` (balmkit's own IMGT numbering):
one chain per line, {"id", "chain": "H"|"K"|"L", "sequence", "numbering": [[n, ins], ...],
"split": "train"|"valid"}. Only "train" lines are trained on; "valid" lines give the held-out loss.

Masking protocol (BERT/ESM): 15% of residue tokens are chosen (fixed seed per step); of those 80%
become <mask>, 10% a random amino acid, 10% stay; the loss is cross-entropy on the chosen tokens.
<cls>, <eos> and padding are never chosen. The model trains in float32 on 2 threads
(torch.set_num_threads(2); OpenBLAS), AdamW (lr 1e-3 peak, betas 0.9/0.98, weight decay 0.01),
linear warm-up then cosine decay over the planned steps, batches of chains of similar length.

Checkpoints (every --save-minutes and at the end) are what ships: `OUT/config.json` +
`OUT/model.safetensors` (float16, official Hugging Face names, loaded directly by balmkit's
`Balm.load`) and `OUT/training-state.json` (step, epoch, planned steps, data-order seed, last
losses). `--resume` continues from them (optimizer moments are rebuilt: documented in the card).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "models", "reference"))
sys.path.insert(0, HERE)

from balm import CLS, EOS, MASK, PAD, VOCAB, BalmForMaskedLM, chain_tokens, esm_config  # noqa: E402
from safetensors_io import load_file, save_file  # noqa: E402

AA_IDS = [VOCAB.index(a) for a in "ACDEFGHIKLMNPQRSTVWY"]


def log(*a) -> None:
    print(time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


def load_data(path: str):
    train, valid = [], []
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            ids, pos = chain_tokens(r["sequence"], [(n, i) for n, i in r["numbering"]])
            item = (torch.tensor(ids), torch.tensor(pos))
            (train if r["split"] == "train" else valid).append(item)
    return train, valid


def batches(data, tokens_per_batch: int, rng: random.Random):
    """Chains of similar length together, about `tokens_per_batch` tokens per batch, shuffled."""
    order = sorted(range(len(data)), key=lambda i: (len(data[i][0]), rng.random()))
    out, cur, longest = [], [], 0
    for i in order:
        n = len(data[i][0])
        if cur and max(longest, n) * (len(cur) + 1) > tokens_per_batch:
            out.append(cur)
            cur, longest = [], 0
        cur.append(i)
        longest = max(longest, n)
    if cur:
        out.append(cur)
    rng.shuffle(out)
    return out


def collate(data, idx):
    n = max(len(data[i][0]) for i in idx)
    ids = torch.full((len(idx), n), PAD, dtype=torch.long)
    pos = torch.full((len(idx), n), 140, dtype=torch.long)
    mask = torch.zeros((len(idx), n), dtype=torch.long)
    for b, i in enumerate(idx):
        t, p = data[i]
        ids[b, : len(t)] = t
        pos[b, : len(p)] = p
        mask[b, : len(t)] = 1
    return ids, pos, mask


def mask_tokens(ids: torch.Tensor, gen: torch.Generator):
    """BERT masking: returns (inputs, labels with -100 where not chosen)."""
    residue = (ids != PAD) & (ids != CLS) & (ids != EOS)
    chosen = (torch.rand(ids.shape, generator=gen) < 0.15) & residue
    labels = torch.where(chosen, ids, torch.full_like(ids, -100))
    r = torch.rand(ids.shape, generator=gen)
    inputs = ids.clone()
    inputs[chosen & (r < 0.8)] = MASK
    rand = chosen & (r >= 0.8) & (r < 0.9)
    inputs[rand] = torch.tensor(AA_IDS)[torch.randint(len(AA_IDS), (int(rand.sum()),), generator=gen)]
    return inputs, labels


def save(model, out: str, state: dict) -> None:
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json.tmp"), "w") as f:
        json.dump(model.config, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(os.path.join(out, "config.json.tmp"), os.path.join(out, "config.json"))
    sd = {k: v.detach().half() for k, v in model.state_dict().items()
          if k != "lm_head.decoder.weight" and k != "esm.embeddings.position_ids" and not k.endswith("inv_freq")}
    save_file(sd, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(out, "training-state.json.tmp"), "w") as f:
        json.dump(state, f, indent=2)
        f.write("\n")
    os.replace(os.path.join(out, "training-state.json.tmp"), os.path.join(out, "training-state.json"))


@torch.no_grad()
def evaluate(model, data, seed: int = 0, tokens_per_batch: int = 8192) -> float:
    """Held-out masked-token cross-entropy (nats/token) with a fixed masking seed."""
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    total, count = 0.0, 0
    for idx in batches(data, tokens_per_batch, random.Random(seed)):
        ids, pos, mask = collate(data, idx)
        inputs, labels = mask_tokens(ids, gen)
        logits, _ = model(inputs, pos, mask)
        loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), labels.view(-1), ignore_index=-100, reduction="sum")
        total += loss.item()
        count += int((labels != -100).sum())
    model.train()
    return total / max(count, 1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", default=os.path.join(ROOT, "models", "balm-small"))
    ap.add_argument("--hidden", type=int, default=192)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=6)
    ap.add_argument("--epochs", type=float, default=6.0)
    ap.add_argument("--tokens-per-batch", type=int, default=4096)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--minutes", type=float, default=60.0, help="stop (and save) after this wall time")
    ap.add_argument("--save-minutes", type=float, default=10.0)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    train, valid = load_data(args.data)
    log(f"{len(train)} training chains, {len(valid)} validation chains")

    config = esm_config(hidden_size=args.hidden, num_hidden_layers=args.layers, num_attention_heads=args.heads,
                        intermediate_size=4 * args.hidden, max_position_embeddings=168)
    config.pop("transformers_version")
    torch.manual_seed(args.seed)
    model = BalmForMaskedLM(config)
    state = {"step": 0, "epoch": 0, "seed": args.seed, "losses": []}
    if args.resume:
        with open(os.path.join(args.out, "training-state.json")) as f:
            state = json.load(f)
        with open(os.path.join(args.out, "config.json")) as f:
            config = json.load(f)
        model = BalmForMaskedLM(config)
        sd = {k: v.float() for k, v in load_file(os.path.join(args.out, "model.safetensors")).items()}
        missing, unexpected = model.load_state_dict(sd, strict=False)
        missing = [k for k in missing if k not in ("lm_head.decoder.weight", "esm.embeddings.position_ids") and not k.endswith("inv_freq")]
        if missing or unexpected:
            raise SystemExit(f"resume: missing {missing}, unexpected {unexpected}")
        log(f"resumed at step {state['step']} (epoch {state['epoch']})")
    n_params = sum(p.numel() for p in model.parameters())
    log(f"model: {args.layers if not args.resume else config['num_hidden_layers']} layers, hidden {config['hidden_size']}, {n_params / 1e6:.2f}M parameters")

    steps_per_epoch = len(batches(train, args.tokens_per_batch, random.Random(0)))
    planned = state.get("planned_steps") or int(steps_per_epoch * args.epochs)
    state["planned_steps"] = planned
    warmup = max(1, planned // 50)

    def lr_at(step: int) -> float:
        if step < warmup:
            return args.lr * (step + 1) / warmup
        t = min(1.0, (step - warmup) / max(1, planned - warmup))
        return args.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * t)))

    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.98), weight_decay=0.01)
    start = time.time()
    last_save = start
    model.train()
    while state["step"] < planned:
        epoch = state["epoch"]
        order = batches(train, args.tokens_per_batch, random.Random(state["seed"] * 1000 + epoch))
        skip = state["step"] - epoch * steps_per_epoch
        for b, idx in enumerate(order):
            if b < skip:
                continue
            gen = torch.Generator().manual_seed(state["seed"] * 1_000_003 + state["step"])
            ids, pos, mask = collate(train, idx)
            inputs, labels = mask_tokens(ids, gen)
            for group in opt.param_groups:
                group["lr"] = lr_at(state["step"])
            logits, _ = model(inputs, pos, mask)
            loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), labels.view(-1), ignore_index=-100)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            state["step"] += 1
            if state["step"] % 50 == 0:
                log(f"step {state['step']}/{planned} epoch {epoch} loss {loss.item():.4f} lr {lr_at(state['step']):.2e}")
            now = time.time()
            if now - last_save > args.save_minutes * 60 or now - start > args.minutes * 60 or state["step"] >= planned:
                val = evaluate(model, valid)
                state["losses"].append({"step": state["step"], "train": round(loss.item(), 4), "valid": round(val, 4),
                                        "valid_perplexity": round(math.exp(val), 3)})
                save(model, args.out, state)
                log(f"saved at step {state['step']}: valid loss {val:.4f} (perplexity {math.exp(val):.3f})")
                last_save = now
                if now - start > args.minutes * 60 or state["step"] >= planned:
                    return
        state["epoch"] += 1


if __name__ == "__main__":
    main()
