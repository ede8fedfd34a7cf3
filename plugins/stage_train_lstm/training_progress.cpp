#include "training_progress.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace cadenza::train {

void save_progress(const std::string& path, const TrainingProgress& p) {
  const nlohmann::json j{{"epoch", p.epoch},
                         {"best_val", std::isfinite(p.best_val) ? nlohmann::json(p.best_val) : nlohmann::json()},
                         {"best_epoch", p.best_epoch},
                         {"since_best", p.since_best},
                         {"lr", p.lr},
                         {"seconds", p.seconds},
                         {"fingerprint", p.fingerprint}};
  const std::string text = j.dump(1) + "\n", tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  const bool written = f && std::fwrite(text.data(), 1, text.size(), f) == text.size();
  if (!f || std::fclose(f) != 0 || !written) throw std::runtime_error("cannot write the training progress " + tmp);
  std::filesystem::rename(tmp, path);
}

bool load_progress(const std::string& path, TrainingProgress* p) {
  std::ifstream in(path);
  if (!in) return false;
  try {
    const auto j = nlohmann::json::parse(in);
    p->epoch = j.at("epoch");
    p->best_val = j.at("best_val").is_null() ? std::numeric_limits<double>::infinity() : j.at("best_val").get<double>();
    p->best_epoch = j.at("best_epoch");
    p->since_best = j.at("since_best");
    p->lr = j.at("lr");
    p->seconds = j.at("seconds");
    p->fingerprint = j.at("fingerprint");
    return true;
  } catch (const nlohmann::json::exception&) {
    return false;  // torn or from before: start over, as with no file
  }
}

}  // namespace cadenza::train
