/**
 * The normative rules of RFC 6455 §4–§7 that an endpoint (client or server)
 * has to follow: one entry per MUST, MUST NOT, SHOULD or SHOULD NOT statement,
 * in the workbook's own words. Rules for intermediaries and for authors of
 * extensions are left out, and so are MAYs.
 *
 * The site's coverage page (docs/reference/coverage.md) and `npm run grade`
 * match these against the tests' names; the rule is in scripts/lib/coverage.ts.
 * `match`, where present, narrows which tests of the same section and strength
 * check this particular rule.
 */
export type Level = "MUST" | "MUST NOT" | "SHOULD" | "SHOULD NOT";

export interface Requirement {
  /** Stable and unique: the section, then a short name. */
  id: string;
  /** RFC 6455 section, without the §: "5.1". */
  section: string;
  level: Level;
  /** Who the rule binds. */
  role: "client" | "server" | "both";
  /** The rule, in our words. */
  statement: string;
  /** A test of this section and strength checks this rule only if its name matches. */
  match?: RegExp;
  /** Anything a reader should know about how the RFC states the rule. */
  note?: string;
  /**
   * Why no test of the workbook checks this rule: it is about what a user
   * interface shows, or about something the workbook's endpoints never do
   * (they keep no pool of connections, never reconnect, use no proxy).
   * Shown on the coverage page instead of "not checked yet".
   */
  whyNoTest?: string;
}

/** The sections the map covers, in order, with their titles in RFC 6455. */
export const sections: readonly { section: string; title: string }[] = [
  { section: "4.1", title: "Client requirements" },
  { section: "4.2.1", title: "Reading the client's opening handshake" },
  { section: "4.2.2", title: "Sending the server's opening handshake" },
  { section: "4.4", title: "Supporting multiple versions" },
  { section: "5.1", title: "Overview: who masks" },
  { section: "5.2", title: "Base framing protocol" },
  { section: "5.3", title: "Client-to-server masking" },
  { section: "5.4", title: "Fragmentation" },
  { section: "5.5", title: "Control frames" },
  { section: "5.5.1", title: "Close" },
  { section: "5.5.2", title: "Ping" },
  { section: "5.5.3", title: "Pong" },
  { section: "5.6", title: "Data frames" },
  { section: "5.8", title: "Extensibility" },
  { section: "6.1", title: "Sending data" },
  { section: "6.2", title: "Receiving data" },
  { section: "7.1.1", title: "Close the WebSocket connection" },
  { section: "7.1.2", title: "Start the closing handshake" },
  { section: "7.1.7", title: "Fail the WebSocket connection" },
  { section: "7.2.1", title: "Client-initiated closure" },
  { section: "7.2.2", title: "Server-initiated closure" },
  { section: "7.2.3", title: "Recovering from abnormal closure" },
  { section: "7.3", title: "Normal closure of connections" },
  { section: "7.4.1", title: "Defined status codes" },
];

