"""The PyTorch twins (adm_unet.py, dit_reference.py, sd_decoder.py) against the golden cases: each
case's forward in float32 (on CPU, or CUDA with --device), compared with the case's outputs under its tolerance
(test/golden/cases/README.md section 3), so a twin is shown to be the network diffq runs before
it is timed against diffq.

    golden_twin.py [--attention auto|fused|explicit] [--device cpu|cuda|auto] [--threads N] <case dir>...

prints one JSON line per case: {"case", "kind", "pass", "outputs": {name: {...}}, "attention",
"torch"}, or {"case", "kind", "pass": false, "error"} for a kind without a twin; exits 1 when any
case fails. The kinds and what is checked:

- unet_forward: adm_unet.UNetModel(x, timesteps, y) → `output`;
- dit_forward: dit_reference.DiT forward(x, t, y) → `output` and forward_with_cfg(x, t, y,
  cfg_scale) → `output_cfg`;
- vae_decode: sd_decoder.KLDecoder (diffusers key names; an `ldm`-named case's `vae.*` keys are
  renamed by sd_decoder.ldm_to_diffusers) → `images`, and DiT's uint8 conversion of them → `uint8`.
"""
import argparse
import json
import os
import sys

import torch

import twin_attention
from safetensors_io import read_safetensors


# Where the twins run: cpu here; cuda on the device check's GPU, with TF32 off so float32 is float32.
DEVICE = "cpu"


def _on(t):
    return t.to(DEVICE)


def _weights(tensors, prefix):
    return {k[len(prefix) + 1 :]: v for k, v in tensors.items() if k.startswith(prefix + ".")}


def _unet(case, tensors):
    from adm_unet import build_unet

    model = build_unet(case["model"])
    model.load_state_dict(_weights(tensors, "model"), strict=True)
    model.to(DEVICE)
    y = _on(tensors["y"]) if "y" in case["inputs"] else None
    return {"output": model(_on(tensors["x"]), _on(tensors["timesteps"]), y)}


def _dit(case, tensors):
    from dit_reference import DiT

    model = DiT(case["model"]).eval()
    model.load_state_dict(_weights(tensors, "model"), strict=True)
    model.to(DEVICE)
    x, t, y = _on(tensors["x"]), _on(tensors["t"]), _on(tensors["y"])
    return {"output": model(x, t, y), "output_cfg": model.forward_with_cfg(x, t, y, case["cfg_scale"])}


def _vae(case, tensors):
    from sd_decoder import KLDecoder, ldm_to_diffusers

    vae = case["vae"]
    model = KLDecoder({**vae["derived"]["diffusers_config"], "scaling_factor": case["scaling_factor"]}).eval()
    state = _weights(tensors, "vae")
    if vae["naming"] == "ldm":
        state = ldm_to_diffusers(state, len(vae["ddconfig"]["ch_mult"]))
    model.load_state_dict(state, strict=True)
    model.to(DEVICE)
    images = model(_on(tensors["latents"]))
    # DiT sample_ddp.py's conversion: float32 127.5·x + 128, clamped, truncated, NHWC.
    levels = torch.clamp(127.5 * images + 128.0, 0, 255).permute(0, 2, 3, 1).to(torch.uint8)
    return {"images": images, "uint8": levels}


TWINS = {"unet_forward": _unet, "dit_forward": _dit, "vae_decode": _vae}


def compare(out, ref, tol):
    """The golden rule: floats pass when ||out − ref||₂ ≤ rel_l2·||ref||₂ + abs_l2; integers match
    exactly unless the tolerance gives max_abs_diff and max_mismatch_fraction."""
    if out.shape != ref.shape:
        return {"pass": False, "detail": f"shape {list(out.shape)}, reference {list(ref.shape)}"}
    if ref.dtype.is_floating_point:
        err = torch.linalg.vector_norm(out.double() - ref.double()).item()
        norm = torch.linalg.vector_norm(ref.double()).item()
        allowed = tol["rel_l2"] * norm + tol.get("abs_l2", 0)
        return {"pass": err <= allowed, "rel_l2": err / norm if norm else err, "tolerance": tol["rel_l2"]}
    diff = (out.long() - ref.long()).abs()
    fraction = (diff > 0).double().mean().item()
    max_diff = diff.max().item() if diff.numel() else 0
    ok = max_diff <= tol.get("max_abs_diff", 0) and fraction <= tol.get("max_mismatch_fraction", 0)
    return {"pass": ok, "max_abs_diff": max_diff, "mismatch_fraction": fraction, "tolerance": {k: tol.get(k, 0) for k in ("max_abs_diff", "max_mismatch_fraction")}}


def check_case(case_dir):
    with open(os.path.join(case_dir, "case.json")) as f:
        case = json.load(f)
    result = {"case": case["name"], "kind": case["kind"], "attention": twin_attention.kind(), "torch": torch.__version__}
    twin = TWINS.get(case["kind"])
    if twin is None:
        return {**result, "pass": False, "error": f"no PyTorch twin for kind {case['kind']}; twins: {', '.join(TWINS)}"}
    tensors = read_safetensors(os.path.join(case_dir, "tensors.safetensors"))
    with torch.no_grad():
        outputs = twin(case, tensors)
    tolerance = case["tolerance"]
    checked = {}
    for name in case["outputs"]:
        tol = {"rel_l2": tolerance["rel_l2"], "abs_l2": tolerance.get("abs_l2", 0), **tolerance.get("per_tensor", {}).get(name, {})}
        checked[name] = compare(outputs[name].cpu(), tensors[name], tol)
    return {**result, "device": DEVICE, "pass": all(c["pass"] for c in checked.values()), "outputs": checked}


def main(argv):
    parser = argparse.ArgumentParser(description="The PyTorch twins against the golden cases.")
    parser.add_argument("--attention", default="auto", choices=["auto", "fused", "explicit"])
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"], help="auto: cuda when torch has it")
    parser.add_argument("cases", nargs="+")
    a = parser.parse_args(argv)
    twin_attention.use(a.attention)
    global DEVICE
    DEVICE = ("cuda" if torch.cuda.is_available() else "cpu") if a.device == "auto" else a.device
    if DEVICE == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    if a.threads:
        torch.set_num_threads(a.threads)
    failed = 0
    for case_dir in a.cases:
        result = check_case(case_dir)
        failed += not result["pass"]
        print(json.dumps(result), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
