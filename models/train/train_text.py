"""Training recipe for the small text models: models/text-small (dense Llama) and
models/text-moe-small (the same model upcycled to a Mixtral-style MoE).

Data: prepare_text_corpus.py (train / held-out split by document) tokenised with the folder's
SentencePiece model (train_text_tokenizer.py); each document starts with <s>; documents are
concatenated and cut into windows of --context tokens at a random offset per epoch.

Model: Llama architecture in Hugging Face's tensor names (model.layers.{i}.self_attn.q_proj...,
tie_word_embeddings), RMSNorm, rotary (rotate-half pairing), grouped-query attention, SwiGLU.
With --moe, each layer's MLP becomes block_sparse_moe (Mixtral names): a router `gate` and
`--experts` experts w1/w2/w3, top-`--top-k`, softmax over the selected logits as Mixtral does.

Checkpoints: every --save-minutes the full training state (fp32 weights + AdamW moments) goes to
--work (resume exactly with --resume), and the fp16 Hugging Face folder plus training-state.json
to --out (what is committed; --resume falls back to it, with fresh optimiser moments, when the
work folder is gone -- the next session's case).

Run (Debian torch + OpenBLAS, 2 threads):
  /usr/bin/python3 models/train/train_text.py --corpus /tmp/text-corpus --out models/text-small \
      --work /tmp/text-small-work --minutes 100
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from safetensors_io import load_file, save_file  # noqa: E402


def log(*a) -> None:
    print(time.strftime("%H:%M:%S"), *a, flush=True)


# ---------------------------------------------------------------- model


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class Attention(nn.Module):
    def __init__(self, cfg: dict):
        super().__init__()
        d, h, kv = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
        self.h, self.kv, self.hd = h, kv, d // h
        self.q_proj = nn.Linear(d, h * self.hd, bias=False)
        self.k_proj = nn.Linear(d, kv * self.hd, bias=False)
        self.v_proj = nn.Linear(d, kv * self.hd, bias=False)
        self.o_proj = nn.Linear(h * self.hd, d, bias=False)

    def forward(self, x, cos, sin, mask):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.h, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.kv, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.kv, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        g = self.h // self.kv
        k = k.repeat_interleave(g, dim=1)
        v = v.repeat_interleave(g, dim=1)
        att = (q @ k.transpose(-1, -2)) * (self.hd ** -0.5) + mask
        y = torch.softmax(att, dim=-1) @ v
        return self.o_proj(y.transpose(1, 2).reshape(b, t, -1))


class MLP(nn.Module):
    def __init__(self, d: int, f: int):
        super().__init__()
        self.gate_proj = nn.Linear(d, f, bias=False)
        self.up_proj = nn.Linear(d, f, bias=False)
        self.down_proj = nn.Linear(f, d, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Expert(nn.Module):
    def __init__(self, d: int, f: int):
        super().__init__()
        self.w1 = nn.Linear(d, f, bias=False)
        self.w2 = nn.Linear(f, d, bias=False)
        self.w3 = nn.Linear(d, f, bias=False)

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class SparseMoE(nn.Module):
    """Mixtral's block: softmax over all router logits, top-k, renormalised over the k."""

    def __init__(self, cfg: dict):
        super().__init__()
        d, f = cfg["hidden_size"], cfg["intermediate_size"]
        self.k = cfg["num_experts_per_tok"]
        self.gate = nn.Linear(d, cfg["num_local_experts"], bias=False)
        self.experts = nn.ModuleList(Expert(d, f) for _ in range(cfg["num_local_experts"]))
        self.noise = 0.0
        self.aux = torch.zeros(())

    def forward(self, x):
        shape = x.shape
        x = x.reshape(-1, shape[-1])
        logits = self.gate(x)
        if self.training and self.noise > 0:
            logits = logits + torch.randn_like(logits) * self.noise
        probs = torch.softmax(logits.float(), dim=-1)
        w, idx = torch.topk(probs, self.k, dim=-1)
        w = (w / w.sum(-1, keepdim=True)).to(x.dtype)
        # Switch-style load-balancing loss: E * sum_e (fraction routed to e) * (mean prob of e).
        n_exp = probs.shape[-1]
        routed = F.one_hot(idx, n_exp).float().sum(1).mean(0) / self.k
        self.aux = n_exp * (routed * probs.mean(0)).sum()
        y = torch.zeros_like(x)
        for e, expert in enumerate(self.experts):
            rows, slot = torch.nonzero(idx == e, as_tuple=True)
            if rows.numel() == 0:
                continue
            y.index_add_(0, rows, expert(x[rows]) * w[rows, slot].unsqueeze(-1))
        return y.view(shape)


