// CodeMirror 6 bound to a DocSync: local transactions become Doc edits, remote deltas become
// annotated transactions, undo/redo go through the Doc's UndoManager (this user's edits
// only), and other people's cursors and selections are drawn from their awareness state.
import { Annotation, EditorSelection, EditorState, Prec, StateEffect, StateField, Transaction } from "@codemirror/state";
import {
  Decoration, EditorView, WidgetType, drawSelection, highlightActiveLine, highlightActiveLineGutter,
  highlightSpecialChars, keymap, lineNumbers, placeholder, rectangularSelection, dropCursor,
} from "@codemirror/view";
import { defaultKeymap, indentWithTab } from "@codemirror/commands";
import { markdown } from "./markdown.js";
import { HighlightStyle, bracketMatching, indentOnInput, syntaxHighlighting } from "@codemirror/language";
import { highlightSelectionMatches, searchKeymap } from "@codemirror/search";
import { tags as t } from "@lezer/highlight";

/** Marks transactions that carry remote (or undo/redo) changes already in the Doc. */
export const fromDoc = Annotation.define();

/** Turns a Doc delta into CodeMirror changes (all relative to the document before it). */
export function deltaToChanges(delta) {
  const changes = [];
  let pos = 0;
  for (const op of delta) {
    if (op.retain !== undefined) pos += op.retain;
    else if (op.insert !== undefined) changes.push({ from: pos, insert: op.insert });
    else if (op.delete !== undefined) {
      changes.push({ from: pos, to: pos + op.delete });
      pos += op.delete;
    }
  }
  return changes;
}

// ---- remote cursors ----------------------------------------------------------------------
const setCursors = StateEffect.define();

class RemoteCaret extends WidgetType {
  constructor(peer) {
    super();
    this.peer = peer;
  }
  eq(other) {
    return other.peer.id === this.peer.id && other.peer.name === this.peer.name &&
      other.peer.color === this.peer.color && other.peer.typing === this.peer.typing;
  }
  toDOM() {
    const caret = document.createElement("span");
    caret.className = "cm-remote-caret";
    caret.style.setProperty("--peer", this.peer.color);
    caret.dataset.peer = this.peer.id;
    caret.dataset.name = this.peer.name;
    const label = document.createElement("span");
    label.className = "cm-remote-label" + (this.peer.typing ? " typing" : "");
    label.textContent = this.peer.name;
    caret.append("\u2060", label);
    return caret;
  }
  ignoreEvent() {
    return true;
  }
}

const cursorField = StateField.define({
  create: () => Decoration.none,
  update(decorations, tr) {
    for (const e of tr.effects) if (e.is(setCursors)) return e.value;
    return decorations.map(tr.changes);
  },
  provide: (f) => EditorView.decorations.from(f),
});

/** Draws `peers` ([{id, name, color, typing, anchor, head}] with resolved indexes). */
export function showCursors(view, peers) {
  const len = view.state.doc.length;
  const ranges = [];
  for (const p of peers) {
    const head = Math.min(Math.max(p.head, 0), len);
    const anchor = Math.min(Math.max(p.anchor ?? head, 0), len);
    const from = Math.min(anchor, head);
    const to = Math.max(anchor, head);
    if (to > from) {
      ranges.push(Decoration.mark({
        class: "cm-remote-selection",
        attributes: { style: `--peer: ${p.color}`, "data-peer": p.id },
      }).range(from, to));
    }
    ranges.push(Decoration.widget({ widget: new RemoteCaret(p), side: head === to && to > from ? -1 : 1 }).range(head));
  }
  view.dispatch({ effects: setCursors.of(Decoration.set(ranges, true)) });
}

