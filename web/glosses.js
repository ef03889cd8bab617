// The list a learner chooses a sign from: every gloss of the index with how many reference clips and signers
// it has (and the learner's best score so far), narrowed as they type, usable with the keyboard alone.

// Python's str.casefold for what people type: upper- then lower-casing also folds "ß" to "ss", as it does.
export function fold(text) { return text.toUpperCase().toLowerCase(); }

// Per gloss of the index, sorted: {gloss, clips, signers}, from the counts /index.json carries ("glosses";
// signers null when the index does not know them).
export function glossCounts(index) {
  return Object.entries(index.glosses).sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([gloss, counts]) => ({ gloss, clips: counts.clips, signers: counts.signers }));
}

function countsText(entry) {
  const clips = `${entry.clips} clip${entry.clips === 1 ? '' : 's'}`;
  if (entry.signers === null || entry.signers === undefined) return clips;
  return `${clips}, ${entry.signers} signer${entry.signers === 1 ? '' : 's'}`;
}

// The list under the search box. onChoose(gloss) runs when one is chosen (click, Enter or Space).
export class GlossList {
  constructor(input, list, counts, onChoose) {
    this.input = input; this.list = list; this.onChoose = onChoose;
    this.items = counts.map((entry) => this.item(entry));
    this.list.replaceChildren(...this.items.map(({ li }) => li));
    input.addEventListener('input', () => this.filter(input.value));
    // Down from the box goes into the list; up and down move through it, as in any list of choices.
    input.addEventListener('keydown', (event) => {
      if (event.key === 'ArrowDown') { event.preventDefault(); this.focusShown(0); }
    });
    list.addEventListener('keydown', (event) => this.onListKey(event));
  }

  item(entry) {
    const li = document.createElement('li');
    const button = Object.assign(document.createElement('button'), { type: 'button', className: 'gloss' });
    button.dataset.gloss = entry.gloss;
    const name = Object.assign(document.createElement('span'), { className: 'name', textContent: entry.gloss });
    const counts = Object.assign(document.createElement('span'), { className: 'counts', textContent: countsText(entry) });
    const best = Object.assign(document.createElement('span'), { className: 'best' });
    button.append(name, counts, best);
    button.addEventListener('click', () => this.onChoose(entry.gloss));
    li.appendChild(button);
    return { li, button, best, entry };
  }

  // Only glosses containing the typed text, regardless of case; all of them for an empty box.
  filter(text) {
    const wanted = fold(text.trim());
    for (const { li, entry } of this.items) li.hidden = Boolean(wanted) && !fold(entry.gloss).includes(wanted);
  }

  shownButtons() { return this.items.filter(({ li }) => !li.hidden).map(({ button }) => button); }

  focusShown(k) {
    const buttons = this.shownButtons();
    if (buttons.length) buttons[Math.max(0, Math.min(k, buttons.length - 1))].focus();
  }

  onListKey(event) {
    if (event.key !== 'ArrowDown' && event.key !== 'ArrowUp') return;
    event.preventDefault();
    const buttons = this.shownButtons();
    const at = buttons.indexOf(document.activeElement);
    if (event.key === 'ArrowUp' && at <= 0) { this.input.focus(); return; }
    this.focusShown(at + (event.key === 'ArrowDown' ? 1 : -1));
  }

  // Marks the chosen gloss, and shows each gloss's best score so far ({gloss: best}).
  mark(chosen, bestScores) {
    for (const { button, best, entry } of this.items) {
      button.setAttribute('aria-pressed', String(entry.gloss === chosen));
      const score = bestScores[entry.gloss];
      best.textContent = score === undefined ? '' : `best ${score}`;
    }
  }
}
