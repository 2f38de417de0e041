"""Trains BALMFold-small (models/train/balmfold.py) on the structure split's training entries.

  node --import tsx models/train/prepare-fold-data.ts --out /tmp/balmfold-data     # inputs + targets
  /usr/bin/python3 models/train/train_balmfold.py --data /tmp/balmfold-data [--out models/balmfold-small]
        [--resume] [--minutes 60] [--save-minutes 10] [--steps 20000] [--lr 5e-4] [--threads 2]
        [--new-schedule STEPS] [--recycles N] [--whole-every K] [--loss-weight NAME=W] [--crop 160]

Debian's python3-torch with libopenblas0-pthread, 2 threads. One Fv per step (no padding), spatially
cropped to --crop residues (default 160 of an Fv's ~230), Adam with linear warm-up and cosine decay over the planned steps,
gradient clipping at 1. Losses (weights in LOSS_WEIGHTS):
  - backbone FAPE (Alg. 28, Cα under each residue's frame, clamp 10 Å, scale 10 Å) averaged over the
    8 structure-module layers;
  - final-layer FAPE of the backbone atoms N, CA, C, O and CB built by atoms_from_frames;
  - torsion loss (Alg. 27: closest of the true and, for π-periodic chis, the alternative angle, plus
    0.02 × the (sin, cos) norm deviation) averaged over layers;
  - error head: Huber (1 Å) between the predicted and the observed Cα deviation after superposing
    the Fv framework (IMGT non-CDR Cα) of the final prediction onto the experiment;
  - superposed: mean over regions of the final backbone RMSD, the Fv framework after superposing
    both frameworks and each CDR after its chain's framework (the benchmark's measures; fit detached),
    and fv_framework, the Fv framework term alone (0 unless --loss-weight fv_framework=W);
  - violation: C–N peptide bond length and the two angles across it beyond a flat bottom of 2σ, in
    σ units (AF2's means and σ); balmkit's relaxation still runs on every prediction.
--loss-weight NAME=W overrides a weight for a new schedule (stored in training-state.json).
Recycling (--recycles N, config recycles): each step draws 0..N recycles, earlier passes without
gradient (AF2).

Every --save-minutes it evaluates the validation entries (Fv framework Cα RMSD and CDR-H3 Cα RMSD
after framework superposition, means) and writes OUT/model.safetensors (fp16), OUT/config.json and
OUT/training-state.json (step, planned steps, seed, losses), so a later session resumes with
--resume (Adam moments are rebuilt).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time

# One OpenBLAS thread: torch's own thread pool runs beside OpenBLAS's, and with both at 2 threads
# on 2 cores a step took 1.2–1.7 s alone and 10–20 s beside any other job; with BLAS single-threaded
# it takes 0.33 s (must be set before torch loads OpenBLAS).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from balmfold import DEFAULT_CONFIG, BalmFold, atoms_from_frames  # noqa: E402
from safetensors_io import load_file, save_file  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# violation is in units of σ (≈ 15 per Fv for the step-11,891 weights before it was trained on; 0.002 keeps
# it from pulling the frames away from FAPE's optimum while closing the chains).
LOSS_WEIGHTS = {"fape_backbone": 0.5, "fape_atoms": 0.5, "torsion": 1.0, "error": 0.1, "superposed": 0.1, "fv_framework": 0.0,
                "violation": 0.002}
# Ideal peptide geometry between residues (Engh & Huber; mean and σ as AF2's violation loss uses,
# angles as cosines), penalised beyond a flat bottom of 2σ.
C_N_BOND, C_N_SIGMA = 1.329, 0.014
CA_C_N_COS, CA_C_N_SIGMA = -0.4473, 0.014
C_N_CA_COS, C_N_CA_SIGMA = -0.5203, 0.0353


def log(msg: str) -> None:
    print(time.strftime("%H:%M:%S"), msg, flush=True)


class FoldData:
    """One set of prepare-fold-data.ts: residues of all entries concatenated, with offsets."""

    def __init__(self, path: str):
        t = load_file(path)
        self.tables = {k: v for k, v in t.items() if k.startswith("table.")}
        self.t = t
        self.offsets = t["offsets"].tolist()

    def __len__(self):
        return len(self.offsets) - 1

    def entry(self, i: int) -> dict:
        a, b = self.offsets[i], self.offsets[i + 1]
        out = {k: v[a:b] for k, v in self.t.items() if k != "offsets" and not k.startswith("table.")}
        out["features"] = out["features"].float()
        return out


def spatial_crop(e: dict, size: int, rng: random.Random) -> dict:
    """The `size` residues nearest (experimental Cα) to a centre residue, in sequence order: a CDR
    residue 80% of the time, else any. Triangle updates cost n³, so a 160-residue crop trains ~3×
    faster than a whole Fv; relative positions keep the original residue indices."""
    n = e["aatype"].shape[0]
    if n <= size:
        return e
    cdr = (e["region"] > 0).nonzero()[:, 0].tolist()
    centre = rng.choice(cdr) if cdr and rng.random() < 0.8 else rng.randrange(n)
    ca = e["frames"].view(-1, 3, 4)[:, :, 3]
    d = ((ca - ca[centre]) ** 2).sum(-1)
    keep = torch.sort(torch.argsort(d)[:size]).values
    return {k: v[keep] for k, v in e.items()}


def model_inputs(e: dict) -> tuple:
    return (e["features"], e["aatype"], e["chain"], e["residue_index"], e["imgt_position"], e["template_frames"], e["template_error"])


def fape(pred_R, pred_t, true_R, true_t, pred_x, true_x, mask, clamp=10.0, scale=10.0):
    """Frame aligned point error: points x [M, 3] under every frame (R, t) [N]; mask [M]."""
    p = (pred_x[None, :, :] - pred_t[:, None, :]) @ pred_R  # R_iᵀ(x_j − t_i) in row-vector form
    q = (true_x[None, :, :] - true_t[:, None, :]) @ true_R
    d = torch.sqrt(((p - q) ** 2).sum(-1) + 1e-4)
    d = torch.clamp(d, max=clamp) / scale
    w = mask[None, :].expand_as(d)
    return (d * w).sum() / (w.sum() * 1.0 + 1e-8)


def torsion_loss(pred, true, mask, alt_sign):
    """pred [N,7,2] raw; true [N,7,2]; mask [N,7]; alt_sign [N,7] (−1 where the angle is π-periodic)."""
    norm = torch.sqrt((pred * pred).sum(-1) + 1e-12)
    unit = pred / norm[..., None]
    d1 = ((unit - true) ** 2).sum(-1)
    d2 = ((unit - true * alt_sign[..., None]) ** 2).sum(-1)
    angle = (torch.minimum(d1, d2) * mask).sum() / (mask.sum() + 1e-8)
    return angle + 0.02 * (torch.abs(norm - 1.0) * mask).sum() / (mask.sum() + 1e-8)


def kabsch(mobile, target):
    """Rotation and translation superposing mobile [M,3] onto target [M,3] (no gradient needed)."""
    mc, tc = mobile.mean(0), target.mean(0)
    h = (mobile - mc).T @ (target - tc)
    u, _, vt = torch.linalg.svd(h)
    dsign = torch.sign(torch.det(vt.T @ u.T))
    dmat = torch.diag(torch.stack([torch.ones_like(dsign), torch.ones_like(dsign), dsign]))
    r = vt.T @ dmat @ u.T
    return r, tc - mc @ r.T


def ca_deviation(pred_ca, true_ca, framework):
    """Per-residue Cα deviation after superposing the framework residues."""
    r, t = kabsch(pred_ca[framework], true_ca[framework])
    moved = pred_ca @ r.T + t
    return torch.sqrt(((moved - true_ca) ** 2).sum(-1))


def superposed_rmsd(xyz, e) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean over regions of backbone RMSD (N, CA, C, O): the Fv framework after superposing both
    chains' frameworks, and each CDR after superposing its own chain's framework (detached fit);
    and the Fv framework term alone (the benchmark's Fv framework RMSD)."""
    mask = e["atom14_mask"][:, :4] > 0
    framework = e["region"] == 0
    terms = []

    def rmsd_after(fit_rows, measure_rows):
        fm = mask & fit_rows[:, None]
        if int(fm.sum()) < 12:
            return None
        with torch.no_grad():
            r, t = kabsch(xyz[:, :4][fm].detach(), e["atom14"][:, :4][fm])
        mm = mask & measure_rows[:, None]
        if int(mm.sum()) == 0:
            return None
        d2 = ((xyz[:, :4][mm] @ r.T + t - e["atom14"][:, :4][mm]) ** 2).sum(-1)
        return torch.sqrt(d2.mean() + 1e-6)

    fv = rmsd_after(framework, framework)
    if fv is not None:
        terms.append(fv)
    zero = xyz.sum() * 0.0
    for c in (0, 1):
        in_chain = e["chain"] == c
        for k in (1, 2, 3):
            v = rmsd_after(framework & in_chain, in_chain & (e["region"] == k))
            if v is not None:
                terms.append(v)
    return (torch.stack(terms).mean() if terms else zero), (fv if fv is not None else zero)


