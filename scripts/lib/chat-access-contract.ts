/**
 * The contract of `npm run chat -- --allow-origin ORIGIN` (DESIGN.md; chapter
 * 14), checked by `npm test` stage 9 beside chapter 13's: a `ws` client whose
 * Origin is not on the list is refused with 403 before any upgrade, one whose
 * Origin is on it connects with chat.v1, and SIGTERM makes it exit 0. Every
 * wait is bounded and names what hung.
 */
import WebSocket from "ws";
import { bounded, startChat, type Check } from "./chat-contract.ts";

const ALLOWED = "http://allowed.example";

/** Opens a chat.v1 client with this Origin: the protocol it got, or the HTTP status it was refused with. */
function attempt(url: string, origin: string): Promise<{ protocol: string } | { status: number }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ["chat.v1"], { origin });
    ws.once("open", () => {
      resolve({ protocol: ws.protocol });
      ws.terminate();
    });
    ws.once("unexpected-response", (_req, res) => {
      resolve({ status: res.statusCode ?? 0 });
      ws.terminate();
    });
    ws.once("error", reject);
  });
}

export async function checkChatAccessContract(check: Check): Promise<void> {
  const chat = startChat(["--port", "0", "--allow-origin", ALLOWED]);
  try {
    const url = await chat.url;
    check(typeof url === "string", `npm run chat -- --port 0 --allow-origin ${ALLOWED} prints its ws:// URL (${String(url)})`, chat.stderr());
    if (typeof url !== "string") return;
    const foreign = await bounded(attempt(url, "http://evil.example"), "a handshake from another origin").catch((error: Error) => error);
    check(!(foreign instanceof Error) && "status" in foreign && foreign.status === 403, "npm run chat -- --allow-origin: a handshake from another origin gets 403", JSON.stringify(foreign instanceof Error ? foreign.message : foreign));
    const allowed = await bounded(attempt(url, ALLOWED), "a handshake from the allowed origin").catch((error: Error) => error);
    check(!(allowed instanceof Error) && "protocol" in allowed && allowed.protocol === "chat.v1", "npm run chat -- --allow-origin: a handshake from the allowed origin connects with chat.v1", JSON.stringify(allowed instanceof Error ? allowed.message : allowed));
  } finally {
    const code = await chat.stop();
    check(code === 0, `npm run chat -- --allow-origin exits 0 on SIGTERM (${code === "hung" ? "hung" : `exit ${code}`})`, chat.stderr());
  }
}
