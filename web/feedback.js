// Per-part practice feedback in the page: the mirror of retrieval/feedback.py, whose doc says what each part
// measures and why. Every step does the same arithmetic in the same order as the Python (sums point by point,
// frame by frame), so that the page and `search.py practice` give the same numbers on the same clip
// (tests/test_feedback.py runs both on a real clip).
//
// A clip is [frames][54] of [x, y] (the model's input layout, image coordinates), null for a point not detected.
// The layout's hands: the left hand is points 12-32, the right hand 33-53 (utils/layout.py).

export const PARTS = ['right_hand_shape', 'left_hand_shape', 'hand_location', 'movement', 'speed'];
export const PART_NAMES = {
  right_hand_shape: 'Right hand shape', left_hand_shape: 'Left hand shape',
  hand_location: 'Where the hands are', movement: 'Movement', speed: 'Speed',
};
const SIDES = ['right', 'left'];
const HAND_POINTS = 21;
const HAND_START = { left: 12, right: 33 };
const SHAPE_PARTS = { right: 'right_hand_shape', left: 'left_hand_shape' };
const SHAPE_OF = { right_hand_shape: 'right', left_hand_shape: 'left' };
// Body points of the layout: nose, neck, right and left shoulder.
const NOSE = 0;
const NECK = 1;
const RIGHT_SHOULDER = 6;
const LEFT_SHOULDER = 7;
// The constants of retrieval/feedback.py, which says why each is what it is.
const MISSING_HAND_COST = 0.5;
const USES_HAND_SHARE = 0.25;
const DEFAULT_FPS = 30.0;
const MIN_SCALE = 1e-6;
const VELOCITY_REACH = 2;
const PATH_STEPS = 8;
const WORST_FRAMES = 3;
const CLOSE = 70.0;
const SOMEWHAT = 40.0;
const USUAL = 80.0;
const RARE = 95.0;
const MOVING_SHARE = 0.25;
const FAST_RANK = 0.9;
const PACE_TOLERANCE = 0.28768207245178085;
// numpy's linspace(0, 1, 101): i * 0.01, the last exactly 1.
const SCORE_LEVELS = Array.from({ length: 101 }, (_, i) => (i === 100 ? 1 : i * (1 / 100)));

const finite = (x) => Number.isFinite(x);
const pointOf = (frame, i) => (frame[i] ? [Number(frame[i][0]), Number(frame[i][1])] : [NaN, NaN]);
const hypot = (dx, dy) => Math.sqrt(dx * dx + dy * dy);

// ---- each clip in its own frame ----

function median(values) {
  const kept = values.filter(finite).sort((a, b) => a - b);
  if (!kept.length) return NaN;
  const middle = Math.floor(kept.length / 2);
  return kept.length % 2 ? kept[middle] : (kept[middle - 1] + kept[middle]) / 2;
}

function pointDistance(a, b) { return hypot(a[0] - b[0], a[1] - b[1]); }

// The clip's median neck and median shoulder width (twice the neck-nose distance where the shoulders are missing).
function bodyFrame(clip) {
  const widths = clip.map((frame) => {
    const shoulders = pointDistance(pointOf(frame, LEFT_SHOULDER), pointOf(frame, RIGHT_SHOULDER));
    return Number.isNaN(shoulders) ? 2 * pointDistance(pointOf(frame, NECK), pointOf(frame, NOSE)) : shoulders;
  });
  const scale = median(widths);
  const neck = [0, 1].map((axis) => median(clip.map((frame) => pointOf(frame, NECK)[axis])));
  return { neck, scale: scale >= MIN_SCALE ? scale : NaN };
}

// A hand's points in its own square box (SPOTER's normalize_hand).
function handShape(points) {
  const low = [Infinity, Infinity];
  const high = [-Infinity, -Infinity];
  for (const p of points) {
    for (const axis of [0, 1]) {
      low[axis] = Math.min(low[axis], p[axis]);
      high[axis] = Math.max(high[axis], p[axis]);
    }
  }
  const size = Math.max(Math.max(high[0] - low[0], high[1] - low[1]), MIN_SCALE);
  return points.map((p) => [(p[0] - (low[0] + high[0]) / 2) / size, (p[1] - (low[1] + high[1]) / 2) / size]);
}

