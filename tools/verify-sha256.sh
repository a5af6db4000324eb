#!/usr/bin/env bash
# verify-sha256.sh - check files against pinned SHA-256 hashes, and remove
# the ones that do not match.
#
#   bash tools/verify-sha256.sh MANIFEST DIR
#
# MANIFEST has one line per file, "<64 hex digits>  <name>" as sha256sum
# prints them; blank lines and lines starting with # are skipped. Each name is
# a plain file name (no /) looked up in DIR. Every file is checked, not just
# up to the first bad one. A file whose SHA-256 differs is removed, and a
# message names it, the hash and size found and the hash expected; a missing
# file is reported too. tools/fetch-mnist.sh checks MNIST with it (and
# tests/test_fetch_mnist.sh checks it on tampered files).
#
# Exit status: 0 every file matches; 1 a file is missing or did not match
# (mismatched files removed); 2 bad usage or a malformed manifest.
set -uo pipefail

me=verify-sha256
if [[ $# -ne 2 ]]; then
    echo "usage: $me.sh MANIFEST DIR" >&2
    exit 2
fi
manifest=$1
dir=$2
[[ -r "$manifest" ]] || { echo "$me: cannot read the manifest $manifest" >&2; exit 2; }
[[ -d "$dir" ]] || { echo "$me: $dir is not a directory" >&2; exit 2; }
command -v sha256sum >/dev/null 2>&1 || { echo "$me: sha256sum (coreutils) is missing" >&2; exit 2; }

bad=0 n=0 lineno=0
while IFS= read -r line || [[ -n "$line" ]]; do
    lineno=$((lineno + 1))
    [[ -z "${line//[[:space:]]/}" || "$line" == \#* ]] && continue
    if [[ ! "$line" =~ ^([0-9a-fA-F]{64})[[:space:]]+\*?([^/[:space:]]+)[[:space:]]*$ ]]; then
        echo "$me: $manifest line $lineno is not '<sha256>  <file name>': $line" >&2
        exit 2
    fi
    want=${BASH_REMATCH[1],,}
    name=${BASH_REMATCH[2]}
    n=$((n + 1))
    f="$dir/$name"
    if [[ ! -f "$f" ]]; then
        echo "$me: $f is missing" >&2
        bad=1
        continue
    fi
    got=$(sha256sum -b "$f" | cut -d' ' -f1) || { echo "$me: cannot read $f" >&2; bad=1; continue; }
    if [[ "$got" != "$want" ]]; then
        size=$(stat -c %s "$f" 2>/dev/null || echo '?')
        echo "$me: $f does NOT match its pinned hash: SHA-256 $got ($size bytes), expected $want; removing it" >&2
        rm -f "$f" || echo "$me: could not remove $f" >&2
        bad=1
    fi
done <"$manifest"

if [[ $n -eq 0 ]]; then
    echo "$me: $manifest lists no files" >&2
    exit 2
fi
exit $bad
