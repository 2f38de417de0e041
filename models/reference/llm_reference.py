"""PyTorch reference of the causal LMs balmkit loads from Hugging Face folders (src/llm).

Written from reading transformers' public modeling files (not copied; transformers is not
installed here), one behaviour per place:

  modeling_llama.py (huggingface/transformers, src/transformers/models/llama/)
    LlamaRMSNorm            x * rsqrt(mean(x^2) + eps) * weight, computed in float32 or wider
    LlamaRotaryEmbedding    inv_freq from ROPE_INIT_FUNCTIONS[rope_type]; freqs = pos * inv_freq;
                            emb = cat(freqs, freqs); cos/sin of emb
    rotate_half, apply_rotary_pos_emb
                            q * cos + rotate_half(q) * sin ("half" pairing i, i + d/2)
    LlamaMLP                down_proj(act(gate_proj(x)) * up_proj(x)), act = silu
    repeat_kv               KV head j serves query heads j*G .. j*G+G-1
    eager_attention_forward q k^T * head_dim^-0.5 + mask, softmax in float32, @ v
    LlamaAttention          q/k/v/o projections with bias=config.attention_bias
    LlamaDecoderLayer       x += attn(input_layernorm(x)); x += mlp(post_attention_layernorm(x))
    LlamaModel / LlamaForCausalLM
                            embed_tokens -> layers -> norm -> lm_head; lm_head tied to
                            embed_tokens when tie_word_embeddings
  modeling_rope_utils.py    _compute_default_rope_parameters (inv_freq = theta^(-2i/d)),
                            _compute_linear_scaling_rope_parameters (inv_freq / factor),
                            _compute_llama3_parameters (wavelength bands: keep high frequencies,
                            divide low ones by factor, interpolate between with smooth_factor)
  modeling_qwen2.py         Qwen2Attention: q/k/v projections with bias, o_proj without
  masking_utils.py          causal_mask_function (kv <= q), sliding_window_overlay
                            (kv > q - sliding_window) for Mistral, padding_mask_function
  models/mistral/modeling_mistral.py
                            the Llama layer with the sliding-window mask
  models/mixtral/modeling_mixtral.py
    MixtralSparseMoeBlock   router_logits = gate(x); softmax in float32; topk(num_experts_per_tok)
                            (ties to the lower index here: see top_k_lower_index_first);
                            weights /= their sum; output = sum of weight * expert(x)
    MixtralBlockSparseTop2MLP
                            w2(silu(w1(x)) * w3(x))
  models/gpt2/modeling_gpt2.py
    Conv1D                  y = x @ W + b with W stored [in, out]
    GPT2Attention           c_attn -> split into q, k, v; scores / sqrt(head_dim); causal mask;
                            softmax; c_proj
    GPT2MLP                 c_proj(gelu_new(c_fc(x))), gelu_new = ACT2FN["gelu_new"] (tanh form)
    GPT2Block               x += attn(ln_1(x)); x += mlp(ln_2(x))
    GPT2Model / GPT2LMHeadModel
                            wte(ids) + wpe(position_ids) -> blocks -> ln_f -> lm_head tied to wte
  generation (prepare_inputs_for_generation): position_ids = cumsum(attention_mask) - 1 for
                            left-padded rows

Tensor names are the checkpoints' own (model.layers.{i}.self_attn.q_proj.weight, ...). Runs in
any dtype; the fixtures run it in float64 on float32 weights.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def inv_freq_for(cfg: dict, head_dim: int) -> torch.Tensor:
    """modeling_rope_utils.py: default, linear and llama3 inverse frequencies, float64."""
    theta = cfg.get("rope_theta", 10000.0)
    inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))
    rs = cfg.get("rope_scaling") or None
    if rs is None:
        return inv
    kind = rs.get("rope_type", rs.get("type", "default"))
    if kind == "default":
        return inv
    if kind == "linear":
        return inv / rs["factor"]
    if kind == "llama3":
        factor, low, high = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
        old = rs["original_max_position_embeddings"]
        low_wavelen, high_wavelen = old / low, old / high
        wavelen = 2 * math.pi / inv
        scaled = torch.where(wavelen > low_wavelen, inv / factor, inv)
        smooth = (old / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = ~(wavelen < high_wavelen) & ~(wavelen > low_wavelen)
        return torch.where(medium, smoothed, scaled)
    raise ValueError(f"rope_scaling type {kind!r} not in this reference")


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def linear(x, sd, name, bias: bool):
    y = x @ sd[name + ".weight"].T
    y = y + sd[name + ".bias"] if bias else y
    # PEFT's LoraLayer.forward (peft/tuners/lora/layer.py, Linear.forward): result +=
    # lora_B(lora_A(dropout(x))) * scaling, unmerged; dropout is the identity at inference.
    for a, b, scaling in sd.get("__lora__", {}).get(name, []):
        y = y + (x @ a.T) @ b.T * scaling
    return y


def forward(cfg: dict, sd: dict, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Logits [B, S, V] for left-padded input_ids [B, S] with attention_mask [B, S] (1 token, 0 pad)."""
    arch = cfg["model_type"]
    dt = next(iter(sd.values())).dtype
    B, S = input_ids.shape
    H = cfg["num_attention_heads"]
    KV = cfg.get("num_key_value_heads") or H
    hd = cfg.get("head_dim") or cfg["hidden_size"] // H
    eps = cfg.get("rms_norm_eps", 1e-6)
    qkv_bias = arch == "qwen2" or cfg.get("attention_bias", False)
    o_bias = arch != "qwen2" and cfg.get("attention_bias", False)
    window = cfg.get("sliding_window") if arch == "mistral" else None

    positions = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)  # [B, S]
    angles = positions.to(torch.float64)[..., None] * inv_freq_for(cfg, hd)  # [B, S, hd/2]
    emb = torch.cat((angles, angles), dim=-1)
    cos, sin = emb.cos().to(dt)[:, None], emb.sin().to(dt)[:, None]  # [B, 1, S, hd]

    q_idx = torch.arange(S)[:, None]
    k_idx = torch.arange(S)[None, :]
    allowed = (k_idx <= q_idx)[None] & attention_mask.bool()[:, None, :]  # [B, S, S]
    if window is not None:
        allowed = allowed & (k_idx > q_idx - window)[None]
    bias = torch.zeros(B, 1, S, S, dtype=dt).masked_fill(~allowed[:, None], float("-inf"))
    # A left-padded query row sees nothing; give it its own slot so softmax stays finite
    # (those rows are not compared).
    empty = ~allowed.any(-1)  # [B, S]
    bias[:, 0][empty] = 0.0

    experts = cfg.get("num_local_experts") if arch == "mixtral" else None
    if arch == "mixtral":
        window = cfg.get("sliding_window")
        if window is not None:
            allowed = allowed & (k_idx > q_idx - window)[None]
            bias = torch.zeros(B, 1, S, S, dtype=dt).masked_fill(~allowed[:, None], float("-inf"))
            bias[:, 0][~allowed.any(-1)] = 0.0

    x = sd["model.embed_tokens.weight"][input_ids]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        h = rms_norm(x, sd[p + "input_layernorm.weight"], eps)
        q = linear(h, sd, p + "self_attn.q_proj", qkv_bias).view(B, S, H, hd).transpose(1, 2)
        k = linear(h, sd, p + "self_attn.k_proj", qkv_bias).view(B, S, KV, hd).transpose(1, 2)
        v = linear(h, sd, p + "self_attn.v_proj", qkv_bias).view(B, S, KV, hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(H // KV, dim=1)
        v = v.repeat_interleave(H // KV, dim=1)
        scores = (q @ k.transpose(-1, -2)) * hd**-0.5 + bias
        probs = torch.softmax(scores.to(torch.promote_types(dt, torch.float32)), dim=-1).to(dt)
        a = (probs @ v).transpose(1, 2).reshape(B, S, H * hd)
        x = x + linear(a, sd, p + "self_attn.o_proj", o_bias)
        h = rms_norm(x, sd[p + "post_attention_layernorm.weight"], eps)
        if experts:
            x = x + moe(cfg, sd, p + "block_sparse_moe.", h)
        else:
            gate = F.silu(linear(h, sd, p + "mlp.gate_proj", False))
            x = x + linear(gate * linear(h, sd, p + "mlp.up_proj", False), sd, p + "mlp.down_proj", False)
    x = rms_norm(x, sd["model.norm.weight"], eps)
    head = sd["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings", False) else sd["lm_head.weight"]
    return x @ head.T


def top_k_lower_index_first(probs: torch.Tensor, k: int):
    """The k largest along the last axis, ties to the lower index (ONNX TopK's rule). torch.topk
    leaves the order of ties unspecified: on this CPU build it returns the higher index first, so
    transformers' Mixtral (torch.topk) can pick other experts than balmkit on an exact tie. Exact
    ties need equal router rows; on trained routers they do not happen."""
    chosen = torch.argsort(-probs, dim=-1, stable=True)[..., :k]
    return probs.gather(-1, chosen), chosen


def moe(cfg: dict, sd: dict, p: str, h: torch.Tensor) -> torch.Tensor:
    """MixtralSparseMoeBlock, token by token over the selected experts (sparse, as transformers does)."""
    E, k = cfg["num_local_experts"], cfg["num_experts_per_tok"]
    B, S, D = h.shape
    flat = h.reshape(-1, D)
    router = torch.softmax((flat @ sd[p + "gate.weight"].T).to(torch.promote_types(flat.dtype, torch.float32)), dim=-1)
    weights, chosen = top_k_lower_index_first(router, k)
    weights = (weights / weights.sum(-1, keepdim=True)).to(flat.dtype)
    out = torch.zeros_like(flat)
    for e in range(E):
        rows, slot = (chosen == e).nonzero(as_tuple=True)
        if rows.numel() == 0:
            continue
        x = flat[rows]
        q = p + f"experts.{e}."
        y = (F.silu(x @ sd[q + "w1.weight"].T) * (x @ sd[q + "w3.weight"].T)) @ sd[q + "w2.weight"].T
        out.index_add_(0, rows, y * weights[rows, slot, None])
    return out.reshape(B, S, D)


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))


def gpt2_forward(cfg: dict, sd: dict, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """GPT2LMHeadModel logits for left-padded input_ids with attention_mask (see forward())."""
    dt = sd["wte.weight"].dtype
    B, S = input_ids.shape
    H, D = cfg["n_head"], cfg["n_embd"]
    hd = D // H
    eps = cfg.get("layer_norm_epsilon", 1e-5)
    positions = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
    q_idx, k_idx = torch.arange(S)[:, None], torch.arange(S)[None, :]
    allowed = (k_idx <= q_idx)[None] & attention_mask.bool()[:, None, :]
    bias = torch.zeros(B, 1, S, S, dtype=dt).masked_fill(~allowed[:, None], float("-inf"))
    bias[:, 0][~allowed.any(-1)] = 0.0
    ln = lambda x, n: F.layer_norm(x, (D,), sd[n + ".weight"], sd[n + ".bias"], eps)  # noqa: E731
    conv1d = lambda x, n: x @ sd[n + ".weight"] + sd[n + ".bias"]  # noqa: E731  (weight [in, out])
    x = sd["wte.weight"][input_ids] + sd["wpe.weight"][positions]
    for i in range(cfg["n_layer"]):
        p = f"h.{i}."
        qkv = conv1d(ln(x, p + "ln_1"), p + "attn.c_attn")
        q, k, v = (t.view(B, S, H, hd).transpose(1, 2) for t in qkv.split(D, dim=-1))
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(hd) + bias
        probs = torch.softmax(scores.to(torch.promote_types(dt, torch.float32)), dim=-1).to(dt)
        a = (probs @ v).transpose(1, 2).reshape(B, S, D)
        x = x + conv1d(a, p + "attn.c_proj")
        x = x + conv1d(gelu_new(conv1d(ln(x, p + "ln_2"), p + "mlp.c_fc")), p + "mlp.c_proj")
    return ln(x, "ln_f") @ sd["wte.weight"].T
