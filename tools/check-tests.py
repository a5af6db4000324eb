#!/usr/bin/env python3
"""Check that a `meson test` run ran every suite it should have.

    check-tests.py BUILD_DIR [TEST_NAME ...]

Reads the tests the build defines (`meson introspect --tests`) and the
results of the last `meson test` in that folder (meson-logs/testlog.json).
With test names, only those are expected (a partial run such as the valgrind
pass); otherwise every defined test, and every tests/test_*.c source file
must be behind at least one defined test (a suite the build dropped, say
because an optional dependency was missing, counts as missing), except the
suites of optional libraries the build does not have: tests/test_dist.c
and tests/test_dist_cli.c need libtapegrad_mpi (-Dmpi; MPI not found, or
disabled). Fails when:
  - an expected test has no result, or more than one;
  - a test failed, timed out or errored;
  - a test was skipped without a reason it may have: only suites that run a
    kernel variant named by TG_KERNEL may skip (the CPU lacks the variant);
  - a Check suite ran no checks at all.
Prints one summary line, and every skipped test with its reason.
"""
import json
import os
import re
import subprocess
import sys


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    build = sys.argv[1]
    wanted = sys.argv[2:]
    src = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    defined = json.loads(subprocess.run(["meson", "introspect", "--tests", build], check=True,
                                        capture_output=True, text=True).stdout)
    by_name = {t["name"]: t for t in defined}
    problems = []
    # suites of optional libraries: expected only when the build has the library
    targets = json.loads(subprocess.run(["meson", "introspect", "--targets", build], check=True,
                                        capture_output=True, text=True).stdout)
    target_names = {t["name"] for t in targets}
    optional = {"test_dist.c": "tapegrad_mpi", "test_dist_cli.c": "tapegrad_mpi"}

    if wanted:
        for w in wanted:
            if w not in by_name:
                problems.append(f"{w}: not a test this build defines")
        expected = [w for w in wanted if w in by_name]
    else:
        expected = list(by_name)
        # every suite source is behind a defined test
        for f in sorted(os.listdir(os.path.join(src, "tests"))):
            m = re.fullmatch(r"test_(\w+)\.c", f)
            if not m:
                continue
            exe = "test_" + m.group(1)
            if f in optional and optional[f] not in target_names:
                print(f"  not expected: tests/{f} (this build has no {optional[f]})")
                continue
            if not any(os.path.basename(str(t["cmd"][0])) == exe or exe in " ".join(map(str, t["cmd"]))
                       for t in defined):
                problems.append(f"tests/{f}: no meson test runs it (was it dropped from the build?)")

    log = os.path.join(build, "meson-logs", "testlog.json")
    results = {}
    with open(log) as fh:
        for line in fh:
            line = line.strip()
            if line:
                r = json.loads(line)
                results.setdefault(r["name"], []).append(r)

    ok = skipped = 0
    for name in expected:
        rs = results.get(name, [])
        if len(rs) != 1:
            problems.append(f"{name}: {len(rs)} results in {log} (expected 1)")
            continue
        r = rs[0]
        res = r["result"]
        out = r.get("stdout") or ""
        if res == "SKIP":
            skipped += 1
            kernel = by_name[name]["env"].get("TG_KERNEL")
            reason = next((l for l in out.splitlines() if "SKIP" in l), "").strip()
            if not kernel:
                problems.append(f"{name}: skipped, but it runs no forced kernel variant ({reason or 'no reason'})")
            else:
                print(f"  skipped {name}: {reason or 'no reason printed'}")
            continue
        if res != "OK":
            problems.append(f"{name}: {res}")
            continue
        m = re.search(r"Checks: (\d+), Failures: (\d+), Errors: (\d+)", out)
        if "Running suite(s)" in out and (not m or int(m.group(1)) == 0):
            problems.append(f"{name}: a Check suite that ran no checks")
        ok += 1

    print(f"check-tests: {build}: {len(expected)} tests expected, {ok} passed, {skipped} skipped"
          f" (a variant this CPU lacks), {len(problems)} problems")
    for p in problems:
        print(f"  PROBLEM {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