// Change of the location a second over +-VELOCITY_REACH frames (fewer at the ends).
function velocity(location, fps) {
  const n = location.length;
  if (n < 2) return location.map((l) => l.map((x) => (Number.isNaN(x) ? NaN : 0)));
  return location.map((_, t) => {
    const before = Math.max(t - VELOCITY_REACH, 0);
    const after = Math.min(t + VELOCITY_REACH, n - 1);
    return [0, 1].map((axis) => ((location[after][axis] - location[before][axis]) / (after - before)) * fps);
  });
}

function clipFeatures(clip, fps) {
  const { neck, scale } = bodyFrame(clip);
  const features = { fps: Number(fps) };
  for (const side of SIDES) {
    const hands = clip.map((frame) => Array.from({ length: HAND_POINTS }, (_, k) => pointOf(frame, HAND_START[side] + k)));
    const present = hands.map((hand) => hand.every((p) => finite(p[0]) && finite(p[1])));
    const shape = hands.map((hand, t) => (present[t] ? handShape(hand) : null));
    const location = hands.map((hand, t) => (present[t] ? [(hand[0][0] - neck[0]) / scale, (hand[0][1] - neck[1]) / scale] : [NaN, NaN]));
    // The wrist about its median place over the clip: what the alignment pairs frames on.
    const place = [0, 1].map((axis) => median(location.map((l) => l[axis])));
    const track = location.map((l) => [l[0] - place[0], l[1] - place[1]]);
    features[side] = { present, shape, location, track, velocity: velocity(location, fps) };
  }
  return features;
}

function presenceShare(features, side) {
  const { present } = features[side];
  return present.length ? present.filter(Boolean).length / present.length : 0;
}

const flipX = (p) => (p ? [-p[0], p[1]] : p);

// The features of the clip's mirror image: hands swapped, x negated (locations are about the neck).
function mirrored(features) {
  const mirror = (side) => ({
    present: features[side].present,
    shape: features[side].shape.map((hand) => (hand ? hand.map(flipX) : hand)),
    location: features[side].location.map(flipX),
    track: features[side].track.map(flipX),
    velocity: features[side].velocity.map(flipX),
  });
  return { right: mirror('left'), left: mirror('right'), fps: features.fps };
}

// The attempt mirrored when that matches the reference's use of each hand better (mirrored recordings,
// left-handed signers).
function matchedHands(attempt, reference) {
  const [aRight, aLeft] = [presenceShare(attempt, 'right'), presenceShare(attempt, 'left')];
  const [rRight, rLeft] = [presenceShare(reference, 'right'), presenceShare(reference, 'left')];
  const swapped = Math.abs(aRight - rLeft) + Math.abs(aLeft - rRight) < Math.abs(aRight - rRight) + Math.abs(aLeft - rLeft);
  return { features: swapped ? mirrored(attempt) : attempt, swapped };
}

// ---- the alignment ----

function shapeDistance(a, b) {
  let total = pointDistance(a[0], b[0]);
  for (let k = 1; k < HAND_POINTS; k += 1) total += pointDistance(a[k], b[k]);
  return total / HAND_POINTS;
}

function frameCost(attempt, reference, i, j) {
  let total = 0;
  let terms = 0;
  for (const side of SIDES) {
    const a = attempt[side];
    const r = reference[side];
    if (a.present[i] && r.present[j]) {
      const location = pointDistance(a.track[i], r.track[j]);
      total += shapeDistance(a.shape[i], r.shape[j]) + (Number.isNaN(location) ? 0 : location);
      terms += 1;
    } else if (a.present[i] !== r.present[j]) {
      total += MISSING_HAND_COST;
      terms += 1;
    }
  }
  return terms > 0 ? total / Math.max(terms, 1) : 0;
}

function warp(attempt, reference) {
  const n = attempt.right.present.length;
  const m = reference.right.present.length;
  const total = Array.from({ length: n }, () => new Array(m).fill(0));
  for (let i = 0; i < n; i += 1) {
    for (let j = 0; j < m; j += 1) {
      let best;
      if (i === 0 && j === 0) best = 0;
      else if (i === 0) best = total[i][j - 1];
      else if (j === 0) best = total[i - 1][j];
      else best = Math.min(total[i - 1][j - 1], total[i - 1][j], total[i][j - 1]);
      total[i][j] = frameCost(attempt, reference, i, j) + best;
    }
  }
  return backtrack(total);
}

