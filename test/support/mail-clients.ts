/**
 * The clients the multi-node tests drive a node with: imapflow for IMAP,
 * nodemailer for the MX, and a walk of a node's data directory for at-rest
 * checks. Loopback only; no assertion lives here.
 */
import { readdir } from "node:fs/promises";
import path from "node:path";
import { ImapFlow } from "imapflow";
import nodemailer from "nodemailer";

export interface ImapLogin {
  address: string;
  password: string;
}

/** An imapflow client for a node's plaintext IMAP port (STARTTLS with the node's self-signed certificate). */
export function imapClient(port: number, who: ImapLogin): ImapFlow {
  return new ImapFlow({ host: "127.0.0.1", port, secure: false, auth: { user: who.address, pass: who.password }, logger: false, tls: { rejectUnauthorized: false } });
}

/** A small message whose subject and body carry `marker`, so tests find it and scans can look for it. */
export function markedMessage(to: string, subjectPrefix: string, marker: string): Buffer {
  return Buffer.from(
    `From: <sender@elsewhere.example>\r\nTo: <${to}>\r\nSubject: ${subjectPrefix} ${marker}\r\nMessage-ID: <${marker}@elsewhere.example>\r\n\r\n` +
      `confidential body ${marker}\r\nsecond line\r\n`,
  );
}

/** Sends `raw` to the MX on `port` and returns the server's final reply. */
export async function sendToMx(port: number, to: string, raw: Buffer): Promise<string> {
  const transport = nodemailer.createTransport({ host: "127.0.0.1", port, secure: false, ignoreTLS: true });
  try {
    const info = (await transport.sendMail({ envelope: { from: "sender@elsewhere.example", to: [to] }, raw })) as { response: string };
    return info.response;
  } finally {
    transport.close();
  }
}

/** Every regular file below `dir`. */
export async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(full)));
    else if (entry.isFile()) out.push(full);
  }
  return out;
}
