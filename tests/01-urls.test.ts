import { describe, expect, test } from "vitest";
import { hostHeader, parseWebSocketUrl } from "@workbook/01-urls";
import type { WebSocketUrl } from "../lib/websocket-url.ts";
import { escapeRegExp, expectThrows } from "./helpers/errors.ts";

/** A message about a bad port names it: the word, or the text given as the port. */
const namingPort = (port: string): RegExp => new RegExp(`port|${escapeRegExp(port)}`, "i");

/** Parses `input` and compares all four parts, saying which part is wrong. */
function expectParsed(input: string, expected: WebSocketUrl, rule: string): void {
  const got = parseWebSocketUrl(input);
  for (const part of ["secure", "host", "port", "resourceName"] as const) {
    expect(got[part], `${rule}: ${part} of ${input} should be ${JSON.stringify(expected[part])}`).toEqual(expected[part]);
  }
}

describe("Step 1 — read a ws: or wss: URI: parseWebSocketUrl", () => {
  test("§3: the notes' example wss://example.com:443/websocket/demo?foo=bar taken apart", () => {
    expectParsed(
      "wss://example.com:443/websocket/demo?foo=bar",
      { secure: true, host: "example.com", port: 443, resourceName: "/websocket/demo?foo=bar" },
      "wss means TLS; the resource name is the path with its query",
    );
  });

  test("§3: ws without a port uses port 80", () => {
    expectParsed("ws://example.com/chat", { secure: false, host: "example.com", port: 80, resourceName: "/chat" }, "§3");
  });

  test("§3: wss without a port uses port 443", () => {
    expectParsed("wss://example.com/chat", { secure: true, host: "example.com", port: 443, resourceName: "/chat" }, "§3");
  });

  test("§3: an explicit port is used as given", () => {
    expectParsed("ws://localhost:8080/", { secure: false, host: "localhost", port: 8080, resourceName: "/" }, "§3");
    expectParsed("wss://127.0.0.1:9/x", { secure: true, host: "127.0.0.1", port: 9, resourceName: "/x" }, "§3");
  });

  test("§3: ws://host:/ with an empty port means the default port", () => {
    expectParsed("ws://example.com:/", { secure: false, host: "example.com", port: 80, resourceName: "/" }, "RFC 3986 §3.2.3");
  });

  test("§3: an empty path becomes / in the resource name", () => {
    expectParsed("ws://example.com", { secure: false, host: "example.com", port: 80, resourceName: "/" }, "§3");
  });

  test("§3: the query is kept, with its ?, even with an empty path", () => {
    expectParsed(
      "ws://example.com?room=1&user=a",
      { secure: false, host: "example.com", port: 80, resourceName: "/?room=1&user=a" },
      "§3: resource name = path (or /) + ? + query",
    );
    expectParsed("ws://example.com/a/b/?q", { secure: false, host: "example.com", port: 80, resourceName: "/a/b/?q" }, "§3");
  });

  test("§3: an empty query adds no ? to the resource name", () => {
    expectParsed("ws://example.com/chat?", { secure: false, host: "example.com", port: 80, resourceName: "/chat" }, "§3: \"?\" only if the query is non-empty");
    expectParsed("ws://example.com?", { secure: false, host: "example.com", port: 80, resourceName: "/" }, "§3");
  });

  test("§3: characters beyond ASCII are percent-encoded as UTF-8 in the resource name", () => {
    expectParsed(
      "ws://example.com/café?q=ü",
      { secure: false, host: "example.com", port: 80, resourceName: "/caf%C3%A9?q=%C3%BC" },
      "a request line is ASCII: é travels as %C3%A9 (RFC 3986 §2.5)",
    );
  });

  test("§3: the scheme and the host are case-insensitive", () => {
    expectParsed(
      "WSS://Example.COM/Path",
      { secure: true, host: "example.com", port: 443, resourceName: "/Path" },
      "RFC 3986 §3.1, §3.2.2: scheme and host are case-insensitive, the path is not",
    );
  });

  test("§3: an IPv6 address is written in brackets; the host comes back without them", () => {
    expectParsed("ws://[::1]:8080/echo", { secure: false, host: "::1", port: 8080, resourceName: "/echo" }, "RFC 3986 §3.2.2");
    expectParsed(
      "wss://[2001:DB8::7]/",
      { secure: true, host: "2001:db8::7", port: 443, resourceName: "/" },
      "RFC 3986 §3.2.2",
    );
  });

  test("§3, §4.1 MUST: other schemes are refused with a SyntaxError naming the scheme", () => {
    for (const input of ["http://example.com/", "https://example.com/", "ftp://example.com/"]) {
      const scheme = input.slice(0, input.indexOf(":"));
      // Naming the scheme: the one given, or the ones a WebSocket URI may have.
      expectThrows(() => parseWebSocketUrl(input), SyntaxError, `${input} is not a ws: or wss: URI`, new RegExp(`${scheme}|ws`, "i"));
    }
  });

  test("§3 MUST NOT: a fragment is refused with a SyntaxError, even an empty one", () => {
    for (const input of ["ws://example.com/chat#top", "ws://example.com/#", "wss://example.com#x"]) {
      expectThrows(() => parseWebSocketUrl(input), SyntaxError, `${input} has a fragment`);
    }
  });

  test("§3: relative URIs are refused with a SyntaxError", () => {
    for (const input of ["/chat", "example.com/chat", "//example.com/chat", ""]) {
      expectThrows(() => parseWebSocketUrl(input), SyntaxError, `"${input}" is not an absolute ws: URI`);
    }
  });

  test("§3: a missing host is refused with a SyntaxError", () => {
    for (const input of ["ws:///chat", "ws://:80/"]) {
      expectThrows(() => parseWebSocketUrl(input), SyntaxError, `${input} has no host`);
    }
  });

  test("§3: a port that is not 1..65535 is refused with a SyntaxError naming the port", () => {
    for (const port of ["0", "65536", "http", "-1"]) {
      const input = `ws://example.com:${port}/`;
      expectThrows(() => parseWebSocketUrl(input), SyntaxError, `${input} has a bad port`, namingPort(port));
    }
  });

  test("§3: user info (user@host) is not part of a ws URI and is refused", () => {
    for (const input of ["ws://alice@example.com/", "wss://alice:secret@[::1]:8443/"]) {
      expectThrows(() => parseWebSocketUrl(input), SyntaxError, `${input}: the ws-URI grammar has no user info`);
    }
  });

  test("§3: whitespace and control characters must be percent-encoded and are refused", () => {
    for (const input of ["ws://example.com/a b", "ws://example.com/a\tb", "ws://example.com/\u0000", "ws://example.com/\u007f"]) {
      expectThrows(() => parseWebSocketUrl(input), SyntaxError, `${JSON.stringify(input)}: a request line cannot carry it`);
    }
  });

  test("a value that is not a string is a caller's mistake: TypeError", () => {
    expectThrows(() => parseWebSocketUrl(42 as unknown as string), TypeError, "parseWebSocketUrl(42)");
  });

  test("§3, RFC 3986 §3.1: a scheme starts with a letter; nothing may come before it", () => {
    for (const input of ["1ws://example.com/", "xws://example.com/", "-wss://example.com/"]) {
      expectThrows(() => parseWebSocketUrl(input), SyntaxError, `${input} is not a ws: or wss: URI`);
    }
  });

  test("§3, the workbook's policy: a host name is letters, digits, - and . as DNS names are; ws://ex!ample.com/ is refused, naming the host", () => {
    for (const host of ["ex!ample.com", "example.com!", "exa%6dple.com", "example..com", ".example.com"]) {
      const input = `ws://${host}/`;
      // Naming the host: the word, or the name itself.
      expectThrows(() => parseWebSocketUrl(input), SyntaxError, `${input}: the host is not a name DNS can look up`, new RegExp(`host|${escapeRegExp(host)}`, "i"));
    }
    expectParsed("ws://my-host_1.example.com./", { secure: false, host: "my-host_1.example.com.", port: 80, resourceName: "/" }, "a name with -, _ and a final dot is a host name");
  });

  test("§3, RFC 3986 §3.2.2: a bracketed host must be an IPv6 address: [zz], [1.2.3.4], [1:2], [1::2::3] are refused", () => {
    const bad = ["zz", "1.2.3.4", "1:2", "1::2::3", ":::", "12345::", "1:2:3:4:5:6:7:8:9", "::1:2:3:4:5:6:7:8", ":1", "1.2.3.4::", "::256.1.1.1", "::1.2.3.4.5", "1:2::3:4::5:6:7:8", ""];
    for (const literal of bad) {
      expectThrows(() => parseWebSocketUrl(`ws://[${literal}]/`), SyntaxError, `[${literal}] is not an IPv6 address`);
    }
  });

  test("§3, RFC 3986 §3.2.2: IPv6 addresses in every legal shape are accepted", () => {
    for (const literal of ["::", "::1", "1::", "1:2:3:4:5:6:7:8", "fe80::1:2", "::ffff:192.0.2.1", "1:2:3:4:5:6:192.0.2.1", "::ffff:255.255.255.255", "1:2:3:4:5:6:7::", "ABCD::ef"]) {
      const got = parseWebSocketUrl(`ws://[${literal}]:9/`);
      expect(got.host, `ws://[${literal}]:9/ has the IPv6 host ${literal.toLowerCase()}`).toBe(literal.toLowerCase());
      expect(got.port, `ws://[${literal}]:9/ has port 9`).toBe(9);
    }
  });

  test('§3, RFC 3986 §3.2.2: after "]" only ":port" may follow; a missing "]" is refused', () => {
    for (const input of ["ws://[::1]x/", "ws://[::1]8080/", "ws://[::1]]:80/"]) {
      expectThrows(() => parseWebSocketUrl(input), SyntaxError, `${input}: only ":port" may follow the bracketed address`);
    }
    expectThrows(() => parseWebSocketUrl("ws://[::1/"), SyntaxError, 'ws://[::1/ has no closing "]"');
    expectParsed("ws://[::1]:/", { secure: false, host: "::1", port: 80, resourceName: "/" }, "[::1]: with an empty port means the default port");
  });

  test("§3, RFC 3986 §3.2.3: a port is decimal digits: 0x50, +80, 80.5, 8e1 are refused; 1 and 65535 are ports", () => {
    for (const port of ["0x50", "+80", "80.5", "8e1", "\u0038\u0030\u0660", "1234567"]) {
      expectThrows(() => parseWebSocketUrl(`ws://example.com:${port}/`), SyntaxError, `ws://example.com:${port}/ has no decimal port`, namingPort(port));
    }
    expectParsed("ws://example.com:65535/", { secure: false, host: "example.com", port: 65535, resourceName: "/" }, "65535 is the highest TCP port");
    expectParsed("ws://example.com:1/", { secure: false, host: "example.com", port: 1, resourceName: "/" }, "1 is the lowest TCP port");
    expectParsed("ws://[::1]:65535/", { secure: false, host: "::1", port: 65535, resourceName: "/" }, "65535 after an IPv6 address");
  });

  test("§3: a character beyond the BMP (two UTF-16 code units) is percent-encoded as its four UTF-8 bytes", () => {
    expectParsed(
      "ws://example.com/😀?q=𝄞",
      { secure: false, host: "example.com", port: 80, resourceName: "/%F0%9F%98%80?q=%F0%9D%84%9E" },
      "😀 is U+1F600, f0 9f 98 80 in UTF-8 (RFC 3629); encode the code point, not each surrogate",
    );
  });
});

