#!/usr/bin/env python3
"""sinks.py - a webhook receiver and an SMTP sink on loopback, for the alert tests

  sinks.py http PORT FILE [FAIL]   append each POSTed body to FILE as one line (newlines in a
                                   body become spaces); answer 500 to the first FAIL requests,
                                   and to every request while FILE.down exists
  sinks.py smtp PORT DIR           write each mail to DIR/N.eml (envelope in its first lines)

Both print "ready PORT" on stdout once they listen; PORT 0 picks a free port.
"""
import http.server
import os
import socketserver
import sys


def http_sink(port, path, fail):
    state = {"left": fail}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if state["left"] > 0 or os.path.exists(path + ".down"):
                state["left"] = max(0, state["left"] - 1)
                self.send_response(500)
                self.end_headers()
                return
            with open(path, "ab") as f:
                f.write(body.replace(b"\n", b" ") + b"\n")
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print("ready %d" % server.server_address[1], flush=True)
    server.serve_forever()


def smtp_sink(port, directory):
    os.makedirs(directory, exist_ok=True)
    count = {"n": 0}

    class Handler(socketserver.StreamRequestHandler):
        def reply(self, text):
            self.wfile.write(text.encode() + b"\r\n")

        def handle(self):
            self.reply("220 sink ready")
            sender, recipients = "", []
            while True:
                line = self.rfile.readline()
                if not line:
                    return
                verb = line.decode("utf-8", "replace").strip()
                upper = verb.upper()
                if upper.startswith(("EHLO", "HELO")):
                    self.reply("250 sink")
                elif upper.startswith("MAIL FROM:"):
                    sender, recipients = verb[10:].strip(), []
                    self.reply("250 ok")
                elif upper.startswith("RCPT TO:"):
                    recipients.append(verb[8:].strip())
                    self.reply("250 ok")
                elif upper == "DATA":
                    self.reply("354 go on")
                    data = b""
                    while True:
                        chunk = self.rfile.readline()
                        if not chunk or chunk in (b".\r\n", b".\n"):
                            break
                        data += chunk[1:] if chunk.startswith(b"..") else chunk
                    count["n"] += 1
                    name = os.path.join(directory, "%d.eml" % count["n"])
                    with open(name + ".tmp", "wb") as f:
                        f.write(("X-Envelope-From: %s\r\nX-Envelope-To: %s\r\n"
                                 % (sender, ",".join(recipients))).encode() + data)
                    os.rename(name + ".tmp", name)
                    self.reply("250 queued")
                elif upper == "QUIT":
                    self.reply("221 bye")
                    return
                else:
                    self.reply("250 ok")

    class Server(socketserver.ThreadingTCPServer):
        allow_reuse_address = True

    server = Server(("127.0.0.1", port), Handler)
    print("ready %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "http":
        http_sink(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 0)
    elif len(sys.argv) == 4 and sys.argv[1] == "smtp":
        smtp_sink(int(sys.argv[2]), sys.argv[3])
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)
