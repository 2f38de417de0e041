"""Write test/fixtures/llm/hf/<case>/: tiny random Hugging Face-format causal LMs and their
expected logits from the PyTorch reference (llm_reference.py).

    /usr/bin/python3 models/reference/make_llm_fixtures.py [--only case,case]

Each folder is what balmkit loads: `config.json` and the weights in one of the layouts a Hugging
Face folder uses, plus `expected.safetensors` with `input.input_ids` and `input.attention_mask`
(int64 [2, 12]; row 1 is left-padded by 3) and `output.logits` (float32 [2, 12, V]; padded query
rows are not meaningful and not compared). Weights are drawn in float32 (or stored bfloat16 for
the `.bin` case) from fixed seeds; the reference runs in float64 on exactly the stored values and
rounds the logits once, so a 1e-4 comparison measures balmkit, not the reference.

| case             | feature under test                                         | weights file(s)            |
|------------------|------------------------------------------------------------|----------------------------|
| llama_rope_llama3| Llama 3.1 rope scaling (all three wavelength bands), GQA   | model.safetensors          |
| llama_rope_linear| linear rope scaling                                        | model.safetensors          |
| mistral_sliding  | Mistral sliding window 4 over 12 tokens                    | model.safetensors          |
| qwen2_bias       | Qwen2 q/k/v biases (none on o)                             | model.safetensors          |
| llama_tied       | tie_word_embeddings (no lm_head tensor)                    | model.safetensors          |
| llama_sharded    | two shards + model.safetensors.index.json                  | model-0000{1,2}-of-00002   |
| llama_bin        | torch.save pytorch_model.bin, bfloat16 weights             | pytorch_model.bin          |
| mixtral_moe      | Mixtral: 4 experts, top-2 routing, renormalized weights    | model.safetensors          |
| mixtral_tied     | router rows 1-3 equal (ties: exactly k, lower index first); | model.safetensors          |
|                  | expected-keep-0-3: experts {0, 3} kept, others removed     |                            |
| gpt2             | GPT-2: Conv1D [in, out] weights, fused c_attn, learned     | model.safetensors          |
|                  | positions, LayerNorm, gelu_new, tied head, "transformer."  |                            |

`llama_tied` also carries a tiny hand-made Llama-style `tokenizer.json` (BPE over "▁"-prefixed
text, 9 merges, special tokens, a Llama-2 decoder) and a `tokenizer_config.json` with a
`chat_template`, so the Hugging Face tokenizer path and chat templating are tested on a real folder.
The expected encodings are worked out by hand in test/llm/hf_tokenizer.test.ts.
"""
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "models", "train"))

from llm_reference import forward, gpt2_forward  # noqa: E402
from safetensors_io import load_file, save_file  # noqa: E402

OUT = os.path.join(ROOT, "test", "fixtures", "llm", "hf")
torch.set_num_threads(2)

BASE = {
    "model_type": "llama",
    "vocab_size": 48,
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "intermediate_size": 48,
    "rms_norm_eps": 1e-5,
    "rope_theta": 10000.0,
    "max_position_embeddings": 64,
    "tie_word_embeddings": False,
    "hidden_act": "silu",
    "bos_token_id": 1,
    "eos_token_id": 2,
}


def gpt2_state_dict(cfg: dict, seed: int) -> dict:
    g = torch.Generator().manual_seed(seed)
    D, F, V, P = cfg["n_embd"], cfg["n_inner"], cfg["vocab_size"], cfg["n_positions"]
    conv = lambda i, o: torch.randn(i, o, generator=g) / i**0.5  # noqa: E731  (Conv1D: [in, out])
    vec = lambda n, s=0.05: torch.randn(n, generator=g) * s  # noqa: E731
    sd = {"wte.weight": torch.randn(V, D, generator=g), "wpe.weight": torch.randn(P, D, generator=g) * 0.5}
    for i in range(cfg["n_layer"]):
        p = f"h.{i}."
        sd[p + "ln_1.weight"], sd[p + "ln_1.bias"] = 1 + vec(D, 0.1), vec(D, 0.1)
        sd[p + "attn.c_attn.weight"], sd[p + "attn.c_attn.bias"] = conv(D, 3 * D), vec(3 * D, 0.3)
        sd[p + "attn.c_proj.weight"], sd[p + "attn.c_proj.bias"] = conv(D, D), vec(D, 0.3)
        sd[p + "ln_2.weight"], sd[p + "ln_2.bias"] = 1 + vec(D, 0.1), vec(D, 0.1)
        sd[p + "mlp.c_fc.weight"], sd[p + "mlp.c_fc.bias"] = conv(D, F), vec(F, 0.3)
        sd[p + "mlp.c_proj.weight"], sd[p + "mlp.c_proj.bias"] = conv(F, D), vec(D, 0.3)
    sd["ln_f.weight"], sd["ln_f.bias"] = 1 + vec(D, 0.1), vec(D, 0.1)
    return sd


