/**
 * curl as a real IMAP client. Credentials go to curl through its config on
 * stdin, never on the command line, so a failing test cannot print them.
 */
import { spawn } from "node:child_process";

export interface CurlResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function curlImap(url: string, user: string, password: string, extra: string[] = []): Promise<CurlResult> {
  return new Promise((resolve, reject) => {
    const child = spawn("curl", ["-sS", "--max-time", "20", "-K", "-", ...extra, url], { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.once("error", reject);
    child.once("exit", (code) => resolve({ code, stdout, stderr }));
    const quote = (s: string) => s.replace(/\\/g, "\\\\").replace(/"/g, '\\"');
    child.stdin.end(`user = "${quote(user)}:${quote(password)}"\n`);
  });
}
