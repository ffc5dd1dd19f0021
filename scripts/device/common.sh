# Sourced by the scripts beside it, on the GPU machine, from the repo root, after the
# TensorRT 8.6 kit's parts were copied to /opt/trtkit (../../docs/device/README.md).
# setup.sh runs once per machine (about 60 s); every later call only sources env.sh.
T0=${T0:-$(date +%s)}
el() { echo "[$(( $(date +%s) - T0 ))s] $*"; }
if [ ! -f /opt/trtkit/setup.sh ] && [ ! -f /opt/trt86/env.sh ]; then
  el "no TensorRT kit on this machine (it went back?): copy .trtkit/p00..p09 first"; exit 3
fi
if [ ! -f /opt/trt86/env.sh ]; then
  el "kit setup"; bash /opt/trtkit/setup.sh > "$OUT/setup.log" 2>&1; el "kit setup rc=$?"
  tail -3 "$OUT/setup.log"
fi
. /opt/trt86/env.sh
export PYTHONUNBUFFERED=1
# The driver's JIT cache on a known path with room (a probe showed it unused by 8.6 builds).
export CUDA_CACHE_PATH=/tmp/cudacache CUDA_CACHE_MAXSIZE=4294967296
# The GPU machine has no onnxslim and no timm: their wheels travel in build/zoo/models/_pip
# (carry build/zoo/models once per machine) and are unpacked, not installed.
if ! python3 -c "import onnxslim" 2>/dev/null && ls build/zoo/models/_pip/*.whl >/dev/null 2>&1; then
  mkdir -p build/zoo/pylib
  for w in build/zoo/models/_pip/*.whl; do python3 -m zipfile -e "$w" build/zoo/pylib; done
fi
# Keep env.sh's PYTHONPATH (it is where tensorrt imports from).
export PYTHONPATH=$PWD:$PWD/build/zoo/pylib:${PYTHONPATH:-}
