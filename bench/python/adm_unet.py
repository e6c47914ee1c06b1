"""guided-diffusion's UNetModel (the ADM / DDPM-IP denoiser) in plain PyTorch: diffq's PyTorch twin
of the network it runs on tfjs and onnxruntime, so the device check can time "the same network in
PyTorch" on diffq's own weights.

Written from the network's description (test/golden/cases/README.md "unet_forward", docs/models.md)
and diffq's implementation (packages/networks/src/adm/, packages/onnx/src/unet-graph.ts), not from
guided-diffusion's code. The state_dict keys are guided-diffusion's, so `load_state_dict(strict=True)`
takes a diffq weights.safetensors or a golden case's `model.*` tensors (prefix stripped); the
arguments are model.json's `model` object, validated and resolved as diffq's parser
(packages/networks/src/adm/unet-config.ts parseUNetConfig) does.

    build_unet(args) -> UNetModel        args: model.json's `model` (create_model's flag names)
    UNetModel(parse_unet_args(args))     the same, in two steps
    model(x, timesteps, y=None)          x [N, in_channels, H, W], timesteps [N], y [N] int64

Precision: GroupNorm and the attention softmax run in float32 whatever the parameters' dtype, so
the model runs after .half() or .to(torch.bfloat16); convert_to_fp16() instead makes only the torso's
convolutions half precision, as guided-diffusion's use_fp16 and diffq's float16 onnx graph do.

CLI:
    adm_unet.py --case <golden case dir>   the case's forward in float32 on CPU; prints
                                           {"case", "rel_l2", "tolerance", ...}, exits 1 when over
    adm_unet.py --shapes < args.json       for a JSON list of `model` objects, the resolved config
                                           and state_dict shapes of each, or the parser's error
"""
import json
import math
import re
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

import twin_attention

GROUPNORM_GROUPS = 32
GROUPNORM_EPS = 1e-5


class UNetArgsError(ValueError):
    pass


# --- model.json `model` → UNetModel configuration (mirrors unet-config.ts) -------------------------

_COMMA_INTS = re.compile(r"^\s*(\d+\s*(,\s*\d+\s*)*)?$")


