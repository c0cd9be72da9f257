#!/usr/bin/env python3
"""A git smart-HTTP server for the bench: `git http-backend` as a CGI behind a threaded HTTP/1.1
server with keep-alive, plain or HTTPS.

    git_http_server.py --root DIR --port PORT [--cert CERT --key KEY]

Every bare repository under ROOT is served at /<name>.git. Request headers reach the CGI as
HTTP_* variables (RFC 3875), so a client's `Git-Protocol: version=2` reaches http-backend as
HTTP_GIT_PROTOCOL, which it copies into GIT_PROTOCOL (git's Documentation/git-http-backend.adoc):
v2 clients get v2. Each answer is buffered and sent with Content-Length, so connections stay open
for the next request. TLS is negotiated in the connection's own thread (the listening thread only
accepts), and the accept queue is deep (1024) so bursts of connections are not dropped.
HTTP/2 is not offered: the Python standard library has none.

Only the Python standard library is used.
"""

import argparse
import http.server
import os
import ssl
import subprocess
from urllib.parse import urlsplit


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    root = "."

    def _body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                n = int(self.rfile.readline().split(b";")[0], 16)
                if n == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(n)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _cgi(self):
        url = urlsplit(self.path)
        body = self._body() if self.command == "POST" else b""
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env.update(GIT_PROJECT_ROOT=self.root, GIT_HTTP_EXPORT_ALL="1",
                   REQUEST_METHOD=self.command, PATH_INFO=url.path, QUERY_STRING=url.query,
                   CONTENT_TYPE=self.headers.get("Content-Type", ""),
                   CONTENT_LENGTH=str(len(body)), REMOTE_ADDR=self.client_address[0],
                   SERVER_PROTOCOL="HTTP/1.1")
        for name, value in self.headers.items():
            if name.lower() not in ("content-type", "content-length", "authorization"):
                env["HTTP_" + name.upper().replace("-", "_")] = value
        proc = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True)
        head, _, payload = proc.stdout.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.decode("latin-1").split("\r\n"):
            key, _, value = line.partition(":")
            if key.lower() == "status":
                status = int(value.split()[0])
            elif key:
                headers.append((key, value.strip()))
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _cgi

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 1024
    daemon_threads = True
    tls = None

    def finish_request(self, request, client_address):
        if self.tls is not None:
            try:
                request = self.tls.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                request.close()
                return
        super().finish_request(request, client_address)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    args = ap.parse_args()
    Handler.root = os.path.abspath(args.root)
    server = Server(("127.0.0.1", args.port), Handler)
    if args.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
        ctx.set_alpn_protocols(["http/1.1"])
        server.tls = ctx
    server.serve_forever()


if __name__ == "__main__":
    main()
