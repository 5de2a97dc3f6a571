/**
 * A throw-away certificate authority for TLS tests, made by the test with
 * the openssl CLI: CA-signed server certificates for chosen DNS names, and
 * self-signed ones. Files live in a fresh temporary directory.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface TlsPairData {
  key: string;
  cert: string;
}

export interface TestCa {
  /** PEM of the CA certificate, and a file holding it (for the outboundCaPath setting). */
  caPem: string;
  caPath: string;
  /** A server certificate for these DNS names, signed by the CA. */
  issue(names: string[]): Promise<TlsPairData>;
  /** A self-signed server certificate for these DNS names. */
  selfSigned(names: string[]): Promise<TlsPairData>;
}

const KEY_ARGS = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

export async function createTestCa(): Promise<TestCa> {
  const dir = await mkdtemp(path.join(tmpdir(), "sealbox-ca-"));
  const caKey = path.join(dir, "ca.key");
  const caPath = path.join(dir, "ca.crt");
  await run("openssl", [
    "req", "-x509", ...KEY_ARGS, "-keyout", caKey, "-out", caPath, "-days", "2", "-subj", "/CN=Sealbox Test CA",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  const caPem = await readFile(caPath, "utf8");
  let serial = 0;
  const read = async (key: string, cert: string) => ({ key: await readFile(key, "utf8"), cert: await readFile(cert, "utf8") });
  return {
    caPem,
    caPath,
    async issue(names) {
      const base = path.join(dir, `leaf${++serial}`);
      const ext = `${base}.ext`;
      await writeFile(ext, `subjectAltName=${names.map((n) => `DNS:${n}`).join(",")}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`);
      await run("openssl", ["req", ...KEY_ARGS, "-keyout", `${base}.key`, "-out", `${base}.csr`, "-subj", `/CN=${names[0]}`]);
      await run("openssl", ["x509", "-req", "-in", `${base}.csr`, "-CA", caPath, "-CAkey", caKey, "-set_serial", String(1000 + serial), "-days", "2", "-out", `${base}.crt`, "-extfile", ext]);
      return read(`${base}.key`, `${base}.crt`);
    },
    async selfSigned(names) {
      const base = path.join(dir, `self${++serial}`);
      await run("openssl", [
        "req", "-x509", ...KEY_ARGS, "-keyout", `${base}.key`, "-out", `${base}.crt`, "-days", "2", "-subj", `/CN=${names[0]}`,
        "-addext", `subjectAltName=${names.map((n) => `DNS:${n}`).join(",")}`,
      ]);
      return read(`${base}.key`, `${base}.crt`);
    },
  };
}
