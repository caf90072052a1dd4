"""A small RFC 6455 client on the standard library, for the tests: the handshake (or the HTTP answer
that refused it), masked client frames of any opcode (so tests can send what a library would not:
binary, oversized, fragmented frames), pings answered, close frames read with their code and reason."""
import base64
import hashlib
import json
import os
import socket
import struct

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, BINARY, CLOSE, PING, PONG, CONT = 0x1, 0x2, 0x8, 0x9, 0xA, 0x0


class Refused(Exception):
    """The server answered the handshake with HTTP instead of 101."""

    def __init__(self, status, headers, body):
        super().__init__(f"handshake refused: {status} {body[:200]!r}")
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)


class Closed(Exception):
    """The server sent a close frame (code, reason) or the connection ended (code None)."""

    def __init__(self, code, reason):
        super().__init__(f"closed: {code} {reason!r}")
        self.code, self.reason = code, reason


class WebSocket:
    def __init__(self, port, path, timeout=15, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:  # a small receive window: a client that stops reading stalls the server quickly
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        self.buf = b""
        self.pongs = []
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = self._read_until(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        self.headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()
        if status != 101:
            length = int(self.headers.get("content-length", "0"))
            body = self._read_exactly(length)
            self.sock.close()
            raise Refused(status, self.headers, body)
        accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        assert self.headers.get("sec-websocket-accept") == accept, self.headers

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise Closed(None, "connection ended")
        self.buf += chunk

    def _read_until(self, marker):
        while marker not in self.buf:
            self._fill()
        head, _, self.buf = self.buf.partition(marker)
        return head

    def _read_exactly(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send_frame(self, opcode, payload, fin=True):
        if isinstance(payload, str):
            payload = payload.encode()
        header = bytes([(0x80 if fin else 0) | opcode])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload)) if n < 4096 else _mask(payload, mask)
        self.sock.sendall(header + mask + masked)

    def send_json(self, obj):
        self.send_frame(TEXT, json.dumps(obj))

    def recv_frame(self):
        """(opcode, payload) of the next data message (fragments joined); pings are answered, pongs
        collected; a close frame raises Closed."""
        message, first_opcode = b"", None
        while True:
            b0, b1 = self._read_exactly(2)
            opcode, fin, n = b0 & 0x0F, b0 & 0x80, b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read_exactly(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read_exactly(8))[0]
            assert not b1 & 0x80, "server frames are never masked"
            payload = self._read_exactly(n)
            if opcode == CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                try:
                    self.send_frame(CLOSE, payload[:2])
                except OSError:
                    pass
                raise Closed(code, payload[2:].decode())
            if opcode == PING:
                self.send_frame(PONG, payload)
                continue
            if opcode == PONG:
                self.pongs.append(payload)
                return PONG, payload
            if first_opcode is None:
                first_opcode = opcode
            message += payload
            if fin:
                return first_opcode, message

    def recv_json(self):
        """The next text frame as JSON (pongs skipped)."""
        while True:
            opcode, payload = self.recv_frame()
            if opcode == TEXT:
                return json.loads(payload)
            assert opcode == PONG, f"unexpected opcode {opcode}"

    def close(self):
        try:
            self.send_frame(CLOSE, struct.pack("!H", 1000))
        except OSError:
            pass
        self.sock.close()


def _mask(payload, mask):
    # Large payloads: XOR through big integers instead of byte by byte.
    reps = (len(payload) + 3) // 4
    key = int.from_bytes(mask * reps, "big") >> (8 * (reps * 4 - len(payload)))
    return (int.from_bytes(payload, "big") ^ key).to_bytes(len(payload), "big")
