// sparktrack's UI: each page is drawn from the JSON API (/api/...); no framework, no CDN.
"use strict";

const main = document.getElementById("main");
const errorBox = document.getElementById("error");
const params = JSON.parse(document.body.dataset.params || "{}");
const query = new URLSearchParams(location.search);

// -- helpers ------------------------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "on") for (const [event, handler] of Object.entries(value)) node.addEventListener(event, handler);
    else if (key === "class") node.className = value;
    else if (value !== null && value !== undefined && value !== false) node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

async function api(path, options = {}) {
  const answer = await fetch(path, options);
  const kind = answer.headers.get("content-type") || "";
  const body = kind.includes("json") ? await answer.json() : await answer.text();
  if (!answer.ok) {
    const message = body && body.message ? body.message : String(body);
    const error = new Error(message);
    error.status = answer.status;
    throw error;
  }
  return body;
}

function showError(error) {
  errorBox.hidden = false;
  errorBox.textContent = error.status ? `${error.status}: ${error.message}` : String(error.message || error);
}

function clearError() { errorBox.hidden = true; errorBox.textContent = ""; }

function pairs(list) { return Object.fromEntries((list || []).map((p) => [p.key, p.value])); }

function time(ms) { return ms ? new Date(ms).toISOString().replace("T", " ").slice(0, 19) : ""; }

function fmt(value) {
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : value.toPrecision(6).replace(/\.?0+$/, "");
  return value === undefined || value === null ? "" : String(value);
}

function table(headers, rows, attrs = {}) {
  return el("table", attrs, el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))),
            el("tbody", {}, rows.map((r) => el("tr", {}, r.map((c) => c instanceof Node ? el("td", {}, c) :
                                                                  el("td", { class: typeof c === "number" ? "num" : "" }, fmt(c)))))));
}

function runLink(run) { return el("a", { href: `/runs/${run.info.run_id}` }, run.info.run_name || run.info.run_id.slice(0, 8)); }

function setTitle(text) { document.title = `${text} · sparktrack`; }

// -- experiments ----------------------------------------------------------------------------------

async function experimentsPage() {
  const { experiments } = await api("/api/experiments");
  main.replaceChildren(el("h1", {}, "Experiments"),
    table(["Name", "Id", "Created", "Last update"], experiments.map((e) => [
      el("a", { href: `/runs?experiment_ids=${e.experiment_id}` }, e.name), e.experiment_id, time(e.creation_time),
      time(e.last_update_time)]), { id: "experiments" }));
}

// -- the runs table -------------------------------------------------------------------------------

const MAX_DEFAULT_COLUMNS = 12;

