// The preprocessing of an input (dry/DI) and target (processed) recording
// pair into normalised, contiguous train/validation/test splits.
//
// Two streaming passes over the audio, a block at a time: one for the peaks
// (normalisation), one to write the splits. Memory is a few blocks however
// long the recordings are; sliding windows are never materialised (the
// training stage samples them from the split audio on the fly).
//
// Output directory:
//   {train,val,test}_{input,target}.wav   mono 32-bit float WAV
//   dataset.json                          sample rate, lengths, the gains
//                                         applied (so export can undo them),
//                                         XXH3-128 checksums of every file
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

namespace cadenza::preprocess {

struct Options {
  int channel = -1;                  // -1: mean of all channels; else that channel
  std::string align = "error";       // "error" or "trim" (to the shorter file)
  std::string normalize = "peak";    // "peak" (each file), "joint_peak", "none"
  double train_ratio = 0.7, val_ratio = 0.1, test_ratio = 0.2;
  double silence_db = -60;           // a file whose peak is lower is an error
  int sample_rate = 0;               // > 0: both files must have it
  size_t block_frames = 65536;
};

// Throws AudioError (audio_file.h) naming the file and the problem, or
// std::invalid_argument for inconsistent options. Returns dataset.json's content.
nlohmann::json preprocess(const std::string& input, const std::string& target,
                          const std::string& out_dir, const Options& options,
                          const std::function<bool()>& cancelled,
                          const std::function<void(double done, double total)>& progress);

}  // namespace cadenza::preprocess