class Layer(nn.Module):
    def __init__(self, cfg: dict):
        super().__init__()
        d = cfg["hidden_size"]
        self.input_layernorm = RMSNorm(d, cfg["rms_norm_eps"])
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(d, cfg["rms_norm_eps"])
        if cfg.get("num_local_experts"):
            self.block_sparse_moe = SparseMoE(cfg)
        else:
            self.mlp = MLP(d, cfg["intermediate_size"])

    def forward(self, x, cos, sin, mask):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        ff = self.block_sparse_moe if hasattr(self, "block_sparse_moe") else self.mlp
        return x + ff(self.post_attention_layernorm(x))


class Inner(nn.Module):
    def __init__(self, cfg: dict):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg["vocab_size"], cfg["hidden_size"])
        self.layers = nn.ModuleList(Layer(cfg) for _ in range(cfg["num_hidden_layers"]))
        self.norm = RMSNorm(cfg["hidden_size"], cfg["rms_norm_eps"])


class CausalLM(nn.Module):
    def __init__(self, cfg: dict):
        super().__init__()
        self.config = cfg
        self.model = Inner(cfg)
        hd = cfg["hidden_size"] // cfg["num_attention_heads"]
        inv = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
        self.register_buffer("inv_freq", inv.float(), persistent=False)
        nn.init.normal_(self.model.embed_tokens.weight, std=0.02)
        for name, p in self.named_parameters():
            if p.dim() == 2 and "embed" not in name:
                std = 0.02 / math.sqrt(2 * cfg["num_hidden_layers"]) if name.endswith(("o_proj.weight", "down_proj.weight", "w2.weight")) else 0.02
                nn.init.normal_(p, std=std)

    def forward(self, ids):
        b, t = ids.shape
        pos = torch.arange(t, dtype=torch.float32)
        freqs = pos[:, None] * self.inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos()[None, None], emb.sin()[None, None]
        mask = torch.full((t, t), float("-inf")).triu(1)[None, None]
        x = self.model.embed_tokens(ids)
        for layer in self.model.layers:
            x = layer(x, cos, sin, mask)
        x = self.model.norm(x)
        return x @ self.model.embed_tokens.weight.t()  # tied LM head

    def aux_loss(self):
        moes = [l.block_sparse_moe for l in self.model.layers if hasattr(l, "block_sparse_moe")]
        return sum(m.aux for m in moes) / len(moes) if moes else torch.zeros(())


def dense_config(args) -> dict:
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": args.vocab,
        "hidden_size": args.hidden,
        "intermediate_size": args.ffn,
        "num_hidden_layers": args.layers,
        "num_attention_heads": args.heads,
        "num_key_value_heads": args.kv_heads,
        "max_position_embeddings": args.context,
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "hidden_act": "silu",
        "attention_bias": False,
        "mlp_bias": False,
        "tie_word_embeddings": True,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "torch_dtype": "float16",
    }


