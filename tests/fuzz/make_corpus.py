#!/usr/bin/env python3
"""Write the seed corpora of the fuzz targets into tests/fuzz/corpus/<target>/.

Deterministic: run it again and nothing changes. Seeds are small valid files
(from tests/fixtures and hand-made ones) and corrupt or truncated variants of
them. Added by hand, and left alone by this script (it only rewrites the
seed-* files): corpus/<target>/regress-*, the inputs of bugs the fuzzers
found, and corpus/<target>/fuzzed-*, inputs from longer runs that reached
code the seeds do not.

    python3 tests/fuzz/make_corpus.py
"""
import gzip
import json
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "..", "fixtures")
OUT = os.path.join(HERE, "corpus")


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def fixture(*path):
    with open(os.path.join(FIX, *path), "rb") as f:
        return f.read()


def idx(dims, payload=None, typ=8):
    n = 1
    for d in dims:
        n *= d
    if payload is None:
        payload = bytes(i % 251 for i in range(n))
    return bytes([0, 0, typ, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + payload


def gz(data, **kw):
    return gzip.compress(data, mtime=0, **kw)


def gz_header(data, flags):
    """A gzip member with the optional header fields of `flags` (FHCRC 2,
    FEXTRA 4, FNAME 8, FCOMMENT 16)."""
    h = bytes([0x1F, 0x8B, 8, flags, 0, 0, 0, 0, 0, 3])
    if flags & 4:
        h += struct.pack("<H", 6) + b"ab\x02\x00xy"
    if flags & 8:
        h += b"name.idx\x00"
    if flags & 16:
        h += b"a comment\x00"
    if flags & 2:
        h += struct.pack("<H", zlib.crc32(h) & 0xFFFF)
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    body = c.compress(data) + c.flush()
    return h + body + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)


def st(tensors, meta=None, pad=True, extra=b""):
    """safetensors bytes: tensors = [(name, dtype, shape, data bytes)]."""
    h, off, buf = {}, 0, b""
    if meta is not None:
        h["__metadata__"] = meta
    for name, dt, shape, data in tensors:
        h[name] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(data)]}
        off += len(data)
        buf += data
    j = json.dumps(h, separators=(",", ":")).encode()
    if pad:
        j += b" " * (-len(j) % 8)
    return struct.pack("<Q", len(j)) + j + buf + extra


def st_raw(header, data=b""):
    header = header.encode() if isinstance(header, str) else header
    return struct.pack("<Q", len(header)) + header + data


def idx_seeds():
    t = "fuzz_idx"
    for f in ["train-labels-idx1-ubyte", "train-images-idx3-ubyte", "train-labels-idx1-ubyte.gz",
              "bad_magic.idx", "bad_type.idx", "float_type.idx", "huge.idx", "ndim0.idx", "ndim5.idx",
              "overflow.idx", "short_header.idx", "trailing.idx", "zero_dim.idx", "empty.idx"]:
        put(t, f.replace("-idx1-ubyte", "").replace("-idx3-ubyte", ""), fixture("idx", f))
    put(t, "one-byte", idx([1]))
    put(t, "four-dims", idx([2, 1, 3, 2]))
    put(t, "truncated-data", idx([3, 5])[:-4])
    put(t, "truncated-dims", idx([3, 5, 7])[:9])


def idx_gz_seeds():
    t = "fuzz_idx_gz"
    labels = fixture("idx", "train-labels-idx1-ubyte")
    # bit 0 = 0: compressed here; level in bits 1-4; cut in bits 5-7
    put(t, "labels", b"\x0c" + labels)
    put(t, "four-dims", b"\x02" + idx([2, 1, 3, 2]))
    put(t, "images", b"\x12" + idx([2, 5, 4]))
    put(t, "trailing", b"\x0c" + fixture("idx", "trailing.idx"))
    put(t, "truncated", b"\x0c" + idx([3, 5])[:-4])
    put(t, "cut-1", b"\x2c" + labels)
    put(t, "cut-7", b"\xec" + labels)
    put(t, "empty", b"\x00")
    # bit 0 = 1: raw gzip bytes after the magic
    for f in ["train-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz", "badcrc.idx.gz", "garbage.idx.gz",
              "truncated.idx.gz", "truncated_data.idx.gz"]:
        put(t, "raw-" + f.replace("-idx1-ubyte", "").replace("-idx3-ubyte", ""), b"\x01" + fixture("idx", f)[2:])
    put(t, "raw-header-fields", b"\x01" + gz_header(labels, 4 | 8 | 16 | 2)[2:])
    put(t, "raw-two-members", b"\x01" + (gz(labels[:9]) + gz(labels[9:]))[2:])
    put(t, "raw-stored", b"\x01" + gz(labels, compresslevel=0)[2:])


