/**
 * The consumer group generation a member (archive, bridge) works in, as an abort
 * signal. Every batch and every object belongs to the generation it was read
 * in; once that generation ended (a rebalance under way, the member expelled
 * or crashed) its partitions may be another member's, which re-reads them
 * from the committed offset and stores objects under the same keys: the old
 * generation's puts and commits must stop then, or a late put replaces the
 * new owner's object (see the module comment of `archive.ts`).
 *
 * @module
 */

/** A member's current generation. */
export interface Generation {
  /** The current generation's signal; aborted from its end until the next join. */
  readonly signal: AbortSignal;
  /** The generation ended (a rebalance under way, a crash): abort its work. */
  end(): void;
  /** Joined the group: the previous generation ended, a new one starts. */
  begin(): void;
}

/** The reason a generation's work is aborted with. */
export class GenerationEndedError extends Error {
  constructor() {
    super(
      "Cannot go on: the consumer group generation ended, the partition may be another member's",
    );
    this.name = "GenerationEndedError";
  }
}

/** Create the tracker; the first generation is current until {@link Generation.begin} or `end`. */
export function createGeneration(): Generation {
  let controller = new AbortController();
  const end = () => {
    if (!controller.signal.aborted) controller.abort(new GenerationEndedError());
  };
  return {
    get signal() {
      return controller.signal;
    },
    end,
    begin() {
      end();
      controller = new AbortController();
    },
  };
}
