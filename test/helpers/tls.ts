import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestPki {
  dir: string;
  /** PEM file of the test CA. */
  ca: string;
  /** Certificate and key files for 127.0.0.1 / localhost, signed by the CA (for a server). */
  serverCert: string;
  serverKey: string;
  /** A client certificate signed by the CA (for mutual TLS). */
  clientCert: string;
  clientKey: string;
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

function openssl(dir: string, args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

function issue(dir: string, name: string, cn: string, ext: string, days: number): void {
  openssl(dir, ["req", ...EC, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`]);
  writeFileSync(join(dir, `${name}.ext`), `${ext}\n`);
  openssl(dir, [
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    `${name}.crt`,
    "-days",
    String(days),
    "-extfile",
    `${name}.ext`,
  ]);
}

/**
 * A throwaway CA with a server and a client certificate, made with the real `openssl`, valid `days`
 * (90, as a public CA issues them: `switchyard check` warns under 14); the server's for `serverNames`.
 */
export function makeTestPki(days = 90, serverNames = "IP:127.0.0.1,DNS:localhost"): TestPki {
  const dir = mkdtempSync(join(tmpdir(), "swy-pki-"));
  openssl(dir, [
    "req",
    "-x509",
    ...EC,
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    String(days),
    "-subj",
    "/CN=switchyard-test-ca",
  ]);
  issue(dir, "server", "localhost", `subjectAltName=${serverNames}`, days);
  issue(dir, "client", "switchyard-test-client", "extendedKeyUsage=clientAuth", days);
  const at = (f: string) => join(dir, f);
  return {
    dir,
    ca: at("ca.crt"),
    serverCert: at("server.crt"),
    serverKey: at("server.key"),
    clientCert: at("client.crt"),
    clientKey: at("client.key"),
  };
}
