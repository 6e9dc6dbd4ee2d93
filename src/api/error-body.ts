import type { ErrorKind, FieldViolation } from '../domain/errors.js';

/** The HTTP answer of each domain error kind, and the title used when the error names no operation. */
export const HTTP_OF_KIND: Record<ErrorKind, { status: number; title: string }> = {
  invalid: { status: 400, title: 'Bad Request' },
  'not-found': { status: 404, title: 'Not Found' },
  conflict: { status: 409, title: 'Conflict' },
  forbidden: { status: 403, title: 'Access Denied' },
  unauthenticated: { status: 401, title: 'Invalid authentication data' },
  unavailable: { status: 503, title: 'Service Unavailable' },
  'too-many-requests': { status: 429, title: 'Too Many Requests' },
  'upstream-failed': { status: 502, title: 'Bad Gateway' },
  internal: { status: 500, title: 'Internal Server Error' },
};

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
