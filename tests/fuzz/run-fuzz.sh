#!/bin/sh
# Builds the libFuzzer targets with clang, ASan and UBSan, and runs each one
# for a bounded time from its stored corpus.  Fails on any crash, leak,
# sanitizer report or timeout of a single input; the input that failed is
# left as crash-*/leak-*/timeout-* in the work directory, to be fixed and
# then added to tests/fuzz/corpus/<name>/ so ctest replays it from then on.
#
#   tests/fuzz/run-fuzz.sh [SECONDS] [TARGET...]
#
# SECONDS per target (default 30; FUZZ_SECONDS also works).  TARGET names
# such as query or csv; default every tests/fuzz/fuzz_*.c.  Environment:
# FUZZ_BUILD_DIR (default build-fuzz), FUZZ_WORK_DIR (default
# $FUZZ_BUILD_DIR/fuzz-work), where each target's new inputs and log go.
set -eu

cd "$(dirname "$0")/../.."
SECONDS_EACH=${1:-${FUZZ_SECONDS:-30}}
[ $# -gt 0 ] && shift
BUILD=${FUZZ_BUILD_DIR:-build-fuzz}
WORK=${FUZZ_WORK_DIR:-$BUILD/fuzz-work}

if [ $# -gt 0 ]; then
	TARGETS="$*"
else
	TARGETS=$(ls tests/fuzz/fuzz_*.c | sed 's|.*/fuzz_||; s|\.c$||')
fi

CC=${FUZZ_CC:-clang} cmake -S . -B "$BUILD" -DTAL_FUZZ=ON \
	'-DTAL_SANITIZE=address;undefined' -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
# A target whose library is not configured (fuzz_milter without libmilter,
# fuzz_txt without libunbound) is reported and skipped, not failed.
known=$(cmake --build "$BUILD" --target help | sed -n 's/^\.\.\. //p')
build_targets=""
run_targets=""
for t in $TARGETS; do
	if printf '%s\n' "$known" | grep -qx "fuzz_$t"; then
		build_targets="$build_targets fuzz_$t"
		run_targets="$run_targets $t"
	else
		echo "run-fuzz: fuzz_$t is not configured in this build (a library is missing); skipped" >&2
	fi
done
TARGETS=$run_targets
# shellcheck disable=SC2086
cmake --build "$BUILD" -j"$(nproc)" --target $build_targets
ROOT=$(pwd)
BUILD=$(cd "$BUILD" && pwd)
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
fail=""
for t in $TARGETS; do
	bin=$(find "$BUILD/tests/fuzz" -maxdepth 1 -name "fuzz_$t" -type f | head -n 1)
	if [ -z "$bin" ]; then
		echo "run-fuzz: fuzz_$t was not built" >&2
		fail="$fail $t"
		continue
	fi
	dir="$WORK/$t"
	rm -rf "$dir"
	mkdir -p "$dir/new"
	echo "== fuzz $t for ${SECONDS_EACH}s"
	if (cd "$dir" && "$bin" -max_total_time="$SECONDS_EACH" -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 new "$ROOT/tests/fuzz/corpus/$t" \
		>log 2>&1); then
		grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss_mb)' \
			"$dir/log" || true
		echo "   new inputs: $(ls "$dir/new" | wc -l) in $dir/new"
	else
		tail -n 60 "$dir/log" >&2
		echo "run-fuzz: $t FAILED; log and failing input in $dir" >&2
		fail="$fail $t"
	fi
done
if [ -n "$fail" ]; then
	echo "run-fuzz: failed:$fail" >&2
	exit 1
fi
echo "run-fuzz: all targets clean"
