/**
 * npm run simd [-- --check]
 *
 * Compiles lib/simd/kernels.wat (the WebAssembly SIMD kernels the reference
 * uses for masking and UTF-8 validation) into lib/simd/kernels.wasm.ts.
 * `--check` writes nothing: it fails if the committed bytes are not what the
 * source compiles to (npm test runs it).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { relative } from "node:path";
import { BYTES_MODULE, bytesModule, compileKernels } from "./lib/simd-build.ts";
import { root } from "./lib/workbook.ts";

const check = process.argv.includes("--check");
const bytes = await compileKernels();
const expected = bytesModule(bytes);
const shown = relative(root, BYTES_MODULE);
if (check) {
  let committed = "";
  try {
    committed = readFileSync(BYTES_MODULE, "utf8");
  } catch {
    // missing: reported below
  }
  if (committed !== expected) {
    console.error(`${shown} is not what lib/simd/kernels.wat compiles to: run npm run simd and commit both`);
    process.exit(1);
  }
  console.log(`${shown}: ${bytes.length} bytes, as kernels.wat compiles them`);
} else {
  writeFileSync(BYTES_MODULE, expected);
  console.log(`wrote ${shown}: ${bytes.length} bytes of WebAssembly`);
}
