"""
The DiT forward in PyTorch, for `bench/latent-dit.ts`: the network of facebookresearch/DiT's models.py
written from its description (docs/models.md, test/golden/cases/README.md "dit_forward"), with the same
state_dict keys, so it loads the bench's generated weights.safetensors as DiT would.

    /usr/bin/python3 bench/python/dit_reference.py <dir> <config.json> <threads> <warmup> <repeat>

reads <dir>/weights.safetensors and <dir>/inputs.safetensors (x, t, y), times `repeat` forwards after
`warmup`, writes <dir>/torch_output.safetensors (out) and prints one JSON line: median_ms, times_ms,
max_rss_mb, threads, torch version.
"""
import json
import math
import resource
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

DTYPES = {"F32": torch.float32, "I64": torch.int64, "F64": torch.float64}


def read_safetensors(path):
    """The file's tensors as views of one buffer read once (load_state_dict copies them into the model)."""
    with open(path, "rb") as f:
        f.seek(0, 2)
        data = bytearray(f.tell())
        f.seek(0)
        f.readinto(data)
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    body = memoryview(data)[8 + n :]
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        t = torch.frombuffer(body[begin:end], dtype=DTYPES[entry["dtype"]]) if end > begin else torch.empty(0)
        out[name] = t.reshape(entry["shape"])
    return out


def write_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name, t in tensors.items():
        raw = t.contiguous().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for b in blobs:
            f.write(b)


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
        w = ((q * (d // self.heads) ** -0.5) @ k.transpose(-2, -1)).softmax(dim=-1)
        return self.proj((w @ v).transpose(1, 2).reshape(n, t, d))


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
