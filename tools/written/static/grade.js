// The grading page (tools/written). Builds every view from the server's JSON with DOM calls; a text from
// a student, a grader or a notebook is only ever set as textContent. Clicks go through one queue, in order,
// and a click the server did not answer is sent again until it is: the server's clicks say what they want
// ("item 3 applied"), so sending one twice changes nothing twice.
"use strict";

(function () {
  const app = document.getElementById("app");
  const POLL_MS = 2000;
  const RETRY_MS = 1000;
  let view = null; // {kind: "overview" | "question", data, index}
  const queue = []; // clicks not answered yet: {url, body, key, done}
  let sending = false;
  let failing = "";

  // -- DOM helpers: text only ------------------------------------------------------------------------
  function el(tag, attributes, children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (name === "text") node.textContent = value;
      else node.setAttribute(name, value);
    }
    for (const child of children || []) {
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function button(label, attributes, onClick) {
    const node = el("button", Object.assign({ type: "button", text: label }, attributes));
    node.addEventListener("click", onClick);
    return node;
  }

  function points(value) {
    return Number.isInteger(value) ? String(value) : String(Math.round(value * 1000) / 1000);
  }

  // -- the queue of clicks ---------------------------------------------------------------------------
  function showStatus() {
    const node = document.getElementById("saved");
    if (!node) return;
    node.dataset.pending = String(queue.length);
    if (failing) node.textContent = "not saved, retrying (" + queue.length + "): " + failing;
    else node.textContent = queue.length ? "saving " + queue.length + "..." : "all saved";
    node.className = failing ? "status failing" : queue.length ? "status saving" : "status saved";
  }

  function showError(message) {
    const node = document.getElementById("error");
    if (node) node.textContent = message;
  }

  function send(url, body, key, done) {
    queue.push({ url: url, body: body, key: key, done: done });
    showStatus();
    pump();
  }

  function sleep(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
  }

  async function pump() {
    if (sending) return;
    sending = true;
    while (queue.length) {
      const job = queue[0];
      let response = null;
      try {
        response = await fetch(job.url, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify(job.body),
          credentials: "same-origin",
        });
      } catch (error) {
        failing = "the server does not answer";
      }
      if (response === null || response.status >= 500) {
        if (response !== null) failing = "the server answered " + response.status;
        showStatus();
        await sleep(RETRY_MS);
        continue;
      }
      failing = "";
      const data = await response.json().catch(function () { return {}; });
      queue.shift();
      if (!response.ok) showError("Not done: " + (data.error || response.status));
      else if (job.done) job.done(data);
      showStatus();
    }
    sending = false;
    showStatus();
  }

  async function getJSON(url) {
    const response = await fetch(url, { credentials: "same-origin" });
    const data = await response.json().catch(function () { return {}; });
    if (!response.ok) throw new Error(data.error || String(response.status));
    return data;
  }

  // -- the overview ----------------------------------------------------------------------------------
  function header(data, title) {
    const reveal = button(data.revealed ? "Hide names" : "Reveal names", { id: "reveal" }, function () {
      send("/api/reveal", { revealed: !data.revealed }, "reveal", function () { load(); });
    });
    return el("header", {}, [
      el("h1", { text: title }),
      el("p", {}, [
        el("span", { text: "Grader: " + data.me + " · " }),
        el("span", { id: "saved", class: "status saved", "data-pending": "0", text: "all saved" }),
        " ",
        reveal,
      ]),
      el("p", { id: "error", class: "error" }),
    ]);
  }

  function renderOverview(data) {
    const rows = data.questions.map(function (q) {
      const link = el("a", { href: "/q/" + q.topic + "/" + q.id, text: q.id });
      const by = Object.entries(q.graders).map(function (e) { return e[0] + " " + e[1]; }).join(", ");
      return el("tr", { "data-key": q.key }, [
        el("td", { text: q.assignment }),
        el("td", {}, ["Inline question " + q.number + ": ", link]),
        el("td", { text: points(q.points) }),
        el("td", { class: "progress", text: q.graded + " / " + q.total }),
        el("td", { text: by }),
      ]);
    });
    const graders = Object.entries(data.graders).map(function (e) {
      return el("li", { text: e[0] + ": " + e[1] + " answers graded" });
    });
    app.replaceChildren(
      header(data, "Written answers"),
      el("table", {}, [
        el("tr", {}, ["assignment", "question", "points", "graded", "by grader"].map(function (h) {
          return el("th", { text: h });
        })),
      ].concat(rows)),
      el("h2", { text: "Graders" }),
      el("ul", { id: "graders" }, graders),
    );
    showStatus();
  }

  // -- one question ----------------------------------------------------------------------------------
  function answerUrl(answer) {
    const q = view.data.question;
    return "/api/q/" + q.topic + "/" + q.id + "/a/" + answer.number;
  }

  function current() {
    return view.data.answers[view.index];
  }

  function localScore(answer) {
    const total = view.data.items
      .filter(function (i) { return answer.applied.indexOf(i.id) >= 0; })
      .reduce(function (sum, i) { return sum + i.points; }, 0);
    return Math.min(Math.max(total, 0), view.data.question.points);
  }

  function settle(answer) {
    // The server's word on an answer, unless a later click on it is still on its way.
    return function (data) {
      if (queue.some(function (job) { return job.key === answer.number; })) return;
      // (The page's version stays older than the reply's: the next poll brings others' clicks made meanwhile.)
      const before = JSON.stringify(answer);
      Object.assign(answer, data.mark);
      if (JSON.stringify(answer) !== before) render();
    };
  }

  function toggle(item) {
    const answer = current();
    const on = answer.applied.indexOf(item.id) < 0;
    answer.applied = on ? answer.applied.concat([item.id]) : answer.applied.filter(function (i) { return i !== item.id; });
    answer.graded = true;
    answer.changed = false;
    answer.grader = view.data.me;
    answer.score = localScore(answer);
    render();
    send(answerUrl(answer), { item: item.id, applied: on }, answer.number, settle(answer));
  }

  function markGraded(graded) {
    const answer = current();
    if (answer.graded === graded) return;
    answer.graded = graded;
    answer.changed = false;
    answer.grader = view.data.me;
    answer.score = graded ? localScore(answer) : null;
    render();
    send(answerUrl(answer), { graded: graded }, answer.number, settle(answer));
  }

  function saveComment(text) {
    const answer = current();
    if (answer.comment === text) return;
    answer.comment = text;
    render();
    send(answerUrl(answer), { comment: text }, answer.number, settle(answer));
  }

  function go(index) {
    const count = view.data.answers.length;
    if (!count) return;
    view.index = (index + count) % count;
    history.replaceState(null, "", "#" + current().number);
    render();
  }

  function nextUngraded() {
    const answers = view.data.answers;
    for (let step = 1; step <= answers.length; step++) {
      const index = (view.index + step) % answers.length;
      if (!answers[index].graded) return go(index);
    }
    showError("Every answer of this question is graded.");
  }

  // The item being edited, kept apart from the DOM so that a view drawn anew (another grader's click) keeps
  // the editor and what was typed in it: {item: id, or "new" for an item to add, points, description}.
  let editing = null;

  function itemRow(item, answer, position) {
    const row = el("li", { "data-item": String(item.id) });
    if (editing && editing.item === item.id) {
      row.append(itemEditor(item));
      return row;
    }
    const applied = answer && answer.applied.indexOf(item.id) >= 0;
    const toggleButton = button(
      (position <= 9 ? "[" + position + "] " : "") + (item.points >= 0 ? "+" : "") + points(item.points),
      { class: "item" + (applied ? " applied" : ""), "data-item": String(item.id), "aria-pressed": String(applied) },
      function () { toggle(item); },
    );
    const description = el("span", { class: "description", text: item.description });
    const uses = el("span", { class: "uses", text: " (" + item.uses + ")" });
    const edit = button("edit", { class: "edit", "data-item": String(item.id) }, function () {
      editing = { item: item.id, points: String(item.points), description: item.description };
      render();
    });
    row.append(toggleButton, " ", description, uses, " ", edit);
    return row;
  }

  function itemEditor(item) {
    const pointsInput = el("input", { type: "number", step: "0.25", class: "edit-points" });
    const textInput = el("input", { type: "text", class: "edit-description", size: "60" });
    pointsInput.value = editing.points;
    textInput.value = editing.description;
    pointsInput.addEventListener("input", function () { editing.points = pointsInput.value; });
    textInput.addEventListener("input", function () { editing.description = textInput.value; });
    const q = view.data.question;
    const save = button(item ? "save" : "add", { class: "save" }, function () {
      const body = { points: Number(editing.points), description: editing.description };
      const url = "/api/q/" + q.topic + "/" + q.id + "/items" + (item ? "/" + item.id : "");
      editing = null;
      render();
      send(url, body, "items", function () { load(); });
    });
    const cancel = button("cancel", { class: "cancel" }, function () { editing = null; render(); });
    return el("span", { class: "editor" }, [pointsInput, " ", textInput, " ", save, " ", cancel]);
  }

  function answerPanel(answer) {
    const who = "Student #" + answer.number + (answer.name ? " · " + answer.name : "");
    const text = answer.answer === null ? "(no answer was read)" : answer.answer === "" ? "(left empty)" : answer.answer;
    const state = answer.graded
      ? "Graded: " + points(answer.score) + " / " + points(view.data.question.points) + " (by " + answer.grader + ")"
      : answer.changed
        ? "Pending again: the answer changed since " + answer.grader + " graded it; its items are kept, confirm or change them"
        : "Pending: not graded yet";
    const comment = el("textarea", { id: "comment", rows: "3", placeholder: "A comment for the student (c)" });
    comment.value = answer.comment;
    comment.addEventListener("change", function () { saveComment(comment.value); });
    const reusable = view.data.comments
      .filter(function (c) { return c.text !== answer.comment; })
      .map(function (c) {
        return el("li", {}, [button("use", { class: "reuse" }, function () {
          saveComment(answer.comment ? answer.comment + "\n" + c.text : c.text);
        }), " ", el("span", { class: "comment-text", text: c.text }), el("span", { class: "uses", text: " (" + c.uses + ")" })]);
      });
    return el("section", { id: "answer-panel", "data-number": String(answer.number) }, [
      el("h2", { id: "who", text: who }),
      el("div", { id: "answer", class: "text answer", text: text }),
      el("ul", { class: "problems" }, answer.problems.map(function (p) { return el("li", { text: p }); })),
      el("p", { id: "state", class: answer.graded ? "graded" : answer.changed ? "pending changed" : "pending", text: state }),
      comment,
      reusable.length ? el("div", {}, [el("p", { text: "Comments used before:" }), el("ul", { id: "reusable" }, reusable)]) : "",
    ]);
  }

  function navigation() {
    const strip = view.data.answers.map(function (a, index) {
      const node = button(String(a.number), {
        class: "jump" + (a.graded ? " graded" : "") + (index === view.index ? " current" : ""),
        "data-number": String(a.number),
      }, function () { go(index); });
      return node;
    });
    return el("nav", {}, [
      el("p", {}, [
        button("previous (k)", { id: "previous" }, function () { go(view.index - 1); }),
        " ",
        button("next (j)", { id: "next" }, function () { go(view.index + 1); }),
        " ",
        button("next ungraded (n)", { id: "next-ungraded" }, nextUngraded),
        " ",
        button("graded, next (Enter)", { id: "done" }, function () { markGraded(true); nextUngraded(); }),
        " ",
        button("mark pending", { id: "pending" }, function () { markGraded(false); }),
      ]),
      el("div", { class: "strip" }, strip),
    ]);
  }

  // A view drawn again between a press and its release would lose the click (the button pressed is gone):
  // while a pointer is down, drawing waits until the click is through.
  let pressed = false;
  let waiting = false;
  document.addEventListener("pointerdown", function () { pressed = true; }, true);
  document.addEventListener("click", function () { pressed = false; }, true); // the click is through
  document.addEventListener("pointerup", function () {
    setTimeout(function () {
      pressed = false;
      if (waiting) { waiting = false; render(); }
    }, 0);
  }, true);

  function render() {
    if (pressed) { waiting = true; return; }
    if (!view || view.kind !== "question") return;
    const data = view.data;
    const active = document.activeElement;
    const focused = active && active.id === "comment" ? active : null;
    const draft = focused ? [focused.value, focused.selectionStart, focused.selectionEnd] : null;
    const editorFocus = active && active.closest && active.closest(".editor") ? active.className : null;
    const q = data.question;
    const answer = data.answers.length ? current() : null;
    const progress = data.progress;
    const by = Object.entries(progress.graders).map(function (e) { return e[0] + " " + e[1]; }).join(", ");
    const histogram = data.scores.histogram.map(function (h) { return points(h[0]) + ": " + h[1]; }).join(", ");
    const rubric = el("ol", { id: "rubric" }, data.items.map(function (item, i) { return itemRow(item, answer, i + 1); }));
    const adder = el("p", { id: "add-item" }, [
      editing && editing.item === "new"
        ? itemEditor(null)
        : button("add an item", { id: "add" }, function () {
          editing = { item: "new", points: "1", description: "" };
          render();
        }),
    ]);
    app.replaceChildren(
      header(data, q.assignment + " · Inline question " + q.number + ": " + q.id + " (" + points(q.points) + " points)"),
      el("p", {}, [el("a", { href: "/", text: "all questions" })]),
      el("div", { id: "question", class: "text question", text: q.text }),
      el("p", { id: "progress", text: "Graded " + progress.graded + " / " + progress.total + (by ? " (" + by + ")" : "") }),
      el("p", { id: "scores", text: data.scores.mean === null ? "No score yet." : "Mean " + points(data.scores.mean) + "; scores " + histogram }),
      navigation(),
      el("div", { class: "columns" }, [
        answer ? answerPanel(answer) : el("p", { text: "No answer to this question." }),
        el("section", { id: "rubric-panel" }, [el("h2", { text: "Rubric" }), rubric, adder]),
      ]),
      el("p", { class: "help", text: "Keys: 1-9 toggle an item, Enter graded and next ungraded, n next ungraded, j/k or arrows next/previous, c comment, Esc leaves the comment." }),
    );
    if (draft) {
      const comment = document.getElementById("comment");
      comment.value = draft[0];
      comment.focus();
      comment.setSelectionRange(draft[1], draft[2]);
    }
    if (editorFocus) {
      const input = app.querySelector(".editor ." + editorFocus);
      if (input) input.focus();
    }
    showStatus();
  }

  // -- loading and polling ---------------------------------------------------------------------------
  function route() {
    const match = /^\/q\/([A-Za-z0-9_]+)\/([A-Za-z0-9_]+)$/.exec(location.pathname);
    return match ? { topic: match[1], id: match[2] } : null;
  }

  async function load(since) {
    const question = route();
    try {
      if (!question) {
        const data = await getJSON("/api/overview");
        if (view && view.kind === "overview" && view.version === data.version) return; // nothing new
        if (pressed) return; // a click under way: the next poll draws it
        view = { kind: "overview", data: data, version: data.version };
        renderOverview(data);
        return;
      }
      const url = "/api/q/" + question.topic + "/" + question.id + (since !== undefined ? "?since=" + since : "");
      const data = await getJSON(url);
      if (data.unchanged) return;
      if (queue.length) return; // a click on its way: its answer will bring the news
      if (since !== undefined && typing()) return; // not under the grader's cursor: the next poll, once done
      const number = view && view.kind === "question" && view.data.answers.length ? current().number : Number(location.hash.slice(1));
      const index = data.answers.findIndex(function (a) { return a.number === number; });
      view = { kind: "question", data: data, index: index >= 0 ? index : 0, version: data.version };
      render();
    } catch (error) {
      if (!view) app.replaceChildren(el("p", { class: "error", text: "Cannot load: " + error.message }));
    }
  }

  function typing() {
    const active = document.activeElement;
    return Boolean(active && (active.tagName === "INPUT" || active.tagName === "TEXTAREA"));
  }

  async function poll() {
    if (!queue.length && view && document.visibilityState === "visible") {
      await load(view.kind === "question" ? view.version : undefined);
    }
    setTimeout(poll, POLL_MS);
  }

  // -- the keyboard ----------------------------------------------------------------------------------
  document.addEventListener("keydown", function (event) {
    if (!view || view.kind !== "question" || !view.data.answers.length) return;
    const target = event.target;
    if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA")) {
      if (event.key === "Escape") target.blur();
      if (target.id === "comment" && event.key === "Enter" && (event.ctrlKey || event.metaKey)) target.blur();
      return; // typing, not a shortcut
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const key = event.key;
    if (target && target.tagName === "BUTTON" && (key === "Enter" || key === " ")) {
      if (key === " ") return; // Space presses the focused button; Enter is the page's key
    }
    if (/^[1-9]$/.test(key)) {
      const item = view.data.items[Number(key) - 1];
      if (item) toggle(item);
    } else if (key === "n") nextUngraded();
    else if (key === "j" || key === "ArrowRight" || key === "ArrowDown") go(view.index + 1);
    else if (key === "k" || key === "ArrowLeft" || key === "ArrowUp") go(view.index - 1);
    else if (key === "Enter") { markGraded(true); nextUngraded(); }
    else if (key === "c") document.getElementById("comment").focus();
    else return;
    event.preventDefault();
  });

  load().then(function () { setTimeout(poll, POLL_MS); });
})();
