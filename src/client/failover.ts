/**
 * When a client leaves a control-plane instance for the next one, and when it may send the same request again there.
 * Pure rules on what the transport saw; the loop that applies them is ApiClient.raw (src/client/http.ts).
 */

/** What a failed attempt looked like on the wire. */
export interface AttemptFailure {
  /** Node's error code (ECONNREFUSED, ECONNRESET...), or undefined (our own deadline, a socket hang-up...). */
  code?: string;
  /** The request's deadline passed without a whole answer. */
  timedOut: boolean;
  /**
   * A TCP connection to the instance existed while the request was sent, so it may have received (and acted on)
   * the request. False when the connection was refused, the name did not resolve, the host was unreachable, or the
   * deadline passed while still connecting.
   */
  reachedServer: boolean;
}

/**
 * Answers that mean "this instance cannot serve now, another may": a load balancer without a live upstream (502,
 * 504) and an instance that lost its database or is shutting down (503).
 */
export const FAILOVER_STATUSES: ReadonlySet<number> = new Set([502, 503, 504]);

/**
 * An instance whose HTTPS certificate is not trusted did answer: moving on would hide a trust set-up error (the
 * same --ca-cert is used for every instance), so it is reported at once instead.
 */
export function isTlsTrustError(code: string | undefined): boolean {
  return /CERT|SELF_SIGNED|ERR_TLS|UNABLE_TO_VERIFY/.test(code ?? '');
}

/** Whether a transport failure is a reason to try the next instance. */
export function isFailover(failure: AttemptFailure): boolean {
  return failure.timedOut || !isTlsTrustError(failure.code);
}

/**
 * Methods whose repetition leaves the control plane as one request would: GET/HEAD/OPTIONS read, PUT replaces a
 * resource with the same body (this API's PUT is create-or-replace, and a rotation step PUT twice is the same step),
 * DELETE of an already deleted resource changes nothing more.
 */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);

/**
 * Whether the same request may be sent to the next instance after `failure`. A POST (token generation, a
 * certificate) is not idempotent: an instance that got it may have signed a token or issued a certificate whose
 * answer was lost, and sending it again elsewhere would do it twice. So a POST is re-sent only when it provably
 * never reached an instance — no connection was ever made (refused, unresolvable, unreachable). A reset or a
 * timeout after connecting proves nothing: the instance may have acted on it.
 */
export function mayResendAfter(method: string, failure: AttemptFailure): boolean {
  return IDEMPOTENT.has(method.toUpperCase()) || !failure.reachedServer;
}

/**
 * Whether a 502/503/504 answer may be followed by the same request to the next instance: only for idempotent
 * methods. Behind a load balancer a 502/504 may come after the upstream got the request, so a POST is not re-sent.
 */
export function mayResendAfterStatus(method: string): boolean {
  return IDEMPOTENT.has(method.toUpperCase());
}
