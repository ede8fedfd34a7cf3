#include "trainer.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "sequence_lstm.h"

namespace cadenza::train {

namespace {

using Clock = std::chrono::steady_clock;

torch::Device resolve_device(const std::string& name) {
  if (name == "cpu") return torch::kCPU;
  if (name == "cuda") {
    if (!torch::cuda::is_available())
      throw std::runtime_error("device = \"cuda\" but this LibTorch has no usable CUDA device; use \"auto\" or \"cpu\"");
    return torch::kCUDA;
  }
  return torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
}

LstmState detach(const LstmState& s) { return {std::get<0>(s).detach(), std::get<1>(s).detach()}; }

// Runs the model over a whole signal (batch 1) in chunks, carrying the state.
torch::Tensor run_full(SequenceLstm& model, const torch::Tensor& signal, torch::Device device) {
  torch::NoGradGuard no_grad;
  // 8192-sample chunks, state carried (the result does not depend on the
  // chunking): cuDNN's LSTM refused 65536-sample sequences on an H200.
  const int64_t n = signal.size(0), chunk = 8192;
  std::vector<torch::Tensor> parts;
  LstmState state;
  for (int64_t s = 0; s < n; s += chunk) {
    const auto x = signal.narrow(0, s, std::min(chunk, n - s)).view({1, -1, 1}).to(device);
    auto [y, next] = model->forward(x, state);
    state = next;
    parts.push_back(y.view({-1}).to(torch::kCPU));
  }
  return torch::cat(parts);
}

std::vector<float> to_vector(const torch::Tensor& t) {
  const auto c = t.contiguous().to(torch::kCPU);
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

struct Progress {
  int64_t epoch = 0;  // next epoch to run
  double best_val = std::numeric_limits<double>::infinity();
  int64_t best_epoch = -1;
  int64_t since_best = 0;
  double lr = 0;
  std::string fingerprint;
};

void save_progress(const std::string& path, const Progress& p) {
  std::ofstream out(path + ".tmp");
  out.precision(17);
  out << p.epoch << ' ' << p.best_val << ' ' << p.best_epoch << ' ' << p.since_best << ' ' << p.lr << '\n'
      << p.fingerprint << '\n';
  out.close();
  std::filesystem::rename(path + ".tmp", path);
}

bool load_progress(const std::string& path, Progress* p) {
  std::ifstream in(path);
  if (!in) return false;
  in >> p->epoch >> p->best_val >> p->best_epoch >> p->since_best >> p->lr;
  in.ignore();
  std::getline(in, p->fingerprint);
  return static_cast<bool>(in);
}

}  // namespace

std::string config_fingerprint(const TrainConfig& c) {
  std::ostringstream s;
  s.precision(17);
  s << "seqlstm1 h" << c.hidden_size << " l" << c.layers << " lr" << c.learning_rate << " lp" << c.lr_patience
    << " b" << c.batch_size << " s" << c.segment_length << " t" << c.tbptt_length << " w" << c.warmup << " e"
    << c.epochs << " p" << c.patience << " seed" << c.seed << " th" << c.threads << " em" << c.emphasis;
  return s.str();
}

TrainResult train_sequence_lstm(const TrainConfig& cfg, const Audio& train, const Audio& val,
                                const std::string& scratch, const std::string& model_path,
                                const TrainCallbacks& cb) {
  const int64_t span = cfg.warmup + cfg.segment_length;
  if (static_cast<int64_t>(train.input.size()) < span)
    throw std::runtime_error("the training split has " + std::to_string(train.input.size()) +
                             " samples, fewer than warmup + segment_length (" + std::to_string(span) + ")");
  if (val.input.empty()) throw std::runtime_error("the validation split is empty; give val_ratio > 0 when preprocessing");
  torch::set_num_threads(static_cast<int>(cfg.threads));
  torch::manual_seed(static_cast<uint64_t>(cfg.seed));
  const torch::Device device = resolve_device(cfg.device);
  TrainResult result;
  result.device = device.is_cuda() ? "cuda" : "cpu";

  SequenceLstm model(cfg.hidden_size, cfg.layers);
  model->to(device);
  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(cfg.learning_rate));

  const auto train_in = torch::from_blob(const_cast<float*>(train.input.data()), {static_cast<int64_t>(train.input.size())}, torch::kFloat32).clone();
  const auto train_tgt = torch::from_blob(const_cast<float*>(train.target.data()), {static_cast<int64_t>(train.target.size())}, torch::kFloat32).clone();
  const auto val_in = torch::from_blob(const_cast<float*>(val.input.data()), {static_cast<int64_t>(val.input.size())}, torch::kFloat32).clone();
  const auto val_tgt = torch::from_blob(const_cast<float*>(val.target.data()), {static_cast<int64_t>(val.target.size())}, torch::kFloat32).clone();

  std::filesystem::create_directories(scratch);
  const std::string last_model = scratch + "/last_model.pt", last_optim = scratch + "/last_optimizer.pt",
                    best_model = scratch + "/best_model.pt", progress_file = scratch + "/progress.txt";
  Progress prog;
  prog.lr = cfg.learning_rate;
  prog.fingerprint = config_fingerprint(cfg);
  Progress saved;
  if (load_progress(progress_file, &saved) && saved.fingerprint == prog.fingerprint && saved.epoch > 0 &&
      std::filesystem::exists(last_model) && std::filesystem::exists(last_optim)) {
    torch::load(model, last_model, device);
    torch::load(optimizer, last_optim, device);
    prog = saved;
    result.resumed_from_epoch = prog.epoch;
    cb.log("resuming from the checkpoint after epoch " + std::to_string(prog.epoch));
  }
  for (auto& group : optimizer.param_groups()) static_cast<torch::optim::AdamOptions&>(group.options()).lr(prog.lr);

