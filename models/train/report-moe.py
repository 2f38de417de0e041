"""Expert diversity of a Mixtral-style model trained here (models/text-moe-small), for its model
card and the MoE issues: identical experts would make every compression or merging method look
free, so the card reports how far apart they are.

- Weight cosine: per layer, every pair of experts, the cosine of their concatenated weights
  (w1, w3 and w2 transposed, flattened): 1.0 means the same expert.
- Output cosine: weight cosine is blind to a permutation of an expert's hidden units (the same
  function with its units in another order scores ~0), and these experts are made from groups of
  the dense model's units in random order; so also, per layer, the mean over held-out tokens of
  the cosine between two experts' outputs on the same input (the layer's normalised hidden
  state): 1.0 means the experts compute the same function on real text.
- Router load: per layer, the fraction of top-k assignments each expert takes on the held-out
  documents (non-overlapping full-context windows, as evaluate-text.py scores them); 1/E each
  is a perfectly balanced router.

Run: /usr/bin/python3 models/train/report-moe.py --model models/text-moe-small --corpus /tmp/text-corpus --work /tmp/text-moe-work [--json out.json]
"""
import argparse
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from safetensors_io import load_file  # noqa: E402
from train_text import CausalLM, tokenize  # noqa: E402


SAMPLE_TOKENS = 4096


def expert_cosines(sd: dict, layer: int, experts: int) -> torch.Tensor:
    p = f"model.layers.{layer}.block_sparse_moe.experts"
    flat = torch.stack([
        torch.cat([sd[f"{p}.{e}.w1.weight"].flatten(), sd[f"{p}.{e}.w3.weight"].flatten(), sd[f"{p}.{e}.w2.weight"].t().flatten()]).float()
        for e in range(experts)
    ])
    flat = flat / flat.norm(dim=1, keepdim=True)
    return flat @ flat.t()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--work", required=True, help="where the tokenised splits are cached (train_text.py's --work)")
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args()
    torch.set_num_threads(2)
    with open(os.path.join(args.model, "config.json")) as f:
        cfg = json.load(f)
    experts, k, layers = cfg["num_local_experts"], cfg["num_experts_per_tok"], cfg["num_hidden_layers"]
    sd = {n: v.float() for n, v in load_file(os.path.join(args.model, "model.safetensors")).items()}

    report = {"model": os.path.basename(os.path.normpath(args.model)), "experts": experts, "top_k": k, "layers": []}
    for i in range(layers):
        cos = expert_cosines(sd, i, experts)
        off = cos[~torch.eye(experts, dtype=torch.bool)]
        a, b = divmod(int(torch.argmax(torch.where(torch.eye(experts, dtype=torch.bool), -2.0, cos))), experts)
        report["layers"].append({"layer": i, "max_cosine": round(off.max().item(), 4), "max_pair": [a, b], "mean_cosine": round(off.mean().item(), 4)})

    # Router load: the gate's logits, top-k as the model routes (no noise: eval mode).
    model = CausalLM(cfg)
    model.load_state_dict(sd)
    model.eval()
    counts = torch.zeros(layers, experts)
    hooks = []
    sample = [[] for _ in range(layers)]  # MoE inputs of the first windows, for the output cosine
    for i, layer in enumerate(model.model.layers):
        def keep(_m, inp, _out, i=i):
            if sum(x.shape[0] for x in sample[i]) < SAMPLE_TOKENS:
                sample[i].append(inp[0].reshape(-1, inp[0].shape[-1]))
        hooks.append(layer.block_sparse_moe.register_forward_hook(keep))
        def hook(_m, _inp, out, i=i):
            idx = torch.topk(torch.softmax(out.float(), dim=-1), k, dim=-1).indices
            counts[i] += torch.bincount(idx.flatten(), minlength=experts).float()
        hooks.append(layer.block_sparse_moe.gate.register_forward_hook(hook))
    held = tokenize(args.corpus, os.path.join(args.model, "tokenizer.model"), "heldout", args.work)
    ctx = cfg["max_position_embeddings"]
    with torch.inference_mode():
        for s in range(0, len(held) - ctx - 1, ctx):
            model(held[s:s + ctx].long().unsqueeze(0))
    for h in hooks:
        h.remove()
    load = counts / counts.sum(1, keepdim=True)
    tokens = int(counts[0].sum().item()) // k
    for i in range(layers):
        report["layers"][i]["router_load"] = [round(x, 4) for x in load[i].tolist()]
        x = torch.cat(sample[i])[:SAMPLE_TOKENS]
        with torch.inference_mode():
            out = torch.stack([e(x) for e in model.model.layers[i].block_sparse_moe.experts])  # (E, T, d)
        out = out / out.norm(dim=-1, keepdim=True)
        cos = torch.einsum("atd,btd->ab", out, out) / out.shape[1]
        off = cos[~torch.eye(experts, dtype=torch.bool)]
        a, b = divmod(int(torch.argmax(torch.where(torch.eye(experts, dtype=torch.bool), -2.0, cos))), experts)
        report["layers"][i].update(max_output_cosine=round(off.max().item(), 4), max_output_pair=[a, b], mean_output_cosine=round(off.mean().item(), 4))
    report["output_cosine_tokens"] = SAMPLE_TOKENS
    report["heldout_tokens"] = tokens

    print(f"{report['model']}: {experts} experts, top-{k}; router load over {tokens:,} held-out tokens (fraction of top-{k} assignments; balanced = {1 / experts:.3f})")
    for r in report["layers"]:
        print(f"  layer {r['layer']}: weight cosine max {r['max_cosine']:.4f} (experts {r['max_pair'][0]}, {r['max_pair'][1]}), mean {r['mean_cosine']:.4f}; "
              f"output cosine max {r['max_output_cosine']:.4f} (experts {r['max_output_pair'][0]}, {r['max_output_pair'][1]}), mean {r['mean_output_cosine']:.4f}; "
              f"load {' '.join(f'{x:.3f}' for x in r['router_load'])}")
    print(f"largest pairwise expert cosine in any layer: weights {max(r['max_cosine'] for r in report['layers']):.4f}, "
          f"outputs on {SAMPLE_TOKENS:,} held-out tokens {max(r['max_output_cosine'] for r in report['layers']):.4f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
