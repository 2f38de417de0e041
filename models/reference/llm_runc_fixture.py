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

  tiny_ids.json, tiny_logits.bin
                                run.c's forward over explicit token ids of the tiny checkpoint
                                below (logits float32, vocab 32)

A second, tiny llama2.c checkpoint is made here (not trained: fixed-seed random weights) to cover
what aidreams260K does not: a negative vocab_size (the classifier is its own matrix after the
unused freq_cis tables) and grouped-query attention (4 heads, 2 KV heads):

    /usr/bin/python3 models/reference/llm_runc_fixture.py --write-tiny test/fixtures/llm/llama2c_tiny_unshared.bin
    <run.c harness> test/fixtures/llm/llama2c_tiny_unshared.bin ../shared/data/lm/tok512.bin <any> ids 1,5,9,... /tmp/runc/tiny_logits.bin
    /usr/bin/python3 models/reference/llm_runc_fixture.py /tmp/runc

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


TINY = dict(dim=16, hidden_dim=40, n_layers=2, n_heads=4, n_kv_heads=2, vocab_size=32, seq_len=16)
TINY_IDS = [1, 5, 9, 31, 0, 17, 17, 2, 30, 8, 12, 3]


def write_tiny(path: str) -> None:
    """run.c's legacy layout, vocab_size written negative (unshared classifier)."""
    c = TINY
    hd = c["dim"] // c["n_heads"]
    kv = c["n_kv_heads"] * hd
    L, D, F, V = c["n_layers"], c["dim"], c["hidden_dim"], c["vocab_size"]
    g = torch.Generator().manual_seed(7)
    parts = [("tok", [V, D], 1.0), ("rms_att", [L, D], None), ("wq", [L, D, D], D ** -0.5), ("wk", [L, kv, D], D ** -0.5),
             ("wv", [L, kv, D], D ** -0.5), ("wo", [L, D, D], D ** -0.5), ("rms_ffn", [L, D], None),
             ("w1", [L, F, D], D ** -0.5), ("w2", [L, D, F], F ** -0.5), ("w3", [L, F, D], D ** -0.5), ("rms_final", [D], None),
             ("freq_cis_real", [c["seq_len"], hd // 2], 9.0), ("freq_cis_imag", [c["seq_len"], hd // 2], 9.0),
             ("wcls", [V, D], D ** -0.5)]
    out = bytearray(struct.pack("7i", D, F, L, c["n_heads"], c["n_kv_heads"], -V, c["seq_len"]))
    for _, shape, std in parts:
        t = 1 + 0.1 * torch.randn(shape, generator=g) if std is None else torch.randn(shape, generator=g) * std
        out += t.to(torch.float32).numpy().tobytes()
    with open(path, "wb") as f:
        f.write(out)
    print("wrote", path, len(out), "bytes; ids:", ",".join(map(str, TINY_IDS)))


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
    raw = open(os.path.join(scratch, "tiny_logits.bin"), "rb").read()
    tensors["tiny.logits"] = torch.tensor(struct.unpack(f"{len(raw) // 4}f", raw), dtype=torch.float32).reshape(len(TINY_IDS), 32)
    gen = load("gen_out.json")
    doc = {
        "source": "karpathy/llama2.c run.c (forward, encode bos=1 eos=0, decode, generate with temperature 0)",
        "model": "../shared/data/lm/aidreams260K.bin",
        "tokenizer": "../shared/data/lm/tok512.bin",
        "encode": [{"text": t, "tokens": k} for t, k in zip(texts, tokens)],
        "logits": [{"text": t, "rows": n, "tensor": f"logits.{i}"} for i, (t, n) in enumerate(zip(logit_texts, lengths))],
        "greedy": [{"prompt": p, **g} for p, g in zip(load("gen.json"), gen)],
        "sampled": load("sampled.json"),
        "tiny_unshared": {"checkpoint": "llama2c_tiny_unshared.bin", "config": TINY, "ids": TINY_IDS, "tensor": "tiny.logits"},
    }
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "llama2c_runc.json"), "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
    save_file(tensors, os.path.join(OUT, "llama2c_runc_logits.safetensors"))
    print("wrote", OUT, "logit rows", lengths)


if __name__ == "__main__":
    if sys.argv[1] == "--write-tiny":
        write_tiny(sys.argv[2])
    else:
        main(sys.argv[1])