  const int64_t n_segments = (static_cast<int64_t>(train.input.size()) - cfg.warmup) / cfg.segment_length;
  double total_samples = 0, total_seconds = 0;
  for (; prog.epoch < cfg.epochs; ++prog.epoch) {
    const auto epoch_start = Clock::now();
    // Reseeded per epoch: a resumed run sees the same segment order.
    torch::manual_seed(static_cast<uint64_t>(cfg.seed) * 1000003u + static_cast<uint64_t>(prog.epoch));
    const auto order = torch::randperm(n_segments, torch::kLong);
    model->train();
    double loss_sum = 0;
    int64_t loss_count = 0;
    for (int64_t b = 0; b < n_segments; b += cfg.batch_size) {
      if (cb.cancelled()) {
        result.cancelled = true;
        return result;
      }
      const int64_t batch = std::min(cfg.batch_size, n_segments - b);
      std::vector<torch::Tensor> xs, ts;
      for (int64_t k = 0; k < batch; ++k) {
        const int64_t start = order[b + k].item<int64_t>() * cfg.segment_length;
        xs.push_back(train_in.narrow(0, start, span));
        ts.push_back(train_tgt.narrow(0, start, span));
      }
      const auto x = torch::stack(xs).unsqueeze(2).to(device), t = torch::stack(ts).unsqueeze(2).to(device);
      LstmState state;
      {
        torch::NoGradGuard no_grad;
        // Slices along time are strided views; cuDNN's LSTM (unlike the CPU
        // one) rejects non-contiguous input, so every slice is made contiguous.
        state = model->forward(x.narrow(1, 0, cfg.warmup).contiguous(), state).second;
      }
      for (int64_t c = cfg.warmup; c < span; c += cfg.tbptt_length) {
        const int64_t len = std::min(cfg.tbptt_length, span - c);
        auto [y, next] = model->forward(x.narrow(1, c, len).contiguous(), state);
        auto loss = esr_dc_loss(y, t.narrow(1, c, len), cfg.emphasis);
        optimizer.zero_grad();
        loss.backward();
        optimizer.step();
        state = detach(next);
        loss_sum += loss.item<double>();
        ++loss_count;
      }
      total_samples += static_cast<double>(batch * span);
      cb.progress(static_cast<double>(prog.epoch) + static_cast<double>(b + batch) / static_cast<double>(n_segments),
                  static_cast<double>(cfg.epochs));
    }
    model->eval();
    const auto prediction = run_full(model, val_in, device);
    const double val_esr = esr(prediction, val_tgt);
    const double seconds = std::chrono::duration<double>(Clock::now() - epoch_start).count();
    total_seconds += seconds;
    const double epoch_samples = static_cast<double>(n_segments * span);
    cb.scalar("train/loss", loss_sum / std::max<int64_t>(1, loss_count), prog.epoch);
    cb.scalar("val/esr", val_esr, prog.epoch);
    cb.scalar("train/learning_rate", prog.lr, prog.epoch);
    cb.scalar("train/samples_per_s", epoch_samples / seconds, prog.epoch);
    cb.scalar("train/epoch_s", seconds, prog.epoch);
    if (cfg.audio_every > 0 && (prog.epoch % cfg.audio_every == 0 || prog.epoch + 1 == cfg.epochs)) {
      const int64_t clip = std::min<int64_t>(val_in.size(0), 2 * train.sample_rate);
      cb.audio("val/prediction", to_vector(prediction.narrow(0, 0, clip)), train.sample_rate, prog.epoch);
      cb.audio("val/target", to_vector(val_tgt.narrow(0, 0, clip)), train.sample_rate, prog.epoch);
    }
    char line[160];
    std::snprintf(line, sizeof line, "epoch %lld: loss %.5f, val ESR %.5f, lr %.2g, %.1f s",
                  static_cast<long long>(prog.epoch + 1), loss_sum / std::max<int64_t>(1, loss_count), val_esr, prog.lr, seconds);
    cb.log(line);
    if (val_esr < prog.best_val) {
      prog.best_val = val_esr;
      prog.best_epoch = prog.epoch;
      prog.since_best = 0;
      torch::save(model, best_model);
    } else if (++prog.since_best % cfg.lr_patience == 0) {
      prog.lr *= 0.5;
      for (auto& group : optimizer.param_groups()) static_cast<torch::optim::AdamOptions&>(group.options()).lr(prog.lr);
    }
    // The checkpoint of this epoch: a killed run resumes after it.
    torch::save(model, last_model);
    torch::save(optimizer, last_optim);
    Progress next = prog;
    ++next.epoch;
    save_progress(progress_file, next);
    result.epochs_run = next.epoch;
    if (prog.since_best >= cfg.patience) {
      cb.log("early stop: no improvement for " + std::to_string(cfg.patience) + " epochs");
      break;
    }
  }
  result.epochs_run = std::max(result.epochs_run, prog.epoch);
  result.best_epoch = prog.best_epoch;
  result.best_val_esr = prog.best_val;
  result.samples_per_s = total_seconds > 0 ? total_samples / total_seconds : 0;
  result.train_seconds = total_seconds;
  std::filesystem::copy_file(best_model, model_path, std::filesystem::copy_options::overwrite_existing);
  return result;
}

std::vector<float> predict(const std::string& model_path, int64_t hidden_size, int64_t layers,
                           const std::vector<float>& input) {
  SequenceLstm model(hidden_size, layers);
  torch::load(model, model_path);
  model->eval();
  const auto x = torch::from_blob(const_cast<float*>(input.data()), {static_cast<int64_t>(input.size())}, torch::kFloat32);
  return to_vector(run_full(model, x, torch::kCPU));
}

}  // namespace cadenza::train
