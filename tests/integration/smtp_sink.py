#!/usr/bin/python3
"""A real SMTP server on loopback for the reminder tests (aiosmtpd).

Usage: smtp_sink.py OUTDIR [--refuse N] [--refuse-kind KIND] [--hang-mail N]
                   [--slow-data SECONDS]

Listens on 127.0.0.1 on a free port and prints "READY <port>". Each accepted
message is parsed with Python's email package and written to OUTDIR as
msg-NNNN.json (atomically): envelope, decoded headers, text, the .ics
attachment, parser defects, and the raw message. With --refuse N the first
N messages (of X-MediFlow-Kind KIND, if given) get "451 4.3.0" instead; each
refusal is recorded as refused-NNNN.json. With --hang-mail N the first N
transactions never get an answer to MAIL FROM (recorded as hung-NNNN.json),
as if the server stalled mid-send. With --slow-data S every answer to the
end of a message comes S seconds late (where libcurl's SMTP code blocks), or
as soon as OUTDIR/release exists; each message held so is recorded as
data-NNNN.json once it has arrived whole, before the wait. Stops on SIGTERM.
"""
import argparse
import asyncio
import email
import email.policy
import json
import os
import signal
import sys

from aiosmtpd.smtp import SMTP


class Sink:
    def __init__(self, outdir, refuse, refuse_kind, hang_mail, slow_data=0.0):
        self.slow_data = slow_data
        self.outdir = outdir
        self.refuse = refuse
        self.refuse_kind = refuse_kind
        self.hang_mail = hang_mail
        self.accepted = 0
        self.refused = 0
        self.hung = 0
        self.held = 0

    def write(self, name, obj):
        tmp = os.path.join(self.outdir, "." + name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(obj, f, ensure_ascii=False, indent=1)
        os.rename(tmp, os.path.join(self.outdir, name))

    async def handle_MAIL(self, server, session, envelope, address, options):
        if self.hung < self.hang_mail:
            self.hung += 1
            self.write("hung-%04d.json" % self.hung, {"mail_from": address})
            await asyncio.sleep(3600)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.slow_data > 0:
            # The client has sent the end of the message and now waits:
            # say so, then answer late, or when the test lets us.
            self.held += 1
            self.write("data-%04d.json" % self.held,
                       {"rcpt_tos": envelope.rcpt_tos})
            release = os.path.join(self.outdir, "release")
            loop = asyncio.get_running_loop()
            end = loop.time() + self.slow_data
            while loop.time() < end and not os.path.exists(release):
                await asyncio.sleep(0.05)
        raw = envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        kind = str(msg.get("X-MediFlow-Kind", ""))
        if self.refused < self.refuse and (self.refuse_kind is None or
                                           kind == self.refuse_kind):
            self.refused += 1
            self.write("refused-%04d.json" % self.refused,
                       {"kind": kind, "rcpt_tos": envelope.rcpt_tos})
            return "451 4.3.0 Try again later"
        self.accepted += 1
        text = ics = None
        for part in msg.walk():
            ctype = part.get_content_type()
            if ctype == "text/plain" and text is None:
                text = part.get_content()
            elif ctype == "text/calendar":
                ics = part.get_payload(decode=True).decode("utf-8")
        defects = [type(d).__name__ for d in msg.defects]
        for part in msg.walk():
            defects += [type(d).__name__ for d in part.defects]
        self.write("msg-%04d.json" % self.accepted, {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "kind": kind,
            "date": str(msg.get("Date", "")),
            "message_id": str(msg.get("Message-ID", "")),
            "from": str(msg.get("From", "")),
            "to": str(msg.get("To", "")),
            "to_addr": msg["To"].addresses[0].addr_spec if msg["To"] else "",
            "to_name": msg["To"].addresses[0].display_name if msg["To"] else "",
            "subject": str(msg.get("Subject", "")),
            "content_type": msg.get_content_type(),
            "bcc_present": msg.get("Bcc") is not None,
            "text": text,
            "ics": ics,
            "defects": defects,
            "raw": raw.decode("ascii", errors="replace"),
        })
        return "250 2.0.0 OK"


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--refuse", type=int, default=0)
    ap.add_argument("--refuse-kind", default=None)
    ap.add_argument("--hang-mail", type=int, default=0)
    ap.add_argument("--slow-data", type=float, default=0.0)
    args = ap.parse_args()
    sink = Sink(args.outdir, args.refuse, args.refuse_kind, args.hang_mail,
                args.slow_data)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(sink, hostname="mediflow-test-sink"), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    print("READY %d" % port, flush=True)
    await stop.wait()
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
