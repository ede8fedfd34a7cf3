// A short check of stage_train_lstm's training loop on CUDA against CPU, on
// synthetic pedal data (no files, no engine): same config, both devices,
// prints throughput and validation ESR. Run by bench/cuda_train_check.sh on
// a machine with an NVIDIA GPU and a CUDA LibTorch.
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <string>

#include "trainer.h"

using namespace cadenza::train;

static Audio pedal(size_t n, int rate, unsigned seed) {
  Audio a;
  a.sample_rate = rate;
  double lp = 0, prev = 0;
  for (size_t i = 0; i < n; ++i) {
    const double t = static_cast<double>(i) / rate;
    const double x = 0.4 * std::sin(2 * M_PI * (110 + 40 * seed) * t) * std::exp(-3 * std::fmod(t, 0.5)) +
                     0.2 * std::sin(2 * M_PI * 330 * t) * std::exp(-2 * std::fmod(t + 0.25, 0.7));
    const double y = std::tanh(6 * (x - 0.7 * prev) + 0.15) - std::tanh(0.15);
    prev = x;
    lp += 0.4 * (y - lp);
    a.input.push_back(static_cast<float>(x));
    a.target.push_back(static_cast<float>(0.5 * lp));
  }
  return a;
}

int main(int argc, char** argv) {
  const std::string scratch = argc > 1 ? argv[1] : "/tmp/cuda-check";
  std::printf("cuda available: %d, devices: %d\n", torch::cuda::is_available(), static_cast<int>(torch::cuda::device_count()));
  const Audio train = pedal(44100 * 20, 44100, 1), val = pedal(44100 * 3, 44100, 2);
  TrainCallbacks cb;
  cb.log = [](const std::string& m) { std::printf("  %s\n", m.c_str()); };
  cb.scalar = [](const std::string&, double, int64_t) {};
  cb.audio = [](const std::string&, const std::vector<float>&, int, int64_t) {};
  cb.progress = [](double, double) {};
  cb.cancelled = [] { return false; };
  for (const char* family : {"sequence_lstm", "windowed_conv_lstm"})
  for (const char* device : {"cuda", "cpu"}) {
    TrainConfig c;
    c.model.family = family;
    const bool sequence = std::string(family) == "sequence_lstm";
    c.model.hidden_size = sequence ? 64 : 36;
    c.batch_size = sequence ? 256 : 4096;
    c.learning_rate = sequence ? 0.005 : 0.01;
    c.segment_length = 2048;
    c.tbptt_length = 2048;
    c.warmup = 256;
    c.epochs = std::string(device) == "cuda" ? 5 : 1;
    c.threads = 8;
    c.device = device;
    c.audio_every = 0;
    try {
      const std::string tag = std::string(family) + "-" + device;
      const auto r = train_model(c, train, val, scratch + "/" + tag, scratch + "/" + tag + ".pt", cb);
      std::printf("%s on %s: device %s, %lld epochs, %.3g samples/s, best val ESR %.5f\n", family, device, r.device.c_str(),
                  static_cast<long long>(r.epochs_run), r.samples_per_s, r.best_val_esr);
    } catch (const std::exception& e) {
      std::printf("%s: FAILED: %s\n", device, e.what());
      return 1;
    }
  }
  return 0;
}
