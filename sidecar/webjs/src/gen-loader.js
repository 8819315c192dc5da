// Module resolve hook for the generated code in src/gen. protoc-gen-es writes
// relative imports without an extension ("./chat_pb") unless buf.gen.yaml
// passes import_extension=js; browsers' bundlers accept that, Node's ESM
// loader does not. This hook retries such an import with ".js". Once the
// plugin option is set it never fires, and register.js can go.

/** @type {import("node:module").ResolveHook} */
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (err) {
    if (
      err?.code === "ERR_MODULE_NOT_FOUND" &&
      specifier.startsWith(".") &&
      !/\.[cm]?js$/.test(specifier) &&
      context.parentURL?.includes("/gen/")
    ) {
      return next(`${specifier}.js`, context);
    }
    throw err;
  }
}
