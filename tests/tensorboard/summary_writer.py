"""A stand-in for torch.utils.tensorboard.SummaryWriter, for the tests: the
`tensorboard` Python package it needs is not installable here. It writes
event files the way SummaryWriter does, from the published format: the file
name events.out.tfevents.<seconds>.<host>.<pid>.<n>, a file_version record
first, add_scalar as `simple_value` (new_style=True: a one-element DT_FLOAT
tensor with the scalars plugin's metadata), add_audio as a Summary.Audio
holding a 16-bit PCM WAV. Standard library only; written on its own, not
from Cadenza's C++ writer, so the reader is checked against an independent
encoder. Each record is flushed at once (SummaryWriter queues up to 10).
"""
import io, os, socket, struct, time, wave

_TABLE = []
for _n in range(256):
    _c = _n
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _TABLE.append(_c)


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc = _TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc(data):
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def varint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def field(num, wire_type, payload):
    key = varint((num << 3) | wire_type)
    if wire_type == 0:
        return key + varint(payload)
    if wire_type == 2:
        return key + varint(len(payload)) + payload
    return key + payload  # fixed32 / fixed64: already packed


def frame(payload):
    header = struct.pack("<Q", len(payload))
    return header + struct.pack("<I", masked_crc(header)) + payload + struct.pack("<I", masked_crc(payload))


def event(step, summary_value=None, file_version=None):
    e = field(1, 1, struct.pack("<d", time.time()))
    if step:
        e += field(2, 0, step)
    if file_version:
        e += field(3, 2, file_version.encode())
    if summary_value is not None:
        e += field(5, 2, field(1, 2, summary_value))
    return e


def wav_bytes(samples, sample_rate):
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(b"".join(struct.pack("<h", int(max(-1.0, min(1.0, s)) * 32767)) for s in samples))
    return buf.getvalue()


class SummaryWriter:
    _count = 0

    def __init__(self, log_dir):
        os.makedirs(log_dir, exist_ok=True)
        SummaryWriter._count += 1
        name = "events.out.tfevents.%d.%s.%d.%d" % (time.time(), socket.gethostname(), os.getpid(), SummaryWriter._count)
        self.path = os.path.join(log_dir, name)
        self._f = open(self.path, "ab")
        self._write(event(0, file_version="brain.Event:2"))

    def _write(self, payload):
        self._f.write(frame(payload))
        self._f.flush()

    def add_scalar(self, tag, value, step, new_style=False):
        if new_style:
            metadata = field(1, 2, field(1, 2, b"scalars"))
            tensor = field(1, 0, 1) + field(2, 2, b"") + field(5, 2, struct.pack("<f", value))
            v = field(1, 2, tag.encode()) + field(9, 2, metadata) + field(8, 2, tensor)
        else:
            v = field(1, 2, tag.encode()) + field(2, 5, struct.pack("<f", value))
        self._write(event(step, v))

    def add_audio(self, tag, samples, step, sample_rate=44100):
        wav = wav_bytes(samples, sample_rate)
        audio = (field(1, 5, struct.pack("<f", float(sample_rate))) + field(2, 0, 1) + field(3, 0, len(samples))
                 + field(4, 2, wav) + field(5, 2, b"audio/wav"))
        self._write(event(step, field(1, 2, tag.encode()) + field(6, 2, audio)))

    def add_histogram_raw_bytes(self, tag, step):  # something the reader must skip: a histo value (field 5)
        self._write(event(step, field(1, 2, tag.encode()) + field(5, 2, field(1, 1, struct.pack("<d", 0.0)))))

    def flush(self):
        self._f.flush()

    def close(self):
        self._f.close()
