#!/usr/bin/env python3
"""What the device gives the in-place write pattern, without Riffle.

Each round appends CHUNK bytes to each of four files (a 500 x 1 KiB
PutRecords request over four shards) and makes them durable, by one
`syncfs` or an `fdatasync` per file, from THREADS threads at once.
Prints MB/s. docs/performance.md compares it with the server's figure.

    python3 bench/flush-pattern.py syncfs|fdatasync THREADS [CHUNK] [SECONDS] [DIR]
"""
import ctypes
import os
import sys
import threading
import time

mode, threads = sys.argv[1], int(sys.argv[2])
chunk = int(sys.argv[3]) if len(sys.argv) > 3 else 128 << 10
seconds = float(sys.argv[4]) if len(sys.argv) > 4 else 4.0
directory = sys.argv[5] if len(sys.argv) > 5 else "riffle-flush-pattern"
assert mode in ("syncfs", "fdatasync"), mode

libc = ctypes.CDLL("libc.so.6", use_errno=True)
os.makedirs(directory, exist_ok=True)
files = [os.open(f"{directory}/f{i}", os.O_RDWR | os.O_CREAT | os.O_TRUNC) for i in range(4)]
directory_fd = os.open(directory, os.O_RDONLY)
data = os.urandom(chunk)
ends = [0] * len(files)
lock = threading.Lock()
written = [0]
stop = time.time() + seconds


def rounds():
    while time.time() < stop:
        with lock:
            offsets = list(ends)
            ends[:] = [end + chunk for end in ends]
        for fd, offset in zip(files, offsets):
            os.pwrite(fd, data, offset)
        if mode == "syncfs":
            if libc.syncfs(directory_fd) != 0:
                raise OSError(ctypes.get_errno(), "syncfs")
        else:
            for fd in files:
                os.fdatasync(fd)
        with lock:
            written[0] += chunk * len(files)


start = time.time()
workers = [threading.Thread(target=rounds) for _ in range(threads)]
for worker in workers:
    worker.start()
for worker in workers:
    worker.join()
print(f"{mode}, {threads} threads, {chunk} B a file a round: "
      f"{written[0] / (time.time() - start) / 1e6:.0f} MB/s")
for i in range(len(files)):
    os.unlink(f"{directory}/f{i}")
os.rmdir(directory)
