#!/usr/bin/env python3
"""A STUN server for tests (RFC 5389 Binding only): answers each Binding Request with a
Binding Response carrying a SOFTWARE attribute (7 bytes, so padded) and the sender's address
as XOR-MAPPED-ADDRESS, IPv4 or IPv6. Prints its port, then serves until killed."""

import socket
import struct
import sys

COOKIE = 0x2112A442

def answer(req, addr):
    if len(req) < 20 or struct.unpack('!H', req[:2])[0] != 0x0001:
        return None
    tid = req[8:20]
    ip, port = addr[0], addr[1]
    if ':' in ip:
        raw = socket.inet_pton(socket.AF_INET6, ip)
        mask = struct.pack('!I', COOKIE) + tid
        value = struct.pack('!BBH', 0, 2, port ^ (COOKIE >> 16)) + bytes(a ^ b for a, b in zip(raw, mask))
    else:
        raw = struct.unpack('!I', socket.inet_aton(ip))[0]
        value = struct.pack('!BBHI', 0, 1, port ^ (COOKIE >> 16), raw ^ COOKIE)
    software = b'py-stun'
    attrs = struct.pack('!HH', 0x8022, len(software)) + software + b'\0'
    attrs += struct.pack('!HH', 0x0020, len(value)) + value
    return struct.pack('!HHI', 0x0101, len(attrs), COOKIE) + tid + attrs

def main():
    family = socket.AF_INET6 if len(sys.argv) > 1 and sys.argv[1] == '6' else socket.AF_INET
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.bind(('::1' if family == socket.AF_INET6 else '127.0.0.1', 0))
    print(s.getsockname()[1], flush=True)
    while True:
        req, addr = s.recvfrom(2048)
        res = answer(req, addr)
        if res:
            s.sendto(res, addr)

main()
