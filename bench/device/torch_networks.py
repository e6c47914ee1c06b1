"""The PyTorch side of the device check's timing (bench/device/device-check.ts): the same network,
with the same weights (a safetensors file of PyTorch state_dict keys), timed at the same batch on the
same device, one JSON line per precision.

Not built yet: a PyTorch ADM UNet (guided-diffusion's layout) that loads diffq's weights, checked
against the unet_forward golden cases before it is timed. Until then this prints, for each network,
one line saying the PyTorch figure is missing, and no number: a figure without that parity check
would compare onnxruntime with an unverified model.
"""
import argparse
import json

parser = argparse.ArgumentParser()
parser.add_argument("--network", required=True)
parser.add_argument("--args", required=True)
parser.add_argument("--weights", required=True)
parser.add_argument("--batch", type=int, required=True)
parser.add_argument("--repeat", type=int, default=20)
a = parser.parse_args()

try:
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch_version = torch.__version__
except ImportError:
    device, torch_version = None, None

print(json.dumps({
    "check": "timing",
    "network": a.network,
    "runtime": "pytorch",
    "torch": torch_version,
    "device": device,
    "batch": a.batch,
    "skipped": "no PyTorch ADM UNet in bench/device/torch_networks.py yet (see its docstring)",
}), flush=True)
