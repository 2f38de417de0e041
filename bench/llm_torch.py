"""PyTorch side of bench/llm.ts: a Llama-shaped decoder with a preallocated KV cache, driven over
stdin/stdout.

    /usr/bin/python3 bench/llm_torch.py --make-weights W.safetensors   # write bench weights
    /usr/bin/python3 bench/llm_torch.py --weights W.safetensors --max-seq 4096 --threads 2
    /usr/bin/python3 bench/llm_torch.py --model models/text-moe-small --max-seq 1024 --threads 2

--model: a Hugging Face folder (Llama or Mixtral, as models/text-small and models/text-moe-small),
its weights in float32, run by the same `Runner` through `HfModel`, which maps the folder's tensor
names onto the layer interface; norms and the Mixtral block are models/reference/llm_reference.py's
(the MoE block runs only the experts each token picked, as transformers does).

Model: models/reference/blocks.py `Decoder` weights (names as balmkit loads them: embed.weight,
layers.{i}.attn_norm / attn.{q,k,v,o}_proj / mlp_norm / mlp.{gate,up,down}_proj, final_norm,
lm_head) in float32, run by `Runner` below the way a tuned PyTorch inference loop does it: under
torch.inference_mode(), keys and values written into a cache preallocated for --max-seq tokens
(no concatenation), rotary cos/sin tables precomputed once, grouped-query attention without
repeating the KV heads (query heads reshaped into groups), the causal mask only for prefill.
`--make-weights` writes the bench config: 12 layers, hidden 768, 12 heads, 4 KV heads, ffn 2048,
vocab 32000, rotary "half", theta 10000, eps 1e-5, weights from a fixed seed
(make_nn_fixtures.init_weights).

Protocol (one JSON object per line on stdout; logs on stderr):
    start               -> {"ready": true, "torch", "blas", "threads"}
    "prefill T C"       -> fresh cache; tokens 0..T-1 (ids (i*7919 + 13) % vocab) in chunks of C:
                           {"ms": total, "last": logits[-1, :8]}
    "decode T N"        -> fresh cache, prefill T (untimed), then N single-token steps feeding
                           id (t*7919 + 13) % vocab at position t: {"ms": [per step], "last": logits[:8]}
    "quit"              -> exit 0
Exit code 3: OpenBLAS is not the BLAS torch loaded.
"""
import argparse
import json
import math
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from torch_side import emit, import_torch, log, require_openblas  # noqa: E402
BENCH_CONFIG = dict(vocab=32000, hidden=768, layers=12, heads=12, kv_heads=4, ffn=2048, rotary="half",
                    theta=10000.0, eps=1e-5, causal=True)


