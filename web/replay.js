// Looping playback of skeleton clips on a canvas: a Loop shows a sequence of steps, each for its own duration
// (a clip's recorded frame period), again from the first after the last until stopped. The reference player
// (playClips) and the side-by-side replay (playSideBySide) are both a Loop; they differ in what a step draws.
import { drawSkeleton, fittedView } from '/skeleton.js';

// Pixels of the side-by-side canvas kept for the captions above the skeletons and the timeline below them.
const LABEL_PX = 22;
const TIMELINE_PX = 14;

export class Loop {
  // draw(context, step) paints step `step` on the cleared canvas and returns how many bones it drew.
  constructor(canvas, draw) {
    this.canvas = canvas;
    this.draw = draw;
    this.durationsMs = [];
    this.step = -1;
    this.drawn = 0;  // steps painted since play(): what tests read to see the picture move
    this.bones = 0;  // bones painted by the last step
    this.paused = false;
    this.request = null;
  }

  // Start over with steps of these durations (ms); an empty list shows nothing.
  play(durationsMs) {
    this.stop();
    this.durationsMs = durationsMs;
    this.total = durationsMs.reduce((a, b) => a + b, 0);
    this.step = -1; this.drawn = 0; this.paused = false;
    this.startedMs = performance.now();
    if (durationsMs.length) this.request = requestAnimationFrame((now) => this.tick(now));
  }

  stop() {
    if (this.request !== null) cancelAnimationFrame(this.request);
    this.request = null;
    this.durationsMs = [];
  }

  // Pause at the step shown, or go on from it.
  toggle() {
    if (!this.durationsMs.length) return;
    this.paused = !this.paused;
    if (this.paused) {
      cancelAnimationFrame(this.request); this.request = null;
      this.pausedAtMs = performance.now();
    } else {
      this.startedMs += performance.now() - this.pausedAtMs;
      this.request = requestAnimationFrame((now) => this.tick(now));
    }
  }

  // The step at `elapsedMs` into the loop.
  stepAt(elapsedMs) {
    let left = elapsedMs % this.total;
    for (let k = 0; k < this.durationsMs.length; k++) {
      if (left < this.durationsMs[k]) return k;
      left -= this.durationsMs[k];
    }
    return this.durationsMs.length - 1;
  }

  tick(now) {
    this.request = requestAnimationFrame((later) => this.tick(later));
    const step = this.stepAt(Math.max(0, now - this.startedMs));
    if (step === this.step) return;  // the same picture as on the last display frame
    this.show(step);
  }

  show(step) {
    this.step = step;
    const context = this.canvas.getContext('2d');
    context.clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.bones = this.draw(context, step);
    this.drawn += 1;
  }
}

// Every frame of `clips` ({frames, fps, aspect}) in turn, each clip fitted to the canvas, at its recorded
// speed; onClip(c) when clip c comes on. skeleton: {bones, parts} for drawSkeleton.
export function playClips(loop, clips, skeleton, onClip) {
  const rect = { x: 0, y: 0, width: loop.canvas.width, height: loop.canvas.height };
  const views = clips.map((clip) => fittedView(clip.frames, clip.aspect, rect));
  const steps = clips.flatMap((clip, c) => clip.frames.map((_, f) => [c, f]));
  let shown = -1;
  loop.draw = (context, k) => {
    const [c, f] = steps[k];
    if (c !== shown) { shown = c; onClip(c); }
    return drawSkeleton(context, clips[c].frames[f], { ...skeleton, view: views[c], size: rect.width });
  };
  loop.play(steps.map(([c]) => 1000 / clips[c].fps));
}

function caption(context, text, x, y, width) {
  context.fillStyle = '#e2e8f0';
  context.font = `${LABEL_PX - 8}px system-ui, sans-serif`;
  context.textBaseline = 'top';
  context.fillText(text, x + 6, y + 4, width - 12);
}

// Where the replay is along the alignment, with the highlighted steps marked red: a learner sees when the
// largest differences come, not only while they are on screen.
function timeline(context, step, steps, marks, width, top) {
  const at = (k) => (k + 0.5) * width / steps;
  context.fillStyle = '#2d3748';
  context.fillRect(0, top, width, TIMELINE_PX);
  context.fillStyle = '#f56565';
  for (const k of marks.keys()) context.fillRect(at(k) - 1, top + 2, Math.max(2, width / steps), TIMELINE_PX - 4);
  context.fillStyle = '#f7fafc';
  context.fillRect(at(step) - 1.5, top, 3, TIMELINE_PX);
}

// The attempt (left) and a reference (right), each {frames, fps, aspect, name}, frame pairs of the alignment
// `path` ([[attemptFrame, referenceFrame], ...]) in turn at the reference's speed, so that both show the same
// moment of the sign. marks: Map from path step to {points (a Set), label} drawn red there; onStep(mark) after
// each step (undefined where none).
export function playSideBySide(loop, attempt, reference, path, skeleton, marks, onStep) {
  const { width, height } = loop.canvas;
  const half = width / 2, body = height - LABEL_PX - TIMELINE_PX;
  const left = fittedView(attempt.frames, attempt.aspect, { x: 0, y: LABEL_PX, width: half, height: body });
  const right = fittedView(reference.frames, reference.aspect, { x: half, y: LABEL_PX, width: half, height: body });
  loop.draw = (context, k) => {
    const [a, r] = path[k];
    const mark = marks.get(k);
    const style = { ...skeleton, size: half, highlighted: mark ? mark.points : null };
    caption(context, `${attempt.name}: frame ${a + 1}`, 0, 0, half);
    caption(context, `${reference.name}: frame ${r + 1}`, half, 0, half);
    const bones = drawSkeleton(context, attempt.frames[a], { ...style, view: left })
      + drawSkeleton(context, reference.frames[r], { ...style, view: right });
    timeline(context, k, path.length, marks, width, height - TIMELINE_PX);
    onStep(mark);
    return bones;
  };
  loop.play(path.map(() => 1000 / reference.fps));
}
