#!/usr/bin/env python3
"""sinks.py - a webhook receiver, group robots and an SMTP sink on loopback, for the alert tests

  sinks.py http PORT FILE [FAIL]   append each POSTed body to FILE as one line (newlines in a
                                   body become spaces); answer 500 to the first FAIL requests,
                                   and to every request while FILE.down exists
  sinks.py robot PORT FILE FORMAT [--secret S] [--keyword K] [--per-minute N] [--fail N]
                                   a DingTalk, WeCom or Feishu robot (FORMAT dingtalk, wecom,
                                   feishu) as their documentation describes it: HTTP 200 with
                                   the verdict in the body. It checks the signature (with
                                   --secret), the keyword, the size limit and the rate (N
                                   messages a minute), and answers as the robot does when one
                                   fails; while FILE.throttle exists it answers "too fast". It
                                   appends each body it takes to FILE, and each answer's code
                                   and message to FILE.answers. --fail N: HTTP 500 first.
  sinks.py smtp PORT DIR [--refuse-auth]
                                   write each mail to DIR/N.eml (envelope in its first lines);
                                   with --refuse-auth it offers AUTH and refuses every login

All print "ready PORT" on stdout once they listen; PORT 0 picks a free port.
"""
import argparse
import base64
import collections
import hashlib
import hmac
import http.server
import json
import os
import socketserver
import sys
import threading
import time
import urllib.parse


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


# what each robot answers: (code key, message key, ok, refusals by cause)
ROBOTS = {
    "dingtalk": {
        "code": "errcode", "msg": "errmsg", "limit": 20000,
        "sign": (310000, "sign not match"),
        "timestamp": (310000, "invalid timestamp"),
        "keyword": (310000, "keywords not in content"),
        "fast": (130101, "send too fast, exceed 20 times per minute"),
        "long": (460101, "message too long, exceed 20000 bytes"),
    },
    "wecom": {
        "code": "errcode", "msg": "errmsg", "limit": 4096,
        "keyword": (93000, "invalid webhook url"),
        "fast": (45009, "api freq out of limit"),
        "long": (40058, "markdown.content exceed max length 4096"),
    },
    "feishu": {
        "code": "code", "msg": "msg", "limit": 20480,
        "sign": (19021, "sign match fail or timestamp is not within one hour from current time"),
        "timestamp": (19021, "sign match fail or timestamp is not within one hour from current time"),
        "keyword": (19024, "Key Words Not Found"),
        "fast": (11232, "frequency limited"),
        "long": (19002, "params error, body too large"),
    },
}


def b64_hmac(key, message):
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


def robot_sink(port, path, fmt, secret, keyword, per_minute, fail):
    robot = ROBOTS[fmt]
    lock = threading.Lock()
    taken = collections.deque()  # times of the messages taken in the last minute
    state = {"fail": fail}

    def text_of(message):
        if fmt == "feishu":
            post = message["content"]["post"]["zh_cn"]
            lines = [post["title"]] + [p[0]["text"] for p in post["content"]]
            return "\n".join(lines)
        if fmt == "wecom":
            return message["markdown"]["content"]
        return message["markdown"]["title"] + "\n" + message["markdown"]["text"]

    def verdict(query, body):
        """None when the robot takes the message, else the cause of the refusal."""
        message = json.loads(body)
        if secret and fmt == "dingtalk":
            stamp, sign = query.get("timestamp", [""])[0], query.get("sign", [""])[0]
            if not stamp.isdigit() or abs(time.time() * 1000 - int(stamp)) > 3600 * 1000:
                return "timestamp"
            want = b64_hmac(secret.encode(), ("%s\n%s" % (stamp, secret)).encode())
            if not hmac.compare_digest(want, sign):
                return "sign"
        if secret and fmt == "feishu":
            stamp, sign = str(message.get("timestamp", "")), str(message.get("sign", ""))
            if not stamp.isdigit() or abs(time.time() - int(stamp)) > 3600:
                return "timestamp"
            if not hmac.compare_digest(b64_hmac(("%s\n%s" % (stamp, secret)).encode(), b""), sign):
                return "sign"
        size = len(text_of(message).encode()) if fmt == "wecom" else len(body)
        if size > robot["limit"]:
            return "long"
        if keyword and keyword not in text_of(message):
            return "keyword"
        if os.path.exists(path + ".throttle"):
            return "fast"
        now = time.time()
        while taken and now - taken[0] >= 60:
            taken.popleft()
        if per_minute and len(taken) >= per_minute:
            return "fast"
        taken.append(now)
        return None

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
            with lock:
                if state["fail"] > 0 or os.path.exists(path + ".down"):
                    state["fail"] = max(0, state["fail"] - 1)
                    self.send_response(500)
                    self.end_headers()
                    return
                try:
                    cause = verdict(query, body)
                except (ValueError, KeyError, TypeError, IndexError):
                    cause = "keyword"  # not a message the robot can read
                code, msg = (0, "ok") if cause is None else robot[cause]
                with open(path + ".answers", "a") as f:
                    f.write("%d %s\n" % (code, msg))
                if cause is None:
                    with open(path, "ab") as f:
                        f.write(body.replace(b"\n", b" ") + b"\n")
            answer = {robot["code"]: code, robot["msg"]: msg}
            if fmt == "feishu":
                answer["data"] = {}
            payload = json.dumps(answer).encode()
            self.send_response(200)  # as the robots do, whatever the verdict
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print("ready %d" % server.server_address[1], flush=True)
    server.serve_forever()


def smtp_sink(port, directory, refuse_auth):
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
                if upper.startswith("EHLO") and refuse_auth:
                    self.reply("250-sink")
                    self.reply("250 AUTH PLAIN LOGIN")
                elif upper.startswith(("EHLO", "HELO")):
                    self.reply("250 sink")
                elif upper.startswith("AUTH"):
                    self.reply("535 5.7.8 authentication credentials invalid")
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


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "http":
        http_sink(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 0)
        return
    parser = argparse.ArgumentParser(usage=__doc__)
    sub = parser.add_subparsers(dest="kind", required=True)
    robot = sub.add_parser("robot")
    robot.add_argument("port", type=int)
    robot.add_argument("file")
    robot.add_argument("format", choices=sorted(ROBOTS))
    robot.add_argument("--secret", default="")
    robot.add_argument("--keyword", default="")
    robot.add_argument("--per-minute", type=int, default=0)
    robot.add_argument("--fail", type=int, default=0)
    smtp = sub.add_parser("smtp")
    smtp.add_argument("port", type=int)
    smtp.add_argument("directory")
    smtp.add_argument("--refuse-auth", action="store_true")
    args = parser.parse_args()
    if args.kind == "robot":
        robot_sink(args.port, args.file, args.format, args.secret, args.keyword, args.per_minute,
                   args.fail)
    else:
        smtp_sink(args.port, args.directory, args.refuse_auth)


if __name__ == "__main__":
    main()
