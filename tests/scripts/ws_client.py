"""A small WebSocket client (RFC 6455) for the decodeWebSocket/encodeWebSocket test.

Usage: ws_client.py PORT FILE. Opens ws://127.0.0.1:PORT/echo, checks the handshake's
Sec-WebSocket-Accept, sends FILE as one binary message in masked fragments with a ping
between them, then a close; prints one line per frame-level event it receives:
  accept ok
  message <opcode> <length> <sha256 of the payload>
  close
"""
import base64
import hashlib
import os
import socket
import struct
import sys

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def frame(opcode, payload, fin=True):
    key = os.urandom(4)
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n <= 0xFFFF:
        head += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack(">Q", n)
    return head + key + mask(payload, key)


def mask(payload, key):
    # XOR as big integers: fast enough for a MiB in pure Python.
    k = (key * (len(payload) // 4 + 1))[: len(payload)]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(k, "big")).to_bytes(len(payload), "big")


def read_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError("connection closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


def read_frame(sock):
    b0, b1 = read_exact(sock, 2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack(">H", read_exact(sock, 2))[0]
    elif n == 127:
        n = struct.unpack(">Q", read_exact(sock, 8))[0]
    if b1 & 0x80:
        raise ValueError("a server frame is masked")
    return b0 & 0x80 != 0, b0 & 0x0F, read_exact(sock, n)


def main():
    port, path = int(sys.argv[1]), sys.argv[2]
    data = open(path, "rb").read()
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            "GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % key
        ).encode()
    )
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        head += read_exact(sock, 1)
    lines = head.decode().split("\r\n")
    assert lines[0].startswith("HTTP/1.1 101"), lines[0]
    want = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
    got = [l.split(":", 1)[1].strip() for l in lines if l.lower().startswith("sec-websocket-accept:")]
    print("accept ok" if got == [want] else "accept wrong %r" % got, flush=True)
    third = len(data) // 3
    sock.sendall(frame(2, data[:third], fin=False))
    sock.sendall(frame(9, b"are you there", fin=True))
    sock.sendall(frame(0, data[third : 2 * third], fin=False))
    sock.sendall(frame(0, data[2 * third :], fin=True))
    sock.sendall(frame(8, struct.pack(">H", 1000)))
    opcode, payload = None, b""
    while True:
        try:
            fin, op, chunk = read_frame(sock)
        except EOFError:
            break
        if op != 0:
            opcode, payload = op, b""
        payload += chunk
        if fin:
            print("message %d %d %s" % (opcode, len(payload), hashlib.sha256(payload).hexdigest()), flush=True)
            if opcode == 8:
                print("close", flush=True)
                break


main()
