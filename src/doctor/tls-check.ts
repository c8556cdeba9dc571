import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { connect } from "node:tls";
import { isLoopbackName } from "../security/origin-host.js";
import { type Finding, finding } from "./finding.js";
import type { HttpOptions } from "./http.js";

const DAY = 86_400_000;

/** TLS: https with a certificate the client trusts and that is not about to expire; plain HTTP only on loopback. */
export async function checkTls(url: URL, options: HttpOptions): Promise<Finding> {
  if (url.protocol === "http:") {
    const host = url.hostname.replace(/^\[|\]$/g, "");
    return isLoopbackName(host) || host === "::1"
      ? finding("tls", "pass", "plain HTTP on loopback")
      : finding("tls", "fail", "plain HTTP: credentials and session ids cross the network in clear", {
          fix: "terminate TLS in front of the gateway (see deploy/)",
        });
  }
  const port = Number(url.port || 443);
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const ca = options.ca ? readFileSync(options.ca) : undefined;
  return new Promise((resolve) => {
    const socket = connect({
      host,
      port,
      servername: isIP(host) === 0 ? host : undefined,
      ...(ca ? { ca } : {}),
      rejectUnauthorized: false,
      ALPNProtocols: ["http/1.1"],
    });
    socket.setTimeout(options.timeoutMs, () => socket.destroy(new Error("timed out")));
    socket.once("error", (err) =>
      resolve(
        finding("tls", "fail", `TLS handshake failed: ${err.message}`, { fix: "check the certificate and the port" }),
      ),
    );
    socket.once("secureConnect", () => {
      const cert = socket.getPeerCertificate();
      const authorized = socket.authorized;
      const reason = socket.authorizationError ? String(socket.authorizationError) : undefined;
      socket.end();
      const expires = cert.valid_to ? new Date(cert.valid_to).getTime() : Number.NaN;
      const days = Number.isFinite(expires) ? Math.floor((expires - Date.now()) / DAY) : -1;
      const detail = `${socket.getProtocol() ?? "TLS"}, certificate for ${cert.subject?.CN ?? "?"} valid ${days} more day(s)`;
      if (!authorized && options.insecure !== true) {
        resolve(
          finding("tls", "fail", `the certificate is not trusted (${reason})`, {
            detail,
            fix: "serve a certificate chain clients trust (or pass --ca FILE for a private CA)",
          }),
        );
      } else if (!authorized) {
        resolve(finding("tls", "warn", `the certificate is not trusted (${reason}); --insecure`, { detail }));
      } else if (days < 14) {
        resolve(finding("tls", "warn", `the certificate expires in ${days} day(s)`, { detail, fix: "renew it" }));
      } else {
        resolve(finding("tls", "pass", "TLS with a trusted certificate", { detail }));
      }
    });
  });
}