function backtrack(total) {
  let i = total.length - 1;
  let j = total[0].length - 1;
  const path = [[i, j]];
  while (i > 0 || j > 0) {
    if (i === 0) j -= 1;
    else if (j === 0) i -= 1;
    else {
      const [diagonal, up, left] = [total[i - 1][j - 1], total[i - 1][j], total[i][j - 1]];
      if (diagonal <= up && diagonal <= left) { i -= 1; j -= 1; }
      else if (up <= left) i -= 1;
      else j -= 1;
    }
    path.push([i, j]);
  }
  return path.reverse();
}

function checkedClip(clip, name) {
  if (!Array.isArray(clip) || !clip.length || !clip.every((frame) => Array.isArray(frame))) {
    throw new Error(`${name}: expected [frames][54] of [x, y] or null, with at least one frame`);
  }
  return clip;
}

// The time alignment of two clips: [[attempt frame, reference frame], ...] in order.
export function align(attempt, reference, { attemptFps = DEFAULT_FPS, referenceFps = DEFAULT_FPS } = {}) {
  const ref = clipFeatures(checkedClip(reference, 'reference'), referenceFps);
  const { features } = matchedHands(clipFeatures(checkedClip(attempt, 'attempt'), attemptFps), ref);
  return warp(features, ref);
}

// ---- the parts ----

// [per attempt frame, per reference frame]: the distance from the hand's shape in that frame to the nearest
// shape the other clip shows; NaN where the frame does not show the hand.
function nearestShapes(side, attempt, reference) {
  const a = attempt[side];
  const r = reference[side];
  const toReference = a.present.map(() => Infinity);
  const toAttempt = r.present.map(() => Infinity);
  a.present.forEach((shown, i) => {
    if (!shown) return;
    r.present.forEach((seen, j) => {
      if (!seen) return;
      const distance = shapeDistance(a.shape[i], r.shape[j]);
      toReference[i] = Math.min(toReference[i], distance);
      toAttempt[j] = Math.min(toAttempt[j], distance);
    });
  });
  const orNaN = (found) => found.map((d) => (finite(d) ? d : NaN));
  return [orNaN(toReference), orNaN(toAttempt)];
}

// The hand's shape part: each clip's mean distance to the other's nearest shape, then their mean.
function handShapeDistance(nearest) {
  return (meanFinite(nearest[0]) + meanFinite(nearest[1])) / 2;
}

const norm = (v) => hypot(v[0], v[1]);
const speedDifference = (a, r) => Math.abs(norm(a) - norm(r));

// Per path pair, the mean over the hands both frames show of `measure` of their `key` (location or velocity).
function sideMean(measure, key, attempt, reference, path) {
  return path.map(([i, j]) => {
    let total = 0;
    let count = 0;
    for (const side of SIDES) {
      const value = measure(attempt[side][key][i], reference[side][key][j]);
      if (finite(value)) { total += value; count += 1; }
    }
    return count > 0 ? total / Math.max(count, 1) : NaN;
  });
}

function usesHand(features, side) {
  const { present } = features[side];
  return present.length > 0 && present.filter(Boolean).length >= USES_HAND_SHARE * present.length;
}

// Per frame, the faster wrist's speed (NaN where neither hand's velocity is known).
function wristSpeeds(features) {
  return features.right.velocity.map((v, t) => {
    const [right, left] = [norm(v), norm(features.left.velocity[t])];
    if (Number.isNaN(right)) return left;
    return Number.isNaN(left) ? right : Math.max(right, left);
  });
}

// [first, last] frame of the clip's movement: the frames whose wrist speed reaches MOVING_SHARE of the speed
// at rank FAST_RANK of its sorted known speeds; null when none is known.
function movingSpan(features) {
  const speeds = wristSpeeds(features);
  const known = speeds.filter(finite).sort((a, b) => a - b);
  if (!known.length) return null;
  const fast = known[Math.floor(FAST_RANK * (known.length - 1))];
  const moving = speeds.flatMap((speed, t) => (finite(speed) && speed >= MOVING_SHARE * fast ? [t] : []));
  return [moving[0], moving[moving.length - 1]];
}