def token(i: int, vocab: int) -> int:
    return (i * 7919 + 13) % vocab


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights")
    ap.add_argument("--make-weights", metavar="PATH")
    ap.add_argument("--model", help="a Hugging Face folder (Llama / Mixtral) instead of --weights")
    ap.add_argument("--max-seq", type=int, default=4096)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch = import_torch(args.threads)
    sys.path.insert(0, os.path.join(ROOT, "models", "reference"))
    sys.path.insert(0, os.path.join(ROOT, "models", "train"))
    from blocks import Config, Decoder
    from safetensors_io import load_file, save_file

    if args.make_weights:
        from make_nn_fixtures import init_weights

        model = Decoder(Config(**BENCH_CONFIG))
        init_weights(model, 2025)
        save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, args.make_weights,
                  {"config": json.dumps(BENCH_CONFIG, sort_keys=True)})
        log(f"wrote {args.make_weights}")
        return 0

    blas = require_openblas(torch, "llm_torch")

    if args.model:
        model, cfg = hf_model(torch, args.model, load_file)
    else:
        with open(args.weights, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            cfg = Config.from_dict(json.loads(json.loads(f.read(n))["__metadata__"]["config"]))
        model = Decoder(cfg).float().eval()
        model.load_state_dict(load_file(args.weights), strict=True)
    runner = Runner(torch, model, cfg, args.max_seq)
    emit({"ready": True, "torch": torch.__version__, "blas": blas, "threads": torch.get_num_threads()})

    for line in sys.stdin:
        cmd = line.split()
        if not cmd:
            continue
        if cmd[0] == "quit":
            return 0
        with torch.inference_mode():
            if cmd[0] == "prefill":
                T, C = int(cmd[1]), int(cmd[2])
                t0 = time.perf_counter()
                for s in range(0, T, C):
                    e = min(T, s + C)
                    logits = runner.forward(torch.tensor([[token(i, cfg.vocab) for i in range(s, e)]]), s)
                ms = (time.perf_counter() - t0) * 1000
                emit({"ms": ms, "last": [float(v) for v in logits[0, -1, :8]]})
            elif cmd[0] == "decode":
                T, N = int(cmd[1]), int(cmd[2])
                for s in range(0, T, 512):
                    runner.forward(torch.tensor([[token(i, cfg.vocab) for i in range(s, min(T, s + 512))]]), s)
                times = []
                for t in range(T, T + N):
                    t0 = time.perf_counter()
                    logits = runner.forward(torch.tensor([[token(t, cfg.vocab)]]), t)
                    times.append((time.perf_counter() - t0) * 1000)
                emit({"ms": times, "last": [float(v) for v in logits[0, -1, :8]]})
            else:
                emit({"error": f"unknown command {cmd[0]!r}"})
    return 0


def hf_model(torch, folder: str, load_file):
    """A Hugging Face folder as the layer interface Runner drives, and its config in Runner's terms."""
    from types import SimpleNamespace

    from llm_reference import moe, rms_norm

    F = torch.nn.functional
    with open(os.path.join(folder, "config.json")) as f:
        hf = json.load(f)
    sd = {k: v.float() for k, v in load_file(os.path.join(folder, "model.safetensors")).items()}
    eps = hf.get("rms_norm_eps", 1e-6)
    lin = lambda name: (lambda x: x @ sd[name + ".weight"].T)  # noqa: E731
    norm = lambda name: (lambda x: rms_norm(x, sd[name + ".weight"], eps))  # noqa: E731
    layers = []
    for i in range(hf["num_hidden_layers"]):
        p = f"model.layers.{i}."
        if hf.get("num_local_experts"):
            mlp = lambda h, p=p: moe(hf, sd, p + "block_sparse_moe.", h)  # noqa: E731
        else:
            g, u, d = lin(p + "mlp.gate_proj"), lin(p + "mlp.up_proj"), lin(p + "mlp.down_proj")
            mlp = lambda h, g=g, u=u, d=d: d(F.silu(g(h)) * u(h))  # noqa: E731
        attn = SimpleNamespace(**{n: lin(p + f"self_attn.{n}") for n in ("q_proj", "k_proj", "v_proj", "o_proj")})
        layers.append(SimpleNamespace(attn_norm=norm(p + "input_layernorm"), attn=attn, mlp_norm=norm(p + "post_attention_layernorm"), mlp=mlp))
    head = sd["model.embed_tokens.weight"] if hf.get("tie_word_embeddings") else sd["lm_head.weight"]
    model = SimpleNamespace(embed=lambda ids: sd["model.embed_tokens.weight"][ids], layers=layers, final_norm=norm("model.norm"), lm_head=lambda x: x @ head.T)
    cfg = SimpleNamespace(vocab=hf["vocab_size"], hidden=hf["hidden_size"], layers=hf["num_hidden_layers"], heads=hf["num_attention_heads"],
                          kv_heads=hf.get("num_key_value_heads") or hf["num_attention_heads"], theta=hf.get("rope_theta", 10000.0))
    return model, cfg


class Runner:
    """Decoder forward over a preallocated cache [layers, KV, max_seq, head_dim] (batch 1)."""

    def __init__(self, torch, model, cfg, max_seq: int):
        self.t, self.m, self.cfg = torch, model, cfg
        self.hd = cfg.hidden // cfg.heads
        self.k = torch.zeros(cfg.layers, cfg.kv_heads, max_seq, self.hd)
        self.v = torch.zeros(cfg.layers, cfg.kv_heads, max_seq, self.hd)
        inv = cfg.theta ** (-(torch.arange(0, self.hd, 2, dtype=torch.float64) / self.hd))
        ang = torch.arange(max_seq, dtype=torch.float64)[:, None] * inv
        self.cos = torch.cat((ang.cos(), ang.cos()), -1).float()  # [max_seq, hd]
        self.sin = torch.cat((ang.sin(), ang.sin()), -1).float()

    def rope(self, x, cos, sin):
        h = self.hd // 2
        return x * cos + self.t.cat((-x[..., h:], x[..., :h]), -1) * sin

    def forward(self, ids, start: int):
        t, cfg, hd = self.t, self.cfg, self.hd
        S = ids.shape[1]
        end = start + S
        H, KV = cfg.heads, cfg.kv_heads
        G = H // KV
        cos, sin = self.cos[start:end], self.sin[start:end]
        mask = None
        if S > 1:
            q_pos = t.arange(start, end)[:, None]
            mask = t.zeros(S, end).masked_fill(t.arange(end)[None, :] > q_pos, float("-inf"))
        x = self.m.embed(ids)
        for i, layer in enumerate(self.m.layers):
            a = layer.attn
            h = layer.attn_norm(x)[0]  # [S, D]
            q = self.rope(a.q_proj(h).view(S, H, hd).transpose(0, 1), cos, sin)  # [H, S, hd]
            k = self.rope(a.k_proj(h).view(S, KV, hd).transpose(0, 1), cos, sin)
            self.k[i, :, start:end] = k
            self.v[i, :, start:end] = a.v_proj(h).view(S, KV, hd).transpose(0, 1)
            K, V = self.k[i, :, :end], self.v[i, :, :end]  # [KV, T, hd]
            scores = (q.reshape(KV, G * S, hd) @ K.transpose(1, 2)).view(KV, G, S, end) / math.sqrt(hd)
            if mask is not None:
                scores = scores + mask
            out = (t.softmax(scores, -1).view(KV, G * S, end) @ V).view(H, S, hd).transpose(0, 1).reshape(1, S, H * hd)
            x = x + a.o_proj(out)
            x = x + layer.mlp(layer.mlp_norm(x))
        return self.m.lm_head(self.m.final_norm(x))


if __name__ == "__main__":
    sys.exit(main())
