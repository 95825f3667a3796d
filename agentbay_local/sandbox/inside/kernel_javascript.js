// The JavaScript kernel: one persistent Node.js process of a session running cells in one
// vm context, so what a cell declares (var, let, const, function) is there in the next.
//
// The tool server (kernels.py) runs this file's source with the session's `node -e` and
// speaks the protocol of kernel_python.py: cells as JSON lines on stdin, output on fd 1
// and 2, events as JSON lines on fd 3 ({"ready"}, {"result", "main"}, {"error"},
// {"done"}). A cell's completion value is its main result; a promise is awaited. SIGINT
// (the tool server's time limit) interrupts a running cell (breakOnSigint) or the await.
"use strict";
const fs = require("fs");
const readline = require("readline");
const util = require("util");
const vm = require("vm");

function send(event) {
  fs.writeSync(3, JSON.stringify(event) + "\n");
}

function bundle(value) {
  const data = { "text/plain": util.inspect(value, { depth: 4, maxArrayLength: 200 }) };
  if (value !== null && typeof value === "object") {
    for (const [mime, method] of [["text/html", "_repr_html_"], ["image/svg+xml", "_repr_svg_"],
      ["text/markdown", "_repr_markdown_"], ["text/latex", "_repr_latex_"]]) {
      if (typeof value[method] === "function") {
        try { data[mime] = String(value[method]()); } catch (e) { /* not offered */ }
      }
    }
  }
  return data;
}

function display(...values) {
  for (const value of values) send({ result: bundle(value), main: false });
}

const sandbox = {
  console, require, process, Buffer, URL, URLSearchParams, TextEncoder, TextDecoder,
  setTimeout, clearTimeout, setInterval, clearInterval, setImmediate, clearImmediate,
  queueMicrotask, structuredClone: globalThis.structuredClone, fetch: globalThis.fetch,
  module: { exports: {} }, __filename: "<cell>", __dirname: process.cwd(), display,
};
sandbox.exports = sandbox.module.exports;
sandbox.global = sandbox;
sandbox.globalThis = sandbox;
const context = vm.createContext(sandbox);

let interruptWaiting = null;
process.on("SIGINT", () => {
  if (interruptWaiting) interruptWaiting(new Error("Script execution interrupted."));
});

// The stack without this driver's frames (node's vm, [eval]): the user's code is what it shows.
function userStack(stack) {
  return String(stack || "").split("\n")
    .filter((line) => !/^\s+at /.test(line) || line.includes("<cell>"))
    .filter((line) => !/node:vm|\[eval\]/.test(line))
    .join("\n");
}

function sendError(error) {
  if (error instanceof Error || (error && typeof error === "object" && "stack" in error)) {
    send({ error: { name: String(error.name || "Error"), value: String(error.message || ""),
      traceback: userStack(error.stack) } });
  } else {
    send({ error: { name: "Error", value: String(error), traceback: "" } });
  }
}

// A cell's top-level `let` and `const` become `var`: declared in a later cell again (a cell
// run twice), they would otherwise fail ("Identifier has already been declared"), as they
// do not in Node's REPL. Strings, template literals and comments are skipped; nested blocks
// keep their own.
function topLevelVar(code) {
  let out = "";
  let depth = 0;
  for (let i = 0; i < code.length;) {
    const c = code[i];
    if (c === "/" && code[i + 1] === "/") {
      const end = code.indexOf("\n", i);
      const stop = end < 0 ? code.length : end;
      out += code.slice(i, stop);
      i = stop;
    } else if (c === "/" && code[i + 1] === "*") {
      const end = code.indexOf("*/", i + 2);
      const stop = end < 0 ? code.length : end + 2;
      out += code.slice(i, stop);
      i = stop;
    } else if (c === "'" || c === '"' || c === "`") {
      let j = i + 1;
      while (j < code.length && code[j] !== c) j += code[j] === "\\" ? 2 : 1;
      out += code.slice(i, j + 1);
      i = j + 1;
    } else {
      if (c === "{") depth += 1;
      if (c === "}") depth -= 1;
      // Not a loop's own (`for (let i ...)`): each iteration keeps its binding.
      const word = depth === 0 && !/[\w$.]/.test(code[i - 1] || "")
        ? /^(const|let)(?=[\s[{])/.exec(code.slice(i, i + 6)) : null;
      if (word && !out.trimEnd().endsWith("(")) {
        out += "var";
        i += word[1].length;
      } else {
        out += c;
        i += 1;
      }
    }
  }
  return out;
}

let count = 0;
async function run(code) {
  let value = vm.runInContext(topLevelVar(code), context,
    { filename: "<cell>", breakOnSigint: true });
  if (value && typeof value.then === "function") {
    value = await new Promise((resolve, reject) => {
      interruptWaiting = reject;
      value.then(resolve, reject);
    }).finally(() => { interruptWaiting = null; });
  }
  if (value !== undefined) send({ result: bundle(value), main: true });
}

// process.stdin, not a file stream of fd 0: a thread blocked reading a pipe would keep
// process.exit() from ending the process.
const lines = readline.createInterface({ input: process.stdin });
let queue = Promise.resolve();
lines.on("line", (line) => {
  queue = queue.then(async () => {
    const request = JSON.parse(line);
    count += 1;
    try {
      await run(String(request.code || ""));
    } catch (error) {
      sendError(error);
    }
    send({ done: count });
  });
});
lines.on("close", () => process.exit(0));
send({ ready: process.pid });