async function runsPage() {
  const ids = query.get("experiment_ids") || "";
  const state = { filter: query.get("filter") || "", order: query.get("order_by") || "", tokens: [null], page: 0,
                  columns: null, runs: [], next: null, folded: new Set() };
  const filter = el("input", { id: "filter", type: "search", value: state.filter,
                               placeholder: "metrics.accuracy > 0.8 and params.depth = '4'" });
  const form = el("form", { class: "bar", id: "search", on: { submit: (e) => { e.preventDefault(); state.filter = filter.value;
                                                                              state.tokens = [null]; state.page = 0; load(); } } },
                  filter, el("button", { type: "submit" }, "Search"));
  const picker = el("details", { id: "columns" }, el("summary", {}, "Columns"));
  const actions = el("div", { class: "bar" },
    el("button", { id: "compare", on: { click: () => go("/compare") } }, "Compare selected"),
    el("button", { id: "chart", on: { click: () => go("/charts") } }, "Chart selected"),
    el("span", { class: "muted", id: "count" }));
  const holder = el("div", { id: "runs-table" });
  const pager = el("div", { class: "bar" },
    el("button", { id: "prev", on: { click: () => { state.page -= 1; load(); } } }, "‹ Previous"),
    el("button", { id: "next", on: { click: () => { state.page += 1; load(); } } }, "Next ›"));
  main.replaceChildren(el("h1", {}, "Runs"), form, picker, actions, holder, pager);

  function go(path) {
    const chosen = [...holder.querySelectorAll("input.pick:checked")].map((box) => box.value);
    if (!chosen.length) { showError({ message: "Select runs first (the boxes in the first column)." }); return; }
    location.href = `${path}?run_ids=${chosen.join(",")}`;
  }

  async function load() {
    clearError();
    const search = new URLSearchParams({ max_results: "50" });
    if (ids) search.set("experiment_ids", ids);
    if (state.filter) search.set("filter", state.filter);
    if (state.order) search.set("order_by", state.order);
    if (state.tokens[state.page]) search.set("page_token", state.tokens[state.page]);
    try {
      const page = await api(`/api/runs/search?${search}`);
      state.runs = page.runs;
      state.tokens[state.page + 1] = page.next_page_token || null;
      draw();
    } catch (error) { showError(error); holder.replaceChildren(); }
  }

  function keysOf(kind) {
    const found = new Set();
    for (const run of state.runs) for (const item of run.data[kind]) found.add(item.key);
    return [...found].sort();
  }

  function draw() {
    const available = [...keysOf("metrics").map((k) => `metrics.${k}`), ...keysOf("params").map((k) => `params.${k}`),
                       ...keysOf("tags").filter((k) => !k.startsWith("mlflow.") && !k.startsWith("sparktrack.")).map((k) => `tags.${k}`)];
    if (state.columns === null) state.columns = new Set(available.slice(0, MAX_DEFAULT_COLUMNS));
    const columns = available.filter((name) => state.columns.has(name));
    picker.replaceChildren(el("summary", {}, `Columns (${columns.length} of ${available.length})`),
      el("div", { class: "columns" }, available.map((name) => el("label", {},
        el("input", { type: "checkbox", class: "column", value: name, checked: state.columns.has(name),
                      on: { change: (e) => { e.target.checked ? state.columns.add(name) : state.columns.delete(name); draw(); } } }),
        ` ${name}`, el("br")))));
    const header = el("tr", {}, el("th", {}, ""), sortable("attributes.run_name", "Run"), sortable("attributes.status", "Status"),
                      sortable("attributes.start_time", "Started"), columns.map((c) => sortable(c, c)));
    const byId = Object.fromEntries(state.runs.map((r) => [r.info.run_id, r]));
    const children = {};
    const top = [];
    for (const run of state.runs) {
      const parent = run.info.parent_run_id;
      if (parent && byId[parent]) (children[parent] = children[parent] || []).push(run); else top.push(run);
    }
    const rows = [];
    const add = (run, depth) => {
      const kids = children[run.info.run_id] || [];
      const folded = !state.folded.has(run.info.run_id);
      const toggle = kids.length ? el("span", { class: "toggle", title: "show or hide the child runs",
        on: { click: () => { state.folded.has(run.info.run_id) ? state.folded.delete(run.info.run_id) : state.folded.add(run.info.run_id); draw(); } } },
        folded ? "▸" : "▾") : el("span", { class: "toggle" }, "");
      const values = { ...Object.fromEntries(Object.entries(pairs(run.data.metrics)).map(([k, v]) => [`metrics.${k}`, v])),
                       ...Object.fromEntries(Object.entries(pairs(run.data.params)).map(([k, v]) => [`params.${k}`, v])),
                       ...Object.fromEntries(Object.entries(pairs(run.data.tags)).map(([k, v]) => [`tags.${k}`, v])) };
      rows.push(el("tr", { class: depth ? `child${folded ? "" : ""}` : "", "data-run-id": run.info.run_id },
        el("td", {}, el("input", { type: "checkbox", class: "pick", value: run.info.run_id })),
        el("td", {}, toggle, runLink(run), kids.length ? el("span", { class: "badge" }, `${kids.length} child`) : null),
        el("td", {}, run.info.status), el("td", {}, time(run.info.start_time)),
        columns.map((c) => el("td", { class: typeof values[c] === "number" ? "num" : "" }, fmt(values[c])))));
      if (!folded) for (const kid of kids) add(kid, depth + 1);
    };
    for (const run of top) add(run, 0);
    holder.replaceChildren(el("table", { id: "runs" }, el("thead", {}, header), el("tbody", {}, rows)));
    document.getElementById("count").textContent = `${state.runs.length} runs on this page`;
    document.getElementById("prev").disabled = state.page === 0;
    document.getElementById("next").disabled = !state.tokens[state.page + 1];
  }

  function sortable(key, label) {
    const [current, direction] = state.order.split(" ");
    const sorted = current === key;
    return el("th", { class: `sortable${sorted ? " sorted" : ""}`, "data-dir": sorted ? (direction === "DESC" ? "▼" : "▲") : null,
                      on: { click: () => { state.order = sorted && direction !== "DESC" ? `${key} DESC` : `${key} ASC`;
                                           state.tokens = [null]; state.page = 0; load(); } } }, label);
  }

  await load();
}

