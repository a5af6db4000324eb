#!/bin/sh
# test_st_python.sh ST_TOOL ST_INTEROP_PY - run the safetensors interoperability
# check (tests/st_interop.py) with Debian's Python and numpy. A missing
# interpreter or numpy is a failure, never a silent pass.
set -u
if [ $# -ne 2 ]; then
    echo "usage: test_st_python.sh ST_TOOL ST_INTEROP_PY" >&2
    exit 2
fi
PY=/usr/bin/python3
if [ ! -x "$PY" ]; then
    echo "st_python: FAILED: $PY is missing (Debian: apt-get install python3-numpy)" >&2
    exit 1
fi
if ! "$PY" -c 'import numpy' 2>/dev/null; then
    echo "st_python: FAILED: numpy is missing for $PY (Debian: apt-get install python3-numpy)" >&2
    exit 1
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/st_python.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
"$PY" "$2" "$1" "$work"
