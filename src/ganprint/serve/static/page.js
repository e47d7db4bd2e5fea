// The ganprint page: send dropped or picked images to /v1/predict, show one card per image, then
// fetch each scored image's heatmap from /v1/explain. Every text from the server or a file name is
// set with textContent (never parsed as HTML). No library, nothing loaded from elsewhere.
"use strict";

const PER_REQUEST = 16;      // images per /v1/predict call (the service's --max-files is larger)
const state = { classes: [] };

function el(tag, attrs = {}, text = null) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== null) node.textContent = text;
  return node;
}

function authHeaders() {
  const token = document.getElementById("token-input").value.trim();
  return token ? { Authorization: "Bearer " + token } : {};
}

function setStatus(text) {
  document.getElementById("status").textContent = text;
}

async function loadModel() {
  const summary = document.getElementById("model-summary");
  try {
    const health = await (await fetch("/healthz")).json();
    state.classes = health.classes || [];
    summary.textContent = "Sources this model knows: " + state.classes.join(", ") + ".";
    const response = await fetch("/v1/model", { headers: authHeaders() });
    if (response.status === 401) {
      document.getElementById("token-box").open = true;
      summary.textContent += " This service needs an access token.";
      return;
    }
    if (!response.ok) return;
    const card = await response.json();
    const model = card.model || {};
    const parts = [model.arch_description || model.arch, model.kind_description].filter(Boolean)
      .map((text) => String(text).replace(/\.+$/, ""));
    if (parts.length) summary.textContent += " Model: " + parts.join("; ") + ".";
  } catch (err) {
    summary.textContent = "The service did not answer: " + err;
  }
}

function newCard(file, index) {
  const card = el("article", { class: "card", "data-index": String(index), "aria-busy": "true" });
  const title = el("h3", {}, file.name);
  const pictures = el("div", { class: "pictures" });
  const thumb = el("img", { class: "thumb", alt: "The uploaded image " + file.name });
  thumb.addEventListener("error", () => {  // the browser cannot show it either: say so in words
    thumb.replaceWith(el("span", { class: "thumb no-preview", role: "img", "aria-label": "No preview of " + file.name },
                         "no preview"));
  });
  thumb.src = URL.createObjectURL(file);
  pictures.append(thumb);
  const body = el("div", { class: "body" }, "Scoring…");
  card.append(title, pictures, body);
  document.getElementById("results").append(card);
  return { card, pictures, body, file };
}

function percent(p) {
  return (100 * p).toFixed(1) + "%";
}

function showRecord(view, record) {
  const { card, body } = view;
  body.textContent = "";
  card.setAttribute("aria-busy", "false");
  if (record.error !== undefined) {
    card.classList.add("failed");
    body.append(el("p", { class: "error" }, "Could not be scored: " + record.error));
    return false;
  }
  const unknown = record.label === "unknown";
  const answer = el("p", { class: "answer" + (unknown ? " unknown" : "") });
  answer.append("Answer: ", el("span", { class: "label" }, unknown ? "unknown" : record.label));
  body.append(answer);
  if (unknown) {
    body.append(el("p", { class: "unknown-note" },
      "Unknown: this image looks like none of the sources the model knows (known-source score "
      + record.known_score.toFixed(3) + " is below the model's threshold)."));
  }
  if (record.p_fake !== undefined) {
    const fake = record.fake === undefined ? "" : (record.fake ? " (above the fake threshold)" : " (below the fake threshold)");
    body.append(el("p", { class: "pfake" }, "p_fake: " + record.p_fake.toFixed(4) + fake));
  }
  const entries = Object.entries(record.probabilities);
  const top = Math.max(...entries.map(([, p]) => p));
  const bars = el("ul", { class: "bars", "aria-label": "Probability of each source" });
  for (const [name, p] of entries) {
    const item = el("li", p === top ? { class: "top" } : {});
    const track = el("div", { class: "track", role: "meter", "aria-valuemin": "0", "aria-valuemax": "1",
                              "aria-valuenow": String(p), "aria-label": name + ": " + percent(p) });
    const fill = el("div", { class: "fill" });
    fill.style.width = percent(p);
    track.append(fill);
    item.append(el("span", { class: "name", title: name }, name), track, el("span", { class: "value" }, percent(p)));
    bars.append(item);
  }
  body.append(bars);
  return true;
}

async function explain(view, record) {
  const wait = el("span", { class: "heatmap-wait muted" }, "Heatmap…");
  view.pictures.append(wait);
  const form = new FormData();
  form.append("files", view.file, view.file.name);
  try {
    const response = await fetch("/v1/explain", { method: "POST", body: form, headers: authHeaders() });
    if (!response.ok) {
      const reason = response.status === 501 ? "no heatmap for this kind of model" : "no heatmap (" + response.status + ")";
      wait.textContent = reason;
      return;
    }
    const picture = el("img", { class: "heatmap",
      alt: "Heatmap of " + view.file.name + ": where the model found evidence for " + record.label });
    picture.src = URL.createObjectURL(await response.blob());
    wait.replaceWith(picture);
  } catch (err) {
    wait.textContent = "no heatmap: " + err;
  }
}

async function score(files) {
  const images = Array.from(files);
  if (!images.length) return;
  const views = images.map(newCard);
  setStatus("Scoring " + images.length + " image(s)…");
  let done = 0;
  for (let start = 0; start < views.length; start += PER_REQUEST) {
    const chunk = views.slice(start, start + PER_REQUEST);
    const form = new FormData();
    for (const view of chunk) form.append("files", view.file, view.file.name);
    let results;
    try {
      const response = await fetch("/v1/predict", { method: "POST", body: form, headers: authHeaders() });
      const answer = await response.json();
      if (!answer.results) throw new Error(answer.error || ("HTTP " + response.status));
      results = answer.results;
    } catch (err) {
      for (const view of chunk) showRecord(view, { error: String(err.message || err) });
      continue;
    }
    chunk.forEach((view, i) => {
      if (showRecord(view, results[i])) explain(view, results[i]);
    });
    done += chunk.length;
  }
  setStatus("Scored " + done + " of " + images.length + " image(s).");
}

function setUp() {
  const zone = document.getElementById("drop-zone");
  const input = document.getElementById("file-input");
  input.addEventListener("change", () => { score(input.files); input.value = ""; });
  zone.addEventListener("click", (event) => { if (event.target === zone) input.click(); });
  zone.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") { event.preventDefault(); input.click(); }
  });
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    score(event.dataTransfer.files);
  });
  document.getElementById("token-input").addEventListener("change", loadModel);
  loadModel();
}

document.addEventListener("DOMContentLoaded", setUp);
