#!/usr/bin/python3
"""Compare tapegrad with PyTorch on the same workloads, on the same machine.

For each workload this runs `tapegrad bench ... --json` and a PyTorch
implementation of the same computation (same shapes, losses, optimizer
settings) in a child process, alternating the two for --rounds rounds, and
keeps the best of each (the machine is shared: the fastest run is the least
disturbed one). It prints tapegrad vs PyTorch and their ratio, and with --out
writes everything as JSON.

Fair settings for the PyTorch child (see bench/README.md):
  * the same computation: the G step runs with D's parameters set to
    requires_grad False (tapegrad's G-step plan computes no D weight
    gradients); the GEMM work of one PyTorch step, counted with the autograd
    profiler, must equal tapegrad's count (gflop_per_iter), or the script
    stops; zero_grad(set_to_none=True), PyTorch's own recommendation;
  * OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset, so OpenBLAS picks the
    kernels for this CPU (AVX-512, "SkylakeX") instead of the Haswell ones;
  * torch.set_flush_denormal(True), as tapegrad flushes subnormals in its f32
    work;
  * OMP_WAIT_POLICY: every PyTorch run is made twice, in separate processes
    (libgomp reads it at startup), with PASSIVE and with ACTIVE, and the
    faster is kept and named; torch.set_num_threads(T) and OpenBLAS's thread
    count (OPENBLAS_NUM_THREADS=T and openblas_set_num_threads(T)) set to the
    same T as tapegrad's --threads;
  * PyTorch's BLAS must be OpenBLAS: Debian's python3-torch (built with
    BLAS_INFO=generic) calls whatever libblas.so.3 the loader resolves, and
    the netlib reference BLAS is ~10x slower. The child's LD_LIBRARY_PATH
    points at an OpenBLAS directory (--openblas DIR, /usr/lib/x86_64-linux-
    gnu/openblas-pthread, or libopenblas0-pthread extracted from apt's
    cache). Before anything is timed, a child with the same environment
    reports the library the dynamic linker bound torch's sgemm_ to (its own
    LD_DEBUG=bindings log; the list of mapped libraries does not tell, as
    torch also maps libopenblas.so.0 through other dependencies); on
    anything but OpenBLAS (or an MKL build of torch) the script exits with
    status 1 and says what it found.

The DCGAN row times bench/dcgan_step (built by meson as build/bench/dcgan_step;
--dcgan PATH) against the same iteration in PyTorch (convolutions on oneDNN),
and counts the PyTorch step's convolution and GEMM FLOPs with a dispatch mode
(every aten convolution, convolution_backward by its output mask, mm and
addmm) to check it does the work tapegrad's plans do.

Needs Debian's python3-torch: run with /usr/bin/python3 (a pyenv python3 first
on PATH has no torch).
"""
import argparse
import ctypes
import glob
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
NDATA = 8  # distinct random batches, as `tapegrad bench` cycles through
CACHE_DIR = os.path.join(tempfile.gettempdir(), "tapegrad-bench-openblas")
WAIT_POLICIES = ("PASSIVE", "ACTIVE")  # OMP_WAIT_POLICY values tried for PyTorch
GEMM_OPS = ("aten::mm", "aten::addmm")  # the profiler's GEMM events (nn.Linear forward, autograd backward)

# ------------------------------------------------------------------ BLAS


def mapped_libs():
    """real paths of the shared libraries this process has mapped"""
    try:
        lines = open("/proc/self/maps").read().splitlines()
    except OSError:
        return []
    libs = {l.split(None, 5)[5] for l in lines if len(l.split(None, 5)) == 6 and l.split(None, 5)[5].startswith("/")}
    return sorted({os.path.realpath(p) for p in libs if ".so" in os.path.basename(p)})


def deb_package(path):
    """the Debian package that owns path, or None"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LD_DEBUG")}
    try:
        p = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True, timeout=20, env=env)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return p.stdout.split(":")[0].strip() if p.returncode == 0 and p.stdout else None


def torch_blas_build(torch):
    """BLAS_INFO of torch.__config__.show(): "mkl" (pip wheels: MKL linked
    into libtorch) or "generic" (Debian: sgemm_ from libblas.so.3, that is
    whatever library the dynamic linker finds under that name)"""
    m = re.search(r"BLAS_INFO=(\w+)", torch.__config__.show())
    return m.group(1) if m else "unknown"


def bound_blas(torch):
    """The file the dynamic linker bound torch's sgemm_ to, from this
    process's own LD_DEBUG=bindings log (the parent sets LD_DEBUG and
    LD_DEBUG_OUTPUT for the check). Which libraries are mapped does not say
    it: Debian's torch also maps libopenblas.so.0 through other dependencies
    (armadillo, superlu) when libblas.so.3 is netlib's."""
    prefix = os.environ.get("LD_DEBUG_OUTPUT")
    if not prefix or "bindings" not in os.environ.get("LD_DEBUG", ""):
        return None
    torch.mm(torch.ones(2, 2), torch.ones(2, 2))  # bound by now, even lazily
    pat = re.compile(r"binding file (\S*libtorch\S*) \[\d+\] to (\S+) \[\d+\]: normal symbol `sgemm_'")
    try:
        with open("%s.%d" % (prefix, os.getpid()), errors="replace") as f:
            for line in f:
                if "`sgemm_'" in line:
                    m = pat.search(line)
                    if m:
                        return os.path.realpath(m.group(2))
    except OSError:
        pass
    return None


