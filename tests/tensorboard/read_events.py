#!/usr/bin/env python3
"""A strict, independent reader of TensorBoard event files, for the tests.

It decodes the protobuf wire format itself (no TensorFlow, no protobuf
runtime, nothing shared with the C++ writer), checks both masked CRC-32Cs of
every record, and decodes every field the sink writes. Any damage is an
error (exit 1), unlike TensorBoard's loader, which silently stops reading.

Usage: read_events.py <logdir>            prints a JSON summary per run directory.
       read_events.py --hparams <logdir>  prints the rows of TensorBoard's HPARAMS tab, as
                                          its HParams plugin builds them (see hparams_rows).
"""
import json, os, struct, sys


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def masked(data):
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


class DecodeError(Exception):
    pass


def fields(buf):
    """Yields (field number, wire type, value) for a serialized message."""
    i = 0
    while i < len(buf):
        key, i = varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = varint(buf, i)
        elif wt == 1:
            v = buf[i:i + 8]; i += 8
        elif wt == 5:
            v = buf[i:i + 4]; i += 4
        elif wt == 2:
            n, i = varint(buf, i)
            v = buf[i:i + n]; i += n
        else:
            raise DecodeError("unsupported wire type %d" % wt)
        if i > len(buf):
            raise DecodeError("field %d runs past the end of its message" % num)
        yield num, wt, v


def varint(buf, i):
    shift = value = 0
    while True:
        if i >= len(buf):
            raise DecodeError("truncated varint")
        b = buf[i]; i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i


def f64(b): return struct.unpack("<d", b)[0]
def f32(b): return struct.unpack("<f", b)[0]


def decode_value(buf):
    out = {}
    for num, wt, v in fields(buf):
        if num == 1: out["tag"] = v.decode()
        elif num == 2: out["simple_value"] = f32(v)
        elif num == 9: out["metadata"] = decode_metadata(v)
        elif num == 8: out["tensor"] = decode_tensor(v)
        else: raise DecodeError("unexpected Summary.Value field %d" % num)
    return out


def decode_metadata(buf):
    out = {}
    for num, wt, v in fields(buf):
        if num == 1:
            for n2, _, v2 in fields(v):
                if n2 == 1: out["plugin_name"] = v2.decode()
                elif n2 == 2: out["content"] = v2
        elif num == 4: out["data_class"] = v
        else: raise DecodeError("unexpected SummaryMetadata field %d" % num)
    return out


def decode_tensor(buf):
    out = {"dims": [], "strings": []}
    for num, wt, v in fields(buf):
        if num == 1: out["dtype"] = v
        elif num == 2:
            for n2, _, d in fields(v):
                size = 0
                for n3, _, s in fields(d):
                    if n3 == 1: size = s
                out["dims"].append(size)
        elif num == 8: out["strings"].append(v)
        else: raise DecodeError("unexpected TensorProto field %d" % num)
    return out


def decode_experiment(buf):
    exp = {"hparams": {}, "metrics": []}
    for num, wt, v in fields(buf):
        if num == 4:
            name, kind = None, 0
            for n2, _, x in fields(v):
                if n2 == 1: name = x.decode()
                elif n2 == 4: kind = x
            exp["hparams"][name] = {1: "string", 2: "bool", 3: "float64"}.get(kind, "unset")
        elif num == 5:
            group, tag = "", None
            for n2, _, x in fields(v):
                if n2 == 1:
                    for n3, _, y in fields(x):
                        if n3 == 1: group = y.decode()
                        elif n3 == 2: tag = y.decode()
            exp["metrics"].append([group, tag])
    return exp


def decode_hparams(content):
    for num, wt, v in fields(content):
        if num == 2:
            return "experiment", decode_experiment(v)
        if num == 3:
            start = {"hparams": {}}
            for n2, _, x in fields(v):
                if n2 == 1:
                    key, val = None, None
                    for n3, _, y in fields(x):
                        if n3 == 1: key = y.decode()
                        elif n3 == 2:
                            for n4, wt4, z in fields(y):
                                val = f64(z) if n4 == 2 else z.decode() if n4 == 3 else bool(z) if n4 == 4 else None
                    start["hparams"][key] = val
                elif n2 == 4: start["group_name"] = x.decode()
                elif n2 == 5: start["start_time_secs"] = f64(x)
            return "session_start_info", start
        if num == 4:
            end = {"status": 0}
            for n2, _, x in fields(v):
                if n2 == 1: end["status"] = x
                elif n2 == 2: end["end_time_secs"] = f64(x)
            return "session_end_info", end
    raise DecodeError("hparams content holds no session info")


