/**
 * Creates an element with attributes and children. Text always goes in as
 * text, never as HTML: what the bot's data says (Telegram's description of
 * an error, a handler's message) cannot become markup on this page.
 *
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, string>} [attributes]
 * @param {...(Node | string)} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attributes = {}, ...children) {
    const element = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
    element.append(...children);
    return element;
}

/**
 * The element of the page with this `data-testid` (the page's stable names,
 * which its test uses too).
 *
 * @param {string} testId
 * @param {ParentNode} [root]
 * @returns {HTMLElement}
 */
export function byTestId(testId, root = document) {
    const element = root.querySelector(`[data-testid="${testId}"]`);
    if (!(element instanceof HTMLElement)) throw new Error(`the page has no element ${testId}`);
    return element;
}

/**
 * Shows a card's content, or its note saying what the bot would need to
 * have it (no outbox, no journal).
 *
 * @param {HTMLElement} card
 * @param {boolean} present
 */
export function showPart(card, present) {
    for (const element of card.querySelectorAll("[data-part=missing]")) element.toggleAttribute("hidden", present);
    for (const element of card.querySelectorAll("[data-part=present]")) element.toggleAttribute("hidden", !present);
}

/**
 * Sets an element's text, only when it changed (a page redrawn every
 * second should not churn the DOM, nor a screen reader).
 *
 * @param {string} testId
 * @param {string} text
 */
export function setText(testId, text) {
    const element = byTestId(testId);
    if (element.textContent !== text) element.textContent = text;
}

/**
 * @template T
 * @typedef {object} Row
 * @property {HTMLElement} element
 * @property {(item: T) => void} update Shows the item's current values.
 */

/**
 * Keeps a container's rows in step with a list that changes every second:
 * one row per key, created once and then updated in place. A button under
 * the pointer stays the same element from one snapshot to the next; rows
 * rebuilt every second would lose the clicks that land on a replaced one.
 *
 * @template T
 */
export class KeyedRows {
    /** @type {Map<string, Row<T>>} */
    #rows = new Map();

    /**
     * @param {HTMLElement} container
     * @param {(item: T) => string} keyOf
     * @param {(item: T) => Row<T>} create
     */
    constructor(container, keyOf, create) {
        this.container = container;
        this.keyOf = keyOf;
        this.create = create;
    }

    /**
     * Shows `items` in their order: new keys get a row, gone keys lose theirs.
     *
     * @param {readonly T[]} items
     */
    show(items) {
        const seen = new Set();
        /** @type {ChildNode | null} */
        let next = this.container.firstChild;
        for (const item of items) {
            const key = this.keyOf(item);
            seen.add(key);
            let row = this.#rows.get(key);
            if (row === undefined) {
                row = this.create(item);
                this.#rows.set(key, row);
            }
            row.update(item);
            if (row.element !== next) this.container.insertBefore(row.element, next);
            next = row.element.nextSibling;
        }
        for (const [key, row] of this.#rows) {
            if (seen.has(key)) continue;
            row.element.remove();
            this.#rows.delete(key);
        }
    }
}