// -- a run ------------------------------------------------------------------------------------------

async function runPage() {
  const found = await api(`/api/runs/${params.run_id}`);
  const run = found.run;
  setTitle(run.info.run_name || run.info.run_id);
  const latest = pairs(run.data.metrics);
  const preview = el("div", { id: "preview" });
  const tree = el("ul", { class: "tree", id: "artifacts" });
  main.replaceChildren(
    el("h1", {}, run.info.run_name || run.info.run_id),
    table(["Run id", "Experiment", "Status", "Started", "Ended", "Parent"], [[run.info.run_id,
      el("a", { href: `/runs?experiment_ids=${run.info.experiment_id}` }, run.info.experiment_id), run.info.status,
      time(run.info.start_time), time(run.info.end_time),
      run.info.parent_run_id ? el("a", { href: `/runs/${run.info.parent_run_id}` }, run.info.parent_run_id) : ""]]),
    el("h2", {}, "Metrics"),
    table(["Metric", "Latest", "Min", "Max", "Points", ""], found.metric_summaries.map((m) => [m.key, latest[m.key], m.min, m.max,
      m.points, el("a", { href: `/charts?run_ids=${run.info.run_id}&keys=${encodeURIComponent(m.key)}` }, "chart")]), { id: "metrics" }),
    el("h2", {}, "Params"), table(["Param", "Value"], run.data.params.map((p) => [p.key, p.value]), { id: "params" }),
    el("h2", {}, "Tags"), table(["Tag", "Value"], run.data.tags.map((t) => [t.key, t.value]), { id: "tags" }),
    el("h2", {}, "Datasets"), table(["Name", "Context", "Source", "Type", "Delta version", "Digest"],
      run.inputs.dataset_inputs.map((d) => [d.name, d.context, d.source, d.source_type, d.delta_version, d.digest]), { id: "datasets" }),
    el("h2", {}, "Models"), found.models.length ? table(["Artifact path", "Flavor", "Signature", "Output"],
      found.models.map((m) => [m.artifact_path, m.descriptor.flavor,
        (m.descriptor.signature || []).map((c) => `${c.name}: ${c.type}`).join(", "),
        `${m.descriptor.output_column}: ${m.descriptor.output_type}`]), { id: "models" }) : el("p", { class: "muted" }, "No model logged."),
    el("h2", {}, "Artifacts"), tree, preview);
  await listInto(tree, "");

  async function listInto(list, path) {
    const { files } = await api(`/api/runs/${run.info.run_id}/artifacts?path=${encodeURIComponent(path)}`);
    list.replaceChildren(...files.map((f) => {
      const item = el("li", { class: f.is_dir ? "dir" : "file", "data-path": f.path }, f.path.split("/").pop(),
                      f.is_dir ? "" : el("span", { class: "muted" }, ` (${f.file_size} bytes)`));
      item.addEventListener("click", async (event) => {
        event.stopPropagation();
        if (f.is_dir) {
          if (item.querySelector("ul")) { item.querySelector("ul").remove(); return; }
          const sub = el("ul", {});
          item.append(sub);
          await listInto(sub, f.path);
        } else await show(f.path);
      });
      return item;
    }));
  }

  async function show(path) {
    const url = `/api/runs/${run.info.run_id}/artifact?path=${encodeURIComponent(path)}`;
    clearError();
    if (/\.(png|jpe?g|gif|svg|webp)$/i.test(path)) { preview.replaceChildren(el("h2", {}, path), el("img", { class: "preview", src: url, alt: path })); return; }
    try {
      const answer = await fetch(url);
      if (!answer.ok) throw Object.assign(new Error((await answer.json()).message), { status: answer.status });
      const text = await answer.text();
      let shown = text;
      if (/\.json$/i.test(path)) { try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* as text */ } }
      if (/\.csv$/i.test(path)) {
        const lines = text.trim().split("\n").slice(0, 200).map((line) => line.split(","));
        preview.replaceChildren(el("h2", {}, path), table(lines[0], lines.slice(1), { id: "csv-preview" }));
        return;
      }
      preview.replaceChildren(el("h2", {}, path), el("pre", { class: "preview", id: "text-preview" }, shown));
    } catch (error) { showError(error); }
  }
}

