/**
 * The edit log: a list of states with a cursor. An edit drops what was undone and appends; undo and redo move
 * the cursor. The oldest states go once the log holds more than `limit` edits. States are immutable values, so
 * going back gives exactly what was there.
 */

export class EditLog<S> {
  private readonly states: S[];
  private at = 0;

  constructor(
    initial: S,
    private readonly limit: number,
  ) {
    this.states = [initial];
  }

  get current(): S {
    return this.states[this.at];
  }

  push(s: S): void {
    this.states.splice(this.at + 1);
    this.states.push(s);
    if (this.states.length > this.limit + 1) this.states.splice(0, this.states.length - this.limit - 1);
    this.at = this.states.length - 1;
  }

  undo(): S | null {
    if (this.at === 0) return null;
    return this.states[--this.at];
  }

  redo(): S | null {
    if (this.at >= this.states.length - 1) return null;
    return this.states[++this.at];
  }

  /** Edits that can be undone and redone now. */
  get depth(): { undo: number; redo: number } {
    return { undo: this.at, redo: this.states.length - 1 - this.at };
  }
}