// The attempt's time for the reference's movement over the reference's (2 for twice as slow), in seconds.
function tempo(attempt, reference, path) {
  const span = movingSpan(reference);
  if (span === null) return NaN;
  const paired = path.filter(([, j]) => span[0] <= j && j <= span[1]).map(([i]) => i);
  const attemptTime = (Math.max(...paired) - Math.min(...paired) + 1) / attempt.fps;
  return attemptTime / ((span[1] - span[0] + 1) / reference.fps);
}

// How far the pace is off beyond PACE_TOLERANCE (a pace within a third of the reference's is the same).
function speedDistance(attempt, reference, path) {
  const ratio = tempo(attempt, reference, path);
  return ratio > 0 ? Math.max(Math.abs(Math.log(ratio)) - PACE_TOLERANCE, 0) : NaN;
}

// The hand's wrist location in the reference's time: per reference frame, the mean over the attempt frames
// the path pairs with it.
function warpedLocation(features, side, path, frames) {
  const total = Array.from({ length: frames }, () => [0, 0]);
  const count = new Array(frames).fill(0);
  const { location } = features[side];
  for (const [i, j] of path) {
    if (finite(location[i][0]) && finite(location[i][1])) {
      total[j][0] += location[i][0];
      total[j][1] += location[i][1];
      count[j] += 1;
    }
  }
  return total.map((sum, j) => (count[j] > 0 ? [sum[0] / Math.max(count[j], 1), sum[1] / Math.max(count[j], 1)] : [NaN, NaN]));
}

// A wrist path as PATH_STEPS displacements between points spread evenly over its frames; null with under two
// frames that show the hand.
function trackSteps(location) {
  const shown = location.flatMap((l, t) => (finite(l[0]) && finite(l[1]) ? [t] : []));
  if (shown.length < 2) return null;
  const points = Array.from({ length: PATH_STEPS + 1 }, (_, k) => {
    const time = k * ((location.length - 1) / PATH_STEPS);
    return [0, 1].map((axis) => interp(time, shown, shown.map((t) => location[t][axis])));
  });
  return points.slice(1).map((p, k) => [p[0] - points[k][0], p[1] - points[k][1]]);
}

function trackPairs(attempt, reference, path) {
  const frames = reference[SIDES[0]].location.length;
  const pairs = [];
  for (const side of SIDES) {
    const a = trackSteps(warpedLocation(attempt, side, path, frames));
    const r = trackSteps(reference[side].location);
    if (a !== null && r !== null) pairs.push([a, r]);
  }
  return pairs;
}

function movementDistance(attempt, reference, path) {
  let total = 0;
  let count = 0;
  for (const [a, r] of trackPairs(attempt, reference, path)) {
    let sum = 0;
    a.forEach((step, k) => { sum += pointDistance(step, r[k]); });
    total += sum / a.length;
    count += 1;
  }
  return count ? total / count : NaN;
}

// Per part, [distance, cost at each pair of the path]; a hand's shape only when the reference uses that hand.
function pathCosts(attempt, reference, path) {
  const parts = {};
  for (const side of SIDES) {
    if (usesHand(reference, side)) {
      const nearest = nearestShapes(side, attempt, reference);
      parts[SHAPE_PARTS[side]] = [handShapeDistance(nearest), path.map(([i]) => nearest[0][i])];
    }
  }
  const location = sideMean(pointDistance, 'location', attempt, reference, path);
  parts.hand_location = [meanFinite(location), location];
  parts.movement = [movementDistance(attempt, reference, path),
    sideMean(pointDistance, 'velocity', attempt, reference, path)];
  parts.speed = [speedDistance(attempt, reference, path), sideMean(speedDifference, 'velocity', attempt, reference, path)];
  return parts;
}

function meanFinite(values) {
  let total = 0;
  let count = 0;
  for (const value of values) if (finite(value)) { total += value; count += 1; }
  return count ? total / count : NaN;
}

function worstFrames(costs, path, count = WORST_FRAMES) {
  const worst = new Map();
  path.forEach(([i], k) => {
    if (finite(costs[k]) && costs[k] > (worst.has(i) ? worst.get(i) : -Infinity)) worst.set(i, costs[k]);
  });
  return [...worst.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, count).map(([frame]) => frame);
}

