#!/usr/bin/env python3
"""Cross-checks mha against PyTorch on the seed classifier.

Given the parameters mha initialized (a safetensors file), inputs, labels and
the loss and gradients mha computed (result<i>.npy of the f_grad function:
loss, then one gradient per parameter in declaration order), rebuilds the
same model in PyTorch from the same weights and compares. Exits 0 when every
value agrees within 1e-4 relative to the larger of its tensor's largest
magnitude and 1e-5 (f32 arithmetic in a different order: about 1e-6 is
expected; the floor is for the key bias, whose true gradient is exactly 0
since softmax ignores a shift shared by all keys, so both sides hold only
rounding noise there), prints "skipped" and exits 0 when torch is not
installed.

usage: seed_crosscheck.py PARAMS.safetensors X.npy Y.npy MHA_OUTPUT_DIR
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import npy  # noqa: E402

try:
    import numpy as np
    import torch
except ImportError:
    print("skipped: python3-torch and python3-numpy are needed")
    sys.exit(0)

PARAMS = ["wq", "bq", "wk", "bk", "wv", "bv", "wo", "bo", "w1", "b1", "w2", "b2"]


def read_safetensors(path):
    """The f32 tensors of a safetensors file as NumPy arrays (npy.py reads
    the file)."""
    tensors, _ = npy.read_safetensors(path)
    return {name: np.array(values, dtype=np.float32).reshape(shape)
            for name, (shape, values) in tensors.items()}


def forward(p, x):
    b, s, _ = x.shape
    q = x @ p["wq"] + p["bq"]
    k = x @ p["wk"] + p["bk"]
    v = x @ p["wv"] + p["bv"]
    heads = lambda t: t.reshape(b, s, 8, 64).transpose(1, 2)
    qh, kh, vh = heads(q), heads(k), heads(v)
    scores = qh @ kh.transpose(-1, -2) / 8.0
    weights = torch.softmax(scores, dim=-1)
    merged = (weights @ vh).transpose(1, 2).reshape(b, s, 512)
    attn = merged @ p["wo"] + p["bo"]
    pooled = attn.mean(dim=1)
    h = torch.relu(pooled @ p["w1"] + p["b1"])
    return torch.sigmoid(h @ p["w2"] + p["b2"])


def main(argv):
    params = {k: torch.tensor(v, requires_grad=True)
              for k, v in read_safetensors(argv[1]).items()}
    x = torch.tensor(np.load(argv[2]))
    y = torch.tensor(np.load(argv[3]))
    prob = forward(params, x)
    loss = torch.nn.functional.binary_cross_entropy(prob, y)
    loss.backward()
    worst = 0.0
    mha_loss = np.load("%s/result0.npy" % argv[4])
    worst = npy.worst([worst, abs(float(mha_loss) - loss.item()) / max(abs(loss.item()), 1e-12)])
    print("loss: mha %.7f torch %.7f" % (float(mha_loss), loss.item()))
    for i, name in enumerate(PARAMS):
        ours = np.load("%s/result%d.npy" % (argv[4], i + 1))
        theirs = params[name].grad.numpy()
        scale = max(np.abs(theirs).max(), 1e-5)
        diff = np.abs(ours - theirs).max() / scale
        worst = npy.worst([worst, diff])
        print("d loss / d %-3s max relative difference %.2e" % (name, diff))
    print("worst: %.2e" % worst)
    return 0 if worst <= 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
