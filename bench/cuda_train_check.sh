#!/usr/bin/env bash
# Builds bench/cuda_train_check.cpp with the trainer against the LibTorch of
# the installed PyTorch (which bundles a CUDA LibTorch) and runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
torch_dir=$(python3 -c "import torch, os; print(os.path.dirname(torch.__file__))")
abi=$(python3 -c "import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))")
out=${OUT:-/tmp}
flags=(-O2 -std=c++17 -D_GLIBCXX_USE_CXX11_ABI=$abi -Iplugins/stage_train_lstm -Iplugins/amp_models
       -I$torch_dir/include -I$torch_dir/include/torch/csrc/api/include)
objects=()
for f in plugins/stage_train_lstm/trainer.cpp plugins/amp_models/{amp_model,audio_loss,model_spec,sequence_lstm,windowed_conv_lstm}.cpp \
         bench/cuda_train_check.cpp; do
  o=/tmp/$(basename "$f" .cpp).o
  g++ "${flags[@]}" -c "$f" -o "$o" &
  objects+=("$o")
done
wait
g++ "${objects[@]}" -o /tmp/cuda_train_check \
  -L$torch_dir/lib -Wl,--no-as-needed -ltorch -ltorch_cuda -ltorch_cpu -lc10_cuda -lc10 -Wl,-rpath,$torch_dir/lib
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
/tmp/cuda_train_check /tmp/cuda-check 2>&1 | tee "$out/cuda_train_check.txt"
