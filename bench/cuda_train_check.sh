#!/usr/bin/env bash
# Builds bench/cuda_train_check.cpp with the trainer against the LibTorch of
# the installed PyTorch (which bundles a CUDA LibTorch) and runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
torch_dir=$(python3 -c "import torch, os; print(os.path.dirname(torch.__file__))")
abi=$(python3 -c "import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))")
out=${OUT:-/tmp}
src=plugins/stage_train_lstm
flags=(-O2 -std=c++17 -D_GLIBCXX_USE_CXX11_ABI=$abi -I$src -I$torch_dir/include -I$torch_dir/include/torch/csrc/api/include)
g++ "${flags[@]}" -c $src/trainer.cpp -o /tmp/trainer.o &
g++ "${flags[@]}" -c $src/sequence_lstm.cpp -o /tmp/sequence_lstm.o &
g++ "${flags[@]}" -c bench/cuda_train_check.cpp -o /tmp/check.o &
wait
g++ /tmp/trainer.o /tmp/sequence_lstm.o /tmp/check.o -o /tmp/cuda_train_check \
  -L$torch_dir/lib -Wl,--no-as-needed -ltorch -ltorch_cuda -ltorch_cpu -lc10_cuda -lc10 -Wl,-rpath,$torch_dir/lib
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
/tmp/cuda_train_check /tmp/cuda-check 2>&1 | tee "$out/cuda_train_check.txt"
