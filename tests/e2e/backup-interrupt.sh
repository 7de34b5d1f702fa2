#!/bin/bash
# An interrupted backup never leaves a file under the final name: killed
# mid-write (SIGXFSZ from a file-size limit, which cannot be caught, like
# SIGKILL), and stopped by SIGTERM (which also removes the temporary file).
. "${top_srcdir:-.}/tests/e2e/lib.sh"
setup

make_random_file src.raw $((16 << 20)) seed1
# killed: the file-size limit (KiB) stops the process with SIGXFSZ
( ulimit -f 4096; exec "$IMGTOOL" backup -q src.raw out.img ) 2> /dev/null
rc=$?
[ $rc -gt 128 ] || fail "backup was not killed (exit $rc)"
[ -e out.img ] && fail "a killed backup left out.img"
[ -s .out.img.partial ] || fail "expected the partial image of the killed backup"

# SIGTERM: a 4 GiB sparse source takes long enough to be stopped mid-way
truncate -s 4G sparse.raw
"$IMGTOOL" backup -q --raw sparse.raw out.img 2> term.err &
pid=$!
sleep 0.2
kill -TERM $pid
wait $pid
rc=$?
if [ $rc = 0 ]; then
    note "backup finished before the signal; checking the result instead"
    run_imgtool verify -q out.img
else
    [ $rc = 1 ] || fail "interrupted backup exited $rc"
    grep -q "^imgtool backup: interrupted$" term.err || { cat term.err; fail "no 'interrupted' message"; }
    [ -e out.img ] && fail "an interrupted backup left out.img"
    [ -e .out.img.partial ] && fail "an interrupted backup left its partial image"
fi
echo "backup-interrupt: ok"
