#!/usr/bin/env node
// Runs an export stage's model.onnx in ONNX Runtime (the npm package
// onnxruntime-node, CPU) over its test_input.wav and compares the result
// with test_prediction.wav, the LibTorch prediction written next to it.
//
//   node scripts/onnxruntime/check_onnx.js <export dir> [--block N] [--tolerance R]
//
// The sequence LSTM is streamed as a real-time host would: blocks of N
// samples (default 64), each call given the previous call's h_out/c_out.
// The windowed model gets every sample's window (silence before the start).
// Prints one JSON line; exits 1 when the largest deviation exceeds R times
// the target's peak (default 1e-3, the export stage's own bound), 2 on a
// usage or file error.
'use strict';
const fs = require('fs');
const path = require('path');

function fail(message, code = 2) {
  process.stderr.write(`check_onnx.js: ${message}\n`);
  process.exit(code);
}

function parseArgs(argv) {
  const args = { dir: null, block: 64, tolerance: 1e-3 };
  for (let i = 0; i < argv.length; ++i) {
    if (argv[i] === '--block') args.block = Number(argv[++i]);
    else if (argv[i] === '--tolerance') args.tolerance = Number(argv[++i]);
    else if (!args.dir) args.dir = argv[i];
    else fail(`unexpected argument '${argv[i]}'`);
  }
  if (!args.dir) fail('usage: check_onnx.js <export dir> [--block N] [--tolerance R]');
  if (!(Number.isInteger(args.block) && args.block > 0)) fail('--block must be a positive integer');
  if (!(args.tolerance > 0)) fail('--tolerance must be a positive number');
  return args;
}

// A mono 32-bit float WAV (what stage_export writes): the samples of its data chunk.
function readFloatWav(file) {
  let buf;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    fail(`${file}: ${e.message}`);
  }
  if (buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') fail(`${file}: not a WAV file`);
  let format = null;
  for (let at = 12; at + 8 <= buf.length;) {
    const id = buf.toString('ascii', at, at + 4), size = buf.readUInt32LE(at + 4), body = at + 8;
    if (id === 'fmt ') {
      const tag = buf.readUInt16LE(body);
      format = {
        float: tag === 3 || (tag === 0xfffe && buf.readUInt16LE(body + 24) === 3),
        channels: buf.readUInt16LE(body + 2),
        bits: buf.readUInt16LE(body + 14),
      };
    } else if (id === 'data') {
      if (!format || !format.float || format.bits !== 32 || format.channels !== 1)
        fail(`${file}: not a mono 32-bit float WAV`);
      const samples = new Float32Array(Math.floor(Math.min(size, buf.length - body) / 4));
      for (let i = 0; i < samples.length; ++i) samples[i] = buf.readFloatLE(body + 4 * i);
      return samples;
    }
    at = body + size + (size % 2);
  }
  fail(`${file}: no data chunk`);
}

async function runSequence(ort, session, config, input, block) {
  const stateDims = [config.layers, 1, config.hidden_size];
  let h = new ort.Tensor('float32', new Float32Array(config.layers * config.hidden_size), stateDims);
  let c = new ort.Tensor('float32', new Float32Array(config.layers * config.hidden_size), stateDims);
  const out = new Float32Array(input.length);
  for (let s = 0; s < input.length; s += block) {
    const chunk = input.slice(s, Math.min(s + block, input.length));
    const r = await session.run({ input: new ort.Tensor('float32', chunk, [chunk.length]), h_in: h, c_in: c });
    out.set(r.output.data, s);
    h = r.h_out;
    c = r.c_out;
  }
  return out;
}

async function runWindows(ort, session, config, input) {
  const w = config.window, batch = 4096;
  const padded = new Float32Array(w - 1 + input.length);
  padded.set(input, w - 1);
  const out = new Float32Array(input.length);
  for (let s = 0; s < input.length; s += batch) {
    const n = Math.min(batch, input.length - s);
    const windows = new Float32Array(n * w);
    for (let i = 0; i < n; ++i) windows.set(padded.subarray(s + i, s + i + w), i * w);
    const r = await session.run({ window: new ort.Tensor('float32', windows, [n, w]) });
    out.set(r.output.data, s);
  }
  return out;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  let ort;
  try {
    ort = require('onnxruntime-node');
  } catch (e) {
    fail(`onnxruntime-node is not installed (scripts/setup-deps.sh --with-onnxruntime installs it): ${e.message}`);
  }
  const model = path.join(args.dir, 'model.onnx');
  const config = JSON.parse(fs.readFileSync(path.join(args.dir, 'config.json'), 'utf8'));
  const input = readFloatWav(path.join(args.dir, 'test_input.wav'));
  const expected = readFloatWav(path.join(args.dir, 'test_prediction.wav'));
  const target = readFloatWav(path.join(args.dir, 'test_target.wav'));
  const session = await ort.InferenceSession.create(model, { executionProviders: ['cpu'] });
  const sequence = session.inputNames.includes('h_in');
  const start = process.hrtime.bigint();
  const got = sequence ? await runSequence(ort, session, config, input, args.block) : await runWindows(ort, session, config, input);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (got.length !== expected.length) fail(`${model}: ${got.length} samples out for ${expected.length}`, 1);
  let deviation = 0, peak = 1e-9;
  for (let i = 0; i < got.length; ++i) deviation = Math.max(deviation, Math.abs(got[i] - expected[i]));
  for (const v of target) peak = Math.max(peak, Math.abs(v));
  const report = {
    file: model, onnxruntime: ort.env.versions.node || ort.env.versions.common, family: config.family,
    inputs: session.inputNames, samples: got.length, block: sequence ? args.block : null,
    max_deviation: deviation, tolerance: args.tolerance * peak, seconds,
  };
  console.log(JSON.stringify(report));
  if (!(deviation <= args.tolerance * peak)) fail(`${model}: deviates from LibTorch by ${deviation}`, 1);
}

main().catch((e) => fail(e.stack || String(e), 1));
