# lib.sh - shared helpers for the end-to-end tests. Source it first:
#   . "${top_srcdir:-.}/tests/e2e/lib.sh"
# Provides: setup (work dir $T, cleanup trap), skip, fail, need_root,
# need_cmd, assert_exit, assert_stderr_grep, make_random_file, sha_of,
# loop_attach / mount tracking that cleanup undoes.

set -u
IMGTOOL=${IMGTOOL:-$(pwd)/imgtool}
top_srcdir=${top_srcdir:-.}
_loops=()
_mounts=()

cleanup() {
    local i
    for ((i = ${#_mounts[@]} - 1; i >= 0; i--)); do
        umount "${_mounts[i]}" 2>/dev/null || umount -l "${_mounts[i]}" 2>/dev/null
    done
    for ((i = ${#_loops[@]} - 1; i >= 0; i--)); do
        losetup -d "${_loops[i]}" 2>/dev/null
    done
    [ -n "${T:-}" ] && [ -d "$T" ] && rm -rf "$T"
}

setup() {
    T=$(mktemp -d "${TMPDIR:-/var/tmp}/imgtool-e2e.XXXXXX")
    trap cleanup EXIT
    cd "$T" || exit 99
}

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
note() { echo "# $*"; }
need_root() { [ "$(id -u)" = 0 ] || skip "needs root"; }
need_cmd() {
    local c
    for c in "$@"; do command -v "$c" > /dev/null 2>&1 || skip "$c not installed"; done
}

# assert_exit N cmd args... : runs cmd, stderr to $T/stderr, stdout to $T/stdout
assert_exit() {
    local want=$1 got
    shift
    "$@" > "$T/stdout" 2> "$T/stderr"
    got=$?
    if [ "$got" != "$want" ]; then
        echo "--- stderr of: $*" >&2
        cat "$T/stderr" >&2
        fail "expected exit $want, got $got from: $*"
    fi
}

# assert_stderr_grep PATTERN : the last assert_exit's stderr matches (grep -E)
assert_stderr_grep() {
    grep -Eq -- "$1" "$T/stderr" || { cat "$T/stderr" >&2; fail "stderr does not match '$1'"; }
}

# assert_stderr_lines N : the last assert_exit's stderr has at most N lines
assert_stderr_lines() {
    local n
    n=$(wc -l < "$T/stderr")
    [ "$n" -le "$1" ] || { cat "$T/stderr" >&2; fail "expected at most $1 line(s) on stderr, got $n"; }
}

# make_random_file PATH BYTES SEED : deterministic content
make_random_file() {
    openssl enc -aes-128-ctr -nosalt -pass "pass:$3" -pbkdf2 -in /dev/zero 2>/dev/null \
        | head -c "$2" > "$1"
}

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

# loop_attach FILE [losetup options...] : prints the device; detached by cleanup
loop_attach() {
    local f=$1 dev
    shift
    dev=$(losetup -f --show "$@" "$f") || fail "losetup failed for $f"
    _loops+=("$dev")
    echo "$dev"
}

# loop_track DEV : have cleanup detach a device attached in a subshell
loop_track() { _loops+=("$1"); }

# mount_track DIR : have cleanup unmount it
mount_track() { _mounts+=("$1"); }

# run_imgtool args... : runs imgtool, failing the test with its stderr on error
run_imgtool() {
    "$IMGTOOL" "$@" 2> "$T/stderr" || { cat "$T/stderr" >&2; fail "imgtool $* failed"; }
}
