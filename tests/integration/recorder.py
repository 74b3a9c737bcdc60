"""recorder.py — a recording SMTP far end for the tests (asyncio, in a
thread of the test process): it listens on one or more addresses and keeps
every message it accepts, with the address it was reached on ("ip"), the
client's address ("peer"), the Message-ID, the control-file name from the
smtpcluster Received: header ("ctl") and the time of the final dot ("t").

Per recipient local part: reject* -> 550 5.1.1, always451* -> 451 4.2.1,
flaky* -> 451 4.2.1 the first time, then 250; anything else 250. slow*:
the final dot is answered SLOW seconds after it was recorded. hold_dot
(seconds, default 0) holds every final-dot reply that long after
recording, for a delivery still in flight at a fault. holddot*: the
first message to that address has its final-dot reply held HOLD_S
seconds, or until release_holds() says (earlier); a client that closes
the connection meanwhile has not had its message accepted. Every
record has "acked": True once its 250 was sent (False while held, and
for good when the client gave up first).
pipelining=False: the EHLO reply offers no PIPELINING. rset_reply: the
answer to RSET, after which the connection is closed unless it is a 250
(a far end that dropped an idle connection). eightbitmime=False: no
8BITMIME offered; smtputf8=True: SMTPUTF8 offered. Every record keeps the
MAIL FROM parameters ("mail_params", as sent). dsn=True: the EHLO reply
offers DSN (RFC 3461) and each record also keeps each accepted
recipient's RCPT parameters ("rcpt_params", by address); without it the
far end has no DSN extension. sessions counts the connections, commands
each verb. tls (an ssl.SSLContext for the server side): the EHLO reply offers STARTTLS (before TLS only); STARTTLS is
answered 220 and the handshake run (RFC 3207: the session starts afresh);
a failed handshake closes the connection and counts in tls_failures.
Every record has "tls": the protocol version the message came over
("TLSv1.3"), or None in clear.
"""

import asyncio
import collections
import re
import ssl
import threading
import time


