/**
 * @typedef {object} ActionRequest
 * @property {"POST" | "DELETE"} method
 * @property {string} path
 * @property {string} done What to say once it worked, e.g. `Campaign 3 paused.`
 * @property {string} [confirm] A question to answer first, for what cannot be undone.
 */

/**
 * Runs an operator's action from a button: asks first when it cannot be
 * undone, disables the button while the call is out, and reports the
 * outcome on the page (the next snapshot shows its effect).
 *
 * @callback Act
 * @param {HTMLButtonElement} button
 * @param {ActionRequest} request
 * @returns {Promise<void>}
 */

/**
 * A button of a row's actions.
 *
 * @param {string} label
 * @param {string} testId
 * @param {"" | "danger"} [kind]
 * @returns {HTMLButtonElement}
 */
export function actionButton(label, testId, kind = "") {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = label;
    button.dataset.testid = testId;
    if (kind !== "") button.classList.add(kind);
    return button;
}
