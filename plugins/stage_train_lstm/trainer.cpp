#include "trainer.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "allocator_policy.h"
#include "training_progress.h"
#include "amp_model.h"
#include "audio_loss.h"

namespace cadenza::train {

namespace {

using Clock = std::chrono::steady_clock;
using amp::AmpModel;

torch::Device resolve_device(const std::string& name) {
  if (name == "cpu") return torch::kCPU;
  if (name == "cuda") {
    if (!torch::cuda::is_available())
      throw std::runtime_error("device = \"cuda\" but this LibTorch has no usable CUDA device; use \"auto\" or \"cpu\"");
    return torch::kCUDA;
  }
  return torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
}

torch::Tensor to_tensor(const std::vector<float>& v) {
  return torch::from_blob(const_cast<float*>(v.data()), {static_cast<int64_t>(v.size())}, torch::kFloat32).clone();
}

std::vector<float> to_vector(const torch::Tensor& t) {
  const auto c = t.contiguous().to(torch::kCPU);
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

// The training batches of one model family. Batches are cut from the audio
// on the device by index, so no window or segment is ever materialised
// beyond the batch being trained.
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual int64_t batches() const = 0;
  // The epoch's order, drawn from the global generator (seeded per epoch).
  virtual void shuffle() = 0;
  // Trains on batch `b`; adds the detached losses to `loss_sum` and returns
  // the number of loss terms and of output samples trained.
  virtual std::pair<int64_t, int64_t> train_batch(int64_t b, torch::optim::Optimizer& optimizer, torch::Tensor& loss_sum) = 0;
};

// sequence_lstm: random segments, a warm-up without gradients to settle the
// state, then truncated backprop through time over the rest of the segment.
class SegmentBatches : public BatchSource {
 public:
  SegmentBatches(const TrainConfig& c, amp::SequenceLstm model, torch::Tensor in, torch::Tensor tgt)
      : c_(c), model_(std::move(model)), in_(std::move(in)), tgt_(std::move(tgt)) {
    span_ = c.warmup + c.segment_length;
    segments_ = (in_.size(0) - c.warmup) / c.segment_length;
    offsets_ = torch::arange(span_, torch::TensorOptions().dtype(torch::kLong).device(in_.device()));
  }
  int64_t batches() const override { return (segments_ + c_.batch_size - 1) / c_.batch_size; }
  void shuffle() override { order_ = torch::randperm(segments_, torch::kLong).to(in_.device()); }

  std::pair<int64_t, int64_t> train_batch(int64_t b, torch::optim::Optimizer& optimizer, torch::Tensor& loss_sum) override {
    const int64_t first = b * c_.batch_size, batch = std::min(c_.batch_size, segments_ - first);
    const auto index = order_.narrow(0, first, batch).unsqueeze(1) * c_.segment_length + offsets_;  // [batch, span]
    const auto x = in_.index({index}).unsqueeze(2), t = tgt_.index({index}).unsqueeze(2);
    amp::LstmState state;
    {
      torch::NoGradGuard no_grad;
      // Slices along time are strided views; cuDNN's LSTM (unlike the CPU
      // one) rejects non-contiguous input, so every slice is made contiguous.
      state = model_->forward(x.narrow(1, 0, c_.warmup).contiguous(), state).second;
    }
    int64_t terms = 0;
    for (int64_t s = c_.warmup; s < span_; s += c_.tbptt_length) {
      const int64_t len = std::min(c_.tbptt_length, span_ - s);
      auto [y, next] = model_->forward(x.narrow(1, s, len).contiguous(), state);
      auto loss = amp::esr_dc_loss(y, t.narrow(1, s, len), c_.emphasis);
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      state = {std::get<0>(next).detach(), std::get<1>(next).detach()};
      loss_sum += loss.detach().to(torch::kDouble);
      ++terms;
    }
    return {terms, batch * span_};
  }

 private:
  const TrainConfig& c_;
  amp::SequenceLstm model_;
  torch::Tensor in_, tgt_, order_, offsets_;
  int64_t span_ = 0, segments_ = 0;
};

// windowed_conv_lstm, as the template trained it: every window position once
// per epoch in random order, MSE on the window's last sample. The windows
// are a view (unfold) of the audio; a batch gathers only its own.
class WindowBatches : public BatchSource {
 public:
  WindowBatches(const TrainConfig& c, amp::WindowedConvLstm model, const torch::Tensor& in, const torch::Tensor& tgt)
      : c_(c), model_(std::move(model)) {
    const int64_t w = c.model.window;
    positions_ = in.size(0) - w + 1;
    windows_ = in.unfold(0, w, 1);
    targets_ = tgt.narrow(0, w - 1, positions_);
  }
  int64_t batches() const override { return (positions_ + c_.batch_size - 1) / c_.batch_size; }
  void shuffle() override { order_ = torch::randperm(positions_, torch::kLong).to(windows_.device()); }

