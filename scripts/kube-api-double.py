#!/usr/bin/env python3
"""A test double of the few Kubernetes API calls Magnum's Heat driver makes, for
scripts/heat-e2e.sh, where the stand-in servers run no Kubernetes.

    kube-api-double.py --bind HOST:PORT --cert CRT --key KEY --ca CA --nodes a,b --record FILE

Serves HTTPS on HOST:PORT (a loopback address: the stand-ins' API address) with CRT/KEY and
requires a client certificate signed by CA (the cluster CA, as a real API server with the
cluster's certificates does):
  GET  /healthz                                  ok
  GET  /api/v1/nodes                             the given nodes, each Ready
  POST /api/v1/namespaces/kube-system/secrets    201; the body is appended to FILE (one JSON per line)
Anything else is 404. It prints "listening" once it accepts connections.
"""
import argparse
import http.server
import json
import ssl
import sys


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bind", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--ca", required=True)
    p.add_argument("--nodes", default="")
    p.add_argument("--record", required=True)
    a = p.parse_args()
    host, port = a.bind.rsplit(":", 1)
    if not host.startswith("127."):
        sys.exit("kube-api-double.py: binds loopback addresses only, not %s" % host)
    nodes = [n for n in a.nodes.split(",") if n]

    class Handler(http.server.BaseHTTPRequestHandler):
        def reply(self, status, body, content_type="application/json"):
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path == "/healthz":
                self.reply(200, "ok", "text/plain")
            elif self.path == "/api/v1/nodes":
                items = [{"metadata": {"name": n},
                          "status": {"conditions": [{"type": "Ready", "status": "True"}]}} for n in nodes]
                self.reply(200, json.dumps({"kind": "NodeList", "items": items}))
            else:
                self.reply(404, json.dumps({"kind": "Status", "code": 404}))

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path != "/api/v1/namespaces/kube-system/secrets":
                self.reply(404, json.dumps({"kind": "Status", "code": 404}))
                return
            secret = json.loads(body)
            with open(a.record, "a") as f:
                f.write(json.dumps(secret) + "\n")
            self.reply(201, json.dumps(secret))

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer((host, int(port)), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(a.cert, a.key)
    context.load_verify_locations(a.ca)
    context.verify_mode = ssl.CERT_REQUIRED
    server.socket = context.wrap_socket(server.socket, server_side=True)
    print("listening", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
