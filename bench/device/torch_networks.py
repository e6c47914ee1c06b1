"""The PyTorch side of the device check's timing (bench/device/device-check.ts): the same network, with
the same weights (a safetensors file of PyTorch state_dict keys) and the same inputs, timed at the same
batch on the same device, one JSON line per precision on stdout.

    python3 torch_networks.py --network adm_unet|dit|sd_decoder --config C.json --weights W.safetensors \
        --inputs I.safetensors --output O.safetensors --label NAME [--repeat N] [--precisions float32,float16,bfloat16]

The networks are the PyTorch twins in bench/python (adm_unet.py, dit_reference.py, sd_decoder.py), each
checked against its golden cases by test/golden/torch-twins.test.ts, so a figure here times a network
known to compute what the reference computes. The float32 output is written to --output: the check
compares onnxruntime's output with it, so both sides are shown to compute the same function on these
weights before their times are set side by side. Each lower precision's line carries its own relative
L2 distance from the float32 output.

What is timed: the forward alone, inputs and output resident on the device, synchronised (what a
PyTorch sampling loop pays per step). diffq's side also moves its inputs in and its output out each
forward, as its worker does; device-check.ts says so in its figures.
"""
import argparse
import contextlib
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

from safetensors_io import read_safetensors, write_safetensors  # noqa: E402

# name: (compute dtype, how it runs)
PRECISIONS = {
    "float32": (torch.float32, "strict float32 (TF32 off)"),
    "tf32": (torch.float32, "float32 with TF32 matmuls and convolutions"),
    "float16": (torch.float16, "autocast float16"),
    "bfloat16": (torch.bfloat16, "autocast bfloat16"),
}


def build(network, cfg, state):
    """The twin of `network` with `state` loaded strictly (a missing or extra key is an error)."""
    if network == "adm_unet":
        from adm_unet import build_unet

        model = build_unet(cfg)
    elif network == "dit":
        from dit_reference import DiT

        model = DiT(cfg)
    elif network == "sd_decoder":
        from sd_decoder import KLDecoder

        model = KLDecoder(cfg)
        # A diffusers AutoencoderKL file also holds the encoder; the decode side is these two modules.
        state = {k: v for k, v in state.items() if k.startswith(("decoder.", "post_quant_conv."))}
    else:
        raise SystemExit(f"--network is {network!r}; accepted: adm_unet, dit, sd_decoder")
    model.load_state_dict(state, strict=True)
    return model.eval()


def call(network, model, inputs):
    if network == "sd_decoder":
        return model(inputs["z"])
    if network == "dit":
        return model(inputs["x"], inputs["t"], inputs["y"])
    return model(inputs["x"], inputs["timesteps"], inputs.get("y"))


def emit(line):
    """One figure: a compact JSON line, as device-check.ts prints its own."""
    print(json.dumps(line, separators=(",", ":")), flush=True)


def relative_l2(a, b):
    a, b = a.double(), b.double()
    return float(torch.linalg.vector_norm(a - b) / torch.linalg.vector_norm(b))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--network", required=True)
    p.add_argument("--label", required=True)
    p.add_argument("--config", required=True)
    p.add_argument("--weights", required=True)
    p.add_argument("--inputs", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--precisions", default="float32,tf32,float16,bfloat16")
    a = p.parse_args()

    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        # Lets cuDNN pick its fastest convolution for these shapes during the warm-up, as a tuned PyTorch run would.
        torch.backends.cudnn.benchmark = True
    with open(a.config) as f:
        cfg = json.load(f)
    base = build(a.network, cfg, read_safetensors(a.weights))
    inputs = read_safetensors(a.inputs)
    batch = next(iter(inputs.values())).shape[0]
    common = {
        "check": "timing",
        "network": a.label,
        "runtime": "pytorch",
        "torch": torch.__version__,
        "device": device,
        "gpu": torch.cuda.get_device_name(0) if device == "cuda" else None,
        "batch": batch,
        "repeat": a.repeat,
        "attention": "scaled_dot_product_attention" if hasattr(torch.nn.functional, "scaled_dot_product_attention") else "explicit softmax",
        "timed": "forward, inputs and output on the device",
    }
    model = base.to(device)
    args = {k: v.to(device) for k, v in inputs.items()}
    reference = None
    for name in a.precisions.split(","):
        if name not in PRECISIONS:
            raise SystemExit(f"--precisions names {name!r}; accepted: {', '.join(PRECISIONS)}")
        line = dict(common, precision=name, mode=PRECISIONS[name][1])
        if device == "cpu" and name != "float32":
            # The figures are for GPUs; PyTorch's CPU autocast also lacks kernels (group_norm in bfloat16 on torch 1.13).
            emit(dict(line, skipped=f"{name} is timed on CUDA only"))
            continue
        try:
            dtype = PRECISIONS[name][0]
            if device == "cuda":
                # float32 is strict float32 (what onnxruntime's float32 graph computes); tf32 is PyTorch's default for convolutions.
                torch.backends.cuda.matmul.allow_tf32 = name == "tf32"
                torch.backends.cudnn.allow_tf32 = name == "tf32"
            # Half precisions run under autocast, as PyTorch users run them: the matmuls and convolutions in the
            # low precision, normalisations and softmax in float32, timesteps and labels as they are.
            autocast = torch.autocast(device, dtype=dtype) if dtype != torch.float32 else contextlib.nullcontext()
            times = []
            with torch.inference_mode(), autocast:
                for i in range(a.warmup + a.repeat):
                    if device == "cuda":
                        torch.cuda.synchronize()
                    start = time.perf_counter()
                    out = call(a.network, model, args)
                    if device == "cuda":
                        torch.cuda.synchronize()
                    if i >= a.warmup:
                        times.append((time.perf_counter() - start) * 1000)
            out = out.float().cpu()
            if reference is None and name == "float32":
                reference = out
                write_safetensors(a.output, {"out": out})
            ms = sorted(times)[len(times) // 2]
            line.update(medianMs=round(ms, 2), imagesPerSecond=round(batch * 1000 / ms, 1))
            if reference is not None and name != "float32":
                line["relL2VsFloat32"] = float(f"{relative_l2(out, reference):.3e}")
        except Exception as e:  # one precision failing (a kernel missing, memory) leaves the others' figures
            line["error"] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        emit(line)
    if reference is None:
        raise SystemExit("no float32 output: the check needs it to compare onnxruntime with PyTorch")


if __name__ == "__main__":
    main()
