#!/bin/sh
# test_docs.sh SRC_DIR - the documents speak to tapegrad's users: no
# reference to the project's issue numbers and none to files outside the
# repository (paths that climb out of it, or the developers' notes).
# Exit 1 naming each offending line.
src=${1:?usage: test_docs.sh SRC_DIR}
status=0
for f in "$src"/README.md "$src"/docs/*.md "$src"/bench/README.md; do
    [ -f "$f" ] || continue
    if grep -nE '[Ii]ssue #?[0-9]|\.\./shared|REFERENCE\.md|STYLE\.md|\.\./\.\./' "$f"; then
        echo "test_docs: $f refers to an issue number or to a file outside the repository (lines above)" >&2
        status=1
    fi
done
[ $status -eq 0 ] && echo "test_docs: README.md, docs/*.md, bench/README.md: no issue numbers, no files outside the repository"
exit $status
