"""An imaplib session against the Sealbox IMAP server, printing a JSON report.

Usage: imaplib-session.py PORT USER PASSWORD
"""
import imaplib
import json
import socket
import sys

port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
report = {}

MESSAGE = (
    b"From: Bob <bob@example.test>\r\nTo: Alice <alice@example.test>\r\n"
    b"Subject: py one\r\nDate: Sat, 28 Nov 2026 10:00:00 +0000\r\n\r\nHello from Python.\r\n"
)

imap = imaplib.IMAP4("127.0.0.1", port)
typ, _ = imap.login(user, password)
report["login"] = typ
typ, folders = imap.list()
report["list_has_inbox"] = any(b'"INBOX"' in f or f.endswith(b" INBOX") for f in folders)
typ, _ = imap.append("INBOX", r"(\Seen)", None, MESSAGE)
report["append"] = typ
imap.append("INBOX", None, None, MESSAGE.replace(b"py one", b"py two"))
typ, data = imap.select("INBOX")
report["select_exists"] = data[0].decode()
typ, data = imap.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[])")
report["fetch_subject"] = data[0][1].decode().strip()
report["fetch_body_equal"] = data[1][1] == MESSAGE
typ, data = imap.store("2", "+FLAGS", r"(\Flagged)")
report["store_flags"] = typ == "OK" and b"\\Flagged" in data[0]
typ, data = imap.search(None, "FROM", "bob")
report["search"] = data[0].decode()
typ, _ = imap.copy("1", "Archive")
report["copy"] = typ
typ, _ = imap.uid("MOVE", "2", "Trash")
report["move"] = typ
imap.store("1", "+FLAGS", r"(\Deleted)")
typ, data = imap.expunge()
report["expunge"] = [d.decode() for d in data if d is not None]

# IDLE by hand (imaplib in Python 3.11 has no idle()).
tag = imap._new_tag().decode()
imap.send(f"{tag} IDLE\r\n".encode())
line = imap.readline()
assert line.startswith(b"+"), line
other = imaplib.IMAP4("127.0.0.1", port)
other.login(user, password)
other.append("INBOX", None, None, MESSAGE)
other.logout()
imap.sock.settimeout(10)
update = imap.readline().decode().strip()
report["idle_exists"] = update.split(" ")[1] if update.endswith("EXISTS") else update
imap.send(b"DONE\r\n")
while True:
    line = imap.readline()
    if line.startswith(tag.encode()):
        break
typ, _ = imap.logout()
report["logout"] = typ
print(json.dumps(report))
