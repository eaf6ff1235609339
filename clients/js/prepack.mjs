// `npm pack` / `npm publish` hooks: the SDK's one implementation lives in
// hts_realtime/static/hts-client.js (the dashboard serves it), and in a checkout
// clients/js/hts-client.js is a symlink to it. npm does not pack symlinks, so
// prepack puts a copy in its place and postpack (`--restore`) puts the link back.
import { copyFileSync, lstatSync, readlinkSync, rmSync, symlinkSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const file = resolve(here, "hts-client.js");
const target = "../../hts_realtime/static/hts-client.js";

if (process.argv.includes("--restore")) {
  rmSync(file, { force: true });
  symlinkSync(target, file);
} else if (lstatSync(file).isSymbolicLink()) {
  const source = resolve(here, readlinkSync(file));
  rmSync(file);
  copyFileSync(source, file);
}