// -- charts -----------------------------------------------------------------------------------------

function smooth(values, weight) {
  if (!weight) return values;
  let last = null;
  return values.map((v) => { if (v === null) return null; last = last === null ? v : last * weight + (1 - weight) * v; return last; });
}

// Above this many runs a legend per chart costs more to draw than it tells: hovering names a line.
const MAX_LEGEND = 20;

async function chartsPage() {
  const ids = (query.get("run_ids") || "").split(",").filter(Boolean);
  if (!ids.length) { main.replaceChildren(el("p", {}, "No runs: pick them in a runs table.")); return; }
  // One search for the runs and one request for every history (sent together when the keys are
  // given): not a request per run and per line.
  const keys = (query.get("keys") || "").split(",").filter(Boolean);
  const fetchHistories = (chosen) => api(`/api/metrics/histories?${new URLSearchParams({ run_ids: ids.join(","), keys: chosen.join(","),
                                                                                        max_points: "2000" })}`);
  const early = keys.length ? fetchHistories(keys) : null;
  const found = await api(`/api/runs/search?${new URLSearchParams({ filter: `attributes.run_id IN (${ids.map((id) => `'${id}'`).join(",")})`,
                                                                   run_view_type: "ALL", max_results: String(ids.length) })}`);
  const byId = Object.fromEntries(found.runs.map((r) => [r.info.run_id, r]));
  const missing = ids.filter((id) => !byId[id]);
  if (missing.length) throw new Error(`No run ${missing.join(", ")}`);
  const runs = ids.map((id) => byId[id]);
  const allKeys = [...new Set(runs.flatMap((r) => r.data.metrics.map((m) => m.key)))].sort();
  const chosen = keys.length ? keys : allKeys.slice(0, 10);
  const xAxis = el("select", { id: "x-axis" }, el("option", { value: "step" }, "Step"), el("option", { value: "time" }, "Wall time"),
                   el("option", { value: "relative" }, "Relative time (s)"));
  const smoothing = el("input", { id: "smoothing", type: "range", min: "0", max: "0.99", step: "0.01", value: "0" });
  const logScale = el("input", { id: "log-scale", type: "checkbox" });
  const cards = el("div", { class: "cards", id: "cards" });
  main.replaceChildren(el("h1", {}, `Charts: ${runs.length} run${runs.length > 1 ? "s" : ""}`),
    el("div", { class: "bar" }, el("label", {}, "x-axis ", xAxis), el("label", {}, "smoothing ", smoothing),
       el("label", {}, logScale, " log scale")), cards);
  const histories = {};
  if (chosen.length) {
    for (const h of (await (early || fetchHistories(chosen))).histories) histories[`${h.run_id}/${h.key}`] = h;
  }
  const draw = () => {
    cards.replaceChildren();
    for (const key of chosen) {
      const div = el("div", { class: "chart", "data-key": key });
      cards.append(el("div", { class: "card" }, div));
      const drawn = runs.filter((run) => histories[`${run.info.run_id}/${key}`]);
      // WebGL pays off for many points; for fewer, SVG draws faster (and needs no GL context per chart).
      const type = drawn.reduce((n, run) => n + histories[`${run.info.run_id}/${key}`].value.length, 0) > 20000 ? "scattergl" : "scatter";
      const traces = drawn.map((run) => {
        const h = histories[`${run.info.run_id}/${key}`];
        const x = xAxis.value === "step" ? h.step : xAxis.value === "time" ? h.timestamp.map((t) => new Date(t))
          : h.timestamp.map((t) => (t - run.info.start_time) / 1000);
        return { x, y: smooth(h.value, Number(smoothing.value)), name: run.info.run_name || run.info.run_id.slice(0, 8),
                 mode: h.value.length > 1 ? "lines" : "markers", type };
      });
      Plotly.newPlot(div, traces, { title: { text: key, font: { size: 13 } }, margin: { t: 30, r: 10, b: 35, l: 50 },
        yaxis: { type: logScale.checked ? "log" : "linear" }, showlegend: runs.length > 1 && runs.length <= MAX_LEGEND },
        { displaylogo: false, responsive: true });
    }
  };
  for (const control of [xAxis, smoothing, logScale]) control.addEventListener("change", draw);
  draw();
}

