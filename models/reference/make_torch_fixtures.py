"""Writes the PyTorch-checkpoint fixtures of balmkit's TypeScript weight readers (test/io).

Run with Debian's Python, which has torch:

    /usr/bin/python3 models/reference/make_torch_fixtures.py [--verify-payloads]

It writes small files into test/fixtures/torch/:

* real ``torch.save`` checkpoints (``*.pt``) covering every storage dtype, strided and shared views,
  0-d tensors, an ``nn.Module`` state dict (with ``_metadata``), parameters, a nested training
  checkpoint, pickle protocols 2/4/5, and the legacy pre-1.6 format;
* for each loadable checkpoint, ``*.expected.safetensors`` with the contiguous values (written with
  models/train/safetensors_io.py) so the TypeScript test can compare raw bits;
* crafted checkpoints that must be refused: pickles that would run ``os.system``, ``builtins.eval``,
  ``subprocess.Popen``... under ``torch.load``, packed as torch-style zips. Each payload would create a
  marker file in /tmp; the tests assert that it never appears. ``--verify-payloads`` proves the
  payloads are live by unpickling each (plain pickle bytes only) in a subprocess and checking that
  its marker appears, then deleting it.
* ``manifest.json`` describing all of the above for the table-driven tests.

Nothing here loads a malicious file in this process.
"""
import collections
import io
import json
import os
import pickle
import pickletools
import subprocess
import sys
import zipfile

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "models", "train"))
from safetensors_io import save_file  # noqa: E402

OUT = os.path.join(ROOT, "test", "fixtures", "torch")
MARKER_DIR = "/tmp"

manifest = {"checkpoints": [], "refused": [], "safetensors": []}


def path(name: str) -> str:
    return os.path.join(OUT, name)


def save_checkpoint(name: str, obj, expected: dict, **kw) -> None:
    """torch.save `obj` as <name>.pt and the expected contiguous tensors as <name>.expected.safetensors."""
    torch.save(obj, path(f"{name}.pt"), **kw)
    save_file({k: v.detach().contiguous() for k, v in expected.items()}, path(f"{name}.expected.safetensors"))


# ----------------------------------------------------------------------------------------------
# Real checkpoints


def make_dtypes() -> None:
    sd = collections.OrderedDict()
    sd["f32"] = torch.randn(3, 4)
    sd["f16"] = torch.randn(5).half()
    sd["bf16"] = torch.randn(2, 3).bfloat16()
    sd["f64"] = torch.randn(2, 2, dtype=torch.float64)
    sd["i64"] = torch.tensor([0, -1, 2**40, -(2**62), 7], dtype=torch.int64)
    sd["i32"] = torch.randint(-(2**31), 2**31 - 1, (4,), dtype=torch.int32)
    sd["i16"] = torch.randint(-(2**15), 2**15 - 1, (3,), dtype=torch.int16)
    sd["i8"] = torch.randint(-128, 127, (6,), dtype=torch.int8)
    sd["u8"] = torch.randint(0, 255, (2, 3), dtype=torch.uint8)
    sd["bool"] = torch.randn(7) > 0
    sd["f16_special"] = torch.tensor([0.0, -0.0, 65504.0, 6e-8, float("inf"), -float("inf"), float("nan")]).half()
    save_checkpoint("dtypes", sd, sd)
    manifest["checkpoints"].append({"file": "dtypes.pt", "expected": "dtypes.expected.safetensors"})


