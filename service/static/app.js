// The screening page: sends the text or file to POST /v1/screen and draws the evidence over the text.
// Everything from the server is inserted with textContent, never as HTML.
"use strict";

(function () {
  const PALETTE_SIZE = 12;
  const MODEL_INDICATOR = "MODEL";
  const VERDICTS = {
    high: "High: strong indicators present. Prioritise this document for review.",
    review: "Review: indicators present. Worth a closer look.",
    low: "Low: few or no indicators present.",
  };
  const taxonomies = new Map();

  const $ = (id) => document.getElementById(id);

  class ApiError extends Error {
    constructor(status, body) {
      const err = body && body.error ? body.error : null;
      super(err ? err.message : "the service answered HTTP " + status);
      this.status = status;
      this.code = err ? err.code : "http_" + status;
    }
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (name === "class") node.className = value;
      else node.setAttribute(name, value);
    }
    for (const child of children) {
      if (child !== null && child !== undefined) {
        node.append(child instanceof Node ? child : document.createTextNode(String(child)));
      }
    }
    return node;
  }

  function requestHeaders(extra) {
    const headers = Object.assign({ Accept: "application/json" }, extra);
    const key = $("api-key").value.trim();
    if (key) headers["X-API-Key"] = key;
    return headers;
  }

  async function callApi(url, init) {
    let response;
    try {
      response = await fetch(url, init);
    } catch (err) {
      throw new ApiError(0, { error: { code: "network", message: "the service could not be reached" } });
    }
    let body = null;
    try {
      body = await response.json();
    } catch (err) {
      body = null;
    }
    if (!response.ok) throw new ApiError(response.status, body);
    return body;
  }

  async function taxonomyOf(profile) {
    if (!taxonomies.has(profile)) {
      const body = await callApi("/v1/taxonomy?profile=" + encodeURIComponent(profile),
        { headers: requestHeaders({}) });
      const tax = body.taxonomies[0];
      const byId = new Map();
      tax.indicators.forEach((ind, index) => byId.set(ind.id, Object.assign({ index: index }, ind)));
      taxonomies.set(profile, { title: tax.title, version: tax.version, byId: byId });
    }
    return taxonomies.get(profile);
  }

  function indicatorInfo(tax, id) {
    const known = tax.byId.get(id);
    if (known) return known;
    if (id === MODEL_INDICATOR) {
      return { id: id, name: "Words the trained model weighed most", index: -1, description: "", sources: [] };
    }
    return { id: id, name: id, index: -1, description: "", sources: [] };
  }

  function colourClass(info) {
    return info.index >= 0 ? "c" + (info.index % PALETTE_SIZE) : "cm";
  }

  function describe(e, tax) {
    const info = indicatorInfo(tax, e.indicator);
    let line = e.indicator + " " + info.name + ": rule " + e.rule + ", " + e.assertion + ", source " + e.source;
    if (e.cue) line += " (cue: \u201c" + e.cue + "\u201d)";
    return line;
  }

  // Cut the text at every evidence boundary; each piece knows the evidence covering it.
  function segments(text, evidence) {
    const cuts = new Set([0, text.length]);
    for (const e of evidence) {
      cuts.add(e.start);
      cuts.add(e.end);
    }
    const points = Array.from(cuts).filter((p) => p >= 0 && p <= text.length).sort((a, b) => a - b);
    const ordered = evidence.map((e, i) => Object.assign({ n: i }, e))
      .sort((a, b) => a.start - b.start || b.end - a.end);
    const out = [];
    let next = 0;
    let active = [];
    for (let p = 0; p < points.length - 1; p++) {
      const start = points[p];
      const end = points[p + 1];
      while (next < ordered.length && ordered[next].start <= start) active.push(ordered[next++]);
      active = active.filter((e) => e.end > start);
      out.push({ start: start, end: end, cover: active.slice() });
    }
    return out;
  }

  function primaryOf(cover) {
    return cover.find((e) => e.assertion === "asserted" && e.source === "rule")
      || cover.find((e) => e.source === "rule")
      || cover.find((e) => e.assertion === "asserted")
      || cover[0];
  }

  let hideTimer = null;

  function hideDetail() {
    $("detail").hidden = true;
  }

  function hideDetailSoon() {
    clearTimeout(hideTimer);
    hideTimer = setTimeout(() => {
      const tip = $("detail");
      if (!tip.matches(":hover") && !(document.activeElement && document.activeElement.matches("mark.hit"))) {
        hideDetail();
      }
    }, 200);
  }

  // Fill the tooltip with every piece of evidence under the mark and place it just below the mark.
  function showDetail(mark, cover, tax) {
    clearTimeout(hideTimer);
    const tip = $("detail");
    const list = el("ul");
    for (const e of cover) {
      const info = indicatorInfo(tax, e.indicator);
      list.append(el("li", {},
        el("strong", {}, el("span", { class: "swatch " + colourClass(info), "aria-hidden": "true" }),
          " " + e.indicator + " " + info.name),
        el("q", {}, e.text),
        el("span", { class: "meta" }, "rule " + e.rule + " \u00b7 " + e.assertion + " \u00b7 source " + e.source
          + (e.cue ? " \u00b7 cue \u201c" + e.cue + "\u201d" : ""))));
    }
    tip.replaceChildren(list);
    tip.hidden = false;
    const box = tip.parentElement.getBoundingClientRect();
    const rects = mark.getClientRects();
    const r = rects.length ? rects[rects.length - 1] : mark.getBoundingClientRect();
    const width = Math.min(tip.offsetWidth, box.width);
    tip.style.left = Math.max(0, Math.min(r.left - box.left, box.width - width)) + "px";
    tip.style.top = (r.bottom - box.top + 6) + "px";
  }

  function renderDocument(text, evidence, tax, firstMarks) {
    const container = $("document");
    container.replaceChildren();
    const fragment = document.createDocumentFragment();
    for (const seg of segments(text, evidence)) {
      const words = text.slice(seg.start, seg.end);
      if (seg.cover.length === 0) {
        fragment.append(document.createTextNode(words));
        continue;
      }
      const primary = primaryOf(seg.cover);
      const classes = ["hit", colourClass(indicatorInfo(tax, primary.indicator))];
      if (!seg.cover.some((e) => e.assertion === "asserted")) classes.push("muted");
      if (seg.cover.some((e) => e.source === "model")) classes.push("by-model");
      if (!seg.cover.some((e) => e.source === "rule")) classes.push("model-only");
      const ending = Array.from(new Set(seg.cover
        .filter((e) => e.end === seg.end && e.source === "rule").map((e) => e.indicator)));
      const mark = el("mark", {
        class: classes.join(" "),
        tabindex: "0",
        title: seg.cover.map((e) => describe(e, tax)).join("\n"),
        "aria-describedby": "detail",
        "data-indicator": primary.indicator,
        "data-assertion": primary.assertion,
      }, words);
      if (ending.length) mark.setAttribute("data-label", ending.join(" "));
      const show = () => showDetail(mark, seg.cover, tax);
      mark.addEventListener("focus", show);
      mark.addEventListener("mouseenter", show);
      mark.addEventListener("blur", hideDetailSoon);
      mark.addEventListener("mouseleave", hideDetailSoon);
      for (const e of seg.cover) {
        if (!firstMarks.has(e.n)) firstMarks.set(e.n, mark);
      }
      fragment.append(mark);
    }
    container.append(fragment);
  }

  function renderLegend(result, tax) {
    const legend = $("legend");
    legend.replaceChildren();
    const counts = new Map();
    for (const e of result.evidence) {
      const c = counts.get(e.indicator) || { asserted: 0, other: 0 };
      if (e.assertion === "asserted") c.asserted += 1;
      else c.other += 1;
      counts.set(e.indicator, c);
    }
    const scores = new Map(result.indicators.map((i) => [i.id, i.score]));
    const ids = Array.from(counts.keys()).sort((a, b) => {
      const ia = indicatorInfo(tax, a).index;
      const ib = indicatorInfo(tax, b).index;
      return (ia < 0 ? 1e9 : ia) - (ib < 0 ? 1e9 : ib);
    });
    if (ids.length === 0) {
      legend.append(el("li", { class: "none" }, "No indicator wording was found."));
      return;
    }
    for (const id of ids) {
      const info = indicatorInfo(tax, id);
      const c = counts.get(id);
      const parts = [];
      if (c.asserted) parts.push(c.asserted + " asserted");
      if (c.other) parts.push(c.other + " not asserted");
      if (scores.has(id)) parts.push("indicator score " + scores.get(id).toFixed(2));
      const item = el("li", { "data-indicator": id },
        el("span", { class: "swatch " + colourClass(info), "aria-hidden": "true" }),
        el("span", { class: "legend-name" }, el("strong", {}, id), " " + info.name),
        el("span", { class: "meta" }, " " + parts.join(", ")));
      if (info.sources && info.sources.length) {
        item.title = info.description + "\nSources: " + info.sources.map((s) => s.title).join("; ");
      }
      legend.append(item);
    }
  }

  function renderEvidenceList(result, tax, firstMarks) {
    const list = $("evidence");
    list.replaceChildren();
    if (result.evidence.length === 0) {
      list.append(el("li", { class: "none" }, "None."));
      return;
    }
    result.evidence.forEach((e, n) => {
      const info = indicatorInfo(tax, e.indicator);
      const go = el("button", { type: "button", class: "link" }, "show in text");
      go.addEventListener("click", () => {
        const mark = firstMarks.get(n);
        if (mark) {
          mark.scrollIntoView({ block: "center" });
          mark.focus();
        }
      });
      list.append(el("li", { class: e.assertion === "asserted" ? "" : "not-asserted" },
        el("span", { class: "swatch " + colourClass(info), "aria-hidden": "true" }),
        el("strong", {}, e.indicator), " " + info.name + ": ",
        el("q", {}, e.text),
        el("span", { class: "meta" }, " rule " + e.rule + " \u00b7 " + e.assertion + " \u00b7 source " + e.source),
        " ", go));
    });
  }

  function render(result, tax) {
    $("result-id").textContent = result.id;
    const verdict = $("verdict");
    verdict.className = "verdict verdict-" + (result.verdict || "none");
    verdict.textContent = VERDICTS[result.verdict] || "";
    $("score").textContent = result.score === null ? "n/a" : result.score.toFixed(2);
    const eng = result.engine;
    $("engine").textContent = "Taxonomy " + eng.taxonomy_version + ", "
      + (eng.model ? "model " + eng.model : "rule scorer") + ", screening " + eng.version + ".";
    const firstMarks = new Map();
    renderLegend(result, tax);
    renderDocument(result.text || "", result.evidence, tax, firstMarks);
    renderEvidenceList(result, tax, firstMarks);
    hideDetail();
    $("result").hidden = false;
  }

  function setStatus(message, isError) {
    const status = $("status");
    status.textContent = message;
    status.classList.toggle("error", Boolean(isError));
  }

  function explain(err) {
    if (err.status === 401) {
      $("key-box").open = true;
      $("api-key").focus();
      return "This service needs an API key: enter it under \u201cAPI key\u201d and try again.";
    }
    if (err.status === 503) return "The service is still loading its models. Try again in a few seconds.";
    if (err.status === 0) return "The service could not be reached. Check the connection and try again.";
    return "Could not screen this document: " + err.message + " (" + err.code + ").";
  }

  async function onSubmit(event) {
    event.preventDefault();
    const profile = $("profile").value;
    const file = $("file").files[0];
    const text = $("text").value;
    if (!file && !text.trim()) {
      setStatus("Paste some text or choose a file first.", true);
      $("text").focus();
      return;
    }
    let init;
    if (file) {
      const form = new FormData();
      form.append("file", file, file.name);
      form.append("profile", profile);
      form.append("include_text", "true");
      init = { method: "POST", headers: requestHeaders({}), body: form };
    } else {
      init = {
        method: "POST",
        headers: requestHeaders({ "Content-Type": "application/json" }),
        body: JSON.stringify({ text: text, profile: profile, id: "pasted text", include_text: true }),
      };
    }
    const button = $("submit");
    button.disabled = true;
    setStatus(file ? "Screening \u201c" + file.name + "\u201d\u2026" : "Screening the pasted text\u2026");
    try {
      const result = await callApi("/v1/screen", init);
      const tax = await taxonomyOf(profile);
      render(result, tax);
      const n = result.indicators.length;
      setStatus("Done: " + (n === 0 ? "no indicators" : n + (n === 1 ? " indicator" : " indicators")) + " present.");
      $("result-title").focus();
    } catch (err) {
      setStatus(explain(err), true);
    } finally {
      button.disabled = false;
    }
  }

  function onClear() {
    $("text").value = "";
    $("file").value = "";
    $("file-hint").textContent = "A chosen file is screened instead of the pasted text.";
    $("result").hidden = true;
    setStatus("");
    $("text").focus();
  }

  function onFileChange() {
    const file = $("file").files[0];
    $("file-hint").textContent = file
      ? "\u201c" + file.name + "\u201d will be screened instead of the pasted text."
      : "A chosen file is screened instead of the pasted text.";
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("screen-form").addEventListener("submit", onSubmit);
    $("clear").addEventListener("click", onClear);
    $("file").addEventListener("change", onFileChange);
    $("detail").addEventListener("mouseleave", hideDetailSoon);
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape") hideDetail();
    });
  });
})();
