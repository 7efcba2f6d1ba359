/**
 * npm run test:node -- 24 [npm test's options]: the whole `npm test` again on
 * another Node.js line. The Node binary comes from the npm registry (the package
 * node-<platform>-<arch>@<line>, kept in .cache/node/<line>), never from elsewhere;
 * the workbook's node_modules are shared (nothing in them is built for one Node line).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { delimiter, join } from "node:path";
import { root } from "./lib/workbook.ts";

const [line, ...rest] = process.argv.slice(2);
if (line === undefined || !/^\d+$/.test(line)) {
  console.error("usage: npm run test:node -- <major version, e.g. 24> [options for npm test]");
  process.exit(2);
}
const folder = join(root, ".cache/node", line);
const bin = join(folder, "package/bin");
if (!existsSync(join(bin, "node"))) {
  rmSync(folder, { recursive: true, force: true });
  mkdirSync(folder, { recursive: true });
  const name = `node-${process.platform}-${process.arch}@${line}`;
  console.log(`fetching ${name} from the npm registry into ${join(".cache/node", line)}`);
  const pack = spawnSync("npm", ["pack", name, "--pack-destination", folder, "--silent"], { encoding: "utf8", timeout: 10 * 60_000 });
  const file = pack.stdout.trim().split("\n").at(-1) ?? "";
  if (pack.status !== 0 || file === "") {
    console.error(`npm pack ${name} failed:\n${pack.stderr}`);
    process.exit(2);
  }
  const untar = spawnSync("tar", ["-xzf", join(folder, file), "-C", folder], { encoding: "utf8", timeout: 5 * 60_000 });
  if (untar.status !== 0) {
    console.error(`unpacking ${file} failed:\n${untar.stderr}`);
    process.exit(2);
  }
  rmSync(join(folder, file));
}
const env = { ...process.env, PATH: `${bin}${delimiter}${process.env.PATH ?? ""}` };
const version = spawnSync("node", ["--version"], { env, encoding: "utf8" }).stdout.trim();
console.log(`npm test on Node.js ${version}`);
const test = spawnSync("npm", ["test", ...(rest.length > 0 ? ["--", ...rest] : [])], { cwd: root, env, stdio: "inherit" });
process.exit(test.status ?? 1);