describe("Step 2 — the Host header: hostHeader", () => {
  const url = (secure: boolean, host: string, port: number): WebSocketUrl => ({ secure, host, port, resourceName: "/" });

  test("§4.1, the workbook's policy: the Host header omits the port when it is the scheme's default (§4.1 asks for :port only for another port)", () => {
    expect(hostHeader(url(false, "example.com", 80)), "ws on port 80: Host is just the name").toBe("example.com");
    expect(hostHeader(url(true, "example.com", 443)), "wss on port 443: Host is just the name").toBe("example.com");
  });

  test("§4.1 MUST: the Host header carries any other port", () => {
    expect(hostHeader(url(false, "example.com", 8080)), "ws on port 8080").toBe("example.com:8080");
    expect(hostHeader(url(true, "example.com", 80)), "wss on port 80 is not the default for wss").toBe("example.com:80");
    expect(hostHeader(url(false, "example.com", 443)), "ws on port 443 is not the default for ws").toBe("example.com:443");
  });

  test("§4.1: an IPv6 address goes back into brackets in the Host header", () => {
    expect(hostHeader(url(false, "::1", 8080)), "IPv6 host with a port").toBe("[::1]:8080");
    expect(hostHeader(url(true, "2001:db8::7", 443)), "IPv6 host on the default port").toBe("[2001:db8::7]");
  });

  test("§3, §4.1: parse and Host header together, for a URL you type", () => {
    expect(hostHeader(parseWebSocketUrl("ws://127.0.0.1:9001/echo")), "ws://127.0.0.1:9001/echo").toBe("127.0.0.1:9001");
  });
});
