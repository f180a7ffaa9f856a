// The first content of the "welcome" document, written by a fixed seed client so that
// clients seeding it at the same moment produce the very same characters (no duplicates).
import { Doc } from "/chorus/chorus_collab.mjs";

const SEED_CLIENT = 1;

export const WELCOME = `# Welcome to Chorus

This page is a shared document. Open it in a second window, or send the link to someone,
and type in both: every keystroke travels as a small binary update over Socket.IO to a
C++ server, which stores it in SQLite before acknowledging it.

## Things to try

- Type at the same spot from two windows: the texts merge without interleaving.
- Go offline (DevTools → Network → Offline), keep editing, come back: your edits merge.
- Undo (Ctrl+Z) undoes *your* edits only, never your collaborators'.
- Open another document: add \`?doc=your-topic\` to the address.
- Pick a transport: \`?transport=websocket\`, \`?transport=sse\` or \`?transport=polling\`.

## Under the hood

The editor is CodeMirror 6. The text is a sequence CRDT written in C++ and compiled to
WebAssembly; the server runs the very same code. The connection is the Chorus browser SDK:
the Socket.IO client protocol core, also C++ compiled to WebAssembly.
`;

export function welcomeSeed() {
  const seed = new Doc({ clientId: SEED_CLIENT });
  seed.insert(0, WELCOME);
  const bytes = seed.encodeStateAsUpdate();
  seed.free();
  return bytes;
}
