// Live sessions in the browser (see planning/live/templates/live/session.html).
//
// Every element with [data-live] is a session rendered as a snapshot up to data-live-after;
// this script continues it from that seq, exactly once and in order:
// - One tab per browser holds the stream (leader, chosen with navigator.locks) and shares each
//   event with the other tabs over a BroadcastChannel, so ten tabs need one connection.
//   When the leader closes, another tab takes over from its own cursor.
// - Every tab keeps its own cursor; a gap (a tab opened between snapshot and broadcast) is
//   filled from /live/<id>/log?after=cursor.
// - Reconnects with backoff at ?after=cursor; shows live / reconnecting / finished.
// - Tokens append to [data-live-stream="<stream>"] (created on demand inside
//   [data-live-outputs]); other events go to [data-live-log]; every event is also dispatched
//   as a `live:event` CustomEvent on the section, so features can render their own results.
(() => {
  "use strict";
  const TERMINAL = new Set(["completed", "cancelled", "failed"]);
  const SILENT_MS = 10000;
  const LABELS = { completed: "Completed", cancelled: "Cancelled", failed: "Failed" };
  const BACKOFF_MS = [250, 1000, 2000, 4000, 8000, 15000];

  // Keep in step with planning/live/summary.py
  function describe(type, data) {
    data = data || {};
    if (type === "started") {
      const epoch = data.epoch || 1;
      return epoch <= 1 ? "Started" : `Restarted on another worker (attempt ${epoch})`;
    }
    if (type === "stopping") return data.by ? `Stopping… (requested by ${data.by})` : "Stopping…";
    if (type === "progress") {
      const label = data.label || "Progress";
      return "done" in data && "total" in data ? `${label}: ${data.done} of ${data.total}` : label;
    }
    if (type === "error") return `Error: ${data.message || data.error || ""}`.trim();
    if (type in LABELS) {
      let text = LABELS[type];
      if (data.error) text += `: ${data.error}`;
      else if (data.forced) text += " (the worker was stopped)";
      if (data.chars) text += ` · ${data.chars} characters`;
      return text;
    }
    if (type === "result") return describeResult(data);
    if (type === "steer" && data.revision) {
      return `${data.by ? `Revision asked by ${data.by}` : "Revision asked"}: “${data.text || ""}”`;
    }
    if (type === "steer") return data.by ? `Steer from ${data.by}: “${data.text || ""}”` : `Steer: “${data.text || ""}”`;
    if (type === "steer_applied") return `Continuing with “${data.text || ""}”`;
    return type;
  }

  const GRADES = { pass: "PASS", fail: "FAIL", pending: "AWAITING REVIEW", error: "ERROR" };

  // A result in words, never a dump of its fields (keep in step with describe_result).
  function describeResult(data) {
    const grade = String(data.grade || "");
    const parts = [GRADES[grade] || grade.toUpperCase() || "Result"];
    const what = ["idea", "probe_name"].filter((k) => data[k]).map((k) => data[k]).join(" / ");
    const model = data.model_name || data.resolved_model;
    if (what || model) parts.push(what && model ? `${what} on ${model}` : what || `answered by ${model}`);
    if (data.error_kind) parts.push(String(data.error_kind).replace(/_/g, " "));
    if (data.tokens) parts.push(`${data.tokens} tokens`);
    if (![undefined, null, "", "0", "0.000000"].includes(data.cost_usd)) parts.push(`$${data.cost_usd}`);
    return parts.join(" · ");
  }

  class LiveSession {
    constructor(root) {
      this.root = root;
      this.id = root.dataset.liveId;
      this.cursor = parseInt(root.dataset.liveAfter || "0", 10);
      this.eventsUrl = root.dataset.liveEventsUrl;
      this.logUrl = root.dataset.liveLogUrl;
      this.finished = TERMINAL.has(root.dataset.liveStatus);
      this.attempt = 0;
      this.pending = null; // events held back while a gap is being filled
      this.source = null;
      this.channel = "BroadcastChannel" in window ? new BroadcastChannel(`live:${this.id}`) : null;
      if (this.channel) this.channel.onmessage = (m) => this.onShared(m.data);
      this.publishCursor();
      if (this.finished) {
        this.setState("finished");
        return;
      }
      this.elect();
      // A safety net, not the transport: after SILENT_MS with no new event (a broadcast lost
      // between tabs, a stalled stream), read the log once; it holds every event, the end too.
      this.lastEventAt = Date.now();
      this.watchdog = setInterval(() => {
        if (this.finished) return clearInterval(this.watchdog);
        if (Date.now() - this.lastEventAt >= SILENT_MS) {
          this.lastEventAt = Date.now();
          this.catchUp();
        }
      }, SILENT_MS / 2);
    }

    // ------------------------------------------------------------------ who streams
    elect() {
      if (!this.channel || !navigator.locks) {
        this.lead();
        return;
      }
      const name = `live:${this.id}`;
      navigator.locks.request(name, { ifAvailable: true }, (lock) => {
        if (lock) return this.holdLead();
        this.follow();
        return navigator.locks.request(name, () => this.holdLead());
      });
    }

    holdLead() {
      // The lock is held until the returned promise resolves (stream finished or tab closed).
      return new Promise((resolve) => {
        this.releaseLead = resolve;
        if (this.finished) return resolve();
        this.lead();
      });
    }

    lead() {
      this.root.dataset.liveRole = "leader";
      this.connect();
    }

    follow() {
      this.root.dataset.liveRole = "follower";
      this.setState("live");
      this.catchUp(); // anything between our snapshot and the leader's next broadcast
    }

    // ------------------------------------------------------------------ the stream
    connect() {
      if (this.finished) return;
      const url = `${this.eventsUrl}?after=${this.cursor}`;
      const source = (this.source = new EventSource(url));
      source.onopen = () => {
        this.attempt = 0;
        this.setState("live");
      };
      source.onmessage = (message) => {
        const event = JSON.parse(message.data);
        this.share({ kind: "event", event });
        this.apply(event);
      };
      source.addEventListener("end", (message) => {
        const data = JSON.parse(message.data);
        this.share({ kind: "end", data });
        this.finish(data);
      });
      source.addEventListener("reset", () => {
        this.share({ kind: "reset" });
        this.reset();
      });
      source.onerror = () => {
        source.close();
        if (this.source !== source || this.finished) return;
        this.setState("reconnecting");
        const delay = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
        this.attempt += 1;
        setTimeout(() => this.connect(), delay * (0.75 + Math.random() / 2));
      };
    }

    share(message) {
      if (this.channel) this.channel.postMessage(message);
    }

    onShared(message) {
      if (this.root.dataset.liveRole === "leader") return;
      if (message.kind === "event") this.receive(message.event);
      else if (message.kind === "state") this.setState(message.state, false);
      else if (message.kind === "reset") this.reset();
      else if (message.kind === "end") {
        if (message.data.seq && message.data.seq > this.cursor) {
          this.catchUp().then(() => this.finish(message.data));
        } else this.finish(message.data);
      }
    }

    // An event from the leader: apply in order, fill a gap first if there is one.
    receive(event) {
      if (this.pending) {
        this.pending.push(event);
      } else if (event.seq > this.cursor + 1) {
        this.pending = [event];
        this.catchUp();
      } else {
        this.apply(event);
      }
    }

    catchUp() {
      if (this.catching) return this.catching;
      this.pending = this.pending || [];
      // A read that hangs (a busy server, a browser queueing requests) is given up after
      // SILENT_MS so that it cannot block every later catch-up of this tab.
      const controller = "AbortController" in window ? new AbortController() : null;
      const timer = controller && setTimeout(() => controller.abort(), SILENT_MS);
      this.catching = (async () => {
        try {
          for (;;) {
            const response = await fetch(`${this.logUrl}?after=${this.cursor}`, {
              credentials: "same-origin",
              headers: { Accept: "application/json" },
              signal: controller ? controller.signal : undefined,
            });
            if (!response.ok) break;
            const body = await response.json();
            body.events.forEach((event) => this.apply(event));
            if (body.events.length < 1000) break;
          }
        } catch (error) {
          // the next broadcast (or taking over the stream) tries again
        } finally {
          if (timer) clearTimeout(timer);
          const held = this.pending || [];
          this.pending = null;
          this.catching = null;
          held.forEach((event) => this.apply(event));
        }
      })();
      return this.catching;
    }

    // ------------------------------------------------------------------ rendering
    apply(event) {
      if (event.seq <= this.cursor) return; // already shown: exactly once
      this.lastEventAt = Date.now();
      this.cursor = event.seq;
      this.publishCursor();
      const { type, data } = event;
      if (type === "token" || type === "text") {
        this.output(data.stream || "main").append(document.createTextNode(data.text || ""));
      } else if (type === "progress") {
        const bar = this.root.querySelector("[data-live-progress]");
        if (bar && data.total) {
          bar.max = data.total;
          bar.value = data.done || 0;
        }
      } else {
        if (type === "started" && (data.epoch || 1) > 1) {
          this.root.querySelectorAll("[data-live-stream]").forEach((el) => (el.textContent = ""));
        }
        this.logLine(event);
        if (type === "stopping") this.stopButtons("Stopping…");
      }
      this.root.dispatchEvent(new CustomEvent("live:event", { detail: event, bubbles: true }));
      if (TERMINAL.has(type)) this.finish({ status: type, seq: event.seq });
    }

    output(stream) {
      let el = [...this.root.querySelectorAll("[data-live-stream]")].find(
        (node) => node.dataset.liveStream === stream,
      );
      if (!el) {
        el = document.createElement("div");
        el.className = "live-output";
        el.dataset.liveStream = stream;
        (this.root.querySelector("[data-live-outputs]") || this.root).append(el);
      }
      return el;
    }

    logLine(event) {
      const list = this.root.querySelector("[data-live-log]");
      if (!list) return;
      const item = document.createElement("li");
      item.dataset.seq = event.seq;
      item.className = `live-log-${event.type}`;
      item.textContent = describe(event.type, event.data);
      list.append(item);
    }

    stopButtons(label) {
      this.root.querySelectorAll("[data-live-stop]").forEach((button) => {
        if (label) {
          button.disabled = true;
          button.textContent = label;
        } else button.remove();
      });
    }

    publishCursor() {
      this.root.dataset.liveCursor = String(this.cursor);
    }

    setState(state, broadcast = true) {
      // Once finished, nothing turns a tab back to "Live": a tab that takes the lead after the
      // end (it had not read the end yet) opens its stream and tells every tab "live", and the
      // end it shares next is old news to the tabs that have finished already.
      if (this.finished && state !== "finished") return;
      this.root.dataset.liveState = state;
      const label = this.root.querySelector("[data-live-state-label]");
      if (label && state !== "finished") {
        label.textContent = state === "live" ? "Live" : "Reconnecting…";
      }
      if (broadcast && this.root.dataset.liveRole === "leader") this.share({ kind: "state", state });
    }

    finish(data) {
      if (this.finished) return;
      this.finished = true;
      if (this.source) this.source.close();
      this.source = null;
      this.setState("finished", false);
      const label = this.root.querySelector("[data-live-state-label]");
      const status = data && LABELS[data.status];
      if (label) label.textContent = status ? `Finished · ${status}` : "Finished";
      const bar = this.root.querySelector("[data-live-progress]");
      if (bar && !bar.hasAttribute("value")) {
        bar.max = 1;
        bar.value = 1;
      }
      this.stopButtons(null);
      this.root.querySelectorAll("[data-live-steer]").forEach((form) => form.remove());
      if (this.releaseLead) this.releaseLead();
    }

    // The cursor pointed into compacted history: start again from the whole log.
    reset() {
      if (this.source) this.source.close();
      this.source = null;
      this.cursor = 0;
      this.root.querySelectorAll("[data-live-stream]").forEach((el) => (el.textContent = ""));
      const list = this.root.querySelector("[data-live-log]");
      if (list) list.textContent = "";
      this.catchUp().then(() => {
        if (this.root.dataset.liveRole === "leader" && !this.finished) this.connect();
      });
    }
  }

  function start(scope) {
    scope.querySelectorAll("[data-live]:not([data-live-started])").forEach((root) => {
      root.dataset.liveStarted = "true";
      root.live = new LiveSession(root);
    });
  }

  document.addEventListener("DOMContentLoaded", () => start(document));
  document.addEventListener("htmx:afterSettle", (event) => start(event.target));
})();
