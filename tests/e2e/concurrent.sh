#!/bin/bash
# Concurrent writers are refused (exit 4, naming the holder), never mixed:
# two backups to one new path; a second restore, a clone and a backup of a
# file a restore is writing; the same on a block device (the kernel's
# exclusive claim); a backup of a device another program holds
# exclusively. A killed backup's partial image is taken over by the next
# backup to the same path.
. "${top_srcdir:-.}/tests/e2e/lib.sh"
need_cmd flock python3
setup
MIB=1048576

# wait_for CMD... : until CMD succeeds (10 s at most)
wait_for() {
    local i
    for i in $(seq 1 1000); do "$@" && return 0; sleep 0.01; done
    fail "timed out waiting for: $*"
}
# is_locked FILE : someone holds a flock on FILE (read from /proc/locks:
# probing with flock(1) would itself take a lock, and create the file)
is_locked() {
    [ -e "$1" ] && grep -q "FLOCK .*:$(stat -L -c %i "$1") " /proc/locks
}

# --- two backups to one new path: the second is refused while the first
# runs (held still with SIGSTOP), the first then finishes ---
make_random_file src.raw $((256 * MIB)) seed1
"$IMGTOOL" backup -q src.raw out.img 2> first.err &
first=$!
wait_for is_locked .out.img.partial
kill -STOP $first
assert_exit 4 "$IMGTOOL" backup -q src.raw out.img
assert_stderr_grep "^imgtool backup: 'out.img' is being written by another backup, pid $first \(.*imgtool backup -q src.raw out.img\)$"
assert_stderr_lines 1
kill -CONT $first
wait $first || { cat first.err; fail "the first backup failed"; }
run_imgtool verify -q out.img
[ -e .out.img.partial ] && fail "the finished backup left its partial image"

# --- a killed backup leaves its partial image; the next one takes it over
# (SIGXFSZ from a file-size limit cannot be caught, like SIGKILL) ---
( ulimit -f 4096; exec "$IMGTOOL" backup -q src.raw again.img ) 2> /dev/null
[ $? -gt 128 ] || fail "the backup was not killed"
[ -s .again.img.partial ] || fail "the killed backup left no partial image"
[ -e again.img ] && fail "the killed backup left again.img"
run_imgtool backup src.raw again.img
grep -q "removing '.*/\.again\.img\.partial', the partial image of an interrupted backup" "$T/stderr" \
    || { cat "$T/stderr"; fail "no note about the partial image"; }
[ -e .again.img.partial ] && fail "the partial image is still there"
[ "$(stat -c %a again.img)" = 600 ] || fail "the image is not 0600"
run_imgtool verify -q again.img

# --- a file a restore is writing (the restore stalls on its input) ---
run_imgtool backup -q src.raw small.img
make_random_file t.raw $((256 * MIB)) old
mkfifo feed
python3 - small.img feed <<'EOF' &
import sys, time
data = open(sys.argv[1], "rb").read()
with open(sys.argv[2], "wb") as f:
    f.write(data[:len(data) // 3])
    f.flush()
    time.sleep(60)
EOF
feeder=$!
"$IMGTOOL" restore -q --yes - t.raw < feed 2> restore.err &
restorer=$!
wait_for is_locked t.raw
holder="pid $restorer \(.*imgtool restore -q --yes - t.raw\)"
assert_exit 4 "$IMGTOOL" restore -q --yes small.img t.raw
assert_stderr_grep "^imgtool restore: 't.raw' is in use by another imgtool, $holder$"
assert_exit 4 "$IMGTOOL" backup -q t.raw t.img
assert_stderr_grep "^imgtool backup: 't.raw' is being written by another imgtool, $holder$"
[ -e t.img ] && fail "a refused backup left an image"
assert_exit 4 "$IMGTOOL" clone -q --yes src.raw t.raw
assert_stderr_grep "^imgtool clone: 't.raw' is in use by another imgtool, $holder$"
assert_exit 4 "$IMGTOOL" clone -q --yes t.raw c.raw
assert_stderr_grep "^imgtool clone: 't.raw' is being written by another imgtool, $holder$"
[ -e c.raw ] && fail "a refused clone created its target"
kill $feeder
wait $restorer && fail "the restore of a cut stream succeeded"
grep -q "restore incomplete: 't.raw'" restore.err || { cat restore.err; fail "the cut restore did not say incomplete"; }

# --- the same on a block device: restore claims it exclusively ---
if [ "$(id -u)" = 0 ] && command -v losetup > /dev/null; then
    dev=$(loop_attach t.raw)
    python3 - small.img feed <<'EOF' &
import sys, time
data = open(sys.argv[1], "rb").read()
with open(sys.argv[2], "wb") as f:
    f.write(data[:len(data) // 3])
    f.flush()
    time.sleep(60)
EOF
    feeder=$!
    "$IMGTOOL" restore -q --yes - "$dev" < feed 2> restore.err &
    restorer=$!
    wait_for is_locked "$dev"
    holder="pid $restorer \(.*imgtool restore -q --yes - $dev\)"
    assert_exit 4 "$IMGTOOL" restore -q --yes small.img "$dev"
    assert_stderr_grep "^imgtool restore: '$dev' is in use: held exclusively by $holder$"
    assert_exit 4 "$IMGTOOL" backup -q "$dev" d.img
    assert_stderr_grep "^imgtool backup: '$dev' is (being written by another imgtool|held exclusively by another program), $holder"
    kill $feeder
    wait $restorer
    # another program holding the device exclusively (as mkfs would)
    python3 -c 'import os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_EXCL)
print("held", flush=True)
time.sleep(60)' "$dev" > held.out &
    holder_pid=$!
    wait_for grep -q held held.out
    assert_exit 4 "$IMGTOOL" backup -q "$dev" d.img
    assert_stderr_grep "^imgtool backup: '$dev' is held exclusively by another program, pid $holder_pid \(.*python3 -c .*\); it may be written while it is read"
    kill $holder_pid
    wait $holder_pid 2> /dev/null
    run_imgtool backup -q "$dev" d.img
else
    note "block-device cases skipped (not root)"
fi
echo "concurrent: ok"
