import { actionButton } from "./actions.js";
import { byTestId, h, KeyedRows, showPart } from "./dom.js";
import { count, duration, percent, perSecond } from "./format.js";

/** @typedef {import("../snapshot.js").Snapshot} Snapshot */
/** @typedef {import("../snapshot.js").CampaignEntry} CampaignEntry */
/** @typedef {import("./actions.js").Act} Act */

/** The actions each state allows, as the API does (anything else answers 409). */
const ACTIONS = /** @type {const} */ ({
    start: ["draft"],
    pause: ["running", "scheduled"],
    resume: ["paused"],
    cancel: ["draft", "scheduled", "running", "paused"],
});

/**
 * The campaigns: a row each with a progress bar (sent, failed, skipped of
 * the total), rate and ETA, and the buttons its state allows.
 */
export class CampaignsPanel {
    /** @param {Act} act */
    constructor(act) {
        this.card = byTestId("campaigns");
        this.rows = new KeyedRows(
            byTestId("campaign-list"),
            (campaign) => String(campaign.id),
            (campaign) => this.#row(campaign, act),
        );
    }

    /** @param {Snapshot} snapshot */
    show(snapshot) {
        showPart(this.card, snapshot.campaigns !== null);
        const campaigns = snapshot.campaigns?.items ?? [];
        for (const empty of this.card.querySelectorAll("[data-part=empty]")) empty.toggleAttribute("hidden", campaigns.length > 0);
        this.rows.show(campaigns);
    }

    /**
     * @param {CampaignEntry} campaign
     * @param {Act} act
     * @returns {import("./dom.js").Row<CampaignEntry>}
     */
    #row(campaign, act) {
        const id = campaign.id;
        const name = h("strong", {}, campaign.name);
        const state = h("span", { class: "badge", "data-testid": `campaign-${id}-state` });
        const sent = h("div", { class: "segment sent" });
        const failed = h("div", { class: "segment failed" });
        const skipped = h("div", { class: "segment skipped" });
        const bar = h("div", { class: "progress", role: "progressbar", "aria-label": `campaign ${id} progress` }, sent, failed, skipped);
        const facts = h("div", { class: "facts muted", "data-testid": `campaign-${id}-facts` });
        const buttons = {
            start: actionButton("Start", `campaign-${id}-start`),
            pause: actionButton("Pause", `campaign-${id}-pause`),
            resume: actionButton("Resume", `campaign-${id}-resume`),
            cancel: actionButton("Cancel", `campaign-${id}-cancel`, "danger"),
        };
        for (const [action, done] of /** @type {const} */ ([
            ["start", "started"],
            ["pause", "paused"],
            ["resume", "resumed"],
        ])) {
            buttons[action].addEventListener("click", () =>
                act(buttons[action], { method: "POST", path: `/v1/campaigns/${id}/${action}`, done: `Campaign ${id} ${done}.` }),
            );
        }
        buttons.cancel.addEventListener("click", () =>
            act(buttons.cancel, {
                method: "POST",
                path: `/v1/campaigns/${id}/cancel`,
                done: `Campaign ${id} cancelled.`,
                confirm: `Cancel campaign ${id} (${campaign.name})? Its recipients not sent to yet are skipped; this cannot be undone.`,
            }),
        );
        const element = h(
            "li",
            { class: "row campaign", "data-testid": `campaign-${id}` },
            h(
                "div",
                { class: "row-main" },
                h("div", { class: "title" }, name, h("span", { class: "muted" }, ` #${id}`), state),
                bar,
                facts,
            ),
            h("div", { class: "actions" }, ...Object.values(buttons)),
        );
        return {
            element,
            update: (current) => {
                const label = current.state === "paused" && current.pausedBy === "budget" ? "paused: budget spent" : current.state;
                if (state.textContent !== label) state.textContent = label;
                state.className = `badge state-${current.state}`;
                sent.style.width = percent(current.sent, current.total);
                failed.style.width = percent(current.failed, current.total);
                skipped.style.width = percent(current.skipped, current.total);
                bar.setAttribute("aria-valuenow", String(current.total - current.pending));
                bar.setAttribute("aria-valuemax", String(current.total));
                facts.textContent = factsOf(current);
                for (const [action, states] of Object.entries(ACTIONS)) {
                    buttons[/** @type {keyof ACTIONS} */ (action)].hidden = !(
                        /** @type {readonly string[]} */ (states).includes(current.state)
                    );
                }
            },
        };
    }
}

/**
 * One line of numbers: `1,234 of 5,000 sent · 3 failed · 29.8/s · 2m 40s left`.
 *
 * @param {CampaignEntry} campaign
 */
function factsOf(campaign) {
    const parts = [`${count(campaign.sent)} of ${count(campaign.total)} sent`];
    if (campaign.failed > 0) parts.push(`${count(campaign.failed)} failed`);
    if (campaign.skipped > 0) parts.push(`${count(campaign.skipped)} skipped`);
    if (campaign.state === "running") {
        parts.push(`${perSecond(campaign.perSecond)}/s`);
        if (campaign.etaMs !== null) parts.push(`${duration(campaign.etaMs)} left`);
    }
    if (campaign.state === "scheduled" && campaign.startAt !== null) parts.push(`starts ${new Date(campaign.startAt).toLocaleString()}`);
    return parts.join(" · ");
}