def upcycle(dense_sd: dict, cfg: dict, experts: int, top_k: int, seed: int) -> tuple[dict, dict]:
    """Mixtral config and weights from a dense model: each expert is a group of the dense FFN's
    hidden units (width = dense / top_k, so top-k experts hold as many active units as the
    dense MLP), groups drawn at random per expert with replacement-free cycling; router random."""
    f = cfg["intermediate_size"]
    width = f // top_k
    moe = dict(cfg, architectures=["MixtralForCausalLM"], model_type="mixtral", intermediate_size=width,
               num_local_experts=experts, num_experts_per_tok=top_k, router_aux_loss_coef=0.01,
               output_router_logits=False)
    gen = torch.Generator().manual_seed(seed)
    sd = {}
    for k, v in dense_sd.items():
        if ".mlp." not in k:
            sd[k] = v
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}"
        gate, up, down = (dense_sd[f"{p}.mlp.{n}_proj.weight"] for n in ("gate", "up", "down"))
        # experts / top_k permutations of the hidden units, each cut into top_k groups
        groups = []
        while len(groups) < experts:
            perm = torch.randperm(f, generator=gen)
            groups += [perm[j * width:(j + 1) * width] for j in range(top_k)]
        for e, g in enumerate(groups[:experts]):
            q = f"{p}.block_sparse_moe.experts.{e}"
            # scale by top_k: a token's output sums top_k experts with weights summing to 1
            sd[f"{q}.w1.weight"] = gate[g].clone()
            sd[f"{q}.w3.weight"] = up[g].clone()
            sd[f"{q}.w2.weight"] = down[:, g].clone() * top_k
        sd[f"{p}.block_sparse_moe.gate.weight"] = torch.randn(experts, cfg["hidden_size"], generator=gen) * 0.02
    return moe, sd


# ---------------------------------------------------------------- data


def tokenize(corpus: str, tokenizer: str, split: str, cache: str) -> torch.Tensor:
    path = os.path.join(cache, f"{split}.ids.pt")
    if os.path.exists(path):
        return torch.load(path)
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=tokenizer)
    with open(os.path.join(corpus, f"{split}.txt"), encoding="utf-8") as f:
        docs = f.read().split("\n\f\n")
    ids: list[int] = []
    for d in docs:
        ids.append(1)
        ids += sp.encode(d.strip("\n"))
    t = torch.tensor(ids, dtype=torch.int16 if sp.get_piece_size() < 32768 else torch.int32)
    os.makedirs(cache, exist_ok=True)
    torch.save(t, path)
    return t


def windows(n_tokens: int, context: int, rng: random.Random) -> list[int]:
    off = rng.randrange(context)
    starts = list(range(off, n_tokens - context - 1, context))
    rng.shuffle(starts)
    return starts


@torch.no_grad()
def evaluate(model, ids: torch.Tensor, context: int, batch: int = 8) -> float:
    """Held-out cross-entropy (nats/token) over non-overlapping windows from offset 0."""
    model.eval()
    starts = list(range(0, len(ids) - context - 1, context))
    total, count = 0.0, 0
    for i in range(0, len(starts), batch):
        x = torch.stack([ids[s:s + context + 1].long() for s in starts[i:i + batch]])
        logits = model(x[:, :-1])
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1), reduction="sum").item()
        count += x[:, 1:].numel()
    model.train()
    return total / count


# ---------------------------------------------------------------- checkpoints


def export(model: CausalLM, out: str, state: dict) -> None:
    os.makedirs(out, exist_ok=True)
    cfg = dict(model.config)
    with open(os.path.join(out, "config.json.tmp"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(os.path.join(out, "config.json.tmp"), os.path.join(out, "config.json"))
    sd = {k: v.detach().half() for k, v in model.state_dict().items()}
    save_file(sd, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(out, "training-state.json.tmp"), "w") as f:
        json.dump(state, f, indent=2)
        f.write("\n")
    os.replace(os.path.join(out, "training-state.json.tmp"), os.path.join(out, "training-state.json"))


def save_work(model, opt, state: dict, work: str) -> None:
    os.makedirs(work, exist_ok=True)
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "state": state, "config": model.config},
               os.path.join(work, "checkpoint.pt.tmp"))
    os.replace(os.path.join(work, "checkpoint.pt.tmp"), os.path.join(work, "checkpoint.pt"))


