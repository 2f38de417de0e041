"""Fits the affine calibration of BALMFold's error head on the validation entries and writes it into
the model folder's config.json (error_scale, error_shift).

  /usr/bin/python3 models/train/calibrate_balmfold_error.py [--model models/balmfold-small]
      [--data /tmp/balmfold-data] [--dry-run]

Why: the head is trained on training entries, where the model's own errors run smaller than on
structures it has not seen, so its raw values understate held-out errors. An affine map
a·raw + b (a > 0, so the ranking is unchanged) is fit on the validation split, never on test:
least absolute deviation against the observed per-residue error as the head defines it (Cα deviation
after superposing the Fv framework Cα, of the unrelaxed final frames). For each a on a grid the best
b is the median of observed − a·raw; b is kept ≥ 0 so that errors stay positive. Prints the mean
absolute error before and after on validation and, for information only, on test.

Rerun after every training run (train_balmfold.py resets the calibration to identity) and then
make-balmfold-parity.py: the calibration is part of the model's output.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from balmfold import BalmFold  # noqa: E402
from safetensors_io import load_file  # noqa: E402
from train_balmfold import FoldData, ca_deviation, model_inputs  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(HERE))


@torch.no_grad()
def raw_and_observed(model: BalmFold, data: FoldData) -> tuple[torch.Tensor, torch.Tensor]:
    raw, observed = [], []
    for i in range(len(data)):
        e = data.entry(i)
        layers, error = model(*model_inputs(e))
        framework = e["region"] == 0
        if int(framework.sum()) < 10:
            continue
        true_ca = e["frames"].view(-1, 3, 4)[:, :, 3]
        raw.append(error)
        observed.append(ca_deviation(layers[-1][1], true_ca, framework))
    return torch.cat(raw), torch.cat(observed)


def fit(raw: torch.Tensor, observed: torch.Tensor) -> tuple[float, float]:
    best = (float("inf"), 1.0, 0.0)
    for k in range(20, 401):
        a = k / 100
        b = max(0.0, torch.median(observed - a * raw).item())
        mae = (a * raw + b - observed).abs().mean().item()
        if mae < best[0]:
            best = (mae, a, b)
    return best[1], best[2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "balmfold-small"))
    ap.add_argument("--data", default="/tmp/balmfold-data")
    ap.add_argument("--dry-run", action="store_true", help="print the fit without writing config.json")
    args = ap.parse_args()
    torch.set_num_threads(2)
    config_path = os.path.join(args.model, "config.json")
    with open(config_path) as f:
        cfg = json.load(f)
    model = BalmFold(dict(cfg, error_scale=1.0, error_shift=0.0))
    model.load_state_dict({k: v.float() for k, v in load_file(os.path.join(args.model, "model.safetensors")).items()})
    model.eval()

    raw, observed = raw_and_observed(model, FoldData(os.path.join(args.data, "validation.safetensors")))
    a, b = fit(raw, observed)
    a, b = round(a, 3), round(b, 3)
    print(f"validation: {raw.numel()} residues, mean |raw − observed| {(raw - observed).abs().mean():.3f} Å, "
          f"calibrated {a}·raw + {b}: {(a * raw + b - observed).abs().mean():.3f} Å")
    test_path = os.path.join(args.data, "test.safetensors")
    if os.path.exists(test_path):
        raw_t, obs_t = raw_and_observed(model, FoldData(test_path))
        print(f"test (not fit on): {raw_t.numel()} residues, raw {(raw_t - obs_t).abs().mean():.3f} Å, "
              f"calibrated {(a * raw_t + b - obs_t).abs().mean():.3f} Å")
    if args.dry_run:
        return
    cfg["error_scale"], cfg["error_shift"] = a, b
    with open(config_path + ".tmp", "w") as f:
        json.dump(cfg, f, indent=2)
    os.replace(config_path + ".tmp", config_path)
    print(f"wrote error_scale {a}, error_shift {b} to {config_path}")


if __name__ == "__main__":
    main()
