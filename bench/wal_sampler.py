#!/usr/bin/env python3
"""Samples the size of one file (a SQLite -wal) every 100 ms until SIGTERM or SIGINT.

Usage: wal_sampler.py FILE OUT
Once its signal handlers are in place it writes STARTED to OUT; on stop, replaces it with one line:
  WAL peak_bytes=N last_bytes=N samples=N missing=N seconds=S
`missing` counts samples when the file did not exist (size 0). bench/run starts one sampler per
measured run and fails the run when the peak passes its bound.
"""
import os
import signal
import sys
import time

path, out = sys.argv[1], sys.argv[2]
stop = False


def request_stop(*_):
    global stop
    stop = True


signal.signal(signal.SIGTERM, request_stop)
signal.signal(signal.SIGINT, request_stop)
with open(out, "w") as f:
    f.write("STARTED\n")  # bench/run waits for this line before it starts the load

peak = last = samples = missing = 0
start = next_at = time.monotonic()
while not stop:
    try:
        last = os.stat(path).st_size
    except FileNotFoundError:
        last = 0
        missing += 1
    peak = max(peak, last)
    samples += 1
    next_at += 0.1
    delay = next_at - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    else:
        next_at = time.monotonic()  # fell behind (a loaded machine): sample at once, then resync

with open(out, "w") as f:
    f.write(f"WAL peak_bytes={peak} last_bytes={last} samples={samples} missing={missing} "
            f"seconds={time.monotonic() - start:.1f}\n")
