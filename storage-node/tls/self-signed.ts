/**
 * Local TLS material: a self-signed certificate made once with the `openssl`
 * CLI and reused, and a loader for operator-provided key/cert files.
 *
 * Invariants:
 * - The private key file is created with mode 0600 inside a 0700 directory,
 *   and never logged.
 * - An existing key/cert pair is reused as is; a half-written pair (key
 *   without cert) is regenerated.
 * - The host name is passed to openssl as an argument vector, never through a
 *   shell, and is checked to be a plain DNS name or IP first.
 */
import { execFile } from "node:child_process";
import { chmod, mkdir, readFile, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface TlsMaterial {
  key: string;
  cert: string;
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

/** Reads a PEM key and certificate from the given paths. */
export async function loadTlsFiles(keyPath: string, certPath: string): Promise<TlsMaterial> {
  const [key, cert] = await Promise.all([readFile(keyPath, "utf8"), readFile(certPath, "utf8")]);
  if (!key.includes("PRIVATE KEY")) throw new Error("TLS key file is not a PEM private key");
  if (!cert.includes("BEGIN CERTIFICATE")) throw new Error("TLS certificate file is not a PEM certificate");
  return { key, cert };
}

export async function ensureSelfSignedCertificate(dir: string, hostname: string): Promise<TlsMaterial> {
  if (!/^[A-Za-z0-9.-]{1,253}$/.test(hostname) && !/^[0-9a-fA-F:.]{2,45}$/.test(hostname)) {
    throw new Error("invalid host name for the certificate");
  }
  const keyPath = path.join(dir, "self-signed.key");
  const certPath = path.join(dir, "self-signed.crt");
  if ((await exists(keyPath)) && (await exists(certPath))) return loadTlsFiles(keyPath, certPath);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  try {
    await run("openssl", ["version"]);
  } catch {
    throw new Error("the openssl command is needed to make a self-signed certificate (apt-get install openssl)");
  }
  const tmpKey = `${keyPath}.tmp`;
  const tmpCert = `${certPath}.tmp`;
  const isIp = /^[0-9.]+$/.test(hostname) || hostname.includes(":");
  const altNames = isIp ? `IP:${hostname}` : `DNS:${hostname},DNS:localhost,IP:127.0.0.1`;
  try {
    await run("openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
      "-keyout", tmpKey, "-out", tmpCert, "-days", "825",
      "-subj", `/CN=${hostname}`, "-addext", `subjectAltName=${altNames}`,
    ]);
    await chmod(tmpKey, 0o600);
    await rename(tmpCert, certPath);
    await rename(tmpKey, keyPath);
  } finally {
    await rm(tmpKey, { force: true });
    await rm(tmpCert, { force: true });
  }
  return loadTlsFiles(keyPath, certPath);
}
