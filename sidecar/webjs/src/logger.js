import pino from "pino";

/**
 * Creates the sidecar's logger: JSON lines with session_id on every line
 * (pino's base bindings). Secrets and message text are never logged.
 * @param {{sessionId: string, level?: string, destination?: import("pino").DestinationStream}} opts
 */
export function createLogger({ sessionId, level = "info", destination }) {
  const options = {
    level,
    base: { session_id: sessionId, component: "sidecar-webjs" },
    redact: { paths: ["secret", "*.secret", "config.secret"], censor: "[redacted]" },
  };
  return destination ? pino(options, destination) : pino(options);
}
