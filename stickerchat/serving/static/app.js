// The stickerchat page: a dialog typed here, the service's top-k stickers beside it.
//
// Every piece of text from the user or the server goes into the page with
// textContent (never innerHTML). Sticker and user ids are kept as the strings
// the server sends: they are 18-digit integers, above 2^53, which a JS number
// would round.
"use strict";

(() => {
  const DEBOUNCE_MS = 300; // after the last keystroke, before asking /recommend
  const MAX_MESSAGES = 100; // the service's limit on utterances (the model reads the last few)
  const MAX_TOP_K = 20;

  const $ = (id) => document.getElementById(id);
  const state = {
    messages: [],
    history: [], // the chosen user's history, as GET /users/<id>/history returned it
    userSeq: 0,
    seq: 0,
    controller: null,
    timer: null,
  };

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function stickerImage(stickerId, alt) {
    const img = document.createElement("img");
    img.src = "/sticker/" + encodeURIComponent(stickerId) + ".png";
    img.alt = alt;
    img.decoding = "async";
    return img;
  }

  async function getJSON(url, options) {
    const response = await fetch(url, options);
    let body = null;
    try {
      body = await response.json();
    } catch (e) {
      throw new Error(url + ": HTTP " + response.status + " (not JSON)");
    }
    if (!response.ok) {
      throw new Error((body && body.error) || url + ": HTTP " + response.status);
    }
    return body;
  }

  function dialog() {
    const utterances = state.messages.slice();
    const draft = $("draft").value.trim();
    if (draft) utterances.push(draft);
    return utterances.slice(-MAX_MESSAGES);
  }

  function topK() {
    const value = parseInt($("top-k").value, 10);
    if (!Number.isFinite(value)) return 5;
    return Math.min(MAX_TOP_K, Math.max(1, value));
  }

  function schedule(delay) {
    clearTimeout(state.timer);
    state.timer = setTimeout(recommend, delay === undefined ? DEBOUNCE_MS : delay);
  }

  // ------------------------------------------------------------------ the dialog
  function renderMessages() {
    const list = $("messages");
    list.replaceChildren();
    state.messages.forEach((text, k) => {
      const item = element("li", k % 2 === 0 ? "bubble them" : "bubble me");
      item.append(element("span", "text", text));
      const remove = element("button", "remove", "×");
      remove.type = "button";
      remove.title = "Remove this message";
      remove.addEventListener("click", () => {
        state.messages.splice(k, 1);
        renderMessages();
        schedule(0);
      });
      item.append(remove);
      list.append(item);
    });
    $("messages-empty").hidden = state.messages.length > 0;
    list.scrollTop = list.scrollHeight;
  }

  // ------------------------------------------------------------------ recommendations
  function setNote(text, isError) {
    const note = $("results-note");
    note.textContent = text;
    note.className = isError ? "error" : "muted";
  }

  function renderStickers(answer, request, seconds) {
    const list = $("stickers");
    list.replaceChildren();
    answer.stickers.forEach((sticker, k) => {
      const card = element("li", "sticker");
      card.dataset.stickerId = sticker.sticker_id;
      card.dataset.score = String(sticker.score);
      card.dataset.rank = String(k + 1);
      card.title = "sticker " + sticker.sticker_id + " of set " + sticker.set_id;
      card.append(element("span", "rank", "#" + (k + 1)));
      card.append(stickerImage(sticker.sticker_id, "sticker " + (sticker.emoji || sticker.sticker_id)));
      const caption = element("div", "caption");
      caption.append(element("span", "emoji", sticker.emoji || "·"));
      caption.append(element("span", "score", sticker.score.toFixed(3)));
      card.append(caption);
      card.append(element("span", "sticker-id", sticker.sticker_id));
      list.append(card);
    });
    const how = answer.mode === "candidates" ? "ranked candidates" : "recall + rerank of " + answer.rerank_depth;
    const history = request.history.length ? request.history.length + " history stickers" : "no history";
    setNote(answer.stickers.length + " stickers for " + request.dialog.length + " utterances, " + history + " (" + how + ", " + seconds.toFixed(2) + " s)", false);
    const results = $("results");
    results.dataset.request = JSON.stringify(request);
    results.dataset.state = "done";
  }

  async function recommend() {
    clearTimeout(state.timer);
    if (state.controller) state.controller.abort();
    state.controller = null;
    const seq = ++state.seq;
    const results = $("results");
    const utterances = dialog();
    if (!utterances.length) {
      $("stickers").replaceChildren();
      setNote("Type a message to see stickers.", false);
      delete results.dataset.request;
      results.dataset.state = "idle";
      return;
    }
    const request = { dialog: utterances, history: state.history, top_k: topK() };
    const controller = new AbortController();
    state.controller = controller;
    results.dataset.state = "loading";
    const started = performance.now();
    try {
      const answer = await getJSON("/recommend", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(request),
        signal: controller.signal,
      });
      if (seq !== state.seq) return; // a newer request is on its way
      renderStickers(answer, request, (performance.now() - started) / 1000);
    } catch (e) {
      if (seq !== state.seq || e.name === "AbortError") return;
      $("stickers").replaceChildren();
      setNote(e.message, true);
      delete results.dataset.request;
      results.dataset.state = "error";
    } finally {
      if (state.controller === controller) state.controller = null;
    }
  }

  // ------------------------------------------------------------------ users
  function renderHistory(userId, answer) {
    const box = $("history");
    const list = $("history-items");
    list.replaceChildren();
    if (!userId) {
      box.hidden = true;
      return;
    }
    $("history-title").textContent =
      "User " + userId + ": the last " + answer.history.length + " of " + answer.history_size + " stickers they sent (what the model reads)";
    answer.history.forEach((item) => {
      const entry = element("li", "history-item");
      entry.dataset.stickerId = item.sticker_id;
      entry.append(stickerImage(item.sticker_id, "sticker " + item.sticker_id));
      const said = item.context.length ? item.context[item.context.length - 1] : "";
      entry.append(element("span", "context", said ? "after “" + said + "”" : ""));
      entry.title = item.context.join("\n");
      list.append(entry);
    });
    box.hidden = false;
  }

  async function chooseUser() {
    const userId = $("user").value;
    const seq = ++state.userSeq;
    state.history = [];
    $("results").dataset.user = userId;
    if (!userId) {
      renderHistory("", null);
      schedule(0);
      return;
    }
    $("results").dataset.state = "loading";
    try {
      const answer = await getJSON("/users/" + encodeURIComponent(userId) + "/history");
      if (seq !== state.userSeq) return;
      state.history = answer.history.map((item) => ({ context: item.context, sticker_id: item.sticker_id }));
      renderHistory(userId, answer);
    } catch (e) {
      if (seq !== state.userSeq) return;
      renderHistory("", null);
      $("users-note").textContent = "Could not load the history of " + userId + ": " + e.message;
    }
    schedule(0);
  }

  async function loadUsers() {
    const note = $("users-note");
    try {
      const answer = await getJSON("/users");
      const select = $("user");
      answer.users.forEach((user) => {
        const option = element("option", "", user.user_id + " (" + user.history_size + " stickers sent)");
        option.value = user.user_id;
        select.append(option);
      });
      if (!answer.users.length) {
        note.textContent = "This service shares no user histories: recommendations use the dialog only.";
      } else if (answer.total > answer.users.length) {
        note.textContent = "The " + answer.users.length + " users with the most stickers, of " + answer.total + ".";
      } else {
        note.textContent = "";
      }
    } catch (e) {
      note.textContent = "No user list: " + e.message;
    }
  }

  async function loadStatus() {
    const status = $("service-status");
    try {
      const health = await getJSON("/healthz");
      status.textContent = health.num_stickers + " stickers · " + health.index + " recall index · rerank depth " + health.rerank_depth;
    } catch (e) {
      status.textContent = "service unreachable: " + e.message;
      status.className = "error";
    }
  }

  // ------------------------------------------------------------------ wiring
  function start() {
    $("composer").addEventListener("submit", (event) => {
      event.preventDefault();
      const draft = $("draft");
      const text = draft.value.trim();
      if (text) {
        state.messages.push(text);
        state.messages = state.messages.slice(-MAX_MESSAGES);
        draft.value = "";
        renderMessages();
      }
      schedule(0);
    });
    $("draft").addEventListener("input", () => schedule());
    $("top-k").addEventListener("change", () => schedule(0));
    $("user").addEventListener("change", chooseUser);
    $("clear").addEventListener("click", () => {
      state.messages = [];
      $("draft").value = "";
      renderMessages();
      schedule(0);
    });
    renderMessages();
    loadStatus();
    loadUsers();
    $("draft").focus();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
