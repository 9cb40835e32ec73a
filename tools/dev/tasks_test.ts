import assert from "node:assert/strict";
import { taskCommand } from "./tasks.ts";

const ROOT = new URL("../../", import.meta.url);

Deno.test("taskCommand() reads both the string and the object form", () => {
  const tasks = { a: "deno run a.ts", b: { description: "B", command: "deno run b.ts" } };
  assert.equal(taskCommand(tasks, "a"), "deno run a.ts");
  assert.equal(taskCommand(tasks, "b"), "deno run b.ts");
  assert.equal(taskCommand(tasks, "c"), undefined);
  assert.equal(taskCommand(undefined, "a"), undefined);
});

Deno.test("every deno task of every deno.json has a description (object form)", async () => {
  const root = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  const files = [
    "deno.json",
    ...root.workspace.map((m: string) => `${m.replace(/^\.\//, "")}/deno.json`),
  ];
  let count = 0;
  for (const file of files) {
    const json = JSON.parse(await Deno.readTextFile(new URL(file, ROOT)));
    for (const [name, entry] of Object.entries(json.tasks ?? {})) {
      count++;
      assert.equal(typeof entry, "object", `${file}: task "${name}" is in object form`);
      const { description, command } = entry as { description?: unknown; command?: unknown };
      assert.ok(
        typeof description === "string" && description.trim().length >= 10,
        `${file}: task "${name}" has a description`,
      );
      assert.ok(typeof command === "string" && command.length > 0, `${file}: "${name}" command`);
    }
  }
  assert.ok(count >= 20, `${count} tasks checked`);
});
