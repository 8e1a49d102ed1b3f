// Talking to Parley: the visitor session over HTTP and the /widget socket.
// Retries follow docs/protocol.md: 0.5 s doubling to at most 30 s, with
// ±50% jitter, forever.
import { io } from "socket.io-client";

export const FIRST_DELAY = 500;
export const MAX_DELAY = 30000;
export const JITTER = 0.5;
// An ack that has not come back in this time is treated as lost: the send
// stays in the outbox and goes again after the next sync.
export const ACK_TIMEOUT = 15000;

/** Return the wait before retry number `attempt` (0 for the first). */
export function backoff(attempt) {
  const base = FIRST_DELAY * 2 ** Math.min(attempt, 16);
  const jittered = base * (1 - JITTER + 2 * JITTER * Math.random());
  return Math.min(MAX_DELAY, jittered);
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class RequestError extends Error {
  constructor(message, code, status) {
    super(message);
    this.code = code;
    this.status = status;
    // Network failures, server errors and rate limits are worth retrying;
    // a refusal (bad key, forbidden origin, invalid body) is not.
    this.retryable = !status || status >= 500 || status === 429;
  }
}

/** POST /api/widget/session; resolve to its JSON or throw a RequestError. */
export async function openSession(base, body) {
  let response;
  try {
    response = await fetch(new URL("api/widget/session", base).href, {
      method: "POST",
      mode: "cors",
      credentials: "omit",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
  } catch (error) {
    throw new RequestError(String(error && error.message), "network", 0);
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = (data && data.error) || {};
    throw new RequestError(
      error.message || `HTTP ${response.status}`,
      error.code || "http",
      response.status,
    );
  }
  return data;
}

/** Make (not yet connect) the /widget socket for a Parley at `base`. */
export function makeSocket(base, auth) {
  const url = new URL(base);
  return io(url.origin + "/widget", {
    path: url.pathname + "socket.io",
    auth,
    autoConnect: false,
    forceNew: true,
    transports: ["websocket", "polling"],
    tryAllTransports: true,
    reconnectionDelay: FIRST_DELAY,
    reconnectionDelayMax: MAX_DELAY,
    randomizationFactor: JITTER,
    withCredentials: false,
  });
}