// -- compare ----------------------------------------------------------------------------------------

async function comparePage() {
  const ids = (query.get("run_ids") || "").split(",").filter(Boolean);
  const runs = await Promise.all(ids.map((id) => api(`/api/runs/${id}`).then((r) => r.run)));
  const names = runs.map((r) => r.info.run_name || r.info.run_id.slice(0, 8));
  const columns = [];
  for (const kind of ["params", "metrics"]) {
    const keys = [...new Set(runs.flatMap((r) => r.data[kind].map((p) => p.key)))].sort();
    for (const key of keys) columns.push({ kind, key, values: runs.map((r) => pairs(r.data[kind])[key]) });
  }
  const differs = (c) => new Set(c.values.map((v) => JSON.stringify(v ?? null))).size > 1;
  const onlyDiff = el("input", { id: "only-differences", type: "checkbox", checked: true });
  const holder = el("div", { id: "compare-table" });
  const drawTable = () => holder.replaceChildren(table(["", ...names],
    columns.filter((c) => !onlyDiff.checked || differs(c)).map((c) => [`${c.kind}.${c.key}`, ...c.values]), { id: "comparison" }));
  onlyDiff.addEventListener("change", drawTable);
  const numeric = columns.filter((c) => c.values.every((v) => v !== undefined && v !== "" && !isNaN(Number(v))));
  const xs = el("select", { id: "scatter-x" }, numeric.map((c) => el("option", {}, `${c.kind}.${c.key}`)));
  const ys = el("select", { id: "scatter-y" }, numeric.map((c, i) => el("option", { selected: i === 1 }, `${c.kind}.${c.key}`)));
  const parallel = el("div", { class: "chart", id: "parallel" });
  const scatter = el("div", { class: "chart", id: "scatter" });
  main.replaceChildren(el("h1", {}, `Compare ${runs.length} runs`), el("label", {}, onlyDiff, " only the differences"), holder,
    el("h2", {}, "Parallel coordinates"), parallel, el("h2", {}, "Scatter"), el("div", { class: "bar" }, xs, "against", ys), scatter);
  drawTable();
  const column = (name) => numeric.find((c) => `${c.kind}.${c.key}` === name);
  if (numeric.length) {
    Plotly.newPlot(parallel, [{ type: "parcoords", dimensions: numeric.map((c) => ({ label: `${c.kind}.${c.key}`, values: c.values.map(Number) })) }],
                   { margin: { t: 40, r: 40, b: 20, l: 60 } }, { displaylogo: false });
    const drawScatter = () => Plotly.newPlot(scatter, [{ type: "scatter", mode: "markers+text", x: column(xs.value).values.map(Number),
      y: column(ys.value || xs.value).values.map(Number), text: names, textposition: "top center" }],
      { xaxis: { title: { text: xs.value } }, yaxis: { title: { text: ys.value } }, margin: { t: 20 } }, { displaylogo: false });
    xs.addEventListener("change", drawScatter);
    ys.addEventListener("change", drawScatter);
    drawScatter();
  }
}

