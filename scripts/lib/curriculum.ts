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
  { number: 3, id: "03-masking", title: "Masking", rfc: "§5.3, §10.3", notice: "" },
  { number: 4, id: "04-frames", title: "Frames", rfc: "§5.2, §5.5, §5.6", notice: "" },
  { number: 5, id: "05-messages", title: "Messages: fragmentation and UTF-8", rfc: "§5.4, §5.6, §8.1", notice: "" },
  { number: 6, id: "06-closing", title: "The closing handshake", rfc: "§5.5.1, §7", notice: "" },
  { number: 7, id: "07-connection", title: "A connection, sans-I/O", rfc: "§4–§7", notice: "" },
  { number: 8, id: "08-echo-server", title: "The echo server", rfc: "§4.2, §7", notice: "" },
  { number: 9, id: "09-echo-client", title: "The echo client", rfc: "§4.1, §7", notice: "" },
  { number: 10, id: "10-ws-library", title: "The ws library", rfc: "", notice: "" },
  { number: 11, id: "11-wss", title: "wss: WebSockets over TLS", rfc: "§3, §4.1, §10.6", notice: "" },
];
