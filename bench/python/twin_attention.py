"""Which attention kernel the PyTorch twins (adm_unet.py, dit_reference.py, sd_decoder.py) use.

With torch >= 2.0 they call torch.nn.functional.scaled_dot_product_attention, as the originals do on
a recent torch (timm's DiT attention, diffusers' AttnProcessor2_0), so a timing against them is a
timing against what a PyTorch user runs; older torch (Debian's 1.13) has no fused kernel, and each
twin spells out its reference's softmax(q·kᵀ)·v. The twins read FUSED at call time, so
golden_twin.py --attention explicit can check the explicit path on a torch that has both.
"""
import torch.nn.functional as F

AVAILABLE = hasattr(F, "scaled_dot_product_attention")
FUSED = AVAILABLE


def use(kind):
    """kind: "fused", "explicit" or "auto" (fused when torch has it)."""
    global FUSED
    if kind == "fused" and not AVAILABLE:
        raise ValueError("--attention fused needs torch >= 2.0 (scaled_dot_product_attention); this torch has none")
    if kind not in ("fused", "explicit", "auto"):
        raise ValueError(f"attention kind {kind!r}; accepted: fused, explicit, auto")
    FUSED = AVAILABLE if kind == "auto" else kind == "fused"


def kind():
    return "fused" if FUSED else "explicit"