// -- the registry -----------------------------------------------------------------------------------

async function modelsPage() {
  const { registered_models: models } = await api("/api/registry/models");
  main.replaceChildren(el("h1", {}, "Registry"), table(["Model", "Aliases", "Updated", "Description"], models.map((m) => [
    el("a", { href: `/models/${encodeURIComponent(m.name)}` }, m.name),
    m.aliases.map((a) => `${a.alias} → v${a.version}`).join(", "), time(m.last_updated_timestamp), m.description || ""]), { id: "models" }));
}

async function modelPage() {
  const name = params.name;
  const asOf = query.get("as_of") || "";
  const suffix = asOf ? `?as_of=${encodeURIComponent(asOf)}` : "";
  const [found, audit] = await Promise.all([api(`/api/registry/models/${encodeURIComponent(name)}${suffix}`),
                                            api(`/api/registry/audit?name=${encodeURIComponent(name)}`)]);
  setTitle(name);
  const model = found.registered_model;
  const asOfInput = el("input", { id: "as-of", type: "text", value: asOf, placeholder: "2026-11-01T12:00:00 or an audit version" });
  const alias = el("input", { id: "alias-name", type: "text", placeholder: "Champion" });
  const version = el("input", { id: "alias-version", type: "text", placeholder: "version" });
  const token = el("input", { id: "token", type: "password", placeholder: "token (if the server has one)" });
  const status = el("span", { id: "action-status", class: "muted" });
  main.replaceChildren(el("h1", {}, name, asOf ? el("span", { class: "badge" }, `as of ${asOf}`) : null),
    el("form", { class: "bar", on: { submit: (e) => { e.preventDefault(); location.search = asOfInput.value ? `?as_of=${encodeURIComponent(asOfInput.value)}` : ""; } } },
       "As of ", asOfInput, el("button", { type: "submit" }, "Show")),
    el("h2", {}, "Aliases"), table(["Alias", "Version"], model.aliases.map((a) => [a.alias, a.version]), { id: "aliases" }),
    el("form", { class: "bar", id: "alias-form", on: { submit: async (e) => {
      e.preventDefault();
      clearError();
      try {
        const headers = { "content-type": "application/json" };
        if (token.value) headers.authorization = `Bearer ${token.value}`;
        await api(`/api/registry/models/${encodeURIComponent(name)}/aliases`, { method: "POST", headers,
          body: JSON.stringify({ alias: alias.value, version: version.value }) });
        status.textContent = `${alias.value} → v${version.value}`;
        location.reload();
      } catch (error) { showError(error); }
    } } }, "Move alias ", alias, " to version ", version, token, el("button", { type: "submit", id: "move-alias" }, "Move")), status,
    el("h2", {}, "Versions"), table(["Version", "Stage", "Aliases", "Run", "Created", "Tags", ""], found.model_versions.map((v) => [
      v.version, v.current_stage, v.aliases.join(", "), v.run_id ? el("a", { href: `/runs/${v.run_id}` }, v.run_id.slice(0, 8)) : "",
      time(v.creation_timestamp), v.tags.map((t) => `${t.key}=${t.value}`).join(", "),
      el("a", { href: `/models/${encodeURIComponent(name)}/versions/${v.version}${suffix}` }, "lineage")]), { id: "versions" }),
    el("h2", {}, "Tags"), table(["Tag", "Value"], model.tags.map((t) => [t.key, t.value])),
    el("h2", {}, "Audit log"), table(["When", "Action", "Version", "Key", "Value", "Before", "After", "User"],
      audit.events.map((e) => [e.event_time, e.action, e.version, e.key, e.value, e.before, e.after, e.user_id]), { id: "audit" }));
}