  std::pair<int64_t, int64_t> train_batch(int64_t b, torch::optim::Optimizer& optimizer, torch::Tensor& loss_sum) override {
    const int64_t first = b * c_.batch_size, batch = std::min(c_.batch_size, positions_ - first);
    const auto index = order_.narrow(0, first, batch);
    const auto y = model_->forward(windows_.index_select(0, index));
    auto loss = torch::mse_loss(y, targets_.index_select(0, index));
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    loss_sum += loss.detach().to(torch::kDouble);
    return {1, batch};
  }

 private:
  const TrainConfig& c_;
  amp::WindowedConvLstm model_;
  torch::Tensor windows_, targets_, order_;
  int64_t positions_ = 0;
};

void set_lr(torch::optim::Adam& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
}

void check_inputs(const TrainConfig& cfg, const Audio& train, const Audio& val) {
  const auto n = static_cast<int64_t>(train.input.size());
  if (cfg.model.family == "sequence_lstm" && n < cfg.warmup + cfg.segment_length)
    throw std::runtime_error("the training split has " + std::to_string(n) +
                             " samples, fewer than warmup + segment_length (" +
                             std::to_string(cfg.warmup + cfg.segment_length) + ")");
  if (cfg.model.family == "windowed_conv_lstm" && n < cfg.model.window)
    throw std::runtime_error("the training split has " + std::to_string(n) + " samples, fewer than one window (" +
                             std::to_string(cfg.model.window) + ")");
  if (val.input.empty()) throw std::runtime_error("the validation split is empty; give val_ratio > 0 when preprocessing");
}

}  // namespace

std::string config_fingerprint(const TrainConfig& c) {
  std::ostringstream s;
  s.precision(17);
  s << "train2 " << c.model.to_json().dump() << " lr" << c.learning_rate << ' ' << c.lr_schedule << c.lr_patience
    << " b" << c.batch_size << " s" << c.segment_length << " t" << c.tbptt_length << " w" << c.warmup << " e"
    << c.epochs << " p" << c.patience << " m" << c.max_minutes << " seed" << c.seed << " th" << c.threads << " em"
    << c.emphasis;
  return s.str();
}

TrainResult train_model(const TrainConfig& cfg, const Audio& train, const Audio& val, const std::string& scratch,
                        const std::string& model_path, const TrainCallbacks& cb) {
  check_inputs(cfg, train, val);
  amp::keep_freed_buffers_for_reuse();
  torch::set_num_threads(static_cast<int>(cfg.threads));
  torch::manual_seed(static_cast<uint64_t>(cfg.seed));
  const torch::Device device = resolve_device(cfg.device);
  TrainResult result;
  result.device = device.is_cuda() ? "cuda" : "cpu";

  AmpModel model(cfg.model);
  model.module()->to(device);
  torch::optim::Adam optimizer(model.module()->parameters(), torch::optim::AdamOptions(cfg.learning_rate));

  const auto train_in = to_tensor(train.input).to(device), train_tgt = to_tensor(train.target).to(device);
  const auto val_in = to_tensor(val.input), val_tgt = to_tensor(val.target);
  std::unique_ptr<BatchSource> source;
  if (model.sequence) source = std::make_unique<SegmentBatches>(cfg, model.sequence, train_in, train_tgt);
  else source = std::make_unique<WindowBatches>(cfg, model.windowed, train_in, train_tgt);

  std::filesystem::create_directories(scratch);
  const std::string last_model = scratch + "/last_model.pt", last_optim = scratch + "/last_optimizer.pt",
                    best_model = scratch + "/best_model.pt", progress_file = scratch + "/progress.json";
  TrainingProgress prog;
  prog.lr = cfg.learning_rate;
  prog.fingerprint = config_fingerprint(cfg);
  TrainingProgress saved;
  if (load_progress(progress_file, &saved) && saved.fingerprint == prog.fingerprint && saved.epoch > 0 &&
      std::filesystem::exists(last_model) && std::filesystem::exists(last_optim)) {
    model.load(last_model, device);
    torch::load(optimizer, last_optim, device);
    prog = saved;
    result.resumed_from_epoch = prog.epoch;
    cb.log("resuming from the checkpoint after epoch " + std::to_string(prog.epoch));
  }
  set_lr(optimizer, prog.lr);

  const double budget_s = cfg.max_minutes > 0 ? cfg.max_minutes * 60 : std::numeric_limits<double>::infinity();
  double total_samples = 0, total_seconds = 0;
  for (; prog.epoch < cfg.epochs && prog.seconds < budget_s; ++prog.epoch) {
    const auto epoch_start = Clock::now();
    // Reseeded per epoch: a resumed run sees the same order.
    torch::manual_seed(static_cast<uint64_t>(cfg.seed) * 1000003u + static_cast<uint64_t>(prog.epoch));
    source->shuffle();
    model.module()->train();
    auto loss_sum = torch::zeros({}, torch::TensorOptions().dtype(torch::kDouble).device(device));
    int64_t loss_terms = 0;
    double epoch_samples = 0;
    const int64_t n_batches = source->batches();
    for (int64_t b = 0; b < n_batches; ++b) {
      if (cb.cancelled()) {
        result.cancelled = true;
        return result;
      }
      if (prog.seconds + std::chrono::duration<double>(Clock::now() - epoch_start).count() >= budget_s) {
        result.time_limit_reached = true;
        cb.log("time limit of " + std::to_string(cfg.max_minutes) + " min reached in epoch " + std::to_string(prog.epoch + 1));
        break;
      }
      const auto [terms, samples] = source->train_batch(b, optimizer, loss_sum);
      loss_terms += terms;
      epoch_samples += static_cast<double>(samples);
      cb.progress(static_cast<double>(prog.epoch) + static_cast<double>(b + 1) / static_cast<double>(n_batches),
                  static_cast<double>(cfg.epochs));
    }
    const double train_seconds = std::chrono::duration<double>(Clock::now() - epoch_start).count();
    model.module()->eval();
    const auto prediction = model.predict(val_in, device);
    const double val_esr = amp::esr(prediction, val_tgt);
    const double seconds = std::chrono::duration<double>(Clock::now() - epoch_start).count();
    prog.seconds += seconds;
    total_seconds += train_seconds;
    total_samples += epoch_samples;
    const double loss = loss_sum.item<double>() / static_cast<double>(std::max<int64_t>(1, loss_terms));
    cb.scalar("train/loss", loss, prog.epoch);
    cb.scalar("val/esr", val_esr, prog.epoch);
    cb.scalar("train/learning_rate", prog.lr, prog.epoch);
    cb.scalar("train/samples_per_s", epoch_samples / std::max(train_seconds, 1e-9), prog.epoch);
    cb.scalar("train/epoch_s", seconds, prog.epoch);
    if (cfg.audio_every > 0 && (prog.epoch % cfg.audio_every == 0 || prog.epoch + 1 == cfg.epochs)) {
      const int64_t clip = std::min<int64_t>(val_in.size(0), 2 * train.sample_rate);
      cb.audio("val/prediction", to_vector(prediction.narrow(0, 0, clip)), train.sample_rate, prog.epoch);
      cb.audio("val/target", to_vector(val_tgt.narrow(0, 0, clip)), train.sample_rate, prog.epoch);
    }
    char line[160];
    std::snprintf(line, sizeof line, "epoch %lld: loss %.5f, val ESR %.5f, lr %.2g, %.1f s",
                  static_cast<long long>(prog.epoch + 1), loss, val_esr, prog.lr, seconds);
    cb.log(line);
    if (val_esr < prog.best_val) {
      prog.best_val = val_esr;
      prog.best_epoch = prog.epoch;
      prog.since_best = 0;
      model.save(best_model);
    } else if (++prog.since_best % cfg.lr_patience == 0 && cfg.lr_schedule == "plateau") {
      prog.lr *= 0.5;
      set_lr(optimizer, prog.lr);
    }
    // The checkpoint of this epoch: a killed run resumes after it.
    model.save(last_model);
    torch::save(optimizer, last_optim);
    TrainingProgress next = prog;
    ++next.epoch;
    save_progress(progress_file, next);
    result.epochs_run = next.epoch;
    if (prog.since_best >= cfg.patience) {
      cb.log("early stop: no improvement for " + std::to_string(cfg.patience) + " epochs");
      break;
    }
    if (result.time_limit_reached) break;
  }
  result.epochs_run = std::max(result.epochs_run, prog.epoch);
  result.best_epoch = prog.best_epoch;
  result.best_val_esr = prog.best_val;
  result.samples_per_s = total_seconds > 0 ? total_samples / total_seconds : 0;
  result.train_seconds = total_seconds;
  if (!std::isfinite(prog.best_val) || !std::filesystem::exists(best_model))
    throw std::runtime_error("training diverged: the validation ESR was never finite; lower learning_rate");
  std::filesystem::copy_file(best_model, model_path, std::filesystem::copy_options::overwrite_existing);
  return result;
}

}  // namespace cadenza::train
