#!/usr/bin/python3
"""st_interop.py ST_TOOL WORKDIR - safetensors interoperability with an
independent implementation of the format (struct + json + numpy; the
`safetensors` package is not needed).

1. `st_tool write` writes a file; Python parses it with its own reader,
   checks the layout rules and every value.
2. Python writes a file (metadata with \\u escapes, keys in another order
   than the data, padding, whitespace); `st_tool dump` must report the same
   names, dtypes, shapes, byte hashes, sums and metadata.
3. Python writes corrupt files; `st_tool dump` must refuse each one.
Exit status 0 when everything matches, 1 otherwise."""
import json
import os
import struct
import subprocess
import sys

import numpy as np

NP = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2", "I64": "<i8", "I32": "<i4",
      "I16": "<i2", "I8": "i1", "U8": "u1", "U16": "<u2", "U32": "<u4", "U64": "<u8", "BOOL": "?"}
# The reference implementation's dtype order (the writer lays out the last first).
ORDER = ["BOOL", "F4", "F6_E2M3", "F6_E3M2", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0",
         "F8_E4M3FNUZ", "F8_E5M2FNUZ", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "C64",
         "F64", "I64", "U64"]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("st_interop: FAILED:", what, file=sys.stderr)


def read_st(path):
    """Return (header key order, {name: array}, metadata, header bytes)."""
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    hdr = raw[8:8 + n]
    keys = list(json.loads(hdr, object_pairs_hook=lambda kv: kv))  # keep the order
    head = json.loads(hdr)
    buf = raw[8 + n:]
    meta = head.pop("__metadata__", {})
    out, spans = {}, []
    for name, info in head.items():
        assert set(info) == {"dtype", "shape", "data_offsets"}, info
        b, e = info["data_offsets"]
        dt = np.dtype(NP[info["dtype"]])
        count = int(np.prod(info["shape"], dtype=np.int64))
        assert e - b == count * dt.itemsize, (name, info)
        out[name] = np.frombuffer(buf[b:e], dtype=dt).reshape(info["shape"])
        spans.append((b, e))
    spans.sort()
    pos = 0
    for b, e in spans:
        assert b == pos, "hole or overlap at %d" % b
        pos = e
    assert pos == len(buf), "buffer not covered"
    return [k for k, _ in keys], out, meta, hdr


def fnv1a(data):
    h = 0xcbf29ce484222325
    for c in data:
        h = ((h ^ c) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def run_dump(tool, path):
    p = subprocess.run([tool, "dump", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p.returncode, p.stdout.decode("utf-8"), p.stderr.decode("utf-8", "replace")


def write_st(path, tensors, meta, header_order, data_order, pad=8, indent=None):
    """tensors: {name: (dtype, array)}; orders are lists of names ("__metadata__" may
    appear in header_order)."""
    offs, blob = {}, b""
    for name in data_order:
        dt, a = tensors[name]
        raw = np.ascontiguousarray(a, dtype=NP[dt]).tobytes()
        offs[name] = (len(blob), len(blob) + len(raw))
        blob += raw
    head = {}
    for name in header_order:
        if name == "__metadata__":
            head[name] = meta
        else:
            dt, a = tensors[name]
            head[name] = {"data_offsets": list(offs[name]), "shape": list(np.shape(a)), "dtype": dt}
    hdr = json.dumps(head, ensure_ascii=True, indent=indent).encode("utf-8")
    hdr += b" " * ((-len(hdr)) % 8 + pad)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hdr)) + hdr + blob)


def part1(tool, work):
    path = os.path.join(work, "from_tapegrad.safetensors")
    p = subprocess.run([tool, "write", path], stderr=subprocess.PIPE)
    check(p.returncode == 0, "st_tool write failed: " + p.stderr.decode("utf-8", "replace"))
    if p.returncode:
        return
    keys, t, meta, hdr = read_st(path)
    check(len(hdr) % 8 == 0, "header length %d is not a multiple of 8" % len(hdr))
    check(hdr.rstrip(b" ").endswith(b"}") and hdr.startswith(b"{"), "header is not a padded object")
    check(keys[0] == "__metadata__", "__metadata__ is not the first key")
    names = keys[1:]
    head = json.loads(hdr)
    want = sorted(names, key=lambda k: (-ORDER.index(head[k]["dtype"]), k))
    check(names == want, "tensor order %r is not the reference order %r" % (names, want))
    weird = 'weird "name"\\ \u00fc\n'
    exp = {
        "G/l0.w": ("F32", (np.arange(12, dtype=np.float32) - 5) * np.float32(0.25), (3, 4)),
        "G/l0.b": ("F64", np.array([1.0 / (i + 3) for i in range(4)]), (4,)),
        "D/idx": ("I32", np.array([-2**31, -1, 0, 2**31 - 1], dtype=np.int32), (2, 2)),
        "step": ("I64", np.array(-1234567890123456789, dtype=np.int64), ()),
        "mask": ("U8", np.array([0, 1, 127, 128, 255], dtype=np.uint8), (5,)),
        "empty": ("F32", np.zeros((0, 3), dtype=np.float32), (0, 3)),
        weird: ("F64", np.array([-0.5]), (1,)),
        "half": ("BF16", np.array([0x3f80, 0xc000], dtype=np.uint16), (2,)),
    }
    check(set(t) == set(exp), "tensor names %r" % sorted(t))
    for name, (dt, vals, shape) in exp.items():
        if name not in t:
            continue
        check(head[name]["dtype"] == dt, "%r dtype %s" % (name, head[name]["dtype"]))
        check(t[name].shape == shape, "%r shape %r" % (name, t[name].shape))
        check(np.array_equal(t[name].reshape(-1), np.asarray(vals).reshape(-1)), "%r values" % name)
    bf = (t["half"].astype(np.uint32) << 16).view(np.float32)
    check(list(bf) == [1.0, -2.0], "bfloat16 values %r" % bf)
    check(meta == {"format": "pt", "empty": "",
                   "note": "quote \" backslash \\ newline \n tab \t ctrl \x01 u-umlaut \u00fc "
                           "euro \u20ac emoji \U0001F600"}, "metadata %r" % meta)