// ---- theme -------------------------------------------------------------------------------
const theme = EditorView.theme({
  "&": { fontSize: "15px", backgroundColor: "#fff" },
  "&.cm-focused": { outline: "none" },
  ".cm-scroller": { fontFamily: "var(--mono)", lineHeight: "1.65" },
  ".cm-content": { padding: "22px 0 40px", caretColor: "#6d5dfc" },
  ".cm-line": { padding: "0 24px 0 12px" },
  ".cm-gutters": { backgroundColor: "#fff", color: "#b3b8c7", border: "none", paddingLeft: "8px" },
  ".cm-activeLineGutter": { backgroundColor: "transparent", color: "#6b7288" },
  ".cm-activeLine": { backgroundColor: "#f7f7fc" },
  ".cm-cursor, .cm-dropCursor": { borderLeft: "2px solid #6d5dfc" },
  "&.cm-focused > .cm-scroller > .cm-selectionLayer .cm-selectionBackground, .cm-selectionBackground, ::selection":
    { backgroundColor: "#dcd8ff" },
  ".cm-selectionMatch": { backgroundColor: "#efeefe" },
  ".cm-placeholder": { color: "#b3b8c7" },
  ".cm-remote-selection": { backgroundColor: "color-mix(in srgb, var(--peer) 22%, transparent)" },
  ".cm-remote-caret": {
    position: "relative", borderLeft: "2px solid var(--peer)", marginLeft: "-1px", marginRight: "-1px",
    pointerEvents: "none",
  },
  ".cm-remote-label": {
    position: "absolute", left: "-2px", bottom: "100%", transform: "translateY(2px)",
    backgroundColor: "var(--peer)", color: "#fff", fontFamily: "var(--font)", fontSize: "11px",
    fontWeight: "600", lineHeight: "16px", padding: "0 5px", borderRadius: "4px 4px 4px 0",
    whiteSpace: "nowrap", userSelect: "none", zIndex: "3", boxShadow: "0 1px 3px rgba(0,0,0,.15)",
  },
  ".cm-remote-label.typing::after": { content: '" ✎"' },
});

const highlight = HighlightStyle.define([
  { tag: t.heading1, fontSize: "1.45em", fontWeight: "700", color: "#1d2130" },
  { tag: t.heading2, fontSize: "1.2em", fontWeight: "700", color: "#1d2130" },
  { tag: [t.heading3, t.heading4, t.heading5, t.heading6], fontWeight: "700", color: "#1d2130" },
  { tag: t.strong, fontWeight: "700" },
  { tag: t.emphasis, fontStyle: "italic" },
  { tag: t.strikethrough, textDecoration: "line-through" },
  { tag: t.link, color: "#6d5dfc", textDecoration: "underline" },
  { tag: t.url, color: "#6d5dfc" },
  { tag: t.monospace, color: "#b4306a", backgroundColor: "#f6f3fa" },
  { tag: t.quote, color: "#6b7288", fontStyle: "italic" },
  { tag: [t.processingInstruction, t.contentSeparator, t.labelName], color: "#a0a6ba" },
  { tag: t.list, color: "#1d2130" },
  { tag: t.meta, color: "#a0a6ba" },
]);

/**
 * Creates the editor in `parent` bound to `sync`.
 * hooks: {onSelection(view), onLocalEdit(view)}
 */
