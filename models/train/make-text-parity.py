"""Parity fixture of a text model trained here (models/text-small, later models/text-moe-small):
logits of the PyTorch reference (models/reference/llm_reference.py, float64 on the fp16 weights
as stored) on held-out text, for test/llm/text-models.test.ts.

Inputs: tokens of the held-out documents of prepare_text_corpus.py, encoded by the folder's
SentencePiece model with <s> first.
  - `short.*`: a batch of 2 rows of 64 tokens, row 1 left-padded by 9 (logits of every position);
  - `long.*`: one row of the full context (1,024 tokens) and the logits of its last 4 positions
    (positions the short-context phase of training never saw);
  - `tokenizer.*`: the first 3,000 characters of each held-out document (UTF-8 bytes, with
    offsets) and SentencePiece's own ids for each (no <s>): the check of tokenizer.json.
The held-out text is the Python documentation (PSF License Agreement; see the model card).
Metadata: the weights' sha256, so the test says when the fixture is stale.

Run: /usr/bin/python3 models/train/make-text-parity.py --model models/text-small --corpus /tmp/text-corpus
"""
import argparse
import hashlib
import json
import os
import sys

import sentencepiece as spm
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "models", "reference"))
from llm_reference import forward  # noqa: E402
from safetensors_io import load_file, save_file  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--out", help="default: test/fixtures/llm/<model folder name>-parity.safetensors")
    args = ap.parse_args()
    torch.set_num_threads(2)
    name = os.path.basename(os.path.normpath(args.model))
    out = args.out or os.path.join(ROOT, "test", "fixtures", "llm", f"{name}-parity.safetensors")
    with open(os.path.join(args.model, "config.json")) as f:
        cfg = json.load(f)
    weights = os.path.join(args.model, "model.safetensors")
    sd = {k: v.to(torch.float64) for k, v in load_file(weights).items()}
    sp = spm.SentencePieceProcessor(model_file=os.path.join(args.model, "tokenizer.model"))
    with open(os.path.join(args.corpus, "heldout.txt"), encoding="utf-8") as f:
        docs = f.read().split("\n\f\n")
    ids = []
    for d in docs:
        ids += [1] + sp.encode(d.strip("\n"))
    ctx = cfg["max_position_embeddings"]
    assert len(ids) > ctx + 200, "held-out text too short"

    short = torch.tensor([ids[:64], [0] * 9 + ids[100:155]], dtype=torch.long)
    mask = torch.ones_like(short)
    mask[1, :9] = 0
    long = torch.tensor([ids[200:200 + ctx]], dtype=torch.long)
    with torch.no_grad():
        short_logits = forward(cfg, sd, short, mask).to(torch.float32)
        long_logits = forward(cfg, sd, long, torch.ones_like(long))[:, -4:].to(torch.float32)
    texts = [d.strip("\n")[:3000] for d in docs]
    blobs = [t.encode("utf-8") for t in texts]
    tok_ids = [sp.encode(t) for t in texts]
    text_offsets = [0]
    id_offsets = [0]
    for b, t in zip(blobs, tok_ids):
        text_offsets.append(text_offsets[-1] + len(b))
        id_offsets.append(id_offsets[-1] + len(t))
    sha = hashlib.sha256(open(weights, "rb").read()).hexdigest()
    save_file({"short.input_ids": short, "short.attention_mask": mask, "short.logits": short_logits,
               "long.input_ids": long, "long.logits": long_logits,
               "tokenizer.text": torch.tensor(list(b"".join(blobs)), dtype=torch.uint8),
               "tokenizer.text_offsets": torch.tensor(text_offsets, dtype=torch.long),
               "tokenizer.ids": torch.tensor([i for t in tok_ids for i in t], dtype=torch.long),
               "tokenizer.id_offsets": torch.tensor(id_offsets, dtype=torch.long)},
              out, metadata={"weights_sha256": sha, "model": name})
    print(f"{out}: short {tuple(short_logits.shape)}, long last 4 of {ctx}; weights sha256 {sha[:12]}…")


if __name__ == "__main__":
    main()
