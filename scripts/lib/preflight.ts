/**
 * npm test's preflight: before minutes of tests, are the system peers here
 * (system-peers.ts)? Where some are missing it installs them if this machine
 * lets it (Debian or Fedora, as root or with `sudo -n`), one line per package
 * and why; where it cannot, it stops at once with one message that names what
 * is missing and the command to install it. `--no-peers` (or WORKBOOK_NO_PEERS=1)
 * runs the rest without them; the caller then reports their tests as not run.
 */
import { spawnSync } from "node:child_process";
import { bold, dim, red, yellow } from "./terminal.ts";
import { installCommand, platform, systemPeers, type SystemPeer } from "./system-peers.ts";

/** A hang guard for the package manager (a slow mirror is not a failure; a hung one is). */
const INSTALL_GUARD_MS = 20 * 60_000;

export interface Preflight {
  /** The peers still missing (only with the opt-out; otherwise the preflight stopped the run). */
  missing: SystemPeer[];
}

/** How this process may run the package manager as root: directly, through `sudo -n`, or not at all. */
function asRoot(): string[] | undefined {
  if (process.getuid?.() === 0) return [];
  const sudo = spawnSync("sudo", ["-n", "true"], { stdio: "ignore", timeout: 5_000 });
  return sudo.status === 0 ? ["sudo", "-n"] : undefined;
}

const has = (command: string) => spawnSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" }).status === 0;

/** The commands that install `peers` here, or undefined where this machine won't let us. */
function installPlan(peers: readonly SystemPeer[]): { key: "debian" | "fedora"; commands: string[][] } | undefined {
  const where = platform();
  const prefix = asRoot();
  if (prefix === undefined) return undefined;
  if (where === "debian" && has("apt-get")) {
    const packages = peers.flatMap((p) => p.packages.debian);
    return {
      key: "debian",
      commands: [
        [...prefix, "apt-get", "update", "-qq"],
        [...prefix, "apt-get", "install", "-y", "-qq", "--no-install-recommends", ...packages],
      ],
    };
  }
  if (where === "fedora" && has("dnf")) {
    return { key: "fedora", commands: [[...prefix, "dnf", "install", "-y", "-q", ...peers.flatMap((p) => p.packages.fedora)]] };
  }
  return undefined;
}

function stop(missing: readonly SystemPeer[], why: string): never {
  console.log(red(bold(`\nnpm test needs ${missing.length === 1 ? "a system peer" : "system peers"} this machine lacks:`)));
  for (const p of missing) console.log(`  - ${p.name}: ${p.usedBy}`);
  console.log(`${why} Install ${missing.length === 1 ? "it" : "them"} with:\n  ${bold(installCommand(missing))}`);
  console.log(dim("then run npm test again. To run everything else without them: npm test -- --no-peers"));
  process.exit(2);
}

export function preflight(options: { noPeers: boolean }): Preflight {
  const missing = systemPeers.filter((p) => !p.present());
  if (missing.length === 0) {
    console.log(dim(`system peers: ${systemPeers.map((p) => p.name).join(", ")}: all here`));
    return { missing };
  }
  if (options.noPeers) {
    console.log(yellow(bold(`--no-peers: running without ${missing.map((p) => p.name).join(", ")}; their tests will not run`)));
    return { missing };
  }
  const plan = installPlan(missing);
  if (plan === undefined) {
    const where = platform();
    const reason =
      where === "debian" || where === "fedora"
        ? "It may not install them itself (it runs neither as root nor with a password-less sudo)."
        : "It installs them itself only on Debian or Fedora.";
    stop(missing, reason);
  }
  for (const p of missing) {
    for (const name of p.packages[plan.key]) console.log(`installing ${bold(name)}: ${p.name}, for ${p.usedBy}`);
  }
  for (const command of plan.commands) {
    const [file = "", ...args] = command;
    const result = spawnSync(file, args, {
      encoding: "utf8",
      timeout: INSTALL_GUARD_MS,
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
    if (result.status !== 0) {
      const hung = result.error !== undefined ? ` (${result.error.message})` : "";
      console.log(dim(`${command.join(" ")} failed${hung}:\n${result.stdout ?? ""}${result.stderr ?? ""}`.trimEnd()));
      stop(missing, "Installing them failed (above).");
    }
  }
  const still = missing.filter((p) => !p.present());
  if (still.length > 0) stop(still, "They are still missing after the install.");
  console.log(dim(`system peers: ${systemPeers.map((p) => p.name).join(", ")}: all here now`));
  return { missing: [] };
}
