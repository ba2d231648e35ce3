#!/usr/bin/env python3
"""Test helper: write, compare and print .npy files without NumPy.

  npy.py write PATH DTYPE SHAPE VALUES   DTYPE f4|f2|i4|i8|b1|f8, SHAPE 2x3 or
                                         "" for a scalar, VALUES comma-separated
                                         (repeated cyclically to fill the shape)
  npy.py fortran PATH                    a Fortran-ordered 2x2 f4 array
  npy.py truncate PATH N                 drop the last N bytes of PATH
  npy.py compare A B TOL                 exit 1 if |a - b| > TOL * (1 + |b|)
  npy.py compare-safetensors A B TOL     the same for every tensor of two
                                         safetensors files (f32), whose
                                         names, shapes and metadata must match
  npy.py set-meta PATH KEY VALUE         set a safetensors file's __metadata__
                                         KEY to the string VALUE
  npy.py loss-falls LOG.csv              exit 1 unless the last epoch's loss is
                                         below the first's
  npy.py val-accuracy LOG.csv MIN MAX    exit 1 unless the last epoch's
                                         validation accuracy is in [MIN, MAX]
"""
import math
import struct
import sys

CODES = {"f4": "f", "f2": "e", "i4": "i", "i8": "q", "b1": "?", "f8": "d"}


def write(path, dtype, shape, values, fortran=False):
    dims = [int(d) for d in shape.split("x")] if shape else []
    n = 1
    for d in dims:
        n *= d
    vals = [float(v) for v in values.split(",")] if values else [0.0]
    data = [vals[i % len(vals)] for i in range(n)]
    if dtype in ("i4", "i8"):
        data = [int(v) for v in data]
    if dtype == "b1":
        data = [bool(v) for v in data]
    descr = ("|" if dtype == "b1" else "<") + dtype
    shape_text = "(" + ", ".join(str(d) for d in dims) + ("," if len(dims) == 1 else "") + ")"
    header = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (
        descr, "True" if fortran else "False", shape_text)
    pad = (64 - (10 + len(header) + 1) % 64) % 64
    header = header + " " * pad + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)))
        f.write(header.encode("latin1"))
        f.write(struct.pack("<%d%s" % (n, CODES[dtype]), *data))


def to_f32(v):
    """v rounded to the nearest f32."""
    return struct.unpack("<f", struct.pack("<f", v))[0]


def to_bf16(v):
    """v (an f32 value) rounded to the nearest bf16, ties to even."""
    bits = struct.unpack("<I", struct.pack("<f", v))[0]
    bits += 0x7FFF + ((bits >> 16) & 1)
    return struct.unpack("<f", struct.pack("<I", bits & 0xFFFF0000))[0]


def worst(differences):
    """The largest of `differences` (0 for none), or infinity if one is NaN.

    Python's max() keeps what it met first when a comparison involves a NaN
    (every such comparison is false), so max(0.0, nan) is 0.0 and a NaN
    result would pass any bound; every check of results against a bound
    takes its largest difference from here.
    """
    largest = 0.0
    for d in differences:
        if math.isnan(d):
            return math.inf
        largest = max(largest, d)
    return largest


def read(path):
    with open(path, "rb") as f:
        raw = f.read()
    hlen = struct.unpack("<H", raw[8:10])[0]
    header = raw[10:10 + hlen].decode("latin1")
    descr = header.split("'descr': '")[1][:3]
    code = CODES[descr[1:]]
    size = struct.calcsize(code)
    body = raw[10 + hlen:]
    return list(struct.unpack("<%d%s" % (len(body) // size, code), body))


def read_safetensors(path):
    import json
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    body = raw[8 + n:]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            raise SystemExit("%s: %s is %s, not F32" % (path, name, info["dtype"]))
        begin, end = info["data_offsets"]
        tensors[name] = (info["shape"],
                         struct.unpack("<%df" % ((end - begin) // 4), body[begin:end]))
    return tensors, header.get("__metadata__", {})


def main(argv):
    cmd = argv[1]
    if cmd == "write":
        write(argv[2], argv[3], argv[4], argv[5] if len(argv) > 5 else "")
    elif cmd == "fortran":
        write(argv[2], "f4", "2x2", "1,2,3,4", fortran=True)
    elif cmd == "truncate":
        with open(argv[2], "rb") as f:
            raw = f.read()
        with open(argv[2], "wb") as f:
            f.write(raw[:-int(argv[3])])
    elif cmd == "set-meta":
        import json
        with open(argv[2], "rb") as f:
            raw = f.read()
        n = struct.unpack("<Q", raw[:8])[0]
        header = json.loads(raw[8:8 + n])
        header.setdefault("__metadata__", {})[argv[3]] = argv[4]
        text = json.dumps(header).encode()
        text += b" " * ((8 - len(text) % 8) % 8)
        with open(argv[2], "wb") as f:
            f.write(struct.pack("<Q", len(text)) + text + raw[8 + n:])
    elif cmd == "loss-falls":
        with open(argv[2]) as f:
            rows = [line.strip().split(",") for line in f][1:]
        first, last = float(rows[0][1]), float(rows[-1][1])
        print("loss %.4f -> %.4f over %d epochs" % (first, last, len(rows)))
        if not last < first:
            return 1
    elif cmd == "val-accuracy":
        with open(argv[2]) as f:
            rows = [line.strip().split(",") for line in f][1:]
        acc = float(rows[-1][4])
        print("final validation accuracy %.4f" % acc)
        if not float(argv[3]) <= acc <= float(argv[4]):
            return 1
    elif cmd == "compare-safetensors":
        (a, meta_a), (b, meta_b) = read_safetensors(argv[2]), read_safetensors(argv[3])
        tol = float(argv[4])
        if sorted(a) != sorted(b) or meta_a != meta_b:
            print("different tensors or metadata: %s %s vs %s %s" %
                  (sorted(a), meta_a, sorted(b), meta_b))
            return 1
        largest, where = 0.0, ""
        for name in a:
            if a[name][0] != b[name][0]:
                print("%s: shape %s vs %s" % (name, a[name][0], b[name][0]))
                return 1
            for x, y in zip(a[name][1], b[name][1]):
                d = abs(x - y) / (1 + abs(y))
                if math.isnan(d) or d > largest:
                    largest, where = d, name
        print("max relative difference: %.3g (%s) over %d tensors" %
              (largest, where, len(a)))
        if not largest <= tol:
            return 1
    elif cmd == "compare":
        a, b, tol = read(argv[2]), read(argv[3]), float(argv[4])
        if len(a) != len(b):
            print("size mismatch: %d vs %d" % (len(a), len(b)))
            return 1
        largest = worst(abs(x - y) / (1 + abs(y)) for x, y in zip(a, b))
        print("max relative difference: %.3g over %d values" % (largest, len(a)))
        if not largest <= tol:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
