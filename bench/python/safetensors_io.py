"""safetensors files for the PyTorch twins (bench/python), without the safetensors package: Debian's
python3-torch is all the twins need, and the format is 8 bytes of header length, a JSON header, then
the tensors' bytes (test/golden/cases/README.md section 1).
"""
import json
import struct

import torch

DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}
NAMES = {dtype: name for name, dtype in DTYPES.items()}


def read_safetensors(path):
    """Every tensor of the file by name, in its stored dtype, as views of one buffer read once
    (load_state_dict copies them into the model, converting F16/BF16 to the parameters' dtype)."""
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
        if entry["dtype"] not in DTYPES:
            raise ValueError(f"{path}: tensor {name} has dtype {entry['dtype']}; readable: {', '.join(DTYPES)}")
        dtype = DTYPES[entry["dtype"]]
        begin, end = entry["data_offsets"]
        t = torch.frombuffer(body[begin:end], dtype=dtype) if end > begin else torch.empty(0, dtype=dtype)
        out[name] = t.reshape(entry["shape"])
    return out


def write_safetensors(path, tensors):
    """Writes {name: tensor} in each tensor's own dtype (any of DTYPES but BF16, which numpy lacks)."""
    header, offset, blobs = {}, 0, []
    for name, t in tensors.items():
        t = t.detach().cpu().contiguous()
        raw = t.numpy().tobytes()
        header[name] = {"dtype": NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for b in blobs:
            f.write(b)