// numpy's interp(x, xp, fp) for sorted xp (repeated values allowed), as retrieval/practice.py uses it.
function interp(x, xp, fp) {
  const last = xp.length - 1;
  if (Number.isNaN(x)) return NaN;
  if (x > xp[last]) return fp[last];
  if (x < xp[0]) return fp[0];
  let j = 0;
  while (j < last && xp[j + 1] <= x) j += 1;
  if (j === last || xp[j] === x) return fp[j];
  const slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j]);
  return slope * (x - xp[j]) + fp[j];
}

// The share of a calibration's pairs that lie closer than `distance`: below a run of pairs exactly as far,
// all of them (retrieval/feedback.py share_below).
function shareBelow(distance, quantiles) {
  return interp(-distance, quantiles.map((q) => -q).reverse(), [...SCORE_LEVELS].reverse());
}

// The 0-100 score of a part at `distance`: the share of different-sign pairs at least as far apart.
export function partScore(distance, quantiles) { return 100 * (1 - shareBelow(distance, quantiles)); }

// The percentage of pairs of recordings of one sign that differ less on the part; past the farthest, 100
// times the distance over that pair's.
export function unusualness(distance, quantiles) {
  const top = quantiles[quantiles.length - 1];
  if (distance > top) return top > 0 ? (100 * distance) / top : Infinity;
  return 100 * shareBelow(distance, quantiles);
}

// The verdict of a part that needs no change (the page marks only the other parts in the replay).
export const CLOSE_BAND = 'close to the reference';

function band(score, unusual) {
  const [close, off] = unusual !== null ? [unusual < USUAL, unusual < RARE] : [score >= CLOSE, score >= SOMEWHAT];
  if (close) return CLOSE_BAND;
  return off ? 'somewhat off' : 'far from the reference';
}

function locationHint(attempt, reference, path) {
  let [dx, dy, count] = [0, 0, 0];
  for (const side of SIDES) {
    for (const [i, j] of path) {
      const a = attempt[side].location[i];
      const r = reference[side].location[j];
      const offset = [a[0] - r[0], a[1] - r[1]];
      if (finite(offset[0]) && finite(offset[1])) { dx += offset[0]; dy += offset[1]; count += 1; }
    }
  }
  if (!count) return 'keep both hands in view';
  if (Math.abs(dy) >= Math.abs(dx)) {
    return dy < 0 ? "your hands are higher than the reference's" : "your hands are lower than the reference's";
  }
  return `your hands are further ${dx < 0 ? 'left' : 'right'} in the picture than the reference's`;
}

// Which way to change the pace (said only of a speed that is not close).
function speedHint(attempt, reference, path) {
  if (tempo(attempt, reference, path) > 1) return 'move faster: yours is slower than the reference';
  return 'move slower: yours is faster than the reference';
}

function movementHint(attempt, reference, path) {
  let dots = 0;
  for (const [a, r] of trackPairs(attempt, reference, path)) {
    a.forEach((step, k) => { dots += step[0] * r[k][0] + step[1] * r[k][1]; });
  }
  return dots < 0 ? 'your hands move the other way round' : "follow the reference's path";
}

function sentence(part, score, unusual, attempt, reference, path) {
  const verdict = `${PART_NAMES[part]}: ${band(score, unusual)}`;
  if (band(score, unusual) === CLOSE_BAND) return `${verdict}.`;
  let hint;
  if (part === 'right_hand_shape' || part === 'left_hand_shape') {
    const side = part === 'right_hand_shape' ? 'right' : 'left';
    hint = attempt[side].present.some(Boolean) ? 'check the fingers' : `the ${side} hand was not seen; keep it in view`;
  } else if (part === 'hand_location') hint = locationHint(attempt, reference, path);
  else if (part === 'speed') hint = speedHint(attempt, reference, path);
  else hint = movementHint(attempt, reference, path);
  return `${verdict}; ${hint}.`;
}

// The per-part quantiles: /index.json's part_calibration, or the whole /index.json document.
function quantilesOf(calibration) {
  const table = calibration && calibration.part_calibration !== undefined ? calibration.part_calibration : calibration;
  if (!table) throw new Error('this index has no per-part calibration (made before it was stored); rebuild it with search.py index');
  return table;
}