def make_views() -> None:
    base = torch.randn(4, 6)
    shared = torch.arange(20, dtype=torch.float32) * 0.25
    tied = torch.randn(3)
    v = collections.OrderedDict()
    v["transposed"] = base.t()  # stride (1, 6)
    v["strided"] = base[::2, 1::3]  # offset 1, stride (12, 3)
    v["row"] = base[2]  # offset 12, contiguous
    v["shared_a"] = shared[2:8]  # two views of one storage, different offsets
    v["shared_b"] = shared[5:15].view(2, 5)
    v["scalar"] = torch.tensor(3.5)  # 0-d
    v["scalar_view"] = shared[7]  # 0-d view at offset 7
    v["expanded"] = torch.randn(3, 1).expand(3, 4)  # stride (1, 0)
    v["empty"] = torch.zeros(0, 3)
    v["f16_t"] = torch.randn(3, 5).half().t()
    v["bf16_perm"] = torch.randn(2, 3, 4).bfloat16().permute(2, 0, 1)
    v["i64_cols"] = torch.arange(24).view(4, 6)[:, ::2]  # stride (6, 2)
    v["bool_t"] = (torch.randn(3, 4) > 0).t()
    v["f64_rev_dims"] = torch.randn(2, 3, dtype=torch.float64).t()
    v["tied_1"] = tied  # the same tensor twice: pickled once, then a memo reference
    v["tied_2"] = tied
    for k in ["transposed", "strided", "expanded", "f16_t", "bf16_perm", "i64_cols", "bool_t"]:
        assert not v[k].is_contiguous(), k
    assert v["shared_a"].storage().data_ptr() == v["shared_b"].storage().data_ptr()
    save_checkpoint("views", v, v)
    manifest["checkpoints"].append({"file": "views.pt", "expected": "views.expected.safetensors"})


def tiny_module() -> nn.Module:
    m = nn.Sequential(nn.Linear(4, 3), nn.LayerNorm(3), nn.BatchNorm1d(3), nn.Linear(3, 2, bias=False))
    m.train()
    m(torch.randn(8, 4))  # moves BatchNorm running stats away from their defaults
    return m


def make_module() -> None:
    sd = tiny_module().state_dict()
    assert hasattr(sd, "_metadata")
    save_checkpoint("module", sd, sd)
    manifest["checkpoints"].append({"file": "module.pt", "expected": "module.expected.safetensors"})
    for proto in (4, 5):
        name = f"module_proto{proto}"
        save_checkpoint(name, sd, sd, pickle_protocol=proto)
        manifest["checkpoints"].append({"file": f"{name}.pt", "expected": f"{name}.expected.safetensors"})
    with zipfile.ZipFile(path("module_proto4.pt")) as z:
        pkl = z.read([n for n in z.namelist() if n.endswith("/data.pkl")][0])
    ops = {op.name for op, _, _ in pickletools.genops(pkl)}
    assert {"STACK_GLOBAL", "FRAME", "MEMOIZE"} <= ops, ops


def make_params() -> None:
    p = collections.OrderedDict()
    p["w"] = nn.Parameter(torch.randn(2, 3))
    p["b"] = nn.Parameter(torch.randn(3), requires_grad=False)
    save_checkpoint("params", p, p)
    manifest["checkpoints"].append({"file": "params.pt", "expected": "params.expected.safetensors"})


def make_nested() -> None:
    sd = tiny_module().state_dict()
    exp_avg = torch.randn(3, 4)
    ck = {
        "model": sd,
        "step": 3,
        "config": {"lr": 0.001, "name": "tiny", "betas": (0.9, 0.999), "flags": [True, False, None]},
        "big": 2**40,
        "huge": 2**70,
        "neg": -7,
        "blob": b"\x00\x01\xff",
        "optimizer": {"state": {0: {"exp_avg": exp_avg, "step": 10}}, "param_groups": [{"lr": 0.001, "params": [0]}]},
    }
    torch.save(ck, path("nested.pt"))
    expected = {f"model.{k}": t for k, t in sd.items()}
    expected["optimizer.state.0.exp_avg"] = exp_avg
    save_file({k: t.contiguous() for k, t in expected.items()}, path("nested.expected.safetensors"))
    # The state dict alone, as readTorchStateDict(path, {key: 'model'}) should return it.
    save_file({k: t.contiguous() for k, t in sd.items()}, path("nested.model.expected.safetensors"))
    manifest["checkpoints"].append(
        {"file": "nested.pt", "expected": "nested.model.expected.safetensors", "key": "model"}
    )


