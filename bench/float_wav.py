"""Reading the mono float32 WAVs that Cadenza's stages write, without numpy
(the bench scripts share it)."""
import array, struct


def read_float_wav(path):
    """The samples of a 32-bit float WAV's data chunk, as an array('f')."""
    data = open(path, "rb").read()
    i = data.find(b"data")
    n = struct.unpack("<I", data[i + 4:i + 8])[0]
    a = array.array("f")
    a.frombytes(data[i + 8:i + 8 + n])
    return a