class Recorder:
    """An SMTP server on several loopback addresses that records every
    message it accepts. Per recipient local part: reject* -> 550 5.1.1,
    always451* -> 451 4.2.1, flaky* -> 451 4.2.1 the first time that
    address is seen, then 250; anything else -> 250. A message to slow*
    is recorded at the final dot but answered SLOW seconds later (a
    delivery in flight that a killed node never completes)."""

    SLOW = 0.25
    HOLD_S = 25.0  # holddot*: the first final dot's reply held this long

    def __init__(self, ips, port, hold_dot=0.0, pipelining=True,
                 rset_reply="250 2.0.0 Ok", eightbitmime=True,
                 smtputf8=False, dsn=False, tls=None):
        self.ips, self.port = ips, port
        self.eightbitmime = eightbitmime
        self.smtputf8 = smtputf8
        self.dsn = dsn
        self.tls = tls
        self.tls_failures = 0
        self.hold_dot = hold_dot
        self.release_at = None  # monotonic time the holddot* holds end
        self.pipelining = pipelining
        self.rset_reply = rset_reply
        self.sessions = 0
        self.commands = collections.Counter()
        self.lock = threading.Lock()
        self.msgs = []
        self.seen_rcpt = collections.Counter()
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        self.ready.wait(10)
        if self.error:
            raise self.error

    def _run(self):
        asyncio.set_event_loop(self.loop)
        try:
            self.servers = [self.loop.run_until_complete(
                asyncio.start_server(self._conn, ip, self.port,
                                     reuse_address=True))
                for ip in self.ips]
        except OSError as e:
            self.error = e
            self.ready.set()
            return
        self.ready.set()
        self.loop.run_forever()

    def stop(self):
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)

    def _answer(self, addr):
        local = addr.split("@")[0].lower()
        with self.lock:
            self.seen_rcpt[addr.lower()] += 1
            n = self.seen_rcpt[addr.lower()]
        if local.startswith("reject"):
            return "550 5.1.1 <%s>: user unknown" % addr
        if local.startswith("always451"):
            return "451 4.2.1 <%s>: try again later" % addr
        if local.startswith("flaky") and n == 1:
            return "451 4.2.1 <%s>: not yet" % addr
        return "250 2.1.5 Ok"

    async def _conn(self, reader, writer):
        ip = writer.get_extra_info("sockname")[0]
        peer = (writer.get_extra_info("peername") or ("",))[0]
        mail, rcpts = None, []
        mail_params, rcpt_params = "", {}
        tls = None
        with self.lock:
            self.sessions += 1

        def send(text):
            writer.write((text + "\r\n").encode())

        send("220 recorder ESMTP")
        try:
            while True:
                line = await asyncio.wait_for(reader.readline(), 120)
                if not line:
                    break
                cmd = line.decode("utf-8", "replace").rstrip("\r\n")
                up = cmd.upper()
                with self.lock:
                    self.commands[up.split(" ", 1)[0].split(":", 1)[0]] += 1
                if up.startswith("EHLO"):
                    send("250-recorder\r\n%s%s%s%s%s250 SIZE 52428800"
                         % ("250-PIPELINING\r\n" if self.pipelining else "",
                            "250-8BITMIME\r\n" if self.eightbitmime else "",
                            "250-SMTPUTF8\r\n" if self.smtputf8 else "",
                            "250-DSN\r\n" if self.dsn else "",
                            "250-STARTTLS\r\n"
                            if self.tls is not None and tls is None
                            else ""))
                elif up == "STARTTLS" and self.tls is not None and \
                        tls is None:
                    send("220 2.0.0 ready to start TLS")
                    await writer.drain()
                    try:
                        await writer.start_tls(self.tls)
                    except (ssl.SSLError, OSError):
                        with self.lock:
                            self.tls_failures += 1
                        break
                    tls = writer.get_extra_info("ssl_object").version()
                    mail, rcpts = None, []
                    mail_params, rcpt_params = "", {}
                    continue
                elif up.startswith("HELO"):
                    send("250 recorder")
                elif up.startswith("MAIL FROM:"):
                    m = re.match(r"MAIL FROM:\s*<([^>]*)>(.*)", cmd, re.I)
                    mail, rcpts = (m.group(1) if m else ""), []
                    mail_params = m.group(2).strip() if m else ""
                    rcpt_params = {}
                    send("250 2.1.0 Ok")
                elif up.startswith("RCPT TO:"):
                    m = re.match(r"RCPT TO:\s*<([^>]*)>(.*)", cmd, re.I)
                    addr = m.group(1) if m else ""
                    ans = self._answer(addr)
                    if ans.startswith("250"):
                        rcpts.append(addr)
                        rcpt_params[addr] = m.group(2).strip() if m else ""
                    send(ans)
                elif up == "DATA":
                    if not rcpts:
                        send("554 5.5.1 no valid recipients")
                        continue
                    send("354 go ahead")
                    await writer.drain()
                    data = bytearray()
                    while True:
                        dl = await asyncio.wait_for(reader.readline(), 120)
                        if not dl or dl in (b".\r\n", b".\n"):
                            break
                        if dl.startswith(b".."):
                            dl = dl[1:]
                        data += dl
                    rec = self._record(ip, peer, mail, rcpts, bytes(data),
                                       mail_params, dict(rcpt_params),
                                       tls)
                    if (self._hold_first(rcpts) and
                            not await self._held(reader, rec)):
                        break  # the client gave up: not accepted
                    if any(r.lower().startswith("slow") for r in rcpts):
                        await asyncio.sleep(self.SLOW)
                    if self.hold_dot:
                        await asyncio.sleep(self.hold_dot)
                    send("250 2.0.0 Ok: recorded")
                    with self.lock:
                        rec["acked"] = True
                    rcpts = []
                elif up == "RSET":
                    mail, rcpts = None, []
                    send(self.rset_reply)
                    if not self.rset_reply.startswith("250"):
                        await writer.drain()
                        break
                elif up == "NOOP":
                    send("250 2.0.0 Ok")
                elif up == "QUIT":
                    send("221 2.0.0 Bye")
                    await writer.drain()
                    break
                else:
                    send("502 5.5.2 command not implemented")
                await writer.drain()
        except (asyncio.TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    def _hold_first(self, rcpts):
        """True for the first message to a holddot* address."""
        with self.lock:
            first = [r for r in rcpts if r.lower().startswith("holddot")
                     and self.seen_rcpt[r.lower()] == 1]
        return bool(first)

    def release_holds(self, after=0.0, clear=False):
        """End every holddot* hold (running or to come) `after` seconds
        from now, if HOLD_S does not end it first; clear=True: holds last
        HOLD_S again."""
        with self.lock:
            self.release_at = None if clear else time.monotonic() + after

    async def _held(self, reader, rec):
        """Hold the final-dot reply of rec HOLD_S seconds (or until
        release_holds() says); False when the client closed the connection
        meanwhile."""
        with self.lock:
            rec["held"] = True
        deadline = time.monotonic() + self.HOLD_S
        while True:
            with self.lock:
                end = deadline if self.release_at is None else min(
                    deadline, self.release_at)
            left = end - time.monotonic()
            if left <= 0:
                return True
            try:
                b = await asyncio.wait_for(reader.read(1), min(left, 0.2))
            except asyncio.TimeoutError:
                continue
            except ConnectionError:
                b = b""
            if not b:
                with self.lock:
                    rec["gave_up"] = True
                return False

    def _record(self, ip, peer, mail, rcpts, data, mail_params="",
                rcpt_params=None, tls=None):
        hdrs = data.split(b"\r\n\r\n", 1)[0]
        m = re.search(rb"^Message-ID:\s*(<[^>]*>)", hdrs, re.I | re.M)
        q = re.search(rb"\bid (\S+?)[;\s]", hdrs)
        with self.lock:
            self.msgs.append({
                "ip": ip, "peer": peer, "t": time.time(), "from": mail,
                "rcpts": list(rcpts), "data": data, "acked": False,
                "mail_params": mail_params,
                "rcpt_params": rcpt_params or {},
                "tls": tls,
                "msgid": m.group(1).decode() if m else None,
                "ctl": q.group(1).decode() if q else None})
            return self.msgs[-1]

    def find(self, msgid):
        with self.lock:
            return [m for m in self.msgs if m["msgid"] == msgid]

    def count_ids(self, prefix):
        with self.lock:
            return collections.Counter(
                m["msgid"] for m in self.msgs
                if m["msgid"] and m["msgid"].startswith(prefix))
