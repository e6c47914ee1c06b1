"""The PyTorch side of `npm run bench -- dinov2`: the same FD_DINOv2 network in PyTorch.

A small ViT written here from dinov2's description (docs/feature-networks.md), not dinov2's own
module (not installed here): edm2's preprocessing (antialiased bicubic to 224, /255, ImageNet
mean/std), patch embedding, the position embedding interpolated as the hub model does, pre-norm
blocks with LayerScale, exact GELU, the class token after the final LayerNorm. It loads the
weights diffq wrote (safetensors, official keys), times forwards of the given images and writes
the features for the bench to compare with diffq's.

usage: python3 dinov2_torch.py WEIGHTS IMAGES_U8 N H W FEATURES_OUT --hub-model M --threads T --rounds R
prints one JSON line: {"times_ms": [...], "threads": T, "torch": version}
"""
import argparse
import json
import math
import struct
import time

import numpy as np
import torch
import torch.nn.functional as F

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def read_safetensors(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for key, info in header.items():
        if key == "__metadata__":
            continue
        assert info["dtype"] == "F32", (key, info["dtype"])
        begin, end = info["data_offsets"]
        out[key] = torch.from_numpy(np.frombuffer(data, dtype=np.float32, count=(end - begin) // 4, offset=begin).reshape(info["shape"]))
    return out


class Dinov2(torch.nn.Module):
    def __init__(self, w, heads, hub_model):
        super().__init__()
        self.w = w
        self.heads = heads
        self.depth = 1 + max(int(k.split(".")[1]) for k in w if k.startswith("blocks."))
        self.registers = w["register_tokens"] if "register_tokens" in w else None
        d = w["cls_token"].shape[-1]
        grid = w["pos_embed"][:, 1:].reshape(1, 37, 37, d).permute(0, 3, 1, 2)
        if hub_model == "dinov2_vitl14":
            patches = F.interpolate(grid, scale_factor=(16.1 / 37, 16.1 / 37), mode="bicubic", antialias=False)
        else:
            patches = F.interpolate(grid, size=(16, 16), mode="bicubic", antialias=True)
        self.pos = torch.cat([w["pos_embed"][:, :1], patches.permute(0, 2, 3, 1).reshape(1, 256, d)], dim=1)

    def block(self, x, i):
        p = lambda name: self.w[f"blocks.{i}.{name}"]
        n, t, d = x.shape
        h = F.layer_norm(x, (d,), p("norm1.weight"), p("norm1.bias"), eps=1e-6)
        qkv = F.linear(h, p("attn.qkv.weight"), p("attn.qkv.bias")).reshape(n, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0] * (d // self.heads) ** -0.5, qkv[1], qkv[2]
        o = (q @ k.transpose(-2, -1)).softmax(dim=-1) @ v
        o = F.linear(o.transpose(1, 2).reshape(n, t, d), p("attn.proj.weight"), p("attn.proj.bias"))
        x = x + p("ls1.gamma") * o
        h = F.layer_norm(x, (d,), p("norm2.weight"), p("norm2.bias"), eps=1e-6)
        h = F.linear(F.gelu(F.linear(h, p("mlp.fc1.weight"), p("mlp.fc1.bias"))), p("mlp.fc2.weight"), p("mlp.fc2.bias"))
        return x + p("ls2.gamma") * h

    def forward(self, images):  # uint8 [N, H, W, C]
        x = images.permute(0, 3, 1, 2).to(torch.float32)
        x = F.interpolate(x, size=(224, 224), mode="bicubic", antialias=True) / 255
        x = (x - torch.tensor(MEAN).reshape(1, 3, 1, 1)) / torch.tensor(STD).reshape(1, 3, 1, 1)
        x = F.conv2d(x, self.w["patch_embed.proj.weight"], self.w["patch_embed.proj.bias"], stride=14).flatten(2).transpose(1, 2)
        x = torch.cat([self.w["cls_token"].expand(x.shape[0], -1, -1), x], dim=1) + self.pos
        if self.registers is not None:
            x = torch.cat([x[:, :1], self.registers.expand(x.shape[0], -1, -1), x[:, 1:]], dim=1)
        for i in range(self.depth):
            x = self.block(x, i)
        return F.layer_norm(x[:, 0], (x.shape[-1],), self.w["norm.weight"], self.w["norm.bias"], eps=1e-6)


def main():
    a = argparse.ArgumentParser()
    for name in ("weights", "images", "n", "h", "w", "features_out"):
        a.add_argument(name)
    a.add_argument("--hub-model", default="dinov2_vitl14")
    a.add_argument("--heads", type=int, required=True)
    a.add_argument("--threads", type=int, required=True)
    a.add_argument("--rounds", type=int, default=3)
    args = a.parse_args()
    torch.set_num_threads(args.threads)
    model = Dinov2(read_safetensors(args.weights), args.heads, args.hub_model).eval()
    n, h, w = int(args.n), int(args.h), int(args.w)
    images = torch.from_numpy(np.fromfile(args.images, dtype=np.uint8).reshape(n, h, w, 3))
    times = []
    with torch.no_grad():
        features = model(images)  # warm-up
        for _ in range(args.rounds):
            start = time.perf_counter()
            features = model(images)
            times.append(1000 * (time.perf_counter() - start))
    features.numpy().astype(np.float32).tofile(args.features_out)
    print(json.dumps({"times_ms": times, "threads": torch.get_num_threads(), "torch": torch.__version__}))


if __name__ == "__main__":
    main()
