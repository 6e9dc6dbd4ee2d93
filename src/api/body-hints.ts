/** Hints for the two body mistakes a curl user makes most: YAML sent as JSON, and `curl -d` stripping line breaks. */

/** A `key: value` pair the way a manifest starts a line (or, with line breaks stripped, anywhere). */
const YAML_KEY = /(^|\s)[A-Za-z_][\w.-]*:(\s|$)/;

/** Text that is not JSON but reads like a YAML mapping (`type: Mesh`, `name: default`, ...). */
function looksLikeYaml(text: string): boolean {
  const trimmed = text.trim();
  if (/^[[{"]/.test(trimmed)) return false;
  return YAML_KEY.test(trimmed) || trimmed.startsWith('---');
}

/** `curl -d @file` drops CR and LF: a body of several `key: value` pairs on one line. */
function lineBreaksStripped(text: string): boolean {
  const trimmed = text.trim();
  if (/[\r\n]/.test(trimmed)) return false;
  return (trimmed.match(/(^|\s)[A-Za-z_][\w.-]*:(\s|$)/g) ?? []).length >= 2;
}

const DATA_BINARY = 'the body has no line breaks: curl -d strips them from a file, send it with --data-binary @file';

/** What to add to "invalid JSON: ..." when the body is not JSON. */
export function jsonHint(text: string): string {
  if (!looksLikeYaml(text)) return '';
  return `this looks like YAML: send Content-Type: application/yaml${lineBreaksStripped(text) ? ` (and ${DATA_BINARY})` : ''}; `;
}

/** What to add to "invalid YAML: ..." when the body is not YAML. */
export function yamlHint(text: string): string {
  return lineBreaksStripped(text) ? `${DATA_BINARY}; ` : '';
}
