"""The parity fixture of balmkit's BALMFold graph (src/fold/balmfold-model.ts): PyTorch's outputs of
models/train/balmfold.py on the first entries of a prepare-fold-data.ts file, with the inputs.

  /usr/bin/python3 models/train/make-balmfold-parity.py [--model models/balmfold-small]
      [--data /tmp/balmfold-data/test.safetensors] [--entries 10] [--out test/fixtures/balmfold/parity.safetensors]
  /usr/bin/python3 models/train/make-balmfold-parity.py --make-random DIR [--seed 7] [--std 0.03] [--recycles 0]

Rerun it whenever the model's weights change: test/fold/balmfold.test.ts pins the SHA-256 of the
weights file the fixture was made from and fails until the fixture matches.

The model folder's config.json and model.safetensors (fp16) are loaded as written (fp16 → float64,
exact). Features are stored as float16 and the model is fed exactly those values (upcast), so
balmkit and PyTorch see the same numbers. The reference runs in float64 (torch.no_grad) and is
stored as float32; its distance from a float32 PyTorch run is printed as the inherent float32
noise. Stored per residue (entries concatenated, `offsets` index): the inputs (features f16,
aatype, chain, residue_index, imgt_position, template_frames, template_error) and outputs
(positions [R,14,3] and atom_mask from atoms_from_frames with the data file's tables, final frames
[R,12] in Å, torsions [R,7,2] raw, error [R]). Metadata: weights_sha256, the data file and entries.

--make-random writes a development model: BalmFold(DEFAULT_CONFIG) with every parameter redrawn
from N(0, std²) (the structure module's zero-initialised backbone update included, so the frames
move and parity is tested on real rotations), LayerNorm scales N(1, std²), IPA head weights
softplus⁻¹(1) + N(0, std²); saved fp16 with config.json.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from balmfold import DEFAULT_CONFIG, BalmFold, atoms_from_frames  # noqa: E402
from safetensors_io import load_file, save_file  # noqa: E402

INPUTS = ["features", "aatype", "chain", "residue_index", "imgt_position", "template_frames", "template_error"]


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_metadata(path: str) -> dict:
    import struct

    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    return header.get("__metadata__", {})


def make_random(out: str, seed: int, std: float, recycles: int) -> None:
    torch.manual_seed(seed)
    model = BalmFold(dict(DEFAULT_CONFIG, recycles=recycles))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if isinstance(dict(model.named_modules()).get(name.rsplit(".", 1)[0]), torch.nn.LayerNorm) and name.endswith(".weight"):
                p.copy_(1.0 + std * torch.randn_like(p))
            elif name.endswith("head_weights"):
                p.add_(std * torch.randn_like(p))
            else:
                p.copy_(std * torch.randn_like(p))
    os.makedirs(out, exist_ok=True)
    sd = {k: v.detach().to(torch.float16) for k, v in model.state_dict().items()}
    save_file(sd, os.path.join(out, "model.safetensors"), {"format": "balmfold", "random": f"seed {seed}, std {std}"})
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(model.cfg, f, indent=2)
    print(f"random BALMFold ({sum(p.numel() for p in model.parameters())} parameters, seed {seed}, std {std}) → {out}")


def load_model(folder: str, dtype: torch.dtype) -> BalmFold:
    with open(os.path.join(folder, "config.json")) as f:
        cfg = json.load(f)
    model = BalmFold(cfg)
    sd = load_file(os.path.join(folder, "model.safetensors"))
    missing, unexpected = model.load_state_dict({k: v.to(dtype) for k, v in sd.items()}, strict=False)
    if missing or unexpected:
        sys.exit(f"{folder}/model.safetensors does not fit config.json: missing {missing}, unexpected {unexpected}")
    return model.to(dtype).eval()


def run(model: BalmFold, tables: dict, e: dict, dtype: torch.dtype) -> dict:
    x = [e[k].to(dtype) if e[k].is_floating_point() else e[k] for k in INPUTS]
    with torch.no_grad():
        layers, error = model(*x)
        R, t, tors = layers[-1]
        tab = {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in tables.items()}
        xyz, mask = atoms_from_frames(tab, e["aatype"], R, t, tors)
    frames = torch.cat([R, t[:, :, None]], dim=2).reshape(-1, 12)
    return {"positions": xyz, "atom_mask": mask, "frames": frames, "torsions": tors, "error": error}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "balmfold-small"))
    ap.add_argument("--data", default="/tmp/balmfold-data/test.safetensors")
    ap.add_argument("--entries", type=int, default=10)
    ap.add_argument("--out", default=os.path.join(ROOT, "test", "fixtures", "balmfold", "parity.safetensors"))
    ap.add_argument("--make-random", metavar="DIR")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--std", type=float, default=0.03)
    ap.add_argument("--recycles", type=int, default=0, help="with --make-random: the config's recycles")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.make_random:
        make_random(args.make_random, args.seed, args.std, args.recycles)
        return

    weights = os.path.join(args.model, "model.safetensors")
    ref = load_model(args.model, torch.float64)
    f32 = load_model(args.model, torch.float32)
    data = load_file(args.data)
    tables = {k: v for k, v in data.items() if k.startswith("table.")}
    offsets = data["offsets"].tolist()
    entries = json.loads(read_metadata(args.data).get("entries", "[]"))
    count = min(args.entries, len(offsets) - 1)
    cols: dict[str, list] = {}
    out_offsets = [0]
    worst = {"positions": 0.0, "error": 0.0}
    for i in range(count):
        a, b = offsets[i], offsets[i + 1]
        e = {k: data[k][a:b] for k in INPUTS}
        e["features"] = e["features"].to(torch.float16)  # stored as f16; both sides read these values
        e64 = dict(e, features=e["features"].to(torch.float64))
        o = run(ref, tables, e64, torch.float64)
        o32 = run(f32, tables, dict(e, features=e["features"].float()), torch.float32)
        for k in worst:
            worst[k] = max(worst[k], float((o[k] - o32[k].double()).abs().max()))
        for k in INPUTS:
            cols.setdefault(k, []).append(e[k] if k == "features" or not e[k].is_floating_point() else e[k].float())
        for k, v in o.items():
            cols.setdefault(k, []).append(v.float())
        out_offsets.append(out_offsets[-1] + (b - a))
        name = entries[i]["id"] if i < len(entries) else str(i)
        print(f"  {name}: {b - a} residues, mean predicted error {float(o['error'].mean()):.3f} Å")
    tensors = {k: torch.cat(v) for k, v in cols.items()}
    tensors["offsets"] = torch.tensor(out_offsets, dtype=torch.int64)
    meta = {
        "source": "models/train/make-balmfold-parity.py",
        "weights_sha256": sha256(weights),
        "model": os.path.relpath(os.path.abspath(args.model), ROOT),
        "data": args.data,
        "entries": json.dumps([x["id"] for x in entries[:count]]),
        "reference": "PyTorch float64 (fp16 weights and features upcast), stored float32",
        "torch": torch.__version__,
        "float32_noise_positions": f"{worst['positions']:.3e}",
        "float32_noise_error": f"{worst['error']:.3e}",
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    save_file(tensors, args.out, meta)
    print(f"{count} entries, {out_offsets[-1]} residues → {args.out}")
    print(f"weights {weights} sha256 {meta['weights_sha256']}")
    print(f"PyTorch float32 vs float64: positions max |Δ| {worst['positions']:.2e} Å, error max |Δ| {worst['error']:.2e} Å")


if __name__ == "__main__":
    main()
