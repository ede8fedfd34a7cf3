#!/usr/bin/env bash
# The SDK as a stranger sees it: install Cadenza to a temporary prefix, build
# examples/stage_gain from a copy outside the source tree against the
# installed package only, and run a workflow with it. Then scaffold one
# plugin of each kind with `cadenza plugin new`, build them the same way,
# and run a workflow that uses all three.
# Usage: out_of_tree_test.sh <cadenza build dir> <cadenza source dir>
set -euo pipefail
build_dir=$(cd "$1" && pwd)
src_dir=$(cd "$2" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
unset CADENZA_PLUGIN_PATH

step() { echo "--- $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

step "install to $prefix"
cmake --install "$build_dir" --prefix "$prefix" > /dev/null
cadenza=$prefix/bin/cadenza
[ -f "$prefix/lib/cmake/Cadenza/CadenzaConfig.cmake" ] || fail "no CMake package installed"
[ -f "$prefix/lib/cadenza/plugins/cadenza-backend_local.so" ] || fail "bundled plugins not installed"

build_plugin() {  # <source dir> <build dir>
  cmake -S "$1" -B "$2" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release > "$2.log" 2>&1 ||
    { cat "$2.log"; fail "configuring $1"; }
  cmake --build "$2" >> "$2.log" 2>&1 || { cat "$2.log"; fail "building $1"; }
}

step "build examples/stage_gain against the installed package"
cp -r "$src_dir/examples/stage_gain" "$tmp/stage_gain"
build_plugin "$tmp/stage_gain" "$tmp/gain-build"
info=$(CADENZA_PLUGIN_PATH=$tmp/gain-build "$cadenza" plugins info stage_gain)
[[ $info == *"gain_db (float, default 0.0)"* ]] || fail "plugins info does not show the example's params: $info"

step "run a workflow with the example"
ws=$tmp/ws
mkdir -p "$ws/data"
python3 - "$ws/data/in.wav" <<'PY'
import math, struct, sys, wave
with wave.open(sys.argv[1], "wb") as w:
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(8000)
    w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(i / 10))) for i in range(8000)))
PY
cat > "$ws/workflow.toml" <<TOML
[workflow]
name = "gain-example"
plugin_paths = ["$tmp/gain-build"]

[stages.louder]
plugin = "stage_gain"
deps = { audio = "data/in.wav" }
outs = { audio = "out/louder.wav" }
params = { gain_db = 6.0206 }
TOML
(cd "$ws" && "$cadenza" run) || fail "the example workflow failed"
python3 - "$ws/data/in.wav" "$ws/out/louder.wav" <<'PY' || fail "the output is not the input doubled"
import struct, sys, wave
def samples(p):
    with wave.open(p) as w:
        return struct.unpack("<%dh" % w.getnframes(), w.readframes(w.getnframes()))
a, b = samples(sys.argv[1]), samples(sys.argv[2])
assert len(a) == len(b) and max(a) > 7000
assert all(abs(2 * x - y) <= 2 for x, y in zip(a, b)), "gain is not x2"
PY
again=$(cd "$ws" && "$cadenza" run)
[[ $again == *"0 ran, 1 up to date"* ]] || fail "second run was not a no-op: $again"

step "scaffold, build and use a stage, a sink and a backend"
for kind in stage sink backend; do
  "$cadenza" plugin new "$kind" "${kind}_scaffolded" "$tmp" > /dev/null
  build_plugin "$tmp/${kind}_scaffolded" "$tmp/${kind}_scaffolded/build"
done
ws2=$tmp/ws2
mkdir -p "$ws2/data"
echo "input text" > "$ws2/data/in.txt"
cat > "$ws2/workflow.toml" <<TOML
[workflow]
name = "scaffolds"
backend = "scaffolded"
sinks = ["scaffolded"]
plugin_paths = ["$tmp/stage_scaffolded/build", "$tmp/sink_scaffolded/build", "$tmp/backend_scaffolded/build"]

[stages.hello]
plugin = "scaffolded"
deps = { input = "data/in.txt" }
outs = { output = "out/hello.txt" }
params = { greeting = "hi" }
TOML
(cd "$ws2" && "$cadenza" run) || fail "the scaffolded plugins' workflow failed"
grep -q '"greeting":"hi"' "$ws2/out/hello.txt" || fail "the scaffolded stage wrote no greeting"
grep -q "input text" "$ws2/out/hello.txt" || fail "the scaffolded stage did not copy its input"
grep -q "stage_scaffolded/bytes,0,11" "$ws2/sink_scaffolded-hello.csv" || fail "the scaffolded sink wrote no metric"
bad=$("$cadenza" plugin new stage bad-name "$tmp" 2>&1 || true)
[[ $bad == *"must start with 'stage_'"* ]] || fail "bad scaffold name accepted: $bad"
echo "1 passed, 0 failed"
