#!/usr/bin/python3
"""A fast SMTP sink for the mail-delivery benchmark, and the client that measures its ceiling.

    bench/counting_smtp_sink.py serve --port 0 --stats FILE
    bench/counting_smtp_sink.py measure --port PORT [--connections 4] [--seconds 5] [--size 4000]

`serve` listens on 127.0.0.1:PORT (0: a free one), prints {"port": N} once it accepts
connections, and accepts every message: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT, nothing
stored, nothing checked. Every 100 ms it writes {"messages": N, "connections": M} to FILE (N
messages accepted so far, M connections opened so far). It is plain asyncio on raw bytes, without
aiosmtpd (the test sink, tests/support/smtp_sink.py, parses and stores every message, and tops
out well below the rate the benchmark needs). SIGTERM or SIGINT: exit 0.

`measure` is the sink's ceiling, for the same run: CONNECTIONS clients send messages of SIZE
bytes back to back, one command at a time and waiting for each reply (MAIL, RCPT, DATA, the
message), as libcurl does, for SECONDS; prints {"messages_per_second": R, "messages": N}. It runs
in a process of its own, so sink and client share the machine the way sink and invited do.
"""

import argparse
import asyncio
import json
import os
import signal
import sys
import time


class SinkProtocol(asyncio.Protocol):
    counts = {"messages": 0, "connections": 0}

    def connection_made(self, transport):
        self.transport = transport
        self.buffer = b""
        self.in_data = False
        SinkProtocol.counts["connections"] += 1
        transport.write(b"220 counting-sink ESMTP\r\n")

    def data_received(self, data):
        self.buffer += data
        replies = []
        while True:
            if self.in_data:
                end = self.buffer.find(b"\r\n.\r\n")
                if end < 0:
                    # Keep only what may hold the start of the terminator.
                    if len(self.buffer) > 4:
                        self.buffer = self.buffer[-4:]
                    break
                self.buffer = self.buffer[end + 5 :]
                self.in_data = False
                SinkProtocol.counts["messages"] += 1
                replies.append(b"250 2.0.0 accepted\r\n")
                continue
            newline = self.buffer.find(b"\r\n")
            if newline < 0:
                break
            line = self.buffer[:newline]
            self.buffer = self.buffer[newline + 2 :]
            verb = line[:4].upper()
            if verb == b"EHLO":
                replies.append(b"250-counting-sink\r\n250-8BITMIME\r\n250 SIZE 10485760\r\n")
            elif verb == b"DATA":
                self.in_data = True
                # A message may start with the terminator's tail: look from the reply on.
                self.buffer = b"\r\n" + self.buffer
                replies.append(b"354 go ahead\r\n")
            elif verb == b"QUIT":
                replies.append(b"221 bye\r\n")
                self.transport.write(b"".join(replies))
                self.transport.close()
                return
            else:  # HELO, MAIL, RCPT, RSET, NOOP
                replies.append(b"250 OK\r\n")
        if replies:
            self.transport.write(b"".join(replies))


async def serve(options):
    loop = asyncio.get_running_loop()
    server = await loop.create_server(SinkProtocol, "127.0.0.1", options.port, backlog=512)
    port = server.sockets[0].getsockname()[1]
    print(json.dumps({"port": port}), flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async def write_stats():
        while True:
            temporary = options.stats + ".tmp"
            with open(temporary, "w") as out:
                json.dump(SinkProtocol.counts, out)
            os.replace(temporary, options.stats)
            await asyncio.sleep(0.1)

    writer = asyncio.ensure_future(write_stats())
    await stop.wait()
    writer.cancel()
    server.close()


async def reply(reader):
    """Reads one (possibly multi-line) reply; returns its code."""
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("the sink closed the connection")
        if line[3:4] != b"-":
            return int(line[:3])


async def client(port, message, deadline, sent):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await reply(reader)
    writer.write(b"EHLO measure\r\n")
    await reply(reader)
    while time.monotonic() < deadline:
        for command in (b"MAIL FROM:<bench@measure.example>\r\n", b"RCPT TO:<to@measure.example>\r\n", b"DATA\r\n"):
            writer.write(command)
            await reply(reader)
        writer.write(message)
        if await reply(reader) != 250:
            raise RuntimeError("the sink refused a message")
        sent[0] += 1
    writer.write(b"QUIT\r\n")
    await reply(reader)
    writer.close()


async def measure(options):
    body = (b"x" * 76 + b"\r\n") * max(1, options.size // 78)
    message = b"Subject: ceiling\r\nMessage-ID: <m@measure.example>\r\n\r\n" + body + b".\r\n"
    sent = [0]
    began = time.monotonic()
    deadline = began + options.seconds
    await asyncio.gather(*(client(options.port, message, deadline, sent) for _ in range(options.connections)))
    took = time.monotonic() - began
    print(json.dumps({"messages_per_second": round(sent[0] / took, 1), "messages": sent[0]}), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve")
    serve_parser.add_argument("--port", type=int, default=0)
    serve_parser.add_argument("--stats", required=True)
    measure_parser = commands.add_parser("measure")
    measure_parser.add_argument("--port", type=int, required=True)
    measure_parser.add_argument("--connections", type=int, default=4)
    measure_parser.add_argument("--seconds", type=float, default=5)
    measure_parser.add_argument("--size", type=int, default=4000)
    options = parser.parse_args()
    asyncio.run(serve(options) if options.command == "serve" else measure(options))
    return 0


if __name__ == "__main__":
    sys.exit(main())
