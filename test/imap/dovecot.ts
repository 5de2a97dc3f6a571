/**
 * A throwaway Dovecot (Debian's dovecot-imapd) for the parity test and the
 * IMAP benchmark: the same server, the same client, the same machine.
 *
 * Invariants:
 * - Everything Dovecot writes (config, passwd-file, maildirs, sockets, state,
 *   log) lives in one fresh temporary directory, removed by `stop()`.
 * - It listens on 127.0.0.1 on a free high port only (the imaps listener is
 *   disabled); it is never started as a system service and never touches the
 *   standard ports or /etc/dovecot.
 * - The mail processes run as the unprivileged `nobody` account when started
 *   as root (as in CI and this machine); only the mail directory is handed to
 *   that account.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { freePort } from "../support/ports.ts";
import { WireClient } from "./harness.ts";

export const DOVECOT_BINARY = "/usr/sbin/dovecot";

export interface DovecotUser {
  user: string;
  password: string;
}

export interface DovecotOptions {
  users: DovecotUser[];
  /** fsync every write (compare like with like against Sealbox's durable writes). */
  fsync?: boolean;
}

export interface RunningDovecot {
  port: number;
  pid: number;
  /** PIDs of this Dovecot's processes (master and children), for memory figures. */
  processIds(): number[];
  stop(): Promise<void>;
}

export function dovecotInstalled(): boolean {
  return existsSync(DOVECOT_BINARY);
}

function idOf(flag: "-u" | "-g", name: string): number {
  return Number(execFileSync("id", [flag, name]).toString().trim());
}

export async function startDovecot(options: DovecotOptions): Promise<RunningDovecot> {
  if (process.getuid?.() !== 0) throw new Error("the throwaway Dovecot needs root (it drops to nobody for mail)");
  const dir = mkdtempSync(path.join(tmpdir(), "sealbox-dovecot-"));
  // Dovecot's auth and mail processes run as unprivileged users and must reach their files.
  chmodSync(dir, 0o755);
  const port = await freePort();
  const uid = idOf("-u", "nobody");
  const gid = idOf("-g", "nobody");
  mkdirSync(path.join(dir, "mail"), { recursive: true });
  chownSync(path.join(dir, "mail"), uid, gid);
  writeFileSync(
    path.join(dir, "passwd"),
    options.users.map((u) => `${u.user}:{PLAIN}${u.password}:${uid}:${gid}::${dir}/mail/${u.user}::userdb_mail=maildir:${dir}/mail/${u.user}/Maildir\n`).join(""),
  );
  const conf = path.join(dir, "dovecot.conf");
  writeFileSync(
    conf,
    [
      `base_dir = ${dir}/run`,
      `state_dir = ${dir}/state`,
      `log_path = ${dir}/dovecot.log`,
      "protocols = imap",
      "listen = 127.0.0.1",
      "ssl = no",
      "disable_plaintext_auth = no",
      "auth_mechanisms = plain",
      "default_internal_user = dovecot",
      "default_login_user = dovenull",
      `mail_fsync = ${options.fsync === false ? "optimized" : "always"}`,
      // Folders as Sealbox names them: "/" separator, special-use folders announced.
      "namespace inbox {\n  inbox = yes\n  separator = /\n  mailbox Trash {\n    special_use = \\Trash\n  }\n}",
      "mail_max_userip_connections = 1000",
      `passdb {\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u ${dir}/passwd\n}`,
      `userdb {\n  driver = passwd-file\n  args = username_format=%u ${dir}/passwd\n}`,
      `service imap-login {\n  inet_listener imap {\n    address = 127.0.0.1\n    port = ${port}\n  }\n  inet_listener imaps {\n    port = 0\n  }\n  process_limit = 1000\n}`,
      "service imap {\n  process_limit = 1000\n}",
      `service stats {\n  unix_listener stats-reader {\n    mode = 0600\n  }\n  unix_listener stats-writer {\n    mode = 0666\n  }\n}`,
      "",
    ].join("\n"),
  );
  const child: ChildProcess = spawn(DOVECOT_BINARY, ["-F", "-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  for (let attempt = 0; attempt < 100; attempt++) {
    if (child.exitCode !== null) break;
    try {
      const probe = await WireClient.connect(port);
      const greeting = await probe.readLine();
      probe.close();
      if (greeting?.startsWith("* OK")) {
        return {
          port,
          pid: child.pid ?? 0,
          processIds: () => processTree(child.pid ?? 0),
          stop,
        };
      }
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const log = existsSync(path.join(dir, "dovecot.log")) ? readFileSync(path.join(dir, "dovecot.log"), "utf8").split("\n").slice(-10).join("\n") : "";
  await stop();
  throw new Error(`dovecot did not start: ${stderr}${log}`);
}

/** The process and all its descendants (Linux /proc). */
export function processTree(root: number): number[] {
  const out = [root];
  for (let i = 0; i < out.length; i++) {
    const file = `/proc/${out[i]}/task/${out[i]}/children`;
    if (!existsSync(file)) continue;
    for (const pid of readFileSync(file, "utf8").trim().split(/\s+/)) if (pid) out.push(Number(pid));
  }
  return out;
}

/** Proportional set size (kB) of the given processes: shared pages divided among their users. */
export function pssKilobytes(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      const text = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
      const match = /^Pss:\s+(\d+) kB/m.exec(text);
      if (match) total += Number(match[1]);
    } catch {
      // the process ended meanwhile
    }
  }
  return total;
}

/**
 * CPU time (ms) used by the given processes, including children they have
 * already reaped (Dovecot's per-connection imap processes end with their session).
 */
export function cpuMilliseconds(pids: readonly number[]): number {
  const ticksPerSecond = 100; // USER_HZ on Linux
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      // Fields after the command name, which is in parentheses and may contain spaces.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // utime, stime, cutime, cstime are fields 14-17 of stat(5): indexes 11-14 here.
      ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
    } catch {
      // the process ended meanwhile (its time is in its parent's cutime/cstime)
    }
  }
  return (ticks * 1000) / ticksPerSecond;
}
