#!/usr/bin/env python3
"""seeds.py -- writes the seed corpora in tests/fuzz/corpus/<target>/.

Run from the repository root after the op table changes:
    python3 tests/fuzz/seeds.py
Seeds are valid inputs (the fuzzers mutate from there); fuzz_ops seeds use
the envelope form (op by name), so they stay valid when rows are added."""
import hashlib
import json
import os
import re
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
CORPUS = os.path.join(ROOT, "tests", "fuzz", "corpus")


def mp(v):
    """A small msgpack encoder (what the protocol uses)."""
    if v is None:
        return b"\xc0"
    if v is True:
        return b"\xc3"
    if v is False:
        return b"\xc2"
    if isinstance(v, int):
        if 0 <= v <= 0x7f:
            return bytes([v])
        if -32 <= v < 0:
            return struct.pack("b", v)
        if v >= 0:
            return b"\xcf" + struct.pack(">Q", v)
        return b"\xd3" + struct.pack(">q", v)
    if isinstance(v, float):
        return b"\xcb" + struct.pack(">d", v)
    if isinstance(v, str):
        b = v.encode()
        if len(b) < 32:
            return bytes([0xa0 | len(b)]) + b
        return b"\xda" + struct.pack(">H", len(b)) + b
    if isinstance(v, bytes):
        return b"\xc4" + bytes([len(v)]) + v
    if isinstance(v, list):
        out = bytes([0x90 | len(v)]) if len(v) < 16 else \
            b"\xdc" + struct.pack(">H", len(v))
        return out + b"".join(mp(x) for x in v)
    if isinstance(v, dict):
        out = bytes([0x80 | len(v)]) if len(v) < 16 else \
            b"\xde" + struct.pack(">H", len(v))
        return out + b"".join(mp(k) + mp(x) for k, x in v.items())
    raise TypeError(v)


