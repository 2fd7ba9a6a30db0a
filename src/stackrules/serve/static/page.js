// stackrules serve: conveniences over the page's forms, which work without this script.
// - Read a chosen record file into the record box (and guess its format from its name), so
//   that it can be read and edited before it is sent; the box is then what is sent. Without
//   this script the file itself is sent (the form is multipart/form-data) and read there.
// - Name the record in messages after the file it came from, or "pasted record".
// - Open every collapsed list before printing, and close them again after.
"use strict";

const FORMATS = { json: "json", jsonl: "jsonl", csv: "csv", jwt: "jwt", txt: "jwt" };

function byId(id) {
  return document.getElementById(id);
}

document.addEventListener("DOMContentLoaded", () => {
  for (const input of document.querySelectorAll("input[type=file][data-into]")) {
    input.addEventListener("change", () => {
      const file = input.files && input.files[0];
      if (!file) {
        return;
      }
      file.text().then((text) => {
        byId(input.dataset.into).value = text;
        byId(input.dataset.name).value = file.name;
        const extension = file.name.split(".").pop().toLowerCase();
        const format = byId(input.dataset.format);
        format.value = FORMATS[extension] || "auto";
        input.value = ""; // the box holds it now, edits and all: send the box, not the file
        const hint = byId(input.id + "-hint");
        if (hint) {
          hint.textContent = "Read " + file.name + " into the box above.";
        }
      });
    });
  }
  for (const area of document.querySelectorAll("textarea[data-name]")) {
    area.addEventListener("input", () => {
      byId(area.dataset.name).value = "pasted record";
    });
  }
});

let reopened = [];
window.addEventListener("beforeprint", () => {
  reopened = Array.from(document.querySelectorAll("main details:not([open])"));
  for (const d of reopened) {
    d.open = true;
  }
});
window.addEventListener("afterprint", () => {
  for (const d of reopened) {
    d.open = false;
  }
  reopened = [];
});
