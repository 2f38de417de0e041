"""PyTorch reference of balmkit's shared transformer blocks (src/nn).

Plain, readable PyTorch in the spirit of llama2.c / nanoGPT. It is the independent implementation
the TypeScript ONNX graphs are tested against (test/fixtures/nn, made by make_nn_fixtures.py) and
the PyTorch side of bench/encoder.ts (bench/encoder_torch.py). Module attribute names are chosen
so that `state_dict()` keys are exactly the weight names balmkit loads:

  encoder: embed.weight [V, D]
           layers.{i}.attn_norm.{weight,bias}
           layers.{i}.attn.{q_proj,k_proj,v_proj,o_proj}.{weight,bias}
           layers.{i}.mlp_norm.{weight,bias}
           layers.{i}.mlp.{fc1,fc2}.{weight,bias}
           final_norm.{weight,bias}                     (pre-LN only)
  decoder: embed.weight [V, D]
           layers.{i}.attn_norm.weight
           layers.{i}.attn.{q_proj,k_proj,v_proj,o_proj}.weight
           layers.{i}.mlp_norm.weight
           layers.{i}.mlp.{gate_proj,up_proj,down_proj}.weight
           final_norm.weight
           lm_head.weight [V, D]

Every Linear weight is [out, in] (torch layout): y = x @ W^T + b.

Conventions (see README.md for the long form):
  * rotary "half" (GPT-NeoX / Llama / ESM): out = x*cos + rotate_half(x)*sin, rotate_half(x) =
    cat(-x[..., d/2:], x[..., :d/2]), cos/sin = cat(freqs, freqs) over the last axis.
  * rotary "interleaved" (GPT-J): pairs (2i, 2i+1) are rotated by angle pos * inv_freq[i].
  * inv_freq[i] = theta^(-2i/d), i = 0..d/2-1, d = rotary_dim = head_dim; positions are explicit
    integer tensors [B, S].
  * attention mask (boolean "allowed", turned into an additive 0 / -inf mask):
      variant "full":     key is not padding, and (decoder) key position <= query position.
      variant "diagonal": key position == query position, and nothing else. The key-padding mask
                          is NOT applied in this variant, so a padded query row attends to its own
                          (padded) key; every row therefore has exactly one allowed key.
  * GQA: KV head j serves query heads j*r .. j*r + r - 1, r = num_heads / num_kv_heads.
  * softmax runs in float32 or wider (float64 stays float64).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F


# ----------------------------------------------------------------------------------------------
# config


@dataclass
class Config:
    vocab: int
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    ffn: int
    norm: str = "pre"  # "pre" | "post" (encoder); the decoder is always pre-norm (RMSNorm)
    rotary: str | None = None  # None | "half" | "interleaved"
    theta: float = 10000.0
    eps: float = 1e-5  # LayerNorm eps (encoder) or RMSNorm eps (decoder, 1e-6)
    causal: bool = False

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    @staticmethod
    def from_dict(d: dict) -> "Config":
        keys = Config.__dataclass_fields__.keys()
        return Config(**{k: d[k] for k in keys if k in d})

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in Config.__dataclass_fields__.keys()}


# ----------------------------------------------------------------------------------------------
# norms


def LayerNorm(dim: int, eps: float = 1e-5) -> nn.LayerNorm:
    """(x - mean) / sqrt(var + eps) * weight + bias, biased variance over the last axis."""
    return nn.LayerNorm(dim, eps=eps)


class RMSNorm(nn.Module):
    """x * rsqrt(mean(x^2) + eps) * weight (Llama). Weight only, no bias."""

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


# ----------------------------------------------------------------------------------------------
# MLPs


class GeluMLP(nn.Module):
    """fc2(gelu(fc1(x))), exact (erf) GELU, biases on."""

    def __init__(self, dim: int, ffn: int, bias: bool = True):
        super().__init__()
        self.fc1 = nn.Linear(dim, ffn, bias=bias)
        self.fc2 = nn.Linear(ffn, dim, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class SwiGLUMLP(nn.Module):
    """down(silu(gate(x)) * up(x)) (Llama), no biases."""

    def __init__(self, dim: int, ffn: int):
        super().__init__()
        self.gate_proj = nn.Linear(dim, ffn, bias=False)
        self.up_proj = nn.Linear(dim, ffn, bias=False)
        self.down_proj = nn.Linear(ffn, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


# ----------------------------------------------------------------------------------------------
# rotary position embedding


def rotary_cos_sin(positions: torch.Tensor, dim: int, theta: float, dtype: torch.dtype):
    """cos, sin of the angles pos * inv_freq, shape [B, S, dim/2].

    inv_freq[i] = theta^(-(2i)/dim). Angles are computed in float64 and cast to `dtype`.
    """
    inv_freq = theta ** (-(torch.arange(0, dim, 2, dtype=torch.float64) / dim))  # [dim/2]
    angles = positions.to(torch.float64)[..., None] * inv_freq  # [B, S, dim/2]
    return angles.cos().to(dtype), angles.sin().to(dtype)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary(x: torch.Tensor, positions: torch.Tensor, style: str, theta: float) -> torch.Tensor:
    """Rotate x [B, H, S, d] by its positions [B, S]; style "half" or "interleaved"."""
    d = x.shape[-1]
    cos, sin = rotary_cos_sin(positions, d, theta, x.dtype)
    cos, sin = cos[:, None], sin[:, None]  # [B, 1, S, d/2], broadcast over heads
    if style == "half":
        cos, sin = torch.cat((cos, cos), -1), torch.cat((sin, sin), -1)
        return x * cos + rotate_half(x) * sin
    if style == "interleaved":
        x0, x1 = x[..., 0::2], x[..., 1::2]  # pairs (2i, 2i+1)
        out0 = x0 * cos - x1 * sin
        out1 = x0 * sin + x1 * cos
        return torch.stack((out0, out1), dim=-1).flatten(-2)
    raise ValueError(f"rotary style {style!r}: expected 'half' or 'interleaved'")


# ----------------------------------------------------------------------------------------------
# attention


def build_attention_mask(
    q_pos: torch.Tensor,
    k_pos: torch.Tensor,
    key_valid: torch.Tensor | None,
    causal: bool,
    variant: str,
    dtype: torch.dtype,
) -> torch.Tensor:
    """Additive mask [B, 1, Sq, Sk] of 0 (allowed) / -inf (masked).

    q_pos [B, Sq] and k_pos [B, Sk] are absolute positions; key_valid [B, Sk] is 1 for a token and
    0 for padding (None: all valid).
    """
    qp, kp = q_pos[:, :, None], k_pos[:, None, :]  # [B, Sq, 1], [B, 1, Sk]
    if variant == "full":
        allowed = torch.ones(qp.shape[0], qp.shape[1], kp.shape[2], dtype=torch.bool)
        if key_valid is not None:
            allowed = allowed & key_valid.bool()[:, None, :]
        if causal:
            allowed = allowed & (kp <= qp)
    elif variant == "diagonal":
        # Each query sees only the key at its own absolute position (causal trivially holds).
        # The key-padding mask is deliberately not applied: a padded query keeps its own key.
        allowed = kp == qp
    else:
        raise ValueError(f"attention variant {variant!r}: expected 'full' or 'diagonal'")
    mask = torch.zeros(allowed.shape, dtype=dtype).masked_fill(~allowed, float("-inf"))
    return mask[:, None]


class Attention(nn.Module):
    def __init__(
        self,
        dim: int,
        num_heads: int,
        num_kv_heads: int | None = None,
        bias: bool = True,
        rotary: str | None = None,
        theta: float = 10000.0,
    ):
        super().__init__()
        self.num_heads = num_heads
        self.num_kv_heads = num_kv_heads or num_heads
        assert dim % num_heads == 0 and num_heads % self.num_kv_heads == 0
        self.head_dim = dim // num_heads
        self.rotary, self.theta = rotary, theta
        kv_dim = self.num_kv_heads * self.head_dim
        self.q_proj = nn.Linear(dim, dim, bias=bias)
        self.k_proj = nn.Linear(dim, kv_dim, bias=bias)
        self.v_proj = nn.Linear(dim, kv_dim, bias=bias)
        self.o_proj = nn.Linear(dim, dim, bias=bias)

    def forward(self, x, positions, mask, past: tuple | None = None):
        """x [B, S, D], positions [B, S], mask [B, 1, S, T_past + S].

        past: (k, v) of earlier positions, each [B, Hkv, T_past, hd] (post-rotary).
        Returns (out [B, S, D], (k, v) including this step) -- the new cache entry.
        """
        B, S, _ = x.shape
        hd = self.head_dim
        q = self.q_proj(x).view(B, S, self.num_heads, hd).transpose(1, 2)  # [B, H, S, hd]
        k = self.k_proj(x).view(B, S, self.num_kv_heads, hd).transpose(1, 2)  # [B, Hkv, S, hd]
        v = self.v_proj(x).view(B, S, self.num_kv_heads, hd).transpose(1, 2)
        if self.rotary is not None:
            q = apply_rotary(q, positions, self.rotary, self.theta)
            k = apply_rotary(k, positions, self.rotary, self.theta)
        if past is not None:
            k = torch.cat((past[0], k), dim=2)
            v = torch.cat((past[1], v), dim=2)
        present = (k, v)

        # GQA: repeat each KV head for its group of consecutive query heads (Llama's repeat_kv).
        rep = self.num_heads // self.num_kv_heads
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)

        scores = (q @ k.transpose(-1, -2)) / math.sqrt(hd) + mask  # [B, H, S, T]
        wide = torch.promote_types(scores.dtype, torch.float32)
        probs = torch.softmax(scores.to(wide), dim=-1).to(q.dtype)
        out = (probs @ v).transpose(1, 2).reshape(B, S, self.num_heads * hd)
        return self.o_proj(out), present


# ----------------------------------------------------------------------------------------------
# encoder (BERT / ESM style)


class EncoderLayer(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.norm = cfg.norm
        assert self.norm in ("pre", "post"), f"norm {cfg.norm!r}: expected 'pre' or 'post'"
        self.attn_norm = LayerNorm(cfg.hidden, cfg.eps)
        self.attn = Attention(cfg.hidden, cfg.heads, cfg.kv_heads, True, cfg.rotary, cfg.theta)
        self.mlp_norm = LayerNorm(cfg.hidden, cfg.eps)
        self.mlp = GeluMLP(cfg.hidden, cfg.ffn)

    def forward(self, x, positions, mask):
        if self.norm == "pre":
            x = x + self.attn(self.attn_norm(x), positions, mask)[0]
            x = x + self.mlp(self.mlp_norm(x))
        else:  # post-LN (BERT)
            x = self.attn_norm(x + self.attn(x, positions, mask)[0])
            x = self.mlp_norm(x + self.mlp(x))
        return x


class Encoder(nn.Module):
    """embed -> layers -> final LayerNorm (pre-LN only). Returns hidden states [B, S, D]."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab, cfg.hidden)
        self.layers = nn.ModuleList(EncoderLayer(cfg) for _ in range(cfg.layers))
        self.final_norm = LayerNorm(cfg.hidden, cfg.eps) if cfg.norm == "pre" else None

    def forward(self, input_ids, attention_mask=None, variant: str = "full"):
        B, S = input_ids.shape
        positions = torch.arange(S).expand(B, S)
        x = self.embed(input_ids)
        mask = build_attention_mask(positions, positions, attention_mask, self.cfg.causal, variant,
                                    x.dtype)
        for layer in self.layers:
            x = layer(x, positions, mask)
        if self.final_norm is not None:
            x = self.final_norm(x)
        return x



