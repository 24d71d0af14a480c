#!/usr/bin/env python3
"""Writes the starting corpora of the fuzz targets (fuzz/corpus/<target>/seed-*) from the
parity scripts (client bytes), the parity golden transcripts (server replies) and sims/*.toml.
Run from anywhere; the corpora libFuzzer grows from these are minimised and committed."""
import hashlib, pathlib, re

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"


def unescape(text):
    return text.replace("\\r", "\r").replace("\\n", "\n").replace("\\t", "\t").encode()


def client_bytes(script):
    out = b""
    for line in script.read_text().splitlines():
        tag, _, rest = line.partition(" ")
        if tag == ">" or tag == ".":
            out += rest.encode() + b"\r\n"
        elif tag in ("~", "="):
            out += unescape(rest)
    return out


def write(target, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / ("seed-" + hashlib.sha1(data).hexdigest()[:12])).write_bytes(data)


scripts = sorted((ROOT / "tests/parity/scripts").glob("*.smtp"))
for script in scripts:
    data = client_bytes(script)
    for target in ("line_framing", "data_stuffing", "server_session", "interceptor_session"):
        write(target, data)
    for line in re.split(rb"\r?\n", data):
        if line:
            write("command_parse", line)
for golden in sorted((ROOT / "tests/parity/golden").glob("*.txt")):
    replies = [l for l in golden.read_text().splitlines() if not l.startswith("[")]
    data = "".join(l + "\r\n" for l in replies).encode()
    for target in ("reply_parse", "client_session", "interceptor_session"):
        write(target, data)
for sim in sorted((ROOT / "sims").glob("*.toml")):
    write("scenario_load", sim.read_bytes())
for knob in ("timeout=30s", "message_size_limit=60000000", "hard_error_limit=3",
             "reply_banner=\"220 {host} ESMTP\"", "keepalive_interval=2s", "mailboxes=[\"a@b\"]"):
    write("set_values", b"\x00\x00" + knob.encode())