def peptide_violation(xyz, e) -> torch.Tensor:
    """Flat-bottomed (2σ) deviations of C–N, CA–C–N and C–N–CA from ideal between residues i and
    i + 1 of the same chain with consecutive indices and no break; mean over those pairs."""
    linked = ((e["chain"][1:] == e["chain"][:-1]) & (e["residue_index"][1:] == e["residue_index"][:-1] + 1)
              & (e["break_before"][1:] == 0))
    if not bool(linked.any()):
        return xyz.sum() * 0.0
    ca0, c0 = xyz[:-1, 1][linked], xyz[:-1, 2][linked]
    n1, ca1 = xyz[1:, 0][linked], xyz[1:, 1][linked]
    cn = c0 - n1
    length = torch.sqrt((cn * cn).sum(-1) + 1e-6)
    unit_cn = cn / length[:, None]

    def unit(v):
        return v / torch.sqrt((v * v).sum(-1, keepdim=True) + 1e-6)

    cos_ca_c_n = (unit(ca0 - c0) * -unit_cn).sum(-1)  # angle at C between C→CA and C→N
    cos_c_n_ca = (unit_cn * unit(ca1 - n1)).sum(-1)  # angle at N between N→C and N→CA
    v = (F.relu(torch.abs(length - C_N_BOND) - 2 * C_N_SIGMA) / C_N_SIGMA
         + F.relu(torch.abs(cos_ca_c_n - CA_C_N_COS) - 2 * CA_C_N_SIGMA) / CA_C_N_SIGMA
         + F.relu(torch.abs(cos_c_n_ca - C_N_CA_COS) - 2 * C_N_CA_SIGMA) / C_N_CA_SIGMA)
    return v.mean()


