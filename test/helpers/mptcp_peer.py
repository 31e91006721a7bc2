#!/usr/bin/env python3
"""A minimal MPTCP peer for path manager tests, independent of the code under test.

  mptcp_peer.py server ADDR PORT   accept MPTCP connections and discard what arrives
  mptcp_peer.py client ADDR PORT   connect over MPTCP, print "connected", then send
                                   a few bytes every 20 ms until killed
"""
import socket
import sys
import threading
import time

IPPROTO_MPTCP = 262  # include/uapi/linux/in.h


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def serve(addr, port):
    s = socket.socket(family_of(addr), socket.SOCK_STREAM, IPPROTO_MPTCP)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(16)
    print("listening", flush=True)

    def sink(conn):
        with conn:
            while conn.recv(65536):
                pass

    while True:
        conn, _ = s.accept()
        threading.Thread(target=sink, args=(conn,), daemon=True).start()


def client(addr, port):
    s = socket.socket(family_of(addr), socket.SOCK_STREAM, IPPROTO_MPTCP)
    s.connect((addr, port))
    print("connected", flush=True)
    while True:
        s.sendall(b"x" * 64)
        time.sleep(0.02)


if __name__ == "__main__":
    mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    serve(addr, port) if mode == "server" else client(addr, port)