def part2(tool, work):
    path = os.path.join(work, "from_python.safetensors")
    tensors = {
        "b/second": ("F32", np.arange(6, dtype=np.float32).reshape(2, 3) * np.float32(1.5)),
        "a/first": ("F64", np.array([1.0 / 3, -2.5, 1e300])),
        "z_int": ("I64", np.array([-(2**62), 2**62 + 1], dtype=np.int64)),
        "u8": ("U8", np.array([[7], [200], [255]], dtype=np.uint8)),
        "scalar": ("F32", np.array(3.25, dtype=np.float32)),
        "empty": ("I32", np.zeros((0,), dtype=np.int32)),
        "f16": ("F16", np.array([1.0, -0.5], dtype=np.float16)),
        "\u00fcn\u00ef\"q\U0001F600": ("F32", np.array([-7.0], dtype=np.float32)),
    }
    meta = {"format": "np", "note": "tab\there \"q\" \\ \u00e9 \U0001F600 \u0001", "": "empty key"}
    names = list(tensors)
    data_order = names[3:] + names[:3]  # the buffer is in neither header nor name order
    header_order = names[::-1]
    header_order.insert(3, "__metadata__")
    write_st(path, tensors, meta, header_order, data_order, pad=16, indent=1)
    rc, out, err = run_dump(tool, path)
    check(rc == 0, "st_tool dump of the Python file failed: " + err)
    if rc:
        return
    lines = [json.loads(line) for line in out.splitlines()]
    got = {d["name"]: d for d in lines if "name" in d}
    gmeta = {d["meta"]: d["value"] for d in lines if "meta" in d}
    check([d["name"] for d in lines if "name" in d] == sorted(names, key=lambda s: s.encode("utf-8")),
          "dump is not sorted by name")
    check(set(got) == set(tensors), "names %r" % sorted(got))
    for name, (dt, a) in tensors.items():
        if name not in got:
            continue
        d = got[name]
        raw = np.ascontiguousarray(a, dtype=NP[dt]).tobytes()
        check(d["dtype"] == dt, "%r dtype %s" % (name, d["dtype"]))
        check(d["shape"] == list(a.shape), "%r shape %r" % (name, d["shape"]))
        check(d["fnv"] == fnv1a(raw), "%r bytes differ" % name)
        if dt == "F16":
            check(d["sum"] is None, "%r sum" % name)
        else:
            s = float(np.sum(a.astype(np.float64)))
            check(d["sum"] is not None and abs(d["sum"] - s) <= 1e-12 * max(1.0, abs(s)),
                  "%r sum %r != %r" % (name, d["sum"], s))
    check(gmeta == meta, "metadata %r" % gmeta)


def part3(tool, work):
    a = np.arange(4, dtype=np.float32)
    cases = {
        "hole": ('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
                 '"b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}}', 16, "hole"),
        "overlap": ('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
                    '"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', 12, "overlap"),
        "size": ('{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}}', 16, "needs 12"),
        "trailing": ('{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}}', 16, "trailing"),
        "dup": ('{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},'
                '"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}', 16, "duplicate"),
    }
    for what, (hdr, nbytes, msg) in cases.items():
        path = os.path.join(work, "bad_%s.safetensors" % what)
        h = hdr.encode() + b" " * ((-len(hdr)) % 8)
        with open(path, "wb") as f:
            f.write(struct.pack("<Q", len(h)) + h + a.tobytes()[:nbytes] + b"\0" * max(0, nbytes - 16))
        rc, out, err = run_dump(tool, path)
        check(rc == 1 and msg in err and out == "", "corrupt file '%s': rc %d, %r" % (what, rc, err))


def main():
    if len(sys.argv) != 3:
        print("usage: st_interop.py ST_TOOL WORKDIR", file=sys.stderr)
        return 2
    tool, work = sys.argv[1], sys.argv[2]
    part1(tool, work)
    part2(tool, work)
    part3(tool, work)
    if failures:
        print("st_interop: %d check(s) failed" % len(failures), file=sys.stderr)
        return 1
    print("st_interop: tapegrad -> Python, Python -> tapegrad and corrupt files: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
