#!/usr/bin/python3
"""A fake of Twilio's Messages endpoint on loopback for the reminder tests.

Usage: fake_twilio.py OUTDIR

Listens on 127.0.0.1 on a free port and prints "READY <port>". Every request
is recorded in OUTDIR as req-NNNN.json: method, path, the Authorization
header decoded, the content type and the form fields. POSTs to
/2010-04-01/Accounts/{sid}/Messages.json get 201 and {"sid": "SM..."}; a To
number ending in 400 gets Twilio's 400 error (21211), one ending in 500 a 500.
Stops on SIGTERM.
"""
import base64
import http.server
import json
import os
import re
import signal
import sys
import threading
import urllib.parse

OUTDIR = sys.argv[1]
COUNT = 0
LOCK = threading.Lock()
PATH_RE = re.compile(r"^/2010-04-01/Accounts/([^/]+)/Messages\.json$")


def record(obj):
    global COUNT
    with LOCK:
        COUNT += 1
        n = COUNT
    name = "req-%04d.json" % n
    tmp = os.path.join(OUTDIR, "." + name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1)
    os.rename(tmp, os.path.join(OUTDIR, name))
    return n


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length).decode("utf-8")
        auth = self.headers.get("Authorization", "")
        user = password = None
        if auth.startswith("Basic "):
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
        form = {k: v[0] for k, v in urllib.parse.parse_qs(body).items()}
        m = PATH_RE.match(self.path)
        n = record({"method": "POST", "path": self.path,
                    "sid": m.group(1) if m else None, "user": user,
                    "password": password,
                    "content_type": self.headers.get("Content-Type", ""),
                    "form": form})
        if not m:
            self.reply(404, {"code": 20404, "message": "not found", "status": 404})
        elif form.get("To", "").endswith("400"):
            self.reply(400, {"code": 21211, "status": 400, "message":
                             "The 'To' number %s is not a valid phone number." %
                             form.get("To")})
        elif form.get("To", "").endswith("500"):
            self.reply(500, {"code": 20500, "status": 500,
                             "message": "Internal Server Error"})
        else:
            self.reply(201, {"sid": "SM%032d" % n, "status": "queued",
                             "to": form.get("To"), "from": form.get("From"),
                             "body": form.get("Body")})

    def do_GET(self):
        self.reply(405, {"message": "method not allowed"})


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    signal.signal(signal.SIGTERM, lambda *a: threading.Thread(
        target=server.shutdown).start())
    print("READY %d" % server.server_address[1], flush=True)
    server.serve_forever()
    server.server_close()


if __name__ == "__main__":
    main()
