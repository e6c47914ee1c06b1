"""The KL autoencoder's decoder in plain PyTorch, for bench/latent-decoder.ts.

Written for the benchmark from the decoder's definition (docs/models.md, "The autoencoder"), with
the module names of diffusers' AutoencoderKL so that a diffusers weights file loads strictly on
the decode side. It is the straightforward PyTorch model: NCHW, nearest upsampling then a 3x3
conv, one-head attention with bmm + softmax (torch 1.13 has no fused attention).

usage: sd_decoder.py <decoder dir> <latents .f32> <n> <h> <w> <runs> <threads> <images out .f32>
prints one JSON line: {"ms": [...], "warm_ms": ..., "torch": version, "threads": t}
"""
import json
import struct
import sys
import time

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

EPS = 1e-6


def read_safetensors(path):
    """The float32 / float16 tensors of a safetensors file, by name."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    base = 8 + n
    dtypes = {"F32": np.float32, "F16": np.float16, "F64": np.float64}
    out = {}
    for name, entry in header.items():
        if name == "__metadata__" or entry["dtype"] not in dtypes:
            continue
        begin, end = entry["data_offsets"]
        array = np.frombuffer(data, dtype=dtypes[entry["dtype"]], count=(end - begin) // np.dtype(dtypes[entry["dtype"]]).itemsize, offset=base + begin)
        out[name] = torch.from_numpy(array.astype(np.float32).reshape(entry["shape"]))
    return out


class Resnet(nn.Module):
    def __init__(self, cin, cout, groups):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=EPS)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm2 = nn.GroupNorm(groups, cout, eps=EPS)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x):
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return (x if self.conv_shortcut is None else self.conv_shortcut(x)) + h


class Attention(nn.Module):
    def __init__(self, c, groups):
        super().__init__()
        self.group_norm = nn.GroupNorm(groups, c, eps=EPS)
        self.to_q = nn.Linear(c, c)
        self.to_k = nn.Linear(c, c)
        self.to_v = nn.Linear(c, c)
        self.to_out = nn.ModuleList([nn.Linear(c, c)])

    def forward(self, x):
        n, c, h, w = x.shape
        t = self.group_norm(x).reshape(n, c, h * w).transpose(1, 2)
        q, k, v = self.to_q(t), self.to_k(t), self.to_v(t)
        weights = torch.softmax(torch.bmm(q, k.transpose(1, 2)) * c**-0.5, dim=-1)
        o = self.to_out[0](torch.bmm(weights, v))
        return x + o.transpose(1, 2).reshape(n, c, h, w)


class Mid(nn.Module):
    def __init__(self, c, groups):
        super().__init__()
        self.resnets = nn.ModuleList([Resnet(c, c, groups), Resnet(c, c, groups)])
        self.attentions = nn.ModuleList([Attention(c, groups)])

    def forward(self, x):
        return self.resnets[1](self.attentions[0](self.resnets[0](x)))


class Upsampler(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class Up(nn.Module):
    def __init__(self, cin, cout, count, upsample, groups):
        super().__init__()
        self.resnets = nn.ModuleList([Resnet(cin if i == 0 else cout, cout, groups) for i in range(count)])
        self.upsamplers = nn.ModuleList([Upsampler(cout)]) if upsample else None

    def forward(self, x):
        for r in self.resnets:
            x = r(x)
        return x if self.upsamplers is None else self.upsamplers[0](x)


class Decoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        widths = list(reversed(cfg["block_out_channels"]))
        groups = cfg.get("norm_num_groups", 32)
        latent = cfg.get("latent_channels", 4)
        self.conv_in = nn.Conv2d(latent, widths[0], 3, padding=1)
        self.mid_block = Mid(widths[0], groups)
        ups, c = [], widths[0]
        for i, w in enumerate(widths):
            ups.append(Up(c, w, cfg.get("layers_per_block", 1) + 1, i < len(widths) - 1, groups))
            c = w
        self.up_blocks = nn.ModuleList(ups)
        self.conv_norm_out = nn.GroupNorm(groups, c, eps=EPS)
        self.conv_out = nn.Conv2d(c, cfg.get("out_channels", 3), 3, padding=1)

    def forward(self, z):
        h = self.mid_block(self.conv_in(z))
        for up in self.up_blocks:
            h = up(h)
        return self.conv_out(F.silu(self.conv_norm_out(h)))


class KLDecoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        latent = cfg.get("latent_channels", 4)
        self.scaling_factor = cfg.get("scaling_factor", 0.18215)
        self.post_quant_conv = nn.Conv2d(latent, latent, 1)
        self.decoder = Decoder(cfg)

    def forward(self, z):
        return self.decoder(self.post_quant_conv(z / self.scaling_factor))


def main():
    directory, latents, n, h, w, runs, threads, out = sys.argv[1:9]
    n, h, w, runs, threads = int(n), int(h), int(w), int(runs), int(threads)
    torch.set_num_threads(threads)
    with open(f"{directory}/config.json") as f:
        cfg = json.load(f)
    model = KLDecoder(cfg).eval()
    state = {k: v for k, v in read_safetensors(f"{directory}/diffusion_pytorch_model.safetensors").items() if k.startswith(("decoder.", "post_quant_conv."))}
    model.load_state_dict(state, strict=True)
    z = torch.from_numpy(np.fromfile(latents, dtype=np.float32).reshape(n, cfg.get("latent_channels", 4), h, w))
    with torch.inference_mode():
        started = time.perf_counter()
        images = model(z)
        warm = (time.perf_counter() - started) * 1000
        ms = []
        for _ in range(runs):
            started = time.perf_counter()
            model(z)
            ms.append((time.perf_counter() - started) * 1000)
    images.numpy().astype(np.float32).tofile(out)
    print(json.dumps({"ms": ms, "warm_ms": warm, "torch": torch.__version__, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