async function versionPage() {
  const suffix = query.get("as_of") ? `?as_of=${encodeURIComponent(query.get("as_of"))}` : "";
  const { lineage } = await api(`/api/registry/models/${encodeURIComponent(params.name)}/versions/${params.version}/lineage${suffix}`);
  setTitle(`${params.name} v${params.version}`);
  main.replaceChildren(el("h1", {}, `${lineage.name} version ${lineage.version}`),
    table(["Aliases", "Stage", "Run", "Run status", "Git commit", "Source", "Model source"], [[lineage.aliases.join(", "),
      lineage.current_stage, lineage.run_id ? el("a", { href: `/runs/${lineage.run_id}` }, lineage.run_name || lineage.run_id) : "",
      lineage.run_status, lineage.git_commit, lineage.source_name, lineage.source]], { id: "lineage" }),
    el("h2", {}, "Training data"), table(["Dataset", "Context", "Source", "Type", "Delta version"],
      lineage.inputs.map((d) => [d.name, d.context, d.source, d.source_type, d.delta_version]), { id: "lineage-inputs" }),
    el("h2", {}, "Params"), table(["Param", "Value"], Object.entries(lineage.params)),
    el("h2", {}, "Metrics"), table(["Metric", "Value"], Object.entries(lineage.metrics)));
}

// -- monitoring and feature tables -----------------------------------------------------------------

async function monitorsPage() {
  const { monitors } = await api("/api/monitors");
  main.replaceChildren(el("h1", {}, "Monitors"), monitors.length ? table(
    ["Table", "Profile", "Granularities", "Baseline", "Columns", "Alerts", "Last refreshed version"], monitors.map((m) => [
      el("a", { href: `/monitors/view?table=${encodeURIComponent(m.table)}` }, m.table), m.profile_type, m.granularities.join(", "),
      m.baseline || "", m.columns.join(", "), m.alerts.join("; "), m.last_refreshed_version]), { id: "monitors" })
    : el("p", { class: "muted" }, "No monitors: create one with sparktrack.monitoring.create_monitor()."));
}

const DRIFT_METRICS = ["population_stability_index", "js_distance", "ks_statistic", "wasserstein_distance"];

async function monitorPage() {
  const name = query.get("table");
  const { rows } = await api(`/api/monitors/drift?table=${encodeURIComponent(name)}`);
  setTitle(name);
  const types = [...new Set(rows.map((r) => r.drift_type))].sort();
  const kind = el("select", { id: "drift-type" }, types.map((t) => el("option", { selected: t === "BASELINE" }, t)));
  const cards = el("div", { class: "cards", id: "cards" });
  main.replaceChildren(el("h1", {}, `Drift of ${name}`), el("div", { class: "bar" }, el("label", {}, "compared with ", kind)), cards);
  const draw = () => {
    cards.replaceChildren();
    for (const metric of DRIFT_METRICS) {
      const chosen = rows.filter((r) => r.drift_type === kind.value && r[metric] !== null && r[metric] !== undefined);
      if (!chosen.length) continue;
      const series = {};
      for (const r of chosen) {
        const label = `${r.column_name}${r.model_version ? ` (${r.model_name ? `${r.model_name} ` : ""}v${r.model_version})` : ""}`;
        (series[label] = series[label] || { x: [], y: [] }).x.push(r.window_start || "snapshot");
        series[label].y.push(r[metric]);
      }
      const div = el("div", { class: "chart", "data-metric": metric });
      cards.append(el("div", { class: "card" }, div));
      Plotly.newPlot(div, Object.entries(series).map(([label, s]) => ({ x: s.x, y: s.y, name: label, mode: "lines+markers" })),
        { title: { text: metric, font: { size: 13 } }, margin: { t: 30, r: 10, b: 40, l: 50 } }, { displaylogo: false, responsive: true });
    }
  };
  kind.addEventListener("change", draw);
  draw();
}