# ---------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--work", required=True, help="full checkpoints (fp32 + optimiser), never committed")
    ap.add_argument("--tokenizer", help="SentencePiece model (default: OUT/tokenizer.model)")
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--ffn", type=int, default=640)
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--kv-heads", type=int, default=4)
    ap.add_argument("--context", type=int, default=1024)
    ap.add_argument("--step-tokens", type=int, default=8192, help="tokens per step (windows x window length)")
    ap.add_argument("--short-context", type=int, default=256,
                    help="window length for the first --short-fraction of the steps (attention's T^2 cost "
                         "dominates a step at 1,024 here); the rest trains at the full context")
    ap.add_argument("--short-fraction", type=float, default=0.8)
    ap.add_argument("--tokens", type=float, default=12e6, help="planned training tokens of this run")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--min-lr", type=float, default=1e-4)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--minutes", type=float, default=60.0, help="stop (and save) after this wall time")
    ap.add_argument("--save-minutes", type=float, default=10.0)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--moe-from", help="upcycle: dense folder to start the MoE from (implies Mixtral)")
    ap.add_argument("--continue-from",
                    help="dense folder to keep training with a fresh schedule: the control run the upcycled "
                         "MoE is compared with (same additional tokens, same schedule)")
    ap.add_argument("--experts", type=int, default=8)
    ap.add_argument("--top-k", type=int, default=2)
    ap.add_argument("--router-noise", type=float, default=0.1, help="std of the noise on router logits (training)")
    ap.add_argument("--aux-weight", type=float, default=0.01, help="load-balancing loss weight")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    source = args.moe_from or args.continue_from
    tokenizer = args.tokenizer or os.path.join(source or args.out, "tokenizer.model")
    train_ids = tokenize(args.corpus, tokenizer, "train", args.work)
    held_ids = tokenize(args.corpus, tokenizer, "heldout", args.work)
    log(f"tokens: train {len(train_ids):,}, held-out {len(held_ids):,}")

    ckpt = os.path.join(args.work, "checkpoint.pt")
    opt_state = None
    if args.resume and os.path.exists(ckpt):
        c = torch.load(ckpt)
        cfg, state, opt_state = c["config"], c["state"], c["opt"]
        model = CausalLM(cfg)
        model.load_state_dict(c["model"])
        log(f"resumed exactly at step {state['step']} from {ckpt}")
    elif args.resume:
        with open(os.path.join(args.out, "config.json")) as f:
            cfg = json.load(f)
        with open(os.path.join(args.out, "training-state.json")) as f:
            state = json.load(f)
        model = CausalLM(cfg)
        model.load_state_dict({k: v.float() for k, v in load_file(os.path.join(args.out, "model.safetensors")).items()})
        state["restarts"] = state.get("restarts", []) + [state["step"]]
        log(f"resumed at step {state['step']} from the fp16 folder (fresh optimiser moments)")
    elif source:
        with open(os.path.join(source, "config.json")) as f:
            dense_cfg = json.load(f)
        dense_sd = {k: v.float() for k, v in load_file(os.path.join(source, "model.safetensors")).items()}
        if args.moe_from:
            cfg, sd = upcycle(dense_sd, dense_cfg, args.experts, args.top_k, args.seed)
        else:
            cfg, sd = dense_cfg, dense_sd
        model = CausalLM(cfg)
        model.load_state_dict(sd)
        with open(os.path.join(source, "training-state.json")) as f:
            dense_state = json.load(f)
        state = {"step": 0, "tokens": 0, "seed": args.seed, "epoch": 0, "losses": [],
                 "upcycled_from" if args.moe_from else "continued_from": {
                     "folder": os.path.basename(os.path.normpath(source)),
                     "step": dense_state["step"], "tokens": dense_state["tokens"]}}
    else:
        torch.manual_seed(args.seed)
        cfg = dense_config(args)
        model = CausalLM(cfg)
        state = {"step": 0, "tokens": 0, "seed": args.seed, "epoch": 0, "losses": []}
    for layer in model.model.layers:
        if hasattr(layer, "block_sparse_moe"):
            layer.block_sparse_moe.noise = args.router_noise
    context = cfg["max_position_embeddings"]
    tokens_per_step = args.step_tokens
    planned = state.get("planned_steps") or int(args.tokens // tokens_per_step)
    state["planned_steps"] = planned
    state.setdefault("hyper", {"lr": args.lr, "min_lr": args.min_lr, "step_tokens": tokens_per_step,
                               "context": context, "short_context": args.short_context,
                               "short_fraction": args.short_fraction,
                               "router_noise": args.router_noise, "aux_weight": args.aux_weight})
    hyper = state["hyper"]

    def window_at(step: int) -> int:
        return hyper["short_context"] if step < hyper["short_fraction"] * planned else context
    warmup = max(1, planned // 40)
    restart_at = state.get("restarts", [None])[-1]

    def lr_at(step: int) -> float:
        lr = hyper["lr"]
        if step < warmup:
            f = (step + 1) / warmup
        else:
            t = min(1.0, (step - warmup) / max(1, planned - warmup))
            f = hyper["min_lr"] / lr + (1 - hyper["min_lr"] / lr) * 0.5 * (1 + math.cos(math.pi * t))
        if restart_at is not None and step - restart_at < 20:  # fresh moments: re-warm briefly
            f *= (step - restart_at + 1) / 20
        return lr * f

    n_params = sum(p.numel() for p in model.parameters())
    log(f"model {cfg['model_type']}: {n_params / 1e6:.2f}M parameters; {planned} steps of {tokens_per_step} tokens")
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=hyper["lr"], betas=(0.9, 0.95))
    if opt_state is not None:
        opt.load_state_dict(opt_state)
    start = time.time()
    last_save = start
    model.train()
    n = len(train_ids)
    while state["step"] < planned:
        length = window_at(state["step"])
        rows = tokens_per_step // length
        order = windows(n, length, random.Random(state["seed"] * 1000 + state["epoch"] * 7 + length))
        per_epoch = len(order) // rows
        b = state.get("batch_in_epoch", 0)
        while b < per_epoch and state["step"] < planned:
            if window_at(state["step"]) != length:  # the switch to the full context starts a new pass
                break
            x = torch.stack([train_ids[s:s + length + 1].long() for s in order[b * rows:(b + 1) * rows]])
            for group in opt.param_groups:
                group["lr"] = lr_at(state["step"])
            logits = model(x[:, :-1])
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1))
            aux = model.aux_loss()
            total = loss + hyper["aux_weight"] * aux
            opt.zero_grad(set_to_none=True)
            total.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            state["step"] += 1
            state["tokens"] += x[:, 1:].numel()
            b += 1
            state["batch_in_epoch"] = b
            if state["step"] % 10 == 0:
                extra = f" aux {aux.item():.3f}" if aux.dim() == 0 and aux.item() else ""
                log(f"step {state['step']}/{planned} epoch {state['epoch']} T {length} loss {loss.item():.4f}{extra} "
                    f"lr {lr_at(state['step']):.2e} {(time.time() - start) / 60:.1f} min")
            now = time.time()
            done = state["step"] >= planned or now - start > args.minutes * 60
            if now - last_save > args.save_minutes * 60 or done:
                val = evaluate(model, held_ids, context)
                state["losses"].append({"step": state["step"], "tokens": state["tokens"], "train": round(loss.item(), 4),
                                        "heldout": round(val, 4), "heldout_perplexity": round(math.exp(val), 3)})
                state["wall_minutes"] = round(state.get("wall_minutes", 0) + (now - last_save) / 60, 1)
                save_work(model, opt, state, args.work)
                export(model, args.out, state)
                log(f"saved at step {state['step']}: held-out loss {val:.4f} (perplexity {math.exp(val):.2f})")
                last_save = time.time()
                if done:
                    return
        else:
            state["epoch"] += 1
        state["batch_in_epoch"] = 0


if __name__ == "__main__":
    main()
