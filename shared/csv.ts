/**
 * CSV records as RFC 4180 writes them (replay files, backtests).
 *
 * @module
 */

/** One record: its cells and the line it starts on (1-based). */
export interface CsvRecord {
  line: number;
  cells: string[];
}

/**
 * Split CSV text into records. Cells are separated by commas; a cell in
 * double quotes may hold commas, line breaks and doubled quotes (`""`).
 * Cells are trimmed; blank lines and a leading byte-order mark are skipped;
 * lines end with LF or CRLF.
 *
 * @param what how the error begins (`Cannot parse replay file`)
 * @throws {SyntaxError} naming the line of a quoted cell that is not closed
 */
export function parseCsv(text: string, what = "Cannot read CSV"): CsvRecord[] {
  const records: CsvRecord[] = [];
  let cells: string[] = [];
  let cell = "";
  let quoted = false; // the cell in hand began with a quote
  let inQuotes = false;
  let line = 1;
  let start = 1;
  const endCell = () => {
    cells.push(cell.trim());
    cell = "";
    quoted = false;
  };
  const endRecord = () => {
    endCell();
    if (cells.length > 1 || cells[0] !== "") records.push({ line: start, cells });
    cells = [];
  };
  for (let i = text.charCodeAt(0) === 0xfeff ? 1 : 0; i < text.length; i++) {
    const c = text[i];
    if (inQuotes) {
      if (c !== '"') {
        if (c === "\n") line++;
        cell += c;
      } else if (text[i + 1] === '"') {
        cell += '"';
        i++;
      } else inQuotes = false;
    } else if (c === '"' && !quoted && cell.trim() === "") {
      quoted = inQuotes = true;
      cell = "";
    } else if (c === ",") endCell();
    else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      endRecord();
      start = ++line;
    } else cell += c;
  }
  if (inQuotes) {
    throw new SyntaxError(`${what}: line ${start}: a quoted cell is not closed`);
  }
  endRecord();
  return records;
}
