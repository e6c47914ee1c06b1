"""golden_twin.py with the twins' fused-attention branch (torch >= 2.0's scaled_dot_product_attention)
forced on, for torch-twins.test.ts. On a torch without the kernel (Debian's 1.13) it stands in with
the kernel's documented semantics, softmax(q·kᵀ/√d)·v over the last two dimensions, so what is
checked everywhere is the branch's own work: the head layout and transposes around the call.

    twins_fused_attention.py <case dir>...   (golden_twin.py's output and exit status)
"""
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench", "python"))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

if not hasattr(F, "scaled_dot_product_attention"):

    def stand_in(q, k, v):
        w = torch.softmax((q @ k.transpose(-2, -1)).float() / math.sqrt(q.shape[-1]), dim=-1).to(q.dtype)
        return w @ v

    F.scaled_dot_product_attention = stand_in

import golden_twin  # noqa: E402
import twin_attention  # noqa: E402

twin_attention.AVAILABLE = True
sys.exit(golden_twin.main(["--attention", "fused", *sys.argv[1:]]))