def state_dict(cfg: dict, seed: int) -> dict:
    g = torch.Generator().manual_seed(seed)
    H, KV = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    D, F, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    hd = cfg.get("head_dim") or D // H
    qkv_bias = cfg["model_type"] == "qwen2" or cfg.get("attention_bias", False)
    o_bias = cfg["model_type"] != "qwen2" and cfg.get("attention_bias", False)
    lin = lambda o, i: torch.randn(o, i, generator=g) / i**0.5  # noqa: E731
    vec = lambda n, s=0.05: torch.randn(n, generator=g) * s  # noqa: E731
    sd = {"model.embed_tokens.weight": torch.randn(V, D, generator=g)}
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        sd[p + "input_layernorm.weight"] = 1 + vec(D, 0.1)
        sd[p + "self_attn.q_proj.weight"] = lin(H * hd, D)
        sd[p + "self_attn.k_proj.weight"] = lin(KV * hd, D)
        sd[p + "self_attn.v_proj.weight"] = lin(KV * hd, D)
        sd[p + "self_attn.o_proj.weight"] = lin(D, H * hd)
        if qkv_bias:
            sd[p + "self_attn.q_proj.bias"] = vec(H * hd, 0.3)
            sd[p + "self_attn.k_proj.bias"] = vec(KV * hd, 0.3)
            sd[p + "self_attn.v_proj.bias"] = vec(KV * hd, 0.3)
        if o_bias:
            sd[p + "self_attn.o_proj.bias"] = vec(D, 0.3)
        sd[p + "post_attention_layernorm.weight"] = 1 + vec(D, 0.1)
        if cfg["model_type"] == "mixtral":
            sd[p + "block_sparse_moe.gate.weight"] = lin(cfg["num_local_experts"], D) * 3
            for e in range(cfg["num_local_experts"]):
                q = p + f"block_sparse_moe.experts.{e}."
                sd[q + "w1.weight"], sd[q + "w2.weight"], sd[q + "w3.weight"] = lin(F, D), lin(D, F), lin(F, D)
        else:
            sd[p + "mlp.gate_proj.weight"] = lin(F, D)
            sd[p + "mlp.up_proj.weight"] = lin(F, D)
            sd[p + "mlp.down_proj.weight"] = lin(D, F)
    sd["model.norm.weight"] = 1 + vec(D, 0.1)
    if not cfg["tie_word_embeddings"]:
        sd["lm_head.weight"] = lin(V, D)
    return sd


CASES = {
    "llama_rope_llama3": dict(
        num_attention_heads=2, num_key_value_heads=1, rope_theta=10000.0,
        # head_dim 16: wavelengths 6.3 (< 16: kept), 19.9 and 62.8 (between: smoothed), 199+ (> 64: / 8)
        rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                      "original_max_position_embeddings": 64},
        max_position_embeddings=512,
    ),
    "llama_rope_linear": dict(rope_scaling={"type": "linear", "factor": 4.0}, attention_bias=True),
    "mistral_sliding": dict(model_type="mistral", sliding_window=4),
    "qwen2_bias": dict(model_type="qwen2", rope_theta=1000000.0, rms_norm_eps=1e-6),
    "llama_tied": dict(tie_word_embeddings=True),
    "llama_sharded": dict(),
    "llama_bin": dict(),
    "mixtral_moe": dict(model_type="mixtral", num_local_experts=4, num_experts_per_tok=2, intermediate_size=24),
    "gpt2": dict(model_type="gpt2", vocab_size=48, n_embd=32, n_layer=2, n_head=4, n_positions=32, n_inner=64,
                 layer_norm_epsilon=1e-5, activation_function="gelu_new"),
    # Router rows 1, 2 and 3 equal: every token ties three experts; Mixtral keeps exactly k, here
    # the lower index first (ONNX TopK's rule, which the reference implements explicitly). Also the expert-drop case: experts
    # {0, 3} kept, against the reference with the others removed (expected-keep-0-3.safetensors).
    "mixtral_tied": dict(model_type="mixtral", num_local_experts=4, num_experts_per_tok=2, intermediate_size=24),
}

