import { Code, ConnectError } from "@connectrpc/connect";

// A readable error: the code drives the text, never the raw wire payload.
export interface ReadableError {
  code: Code;
  message: string;
}

// The server's own message, when it is a short sentence worth showing (the
// server keeps internal detail out of messages, STYLE §3).
function detail(err: ConnectError): string {
  const m = err.rawMessage.trim();
  if (m === "" || m.length > 300 || m.startsWith("{") || m.startsWith("<")) return "";
  return m;
}

function withDetail(text: string, err: ConnectError): string {
  const d = detail(err);
  return d ? `${text}: ${d}` : `${text}.`;
}

// describeError turns anything thrown by a Connect call into a message for
// people, keyed on the Connect code.
export function describeError(e: unknown): ReadableError {
  const err = ConnectError.from(e);
  const code = err.code;
  switch (code) {
    case Code.Unauthenticated:
      return { code, message: "Your API token was not accepted. Sign in again with a valid token." };
    case Code.PermissionDenied:
      return { code, message: "Your token is not allowed to do this." };
    case Code.NotFound:
      return { code, message: "Not found. It may have been deleted, or it belongs to another workspace." };
    case Code.InvalidArgument:
      return { code, message: withDetail("The request was not valid", err) };
    case Code.AlreadyExists:
      return { code, message: withDetail("That already exists", err) };
    case Code.ResourceExhausted:
      return { code, message: withDetail("A limit was reached; wait a moment and try again", err) };
    case Code.FailedPrecondition:
      return { code, message: withDetail("Not possible right now", err) };
    case Code.Unavailable:
      return { code, message: "The server is unavailable right now. Try again in a moment." };
    case Code.Unimplemented:
      return { code, message: "This is not available yet on this server." };
    case Code.DeadlineExceeded:
      return { code, message: "The server took too long to answer. Try again." };
    case Code.Canceled:
      return { code, message: "The request was cancelled." };
    case Code.OutOfRange:
      return { code, message: withDetail("Out of range", err) };
    case Code.Internal:
      return { code, message: "The server hit an internal error. Try again, or check the server logs." };
    default:
      if (isNetworkFailure(err)) {
        return { code, message: "Cannot reach the server. Check that chatsync is running and your connection is up." };
      }
      return { code, message: "Something went wrong talking to the server." };
  }
}

// fetch() rejects with a TypeError when the network is down or the server is
// not listening; connect-web reports that as Code.Unknown with the cause.
function isNetworkFailure(err: ConnectError): boolean {
  return err.code === Code.Unknown && err.cause instanceof TypeError;
}

// describeSendError is describeError for SendMessage, whose unavailable
// names every provider it tried and why (no sidecar attached, no backup
// session, …): that is the one thing the person can act on.
export function describeSendError(e: unknown): ReadableError {
  const err = ConnectError.from(e);
  if (err.code === Code.Unavailable) {
    return { code: err.code, message: withDetail("The message was not sent", err) };
  }
  return describeError(err);
}

export function errorMessage(e: unknown): string {
  return describeError(e).message;
}

export function isCode(e: unknown, code: Code): boolean {
  return ConnectError.from(e).code === code;
}
