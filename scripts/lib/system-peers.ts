/**
 * The system peers: programs outside npm that the test suite talks to or drives
 * (a real browser, other languages' WebSocket libraries). This is the one list:
 * `npm test`'s preflight installs or names what is missing, the tests skip with
 * the hint made here, and `npm run grade` repeats that hint to a reader.
 *
 * Chapter 15 adds two servers that its cluster runs as child processes: Redis and
 * HAProxy. Nothing system-wide is ever started: each test and `npm run cluster`
 * starts its own redis-server and haproxy on free loopback ports (scripts/lib/cluster/).
 *
 * A peer is found by the same path the tests use: Debian's, since CI and the
 * machines this workbook is checked on are Debian. Each path can be moved with
 * an environment variable for a machine that keeps it elsewhere.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

/** Debian's Python, never the `python3` on PATH (it may be another one without the Debian packages). */
export const PYTHON = process.env.WORKBOOK_PYTHON ?? "/usr/bin/python3";
/** Debian's Chromium (never a browser downloaded by a test tool). */
export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
/**
 * How every test starts it: headless, and quiet on the network (no sandbox, since CI
 * runs as root; without the background-networking switches it keeps dialling hosts
 * a closed machine can't reach).
 */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
/** Where Debian's golang-golang-x-net-dev puts x/net: a GOPATH tree, built without modules, offline. */
export const GOPATH = process.env.WORKBOOK_GOPATH ?? "/usr/share/gocode";
/** Debian's redis-server (the package's service is never used: each run starts its own). */
export const REDIS_SERVER = process.env.WORKBOOK_REDIS_SERVER ?? "/usr/bin/redis-server";
/** Debian's HAProxy, the load balancer of chapter 15 (deploy/haproxy.cfg says why this one). */
export const HAPROXY = process.env.WORKBOOK_HAPROXY ?? "/usr/sbin/haproxy";

export type Platform = "debian" | "fedora" | "macos" | "other";

export interface SystemPeer {
  id: "chromium" | "python-websockets" | "go-x-net" | "redis-server" | "haproxy";
  /** What it is, as a reader knows it. */
  name: string;
  /** Which tests need it, in a few words. */
  usedBy: string;
  /** Whether it is here, found the way the tests find it (bounded: a few seconds at most). */
  present(): boolean;
  /** The packages that bring it, per platform; macOS has a note instead where a package can't. */
  packages: { debian: string[]; fedora: string[]; macos: string };
}

const quiet = { stdio: "ignore", timeout: 10_000 } as const;

export const systemPeers: readonly SystemPeer[] = [
  {
    id: "chromium",
    name: "Chromium",
    usedBy: "the site check, and interop with its WebSocket (chapter 12)",
    present: () => existsSync(CHROMIUM),
    packages: { debian: ["chromium"], fedora: ["chromium"], macos: "brew install --cask chromium, then CHROMIUM=<path to its binary>" },
  },
  {
    id: "python-websockets",
    name: "Python websockets",
    usedBy: "interop with Python's websockets (chapters 08, 09, 12)",
    present: () => spawnSync(PYTHON, ["-c", "import websockets"], quiet).status === 0,
    packages: {
      debian: ["python3-websockets"],
      fedora: ["python3-websockets"],
      macos: "python3 -m pip install websockets, then WORKBOOK_PYTHON=$(which python3)",
    },
  },
  {
    id: "go-x-net",
    name: "Go with golang.org/x/net/websocket",
    usedBy: "interop with Go's x/net/websocket (chapter 10)",
    present: () =>
      spawnSync("go", ["version"], quiet).status === 0 && existsSync(join(GOPATH, "src/golang.org/x/net/websocket/websocket.go")),
    packages: {
      debian: ["golang-go", "golang-golang-x-net-dev"],
      fedora: ["golang", "golang-x-net-devel"],
      macos: "brew install go, then x/net as a GOPATH tree in WORKBOOK_GOPATH (Homebrew has no package for it)",
    },
  },
  {
    id: "redis-server",
    name: "Redis (redis-server)",
    usedBy: "chapter 15's cluster: the bus between servers (the rolling restart, npm run cluster, bench --cluster)",
    present: () => existsSync(REDIS_SERVER),
    packages: { debian: ["redis-server"], fedora: ["redis"], macos: "brew install redis, then WORKBOOK_REDIS_SERVER=$(which redis-server)" },
  },
  {
    id: "haproxy",
    name: "HAProxy",
    usedBy: "chapter 15's load balancer (the rolling restart, npm run cluster)",
    present: () => existsSync(HAPROXY),
    packages: { debian: ["haproxy"], fedora: ["haproxy"], macos: "brew install haproxy, then WORKBOOK_HAPROXY=$(which haproxy)" },
  },
];

export function peer(id: SystemPeer["id"]): SystemPeer {
  const found = systemPeers.find((p) => p.id === id);
  if (found === undefined) throw new RangeError(`no system peer ${id}`);
  return found;
}

/** Which platform's packages to name: from the OS and its release file. */
export function platform(): Platform {
  if (process.platform === "darwin") return "macos";
  if (process.platform !== "linux") return "other";
  if (existsSync("/etc/debian_version")) return "debian";
  if (existsSync("/etc/fedora-release") || existsSync("/etc/redhat-release")) return "fedora";
  return "other";
}

/** The command that brings `peers` on `where`, as a person would type it (without root: sudo). */
export function installCommand(peers: readonly SystemPeer[], where: Platform = platform()): string {
  const list = (key: "debian" | "fedora") => peers.flatMap((p) => p.packages[key]).join(" ");
  switch (where) {
    case "debian":
      return `sudo apt-get install ${list("debian")}`;
    case "fedora":
      return `sudo dnf install ${list("fedora")}`;
    case "macos":
      return peers.map((p) => p.packages.macos).join("; ");
    case "other":
      return `the Debian packages ${list("debian")}, or your system's equivalents`;
  }
}

/** What a test that needs `id` adds to its name when it is skipped here: what is missing, and the command. */
export function skipNote(id: SystemPeer["id"], available: boolean): string {
  if (available) return "";
  const missing = peer(id);
  return ` (skipped: ${missing.name} is missing; to run these: ${installCommand([missing])})`;
}
