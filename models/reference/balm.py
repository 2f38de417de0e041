"""PyTorch reference of BALM (arXiv 2308.16713; BEAM-Labs/BALM, MIT) with the official semantics.

Written from reading the official `modeling_balm.py` and `ba_position_embedding.py` (never copied;
`transformers` is not installable here, so this module re-creates the behaviour with plain torch).
Module attribute names follow the official classes so `state_dict()` keys are the official
Hugging Face names (`esm.encoder.layer.N.attention.self.query.weight`, ...), and `save_pretrained`
below lays a folder out as `BALMForMaskedLM.save_pretrained` does (`config.json` + `pytorch_model.bin`).

Behaviours checked against the official code (file: what):
  * ba_position_embedding.py `get_anarci_pos`: position ids are `[0]` + per residue the IMGT number
    (insertion codes below 111 collapse to the base number; 111A..111E -> 129..133, any further 111
    insertion -> 133; 112F..112A -> 134..139, any further 112 insertion -> 134) + 140 for <eos> and
    every padding slot, up to 168, truncated to 168 with the last id set to 140.  -> `position_ids`
  * modeling_balm.py `BALMEmbeddings.__init__`: `position_embeddings = nn.Embedding(max_pos, hidden,
    padding_idx=pad_token_id)`: IMGT position 1 lands on the padding row (row 1), which exists and
    is trained like any other row here (padding_idx only zeroes its gradient in training).
  * `BALMEmbeddings.forward`: word embedding; if `token_dropout`: zero the <mask> rows and scale
    by (1 - 0.15*0.8) / (1 - masked/length) with length = attention_mask.sum(-1); then ALWAYS add
    the absolute position embedding (whatever `position_embedding_type` says); optional
    `emb_layer_norm_before` LayerNorm; multiply by the attention mask.
  * `BALMSelfAttention`: q, k, v Linear; q scaled by head_size**-0.5 before rotary; rotary
    (`position_embedding_type == "rotary"`) on q and k with sequential positions 0..T-1 and the
    rotate_half convention, inv_freq = 1/10000^(arange(0, d, 2)/d); additive mask
    (1 - attention_mask) * finfo.min from `get_extended_attention_mask`; softmax; no dropout at eval.
  * `BALMAttention.forward`: pre-LN (attention.LayerNorm) and the residual on the un-normed input
    (`BALMSelfOutput`: dense + residual).
  * `BALMLayer.feed_forward_chunk`: LayerNorm -> intermediate.dense -> erf GELU -> output.dense + residual.
  * `BALMEncoder`: `emb_layer_norm_after` on the last hidden state.
  * `BALMPreTrainedModel._init_weights`: Linear and Embedding weights N(0, initializer_range),
    zero biases, unit LayerNorms, padding rows zeroed (training starts from this).
  * `BALMLMHead`: dense -> erf GELU -> layer_norm -> decoder (no bias) + bias; the decoder weight
    is tied to the word embeddings (`get_output_embeddings`, `tie_word_embeddings` default true).
"""
from __future__ import annotations

import json
import math
import os

import torch
import torch.nn as nn

VOCAB = ["<cls>", "<pad>", "<eos>", "<unk>", "L", "A", "G", "V", "S", "E", "R", "T", "I", "D", "P",
         "K", "Q", "N", "F", "Y", "M", "H", "W", "C", "X", "B", "U", "Z", "O", ".", "-", "<null_1>", "<mask>"]
CLS, PAD, EOS, UNK, MASK = 0, 1, 2, 3, 32
MAX_LEN = 168
EOS_POSITION = 140
_CDR3_111 = {"A": 129, "B": 130, "C": 131, "D": 132, "E": 133}
_CDR3_112 = {"F": 134, "E": 135, "D": 136, "C": 137, "B": 138, "A": 139}


def position_id(number: int, insertion: str) -> int:
    """IMGT (number, insertion code) -> BALM position id."""
    if not insertion.strip():
        return number
    if number == 111:
        return _CDR3_111.get(insertion, 133)
    if number == 112:
        return _CDR3_112.get(insertion, 134)
    if number < 111:
        return number
    # insertions above 112 do not occur in IMGT; the official code would fail on them
    raise ValueError(f"insertion at IMGT {number}{insertion}")


