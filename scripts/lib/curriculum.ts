/**
 * The curriculum: one entry per chapter (DESIGN.md). The site's sidebar, the
 * grader and the watcher all read it, so a chapter is added in one place.
 * Which chapters exist on disk is found out from the files, not written here.
 */
export interface Chapter {
  number: number;
  /** File stem shared by the page, the stub, the solution and the tests: "01-urls". */
  id: string;
  title: string;
  /** RFC 6455 sections the chapter teaches. */
  rfc: string;
  /** What to take away once the tests turn green (shown by `npm run watch`). */
  notice: string;
}

/**
 * The workbook's parts, each from its first chapter on: the site's sidebar and
 * chapter 00's map group the chapters by them, so a chapter added to the
 * curriculum lands in its part without being named here.
 */
export const parts: readonly { first: number; title: string }[] = [
  { first: 0, title: "Part I · The protocol by hand" },
  { first: 10, title: "Part II · Libraries, TLS and extensions" },
  { first: 13, title: "Part III · In production" },
];

/** The chapters of the curriculum, grouped by part; a part with no chapter yet is left out. */
export function chaptersByPart(): { title: string; chapters: Chapter[] }[] {
  return parts
    .map((part, i) => ({
      title: part.title,
      chapters: curriculum.filter((c) => c.number >= part.first && c.number < (parts[i + 1]?.first ?? Infinity)),
    }))
    .filter((part) => part.chapters.length > 0);
}

