import { ApiError, call } from "./api.js";
import { CampaignsPanel } from "./campaigns.js";
import { byTestId, setText } from "./dom.js";
import { followEvents } from "./events.js";
import { MaintenancePanels } from "./maintenance.js";
import { Overview } from "./overview.js";

/** @typedef {import("../snapshot.js").Snapshot} Snapshot */
/** @typedef {import("./actions.js").Act} Act */

/**
 * The page's life: ask for the token, follow the event stream and show
 * each snapshot, run the operator's actions, log out. The token is kept in
 * this tab's sessionStorage (gone when the tab closes), sent only in
 * headers, and never written into the page.
 */

const TOKEN_KEY = "sluice.adminToken";
/** Snapshots come every second: none for this long means the stream stalled. */
const STALE_MS = 5_000;
/** How long the outcome of an action stays on screen. */
const NOTICE_MS = { done: 4_000, error: 12_000 };

const loginView = byTestId("login");
const dashboardView = byTestId("dashboard");
const statusBar = byTestId("status");
const form = /** @type {HTMLFormElement} */ (byTestId("login-form"));
const tokenInput = /** @type {HTMLInputElement} */ (byTestId("login-token"));
const loginError = byTestId("login-error");
const connection = byTestId("connection");

/** @type {string | null} */
let token = sessionStorage.getItem(TOKEN_KEY);
let stopFollowing = () => {};
let lastSnapshotAt = 0;
let live = false;

const overview = new Overview();
const campaigns = new CampaignsPanel(act);
const maintenance = new MaintenancePanels(act);

form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const candidate = tokenInput.value;
    const submit = /** @type {HTMLButtonElement} */ (byTestId("login-submit"));
    submit.disabled = true;
    try {
        await call(candidate, "GET", "/v1/status");
        tokenInput.value = "";
        sessionStorage.setItem(TOKEN_KEY, candidate);
        open(candidate);
    } catch (error) {
        showLogin(
            error instanceof ApiError && error.status === 401
                ? "That token was refused: use the bot's admin.token."
                : `The bot could not be reached: ${error instanceof Error ? error.message : String(error)}`,
        );
    } finally {
        submit.disabled = false;
    }
});
byTestId("logout").addEventListener("click", () => logOut());

/**
 * Shows the dashboard and follows the bot's events with `withToken`.
 *
 * @param {string} withToken
 */
function open(withToken) {
    token = withToken;
    loginView.hidden = true;
    dashboardView.hidden = false;
    statusBar.hidden = false;
    setConnection(false);
    stopFollowing = followEvents({
        token: withToken,
        onSnapshot: show,
        onConnection: setConnection,
        onRefused: (message) => logOut(`The token was refused: ${message}`),
    });
}

/**
 * Forgets the token and goes back to the login, saying why when there is a reason.
 *
 * @param {string} [reason]
 */
function logOut(reason) {
    stopFollowing();
    token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    overview.clear();
    dashboardView.hidden = true;
    statusBar.hidden = true;
    showLogin(reason);
}

/** @param {string} [message] */
function showLogin(message) {
    loginView.hidden = false;
    loginError.hidden = message === undefined;
    loginError.textContent = message ?? "";
    tokenInput.focus();
}

/** @param {Snapshot} snapshot */
function show(snapshot) {
    lastSnapshotAt = Date.now();
    const polling = byTestId("polling");
    setText("polling", snapshot.polling ? "polling" : "not polling");
    polling.className = `pill ${snapshot.polling ? "good" : "bad"}`;
    overview.show(snapshot);
    campaigns.show(snapshot);
    maintenance.show(snapshot);
}

/** @param {boolean} isLive */
function setConnection(isLive) {
    live = isLive;
    showConnection();
}

function showConnection() {
    const stale = live && Date.now() - lastSnapshotAt > STALE_MS;
    const [text, kind] = !live ? ["reconnecting…", "warn"] : stale ? ["stale", "warn"] : ["live", "good"];
    if (connection.textContent !== text) connection.textContent = text;
    connection.className = `pill ${kind}`;
}
setInterval(showConnection, 1_000);

/** @type {Act} */
async function act(button, request) {
    if (token === null) return;
    if (request.confirm !== undefined && !confirm(request.confirm)) return;
    button.disabled = true;
    try {
        await call(token, request.method, request.path);
        notice("done", request.done);
    } catch (error) {
        if (error instanceof ApiError && error.status === 401) return logOut(`The token was refused: ${error.message}`);
        const code = error instanceof ApiError ? `${error.code}: ` : "";
        notice("error", `${code}${error instanceof Error ? error.message : String(error)}`);
    } finally {
        button.disabled = false;
    }
}

/** @type {Partial<Record<"done" | "error", ReturnType<typeof setTimeout>>>} */
const noticeTimers = {};

/**
 * Shows an action's outcome for a while.
 *
 * @param {"done" | "error"} kind
 * @param {string} text
 */
function notice(kind, text) {
    const element = byTestId(kind === "done" ? "action-done" : "action-error");
    element.textContent = text;
    element.hidden = false;
    clearTimeout(noticeTimers[kind]);
    noticeTimers[kind] = setTimeout(() => (element.hidden = true), NOTICE_MS[kind]);
}

if (token === null) showLogin();
else open(token);