def chain_tokens(sequence: str, numbering: list[tuple[int, str]]):
    """Token ids and position ids of one chain, unpadded: <cls> + residues + <eos>, at most 168."""
    assert len(sequence) == len(numbering)
    ids = [CLS] + [VOCAB.index(a) if a in VOCAB else UNK for a in sequence] + [EOS]
    pos = [0] + [position_id(n, i) for n, i in numbering] + [EOS_POSITION]
    if len(ids) > MAX_LEN:  # the tokenizer truncates to max_length keeping <eos>; ids keep 140 last
        ids = ids[: MAX_LEN - 1] + [EOS]
        pos = pos[: MAX_LEN - 1] + [EOS_POSITION]
    return ids, pos


def encode(sequence: str, numbering: list[tuple[int, str]], length: int = MAX_LEN):
    """Token ids, position ids and attention mask for one chain, padded to `length`."""
    ids, pos = chain_tokens(sequence, numbering)
    pad = length - len(ids)
    return ids + [PAD] * pad, pos + [EOS_POSITION] * pad, [1] * len(ids) + [0] * pad


def gelu(x: torch.Tensor) -> torch.Tensor:
    return x * 0.5 * (1.0 + torch.erf(x / math.sqrt(2.0)))


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    a, b = x.chunk(2, dim=-1)
    return torch.cat((-b, a), dim=-1)


class Rotary(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.register_buffer("inv_freq", 1.0 / (10000 ** (torch.arange(0, dim, 2).float() / dim)))

    def forward(self, q: torch.Tensor, k: torch.Tensor):
        t = torch.arange(k.shape[-2], dtype=self.inv_freq.dtype)
        freqs = torch.outer(t, self.inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1).to(q.dtype)
        cos, sin = emb.cos()[None, None], emb.sin()[None, None]
        return q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin


class SelfAttention(nn.Module):
    def __init__(self, c: dict):
        super().__init__()
        h = c["hidden_size"]
        self.heads = c["num_attention_heads"]
        self.head = h // self.heads
        self.query, self.key, self.value = nn.Linear(h, h), nn.Linear(h, h), nn.Linear(h, h)
        self.rotary_embeddings = Rotary(self.head) if c.get("position_embedding_type") == "rotary" else None

    def split(self, x):
        b, s, _ = x.shape
        return x.view(b, s, self.heads, self.head).permute(0, 2, 1, 3)

    def forward(self, x, bias):
        q = self.split(self.query(x)) * self.head ** -0.5
        k, v = self.split(self.key(x)), self.split(self.value(x))
        if self.rotary_embeddings is not None:
            q, k = self.rotary_embeddings(q, k)
        p = torch.softmax(q @ k.transpose(-1, -2) + bias, dim=-1)
        o = (p @ v).permute(0, 2, 1, 3)
        return o.reshape(o.shape[0], o.shape[1], -1)


class Dense(nn.Module):
    def __init__(self, i: int, o: int):
        super().__init__()
        self.dense = nn.Linear(i, o)


class AttentionBlock(nn.Module):
    def __init__(self, c: dict):
        super().__init__()
        self.self = SelfAttention(c)
        self.output = Dense(c["hidden_size"], c["hidden_size"])
        self.LayerNorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])

    def forward(self, x, bias):
        return self.output.dense(self.self(self.LayerNorm(x), bias)) + x


class Layer(nn.Module):
    def __init__(self, c: dict):
        super().__init__()
        self.attention = AttentionBlock(c)
        self.intermediate = Dense(c["hidden_size"], c["intermediate_size"])
        self.output = Dense(c["intermediate_size"], c["hidden_size"])
        self.LayerNorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])

    def forward(self, x, bias):
        a = self.attention(x, bias)
        return self.output.dense(gelu(self.intermediate.dense(self.LayerNorm(a)))) + a


