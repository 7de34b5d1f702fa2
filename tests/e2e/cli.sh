#!/bin/bash
# The command line: --help for every command in the table, --version,
# usage errors (exit 2), and one-line errors naming the file (exit 1/4).
. "${top_srcdir:-.}/tests/e2e/lib.sh"
setup

assert_exit 0 "$IMGTOOL" --version
grep -q '^imgtool [0-9]' "$T/stdout" || fail "--version prints no version"
assert_exit 0 "$IMGTOOL" --help
cmds=$(awk '/^commands:/ {on=1; next} on && /^  [a-z]/ {print $1} on && /^$/ {on=0}' "$T/stdout")
[ "$(echo $cmds)" = "backup restore clone verify info mount umount export" ] || fail "command list: '$cmds'"
for c in $cmds; do
    assert_exit 0 "$IMGTOOL" "$c" --help
    grep -q "^usage: imgtool $c" "$T/stdout" || fail "$c --help has no usage line"
    [ -s "$T/stderr" ] && fail "$c --help wrote to stderr"
    # a man page for every command
    [ -s "$top_srcdir/man/imgtool-$c.8" ] || fail "no man page for $c"
    grep -q "^\.TH" "$top_srcdir/man/imgtool-$c.8" || fail "man page for $c is not roff"
    # missing arguments: exit 2, a message and the synopsis
    assert_exit 2 "$IMGTOOL" "$c"
    assert_stderr_grep "^imgtool $c: expected"
    assert_stderr_grep "^usage: imgtool $c"
    assert_exit 2 "$IMGTOOL" "$c" --no-such-option x y
done

assert_exit 2 "$IMGTOOL"
assert_exit 2 "$IMGTOOL" frobnicate
assert_stderr_grep "^imgtool: 'frobnicate' is not an imgtool command"
assert_exit 2 "$IMGTOOL" backup --chunk-size 3X a b
assert_stderr_grep "bad chunk size '3X'"
assert_exit 2 "$IMGTOOL" backup --chunk-size 3000 /dev/null x.img
assert_stderr_grep "not a power of two"

# missing files: one line naming the file, exit 1
assert_exit 1 "$IMGTOOL" backup "$T/nope.raw" "$T/x.img"
assert_stderr_grep "^imgtool backup: cannot open '.*nope.raw': No such file or directory$"
assert_stderr_lines 1
assert_exit 1 "$IMGTOOL" verify "$T/nope.img"
assert_stderr_grep "^imgtool verify: cannot open '.*nope.img'"
assert_exit 1 "$IMGTOOL" info "$T/nope.img"
assert_exit 1 "$IMGTOOL" restore "$T/nope.img" "$T/out.raw"
[ -e "$T/out.raw" ] && fail "restore created a target for a missing image"

# an existing image is not overwritten without --force (exit 4)
make_random_file src.raw 1048576 1
run_imgtool backup -q src.raw a.img
sum=$(sha_of a.img)
assert_exit 4 "$IMGTOOL" backup -q src.raw a.img
assert_stderr_grep "'a.img' exists; use --force"
[ "$(sha_of a.img)" = "$sum" ] || fail "existing image was modified"
assert_exit 0 "$IMGTOOL" backup -q --force src.raw a.img
# the image must not be the source
assert_exit 4 "$IMGTOOL" backup -q --force src.raw src.raw
assert_stderr_grep "is the source itself"
# nothing on stdout when the image goes there, and no image to a terminal
"$IMGTOOL" backup src.raw - 2> "$T/stderr" | cmp -s - a.img && fail "two backups gave the same bytes (creation time differs)"
"$IMGTOOL" backup src.raw - 2> /dev/null | "$IMGTOOL" verify -q - || fail "stdout image does not verify"
echo "cli: ok"
