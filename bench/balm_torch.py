"""PyTorch side of bench/balm.ts: BALM (models/reference/balm.py, the official semantics) over the
same numbered chains, driven over stdin/stdout.

    /usr/bin/python3 bench/balm_torch.py --make-model DIR [--hidden 192 --layers 4 --heads 6]
    /usr/bin/python3 bench/balm_torch.py --model DIR --chains CHAINS.json [--batch 32]

CHAINS.json: [{"ids": [...], "positions": [...]}, ...] (token ids and BALM position ids, unpadded,
as balmkit encodes them). Batches of --batch chains in file order, padded to each batch's longest.
Protocol (one JSON line per command on stdout):
  start   -> {"ready": true, "torch": version, "blas": path, "threads": n}
  "run"   -> every batch once under torch.inference_mode(): {"ms": wall milliseconds}
  "check" -> {"first": logits[0, 0, :8] of chain 0, "checksum": sum of chain 0's logits}
  "quit"  -> exit
Exit 3 when OpenBLAS is not the BLAS actually loaded (apt-get install libopenblas0-pthread).
"""
import argparse
import json
import os
import sys
import time


HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "models", "reference"))
sys.path.insert(0, os.path.join(ROOT, "models", "train"))
sys.path.insert(0, HERE)

from torch_side import emit, import_torch, require_openblas, serve  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--make-model")
    ap.add_argument("--hidden", type=int, default=192)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=6)
    ap.add_argument("--model")
    ap.add_argument("--chains")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch = import_torch(args.threads)
    from balm import PAD, BalmForMaskedLM, esm_config  # after import_torch: it imports torch
    from safetensors_io import load_file, save_file

    if args.make_model:
        torch.manual_seed(5)
        c = esm_config(hidden_size=args.hidden, num_hidden_layers=args.layers, num_attention_heads=args.heads,
                       intermediate_size=4 * args.hidden, max_position_embeddings=168)
        m = BalmForMaskedLM(c)
        os.makedirs(args.make_model, exist_ok=True)
        with open(os.path.join(args.make_model, "config.json"), "w") as f:
            json.dump(c, f, indent=2, sort_keys=True)
        sd = {k: v for k, v in m.state_dict().items() if k != "lm_head.decoder.weight"}
        save_file(sd, os.path.join(args.make_model, "model.safetensors"))
        return

    blas = require_openblas(torch, "balm_torch")
    print(torch.__config__.show(), file=sys.stderr)
    with open(os.path.join(args.model, "config.json")) as f:
        config = json.load(f)
    model = BalmForMaskedLM(config)
    sd = {k: v.float() for k, v in load_file(os.path.join(args.model, "model.safetensors")).items()}
    model.load_state_dict(sd, strict=False)
    model.lm_head.decoder.weight = model.esm.embeddings.word_embeddings.weight
    model.eval()
    with open(args.chains) as f:
        chains = json.load(f)
    batches = []
    for s in range(0, len(chains), args.batch):
        part = chains[s: s + args.batch]
        n = max(len(c["ids"]) for c in part)
        ids = torch.full((len(part), n), PAD, dtype=torch.long)
        pos = torch.full((len(part), n), 140, dtype=torch.long)
        mask = torch.zeros((len(part), n), dtype=torch.long)
        for b, c in enumerate(part):
            ids[b, : len(c["ids"])] = torch.tensor(c["ids"])
            pos[b, : len(c["positions"])] = torch.tensor(c["positions"])
            mask[b, : len(c["ids"])] = 1
        batches.append((ids, pos, mask))
    emit({"ready": True, "torch": torch.__version__, "blas": blas, "threads": torch.get_num_threads(), "chains": len(chains)})
    def run():
        t = time.perf_counter()
        with torch.inference_mode():
            for ids, pos, mask in batches:
                model(ids, pos, mask)
        return {"ms": (time.perf_counter() - t) * 1000}

    def check():
        with torch.inference_mode():
            ids, pos, mask = batches[0]
            logits, _ = model(ids, pos, mask)
            n = int(mask[0].sum())
        return {"first": logits[0, 0, :8].tolist(), "checksum": float(logits[0, :n].double().sum())}

    serve({"run": run, "check": check})

if __name__ == "__main__":
    main()
