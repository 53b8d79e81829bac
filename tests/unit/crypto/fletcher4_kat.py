#!/usr/bin/env python3
"""Known answers for tests/unit/crypto/test_crypto.c.

An independent, deliberately naive Fletcher-4 (a += w; b += a; c += b;
d += c over little-endian 32-bit words, a short tail zero-padded, all
modulo 2^64) and the splitmix64 byte generator the C test also uses.
Run it to reproduce the constants embedded in the test.
"""
import hashlib

M = (1 << 64) - 1


def fletcher4(data):
    a = b = c = d = 0
    if len(data) % 4:
        data = data + b"\0" * (4 - len(data) % 4)
    for i in range(0, len(data), 4):
        w = int.from_bytes(data[i:i + 4], "little")
        a = (a + w) & M
        b = (b + a) & M
        c = (c + b) & M
        d = (d + c) & M
    return a, b, c, d


def splitmix_bytes(seed, n):
    s, out = seed, bytearray()
    while len(out) < n:
        s = (s + 0x9e3779b97f4a7c15) & M
        z = s
        z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M
        z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M
        z ^= z >> 31
        out += z.to_bytes(8, "little")
    return bytes(out[:n])


VECTORS = [
    ("empty", b""),
    ("a", b"a"),
    ("abc", b"abc"),
    ("abcde", b"abcde"),
    ("seq4096", bytes(i & 0xff for i in range(4096))),
    ("ff1m", b"\xff" * (1 << 20)),
    ("sm42_100003", splitmix_bytes(42, 100003)),
]

if __name__ == "__main__":
    for name, data in VECTORS:
        print(name, ", ".join("0x%016xULL" % x for x in fletcher4(data)))
    print("sha256 sm42_100003",
          hashlib.sha256(splitmix_bytes(42, 100003)).hexdigest())
