"""Write test/fixtures/llm/lora/<case>/: LoRA adapters in the Hugging Face PEFT layout for the HF
LLM fixtures, and the logits of PEFT's unmerged forward (llm_reference.py's `linear`, which
follows peft/tuners/lora/layer.py) on the fixture's input.

    /usr/bin/python3 models/reference/make_lora_fixtures.py

Each folder: `adapter_config.json` (peft_type LORA, r, lora_alpha, target_modules, use_rslora,
rank_pattern / alpha_pattern, base_model_name_or_path), `adapter_model.safetensors`
(`base_model.model.<module>.lora_A.weight` [r, in] / `lora_B.weight` [out, r], float32) and
`expected.safetensors` (`output.logits` on the base fixture's `input.*`). Scaling as PEFT:
lora_alpha / r, or lora_alpha / √r with use_rslora; rank_pattern / alpha_pattern keys match a
module whose name ends with `.<key>` (PEFT's `re.match(rf"(.*\\.)?{key}$", name)`).

| case         | base fixture      | what it exercises                                             |
|--------------|-------------------|---------------------------------------------------------------|
| llama_qv     | llama_rope_linear | target_modules ["q_proj", "v_proj"], r 4, alpha 8             |
| qwen2_rslora | qwen2_bias        | regex target_modules, use_rslora, rank_pattern, alpha_pattern |
"""
import json
import math
import os
import re
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "models", "train"))
from llm_reference import forward  # noqa: E402
from safetensors_io import load_file, save_file  # noqa: E402

HF = os.path.join(ROOT, "test", "fixtures", "llm", "hf")
OUT = os.path.join(ROOT, "test", "fixtures", "llm", "lora")

CASES = {
    "llama_qv": dict(base="llama_rope_linear", config=dict(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"])),
    "qwen2_rslora": dict(base="qwen2_bias", config=dict(r=4, lora_alpha=6, target_modules=r".*\.(k_proj|o_proj|up_proj)$", use_rslora=True,
                                                        rank_pattern={"layers.1.mlp.up_proj": 2}, alpha_pattern={"o_proj": 3})),
}


def targeted(name: str, target) -> bool:
    """PEFT's check_target_module_exists: a regex string must match the whole name; a list matches a name or its suffix."""
    if isinstance(target, str):
        return re.fullmatch(target, name) is not None
    return any(name == t or name.endswith("." + t) for t in target)


def pattern_value(name: str, pattern: dict, default):
    for key, value in pattern.items():
        if re.match(rf"(.*\.)?{key}$", name):
            return value
    return default


def main() -> None:
    for n, (case, spec) in enumerate(CASES.items()):
        base = os.path.join(HF, spec["base"])
        with open(os.path.join(base, "config.json")) as f:
            cfg = json.load(f)
        sd = load_file(os.path.join(base, "model.safetensors"))
        g = torch.Generator().manual_seed(300 + n)
        acfg = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "base_model_name_or_path": f"balmkit-fixture/{spec['base']}", "bias": "none",
                "lora_dropout": 0.0, "fan_in_fan_out": False, "use_rslora": False, "rank_pattern": {}, "alpha_pattern": {}, **spec["config"]}
        tensors, lora = {}, {}
        for key in sorted(sd):
            if not key.endswith(".weight") or sd[key].dim() != 2 or "embed_tokens" in key or key == "lm_head.weight":
                continue
            module = key[: -len(".weight")]
            if not targeted(module, acfg["target_modules"]):
                continue
            r = pattern_value(module, acfg["rank_pattern"], acfg["r"])
            alpha = pattern_value(module, acfg["alpha_pattern"], acfg["lora_alpha"])
            out_f, in_f = sd[key].shape
            a = torch.randn(r, in_f, generator=g) / in_f**0.5
            b = torch.randn(out_f, r, generator=g) * 0.3
            tensors[f"base_model.model.{module}.lora_A.weight"] = a
            tensors[f"base_model.model.{module}.lora_B.weight"] = b
            scaling = alpha / math.sqrt(r) if acfg["use_rslora"] else alpha / r
            lora[module] = [(a.double(), b.double(), scaling)]
        folder = os.path.join(OUT, case)
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "adapter_config.json"), "w") as f:
            json.dump(acfg, f, indent=1)
        save_file(tensors, os.path.join(folder, "adapter_model.safetensors"))
        inputs = load_file(os.path.join(base, "expected.safetensors"))
        ids, mask = inputs["input.input_ids"], inputs["input.attention_mask"]
        ref = {k: v.double() for k, v in sd.items()}
        ref["__lora__"] = lora
        with torch.no_grad():
            logits = forward(cfg, ref, ids, mask)
        save_file({"output.logits": logits.float()}, os.path.join(folder, "expected.safetensors"))
        print(f"{case}: {len(lora)} modules, logits {tuple(logits.shape)}")


if __name__ == "__main__":
    main()