def write(target, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def frame(obj):
    body = mp(obj)
    return struct.pack(">I", len(body)) + body


ROLES = {"none": 0, "patient": 1, "doctor": 2, "receptionist": 3, "admin": 4}
T = 1767261600  # 2026-01-01 10:00 UTC, a Thursday

# Valid-looking arguments for the ops a clinic uses most.
EXAMPLES = [
    ("none", "hello", {"version": 1}),
    ("none", "health", {}),
    ("none", "auth.login", {"email": "patient@test.com", "password": "password123"}),
    ("none", "auth.register", {"email": "new@example.org", "password": "Vq7#mLp2@xNe9!kR",
                               "full_name": "New Person", "phone": "+15550100"}),
    ("none", "auth.resume", {"token": "A" * 43}),
    ("patient", "auth.me", {}),
    ("patient", "auth.change_password", {"old_password": "password123",
                                         "new_password": "Hz4$tWq8&cJu3?bY"}),
    ("admin", "users.list", {"role": "doctor", "limit": 10, "offset": 0}),
    ("admin", "users.get", {"id": 1}),
    ("admin", "users.create", {"email": "d2@example.org", "full_name": "Dr Two",
                               "role": "doctor", "password": "Vq7#mLp2@xNe9!kR"}),
    ("admin", "users.update", {"id": 3, "full_name": "Renamed", "phone": "+15550101"}),
    ("admin", "users.deactivate", {"id": 7}),
    ("admin", "audit.list", {"limit": 5}),
    ("admin", "audit.verify", {}),
    ("receptionist", "patients.create", {"full_name": "Ann Lee",
                                         "date_of_birth": "1980-02-03",
                                         "phone": "+15550102",
                                         "email": "ann@example.org"}),
    ("receptionist", "patients.search", {"q": "smith", "limit": 10}),
    ("doctor", "patients.get", {"id": 1}),
    ("receptionist", "patients.update", {"id": 1, "phone": "+15550103"}),
    ("patient", "doctors.list", {}),
    ("patient", "doctors.get", {"id": 2}),
    ("patient", "availability.get", {"doctor_id": 2}),
    ("doctor", "availability.set", {"doctor_id": 2, "weekly": [
        {"weekday": 1, "start": "09:00", "end": "17:00"}]}),
    ("patient", "appt.slots", {"doctor_id": 2, "date": "2026-01-05"}),
    ("patient", "appt.book", {"doctor_id": 2, "starts_at": T, "reason": "check-up"}),
    ("receptionist", "appt.book", {"doctor_id": 2, "patient_id": 1, "starts_at": T,
                                   "type_id": 1, "overbook": False}),
    ("receptionist", "appt.hold", {"doctor_id": 2, "starts_at": T}),
    ("receptionist", "appt.walk_in", {"doctor_id": 2, "patient_id": 1}),
    ("receptionist", "appt.cancel_day", {"doctor_id": 2, "date": "2026-01-05",
                                         "reason": "sick"}),
    ("receptionist", "appt.book_recurring", {"doctor_id": 2, "patient_id": 1,
                                             "starts_at": T, "every_weeks": 1,
                                             "count": 3}),
    ("doctor", "appt.approve", {"id": 1}),
    ("doctor", "appt.reject", {"id": 1, "reason": "not available"}),
    ("patient", "appt.reschedule", {"id": 1, "starts_at": T + 3600}),
    ("patient", "appt.cancel", {"id": 1, "reason": "better"}),
    ("receptionist", "appt.checkin", {"id": 1}),
    ("doctor", "appt.start", {"id": 1}),
    ("doctor", "appt.complete", {"id": 1, "note": "fine"}),
    ("receptionist", "appt.no_show", {"id": 1}),
    ("patient", "appt.get", {"id": 1}),
    ("receptionist", "appt.list", {"date": "2026-01-05", "status": "approved",
                                   "limit": 20, "offset": 0}),
    ("patient", "appt.history", {"id": 1}),
    ("admin", "stats.appointments", {"from": T - 86400 * 30, "to": T}),
    ("patient", "waitlist.join", {"doctor_id": 2, "date": "2026-01-05"}),
    ("receptionist", "recall.add", {"patient_id": 1, "doctor_id": 2,
                                    "due": "2026-06-01", "reason": "yearly"}),
    ("admin", "daily_cap.set", {"doctor_id": 2, "cap": 10}),
    ("admin", "appt_types.create", {"name": "Consult", "minutes": 30}),
    ("admin", "cancel_reasons.set", {"reasons": ["sick", "travel"]}),
    ("receptionist", "notify.send_reminder", {"id": 1, "channel": "email"}),
    ("patient", "patients.set_reminder_channels", {"email": True, "sms": False}),
    ("patient", "chat.open", {"user_id": 2}),
    ("patient", "chat.list", {}),
    ("patient", "chat.history", {"conversation_id": 1, "before_id": 100, "limit": 20}),
    ("patient", "chat.send", {"conversation_id": 1, "body": "hello doctor",
                              "client_msg_id": "m-1"}),
    ("patient", "chat.read", {"conversation_id": 1, "up_to_id": 5}),
    ("patient", "chat.typing", {"conversation_id": 1}),
    ("patient", "notifications.list", {"unread_only": True, "limit": 10}),
    ("patient", "notifications.read", {"id": 1}),
    ("doctor", "access.break_glass", {"patient_id": 1, "reason": "emergency"}),
    ("doctor", "records.create", {"patient_id": 1, "appointment_id": 1,
                                  "diagnosis": "cold", "notes": "rest\nfluids"}),
    ("doctor", "records.amend", {"id": 1, "notes": "better", "reason": "typo"}),
    ("patient", "records.list", {"patient_id": 1}),
    ("doctor", "rx.create", {"patient_id": 1, "drug": "Paracetamol", "dose": "500 mg",
                             "frequency": "3x daily", "days": 5}),
    ("patient", "rx.list", {}),
    ("doctor", "rx.renew", {"id": 1}),
    ("patient", "rx.print", {"id": 1}),
    ("patient", "patients.history", {"patient_id": 1}),
]


def op_names():
    with open(os.path.join(ROOT, "server", "ops.c")) as f:
        return re.findall(r'^\t\{ "([a-z_.]+)",', f.read(), re.M)


def fuzz_ops():
    n = 1
    for role, op, args in EXAMPLES:
        env = {"id": n, "op": op, "args": args}
        write("fuzz_ops", bytes([0x80 | ROLES[role]]) + mp(env))
        n += 1
    for op in op_names():
        for role in ("patient", "admin"):
            env = {"id": n, "op": op, "args": {}}
            write("fuzz_ops", bytes([0x80 | ROLES[role]]) + mp(env))
            n += 1


def fuzz_frame():
    write("fuzz_frame", frame({"id": 1, "op": "hello", "args": {"version": 1}}))
    write("fuzz_frame", frame({"id": 2, "op": "health"}) +
          frame({"id": 3, "op": "auth.me", "args": None}))
    for role, op, args in EXAMPLES[:20]:
        write("fuzz_frame", frame({"id": 9, "op": op, "args": args}))
    write("fuzz_frame", frame({"id": 4, "op": "x", "args": {"a": [1, -2, 3.5, None,
                                                                True, b"\x00\x01",
                                                                {"b": "c" * 40}]}}))


def fuzz_json():
    for role, op, args in EXAMPLES:
        write("fuzz_json", json.dumps(args).encode())
    write("fuzz_json", b'[1, -1, 1.5e300, "\\u00e9\\ud83d\\ude00", null, true, {"a": []}]')


def fuzz_http():
    get, post, put, patch = 0, 1, 2, 3
    reqs = [
        (get, "/api/health", ""),
        (post, "/api/auth/login", '{"email":"patient@test.com","password":"password123"}'),
        (get, "/api/doctors?specialty=cardio&limit=5", ""),
        (get, "/api/doctors/2", ""),
        (get, "/api/appointments/available-slots?doctorId=2&date=2026-01-05", ""),
        (get, "/api/appointments?status=approved&from=1&to=2&limit=3", ""),
        (post, "/api/appointments", '{"doctor_id":2,"starts_at":%d,"reason":"x"}' % T),
        (patch, "/api/appointments/7", '{"action":"cancel","reason":"sick"}'),
        (patch, "/api/appointments/7", '{"action":"reschedule","starts_at":%d}' % T),
        (get, "/api/appointments/7/ics", ""),
        (get, "/api/messages/3?beforeId=10&limit=5", ""),
        (post, "/api/messages/3", '{"body":"hi","client_msg_id":"a"}'),
        (get, "/api/notifications?unreadOnly=true", ""),
        (put, "/api/me/reminder-channels", '{"email":true,"sms":false}'),
        (get, "/fhir/Patient/1", ""),
        (get, "/fhir/Appointment?patient=Patient/1", ""),
    ]
    for m, path, body in reqs:
        write("fuzz_http", bytes([m]) + path.encode() + b"\n" + body.encode())
    appt = {"id": 7, "status": "approved", "starts_at": T, "ends_at": T + 1800,
            "doctor_name": "Dr. Sarah Chen", "reason": "check-up; ok, fine\nthanks",
            "patient_id": 1, "doctor_id": 2, "created_at": T - 99, "updated_at": T}
    write("fuzz_http", bytes([get]) + b"/api/appointments/7/ics\n" +
          json.dumps(appt).encode())
    write("fuzz_http", bytes([get]) + b"/fhir/Appointment\n" +
          json.dumps([appt, appt]).encode())


def fuzz_channel():
    # 0: a hostile client's hello (magic and a key), header and a record.
    write("fuzz_channel", b"\x00MFE1" + bytes(range(32)) + bytes(24) +
          struct.pack(">I", 40) + bytes(40))
    # 1: genuine records of a few sizes, then a splice.
    write("fuzz_channel", b"\x01" + b"\x00\x10" + b"A" * 16 + b"\x01\x00" +
          b"\x00\x01" + b"\x83abc")
    write("fuzz_channel", b"\x01" + b"\x7f\xff" + b"B" * 100)
    # 2: a hostile server's hello.
    write("fuzz_channel", b"\x02MFE1" + bytes(range(64)) + bytes(24) +
          struct.pack(">I", 17) + bytes(17))
    # "MFE2": hostile clients offering AES-256-GCM and XChaCha20 (with its
    # header), or only a suite nobody runs.
    key = bytes(range(1, 33))
    write("fuzz_channel", b"\x00MFE2\x03" + key + struct.pack(">I", 17) +
          b"A" * 17)
    write("fuzz_channel", b"\x00MFE2\x01" + key + bytes(24) +
          struct.pack(">I", 18) + b"B" * 18)
    write("fuzz_channel", b"\x00MFE2\x04" + key)
    # Genuine streams: byte 0 / 3 picks the offer (0 AES-256-GCM,
    # 1 XChaCha20, 2 the "MFE1" hello).
    write("fuzz_channel", b"\x01" + b"\x00\x10" + b"A" * 16 + b"\x80" +
          b"\x81\x01")
    write("fuzz_channel", b"\x04" + b"\x00\x10" + b"A" * 16 +
          b"\x00\x05abcde")
    write("fuzz_channel", b"\x07" + b"\x00\x10" + b"A" * 16)
    # Hostile servers answering each offer.
    write("fuzz_channel", b"\x02MFE2\x02" + key + key +
          struct.pack(">I", 17) + b"C" * 17)
    write("fuzz_channel", b"\x05MFE2\x01" + key + key + bytes(24) + b"\xff")
    write("fuzz_channel", b"\x08MFE1" + key + key + bytes(24))


if __name__ == "__main__":
    fuzz_ops()
    fuzz_frame()
    fuzz_json()
    fuzz_http()
    fuzz_channel()
