#!/usr/bin/env python3
"""Tabulate bench/dist_bench.sh's measurements and project data-parallel GAN
training to many machines, on paper.

    python3 bench/dist_project.py /tmp/dist_bench.jsonl [options] > dist.md

Prints markdown: what was measured, then the projection.

Measured (each configuration's best round, by ms per iteration):
  samples/s of one process x 2 threads and of 2 ranks x 1 thread (overlap on
  and off), and their ratio (2 ranks with overlap / 1 process); the
  averagers' wait per iteration with overlap on (W_on) and off (W_off);
  the overlap fraction f = 1 - W_on / W_off (the share of the all-reduce time
  that backward hid); the iteration time overlap saved, (T_off - T_on) /
  W_off (lower than f when the all-reduces' progress, which Open MPI makes
  inside the hook's MPI calls, costs backward time of its own); gradient
  bytes each rank hands to all-reduce per iteration (D + G) and buckets.

Projection, for N machines on a network of bandwidth BW (bytes/s) and
per-message latency L (parameters; defaults 10 Gb/s with L = 20 us, as TCP
over Ethernet, and 100 Gb/s with L = 5 us, as RDMA):

  compute per machine at b rows (its share of the global batch):
      C(b) = c0 + c1 b, the straight line through the two measured 2-rank,
      overlap-off runs (b = 32 and 128 rows per rank, 1 thread):
      C = T_off - W_off - S_off (iteration time minus the averagers' wait
      minus the status check), divided by --speedup (how much faster one
      machine computes than one measured rank on one core; default 1).
      If the line would cross zero, C is taken proportional to b instead.
  gradient all-reduce (ring, one per bucket, K buckets, P bytes in all):
      A(N) = 2 (N-1)/N * P / BW + K * 2 (N-1) * L
  hidden by backward:
      H = min(f * A(N), s_bwd * C(b))
      f measured as above (the run nearest in rows per rank), s_bwd the
      backward's share of the compute (--backward-share, default 2/3: a
      backward costs about two forwards)
  small all-reduces (the per-iteration status check, and for dcgan the
  synchronized batch norm: 2 in G's forward in the D step, 2 in G's
  backward in the G step), m per iteration, recursive doubling:
      Q(N) = m * 2 ceil(log2 N) * L
  per iteration:
      T(N, B) = C(B / N) + A(N) - H + Q(N)       (T(1, B) = C(B))
  strong scaling (fixed global batch B): samples/s = B / T(N, B),
      speedup = T(1, B) / T(N, B)
  weak scaling (fixed b rows per machine, B = N b): samples/s = N b / T,
      efficiency = T(1, b) / T(N, N b) (1 = perfect)
  communication dominates where the exposed communication A - H + Q exceeds
  the compute C; N machines pay off at global batch B when their speedup is
  at least N / 2 (50% efficiency).

What it leaves out: the all-reduce's reduction arithmetic and memory copies
(the ring's bandwidth term counts the wire only), stragglers (every
iteration waits for the slowest machine), the data loading, and contention
when several processes share a machine's network card.
"""
import argparse
import json
import math
import sys

RUNS = ("1proc", "2ranks-on", "2ranks-off")
# small all-reduces per iteration besides the gradients': the status check,
# plus dcgan's synchronized batch norm (G has 2 batch_norm layers: their sums
# in G's forward during the D step, and in G's backward during the G step)
SMALL = {"reference": 1, "documents": 1, "dcgan": 5, "keras-d": 1}


def load(path):
    best, machine, probe = {}, None, []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                j = json.loads(line)
            except json.JSONDecodeError as e:
                sys.exit(f"dist_project: {path}:{n}: not JSON ({e})")
            tag = j.get("dist_bench")
            if tag == "machine":
                machine = j
                continue
            if tag not in RUNS or "repeats" not in j:
                continue  # repeat lines
            if j.get("round") == 0:
                probe.append(j)
                continue
            key = (j["model"], j["batch"], tag)
            if key not in best or j["ms_per_iter"] < best[key]["ms_per_iter"]:
                best[key] = j
    if not best:
        sys.exit(f"dist_project: {path}: no summary lines of bench/dist_bench.sh")
    return best, machine, probe


