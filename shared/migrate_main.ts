/**
 * `deno task db:migrate`: apply pending PostgreSQL migrations and exit.
 *
 * @module
 */
import { z } from "zod";
import { commonEnv, configOrExit, parseEnv } from "./config.ts";
import { createLogger } from "./log.ts";
import { migrate, MigrationConflictError, MigrationFailedError } from "./migrate.ts";
import { connectPostgres } from "./postgres.ts";
import { connectionSettingsProblem } from "./postgres_errors.ts";

const config = configOrExit(() =>
  parseEnv(
    "db:migrate",
    z.object({ DATABASE_URL: commonEnv.DATABASE_URL, LOG_LEVEL: commonEnv.LOG_LEVEL }),
  ), "migrate");
const log = createLogger({ service: "migrate", level: config.LOG_LEVEL });
const sql = connectPostgres(config.DATABASE_URL, { max: 1 });
try {
  const applied = await migrate(sql, { log });
  log.info("migrations up to date", { applied });
} catch (error) {
  // A migration refused for good says which and what to do itself (no "refused DATABASE_URL").
  const named = error instanceof MigrationFailedError || error instanceof MigrationConflictError;
  log.error("migration failed", {
    error: named ? error : connectionSettingsProblem(error) ?? error,
  });
  Deno.exitCode = 1;
} finally {
  await sql.end({ timeout: 5 });
}