def make_legacy() -> None:
    torch.save({"w": torch.randn(2)}, path("legacy.pt"), _use_new_zipfile_serialization=False)


# ----------------------------------------------------------------------------------------------
# Crafted checkpoints


def pack_torch_zip(name: str, data_pkl: bytes, storages: dict | None = None, byteorder: str = "little") -> None:
    """Writes a torch.save-style zip (STORED entries under 'archive/') around a given pickle."""
    with zipfile.ZipFile(path(name), "w", compression=zipfile.ZIP_STORED) as z:

        def put(entry: str, data: bytes) -> None:
            info = zipfile.ZipInfo(f"archive/{entry}", date_time=(1980, 1, 1, 0, 0, 0))
            z.writestr(info, data)

        put("data.pkl", data_pkl)
        put("byteorder", byteorder.encode())
        for key, raw in (storages or {}).items():
            put(f"data/{key}", raw)
        put("version", b"3\n")


class FakeStorage:
    """Stands for a storage in a hand-built pickle; the pickler emits torch's persistent id for it."""

    def __init__(self, key: str, cls, numel: int):
        self.pid = ("storage", cls, key, "cpu", numel)


class StoragePickler(pickle.Pickler):
    def persistent_id(self, obj):
        return obj.pid if isinstance(obj, FakeStorage) else None


class RebuildTensor:
    """Pickles as torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())."""

    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, size, stride, False, collections.OrderedDict())

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2, self.args)


def crafted_pickle(obj, protocol=2) -> bytes:
    buf = io.BytesIO()
    StoragePickler(buf, protocol=protocol).dump(obj)
    return buf.getvalue()


