"""PyTorch side of bench/encoder.ts: the same encoder forward, driven over stdin/stdout.

    /usr/bin/python3 bench/encoder_torch.py --weights W.safetensors --batch 32 --seq 160
    /usr/bin/python3 bench/encoder_torch.py --make-weights W.safetensors   # write bench weights

Model: models/reference/blocks.py `Encoder` in float32, weights named as balmkit loads them
(embed.weight, layers.{i}.attn_norm / attn.{q,k,v,o}_proj / mlp_norm / mlp.fc1 / mlp.fc2,
final_norm), config from the file's `__metadata__` key `config` (JSON with vocab, hidden, layers,
heads, kv_heads, ffn, norm, rotary, theta, eps, causal). `--make-weights` writes the bench
config: 6 layers, hidden 320, 20 heads, ffn 1280, pre-LN, rotary "half", theta 10000, eps 1e-5,
vocab 33, weights drawn from a fixed seed (Linear ~ N(0, 1/in), biases ~ N(0, 0.05^2), LayerNorm
weight 1 + N(0, 0.1^2), embeddings N(0, 1)).

Inputs (deterministic formulas, so the TypeScript side rebuilds them exactly), b in [0, B),
s in [0, S):
    input_ids[b, s]      = 4 + (b*131 + s*17) % 20              (int64, in [4, 24), for every s,
                                                                   padded positions included)
    pad[b]               = (b*7) % 40                            (requires S > 39 when B >= 6)
    attention_mask[b, s] = 1 if s < S - pad[b] else 0            (int64; the last pad[b] padded)
    positions            = arange(S) per row (implicit in the encoder)
Attention variant "full": padded keys are masked with -inf; padded query rows are computed like
any other row (no zeroing), so `check` sums over all B*S*D outputs.

Protocol (one JSON object per line on stdout, flushed; logs on stderr):
    start  -> {"ready": true, "torch": "<version>", "blas": "<path of libopenblas>", "threads": 2}
    "run"  -> one forward under torch.inference_mode(): {"ms": <wall milliseconds>}
    "check"-> {"checksum": <sum of all outputs, float64 accumulation>,
               "first": [output[0, 0, 0..7]]}        (runs a forward first if none ran yet)
    "quit" (or end of input) -> exit 0
Anything else -> {"error": "..."}.

Exit codes: 2 bad arguments or weights; 3 OpenBLAS is not the BLAS actually loaded (install it:
apt-get install libopenblas0-pthread).
"""
import argparse
import json
import os
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from torch_side import emit, import_torch, log, require_openblas  # noqa: E402
ROOT = os.path.dirname(HERE)

BENCH_CONFIG = dict(vocab=33, hidden=320, layers=6, heads=20, kv_heads=20, ffn=1280, norm="pre",
                    rotary="half", theta=10000.0, eps=1e-5, causal=False)


def read_metadata(path: str) -> dict:
    """The `__metadata__` string map of a safetensors file."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    return header.get("__metadata__", {})


def make_inputs(batch: int, seq: int):
    import torch

    b = torch.arange(batch, dtype=torch.int64)[:, None]
    s = torch.arange(seq, dtype=torch.int64)[None, :]
    input_ids = 4 + (b * 131 + s * 17) % 20
    pad = (b * 7) % 40
    attention_mask = (s < seq - pad).to(torch.int64)
    return input_ids, attention_mask


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--weights", help="encoder weights (.safetensors with __metadata__.config)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=160)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--make-weights", metavar="PATH", help="write bench weights to PATH and exit")
    ap.add_argument("--seed", type=int, default=2024, help="seed for --make-weights")
    args = ap.parse_args()

    torch = import_torch(args.threads)
    sys.path.insert(0, os.path.join(ROOT, "models", "reference"))
    sys.path.insert(0, os.path.join(ROOT, "models", "train"))
    from blocks import Config, Encoder
    from safetensors_io import load_file, save_file

    if args.make_weights:
        from make_nn_fixtures import init_weights

        model = Encoder(Config(**BENCH_CONFIG))
        init_weights(model, args.seed)
        tensors = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
        meta = dict(BENCH_CONFIG, arch="encoder", mlp="gelu", norm_type="layernorm")
        save_file(tensors, args.make_weights, {"config": json.dumps(meta, sort_keys=True)})
        log(f"wrote {args.make_weights} ({os.path.getsize(args.make_weights)} bytes)")
        return 0

    if not args.weights:
        log("encoder_torch: --weights W.safetensors is required (or --make-weights PATH)")
        return 2
    if args.batch < 1 or args.seq < 1:
        log(f"encoder_torch: --batch {args.batch} --seq {args.seq}: both must be >= 1")
        return 2
    max_pad = max((b * 7) % 40 for b in range(args.batch))
    if args.seq <= max_pad:
        log(f"encoder_torch: --seq {args.seq}: a row would be all padding (pad up to {max_pad}); "
            f"use --seq > {max_pad}")
        return 2

    # BLAS: make sure the matmuls run on OpenBLAS, not the reference BLAS.
    blas = require_openblas(torch, "encoder_torch")
    log(torch.__config__.show())
    log(f"BLAS: {blas}; threads: torch {torch.get_num_threads()}, OPENBLAS_NUM_THREADS {args.threads}")

    try:
        meta = read_metadata(args.weights)
        cfg = Config.from_dict(json.loads(meta["config"]))
        model = Encoder(cfg).float().eval()
        weights = load_file(args.weights)
        model.load_state_dict({k: v.float() for k, v in weights.items()}, strict=True)
    except (OSError, KeyError, ValueError, RuntimeError, TypeError) as e:
        log(f"encoder_torch: {args.weights}: cannot load the encoder: {e}")
        return 2
    log(f"config: {json.dumps(cfg.to_dict())}")

    input_ids, attention_mask = make_inputs(args.batch, args.seq)
    if int(input_ids.max()) >= cfg.vocab:
        log(f"encoder_torch: vocab {cfg.vocab} is too small for input ids up to 23")
        return 2

    emit({"ready": True, "torch": torch.__version__, "blas": blas, "threads": torch.get_num_threads()})

    out = None
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "run" or (cmd == "check" and out is None):
            t0 = time.perf_counter()
            with torch.inference_mode():
                out = model(input_ids, attention_mask, "full")
            ms = (time.perf_counter() - t0) * 1000.0
            if cmd == "run":
                emit({"ms": ms})
        if cmd == "check":
            emit({"checksum": float(out.double().sum()), "first": [float(v) for v in out[0, 0, :8]]})
        elif cmd == "quit":
            return 0
        elif cmd not in ("run", ""):
            emit({"error": f"unknown command {cmd!r}: expected run, check or quit"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