def classify_blas(path, built):
    """What the library at path is: ({"name", "ok", "why", "path"}, the
    library through ctypes if it is OpenBLAS, else None)"""
    lib = None
    if path:
        try:
            lib = ctypes.CDLL(path)  # already mapped by torch: the same handle
        except OSError:
            lib = None
    if lib is not None and hasattr(lib, "openblas_get_corename"):
        lib.openblas_get_corename.restype = ctypes.c_char_p
        return {"name": "OpenBLAS " + lib.openblas_get_corename().decode(), "ok": True, "path": path, "why": ""}, lib
    if lib is not None and hasattr(lib, "sgemm_") and not any(
            hasattr(lib, f) for f in ("openblas_get_config", "MKL_Get_Version", "bli_info_get_version_str")):
        pkg = deb_package(path)
        name = "netlib's reference BLAS (%s%s)" % (path, ", Debian package " + pkg if pkg else "")
    else:
        name = "an unidentified BLAS (%s)" % (path or "none found")
    why = ("PyTorch (built with BLAS_INFO=%s) runs its GEMMs on %s, not on OpenBLAS. The reference BLAS is about "
           "10x slower, so the comparison would be meaningless: install OpenBLAS (apt-get install "
           "libopenblas0-pthread) or pass --openblas DIR, a directory holding OpenBLAS's libblas.so.3" % (built, name))
    return {"name": name, "ok": False, "path": path, "why": why}, None


def blas_check(torch):
    """--child blas: which BLAS torch's sgemm_ is bound to (see bound_blas;
    without an LD_DEBUG log, the mapped file named libblas.so.3*)"""
    built = torch_blas_build(torch)
    if built == "mkl":
        return {"name": "MKL (torch built with BLAS_INFO=mkl)", "ok": True, "path": None, "why": ""}
    path = bound_blas(torch)
    if path is None:
        torch.mm(torch.ones(2, 2), torch.ones(2, 2))
        named = [p for p in mapped_libs() if os.path.basename(p).startswith("libblas.so.3")]
        path = named[0] if len(named) == 1 else None
    return classify_blas(path, built)[0]


def find_openblas(arg):
    """A directory holding OpenBLAS's libblas.so.3, or None if not needed/found."""
    if arg:
        return arg
    cands = ["/usr/lib/x86_64-linux-gnu/openblas-pthread",
             "/usr/lib/x86_64-linux-gnu/openblas-openmp",
             os.path.join(CACHE_DIR, "usr/lib/x86_64-linux-gnu/openblas-pthread")]
    for d in cands:
        if os.path.exists(os.path.join(d, "libblas.so.3")):
            return d
    debs = sorted(glob.glob("/var/cache/apt/archives/libopenblas0-pthread_*.deb"))
    if debs and subprocess.run(["dpkg-deb", "-x", debs[-1], CACHE_DIR], capture_output=True).returncode == 0:
        d = cands[-1]
        if os.path.exists(os.path.join(d, "libblas.so.3")):
            return d
    return None


def fair_env(threads, openblas_dir, wait_policy="PASSIVE"):
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("OPENBLAS_L2_SIZE", None)
    env["OMP_WAIT_POLICY"] = wait_policy
    for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[k] = str(threads)
    if openblas_dir:
        env["LD_LIBRARY_PATH"] = openblas_dir + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
    return env

# ------------------------------------------------- PyTorch side (child)


