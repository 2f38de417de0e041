"""Pack llama2.c run.c outputs into test/fixtures/llm/llama2c_runc.{json,safetensors}.

    /usr/bin/python3 models/reference/llm_runc_fixture.py /tmp/runc

The numbers come from karpathy/llama2.c `run.c` (its checkpoint reader, `forward`, `encode` with
BOS and the dummy prefix, `decode`, and `generate` at temperature 0), built in a scratch folder
outside this repository (run.c's code is not committed here) and driven over
`../shared/data/lm/aidreams260K.bin` + `tok512.bin`. The scratch folder holds, per run:

  texts.json, tok.json          20 texts and run.c's `encode(text, bos=1, eos=0)` of each
  logit_texts.json, logits<i>.f32
                                5 texts; for each position p of its tokens, run.c's
                                `forward(tokens[p], p)` logits (float32, vocab 512), teacher forced
  gen.json, gen_out.json        3 prompts; run.c's generate loop with argmax sampling for
                                100 generated tokens: prompt tokens, generated ids, printed text
  sampled.json                  one prompt, run.c's sampler (temperature, top-p, xorshift seed)
                                for 100 tokens, one process per setting

Only the inputs and these expected numbers are written into the repository.
"""
import json
import os
import struct
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "models", "train"))
from safetensors_io import save_file  # noqa: E402

OUT = os.path.join(ROOT, "test", "fixtures", "llm")


def main(scratch: str) -> None:
    load = lambda name: json.load(open(os.path.join(scratch, name), encoding="utf-8"))  # noqa: E731
    texts, tokens = load("texts.json"), load("tok.json")
    assert len(texts) == len(tokens) == 20
    logit_texts = load("logit_texts.json")
    tensors = {}
    lengths = []
    for i, _ in enumerate(logit_texts):
        raw = open(os.path.join(scratch, f"logits{i}.f32"), "rb").read()
        n = len(raw) // (4 * 512)
        t = torch.tensor(struct.unpack(f"{n * 512}f", raw), dtype=torch.float32).reshape(n, 512)
        tensors[f"logits.{i}"] = t
        lengths.append(n)
    gen = load("gen_out.json")
    doc = {
        "source": "karpathy/llama2.c run.c (forward, encode bos=1 eos=0, decode, generate with temperature 0)",
        "model": "../shared/data/lm/aidreams260K.bin",
        "tokenizer": "../shared/data/lm/tok512.bin",
        "encode": [{"text": t, "tokens": k} for t, k in zip(texts, tokens)],
        "logits": [{"text": t, "rows": n, "tensor": f"logits.{i}"} for i, (t, n) in enumerate(zip(logit_texts, lengths))],
        "greedy": [{"prompt": p, **g} for p, g in zip(load("gen.json"), gen)],
        "sampled": load("sampled.json"),
    }
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "llama2c_runc.json"), "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
    save_file(tensors, os.path.join(OUT, "llama2c_runc_logits.safetensors"))
    print("wrote", OUT, "logit rows", lengths)


if __name__ == "__main__":
    main(sys.argv[1])