export const curriculum: readonly Chapter[] = [
  {
    number: 0,
    id: "00-overview",
    title: "What a WebSocket is",
    rfc: "§1",
    notice: "",
  },
  {
    number: 1,
    id: "01-urls",
    title: "WebSocket URIs",
    rfc: "§3",
    notice:
      "A ws: URI is only an address: it tells the client where to open TCP (host, port), whether to start TLS (wss), " +
      "and which resource to ask for in the GET line. The fragment never leaves the client, so the RFC forbids it.",
  },
  {
    number: 2,
    id: "02-handshake",
    title: "The opening handshake",
    rfc: "§1.3, §4",
    notice:
      "The accept value proves that the server read this very request: a cache or a plain HTTP server cannot produce it. " +
      "Everything before the 101 is ordinary HTTP, which is why WebSockets pass through the same ports and proxies.",
  },
  {
    number: 3,
    id: "03-masking",
    title: "Masking",
    rfc: "§5.3, §10.3",
    notice:
      "Masking is an XOR with a key the frame itself carries: it hides nothing from anyone who can read the frame. " +
      "Its job is to make the bytes on the wire unpredictable to the script that chose the payload, so no proxy can be tricked into reading them as HTTP: that is why every frame needs a fresh random key, and why one function both masks and unmasks.",
  },
  {
    number: 4,
    id: "04-frames",
    title: "Frames",
    rfc: "§5.2, §5.5, §5.6",
    notice:
      "A frame header is 2 to 14 bytes, and its first two bytes decide its size: the 7-bit length says whether 0, 2 or 8 more length bytes follow, the MASK bit whether 4 key bytes do. " +
      "That is why a parser can refuse a malformed or oversized frame before reading any payload, and why any chunking of the stream must give the same frames.",
  },
  {
    number: 5,
    id: "05-messages",
    title: "Messages: fragmentation and UTF-8",
    rfc: "§5.4, §5.6, §8.1",
    notice:
      "The assembler never needs the whole message to judge it: the order of opcodes, a running byte count and a tiny UTF-8 state are enough to fail a bad message at its first bad fragment. " +
      "Control frames can slip between fragments only because they are never fragmented themselves.",
  },
  {
    number: 6,
    id: "06-closing",
    title: "The closing handshake",
    rfc: "§5.5.1, §7",
    notice:
      "A close frame is a tiny, strict format: two bytes of code in network order, then at most 123 bytes of UTF-8. " +
      "Some codes never travel: 1005, 1006 and 1015 exist so an API can report what happened, which is why an empty payload reads as 1005 but a peer that sends 1005 has broken the protocol.",
  },
  {
    number: 7,
    id: "07-connection",
    title: "A connection, sans-I/O",
    rfc: "§4–§7",
    notice:
      "Every decision of the protocol now lives in one class that never touches a socket: the same bytes in give the same events and the same bytes out, however TCP cuts them. " +
      "The server and the client that follow are thin shells that only move bytes.",
  },
  {
    number: 8,
    id: "08-echo-server",
    title: "The echo server",
    rfc: "§4.2, §7",
    notice:
      "The server knows almost nothing about WebSockets: " +
      "every protocol decision lives in chapters 02 and 07. The shell only moves bytes, and puts a limit on everything a client could take from it: time, memory and sockets.",
  },
  {
    number: 9,
    id: "09-echo-client",
    title: "The echo client",
    rfc: "§4.1, §7",
    notice:
      "Your client is a thin shell around chapter 07: the only new protocol knowledge is where the HTTP head ends (read it byte-exact and hand whatever follows to the Connection) and who closes TCP. " +
      "The server closes first; the client waits, but never forever. And when a connection is lost, the client comes back apart from the others: a random wait under a doubling, capped ceiling.",
  },
  {
    number: 10,
    id: "10-ws-library",
    title: "The ws library",
    rfc: "",
    notice:
      "Every rule you wrote by hand is still enforced, now inside the library: what is left to you is what the RFC leaves to the application (how big a message may be, who may connect, how long to wait, how to say goodbye). " +
      "Go's x/net/websocket shows that a library can also leave rules out (close codes, reassembly, UTF-8 checks), making them your job again.",
  },
  {
    number: 11,
    id: "11-wss",
    title: "wss: WebSockets over TLS",
    rfc: "§3, §4.1, §10.6",
    notice:
      "You changed the transport and nothing else: the same handshake, frames and closing handshake run inside TLS, which starts before the first byte of HTTP. " +
      "What is new is all TLS: the client names the server (SNI) and gives up before sending any HTTP if the certificate does not name the host it asked for, and the server has one more phase to bound.",
  },
  {
    number: 12,
    id: "12-extensions",
    title: "Extensions and subprotocols: permessage-deflate",
    rfc: "§1.9, §4, §9; RFC 7692",
    notice:
      "An extension is agreed, never assumed: the client offers, the server picks what it can honour and says so, and only then may RSV1 appear on the wire. " +
      "Compression works on whole messages, so the frames stay what chapter 04 made them; what changes is that a message's size is only known once inflated, which is why the limit is enforced while inflating.",
  },
  {
    number: 13,
    id: "13-rooms",
    title: "Rooms and broadcast",
    rfc: "§1.9, §5.6, §7.4.1",
    notice:
      "The hub decides what goes to whom and the shell only writes: that is why one broadcast is encoded once and written many times, and why a member that stops reading is a number (its queued bytes) you can bound, not a mystery. " +
      "A slow reader is closed with 1013 and a flooding sender with 1008, so the room never waits for either.",
  },
  {
    number: 14,
    id: "14-access",
    title: "Who may connect",
    rfc: "§4.2.1, §10",
    notice:
      "Everything that decides who may connect happens before the 101: the Origin a browser cannot fake, the credential in a cookie or a one-time ticket, and the counts per address, each refused with its own HTTP status. " +
      "Origin protects the users of browsers, not the server: any other client can send any Origin, which is why authentication and limits still apply to everyone.",
  },
  {
    number: 15,
    id: "15-cluster",
    title: "Many processes: a bus, history and restarts",
    rfc: "§7.1.1, §7.2.3, §7.4.1",
    notice:
      "One counter, one log and one channel per room, changed in one atomic step, are what make many servers one chat: seq order is stream order is delivery order on every server. " +
      "Subscribe first, read the history, drop what was already sent: that one rule makes resume exact, and a restart is then just 1001, a jittered wait and a join with since.",
  },
];