class Embeddings(nn.Module):
    def __init__(self, c: dict):
        super().__init__()
        h = c["hidden_size"]
        self.word_embeddings = nn.Embedding(c["vocab_size"], h, padding_idx=c["pad_token_id"])
        self.position_embeddings = nn.Embedding(c["max_position_embeddings"], h, padding_idx=c["pad_token_id"])
        self.layer_norm = nn.LayerNorm(h, eps=c["layer_norm_eps"]) if c.get("emb_layer_norm_before") else None
        self.register_buffer("position_ids", torch.arange(c["max_position_embeddings"]).expand((1, -1)))
        self.token_dropout = c.get("token_dropout", False)
        self.mask_token_id = c["mask_token_id"]

    def forward(self, ids, pos, mask):
        e = self.word_embeddings(ids)
        if self.token_dropout:
            is_mask = (ids == self.mask_token_id).unsqueeze(-1)
            e = e.masked_fill(is_mask, 0.0)
            observed = (ids == self.mask_token_id).sum(-1).to(e.dtype) / mask.sum(-1).to(e.dtype)
            e = e * (1 - 0.15 * 0.8) / (1 - observed)[:, None, None]
        e = e + self.position_embeddings(pos)
        if self.layer_norm is not None:
            e = self.layer_norm(e)
        return e * mask.unsqueeze(-1).to(e.dtype)


class Encoder(nn.Module):
    def __init__(self, c: dict):
        super().__init__()
        self.layer = nn.ModuleList([Layer(c) for _ in range(c["num_hidden_layers"])])
        self.emb_layer_norm_after = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])


class Esm(nn.Module):
    def __init__(self, c: dict):
        super().__init__()
        self.embeddings = Embeddings(c)
        self.encoder = Encoder(c)


class LMHead(nn.Module):
    def __init__(self, c: dict):
        super().__init__()
        h = c["hidden_size"]
        self.dense = nn.Linear(h, h)
        self.layer_norm = nn.LayerNorm(h, eps=c["layer_norm_eps"])
        self.decoder = nn.Linear(h, c["vocab_size"], bias=False)
        self.bias = nn.Parameter(torch.zeros(c["vocab_size"]))

    def forward(self, x):
        return self.decoder(self.layer_norm(gelu(self.dense(x)))) + self.bias


class BalmForMaskedLM(nn.Module):
    def __init__(self, c: dict):
        super().__init__()
        self.config = c
        self.esm = Esm(c)
        self.lm_head = LMHead(c)
        self.lm_head.decoder.weight = self.esm.embeddings.word_embeddings.weight  # tied
        self.apply(self._init_weights)

    def _init_weights(self, m: nn.Module) -> None:
        """As BALMPreTrainedModel._init_weights: N(0, initializer_range) weights, zero biases,
        unit LayerNorms, and the padding row of each embedding zeroed."""
        std = self.config.get("initializer_range", 0.02)
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, 0.0, std)
            if m.padding_idx is not None:
                with torch.no_grad():
                    m.weight[m.padding_idx].zero_()
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    def forward(self, ids, pos, mask):
        """Returns (logits [B, L, V], last hidden state [B, L, D])."""
        x = self.esm.embeddings(ids, pos, mask)
        bias = (1.0 - mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        for layer in self.esm.encoder.layer:
            x = layer(x, bias)
        x = self.esm.encoder.emb_layer_norm_after(x)
        return self.lm_head(x), x


def esm_config(**overrides) -> dict:
    """An EsmConfig dict as `save_pretrained` writes it (fields BALM reads, plus the usual ones)."""
    c = {
        "architectures": ["BALMForMaskedLM"],
        "model_type": "esm",
        "vocab_size": 33,
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 64,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0,
        "max_position_embeddings": 172,
        "initializer_range": 0.02,
        "layer_norm_eps": 1e-5,
        "position_embedding_type": "rotary",
        "use_cache": True,
        "emb_layer_norm_before": False,
        "token_dropout": True,
        "pad_token_id": 1,
        "mask_token_id": 32,
        "is_folding_model": False,
        "torch_dtype": "float32",
        "transformers_version": "4.28.1",
    }
    c.update(overrides)
    return c


def save_pretrained(model: BalmForMaskedLM, folder: str) -> None:
    """config.json + pytorch_model.bin, as transformers' save_pretrained writes a .bin checkpoint."""
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(model.config, f, indent=2, sort_keys=True)
        f.write("\n")
    torch.save(model.state_dict(), os.path.join(folder, "pytorch_model.bin"))