def _is_int(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and float(v).is_integer()


def _int_field(lo=None, hi=None):
    def check(v):
        if not _is_int(v):
            return "must be an integer"
        if lo is not None and v < lo:
            return f"must be >= {lo}"
        if hi is not None and v > hi:
            return f"must be <= {hi}"
        return None

    return check


def _bool_field(v):
    return None if isinstance(v, bool) else "must be true or false"


def _comma_ints_field(v):
    if isinstance(v, str):
        return None if _COMMA_INTS.match(v) else 'must be a comma-separated list of positive integers, e.g. "1,2,2,2"'
    if isinstance(v, list):
        return None if all(_is_int(i) and i > 0 for i in v) else "must be a list of positive integers"
    return 'must be a string like "1,2,2,2" or a list of integers'


def _dropout_field(v):
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return "must be a number"
    return None if 0 <= v <= 1 else "must be between 0 and 1"


def _nullable_classes(v):
    return None if v is None else _int_field(1)(v)


# field: (check, default); _REQUIRED has no default. The ranges are UNetArgsSchema's.
_REQUIRED = object()
_OPTIONAL = object()
_FIELDS = {
    "image_size": (_int_field(4, 1024), _REQUIRED),
    "num_channels": (_int_field(1, 4096), _REQUIRED),
    "num_res_blocks": (_int_field(1, 16), _REQUIRED),
    "channel_mult": (_comma_ints_field, ""),
    "attention_resolutions": (_comma_ints_field, "16,8"),
    "num_heads": (_int_field(1), 1),
    "num_head_channels": (_int_field(-1), -1),
    "num_heads_upsample": (_int_field(-1), -1),
    "use_scale_shift_norm": (_bool_field, False),
    "resblock_updown": (_bool_field, False),
    "use_new_attention_order": (_bool_field, False),
    "learn_sigma": (_bool_field, False),
    "class_cond": (_bool_field, False),
    "num_classes": (_nullable_classes, None),
    "in_channels": (_int_field(1, 64), 3),
    "dropout": (_dropout_field, 0),
    # Accepted so create_model's flags load as they are, and ignored: they change how PyTorch
    # computes (memory, half precision), not the function.
    "use_checkpoint": (_bool_field, _OPTIONAL),
    "use_fp16": (_bool_field, _OPTIONAL),
    "derived": (lambda v: None, _OPTIONAL),
}

_DEFAULT_CHANNEL_MULT = {
    512: [0.5, 1, 1, 2, 2, 4, 4],
    256: [1, 1, 2, 2, 4, 4],
    128: [1, 1, 2, 3, 4],
    64: [1, 2, 3, 4],
    32: [1, 2, 2, 2],
}


def _comma_ints(v):
    if isinstance(v, list):
        return [int(i) for i in v]
    return [int(s) for s in (p.strip() for p in v.split(",")) if s]


def parse_unet_args(raw, where="model"):
    """model.json's `model` object (create_model's argument names) validated and resolved as diffq's
    parseUNetConfig does; returns UNetModel's configuration, diffq's UNetConfig in snake_case.
    Raises UNetArgsError naming the field."""
    if not isinstance(raw, dict):
        raise UNetArgsError(f"{where} must be an object")
    unknown = sorted(set(raw) - set(_FIELDS))
    if unknown:
        raise UNetArgsError(f"{where}: unknown field(s) {', '.join(unknown)}")
    a = {}
    for field, (check, default) in _FIELDS.items():
        if field not in raw:
            if default is _REQUIRED:
                raise UNetArgsError(f"{where}.{field} is required")
            if default is not _OPTIONAL:
                a[field] = default
            continue
        problem = check(raw[field])
        if problem:
            raise UNetArgsError(f"{where}.{field} {problem}; got {raw[field]!r}")
        a[field] = raw[field]
    for field in ("image_size", "num_channels", "num_res_blocks", "num_heads", "num_head_channels", "num_heads_upsample", "in_channels"):
        a[field] = int(a[field])
    image_size, width = a["image_size"], a["num_channels"]

    channel_mult = _comma_ints(a["channel_mult"])
    if not channel_mult:
        if image_size not in _DEFAULT_CHANNEL_MULT:
            raise UNetArgsError(
                f'{where}.channel_mult is empty and image_size {image_size} has no default; give channel_mult explicitly, e.g. "1,2,2,2"'
            )
        channel_mult = _DEFAULT_CHANNEL_MULT[image_size]
    attention_ds = []
    for res in _comma_ints(a["attention_resolutions"]):
        if res == 0 or image_size % res != 0:
            raise UNetArgsError(f"{where}.attention_resolutions: {res} does not divide image_size {image_size}")
        attention_ds.append(image_size // res)

    num_classes = a["num_classes"]
    if a["class_cond"] and num_classes is None:
        num_classes = 1000
    if not a["class_cond"] and num_classes is not None:
        raise UNetArgsError(f"{where}.num_classes is {num_classes} but class_cond is false; set class_cond: true or num_classes: null")
    num_classes = None if num_classes is None else int(num_classes)
    if a["num_head_channels"] == 0:
        raise UNetArgsError(f"{where}.num_head_channels must be -1 (use num_heads) or a positive channel count")

    levels = len(channel_mult)
    if image_size % 2 ** (levels - 1) != 0:
        raise UNetArgsError(
            f"{where}.channel_mult has {levels} levels, so image_size must be divisible by {2 ** (levels - 1)}; got {image_size}"
        )
    for m in channel_mult:
        ch = int(m * width)
        if ch % GROUPNORM_GROUPS != 0:
            raise UNetArgsError(f"{where}: level width {ch} (num_channels × channel_mult) must be a multiple of 32 for GroupNorm(32)")
        if a["num_head_channels"] > 0 and ch % a["num_head_channels"] != 0:
            raise UNetArgsError(f"{where}.num_head_channels {a['num_head_channels']} must divide every level width; {ch} is not a multiple")

    return {
        "image_size": image_size,
        "model_channels": width,
        "num_res_blocks": a["num_res_blocks"],
        "channel_mult": channel_mult,
        "attention_ds": attention_ds,
        "num_heads": a["num_heads"],
        "num_head_channels": a["num_head_channels"],
        "num_heads_upsample": a["num_heads"] if a["num_heads_upsample"] == -1 else a["num_heads_upsample"],
        "use_scale_shift_norm": a["use_scale_shift_norm"],
        "resblock_updown": a["resblock_updown"],
        "use_new_attention_order": a["use_new_attention_order"],
        "learn_sigma": a["learn_sigma"],
        "num_classes": num_classes,
        "in_channels": a["in_channels"],
        "out_channels": 2 * a["in_channels"] if a["learn_sigma"] else a["in_channels"],
        "dropout": a["dropout"],
    }


# --- the network ----------------------------------------------------------------------------------


class GroupNorm32(nn.GroupNorm):
    """GroupNorm(32, eps 1e-5) computed in float32 and returned in the input's dtype."""

    def __init__(self, channels):
        super().__init__(GROUPNORM_GROUPS, channels, eps=GROUPNORM_EPS)

    def forward(self, x):
        return F.group_norm(x.float(), self.num_groups, self.weight.float(), self.bias.float(), self.eps).to(x.dtype)


def timestep_embedding(timesteps, dim):
    """[cos(t·f), sin(t·f)] with f_i = exp(−ln(10⁴)·i/half), half = dim // 2 (cos first); a zero
    column pads an odd dim. timesteps [N] of any dtype (fractional with rescale_timesteps) → [N, dim]."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32, device=timesteps.device) / half)
    args = timesteps[:, None].float() * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    return F.pad(emb, (0, 1)) if dim % 2 else emb


class Upsample(nn.Module):
    """Nearest ×2, then a 3×3 conv (parameters under `conv`)."""

    def __init__(self, ch):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))


class Downsample(nn.Module):
    """A stride-2 3×3 conv with padding 1 (parameters under `op`)."""

    def __init__(self, ch):
        super().__init__()
        self.op = nn.Conv2d(ch, ch, 3, stride=2, padding=1)

    def forward(self, x):
        return self.op(x)


class ResBlock(nn.Module):
    """h = conv(SiLU(GN(x))) (x and h resampled between the SiLU and the conv with `resample`
    "up" (nearest ×2) or "down" (2×2 average)); e = Linear(SiLU(emb)); with scale-shift norm
    h = GN(h)·(1 + scale) + shift ([scale, shift] = e), else h = GN(h + e); out = skip(x) +
    conv(SiLU(h)), skip a 1×1 conv when the width changes. Dropout sits before the last conv."""

    def __init__(self, in_ch, out_ch, emb_dim, dropout, scale_shift, resample=None):
        super().__init__()
        self.scale_shift = scale_shift
        self.resample = resample
        self.in_layers = nn.Sequential(GroupNorm32(in_ch), nn.SiLU(), nn.Conv2d(in_ch, out_ch, 3, padding=1))
        self.emb_layers = nn.Sequential(nn.SiLU(), nn.Linear(emb_dim, 2 * out_ch if scale_shift else out_ch))
        self.out_layers = nn.Sequential(GroupNorm32(out_ch), nn.SiLU(), nn.Dropout(dropout), nn.Conv2d(out_ch, out_ch, 3, padding=1))
        self.skip_connection = nn.Identity() if in_ch == out_ch else nn.Conv2d(in_ch, out_ch, 1)

    def _resample(self, x):
        if self.resample == "up":
            return F.interpolate(x, scale_factor=2, mode="nearest")
        if self.resample == "down":
            return F.avg_pool2d(x, 2, 2)
        return x

    def forward(self, x, emb):
        norm, act, conv = self.in_layers
        h = conv(self._resample(act(norm(x))))
        x = self._resample(x)
        linear = self.emb_layers[1]
        e = self.emb_layers(emb.to(linear.weight.dtype)).to(h.dtype)[..., None, None]
        out_norm, rest = self.out_layers[0], self.out_layers[1:]
        if self.scale_shift:
            scale, shift = e.chunk(2, dim=1)
            h = rest(out_norm(h) * (1 + scale) + shift)
        else:
            h = self.out_layers(h + e)
        return self.skip_connection(x) + h


class QKVAttention(nn.Module):
    """Multi-head attention over T positions of qkv [N, 3·H·C, T] → [N, H·C, T]. Legacy order
    (QKVAttentionLegacy): the channels are (head, q/k/v, channel); new order (use_new_attention_order):
    (q/k/v, head, channel). q and k are each scaled by C^(−1/4); the softmax runs in float32."""

    def __init__(self, heads, new_order):
        super().__init__()
        self.heads = heads
        self.new_order = new_order

    def forward(self, qkv):
        n, width, t = qkv.shape
        ch = width // (3 * self.heads)
        if self.new_order:
            q, k, v = qkv.reshape(n, 3, self.heads, ch, t).unbind(1)
        else:
            q, k, v = qkv.reshape(n, self.heads, 3, ch, t).unbind(2)
        if twin_attention.FUSED:
            # [N, H, T, C], contiguous: the fused kernels want the head dimension innermost. Its
            # default scale C^(−1/2) is the reference's C^(−1/4) on q and on k.
            q, k, v = (z.transpose(-1, -2).contiguous() for z in (q, k, v))
            a = F.scaled_dot_product_attention(q, k, v).transpose(-1, -2)
        else:
            scale = 1 / math.sqrt(math.sqrt(ch))
            w = torch.einsum("nhct,nhcs->nhts", q * scale, k * scale)
            w = torch.softmax(w.float(), dim=-1).to(w.dtype)
            a = torch.einsum("nhts,nhcs->nhct", w, v)
        return a.reshape(n, self.heads * ch, t)


class AttentionBlock(nn.Module):
    """x + proj_out(attention(qkv(GN(x)))) over the H·W positions; qkv and proj_out are 1×1 Conv1d."""

    def __init__(self, ch, heads, new_order):
        super().__init__()
        if ch % heads != 0:
            raise UNetArgsError(f"attention over {ch} channels cannot split into {heads} heads; check num_heads / num_head_channels")
        self.norm = GroupNorm32(ch)
        self.qkv = nn.Conv1d(ch, 3 * ch, 1)
        self.attention = QKVAttention(heads, new_order)
        self.proj_out = nn.Conv1d(ch, ch, 1)

    def forward(self, x):
        n, c, hgt, wid = x.shape
        tokens = x.reshape(n, c, hgt * wid)
        h = self.proj_out(self.attention(self.qkv(self.norm(tokens))))
        return (tokens + h).reshape(n, c, hgt, wid)


class TimestepEmbedSequential(nn.Sequential):
    """The layers of one block in order; ResBlocks also receive the embedding."""

    def forward(self, x, emb):
        for layer in self:
            x = layer(x, emb) if isinstance(layer, ResBlock) else layer(x)
        return x


class UNetModel(nn.Module):
    """guided-diffusion's UNetModel from parse_unet_args's configuration: the input blocks (a conv,
    then per level num_res_blocks ResBlocks, with attention at the downsample rates attention_ds,
    and a downsampling block between levels), the middle block (ResBlock, attention, ResBlock), the
    output blocks (each concatenating one skip connection, deepest first, num_res_blocks + 1 per
    level, upsampling between levels) and the head GN → SiLU → conv."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        mc = cfg["model_channels"]
        emb_dim = 4 * mc
        ss, dropout, new_order = cfg["use_scale_shift_norm"], cfg["dropout"], cfg["use_new_attention_order"]

        def heads(ch, num_heads):
            return num_heads if cfg["num_head_channels"] == -1 else ch // cfg["num_head_channels"]

        def res(in_ch, out_ch, resample=None):
            return ResBlock(in_ch, out_ch, emb_dim, dropout, ss, resample)

        self.time_embed = nn.Sequential(nn.Linear(mc, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        if cfg["num_classes"] is not None:
            self.label_emb = nn.Embedding(cfg["num_classes"], emb_dim)

        ch = input_ch = int(cfg["channel_mult"][0] * mc)
        self.input_blocks = nn.ModuleList([TimestepEmbedSequential(nn.Conv2d(cfg["in_channels"], ch, 3, padding=1))])
        skip_chans, ds = [ch], 1
        for level, mult in enumerate(cfg["channel_mult"]):
            for _ in range(cfg["num_res_blocks"]):
                layers = [res(ch, int(mult * mc))]
                ch = int(mult * mc)
                if ds in cfg["attention_ds"]:
                    layers.append(AttentionBlock(ch, heads(ch, cfg["num_heads"]), new_order))
                self.input_blocks.append(TimestepEmbedSequential(*layers))
                skip_chans.append(ch)
            if level != len(cfg["channel_mult"]) - 1:
                down = res(ch, ch, "down") if cfg["resblock_updown"] else Downsample(ch)
                self.input_blocks.append(TimestepEmbedSequential(down))
                skip_chans.append(ch)
                ds *= 2

        self.middle_block = TimestepEmbedSequential(res(ch, ch), AttentionBlock(ch, heads(ch, cfg["num_heads"]), new_order), res(ch, ch))

        self.output_blocks = nn.ModuleList()
        for level, mult in reversed(list(enumerate(cfg["channel_mult"]))):
            for i in range(cfg["num_res_blocks"] + 1):
                layers = [res(ch + skip_chans.pop(), int(mult * mc))]
                ch = int(mult * mc)
                if ds in cfg["attention_ds"]:
                    layers.append(AttentionBlock(ch, heads(ch, cfg["num_heads_upsample"]), new_order))
                if level > 0 and i == cfg["num_res_blocks"]:
                    layers.append(res(ch, ch, "up") if cfg["resblock_updown"] else Upsample(ch))
                    ds //= 2
                self.output_blocks.append(TimestepEmbedSequential(*layers))

        self.out = nn.Sequential(GroupNorm32(ch), nn.SiLU(), nn.Conv2d(input_ch, cfg["out_channels"], 3, padding=1))

    def torso(self):
        return (self.input_blocks, self.middle_block, self.output_blocks)

    def convert_to_fp16(self, dtype=torch.float16):
        """guided-diffusion's use_fp16: the torso's convolutions (1×1 attention projections included)
        in `dtype`; the timestep MLP, the embedding projections, GroupNorm and the head stay float32."""
        for part in self.torso():
            for m in part.modules():
                if isinstance(m, (nn.Conv1d, nn.Conv2d)):
                    m.to(dtype)
        return self

    def forward(self, x, timesteps, y=None):
        """x [N, in_channels, H, W], timesteps [N] (as the network receives them; may be
        fractional), y [N] int64 labels exactly when class-conditional → [N, out_channels, H, W]
        in the head's dtype."""
        if (y is not None) != (self.cfg["num_classes"] is not None):
            raise ValueError("labels y are required exactly when the model is class-conditional (class_cond)")
        first = self.time_embed[0].weight
        emb = self.time_embed(timestep_embedding(timesteps, self.cfg["model_channels"]).to(first.dtype))
        if y is not None:
            emb = emb + self.label_emb(y).to(emb.dtype)
        h = x.to(self.input_blocks[0][0].weight.dtype)
        skips = []
        for block in self.input_blocks:
            h = block(h, emb)
            skips.append(h)
        h = self.middle_block(h, emb)
        for block in self.output_blocks:
            h = block(torch.cat([h, skips.pop()], dim=1), emb)
        return self.out(h.to(self.out[2].weight.dtype))


def build_unet(args):
    """UNetModel from model.json's `model` object (create_model's flag names), in eval mode."""
    return UNetModel(parse_unet_args(args)).eval()


def _shapes(entries):
    out = []
    for args in entries:
        try:
            cfg = parse_unet_args(args)
            shapes = {k: list(v.shape) for k, v in UNetModel(cfg).state_dict().items()}
            out.append({"config": cfg, "shapes": shapes})
        except UNetArgsError as e:
            out.append({"error": str(e)})
    return out


def main(argv):
    if argv[:1] == ["--shapes"]:
        print(json.dumps(_shapes(json.load(sys.stdin))))
        return 0
    if len(argv) == 2 and argv[0] == "--case":
        import golden_twin

        with open(f"{argv[1]}/case.json") as f:
            kind = json.load(f)["kind"]
        if kind != "unet_forward":
            print(f"{argv[1]} is a {kind} case; adm_unet.py checks unet_forward (golden_twin.py checks every kind)", file=sys.stderr)
            return 2
        result = golden_twin.check_case(argv[1])
        output = result["outputs"]["output"]
        print(json.dumps({"case": result["case"], "rel_l2": output["rel_l2"], "tolerance": output["tolerance"], "pass": result["pass"], "attention": result["attention"], "torch": result["torch"]}))
        return 0 if result["pass"] else 1
    print("usage: adm_unet.py --case <golden case dir> | --shapes < [model args, ...]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
