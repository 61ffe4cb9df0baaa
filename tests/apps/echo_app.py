# ruff: noqa: D101, D102, N815, RET502, RET503, S104, S324
"""An app for the ingress tests, run inside a `prod` container (standard library only).

HTTP: answers every method with JSON describing the request it received (its body, length
and SHA-256; chunked bodies decoded); `/big/<n>` sends n bytes of `x`. WebSocket
(`Upgrade: websocket`): echoes every message back.
"""

import base64
import hashlib
import http.server
import json
import struct
import sys

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self):
        if self.headers.get("upgrade", "").lower() == "websocket":
            return self.websocket()
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            body = self.chunked_body()
        else:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
        if self.path.startswith("/big/"):
            size = int(self.path.split("/")[2])
            self.send_response(200)
            self.send_header("content-length", str(size))
            self.end_headers()
            block = b"x" * 65536
            while size:
                size -= self.wfile.write(block[: min(size, len(block))])
            return
        out = json.dumps(
            {
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body[:4096].decode(errors="replace"),
                "body_length": len(body),
                "body_sha256": hashlib.sha256(body).hexdigest(),
            }
        ).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)

    def chunked_body(self):
        parts = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip(), 16)
            if not size:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = answer

    def websocket(self):
        key = self.headers["sec-websocket-key"]
        accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        self.send_response(101)
        self.send_header("upgrade", "websocket")
        self.send_header("connection", "Upgrade")
        self.send_header("sec-websocket-accept", accept)
        protocols = self.headers.get("sec-websocket-protocol")
        if protocols:
            self.send_header("sec-websocket-protocol", protocols.split(",")[0].strip())
        self.end_headers()
        self.wfile.flush()
        while True:
            first, second = self.rfile.read(2)
            opcode, length = first & 0x0F, second & 0x7F
            if length == 126:
                (length,) = struct.unpack("!H", self.rfile.read(2))
            elif length == 127:
                (length,) = struct.unpack("!Q", self.rfile.read(8))
            mask = self.rfile.read(4)
            data = bytes(b ^ mask[i % 4] for i, b in enumerate(self.rfile.read(length)))
            if opcode == 8:
                self.wfile.write(b"\x88\x02\x03\xe8")
                return
            if length < 126:
                header = bytes([0x80 | opcode, length])
            else:
                header = bytes([0x80 | opcode, 127]) + struct.pack("!Q", length)
            self.wfile.write(header + data)
            self.wfile.flush()


http.server.ThreadingHTTPServer(("0.0.0.0", int(sys.argv[1])), Handler).serve_forever()
