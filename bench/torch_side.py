"""What every PyTorch side of a balmkit benchmark shares: JSON lines on stdout, logs on stderr, and
the check that OpenBLAS is the BLAS actually doing the matmuls (Debian's torch otherwise falls back
to the reference BLAS, about 15x slower, and the comparison would be meaningless)."""
import json
import os
import sys


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


def emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def require_openblas(torch, who: str) -> str:
    """Run a matmul, then return the path of the OpenBLAS mapped into this process; exit 3 if none."""
    a = torch.randn(256, 256)
    (a @ a).sum().item()
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1]
            if "libopenblas" in os.path.basename(path):
                return path
    log(f"{who}: OpenBLAS is not loaded (torch is using another BLAS); timings would not be meaningful. "
        "Install it: apt-get install libopenblas0-pthread")
    sys.exit(3)


def import_torch(threads: int):
    """Import torch with `threads` threads everywhere. OpenBLAS reads its thread count when it is
    loaded, so the environment must be set before the import."""
    os.environ["OPENBLAS_NUM_THREADS"] = str(threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    import torch

    torch.set_num_threads(threads)
    return torch


def serve(handlers: dict) -> None:
    """Answer commands read one per line from stdin: each handler's result is emitted as a JSON
    line; `quit` (or the end of stdin) returns; an unknown command gets an error line."""
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "quit":
            return
        handler = handlers.get(cmd)
        emit(handler() if handler else {"error": f"unknown command {cmd!r}"})
