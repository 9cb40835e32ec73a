/**
 * CSV records as RFC 4180 writes them (replay files, backtests): from a
 * whole text ({@link parseCsv}) or piece by piece as a stream brings it
 * ({@link createCsvReader}, {@link readCsv}), with the same records and
 * lines either way.
 *
 * @module
 */

/** One record: its cells and the line it starts on (1-based). */
export interface CsvRecord {
  line: number;
  cells: string[];
}

/** Reads CSV text given in pieces (split anywhere, even inside a cell or a CRLF). */
export interface CsvReader {
  /** The records the text so far completes. */
  push(text: string): CsvRecord[];
  /**
   * The last record, at the end of the text.
   *
   * @throws {SyntaxError} naming the line of a quoted cell that is not closed
   */
  end(): CsvRecord[];
}

/** The most characters one record may take (a line never ended, a quote never closed). */
export const MAX_CSV_RECORD = 1 << 20;

const QUOTE = 0x22;
const COMMA = 0x2c;
const LF = 0x0a;
const CR = 0x0d;

/**
 * A reader of CSV text in pieces. Cells are separated by commas; a cell in
 * double quotes may hold commas, line breaks and doubled quotes (`""`).
 * Cells are trimmed; blank lines and a leading byte-order mark are skipped;
 * lines end with LF, CRLF or CR. A record longer than {@link MAX_CSV_RECORD}
 * characters is refused with its line: a line never ended or a quote never
 * closed would otherwise take all memory (a 200 MB quoted cell: the heap's
 * 4 GB, then a crash).
 *
 * @param what how the error begins (`Cannot parse replay file`)
 */
export function createCsvReader(what = "Cannot read CSV"): CsvReader {
  let cells: string[] = [];
  let cell = "";
  let quoted = false; // the cell in hand began with a quote
  let blank = true; // the cell in hand is white space so far (a quote may still open it)
  let inQuotes = false;
  let afterQuote = false; // in quotes, a quote seen: a doubled one, or the closing one
  let skipLf = false; // a CR ended the last record: an LF right after it is the same line break
  let atStart = true;
  let line = 1;
  let start = 1;
  let size = 0; // characters of the record in hand
  const grow = (n: number) => {
    size += n;
    if (size <= MAX_CSV_RECORD) return;
    throw new SyntaxError(
      `${what}: line ${start}: a record longer than ${MAX_CSV_RECORD} characters${
        inQuotes ? " (a quoted cell not closed?)" : ""
      }`,
    );
  };
  const endCell = () => {
    cells.push(cell.trim());
    cell = "";
    quoted = false;
    blank = true;
  };
  const endRecord = (out: CsvRecord[]) => {
    endCell();
    if (cells.length > 1 || cells[0] !== "") out.push({ line: start, cells });
    cells = [];
    size = 0;
  };
  return {
    push(text) {
      const out: CsvRecord[] = [];
      let i = 0;
      if (atStart && text.length > 0) {
        atStart = false;
        if (text.charCodeAt(0) === 0xfeff) i = 1;
      }
      for (; i < text.length; i++) {
        const c = text.charCodeAt(i);
        if (skipLf) {
          skipLf = false;
          if (c === LF) continue;
        }
        if (afterQuote) {
          afterQuote = false;
          if (c === QUOTE) {
            grow(1);
            cell += '"';
            continue;
          }
          inQuotes = false;
        }
        if (inQuotes || (c !== LF && c !== CR)) grow(1); // a line break ends the record instead
        if (inQuotes) {
          if (c === QUOTE) afterQuote = true;
          else {
            if (c === LF) line++;
            cell += text[i];
          }
        } else if (c === QUOTE && !quoted && blank) {
          // Not cell.trim(): it copied the cell at each quote (a 1 MB line of x" took 200 s).
          quoted = inQuotes = true;
          cell = "";
        } else if (c === COMMA) endCell();
        else if (c === LF || c === CR) {
          skipLf = c === CR;
          endRecord(out);
          start = ++line;
        } else {
          // A run of plain characters at once (one string per character made big files slow).
          let j = i + 1;
          for (; j < text.length; j++) {
            const d = text.charCodeAt(j);
            if (d === COMMA || d === LF || d === CR || d === QUOTE) break;
          }
          grow(j - i - 1);
          const run = text.slice(i, j);
          if (blank && run.trim() !== "") blank = false;
          cell += run;
          i = j - 1;
        }
      }
      return out;
    },
    end() {
      if (afterQuote) afterQuote = inQuotes = false;
      if (inQuotes) {
        throw new SyntaxError(`${what}: line ${start}: a quoted cell is not closed`);
      }
      const out: CsvRecord[] = [];
      endRecord(out);
      return out;
    },
  };
}

/**
 * Split CSV text into records (see {@link createCsvReader} for the rules).
 *
 * @param what how the error begins (`Cannot parse replay file`)
 * @throws {SyntaxError} naming the line of a quoted cell that is not closed
 */
export function parseCsv(text: string, what = "Cannot read CSV"): CsvRecord[] {
  const reader = createCsvReader(what);
  const records = reader.push(text);
  for (const r of reader.end()) records.push(r);
  return records;
}

/**
 * The records of a byte stream of UTF-8 CSV, a batch per chunk read (the
 * whole text is never in memory), then the last one.
 *
 * @throws {SyntaxError} naming the line of a quoted cell that is not closed
 */
export async function* readCsv(
  stream: ReadableStream<Uint8Array>,
  what = "Cannot read CSV",
): AsyncGenerator<CsvRecord[]> {
  const reader = createCsvReader(what);
  const decoder = new TextDecoder();
  for await (const bytes of stream) {
    const records = reader.push(decoder.decode(bytes, { stream: true }));
    if (records.length > 0) yield records;
  }
  const records = reader.push(decoder.decode());
  for (const r of reader.end()) records.push(r);
  if (records.length > 0) yield records;
}
