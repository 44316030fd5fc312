#!/usr/bin/python3
"""A real SMTP server for the black-box tests, on Debian's python3-aiosmtpd.

Run it with /usr/bin/python3 (the interpreter that owns python3-aiosmtpd):

    /usr/bin/python3 tests/support/smtp_sink.py --port 0 --dir /tmp/sink [--reject-first N]

It listens on 127.0.0.1:PORT (0: the kernel picks a free port) and, once it accepts
connections, prints one JSON line on stdout: {"port": N}. Every message it accepts is written
to DIR as <n>.eml (n = 1, 2, ...: the raw bytes of the DATA section as received, after SMTP
dot-unstuffing) beside <n>.json (the envelope: mail_from, rcpt_tos, peer, received_at). The
JSON file is written first and each file appears atomically (written under a temporary name,
then renamed), so a reader that sees <n>.eml can read both completely.

--reject-first N answers the first N DATA commands with a transient 451 (the message is not
stored), to exercise a sender's retry against a server that is up but refuses.

SIGTERM or SIGINT: stop listening, close, exit 0.
"""

import argparse
import asyncio
import json
import os
import signal
import sys
import time

from aiosmtpd.smtp import SMTP


class Sink:
    def __init__(self, folder, reject_first):
        self.folder = folder
        self.reject_left = reject_first
        self.count = 0

    def _write(self, name, data):
        temporary = os.path.join(self.folder, "." + name + ".tmp")
        with open(temporary, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.rename(temporary, os.path.join(self.folder, name))

    async def handle_DATA(self, server, session, envelope):
        if self.reject_left > 0:
            self.reject_left -= 1
            return "451 4.3.0 Try again later (test sink rejecting on purpose)"
        self.count += 1
        n = self.count
        raw = envelope.original_content
        if raw is None:
            raw = envelope.content if isinstance(envelope.content, bytes) else envelope.content.encode()
        meta = {
            "n": n,
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "peer": list(session.peer) if isinstance(session.peer, tuple) else str(session.peer),
            "received_at": time.time(),
            "size": len(raw),
        }
        self._write(f"{n}.json", json.dumps(meta).encode())
        self._write(f"{n}.eml", raw)
        return "250 2.0.0 Message accepted for delivery"


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--reject-first", type=int, default=0)
    options = parser.parse_args()

    os.makedirs(options.dir, exist_ok=True)
    sink = Sink(options.dir, options.reject_first)
    loop = asyncio.get_running_loop()
    # A fixed hostname: the default asks the resolver for the FQDN, which can stall offline.
    server = await loop.create_server(
        lambda: SMTP(sink, hostname="smtp-sink.test", ident="invited test sink"),
        host=options.host,
        port=options.port,
        reuse_address=True,
    )
    port = server.sockets[0].getsockname()[1]
    print(json.dumps({"port": port}), flush=True)

    stopping = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await stopping.wait()
    server.close()
    try:
        # Newer Pythons also wait for open client connections here: bound it.
        await asyncio.wait_for(server.wait_closed(), 2)
    except asyncio.TimeoutError:
        pass


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