async function featureTablesPage() {
  const { feature_tables: found } = await api("/api/feature-tables");
  main.replaceChildren(el("h1", {}, "Feature tables"), found.length ? table(["Name", "Keys", "Time", "Features", "Version", "Description"],
    found.map((t) => [el("a", { href: `/feature-tables/view?name=${encodeURIComponent(t.name)}` }, t.name), t.primary_keys.join(", "),
      t.timeseries_column || "", t.features.length, t.delta_version, t.description || ""]), { id: "feature-tables" })
    : el("p", { class: "muted" }, "No feature tables: create one with FeatureEngineeringClient.create_table()."));
}

async function featureTablePage() {
  const name = query.get("name");
  const found = await api(`/api/feature-tables/detail?name=${encodeURIComponent(name)}`);
  const t = found.feature_table;
  setTitle(name);
  main.replaceChildren(el("h1", {}, t.name),
    table(["Location", "Primary keys", "Timeseries column", "Version", "Description"],
      [[t.location, t.primary_keys.join(", "), t.timeseries_column || "", t.delta_version, t.description || ""]]),
    el("h2", {}, "Features"), table(["Feature", "Type"], t.features.map((f) => [f.name, f.type]), { id: "features" }),
    el("h2", {}, "Versions"), table(["Version", "When", "Operation", "Parameters"], found.versions.map((v) => [v.version,
      time(v.timestamp), v.operation, JSON.stringify(v.parameters)]), { id: "versions" }),
    el("h2", {}, "Models trained on it"), table(["Model", "Version", "Run", "Table version"], found.trained_models.map((m) => [
      el("a", { href: `/models/${encodeURIComponent(m.model_name)}/versions/${m.model_version}` }, m.model_name), m.model_version,
      el("a", { href: `/runs/${m.run_id}` }, m.run_id.slice(0, 8)), m.delta_version]), { id: "trained" }));
}

async function predictionsPage() {
  const path = query.get("table") || "";
  const input = el("input", { id: "table", type: "text", value: path, placeholder: "/data/predictions/churn" });
  const form = el("form", { class: "bar", on: { submit: (e) => { e.preventDefault(); location.search = `?table=${encodeURIComponent(input.value)}`; } } },
                  "Prediction table ", input, el("button", { type: "submit" }, "Trace"));
  main.replaceChildren(el("h1", {}, "Prediction lineage"), form);
  if (!path) return;
  const { batches } = await api(`/api/lineage/predictions?table=${encodeURIComponent(path)}`);
  main.append(table(["Batch", "Rows", "First scored", "Last scored", "Input", "Input version", "Model version", "Run"],
    batches.map((b) => [b.batch_id, b.rows, b.first_scored_at, b.last_scored_at, b.input || "", b.input_version,
    b.model_name ? el("a", { href: `/models/${encodeURIComponent(b.model_name)}/versions/${b.model_version}` }, `${b.model_name} v${b.model_version}`) : "",
    b.model_run_id ? el("a", { href: `/runs/${b.model_run_id}` }, b.model_run_id.slice(0, 8)) : ""]), { id: "batches" }));
}

const PAGES = { experiments: experimentsPage, runs: runsPage, run: runPage, charts: chartsPage, compare: comparePage,
                models: modelsPage, model: modelPage, version: versionPage, monitors: monitorsPage, monitor: monitorPage,
                feature_tables: featureTablesPage, feature_table: featureTablePage, predictions: predictionsPage };

(PAGES[document.body.dataset.page] || experimentsPage)().then(() => { document.body.dataset.ready = "true"; })
  .catch((error) => { main.replaceChildren(); showError(error); document.body.dataset.ready = "error"; });
