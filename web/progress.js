// A learner's past practice scores, per gloss, kept in this browser (localStorage) so that they are there
// when the learner comes back. Nothing leaves the machine.

const KEY = 'spoter-embeddings.practice-scores';
// Scores kept per gloss: enough to show a trend, few enough that storage never fills.
const KEPT = 50;

// {gloss: [{score, at}]} as stored; an empty record where storage is unavailable (a private window, a
// browser setting) or holds something unreadable, since progress is a help, never a reason to fail.
export function allScores() {
  try {
    const stored = JSON.parse(localStorage.getItem(KEY) || '{}');
    return stored && typeof stored === 'object' && !Array.isArray(stored) ? stored : {};
  } catch (error) {
    return {};
  }
}

export function pastScores(gloss) {
  const scores = allScores()[gloss];
  return Array.isArray(scores) ? scores : [];
}

// Adds a score; false when the browser would not keep it (the page then says so).
export function keepScore(gloss, score) {
  const scores = allScores();
  scores[gloss] = [...pastScores(gloss), { score: Math.round(score), at: new Date().toISOString() }].slice(-KEPT);
  try {
    localStorage.setItem(KEY, JSON.stringify(scores));
    return true;
  } catch (error) {
    return false;
  }
}

// "3 tries: 41, 55, 62 (best 62)" for a gloss's scores, oldest first; the last few only.
export function progressLine(scores, shown = 8) {
  if (!scores.length) return 'no tries yet';
  const best = Math.max(...scores.map((s) => s.score));
  const recent = scores.slice(-shown).map((s) => s.score).join(', ');
  const tries = scores.length === 1 ? '1 try' : `${scores.length} tries`;
  return `${tries}: ${scores.length > shown ? '..., ' : ''}${recent} (best ${best})`;
}
