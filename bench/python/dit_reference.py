"""
The DiT forward in PyTorch, for `bench/latent-dit.ts`: the network of facebookresearch/DiT's models.py
written from its description (docs/models.md, test/golden/cases/README.md "dit_forward"), with the same
state_dict keys, so it loads the bench's generated weights.safetensors as DiT would. `DiT(cfg)` takes
the case's / model.json's `model` object; golden_twin.py checks it, forward_with_cfg included, against
the dit_forward golden cases.

    /usr/bin/python3 bench/python/dit_reference.py <dir> <config.json> <threads> <warmup> <repeat>

reads <dir>/weights.safetensors and <dir>/inputs.safetensors (x, t, y), times `repeat` forwards after
`warmup`, writes <dir>/torch_output.safetensors (out) and prints one JSON line: median_ms, times_ms,
max_rss_mb, threads, torch version.
"""
import json
import math
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

import twin_attention
from safetensors_io import read_safetensors, write_safetensors

def layer_norm(x):
    return F.layer_norm(x, x.shape[-1:], eps=1e-6)


def modulate(x, shift, scale):
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


class Mlp(nn.Module):
    def __init__(self, d, hidden):
        super().__init__()
        self.fc1 = nn.Linear(d, hidden)
        self.fc2 = nn.Linear(hidden, d)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))


class Attention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)

    def forward(self, x):
        n, t, d = x.shape
        q, k, v = self.qkv(x).reshape(n, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        if twin_attention.FUSED:
            a = F.scaled_dot_product_attention(q, k, v)
        else:
            a = ((q * (d // self.heads) ** -0.5) @ k.transpose(-2, -1)).softmax(dim=-1) @ v
        return self.proj(a.transpose(1, 2).reshape(n, t, d))


class Block(nn.Module):
    def __init__(self, d, heads, mlp_ratio):
        super().__init__()
        self.attn = Attention(d, heads)
        self.mlp = Mlp(d, int(d * mlp_ratio))
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(d, 6 * d))

    def forward(self, x, c):
        s1, c1, g1, s2, c2, g2 = self.adaLN_modulation(c).chunk(6, dim=1)
        x = x + g1.unsqueeze(1) * self.attn(modulate(layer_norm(x), s1, c1))
        return x + g2.unsqueeze(1) * self.mlp(modulate(layer_norm(x), s2, c2))


class PatchEmbed(nn.Module):
    def __init__(self, cin, d, p):
        super().__init__()
        self.proj = nn.Conv2d(cin, d, p, p)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class TimestepEmbedder(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(256, d), nn.SiLU(), nn.Linear(d, d))

    def forward(self, t):
        freqs = torch.exp(-math.log(10000) * torch.arange(128, dtype=torch.float32) / 128)
        args = t[:, None].float() * freqs[None]
        return self.mlp(torch.cat([torch.cos(args), torch.sin(args)], dim=-1))


class LabelEmbedder(nn.Module):
    def __init__(self, rows, d):
        super().__init__()
        self.embedding_table = nn.Embedding(rows, d)

    def forward(self, y):
        return self.embedding_table(y)


class FinalLayer(nn.Module):
    def __init__(self, d, p, out):
        super().__init__()
        self.linear = nn.Linear(d, p * p * out)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(d, 2 * d))

    def forward(self, x, c):
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=1)
        return self.linear(modulate(layer_norm(x), shift, scale))


class DiT(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, p = cfg["hidden_size"], cfg["patch_size"]
        self.p = p
        self.out = cfg["in_channels"] * (2 if cfg["learn_sigma"] else 1)
        tokens = (cfg["input_size"] // p) ** 2
        self.pos_embed = nn.Parameter(torch.zeros(1, tokens, d), requires_grad=False)
        self.x_embedder = PatchEmbed(cfg["in_channels"], d, p)
        self.t_embedder = TimestepEmbedder(d)
        rows = cfg["num_classes"] + (1 if cfg["class_dropout_prob"] > 0 else 0)
        self.y_embedder = LabelEmbedder(rows, d)
        self.blocks = nn.ModuleList([Block(d, cfg["num_heads"], cfg["mlp_ratio"]) for _ in range(cfg["depth"])])
        self.final_layer = FinalLayer(d, p, self.out)

    def forward(self, x, t, y):
        h = self.x_embedder(x) + self.pos_embed
        c = self.t_embedder(t) + self.y_embedder(y)
        for block in self.blocks:
            h = block(h, c)
        h = self.final_layer(h, c)
        n, tokens, _ = h.shape
        g = int(round(tokens**0.5))
        h = h.reshape(n, g, g, self.p, self.p, self.out)
        return torch.einsum("nhwpqc->nchpwq", h).reshape(n, self.out, g * self.p, g * self.p)

    def forward_with_cfg(self, x, t, y, cfg_scale, guided_channels=3):
        """DiT's classifier-free guidance on a doubled batch: rows N/2.. carry the null label, and
        both halves see x[:N/2]. The first `guided_channels` channels (3 in DiT, even with 4 latent
        channels) become u + s·(c − u) in both halves; the other channels (ε's last, the variance)
        stay each half's own."""
        half = x[: len(x) // 2]
        out = self(torch.cat([half, half]), t, y)
        cond, uncond = out.chunk(2)
        guided = uncond[:, :guided_channels] + cfg_scale * (cond[:, :guided_channels] - uncond[:, :guided_channels])
        return torch.cat([torch.cat([guided, cond[:, guided_channels:]], 1), torch.cat([guided, uncond[:, guided_channels:]], 1)])


def main():
    folder, config_path, threads, warmup, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    torch.set_num_threads(threads)
    with open(config_path) as f:
        cfg = json.load(f)
    model = DiT(cfg).eval()
    model.load_state_dict(read_safetensors(f"{folder}/weights.safetensors"), strict=True)
    inputs = read_safetensors(f"{folder}/inputs.safetensors")
    x, t, y = inputs["x"], inputs["t"], inputs["y"]
    times = []
    with torch.no_grad():
        for i in range(warmup + repeat):
            start = time.perf_counter()
            out = model(x, t, y)
            if i >= warmup:
                times.append((time.perf_counter() - start) * 1000)
    write_safetensors(f"{folder}/torch_output.safetensors", {"out": out})
    times_sorted = sorted(times)
    mid = len(times_sorted) // 2
    median = times_sorted[mid] if len(times_sorted) % 2 else (times_sorted[mid - 1] + times_sorted[mid]) / 2
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"median_ms": median, "times_ms": times, "max_rss_mb": rss_mb, "threads": torch.get_num_threads(), "torch": torch.__version__}))


if __name__ == "__main__":
    main()