def alt_torsion_sign(tables, aatype):
    sign = torch.ones(aatype.shape[0], 7)
    sign[:, 3:] = 1.0 - 2.0 * tables["table.chi_pi_periodic"][aatype]
    return sign


def losses(model: BalmFold, tables: dict, e: dict, recycles: int = 0, weights: dict = LOSS_WEIGHTS) -> dict:
    layers, error = model(*model_inputs(e), detach_rotations=True, recycles=recycles)
    true = e["frames"].view(-1, 3, 4)
    tR, tt = true[:, :, :3], true[:, :, 3]
    ca_mask = e["atom14_mask"][:, 1]
    fb = torch.stack([fape(R, t, tR, tt, t, tt, ca_mask) for R, t, _ in layers]).mean()
    R, t, tor = layers[-1]
    xyz, _ = atoms_from_frames(tables, e["aatype"], R, t, tor)
    bb_mask = e["atom14_mask"][:, :5].reshape(-1)
    fa = fape(R, t, tR, tt, xyz[:, :5].reshape(-1, 3), e["atom14"][:, :5].reshape(-1, 3), bb_mask)
    alt = alt_torsion_sign(tables, e["aatype"])
    to = torch.stack([torsion_loss(tr, e["torsions"], e["torsion_mask"], alt) for _, _, tr in layers]).mean()
    framework = e["region"] == 0
    if int(framework.sum()) >= 10:
        with torch.no_grad():
            observed = ca_deviation(t.detach(), tt, framework)
        er = F.huber_loss(error, observed, delta=1.0)
    else:
        er = error.sum() * 0.0
    superposed, fv_framework = superposed_rmsd(xyz, e)
    parts = {"fape_backbone": fb, "fape_atoms": fa, "torsion": to, "error": er,
             "superposed": superposed, "fv_framework": fv_framework, "violation": peptide_violation(xyz, e)}
    parts["total"] = sum(weights[k] * v for k, v in parts.items())
    return parts