export function createEditor(parent, sync, hooks = {}) {
  const doc = sync.doc;
  let resyncQueued = false;

  // Both texts must stay identical; if they ever differ (a bug, or an edit the Doc refused),
  // the Doc wins and the editor is reset to it.
  const resync = (view) => {
    if (resyncQueued) return;
    resyncQueued = true;
    queueMicrotask(() => {
      resyncQueued = false;
      const text = doc.text;
      if (view.state.doc.toString() === text) return;
      console.warn("chorus demo: editor and document differ; reloading the text");
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text }, annotations: fromDoc.of(true) });
    });
  };

  const growth = (delta) => delta.reduce((n, op) => n + (op.insert?.length ?? 0) - (op.delete ?? 0), 0);

  // Remote changes: one transaction per delta, dispatched together.
  const applyRemote = (view, deltas) => {
    let state = view.state;
    const transactions = [];
    for (const delta of deltas) {
      const changes = deltaToChanges(delta);
      if (changes.length === 0) continue;
      const tr = state.update({ changes, annotations: [fromDoc.of(true), Transaction.remote.of(true)] });
      transactions.push(tr);
      state = tr.state;
    }
    if (state.doc.length !== doc.length) {
      resync(view);
      return;
    }
    if (transactions.length > 0) view.dispatch(transactions);
  };

  // Undo / redo: a local change made by the Doc; the cursor goes where it happened.
  const applyLocal = (view, delta, userEvent) => {
    const changes = deltaToChanges(delta);
    if (changes.length === 0) return;
    if (view.state.doc.length + growth(delta) !== doc.length) {
      resync(view);
      return;
    }
    const set = view.state.changes(changes);
    let at = 0;
    set.iterChangedRanges((fromA, toA, fromB, toB) => { at = toB; });
    view.dispatch({
      changes: set, selection: EditorSelection.cursor(at), userEvent, scrollIntoView: true,
      annotations: fromDoc.of(true),
    });
  };

  const runUndo = (redo) => (view) => {
    const delta = redo ? doc.undoManager.redo() : doc.undoManager.undo();
    if (delta) {
      applyLocal(view, delta, redo ? "redo" : "undo");
      sync.commitLocal(1);
      hooks.onLocalEdit?.(view);
    }
    return true;
  };

  const binding = EditorView.updateListener.of((update) => {
    let edits = 0;
    for (const tr of update.transactions) {
      if (!tr.docChanged || tr.annotation(fromDoc)) continue;
      const changes = [];
      tr.changes.iterChanges((fromA, toA, fromB, toB, inserted) => changes.push([fromA, toA, inserted.toString()]));
      try {
        // Back to front: each change's positions are those of the document before the
        // transaction, still valid while everything after them is already done.
        for (let i = changes.length - 1; i >= 0; i--) {
          const [from, to, text] = changes[i];
          if (to > from) doc.erase(from, to - from);
          if (text.length > 0) doc.insert(from, text);
        }
      } catch (e) {
        console.warn("chorus demo: edit refused by the document", e);
      }
      edits++;
    }
    if (edits > 0) {
      sync.commitLocal(edits);
      if (update.state.doc.length !== doc.length) resync(update.view);
      hooks.onLocalEdit?.(update.view);
    } else if (update.selectionSet && !update.docChanged) {
      doc.undoManager.stopCapturing();
    }
    if (update.selectionSet || update.docChanged || update.focusChanged) hooks.onSelection?.(update.view);
  });

  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc: doc.text,
      extensions: [
        // Only "\n" separates lines, so CodeMirror positions equal the Doc's UTF-16 indexes
        // even when the text holds "\r".
        EditorState.lineSeparator.of("\n"),
        lineNumbers(),
        highlightActiveLineGutter(),
        highlightSpecialChars(),
        drawSelection(),
        dropCursor(),
        EditorState.allowMultipleSelections.of(true),
        indentOnInput(),
        bracketMatching(),
        rectangularSelection(),
        highlightActiveLine(),
        highlightSelectionMatches(),
        EditorView.lineWrapping,
        markdown(),
        syntaxHighlighting(highlight),
        placeholder("Start typing — everyone here sees it as you type."),
        Prec.highest(keymap.of([
          { key: "Mod-z", run: runUndo(false), preventDefault: true },
          { key: "Mod-y", run: runUndo(true), preventDefault: true },
          { key: "Mod-Shift-z", run: runUndo(true), preventDefault: true },
        ])),
        keymap.of([...defaultKeymap, ...searchKeymap, indentWithTab]),
        cursorField,
        theme,
        binding,
      ],
    }),
  });

  sync.onRemoteDeltas = (deltas) => applyRemote(view, deltas);
  return view;
}
