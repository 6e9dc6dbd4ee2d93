/**
 * Domain errors: what went wrong, in the domain's terms. They know nothing of HTTP; the API layer's one error
 * handler (src/api/error-handler.ts) maps each kind to a status and writes Kuma's error body.
 */
export interface FieldViolation {
  field: string;
  message: string;
}

/**
 * - invalid: the request or resource is malformed or breaks a rule
 * - not-found: the resource (or its mesh) does not exist
 * - conflict: valid, but refused in the current state (a rotation rule, a secret in use, mTLS off)
 * - forbidden / unauthenticated: the caller may not do this / is not known
 * - unavailable: a dependency is busy or unreachable; the caller may retry
 * - too-many-requests: the caller's budget is spent
 * - upstream-failed: an external CA (Vault) refused or answered something unusable
 */
export type ErrorKind =
  | 'invalid'
  | 'not-found'
  | 'conflict'
  | 'forbidden'
  | 'unauthenticated'
  | 'unavailable'
  | 'too-many-requests'
  | 'upstream-failed';

export interface DomainErrorInit {
  kind: ErrorKind;
  /** What could not be done, in Kuma's words ('Could not process a resource'); omitted: the kind's own title. */
  title?: string;
  detail: string;
  violations?: FieldViolation[];
  /** When the caller may usefully ask again. */
  retryAfterSeconds?: number;
}

export class DomainError extends Error {
  readonly kind: ErrorKind;
  readonly title: string | undefined;
  readonly detail: string;
  readonly violations: FieldViolation[];
  readonly retryAfterSeconds: number | undefined;

  constructor(init: DomainErrorInit) {
    super(init.title ? `${init.title}: ${init.detail}` : init.detail);
    this.name = 'DomainError';
    this.kind = init.kind;
    this.title = init.title;
    this.detail = init.detail;
    this.violations = init.violations ?? [];
    this.retryAfterSeconds = init.retryAfterSeconds;
  }
}

/** Kuma's titles: they name the operation that failed. */
export const Titles = {
  retrieve: 'Could not retrieve a resource',
  list: 'Could not retrieve resources',
  process: 'Could not process a resource',
  create: 'Failed to create a resource',
  update: 'Failed to update a resource',
  delete: 'Could not delete a resource',
  meshMissing: 'Failed to retrieve Mesh',
  conflict: 'Conflict',
  issueCertificate: 'Could not issue a certificate',
} as const;

export function invalidResource(title: string, violations: FieldViolation[]): DomainError {
  return new DomainError({ kind: 'invalid', title, detail: 'Resource is not valid', violations });
}

/** A malformed request (not a resource that breaks a rule): the kind's own title. */
export function invalidRequest(detail: string, violations: FieldViolation[] = []): DomainError {
  return new DomainError({ kind: 'invalid', detail, violations });
}

export function notFound(title: string): DomainError {
  return new DomainError({ kind: 'not-found', title, detail: 'Not found' });
}

export function meshNotFound(): DomainError {
  return notFound(Titles.meshMissing);
}

export function conflict(title: string, violations: FieldViolation[], retryAfterSeconds?: number): DomainError {
  return new DomainError({ kind: 'conflict', title, detail: 'Resource is not valid', violations, retryAfterSeconds });
}

export function forbidden(detail: string): DomainError {
  return new DomainError({ kind: 'forbidden', detail });
}

export function unauthenticated(): DomainError {
  return new DomainError({ kind: 'unauthenticated', detail: 'Unauthenticated' });
}

export function tooManyRequests(detail: string, retryAfterSeconds: number): DomainError {
  return new DomainError({ kind: 'too-many-requests', detail, retryAfterSeconds });
}

/** A certificate the CA will not issue now: mTLS off, its CA expired or changed mid-way, the Dataplane too large. */
export function cannotIssue(detail: string): DomainError {
  return new DomainError({ kind: 'conflict', title: Titles.issueCertificate, detail });
}
