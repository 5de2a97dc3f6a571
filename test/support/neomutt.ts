/**
 * neomutt as a real, scripted IMAP client. neomutt is a full-screen program,
 * so it runs under script(1), which gives it a pseudo-terminal; the keys it
 * should press come from a `push` line in its config, and the last of them is
 * <quit>. Its HOME is the given directory, so no user or system config
 * (`-n`) and no history leak in.
 *
 * Invariants:
 * - The password is written only into the rc file (mode 0600, inside the
 *   caller's temporary directory), never onto a command line or into output.
 * - The screen output returned has terminal control sequences removed.
 */
import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import path from "node:path";

export interface NeomuttSession {
  /** A temporary directory: HOME, the rc file and anything the keys write. */
  dir: string;
  /** IMAP server on 127.0.0.1 offering STARTTLS, its certificate issued for "localhost". */
  port: number;
  user: string;
  password: string;
  /** PEM file of the server's (self-signed) certificate: trusted through $certificate_file. */
  certificateFile: string;
  /** Keys to press, in neomutt's push syntax (e.g. "<search>~s hello<enter><flag-message>"); <quit> is appended. */
  keys: string;
  /**
   * Keys typed on the terminal, each once the screen (control sequences
   * removed) shows its prompt, in order: for questions neomutt asks the
   * terminal directly (the certificate question ignores pushed keys).
   */
  answers?: { prompt: string; type: string }[];
}

/** Removes CSI/OSC/charset escape sequences and carriage returns from a terminal transcript. */
export function screenText(raw: string): string {
  return raw
    .replace(/\x1b\[[0-9;?]*[ -/]*[@-~]/g, " ")
    .replace(/\x1b\][^\x07]*\x07/g, "")
    .replace(/\x1b[()][0-9A-Za-z]/g, "")
    .replace(/\x1b[=>]/g, "")
    .replace(/\r/g, "\n");
}

function rcString(value: string): string {
  if (/["\\`$\n]/.test(value)) throw new Error("neomutt rc value with a character this helper does not quote");
  return `"${value}"`;
}

/** Runs neomutt once against INBOX over STARTTLS, pressing `keys`; resolves with the final screen text. */
export async function runNeomutt(session: NeomuttSession): Promise<string> {
  const rc = path.join(session.dir, "neomuttrc");
  await writeFile(
    rc,
    [
      `set imap_user=${rcString(session.user)}`,
      `set imap_pass=${rcString(session.password)}`,
      `set folder=${rcString(`imap://localhost:${session.port}/`)}`,
      'set spoolfile="+INBOX"',
      // STARTTLS is required, and the self-signed certificate is trusted because it is in this file.
      "set ssl_starttls=yes",
      "set ssl_force_tls=yes",
      `set certificate_file=${rcString(session.certificateFile)}`,
      // No questions: the pushed keys must not be eaten by a prompt.
      "set wait_key=no delete=yes quit=yes move=no confirmappend=no confirmcreate=no",
      'set header_cache="" message_cachedir=""',
      "set sort=date",
      `push ${rcString(`${session.keys}<quit>`)}`,
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
  return new Promise((resolve, reject) => {
    const child = spawn("script", ["-q", "-e", "-c", `stty cols 160 rows 40; exec neomutt -n -F ${rc}`, "/dev/null"], {
      env: { PATH: process.env.PATH, HOME: session.dir, TERM: "xterm", LANG: "C.UTF-8" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const answers = [...(session.answers ?? [])];
    let raw = "";
    let seenUpTo = 0;
    const killer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.stdout.on("data", (chunk: Buffer) => {
      raw += chunk.toString("utf8");
      const text = screenText(raw);
      const next = answers[0];
      if (next && text.indexOf(next.prompt, seenUpTo) >= 0) {
        seenUpTo = text.length;
        answers.shift();
        child.stdin.write(next.type);
      }
    });
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      clearTimeout(killer);
      const text = screenText(raw);
      if (code === 0 && answers.length === 0) resolve(text);
      else reject(new Error(`neomutt ended with ${signal ?? code}${answers.length ? `, never asked "${answers[0].prompt}"` : ""}; last screen: ${text.slice(-400)}`));
    });
  });
}
