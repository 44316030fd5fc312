#!/usr/bin/python3
"""A real SMTP server for the black-box tests, on Debian's python3-aiosmtpd.

Run it with /usr/bin/python3 (the interpreter that owns python3-aiosmtpd):

    /usr/bin/python3 tests/support/smtp_sink.py --port 0 --dir /tmp/sink [--reject-first N]
        [--hold-until FILE] [--delay-ms N]

It listens on 127.0.0.1:PORT (or --host HOST; PORT 0: the kernel picks a free port) and, once it
accepts connections, prints one JSON line on stdout: {"port": N}. It offers no STARTTLS (nor
AUTH). Every message it accepts is written
to DIR as <n>.eml (n = 1, 2, ...: the raw bytes of the DATA section as received, after SMTP
dot-unstuffing) beside <n>.json (the envelope: mail_from, rcpt_tos, peer, received_at). The
JSON file is written first and each file appears atomically (written under a temporary name,
then renamed), so a reader that sees <n>.eml can read both completely.

--reject-first N answers the first N DATA commands with a transient 451 (the message is not
stored), to exercise a sender's retry against a server that is up but refuses.

Every MAIL FROM command is noted as m<k>.json ({"k", "mail_from", "received_at"}; k = 1, 2, ...),
so a test can tell that a client never got as far as sending a message.

Every message that reaches the end of DATA is first noted as an arrival, whatever happens to it
next: a<k>.eml (k = 1, 2, ...; the raw bytes) and a<k>.json ({"k", "message_id", "received_at"},
written last; each file atomically). Then:

--hold-until FILE stalls after DATA: the reply waits until FILE exists (a server that takes the
message and then says nothing). A client that gives up or disconnects meanwhile leaves nothing
stored; once FILE exists the message is stored and accepted as usual.

--delay-ms N waits N milliseconds after DATA before storing and accepting the message (a slow
server); a client that disconnects meanwhile leaves nothing stored.

SIGTERM or SIGINT: stop listening, close, exit 0.
"""

import argparse
import asyncio
import email.parser
import json
import os
import signal
import sys
import time

from aiosmtpd.smtp import SMTP


class Sink:
    def __init__(self, folder, reject_first, hold_until, delay_ms):
        self.folder = folder
        self.reject_left = reject_first
        self.hold_until = hold_until
        self.delay_ms = delay_ms
        self.count = 0
        self.arrivals = 0
        self.mail_commands = 0

    def _write(self, name, data):
        temporary = os.path.join(self.folder, "." + name + ".tmp")
        with open(temporary, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.rename(temporary, os.path.join(self.folder, name))

    def _note_arrival(self, raw):
        self.arrivals += 1
        headers = email.parser.BytesHeaderParser().parsebytes(raw)
        meta = {"k": self.arrivals, "message_id": headers.get("Message-ID"), "received_at": time.time()}
        self._write(f"a{self.arrivals}.eml", raw)
        self._write(f"a{self.arrivals}.json", json.dumps(meta).encode())

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.mail_commands += 1
        meta = {"k": self.mail_commands, "mail_from": address, "received_at": time.time()}
        self._write(f"m{self.mail_commands}.json", json.dumps(meta).encode())
        # What aiosmtpd does without this hook.
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content
        if raw is None:
            raw = envelope.content if isinstance(envelope.content, bytes) else envelope.content.encode()
        self._note_arrival(raw)
        if self.reject_left > 0:
            self.reject_left -= 1
            return "451 4.3.0 Try again later (test sink rejecting on purpose)"
        # A client that disconnects while this waits cancels the handler: nothing is stored.
        if self.hold_until:
            while not os.path.exists(self.hold_until):
                await asyncio.sleep(0.02)
        if self.delay_ms:
            await asyncio.sleep(self.delay_ms / 1000)
        self.count += 1
        n = self.count
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
    parser.add_argument("--hold-until")
    parser.add_argument("--delay-ms", type=int, default=0)
    options = parser.parse_args()

    os.makedirs(options.dir, exist_ok=True)
    sink = Sink(options.dir, options.reject_first, options.hold_until, options.delay_ms)
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
