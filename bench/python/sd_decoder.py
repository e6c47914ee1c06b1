"""The KL autoencoder's decoder in plain PyTorch, for bench/latent-decoder.ts.

Written for the benchmark from the decoder's definition (docs/models.md, "The autoencoder"), with
the module names of diffusers' AutoencoderKL so that a diffusers weights file loads strictly on
the decode side (ldm_to_diffusers renames an LDM / CompVis state_dict to them). It is the
straightforward PyTorch model: NCHW, nearest upsampling then a 3x3 conv, one-head attention with
scaled_dot_product_attention where torch has it (>= 2.0, as diffusers' AttnProcessor2_0), bmm + softmax
otherwise. golden_twin.py checks KLDecoder against the vae_decode golden cases.

usage: sd_decoder.py <decoder dir> <latents .f32> <n> <h> <w> <runs> <threads> <images out .f32>
prints one JSON line: {"ms": [...], "warm_ms": ..., "torch": version, "threads": t}
"""
import json
import re
import sys
import time

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

import twin_attention
from safetensors_io import read_safetensors

EPS = 1e-6


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
        if twin_attention.FUSED:
            a = F.scaled_dot_product_attention(q[:, None], k[:, None], v[:, None])[:, 0]
        else:
            a = torch.bmm(torch.softmax(torch.bmm(q, k.transpose(1, 2)) * c**-0.5, dim=-1), v)
        o = self.to_out[0](a)
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


_LDM_ATTENTION = {"norm": "group_norm", "q": "to_q", "k": "to_k", "v": "to_v", "proj_out": "to_out.0"}


def ldm_to_diffusers(state, levels):
    """The decode side of an LDM AutoencoderKL state_dict (post_quant_conv.*, decoder.*) under
    diffusers' names, for a decoder of `levels` = len(ch_mult) levels (docs/models.md and the
    golden README's "ldm → diffusers key table"): ldm's up.j is diffusers' up_blocks.(levels−1−j),
    nin_shortcut is conv_shortcut, and the mid attention's 1×1 convs become Linear weights."""
    out = {}
    for key, value in state.items():
        name = key
        m = re.match(r"decoder\.mid\.attn_1\.(norm|q|k|v|proj_out)\.(weight|bias)$", key)
        if m:
            name = f"decoder.mid_block.attentions.0.{_LDM_ATTENTION[m[1]]}.{m[2]}"
            if m[1] != "norm" and m[2] == "weight":
                value = value[:, :, 0, 0]
        else:
            name = re.sub(r"^decoder\.mid\.block_(\d)\.", lambda b: f"decoder.mid_block.resnets.{int(b[1]) - 1}.", name)
            name = re.sub(r"^decoder\.up\.(\d+)\.block\.", lambda u: f"decoder.up_blocks.{levels - 1 - int(u[1])}.resnets.", name)
            name = re.sub(r"^decoder\.up\.(\d+)\.upsample\.", lambda u: f"decoder.up_blocks.{levels - 1 - int(u[1])}.upsamplers.0.", name)
            name = name.replace(".nin_shortcut.", ".conv_shortcut.").replace("decoder.norm_out.", "decoder.conv_norm_out.")
        out[name] = value
    return out


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