# ----------------------------------------------------------------------------------------------
# decoder (Llama style) with a KV cache


@dataclass
class KVCache:
    """What a decoder has seen: key positions and validity [B, T], and per layer (k, v).

    k and v are [B, Hkv, T, hd], k after rotary.
    """

    positions: torch.Tensor
    key_valid: torch.Tensor
    layers: list = field(default_factory=list)

    @property
    def length(self) -> int:
        return self.positions.shape[1]


class DecoderLayer(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.attn_norm = RMSNorm(cfg.hidden, cfg.eps)
        self.attn = Attention(cfg.hidden, cfg.heads, cfg.kv_heads, False, cfg.rotary, cfg.theta)
        self.mlp_norm = RMSNorm(cfg.hidden, cfg.eps)
        self.mlp = SwiGLUMLP(cfg.hidden, cfg.ffn)

    def forward(self, x, positions, mask, past=None):
        h, present = self.attn(self.attn_norm(x), positions, mask, past)
        x = x + h
        x = x + self.mlp(self.mlp_norm(x))
        return x, present


class Decoder(nn.Module):
    """embed -> layers -> final RMSNorm -> lm_head. Returns (logits [B, S, V], KVCache)."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab, cfg.hidden)
        self.layers = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.layers))
        self.final_norm = RMSNorm(cfg.hidden, cfg.eps)
        self.lm_head = nn.Linear(cfg.hidden, cfg.vocab, bias=False)

    def forward(self, input_ids, positions, attention_mask=None, variant="full",
                past_kv: KVCache | None = None):
        """input_ids, positions [B, S] int64; attention_mask [B, S] of 1/0 for the new tokens.

        past_kv: the cache returned by an earlier call (None: nothing seen yet).
        """
        B, S = input_ids.shape
        valid = torch.ones(B, S, dtype=torch.long) if attention_mask is None else attention_mask.long()
        if past_kv is None:
            k_pos, k_valid = positions, valid
        else:
            k_pos = torch.cat((past_kv.positions, positions), dim=1)
            k_valid = torch.cat((past_kv.key_valid, valid), dim=1)
        x = self.embed(input_ids)
        mask = build_attention_mask(positions, k_pos, k_valid, self.cfg.causal, variant, x.dtype)
        present = KVCache(k_pos, k_valid)
        for i, layer in enumerate(self.layers):
            x, kv = layer(x, positions, mask, None if past_kv is None else past_kv.layers[i])
            present.layers.append(kv)
        return self.lm_head(self.final_norm(x)), present
