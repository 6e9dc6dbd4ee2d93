/** Output helpers: a transient status line on terminals, change-only lines elsewhere (CI logs, pipes). */

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