def decode_wav(blob):
    if blob[:4] != b"RIFF" or blob[8:16] != b"WAVEfmt ":
        raise DecodeError("audio is not a RIFF WAV")
    fmt, channels, rate = struct.unpack("<HHI", blob[20:28])
    bits = struct.unpack("<H", blob[34:36])[0]
    if blob[36:40] != b"data":
        raise DecodeError("WAV without data chunk at 36")
    size = struct.unpack("<I", blob[40:44])[0]
    if size != len(blob) - 44:
        raise DecodeError("WAV data size mismatch")
    return {"format": fmt, "channels": channels, "sample_rate": rate, "bits": bits,
            "frames": size // (channels * bits // 8)}


# --allow-torn-tail: a file being appended to (or mirrored while it is) may
# end inside its last record; TensorBoard waits for the rest. Every complete
# record must still check. The flag is for the live-mirror test only.
ALLOW_TORN_TAIL = False


def read_file(path):
    data = open(path, "rb").read()
    events, i = [], 0
    while i < len(data):
        if len(data) - i < 12:
            if ALLOW_TORN_TAIL: break
            raise DecodeError("%s: truncated record header at byte %d" % (path, i))
        header = data[i:i + 8]
        (length,) = struct.unpack("<Q", header)
        (len_crc,) = struct.unpack("<I", data[i + 8:i + 12])
        if masked(header) != len_crc:
            raise DecodeError("%s: bad length CRC at byte %d" % (path, i))
        payload = data[i + 12:i + 12 + length]
        if len(payload) != length or len(data) < i + 16 + length:
            if ALLOW_TORN_TAIL: break
            raise DecodeError("%s: truncated record at byte %d" % (path, i))
        (data_crc,) = struct.unpack("<I", data[i + 12 + length:i + 16 + length])
        if masked(payload) != data_crc:
            raise DecodeError("%s: bad data CRC at byte %d" % (path, i))
        i += 16 + length
        ev = {"step": 0}
        for num, wt, v in fields(payload):
            if num == 1: ev["wall_time"] = f64(v)
            elif num == 2: ev["step"] = v
            elif num == 3: ev["file_version"] = v.decode()
            elif num == 5: ev["values"] = [decode_value(x) for n, _, x in fields(v) if n == 1]
            else: raise DecodeError("unexpected Event field %d" % num)
        events.append(ev)
    if not events or events[0].get("file_version") != "brain.Event:2":
        raise DecodeError("%s: first record is not file_version brain.Event:2" % path)
    return events


def summarize(run_dir):
    run = {"scalars": {}, "text": {}, "audio": {}, "session_start_info": [], "session_end_info": [],
           "experiment": []}
    for name in sorted(os.listdir(run_dir)):
        if "tfevents" not in name:
            continue
        for ev in read_file(os.path.join(run_dir, name)):
            for v in ev.get("values", []):
                plugin = v.get("metadata", {}).get("plugin_name")
                if "simple_value" in v:
                    run["scalars"].setdefault(v["tag"], []).append([ev["step"], v["simple_value"]])
                elif plugin == "text":
                    t = v["tensor"]
                    if t["dtype"] != 7 or t["dims"] != [1]:
                        raise DecodeError("text tensor must be DT_STRING [1]")
                    run["text"].setdefault(v["tag"], []).append([ev["step"], t["strings"][0].decode()])
                elif plugin == "audio":
                    t = v["tensor"]
                    if t["dtype"] != 7 or len(t["dims"]) != 2 or t["dims"][1] != 2:
                        raise DecodeError("audio tensor must be DT_STRING [k, 2]")
                    if v["metadata"].get("content") != b"\x10\x0b" or v["metadata"].get("data_class") != 3:
                        raise DecodeError("audio metadata must be WAV, BLOB_SEQUENCE")
                    run["audio"].setdefault(v["tag"], []).append([ev["step"], decode_wav(t["strings"][0])])
                elif plugin == "hparams":
                    kind, info = decode_hparams(v["metadata"]["content"])
                    if v["tag"] != "_hparams_/" + kind:
                        raise DecodeError("hparams tag %s does not match %s" % (v["tag"], kind))
                    run[kind].append(info)
                else:
                    raise DecodeError("value %s has no known kind" % v.get("tag"))
    return run


def read_runs(logdir):
    runs = {}
    for root, dirs, files in os.walk(logdir):
        if any("tfevents" in f for f in files):
            runs[os.path.relpath(root, logdir)] = summarize(root)
    return runs


def hparams_rows(runs):
    """TensorBoard's HPARAMS tab: the columns from the one `_hparams_/experiment`
    summary; one row per run directory holding a session start (the first one
    read wins, like TensorBoard, which keeps a tag's first metadata); a row's
    status is its first session end; a metric (group, tag) is the last value of
    scalar `tag` in the run `<session>/<group>`."""
    experiments = [e for r in runs.values() for e in r["experiment"]]
    if len(experiments) != 1:
        raise DecodeError("expected exactly one _hparams_/experiment summary, found %d" % len(experiments))
    exp = experiments[0]
    status_names = {0: "unknown", 1: "success", 2: "failure", 3: "running"}
    rows = {}
    for name, run in runs.items():
        if not run["session_start_info"]:
            continue
        start = run["session_start_info"][0]
        end = run["session_end_info"][0] if run["session_end_info"] else {"status": 0}
        metrics = {}
        for group, tag in exp["metrics"]:
            sub = os.path.normpath(os.path.join(name, group)) if group else name
            values = runs.get(sub, {}).get("scalars", {}).get(tag)
            if values:
                metrics[(group + ":" if group else "") + tag] = values[-1][1]
        rows[name] = {"hparams": {k: v for k, v in start["hparams"].items() if k in exp["hparams"]},
                      "status": status_names.get(end["status"], "unknown"), "metrics": metrics,
                      "sessions_started": len(run["session_start_info"])}
    return {"columns": exp, "rows": rows}


def main():
    global ALLOW_TORN_TAIL
    args = sys.argv[1:]
    if args and args[0] == "--allow-torn-tail":
        ALLOW_TORN_TAIL = True
        args = args[1:]
    if args and args[0] == "--hparams":
        out = hparams_rows(read_runs(args[1]))
    else:
        out = read_runs(args[0])
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    print()


if __name__ == "__main__":
    try:
        main()
    except DecodeError as e:
        print("error: %s" % e, file=sys.stderr)
        sys.exit(1)