@torch.no_grad()
def evaluate(model: BalmFold, data: FoldData) -> dict:
    """Means over entries: Fv framework Cα RMSD, CDR-H3 Cα RMSD after framework superposition, and
    the template baseline's (the starting frames, unrelaxed) beside them."""
    model.eval()
    fw, h3, fw0, h3_0, n_h3 = 0.0, 0.0, 0.0, 0.0, 0
    for i in range(len(data)):
        e = data.entry(i)
        layers, _ = model(*model_inputs(e))
        true_ca = e["frames"].view(-1, 3, 4)[:, :, 3]
        framework = e["region"] == 0
        h3_mask = (e["region"] == 3) & (e["chain"] == 0)
        for pred, acc in ((layers[-1][1], "model"), (e["template_frames"].view(-1, 3, 4)[:, :, 3], "template")):
            dev = ca_deviation(pred, true_ca, framework)
            f = torch.sqrt((dev[framework] ** 2).mean()).item()
            h = torch.sqrt((dev[h3_mask] ** 2).mean()).item() if h3_mask.any() else None
            if acc == "model":
                fw += f
                if h is not None:
                    h3 += h
                    n_h3 += 1
            else:
                fw0 += f
                if h is not None:
                    h3_0 += h
    model.train()
    n = len(data)
    return {"fv_framework_ca": round(fw / n, 3), "h3_ca": round(h3 / max(1, n_h3), 3),
            "template_fv_framework_ca": round(fw0 / n, 3), "template_h3_ca": round(h3_0 / max(1, n_h3), 3)}