// The per-part variation between recordings of one sign: the option, else /index.json's part_variation; null
// (parts then ordered by score) for an index made before it was stored.
function variationOf(calibration, variation) {
  if (variation !== undefined) return variation;
  return (calibration && calibration.part_variation) || null;
}

// One reference's comparison: features (the attempt mirrored where matchedHands says), path and part costs.
function compare(attempt, reference, attemptFps, referenceFps) {
  const ref = clipFeatures(checkedClip(reference, 'reference'), referenceFps);
  const { features, swapped } = matchedHands(clipFeatures(checkedClip(attempt, 'attempt'), attemptFps), ref);
  const path = warp(features, ref);
  return { attempt: features, reference: ref, swapped, path, parts: pathCosts(features, ref, path) };
}

// Per part, the position of the comparison where it is closest (the first on a tie, or where none measures it).
function closestPerPart(comparisons) {
  const chosen = new Map();
  comparisons.forEach((comparison, position) => {
    for (const [part, [distance]] of Object.entries(comparison.parts)) {
      if (!chosen.has(part)) { chosen.set(part, position); continue; }
      const best = comparisons[chosen.get(part)].parts[part][0];
      if (finite(distance) && !(best <= distance)) chosen.set(part, position);
    }
  });
  return chosen;
}

function partEntry(part, comparison, position, quantiles, variation) {
  const [distance, costs] = comparison.parts[part];
  const unseenHand = part in SHAPE_OF && !finite(distance);
  if (!Array.isArray(quantiles) || !quantiles.every(finite) || !(finite(distance) || unseenHand)) return null;
  const score = finite(distance) ? partScore(distance, quantiles) : 0;
  const spread = variation ? variation[part] : null;
  let unusual = null;
  if (Array.isArray(spread) && spread.every(finite)) unusual = finite(distance) ? unusualness(distance, spread) : Infinity;
  return { part, name: PART_NAMES[part], score, distance: finite(distance) ? distance : null,
    unusual: unusual === null || !finite(unusual) ? null : unusual, band: band(score, unusual),
    sentence: sentence(part, score, unusual, comparison.attempt, comparison.reference, comparison.path),
    worstFrames: worstFrames(costs, comparison.path), reference: position };
}

// Sort key: a hand never shown first, then the most unusual part, by score where there is no variation.
function fixFirst(entry) {
  if (entry.distance === null) return [0, -Infinity, PARTS.indexOf(entry.part)];
  if (entry.unusual !== null) return [0, -entry.unusual, PARTS.indexOf(entry.part)];
  return [1, entry.score, PARTS.indexOf(entry.part)];
}

function byKey(a, b) {
  const [x, y] = [fixFirst(a), fixFirst(b)];
  for (let k = 0; k < x.length; k += 1) if (x[k] !== y[k]) return x[k] < y[k] ? -1 : 1;
  return 0;
}

// Feedback on an attempt against a reference clip of its gloss: {parts: [{part, name, score, distance, unusual,
// sentence, worstFrames, reference}], path, swappedHands}, what to fix first first (retrieval/feedback.py
// part_feedback). `calibration` is /index.json (its part_calibration and part_variation) or a bare table of
// quantiles; options: attemptFps, referenceFps, variation (overrides /index.json's), and others: further
// reference clips of the gloss as [{frames, fps}], each part then measured against every reference and the
// closest kept (`reference`: 0 for `reference`, k for others[k - 1]); path and swappedHands are `reference`'s.
export function partFeedback(attempt, reference, calibration,
  { attemptFps = DEFAULT_FPS, referenceFps = DEFAULT_FPS, variation, others = [] } = {}) {
  const table = quantilesOf(calibration);
  const spread = variationOf(calibration, variation);
  const comparisons = [compare(attempt, reference, attemptFps, referenceFps),
    ...others.map((other) => compare(attempt, other.frames, attemptFps, other.fps === undefined ? DEFAULT_FPS : other.fps))];
  const parts = [];
  for (const [part, position] of closestPerPart(comparisons)) {
    const entry = partEntry(part, comparisons[position], position, table[part], spread);
    if (entry !== null) parts.push(entry);
  }
  parts.sort(byKey);
  return { parts, path: comparisons[0].path, swappedHands: comparisons[0].swapped };
}
