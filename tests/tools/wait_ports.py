#!/usr/bin/env python3
"""wait_ports.py PID PORT...: exit 0 once every PORT on 127.0.0.1 accepts
connections, 1 as soon as process PID is gone, 2 after 120 s.

One process retries the connections (a server's start-up takes
milliseconds on an idle machine, seconds under load), so a busy machine
makes the wait longer, never the outcome different.
"""
import os
import socket
import sys
import time


def ready(ports):
    for p in ports:
        try:
            socket.create_connection(("127.0.0.1", p), 1).close()
        except OSError:
            return False
    return True


def main():
    pid, ports = int(sys.argv[1]), [int(p) for p in sys.argv[2:]]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return 1
        except PermissionError:
            pass
        if ready(ports):
            return 0
        time.sleep(0.02)
    return 2


if __name__ == "__main__":
    sys.exit(main())
