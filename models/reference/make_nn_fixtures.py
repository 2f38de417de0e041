"""Write test/fixtures/nn/*.safetensors: golden outputs of the shared blocks (blocks.py).

    /usr/bin/python3 models/reference/make_nn_fixtures.py

Each file holds one case: the weights under the names balmkit loads (float32), the inputs
(`input.input_ids`, `input.attention_mask` for encoders / `input.positions` for decoders, int64)
and the expected outputs `output.<variant>` (float32), with the config as JSON under the
`__metadata__` key `config`. Weights are drawn in float32 from a fixed seed; the reference then
runs in float64 on exactly those float32 values and the outputs are rounded to float32 once at the
end, so a comparison at 1e-4 measures the TypeScript side, not the reference.

Also checks, in float64: a token-by-token decode with the KV cache reproduces the full-sequence
logits (both variants), and the saved file reloads to the same outputs.
"""
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "models", "train"))

from blocks import Config, Decoder, Encoder  # noqa: E402
from safetensors_io import load_file, save_file  # noqa: E402

OUT_DIR = os.path.join(ROOT, "test", "fixtures", "nn")


def init_weights(model: torch.nn.Module, seed: int) -> None:
    """Deterministic weights that keep activations O(1) and exercise every parameter.

    Linear weights ~ N(0, 1/in) (std 0.125-0.18 here), biases ~ N(0, 0.05^2), norm weights
    1 + N(0, 0.1^2), norm biases N(0, 0.05^2), embeddings N(0, 1). Drawn in float32, in
    state_dict order, so the values depend only on the seed and the config.
    """
    g = torch.Generator().manual_seed(seed)
    mods = dict(model.named_modules())
    with torch.no_grad():
        for name, p in model.state_dict().items():
            owner, kind = name.rsplit(".", 1)
            m = mods[owner]
            n = torch.randn(p.shape, generator=g, dtype=torch.float32)
            if isinstance(m, torch.nn.Embedding):
                v = n
            elif isinstance(m, torch.nn.Linear):
                v = n / m.in_features**0.5 if kind == "weight" else 0.05 * n
            else:  # LayerNorm / RMSNorm
                v = 1.0 + 0.1 * n if kind == "weight" else 0.05 * n
            p.copy_(v.to(p.dtype))


def weights_f32(model: torch.nn.Module) -> dict:
    return {k: v.detach().to(torch.float32).contiguous() for k, v in model.state_dict().items()}


def encoder_case(name: str, norm: str, rotary, seed: int) -> dict:
    cfg = Config(vocab=33, hidden=32, layers=2, heads=4, kv_heads=4, ffn=64, norm=norm,
                 rotary=rotary, theta=10000.0, eps=1e-5, causal=False)
    model = Encoder(cfg).double().eval()
    init_weights(model, seed)
    B, S = 3, 12
    g = torch.Generator().manual_seed(seed + 1)
    input_ids = torch.randint(4, 24, (B, S), generator=g, dtype=torch.int64)
    attention_mask = torch.ones(B, S, dtype=torch.int64)
    attention_mask[1, S - 4 :] = 0  # row 1: last 4 padded
    attention_mask[2, S - 7 :] = 0  # row 2: last 7 padded
    input_ids[attention_mask == 0] = 1  # ESM <pad>; the values do not matter to the outputs
    tensors = weights_f32(model)
    tensors["input.input_ids"] = input_ids
    tensors["input.attention_mask"] = attention_mask
    with torch.no_grad():
        for variant in ("full", "diagonal"):
            y = model(input_ids, attention_mask, variant)
            assert torch.isfinite(y).all(), f"{name}/{variant}: non-finite output"
            tensors[f"output.{variant}"] = y.to(torch.float32)
    meta = dict(cfg.to_dict(), arch="encoder", mlp="gelu", norm_type="layernorm")
    return write(name, tensors, meta, lambda t, dtype: rerun_encoder(cfg, t, dtype))


