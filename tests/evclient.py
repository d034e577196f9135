#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Small clients of evidentd for the end-to-end tests (tests/test-daemon.sh).

  evclient.py lines SOCKET [open]     stdin's lines to the Unix socket; prints one
                                      reply per line sent, in order ("open": without
                                      shutting down the sending side first)
  evclient.py stream SOCKET N ACKS    sends N events one by one, appending each
                                      acknowledged "INDEX NUMBER" to ACKS as it
                                      arrives (for the kill -9 test); runs until
                                      killed or done
  evclient.py parallel SOCKET K N     K connections, all open before any sends, each
                                      sending N events from its own thread; prints
                                      "ok K N" when every connection got N index
                                      replies, strictly increasing, else what went wrong
  evclient.py noread SOCKET SECONDS   sends bad lines for a second without reading a
                                      reply, prints "sent", holds the connection SECONDS
  evclient.py idle SOCKET N SECONDS   opens N connections that send nothing, holds
                                      them SECONDS, prints "open N"
  evclient.py half HOST PORT SECONDS  sends half an HTTP request, then stalls
  evclient.py raw HOST PORT           stdin's bytes to a TCP port, then closes
  evclient.py receiver PORTFILE BODIES  a webhook receiver on a free loopback port
                                      (written to PORTFILE); each POST body becomes
                                      one line of BODIES
"""
import socket
import sys
import time


def lines(path, keep_open=False):
    data = sys.stdin.buffer.read()
    # Blank lines get no reply: count the non-blank ones.
    sent = sum(1 for line in data.split(b"\n") if line.strip(b"\r") != b"")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    try:
        s.sendall(data)
        if not keep_open:
            s.shutdown(socket.SHUT_WR)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the daemon refused the connection: read what it said
    buf = b""
    s.settimeout(30)
    while buf.count(b"\n") < sent:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break  # the replies that came; the caller counts them
        except ConnectionResetError:
            break
        if not chunk:
            break
        buf += chunk
    sys.stdout.write(buf.decode("utf-8", "replace"))


def stream(path, n, acks):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    f = s.makefile("rb")
    with open(acks, "a", buffering=1) as out:
        for i in range(n):
            line = ('{"type":"custom.crash","data":{"n":%d}}\n' % i).encode()
            s.sendall(line)
            reply = f.readline()
            if not reply:
                return
            if reply.startswith(b'{"index":'):
                out.write("%d %d\n" % (int(reply[9:].rstrip(b"}\n")), i))


def parallel(path, k, n):
    import threading

    socks = []
    for _ in range(k):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        s.settimeout(60)
        socks.append(s)
    problems = []

    def run(c, s):
        data = "".join('{"type":"custom.test","data":{"conn":%d,"n":%d}}\n' % (c, i)
                       for i in range(n)).encode()
        sender = threading.Thread(target=lambda: (s.sendall(data), s.shutdown(socket.SHUT_WR)))
        sender.start()
        buf = b""
        while buf.count(b"\n") < n:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        sender.join()
        last = -1
        replies = buf.split(b"\n")[:-1]
        for i, reply in enumerate(replies):
            if not reply.startswith(b'{"index":'):
                problems.append("conn %d line %d: %r" % (c, i + 1, reply))
                return
            index = int(reply[9:].rstrip(b"}"))
            if index <= last:
                problems.append("conn %d line %d: index %d after %d" % (c, i + 1, index, last))
                return
            last = index
        if len(replies) != n:
            problems.append("conn %d: %d replies for %d lines" % (c, len(replies), n))

    threads = [threading.Thread(target=run, args=(c, s)) for c, s in enumerate(socks)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("; ".join(problems) if problems else "ok %d %d" % (k, n))


def noread(path, seconds):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.setblocking(False)
    end = time.time() + 1
    while time.time() < end:
        try:
            s.send(b"x\n" * 8192)
        except BlockingIOError:
            time.sleep(0.05)
    print("sent", flush=True)
    time.sleep(seconds)


def idle(path, n, seconds):
    conns = []
    for _ in range(n):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        conns.append(s)
    print("open %d" % len(conns), flush=True)
    time.sleep(seconds)


def half(host, port, seconds):
    s = socket.create_connection((host, port))
    s.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"ty")
    print("stalled", flush=True)
    time.sleep(seconds)


def receiver(port_file, bodies):
    """A webhook receiver: appends each POST body as one line to bodies."""
    import http.server

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(n)
            with open(bodies, "ab") as f:
                f.write(body.replace(b"\n", b" ") + b"\n")
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    with open(port_file, "w") as f:
        f.write("%d\n" % server.server_address[1])
    server.serve_forever()


def raw(host, port):
    s = socket.create_connection((host, port))
    s.sendall(sys.stdin.buffer.read())
    s.close()


def main():
    cmd = sys.argv[1]
    if cmd == "lines":
        lines(sys.argv[2], sys.argv[3:] == ["open"])
    elif cmd == "parallel":
        parallel(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif cmd == "noread":
        noread(sys.argv[2], float(sys.argv[3]))
    elif cmd == "stream":
        stream(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif cmd == "idle":
        idle(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    elif cmd == "half":
        half(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    elif cmd == "receiver":
        receiver(sys.argv[2], sys.argv[3])
    elif cmd == "raw":
        raw(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
