// Cairn's reference PWA: the person's recovery plan, written with their supporter, kept on the
// phone and synced with Cairn whenever there is a network. This entry draws the first screen at
// once (sign in, or the plan list); Automerge and the plan screen load behind it.
//
// Layout: app/ is the shell (session, connection, status line, routing, languages, error words,
// the plan list); screens/ holds one module per screen with its own message catalogue; api.ts is
// the REST client; sync.ts the plan store (automerge-repo); plan.ts writes the plan document.
import "./style.css"
import { startShell, warmPlanScreen } from "./app/shell.ts"

if (location.hash.startsWith("#/plan/")) warmPlanScreen()
void startShell()

// The app itself is kept offline by the service worker (only in a secure context: HTTPS, or this
// machine during development).
if ("serviceWorker" in navigator && window.isSecureContext) {
  navigator.serviceWorker.register("/sw.js").catch(err => console.warn("the app cannot be kept offline", err))
}
