/** API error bodies as one readable line per cause. */

interface ErrorBody {
  title?: unknown;
  detail?: unknown;
  details?: unknown;
  causes?: unknown;
  invalid_parameters?: unknown;
}

interface Cause {
  field: string;
  message: string;
}

function causesOf(body: ErrorBody): Cause[] {
  if (Array.isArray(body.causes)) {
    return body.causes
      .filter((c): c is Record<string, unknown> => typeof c === 'object' && c !== null)
      .map((c) => ({ field: String(c.field ?? ''), message: String(c.message ?? '') }));
  }
  if (Array.isArray(body.invalid_parameters)) {
    return body.invalid_parameters
      .filter((c): c is Record<string, unknown> => typeof c === 'object' && c !== null)
      .map((c) => ({ field: String(c.field ?? ''), message: String(c.reason ?? '') }));
  }
  return [];
}

/**
 * `mtls.enabledBackend: cannot enable backend "ca-2" yet: ...` for every cause; without causes, `title: detail`
 * (or just one of them when the other adds nothing). A body that is not the standard error gives `HTTP <status>: ...`.
 */
export function apiErrorLines(status: number, body: unknown): string[] {
  if (typeof body !== 'object' || body === null) {
    const text = typeof body === 'string' ? body.trim().replace(/\s+/g, ' ').slice(0, 300) : '';
    return [`HTTP ${status}${text ? `: ${text}` : ''}`];
  }
  const errorBody = body as ErrorBody;
  const causes = causesOf(errorBody);
  if (causes.length > 0) return causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message));
  const title = typeof errorBody.title === 'string' ? errorBody.title : '';
  const detailRaw = errorBody.detail ?? errorBody.details;
  const detail = typeof detailRaw === 'string' ? detailRaw : '';
  if (title && detail && detail !== title) return [`${title}: ${detail}`];
  if (title || detail) return [title || detail];
  return [`HTTP ${status}`];
}
