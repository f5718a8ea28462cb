#!/usr/bin/python3
"""Batch oracle for relais' SMS codec, backed by python-gammu (Debian python3-gammu).

Run with Debian's /usr/bin/python3 (python3-gammu is built for it). Reads one JSON
request on stdin and writes one JSON response on stdout:

  {"decode": [hex, ...],              # gammu.DecodePDU on each (SMSC field included)
   "link":   [[hex, ...], ...],       # gammu.LinkSMS + DecodeSMS: the joined text
   "encode": [{"text", "unicode", "class", "ref", "wide", "layout"}, ...]}
                                      # gammu.EncodeSMS + EncodePDU (docs/modems.md § Oracle
                                      # calls and vectors)

Each result is {"ok": ...} or {"error": "..."} so one odd input does not stop a batch.
Oracle caveats (docs/modems.md § Oracle functions and caveats) handled here: the text
of a 7-bit message with escape characters carries a garbage tail after a NUL, so str
texts are cut at the first "\\x00"; the concatenation reference of EncodeSMS is random,
so it is patched in UDH.Text; DecodePDU drops the timestamp's time zone (not compared).
"""
import datetime
import json
import sys

import gammu

SMSC = "+15550000000"
NUMBER = "+15551234567"


def text_of(sms):
    t = sms.get("Text")
    if isinstance(t, (bytes, bytearray)):
        return {"bytes": bytes(t).hex().upper()}
    if t is None:
        return None
    return t.split("\x00")[0]


def safe(s):
    """Lone surrogates (Debian 3.2.4 returns them raw) cannot be JSON-encoded as UTF-8."""
    if isinstance(s, str):
        return s.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return s


def summary(sms):
    udh = sms.get("UDH") or {}
    dt = sms.get("DateTime")
    out = {
        "type": sms.get("Type"),
        "number": safe(sms.get("Number")),
        "smsc": (sms.get("SMSC") or {}).get("Number"),
        "coding": sms.get("Coding"),
        "class": sms.get("Class"),
        "mr": sms.get("MessageReference"),
        "status": sms.get("DeliveryStatus"),
        "length": sms.get("Length"),
        "udh_type": udh.get("Type"),
        "id8": udh.get("ID8bit"),
        "id16": udh.get("ID16bit"),
        "part": udh.get("PartNumber"),
        "total": udh.get("AllParts"),
        "datetime": dt.isoformat() if isinstance(dt, datetime.datetime) else None,
        "smsc_datetime": None,
    }
    sdt = sms.get("SMSCDateTime")
    if sms.get("Type") == "Status_Report" and isinstance(sdt, datetime.datetime):
        out["smsc_datetime"] = sdt.isoformat()
    t = text_of(sms)
    out["text"] = safe(t) if isinstance(t, str) else t
    return out


def decode(h):
    return summary(gammu.DecodePDU(bytes.fromhex(h)))


def link(hexes):
    parts = [gammu.DecodePDU(bytes.fromhex(h)) for h in hexes]
    linked = gammu.LinkSMS([[p] for p in parts])
    if len(linked) != 1:
        raise ValueError("LinkSMS made %d groups" % len(linked))
    decoded = gammu.DecodeSMS(linked[0])
    if decoded is None:
        return safe(text_of(linked[0][0]))
    return safe(decoded["Entries"][0]["Buffer"])


def encode(req):
    ident = "ConcatenatedTextLong16bit" if req.get("wide") else "ConcatenatedTextLong"
    msgs = gammu.EncodeSMS({"Class": req.get("class", -1), "Unicode": req.get("unicode", False),
                            "Entries": [{"ID": ident, "Buffer": req["text"]}]})
    ref = req.get("ref")
    layout = req.get("layout", "Submit")
    out = []
    for m in msgs:
        m["SMSC"] = {"Location": 0, "Number": SMSC, "Validity": "Max"}
        m["Number"] = req.get("number", NUMBER)
        m["MessageReference"] = 0
        udh = m["UDH"]
        if ref is not None and udh["Type"] == "ConcatenatedMessages":
            t = bytearray(udh["Text"]); t[3] = ref & 0xFF; udh["Text"] = bytes(t)
        elif ref is not None and udh["Type"] == "ConcatenatedMessages16bit":
            t = bytearray(udh["Text"]); t[3] = ref >> 8; t[4] = ref & 0xFF; udh["Text"] = bytes(t)
        if layout == "Deliver":
            m["Type"] = "Deliver"
            m["DateTime"] = datetime.datetime(2024, 5, 6, 7, 8, 9)
        out.append(gammu.EncodePDU(m, layout).hex().upper())
    return out


def each(fn, items):
    res = []
    for item in items:
        try:
            res.append({"ok": fn(item)})
        except Exception as e:  # noqa: BLE001 - report and continue the batch
            res.append({"error": "%s: %s" % (type(e).__name__, e)})
    return res


def main():
    req = json.load(sys.stdin)
    json.dump({"version": list(gammu.Version()),
               "decode": each(decode, req.get("decode", [])),
               "link": each(link, req.get("link", [])),
               "encode": each(encode, req.get("encode", []))}, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