def fmt(x, d=0):
    if x is None:
        return "-"
    return f"{x:,.{d}f}"


def measured(best, a):
    print("## Measured\n")
    print("| model | batch | 1 process x 2 threads | 2 ranks x 1 thread, overlap on | overlap off | "
          "2 ranks / 1 process | wait on (ms/iter) | wait off (ms/iter) | overlap fraction | "
          "iteration saved / wait off | bytes/iter | buckets (started early) | status check (ms/iter) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    models = sorted({k[0] for k in best}, key=lambda m: (m != "reference", m))
    for m in models:
        for B in sorted({k[1] for k in best if k[0] == m}):
            one, on, off = (best.get((m, B, r)) for r in RUNS)
            sps = [x["samples_per_s"] if x else None for x in (one, on, off)]
            ratio = sps[1] / sps[0] if sps[0] and sps[1] else None
            won = on["allreduce_wait_ms_per_iter"] if on else None
            woff = off["allreduce_wait_ms_per_iter"] if off else None
            f = 1 - won / woff if won is not None and woff else None
            saved = (off["ms_per_iter"] - on["ms_per_iter"]) / woff if on and off and woff else None
            d = on or off
            print(f"| {m} | {B} | {fmt(sps[0])} | {fmt(sps[1])} | {fmt(sps[2])} | "
                  f"{fmt(ratio, 2) + 'x' if ratio else '-'} | {fmt(won, 3)} | {fmt(woff, 3)} | {fmt(f, 2)} | "
                  f"{fmt(saved, 2)} | {fmt(d['allreduce_bytes_per_iter']) if d else '-'} | "
                  f"{str(d['buckets_per_iter']) + ' (' + fmt(on['early_buckets_per_iter'], 1) + ')' if on else '-'} | "
                  f"{fmt(d['status_check_ms_per_iter'], 3) if d else '-'} |")
    print("\nsamples/s: the best round; ratio: 2 ranks (overlap on) over 1 process, the same global batch "
          "and cores; wait: inside the gradient averagers' waits; overlap fraction = 1 - wait on / wait off; "
          "iteration saved = (ms/iter off - ms/iter on) / wait off.\n")


class Model:
    """the measurements of one model the projection needs"""

    def __init__(self, name, best, a):
        self.name = name
        pts = []  # (rows per rank, compute ms, overlap fraction)
        self.bytes = self.buckets = None
        for (m, B, r), off in best.items():
            if m != name or r != "2ranks-off":
                continue
            on = best.get((m, B, "2ranks-on"))
            c = off["ms_per_iter"] - off["allreduce_wait_ms_per_iter"] - off["status_check_ms_per_iter"]
            woff = off["allreduce_wait_ms_per_iter"]
            if on and woff > 0:
                f = 1 - on["allreduce_wait_ms_per_iter"] / woff
                if a.overlap_source == "time":
                    f = (off["ms_per_iter"] - on["ms_per_iter"]) / woff
                f = min(1.0, max(0.0, f))
            else:
                f = 0.0
            pts.append((off["rows_per_rank"], max(c, 1e-6), f))
            self.bytes, self.buckets = off["allreduce_bytes_per_iter"], off["buckets_per_iter"]
        if not pts:
            raise ValueError(f"{name}: no 2-rank overlap-off run")
        pts.sort()
        self.pts = pts
        if len(pts) >= 2 and pts[-1][0] != pts[0][0]:
            (b1, c1, _), (b2, c2, _) = pts[0], pts[-1]
            self.c1 = (c2 - c1) / (b2 - b1)
            self.c0 = c1 - self.c1 * b1
        else:
            self.c0, self.c1 = -1, 0
        if self.c0 < 0 or self.c1 <= 0:  # proportional through the largest run
            self.c0, self.c1 = 0.0, pts[-1][1] / pts[-1][0]
        self.small = SMALL.get(name, 1)

    def compute(self, b, a):
        return (self.c0 + self.c1 * b) / a.speedup

    def overlap(self, b):
        return min(self.pts, key=lambda p: abs(math.log(p[0] / b)))[2]

    def iteration(self, N, B, net, a):
        """ms per iteration and the exposed communication, or None when B does not split over N"""
        if B % N:
            return None
        b = B // N
        c = self.compute(b, a)
        if N == 1:
            return c, 0.0
        bw = net[0] * 1e9 / 8  # bytes/s
        lat = net[1] * 1e-6
        ar = (2 * (N - 1) / N * self.bytes / bw + self.buckets * 2 * (N - 1) * lat) * 1e3
        hidden = min(self.overlap(b) * ar, a.backward_share * c)
        q = self.small * 2 * math.ceil(math.log2(N)) * lat * 1e3
        exposed = ar - hidden + q
        return c + exposed, exposed


def projection(best, a):
    nets = list(zip(a.bandwidths, a.latencies_us))
    models = sorted({k[0] for k in best}, key=lambda m: (m != "reference", m))
    Ns = [1] + a.machines
    print("## Projection\n")
    print(f"Parameters: networks {', '.join(f'{bw:g} Gb/s with {l:g} us latency' for bw, l in nets)}; "
          f"a machine computes {a.speedup:g}x as fast as one measured rank (1 thread); backward "
          f"{a.backward_share:.2f} of the compute; overlap fraction from the {a.overlap_source}s. Formulas: "
          "the top of bench/dist_project.py (C compute, A ring all-reduce, H hidden, Q small all-reduces). "
          "C is measured at the 2-rank runs' rows per rank and extrapolated along its line elsewhere (below "
          "32 rows per machine, treat the figures with care):\n")
    print("    T(N, B) = C(B/N) + A(N) - H + Q(N),  C(b) = c0 + c1 b,"
          "  A(N) = 2 (N-1)/N P/BW + K 2 (N-1) L,\n"
          "    H = min(f A(N), s_bwd C(b)),  Q(N) = m 2 ceil(log2 N) L\n")
    for name in models:
        try:
            M = Model(name, best, a)
        except ValueError as e:
            print(f"{e}: no projection\n")
            continue
        print(f"### {name}\n")
        print(f"C(b) = {M.c0:.3f} + {M.c1:.4f} b ms (from b = "
              f"{', '.join(str(p[0]) for p in M.pts)} rows per rank); P = {M.bytes:,} bytes in K = {M.buckets} "
              f"buckets; f = {', '.join(f'{p[2]:.2f} at b = {p[0]}' for p in M.pts)}; m = {M.small}.\n")
        for net in nets:
            print(f"**{net[0]:g} Gb/s, {net[1]:g} us.** Strong scaling (fixed global batch): samples/s "
                  "(speedup over 1 machine; exposed communication's share of the iteration)\n")
            print("| global batch | " + " | ".join(f"{N} machine{'s' if N > 1 else ''}" for N in Ns) + " |")
            print("|---|" + "---|" * len(Ns))
            for B in a.global_batches:
                t1 = M.iteration(1, B, net, a)[0]
                cells = []
                for N in Ns:
                    r = M.iteration(N, B, net, a)
                    if r is None or B < N:
                        cells.append("-")
                        continue
                    t, ex = r
                    cells.append(f"{B / t * 1e3:,.0f} ({t1 / t:.1f}x; {ex / t:.0%})" if N > 1
                                 else f"{B / t * 1e3:,.0f}")
                print(f"| {B} | " + " | ".join(cells) + " |")
            print("\nWeak scaling (fixed batch per machine): samples/s (efficiency)\n")
            print("| batch per machine | " + " | ".join(f"{N}" for N in Ns) + " |")
            print("|---|" + "---|" * len(Ns))
            for b in a.local_batches:
                t1 = M.iteration(1, b, net, a)[0]
                cells = []
                for N in Ns:
                    t, _ = M.iteration(N, N * b, net, a)
                    cells.append(f"{N * b / t * 1e3:,.0f} ({t1 / t:.0%})")
                print(f"| {b} | " + " | ".join(cells) + " |")
            # where communication dominates, and where more machines pay off
            print()
            for N in a.machines:
                sweep = [1 << k for k in range(int(math.log2(N)) if N > 1 else 0, 21) if (1 << k) >= N]
                dom = [B for B in sweep if (lambda r: r and r[1] > r[0] - r[1])(M.iteration(N, B, net, a))]
                pays = [B for B in sweep if M.iteration(1, B, net, a)[0] / M.iteration(N, B, net, a)[0] >= N / 2]
                faster = [B for B in sweep if M.iteration(1, B, net, a)[0] / M.iteration(N, B, net, a)[0] > 1]
                s = f"- {N} machines: "
                s += (f"communication dominates up to global batch {max(dom)}" if dom else
                      "compute dominates at every batch")
                s += (f"; faster than one machine from batch {min(faster)}" if faster else
                      "; never faster than one machine (up to batch 1M)")
                s += (f"; pays off (>= {N // 2}x) from batch {min(pays)} ({min(pays) // N} per machine)" if pays
                      else f"; never reaches {N // 2}x (up to batch 1M)")
                print(s + ".")
            print()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file", help="bench/dist_bench.sh's output (JSON lines)")
    ap.add_argument("--bandwidths", default="10,100", help="Gb/s, comma-separated (default 10,100)")
    ap.add_argument("--latencies-us", default="20,5", help="per-message latency in us, one per bandwidth (20,5)")
    ap.add_argument("--machines", default="4,16,64", help="machine counts (default 4,16,64)")
    ap.add_argument("--global-batches", default="64,256,1024,4096", help="strong scaling batches")
    ap.add_argument("--local-batches", default="32,128,512", help="weak scaling: batch per machine")
    ap.add_argument("--backward-share", type=float, default=2 / 3, help="backward's share of the compute (2/3)")
    ap.add_argument("--speedup", type=float, default=1.0,
                    help="a machine's compute speed over one measured rank on one core (default 1)")
    ap.add_argument("--overlap-source", choices=("wait", "time"), default="wait",
                    help="overlap fraction from the waits (1 - W_on/W_off, default) or from the iteration "
                         "times ((T_off - T_on) / W_off)")
    a = ap.parse_args()

    def ints(s, what):
        try:
            v = [int(x) for x in s.split(",")]
        except ValueError:
            sys.exit(f"dist_project: {what}: '{s}' is not a list of integers")
        if not v or min(v) < 1:
            sys.exit(f"dist_project: {what}: every value must be >= 1")
        return v

    def floats(s, what):
        try:
            v = [float(x) for x in s.split(",")]
        except ValueError:
            sys.exit(f"dist_project: {what}: '{s}' is not a list of numbers")
        if not v or min(v) <= 0:
            sys.exit(f"dist_project: {what}: every value must be > 0")
        return v

    a.bandwidths = floats(a.bandwidths, "--bandwidths")
    a.latencies_us = floats(a.latencies_us, "--latencies-us")
    if len(a.bandwidths) != len(a.latencies_us):
        sys.exit("dist_project: --bandwidths and --latencies-us need as many values")
    a.machines = [n for n in ints(a.machines, "--machines") if n > 1]
    a.global_batches = ints(a.global_batches, "--global-batches")
    a.local_batches = ints(a.local_batches, "--local-batches")
    if not 0 <= a.backward_share <= 1 or a.speedup <= 0:
        sys.exit("dist_project: --backward-share must be in [0, 1] and --speedup > 0")
    try:
        best, machine, probe = load(a.file)
    except OSError as e:
        sys.exit(f"dist_project: {e}")
    print("# Data-parallel GAN training, measured and projected\n")
    if machine:
        print(f"Machine: {machine.get('cpu', '?')}, {machine.get('nproc', '?')} cores; {machine.get('tapegrad', '')}; "
              f"{machine.get('mpirun', '')}; best of {machine.get('repeats')} repeats x {machine.get('rounds')} "
              f"rounds.{' QUICK MODE: these numbers mean nothing.' if machine.get('quick') else ''}\n")
    if probe:
        print("Binding probe (reference, batch 64, 2 ranks): " +
              ", ".join(f"--bind-to {p['bind']} {p['samples_per_s']:,.0f} samples/s" for p in probe) + ".\n")
    measured(best, a)
    projection(best, a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
