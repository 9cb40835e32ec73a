/**
 * Input the store refuses (a cursor not from a previous page, a silence that
 * cannot be) is a 400, not a 500; and a query a route does not take is one too.
 *
 * @module
 */
import { z } from "zod";
import { httpError } from "@vigil/shared/http/app";
import { query } from "@vigil/shared/http/validate";

/**
 * Middleware of a route that takes no query: any name answers 400, as an unknown name does on
 * the routes that take some (`/api/system/rules?rule=x` used to answer every rule).
 */
export const noQuery = query(z.strictObject({}));

/** `work()`'s result; a RangeError it throws answers 400 with its message. */
export async function badRequestOnRangeError<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof RangeError) throw httpError(400, error.message);
    throw error;
  }
}