export const requirements: readonly Requirement[] = [
  // §4.1 — the client's side of the opening handshake
  {
    id: "4.1-connect",
    section: "4.1",
    level: "MUST",
    role: "client",
    statement: "To connect, open a connection to the server, send the opening request, and read the server's response before anything else.",
    match: /handshake|request has/,
  },
  {
    id: "4.1-valid-uri",
    section: "4.1",
    level: "MUST",
    role: "client",
    statement: "Connect only to a valid ws: or wss: URI (§3); if any part of it is invalid, fail without connecting.",
    match: /\bUR[IL]\b/,
  },
  {
    id: "4.1-one-connecting",
    section: "4.1",
    level: "MUST",
    role: "client",
    statement:
      "Keep at most one connection to the same remote IP address in CONNECTING: a second attempt waits until the first is established or has failed.",
    match: /CONNECTING|at a time/,
    whyNoTest:
      "The workbook's client opens one connection per connect() call and keeps no list of connections in progress, so it never has a second attempt to hold back. The rule is for a client that manages many connections, such as a browser (chapter 09 says so); with the workbook's client, not calling connect() twice at once for the same address is the application's job.",
  },
  {
    id: "4.1-pending-limit",
    section: "4.1",
    level: "SHOULD",
    role: "client",
    statement:
      "When the IP address can't be known (a proxy resolves names), treat each host name as its own remote host and keep the number of pending connections low.",
    match: /pending/,
    whyNoTest:
      "Only for a client behind a proxy that resolves host names; the workbook's client has no proxy support and connects to the address it resolves itself.",
  },
  {
    id: "4.1-proxy",
    section: "4.1",
    level: "SHOULD",
    role: "client",
    statement: "With a proxy configured, ask the proxy to open a TCP connection to the host and port (HTTP CONNECT); without one, connect directly.",
    match: /proxy/i,
    whyNoTest:
      "The workbook's client has no proxy setting: it always connects directly, which is what the rule asks of a client without a proxy, so there is no proxy case to test.",
  },
  {
    id: "4.1-connect-failure",
    section: "4.1",
    level: "MUST",
    role: "client",
    statement: "If the connection can't be opened, directly or through the proxy, fail the WebSocket connection.",
    match: /refused|unreachable|cannot connect/i,
  },
  {
    id: "4.1-tls",
    section: "4.1",
    level: "MUST",
    role: "client",
    statement: "For wss, complete a TLS handshake before sending the opening request, and send everything after it through TLS.",
    match: /\bTLS\b|\bwss\b/,
  },
  {
    id: "4.1-tls-failure",
    section: "4.1",
    level: "MUST",
    role: "client",
    statement: "If the TLS handshake fails (say, the server's certificate doesn't verify), fail the WebSocket connection.",
    match: /\bTLS\b.*fail|certificate/i,
  },
  {
    id: "4.1-sni",
    section: "4.1",
    level: "MUST",
    role: "client",
    statement: "Name the server with the Server Name Indication extension in the TLS handshake.",
    match: /\bSNI\b|server name/i,
  },
  {
    id: "4.1-valid-http",
    section: "4.1",
    level: "MUST",
    role: "client",
    statement: "Make the opening request a valid HTTP request: CRLF line ends, and an empty line after the headers.",
    match: /CRLF|request has/,
  },
  {
    id: "4.1-get",
    section: "4.1",
    level: "MUST",
    role: "client",
    statement: "Use the method GET and HTTP version 1.1 or later.",
    match: /\bGET\b/,
  },
  {
    id: "4.1-request-target",
    section: "4.1",
    level: "MUST",
    role: "client",
    statement: "Ask for the URI's resource name (path and query), or for an absolute http(s) URI with the same host, port and resource name.",
    match: /\bGET\b|resource name/,
  },
  {
    id: "4.1-host",
    section: "4.1",
    level: "MUST",
    role: "client",
    statement: "Send Host with the host, followed by :port only when the port is not the scheme's default.",
    match: /Host|required headers/,
  },
  {
    id: "4.1-upgrade",
    section: "4.1",
    level: "MUST",
    role: "client",
    statement: "Send an Upgrade header that includes websocket.",
    match: /required headers|request has/,
  },
  {
    id: "4.1-connection",
    section: "4.1",
    level: "MUST",
    role: "client",
    statement: "Send a Connection header that includes the token Upgrade.",
    match: /required headers|request has/,
  },
  {
    id: "4.1-key",
    section: "4.1",
    level: "MUST",
    role: "client",
    statement: "Send Sec-WebSocket-Key: the base64 encoding of 16 random bytes.",
    match: /\bkey\b|required headers/i,
  },
  {
    id: "4.1-key-fresh",
    section: "4.1",
    level: "MUST",
    role: "client",
    statement: "Choose the key at random for every connection.",
    match: /new key|fresh key|each connection/,
  },
  {
    id: "4.1-origin",
    section: "4.1",
    level: "MUST",
    role: "client",
    statement: "A browser sends Origin, naming the origin of the script that opens the connection (other clients may).",
    match: /\bOrigin\b/,
  },
  {
    id: "4.1-version",
    section: "4.1",
    level: "MUST",
    role: "client",
    statement: "Send Sec-WebSocket-Version: 13.",
    match: /version 13|required headers/,
  },
  {
    id: "4.1-subprotocol-names",
    section: "4.1",
    level: "MUST",
    role: "client",
    statement: "Offer subprotocols in Sec-WebSocket-Protocol as non-empty HTTP tokens, each name only once.",
    match: /subprotocol names|unique/,
  },
  {
    id: "4.1-wait",
    section: "4.1",
    level: "MUST",
    role: "client",
    statement: "After sending the request, send nothing more until the server's response has arrived.",
    match: /nothing is sent|before the response|waits? for the response/,
  },
  {
    id: "4.1-check-upgrade",
    section: "4.1",
    level: "MUST",
    role: "client",
    statement: "Fail the connection if the response's Upgrade header is missing or isn't websocket (in any case).",
    match: /Upgrade must|sample response/,
  },
  {
    id: "4.1-check-connection",
    section: "4.1",
    level: "MUST",
    role: "client",
    statement: "Fail the connection if the response's Connection header is missing or lacks the token upgrade (in any case).",
    match: /Connection must|sample response/,
  },
  {
    id: "4.1-check-accept",
    section: "4.1",
    level: "MUST",
    role: "client",
    statement: "Fail the connection if Sec-WebSocket-Accept is missing or isn't the value computed from the key it sent (surrounding spaces ignored).",
    match: /Accept\b|sample response/,
  },
  {
    id: "4.1-check-extensions",
    section: "4.1",
    level: "MUST",
    role: "client",
    statement: "Fail the connection if the response names an extension the client didn't offer.",
    match: /extension/,
  },
  {
    id: "4.1-check-subprotocol",
    section: "4.1",
    level: "MUST",
    role: "client",
    statement: "Fail the connection if the response names a subprotocol the client didn't offer.",
    match: /subprotocol the client/,
  },
  {
    id: "4.1-check-rest",
    section: "4.1",
    level: "MUST",
    role: "client",
    statement: "Fail the connection on a 101 response that breaks any other rule for the server's handshake (§4.2.2).",
    match: /does not conform|malformed response/,
  },

  // §4.2.1 — the server reads the request
  {
    id: "4.2.1-get",
    section: "4.2.1",
    level: "MUST",
    role: "server",
    statement: "Refuse, with an HTTP error such as 400, a request that isn't a GET over HTTP/1.1 or later.",
    match: /\bGET\b|HTTP\/1\.0/,
  },
  {
    id: "4.2.1-host",
    section: "4.2.1",
    level: "MUST",
    role: "server",
    statement: "Refuse a request without a Host header.",
    match: /\bHost\b/,
  },
  {
    id: "4.2.1-upgrade",
    section: "4.2.1",
    level: "MUST",
    role: "server",
    statement: "Refuse a request whose Upgrade header doesn't contain websocket (compared in any case).",
    match: /\bUpgrade\b/,
  },
  {
    id: "4.2.1-connection",
    section: "4.2.1",
    level: "MUST",
    role: "server",
    statement: "Refuse a request whose Connection header lacks the token Upgrade (compared in any case).",
    match: /\bConnection\b/,
  },
  {
    id: "4.2.1-key",
    section: "4.2.1",
    level: "MUST",
    role: "server",
    statement: "Refuse a request whose Sec-WebSocket-Key is missing or isn't base64 that decodes to 16 bytes.",
    match: /\bkey\b/i,
  },
  {
    id: "4.2.1-version",
    section: "4.2.1",
    level: "MUST",
    role: "server",
    statement: "Refuse a request without Sec-WebSocket-Version 13 (§4.2.2 says how to answer another version).",
    match: /version/i,
  },
  {
    id: "4.2.1-no-origin",
    section: "4.2.1",
    level: "SHOULD NOT",
    role: "server",
    statement: "Don't take a request without Origin for one that came from a browser.",
    match: /Origin/,
    whyNoTest:
      "A rule about what a server may conclude from a missing header, not about anything it sends: a server can't tell a browser from another client, so no behaviour shows whether it followed the rule.",
  },

  // §4.2.2 — the server answers
  {
    id: "4.2.2-tls",
    section: "4.2.2",
    level: "MUST",
    role: "server",
    statement: "On a TLS port, complete the TLS handshake first; everything after it, the response included, goes through TLS.",
    match: /\bTLS\b|\bwss\b/,
  },
  {
    id: "4.2.2-origin",
    section: "4.2.2",
    level: "MUST",
    role: "server",
    statement: "To turn an origin away, answer with an HTTP error such as 403 Forbidden and end the handshake there.",
    match: /Origin|403/,
  },
  {
    id: "4.2.2-version",
    section: "4.2.2",
    level: "MUST",
    role: "server",
    statement: "To a version it doesn't speak, answer with an HTTP error such as 426 and a Sec-WebSocket-Version header naming the versions it does.",
    match: /version/i,
  },
  {
    id: "4.2.2-resource",
    section: "4.2.2",
    level: "MUST",
    role: "server",
    statement: "For a resource it doesn't serve, answer with an HTTP error such as 404 Not Found and end the handshake.",
    match: /404|resource/,
    whyNoTest:
      "The workbook's echo server serves every resource name (every path echoes), so no request asks it for a resource it doesn't serve.",
  },
  {
    id: "4.2.2-subprotocol",
    section: "4.2.2",
    level: "MUST",
    role: "server",
    statement: "Pick a subprotocol only from those the client offered in Sec-WebSocket-Protocol.",
    match: /subprotocol/i,
  },
  {
    id: "4.2.2-no-subprotocol",
    section: "4.2.2",
    level: "MUST NOT",
    role: "server",
    statement: "Send no Sec-WebSocket-Protocol header when agreeing to none of the offered subprotocols.",
    match: /subprotocol/i,
  },
  {
    id: "4.2.2-extensions",
    section: "4.2.2",
    level: "MUST NOT",
    role: "server",
    statement: "Accept extensions only from those the client offered: never list one it didn't.",
    match: /extension/i,
  },
  {
    id: "4.2.2-101",
    section: "4.2.2",
    level: "MUST",
    role: "server",
    statement: "Accept with a valid HTTP response whose status is 101 Switching Protocols.",
    match: /\b101\b|sample request/,
  },
  {
    id: "4.2.2-upgrade-connection",
    section: "4.2.2",
    level: "MUST",
    role: "server",
    statement: "Send Upgrade: websocket and Connection: Upgrade in the 101 response.",
    match: /\b101\b.*Upgrade/,
  },
  {
    id: "4.2.2-accept",
    section: "4.2.2",
    level: "MUST",
    role: "server",
    statement:
      "Send Sec-WebSocket-Accept: the base64 of the SHA-1 of the key as received (not decoded) followed by the GUID 258EAFA5-E914-47DA-95CA-C5AB0DC85B11.",
    match: /Accept|accept value|\bkey\b|worked example/,
  },

  // §4.4
  {
    id: "4.4-versions",
    section: "4.4",
    level: "MUST",
    role: "server",
    statement: "When refusing a version, list every version it is willing to speak in Sec-WebSocket-Version.",
  },

  // §5.1 — who masks
  {
    id: "5.1-client-masks",
    section: "5.1",
    level: "MUST",
    role: "client",
    statement: "Mask every frame sent to the server, over TLS too.",
    match: /client masks/,
  },
  {
    id: "5.1-server-fails-unmasked",
    section: "5.1",
    level: "MUST",
    role: "server",
    statement: "Close the connection when a frame from the client is not masked (1002 may say why).",
    match: /unmasked/,
  },
  {
    id: "5.1-server-no-mask",
    section: "5.1",
    level: "MUST NOT",
    role: "server",
    statement: "Never mask a frame sent to the client.",
    match: /never masked|server's frames/,
  },
  {
    id: "5.1-client-fails-masked",
    section: "5.1",
    level: "MUST",
    role: "client",
    statement: "Close the connection when a frame from the server is masked (1002 may say why).",
    match: /masked server frame|masked frame from the server/,
  },

  // §5.2 — the frame format
  {
    id: "5.2-rsv-zero",
    section: "5.2",
    level: "MUST",
    role: "both",
    statement: "Send RSV1, RSV2 and RSV3 as 0, unless a negotiated extension gives them a meaning.",
    match: /RSV.*(?:sent|clear|zero)|(?:send|sent).*RSV/,
  },
  {
    id: "5.2-rsv-fail",
    section: "5.2",
    level: "MUST",
    role: "both",
    statement: "Fail the connection on a frame with an RSV bit set that no negotiated extension explains.",
    match: /RSV/,
  },
  {
    id: "5.2-opcode-fail",
    section: "5.2",
    level: "MUST",
    role: "both",
    statement: "Fail the connection on an opcode it doesn't know (without extensions: every reserved one).",
    match: /opcode/,
  },
  {
    id: "5.2-length-msb",
    section: "5.2",
    level: "MUST",
    role: "both",
    statement: "Keep the most significant bit of a 64-bit extended length at 0.",
    match: /64-bit|most significant/,
  },
  {
    id: "5.2-length-minimal",
    section: "5.2",
    level: "MUST",
    role: "both",
    statement: "Write the payload length in the fewest bytes: in the 7-bit field up to 125, in 16 bits up to 65535, in 64 bits above.",
    match: /bytes (?:fit|use|and more)|minimal|boundaries/,
  },

  // §5.3 — masking
  {
    id: "5.3-mask-bit",
    section: "5.3",
    level: "MUST",
    role: "client",
    statement: "Set the MASK bit on a masked frame (its key follows the length).",
    match: /MASK bit/,
  },
  {
    id: "5.3-fresh-key",
    section: "5.3",
    level: "MUST",
    role: "client",
    statement: "Pick a new 32-bit masking key for every frame.",
    match: /fresh|new key|32-bit/,
  },
  {
    id: "5.3-entropy",
    section: "5.3",
    level: "MUST",
    role: "client",
    statement: "Draw masking keys from a strong source of randomness (crypto.getRandomValues, never Math.random).",
    match: /entropy/,
  },
  {
    id: "5.3-unpredictable",
    section: "5.3",
    level: "MUST NOT",
    role: "client",
    statement: "Never let one frame's key help predict the next one's.",
    match: /differ|entropy/,
  },
  {
    id: "5.3-algorithm",
    section: "5.3",
    level: "MUST",
    role: "both",
    statement: "Mask and unmask the same way: byte i of the payload is XORed with byte i mod 4 of the key.",
    match: /XOR|follows the rule/,
    note: "The RFC gives the algorithm as a definition, without a keyword; a frame masked any other way can't be read.",
  },

  // §5.4 — fragmentation
  {
    id: "5.4-control-not-fragmented",
    section: "5.4",
    level: "MUST NOT",
    role: "both",
    statement: "Never fragment a control frame.",
    match: /control frame/,
  },
  {
    id: "5.4-order",
    section: "5.4",
    level: "MUST",
    role: "both",
    statement: "Deliver a message's fragments in the order they were sent.",
    match: /\border\b/,
  },
  {
    id: "5.4-no-interleave",
    section: "5.4",
    level: "MUST NOT",
    role: "both",
    statement: "Never interleave the fragments of two messages (unless a negotiated extension can tell them apart).",
    match: /interleave/,
  },
  {
    id: "5.4-control-between",
    section: "5.4",
    level: "MUST",
    role: "both",
    statement: "Handle control frames that arrive between the fragments of a message.",
    match: /between/,
  },
  {
    id: "5.4-receive-both",
    section: "5.4",
    level: "MUST",
    role: "both",
    statement: "Accept messages both whole, in one frame, and fragmented.",
    match: /unfragmented/,
  },
  {
    id: "5.4-fragment-type",
    section: "5.4",
    level: "MUST",
    role: "both",
    statement:
      "Give every fragment the type of the message's first frame: the first carries text or binary, the rest are continuations (opcode 0), and only the last has FIN set.",
    match: /continuation/,
    note: "The MUST is on the type of the fragments; the shape of a fragmented message is given as a definition in the same section.",
  },

  // §5.5 — control frames
  {
    id: "5.5-control-125",
    section: "5.5",
    level: "MUST",
    role: "both",
    statement: "Keep every control frame's payload at 125 bytes or less.",
    match: /12[345]/,
  },
  {
    id: "5.5-control-fin",
    section: "5.5",
    level: "MUST NOT",
    role: "both",
    statement: "Never fragment a control frame: its FIN bit is always set.",
    match: /fragmented|FIN/,
  },

  // §5.5.1 — close
  {
    id: "5.5.1-code-first",
    section: "5.5.1",
    level: "MUST",
    role: "both",
    statement: "Start a non-empty close payload with the status code: 2 bytes, most significant first.",
    match: /status code/,
  },
  {
    id: "5.5.1-reason-hidden",
    section: "5.5.1",
    level: "MUST NOT",
    role: "client",
    statement: "Don't show the close reason to the end user: it isn't meant to be read by people.",
    match: /\bshow/,
    whyNoTest:
      "A rule about what a user interface displays: the workbook has none. Its client hands the reason to the application, which decides what its user sees.",
  },
  {
    id: "5.5.1-no-data-after-close",
    section: "5.5.1",
    level: "MUST NOT",
    role: "both",
    statement: "Send no more data frames after sending a close frame.",
    match: /no data after|after close/,
  },
  {
    id: "5.5.1-answer-close",
    section: "5.5.1",
    level: "MUST",
    role: "both",
    statement: "Having received a close frame without having sent one, send a close frame back.",
    match: /answered/,
  },
  {
    id: "5.5.1-answer-soon",
    section: "5.5.1",
    level: "SHOULD",
    role: "both",
    statement: "Send that answering close frame as soon as practical (finishing a message in progress first is allowed).",
  },
  {
    id: "5.5.1-close-tcp",
    section: "5.5.1",
    level: "MUST",
    role: "both",
    statement: "Once close frames have gone both ways, consider the connection closed and close TCP.",
    match: /CLOSED|TCP/,
  },
  {
    id: "5.5.1-server-closes-now",
    section: "5.5.1",
    level: "MUST",
    role: "server",
    statement: "A server closes TCP right away once the closing handshake is done.",
    match: /server closes|right away|at once/,
  },
  {
    id: "5.5.1-client-waits",
    section: "5.5.1",
    level: "SHOULD",
    role: "client",
    statement: "A client waits for the server to close TCP (it may give up after a reasonable time).",
  },

  // §5.5.2, §5.5.3 — ping and pong
  {
    id: "5.5.2-answer-ping",
    section: "5.5.2",
    level: "MUST",
    role: "both",
    statement: "Answer every ping with a pong, unless a close frame has already been received.",
    match: /ping/,
  },
  {
    id: "5.5.2-pong-soon",
    section: "5.5.2",
    level: "SHOULD",
    role: "both",
    statement: "Send that pong as soon as practical.",
  },
  {
    id: "5.5.3-same-data",
    section: "5.5.3",
    level: "MUST",
    role: "both",
    statement: "Give a pong that answers a ping exactly the ping's application data.",
    note: 'The RFC writes this "must" in lower case; every implementation treats it as a requirement.',
  },

  // §5.6, §5.8
  {
    id: "5.6-utf8",
    section: "5.6",
    level: "MUST",
    role: "both",
    statement: "Make every text message valid UTF-8 as a whole; one fragment may end inside a character, the message may not.",
  },
  {
    id: "5.8-negotiate",
    section: "5.8",
    level: "MUST",
    role: "both",
    statement: "Use an extension only after both ends agreed on it in the opening handshake.",
  },

  // §6.1 — sending a message
  {
    id: "6.1-open",
    section: "6.1",
    level: "MUST",
    role: "both",
    statement: "Send a message only while the connection is OPEN, and stop if its state changes meanwhile.",
    match: /OPEN|state/,
  },
  {
    id: "6.1-opcode",
    section: "6.1",
    level: "MUST",
    role: "both",
    statement: "Give the message's first frame the opcode of its type: 0x1 for text, 0x2 for binary.",
    match: /opcode|text|binary/,
  },
  {
    id: "6.1-fin",
    section: "6.1",
    level: "MUST",
    role: "both",
    statement: "Set FIN on the message's last frame.",
    match: /FIN/,
  },
  {
    id: "6.1-client-masks",
    section: "6.1",
    level: "MUST",
    role: "client",
    statement: "As a client, mask every frame of the message.",
    match: /mask/,
  },

  // §6.2 — receiving
  {
    id: "6.2-type",
    section: "6.2",
    level: "MUST",
    role: "both",
    statement: "Take a message's type, text or binary, from the opcode of its first frame.",
    match: /type|text|binary/,
  },
  {
    id: "6.2-new-message",
    section: "6.2",
    level: "MUST",
    role: "both",
    statement: "After the frame with FIN set, treat the next data frame as the start of a new message.",
    match: /new message|next message/,
  },
  {
    id: "6.2-server-unmasks",
    section: "6.2",
    level: "MUST",
    role: "server",
    statement: "As a server, unmask the data frames received from the client before using them.",
    match: /unmask/,
  },

  // §7.1 — definitions of closing
  {
    id: "7.1.1-clean-close",
    section: "7.1.1",
    level: "SHOULD",
    role: "both",
    statement: "Close TCP (and TLS, if any) cleanly, throwing away any bytes that still arrive.",
    match: /clean/,
  },
  {
    id: "7.1.1-server-first",
    section: "7.1.1",
    level: "SHOULD",
    role: "both",
    statement: "Normally let the server close TCP first, so that TIME_WAIT stays on the server and the client can reconnect at once.",
    match: /first/,
  },
  {
    id: "7.1.1-server-now",
    section: "7.1.1",
    level: "SHOULD",
    role: "server",
    statement: "A server told to close the connection starts closing TCP at once.",
    match: /server closes|at once|right away/,
  },
  {
    id: "7.1.1-client-waits",
    section: "7.1.1",
    level: "SHOULD",
    role: "client",
    statement: "A client told to close the connection waits for the server to close TCP.",
    match: /client waits/,
  },
  {
    id: "7.1.2-send-close",
    section: "7.1.2",
    level: "MUST",
    role: "both",
    statement: "Start the closing handshake by sending a close frame with the chosen code and reason.",
  },
  {
    id: "7.1.2-close-after-both",
    section: "7.1.2",
    level: "SHOULD",
    role: "both",
    statement: "Once close frames have gone both ways, close the connection (§7.1.1).",
  },
  {
    id: "7.1.7-close",
    section: "7.1.7",
    level: "MUST",
    role: "both",
    statement: "To fail the connection, close it; a client may tell its user what went wrong.",
    match: /clos/,
  },
  {
    id: "7.1.7-server-logs",
    section: "7.1.7",
    level: "SHOULD",
    role: "server",
    statement: "A server that fails a connection logs the problem.",
    match: /\blog/,
  },
  {
    id: "7.1.7-close-frame",
    section: "7.1.7",
    level: "SHOULD",
    role: "both",
    statement: "When failing a connection that was open, first send a close frame with a fitting code (unless the peer can't read it anyway).",
    match: /close frame|code/,
  },
  {
    id: "7.1.7-stop",
    section: "7.1.7",
    level: "MUST NOT",
    role: "both",
    statement: "After failing the connection, process nothing more from the peer, not even its close frame.",
    match: /stays failed|nothing more|process/,
  },

  // §7.2 — abnormal closures
  {
    id: "7.2.1-lost",
    section: "7.2.1",
    level: "MUST",
    role: "client",
    statement: "When the transport drops unexpectedly, fail the WebSocket connection.",
  },
  {
    id: "7.2.1-no-other-close",
    section: "7.2.1",
    level: "SHOULD NOT",
    role: "client",
    statement: "Apart from failing, close the connection only when the application asks to.",
    note: "The same sentence ends §7.1.7.",
  },
  {
    id: "7.2.2-abort",
    section: "7.2.2",
    level: "MUST",
    role: "server",
    statement: "To abort during the opening handshake, a server just closes the connection.",
  },
  {
    id: "7.2.3-backoff",
    section: "7.2.3",
    level: "SHOULD",
    role: "client",
    statement: "Back off when reconnecting after an abnormal closure, so that many clients don't overwhelm a recovering server.",
    match: /back ?off/,
    whyNoTest:
      "The workbook's client never reconnects on its own: after an abnormal closure `closed` reports 1006, and reconnecting is the application's decision, so there is no reconnection to delay.",
  },
  {
    id: "7.2.3-random-first",
    section: "7.2.3",
    level: "SHOULD",
    role: "client",
    statement: "Delay the first reconnection by a random time (anything from 0 to 5 seconds is a sensible start).",
    match: /random|first/,
    whyNoTest:
      "The workbook's client never reconnects on its own (see the rule above): there is no first reconnection to delay.",
  },
  {
    id: "7.2.3-growing",
    section: "7.2.3",
    level: "SHOULD",
    role: "client",
    statement: "Wait longer before each further attempt, for example with truncated binary exponential backoff.",
    match: /longer|exponential/,
    whyNoTest:
      "The workbook's client never reconnects on its own (see the rules above): there are no further attempts to space out.",
  },
  {
    id: "7.3-client-not-arbitrary",
    section: "7.3",
    level: "SHOULD NOT",
    role: "client",
    statement: "A client doesn't close the connection arbitrarily; when it does close, it starts the closing handshake.",
  },

  // §7.4.1 — codes never sent
  {
    id: "7.4.1-no-1005",
    section: "7.4.1",
    level: "MUST NOT",
    role: "both",
    statement: "Never put 1005 (no status received) in a close frame: it only reports that a close frame had no code.",
    match: /1005/,
  },
  {
    id: "7.4.1-no-1006",
    section: "7.4.1",
    level: "MUST NOT",
    role: "both",
    statement: "Never put 1006 (abnormal closure) in a close frame: it only reports a connection that ended without one.",
    match: /1006/,
  },
  {
    id: "7.4.1-no-1015",
    section: "7.4.1",
    level: "MUST NOT",
    role: "both",
    statement: "Never put 1015 (TLS handshake failure) in a close frame: it only reports a failed TLS handshake.",
    match: /1015/,
  },
  {
    id: "7.4.1-1010-reason",
    section: "7.4.1",
    level: "SHOULD",
    role: "client",
    statement: "A client closing with 1010 (mandatory extension) lists the extensions it needs in the reason.",
    match: /1010/,
  },
];
