/*
 * Text from outside meshcp (an upstream's error message, a control plane's answer shown by meshctl) made safe to show:
 * no control characters (terminal escape sequences, BEL, carriage returns that overwrite a line, bidirectional
 * overrides that reorder it) and a bounded length. Pure.
 */

/** What one upstream message may take: enough for any real error, not a megabyte in a 502 body. */
export const MAX_UPSTREAM_MESSAGE_CHARS = 1024;

// C0 controls but tab and newline, DEL, C1 controls, and the Unicode bidirectional embeddings, overrides and isolates.
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
// For one line: tab and newline too.
const UNSAFE_IN_LINE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** Keeps tabs and newlines; drops every other control character. */
export function withoutControlCharacters(text: string): string {
  return text.replace(UNSAFE, '');
}

/** One line of at most `maxChars` characters: control characters dropped, whitespace runs (newlines too) made one space. */
export function cleanUpstreamText(text: string, maxChars = MAX_UPSTREAM_MESSAGE_CHARS): string {
  const line = text
    .replace(/[\t\n\r]+/g, ' ')
    .replace(UNSAFE_IN_LINE, '')
    .trim();
  if (line.length <= maxChars) return line;
  return `${line.slice(0, maxChars)}… (${line.length - maxChars} more characters)`;
}