def make_crafted_valid_and_invalid() -> None:
    raw = torch.arange(6, dtype=torch.float32)
    st = FakeStorage("0", torch.FloatStorage, 6)
    # A hand-packed but valid checkpoint: proves the packer matches torch's layout.
    good = {"a": RebuildTensor(st, 1, (2, 2), (1, 2))}
    pack_torch_zip("crafted_ok.pt", crafted_pickle(good), {"0": raw.numpy().tobytes()})
    save_file({"a": raw[1:].as_strided((2, 2), (1, 2)).contiguous()}, path("crafted_ok.expected.safetensors"))
    manifest["checkpoints"].append({"file": "crafted_ok.pt", "expected": "crafted_ok.expected.safetensors"})

    bad = [
        ("bad_view_oob.pt", {"a": RebuildTensor(st, 3, (2, 2), (2, 1))}, {"0": raw.numpy().tobytes()}, "past the storage"),
        ("bad_storage_size.pt", {"a": RebuildTensor(FakeStorage("0", torch.FloatStorage, 100), 0, (6,), (1,))},
         {"0": raw.numpy().tobytes()}, "should hold 100"),
        ("bad_missing_storage.pt", {"a": RebuildTensor(st, 0, (6,), (1,))}, {}, "has no zip entry"),
    ]
    for name, obj, storages, msg in bad:
        pack_torch_zip(name, crafted_pickle(obj), storages)
        manifest["refused"].append({"file": name, "message": msg})

    sd = {"w": torch.randn(2)}
    buf = io.BytesIO()
    torch.save(sd, buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as z:
        pkl_name = [n for n in z.namelist() if n.endswith("/data.pkl")][0]
        prefix = pkl_name[: -len("data.pkl")]
        pack_torch_zip(
            "bigendian.pt",
            z.read(pkl_name),
            {n[len(prefix) + 5 :]: z.read(n) for n in z.namelist() if n.startswith(prefix + "data/")},
            byteorder="big",
        )
    manifest["refused"].append({"file": "bigendian.pt", "message": "big-endian"})
    manifest["refused"].append({"file": "legacy.pt", "message": "legacy (pre-1.6"})


def marker(name: str) -> str:
    return os.path.join(MARKER_DIR, f"balmkit-pickle-pwned-{name}")


class Reduce:
    """An object whose unpickling calls fn(*args) — what a malicious checkpoint does."""

    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return (self.fn, self.args)


class NotAllowed:
    """A user class: torch.load would import __main__.NotAllowed and build it."""

    def __init__(self):
        self.x = 1


def first_global(pkl: bytes) -> str | None:
    """The first global a pickle names, as written in it (protocols < 3 use Python 2 module names)."""
    strings = []
    for op, arg, _ in pickletools.genops(pkl):
        if op.name in ("GLOBAL", "INST"):
            return arg.replace(" ", ".")
        if op.name == "STACK_GLOBAL":
            return f"{strings[-2]}.{strings[-1]}"
        if isinstance(arg, str):
            strings.append(arg)
    return None


def make_malicious(verify: bool) -> None:
    payloads = []  # (file, pickle bytes, expected global, marker or None)

    def reduce_payload(name, fn, args, glob, protocol=2):
        obj = {"weight": Reduce(fn, args)}
        payloads.append((name, pickle.dumps(obj, protocol=protocol), glob, marker(name)))

    m = marker("os_system")
    reduce_payload("os_system", os.system, (f"touch {m}",), f"{os.system.__module__}.system")
    m = marker("eval")
    reduce_payload("eval", eval, (f"open({m!r}, 'w').close()",), "builtins.eval")
    m = marker("exec")
    reduce_payload("exec", exec, (f"open({m!r}, 'w').close()",), "builtins.exec", protocol=3)
    m = marker("subprocess")
    reduce_payload("subprocess", subprocess.Popen, (["touch", m],), "subprocess.Popen")
    m = marker("stack_global")
    reduce_payload("stack_global", os.system, (f"touch {m}",), f"{os.system.__module__}.system", protocol=4)
    assert b"\x93" in payloads[-1][1]  # STACK_GLOBAL

    # Protocol-0 INST and OBJ opcodes, written by hand.
    m = marker("inst")
    payloads.append(("inst", f"(S'touch {m}'\nios\nsystem\n.".encode(), "os.system", m))
    m = marker("obj")
    payloads.append(("obj", f"(cos\nsystem\nS'touch {m}'\no.".encode(), "os.system", m))
    # builtins.getattr(builtins.__import__('os'), 'system')('touch ...')
    m = marker("getattr")
    payloads.append(
        (
            "getattr",
            f"cbuiltins\ngetattr\n(cbuiltins\n__import__\n(Vos\ntRVsystem\ntR(Vtouch {m}\ntR.".encode(),
            "builtins.getattr",
            m,
        )
    )
    # An extension-registry code instead of a named global.
    payloads.append(("ext", b"\x80\x02\x82\x01)R.", "extension code 1", None))

    for name, pkl, glob, mk in payloads:
        pickletools.dis(pkl, out=io.StringIO())  # a well-formed pickle
        file = f"evil_{name}.pt"
        pack_torch_zip(file, pkl)
        manifest["refused"].append({"file": file, "global": first_global(pkl) or glob, "python3": glob, "marker": mk})
        if verify and mk:
            if os.path.exists(mk):
                os.remove(mk)
            # Sandboxed proof that the payload is live: a fresh interpreter unpickles the bytes.
            subprocess.run([sys.executable, "-c", "import pickle,sys; pickle.loads(sys.stdin.buffer.read())"],
                           input=pkl, check=False, capture_output=True, timeout=60)
            assert os.path.exists(mk), f"payload {name} did not create its marker"
            os.remove(mk)
            print(f"verified payload {name}: it runs under pickle.loads")

    # Real torch.save files holding a disallowed class, and a payload after valid tensors.
    torch.save({"w": torch.randn(2), "obj": NotAllowed()}, path("evil_class.pt"))
    manifest["refused"].append(
        {"file": "evil_class.pt", "global": "__main__.NotAllowed", "python3": "__main__.NotAllowed", "marker": None}
    )
    m = marker("nested")
    torch.save({"w": torch.randn(2), "cfg": {"x": Reduce(os.system, (f"touch {m}",))}}, path("evil_nested.pt"))
    glob = f"{os.system.__module__}.system"
    manifest["refused"].append({"file": "evil_nested.pt", "global": glob, "python3": glob, "marker": m})


# ----------------------------------------------------------------------------------------------
# safetensors files for the safetensors reader tests


def make_safetensors() -> None:
    # Values the TypeScript test recomputes from the same formulas: i is the element index.
    n = 12
    i = torch.arange(n)
    known = {
        "f32": (i.float() * 0.5 - 3).view(3, 4),
        "f64": (i.double() / 3).view(2, 6),
        "f16": (i.float() * 0.25 - 1).half(),
        "bf16": (i.float() * 2 - 5).bfloat16().view(2, 2, 3),
        "i64": (i - 6) * (2**40),
        "i32": (i - 6).int() * 1000,
        "i16": (i - 6).short() * 100,
        "i8": (i - 6).to(torch.int8),
        "u8": (i * 20).to(torch.uint8),
        "bool": (i % 3) == 0,
        "scalar": torch.tensor(2.5),
        "empty": torch.zeros(0, 4),
    }
    save_file(known, path("known.safetensors"), metadata={"format": "pt", "source": "make_torch_fixtures.py"})
    manifest["safetensors"].append({"file": "known.safetensors"})

    # float32 → float16/bfloat16 as torch rounds them, to check f32ToF16/f32ToBf16 bit for bit.
    special = torch.tensor(
        [0.0, -0.0, 1.0, -1.0, 65504.0, 65519.0, 65520.0, 1e6, -1e6, 2.0**-24, 2.0**-25, 2.0**-25 * 1.0001,
         3 * 2.0**-25, 2.0**-14, 2.0**-14 * (1 - 2.0**-11), 1 + 2.0**-11, 1 + 3 * 2.0**-11, 1 + 2.0**-8,
         1 + 3 * 2.0**-8, 1e-45, 3.4e38, float("inf"), -float("inf"), float("nan")],
        dtype=torch.float32,
    )
    rand = torch.cat([torch.randn(400) * s for s in (1e-6, 1e-3, 1.0, 1e3, 1e5)])
    src = torch.cat([special, rand])
    save_file({"f32": src, "f16": src.half(), "bf16": src.bfloat16()}, path("convert.safetensors"))


def make_plain_pickles() -> None:
    """Plain-data pickles in every protocol, for the unpickler's own tests (no globals needed)."""
    shared = [1]
    cyc = []
    cyc.append(cyc)
    for proto in range(6):
        value = {
            "int": 1, "neg": -2, "i16": 40000, "i32": -(2**31), "big": 2**40, "huge": -(2**80),
            "float": 1.5, "negf": -2.25e-300, "str": "h\u00e9llo\n\\ \U0001f9ec", "none": None,
            "bools": [True, False], "tuple": (1, "a"), "empty_tuple": (), "one": (7,),
            "nested": {"a": {"b": [1, [2, 3]]}}, 1: "int key", "shared": [shared, shared], "cycle": cyc,
        }
        if proto >= 3:
            value["bytes"] = b"\x00\xff"
        if proto >= 4:
            value["set"] = {1, 2}
            value["frozen"] = frozenset({3})
        with open(path(f"plain_p{proto}.pkl"), "wb") as f:
            f.write(pickle.dumps(value, protocol=proto))


def main() -> None:
    verify = "--verify-payloads" in sys.argv
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(path(f))
    torch.manual_seed(0)
    make_dtypes()
    make_views()
    make_module()
    make_params()
    make_nested()
    make_legacy()
    make_crafted_valid_and_invalid()
    make_malicious(verify)
    make_safetensors()
    make_plain_pickles()
    with open(path("manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    total = sum(os.path.getsize(path(f)) for f in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total} bytes, to {OUT}")
    assert total < 200_000, total


if __name__ == "__main__":
    main()