def decoder_case(name: str, rotary: str, theta: float, variants, seed: int) -> dict:
    cfg = Config(vocab=64, hidden=32, layers=2, heads=4, kv_heads=2, ffn=48, norm="pre",
                 rotary=rotary, theta=theta, eps=1e-6, causal=True)
    model = Decoder(cfg).double().eval()
    init_weights(model, seed)
    B, S = 2, 24
    g = torch.Generator().manual_seed(seed + 1)
    input_ids = torch.randint(0, cfg.vocab, (B, S), generator=g, dtype=torch.int64)
    positions = torch.arange(S, dtype=torch.int64).expand(B, S).contiguous()
    tensors = weights_f32(model)
    tensors["input.input_ids"] = input_ids
    tensors["input.positions"] = positions
    with torch.no_grad():
        for variant in variants:
            logits, _ = model(input_ids, positions, variant=variant)
            assert torch.isfinite(logits).all(), f"{name}/{variant}: non-finite output"
            tensors[f"output.{variant}"] = logits.to(torch.float32)
            err = kv_cache_error(model, input_ids, positions, variant, logits)
            print(f"  {name}: KV-cache decode vs full ({variant}), float64 max |diff| = {err:.3e}")
            assert err < 1e-10, f"{name}/{variant}: KV-cache decode differs by {err}"
    meta = dict(cfg.to_dict(), arch="decoder", mlp="swiglu", norm_type="rmsnorm")
    return write(name, tensors, meta, lambda t, dtype: rerun_decoder(cfg, t, dtype))


def kv_cache_error(model, input_ids, positions, variant, full_logits) -> float:
    """Feed the sequence one token at a time through the cache; compare with one full pass."""
    cache, steps = None, []
    for s in range(input_ids.shape[1]):
        step = slice(s, s + 1)
        logits, cache = model(input_ids[:, step], positions[:, step], variant=variant, past_kv=cache)
        steps.append(logits)
    return (torch.cat(steps, dim=1) - full_logits).abs().max().item()


def rerun_encoder(cfg, t, dtype) -> dict:
    model = Encoder(cfg).to(dtype).eval()
    model.load_state_dict({k: v.to(dtype) for k, v in t.items() if not k.startswith(("input.", "output."))})
    with torch.no_grad():
        return {v: model(t["input.input_ids"], t["input.attention_mask"], v) for v in ("full", "diagonal")}


def rerun_decoder(cfg, t, dtype) -> dict:
    model = Decoder(cfg).to(dtype).eval()
    model.load_state_dict({k: v.to(dtype) for k, v in t.items() if not k.startswith(("input.", "output."))})
    with torch.no_grad():
        ids, pos = t["input.input_ids"], t["input.positions"]
        return {v: model(ids, pos, variant=v)[0] for v in ("full", "diagonal")}


def write(name: str, tensors: dict, meta: dict, rerun) -> dict:
    path = os.path.join(OUT_DIR, name + ".safetensors")
    save_file(tensors, path, {"config": json.dumps(meta, sort_keys=True)})
    # Round trip: the reloaded float32 weights, run again in float64, give the stored outputs.
    back = load_file(path)
    outs = {k: v for k, v in back.items() if k.startswith("output.")}
    again = rerun(back, torch.float64)
    for key, want in outs.items():
        err = (again[key.split(".", 1)[1]].to(torch.float32) - want).abs().max().item()
        assert err == 0.0, f"{name}: reloaded weights give {key} off by {err}"
    # How far a plain float32 PyTorch run is from the float64 reference (the tolerance budget).
    f32 = rerun(back, torch.float32)
    f32_err = max((f32[k.split(".", 1)[1]] - v).abs().max().item() for k, v in outs.items())
    scale = max(v.abs().max().item() for v in outs.values())
    size = os.path.getsize(path)
    print(f"  wrote {os.path.relpath(path, ROOT)}: {size} bytes, outputs {sorted(outs)} "
          f"shape {list(next(iter(outs.values())).shape)}, max |output| {scale:.3f}, "
          f"float32 torch vs reference max |diff| {f32_err:.2e}")
    return {"path": path, "size": size}


def main() -> None:
    torch.set_num_threads(2)
    os.makedirs(OUT_DIR, exist_ok=True)
    print("nn fixtures (reference in float64, stored as float32):")
    files = [
        encoder_case("encoder_pre_rotary", "pre", "half", seed=1001),
        encoder_case("encoder_post", "post", None, seed=1002),
        decoder_case("decoder_gqa_half", "half", 10000.0, ("full", "diagonal"), seed=1003),
        decoder_case("decoder_gqa_interleaved", "interleaved", 500000.0, ("full",), seed=1004),
    ]
    print(f"total {sum(f['size'] for f in files)} bytes in {len(files)} files")


if __name__ == "__main__":
    main()
