"""PyTorch side of bench/fold-speed.ts for BALMFold: models/train/balmfold.py on the same weights and
the same prepared inputs as balmkit, driven over stdin/stdout.

    /usr/bin/python3 bench/balmfold_torch.py --model DIR --inputs INPUTS.safetensors [--threads 2]

DIR: a BALMFold model folder (config.json + model.safetensors, fp16 → float32).
INPUTS: what balmkit's balmFoldInputs built for each Fv (features from balmkit's BALM, residue
types, chains, indices, IMGT positions, template frames and errors), concatenated with an `offsets`
index, plus the atom tables (`table.*`) of balmkit's geometry. So this side times exactly the
model forward and atoms_from_frames — no numbering, no BALM, no relaxation, no file writing.

Protocol (one JSON line per command on stdout):
  start   -> {"ready": true, "torch": version, "blas": path, "threads": n, "entries": n}
  "run"   -> each Fv once, one after another, under torch.inference_mode():
             {"ms": [wall ms per Fv], "total": wall ms of all}
  "check" -> {"positions": flattened atom14 positions of Fv 0, "predicted_error": per-residue error of Fv 0}
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
sys.path.insert(0, os.path.join(ROOT, "models", "train"))
sys.path.insert(0, HERE)

from torch_side import emit, import_torch, log, require_openblas, serve  # noqa: E402

INPUTS = ["features", "aatype", "chain", "residue_index", "imgt_position", "template_frames", "template_error"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--inputs", required=True)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch = import_torch(args.threads)
    from balmfold import BalmFold, atoms_from_frames  # after import_torch: it imports torch
    from safetensors_io import load_file

    blas = require_openblas(torch, "balmfold_torch")
    log(torch.__config__.show())
    with open(os.path.join(args.model, "config.json")) as f:
        cfg = json.load(f)
    model = BalmFold(cfg)
    sd = {k: v.float() for k, v in load_file(os.path.join(args.model, "model.safetensors")).items()}
    model.load_state_dict(sd)
    model.eval()
    data = load_file(args.inputs)
    tables = {k: v for k, v in data.items() if k.startswith("table.")}
    offsets = data["offsets"].tolist()
    entries = [[data[k][a:b] for k in INPUTS] for a, b in zip(offsets[:-1], offsets[1:])]

    def forward(x):
        layers, error = model(*x)
        R, t, tors = layers[-1]
        xyz, _ = atoms_from_frames(tables, x[1], R, t, tors)
        return xyz, error

    with torch.inference_mode():  # warm-up
        forward(entries[0])
    emit({"ready": True, "torch": torch.__version__, "blas": blas, "threads": torch.get_num_threads(), "entries": len(entries)})
    def run():
        ms = []
        t0 = time.perf_counter()
        with torch.inference_mode():
            for x in entries:
                t = time.perf_counter()
                forward(x)
                ms.append((time.perf_counter() - t) * 1000)
        return {"ms": ms, "total": (time.perf_counter() - t0) * 1000}

    def check():
        with torch.inference_mode():
            xyz, error = forward(entries[0])
        return {"positions": xyz.reshape(-1).tolist(), "predicted_error": error.tolist()}

    serve({"run": run, "check": check})

if __name__ == "__main__":
    main()
