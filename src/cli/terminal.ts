/** Output helpers: a transient status line on terminals, change-only lines elsewhere (CI logs, pipes). */
import { withoutControlCharacters } from '../domain/untrusted-text.js';

export interface Out {
  write(text: string): unknown;
  isTTY?: boolean;
}

export class StatusLine {
  private shown = '';
  private last = '';

  constructor(private readonly out: Out) {}

  /** Replaces the transient line (a TTY), or prints it when it differs from the last one (anything else). */
  update(text: string): void {
    if (this.out.isTTY) {
      this.out.write(`\r\x1b[2K${text}`);
      this.shown = text;
    } else if (text !== this.last) {
      this.out.write(text + '\n');
    }
    this.last = text;
  }

  /** A permanent line; the transient one is cleared first. */
  log(text: string): void {
    this.clear();
    this.out.write(text + '\n');
  }

  clear(): void {
    if (this.out.isTTY && this.shown) this.out.write('\r\x1b[2K');
    this.shown = '';
  }
}

/** Clears the screen and moves home: `--watch` redraws. */
export const CLEAR_SCREEN = '\x1b[H\x1b[2J';

/** The only control sequences meshctl itself writes: the status line's "erase line" and `--watch`'s redraw. */
const OWN_SEQUENCES = /(\r\x1b\[2K|\x1b\[H\x1b\[2J)/;

/**
 * An output that never passes on a control character meshctl did not write itself: names, messages and errors come
 * from a control plane (and, through it, from Vault), and an escape sequence in them must not drive the terminal.
 */
export function safeOutput(out: Out): Out {
  return {
    isTTY: out.isTTY,
    write: (text: string) =>
      out.write(
        text
          .split(OWN_SEQUENCES)
          .map((part, i) => (i % 2 === 1 ? part : withoutControlCharacters(part)))
          .join(''),
      ),
  };
}