def safetensors_seeds():
    t = "fuzz_safetensors"
    f32 = struct.pack("<6f", 1, -2, 3.5, 0, 1e-3, 7)
    put(t, "f32", st([("w", "F32", [2, 3], f32)]))
    put(t, "empty", st([]))
    put(t, "scalar-and-empty", st([("s", "F64", [], struct.pack("<d", 2.5)), ("z", "I32", [0, 4], b"")]))
    put(t, "metadata", st([("a/b.w", "F32", [1, 1], struct.pack("<f", 1))],
                          {"format": "x/1", "note": "caf\u00e9 \u2603", "": ""}))
    put(t, "dtypes", st([("bool", "BOOL", [2], b"\x00\x01"), ("f4", "F4", [4], b"\x12\x34"),
                         ("f6", "F6_E2M3", [4], b"\x01\x02\x03"), ("f8", "F8_E4M3", [1], b"\x7f"),
                         ("bf16", "BF16", [1], b"\x80\x3f"), ("c64", "C64", [1], bytes(8)),
                         ("u64", "U64", [1], bytes(8)), ("i16", "I16", [1], b"\xff\xff")]))
    put(t, "escapes", st_raw('{"t\\u00e9\\ud83d\\ude00\\n\\"\\\\\\/":{"dtype":"U8","shape":[1],'
                             '"data_offsets":[0,1]}}', b"\x05"))
    put(t, "spaces", st_raw(' {"x" : { "dtype" : "I8" , "shape" : [ 2 ] , "data_offsets" : [ 0 , 2 ] } }\t\r\n',
                            b"ab"))
    put(t, "gan-traj-z", fixture("gan_traj", "z.safetensors"))
    # invalid variants
    put(t, "bad-overlap", st_raw('{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},'
                                 '"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}', b"abc"))
    put(t, "bad-hole", st_raw('{"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}', b"ab"))
    put(t, "bad-trailing", st([("w", "F32", [2, 3], f32)], extra=b"xx"))
    put(t, "bad-duplicate", st_raw('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},'
                                   '"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"a"))
    put(t, "bad-size", st_raw('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}', b"abcd"))
    put(t, "bad-nesting", st_raw('{"__metadata__":' + "[" * 70 + "]" * 70 + "}"))
    put(t, "bad-numbers", st_raw('{"a":{"dtype":"U8","shape":[01],"data_offsets":[0,1.0]}}', b"a"))
    put(t, "bad-header-length", struct.pack("<Q", 1 << 40) + b"{}")
    put(t, "bad-overflow", st_raw('{"a":{"dtype":"F64","shape":[4294967296,4294967296],'
                                  '"data_offsets":[0,18446744073709551615]}}'))
    put(t, "truncated", st([("w", "F32", [2, 3], f32)])[:-5])


GAN_REFERENCE = """format=tapegrad-gan/1
model=reference
g_widths=100,128,256,512,784
d_widths=784,512,256,128,1
g_act=leaky_relu
d_act=leaky_relu
g_slope=0.200000003
d_slope=0.200000003
g_dropout=0
d_dropout=0.300000012
g_out=tanh
init=xavier
sigma=0.0199999996
batch=64
epochs=30
seed=1
lr_g=0.000199999995
lr_d=0.000199999995
beta1=0.5
beta2=0.999000013
eps=9.99999994e-09
real_label=0.899999976
g_loss=nonsaturating
fresh_z=0
step=2
epoch=1
adam_t_D=2
adam_t_G=2
dropout_step=4
rng_noise=207c2621348027f2,bf0475aeed156a9b,db771824f5db56c6,0390ab6dac83c998
rng_shuffle=e9ea3b7fb5354100,15c22e8e7ef4a1b0,fadfd0cd5b02fa1d,cca9774411cec13b
"""

GAN_V2 = "\n".join(
    ["format=tapegrad-gan/2", "model=reference",
     "model_spec=G: in 100, dense 128, leaky_relu 0.2, dense 256, leaky_relu 0.2, dense 512, leaky_relu 0.2, "
     "dense 784, tanh\\nD: in 784, dense 512, leaky_relu 0.2, dropout 0.3, dense 256, leaky_relu 0.2, dropout 0.3, "
     "dense 128, leaky_relu 0.2, dropout 0.3, dense 1\\ninit: xavier\\nsigma: 0.02"]
    + [l for l in GAN_REFERENCE.splitlines() if l.split("=")[0] in
       ("batch", "epochs", "seed", "lr_g", "lr_d", "beta1", "beta2", "eps", "real_label", "g_loss", "fresh_z")]
    + ["log_every=50", "data=/home/u/data/mnist", "eval_every=0", "limit=0"]) + "\n"

DCGAN_SPEC = ("model_spec=G: in 100, dense 6272 nobias, batch_norm, relu, reshape 128x7x7, conv_t 64 4 s2 p1 nobias, "
              "batch_norm, relu, conv_t 1 4 s2 p1, tanh\\nD: in 1x28x28, conv 64 5 s2 same, leaky_relu 0.2, "
              "conv 128 5 s2, leaky_relu 0.2, flatten, dense 256, leaky_relu 0.2, dropout 0.5, dense 1"
              "\\ninit: normal\\nsigma: 0.02")

CLASSIFIER = """act=tanh
batch=5
dataset=data/mnist
epochs=1
format=tapegrad-classifier/1
input=(x+1)/2
lr=0.00100000005
optimizer=adam(0.9,0.999,1e-8)
seed=1
slope=0.00999999978
test_accuracy=0.200000
widths=784,32,16,10
"""


def checkpoint_seeds():
    t = "fuzz_checkpoint"
    ref = GAN_REFERENCE
    put(t, "gan-reference", b"\x00" + ref.encode())
    doc = (ref.replace("model=reference", "model=documents").replace("g_widths=100,128,256,512,784",
                                                                      "g_widths=100,64,32,784")
           .replace("g_act=leaky_relu", "g_act=relu").replace("init=xavier", "init=normal")
           .replace("g_loss=nonsaturating", "g_loss=saturating").replace("fresh_z=0", "fresh_z=1"))
    put(t, "gan-documents", b"\x00" + doc.encode())
    tiny = (ref.replace("model=reference", "model=tiny").replace("g_widths=100,128,256,512,784", "g_widths=4,6,8,12")
            .replace("d_widths=784,512,256,128,1", "d_widths=12,8,6,1").replace("init=xavier", "init=pytorch"))
    put(t, "gan-tiny", b"\x00" + tiny.encode())
    put(t, "gan-missing-key", b"\x00" + ref.replace("beta2=0.999000013\n", "").encode())
    put(t, "gan-bad-widths", b"\x00" + ref.replace("g_widths=100,128,256,512,784", "g_widths=100,,784").encode())
    put(t, "gan-bad-format", b"\x00" + ref.replace("tapegrad-gan/1", "tapegrad-gan/2").encode())
    # the run's part (train-gan --resume): what a checkpoint written since
    # these keys exist holds, and values the writer cannot write
    run = (ref + "log_every=50\ndata=/home/u/data/mnist\nclassifier=/home/u/runs/clf/classifier.safetensors\n"
           "eval_every=5\nlimit=1000\n")
    put(t, "gan-run", b"\x00" + run.encode())
    put(t, "gan-run-quoted-path", b"\x00" + run.replace("data=/home/u/data/mnist", 'data=/a "b"\\c\td').encode())
    put(t, "gan-run-bad-limit", b"\x00" + run.replace("limit=1000", "limit=1e3").encode())
    put(t, "gan-run-bad-log-every", b"\x00" + run.replace("log_every=50", "log_every=0").encode())
    put(t, "gan-run-empty-data", b"\x00" + run.replace("data=/home/u/data/mnist", "data=").encode())
    # format 2: the model as its text form (newlines in a value are written \n)
    put(t, "gan-v2-reference", b"\x00" + GAN_V2.encode())
    put(t, "gan-v2-arch", b"\x00" + GAN_V2.replace(
        "G: in 100, dense 128, leaky_relu 0.2, dense 256, leaky_relu 0.2, dense 512, leaky_relu 0.2, dense 784, tanh",
        "G: in 64, dense 1024, relu, dense 784 nobias, tanh").encode())
    put(t, "gan-v2-not-canonical", b"\x00" + GAN_V2.replace("dense 128,", "dense  128,").encode())
    put(t, "gan-v2-bad-layer", b"\x00" + GAN_V2.replace("dense 128,", "conv9 3,").encode())
    put(t, "gan-v2-old-keys", b"\x00" + GAN_V2.replace("model_spec=", "g_widths=100,784\nmodel_spec=").encode())
    put(t, "gan-v1-with-spec", b"\x00" + (ref + GAN_V2.split("\n")[2] + "\n").encode())
    # presets of layer lists and the moving average of G (key "ema")
    dcgan = GAN_V2.replace("model=reference", "model=dcgan").replace(GAN_V2.split("\n")[2], DCGAN_SPEC)
    put(t, "gan-v2-dcgan-ema", b"\x00" + (dcgan + "ema=0.999000013\n").encode())
    put(t, "gan-v2-dcgan", b"\x00" + dcgan.encode())
    put(t, "gan-v2-ema-one", b"\x00" + (dcgan + "ema=1\n").encode())
    put(t, "gan-v2-ema-nan", b"\x00" + (dcgan + "ema=nan\n").encode())
    put(t, "gan-v2-ema-negative", b"\x00" + (GAN_V2 + "ema=-0.5\n").encode())
    put(t, "clf", b"\x01" + CLASSIFIER.encode())
    put(t, "clf-relu-no-batch", b"\x01" + CLASSIFIER.replace("act=tanh", "act=relu").replace("batch=5\n", "").encode())
    put(t, "clf-bad-widths", b"\x01" + CLASSIFIER.replace("widths=784,32,16,10", "widths=784,10").encode())


METRICS_HEADER = "step,epoch,loss_d,loss_g,d_real,d_fake,gnorm_g,gnorm_d,elapsed_s\n"


def metrics_seeds():
    t = "fuzz_metrics_csv"
    row1 = "2,1,1.42465,0.639931,0.539696,0.53618,2.10017,4.55686,0.015\n"
    row2 = "50,1,1.2,-0.692249,0.477337,0.499385,0.133204,1.67296,3.010\n"
    put(t, "two-rows", METRICS_HEADER + row1 + row2)
    put(t, "header-only", METRICS_HEADER)
    put(t, "empty", "")
    put(t, "no-final-newline", METRICS_HEADER + row1 + row2.rstrip("\n"))
    put(t, "exponents", METRICS_HEADER + "100,2,1e-05,2.5E+03,0,1,0.1,0.2,1e3\n")
    put(t, "bad-header", METRICS_HEADER.replace("loss_g", "loss_x") + row1)
    put(t, "bad-short-row", METRICS_HEADER + "2,1,1.4,0.6,0.5,0.5,2.1,4.5\n")
    put(t, "bad-blank-line", METRICS_HEADER + row1 + "\n" + row2)


def cli_seeds():
    t = "fuzz_cli_args"
    # the first byte picks the command (fuzz_cli_args.c's table)
    cmds = {"train-gan": 0, "train-classifier": 1, "activations": 2, "sample": 3, "gradcheck": 4, "graph": 5,
            "demo": 6, "bench": 7, "evaluate": 8}
    seeds = {
        "train-gan-reference": ("train-gan", ["--data", "data/mnist", "--out", "runs/x", "--epochs", "30"]),
        "train-gan-widths": ("train-gan", ["--model", "documents", "--g-hidden", "128,256,512", "--d-hidden=64,32",
                                           "--z-dim", "64", "--g-act", "relu", "--d-act=sigmoid"]),
        "train-gan-numbers": ("train-gan", ["--lr-g", "2e-4", "--lr-d=1e-3", "--beta1", "0.9", "--beta2=0.99",
                                            "--real-label", "0.9", "--slope", "0.1", "--dropout", "0.5",
                                            "--sigma", "0.02", "--init", "normal", "--seed", "7", "--batch", "128"]),
        "train-gan-flags": ("train-gan", ["--fresh-z", "--g-loss", "saturating", "--quiet", "--limit", "1000",
                                          "--log-every", "10", "--threads", "1", "--eval-every", "5",
                                          "--classifier", "c.safetensors"]),
        "train-gan-resume": ("train-gan", ["--resume", "runs/x", "--epochs", "40", "--model=tiny"]),
        "train-gan-resume-inputs": ("train-gan", ["--resume", "runs/x", "--data", "../d", "--classifier", "./c",
                                                  "--eval-every", "0", "--limit", "10", "--log-every", "5"]),
        "train-classifier": ("train-classifier", ["--activation", "leaky_relu", "--hidden", "512,256,128",
                                                  "--epochs", "10", "--batch", "64", "--lr", "1e-3", "--slope",
                                                  "0.01", "--seed", "1", "--threads", "2", "--limit", "500",
                                                  "--quiet", "--data", "d", "--out", "o"]),
        "activations": ("activations", ["--epochs=3", "--hidden=32", "--out", "runs/a", "--lr", "0.5"]),
        "sample": ("sample", ["--checkpoint", "c.safetensors", "--n", "100", "--out", "x.png", "--seed", "3",
                              "--threads=2"]),
        "gradcheck-op": ("gradcheck", ["--op", "model:tiny-D", "--tol", "1e-5", "--h=1e-6"]),
        "gradcheck-list": ("gradcheck", ["--list"]),
        "graph": ("graph", ["--model", "tiny", "--net", "G", "--batch", "5", "-o", "g.dot"]),
        "demo": ("demo", ["--steps", "20", "--every", "10", "--seed", "3"]),
        "bench": ("bench", ["gan-step", "--batch", "8", "--threads", "2", "--steps", "3", "--repeats", "1",
                            "--profile", "--json", "--model", "documents"]),
        "evaluate": ("evaluate", ["samples.idx", "--classifier", "c.safetensors", "--data", "d", "--json",
                                  "--threads", "1"]),
        "train-gan-arch": ("train-gan", ["--g-arch", "in 64, dense 256, relu, dense 784, tanh",
                                         "--d-arch=in 784, dense 32, leaky_relu 0.2, dropout 0.5, dense 1",
                                         "--init", "normal", "--sigma", "0.05"]),
        "train-gan-arch-and-knob": ("train-gan", ["--g-arch", "in 100, dense 784, tanh", "--g-hidden", "64"]),
        "train-gan-arch-bad-layer": ("train-gan", ["--d-arch", "in 784, dense 8, conv9 3, dense 1"]),
        "train-gan-arch-file": ("train-gan", ["--g-arch", "@/nonexistent/g.layers"]),
        "train-gan-dcgan-ema": ("train-gan", ["--model", "dcgan", "--ema", "0.999", "--batch", "32"]),
        "train-gan-dcgan-knob": ("train-gan", ["--model", "dcgan", "--g-hidden", "64"]),
        "train-gan-keras-d": ("train-gan", ["--model=keras-d", "--z-dim", "64", "--ema=0"]),
        "train-gan-ema-bad": ("train-gan", ["--ema", "1"]),
        "gradcheck-model": ("gradcheck", ["--model", "tiny-conv", "--tol", "1e-5"]),
        "graph-dcgan": ("graph", ["--model", "dcgan", "--net", "gan", "--batch", "2"]),
        "bench-dcgan": ("bench", ["gan-step", "--model", "dcgan", "--batch", "4", "--steps", "1"]),
        "bad-missing-value": ("train-gan", ["--model", "tiny", "--seed"]),
        "bad-number": ("sample", ["--checkpoint", "c", "--out", "o", "--n", "1.5"]),
    }
    for name, (cmd, args) in seeds.items():
        put(t, name, bytes([cmds[cmd]]) + b"\x00".join(a.encode() for a in args))


if __name__ == "__main__":
    idx_seeds()
    idx_gz_seeds()
    safetensors_seeds()
    checkpoint_seeds()
    metrics_seeds()
    cli_seeds()
