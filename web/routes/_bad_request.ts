/**
 * Input the store refuses (a cursor not from a previous page, a silence that
 * cannot be) is a 400, not a 500.
 *
 * @module
 */
import { httpError } from "@vigil/shared/http/app";

/** `work()`'s result; a RangeError it throws answers 400 with its message. */
export async function badRequestOnRangeError<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof RangeError) throw httpError(400, error.message);
    throw error;
  }
}