def save(model: BalmFold, out: str, state: dict) -> None:
    os.makedirs(out, exist_ok=True)
    sd = {k: v.detach().to(torch.float16) for k, v in model.state_dict().items()}
    save_file(sd, os.path.join(out, "model.safetensors"), {"format": "balmfold", "step": str(state["step"])})
    with open(os.path.join(out, "config.json.tmp"), "w") as f:
        json.dump(model.cfg, f, indent=2)
    os.replace(os.path.join(out, "config.json.tmp"), os.path.join(out, "config.json"))
    with open(os.path.join(out, "training-state.json.tmp"), "w") as f:
        json.dump(state, f, indent=2)
    os.replace(os.path.join(out, "training-state.json.tmp"), os.path.join(out, "training-state.json"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="/tmp/balmfold-data")
    ap.add_argument("--out", default=os.path.join(ROOT, "models", "balmfold-small"))
    ap.add_argument("--steps", type=int, default=20000, help="planned steps (cosine schedule length)")
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--save-minutes", type=float, default=10.0)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--new-schedule", type=int, default=0, metavar="STEPS",
                    help="with --resume: a fresh warm-up and cosine of STEPS more steps from the saved step, peaking at --lr")
    ap.add_argument("--recycles", type=int, default=None,
                    help="recycles of the model (config); with --resume, adds zero-initialised recycling weights to a model trained without")
    ap.add_argument("--whole-every", type=int, default=0, metavar="K",
                    help="every K-th step trains on the whole Fv instead of a crop (0: never)")
    ap.add_argument("--loss-weight", action="append", default=[], metavar="NAME=W",
                    help=f"override a loss weight for this schedule (names: {', '.join(LOSS_WEIGHTS)})")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--crop", type=int, default=160, help="spatial crop size in residues (0: whole Fv)")
    ap.add_argument("--eval-limit", type=int, default=90, help="validation entries evaluated at each save")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    loss_weights = dict(LOSS_WEIGHTS)
    for item in args.loss_weight:
        name, _, value = item.partition("=")
        if name not in LOSS_WEIGHTS:
            raise SystemExit(f"--loss-weight {item}: unknown loss '{name}'; use one of {', '.join(LOSS_WEIGHTS)}")
        loss_weights[name] = float(value)

    train = FoldData(os.path.join(args.data, "train.safetensors"))
    valid = FoldData(os.path.join(args.data, "validation.safetensors"))
    tables = train.tables
    log(f"{len(train)} training entries, {len(valid)} validation entries")

    state = {"step": 0, "seed": args.seed, "planned_steps": args.steps, "losses": []}
    cfg = dict(DEFAULT_CONFIG)
    if args.resume:
        with open(os.path.join(args.out, "training-state.json")) as f:
            state = json.load(f)
        with open(os.path.join(args.out, "config.json")) as f:
            cfg = json.load(f)
    if args.recycles is not None:
        cfg["recycles"] = args.recycles
    if cfg.get("error_scale", 1.0) != 1.0 or cfg.get("error_shift", 0.0) != 0.0:
        log("error head calibration reset to identity for training: rerun calibrate_balmfold_error.py afterwards")
    cfg["error_scale"], cfg["error_shift"] = 1.0, 0.0
    torch.manual_seed(args.seed)
    model = BalmFold(cfg)
    if args.resume:
        sd = {k: v.float() for k, v in load_file(os.path.join(args.out, "model.safetensors")).items()}
        missing, unexpected = model.load_state_dict(sd, strict=False)
        if unexpected or any(not k.startswith("recycle_") for k in missing):
            raise SystemExit(f"checkpoint does not fit the config: missing {missing}, unexpected {unexpected}")
        log(f"resumed at step {state['step']}" + (f" (new zero-initialised {', '.join(missing)})" if missing else ""))
    log(f"model: {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters")
    if args.new_schedule:
        # Schedules after the first restart their warm-up (Adam's moments are rebuilt) and cosine.
        state["schedule"] = {"start": state["step"], "steps": args.new_schedule, "lr": args.lr, "whole_every": args.whole_every,
                             "loss_weights": loss_weights}
        state["planned_steps"] = state["step"] + args.new_schedule
    schedule = state.get("schedule", {"start": 0, "steps": state["planned_steps"], "lr": args.lr})
    # A resumed schedule keeps the weights it started with.
    loss_weights = schedule.get("loss_weights", loss_weights)
    log(f"loss weights {loss_weights}")
    whole_every = schedule.get("whole_every", args.whole_every)
    planned = state["planned_steps"]
    warmup = 200 if schedule["start"] == 0 else 100

    def lr_at(step: int) -> float:
        k, peak = step - schedule["start"], schedule["lr"]
        if k < warmup:
            return peak * (k + 1) / warmup
        x = min(1.0, (k - warmup) / max(1, schedule["steps"] - warmup))
        return peak * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * x)))

    valid_subset = valid
    if args.eval_limit < len(valid):
        valid_subset = FoldData.__new__(FoldData)
        valid_subset.__dict__.update(valid.__dict__)
        valid_subset.offsets = valid.offsets[: args.eval_limit + 1]

    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    start = last_save = time.time()
    running = {}
    model.train()
    while state["step"] < planned:
        epoch, k = divmod(state["step"], len(train))
        order = list(range(len(train)))
        random.Random(state["seed"] * 1000 + epoch).shuffle(order)
        e = train.entry(order[k])
        whole = whole_every > 0 and state["step"] % whole_every == 0
        if args.crop and not whole:
            e = spatial_crop(e, args.crop, random.Random(state["seed"] * 7919 + state["step"]))
        for g in opt.param_groups:
            g["lr"] = lr_at(state["step"])
        # Recycles sampled uniformly in 0..cfg["recycles"] per step (AF2), earlier passes without gradient.
        recycles = random.Random(state["seed"] * 104729 + state["step"]).randint(0, cfg.get("recycles", 0))
        parts = losses(model, tables, e, recycles, loss_weights)
        opt.zero_grad(set_to_none=True)
        parts["total"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        state["step"] += 1
        for key, v in parts.items():
            running[key] = running.get(key, 0.0) + v.item()
        if state["step"] % 50 == 0:
            log(f"step {state['step']}/{planned} " + " ".join(f"{key} {v / 50:.4f}" for key, v in running.items()) + f" lr {lr_at(state['step']):.2e}")
            running = {}
        now = time.time()
        done = now - start > args.minutes * 60 or state["step"] >= planned
        if now - last_save > args.save_minutes * 60 or done:
            val = evaluate(model, valid_subset)
            state["losses"].append({"step": state["step"], "train_total": round(parts["total"].item(), 4), **val})
            save(model, args.out, state)
            log(f"saved at step {state['step']}: validation {val}")
            last_save = time.time()
            if done:
                return


if __name__ == "__main__":
    main()