GPT2_DROP = ["hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "intermediate_size",
             "rms_norm_eps", "rope_theta", "max_position_embeddings", "tie_word_embeddings", "hidden_act"]


# vocab ids: 0-2 specials, 3-19 pieces and merges, 20-21 chat markers, 22-47 filler letters and digits
PIECES = ["<unk>", "<s>", "</s>", "\u2581", "h", "e", "l", "o", "w", "r", "d", "\u2581h", "el", "lo", "\u2581hel",
          "\u2581w", "or", "\u2581wor", "ld", "\u2581world", "<|user|>", "<|assistant|>"]
PIECES += [c for c in "abcfgijkmnpqstuvxyz0123456789"][:48 - len(PIECES)]
MERGES = ["\u2581 h", "e l", "\u2581h el", "l o", "\u2581 w", "o r", "\u2581w or", "l d", "\u2581wor ld"]


def tokenizer_files(folder: str) -> None:
    assert len(PIECES) == 48, len(PIECES)
    special = lambda i, t: {"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,  # noqa: E731
                            "normalized": False, "special": True}
    tok = {
        "version": "1.0",
        "added_tokens": [special(0, "<unk>"), special(1, "<s>"), special(2, "</s>"), special(20, "<|user|>"),
                         special(21, "<|assistant|>")],
        "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u2581"},
                                                            {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
        "pre_tokenizer": None,
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                           "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                                    {"Sequence": {"id": "B", "type_id": 1}}],
                           "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
        "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
                                                     {"type": "ByteFallback"}, {"type": "Fuse"},
                                                     {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": False,
                  "vocab": {p: i for i, p in enumerate(PIECES)}, "merges": MERGES},
    }
    with open(os.path.join(folder, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False, indent=1)
    cfg = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "add_bos_token": True,
           "chat_template": "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}</s>{% endfor %}"
                            "{% if add_generation_prompt %}<|assistant|>{% endif %}"}
    with open(os.path.join(folder, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(cfg, f, ensure_ascii=False, indent=1)


def inputs(V: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, V, (2, 12), generator=g)
    mask = torch.ones(2, 12, dtype=torch.long)
    mask[1, :3] = 0
    ids[1, :3] = 0
    return ids, mask


def drop_experts(cfg: dict, sd: dict, keep: list) -> tuple:
    """The Mixtral model with only `keep` experts: router rows sliced, experts renumbered, top-k = min(k, kept)."""
    out = {k: v for k, v in sd.items() if ".block_sparse_moe." not in k}
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}.block_sparse_moe."
        out[p + "gate.weight"] = sd[p + "gate.weight"][keep]
        for j, e in enumerate(keep):
            for w in ("w1", "w2", "w3"):
                out[p + f"experts.{j}.{w}.weight"] = sd[p + f"experts.{e}.{w}.weight"]
    return dict(cfg, num_local_experts=len(keep), num_experts_per_tok=min(cfg["num_experts_per_tok"], len(keep))), out


def check_ties_lower_index_first(cfg: dict, sd: dict, ids) -> None:
    """The tied fixture really ties, and the reference picks the lower expert index on ties (ONNX
    TopK's rule; torch.topk's own order differs on this build, see llm_reference.top_k_lower_index_first)."""
    from llm_reference import rms_norm, top_k_lower_index_first
    h = rms_norm(sd["model.embed_tokens.weight"][ids].reshape(-1, cfg["hidden_size"]), sd["model.layers.0.input_layernorm.weight"], cfg["rms_norm_eps"])
    probs = torch.softmax(h @ sd["model.layers.0.block_sparse_moe.gate.weight"].T, dim=-1)
    assert torch.equal(probs[:, 1], probs[:, 2]) and torch.equal(probs[:, 2], probs[:, 3]), "router rows 1-3 must tie exactly"
    _, chosen = top_k_lower_index_first(probs, cfg["num_experts_per_tok"])
    assert all(sorted(row) == row and (row == [0, 1] or row == [1, 2]) for row in chosen.tolist()), chosen.tolist()
    other = torch.topk(probs, cfg["num_experts_per_tok"], dim=-1).indices
    print(f"  ties: the reference picks {sorted(set(map(tuple, chosen.tolist())))}; torch.topk here would pick {sorted(set(map(tuple, other.sort(-1).values.tolist())))}")


def main() -> None:
    only = sys.argv[sys.argv.index("--only") + 1].split(",") if "--only" in sys.argv else None
    for n, (name, over) in enumerate(CASES.items()):
        if only is not None and name not in only:
            continue
        cfg = {**BASE, **over}
        if name == "gpt2":
            cfg = {k: v for k, v in cfg.items() if k not in GPT2_DROP}
        sd = gpt2_state_dict(cfg, 100 + n) if name == "gpt2" else state_dict(cfg, 100 + n)
        if name == "mixtral_tied":
            for i in range(cfg["num_hidden_layers"]):
                gate = sd[f"model.layers.{i}.block_sparse_moe.gate.weight"]
                gate[2] = gate[1]
                gate[3] = gate[1]
        run = gpt2_forward if name == "gpt2" else forward
        if name == "llama_bin":
            sd = {k: v.to(torch.bfloat16) for k, v in sd.items()}
        folder = os.path.join(OUT, name)
        os.makedirs(folder, exist_ok=True)
        for f in os.listdir(folder):
            os.remove(os.path.join(folder, f))
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(cfg, f, indent=1)
        if name == "llama_sharded":
            names = list(sd)
            half = len(names) // 2
            shards = {"model-00001-of-00002.safetensors": names[:half], "model-00002-of-00002.safetensors": names[half:]}
            for shard, keys in shards.items():
                save_file({k: sd[k] for k in keys}, os.path.join(folder, shard))
            index = {"metadata": {"total_size": sum(v.numel() * 4 for v in sd.values())},
                     "weight_map": {k: s for s, keys in shards.items() for k in keys}}
            with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
                json.dump(index, f, indent=1)
        elif name == "llama_bin":
            torch.save(sd, os.path.join(folder, "pytorch_model.bin"))
        elif name == "gpt2":  # as GPT2LMHeadModel saves it: transformer.* plus the tied lm_head
            named = {f"transformer.{k}": v for k, v in sd.items()}
            named["lm_head.weight"] = sd["wte.weight"]
            save_file(named, os.path.join(folder, "model.safetensors"))
        else:
            save_file(sd, os.path.join(folder, "model.safetensors"))
        if name == "llama_tied":
            tokenizer_files(folder)
        ids, mask = inputs(cfg["vocab_size"], 200 + n)
        with torch.no_grad():
            logits = run(cfg, {k: v.to(torch.float64) for k, v in sd.items()}, ids, mask)
            f32 = run(cfg, {k: v.to(torch.float32) for k, v in sd.items()}, ids, mask)
        gap = (f32.double() - logits)[mask.bool()].abs().max().item()
        save_file({"input.input_ids": ids, "input.attention_mask": mask, "output.logits": logits.to(torch.float32)},
                  os.path.join(folder, "expected.safetensors"))
        back = load_file(os.path.join(folder, "expected.safetensors"))
        assert torch.equal(back["output.logits"], logits.to(torch.float32))
        if name == "mixtral_tied":
            check_ties_lower_index_first(cfg, {k: v.to(torch.float64) for k, v in sd.items()}, ids)
            kcfg, ksd = drop_experts(cfg, sd, [0, 3])
            with torch.no_grad():
                kept = run(kcfg, {k: v.to(torch.float64) for k, v in ksd.items()}, ids, mask)
            save_file({"input.input_ids": ids, "input.attention_mask": mask, "output.logits": kept.to(torch.float32)},
                      os.path.join(folder, "expected-keep-0-3.safetensors"))
        print(f"{name}: logits {tuple(logits.shape)}, float32-vs-float64 gap {gap:.2e}")


if __name__ == "__main__":
    main()
