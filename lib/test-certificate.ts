/**
 * A certificate for tests and for `npm run server -- --tls`, made on the spot
 * with the `selfsigned` package (WebCrypto underneath, no network, no openssl
 * binary). Chapter 11 is given this helper: the exercise is to *use* TLS,
 * not to build X.509.
 *
 * The certificate is self-signed: it vouches for itself, so no client trusts
 * it until told to (Node's `ca` option, or NODE_EXTRA_CA_CERTS). That is the
 * point of the tests: a wss client must refuse it by default (RFC 6455 §10.6).
 */
import { isIP } from "node:net";
import { generate } from "selfsigned";

/** A private key and the certificate for it, both PEM text: what `https.createServer()` takes. */
export interface KeyAndCertificate {
  /** `-----BEGIN PRIVATE KEY-----…`: stays with the server. */
  key: string;
  /** `-----BEGIN CERTIFICATE-----…`: public; a client that trusts it passes it as `ca`. */
  cert: string;
}

/**
 * A new self-signed certificate valid for `hosts` (DNS names and IP
 * addresses), and its key. The first host is also the subject's common name,
 * but clients match only the subjectAltName list (RFC 6125 §6.4.4): a name
 * not in `hosts` is refused with ERR_TLS_CERT_ALTNAME_INVALID.
 *
 * An ECDSA P-256 key: a few milliseconds to make, where RSA-2048 takes a
 * hundred or more. Valid from a minute ago (a little clock skew is harmless)
 * for `days` days.
 */
export async function makeTestCertificate(
  hosts: readonly string[] = ["localhost", "127.0.0.1", "::1"],
  days = 1,
): Promise<KeyAndCertificate> {
  if (hosts.length === 0) throw new RangeError("a certificate needs at least one host name or IP address");
  const now = Date.now();
  const pems = await generate([{ name: "commonName", value: hosts[0] }], {
    keyType: "ec",
    curve: "P-256",
    algorithm: "sha256",
    notBeforeDate: new Date(now - 60_000),
    notAfterDate: new Date(now + days * 86_400_000),
    extensions: [
      { name: "basicConstraints", cA: false },
      { name: "keyUsage", digitalSignature: true, critical: true },
      { name: "extKeyUsage", serverAuth: true },
      {
        name: "subjectAltName",
        // Type 2 is a DNS name, type 7 an IP address (RFC 5280 §4.2.1.6).
        altNames: hosts.map((host) => (isIP(host) === 0 ? { type: 2 as const, value: host } : { type: 7 as const, ip: host })),
      },
    ],
  });
  return { key: pems.private, cert: pems.cert };
}
