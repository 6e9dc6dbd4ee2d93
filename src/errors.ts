/** Domain errors. One Fastify error handler (src/api/error-handler.ts) turns them into Kuma's error body. */
export interface FieldViolation {
  field: string;
  message: string;
}

export interface ApiErrorInit {
  status: number;
  title: string;
  detail: string;
  violations?: FieldViolation[];
  /** Extra response headers, e.g. Retry-After. */
  headers?: Record<string, string>;
}

export class ApiError extends Error {
  readonly status: number;
  readonly title: string;
  readonly detail: string;
  readonly violations: FieldViolation[];
  readonly headers: Record<string, string>;

  constructor(init: ApiErrorInit) {
    super(`${init.title}: ${init.detail}`);
    this.status = init.status;
    this.title = init.title;
    this.detail = init.detail;
    this.violations = init.violations ?? [];
    this.headers = init.headers ?? {};
  }
}

export const Titles = {
  retrieve: 'Could not retrieve a resource',
  list: 'Could not retrieve resources',
  process: 'Could not process a resource',
  create: 'Failed to create a resource',
  update: 'Failed to update a resource',
  delete: 'Could not delete a resource',
  meshMissing: 'Failed to retrieve Mesh',
  badRequest: 'Bad Request',
  accessDenied: 'Access Denied',
  unauthenticated: 'Invalid authentication data',
  conflict: 'Conflict',
} as const;

export function invalidResource(title: string, violations: FieldViolation[]): ApiError {
  return new ApiError({ status: 400, title, detail: 'Resource is not valid', violations });
}

export function notFound(title: string): ApiError {
  return new ApiError({ status: 404, title, detail: 'Not found' });
}

export function meshNotFound(): ApiError {
  return notFound(Titles.meshMissing);
}

export function badRequest(detail: string, violations: FieldViolation[] = []): ApiError {
  return new ApiError({ status: 400, title: Titles.badRequest, detail, violations });
}

export function conflict(title: string, violations: FieldViolation[], retryAfterSeconds?: number): ApiError {
  return new ApiError({
    status: 409,
    title,
    detail: 'Resource is not valid',
    violations,
    headers: retryAfterSeconds === undefined ? {} : { 'retry-after': String(retryAfterSeconds) },
  });
}

export function accessDenied(detail: string): ApiError {
  return new ApiError({ status: 403, title: Titles.accessDenied, detail });
}

export function unauthenticated(): ApiError {
  return new ApiError({ status: 401, title: Titles.unauthenticated, detail: 'Unauthenticated' });
}

/** The one JSON error body of api.md: current fields plus Kuma's legacy `details`/`causes`. */
export function errorBody(status: number, title: string, detail: string, violations: FieldViolation[]) {
  const body: Record<string, unknown> = { type: '/std-errors', status, title, detail };
  if (violations.length > 0) {
    body.invalid_parameters = violations.map((v) => ({ field: v.field, reason: v.message }));
  }
  body.details = detail;
  if (violations.length > 0) {
    body.causes = violations.map((v) => ({ field: v.field, message: v.message }));
  }
  return body;
}
