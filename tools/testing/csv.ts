/**
 * A temporary CSV file for the producer's replay tests.
 *
 * @module
 */

/** Run `fn` with the path of a temporary `.csv` file holding `text`, removed after. */
export async function withCsv<T>(text: string, fn: (path: string) => Promise<T>): Promise<T> {
  const path = await Deno.makeTempFile({ suffix: ".csv" });
  try {
    await Deno.writeTextFile(path, text);
    return await fn(path);
  } finally {
    await Deno.remove(path);
  }
}
