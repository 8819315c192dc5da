// Registers gen-loader.js so the generated Connect-ES code loads in Node.
// Import this before anything that imports src/gen (node --import
// ./src/register.js, or first thing in an entry point followed by dynamic
// imports).
import { register } from "node:module";

const key = Symbol.for("chatsync.sidecar.genLoader");
if (!globalThis[key]) {
  globalThis[key] = true;
  register("./gen-loader.js", import.meta.url);
}
