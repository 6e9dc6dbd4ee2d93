/** Who is calling: decided by the API's authentication, used by the services' access rules. */
export type Principal =
  | { kind: 'admin' }
  | { kind: 'dataplane'; mesh: string; name: string; tags: Record<string, string[]>; jti: string }
  | { kind: 'anonymous' };

export type DataplanePrincipal = Extract<Principal, { kind: 'dataplane' }>;

/** Why a token did not verify, in words no more revealing than Kuma's own (missing key, bad signature, expired). */
export interface TokenRefusal {
  kind: 'refused';
  reason: string;
}

export interface DataplaneTokenVerifier {
  /** Returns the dataplane identity, or why the token is not a valid dataplane token. */
  verify(token: string): Promise<DataplanePrincipal | TokenRefusal>;
}