def timed_steps(step, steps, repeats):
    """warm-up, then `repeats` timings of `steps` calls; seconds per call each"""
    for i in range(steps // 5 + 3):
        step(i)
    out = []
    k = 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            step(k)
            k += 1
        out.append((time.perf_counter() - t0) / steps)
    return out


def gemm_gflop(torch, step):
    """GEMM GFLOP of one call of step(), counted by the autograd profiler:
    2*M*N*K for every aten::mm / aten::addmm it runs (nothing else in these
    steps multiplies matrices)"""
    with torch.autograd.profiler.profile(record_shapes=True) as prof:
        step(0)
    flop = 0
    for e in prof.function_events:
        if e.name in GEMM_OPS:
            a, b = e.input_shapes[-4:-2] if e.name == "aten::addmm" else e.input_shapes[:2]
            flop += 2 * a[0] * a[1] * b[1]
    return flop * 1e-9


def report_steps(name, a, times, blas, extra):
    for r, s in enumerate(times):
        print(json.dumps({"bench": name, "batch": a.batch, "threads": a.threads, "repeat": r + 1,
                          "ms_per_iter": s * 1e3, "samples_per_s": a.batch / s}))
    best = min(times)
    print(json.dumps(dict({"bench": name, "batch": a.batch, "threads": a.threads, "blas": blas,
                           "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                           "ms_per_iter": best * 1e3, "samples_per_s": a.batch / best}, **extra)))


def gan_iteration(torch, G, D, data, B):
    """One GAN training iteration as tapegrad's trainer does it, for nets G and D
    on batches data[i % NDATA]: BCE with logits, Adam 2e-4 (0.5, 0.999) per net,
    real label 0.9, fake 0; returns step(i) -> (loss_d, loss_g, D(x), D(G(z)))."""
    crit = torch.nn.BCEWithLogitsLoss()
    d_params = list(D.parameters())
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999), eps=1e-8)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999), eps=1e-8)
    real_t = torch.full((B, 1), 0.9)
    fake_t = torch.zeros(B, 1)
    ones = torch.ones(B, 1)

    def step(i):
        real = data[i % NDATA].clone()  # a batch copied in, as the trainer does
        z = torch.randn(B, 100)
        fake = G(z)
        # D step: real with label 0.9, detached fake with label 0
        for p in d_params:
            p.requires_grad_(True)
        opt_d.zero_grad(set_to_none=True)
        out_r = D(real)
        out_f = D(fake.detach())
        loss_d = crit(out_r, real_t) + crit(out_f, fake_t)
        loss_d.backward()
        opt_d.step()
        # G step: the same fake through the updated D, label 1. Only G's
        # weights get gradients: D's parameters stop requiring grad, so
        # backward computes D's input gradients down to the fake but not D's
        # weight gradients (tapegrad's G-step plan computes none either)
        for p in d_params:
            p.requires_grad_(False)
        opt_g.zero_grad(set_to_none=True)
        loss_g = crit(D(fake), ones)
        loss_g.backward()
        opt_g.step()
        # what gan_step reports every iteration
        return (loss_d.item(), loss_g.item(), torch.sigmoid(out_r.detach()).mean().item(),
                torch.sigmoid(out_f.detach()).mean().item())

    return step


def torch_gan(a, torch, blas):
    """The reference GAN iteration, as tools/train/gan_train.h does it."""
    nn = torch.nn
    B = a.batch
    lrelu = lambda: nn.LeakyReLU(0.2)
    G = nn.Sequential(nn.Linear(100, 128), lrelu(), nn.Linear(128, 256), lrelu(),
                      nn.Linear(256, 512), lrelu(), nn.Linear(512, 784), nn.Tanh())
    D = nn.Sequential(nn.Linear(784, 512), lrelu(), nn.Dropout(0.3),
                      nn.Linear(512, 256), lrelu(), nn.Dropout(0.3),
                      nn.Linear(256, 128), lrelu(), nn.Dropout(0.3), nn.Linear(128, 1))
    for m in list(G) + list(D):
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
    data = torch.rand(NDATA, B, 784) * 2 - 1
    step = gan_iteration(torch, G, D, data, B)
    rss_import = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = timed_steps(step, a.steps, a.repeats)
    report_steps("gan-step", a, times, blas, {"rss_after_setup_kb": rss_import,
                                              "gemm_gflop_per_iter": gemm_gflop(torch, step)})


def dcgan_nets(torch):
    """The dcgan design (bench/dcgan_step.c) in PyTorch: Keras 'same' padding
    of D's first layer (28 -> 14 with 5x5, stride 2: 1 before, 2 after) as an
    explicit ZeroPad2d; DCGAN init (weights N(0, 0.02), zero biases,
    batch-norm gamma N(1, 0.02), beta 0)"""
    nn = torch.nn
    G = nn.Sequential(nn.Linear(100, 6272, bias=False), nn.BatchNorm1d(6272), nn.ReLU(), nn.Unflatten(1, (128, 7, 7)),
                      nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                      nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Tanh())
    D = nn.Sequential(nn.ZeroPad2d((1, 2, 1, 2)), nn.Conv2d(1, 64, 5, 2), nn.LeakyReLU(0.2),
                      nn.Conv2d(64, 128, 5, 2), nn.LeakyReLU(0.2), nn.Flatten(),
                      nn.Linear(3200, 256), nn.LeakyReLU(0.2), nn.Dropout(0.5), nn.Linear(256, 1))
    for m in list(G) + list(D):
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
    return G, D


def conv_gemm_gflop(torch, step):
    """GEMM-equivalent GFLOP of one call of step(): 2 per multiply-add of
    every aten mm, addmm, convolution and convolution_backward (each gradient
    its output mask asks for costs a forward's work), counted by a dispatch
    mode that sees the backward's ops too"""
    from torch.utils._python_dispatch import TorchDispatchMode
    aten = torch.ops.aten

    def prod(v):
        r = 1
        for x in v:
            r *= x
        return r

    def conv_macs(x, w, out, transposed):
        # conv: every output pixel of every image meets all of w; transposed:
        # every input pixel does
        pix = x.shape[0] * prod(x.shape[2:]) if transposed else out.shape[0] * prod(out.shape[2:])
        return pix * prod(w.shape)

    class Count(TorchDispatchMode):
        flop = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            if func is aten.mm.default:
                Count.flop += 2 * args[0].shape[0] * args[0].shape[1] * args[1].shape[1]
            elif func is aten.addmm.default:
                Count.flop += 2 * args[1].shape[0] * args[1].shape[1] * args[2].shape[1]
            elif func is aten.convolution.default:
                Count.flop += 2 * conv_macs(args[0], args[1], out, args[6])
            elif func is aten.convolution_backward.default:
                go, x, w, transposed, mask = args[0], args[1], args[2], args[7], args[10]
                Count.flop += 2 * conv_macs(x, w, go, transposed) * (int(mask[0]) + int(mask[1]))
            return out

    with Count():
        step(0)
    return Count.flop * 1e-9


def torch_dcgan(a, torch, blas):
    """The DCGAN iteration, as bench/dcgan_step.c does it."""
    B = a.batch
    G, D = dcgan_nets(torch)
    data = torch.rand(NDATA, B, 1, 28, 28) * 2 - 1
    step = gan_iteration(torch, G, D, data, B)  # G in training mode, as the D step's plan
    rss_import = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = timed_steps(step, a.steps, a.repeats)
    report_steps("dcgan-step", a, times, blas, {"rss_after_setup_kb": rss_import,
                                                "gemm_gflop_per_iter": conv_gemm_gflop(torch, step)})


def torch_mlp(a, torch, blas):
    nn = torch.nn
    B = a.batch
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(),
                          nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
    crit = nn.CrossEntropyLoss()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    data = torch.rand(NDATA, B, 784)
    labels = torch.randint(0, 10, (NDATA, B), dtype=torch.int64)

    def step(i):
        x, y = data[i % NDATA].clone(), labels[i % NDATA].clone()
        opt.zero_grad(set_to_none=True)
        loss = crit(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    times = timed_steps(step, a.steps, a.repeats)
    report_steps("mlp-step", a, times, blas, {"gemm_gflop_per_iter": gemm_gflop(torch, step)})


GAN_NETS = (("G", (100, 128, 256, 512, 784)), ("D", (784, 512, 256, 128, 1)))


def gemm_shapes(B):
    """every GEMM the GAN's plans run, as tapegrad bench gemm names them"""
    for net, w in GAN_NETS:
        for l in range(len(w) - 1):
            IN, OUT = w[l], w[l + 1]
            yield "%s.l%d.fwd" % (net, l), "NN", B, OUT, IN, IN, OUT
            yield "%s.l%d.dW" % (net, l), "TN", IN, OUT, B, IN, OUT
            if not (net == "G" and l == 0):
                yield "%s.l%d.dx" % (net, l), "NT", B, IN, OUT, IN, OUT


def torch_gemm(a, torch, blas, lib):
    """each shape with torch.mm (out=, no allocation) and, when OpenBLAS is
    loaded, with cblas_sgemm called directly through ctypes"""
    B = a.batch
    rows = []
    for name, trans, M, N, K, IN, OUT in gemm_shapes(B):
        x = torch.rand(B, IN) * 2 - 1
        w = torch.rand(IN, OUT) * 0.2 - 0.1
        dy = torch.rand(B, OUT) * 2 - 1
        if trans == "NN":
            A, Bm = x, w          # y = x W
        elif trans == "TN":
            A, Bm = x.t(), dy     # dW = x^T dy
        else:
            A, Bm = dy, w.t()     # dx = dy W^T
        C = torch.empty(M, N)
        row = {"bench": "gemm", "shape": name, "trans": trans, "M": M, "N": N, "K": K, "batch": B,
               "threads": a.threads, "blas": blas}
        t = timed_steps(lambda i: torch.mm(A, Bm, out=C), a.steps, a.repeats)
        row["torch_gflops"] = 2.0 * M * N * K / min(t) * 1e-9
        if lib is not None:
            P = ctypes.c_void_p
            # row-major; stored x (B,IN), w (IN,OUT), dy (B,OUT) are contiguous
            xs, ws, ds = x.contiguous(), w.contiguous(), dy.contiguous()
            if trans == "NN":
                args = (101, 111, 111, M, N, K, ctypes.c_float(1), P(xs.data_ptr()), IN, P(ws.data_ptr()), OUT)
            elif trans == "TN":
                args = (101, 112, 111, M, N, K, ctypes.c_float(1), P(xs.data_ptr()), IN, P(ds.data_ptr()), OUT)
            else:
                args = (101, 111, 112, M, N, K, ctypes.c_float(1), P(ds.data_ptr()), OUT, P(ws.data_ptr()), OUT)
            args = args + (ctypes.c_float(0), P(C.data_ptr()), N)
            f = lib.cblas_sgemm
            t = timed_steps(lambda i: f(*args), a.steps, a.repeats)
            row["cblas_gflops"] = 2.0 * M * N * K / min(t) * 1e-9
        row["gflops"] = max(row["torch_gflops"], row.get("cblas_gflops", 0.0))
        print(json.dumps(row))
        rows.append(row)


def child_main(a):
    import torch
    torch.set_num_threads(a.threads)
    # tapegrad flushes subnormals to zero in its f32 work (tapegrad.h); give
    # PyTorch the same (its default keeps them, and an MLP's Adam moments
    # decaying into the subnormal range slow its steps about twofold)
    torch.set_flush_denormal(True)
    torch.manual_seed(0)
    if a.child == "blas":
        print(json.dumps(blas_check(torch)))
        return 0
    # the library the parent's check found torch's sgemm_ bound to (none for
    # an MKL build); the same environment binds the same one
    blas, lib = "MKL (torch built with BLAS_INFO=mkl)", None
    if a.blas_lib:
        info, lib = classify_blas(a.blas_lib, torch_blas_build(torch))
        torch.mm(torch.ones(2, 2), torch.ones(2, 2))
        if info["ok"] and a.blas_lib not in mapped_libs():
            info = {"ok": False, "why": "%s is not loaded in this PyTorch process" % a.blas_lib}
        if not info["ok"]:
            print("compare_torch: " + info["why"], file=sys.stderr)
            return 3
        blas = info["name"]
    if lib is not None:
        lib.openblas_set_num_threads(a.threads)
    if a.child == "gan":
        torch_gan(a, torch, blas)
    elif a.child == "dcgan":
        torch_dcgan(a, torch, blas)
    elif a.child == "mlp":
        torch_mlp(a, torch, blas)
    else:
        torch_gemm(a, torch, blas, lib)
    return 0

# ------------------------------------------------------- parent: running


def run_json(cmd, env, timeout=900):
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        sys.exit("compare_torch: %s failed (%d):\n%s" % (" ".join(cmd), p.returncode, p.stderr))
    return [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]


class Runner:
    def __init__(self, a):
        self.a = a
        self.ob = find_openblas(a.openblas)
        self.blas_lib = None  # set by check_blas

    def tapegrad(self, what, B, T, steps, repeats):
        # the DCGAN iteration is bench/dcgan_step's (no `tapegrad bench` preset yet)
        head = [self.a.dcgan] if what == "dcgan-step" else [self.a.tapegrad, "bench", what]
        cmd = head + ["--batch", str(B), "--threads", str(T), "--steps", str(steps), "--repeats", str(repeats),
                      "--json"]
        return run_json(cmd, fair_env(T, None))

    def torch(self, what, B, T, steps, repeats, policy):
        cmd = ["/usr/bin/python3", os.path.abspath(__file__), "--child", what, "--batch", str(B),
               "--threads", str(T), "--steps", str(steps), "--repeats", str(repeats),
               "--blas-lib", self.blas_lib or ""]
        lines = run_json(cmd, fair_env(T, self.ob, policy))
        for l in lines:
            l["omp_wait_policy"] = policy
        return lines

    def check_blas(self):
        """Stop (exit status 1) unless PyTorch runs its GEMMs on OpenBLAS (or
        is an MKL build): a child with the timed runs' environment reports
        the library the dynamic linker bound torch's sgemm_ to
        (LD_DEBUG=bindings, logged into a temporary directory)."""
        cmd = ["/usr/bin/python3", os.path.abspath(__file__), "--child", "blas"]
        log = tempfile.mkdtemp(prefix="tapegrad-bench-ld.")
        env = fair_env(2, self.ob)
        env.update(LD_DEBUG="bindings", LD_DEBUG_OUTPUT=os.path.join(log, "ld"))
        try:
            info = run_json(cmd, env)[-1]
        finally:
            shutil.rmtree(log, ignore_errors=True)
        if not info["ok"]:
            sys.exit("compare_torch: " + info["why"])
        self.blas_lib = info["path"]
        return info["name"]


def policies(rnd):
    """OMP_WAIT_POLICY values in the order round rnd runs them"""
    return WAIT_POLICIES if rnd % 2 == 0 else WAIT_POLICIES[::-1]


def same_work(what, B, T, tg, pt):
    """stop unless PyTorch's step does the GEMM work tapegrad's does"""
    want, got = tg.get("gflop_per_iter"), pt.get("gemm_gflop_per_iter")
    if want is None or got is None or abs(got - want) > 1e-3 * want:
        sys.exit("compare_torch: %s B=%d T=%d: PyTorch's step runs %s GFLOP of GEMM (counted by the autograd "
                 "profiler), tapegrad's %s: not the same computation" % (
                     what, B, T, "?" if got is None else "%.4f" % got, "?" if want is None else "%.4f" % want))


def gan_steps(a, B):
    return max(10, a.steps * 64 // B)


def dcgan_steps(a, B):
    """a DCGAN iteration costs about 13x a GAN one: a fifth of the steps"""
    return max(3, a.steps * 64 // (5 * B))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tapegrad", default=os.path.join(ROOT, "build", "tools", "tapegrad"),
                    help="tapegrad binary (default: build/tools/tapegrad)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds per workload (best-of)")
    ap.add_argument("--steps", type=int, default=50, help="GAN/MLP steps per repeat at batch 64")
    ap.add_argument("--repeats", type=int, default=5, help="repeats per run (best-of)")
    ap.add_argument("--gemm-calls", type=int, default=200, help="calls per repeat per GEMM shape")
    ap.add_argument("--dcgan", default=os.path.join(ROOT, "build", "bench", "dcgan_step"),
                    help="the DCGAN benchmark program (default: build/bench/dcgan_step)")
    ap.add_argument("--dcgan-256", action="store_true", help="also time the DCGAN at batch 256 (2 threads)")
    ap.add_argument("--openblas", help="directory with OpenBLAS's libblas.so.3 for PyTorch")
    ap.add_argument("--only", help="comma list of: gan,dcgan,mlp,gemm,rss,loaded (default all)")
    ap.add_argument("--out", help="write the results as JSON here")
    ap.add_argument("--child", choices=("gan", "dcgan", "mlp", "gemm", "blas"), help=argparse.SUPPRESS)
    ap.add_argument("--batch", type=int, default=64, help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--blas-lib", default="", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        return child_main(a)
    if not os.access(a.tapegrad, os.X_OK):
        sys.exit("compare_torch: no tapegrad binary at %s (build it, or pass --tapegrad)" % a.tapegrad)
    only = set((a.only or "gan,dcgan,mlp,gemm,rss,loaded").split(","))
    if "dcgan" in only and not os.access(a.dcgan, os.X_OK):
        sys.exit("compare_torch: no DCGAN benchmark at %s (build it: ninja -C build, or pass --dcgan)" % a.dcgan)
    R = Runner(a)
    res = {"rounds": a.rounds, "repeats": a.repeats, "tapegrad": a.tapegrad, "openblas_dir": R.ob,
           "nproc": os.cpu_count(), "steps": [], "gemm": [], "omp_wait_policies": list(WAIT_POLICIES)}
    # ---- PyTorch must run on OpenBLAS: checked before anything is timed
    res["blas"] = R.check_blas()
    print("PyTorch BLAS: %s" % res["blas"], file=sys.stderr)

    # ---- the machine's measured FMA peak (tapegrad's kernel variant), 1 and 2 threads
    peak = {}
    for l in run_json([a.tapegrad, "bench", "peak", "--threads", "2", "--repeats", "3", "--json"], fair_env(2, None)):
        if l.get("bench") == "peak":
            peak[l["threads"]] = l["gflops"]
    res["peak_gflops"] = peak

    # ---- training steps: alternate tapegrad and PyTorch, best of everything
    work = []
    if "gan" in only or "rss" in only:
        work += [("gan", "gan-step", 64, 1, 2.0), ("gan", "gan-step", 64, 2, 3.0), ("gan", "gan-step", 256, 2, 2.0)]
    if "dcgan" in only:
        work += [("dcgan", "dcgan-step", 64, 1, 4.0), ("dcgan", "dcgan-step", 64, 2, 4.0)]
        if a.dcgan_256:
            work += [("dcgan", "dcgan-step", 256, 2, None)]
    if "mlp" in only:
        work += [("mlp", "mlp-step", 64, 2, None)]
    best = {}

    def keep(k, s):
        if k not in best or s["samples_per_s"] > best[k]["samples_per_s"]:
            keep_rss = min(s["peak_rss_kb"], best[k]["peak_rss_kb"]) if k in best else s["peak_rss_kb"]
            best[k] = dict(s)
            best[k]["peak_rss_kb"] = keep_rss
        elif s["peak_rss_kb"] < best[k]["peak_rss_kb"]:
            best[k]["peak_rss_kb"] = s["peak_rss_kb"]

    for rnd in range(a.rounds):
        for kind, what, B, T, _ in work:
            steps = gan_steps(a, B) if kind == "gan" else dcgan_steps(a, B) if kind == "dcgan" else a.steps * 4
            order = ("tapegrad", "torch") if rnd % 2 == 0 else ("torch", "tapegrad")
            for who in order:
                if who == "tapegrad":
                    keep((what, B, T, who), R.tapegrad(what, B, T, steps, a.repeats)[-1])
                    continue
                for pol in policies(rnd):  # each policy in its own process
                    keep((what, B, T, "torch", pol), R.torch(kind, B, T, steps, a.repeats, pol)[-1])
            tg = best[(what, B, T, "tapegrad")]
            for pol in WAIT_POLICIES:
                same_work(what, B, T, tg, best[(what, B, T, "torch", pol)])
            print("round %d: %s B=%d T=%d  tapegrad %.0f  torch %s samples/s" % (
                rnd + 1, what, B, T, tg["samples_per_s"], "  ".join(
                    "%.0f (%s)" % (best[(what, B, T, "torch", pol)]["samples_per_s"], pol) for pol in WAIT_POLICIES)),
                file=sys.stderr)
    for kind, what, B, T, target in work:
        by = {pol: best[(what, B, T, "torch", pol)] for pol in WAIT_POLICIES}
        pol = max(WAIT_POLICIES, key=lambda p: by[p]["samples_per_s"])
        pt = dict(by[pol])
        pt["peak_rss_kb"] = min(v["peak_rss_kb"] for v in by.values())
        pt["samples_per_s_by_policy"] = {p: v["samples_per_s"] for p, v in by.items()}
        best[(what, B, T, "torch")] = pt
        tg = best[(what, B, T, "tapegrad")]
        res["steps"].append({"workload": what, "batch": B, "threads": T, "tapegrad": tg, "torch": pt,
                             "ratio": tg["samples_per_s"] / pt["samples_per_s"], "target_ratio": target})

    # ---- GEMM shapes, batch 64 and 256, T = 1 and 2
    if "gemm" in only:
        for GB, T in ((64, 1), (64, 2), (256, 1), (256, 2)):
            bt, bp = {}, {}
            for rnd in range(a.rounds):
                order = ("tapegrad", "torch") if rnd % 2 == 0 else ("torch", "tapegrad")
                for who in order:
                    if who == "tapegrad":
                        runs = [R.tapegrad("gemm", GB, T, a.gemm_calls, a.repeats)]
                    else:  # each policy in its own process
                        runs = [R.torch("gemm", GB, T, a.gemm_calls, a.repeats, pol) for pol in policies(rnd)]
                    d = bt if who == "tapegrad" else bp
                    for lines in runs:
                        for l in lines:
                            if l.get("bench") != "gemm":
                                continue
                            if l["shape"] not in d or l["gflops"] > d[l["shape"]]["gflops"]:
                                d[l["shape"]] = l
                print("round %d: gemm B=%d T=%d done" % (rnd + 1, GB, T), file=sys.stderr)
            for shape, t in bt.items():
                p = bp.get(shape)
                res["gemm"].append({"shape": shape, "trans": t["trans"], "M": t["M"], "N": t["N"], "K": t["K"],
                                    "batch": GB, "threads": T, "tapegrad_gflops": t["gflops"],
                                    "openblas_gflops": p["gflops"] if p else None,
                                    "torch_mm_gflops": p["torch_gflops"] if p else None,
                                    "torch_omp_wait_policy": p["omp_wait_policy"] if p else None,
                                    "ratio": t["gflops"] / p["gflops"] if p else None})

    # ---- peak RSS while training the GAN (B=64, T=2)
    if ("gan" in only or "rss" in only) and (("gan-step", 64, 2, "tapegrad") in best):
        tg, pt = best[("gan-step", 64, 2, "tapegrad")], best[("gan-step", 64, 2, "torch")]
        res["rss"] = {"tapegrad_kb": tg["peak_rss_kb"], "torch_kb": pt["peak_rss_kb"],
                      "torch_after_setup_kb": pt.get("rss_after_setup_kb"),
                      "ratio": pt["peak_rss_kb"] / tg["peak_rss_kb"]}

    # ---- loaded machine: one core kept busy, tapegrad 1 vs 2 threads
    if "loaded" in only:
        busy = subprocess.Popen(["yes"], stdout=subprocess.DEVNULL)
        try:
            time.sleep(0.5)
            lb = {}
            for rnd in range(a.rounds):
                for T in ((1, 2) if rnd % 2 == 0 else (2, 1)):
                    s = R.tapegrad("gan-step", 64, T, gan_steps(a, 64), a.repeats)[-1]
                    if T not in lb or s["samples_per_s"] > lb[T]["samples_per_s"]:
                        lb[T] = s
        finally:
            busy.kill()
            busy.wait()
        res["loaded"] = {"t1_samples_per_s": lb[1]["samples_per_s"], "t2_samples_per_s": lb[2]["samples_per_s"],
                         "ratio": lb[2]["samples_per_s"] / lb[1]["samples_per_s"]}

    print_table(res)
    if a.out:
        tmp = a.out + ".tmp"
        with open(tmp, "w") as f:
            json.dump(res, f, indent=1)
            f.write("\n")
        os.replace(tmp, a.out)
    return 0


def print_table(res):
    print("PyTorch BLAS: %s; best of %d rounds x %d repeats; PyTorch run with OMP_WAIT_POLICY=%s, each in its own "
          "process, the faster kept" % (res.get("blas") or "?", res["rounds"], res["repeats"],
                                        " and =".join(res["omp_wait_policies"])))
    peak = {int(k): v for k, v in (res.get("peak_gflops") or {}).items()}
    if peak:
        print("machine FMA peak, measured (tapegrad bench peak): %s" % ", ".join(
            "%.1f GFLOP/s on %d thread%s" % (peak[t], t, "s" if t > 1 else "") for t in sorted(peak)))
    if res["steps"]:
        print()
        print("%-24s %12s %12s %-8s %8s %8s %9s %7s" % ("workload (samples/s)", "tapegrad", "PyTorch", "OMP wait",
                                                         "ratio", "target", "GFLOP/s", "%peak"))
        for r in res["steps"]:
            tgt = "%.1fx" % r["target_ratio"] if r["target_ratio"] else ">=60k/s" if r["workload"] == "mlp-step" else "-"
            gf = r["tapegrad"].get("gflops", 0)
            pk = peak.get(r["threads"])
            print("%-24s %12.0f %12.0f %-8s %7.2fx %8s %9.1f %6s" % (
                "%s B=%d T=%d" % (r["workload"], r["batch"], r["threads"]), r["tapegrad"]["samples_per_s"],
                r["torch"]["samples_per_s"], r["torch"].get("omp_wait_policy", "?"), r["ratio"], tgt, gf,
                "%.0f%%" % (100 * gf / pk) if pk else "-"))
        print("(PyTorch: the faster of its OMP_WAIT_POLICY runs, each in its own process; 'OMP wait' names it and\n"
              " the JSON has both. Each PyTorch step was checked to run the GEMM FLOPs tapegrad's does (DCGAN:\n"
              " convolutions counted as their GEMMs). GFLOP/s: GEMM FLOPs per iteration / tapegrad's time per\n"
              " iteration, against the measured peak)")
    if res["gemm"]:
        print()
        print("%-10s %-3s %-14s %3s %10s %10s %10s %-8s %7s %6s" % (
            "gemm", "op", "MxNxK", "T", "tapegrad", "OpenBLAS", "torch.mm", "OMP wait", "ratio", "%peak"))
        for g in res["gemm"]:
            pk = peak.get(g["threads"])
            print("%-10s %-3s %-14s %3d %10.1f %10.1f %10.1f %-8s %6.2fx %6s" % (
                g["shape"], g["trans"], "%dx%dx%d" % (g["M"], g["N"], g["K"]), g["threads"], g["tapegrad_gflops"],
                g["openblas_gflops"] or 0, g["torch_mm_gflops"] or 0, g.get("torch_omp_wait_policy") or "-",
                g["ratio"] or 0, "%.0f%%" % (100 * g["tapegrad_gflops"] / pk) if pk else "-"))
        rs = [g["ratio"] for g in res["gemm"] if g["ratio"]]
        if rs:
            print("lowest ratio %.2fx over %d shape x batch x thread rows" % (min(rs), len(rs)))
        print("(GFLOP/s; OpenBLAS = the better of cblas_sgemm via ctypes and torch.mm; target ratio >= 0.9)")
    if "rss" in res:
        r = res["rss"]
        print()
        print("peak RSS, GAN B=64 T=2: tapegrad %.1f MiB, PyTorch %.1f MiB (%.1f MiB after import and setup): "
              "PyTorch/tapegrad %.1fx (target >= 3x)" % (r["tapegrad_kb"] / 1024, r["torch_kb"] / 1024,
                                                        (r["torch_after_setup_kb"] or 0) / 1024, r["ratio"]))
    if "loaded" in res:
        r = res["loaded"]
        print("loaded machine (one core busy), tapegrad GAN B=64: T=1 %.0f, T=2 %.0f samples/s: T2/T1 %.2fx "
              "(target >= 1)" % (r["t1_samples_per_s"], r["t2_samples_per_s"], r["ratio"]))


if __name__ == "__main__":
    sys.exit(main())
