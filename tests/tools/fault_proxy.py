#!/usr/bin/env python3
"""A loopback TCP proxy that breaks the link at an exact byte count.

    fault_proxy.py TARGET_PORT [--stall-after N --ctl DIR] [--cut-after N]
                   [--delay-ms MS]

Listens on a free port of 127.0.0.1 and prints "port P" on stdout once it
accepts connections, then forwards every connection to TARGET_PORT.

--stall-after N  when N bytes in all have gone from clients to the server,
                 stop forwarding in both directions (the N-th byte is the
                 last one through), write "proxy.stalled N PID -" to
                 DIR/reached and wait for a line in DIR/resume: "reset"
                 resets every open connection (RST), "go" forwards again.
                 Either way later connections are forwarded as usual.  The
                 same two FIFOs as migrate's test points, so that a test
                 acts at that moment with nothing left to chance: "the
                 server goes away in the middle of a transfer".
--cut-after N    the same moment, with "reset" and no handshake.
--delay-ms MS    sleeps MS per chunk (at most 16 KiB) each way: a slow link.

Written for migrate's tests (issue 19); stops on SIGTERM.
"""
import argparse
import os
import signal
import socket
import struct
import sys
import threading
import time


class Proxy:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.sent = 0
        self.tripped = False
        self.gate = threading.Event()
        self.gate.set()
        self.conns = []

    def budget(self, n):
        """How many of n client bytes may pass before the trip point."""
        limit = self.args.stall_after or self.args.cut_after
        with self.lock:
            if limit is None or self.tripped:
                return n, False
            room = limit - self.sent
            if n < room:
                self.sent += n
                return n, False
            self.sent = limit
            self.tripped = True
            self.gate.clear()
            return room, True

    def trip(self):
        """At the trip point: hold every pump, then reset or go on."""
        cmd = "reset"
        if self.args.stall_after is not None:
            with open(os.path.join(self.args.ctl, "reached"), "w") as f:
                f.write("proxy.stalled %d %d -\n" % (self.sent, os.getpid()))
            with open(os.path.join(self.args.ctl, "resume")) as f:
                cmd = f.readline().strip() or "reset"
        if cmd == "reset":
            with self.lock:
                conns, self.conns = self.conns, []
            # shutdown() first: close() alone neither wakes a pump
            # thread blocked in recv() on the socket nor, while that
            # thread holds it, ends the connection, which would then
            # stay open and silent.
            for s in conns:
                try:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                 struct.pack("ii", 1, 0))
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                try:
                    s.close()
                except OSError:
                    pass
        self.gate.set()

    def pump(self, src, dst, upstream):
        try:
            while True:
                data = src.recv(16384)
                if not data:
                    break
                if self.args.delay_ms:
                    time.sleep(self.args.delay_ms / 1000.0)
                self.gate.wait()
                n, tripped = len(data), False
                if upstream:
                    n, tripped = self.budget(len(data))
                if n:
                    dst.sendall(data[:n])
                if tripped:
                    self.trip()
                    # After "go" the rest of the chunk follows; after
                    # "reset" the socket is closed and this raises.
                    if data[n:]:
                        dst.sendall(data[n:])
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def serve(self, ls):
        while True:
            c, _ = ls.accept()
            try:
                u = socket.create_connection(("127.0.0.1", self.args.target))
            except OSError:
                c.close()
                continue
            with self.lock:
                self.conns += [c, u]
            threading.Thread(target=self.pump, args=(c, u, True),
                             daemon=True).start()
            threading.Thread(target=self.pump, args=(u, c, False),
                             daemon=True).start()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("target", type=int)
    ap.add_argument("--stall-after", type=int)
    ap.add_argument("--cut-after", type=int)
    ap.add_argument("--ctl")
    ap.add_argument("--delay-ms", type=int, default=0)
    args = ap.parse_args()
    if args.stall_after is not None and args.ctl is None:
        ap.error("--stall-after needs --ctl DIR")
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)
    print("port %d" % ls.getsockname()[1], flush=True)
    Proxy(args).serve(ls)


if __name__ == "__main__":
    sys.exit(main())
